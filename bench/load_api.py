"""Benchmark: requests/s and p50/p99 latency of POST /api/ask over loopback HTTP at several concurrency levels.

Run: .venv/bin/python bench/load_api.py [--requests 200] [--concurrency 1,8,32] [--url http://HOST:PORT]
Without --url it starts the real server (`rag serve`, in its own process, over a temporary copy of the seed index)
on a free loopback port and stops it afterwards. Prints a markdown table; the README quotes its figures.
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

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds


@contextmanager
def started_server(index_dir: Path, index: str) -> Iterator[str]:
    """Run `rag serve` on a free loopback port over a temporary copy of the index; yields its base URL."""
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
            cwd=REPO,
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
                    yield found.group(1)
                    return
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def run_level(
    url: str, questions: list[str], concurrency: int, total: int, headers: dict[str, str]
) -> Level:
    """Send `total` asks with `concurrency` in flight at once; every non-200 counts as an error."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits, headers=headers) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                t0 = time.perf_counter()
                r = await client.post("/api/ask", json={"question": questions[i % len(questions)]})
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Level(concurrency, total, errors, seconds, latencies)


async def measure(
    url: str, questions: list[str], levels: list[int], total: int, warmup: int, headers: dict[str, str]
) -> list[Level]:
    """Warm the server up, then measure each concurrency level in turn."""
    await run_level(url, questions, 1, warmup, headers)
    return [await run_level(url, questions, c, total, headers) for c in levels]


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
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.requests < 1 or not levels or min(levels) < 1:
        parser.error("--requests and every --concurrency level must be at least 1")
    questions = [
        json.loads(line)["question"]
        for line in args.questions.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    headers = (
        {"Authorization": f"Bearer {os.environ['RAG_API_KEY']}"} if os.environ.get("RAG_API_KEY") else {}
    )

    def run(url: str) -> list[Level]:
        return asyncio.run(measure(url, questions, levels, args.requests, args.warmup, headers))

    if args.url:
        results = run(args.url.rstrip("/"))
    else:
        with started_server(args.index_dir, args.index) as url:
            print(f"server {url} (rag serve, separate process)", file=sys.stderr)
            results = run(url)

    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(
        f"Machine: {platform.processor() or platform.machine()}, {cores} cores (load average {load:.1f} at the "
        f"end), Python {platform.python_version()}; "
        f"POST /api/ask (extractive), {len(questions)} seed questions in turn, {args.requests} requests per level, "
        f"httpx async client on loopback\n"
    )
    print("| concurrency | requests | errors | requests/s | p50 | p99 |\n|---|---|---|---|---|---|")
    for level in results:
        print(
            f"| {level.concurrency} | {level.requests} | {level.errors} | {level.rps:.1f} | "
            f"{statistics.median(level.latencies_ms):.0f} ms | {np.percentile(level.latencies_ms, 99):.0f} ms |"
        )
    if any(level.errors for level in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
