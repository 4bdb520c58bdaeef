"""The README's Layout section is the tree's own: regenerate with `python infra/readme_layout.py --write`."""

import importlib.util
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "infra" / "readme_layout.py"


def _layout_module():
    spec = importlib.util.spec_from_file_location("readme_layout", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_layout_section_matches_the_tree():
    layout = _layout_module()
    readme = layout.README.read_text(encoding="utf-8")
    assert readme == layout.readme_with_layout(readme), "run: python infra/readme_layout.py --write"


def test_every_folder_of_the_layout_exists_and_every_package_is_listed():
    layout = _layout_module()
    assert all((layout.REPO / folder).is_dir() for folder in layout.FOLDERS)
    tracked = subprocess.run(["git", "ls-files", "*__init__.py"], cwd=layout.REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    packages = {f"{Path(path).parent.as_posix()}/" for path in tracked if not path.startswith("tests/")}
    assert packages <= set(layout.FOLDERS)
