"""`rag serve` as a user runs it: a real process that logs the URL to open, answers, and stops on Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import REPO


def test_rag_serve_logs_the_url_and_serves(tmp_path: Path, seed_index_dir: Path) -> None:
    shutil.copytree(seed_index_dir / "seed", tmp_path / "seed")
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path), "RAG_PORT": "0", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    output: list[str] = []
    url = None
    try:
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                output.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            found = re.search(r"Open (http://127\.0\.0\.1:\d+)/", output[-1])
            url = found.group(1) if found else None
        assert url, "".join(output)
        assert any("index 'seed': 5 documents" in line for line in output)
        health = httpx.get(f"{url}/api/health").json()
        assert health["documents"] == 5
        answer = httpx.post(
            f"{url}/api/ask", json={"question": "How large is the warehouse at Liège airport?"}, timeout=60
        ).json()
        assert answer["citations"]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0
