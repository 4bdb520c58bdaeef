"""Thirty unattended nights (issue 10): the nightly DAGs over a local site, with bad nights.

A local copy of the Tasnim site on 127.0.0.1 (:mod:`crawler.mirror`) publishes new real-looking
Arabic articles every night, written at run time from ../shared/data/saudinewsnet (SaudiNewsNet
corpus by Mazen Abdulaziz, CC BY-NC-SA 4.0; used for measurement only, never stored) or, with
``--demo-articles``, from the bundled demo mirror's articles. A private OpenSearch node (its own
port and home, :mod:`pipelines.local_engine`) and a private data dir take the writes.

Each night runs the crawl DAG with ``dag.test(logical_date=night)`` and then, as the scheduler
would, the process DAG only when the crawl run published a raw-archive asset event, with that
event as its triggering event. Nothing is done between nights but injecting and lifting the
night's fault:

- ``engine_down``: the private engine is stopped for the night and started after it;
- ``site_5xx``: every request to the site answers 503 for the night;
- ``crawl_killed``: one of the night's articles answers only after minutes, and the crawl
  subprocess is SIGKILLed while it waits (the article answers normally from the next night);
- ``writes_refused``: ``index.blocks.write`` on the write index for the night;
- broken pages (empty, binary, a PDF served as HTML) are published on some nights: they, and
  only they, must end in the dead letters.

Task retries are off: a fault lasts the whole night, so retries would only make the night longer.
Failed tasks notify a local webhook (NEWSWIRE_ALERT_WEBHOOK). At the end the engine is read:
articles published, indexed, duplicated, lost, dead-lettered (with reasons), red runs and
notifications, manual steps; as a table and one JSON line.

    .venv/bin/python benchmarks/thirty_nights.py --nights 30 [--per-night 10] [--gzip] [--demo-articles]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from unittest import mock

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASET = REPO_ROOT.parent / "shared" / "data" / "saudinewsnet" / "articles.jsonl.gz"
DAGS_FOLDER = REPO_ROOT / "dags"
SOURCE = "tasnim"
FAULTS = ("engine_down", "site_5xx", "crawl_killed", "writes_refused")
BROKEN_KINDS = ("empty", "binary", "pdf_as_html")
ARTICLE_ID = re.compile(r"/ar/news/\d{4}/\d{2}/\d{2}/(\d+)")
SLOW_SECONDS = 300.0  # the killed night's slow article: longer than the kill takes, shorter than forever
KILL_AFTER_SECONDS = 2.0  # after the slow article is requested, so the rest of the night is archived


class NoArticles(RuntimeError):
    pass


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Night:
    number: int
    logical_date: datetime
    fault: str | None
    broken: str | None  # kind of broken page published this night

    @property
    def published_at(self) -> datetime:
        """When this night's articles appear: inside the day the night's crawl covers."""
        return self.logical_date - timedelta(hours=14)


def plan(nights: int, first: datetime) -> list[Night]:
    """Which fault each night gets. Up to 6 nights: one fault a night (in FAULTS order), the last
    night clean; longer runs: a fault every fourth night from the third (FAULTS in turn) and a
    broken page every 7th from the second.
    Every fault is followed by a clean night, so what a bad night left behind must be caught up."""
    dense = nights <= 6
    out = []
    for n in range(1, nights + 1):
        if dense:
            fault = FAULTS[n - 1] if n < nights and n <= len(FAULTS) else None
            broken = BROKEN_KINDS[(n - 1) // 2] if n % 2 == 1 and (n - 1) // 2 < len(BROKEN_KINDS) else None
        else:
            fault = FAULTS[(n // 4) % len(FAULTS)] if n % 4 == 3 and n < nights else None
            broken = BROKEN_KINDS[(n // 7) % len(BROKEN_KINDS)] if n % 7 == 2 else None
        out.append(Night(n, first + timedelta(days=n - 1), fault, broken))
    return out


# --------------------------------------------------------------------------- the site


def corpus_articles(count: int) -> list[dict]:
    """Title and paragraphs of the first `count` long enough SaudiNewsNet articles."""
    if not DATASET.exists():
        raise NoArticles(f"{DATASET} not found (only CI and developers have ../shared): "
                         "run with --demo-articles to use the bundled demo articles instead")
    out = []
    with gzip.open(DATASET, "rt", encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            paragraphs = [p.strip() for p in entry["content"].split("\n") if len(p.strip().split()) >= 5]
            if entry["title"].strip() and sum(len(p.split()) for p in paragraphs) >= 60:
                out.append({"title": entry["title"].strip(), "paragraphs": paragraphs})
                if len(out) == count:
                    return out
    raise NoArticles(f"{DATASET} has only {len(out)} usable articles, {count} needed")


def demo_articles(count: int) -> list[dict]:
    """Title and paragraphs of the bundled demo mirror's articles, reused in turn."""
    from crawler.demo_site import load_articles

    pool = load_articles()
    out = []
    for i in range(count):
        entry, round_ = pool[i % len(pool)], i // len(pool)
        title = entry["title"] if round_ == 0 else f"{entry['title']} ({round_ + 1})"
        out.append({"title": title, "paragraphs": list(entry["paragraphs"])})
    return out


