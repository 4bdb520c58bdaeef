"""The archive and processed roots on object storage: a real S3 server, ``s3://`` roots.

The server is SeaweedFS (tests/object_store.py, built by infra/objectstore/install.sh); the code
under test is given nothing but the roots as ``s3://`` URLs and the standard AWS environment,
and reaches the bucket through s3fs (the ``s3`` extra). Each test has its own prefix in the bucket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import date

import pytest

s3fs = pytest.importorskip("s3fs", reason="the s3 extra is not installed (pip install -e '.[s3]', "
                                          "part of infra/setup.sh --test)")

from object_store import READ_ONLY_KEY, ObjectStoreMissing, serve_seaweedfs, weed_binary
from search_support import isolated_engine
from test_cli_errors import newswire as run_newswire
from test_cli_errors import one_error_line
from test_faults_crawl import crawl_args, crawl_env, expected_id, news_site, wait_for
from test_faults_process import stored_ids

from crawler.demo_site import load_articles as load_demo_articles
from crawler.mirror import MirrorServer, serve_demo_mirror
from kernel.archive import list_warc_files, parse_warc_path
from kernel.settings import get_settings
from pipelines import batch

BUCKET = "newswire-test"
only_elasticsearch = pytest.mark.parametrize("engine_flavour", ["elasticsearch"], indirect=True)


@pytest.fixture(scope="module")
def object_store(tmp_path_factory):
    try:
        weed_binary()
    except ObjectStoreMissing as missing:
        pytest.skip(str(missing))
    with serve_seaweedfs(tmp_path_factory.mktemp("seaweedfs"), (BUCKET,)) as store:
        yield store


@pytest.fixture()
def roots(object_store, monkeypatch, tmp_path) -> dict[str, str]:
    """This test's environment: the server's credentials and endpoint, the roots on its prefix."""
    prefix = f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}"
    env = object_store.environment | {"NEWSWIRE_DATA_DIR": str(tmp_path / "data"),
                                      "NEWSWIRE_ARCHIVE_ROOT": f"{prefix}/archive",
                                      "NEWSWIRE_PROCESSED_ROOT": f"{prefix}/processed"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # none made before this server's environment
    yield env
    s3fs.S3FileSystem.clear_instance_cache()


def bucket() -> s3fs.S3FileSystem:
    """A client of its own, as another process would have."""
    return s3fs.S3FileSystem(skip_instance_cache=True)


def keys(root: str) -> set[str]:
    """Every object under `root`, relative to it."""
    base = root.removeprefix("s3://")
    return {path.removeprefix(base + "/") for path in bucket().find(base)}


def newswire(*args: str, env: dict[str, str]) -> dict | list:
    done = subprocess.run([sys.executable, "-m", "newswire.cli", *args, "--json"], env=os.environ | env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def jsonl_ids(url: str) -> set[str]:
    return {json.loads(line)["id"] for line in bucket().cat_file(url).decode("utf-8").splitlines()}


@pytest.mark.engine
@only_elasticsearch
def test_demo_crawl_processing_and_reprocessing_on_s3_index_every_article_and_markers_are_read_back(roots, engine_settings):
    with isolated_engine(engine_settings, "s3") as engine, serve_demo_mirror() as mirror:
        env = roots | {"NEWSWIRE_INDEX_PREFIX": engine.settings.index_prefix, "NEWSWIRE_ENABLED_SOURCES": "[]",
                       "NEWSWIRE_BASE_URL_OVERRIDES": json.dumps(mirror.base_urls)}
        manifests = newswire("crawl", *[a for s in mirror.base_urls for a in ("--source", s)], env=env)
        assert sorted(m["source_id"] for m in manifests) == ["sana", "spa", "tasnim"]
        archived = sum(m["counts"]["archived"] for m in manifests)
        assert archived == len(load_demo_articles()) + 1  # every demo article and the seed

        # The archive holds each run's published WARC object and its manifest, and nothing open.
        archive = roots["NEWSWIRE_ARCHIVE_ROOT"]
        warcs = {m["source_id"]: parse_warc_path(m["warc_file"]) for m in manifests}
        assert all(w is not None and w.url.startswith(archive + "/") for w in warcs.values())
        assert keys(archive) == {url.removeprefix(archive + "/") for w in warcs.values()
                                 for url in (w.url, w.manifest_url)}

        first = newswire("process", env=env)
        assert (first["warc_files"], first["records"], first["dead_letter"]) == (3, archived, 0)
        settings, processed = get_settings(), roots["NEWSWIRE_PROCESSED_ROOT"]
        outputs = {source: batch.processed_path(settings, warc) for source, warc in warcs.items()}
        markers = {source: batch.marker_path(settings, warc) for source, warc in warcs.items()}
        assert all(url.startswith(processed + "/") for url in [*outputs.values(), *markers.values()])
        assert sorted(first["outputs"]) == sorted(outputs.values())
        # records and a marker per WARC file, no temporary object left behind
        assert keys(processed) == {url.removeprefix(processed + "/") for url in [*outputs.values(), *markers.values()]}
        ids_by_source = {source: jsonl_ids(url) for source, url in outputs.items()}
        every_id = set().union(*ids_by_source.values())
        assert len(every_id) == archived
        assert stored_ids(engine) == every_id

        # The markers are read back from the bucket: the next run takes no file.
        again = newswire("process", env=env)
        assert (again["warc_files"], again["records"], again["indexed"], again["outputs"]) == (0, 0, 0, [])

        # A run killed before its marker's rename leaves the marker's temporary object only: that
        # file (and no other) is taken again, its documents upserted, and its marker written.
        bucket().mv(markers["spa"], f"{markers['spa']}.tmp-0badc0de")
        retaken = newswire("process", env=env)
        assert (retaken["warc_files"], retaken["indexed"], retaken["outputs"]) == (
            1, len(ids_by_source["spa"]), [outputs["spa"]])
        assert bucket().exists(markers["spa"])
        assert stored_ids(engine) == every_id

        # Reprocessing reads the archive from the bucket into the next index version.
        rebuilt = newswire("reprocess", "--mode", "rebuild", env=env)
        assert (rebuilt["warc_files"], rebuilt["records"], rebuilt["indexed"]) == (3, archived, archived)
        assert rebuilt["index"] == engine.settings.index_name(2)
        assert stored_ids(engine, engine.settings.index_name(2)) == every_id


def test_listings_see_objects_another_process_wrote_since(roots):
    """A long-lived process (an Airflow worker, `newswire demo`) lists the roots again and again:
    a listing kept from its first look would hide tonight's WARC files and markers."""
    settings = get_settings()
    archive, processed = roots["NEWSWIRE_ARCHIVE_ROOT"], roots["NEWSWIRE_PROCESSED_ROOT"]
    first = f"{archive}/spa/2026/11/27/spa-20261127T020000Z-a.warc.gz"
    bucket().pipe_file(first, b"")
    assert [w.url for w in list_warc_files(archive)] == [first]
    assert batch.already_processed(settings) == set()

    later = [f"{archive}/spa/2026/11/27/spa-20261127T090000Z-b.warc.gz",
             f"{archive}/spa/2026/11/28/spa-20261128T020000Z-a.warc.gz"]
    for url in later:
        bucket().pipe_file(url, b"")
    bucket().pipe_file(batch.marker_path(settings, parse_warc_path(first)), b"{}\n")
    assert [w.url for w in list_warc_files(archive)] == [first, *later]
    assert [w.url for w in list_warc_files(archive, since=date(2026, 11, 28))] == later[1:]
    assert batch.already_processed(settings) == {first}
    assert keys(processed) == {f"spa/2026/11/27/spa-20261127T020000Z-a{batch.PROCESSED_MARKER}"}


