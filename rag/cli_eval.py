"""The `rag eval` and `rag train-answerability` commands: evaluation and training, registered by rag.cli."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rag.cli_common import IndexOpt, ModeOpt, TopKOpt, console, make_pipeline, settings_for


def eval_(
    questions: Annotated[
        Path | None,
        typer.Argument(
            help="Question set (.jsonl): id, question, answers (empty list = unanswerable), evidence.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write per-question answers here (.jsonl).")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", "-r", help="Write a report folder: summary.md, metrics.json and PNG plots."),
    ] = None,
    beir: Annotated[
        Path | None,
        typer.Option(
            "--beir",
            help="Score retrieval on a BEIR dataset folder "
            "(corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv); its corpus is "
            "indexed once into index 'beir-<folder name>' and reused.",
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            help="BEIR qrels split to score (default test); for a "
            "question set, only its items of this split (dev or test).",
            show_default=False,
        ),
    ] = None,
    run: Annotated[
        Path | None,
        typer.Option(
            "--run", help="With --beir: write the ranking as a TREC run file (qid Q0 docid rank score tag)."
        ),
    ] = None,
    depth: Annotated[
        int, typer.Option("--depth", min=1, max=1000, help="With --beir: documents ranked per query.")
    ] = 100,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option(
            "--compare",
            help="Print two runs' metrics.json (or report folders) side by side: --compare A.json B.json.",
            show_default=False,
        ),
    ] = None,
    index: IndexOpt = None,
    top_k: TopKOpt = None,
    mode: ModeOpt = None,
    claims: Annotated[
        Path | None,
        typer.Option(
            "--claims",
            help="Score answerability on the SciFact claims "
            "of a BEIR SciFact folder (--split train or validation), asked "
            "over an index of the abstracts they cite.",
        ),
    ] = None,
    removal: Annotated[
        bool,
        typer.Option(
            "--removal",
            help="With a question set: also ask each answerable "
            "question again with the sentences holding its answer removed from the "
            "index (in memory); it must then not be answered.",
        ),
    ] = False,
) -> None:
    """Score answers on a question set, retrieval on a BEIR dataset, or compare two runs.

    \b
    rag eval evals/seed_questions.jsonl --out results.jsonl --report reports/seed
    rag eval evals/natural_questions.jsonl --split test --removal --report reports/natural-test
    rag eval --beir ../shared/data/scifact --split test --run scifact.trec --report reports/scifact
    rag eval --claims ../shared/data/scifact --split validation --removal --report reports/claims
    rag eval --compare reports/seed-a/metrics.json reports/seed-b/metrics.json
    """
    from rag.errors import InvalidInput
    from rag.evaluation import commands

    chosen = [
        name
        for name, value in (
            ("QUESTIONS", questions),
            ("--beir", beir),
            ("--compare", compare),
            ("--claims", claims),
        )
        if value
    ]
    if len(chosen) != 1:
        raise InvalidInput(
            "give exactly one of: a question file, --beir DIR, --claims DIR or --compare A B"
            + (f" (got {', '.join(chosen)})" if chosen else "; see rag eval --help")
        )
    if compare:
        commands.eval_compare(console, *compare)
        return
    if claims is not None:
        commands.eval_claims(
            console,
            make_pipeline,
            settings_for(index or f"scifact-claims-{split or 'validation'}"),
            claims,
            split=split or "validation",
            report=report,
            removal=removal,
        )
        return
    if beir is not None:
        if out is not None or removal:
            raise InvalidInput(
                "--out and --removal are for question sets; with --beir use --run and --report"
            )
        from rag.evaluation.beir import index_name_for

        commands.eval_beir(
            console,
            make_pipeline,
            settings_for(index or index_name_for(beir)),
            beir,
            split=split or "test",
            run_path=run,
            report=report,
            depth=depth,
        )
        return
    if run is not None:
        raise InvalidInput("--run is for BEIR datasets (--beir DIR)")
    commands.eval_questions(
        console,
        make_pipeline,
        settings_for(index),
        questions,
        out=out,
        report=report,
        top_k=top_k,
        mode=mode,
        split=split,
        removal=removal,
    )


def train_answerability(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--questions",
            "-q",
            help="Training question set, "
            "PATH or PATH:SPLIT (repeatable; test splits are "
            "refused). Default: evals/natural_questions.jsonl:dev "
            "and evals/seed_questions.jsonl.",
            show_default=False,
        ),
    ] = None,
    removal: Annotated[
        bool,
        typer.Option(
            "--removal/--no-removal", help="Add each answerable question's removal-based unanswerable twin."
        ),
    ] = True,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the model (JSON).")] = Path(
        "rag/answer/answerability.json"
    ),
    reader_candidates: Annotated[
        int,
        typer.Option(
            "--reader-candidates",
            min=0,
            max=8,
            help="Best-ranked candidates the answer reader reads for the confidence (0: no reader; faster, "
            "weaker on paraphrased and near-miss questions). The bundled answerability.json: 0; answerability_reader.json: 2.",
        ),
    ] = 0,
    index: IndexOpt = None,
) -> None:
    """Fit the answerability model on training questions and print the threshold to apply.

    \b
    rag train-answerability                      # the bundled model's recipe
    RAG_ANSWERABILITY_MODEL=my.json rag ask ...  # use another model
    """
    from rag.evaluation.training import train

    result = train(
        make_pipeline(settings_for(index)),
        source,
        removal=removal,
        out=out,
        progress=sys.stderr.isatty(),
        reader_candidates=reader_candidates,
    )
    console.print(result.summary(), highlight=False)
    console.print(f"model written to {out}", highlight=False)
