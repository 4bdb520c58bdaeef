"""Relevance evaluation of Arabic search: judged queries, three mappings, one run.

Two judged sets. The main one, ``saudinewsnet``: queries over a corpus of real newspaper articles
(every fifth line of ../shared/data/saudinewsnet, built into records by the production stages;
document id ``sn-<line>``), judged by pooling the top 10 of the three mappings, and split into a
tuning and a held-out part by the query id (the labels file's provenance says how and when). The
small ``demo`` set: judged queries over the demo mirror's articles and the seed, a check of the
spelling variants the mapping folds.

Each corpus is indexed into temporary indices under three mappings: the project's, the engine's
built-in ``arabic`` analyzer on every text field (the main baseline) and ``standard`` (second
baseline). The same query (pipelines.search.build_query) is scored on each by the engine's
ranking evaluation API (``_rank_eval``): recall@k, MRR and nDCG@k; an engine that answers that it
has no such API gets the same metrics computed here from its ``_search`` hits (:func:`ranking_metrics`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

import yaml

from kernel.records import Article, Attribution
from pipelines.attribution import agency_names
from pipelines.evaluation import DEFAULT_SHARED_DATA, SAUDINEWSNET
from pipelines.index import SearchEngine, SearchEngineError, articles_index_body
from pipelines.index.transport import UNSUPPORTED_ENDPOINT
from pipelines.search import build_query
from pipelines.stages import analyse_page, text_page

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_ARTICLES_DIR = REPO_ROOT / "infra" / "demo-mirror" / "articles"
SEED_TEXT = REPO_ROOT / "tests" / "fixtures" / "seed_tasnim.txt"
SEARCH_EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "search_eval"
QUERIES_FILE = SEARCH_EVAL_DIR / "queries.yaml"
JUDGEMENTS_FILE = SEARCH_EVAL_DIR / "saudinewsnet_judgements.yaml"
SEED_ID = "tasnim-seed"
SEED_PUBLISHED = datetime.fromisoformat("2020-02-29T14:35:00+03:30")  # as on the seed page fixture
SEED_TRAILER_LINES = 2  # "/ انتهى/" and "المصدر : ..." close the seed text
K = 10
RELEVANT = 1  # the lowest grade that counts as relevant (``relevant_rating_threshold``)
CORPUS_EVERY = 5  # the corpus is line 1, 6, 11, ... of SaudiNewsNet: every outlet and every day

UNJUDGED = "unjudged"  # hits in the top k nobody read: a mapping the pool did not see ranks them
METRICS = {
    "recall": {"recall": {"k": K, "relevant_rating_threshold": RELEVANT}},
    "mrr": {"mean_reciprocal_rank": {"k": K, "relevant_rating_threshold": RELEVANT}},
    "ndcg": {"dcg": {"k": K, "normalize": True}},
}


# --- the corpus ------------------------------------------------------------------------


def _credit(agency_id: str, evidence: str, rule: str) -> Attribution:
    name_ar, name_en = agency_names(agency_id)
    return Attribution(agency_id=agency_id, name_ar=name_ar, name_en=name_en, evidence=evidence,
                       position=0, rule=rule, confidence=1.0)


def demo_article(entry: dict) -> Article:
    """An indexable article from one demo-mirror YAML entry (body without the trailer lines)."""
    paragraphs = [str(p) for p in entry.get("paragraphs", [])]
    url = f"demo://{entry['source']}/{entry['slug']}"
    return Article(
        id=str(entry["slug"]), url=url, canonical_url=url, source_id=entry["source"],
        title=str(entry.get("title", "")), lead=paragraphs[0] if paragraphs else "", body="\n".join(paragraphs),
        published_at=datetime.fromisoformat(str(entry["published"])) if entry.get("published") else None,
        language="ar", attribution=_credit(entry["source"], entry["source"], "demo_source"),
        removed_trailers=list(entry.get("trailer", [])),
    )


def seed_article(text: str | None = None) -> Article:
    """The user's seed: first line the title, the rest the body without its two trailer lines."""
    lines = [line for line in (text or SEED_TEXT.read_text(encoding="utf-8")).strip().split("\n") if line.strip()]
    title, body_lines, trailer = lines[0], lines[1:-SEED_TRAILER_LINES], lines[-SEED_TRAILER_LINES:]
    url = "https://www.tasnimnews.com/ar/news/seed"
    return Article(
        id=SEED_ID, url=url, canonical_url=url, source_id="tasnim", title=title, lead=body_lines[0],
        body="\n".join(body_lines), published_at=SEED_PUBLISHED, language="ar",
        attribution=_credit("tasnim", trailer[-1].rstrip(" ."), "trailer"), removed_trailers=trailer,
    )


