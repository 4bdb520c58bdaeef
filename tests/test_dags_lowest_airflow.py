"""Every DAG file imports on the LOWEST Airflow pyproject.toml supports (the release the compose image pins).

The main venv runs the newest Airflow; this loads dags/ with Airflow's own DagBag in .venv-airflow-lowest
(made by infra/airflow-lowest.sh, run by `infra/setup.sh --test`), in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
LOWEST_VENV_PYTHON = REPO / ".venv-airflow-lowest" / "bin" / "python"
EXPECTED_DAG_IDS = {"newswire_crawl", "newswire_process", "newswire_reprocess"}

LOAD_DAGS = """
import json, sys
import airflow
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
print(json.dumps({"airflow": airflow.__version__, "dag_ids": sorted(bag.dag_ids),
                  "files": sorted({dag.fileloc.rsplit('/', 1)[-1] for dag in bag.dags.values()}),
                  "import_errors": {path: str(error) for path, error in bag.import_errors.items()}}))
"""


def lowest_supported_airflow() -> str:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    (spec,) = [d for d in dependencies if re.match(r"apache-airflow\s*[<>=]", d)]
    return re.search(r">=\s*([0-9.]+)", spec).group(1)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict:
    if not LOWEST_VENV_PYTHON.exists():
        pytest.skip(f"{LOWEST_VENV_PYTHON.parent.parent.name} missing: run `bash infra/airflow-lowest.sh` "
                    "(infra/setup.sh --test does)")
    home = tmp_path_factory.mktemp("airflow-home")
    environment = {"PATH": os.environ["PATH"], "HOME": str(home), "AIRFLOW_HOME": str(home),
                   "PYTHONPATH": str(REPO), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "NEWSWIRE_DATA_DIR": str(home / "data")}
    result = subprocess.run([str(LOWEST_VENV_PYTHON), "-c", LOAD_DAGS, str(REPO / "dags")], cwd=REPO,
                            env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_venv_runs_the_lowest_supported_airflow(loaded):
    assert loaded["airflow"] == lowest_supported_airflow()


def test_every_dag_file_imports_without_errors_on_the_lowest_airflow(loaded):
    assert loaded["import_errors"] == {}
    assert set(loaded["dag_ids"]) == EXPECTED_DAG_IDS
    assert loaded["files"] == sorted(path.name for path in (REPO / "dags").glob("*.py"))


# --- the compose stack's Airflow setup, on the same release ---------------------------------------


def lowest_venv_env(home: Path, **extra: str) -> dict[str, str]:
    if not LOWEST_VENV_PYTHON.exists():
        pytest.skip(f"{LOWEST_VENV_PYTHON.parent.parent.name} missing: run `bash infra/airflow-lowest.sh`")
    compose = yaml.safe_load((REPO / "infra" / "compose" / "docker-compose.yml").read_text(encoding="utf-8"))
    auth_manager = compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]
    return {"PATH": f"{LOWEST_VENV_PYTHON.parent}:{os.environ['PATH']}", "HOME": str(home),
            "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__AUTH_MANAGER": auth_manager,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", **extra}


def test_the_compose_auth_manager_is_fab_and_loads_on_the_lowest_airflow(tmp_path):
    environment = lowest_venv_env(tmp_path)
    check = ("import importlib, os\n"
             "from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager\n"
             "module, name = os.environ['AIRFLOW__CORE__AUTH_MANAGER'].rsplit('.', 1)\n"
             "cls = getattr(importlib.import_module(module), name)\n"
             "print(cls.__name__, issubclass(cls, BaseAuthManager))")
    result = subprocess.run([str(LOWEST_VENV_PYTHON), "-c", check], env=environment, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    # Airflow logs its own start-up on stdout; the answer is the last line.
    assert result.stdout.strip().splitlines()[-1].split() == ["FabAuthManager", "True"]


@pytest.mark.airflow
def test_airflow_init_script_migrates_and_creates_then_updates_the_admin(tmp_path):
    """infra/compose/init/airflow-init.sh run twice on a SQLite database: creates the admin, then resets it."""
    script = REPO / "infra" / "compose" / "init" / "airflow-init.sh"
    environment = lowest_venv_env(tmp_path, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/airflow.db",
                                  AIRFLOW_ADMIN_USER="newsroom-admin", AIRFLOW_ADMIN_PASSWORD="Xq7pW2rT9vL4-first")
    first = subprocess.run(["bash", str(script)], env=environment, capture_output=True, text=True, timeout=600,
                           check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "airflow-init: created admin user newsroom-admin" in first.stdout
    second = subprocess.run(["bash", str(script)], env={**environment, "AIRFLOW_ADMIN_PASSWORD": "Xq7pW2rT9vL4-second"},
                            capture_output=True, text=True, timeout=600, check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "airflow-init: admin user newsroom-admin exists, password set from .env" in second.stdout
    listed = subprocess.run(["airflow", "users", "list", "--output", "json"], env=environment, capture_output=True,
                            text=True, timeout=300, check=False)
    users = json.loads(listed.stdout.strip().splitlines()[-1])
    assert [(user["username"], user["roles"]) for user in users] == [("newsroom-admin", ["Admin"])]
