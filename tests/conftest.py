"""Shared fixtures: the real local engine (started once per session) and per-run isolation."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from pipelines import local_engine
from pipelines.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SEED_DIR = REPO_ROOT.parent / "shared" / "seeds"

# Airflow fixtures (isolated AIRFLOW_HOME, shared `airflow standalone`) live in their own module.
pytest_plugins = ["airflow_harness"]

# One prefix per test run, so runs never see each other's indices.
RUN_PREFIX = f"nwtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def engine_settings(tmp_path_factory) -> Settings:
    """Settings pointing at the real local engine, which is started if it is not running."""
    os.environ["NEWSWIRE_INDEX_PREFIX"] = RUN_PREFIX
    settings = get_settings(data_dir=tmp_path_factory.mktemp("newswire-data"))
    local_engine.start(settings)
    return settings


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