def demo_corpus(articles_dir: Path = DEMO_ARTICLES_DIR) -> list[Article]:
    """Every demo-mirror article plus the seed."""
    if not articles_dir.is_dir() or not SEED_TEXT.is_file():
        raise FileNotFoundError(f"demo corpus not found ({articles_dir}, {SEED_TEXT}): "
                                "run the evaluation from a newswire checkout")
    articles = [seed_article()]
    for path in sorted(articles_dir.glob("*.yaml")):
        articles += [demo_article(entry) for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
    return articles


def corpus_article(line: int, entry: dict) -> Article:
    """One SaudiNewsNet entry (its title, text and byline) through the production stages."""
    url = entry.get("url") or f"saudinewsnet://{line}"
    page = text_page(entry.get("title") or "", entry.get("content") or "", byline=entry.get("author") or "")
    return analyse_page(page, dict(url=url, canonical_url=url, id=f"sn-{line}", source_id=entry.get("source")))


def saudinewsnet_corpus(shared_data: Path = DEFAULT_SHARED_DATA) -> list[Article]:
    """Every CORPUS_EVERY-th article of SaudiNewsNet as a record; FileNotFoundError when it is absent."""
    dataset = shared_data / SAUDINEWSNET
    if not dataset.is_file():
        raise FileNotFoundError(f"SaudiNewsNet not found at {dataset} (the public datasets in ../shared/data)")
    with gzip.open(dataset, "rt", encoding="utf-8") as lines:
        return [corpus_article(number, json.loads(line)) for number, line in enumerate(lines, start=1)
                if number % CORPUS_EVERY == 1]


# --- the judged queries ----------------------------------------------------------------

TUNING, HELDOUT, DEMO = "tuning", "heldout", "demo"


def split_of(query_id: str) -> str:
    """Held-out when the sha256 of the query id is odd: fixed by the id alone, before any scoring."""
    return HELDOUT if int(hashlib.sha256(query_id.encode("utf-8")).hexdigest(), 16) % 2 else TUNING


@dataclass(frozen=True)
class JudgedQuery:
    id: str
    query: str
    category: str
    relevant: dict[str, int]
    variant: str | None = None
    split: str = DEMO
    not_relevant: frozenset[str] = frozenset()  # read and graded 0

    @property
    def ratings(self) -> dict[str, int]:
        """Every judged document with its grade: the relevant ones and those read and graded 0."""
        return {**dict.fromkeys(self.not_relevant, 0), **self.relevant}


def _judged_query(entry: dict, split: str) -> JudgedQuery:
    return JudgedQuery(id=entry["id"], query=entry["query"], category=entry["category"],
                       relevant={str(doc): int(grade) for doc, grade in (entry.get("relevant") or {}).items()},
                       variant=entry.get("variant"), split=split,
                       not_relevant=frozenset(str(doc) for doc in entry.get("judged_not_relevant") or []))


def load_queries(path: Path = QUERIES_FILE) -> list[JudgedQuery]:
    """The demo set's judged queries."""
    return [_judged_query(entry, DEMO) for entry in yaml.safe_load(path.read_text(encoding="utf-8"))]


def demo_queries() -> list[JudgedQuery]:
    """The demo set's queries; its queries were written with its corpus, so every document a query
    does not list is judged not relevant."""
    corpus_ids = {article.id for article in demo_corpus()}
    return [replace(q, not_relevant=frozenset(corpus_ids - set(q.relevant))) for q in load_queries()]


def load_judgements(path: Path = JUDGEMENTS_FILE) -> list[JudgedQuery]:
    """The SaudiNewsNet set's judged queries, each in its split (:func:`split_of`)."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]
    return [_judged_query(entry, split_of(entry["id"])) for entry in entries]


@dataclass(frozen=True)
class JudgedSet:
    name: str
    title: str
    queries: list[JudgedQuery]
    corpus: Callable[[], list[Article]]


def judged_sets() -> dict[str, JudgedSet]:
    return {
        "saudinewsnet": JudgedSet("saudinewsnet", "SaudiNewsNet: judged queries over real newspaper articles",
                                  load_judgements(), saudinewsnet_corpus),
        "demo": JudgedSet("demo", "demo set: spelling-variant checks over the demo mirror's articles and the seed",
                          demo_queries(), demo_corpus),
    }


# --- mappings ----------------------------------------------------------------------------


def _with_analyzer(node: Any, analyzer: str) -> Any:
    if isinstance(node, dict):
        node = {key: _with_analyzer(value, analyzer) for key, value in node.items() if key != "search_analyzer"}
        if node.get("type") == "text":
            node["analyzer"] = analyzer
        return node
    if isinstance(node, list):
        return [_with_analyzer(item, analyzer) for item in node]
    return node


def baseline_index_body(analyzer: str) -> dict[str, Any]:
    """The project's fields and settings, but every text field on one of the engine's built-in analyzers."""
    body = articles_index_body()
    del body["settings"]["analysis"]
    body["mappings"] = _with_analyzer(body["mappings"], analyzer)
    return body


MAPPINGS: dict[str, Callable[[], dict[str, Any]]] = {
    "project": articles_index_body,
    "arabic": lambda: baseline_index_body("arabic"),
    "standard": lambda: baseline_index_body("standard"),
}


@contextmanager
def evaluation_indices(engine: SearchEngine, articles: list[Article]) -> Iterator[dict[str, str]]:
    """The articles indexed under every mapping in temporary indices (mapping -> index), dropped afterwards."""
    run = uuid.uuid4().hex[:8]
    indices = {mapping: f"{engine.settings.index_prefix}-eval-{mapping}-{run}" for mapping in MAPPINGS}
    try:
        for mapping, index in indices.items():
            engine.create_index(index, MAPPINGS[mapping]())
            result = engine.bulk_upsert(articles, index=index)
            if result.failed:
                raise SearchEngineError(f"{result.failed} documents failed to index: {result.errors[:3]}")
            engine.refresh(index)
        yield indices
    finally:
        for index in indices.values():
            engine.delete_index(index)


# --- metrics -----------------------------------------------------------------------------


def ranked_ids(engine: SearchEngine, index: str, query: str, k: int = K) -> list[str]:
    """The ids of the top k hits of the production query."""
    answer = engine.request("POST", f"/{index}/_search", {"query": build_query(query), "size": k, "_source": False})
    return [hit["_id"] for hit in answer["hits"]["hits"]]


def _dcg(grades: list[int | None]) -> float:
    return sum((2 ** grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(grades, start=1) if grade is not None)


def ranking_metrics(ranking: list[str], ratings: dict[str, int], k: int = K) -> dict[str, float]:
    """recall@k, MRR and nDCG@k of one ranking, defined as the engines' ``_rank_eval`` defines them.

    Relevant means a grade >= ``relevant_rating_threshold``; recall is 0 when nothing is relevant;
    the reciprocal rank is that of the first relevant hit in the top k, 0 without one; DCG sums
    (2^grade - 1) / log2(rank + 1) over the top k, unrated hits adding nothing but taking their
    rank, and is normalised by the DCG of all the ratings sorted best first, cut to as many as
    there were hits (0 when that ideal is 0).
    """
    top = ranking[:k]
    relevant = {doc for doc, grade in ratings.items() if grade >= RELEVANT}
    ranks = [rank for rank, doc in enumerate(top, start=1) if doc in relevant]
    ideal = _dcg(sorted(ratings.values(), reverse=True)[:len(top)])
    return {
        "recall": len(ranks) / len(relevant) if relevant else 0.0,
        "mrr": 1 / ranks[0] if ranks else 0.0,
        "ndcg": _dcg([ratings.get(doc) for doc in top]) / ideal if ideal else 0.0,
    }


def rank_eval_request(queries: list[JudgedQuery], index: str, metric: dict) -> dict:
    return {
        "requests": [{"id": q.id, "request": {"query": build_query(q.query)},
                      "ratings": [{"_index": index, "_id": doc, "rating": grade} for doc, grade in q.ratings.items()]}
                     for q in queries],
        "metric": metric,
    }


def rank_eval_scores(engine: SearchEngine, index: str, queries: list[JudgedQuery]) -> dict[str, dict[str, float]]:
    """Query id -> metric -> score, from the engine's ``_rank_eval``, and the unjudged hits in its top k."""
    per_query: dict[str, dict[str, float]] = {q.id: {} for q in queries}
    for name, metric in METRICS.items():
        answer = engine.request("POST", f"/{index}/_rank_eval", rank_eval_request(queries, index, metric))
        if answer.get("failures"):
            raise SearchEngineError(f"rank evaluation failed for {sorted(answer['failures'])}")
        for query_id, detail in answer["details"].items():
            per_query[query_id][name] = detail["metric_score"]
            per_query[query_id][UNJUDGED] = len(detail["unrated_docs"])
    return per_query


def search_scores(engine: SearchEngine, index: str, queries: list[JudgedQuery]) -> dict[str, dict[str, float]]:
    """Query id -> metric -> score, computed from the ``_search`` hits (:func:`ranking_metrics`), and the
    unjudged hits in the top k."""
    per_query = {}
    for q in queries:
        ranking = ranked_ids(engine, index, q.query)
        per_query[q.id] = {**ranking_metrics(ranking, q.ratings), UNJUDGED: sum(doc not in q.ratings for doc in ranking)}
    return per_query


def score_index(engine: SearchEngine, index: str, queries: list[JudgedQuery]) -> tuple[dict[str, dict[str, float]], str]:
    """Per-query scores and where they come from: ``_rank_eval``, or ``_search`` on an engine without it."""
    try:
        return rank_eval_scores(engine, index, queries), "_rank_eval"
    except SearchEngineError as error:
        if error.status not in UNSUPPORTED_ENDPOINT:
            raise
    return search_scores(engine, index, queries), "_search"


# --- running it --------------------------------------------------------------------------


@dataclass
class SetReport:
    name: str
    title: str
    documents: int
    queries: list[JudgedQuery]
    per_query: dict[str, dict[str, dict[str, float]]]  # mapping -> query id -> metric -> score
    metrics_from: str

    def scores(self, mapping: str, split: str | None = None, category: str | None = None) -> dict[str, float]:
        """Mean of each metric over the queries of a split (and category), as ``_rank_eval`` averages."""
        chosen = [q.id for q in self.queries if split in (None, q.split) and category in (None, q.category)]
        return {metric: mean(self.per_query[mapping][query_id][metric] for query_id in chosen) for metric in METRICS}

    def unjudged(self, mapping: str, split: str | None = None) -> int:
        """Hits in the top k of the split's queries that were never judged (counted as not relevant)."""
        return sum(self.per_query[mapping][q.id][UNJUDGED] for q in self.queries if split in (None, q.split))

    def splits(self) -> list[str]:
        return [split for split in (TUNING, HELDOUT, DEMO) if any(q.split == split for q in self.queries)]

    def as_dict(self) -> dict[str, Any]:
        categories = sorted({q.category for q in self.queries})
        named = {"recall": f"recall@{K}", "mrr": "mrr", "ndcg": f"ndcg@{K}"}

        def rounded(scores: dict[str, float]) -> dict[str, float]:
            return {named[metric]: round(score, 4) for metric, score in scores.items()}

        return {
            "title": self.title,
            "documents": self.documents,
            "metrics_from": self.metrics_from,
            "queries": {split: sum(q.split == split for q in self.queries) for split in self.splits()},
            "splits": {split: {mapping: {**rounded(self.scores(mapping, split)),
                                         f"unjudged@{K}": self.unjudged(mapping, split),
                                         "by_category": {category: rounded(self.scores(mapping, split, category))
                                                         for category in categories
                                                         if any(q.split == split and q.category == category
                                                                for q in self.queries)}}
                               for mapping in self.per_query}
                       for split in self.splits()},
            "per_query": [{"id": q.id, "query": q.query, "category": q.category, "split": q.split,
                           "variant": q.variant,
                           **{mapping: {named.get(m, f"{m}@{K}"): round(s, 4) for m, s in scores[q.id].items()}
                              for mapping, scores in self.per_query.items()}}
                          for q in self.queries],
        }


@dataclass
class EvaluationReport:
    sets: dict[str, SetReport]
    skipped: dict[str, str] = field(default_factory=dict)  # set name -> why it did not run

    def as_dict(self) -> dict[str, Any]:
        return {"k": K, "sets": {name: report.as_dict() for name, report in self.sets.items()},
                "skipped": self.skipped}


def evaluate_set(engine: SearchEngine, judged: JudgedSet, articles: list[Article] | None = None) -> SetReport:
    """Index the set's corpus under every mapping, score its queries on each, drop the indices."""
    articles = articles if articles is not None else judged.corpus()
    per_query, sources = {}, set()
    with evaluation_indices(engine, articles) as indices:
        for mapping, index in indices.items():
            per_query[mapping], source = score_index(engine, index, judged.queries)
            sources.add(source)
    return SetReport(judged.name, judged.title, len(articles), judged.queries, per_query, "+".join(sorted(sources)))


def check_set_names(names: list[str] | None, sets: dict[str, JudgedSet] | None = None) -> list[str]:
    """The named judged sets (every one when none is named); ValueError naming the known ones."""
    known = list(sets or judged_sets())
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        raise ValueError(f"unknown judged set {', '.join(unknown)}; known: {', '.join(known)}")
    return list(names or known)


def evaluate(engine: SearchEngine, names: list[str] | None = None) -> EvaluationReport:
    """Every judged set (or the named ones); a set whose corpus is absent is skipped with the reason."""
    sets = judged_sets()
    report = EvaluationReport(sets={})
    for name in check_set_names(names, sets):
        try:
            articles = sets[name].corpus()
        except FileNotFoundError as absent:
            report.skipped[name] = str(absent)
            continue
        report.sets[name] = evaluate_set(engine, sets[name], articles)
    return report
