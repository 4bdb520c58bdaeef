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
