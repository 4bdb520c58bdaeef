"""What every benchmark shares: alternating rounds, medians, the result table, the machine load,
a private search engine, and the environment of ``newswire`` subprocesses."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from kernel.settings import Settings
from pipelines import local_engine

REPO = Path(__file__).resolve().parents[1]
NEWSWIRE = Path(sys.executable).parent / "newswire"
PRIVATE_ENGINE_PORT = 9490


def loadavg() -> str:
    """The first three fields of /proc/loadavg (1, 5 and 15 minute load)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def alternate(rounds: int, **contenders: Callable[[], float]) -> dict[str, list[float]]:
    """Run the contenders in turn, ``rounds`` times (so a load change hits both alike); each
    returns its figure for one round. Every other round runs them in reverse order, so that
    going first (a cold engine, a fresh index, caches) does not always fall on the same one."""
    figures: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders.items())
    for round_number in range(rounds):
        for name, contender in order if round_number % 2 == 0 else reversed(order):
            figures[name].append(contender())
    return figures


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Row:
    measure: str
    newswire: float
    baseline: float | None
    unit: str
    baseline_name: str = ""
    goal: str = ""

    @property
    def ratio(self) -> float | None:
        return round(self.newswire / self.baseline, 3) if self.baseline else None

    def as_dict(self) -> dict:
        return asdict(self) | {"ratio": self.ratio}


def print_table(rows: list[Row]) -> None:
    header = f"{'measure':44s} {'newswire':>12s} {'baseline':>12s} {'ratio':>7s}  unit / baseline / goal"
    print(header)
    print("-" * len(header))
    for row in rows:
        baseline = f"{row.baseline:12.1f}" if row.baseline is not None else f"{'':12s}"
        ratio = f"{row.ratio:7.2f}" if row.ratio is not None else f"{'':7s}"
        print(f"{row.measure:44s} {row.newswire:12.1f} {baseline} {ratio}  {row.unit}"
              f"{' / ' + row.baseline_name if row.baseline_name else ''}{' / goal ' + row.goal if row.goal else ''}")


def newswire_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a ``newswire`` subprocess: this checkout's code, its own data dir, no
    politeness delay (the site is ours, on 127.0.0.1)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), NEWSWIRE_DATA_DIR=str(data_dir), NEWSWIRE_CRAWL_DELAY="0")
    env.update(extra)
    return env


def timed_run(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done


# A child's rusage peak also counts the memory it had before exec (a fork of this large process),
# so the child reports the high-water mark of its own address space (VmHWM) as it exits, and
# the largest peak of its own children (the worker processes it spawned and waited for).
_REPORT_PEAK = """
import atexit, resource, sys
from pathlib import Path
def report():
    peak = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    sys.stderr.write("PEAK_RSS_KB " + peak.split()[1] + "\\n")
    # The workers are children of multiprocessing's fork server (pipelines.batch): once it is
    # stopped and reaped, their peaks count among this process's children.
    from multiprocessing import forkserver
    try:
        forkserver._forkserver._stop()
    except FileNotFoundError:  # its socket, removed with multiprocessing's temporary directory
        pass  # after the server was reaped
    sys.stderr.write("WORKER_PEAK_RSS_KB " + str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + "\\n")
atexit.register(report)
sys.argv = ["newswire", *sys.argv[1:]]
from newswire.cli import main
main()
"""


def peak_rss_mb(newswire_args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run ``newswire ARGS``; its peak resident set (VmHWM of its own address space) in MB, the
    largest peak of its worker processes (0 without) and its wall time."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _REPORT_PEAK, *newswire_args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"newswire {' '.join(newswire_args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    peaks = dict(line.split() for line in done.stderr.splitlines() if line.startswith(("PEAK_RSS_KB", "WORKER_PEAK")))
    return int(peaks["PEAK_RSS_KB"]) / 1024, int(peaks["WORKER_PEAK_RSS_KB"]) / 1024, seconds


@contextmanager
def private_engine(home: Path, port: int = PRIVATE_ENGINE_PORT) -> Iterator[Settings]:
    """A local engine node of our own (own port, own home and data), stopped afterwards. The jars
    are linked from the default engine home so that they are not fetched again."""
    shared_jars = Settings().local_engine_home / "jars"
    home.mkdir(parents=True, exist_ok=True)
    if shared_jars.exists() and not (home / "jars").exists():
        (home / "jars").symlink_to(shared_jars)
    settings = Settings(engine_port=port, engine_home=home, search_url=f"http://127.0.0.1:{port}",
                        index_prefix="bench")
    local_engine.start(settings)
    try:
        yield settings
    finally:
        local_engine.stop(settings)
