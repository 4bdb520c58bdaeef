"""Every mistake a user can make on the command line ends in one line on stderr and a non-zero exit.

The commands run as the installed `newswire` runs (``python -m newswire.cli``, through
:func:`newswire.cli.main`), so the error boundary is the one under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def newswire(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    environment.pop("NEWSWIRE_DEBUG", None)
    if "NEWSWIRE_DEBUG" in env:
        environment["NEWSWIRE_DEBUG"] = env["NEWSWIRE_DEBUG"]
    return subprocess.run([sys.executable, "-m", "newswire.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=120, check=False)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The only line on stderr, which must not be a traceback."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture()
def pages(tmp_path) -> dict[str, Path]:
    (tmp_path / "logo.png").write_bytes(PNG)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.0"\n', encoding="utf-8")
    return {"png": tmp_path / "logo.png", "toml": tmp_path / "pyproject.toml"}


def test_unknown_agency_lists_the_known_ids():
    result = newswire("search", "x", "--agency", "nosuch")
    line = one_error_line(result)
    assert result.returncode == 2
    assert "--agency" in line and "unknown agency 'nosuch'" in line
    assert "spa, sana, kuna" in line and "tasnim" in line


def test_unknown_language_lists_the_codes_the_language_stage_writes():
    result = newswire("search", "x", "--lang", "arabic")
    line = one_error_line(result)
    assert result.returncode == 2
    assert "unknown language 'arabic'" in line
    assert " ar fa ur ckb en fr " in line and line.rstrip(" (see --help)").endswith("und")


def test_reversed_dates_are_refused():
    result = newswire("search", "x", "--since", "2026-12-01", "--until", "2026-11-01")
    assert "since (2026-12-01) is after until (2026-11-01)" in one_error_line(result)
    assert result.returncode == 2


@pytest.mark.parametrize("kind", ["png", "toml"])
def test_extract_of_a_page_that_is_not_html_fails(pages, kind):
    result = newswire("extract", str(pages[kind]), "--url", "https://example.org/news/1")
    line = one_error_line(result)
    assert result.returncode == 1
    assert line == f"newswire extract: {pages[kind]}: extraction failed: not_html"
    assert result.stdout == ""  # no error record passed off as a result


def test_extract_of_an_unknown_source_lists_the_sources(pages):
    result = newswire("extract", str(pages["toml"]), "--url", "https://example.org/news/1", "--source", "nosuch")
    line = one_error_line(result)
    assert result.returncode == 2
    assert "unknown source 'nosuch'; known: spa, sana" in line and "tasnim" in line


def test_reprocess_mode_shows_its_choices():
    result = newswire("reprocess", "--mode", "rebuilt")
    line = one_error_line(result)
    assert result.returncode == 2
    assert "'rebuilt' is not one of 'update', 'rebuild'" in line
    assert "--mode <update|rebuild>" in newswire("reprocess", "--help").stdout


def test_a_bad_setting_names_its_variable():
    result = newswire("index", "status", NEWSWIRE_BULK_CHUNK_SIZE="abc")
    line = one_error_line(result)
    assert result.returncode == 2
    assert line.startswith("invalid setting: NEWSWIRE_BULK_CHUNK_SIZE: Input should be a valid integer")
    assert "(got 'abc')" in line


def test_a_bad_secret_setting_is_not_repeated():
    from pydantic import ValidationError

    from kernel.settings import Settings
    from newswire.cli import settings_problem

    with pytest.raises(ValidationError) as caught:
        Settings(search_password=["pw-not-to-print"], bulk_chunk_size="abc")
    problem = settings_problem(caught.value)
    assert "NEWSWIRE_SEARCH_PASSWORD:" in problem and "NEWSWIRE_BULK_CHUNK_SIZE:" in problem
    assert "pw-not-to-print" not in problem


def test_engine_down_is_one_line_and_exit_1():
    result = newswire("search", "x", NEWSWIRE_SEARCH_URL="http://127.0.0.1:9")
    line = one_error_line(result)
    assert result.returncode == 1
    assert line.startswith("newswire: search engine: GET / on http://127.0.0.1:9:")
    assert "Connection refused" in line


def test_engine_down_with_debug_shows_the_traceback():
    result = newswire("--debug", "search", "x", NEWSWIRE_SEARCH_URL="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "SearchEngineError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("newswire: search engine: GET / on http://127.0.0.1:9:")
    assert "Traceback" in newswire("search", "x", NEWSWIRE_SEARCH_URL="http://127.0.0.1:9", NEWSWIRE_DEBUG="1").stderr


def test_process_with_the_engine_down_stops_before_extracting(data_settings):
    result = newswire("process", NEWSWIRE_SEARCH_URL="http://127.0.0.1:9",
                      NEWSWIRE_DATA_DIR=str(data_settings.data_dir))
    assert one_error_line(result).startswith("newswire: search engine: GET / on http://127.0.0.1:9:")
    assert result.returncode == 1


def test_a_root_of_an_unknown_protocol_is_one_line_naming_it(data_settings):
    result = newswire("process", "--no-index", NEWSWIRE_ARCHIVE_ROOT="s4://bucket/archive",
                      NEWSWIRE_DATA_DIR=str(data_settings.data_dir))
    assert one_error_line(result) == "newswire: storage: s4://bucket/archive: ValueError: Protocol not known: s4"
    assert result.returncode == 1


def test_json_is_a_flag_not_a_value():
    refused = newswire("index", "status", "--json", "true")
    assert "Got unexpected extra argument(s) (true)" in one_error_line(refused)
    assert refused.returncode == 2
    help_text = newswire("search", "--help").stdout
    assert "  --json " in help_text and "<bool>" not in help_text
    assert "--reorder / --no-reorder" in help_text


def test_version():
    from importlib.metadata import version

    result = newswire("--version")
    assert result.returncode == 0
    assert result.stdout == f"newswire {version('newswire')}\n"
