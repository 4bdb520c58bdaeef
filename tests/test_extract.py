"""extract_page and decode_html on fixture pages of several layouts and encodings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipelines.extract import ExtractionError, decode_html, extract_page

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
SEED_URL = "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.fixture(scope="module")
def seed_page():
    return extract_page(page("tasnim_seed.html"), SEED_URL)


def test_seed_title_is_first_line_of_seed(seed_page, seed_text):
    assert seed_page.title == seed_text.splitlines()[0]


def test_seed_body_holds_every_paragraph_and_ends_with_trailers(seed_page, seed_text):
    paragraphs = seed_text.splitlines()[1:]
    body_lines = seed_page.body.split("\n")
    assert body_lines == paragraphs
    assert body_lines[-2:] == ["/ انتهى/", "المصدر : وكالة تسنيم للأنباء ."]


@pytest.mark.parametrize("chrome", [
    "الرئيسية", "عاجل: مجلس الامن", "الكلمات المفتاحية", "شارك:", "تلغرام", "أخبار ذات صلة",
    "ظريف يبحث مع نظيره التركي", "الأكثر مشاهدة", "جميع الحقوق محفوظة", "رقم الخبر",
])
def test_seed_body_has_no_page_chrome(seed_page, chrome):
    assert chrome not in seed_page.body


def test_seed_metadata(seed_page, seed_text):
    assert seed_page.published_at == datetime(2020, 2, 29, 14, 35, tzinfo=timezone(timedelta(hours=3, minutes=30)))
    assert seed_page.published_at.utcoffset() == timedelta(hours=3, minutes=30)
    assert seed_page.canonical_url == SEED_URL
    assert seed_page.html_lang == "ar"
    assert seed_page.lead == seed_text.splitlines()[1]
    assert seed_page.warnings == []


def test_sana_like_page_uses_source_timezone_for_naive_date():
    result = extract_page(page("sana_like.html"), "https://sana.sy/ar/?p=118042", timezone="Asia/Damascus")
    assert result.title == "وزير الزراعة يتفقد مشاريع الري في ريف حماة"
    assert result.published_at == datetime(2021, 3, 14, 9, 20, tzinfo=timezone.utc)
    assert result.published_at.utcoffset() == timedelta(hours=2)
    assert result.canonical_url == "https://sana.sy/ar/?p=118042"
    lines = result.body.split("\n")
    assert lines[0] == "حماة-سانا"
    assert len(lines) == 5
    assert lines[-1].startswith("وفي ختام الجولة التقى الوزير")
    # A dateline alone is not a lead.
    assert result.lead.startswith("تفقد وزير الزراعة والإصلاح الزراعي")
    for chrome in ("مواضيع ذات صلة", "افتتاح مركز لتوزيع البذار", "الأكثر قراءة", "تابعونا", "جميع الحقوق", "فيسبوك"):
        assert chrome not in result.body
    assert result.warnings == []


def test_naive_date_without_timezone_is_utc_with_warning():
    result = extract_page(page("sana_like.html"), "https://sana.sy/ar/?p=118042")
    assert result.published_at == datetime(2021, 3, 14, 11, 20, tzinfo=timezone.utc)
    assert result.warnings == ["published_at_naive_assumed_utc"]


def test_spa_page_takes_text_from_json_ld_article_body():
    result = extract_page(page("spa_like.html"), "https://www.aa.com.tr/ar/x")
    assert result.title == "أنقرة تستضيف اجتماعا إقليميا حول أمن الطاقة"
    assert result.body.split("\n")[0] == "أنقرة/ الأناضول"
    assert len(result.body.split("\n")) == 4
    assert "جار التحميل" not in result.body and "جافاسكربت" not in result.body
    assert result.published_at == datetime(2022, 5, 10, 6, 45, tzinfo=timezone.utc)
    assert result.canonical_url == "https://www.aa.com.tr/ar/%D8%A7%D9%84%D8%AF%D9%88%D9%84/2211345"
    assert result.warnings == ["body_from_json_ld"]


def test_english_page():
    result = extract_page(page("english.html"), "https://news.example.com/markets/x")
    assert result.title == "Oil prices edge higher as OPEC+ signals steady output"
    assert result.html_lang == "en"
    assert result.body.startswith("Oil prices rose slightly on Monday")
    assert "Related stories" not in result.body and "Copyright" not in result.body
    assert result.canonical_url == "https://news.example.com/markets/oil-prices-edge-higher"


KUNA_TITLE = "الكويت ترحب بنتائج اجتماع وزراء الخارجية العرب"


def test_windows_1256_page_with_meta_charset():
    result = extract_page(page("windows1256_meta.html"), "https://www.kuna.net.kw/a", timezone="Asia/Kuwait")
    assert result.title == KUNA_TITLE
    assert result.body.startswith("الكويت - 3 - 11 (كونا) -- رحبت دولة الكويت اليوم")
    assert result.published_at == datetime(2019, 11, 3, 13, 5, tzinfo=timezone.utc)
    assert "الرئيسية" not in result.body and "حقوق النشر" not in result.body


def test_windows_1256_bytes_behind_a_utf8_header_and_meta():
    result = extract_page(page("wrong_header_charset.html"), "https://www.kuna.net.kw/a",
                          content_type="text/html; charset=utf-8")
    assert result.title == KUNA_TITLE
    assert "\ufffd" not in result.body
    assert "(كونا)" in result.body


def test_decode_utf8_bytes_behind_a_single_byte_header():
    raw = page("sana_like.html")
    assert decode_html(raw, "text/html; charset=windows-1256") == raw.decode("utf-8")
    assert decode_html(raw, "text/html; charset=iso-8859-1") == raw.decode("utf-8")


def test_decode_windows_1256_declared_as_latin1():
    raw = "<html><head><meta charset='iso-8859-1'></head><body><p>وكالة الأنباء الكويتية</p></body></html>".encode("cp1256")
    assert "<p>وكالة الأنباء الكويتية</p>" in decode_html(raw)


def test_decode_keeps_a_real_latin1_page():
    raw = "<html><head><meta charset='iso-8859-1'></head><body><p>Le président a déclaré à l'AFP</p></body></html>".encode("latin-1")
    assert "Le président a déclaré à l'AFP" in decode_html(raw)


def test_decode_strips_utf8_bom_and_guesses_windows_1256_without_declaration():
    assert decode_html(b"\xef\xbb\xbf<p>\xd9\x88\xd8\xa7\xd8\xb3</p>") == "<p>واس</p>"
    assert decode_html("<p>سانا</p>".encode("cp1256")) == "<p>سانا</p>"


@pytest.mark.parametrize("raw", [b"", b"   \n\t "])
def test_empty_page(raw):
    with pytest.raises(ExtractionError) as info:
        extract_page(raw, "https://example.org/a")
    assert info.value.reason == "empty_page"


@pytest.mark.parametrize("raw, content_type", [
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj", "application/pdf"),
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj", "text/html"),
    ('{"title": "خبر", "body": "نص"}'.encode(), "application/json"),
    ('{"title": "خبر", "body": "نص"}'.encode(), "text/html; charset=utf-8"),
    (bytes(range(256)) * 4, None),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    ("مجرد نص عادي بلا أي وسوم".encode(), None),
])
def test_not_html(raw, content_type):
    with pytest.raises(ExtractionError) as info:
        extract_page(raw, "https://example.org/a", content_type=content_type)
    assert info.value.reason == "not_html"


def test_page_without_main_text():
    raw = "<html><body><nav><a href='/'>الرئيسية</a> <a href='/s'>رياضة</a></nav></body></html>".encode()
    with pytest.raises(ExtractionError) as info:
        extract_page(raw, "https://example.org/a")
    assert info.value.reason == "no_main_text"


def test_body_xpath_hint_narrows_the_main_text(seed_page):
    hinted = extract_page(page("tasnim_seed.html"), SEED_URL, hints={"body_xpath": '//div[@class="story"]'})
    assert hinted.body == seed_page.body


def test_str_input_is_accepted(seed_page):
    assert extract_page(page("tasnim_seed.html").decode("utf-8"), SEED_URL).body == seed_page.body


def test_xhtml_page_with_day_only_visible_date():
    paragraph = "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في المدينة بسعة مئتي سرير."
    raw = ('<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><body><article>'
           f"<h1>افتتاح مستشفى جديد</h1><p>{paragraph}</p><p>نشر بتاريخ 2021-03-12</p></article></body></html>").encode()
    result = extract_page(raw, "https://example.org/news/hospital", timezone="Asia/Riyadh")
    assert result.title == "افتتاح مستشفى جديد"
    assert result.body.split("\n")[0] == paragraph
    assert result.published_at == datetime(2021, 3, 11, 21, 0, tzinfo=timezone.utc)
    assert result.warnings == ["published_at_day_only"]


# ---------------------------------------------------------------------------- registry hints

HINTED_URL = "https://news.example.org/culture/2024/05/12/book-fair"
WIRE_STORY = [
    "افتتح وزير الثقافة مساء اليوم معرض الكتاب الدولي في دورته الثالثة والثلاثين بمشاركة ثلاثمئة دار نشر من أربعين دولة.",
    "وقال الوزير في كلمة الافتتاح إن المعرض يقدم هذا العام برنامجا ثقافيا يضم ندوات وأمسيات شعرية وورشا للأطفال.",
    "ويستمر المعرض عشرة أيام، ويفتح أبوابه للزوار من العاشرة صباحا حتى العاشرة مساء.",
    "/ انتهى/",
    "المصدر : وكالة الأنباء .",
]
PROMO = "وللاطلاع على مزيد من أخبار الثقافة والفنون"
HINTS = {"body_selector": "div.wire-story", "title_selector": "h1.headline", "end_markers": ["/ انتهى/"]}


def test_without_hints_the_press_review_article_wins():
    """The page this hint exists for: trafilatura alone takes the <article> press review."""
    result = extract_page(page("hinted_wire.html"), HINTED_URL)
    assert "جولة في صحف الصباح" in result.body
    assert WIRE_STORY[0] not in result.body
    assert result.title == "وكالة الأنباء | أخبار عاجلة على مدار الساعة"


def test_hints_drive_body_title_and_end_of_story():
    result = extract_page(page("hinted_wire.html"), HINTED_URL, hints=HINTS)
    assert result.body.split("\n") == WIRE_STORY
    assert result.title == "افتتاح معرض الكتاب الدولي بمشاركة ثلاثمئة دار نشر"
    assert result.lead == WIRE_STORY[0]


def test_end_marker_hint_drops_what_follows_the_story_but_keeps_its_trailers():
    selector_only = extract_page(page("hinted_wire.html"), HINTED_URL, hints={"body_selector": "div.wire-story"})
    assert selector_only.body.split("\n")[-1].startswith(PROMO)
    with_marker = extract_page(page("hinted_wire.html"), HINTED_URL,
                               hints={"body_selector": "div.wire-story", "end_markers": ["/ انتهى/"]})
    assert with_marker.body.split("\n") == WIRE_STORY


def test_unmatched_body_selector_falls_back_to_the_page_with_a_warning():
    result = extract_page(page("hinted_wire.html"), HINTED_URL, hints={"body_selector": "div.gone"})
    assert "hint_body_selector_unmatched" in result.warnings
    assert "جولة في صحف الصباح" in result.body


def test_invalid_css_hint_is_a_one_line_error():
    with pytest.raises(ValueError, match="bad CSS selector 'div..x' in extraction hints"):
        extract_page(page("hinted_wire.html"), HINTED_URL, hints={"body_selector": "div..x"})


# ---------------------------------------------------------------------------- metadata strings

def _article_page(head: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<html lang="ar"><head><meta charset="utf-8">{head}</head>'
            f"<body><article>{body}</article></body></html>").encode()


STORY = [
    "أعلنت وزارة الصحة اليوم افتتاح مستشفى جديد في المدينة بسعة مئتي سرير لخدمة سكان المنطقة الشرقية.",
    "وقال المتحدث باسم الوزارة إن المستشفى يضم أقساما للطوارئ والأطفال والعناية المركزة وغرف عمليات حديثة.",
    "وأضاف أن الوزارة تعتزم افتتاح مستشفيين آخرين قبل نهاية العام الجاري في محافظتين مجاورتين.",
]


def test_json_ld_strings_are_unescaped_even_when_double_encoded():
    json_ld = ('<script type="application/ld+json">{"@type": "NewsArticle", '
               '"headline": "الوزير: &quot;لا تراجع&quot; عن خطة &amp;quot;الإصلاح&amp;quot;", '
               '"datePublished": "2023-06-01T08:00:00+03:00"}</script>')
    result = extract_page(_article_page(json_ld, STORY), "https://example.org/a")
    assert result.title == 'الوزير: "لا تراجع" عن خطة "الإصلاح"'


def test_meta_title_is_unescaped():
    head = '<meta property="og:title" content="الأمم المتحدة &amp;quot;قلقة&amp;quot; من التصعيد">'
    result = extract_page(_article_page(head, STORY), "https://example.org/a")
    assert result.title == 'الأمم المتحدة "قلقة" من التصعيد'


# ---------------------------------------------------------------------------- boilerplate edges

def test_arabic_boilerplate_is_cut_at_both_edges_of_the_body():
    leading = ["آخر تحديث: 09:15 - 01/06/2023", "شارك الخبر على فيسبوك تويتر واتساب"]
    trailing = ["/ انتهى/", "اقرأ أيضا: وزير الصحة يتفقد مستشفى الولادة", "أضف تعليقك",
                "التعليقات المنشورة لا تعبر عن رأي الموقع وإنما عن رأي أصحابها", "جميع الحقوق محفوظة © 2023"]
    result = extract_page(_article_page("", leading + STORY + trailing), "https://example.org/a")
    assert result.body.split("\n") == STORY + ["/ انتهى/"]


def test_a_story_sentence_quoting_boilerplate_words_is_kept():
    story = STORY + ["وقال الوزير إن التعليقات على المشروع تعبر عن اهتمام المواطنين بالخدمات الصحية في "
                     "المحافظة، مؤكدا أن الوزارة ستدرس كل الاقتراحات التي وصلتها خلال الأسابيع الماضية بعناية."]
    result = extract_page(_article_page("", story), "https://example.org/a")
    assert result.body.split("\n") == story


# ---------------------------------------------------------------------------- URL date

def test_url_date_when_the_page_has_none():
    result = extract_page(_article_page("", STORY), "https://example.org/news/2022/11/07/hospital",
                          timezone="Asia/Riyadh")
    assert result.published_at == datetime(2022, 11, 6, 21, 0, tzinfo=timezone.utc)
    assert "published_at_from_url" in result.warnings


@pytest.mark.parametrize("implausible", ["1970-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])
def test_url_date_replaces_an_implausible_page_date(implausible):
    head = f'<meta property="article:published_time" content="{implausible}">'
    result = extract_page(_article_page(head, STORY), "https://example.org/news/20221107-hospital")
    assert result.published_at.date() == datetime(2022, 11, 7).date()
    assert {"published_at_from_url", "published_at_implausible_ignored"} <= set(result.warnings)


def test_a_plausible_page_date_beats_the_url_date():
    head = '<meta property="article:published_time" content="2022-11-08T10:30:00+03:00">'
    result = extract_page(_article_page(head, STORY), "https://example.org/news/2022/11/07/hospital")
    assert result.published_at == datetime(2022, 11, 8, 7, 30, tzinfo=timezone.utc)
    assert "published_at_from_url" not in result.warnings


# ---------------------------------------------------------------------------- fast mode first

def _recording_trafilatura(monkeypatch) -> list[bool]:
    """The ``fast`` flag of every trafilatura.extract call that extraction makes."""
    import trafilatura

    from pipelines import extract

    calls: list[bool] = []
    original = trafilatura.extract

    def recording(*args, **kwargs):
        calls.append(kwargs["options"].fast)
        return original(*args, **kwargs)

    monkeypatch.setattr(extract.trafilatura, "extract", recording)
    return calls


def test_a_plausible_fast_text_skips_trafilatura_full_mode(monkeypatch):
    calls = _recording_trafilatura(monkeypatch)
    result = extract_page(_article_page("", STORY), "https://example.org/a")
    assert result.body.split("\n") == STORY
    assert calls == [True]


def test_trafilatura_leaves_the_page_tree_as_it_was():
    # Metadata is read from the tree after the main text: extraction relies on trafilatura
    # pruning a copy of the tree it is given, in both of its modes.
    import lxml.html

    from pipelines.extract import _trafilatura_text

    furniture = ('<nav><ul><li><a href="/sport">الرياضة</a></li></ul></nav>'
                 '<div id="comments"><p>تعليق</p></div>')  # what trafilatura prunes from the page
    page = _article_page("<script>var shown = 1;</script>", STORY).replace(b"<body>", f"<body>{furniture}".encode())
    tree = lxml.html.fromstring(page)
    before = lxml.html.tostring(tree)
    for fast in (True, False):
        assert _trafilatura_text(tree, "https://example.org/a", fast=fast).split("\n") == STORY
        assert lxml.html.tostring(tree) == before


def test_full_mode_runs_when_the_fast_text_is_implausibly_short(monkeypatch):
    # trafilatura's fast mode drops an article laid out inside <footer> and keeps the menu;
    # the fast text then holds far fewer words than the page's paragraphs.
    menu = "".join(f"<li><a href='/s{i}'>قسم {i}</a></li>" for i in range(30))
    story = [f"{line} {number}" for number, line in enumerate(STORY * 2)]
    html = (f"<html><body><ul>{menu}</ul><footer><div>"
            + "".join(f"<p>{line}</p>" for line in story) + "</div></footer></body></html>")
    calls = _recording_trafilatura(monkeypatch)
    result = extract_page(html.encode("utf-8"), "https://example.org/a")
    assert calls == [True, False]
    assert result.body.split("\n") == story
