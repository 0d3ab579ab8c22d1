"""Benchmark: requests/s and p50/p99 latency of POST /api/ask over loopback HTTP at several concurrency levels.

Run: .venv/bin/python bench/load_api.py [--requests 200] [--concurrency 1,8,32] [--url http://HOST:PORT]
Without --url it starts the real server (`rag serve`, in its own process, over a temporary copy of the seed index)
on a free loopback port and stops it afterwards, and also reports the CPU time the server and this client spent
per request (on a shared machine these say more than the wall-clock figures). `--source DIR` serves from another
checkout (e.g. `git worktree add /tmp/before HEAD~1`) for side-by-side comparisons. Prints a markdown table; the
README quotes its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Level:
    """What one concurrency level measured."""

    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu: float | None = None  # CPU seconds the server process used during the level
    client_cpu: float = 0.0  # CPU seconds this process (the client) used during the level

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used, all its threads together (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def started_server(index_dir: Path, index: str, source: Path = REPO) -> Iterator[tuple[str, int]]:
    """Run `rag serve` (from the checkout `source`) on a free loopback port over a temporary copy of the index;
    yields its base URL and process id."""
    source = index_dir / index
    with tempfile.TemporaryDirectory() as tmp:
        if (source / "CURRENT").exists():
            shutil.copytree(source, Path(tmp) / index)
        else:
            print(f"no index at {source}; building one from corpus/ ...", file=sys.stderr)
            env = {**os.environ, "RAG_INDEX_DIR": tmp, "RAG_INDEX_NAME": index}
            subprocess.run(
                [sys.executable, "-m", "rag.cli", "index", str(REPO / "corpus")], env=env, check=True
            )
        env = {
            **os.environ,
            "RAG_INDEX_DIR": tmp,
            "RAG_INDEX_NAME": index,
            "RAG_HOST": "127.0.0.1",
            "RAG_PORT": "0",
        }
        env.pop("RAG_API_KEY", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve"],
            cwd=source,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        lines: queue.Queue[str] = queue.Queue()
        # Keep draining the server's output (access log) so it never blocks on a full pipe.
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                try:
                    line = lines.get(timeout=1)
                except queue.Empty:
                    continue
                found = re.search(r"Open (http://[\d.]+:\d+)/", line)
                if found:
                    yield found.group(1), proc.pid
                    return
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


class RawConnection:
    """One keep-alive HTTP/1.1 connection written by hand on asyncio streams: POSTs JSON, reads status and body.

    It spends a fraction of the CPU httpx spends per request, which matters when the client shares the
    server's cores (the default); `--client httpx` measures with httpx instead.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port or 80
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, payload: object) -> int:
        """Send one request and read the whole response; returns the status code."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        body = json.dumps(payload).encode()
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{self.extra}\r\n".encode()
            + body
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        length = re.search(r"\r\ncontent-length: *(\d+)", head)
        if length is None:
            raise RuntimeError(f"a response without content-length: {head!r}")
        await reader.readexactly(int(length.group(1)))
        if "\r\nconnection: close" in head:
            writer.close()
            self.streams = None
        return status

    async def close(self) -> None:
        """Close the connection if open."""
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def run_level(
    url: str,
    questions: list[str],
    concurrency: int,
    total: int,
    headers: dict[str, str],
    server_pid: int | None = None,
    client: str = "raw",
) -> Level:
    """Send `total` asks with `concurrency` in flight at once; every non-200 counts as an error."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits, headers=headers) as pool:

        async def worker() -> None:
            nonlocal errors
            raw = RawConnection(url, headers) if client == "raw" else None
            try:
                for i in counter:
                    payload = {"question": questions[i % len(questions)]}
                    t0 = time.perf_counter()
                    if raw is not None:
                        status = await raw.post("/api/ask", payload)
                    else:
                        status = (await pool.post("/api/ask", json=payload)).status_code
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if status != 200:
                        errors += 1
            finally:
                if raw is not None:
                    await raw.close()

        server_before = process_cpu(server_pid) if server_pid else None
        client_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        server_cpu = process_cpu(server_pid) - server_before if server_pid else None
    return Level(concurrency, total, errors, seconds, latencies, server_cpu, client_cpu)


async def measure(
    url: str,
    questions: list[str],
    levels: list[int],
    total: int,
    warmup: int,
    headers: dict[str, str],
    server_pid: int | None = None,
    client: str = "raw",
) -> list[Level]:
    """Warm the server up, then measure each concurrency level in turn."""
    await run_level(url, questions, 1, warmup, headers, client=client)
    return [await run_level(url, questions, c, total, headers, server_pid, client) for c in levels]


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="benchmark this running server instead of starting one")
    parser.add_argument(
        "--requests", type=int, default=200, help="requests per concurrency level (default 200)"
    )
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels (default 1,8,32)")
    parser.add_argument("--warmup", type=int, default=20, help="requests sent before measuring (default 20)")
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "seed_questions.jsonl")
    parser.add_argument("--index-dir", type=Path, default=REPO / "index")
    parser.add_argument("--index", default="seed")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="raw: hand-written keep-alive HTTP/1.1 on asyncio (little CPU); httpx: httpx.AsyncClient",
    )
    parser.add_argument(
        "--source", type=Path, default=REPO, help="checkout to run `rag serve` from (default: this one)"
    )
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.requests < 1 or not levels or min(levels) < 1:
        parser.error("--requests and every --concurrency level must be at least 1")
    if args.url and args.client == "raw" and not args.url.startswith("http://"):
        parser.error("the raw client speaks plain http:// only; use --client httpx for this --url")
    questions = [
        json.loads(line)["question"]
        for line in args.questions.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    headers = (
        {"Authorization": f"Bearer {os.environ['RAG_API_KEY']}"} if os.environ.get("RAG_API_KEY") else {}
    )

    def run(url: str, pid: int | None = None) -> list[Level]:
        return asyncio.run(
            measure(url, questions, levels, args.requests, args.warmup, headers, pid, args.client)
        )

    if args.url:
        results = run(args.url.rstrip("/"))
    else:
        with started_server(args.index_dir, args.index, args.source.resolve()) as (url, pid):
            print(f"server {url} (rag serve from {args.source}, separate process)", file=sys.stderr)
            results = run(url, pid)

    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(
        f"Machine: {platform.processor() or platform.machine()}, {cores} cores (load average {load:.1f} at the "
        f"end), Python {platform.python_version()}; "
        f"POST /api/ask (extractive), {len(questions)} seed questions in turn, {args.requests} requests per level, "
        f"{args.client} async client on loopback\n"
    )
    print(
        "| concurrency | requests | errors | requests/s | p50 | p99 | server CPU/request | client CPU/request |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for level in results:
        server = "-" if level.server_cpu is None else f"{level.server_cpu / level.requests * 1000:.1f} ms"
        print(
            f"| {level.concurrency} | {level.requests} | {level.errors} | {level.rps:.1f} | "
            f"{statistics.median(level.latencies_ms):.0f} ms | {np.percentile(level.latencies_ms, 99):.0f} ms | "
            f"{server} | {level.client_cpu / level.requests * 1000:.1f} ms |"
        )
    if any(level.errors for level in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
