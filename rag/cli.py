"""The `rag` command: index, ask, chat, eval and serve, all over the same Pipeline."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.markup import escape

from rag.cli_common import IndexOpt, ModeOpt, TopKOpt, console, err, make_pipeline, settings_for
from rag.cli_eval import eval_, train_answerability
from rag.cli_migrate import migrate
from rag.errors import RagError

try:  # typer >= 0.20 carries its own copy of click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ask questions of your documents and get answers cited to the exact passage.",
)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("bm25s", "faiss", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show info logs.")] = False) -> None:
    _configure_logging(verbose)


@app.command()
def index(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders (default: what the index was built from, or RAG_CORPUS_DIR)."),
    ] = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed everything from scratch.")] = False,
) -> None:
    """Build or update an index; only new or changed documents are embedded.

    Shows the files read and the chunks and sentences embedded as they go (bars with an ETA on a terminal).
    """
    from rag.cli_progress import IndexBars

    started = time.perf_counter()
    pipeline = make_pipeline(settings_for(index))
    loading = time.perf_counter() - started
    with IndexBars(err) as bars:
        report = pipeline.index(paths or [], rebuild=rebuild, progress=bars)
    for path, reason in report.failures:
        err.print(
            f"[yellow]skipped[/] {escape(str(path))}: {escape(reason)}", highlight=False, soft_wrap=True
        )
    # A merge may have queued an HNSW build: exiting now would leave it to whichever process loads the index next.
    if not pipeline.settle(timeout=0):
        err.print(
            "building the approximate search index of a merged segment (Ctrl-C leaves it to the next start)"
        )
        pipeline.settle()
    pipeline.close()
    s = report.stats
    console.print(
        f"index [bold]{pipeline.index_name}[/]: {report.documents} documents, {report.chunks} chunks "
        f"({len(s.added)} added, {len(s.changed)} changed, {len(s.removed)} removed, "
        f"{len(s.unchanged)} unchanged; {s.embedded_chunks} chunks embedded) in {run_seconds():.1f}s "
        f"(loading the model {loading:.1f}s, indexing {report.seconds:.1f}s)",
        highlight=False,
        soft_wrap=True,
    )


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.model_dump(), ensure_ascii=False))
        return
    if answer.standalone_question:
        console.print(f"[dim]({escape(answer.standalone_question)})[/]", highlight=False)
    style = "yellow" if answer.abstained else "bold"
    console.print(f"[{style}]{escape(answer.answer)}[/]", highlight=False)  # text may hold "[unsupported]"
    for c in answer.citations:
        flag = "" if c.supported else " [red]not supported by this passage[/]"
        page = f"page {c.page}, " if c.page is not None else ""
        console.print(
            f"  [cyan]\\[{c.n}][/] {escape(c.title)} ({c.doc_id}, {page}chars {c.start}-{c.end}, "
            f"score {c.score:.2f}){flag}",
            highlight=False,
        )
    for c in answer.related:
        page = f", page {c.page}" if c.page is not None else ""
        console.print(
            f"  [blue]related {c.n}[/] {escape(c.title)} ({c.doc_id}{page}): {escape(c.quote)}",
            highlight=False,
        )
    if not answer.abstained:
        console.print(f"[dim]confidence {answer.confidence:.2f}[/]", highlight=False)
    if answer.notice:
        console.print(f"[dim]{escape(answer.notice)}[/]", highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    index: IndexOpt = None,
    top_k: TopKOpt = None,
    mode: ModeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as one JSON object.")] = False,
) -> None:
    r"""Answer one question with \[n] citations."""
    pipeline = make_pipeline(settings_for(index))
    _print_answer(pipeline.ask(question, top_k=top_k, mode=mode), as_json)


@app.command()
def chat(index: IndexOpt = None, top_k: TopKOpt = None, mode: ModeOpt = None) -> None:
    """Terminal chat: follow-up questions use the conversation. /reset clears it, /quit leaves."""
    pipeline = make_pipeline(settings_for(index))
    _ = pipeline.data  # fail early, with the index message, before the first prompt
    console.print(
        f"Chatting with index [bold]{pipeline.index_name}[/] "
        f"({len(pipeline.documents())} documents). /reset clears history, /quit leaves."
    )
    history: list[dict[str, str]] = []
    while True:
        try:
            question = console.input("[green]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if question in ("/quit", "/exit"):
            return
        if question == "/reset":
            history.clear()
            console.print("[dim]history cleared[/]")
            continue
        if not question:
            continue
        try:
            answer = pipeline.ask(question, history=history, top_k=top_k, mode=mode)
        except RagError as exc:
            err.print(f"[red]error:[/] {exc}", highlight=False)
            continue
        _print_answer(answer, as_json=False)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


@app.command()
def serve(
    index: IndexOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default RAG_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RAG_PORT, 8000).")] = None,
) -> None:
    """Serve the HTTP API (and the chat page) with uvicorn."""
    from rag.api.server import serve as run_server

    try:
        run_server(settings_for(index, host=host, port=port))
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down gracefully: a normal stop
        pass


app.command("eval")(eval_)
app.command("train-answerability")(train_answerability)
app.command("migrate")(migrate)

_STARTED = time.perf_counter()


def run_seconds() -> float:
    """Wall time since this process started (from /proc on Linux; elsewhere since `main` began)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _STARTED


def _fail(message: str, code: int = 2) -> int:
    """Print `message` as one line on stderr (never wrapped); returns `code`, the exit status."""
    err.print(f"[red]error:[/] {escape(' '.join(str(message).split()))}", highlight=False, soft_wrap=True)
    return code


def _exit(code: int) -> NoReturn:
    """Exit with `code` once output and logs are flushed, skipping the interpreter's teardown of torch and the
    other loaded libraries: everything the command wrote is closed by then, and that teardown takes seconds on
    a busy machine that the time `rag index` reports would otherwise not include."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`rag ask ... | head`)
            pass
    os._exit(code)


def usage_error_line(exc: UsageError) -> str:
    """A usage error as one line: what is wrong, the command's usage and where to read more."""
    message = exc.format_message().replace("Value error, ", "")
    ctx = exc.ctx
    if ctx is None:  # raised while parsing options, before a context existed: name the command from argv
        commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
        name = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
        return f"{message} (see 'rag {name + ' ' if name in commands else ''}--help')"
    usage = " ".join(ctx.get_usage().split())
    return f"{message} ({usage}; see '{ctx.command_path} {ctx.help_option_names[0]}')"


def _run() -> int:
    """Run the command line; the exit status. Expected errors and usage mistakes are one line, status 2."""
    try:
        code = app(prog_name="rag", standalone_mode=False)
    except RagError as exc:
        return _fail(str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first.get("loc", ())) or "settings"
        return _fail(f"invalid setting {loc}: {first.get('msg')}")
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        return _fail(str(exc.code), 1)
    except NoArgsIsHelpError as exc:  # plain `rag`: the help, as asked
        exc.show()
        return 0
    except UsageError as exc:  # a bad option value, an unknown command or option, a missing argument
        return _fail(usage_error_line(exc), exc.exit_code)
    except ClickException as exc:
        return _fail(exc.format_message(), exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        return 1
    return code if isinstance(code, int) else 0


def main() -> None:
    """Entry point: runs the command line and exits with its status."""
    global _STARTED
    _STARTED = time.perf_counter()
    _exit(_run())


if __name__ == "__main__":
    main()
