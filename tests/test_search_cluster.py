"""Issue 13 item 4: a three-node local Elasticsearch cluster loses a node to kill -9 in the middle of
nightly indexing, and nothing is lost.

Three real JVMs on loopback (NEWSWIRE_TEST_CLUSTER_PORT and the two ports after it, transport ports
100 above), the articles index with three shards and one replica. ``process_archive`` indexes a WARC
batch of the demo-mirror pages (each archived under several addresses) in small bulk requests; when
a third of the documents have gone to the bulk helper, the member holding the most primaries (never
the one the pipeline talks to) is killed with SIGKILL, while another thread searches the whole time.
Then the member is started again and rejoins. Select with ``-m cluster``; the module prints its
timings (``-s``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner
from warc_builder import FakePage, demo_site_pages, write_warc

from kernel.records import article_id
from kernel.settings import Settings, get_settings
from newswire.cli import app
from pipelines import local_engine
from pipelines.batch import process_archive
from pipelines.index import SearchEngine, index_template_body
from pipelines.search import search_request

CLUSTER_PORT = int(os.environ.get("NEWSWIRE_TEST_CLUSTER_PORT", "9440"))
NODES = 3
DEMO_PAGES = 34  # the demo mirror's article pages and its one static page
COPIES = 8  # each demo page archived under this many addresses
BULK_CHUNK = 10  # documents per bulk request, so the kill falls among many requests
SEED_QUERY = "روحاني"  # in the title of the demo's one static tasnim page (the seed article)
SEED_PATH = "/ar/news/2020/02/29/2216410/"
CRAWL_DAY, RUN_ID = date(2026, 11, 29), "20261129T020000Z-c1a5e2"


def _copy(page: FakePage, copy: int) -> FakePage:
    """The page under another address: its last number gets two more digits, in the URL and the page."""
    url = re.sub(r"(\d+)(/?)$", rf"\g<1>{copy:02d}\2", page.url)
    return FakePage(url, page.body.replace(page.url.encode(), url.encode()), page.content_type)


def archive_batch(archive_root: Path) -> dict[str, list[FakePage]]:
    """One night's WARC file per source, every demo page in COPIES copies; returns what was archived."""
    archived = {source_id: [_copy(page, copy) for copy in range(COPIES) for page in pages]
                for source_id, pages in demo_site_pages().items()}
    for source_id, pages in archived.items():
        write_warc(archive_root, source_id, CRAWL_DAY, RUN_ID, pages)
    return archived


def _primaries_by_node(engine: SearchEngine, index: str) -> dict[str, int]:
    shards = engine.request("GET", f"/_cat/shards/{index}", params={"format": "json", "h": "prirep,node,state"})
    counts: dict[str, int] = {}
    for shard in shards:
        if shard["prirep"] == "p" and shard["state"] == "STARTED":
            counts[shard["node"]] = counts.get(shard["node"], 0) + 1
    return counts


def _all_ids(engine: SearchEngine) -> list[str]:
    answer = engine.request("POST", f"/{engine.settings.read_alias}/_search",
                            {"size": 10_000, "_source": False, "query": {"match_all": {}}})
    return sorted(hit["_id"] for hit in answer["hits"]["hits"])


class Searcher(threading.Thread):
    """Searches the read alias over and over through its own connection; records every answer."""

    def __init__(self, settings: Settings):
        super().__init__(daemon=True)
        self.engine = SearchEngine.connect(settings)
        self.answers: list[dict] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        body = search_request(SEED_QUERY, size=50, flavour=self.engine.flavour)
        while not self.stopping.is_set():
            at = time.monotonic()
            try:
                answer = self.engine.request("POST", f"/{self.engine.settings.read_alias}/_search", body)
                self.answers.append({"at": at, "error": None, "shards_failed": answer["_shards"]["failed"],
                                     "hits": len(answer["hits"]["hits"])})
            except Exception as error:  # noqa: BLE001 - any failure to answer is what the test looks for
                self.answers.append({"at": at, "error": str(error), "shards_failed": None, "hits": 0})
            time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster_settings(tmp_path_factory) -> Iterator[Settings]:
    settings = get_settings(
        engine_flavour="elasticsearch", engine_port=CLUSTER_PORT, engine_heap="384m",
        search_url=f"http://127.0.0.1:{CLUSTER_PORT}", index_prefix=f"cluster-{uuid.uuid4().hex[:8]}",
        index_shards=3, index_replicas=1, bulk_chunk_size=BULK_CHUNK,
        data_dir=tmp_path_factory.mktemp("cluster-data"))
    local_engine.stop_cluster(settings)
    yield settings
    local_engine.stop_cluster(settings)


