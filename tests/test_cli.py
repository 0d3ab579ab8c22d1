"""The `rag` command end to end, as a user runs it: real processes, real model, real index on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO

RAG = [sys.executable, "-m", "rag.cli"]


def run(args: list[str], env_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_INDEX_DIR": str(env_dir), "RAG_CORPUS_DIR": str(CORPUS), "HF_HUB_OFFLINE": "1"}
    env.pop("RAG_INDEX_NAME", None)
    return subprocess.run(RAG + args, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO,
                          stdin=subprocess.DEVNULL)


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
    (notes / "garden.md").write_text("# Garden\n\nThe tomato beds get 6 hours of sun and are watered at 7 am.\n",
                                     encoding="utf-8")
    (notes / "broken.txt").write_bytes(b"\x00\xff" * 100)
    done = run(["index", str(notes), "--index", "notes"], cli_index)
    assert done.returncode == 0, done.stderr
    assert "broken.txt" in done.stderr and "binary" in done.stderr
    assert "index notes: 1 documents" in done.stdout

    done = run(["ask", "--index", "notes", "How many hours of sun do the tomato beds get?", "--json"], cli_index)
    answer = json.loads(done.stdout)
    assert not answer["abstained"] and answer["citations"][0]["doc_id"] == "garden"
    assert "6 hours" in answer["answer"]
    # The seed index is untouched and still answers its own questions.
    assert (cli_index / "seed" / "CURRENT").is_file() and (cli_index / "notes" / "CURRENT").is_file()


def test_eval_writes_one_result_line_per_question(cli_index: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "a", "question": "How large is the warehouse at Liège airport?",
                    "answers": ["220000"], "evidence": ["220000 square meters"]}) + "\n"
        + json.dumps({"id": "b", "question": "What is the capital of Australia?", "answers": [],
                      "evidence": []}) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    done = run(["eval", str(questions), "--out", str(out)], cli_index)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["abstained"] is False and rows[1]["abstained"] is True
    assert {"id", "question", "answer", "abstained", "citations", "latency_ms"} <= set(rows[0])


def test_help_lists_every_command() -> None:
    done = subprocess.run(RAG + ["--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("index", "ask", "chat", "eval", "serve"):
        assert command in done.stdout


def test_terminal_chat_follows_the_conversation(cli_index: Path) -> None:
    env = {**os.environ, "RAG_INDEX_DIR": str(cli_index), "HF_HUB_OFFLINE": "1"}
    script = "Where is Alibaba building a warehouse in Europe?\nHow big is it?\n\n/quit\n"
    done = subprocess.run(RAG + ["chat"], input=script, capture_output=True, text=True, env=env, timeout=300,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "Liege Airport" in done.stdout
    after_follow_up = done.stdout.split("you>")[2]
    assert "220000 square meters" in after_follow_up
