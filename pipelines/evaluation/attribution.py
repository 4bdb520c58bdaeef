"""Attribution measured on the labelled set: precision, recall and F1 per agency and overall.

A case's gold is the set of agency ids the story is credited to (the pseudo-agency
``agencies`` included; empty when nothing is credited); it is compared with the set the tagger
credits, micro-averaged over agencies.

Files in ``pipelines/data/labels``:

* ``attribution_handwritten.jsonl``: our own short texts with their labels.
* ``attribution_saudinewsnet.jsonl``: references into ../shared/data/saudinewsnet (line number
  and url) with the label read by hand.
* ``attribution_saudinewsnet_heldout.jsonl``: the held-out references, labelled before the rules
  they judge were changed and never used to choose a rule (each row says so in ``labelled``).

Every case has a ``split``: ``tune`` (handwritten cases and the first corpus set, which the rules
were written against) or ``heldout``. The held-out corpus cases come from outlets and days the
tuning cases do not use: the outlets 3alyoum, sabq and alwatan on 2015-07-26, 08-01, 08-07 and
08-08 (no tuning case of these outlets is from those days), arreyadi (no tuning case at all), and
3alyoum on 2015-08-04 and 2015-07-24 (the one outlet-day that shares a day with tuning cases: the
only texts of the corpus whose dateline follows crawler leftovers are from that day). Figures are
reported per split; only the held-out ones measure the rules.

The tagger is called exactly as production calls it: the article text, its title, and the page's
byline (here the corpus ``author`` field) as ``byline``.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.attribution import GENERIC_AGENCY
from pipelines.clean import normalize_text
from pipelines.evaluation import (
    DEFAULT_SHARED_DATA,
    LABELS_DIR,
    SAUDINEWSNET,
    Scores,
    corpus_lines,
    read_jsonl,
)
from pipelines.stages import analyse_page, text_page

HANDWRITTEN = LABELS_DIR / "attribution_handwritten.jsonl"
CORPUS_REFERENCES = LABELS_DIR / "attribution_saudinewsnet.jsonl"
HELDOUT_REFERENCES = LABELS_DIR / "attribution_saudinewsnet_heldout.jsonl"
SPLITS = ("tune", "heldout")


@dataclass(frozen=True)
class AttributionCase:
    case_id: str
    provenance: str
    text: str
    title: str
    credited: frozenset[str]
    split: str = "tune"
    byline: str = ""


@dataclass
class AttributionReport:
    cases: int = 0
    per_agency: dict[str, Scores] = field(default_factory=lambda: defaultdict(Scores))
    per_source: dict[str, Scores] = field(default_factory=lambda: defaultdict(Scores))
    """Overall scores of each provenance ("handwritten", "saudinewsnet")."""
    labels: dict = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Why some cases could not be run (for example, the public corpus is absent)."""

    @property
    def overall(self) -> Scores:
        total = Scores()
        for scores in self.per_agency.values():
            total.add(scores)
        return total

    def as_dict(self) -> dict:
        return {
            "cases": self.cases,
            "overall": self.overall.as_dict(),
            "labels": self.labels,
            "per_source": {source: scores.as_dict() for source, scores in sorted(self.per_source.items())},
            "per_agency": {agency: self.per_agency[agency].as_dict() for agency in sorted(self.per_agency)},
            "errors": self.errors,
            "skipped": self.skipped,
        }


def corpus_byline(record: dict) -> str:
    """The page's byline of a corpus article (its ``author`` field) as production passes it: plain text."""
    return html.unescape(record.get("author") or "")


def load_handwritten(path: Path = HANDWRITTEN) -> list[AttributionCase]:
    return [
        AttributionCase(row["case_id"], row["provenance"], normalize_text(row["text"]), row.get("title", ""),
                        frozenset(row["credited"]), row["split"], row.get("byline", ""))
        for row in read_jsonl(path)
    ]


def load_corpus_cases(shared_data: Path | None,
                      paths: tuple[Path, ...] = (CORPUS_REFERENCES, HELDOUT_REFERENCES)
                      ) -> tuple[list[AttributionCase], list[str]]:
    """Corpus cases resolved against ../shared/data; ([], [reason]) when it is absent."""
    references = [ref for path in paths for ref in read_jsonl(path)]
    dataset = shared_data / SAUDINEWSNET if shared_data else None
    if dataset is None or not dataset.is_file():
        return [], [f"{len(references)} saudinewsnet cases skipped: {dataset or SAUDINEWSNET} not found"]
    records = corpus_lines(dataset, {int(ref["provenance"].split(":")[1]) for ref in references})
    cases, problems = [], []
    for ref in references:
        record = records.get(int(ref["provenance"].split(":")[1]))
        if record is None or record.get("url") != ref["url"]:
            problems.append(f"{ref['case_id']} skipped: the corpus line no longer holds {ref['url']}")
            continue
        cases.append(AttributionCase(ref["case_id"], ref["provenance"], normalize_text(record.get("content", "")),
                                     record.get("title", ""), frozenset(ref["credited"]), ref["split"],
                                     corpus_byline(record)))
    return cases, problems


def load_cases(shared_data: Path | None = DEFAULT_SHARED_DATA) -> tuple[list[AttributionCase], list[str]]:
    corpus, skipped = load_corpus_cases(shared_data)
    return load_handwritten() + corpus, skipped


def evaluate(cases: list[AttributionCase]) -> AttributionReport:
    report = AttributionReport(cases=len(cases))
    for case in cases:
        page = text_page(case.title, case.text, byline=case.byline)
        article = analyse_page(page, {"id": case.case_id, "url": "", "canonical_url": ""})
        predicted = {credit.agency_id for credit in article.credits}
        source = report.per_source[case.provenance.split(":")[0]]
        for agency in predicted | case.credited:
            outcome = Scores(true_positives=int(agency in predicted and agency in case.credited),
                             false_positives=int(agency in predicted and agency not in case.credited),
                             false_negatives=int(agency not in predicted))
            report.per_agency[agency].add(outcome)
            source.add(outcome)
        if predicted != case.credited:
            report.errors.append({"case_id": case.case_id, "provenance": case.provenance,
                                  "expected": sorted(case.credited), "predicted": sorted(predicted)})
    return report


def run(shared_data: Path | None = DEFAULT_SHARED_DATA) -> dict[str, AttributionReport]:
    """One report per split ("tune", "heldout"), each over that split's cases only."""
    cases, skipped = load_cases(shared_data)
    reports = {}
    for split in SPLITS:
        chosen = [case for case in cases if case.split == split]
        reports[split] = evaluate(chosen)
        reports[split].skipped = skipped
        reports[split].labels = label_summary(chosen)
    return reports


def label_summary(cases: list[AttributionCase]) -> dict:
    """Size of a labelled set: cases, cases credited to some agency, distinct named agencies."""
    named = {agency for case in cases for agency in case.credited if agency != GENERIC_AGENCY}
    return {
        "cases": len(cases),
        "credited_cases": sum(1 for case in cases if case.credited),
        "distinct_agencies": len(named),
    }
