"""Fixtures for the Airflow tests: an isolated AIRFLOW_HOME, its database, and one shared
`airflow standalone` (REST and browser tests) with the demo mirror and the local engine.

Loaded as a pytest plugin from conftest.py. AIRFLOW_HOME is set when this module is imported,
before anything imports Airflow, so no test ever touches ~/airflow.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newswire.cli.local_airflow_commands import stop_process_group

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO_ROOT / "dags"
VENV_BIN = Path(sys.executable).parent
AIRFLOW_HOME = Path(tempfile.gettempdir()) / f"newswire-airflow-{uuid.uuid4().hex[:8]}"

AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
}
os.environ.update(AIRFLOW_ENV)
atexit.register(shutil.rmtree, AIRFLOW_HOME, True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _airflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "airflow"), *args], env=env or os.environ.copy(),
                          capture_output=True, text=True, check=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated sqlite metadata database in the session's AIRFLOW_HOME (for dag.test())."""
    _airflow("db", "migrate")
    return AIRFLOW_HOME


# --------------------------------------------------------------------------- standalone


@dataclass
class AirflowServer:
    url: str
    home: Path
    username: str
    password: str
    env: dict[str, str]
    log_path: Path

    def token(self) -> str:
        request = urllib.request.Request(
            f"{self.url}/auth/token", method="POST",
            data=json.dumps({"username": self.username, "password": self.password}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.load(resp)["access_token"]

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/api/v2{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token or self.token()}"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.load(resp)

    def task_result(self, dag_id: str, run_id: str, task_id: str) -> dict:
        """A task's return value (its `return_value` XCom)."""
        entry = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) else value

    def wait_for_dag(self, dag_id: str, timeout: float = 180, unpause: bool = True) -> dict:
        """Until the dag processor has parsed the DAG; returns it (unpaused unless told otherwise)."""
        token = self.token()
        deadline = time.monotonic() + timeout
        while True:
            try:
                dag = self.api("GET", f"/dags/{dag_id}", token=token)
                return self.api("PATCH", f"/dags/{dag_id}", {"is_paused": False}, token=token) if unpause else dag
            except urllib.error.HTTPError as exc:
                if exc.code != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        token = self.token()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}", token=token)
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(2)
        raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout}s; log {self.log_path}")


def _wait_until_up(url: str, proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with {proc.returncode}:\n"
                               f"{log_path.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=3):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    raise TimeoutError(f"airflow standalone not answering on {url}; log {log_path}")


def _admin_password(home: Path, timeout: float = 60) -> str:
    path = home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was not written")
        time.sleep(0.5)
    return json.loads(path.read_text())["admin"]


@pytest.fixture(scope="session")
def standalone_newswire(engine_settings, tmp_path_factory) -> Iterator[dict[str, str]]:
    """NEWSWIRE_* env of the standalone Airflow: its own data dir and index prefix, the demo
    mirror as the only sources, and an archive already crawled and indexed (index v1)."""
    from crawler.mirror import serve_demo_mirror

    with serve_demo_mirror() as mirror:
        env = {
            "NEWSWIRE_DATA_DIR": str(tmp_path_factory.mktemp("standalone-data")),
            "NEWSWIRE_INDEX_PREFIX": f"{engine_settings.index_prefix}-af",
            "NEWSWIRE_ENABLED_SOURCES": json.dumps(list(mirror.base_urls)),
            "NEWSWIRE_BASE_URL_OVERRIDES": json.dumps(mirror.base_urls),
        }
        # In subprocesses, as the DAG does: Scrapy's reactor cannot run twice in this process.
        for command in (["crawl", "--json"], ["process", "--json"]):
            subprocess.run([sys.executable, "-m", "newswire.cli", *command], env={**os.environ, **env},
                           check=True, capture_output=True, text=True)
        yield env


@pytest.fixture(scope="session")
def airflow_server(standalone_newswire, tmp_path_factory) -> Iterator[AirflowServer]:
    """One `airflow standalone` for the REST and browser tests, stopped by its own pid."""
    home = tmp_path_factory.mktemp("airflow-standalone")
    port = free_port()
    env = {
        **os.environ, **AIRFLOW_ENV, **standalone_newswire,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        # Task processes report to the API server; its default URL assumes port 8080.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log_path = home / "standalone.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(VENV_BIN / "airflow"), "standalone"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, log_path, timeout=180)
        yield AirflowServer(url=url, home=home, username="admin", password=_admin_password(home),
                            env=env, log_path=log_path)
    finally:
        stop_process_group(proc, wait_seconds=30)
