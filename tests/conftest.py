"""Shared fixtures: the real local engine (started once per session) and per-run isolation."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid
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

# Until the suite runs on both flavours, every node a test starts is OpenSearch.
os.environ.setdefault("NEWSWIRE_ENGINE_FLAVOUR", "opensearch")

# One prefix per test run, so runs never see each other's indices.
RUN_PREFIX = f"nwtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def engine_settings(tmp_path_factory) -> Iterator[Settings]:
    """Settings pointing at the real local engine, which is started if it is not running."""
    os.environ["NEWSWIRE_INDEX_PREFIX"] = RUN_PREFIX
    # Tests only ever write to the local node, whatever engine the developer's shell points at.
    port = get_settings().engine_port
    os.environ["NEWSWIRE_SEARCH_URL"] = f"http://127.0.0.1:{port}"
    for name in ("NEWSWIRE_SEARCH_API_KEY", "NEWSWIRE_SEARCH_USER", "NEWSWIRE_SEARCH_PASSWORD"):
        os.environ.pop(name, None)
    settings = get_settings(data_dir=tmp_path_factory.mktemp("newswire-data"))
    local_engine.start(settings)
    yield settings
    _delete_run_indices(settings)


def _delete_run_indices(settings: Settings) -> None:
    """The node outlives the run (its data dir is reused), so each run removes what it created."""
    for path in (f"/{RUN_PREFIX}*", f"/_index_template/{RUN_PREFIX}*"):
        request = urllib.request.Request(f"{settings.search_url}{path}", method="DELETE")
        try:
            urllib.request.urlopen(request, timeout=30).close()
        except urllib.error.URLError:
            pass  # nothing of this run's left, or the node is gone: nothing to clean


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
