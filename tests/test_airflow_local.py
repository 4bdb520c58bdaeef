"""`newswire airflow-local`: Airflow standalone with the project's DAGs, the local engine and the
demo mirror; it says where to log in, and stops everything it started."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from airflow_harness import AirflowServer, free_port

from kernel.settings import get_settings
from newswire.cli.local_airflow_commands import DAGS_FOLDER, standalone_env


def test_standalone_env_points_airflow_at_the_project_and_the_mirror(tmp_path):
    settings = get_settings(data_dir=tmp_path)
    env = standalone_env(settings, port=8095, base_url_overrides={"tasnim": "http://127.0.0.1:40001"},
                         source_ids=["tasnim"], base_env={"PATH": "/usr/bin", "HOME": "/root"})
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS_FOLDER) and (DAGS_FOLDER / "newswire_crawl.py").exists()
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__API__PORT"] == "8095"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8095/execution/"
    assert env["PATH"] == f"{Path(sys.executable).parent}{os.pathsep}/usr/bin"
    assert json.loads(env["NEWSWIRE_ENABLED_SOURCES"]) == ["tasnim"]
    assert json.loads(env["NEWSWIRE_BASE_URL_OVERRIDES"]) == {"tasnim": "http://127.0.0.1:40001"}
    assert env["NEWSWIRE_DATA_DIR"] == str(tmp_path) and env["HOME"] == "/root"


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on `port`, read from the kernel's tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            hex_address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(hex_address)  # 32-bit words in the host's (little-endian) order
                address = ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)))
                found.add(str(getattr(address, "ipv4_mapped", None) or address))
    return found


@pytest.mark.airflow
@pytest.mark.engine
def test_airflow_local_starts_standalone_says_where_to_log_in_and_stops_cleanly(engine_settings, tmp_path):
    port = free_port()
    env = {**os.environ, "NEWSWIRE_DATA_DIR": str(tmp_path), "NEWSWIRE_INDEX_PREFIX": f"{engine_settings.index_prefix}-local"}
    proc = subprocess.Popen([sys.executable, "-m", "newswire.cli", "airflow-local", "--port", str(port), "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        where = json.loads("".join(iter(proc.stdout.readline, "}\n")) + "}")
        assert where["url"] == f"http://localhost:{port}"
        assert where["password_file"] == str(tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated")
        password = json.loads(Path(where["password_file"]).read_text())["admin"]
        server = AirflowServer(url=where["url"], home=tmp_path / "airflow", username="admin", password=password,
                               env=env, log_path=Path(where["log"]))
        dag = server.wait_for_dag("newswire_crawl", unpause=False)  # paused: no crawl starts
        assert dag["fileloc"] == str(DAGS_FOLDER / "newswire_crawl.py") and dag["is_paused"] is True
        dags = server.api("GET", "/dags")["dags"]
        assert sorted(d["dag_id"] for d in dags) == ["newswire_crawl", "newswire_process", "newswire_reprocess"]
        with urllib.request.urlopen(f"{where['url']}/api/v2/monitor/health", timeout=10) as resp:
            assert json.load(resp)["scheduler"]["status"] == "healthy"
        assert listening_addresses(port) == {"127.0.0.1"}  # not 0.0.0.0: this machine only
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    assert "stopping Airflow and the mirror" in stderr
    with pytest.raises(OSError):  # nothing answers any more: the api server went with the rest
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5)
