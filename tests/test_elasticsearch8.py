"""The adapter against a real Elasticsearch 8: the 8.19 distribution that Maven Central carries.

One elasticsearch-py 9 client serves servers of both majors because the adapter names the
server's major in its compatibility headers (``compatible-with=8`` here). The node is the
distribution installed by ``infra/engine/elasticsearch8/install.sh`` with the project's
newswire-root plugin (the distribution lacks rest-root, and the adapter reads the version from
``GET /``), run once for this module on 127.0.0.1 (port ``NEWSWIRE_TEST_ES8_PORT``). As root it
runs as the unprivileged ``newswire-es``: Elasticsearch refuses to run as root.

The distribution lacks analysis-common too, so the index template is the production one with
its analysis left out and every analyzer ``standard`` (:func:`standard_analysis_template`);
everything else the adapter sends is what it sends to production.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_stub import serve
from test_index import make_article
from test_index_flavours import recording_proxy

from kernel.settings import Settings, get_settings
from pipelines import local_engine
from pipelines.index import (
    ILM_NOT_AVAILABLE,
    SearchEngine,
    SearchEngineError,
    articles_index_body,
    index_template_body,
)
from pipelines.index.transport import ElasticsearchTransport

ELASTICSEARCH8_VERSION = "8.19.21"
ES8_PORT = int(os.environ.get("NEWSWIRE_TEST_ES8_PORT", "9450"))
RUN_USER = "newswire-es"  # created by install.sh when it runs as root
HEAP = "512m"
JSON_8 = "application/vnd.elasticsearch+json; compatible-with=8"
NDJSON_8 = "application/vnd.elasticsearch+x-ndjson; compatible-with=8"


def standard_analysis_template(settings: Settings) -> dict:
    """The production index template without its analysis: every analyzer is ``standard``, the
    one the 8.19 distribution of Maven Central has without analysis-common."""
    body = index_template_body(settings)
    del body["template"]["settings"]["analysis"]

    def to_standard(mapping: dict) -> None:
        for key, value in mapping.items():
            if key in ("analyzer", "search_analyzer"):
                mapping[key] = "standard"
            elif isinstance(value, dict):
                to_standard(value)

    to_standard(body["template"]["mappings"])
    return body


def _java_home() -> Path:
    """The JDK the node runs on: Temurin 25 where installed (8.19 runs on it and on Java 17)."""
    if (local_engine.JAVA25_HOME / "bin" / "java").exists():
        return local_engine.JAVA25_HOME
    return Path(shutil.which("java") or "java").resolve().parent.parent


def _node_dir(distribution: Path, as_user: pwd.struct_passwd | None) -> Path:
    """A directory of the node's own, outside any home: the distribution (hard-linked, it is only
    read), a config dir, data, logs and tmp, writable by the user the node runs as."""
    node = Path(tempfile.mkdtemp(prefix="newswire-es8-"))
    node.chmod(0o755)
    try:
        shutil.copytree(distribution, node / "home", copy_function=os.link)
    except OSError:  # another filesystem: copy instead
        shutil.rmtree(node / "home", ignore_errors=True)
        shutil.copytree(distribution, node / "home")
    shutil.copytree(distribution / "config", node / "config")
    (node / "config" / "elasticsearch.yml").write_text("\n".join([
        "cluster.name: newswire-es8",
        "node.name: es8",
        f"path.data: {node / 'data'}",
        f"path.logs: {node / 'logs'}",
        "network.host: 127.0.0.1",
        f"http.port: {ES8_PORT}",
        f"transport.port: {ES8_PORT + 1}",
        "discovery.type: single-node",
        "xpack.security.enabled: false",
        "cluster.routing.allocation.disk.threshold_enabled: false",
    ]) + "\n")
    for name in ("data", "logs", "tmp"):
        (node / name).mkdir()
    if as_user is not None:
        for path in [node, node / "config", *(node / "config").rglob("*"), node / "data", node / "logs", node / "tmp"]:
            os.chown(path, as_user.pw_uid, as_user.pw_gid)
    return node


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=5) as answer:
            return json.load(answer).get("status") in ("green", "yellow")
    except (urllib.error.URLError, OSError, ValueError):
        return False


@pytest.fixture(scope="module")
def elasticsearch8_url() -> Iterator[str]:
    """The real 8.19 node, started for this module and stopped (its directory removed) after it."""
    distribution = get_settings().local_engine_home / "elasticsearch8" / f"elasticsearch-{ELASTICSEARCH8_VERSION}"
    if not (distribution.parent / ".complete").exists():
        pytest.skip(f"Elasticsearch {ELASTICSEARCH8_VERSION} is not installed at {distribution}: "
                    f"run infra/engine/elasticsearch8/install.sh (part of infra/setup.sh --test)")
    as_user = None
    if os.geteuid() == 0:
        try:
            as_user = pwd.getpwnam(RUN_USER)
        except KeyError:
            pytest.fail(f"no user {RUN_USER} to run Elasticsearch as (it refuses root): "
                        f"run infra/engine/elasticsearch8/install.sh as root")
    url = f"http://127.0.0.1:{ES8_PORT}"
    if _healthy(url):
        pytest.fail(f"port {ES8_PORT} already answers: stop that engine or set NEWSWIRE_TEST_ES8_PORT")
    node = _node_dir(distribution, as_user)
    switch_user = ["setpriv", f"--reuid={RUN_USER}", f"--regid={RUN_USER}", "--init-groups"] if as_user else []
    env = {name: value for name, value in os.environ.items() if name != "JAVA_HOME"}
    env |= {"ES_JAVA_HOME": str(_java_home()), "ES_PATH_CONF": str(node / "config"),
            "ES_TMPDIR": str(node / "tmp"), "ES_JAVA_OPTS": f"-Xms{HEAP} -Xmx{HEAP}"}
    with open(node / "console.log", "wb") as console:
        process = subprocess.Popen([*switch_user, str(node / "home" / "bin" / "elasticsearch")], cwd=node,
                                   stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (node / "console.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Elasticsearch {ELASTICSEARCH8_VERSION} did not become healthy; console tail:\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(node, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def template_without_analysis():
    """The adapter installs :func:`standard_analysis_template` in this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pipelines.index.lifecycle.index_template_body", standard_analysis_template)
        yield