BROKEN_BODIES = {
    "empty": (b"", "text/html; charset=utf-8"),
    "binary": (bytes(range(256)) * 16, "text/html; charset=utf-8"),
    "pdf_as_html": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"\x00\x87" * 512
                    + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n", "text/html; charset=utf-8"),
}


@dataclass
class Published:
    id: str
    night: int
    path: str
    entry: dict
    broken: str | None = None


class NightlySite:
    """The site's pages as of tonight: every article published so far, its RSS feed, robots.txt;
    tonight's fault decides how the server misbehaves."""

    def __init__(self, server, texts: Iterator[dict], per_night: int, compress: bool):
        from crawler.demo_site import load_layouts

        self.server = server
        self.layout = load_layouts()[SOURCE]
        self.texts = texts
        self.per_night = per_night
        self.compress = compress
        self.published: list[Published] = []
        self.slow_path: str | None = None

    def publish(self, night: Night) -> None:
        day = night.published_at
        for i in range(self.per_night + (1 if night.broken else 0)):
            article_id = str(3_000_000 + night.number * 100 + i)
            broken = night.broken if i == self.per_night else None
            text = {"title": f"صفحة معطوبة {article_id}", "paragraphs": []} if broken else next(self.texts)
            published = day + timedelta(minutes=7 * i)
            path = self.layout["article_path"].format(slug=f"{published:%Y/%m/%d}/{article_id}")
            entry = {**text, "path": path, "published": published.isoformat(),
                     "trailer": ["/ انتهى/", "المصدر : وكالة تسنيم للأنباء ."]}
            self.published.append(Published(article_id, night.number, path, entry, broken))
        tonight = [p for p in self.published if p.night == night.number and not p.broken]
        self.slow_path = tonight[len(tonight) // 2].path if night.fault == "crawl_killed" else None
        self.server.site = self._site(night.fault)

    def _page(self, body: bytes, content_type: str, **kwargs):
        from crawler.mirror import Page

        if self.compress:  # as real news sites answer (issue 10, case 0)
            return Page(gzip.compress(body), content_type, headers=(("Content-Encoding", "gzip"),), **kwargs)
        return Page(body, content_type, **kwargs)

    def _site(self, fault: str | None):
        from crawler import demo_site
        from crawler.mirror import Page, Site

        if fault == "site_5xx":
            down = Page(b"<html><body>503 Service Unavailable</body></html>", status=503)
            return type("DownSite", (Site,), {"lookup": lambda self, target: down})()
        site = Site()
        base_url = self.server.base_url
        for p in self.published:
            if p.broken:
                site.add(p.path, self._page(*BROKEN_BODIES[p.broken]))
            else:
                site.add(p.path, self._page(demo_site.render_article(p.entry, self.layout), demo_site.HTML,
                                            delay=SLOW_SECONDS if p.path == self.slow_path else 0.0))
        listed = sorted((p.entry for p in self.published), key=lambda e: e["published"], reverse=True)
        site.add(self.layout["discovery_path"],
                 self._page(demo_site.render_rss(listed, self.layout, base_url), demo_site.XML))
        site.add("/robots.txt", Page(self.layout["robots"].encode(), "text/plain; charset=utf-8"))
        return site


# --------------------------------------------------------------------------- notifications


class AlertInbox(BaseHTTPRequestHandler):
    """The webhook: keeps every JSON notice POSTed to it, with the path and content type."""

    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        AlertInbox.received.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                    "notice": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def alert_inbox() -> Iterator[str]:
    """Serve :class:`AlertInbox` on 127.0.0.1; yields the webhook URL."""
    AlertInbox.received = []
    with ThreadingHTTPServer(("127.0.0.1", 0), AlertInbox) as server:  # closed on exit
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/newswire-alerts"
        finally:
            server.shutdown()


# --------------------------------------------------------------------------- faults


def write_index(settings) -> str:
    from pipelines.index import SearchEngine

    return next(iter(SearchEngine.connect(settings).request("GET", f"/_alias/{settings.write_alias}")))


def block_writes(settings, blocked: bool) -> None:
    from pipelines.index import SearchEngine

    SearchEngine.connect(settings).request("PUT", f"/{write_index(settings)}/_settings",
                                           {"index.blocks.write": blocked})


class CrawlKiller(threading.Thread):
    """SIGKILLs the crawl subprocess once it is waiting for the slow article."""

    def __init__(self, server, slow_path: str):
        super().__init__(daemon=True)
        self.server, self.slow_path = server, slow_path
        self.killed: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        import psutil

        from crawler.mirror import path_key

        seen_before = len(self.server.requests)
        while not self.done.wait(0.2):
            if any(path_key(t) == path_key(self.slow_path) for t in self.server.requests[seen_before:]):
                time.sleep(KILL_AFTER_SECONDS)
                for proc in psutil.Process().children(recursive=True):
                    try:
                        command = proc.cmdline()
                    except psutil.Error:
                        continue
                    if "crawl" in command and "--source" in command:
                        proc.send_signal(signal.SIGKILL)
                        self.killed.append(proc.pid)
                return


# --------------------------------------------------------------------------- airflow


def _dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    crawl, process = bag.dags["newswire_crawl"], bag.dags["newswire_process"]
    # A fault lasts the whole night, through any retry: retrying only makes the night longer.
    crawl.get_task("crawl").partial_kwargs["retries"] = 0
    for dag in (crawl, process):
        for task in dag.tasks:
            task.retries = 0
    return crawl, process


def _asset_events(crawl_run_id: str) -> list[int]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(select(AssetEvent.id).where(AssetEvent.source_run_id == crawl_run_id)))