@pytest.fixture(scope="module")
def outage(cluster_settings) -> dict:
    """The night: cluster up, batch archived, a member killed during indexing, searched meanwhile, restarted."""
    settings = cluster_settings
    figures: dict = {}
    started = time.monotonic()
    local_engine.start_cluster(settings, NODES, fresh=True)
    figures["start_seconds"] = time.monotonic() - started
    members = {f"node-{member.engine_port}": member for member in local_engine.cluster_members(settings)}
    figures["rss_mb"] = {name: _rss_mb(local_engine.status(member).pid) for name, member in members.items()}

    archived = archive_batch(Path(settings.archive))
    figures["archived_ids"] = sorted(article_id(page.url) for pages in archived.values() for page in pages)
    figures["seed_copy_ids"] = sorted(article_id(page.url) for page in archived["tasnim"] if "/2020/02/29/" in page.url)
    engine = SearchEngine.connect(settings)
    index = engine.ensure_ready()
    figures["index_settings"] = engine.request("GET", f"/{index}/_settings")[index]["settings"]["index"]

    searcher = Searcher(settings)
    searcher.start()
    killed: dict = {}
    sent = 0

    def kill_when_a_third_is_sent(stage: str, amount: int) -> None:
        nonlocal sent
        if stage != "indexed" or killed:
            return
        sent += amount
        if sent < len(figures["archived_ids"]) // 3:
            return
        primaries = _primaries_by_node(engine, index)
        first = f"node-{settings.engine_port}"  # the member the pipeline and the searcher talk to
        victim = max((name for name in members if name != first), key=lambda name: primaries.get(name, 0))
        pid = local_engine.status(members[victim]).pid
        os.kill(pid, signal.SIGKILL)
        killed.update(node=victim, pid=pid, member=members[victim], at=time.monotonic(),
                      sent_before_kill=sent, primaries=primaries.get(victim, 0))

    indexing_started = time.monotonic()
    figures["summary"] = process_archive(settings, progress=kill_when_a_third_is_sent)
    figures["indexing_seconds"] = time.monotonic() - indexing_started
    figures["killed"] = killed
    member = killed["member"]
    figures["pid_gone"] = not local_engine.status(member).running

    # The node is still down: the cluster answers from the copies on the other two.
    down = local_engine.cluster_status(settings)
    figures["health_while_down"] = down.health
    figures["ids_while_down"] = _all_ids(engine)
    # A pipeline whose search URL names the dead node first passes it over.
    nodes = [f"http://127.0.0.1:{port}" for port in (member.engine_port, *(
        m.engine_port for m in members.values() if m is not member))]
    figures["ids_through_dead_node_first"] = _all_ids(SearchEngine.connect(
        settings.model_copy(update={"search_url": ",".join(nodes)})))
    figures["seed_hits_while_down"] = sorted(
        hit["_id"] for hit in engine.request("POST", f"/{settings.read_alias}/_search",
                                             search_request(SEED_QUERY, size=50, flavour=engine.flavour))["hits"]["hits"])

    restarted = time.monotonic()
    local_engine.start_cluster(settings, NODES)
    rejoined = time.monotonic()
    figures["rejoin_seconds"] = rejoined - restarted
    figures["green"] = engine.request("GET", "/_cluster/health", params={
        "wait_for_status": "green", "wait_for_nodes": str(NODES), "wait_for_no_relocating_shards": "true",
        "timeout": "180s"})
    figures["green_seconds"] = time.monotonic() - restarted
    figures["outage_seconds"] = rejoined - killed["at"]
    # Green may come before the member holds shards again: after a minute away its replicas were
    # rebuilt on the other two, and the rebalance onto it follows.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        figures["shards_after"] = engine.request("GET", f"/_cat/shards/{index}",
                                                 params={"format": "json", "h": "shard,prirep,node,state"})
        if any(shard["node"] == killed["node"] and shard["state"] == "STARTED" for shard in figures["shards_after"]):
            break
        time.sleep(1)
    searcher.stopping.set()
    searcher.join(timeout=30)
    figures["searches_during_outage"] = [a for a in searcher.answers if killed["at"] <= a["at"] < rejoined]
    figures["searches"] = searcher.answers
    figures["rejoined_pid"] = local_engine.status(member).pid
    figures["ids_after"] = _all_ids(engine)
    figures["rss_mb_after"] = {name: _rss_mb(local_engine.status(member).pid) for name, member in members.items()}
    print(f"\ncluster of {NODES}: started in {figures['start_seconds']:.1f} s, RSS per node (MB) "
          f"{figures['rss_mb']}; {len(figures['archived_ids'])} documents indexed in "
          f"{figures['indexing_seconds']:.1f} s with {killed['node']} (pid {killed['pid']}, "
          f"{killed['primaries']} primaries) killed after {killed['sent_before_kill']} sent; "
          f"{len(figures['searches_during_outage'])} searches during the {figures['outage_seconds']:.0f} s outage; "
          f"restarted member rejoined in "
          f"{figures['rejoin_seconds']:.1f} s, cluster green {figures['green_seconds']:.1f} s after the restart; "
          f"RSS per node (MB) then {figures['rss_mb_after']}")
    return figures


def _rss_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) // 1024


@pytest.mark.cluster
def test_the_index_has_the_configured_shards_and_replicas(outage):
    assert (outage["index_settings"]["number_of_shards"], outage["index_settings"]["number_of_replicas"]) == ("3", "1")


