"""scrapy.cfg: Scrapy's own tools see the crawler, and `scrapy crawl registry -a source=ID` crawls
into the same archive, manifest and seen-state as `newswire crawl` (real subprocesses, demo mirror)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_crawl_workers import archived_paths, crawl, demo_paths, worker_env

from crawler.mirror import serve_demo_mirror

REPO = Path(__file__).resolve().parent.parent
SCRAPY = str(Path(sys.executable).with_name("scrapy"))


def scrapy(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([SCRAPY, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def test_scrapy_lists_the_registry_spider_and_reads_the_crawl_settings(tmp_path):
    with serve_demo_mirror() as mirror:
        env = worker_env(tmp_path, tmp_path / "archive", mirror) | {"NEWSWIRE_CRAWL_DELAY": "1.5"}
    assert scrapy(["list"], env).stdout.split() == ["registry"]
    assert scrapy(["settings", "--get", "DOWNLOAD_DELAY"], env).stdout.strip() == "1.5"  # from NEWSWIRE_*
    assert scrapy(["settings", "--get", "ROBOTSTXT_OBEY"], env).stdout.strip() == "True"


def test_scrapy_crawl_archives_like_newswire_crawl_and_shares_its_seen_state(tmp_path):
    with serve_demo_mirror() as mirror:
        env = worker_env(tmp_path, tmp_path / "archive", mirror)
        run = scrapy(["crawl", "registry", "-a", "source=tasnim", "-a", "since=2016-01-01"], env)
        assert run.returncode == 0, run.stderr[-3000:]
        [manifest_file] = (tmp_path / "archive" / "tasnim").rglob("*.manifest.json")
        manifest = json.loads(manifest_file.read_text("utf-8"))
        assert archived_paths(manifest, mirror) == demo_paths("tasnim")
        again = crawl(env, ["tasnim"])["tasnim"]  # the same machine's seen-state knows them all
        assert archived_paths(again, mirror) == set()


def test_scrapy_crawl_without_a_source_says_how_to_name_one(tmp_path):
    with serve_demo_mirror() as mirror:
        env = worker_env(tmp_path, tmp_path / "archive", mirror)
    run = scrapy(["crawl", "registry"], env)
    assert "name the source: scrapy crawl registry -a source=ID" in run.stderr
    assert not (tmp_path / "archive").exists()
