"""Property-based fuzzing of the OpenAPI schema with the schemathesis CLI: no input may produce a 5xx, and every
response must match what the schema documents (status code, content type, body schema)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.api.server import BackgroundServer
from tests.api.conftest import ServerFactory

MAX_EXAMPLES = 25
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]


@pytest.fixture(scope="module")
def fuzzed(start_server: ServerFactory) -> BackgroundServer:
    """A server of its own: the fuzzer uploads and deletes documents (seed ones included)."""
    return start_server()


def test_no_server_errors_and_schema_conformance(fuzzed: BackgroundServer, tmp_path: Path) -> None:
    # The CLI rather than schemathesis' pytest plugin: the plugin's lazy fixture loader does not run on pytest 9.
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{fuzzed.url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261124",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--mode",
        "all",
        "--workers",
        "1",
        "--request-timeout",
        "120",
        "--generation-database",
        "none",
        "--no-color",
        "--output-truncate",
        "true",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1200, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert re.search(r"\d+ generated, \d+ passed", report), report
    assert "11 selected / 11 total" in report  # every operation was fuzzed (GET /metrics included)
