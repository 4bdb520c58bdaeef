"""The extraction benchmark on the restored public pages (benchmarks/extraction_pages.yaml).

Skips when the pages are not restored: run benchmarks/restore_extraction_pages.py (needs PyPI)
and install the `bench` extra. Asserts held-out figures only; the tuning part never decides a test.
"""

from __future__ import annotations

import pytest

from benchmarks import bench_extraction
from benchmarks.restore_extraction_pages import load_manifest, restored_pages
from pipelines import extract


@pytest.fixture(scope="module")
def figures():
    # Only the scored tests need the peers; the manifest and the scoring helpers are checked anyway.
    pytest.importorskip("readability", reason="install the bench extra: pip install -e '.[bench]'")
    pytest.importorskip("newspaper", reason="install the bench extra: pip install -e '.[bench]'")
    pages = restored_pages()
    if not pages:
        pytest.skip("extraction pages not restored: run benchmarks/restore_extraction_pages.py")
    return bench_extraction.report(bench_extraction.evaluate(pages))


def test_manifest_split_is_fixed_and_complete():
    pages = load_manifest()["pages"]
    assert {p["split"] for p in pages} <= {"tuning", "held_out"}
    assert all(p["language"] in ("ar", "fa", "ur") for p in pages)
    assert len({p["id"] for p in pages}) == len(pages)
    # The split is by source repository: no repository has pages in both parts.
    parts = {}
    for p in pages:
        parts.setdefault(p["repository"], set()).add(p["split"])
    assert all(len(splits) == 1 for splits in parts.values())
    assert parts == {"AndyTheFactory/newspaper4k": {"held_out"}, "markusmobius/go-htmldate": {"held_out"},
                     "markusmobius/go-trafilatura": {"tuning"}, "mediacloud/meta-extractor": {"tuning"}}
    # Every page names its package, the archive's sha256 and each file's sha256, and has gold.
    for p in pages:
        assert p["package"]["registry"] in ("pypi", "go") and len(p["package"]["archive_sha256"]) == 64
        assert all(len(spec["sha256"]) == 64 for spec in p["files"].values())
        assert set(p["gold"]) & {"body_file", "comparison_entry", "date"}
    # The MediaCloud pages carry hand-labelled body and title selectors besides their source's date.
    mediacloud = [p for p in pages if p["id"].startswith("go-htmldate-mediacloud-")]
    assert len(mediacloud) == 11 and {p["language"] for p in mediacloud} == {"ar", "fa"}
    assert all(p["gold"]["body_xpaths"] and p["gold"]["title_xpath"] and p["gold"]["date"] for p in mediacloud)
    # The tuning part: trafilatura's assabah.com.tn snippets and a hand-labelled Urdu page.
    tuning = {p["id"]: p for p in pages if p["split"] == "tuning"}
    assert set(tuning) == {"go-trafilatura-assabah-tn-sudan-interview", "mediacloud-metadata-naibaat-pk-murree-case"}
    urdu = tuning["mediacloud-metadata-naibaat-pk-murree-case"]
    assert urdu["language"] == "ur" and urdu["gold"]["body_xpaths"] and urdu["gold"]["title_xpath"]


def test_comparison_entry_gives_title_and_snippets():
    source = ('var data = map[string]comparisonEntry{\n\t"http://a.example/1": {\n'
              '\t\tFile:  "a.html",\n\t\tTitle: "عنوان \\"الخبر\\"",\n'
              '\t\tWith:  []string{"منذ بدء", "كل المجالات"},\n\t\tWithout: []string{"أضف تعليق"},\n'
              '\t},\n\t"http://a.example/2": {\n\t\tFile: "b.html",\n\t\tTitle: "ب",\n\t},\n}')
    assert bench_extraction._comparison_entry(source, "a.html") == {
        "title": 'عنوان "الخبر"', "date": None, "with": ["منذ بدء", "كل المجالات"], "without": ["أضف تعليق"]}
    assert bench_extraction._comparison_entry(source, "b.html")["title"] == "ب"


def test_snippet_is_found_as_a_token_sequence():
    body = bench_extraction.token_list("قالَ الوزير إن الخطة، منذ بدءِ العام، نجحت")
    assert bench_extraction.contains_phrase(body, "منذ بدء")
    assert not bench_extraction.contains_phrase(body, "بدء منذ")
    assert not bench_extraction.contains_phrase(body, "الوزير منذ")


def test_benchmark_scores_the_production_function(monkeypatch):
    calls = []
    monkeypatch.setattr(bench_extraction, "extract_page",
                        lambda raw, url, **kw: calls.append(url) or extract.extract_page(raw, url, **kw))
    bench_extraction.run_newswire("<html><body><article><p>" + "كلمة " * 20 + "</p></article></body></html>",
                                  "https://example.org/a", "ar")
    assert calls == ["https://example.org/a"]