@contextmanager
def triggered_by(event_ids: list[int]):
    """dag.test() makes a manual run; the scheduler makes an asset-triggered one whose tasks see
    the events in `triggering_asset_events`. This attaches the crawl run's events to the run
    dag.test() creates, so the process task sees exactly what it sees when scheduled."""
    import airflow.models.dagrun as dagrun_module
    from airflow.models.asset import AssetEvent
    from sqlalchemy import select

    create = dagrun_module.get_or_create_dagrun

    def create_triggered(**kwargs):
        run = create(**kwargs)
        session = kwargs["session"]
        run.consumed_asset_events.extend(session.scalars(select(AssetEvent).where(AssetEvent.id.in_(event_ids))))
        session.commit()
        return run

    with mock.patch.object(dagrun_module, "get_or_create_dagrun", create_triggered):
        yield


# --------------------------------------------------------------------------- the run


@dataclass
class NightResult:
    night: int
    date: str
    fault: str | None
    broken: str | None
    crawl: str
    process: str  # a run state, or "not triggered" when the crawl published no asset event
    red_runs: list[str] = field(default_factory=list)
    killed_pids: list[int] = field(default_factory=list)
    seconds: float = 0.0


def run_nights(settings, nights: list[Night], site: NightlySite) -> list[NightResult]:
    from pipelines import local_engine

    crawl_dag, process_dag = _dags()
    results = []
    # The engine stopped for a night comes back while the next night's crawl runs (its start
    # takes a minute); anything that needs the engine waits for it first.
    with ThreadPoolExecutor(max_workers=1) as background:
        restarted: Future | None = None

        def engine_back() -> None:
            if restarted is not None:
                restarted.result()

        for night in nights:
            started = time.monotonic()
            site.publish(night)
            killer = CrawlKiller(site.server, site.slow_path) if site.slow_path else None
            if night.fault == "engine_down":
                engine_back()
                local_engine.stop(settings)
            elif night.fault == "writes_refused":
                engine_back()
                block_writes(settings, True)
            if killer:
                killer.start()
            try:
                crawl_run = crawl_dag.test(logical_date=night.logical_date)
                events = _asset_events(crawl_run.run_id)
                process_run = None
                if events:
                    if night.fault != "engine_down":
                        engine_back()
                    with triggered_by(events):
                        process_run = process_dag.test(logical_date=night.logical_date)
            finally:
                if killer:
                    killer.done.set()
                    killer.join()
                if night.fault == "engine_down":
                    restarted = background.submit(local_engine.start, settings)
                elif night.fault == "writes_refused":
                    block_writes(settings, False)
            runs = [r for r in (crawl_run, process_run) if r is not None]
            results.append(NightResult(
                night.number, night.logical_date.date().isoformat(), night.fault, night.broken,
                str(crawl_run.state), str(process_run.state) if process_run else "not triggered",
                [r.run_id for r in runs if str(r.state) == "failed"], killer.killed if killer else [],
                round(time.monotonic() - started, 1)))
            print(f"night {night.number}: {asdict(results[-1])}", file=sys.stderr, flush=True)
        engine_back()
    return results


