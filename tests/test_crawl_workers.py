"""Two crawling machines (issue 13 item 2): each has its own state dir, both write one shared
archive. The real `newswire crawl` in subprocesses against the bundled demo mirror; a worker that
starts with an empty state dir, or crawls after another worker archived, fetches nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler import state as crawl_state
from crawler.demo_site import load_articles as load_demo_articles
from crawler.mirror import serve_demo_mirror
from crawler.state import archived_entries, open_state, seen_entries_in_warc
from kernel.archive import list_warc_files
from kernel.settings import get_settings

REPO = Path(__file__).resolve().parent.parent
NEWSWIRE = str(Path(sys.executable).with_name("newswire"))
SEED_PATH = "/ar/news/2020/02/29/2216410/"  # the tasnim seed page the demo feed lists too


@pytest.fixture(scope="module")
def mirror():
    with serve_demo_mirror() as demo:
        yield demo


def worker_env(state_home: Path, archive: Path, mirror) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        "NEWSWIRE_DATA_DIR": str(state_home),  # the worker's own state dir (state_home/state)
        "NEWSWIRE_ARCHIVE_ROOT": str(archive),  # shared by both workers
        "NEWSWIRE_CRAWL_DELAY": "0",
        "NEWSWIRE_ENABLED_SOURCES": "[]",
        "NEWSWIRE_BASE_URL_OVERRIDES": json.dumps(mirror.base_urls),
    }


def start_crawl(env: dict[str, str], sources: list[str]) -> subprocess.Popen:
    args = [NEWSWIRE, "crawl", "--json"] + [a for s in sources for a in ("--source", s)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(crawl: subprocess.Popen) -> dict[str, dict]:
    stdout, stderr = crawl.communicate(timeout=180)
    assert crawl.returncode == 0, stderr[-3000:]
    return {m["source_id"]: m for m in json.loads(stdout)}


def crawl(env: dict[str, str], sources: list[str]) -> dict[str, dict]:
    return finish(start_crawl(env, sources))


def demo_paths(source: str) -> set[str]:
    paths = {a["path"] for a in load_demo_articles() if a["source"] == source}
    return paths | ({SEED_PATH} if source == "tasnim" else set())


def archived_paths(manifest: dict, mirror) -> set[str]:
    return {a["url"].removeprefix(mirror.base_urls[manifest["source_id"]]) for a in manifest["archived"]}


def state_of(state_home: Path, archive: Path):
    return open_state(get_settings(data_dir=state_home, archive_root=str(archive)))


def test_a_worker_with_an_empty_state_dir_archives_nothing_another_worker_archived(mirror, tmp_path):
    archive = tmp_path / "archive"
    first = crawl(worker_env(tmp_path / "a", archive, mirror), ["tasnim"])["tasnim"]
    assert archived_paths(first, mirror) == demo_paths("tasnim")
    assert not (tmp_path / "b").exists()

    second = crawl(worker_env(tmp_path / "b", archive, mirror), ["tasnim"])["tasnim"]

    assert (second["counts"]["archived"], second["warc_file"], second["new_seen_keys"]) == (0, None, 0)
    assert second["counts"]["fetched"] == 0  # learnt from the archive before the first request
    skipped = {s["url"].removeprefix(mirror.base_urls["tasnim"]) for s in second["skipped"]
               if s["reason"] == "already_archived"}
    assert skipped == demo_paths("tasnim")
    keys_a, keys_b = state_of(tmp_path / "a", archive), state_of(tmp_path / "b", archive)
    assert keys_b.keys("tasnim") == keys_a.keys("tasnim")
    assert len(keys_b.keys("tasnim")) == first["new_seen_keys"] == len(demo_paths("tasnim"))
    [warc] = list_warc_files(str(archive))
    assert warc.url == first["warc_file"]
    assert keys_a.loaded() == keys_b.loaded() == {warc.archive_path}


def test_workers_crawling_different_sources_at_once_learn_each_others_files(mirror, tmp_path):
    archive = tmp_path / "archive"
    env_a, env_b = worker_env(tmp_path / "a", archive, mirror), worker_env(tmp_path / "b", archive, mirror)
    spa_run, sana_run = start_crawl(env_a, ["spa"]), start_crawl(env_b, ["sana"])
    spa, sana = finish(spa_run)["spa"], finish(sana_run)["sana"]
    assert archived_paths(spa, mirror) == demo_paths("spa")
    assert archived_paths(sana, mirror) == demo_paths("sana")

    # each then crawls the source the other archived, and the source it archived itself
    again_a, again_b = crawl(env_a, ["sana", "spa"]), crawl(env_b, ["spa", "sana"])
    for manifests in (again_a, again_b):
        assert {s: m["counts"]["archived"] for s, m in manifests.items()} == {"spa": 0, "sana": 0}
        assert {s: m["counts"]["fetched"] for s, m in manifests.items()} == {"spa": 0, "sana": 0}
        assert manifests["sana"]["skipped_by_reason"]["already_archived"] == len(demo_paths("sana"))
    assert sorted(w.source_id for w in list_warc_files(str(archive))) == ["sana", "spa"]
    keys_a, keys_b = state_of(tmp_path / "a", archive), state_of(tmp_path / "b", archive)
    for source in ("spa", "sana"):
        assert keys_a.keys(source) == keys_b.keys(source) and len(keys_a.keys(source)) >= len(demo_paths(source))
    assert keys_a.loaded() == keys_b.loaded() == {w.archive_path for w in list_warc_files(str(archive))}


def test_the_keys_of_a_published_file_come_from_its_manifest_or_else_the_file(mirror, tmp_path, monkeypatch):
    archive = tmp_path / "archive"
    [manifest] = crawl(worker_env(tmp_path / "a", archive, mirror), ["sana"]).values()
    [warc] = list_warc_files(str(archive))
    from_warc = sorted(seen_entries_in_warc(warc), key=lambda e: e.url_key)
    assert {e.url_key for e in from_warc} == {f"https://sana.sy{p}" for p in demo_paths("sana")}

    def unread(warc):  # the manifest is enough: the WARC file is not read
        raise AssertionError(f"read {warc.url}")

    with monkeypatch.context() as patched:
        patched.setattr(crawl_state, "seen_entries_in_warc", unread)
        assert sorted(archived_entries(warc), key=lambda e: e.url_key) == from_warc

    Path(manifest["manifest_file"]).unlink()  # killed between publishing the file and its manifest
    assert sorted(archived_entries(warc), key=lambda e: e.url_key) == from_warc
    again = crawl(worker_env(tmp_path / "b", archive, mirror), ["sana"])["sana"]
    assert (again["counts"]["archived"], again["counts"]["fetched"]) == (0, 0)