@pytest.fixture()
def es8(elasticsearch8_url) -> Iterator[tuple[Settings, list[dict]]]:
    """Settings that reach the 8.19 node through a recording proxy (own index prefix), and what was sent."""
    received: list[dict] = []
    with serve(recording_proxy(elasticsearch8_url, received)) as url:
        yield get_settings(search_url=url, index_prefix=f"nwes8-{uuid.uuid4().hex[:8]}"), received


def test_connect_reads_flavour_and_version_of_the_8_node(es8):
    settings, _ = es8
    engine = SearchEngine.connect(settings)
    assert (engine.flavour, engine.version) == ("elasticsearch", ELASTICSEARCH8_VERSION)


def test_the_8_node_answers_with_its_own_product_header(elasticsearch8_url):
    for path in ("/", "/_cluster/health"):
        with urllib.request.urlopen(elasticsearch8_url + path, timeout=30) as response:
            assert response.headers["X-elastic-product"] == "Elasticsearch", path


def test_the_8_node_refuses_the_9_clients_own_major(es8):
    """Why the adapter names the server's major: 8.x refuses ``compatible-with=9``."""
    settings, _ = es8
    with pytest.raises(SearchEngineError) as refused:
        ElasticsearchTransport(settings, server_major="9").request("GET", "/_cluster/health")
    assert refused.value.status == 400
    assert ElasticsearchTransport(settings, server_major="8").request("GET", "/_cluster/health")["status"] in (
        "green", "yellow")


def test_index_creation_bulk_and_search_speak_compatible_with_8(es8):
    settings, received = es8
    engine = SearchEngine.connect(settings)
    assert engine.ensure_ready() == settings.index_name(1)
    assert engine.install_lifecycle_policy() == ILM_NOT_AVAILABLE  # the distribution has no x-pack-ilm
    mapping = engine.mapping()
    assert set(mapping["properties"]) == set(articles_index_body()["mappings"]["properties"])
    assert mapping["properties"]["body"]["analyzer"] == "standard"

    result = engine.bulk_upsert([make_article("e1"), make_article("e2", body="خبر عن إدلب"), make_article("e3")])
    assert (result.indexed, result.failed) == (3, 0)
    engine.refresh()
    assert engine.count() == 3
    by_id = engine.request("POST", f"/{settings.read_alias}/_search",
                           {"query": {"ids": {"values": ["e1", "e3", "nope"]}}})
    assert sorted(hit["_id"] for hit in by_id["hits"]["hits"]) == ["e1", "e3"]
    by_word = engine.request("POST", f"/{settings.read_alias}/_search", {"query": {"match": {"body": "إدلب"}}})
    assert [hit["_id"] for hit in by_word["hits"]["hits"]] == ["e2"]

    adapter_requests = received[1:]  # after the flavour is read from GET /
    assert adapter_requests and all(r["headers"]["accept"] == JSON_8 for r in adapter_requests)
    bulk = [r for r in adapter_requests if r["path"].startswith("/_bulk")]
    assert len(bulk) == 1 and bulk[0]["headers"]["content-type"] == NDJSON_8
    actions = [json.loads(line) for line in bulk[0]["body"].decode().splitlines()[::2]]
    assert [action["index"]["_id"] for action in actions] == ["e1", "e2", "e3"]
    template = next(r for r in adapter_requests if r["path"] == f"/_index_template/{settings.index_prefix}-articles")
    assert template["headers"]["content-type"] == JSON_8


def test_aliases_switch_to_the_next_version_on_the_8_node(es8):
    settings, received = es8
    engine = SearchEngine.connect(settings)
    first = engine.ensure_ready()
    engine.bulk_upsert([make_article(f"v{n}") for n in range(4)])
    engine.refresh()
    second = engine.create_next_version()
    assert second == settings.index_name(2)
    # No reindex module in this distribution: the client's scan and bulk helpers copy, in 8's headers.
    assert engine.copy_documents(first, second) == 4
    engine.switch_aliases(second)
    assert engine.current_index() == second
    assert engine.count() == 4
    assert engine.version_roles() == {first: "superseded", second: "serving"}
    holders = engine.request("GET", f"/_alias/{settings.read_alias},{settings.write_alias}")
    assert set(holders) == {second}
    assert all(r["headers"]["accept"] == JSON_8 for r in received[1:] if "accept" in r["headers"])