def indexed_ids(settings) -> Counter:
    """How many documents of the read alias stand for each published article id."""
    from pipelines.index import SearchEngine

    engine = SearchEngine.connect(settings)
    engine.refresh()
    found: Counter = Counter()
    body = {"size": 10_000, "_source": ["url", "canonical_url"], "query": {"match_all": {}}}
    for hit in engine.request("POST", f"/{settings.read_alias}/_search", body)["hits"]["hits"]:
        source = hit["_source"]
        match = ARTICLE_ID.search(source.get("canonical_url") or "") or ARTICLE_ID.search(source.get("url") or "")
        found[match.group(1) if match else f"unknown:{hit['_id']}"] += 1
    return found


def dead_letters(settings) -> list[dict]:
    from pipelines.batch import dead_letters as by_file

    return [letter for letters in by_file(settings).values() for letter in letters]


def figures(settings, site: NightlySite, results: list[NightResult], notices: list[dict]) -> dict:
    good = {p.id for p in site.published if not p.broken}
    broken = {p.id for p in site.published if p.broken}
    in_index = indexed_ids(settings)
    dead = dead_letters(settings)
    dead_ids = Counter()
    for letter in dead:
        match = ARTICLE_ID.search(letter.get("url") or "")
        dead_ids[match.group(1) if match else "no article url"] += 1
    notified_runs = {n.get("run_id") for n in notices}
    red_runs = [run for r in results for run in r.red_runs]
    faulted = [r for r in results if r.fault]
    return {
        "nights": len(results),
        "published": len(good) + len(broken),
        "published_good": len(good),
        "published_broken": sorted(broken),
        "indexed": len(good & set(in_index)),
        "duplicated": sum(n - 1 for n in in_index.values() if n > 1),
        "lost": sorted(good - set(in_index)),
        "not_published_but_indexed": sorted(set(in_index) - good),
        "dead_lettered": sum(dead_ids.values()),
        "dead_lettered_ids": sorted(dead_ids),
        "dead_letter_reasons": dict(Counter(letter["reason"] for letter in dead)),
        "good_articles_dead_lettered": sorted(set(dead_ids) & good),
        "broken_not_dead_lettered": sorted(broken - set(dead_ids)),
        "red_runs": len(red_runs),
        "failed_nights": [r.night for r in results if r.red_runs],
        "faulted_nights": {r.night: r.fault for r in faulted},
        "faulted_nights_green": [r.night for r in faulted if not r.red_runs],
        "notifications": len(notices),
        "red_runs_not_notified": sorted(set(red_runs) - notified_runs),
        "manual_steps": 0,  # the loop above has none: only the faults are injected and lifted
        "per_night": [asdict(r) for r in results],
    }


def print_report(report: dict, seconds: float) -> None:
    rows = [
        ("nights", report["nights"]),
        ("articles published",
         f"{report['published']} ({report['published_good']} good, {len(report['published_broken'])} broken)"),
        ("indexed", report["indexed"]),
        ("duplicated (must be 0)", report["duplicated"]),
        ("lost (must be 0)", f"{len(report['lost'])} {report['lost'][:10]}{' ...' if len(report['lost']) > 10 else ''}"),
        ("dead-lettered", f"{report['dead_lettered']} {report['dead_letter_reasons']}"),
        ("broken pages not dead-lettered", report["broken_not_dead_lettered"]),
        ("good articles dead-lettered", report["good_articles_dead_lettered"]),
        ("failed nights (red runs)", f"{report['failed_nights']} ({report['red_runs']} runs)"),
        ("faulted nights left green", report["faulted_nights_green"]),
        ("notifications received", report["notifications"]),
        ("red runs not notified", report["red_runs_not_notified"]),
        ("manual steps", report["manual_steps"]),
        ("wall time", f"{seconds:.0f} s"),
    ]
    print("\nnight  date        fault           broken       crawl    process        seconds")
    for r in report["per_night"]:
        print(f"{r['night']:>5}  {r['date']}  {r['fault'] or '-':<15} {r['broken'] or '-':<12} "
              f"{r['crawl']:<8} {r['process']:<14} {r['seconds']:>7}")
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(json.dumps({k: v for k, v in report.items() if k != "per_night"} | {"wall_seconds": round(seconds)},
                     ensure_ascii=False))


