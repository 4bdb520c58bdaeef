"""Adding an agency is one entry in the agency table plus a captured page: nothing else.

A temporary copy of the bundled table gains one crawled agency; its fixture site (feed + article,
tests/fixtures/new_agency/) is served on 127.0.0.1, crawled by the real spider in a subprocess and
processed, and the record comes out with the new agency as its source and as its credit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from crawler.mirror import serve_directories
from kernel.agencies import BUNDLED_AGENCIES, load_agencies
from kernel.registry import load_registry
from kernel.settings import get_settings
from pipelines.attribution import load_gazetteer
from pipelines.batch import process_archive

FIXTURE_SITE = Path(__file__).resolve().parent / "fixtures" / "new_agency"
NEWSWIRE = str(Path(sys.executable).with_name("newswire"))

NEW_AGENCY = {
    "id": "oasis",
    "name_ar": "وكالة الواحة للأنباء",
    "name_en": "Oasis News Agency",
    "names": ["وكالة الواحة للأنباء"],
    "short": ["واحة"],
    "crawl": {
        "base_url": "https://www.oasis-news.example",
        "language": "ar",
        "timezone": "Asia/Riyadh",
        "discovery": [{"type": "rss", "url": "/rss.xml"}],
        "article_pattern": r"^/news/(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/\d+$",
    },
}


def table_with_new_agency(tmp_path: Path, **fields) -> Path:
    table = yaml.safe_load(BUNDLED_AGENCIES.read_text(encoding="utf-8"))
    table["agencies"].append(NEW_AGENCY | fields)
    path = tmp_path / "agencies.yaml"
    path.write_text(yaml.safe_dump(table, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_new_agency_is_one_table_entry_crawled_and_credited_end_to_end(tmp_path):
    table = table_with_new_agency(tmp_path)
    data = tmp_path / "data"
    env = {**os.environ, "NEWSWIRE_DATA_DIR": str(data), "NEWSWIRE_AGENCIES_FILE": str(table),
           "NEWSWIRE_CRAWL_DELAY": "0", "NEWSWIRE_ENABLED_SOURCES": "[]", "NEWSWIRE_BASE_URL_OVERRIDES": "{}"}
    with serve_directories({"oasis": FIXTURE_SITE}) as mirror:
        done = subprocess.run(
            [NEWSWIRE, "crawl", "--source", "oasis", "--base-url-override", f"oasis={mirror.base_urls['oasis']}",
             "--since", "2026-11-26", "--until", "2026-11-28", "--json"],
            env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    [manifest] = json.loads(done.stdout)
    assert manifest["source_id"] == "oasis" and manifest["counts"]["archived"] == 1

    settings = get_settings(data_dir=data, agencies_file=table)
    summary = process_archive(settings, index=False)
    assert (summary["records"], summary["dead_letter"]) == (1, 0)
    [records_file] = summary["outputs"]
    [record] = [json.loads(line) for line in Path(records_file).read_text(encoding="utf-8").splitlines()]
    assert record["source_id"] == "oasis"
    assert record["canonical_url"] == "https://www.oasis-news.example/news/2026/11/27/5001"
    assert record["attribution"]["agency_id"] == "oasis" and record["attribution"]["rule"] == "trailer"
    assert record["title"] == "افتتاح مكتبة عامة جديدة في وسط المدينة"


def test_every_crawled_or_credited_id_is_in_the_agency_table():
    table = {agency.id for agency in load_agencies()}
    crawled = {source.id for source in load_registry(get_settings(agencies_file=None))}
    assert crawled and crawled <= table
    assert set(load_gazetteer().agencies) == table
    labels = Path(__file__).resolve().parents[1] / "pipelines" / "data" / "labels"
    credited = {agency for path in labels.glob("attribution_*.jsonl")
                for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
                for agency in json.loads(line)["credited"]}
    assert credited and credited - table == set()


def test_the_index_template_searches_the_new_agency_by_its_short_name(tmp_path):
    from pipelines.index import index_template_body

    table = table_with_new_agency(tmp_path, search_synonyms=True)
    analysis = index_template_body(get_settings(agencies_file=table))["template"]["settings"]["analysis"]
    assert "واحة, وكالة الواحة للأنباء" in analysis["filter"]["agency_synonyms"]["synonyms"]
    bundled = index_template_body(get_settings())["template"]["settings"]["analysis"]
    assert not [rule for rule in bundled["filter"]["agency_synonyms"]["synonyms"] if "واحة" in rule]
