"""Relevance evaluation of Arabic search: judged queries over the demo corpus, two mappings, one run.

The demo corpus is built straight from the article YAML files of the demo mirror
(infra/demo-mirror/articles/*.yaml; document id = slug) plus the seed article, so the evaluation
does not depend on crawling. The corpus is indexed twice into temporary indices: once with the
project's mapping and once with a baseline whose text fields use the ``standard`` analyzer. The
same query (pipelines.search.build_query) is scored on both by the engine's own ranking
evaluation API (``_rank_eval``): recall@k, MRR and nDCG@k.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

import yaml

from kernel.records import Article, Attribution
from pipelines.attribution import agency_names
from pipelines.index import SearchEngine, SearchEngineError, articles_index_body
from pipelines.search import build_query

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_ARTICLES_DIR = REPO_ROOT / "infra" / "demo-mirror" / "articles"
SEED_TEXT = REPO_ROOT / "tests" / "fixtures" / "seed_tasnim.txt"
QUERIES_FILE = Path(__file__).resolve().parents[1] / "data" / "search_eval" / "queries.yaml"
SEED_ID = "tasnim-seed"
SEED_PUBLISHED = datetime.fromisoformat("2020-02-29T14:35:00+03:30")  # as on the seed page fixture
SEED_TRAILER_LINES = 2  # "/ انتهى/" and "المصدر : ..." close the seed text
K = 10

METRICS = {
    "recall": {"recall": {"k": K, "relevant_rating_threshold": 1}},
    "mrr": {"mean_reciprocal_rank": {"k": K, "relevant_rating_threshold": 1}},
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


# --- the judged queries ----------------------------------------------------------------


@dataclass(frozen=True)
class JudgedQuery:
    id: str
    query: str
    category: str
    relevant: dict[str, int]
    variant: str | None = None


def load_queries(path: Path = QUERIES_FILE) -> list[JudgedQuery]:
    return [JudgedQuery(id=entry["id"], query=entry["query"], category=entry["category"],
                        relevant={str(doc): int(grade) for doc, grade in entry["relevant"].items()},
                        variant=entry.get("variant"))
            for entry in yaml.safe_load(path.read_text(encoding="utf-8"))]


# --- mappings ----------------------------------------------------------------------------


def _with_standard_analyzer(node: Any) -> Any:
    if isinstance(node, dict):
        node = {key: _with_standard_analyzer(value) for key, value in node.items() if key != "search_analyzer"}
        if node.get("type") == "text":
            node["analyzer"] = "standard"
        return node
    if isinstance(node, list):
        return [_with_standard_analyzer(item) for item in node]
    return node


def baseline_index_body() -> dict[str, Any]:
    """The project's fields and settings, but every text field on the ``standard`` analyzer."""
    body = articles_index_body()
    del body["settings"]["analysis"]
    body["mappings"] = _with_standard_analyzer(body["mappings"])
    return body


MAPPINGS = {"project": articles_index_body, "baseline": baseline_index_body}


# --- running it --------------------------------------------------------------------------


@dataclass
class MappingScores:
    mapping: str
    recall: float
    mrr: float
    ndcg: float
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # query id -> metric -> score


@dataclass
class EvaluationReport:
    queries: list[JudgedQuery]
    documents: int
    scores: dict[str, MappingScores]

    def by_category(self, mapping: str) -> dict[str, dict[str, float]]:
        categories = sorted({q.category for q in self.queries})
        per_query = self.scores[mapping].per_query
        return {category: {metric: round(mean(per_query[q.id][metric] for q in self.queries
                                              if q.category == category), 4)
                           for metric in METRICS}
                for category in categories}

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": K,
            "documents": self.documents,
            "queries": len(self.queries),
            "mappings": {name: {"recall@10": round(s.recall, 4), "mrr": round(s.mrr, 4),
                                "ndcg@10": round(s.ndcg, 4), "by_category": self.by_category(name)}
                         for name, s in self.scores.items()},
            "per_query": [{"id": q.id, "query": q.query, "category": q.category, "variant": q.variant,
                           **{name: s.per_query[q.id] for name, s in self.scores.items()}}
                          for q in self.queries],
        }


def rank_eval_request(queries: list[JudgedQuery], index: str, metric: dict) -> dict:
    return {
        "requests": [{"id": q.id, "request": {"query": build_query(q.query)},
                      "ratings": [{"_index": index, "_id": doc, "rating": grade} for doc, grade in q.relevant.items()]}
                     for q in queries],
        "metric": metric,
    }


def score_index(engine: SearchEngine, index: str, mapping: str, queries: list[JudgedQuery]) -> MappingScores:
    totals: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {q.id: {} for q in queries}
    for name, metric in METRICS.items():
        answer = engine.request("POST", f"/{index}/_rank_eval", rank_eval_request(queries, index, metric))
        if answer.get("failures"):
            raise SearchEngineError(f"rank evaluation failed for {sorted(answer['failures'])}")
        totals[name] = answer["metric_score"]
        for query_id, detail in answer["details"].items():
            per_query[query_id][name] = round(detail["metric_score"], 4)
    return MappingScores(mapping, totals["recall"], totals["mrr"], totals["ndcg"], per_query)


def evaluate(engine: SearchEngine, queries: list[JudgedQuery] | None = None,
             articles: list[Article] | None = None) -> EvaluationReport:
    """Index the corpus under each mapping in a temporary index, score, and drop the indices."""
    queries = queries if queries is not None else load_queries()
    articles = articles if articles is not None else demo_corpus()
    run = uuid.uuid4().hex[:8]
    scores = {}
    for mapping, body in MAPPINGS.items():
        index = f"{engine.settings.index_prefix}-eval-{mapping}-{run}"
        engine.create_index(index, body())
        try:
            result = engine.bulk_upsert(articles, index=index)
            if result.failed:
                raise SearchEngineError(f"{result.failed} demo documents failed to index: {result.errors[:3]}")
            engine.refresh(index)
            scores[mapping] = score_index(engine, index, mapping, queries)
        finally:
            engine.delete_index(index)
    return EvaluationReport(queries=queries, documents=len(articles), scores=scores)