_LABELLED_PAGE = """<html><head><title>الخبر - الموقع</title><script>var x = "سكربت";</script></head><body>
<div class="head"><h1>عنوان  الخبر</h1><span class="by">كتب فلان</span></div>
<div class="lead">مقدمة الخبر</div>
<div id="body"><p>الفقرة <b>الأولى</b></p><!-- تعليق مخفي -->
<div class="also">اقرأ أيضا رابط</div><p>الفقرة الثانية<br>سطر ثالث</p><script>ad("إعلان")</script></div>
<div class="share">شارك</div></body></html>"""


def _labelled(tmp_path, **gold):
    (tmp_path / "page.html").write_text(_LABELLED_PAGE, encoding="utf-8")
    return {"id": "tiny-page", "folder": tmp_path, "gold": {"date": "2020-03-17", **gold}}


def test_gold_selectors_give_the_body_nodes_text_without_the_excluded_chrome(tmp_path):
    page = _labelled(tmp_path, body_xpaths=["//div[@id='body']", "//div[@class='lead']"],
                     body_exclude_xpaths=["//div[@class='also']"], title_xpath="//div[@class='head']/h1")
    gold = bench_extraction.gold_of(page)
    # document order whatever the order of the selectors; scripts, comments and the box are gone;
    # <br> and block ends are line breaks, inline markup joins words as a reader sees them
    assert gold["body"] == "مقدمة الخبر\nالفقرة الأولى\nالفقرة الثانية\nسطر ثالث"
    assert gold["title"] == "عنوان الخبر"
    assert str(gold["day"]) == "2020-03-17"


@pytest.mark.parametrize("gold, message", [
    ({"body_xpaths": ["//div[@id='missing']"]}, "tiny-page: gold selector \"//div[@id='missing']\" matches nothing"),
    ({"body_xpaths": ["//div[@id='body']"], "body_exclude_xpaths": ["//aside"]},
     "tiny-page: gold selector '//aside' matches nothing"),
    ({"title_xpath": "//p"}, "tiny-page: gold title selector '//p' matches 2 nodes, not one"),
    ({"body_xpaths": ["//div[@id='body']", "//div[@id='body']/p"]},
     "tiny-page: gold body selectors select a node and one of its ancestors"),
    ({"body_xpaths": ["//div[@id="]}, "tiny-page: gold selector '//div[@id=' is not a valid XPath"),
])
def test_gold_selector_that_does_not_fit_the_page_is_a_one_line_error_naming_it(tmp_path, gold, message):
    with pytest.raises(bench_extraction.GoldError) as raised:
        bench_extraction.gold_of(_labelled(tmp_path, **gold))
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_token_counting():
    assert bench_extraction.tokens("قالَ الوزيرُ: ـ الوزير 2024") == {"قال": 1, "الوزير": 2, "2024": 1}


def test_held_out_arabic_bodies_reach_the_goal_f1_and_beat_bare_trafilatura(figures):
    held_out = figures["held_out"]["ar"]
    newswire, trafilatura = held_out["newswire"], held_out["trafilatura"]
    # newspaper4k's CNN page and the eight hand-labelled MediaCloud pages
    assert newswire["pages"] == 9 and newswire["body_pages"] == 9
    assert newswire["recall"] >= 0.95
    assert newswire["f1"] >= 0.97
    assert newswire["f1"] >= trafilatura["f1"]


@pytest.mark.xfail(strict=True, reason="newswire gets fewer held-out Arabic titles right than newspaper4k, "
                   "which gets all of them (see the bench output's per-page T marks)")
def test_held_out_arabic_titles_are_right(figures):
    newswire = figures["held_out"]["ar"]["newswire"]
    assert newswire["title_pages"] == 9
    assert newswire["title_accuracy"] == 1.0


def test_held_out_dates_beat_every_peer(figures):
    held_out = figures["held_out"]["all"]
    assert held_out["newswire"]["date_pages"] == 12
    assert held_out["newswire"]["date_accuracy"] >= 0.8
    assert all(held_out["newswire"]["date_accuracy"] >= s["date_accuracy"] for s in held_out.values())


def test_held_out_persian_bodies_do_not_collapse(figures):
    persian = figures["held_out"]["fa"]
    newswire = persian["newswire"]
    assert newswire["pages"] == 3 and newswire["body_pages"] == 3  # the hand-labelled MediaCloud pages
    assert newswire["min_words_vs_peers"] >= 0.8
    best_peer = max(s["f1"] for name, s in persian.items() if name != "newswire")
    assert newswire["f1"] >= 0.9 * best_peer


@pytest.mark.xfail(strict=True, reason="issue 11 goal not met on the held-out Arabic gold bodies: newswire's F1 "
                   "reaches 0.97 but trails newspaper4k's, and one page (go-htmldate-mediacloud-1588107198) "
                   "is below 0.9 (see the bench output)")
def test_held_out_arabic_goal(figures):
    held_out = figures["held_out"]["ar"]
    assert held_out["newswire"]["body_pages"] == 9
    assert held_out["newswire"]["f1"] >= 0.97
    assert held_out["newswire"]["min_page_f1"] >= 0.9
    assert all(held_out["newswire"]["f1"] > s["f1"] for name, s in held_out.items() if name != "newswire")