@pytest.mark.cluster
def test_a_node_holding_primaries_was_killed_during_indexing(outage):
    killed = outage["killed"]
    assert killed["node"] in {f"node-{CLUSTER_PORT + 1}", f"node-{CLUSTER_PORT + 2}"}
    assert killed["primaries"] >= 1
    assert 0 < killed["sent_before_kill"] < len(outage["archived_ids"])
    assert outage["pid_gone"]
    assert outage["health_while_down"]["number_of_nodes"] == NODES - 1


@pytest.mark.cluster
def test_no_document_is_lost(outage):
    summary = outage["summary"]
    assert len(outage["archived_ids"]) == len(set(outage["archived_ids"])) == DEMO_PAGES * COPIES
    assert (summary["indexed"], summary["index_failed"], summary["index_rejected"]) == (DEMO_PAGES * COPIES, 0, 0)
    assert summary["pending_warc_files"] == []
    assert outage["ids_while_down"] == outage["archived_ids"]
    assert outage["ids_through_dead_node_first"] == outage["archived_ids"]
    assert outage["ids_after"] == outage["archived_ids"]


@pytest.mark.cluster
def test_searches_keep_answering_while_a_node_is_down(outage):
    during = outage["searches_during_outage"]
    assert len(during) >= 10
    assert [a["error"] for a in during if a["error"]] == []
    assert [a["shards_failed"] for a in during if a["shards_failed"]] == []
    assert outage["health_while_down"]["status"] in ("yellow", "green")
    assert outage["seed_hits_while_down"] == outage["seed_copy_ids"]
    assert len(outage["seed_copy_ids"]) == COPIES
    assert max(a["hits"] for a in during) >= COPIES


@pytest.mark.cluster
def test_the_killed_node_rejoins_and_the_cluster_goes_green(outage):
    green = outage["green"]
    assert (green["status"], green["number_of_nodes"], green["timed_out"]) == ("green", NODES, False)
    assert outage["rejoined_pid"] not in (None, outage["killed"]["pid"])
    nodes_with_shards = {shard["node"] for shard in outage["shards_after"] if shard["state"] == "STARTED"}
    assert outage["killed"]["node"] in nodes_with_shards
    assert len(outage["shards_after"]) == 3 * 2


def test_index_template_takes_the_configured_shards_and_replicas():
    default = index_template_body(get_settings())["template"]["settings"]
    assert (default["number_of_shards"], default["number_of_replicas"]) == (1, 0)
    configured = index_template_body(get_settings(index_shards=3, index_replicas=1))["template"]["settings"]
    assert (configured["number_of_shards"], configured["number_of_replicas"]) == (3, 1)
    assert configured["analysis"] == default["analysis"]


@pytest.mark.cluster
def test_engine_status_shows_every_member_and_the_cluster_health(outage, cluster_settings, monkeypatch):
    monkeypatch.setenv("NEWSWIRE_ENGINE_PORT", str(CLUSTER_PORT))
    monkeypatch.setenv("NEWSWIRE_ENGINE_FLAVOUR", "elasticsearch")
    monkeypatch.setenv("NEWSWIRE_ENGINE_HOME", str(cluster_settings.local_engine_home))
    result = CliRunner().invoke(app, ["engine", "status", "--json"])
    assert result.exit_code == 0, result.output
    reported = json.loads(result.output)
    assert [node["url"] for node in reported["nodes"]] == [f"http://127.0.0.1:{CLUSTER_PORT + n}" for n in range(NODES)]
    assert [node["pid"] for node in reported["nodes"]] == [
        local_engine.status(member).pid for member in local_engine.cluster_members(cluster_settings)]
    assert (reported["health"]["status"], reported["health"]["number_of_nodes"]) == ("green", NODES)
    text = CliRunner().invoke(app, ["engine", "status"]).output
    assert f"green, {NODES} of {NODES} nodes" in text and text.count("Elasticsearch 9.5.3") == NODES


def test_a_cluster_of_the_opensearch_flavour_is_refused_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSWIRE_ENGINE_FLAVOUR", "opensearch")
    monkeypatch.setenv("NEWSWIRE_ENGINE_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["engine", "start", "--nodes", "3"])
    assert result.exit_code == 1
    assert result.output == "a local cluster runs the elasticsearch flavour, not opensearch\n"
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing recorded


@pytest.mark.engine
def test_a_node_that_is_down_first_in_the_search_url_is_passed_over(engine_settings):
    from airflow_harness import free_port

    settings = engine_settings.model_copy(update={
        "search_url": f"http://127.0.0.1:{free_port()},{engine_settings.search_url}"})
    engine = SearchEngine.connect(settings)  # detection asks the nodes in turn
    assert (engine.flavour, engine.version) == (engine_settings.engine_flavour,
                                                SearchEngine.connect(engine_settings).version)
    # The client spreads requests over both nodes and retries those to the dead one on the other.
    answers = [engine.request("GET", "/_cluster/health")["status"] for _ in range(6)]
    assert len(answers) == 6 and set(answers) <= {"green", "yellow"}
