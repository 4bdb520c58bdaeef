"""Restore the extraction benchmark's pages and gold texts from the packages that publish them.

Reads benchmarks/extraction_pages.yaml, fetches each listed package with its registry's own
client (registries are the only sources this machine reaches): pip for PyPI sdists, ``go mod
download`` for Go modules (the go command checks the module against the checksum database as
well), checks the archive's sha256, copies the listed members to var/extraction-pages/<page id>/
and checks each restored file's sha256. Each archive is fetched once for all its pages. Nothing
restored here is ever committed (var/ is ignored). Pages already restored with the right sha256
are left as they are; pages of a Go module are skipped, with one line, where no go command is
installed.

    .venv/bin/python benchmarks/restore_extraction_pages.py [--dest var/extraction-pages]

Exit status 0 when every listed page is restored and verified, 1 otherwise (one line per
problem, no traceback).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "benchmarks" / "extraction_pages.yaml"
DEFAULT_DEST = ROOT / "var" / "extraction-pages"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(path: Path = MANIFEST) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _download_pypi(package: dict, cache: Path) -> Path:
    """The package archive from PyPI through pip (sdists carry the test data wheels drop)."""
    target = cache / package["archive"]
    if not target.exists():
        spec = f"{package['name']}=={package['version']}"
        binary = ["--no-binary", ":all:"] if package["archive"].endswith((".tar.gz", ".zip")) else []
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *binary, spec,
                        "-d", str(cache), "--quiet"], check=True, capture_output=True)
    return target


def _download_go(package: dict, cache: Path) -> Path:
    """The module zip from the Go module proxy through ``go mod download``, into a private
    module cache (read-write, so the temporary folder can be removed)."""
    env = {**os.environ, "GOPATH": str(cache / "gopath"), "GOFLAGS": "-modcacherw", "GO111MODULE": "on"}
    done = subprocess.run(["go", "mod", "download", "-json", f"{package['name']}@{package['version']}"],
                          check=True, capture_output=True, env=env, cwd=cache)
    info = json.loads(done.stdout)
    if info.get("Sum") != package["module_hash"]:
        raise ValueError(f"module hash {info.get('Sum')} is not {package['module_hash']}")
    return Path(info["Zip"])


_DOWNLOADERS = {"pypi": _download_pypi, "go": _download_go}
_CLIENTS = {"pypi": None, "go": "go"}  # the command a registry's client needs besides pip


def _member(archive: Path, name: str) -> bytes:
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            handle = tar.extractfile(name)
            if handle is None:
                raise KeyError(name)
            return handle.read()
    with zipfile.ZipFile(archive) as zipped:
        return zipped.read(name)


def restore_page(page: dict, dest: Path, cache: Path) -> list[str]:
    """Restore one page's files; returns the problems found (empty when all is verified)."""
    package = page["package"]
    download = _DOWNLOADERS.get(package["registry"])
    if download is None:
        return [f"{page['id']}: registry {package['registry']!r} is not supported"]
    try:
        archive = download(package, cache)
    except subprocess.CalledProcessError as exc:
        reason = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or ["download failed"]
        return [f"{page['id']}: cannot download {package['name']}=={package['version']}: {reason[0]}"]
    except ValueError as exc:
        return [f"{page['id']}: {package['name']}@{package['version']}: {exc}"]
    if sha256(archive.read_bytes()) != package["archive_sha256"]:
        return [f"{page['id']}: {archive.name} does not match its sha256 in the manifest"]
    problems: list[str] = []
    folder = dest / page["id"]
    folder.mkdir(parents=True, exist_ok=True)
    for filename, spec in page["files"].items():
        try:
            data = _member(archive, spec["member"])
        except KeyError:
            problems.append(f"{page['id']}: {spec['member']} is not in {archive.name}")
            continue
        if sha256(data) != spec["sha256"]:
            problems.append(f"{page['id']}: {filename} does not match its sha256 in the manifest")
            continue
        (folder / filename).write_bytes(data)
    return problems


def restored_pages(dest: Path = DEFAULT_DEST, manifest: dict | None = None) -> list[dict]:
    """The manifest's pages whose files are all present under ``dest`` with the right sha256."""
    manifest = manifest or load_manifest()
    found = []
    for page in manifest["pages"]:
        folder = dest / page["id"]
        if all((folder / name).is_file() and sha256((folder / name).read_bytes()) == spec["sha256"]
               for name, spec in page["files"].items()):
            found.append({**page, "folder": folder})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args(argv)
    manifest = load_manifest()
    problems: list[str] = []
    already = {page["id"] for page in restored_pages(args.dest, manifest)}
    with tempfile.TemporaryDirectory(prefix="extraction-pages-") as tmp:
        for page in manifest["pages"]:
            if page["id"] in already:
                print(f"{page['id']}: already restored, sha256 verified")
                continue
            client = _CLIENTS.get(page["package"]["registry"])
            if client and shutil.which(client) is None:
                print(f"{page['id']}: skipped, no {client!r} command to fetch {page['package']['name']}")
                continue
            found = restore_page(page, args.dest, Path(tmp))
            problems.extend(found)
            print(f"{page['id']}: {'FAILED' if found else 'restored, sha256 verified'}")
    for problem in problems:
        print(problem, file=sys.stderr)
    skipped = manifest.get("located_not_restorable", [])
    if skipped:
        print(f"{len(skipped)} located source(s) have no registry copy and were not restored "
              "(see located_not_restorable in the manifest)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