def test_a_killed_crawl_on_s3_leaves_nothing_and_the_next_crawl_archives_every_article(roots, tmp_path):
    """An object is only there once its upload completes: where a local archive keeps the killed
    run's open file (cut and published by the next crawl), the bucket keeps nothing, no article
    counts as seen, and the next crawl fetches them all again."""
    numbers = range(1, 31)
    env = crawl_env(tmp_path / "data") | roots
    archive = roots["NEWSWIRE_ARCHIVE_ROOT"]
    server = MirrorServer(news_site(numbers, delay=0.3))
    try:
        crawling = subprocess.Popen(crawl_args(server.base_url), env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: sum(target.startswith("/ar/news/") for target in server.requests) >= 10, 120,
                     "the crawl to fetch 10 articles")
        finally:
            crawling.send_signal(signal.SIGKILL)
            crawling.wait(timeout=30)
        assert keys(archive) == set()
        done = subprocess.run(crawl_args(server.base_url), env=env, capture_output=True, text=True,
                              timeout=300, check=False)
    finally:
        server.close()
    assert done.returncode == 0, done.stderr[-3000:]
    [manifest] = json.loads(done.stdout)
    assert (manifest["counts"]["archived"], manifest["skipped_by_reason"]) == (30, {})
    warc = parse_warc_path(manifest["warc_file"])
    assert keys(archive) == {url.removeprefix(archive + "/") for url in (warc.url, warc.manifest_url)}

    summary = batch.process_archive(get_settings(), index=False)
    assert (summary["warc_files"], summary["records"], summary["dead_letter"]) == (1, 30, 0)
    [output] = summary["outputs"]
    assert jsonl_ids(output) == {expected_id(n) for n in numbers}



def test_a_refused_upload_leaves_no_article_seen_and_the_next_crawl_archives_them(object_store, roots, tmp_path):
    """The bucket refuses the run's WARC file when the run closes it (credentials that may read,
    not write): its articles must not count as seen, or no crawl would fetch them again."""
    numbers = range(1, 11)
    env = crawl_env(tmp_path / "data") | roots
    server = MirrorServer(news_site(numbers))
    try:
        refused = subprocess.run(crawl_args(server.base_url), env=env | object_store.environment_of(READ_ONLY_KEY),
                                 capture_output=True, text=True, timeout=300, check=False)
        assert refused.returncode == 1
        assert "PermissionError: Access Denied" in refused.stderr
        [broken_off] = json.loads(refused.stdout)
        assert broken_off["error"] == "the crawl stopped before its manifest was written; see the log"
        assert keys(roots["NEWSWIRE_ARCHIVE_ROOT"]) == set()
        retried = subprocess.run(crawl_args(server.base_url), env=env, capture_output=True, text=True,
                                 timeout=300, check=False)
    finally:
        server.close()
    assert retried.returncode == 0, retried.stderr[-3000:]
    [manifest] = json.loads(retried.stdout)
    assert (manifest["counts"]["archived"], manifest["skipped_by_reason"]) == (10, {})


@pytest.mark.parametrize(("change", "error"), [
    ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "PermissionError: Forbidden"),
    ({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
     'EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:9/'),
])
def test_refused_credentials_or_no_server_is_one_line_naming_the_root(roots, change, error):
    crawl = ("crawl", "--source", "spa", "--base-url-override", "spa=http://127.0.0.1:9")  # never the real site
    for command in (crawl, ("process", "--no-index"), ("crawl-state", "rebuild")):
        result = run_newswire(*command, **change)
        assert one_error_line(result).startswith(f"newswire: storage: {roots['NEWSWIRE_ARCHIVE_ROOT']}: {error}")
        assert result.returncode == 1
