"""`newswire airflow-local`: Airflow standalone with newswire's DAGs, the local engine and the
demo mirror, for trying the whole schedule on one machine without reaching any real site."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import typer

from kernel.settings import Settings, get_settings
from newswire.cli.app import app
from newswire.cli.local_stack import local_engine_and_demo_mirror
from newswire.cli.output import console, print_json

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
LOCAL_HOST = "127.0.0.1"


def airflow_home(settings: Settings) -> Path:
    return settings.data_dir / "airflow"


def standalone_env(settings: Settings, *, port: int, base_url_overrides: dict[str, str],
                   source_ids: list[str], base_env: dict[str, str]) -> dict[str, str]:
    """Environment of `airflow standalone`: its home under the data dir, the project's DAGs, the
    venv first on PATH (the tasks call `newswire`), and every source pointed at the mirror."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **base_env,
        "AIRFLOW_HOME": str(airflow_home(settings)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port),
        # This machine only: Airflow's default serves the UI, the REST API and its login on every
        # interface.
        "AIRFLOW__API__HOST": LOCAL_HOST,
        # Task processes report to the API server; its default URL assumes port 8080.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{LOCAL_HOST}:{port}/execution/",
        # A handful of worker processes is plenty for a laptop; the default starts 32.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "PATH": venv_bin + os.pathsep + base_env.get("PATH", ""),
        "NEWSWIRE_DATA_DIR": str(settings.data_dir),
        "NEWSWIRE_ENABLED_SOURCES": json.dumps(source_ids),
        "NEWSWIRE_BASE_URL_OVERRIDES": json.dumps(base_url_overrides),
    }


def _wait_for_api(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=3):
                return True
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    return False


@app.command("airflow-local")
def airflow_local(
    port: int = typer.Option(8080, help="Port of the Airflow UI and REST API."),
    as_json: bool = typer.Option(False, "--json", help="Print where to log in as JSON once it is up."),
) -> None:
    """Run Airflow standalone with newswire's DAGs, the local engine and the demo mirror (Ctrl-C stops all)."""
    settings = get_settings()
    home = airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "standalone.log"
    with local_engine_and_demo_mirror(settings) as mirror:
        env = standalone_env(settings, port=port, base_url_overrides=mirror.base_urls,
                             source_ids=list(mirror.base_urls), base_env=dict(os.environ))
        url = f"http://localhost:{port}"
        with log_path.open("ab") as log:
            # Its own session: `airflow standalone` does not pass SIGTERM on to the scheduler and
            # friends, so they are stopped as a process group.
            proc = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "standalone"], env=env,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            _serve(proc, url, home, log_path, as_json)
        except KeyboardInterrupt:
            console.print("stopping Airflow and the mirror ...")
        finally:
            stop_process_group(proc)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_process_group(proc: subprocess.Popen, wait_seconds: float = 60) -> None:
    """Stop a process started with start_new_session=True and every process of its group:
    SIGTERM, then SIGKILL for whatever is left after `wait_seconds`."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        proc.poll()  # reaps our own child, so that only live members keep the group alive
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _serve(proc: subprocess.Popen, url: str, home: Path, log_path: Path, as_json: bool) -> None:
    with console.status(f"starting Airflow (log: {log_path}) ..."):
        up = _wait_for_api(url, proc, timeout=180)
    if not up:
        console.print(f"[red]Airflow did not start[/]; see {log_path}")
        raise typer.Exit(1)
    where = {"url": url, "username": "admin", "password_file": str(home / PASSWORD_FILE),
             "airflow_home": str(home), "log": str(log_path)}
    if as_json:
        print_json(where)
        sys.stdout.flush()
    console.print(f"[green]Airflow is up[/] at {url}: log in as [bold]admin[/], password in {where['password_file']}")
    console.print("Unpause newswire_crawl and newswire_process to run the nightly schedule against the mirror; "
                  "newswire_reprocess is triggered from its form. Ctrl-C stops Airflow and the mirror.")
    proc.wait()
