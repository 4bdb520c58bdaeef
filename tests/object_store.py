"""A real S3-compatible server for tests: SeaweedFS's ``weed server`` with its S3 gateway.

Built by ``infra/objectstore/install.sh`` (part of ``infra/setup.sh --test``). Each server runs
on 127.0.0.1 on free ports, keeps its data in a directory of the caller's and is killed when the
context ends. Clients reach it through the standard AWS environment (credentials, region and
``AWS_ENDPOINT_URL_S3``, which botocore, hence s3fs, reads), so the code under test is given
nothing but ``s3://`` URLs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import botocore.exceptions
import s3fs

SEAWEEDFS_HOME = Path(os.environ.get("NEWSWIRE_OBJECTSTORE_HOME", Path.home() / ".cache/newswire/seaweedfs"))
ACCESS_KEY = "newswire-test"
SECRET_KEY = "newswire-test-secret"
READ_ONLY_KEY = "newswire-test-reader"  # may list and read, not write (its secret: the same)
START_SECONDS = 90
# weed's components, each with an HTTP and a gRPC port
COMPONENTS = ("master", "volume", "filer", "s3")


class ObjectStoreMissing(RuntimeError):
    """The server is not built here (the caller skips with this message)."""


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    process: subprocess.Popen

    @property
    def environment(self) -> dict[str, str]:
        """What a client process needs to reach this server (and nothing of a developer's AWS)."""
        return self.environment_of(ACCESS_KEY)

    def environment_of(self, access_key: str) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_ACCESS_KEY_ID": access_key,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def weed_binary() -> Path:
    binary = SEAWEEDFS_HOME / "weed"
    if not (SEAWEEDFS_HOME / ".complete").exists() or not binary.exists():
        raise ObjectStoreMissing(f"SeaweedFS is not built at {binary}: run infra/objectstore/install.sh "
                                 "(part of infra/setup.sh --test)")
    return binary


def _free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _answers(endpoint: str) -> bool:
    """The S3 gateway is up and its filer serves listings (an anonymous call is refused with 403)."""
    try:
        urllib.request.urlopen(endpoint + "/", timeout=2)
    except urllib.error.HTTPError as refused:
        return refused.code == 403
    except OSError:
        return False
    return False


@contextmanager
def serve_seaweedfs(directory: Path, buckets: tuple[str, ...]) -> Iterator[ObjectStore]:
    """One SeaweedFS server (master, volume, filer, S3 gateway in one process) holding `buckets`."""
    binary = weed_binary()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    identities = {"identities": [
        {"name": "newswire", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
         "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]},
        {"name": "reader", "actions": ["Read", "List"],
         "credentials": [{"accessKey": READ_ONLY_KEY, "secretKey": SECRET_KEY}]},
    ]}
    (directory / "s3.json").write_text(json.dumps(identities), encoding="utf-8")
    ports = dict(zip([f"-{c}.port{grpc}" for c in COMPONENTS for grpc in ("", ".grpc")],
                     _free_ports(2 * len(COMPONENTS)), strict=True))
    arguments = [str(binary), "server", f"-dir={directory / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                 "-filer", "-s3", f"-s3.config={directory / 's3.json'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
                 # small volumes, and no grace period at shutdown: a test's server holds a few MB
                 "-master.volumeSizeLimitMB=64", "-volume.max=0", "-volume.preStopSeconds=0",
                 *(f"{flag}={port}" for flag, port in ports.items())]
    endpoint = f"http://127.0.0.1:{ports['-s3.port']}"
    log = directory / "weed.log"
    with open(log, "wb") as console:
        process = subprocess.Popen(arguments, cwd=directory, stdout=console, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    store = ObjectStore(endpoint, process)
    try:
        _create_buckets(store, buckets, log)
        yield store
    finally:
        # A hard kill: weed's graceful shutdown waits longer than 15 s on flushing a metadata log
        # that nobody reads again, and the data dir is the test's own.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
        for port in ports.values():  # the gRPC sockets weed makes in /tmp, named by port
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                path.unlink(missing_ok=True)


def _create_buckets(store: ObjectStore, buckets: tuple[str, ...], log: Path) -> None:
    """Wait for the gateway, create the buckets (retried: the filer may still be joining), and
    write an object to each: the master holds its first volume's allocation back for a few
    seconds after a start, and a test's first write would wait for it instead."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if store.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"SeaweedFS did not start at {store.endpoint}; log tail:\n"
                               + log.read_text(errors="replace")[-3000:])
        if _answers(store.endpoint):
            fs = s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, endpoint_url=store.endpoint,
                                   skip_instance_cache=True)
            try:
                for bucket in buckets:
                    if not fs.exists(bucket):
                        fs.mkdir(bucket)
                    fs.pipe_file(f"{bucket}/ready", b"")
                    fs.rm(f"{bucket}/ready")
                return
            except (OSError, botocore.exceptions.BotoCoreError):
                pass
        time.sleep(0.3)
