"""`newswire eval-attribution`: precision, recall and F1 of the attribution tagger, per split and agency."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newswire.cli.app import app
from newswire.cli.output import console, print_json
from pipelines.evaluation import DEFAULT_SHARED_DATA


@app.command("eval-attribution")
def eval_attribution(
    as_json: bool = typer.Option(False, "--json", help="The full report of each split as JSON on stdout."),
    shared_data: Path = typer.Option(DEFAULT_SHARED_DATA, "--shared-data",
                                     help="Folder of the public datasets (corpus cases are skipped without it)."),
) -> None:
    """Attribution on the labelled set: tuning and held-out figures, per agency and overall."""
    # imported here: it loads the whole stage sequence (trafilatura, tldextract), which the
    # other `newswire` commands would pay for
    from pipelines.evaluation import attribution as attribution_evaluation

    with console.status("tagging the labelled cases ..."):
        reports = {split: report.as_dict() for split, report in attribution_evaluation.run(shared_data).items()}
    for reason in reports["tune"]["skipped"]:
        console.print(f"[yellow]skipped:[/] {escape(reason)}")
    if as_json:
        print_json(reports)
        return
    for split, report in reports.items():
        _print_split(split, report)
    console.print("summary: " + "; ".join(
        f"{split} P={report['overall']['precision']:.3f} R={report['overall']['recall']:.3f} "
        f"F1={report['overall']['f1']:.3f} ({report['cases']} cases)" for split, report in reports.items()))


def _print_split(split: str, report: dict) -> None:
    overall = report["overall"]
    table = Table("agency", "precision", "recall", "F1", "gold", "predicted",
                  title=f"{split}: attribution on {report['cases']} labelled cases (micro-averaged)")
    for agency, scores in [*report["per_agency"].items(), ("overall", overall)]:
        table.add_row(agency, f"{scores['precision']:.3f}", f"{scores['recall']:.3f}", f"{scores['f1']:.3f}",
                      str(scores["true_positives"] + scores["false_negatives"]),
                      str(scores["true_positives"] + scores["false_positives"]),
                      end_section=agency == list(report["per_agency"])[-1])
    Console().print(table)
    labels = report["labels"]
    console.print(f"{split}: {labels['cases']} cases, {labels['credited_cases']} credited, "
                  f"{labels['distinct_agencies']} distinct agencies; by source: " + ", ".join(
                      f"{source} P={scores['precision']:.3f} R={scores['recall']:.3f}"
                      for source, scores in report["per_source"].items()))
    for error in report["errors"]:
        console.print(f"  {split} miss {error['case_id']} ({error['provenance']}): "
                      f"expected {error['expected']} got {error['predicted']}")
