"""The README's first command: the main job on the embedded default, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SEED_TITLE = "في اتصاله هاتفيا بنظيره الروسي .. روحاني: التعاون لمحاربة الارهاب واجبنا جميعا"


@pytest.mark.engine
def test_demo_crawls_processes_and_finds_the_seed(engine_settings, tmp_path):
    env = dict(os.environ, NEWSWIRE_DATA_DIR=str(tmp_path / "data"),
               NEWSWIRE_INDEX_PREFIX=f"{engine_settings.index_prefix}-demo", COLUMNS="200")
    run = subprocess.run([sys.executable, "-m", "newswire.cli", "demo"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # It ends with search results on stdout (progress and summaries on stderr), the seed article
    # first for the demo query.
    assert "search: الإرهاب في إدلب" in run.stderr
    first_hit = run.stdout.split("\n2. ", 1)[0]
    assert first_hit.startswith("1. tasnim") and SEED_TITLE in first_hit

    # Every demo article made it into the index, credited and with a language.
    listing = subprocess.run(
        [sys.executable, "-m", "newswire.cli", "search", "", "--size", "100", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=True)
    hits = json.loads(listing.stdout)["hits"]
    assert len(hits) >= 16
    assert {hit["source_id"] for hit in hits} == {"tasnim", "spa", "sana"}
    assert all(hit["language"] == "ar" for hit in hits)
    assert sum(1 for hit in hits if hit["agency"]) >= 15

    # Running the main job again crawls nothing new and changes nothing.
    again = subprocess.run([sys.executable, "-m", "newswire.cli", "demo"], env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    listing_again = subprocess.run(
        [sys.executable, "-m", "newswire.cli", "search", "", "--size", "100", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=True)
    assert len(json.loads(listing_again.stdout)["hits"]) == len(hits)
