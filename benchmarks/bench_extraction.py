"""Main-text, title and date extraction on real public article pages: newswire against its peers.

Scores four extractors on the pages restored by benchmarks/restore_extraction_pages.py:
newswire (``pipelines.extract.extract_page``, the function processing calls), bare
``trafilatura.extract()`` (title and date from ``trafilatura.extract_metadata``),
readability-lxml and newspaper4k (told the page's language). Prints, for the tuning part and
the held-out part of benchmarks/extraction_pages.yaml separately:

- body precision, recall and F1, token-level: a token is a maximal run of Unicode word
  characters (``\\w+``) after NFKC normalisation with Arabic diacritics and tatweel removed;
  the two texts are compared as bags of tokens (multiset intersection), micro-averaged over the
  pages' tokens, and the mean of the per-page F1;
- title accuracy: share of pages whose title equals the gold one after whitespace collapsing;
- date accuracy: share of pages whose publication day equals the gold day;
- per language (ar, fa, ur), the worst pages by body F1, then one JSON line with every figure.

    .venv/bin/python benchmarks/bench_extraction.py [--dest var/extraction-pages] [--worst 5]

Needs the `bench` extra (readability-lxml, newspaper4k). Exits 2 with one line when no page is
restored.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.restore_extraction_pages import (  # noqa: E402
    DEFAULT_DEST,
    load_manifest,
    restored_pages,
)
from pipelines.extract import ExtractionError, decode_html, extract_page  # noqa: E402

_WORD = re.compile(r"\w+")
_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


def tokens(text: str) -> Counter:
    return Counter(_WORD.findall(_MARKS.sub("", unicodedata.normalize("NFKC", text or "")).lower()))


def _same_title(predicted: str | None, gold: str) -> bool:
    return " ".join((predicted or "").split()) == " ".join(gold.split())


@dataclass
class Output:
    body: str
    title: str | None
    day: date | None


def _day(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value[:10]).date()
        except ValueError:
            return None
    return None


def run_newswire(html: str, url: str, language: str) -> Output:
    try:
        page = extract_page(html.encode("utf-8"), url)
    except ExtractionError:
        return Output("", None, None)
    return Output(page.body, page.title, page.published_at.date() if page.published_at else None)


def run_trafilatura(html: str, url: str, language: str) -> Output:
    import trafilatura

    body = trafilatura.extract(html, url=url) or ""
    meta = trafilatura.extract_metadata(html, default_url=url)
    return Output(body, meta.title if meta else None, _day(meta.date) if meta else None)


def run_readability(html: str, url: str, language: str) -> Output:
    import lxml.html
    from readability import Document

    document = Document(html, url=url)
    body = lxml.html.fromstring(document.summary()).text_content()
    return Output(body, document.short_title(), None)  # readability-lxml reads no dates


def run_newspaper(html: str, url: str, language: str) -> Output:
    from newspaper import Article

    article = Article(url, language=language)
    article.download(input_html=html)
    article.parse()
    return Output(article.text, article.title, _day(article.publish_date))


EXTRACTORS: dict[str, Callable[[str, str, str], Output]] = {
    "newswire": run_newswire,
    "trafilatura": run_trafilatura,
    "readability-lxml": run_readability,
    "newspaper4k": run_newspaper,
}


def gold_of(page: dict) -> dict:
    folder: Path = page["folder"]
    meta = json.loads((folder / "gold_meta.json").read_text(encoding="utf-8"))
    return {"body": (folder / "gold_body.txt").read_text(encoding="utf-8"),
            "title": meta["title"], "day": _day(str(page["gold"]["date"]))}


def score_page(page: dict, extractor: Callable[[str, str, str], Output]) -> dict:
    html = decode_html((page["folder"] / "page.html").read_bytes())
    gold = gold_of(page)
    out = extractor(html, page["url"], page["language"])
    predicted, expected = tokens(out.body), tokens(gold["body"])
    common = sum((predicted & expected).values())
    precision = common / sum(predicted.values()) if predicted else 0.0
    recall = common / sum(expected.values()) if expected else 0.0
    return {"id": page["id"], "language": page["language"], "split": page["split"],
            "common": common, "predicted": sum(predicted.values()), "gold": sum(expected.values()),
            "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "title_ok": _same_title(out.title, gold["title"]),
            "date_ok": gold["day"] is not None and out.day == gold["day"]}


def summarise(rows: list[dict]) -> dict:
    if not rows:
        return {"pages": 0}
    common = sum(r["common"] for r in rows)
    predicted = sum(r["predicted"] for r in rows)
    gold = sum(r["gold"] for r in rows)
    precision = common / predicted if predicted else 0.0
    recall = common / gold if gold else 0.0
    return {"pages": len(rows), "precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0,
            "mean_page_f1": round(sum(r["f1"] for r in rows) / len(rows), 3),
            "min_page_f1": round(min(r["f1"] for r in rows), 3),
            "title_accuracy": round(sum(r["title_ok"] for r in rows) / len(rows), 3),
            "date_accuracy": round(sum(r["date_ok"] for r in rows) / len(rows), 3)}


def evaluate(pages: list[dict]) -> dict[str, list[dict]]:
    return {name: [score_page(page, extractor) for page in pages] for name, extractor in EXTRACTORS.items()}


def report(scores: dict[str, list[dict]]) -> dict:
    """{split: {language or 'all': {extractor: summary}}}."""
    figures: dict = {}
    for split in ("tuning", "held_out"):
        figures[split] = {}
        for language in ("all", "ar", "fa", "ur"):
            figures[split][language] = {
                name: summarise([r for r in rows if r["split"] == split
                                 and language in ("all", r["language"])])
                for name, rows in scores.items()}
    return figures


_COLUMNS = ("pages", "precision", "recall", "f1", "mean_page_f1", "min_page_f1", "title_accuracy", "date_accuracy")


def print_tables(figures: dict, scores: dict[str, list[dict]], worst: int) -> None:
    for split, by_language in figures.items():
        for language, by_extractor in by_language.items():
            print(f"\n== {split} / {language}")
            if not any(s["pages"] for s in by_extractor.values()):
                print("   no restored page")
                continue
            print(f"   {'extractor':<18}" + "".join(f"{c:>15}" for c in _COLUMNS))
            for name, summary in by_extractor.items():
                print(f"   {name:<18}" + "".join(f"{summary.get(c, ''):>15}" for c in _COLUMNS))
    print(f"\n== worst {worst} pages by newswire body F1")
    for row in sorted(scores["newswire"], key=lambda r: r["f1"])[:worst]:
        peers = "  ".join(f"{name} {next(r['f1'] for r in rows if r['id'] == row['id']):.3f}"
                          for name, rows in scores.items() if name != "newswire")
        print(f"   {row['f1']:.3f} P {row['precision']:.3f} R {row['recall']:.3f}  {row['split']:<8} "
              f"{row['language']}  {row['id']}   ({peers})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--worst", type=int, default=5)
    args = parser.parse_args(argv)
    manifest = load_manifest()
    pages = restored_pages(args.dest, manifest)
    if not pages:
        print(f"no restored page under {args.dest}: run benchmarks/restore_extraction_pages.py first",
              file=sys.stderr)
        return 2
    print(f"{len(pages)} of {len(manifest['pages'])} manifest pages restored; "
          f"split: {manifest['split_rule']}")
    scores = evaluate(pages)
    figures = report(scores)
    print_tables(figures, scores, args.worst)
    print(json.dumps({"benchmark": "extraction", "figures": figures}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
