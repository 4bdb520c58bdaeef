"""`newswire annotate|eval-language|eval-dedup`: tag texts from elsewhere, and measure the taggers.

``annotate`` streams: story clustering needs the whole batch, so the first pass annotates each
record, writes it to a spool file on disk and keeps only its id, MinHash signature and word-hash
profile in memory; the second pass reads the spool back and adds ``story_cluster``. Memory
therefore grows with the signature, its LSH band entries and the profile, whatever the size of
the texts, and stdin works like a file.

The taggers and the clusterer are imported inside the functions that use them: MinHash LSH
pulls in datasketch and scipy, and langdetect loads its profiles, which every other
``newswire`` command would otherwise pay for at startup.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import IO, Iterator

import typer
from rich.table import Table

from newswire.cli.app import app
from newswire.cli.output import console, print_json
from pipelines.evaluation import DEFAULT_SHARED_DATA

AS_JSON = typer.Option(False, "--json", help="Print the figures as JSON on stdout.")
SHARED_DATA = typer.Option(DEFAULT_SHARED_DATA, "--shared-data",
                           help="Folder of the public datasets (corpus cases are skipped without it).")

DEDUP_SPLITS = typer.Option(None, "--split", help="Only these splits' figures (repeatable), e.g. tune and "
                            "handwritten while rules are worked on; every labelled article is clustered anyway.")


class BadRecord(ValueError):
    """An input line that cannot be annotated; it is written back with the reason."""


def parse_record(line: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"invalid JSON: {exc.msg}") from exc
    if not isinstance(record, dict):
        raise BadRecord("not a JSON object")
    if not isinstance(record.get("id"), (str, int)) or record.get("id") == "":
        raise BadRecord('missing "id"')
    if not isinstance(record.get("text"), str):
        raise BadRecord('missing or non-text "text"')
    for optional in ("title", "byline"):
        if not isinstance(record.get(optional) or "", str):
            raise BadRecord(f'non-text "{optional}"')
    return record


def annotate_record(record: dict):
    """The record with language, attribution, cited agencies and content hash added, and the
    analysed article that story clustering compares (the stage sequence of nightly processing)."""
    from pipelines.stages import analyse_page, text_page

    record_id = str(record["id"])
    article = analyse_page(text_page(record.get("title", ""), record["text"], record.get("byline") or ""),
                           {"id": record_id, "url": "", "canonical_url": ""})
    return {
        **record,
        "language": article.language,
        "language_confidence": article.language_confidence,
        "language_flags": [w.split(":", 1)[1] for w in article.warnings if w.startswith("language:")],
        "attribution": article.attribution.model_dump() if article.attribution else None,
        "cited_agencies": article.cited_agencies,
        "content_hash": article.content_hash,
    }, article


def _lines(source: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(source, start=1):
        if line.strip():
            yield number, line


def annotate_stream(source: IO[str], sink: IO[str], on_record=lambda: None) -> Counter:
    """Annotate JSON Lines from ``source`` into ``sink`` in input order; returns counts."""
    from pipelines.dedup import StoryClusterer
    from pipelines.stages import story_text
    from pipelines.stories import StoryMember, first_seen, name_stories

    counts: Counter = Counter()
    clusterer = StoryClusterer()
    members: dict[str, StoryMember] = {}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for number, line in _lines(source):
            counts["records"] += 1
            try:
                record = parse_record(line)
                annotated, article = annotate_record(record)
                clusterer.add(article.id, story_text(article))
                members[article.id] = StoryMember(article.id, first_seen(article.published_at, article.crawled_at))
            except (BadRecord, ValueError) as exc:
                counts["errors"] += 1
                annotated = {"line": number, "annotate_error": str(exc), "input": line.rstrip("\n")}
            else:
                counts[f"language:{annotated['language']}"] += 1
                if annotated["attribution"]:
                    counts[f"agency:{annotated['attribution']['agency_id']}"] += 1
            spool.write(json.dumps(annotated, ensure_ascii=False) + "\n")
            on_record()
        clusters = name_stories(clusterer.clusters(), members).clusters  # named as `process` names them
        counts["story_clusters"] = len(set(clusters.values()))
        spool.seek(0)
        for line in spool:
            annotated = json.loads(line)
            if "annotate_error" not in annotated:
                annotated["story_cluster"] = clusters[str(annotated["id"])]
            sink.write(json.dumps(annotated, ensure_ascii=False) + "\n")
    return counts


def _print_annotate_summary(counts: Counter) -> None:
    table = Table(title="annotate", show_header=False)
    for key in ("records", "errors", "story_clusters"):
        table.add_row(key.replace("_", " "), str(counts.get(key, 0)))
    for prefix in ("language", "agency"):
        found = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith(f"{prefix}:")}
        if found:
            table.add_row(prefix, ", ".join(f"{k}: {v}" for k, v in sorted(found.items())))
    console.print(table)


@app.command()
def annotate(
    source: str = typer.Argument("-", help="JSON Lines file of {id, title, text, byline (optional)}; '-' reads stdin."),
) -> None:
    """Add language, attribution, cited agencies, content hash and story cluster to JSON Lines."""
    if source != "-" and not Path(source).is_file():
        console.print(f"[red]no such file:[/] {source}")
        raise typer.Exit(2)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("annotating {task.completed} records"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("annotate", total=None)
        handle = sys.stdin if source == "-" else open(source, encoding="utf-8")
        try:
            counts = annotate_stream(handle, sys.stdout, on_record=lambda: progress.advance(task))
        finally:
            if handle is not sys.stdin:
                handle.close()
    _print_annotate_summary(counts)


def _confusion_table(title: str, report: dict) -> Table:
    table = Table(title=f"{title}: accuracy {report['accuracy']:.4f} ({report['correct']}/{report['total']})")
    table.add_column("expected \\ predicted")
    for label in report["predicted"]:
        table.add_column(label, justify="right")
    for expected in report["expected"]:
        table.add_row(expected, *(str(report["confusion"][expected][p] or "") for p in report["predicted"]))
    return table


@app.command("eval-language")
def eval_language(as_json: bool = AS_JSON, shared_data: Path = SHARED_DATA) -> None:
    """Language identification on the labelled set: confusion matrix and accuracy."""
    from pipelines.evaluation import language as language_evaluation

    result = language_evaluation.run(shared_data)
    if as_json:
        print_json(result)
        return
    console.print(f"{result['skipped_corpus_cases']} corpus cases skipped (dataset absent)")
    for split in language_evaluation.SPLITS:
        figures = result[split]
        console.print(f"{split}: {figures['cases']} cases {figures['by_language']}; " + ", ".join(
            f"{kind} accuracy {figures[kind]['accuracy']:.3f}" for kind in language_evaluation.KINDS))
        for kind in language_evaluation.KINDS:
            console.print(_confusion_table(f"{split} {kind}s", figures[kind]))
            for error in figures[kind]["errors"]:
                console.print(f"  {split} miss {error['case_id']}: {error['expected']} -> {error['predicted']}")


@app.command("eval-dedup")
def eval_dedup(as_json: bool = AS_JSON, shared_data: Path = SHARED_DATA,
               split: list[str] | None = DEDUP_SPLITS) -> None:
    """Duplicate grouping on labelled pairs: precision, recall and F1."""
    from pipelines.evaluation import dedup as dedup_evaluation

    if unknown := sorted(set(split or ()) - set(dedup_evaluation.SPLITS)):
        raise typer.BadParameter(f"unknown split(s) {unknown}; choose from {list(dedup_evaluation.SPLITS)}",
                                 param_hint="--split")
    result = dedup_evaluation.run(shared_data, split or dedup_evaluation.SPLITS)
    if as_json:
        print_json(result)
        return
    splits = {name: result["splits"][name] for name in dedup_evaluation.SPLITS if name in result["splits"]}
    table = Table(title=f"story clustering on labelled pairs ({result['skipped_pairs']} skipped): "
                        "rules chosen on tune, judged on heldout")
    table.add_column("")
    for name in splits:
        table.add_column(name, justify="right")
    for key in ("pairs", "same_story_pairs", "true_positives", "false_positives", "false_negatives",
                "precision", "recall", "f1"):
        table.add_row(key.replace("_", " "), *(str(scores[key]) for scores in splits.values()))
    console.print(table)
    nights = result["nights"]
    table = Table(title=f"night by night (window {nights['window_days']} days): precision / recall")
    table.add_column("")
    for name in splits:
        table.add_column(name, justify="right")
    for key, title in (("splits", "every pair"), ("across_nights", "pairs across nights")):
        table.add_row(title, *(f"{s['precision']} / {s['recall']} ({s['pairs']})"
                               for s in (nights[key].get(name, {}) for name in splits) if s))
    table.add_row("agreement with one batch", *(str(nights["agreement_with_one_batch"][name]) for name in splits))
    console.print(table)
    for error in result["errors"]:
        kind = "split" if error["same_story"] else "merged"
        console.print(f"  {kind} ({error['split']}): {error['pair_id']}")