@contextmanager
def private_stack(workdir: Path, engine_port: int, compress: bool, texts: Iterator[dict], per_night: int):
    """The site, the webhook, the private engine and the NEWSWIRE_* environment of one simulation;
    the engine is stopped (by its own pid) at the end."""
    from crawler.mirror import start_servers
    from kernel.settings import get_settings
    from pipelines import local_engine

    engine_home = workdir / "engine"
    engine_home.mkdir(parents=True, exist_ok=True)
    shared_jars = get_settings(engine_home=None).local_engine_home / "jars"
    if shared_jars.is_dir() and not (engine_home / "jars").exists():
        (engine_home / "jars").symlink_to(shared_jars)  # fetched once from Maven Central, reused
    with start_servers([SOURCE]) as mirrors, alert_inbox() as webhook:
        server = mirrors.servers[SOURCE]
        env = {
            "NEWSWIRE_DATA_DIR": str(workdir / "data"),
            "NEWSWIRE_INDEX_PREFIX": "nights",
            "NEWSWIRE_SEARCH_URL": f"http://127.0.0.1:{engine_port}",
            "NEWSWIRE_ENGINE_PORT": str(engine_port),
            "NEWSWIRE_ENGINE_HOME": str(engine_home),
            "NEWSWIRE_ENABLED_SOURCES": json.dumps([SOURCE]),
            "NEWSWIRE_BASE_URL_OVERRIDES": json.dumps({SOURCE: server.base_url}),
            "NEWSWIRE_ALERT_WEBHOOK": webhook,
        }
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        for name in ("NEWSWIRE_SEARCH_API_KEY", "NEWSWIRE_SEARCH_USER", "NEWSWIRE_SEARCH_PASSWORD",
                     "AIRFLOW_CONN_NEWSWIRE_SEARCH"):
            saved.setdefault(name, os.environ.pop(name, None))
        settings = get_settings()
        try:
            local_engine.start(settings)
            yield settings, NightlySite(server, texts, per_night, compress)
        finally:
            local_engine.stop(settings)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def simulate(workdir: Path, nights: int, per_night: int, *, demo: bool, compress: bool,
             engine_port: int) -> dict:
    """Run the nights; the caller has set up Airflow (AIRFLOW_HOME, migrated database)."""
    from pipelines.index import SearchEngine

    started = time.monotonic()
    schedule = plan(nights, datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
                    - timedelta(days=nights + 1))
    texts = (demo_articles if demo else corpus_articles)(nights * per_night)
    with private_stack(workdir, engine_port, compress, iter(texts), per_night) as (settings, site):
        # Installing the pipeline (`newswire index init`), before the first night, not between nights.
        SearchEngine.connect(settings).ensure_ready()
        results = run_nights(settings, schedule, site)
        report = figures(settings, site, results, [r["notice"] for r in AlertInbox.received])
    report["wall_seconds"] = round(time.monotonic() - started)
    return report


def _airflow_home(workdir: Path) -> None:
    """An Airflow of its own for the script (the tests bring theirs): set before Airflow loads."""
    home = workdir / "airflow"
    os.environ.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                       "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], check=True,
                   capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--per-night", type=int, default=10, help="good articles published each night")
    parser.add_argument("--gzip", action="store_true", help="the site compresses its answers (issue 10 case 0)")
    parser.add_argument("--demo-articles", action="store_true", help="bundled demo texts instead of SaudiNewsNet")
    parser.add_argument("--engine-port", type=int, default=9480)
    parser.add_argument("--workdir", type=Path, help="kept afterwards (default: a temporary dir, removed)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newswire-nights-"))
    try:
        _airflow_home(workdir)
        report = simulate(workdir, args.nights, args.per_night, demo=args.demo_articles,
                          compress=args.gzip, engine_port=args.engine_port)
    except NoArticles as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(report, report["wall_seconds"])
    ok = (report["duplicated"] == 0 and not report["lost"] and not report["broken_not_dead_lettered"]
          and not report["good_articles_dead_lettered"] and not report["faulted_nights_green"]
          and not report["red_runs_not_notified"])
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
