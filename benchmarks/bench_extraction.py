"""Main-text, title and date extraction on real public article pages: newswire against its peers.

Scores four extractors on the pages restored by benchmarks/restore_extraction_pages.py:
newswire (``pipelines.extract.extract_page``, the function processing calls), bare
``trafilatura.extract()`` (title and date from ``trafilatura.extract_metadata``),
readability-lxml and newspaper4k (told the page's language). Each page is scored on the gold
its source labelled or on hand-labelled XPath selectors into the page
(benchmarks/extraction_pages.yaml, whose header holds the labelling convention). Prints, for
the tuning part and the held-out part separately, overall and per language (ar, fa, ur):

- body precision, recall and F1 on pages with a gold body, token-level: a token is a maximal
  run of Unicode word characters (``\\w+``) after NFKC normalisation with Arabic diacritics
  and tatweel removed; the two texts are compared as bags of tokens (multiset intersection),
  micro-averaged over the pages' tokens, with the mean and the lowest per-page F1;
- snippet precision and recall on pages with trafilatura-style snippets: a "with" phrase found
  in the body is a hit, a "without" phrase found is a false hit (phrases and body compared
  after the same normalisation, as token sequences);
- title and date accuracy on the pages with that gold (share of exact titles after whitespace
  collapsing; share of right publication days);
- body words kept against the peers: newswire's body length over the median of the peers'
  (a collapse shows even where no gold body exists);
- CPU milliseconds per page of each extractor (this process only);

then a per-page table and one JSON line with every figure.

``--timing N`` instead times extraction on N pages rendered from ../shared/data (SaudiNewsNet
corpus by Mazen Abdulaziz, CC BY-NC-SA 4.0, measurement only; benchmarks/corpus_site.py's
layout): CPU milliseconds per page of newswire, of newswire with trafilatura's full mode only,
and of bare trafilatura in its default and its ``fast`` mode, alternating rounds in one process
so the ratios hold on a busy machine.

    .venv/bin/python benchmarks/bench_extraction.py [--dest var/extraction-pages] [--timing 1000]

Needs the `bench` extra (readability-lxml, newspaper4k). Exits 2 with one line when no page is
restored or a page's gold selector does not fit its page.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import lxml.html
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.restore_extraction_pages import (  # noqa: E402
    DEFAULT_DEST,
    load_manifest,
    restored_pages,
)
from pipelines import extract  # noqa: E402
from pipelines.extract import ExtractionError, decode_html, extract_page  # noqa: E402

_WORD = re.compile(r"\w+")
_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


def token_list(text: str) -> list[str]:
    return _WORD.findall(_MARKS.sub("", unicodedata.normalize("NFKC", text or "")).lower())


def tokens(text: str) -> Counter:
    return Counter(token_list(text))


def contains_phrase(body: list[str], phrase: str) -> bool:
    """True when the phrase's tokens appear consecutively in the body's tokens."""
    wanted = token_list(phrase)
    return bool(wanted) and any(body[i:i + len(wanted)] == wanted for i in range(len(body) - len(wanted) + 1))


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


@contextmanager
def counting_full_mode() -> Iterator[list[int]]:
    """Counts the times newswire's extraction falls back to trafilatura's full mode."""
    count = [0]
    fast_first = extract._trafilatura_text

    def counting(source, url, fast):
        count[0] += not fast
        return fast_first(source, url, fast)

    extract._trafilatura_text = counting
    try:
        yield count
    finally:
        extract._trafilatura_text = fast_first


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

    article = Article(url, language=language, fetch_images=False)  # no network: pages are local
    article.download(input_html=html)
    article.parse()
    return Output(article.text, article.title, _day(article.publish_date))


EXTRACTORS: dict[str, Callable[[str, str, str], Output]] = {
    "newswire": run_newswire,
    "trafilatura": run_trafilatura,
    "readability-lxml": run_readability,
    "newspaper4k": run_newspaper,
}


_GO_STRING = r'"((?:[^"\\]|\\.)*)"'


def _comparison_entry(source: str, page_file: str) -> dict:
    """Title, Date, With and Without of the Go comparison entry whose File is ``page_file``
    (go-trafilatura's scripts/comparison/data.go: trafilatura's evaluation gold)."""
    start = re.search(r'File:\s*"' + re.escape(page_file) + '"', source).start()
    end = source.index("\n\t},", start)
    entry = source[start:end]

    def strings(field: str) -> list[str]:
        found = re.search(field + r":\s*\[\]string\{(.*?)\}", entry, re.S)
        return [json.loads(f'"{s}"') for s in re.findall(_GO_STRING, found.group(1))] if found else []

    def string(field: str) -> str | None:
        found = re.search(field + r":\s*" + _GO_STRING, entry)
        return json.loads(f'"{found.group(1)}"') if found else None

    return {"title": string("Title"), "date": string("Date"), "with": strings("With"),
            "without": strings("Without")}


class GoldError(ValueError):
    """A gold selector of the manifest that does not fit its page (the message is one line)."""


_UNSEEN = frozenset({"script", "style", "noscript", "template"})
_BLOCKS = frozenset({"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
                     "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
                     "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul"})


def rendered_text(node: lxml.html.HtmlElement, excluded: frozenset = frozenset()) -> str:
    """The text a reader sees in ``node``: itertext without the ``excluded`` subtrees, scripts,
    styles and comments, with a line break at <br> and around block elements (so words of two
    paragraphs never run together); spaces collapsed, blank lines dropped."""
    parts: list[str] = []

    def walk(element) -> None:
        if element in excluded or element.tag in _UNSEEN:
            return
        block = element.tag in _BLOCKS
        parts.append("\n" if block or element.tag == "br" else "")
        parts.append(element.text or "")
        for child in element:
            if isinstance(child.tag, str):  # comments and processing instructions are not text
                walk(child)
            parts.append(child.tail or "")
        parts.append("\n" if block else "")

    walk(node)
    lines = (" ".join(line.split()) for line in "".join(parts).splitlines())
    return "\n".join(line for line in lines if line)


def _selected(root, page_id: str, xpath: str) -> list:
    """The elements ``xpath`` selects; GoldError when it is invalid or selects no element."""
    try:
        found = root.xpath(xpath)
    except etree.XPathError as exc:
        raise GoldError(f"{page_id}: gold selector {xpath!r} is not a valid XPath ({exc})") from None
    elements = [node for node in found if isinstance(node, lxml.html.HtmlElement)] if isinstance(found, list) else []
    if not elements:
        raise GoldError(f"{page_id}: gold selector {xpath!r} matches nothing in page.html")
    return elements


def selected_gold(raw_html: bytes, page_id: str, spec: dict) -> dict:
    """Body and title gold given as XPath selectors into the page (hand-labelled pages):
    ``body_xpaths`` (the article's body nodes), ``body_exclude_xpaths`` (chrome nested in them)
    and ``title_xpath`` (the headline node, exactly one). The body is the selected nodes' text
    in document order, one node a line, excluded subtrees removed."""
    text = decode_html(raw_html)
    root = lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    gold: dict = {}
    if spec.get("body_xpaths"):
        position = {element: index for index, element in enumerate(root.iter())}
        nodes = {node for xpath in spec["body_xpaths"] for node in _selected(root, page_id, xpath)}
        if any(ancestor in nodes for node in nodes for ancestor in node.iterancestors()):
            raise GoldError(f"{page_id}: gold body selectors select a node and one of its ancestors")
        excluded = frozenset(node for xpath in spec.get("body_exclude_xpaths", [])
                             for node in _selected(root, page_id, xpath))
        gold["body"] = "\n".join(rendered_text(node, excluded) for node in sorted(nodes, key=position.get))
    if spec.get("title_xpath"):
        headline = _selected(root, page_id, spec["title_xpath"])
        if len(headline) != 1:
            raise GoldError(f"{page_id}: gold title selector {spec['title_xpath']!r} matches "
                            f"{len(headline)} nodes, not one")
        gold["title"] = " ".join(rendered_text(headline[0]).split())
    return gold


def gold_of(page: dict) -> dict:
    """The page's gold: body (text or None), title, day, with and without snippets."""
    folder: Path = page["folder"]
    spec = page["gold"]
    gold = {"body": None, "title": None, "day": _day(str(spec["date"])) if spec.get("date") else None,
            "with": [], "without": []}
    if spec.get("body_file"):
        gold["body"] = (folder / spec["body_file"]).read_text(encoding="utf-8")
    if spec.get("body_xpaths") or spec.get("title_xpath"):
        gold.update(selected_gold((folder / "page.html").read_bytes(), page["id"], spec))
    if spec.get("title"):
        gold["title"] = json.loads((folder / spec["title"]["file"]).read_text(encoding="utf-8"))[spec["title"]["key"]]
    if spec.get("comparison_entry"):
        entry = _comparison_entry((folder / spec["comparison_entry"]["file"]).read_text(encoding="utf-8"),
                                  spec["comparison_entry"]["page"])
        gold.update({"title": entry["title"], "with": entry["with"], "without": entry["without"]})
        gold["day"] = gold["day"] or _day(entry["date"])
    return gold


def score_page(page: dict, extractor: Callable[[str, str, str], Output]) -> dict:
    html = decode_html((page["folder"] / "page.html").read_bytes())
    gold = gold_of(page)
    started = time.process_time()
    out = extractor(html, page["url"], page["language"])
    elapsed = time.process_time() - started
    row = {"id": page["id"], "language": page["language"], "split": page["split"], "seconds": elapsed,
           "words": len(token_list(out.body)), "has_body": gold["body"] is not None,
           "title_ok": None if gold["title"] is None else _same_title(out.title, gold["title"]),
           "date_ok": None if gold["day"] is None else out.day == gold["day"]}
    if gold["body"] is not None:
        predicted, expected = tokens(out.body), tokens(gold["body"])
        common = sum((predicted & expected).values())
        precision = common / sum(predicted.values()) if predicted else 0.0
        recall = common / sum(expected.values()) if expected else 0.0
        row.update(common=common, predicted=sum(predicted.values()), gold=sum(expected.values()),
                   precision=precision, recall=recall,
                   f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    body = token_list(out.body)
    row["with_hits"] = sum(contains_phrase(body, s) for s in gold["with"])
    row["with_total"] = len(gold["with"])
    row["without_hits"] = sum(contains_phrase(body, s) for s in gold["without"])
    return row


def _share(flags: list[bool]) -> float | str:
    return round(sum(flags) / len(flags), 3) if flags else "-"


def summarise(rows: list[dict]) -> dict:
    if not rows:
        return {"pages": 0}
    summary: dict = {"pages": len(rows)}
    bodied = [r for r in rows if r["has_body"]]
    summary["body_pages"] = len(bodied)
    if bodied:
        common = sum(r["common"] for r in bodied)
        predicted = sum(r["predicted"] for r in bodied)
        gold = sum(r["gold"] for r in bodied)
        precision = common / predicted if predicted else 0.0
        recall = common / gold if gold else 0.0
        summary.update(precision=round(precision, 3), recall=round(recall, 3),
                       f1=round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0,
                       mean_page_f1=round(sum(r["f1"] for r in bodied) / len(bodied), 3),
                       min_page_f1=round(min(r["f1"] for r in bodied), 3))
    hits = sum(r["with_hits"] for r in rows)
    wanted = sum(r["with_total"] for r in rows)
    false_hits = sum(r["without_hits"] for r in rows)
    if wanted:
        summary["snippet_recall"] = round(hits / wanted, 3)
        summary["snippet_precision"] = round(hits / (hits + false_hits), 3) if hits + false_hits else 0.0
    titled = [r["title_ok"] for r in rows if r["title_ok"] is not None]
    dated = [r["date_ok"] for r in rows if r["date_ok"] is not None]
    summary.update(title_pages=len(titled), title_accuracy=_share(titled),
                   date_pages=len(dated), date_accuracy=_share(dated),
                   ms_per_page=round(1000 * sum(r["seconds"] for r in rows) / len(rows), 1))
    return summary


def evaluate(pages: list[dict]) -> dict[str, list[dict]]:
    for extractor in EXTRACTORS.values():  # imports, caches and first calls stay out of ms per page
        for page in pages:
            score_page(page, extractor)
    scores = {name: [score_page(page, extractor) for page in pages] for name, extractor in EXTRACTORS.items()}
    for page, row in zip(pages, scores["newswire"]):
        with counting_full_mode() as full_mode:
            run_newswire(decode_html((page["folder"] / "page.html").read_bytes()), page["url"], page["language"])
        row["full_mode"] = bool(full_mode[0])
    for index, row in enumerate(scores["newswire"]):
        peer_words = [rows[index]["words"] for name, rows in scores.items() if name != "newswire"]
        median = statistics.median(peer_words)
        row["words_vs_peers"] = row["words"] / median if median else 1.0
    return scores


def report(scores: dict[str, list[dict]]) -> dict:
    """{split: {language or 'all': {extractor: summary}}}; newswire's summary also holds the
    lowest ratio of its body words to the peers' median (``min_words_vs_peers``)."""
    figures: dict = {}
    for split in ("tuning", "held_out"):
        figures[split] = {}
        for language in ("all", "ar", "fa", "ur"):
            figures[split][language] = {
                name: summarise([r for r in rows if r["split"] == split
                                 and language in ("all", r["language"])])
                for name, rows in scores.items()}
            ratios = [r["words_vs_peers"] for r in scores["newswire"]
                      if r["split"] == split and language in ("all", r["language"])]
            if ratios:
                figures[split][language]["newswire"]["min_words_vs_peers"] = round(min(ratios), 3)
                figures[split][language]["newswire"]["full_mode_pages"] = sum(
                    r["full_mode"] for r in scores["newswire"]
                    if r["split"] == split and language in ("all", r["language"]))
    return figures


_COLUMNS = ("pages", "body_pages", "precision", "recall", "f1", "mean_page_f1", "min_page_f1",
            "snippet_precision", "snippet_recall", "title_pages", "title_accuracy", "date_pages",
            "date_accuracy", "ms_per_page")


def _cell(row: dict) -> str:
    body = f"F1 {row['f1']:.3f}" if row["has_body"] else f"{row['words']:>5} w"
    snippets = f" s {row['with_hits']}/{row['with_total']}-{row['without_hits']}" if row["with_total"] else ""
    marks = "".join(mark if ok else "." for mark, ok in (("T", row["title_ok"]), ("D", row["date_ok"]))
                    if ok is not None)
    return f"{body}{snippets} {marks}{' F' if row.get('full_mode') else ''}"


def print_tables(figures: dict, scores: dict[str, list[dict]]) -> None:
    for split, by_language in figures.items():
        for language, by_extractor in by_language.items():
            if not any(s["pages"] for s in by_extractor.values()):
                continue
            print(f"\n== {split} / {language}")
            print(f"   {'extractor':<17}" + "".join(f"{c.replace('_', ' '):>{max(8, len(c) + 1)}}"
                                                     for c in _COLUMNS))
            for name, summary in by_extractor.items():
                print(f"   {name:<17}" + "".join(f"{summary.get(c, '-'):>{max(8, len(c) + 1)}}"
                                                 for c in _COLUMNS))
            if "min_words_vs_peers" in by_extractor["newswire"]:
                print(f"   newswire's body words over the peers' median, lowest page: "
                      f"{by_extractor['newswire']['min_words_vs_peers']}; pages where newswire ran "
                      f"trafilatura's full mode: {by_extractor['newswire']['full_mode_pages']}")
    print("\n== per page: body F1 (or words kept where no gold body), snippets with found/total-without"
          " found, T title right, D date right ('.' wrong), F newswire ran trafilatura's full mode")
    print(f"   {'page':<44}{'split':<9}{'lang':<5}" + "".join(f"{name:<26}" for name in scores))
    for index, row in enumerate(scores["newswire"]):
        print(f"   {row['id']:<44}{row['split']:<9}{row['language']:<5}"
              + "".join(f"{_cell(rows[index]):<26}" for rows in scores.values()))


def timing(count: int, rounds: int = 3) -> dict:
    """CPU ms per page on ``count`` corpus pages (the median of ``rounds`` alternating rounds) of
    newswire, of newswire with trafilatura's full mode only (as before the fast mode ran first)
    and of bare trafilatura in both modes; how many pages newswire sent to the full mode, and on
    how many bare trafilatura's fast text differs from its default one."""
    import trafilatura

    from benchmarks import corpus_site

    articles = corpus_site.load_articles(count)
    base = "https://corpus.example"
    pages = [(corpus_site.render_article(a, articles[i + 1:i + 4], base), base + a["path"])
             for i, a in enumerate(articles)]
    def full_mode_only(raw: bytes, url: str) -> None:
        """newswire as it was before the fast mode ran first: trafilatura's full mode only."""
        fast_first = extract._trafilatura_text
        extract._trafilatura_text = lambda source, page_url, fast: fast_first(source, page_url, False)
        try:
            extract_page(raw, url)
        finally:
            extract._trafilatura_text = fast_first

    runs = {
        "newswire": lambda raw, url: extract_page(raw, url),
        "newswire full mode": full_mode_only,
        "trafilatura": lambda raw, url: trafilatura.extract(raw.decode("utf-8"), url=url),
        "trafilatura fast": lambda raw, url: trafilatura.extract(raw.decode("utf-8"), url=url, fast=True),
    }
    spent: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.process_time()
            for raw, url in pages:
                run(raw, url)
            spent[name].append(1000 * (time.process_time() - started) / len(pages))
    with counting_full_mode() as full_mode:
        for raw, url in pages:
            extract_page(raw, url)
    differing = sum(runs["trafilatura"](raw, url) != runs["trafilatura fast"](raw, url) for raw, url in pages)
    return {"ms_per_page": {name: round(statistics.median(values), 2) for name, values in spent.items()},
            "newswire_full_mode_pages": full_mode[0], "trafilatura_fast_differs_pages": differing}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--timing", type=int, metavar="N", help="time extraction on N corpus pages instead")
    args = parser.parse_args(argv)
    if args.timing:
        figures = timing(args.timing)
        for name, ms in figures["ms_per_page"].items():
            print(f"{name:<18}{ms:>8.2f} ms/page (CPU, median of 3 rounds, {args.timing} corpus pages)")
        print(f"newswire ran trafilatura's full mode on {figures['newswire_full_mode_pages']} pages; "
              f"bare trafilatura's fast text differs from its default one on "
              f"{figures['trafilatura_fast_differs_pages']} pages")
        print(json.dumps({"benchmark": "extraction-timing", "pages": args.timing, **figures}))
        return 0
    manifest = load_manifest()
    pages = restored_pages(args.dest, manifest)
    if not pages:
        print(f"no restored page under {args.dest}: run benchmarks/restore_extraction_pages.py first",
              file=sys.stderr)
        return 2
    print(f"{len(pages)} of {len(manifest['pages'])} manifest pages restored; "
          f"split: {manifest['split_rule']}")
    try:
        scores = evaluate(pages)
    except GoldError as exc:
        print(exc, file=sys.stderr)
        return 2
    figures = report(scores)
    print_tables(figures, scores)
    print(json.dumps({"benchmark": "extraction", "figures": figures}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
