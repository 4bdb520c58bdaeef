"""Shared fixtures: the real local engine (started once per session) and per-run isolation."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.settings import Settings, get_settings
from pipelines import local_engine

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Airflow fixtures (isolated AIRFLOW_HOME, shared `airflow standalone`) live in their own module.
pytest_plugins = ["airflow_harness"]

# The integration suite runs once per engine: every test that uses `engine_settings` is
# parametrized by flavour (its id shows `[elasticsearch]` or `[opensearch]`), and each node is
# started once per session on its own port. NEWSWIRE_TEST_FLAVOURS narrows the list for a quick
# local run; CI runs both.
ENGINE_PORTS = {
    "elasticsearch": int(os.environ.get("NEWSWIRE_TEST_ES_PORT", "9280")),
    "opensearch": int(os.environ.get("NEWSWIRE_TEST_OS_PORT", "9281")),
}
TEST_FLAVOURS = [flavour.strip() for flavour in
                 os.environ.get("NEWSWIRE_TEST_FLAVOURS", ",".join(ENGINE_PORTS)).split(",") if flavour.strip()]
if unknown := set(TEST_FLAVOURS) - set(ENGINE_PORTS):
    raise pytest.UsageError(f"NEWSWIRE_TEST_FLAVOURS: unknown flavour(s) {sorted(unknown)}; "
                            f"choose from {sorted(ENGINE_PORTS)}")

# One prefix per test run, so runs never see each other's indices.
RUN_PREFIX = f"nwtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session", params=TEST_FLAVOURS)
def engine_flavour(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def engine_settings(engine_flavour, tmp_path_factory) -> Iterator[Settings]:
    """Settings pointing at the real local node of one flavour, started if it is not running.

    The environment says the same for the tests' subprocesses (CLI, Airflow) while this flavour's
    tests run, and is restored before the other flavour's start."""
    port = ENGINE_PORTS[engine_flavour]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NEWSWIRE_ENGINE_FLAVOUR", engine_flavour)
        env.setenv("NEWSWIRE_ENGINE_PORT", str(port))
        env.setenv("NEWSWIRE_INDEX_PREFIX", RUN_PREFIX)
        # Tests only ever write to the local node, whatever engine the developer's shell points at.
        env.setenv("NEWSWIRE_SEARCH_URL", f"http://127.0.0.1:{port}")
        for name in ("NEWSWIRE_SEARCH_API_KEY", "NEWSWIRE_SEARCH_USER", "NEWSWIRE_SEARCH_PASSWORD"):
            env.delenv(name, raising=False)
        settings = get_settings(data_dir=tmp_path_factory.mktemp(f"newswire-data-{engine_flavour}"))
        status = local_engine.start(settings)
        assert status.flavour == engine_flavour, f"port {port} serves {status.flavour}, not {engine_flavour}"
        yield settings
        _delete_run_indices(settings)


def _delete_run_indices(settings: Settings) -> None:
    """The node outlives the run (its data dir is reused), so each run removes what it created.

    By name: Elasticsearch refuses wildcard index deletes."""
    def call(method: str, path: str) -> bytes:
        request = urllib.request.Request(f"{settings.search_url}{path}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    try:
        indices = json.loads(call("GET", f"/_cat/indices/{RUN_PREFIX}*?format=json&h=index&expand_wildcards=all"))
        for name in sorted(entry["index"] for entry in indices):
            call("DELETE", f"/{name}")
        call("DELETE", f"/_index_template/{RUN_PREFIX}*")
    except urllib.error.URLError:
        pass  # nothing of this run's left (404), or the node is gone: nothing to clean


def pytest_collection_modifyitems(items) -> None:
    """Remember which engine each integration test runs on, for the per-flavour summary."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "engine_flavour" in callspec.params:
            FLAVOUR_OF[item.nodeid] = callspec.params["engine_flavour"]


FLAVOUR_OF: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter) -> None:
    """One line per engine: how many of its integration tests passed, failed or were skipped."""
    counts: dict[str, Counter] = {flavour: Counter() for flavour in TEST_FLAVOURS}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            flavour = FLAVOUR_OF.get(getattr(report, "nodeid", ""))
            if flavour and (report.when == "call" or outcome in ("error", "skipped")):
                counts[flavour][outcome] += 1
    if not any(counts.values()):
        return
    terminalreporter.section("integration tests per engine")
    for flavour, count in counts.items():
        terminalreporter.write_line(f"{flavour}: " + ", ".join(
            f"{count[outcome]} {outcome}" for outcome in ("passed", "failed", "error", "skipped")))


@pytest.fixture()
def data_settings(tmp_path, monkeypatch) -> Settings:
    """Settings with a fresh data dir (archive, processed, state) for one test."""
    monkeypatch.setenv("NEWSWIRE_DATA_DIR", str(tmp_path / "data"))
    return get_settings()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public datasets not found at {SHARED_DATA} (only CI and developers have ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The user's example Tasnim article (plain text)."""
    path = FIXTURES / "seed_tasnim.txt"
    return path.read_text(encoding="utf-8")
