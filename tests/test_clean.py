"""Cleaning: invisible characters and whitespace, end markers and source trailers."""

from __future__ import annotations

import sys

import pytest

from pipelines.clean import (
    _FORMAT_CHARACTERS,
    _LINE_BREAKS,
    _SPACES,
    CleanBody,
    cut_boilerplate_edges,
    cut_trailers,
    is_boilerplate_line,
    is_trailer_line,
    normalize_text,
)


def test_seed_trailers_are_cut_and_recorded(seed_text):
    cleaned = cut_trailers(normalize_text(seed_text))

    assert cleaned.removed == ["/ انتهى/", "المصدر : وكالة تسنيم للأنباء ."]
    assert cleaned.body.endswith("معربا عن امله بإزالة الخلافات الموجودة بسرعة من خلال المحادثات.")
    assert "انتهى" not in cleaned.body and "المصدر" not in cleaned.body
    # the body mention of the agency stays: only the closing lines are trailers
    assert "وأفادت وكالة تسنيم الدولية للأنباء، بأن" in cleaned.body
    assert len(cleaned.body.split("\n")) == 9  # title + 8 paragraphs, one per line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("الســـــلام", "السلام"),  # tatweel
        ("مر\u200bحبا\u200c بكم\u200d\ufeff\u2060", "مرحبا بكم"),  # zero-width
        ("\u200fقال\u200e \u202bالوزير\u202c \u202a\u202d\u202eاليوم\u2066\u2067\u2068\u2069\u061c", "قال الوزير اليوم"),
        ("قال   الوزير\t\tإن\u00a0الخطة\u2003جاهزة", "قال الوزير إن الخطة جاهزة"),
        ("قال   الوزير  اليوم\nثم  غادر ", "قال الوزير اليوم\nثم غادر"),  # printable: plain spaces only
        ("  الفقرة الأولى  \r\n\r\n\n   الفقرة الثانية\u2029الثالثة  ", "الفقرة الأولى\nالفقرة الثانية\nالثالثة"),
        ("أإآ ة ى ؤ ئ ء", "أإآ ة ى ؤ ئ ء"),  # letters and hamza kept as written
        ("اف ب ـ لشبونة", "اف ب - لشبونة"),  # a tatweel standing alone is a dash
        ("ﻭﻟﻢ تقدم ﷲ", "ولم تقدم الله"),  # presentation forms
        ("", ""),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_every_character_the_format_line_and_space_passes_replace_is_unprintable():
    # normalize_text skips those passes over text whose lines are all printable
    printable_but_replaced = [
        hex(code) for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF and chr(code).isprintable()
        and (_FORMAT_CHARACTERS.search(chr(code)) or _LINE_BREAKS.search(chr(code)) or _SPACES.search(chr(code)))]
    assert printable_but_replaced == []


@pytest.mark.parametrize(
    ("text", "body", "removed"),
    [
        ("أعلن الوزير خطة جديدة.\n/انتهى/", "أعلن الوزير خطة جديدة.", ["/انتهى/"]),
        ("أعلن الوزير خطة جديدة.\nالمصدر: واس", "أعلن الوزير خطة جديدة.", ["المصدر: واس"]),
        ("خبر.\n(انتهى)\nمصدر الخبر: وكالات\n", "خبر.", ["(انتهى)", "مصدر الخبر: وكالات"]),
        ("خبر.\nالمصدر : وكالة تسنيم للأنباء .\n- انتهى -", "خبر.", ["المصدر : وكالة تسنيم للأنباء .", "- انتهى -"]),
        # a source line inside the text is content, not a trailer
        ("المصدر: وزارة الصحة\nأعلنت الوزارة ارتفاع الإصابات.", "المصدر: وزارة الصحة\nأعلنت الوزارة ارتفاع الإصابات.", []),
        # a text that is only a trailer keeps it: nothing is thrown away without a body left
        ("المصدر: واس", "المصدر: واس", []),
        ("انتهى الاجتماع دون اتفاق.", "انتهى الاجتماع دون اتفاق.", []),
    ],
)
def test_clean_body(text, body, removed):
    assert cut_trailers(normalize_text(text)) == CleanBody(body=body, removed=removed)


def test_trailer_lines():
    assert is_trailer_line("/ انتهى/")
    assert is_trailer_line("المصدر : وكالة تسنيم للأنباء .")
    assert not is_trailer_line("انتهى الاجتماع دون اتفاق.")
    assert not is_trailer_line("وقال المصدر إن الاجتماع انتهى.")


@pytest.mark.parametrize("line", [
    "اقرأ أيضا: وزير الصحة يتفقد مستشفى الولادة",
    "إقرأ أيضاً",
    "مواضيع ذات صلة",
    "شارك",
    "شارك الخبر على فيسبوك تويتر واتساب",
    "آخر تحديث: 09:15 - 01/06/2023",
    "تاريخ النشر 2023-06-01",
    "أضف تعليقك",
    "التعليقات المنشورة لا تعبر عن رأي الموقع وإنما عن رأي أصحابها",
    "جميع الحقوق محفوظة © 2023",
])
def test_boilerplate_lines(line):
    assert is_boilerplate_line(line)


@pytest.mark.parametrize("line", [
    "/ انتهى/",
    "المصدر : وكالة تسنيم للأنباء .",
    "شارك الوزير في الاجتماع الوزاري الذي عقد في العاصمة",
    "ونددت المنظمة بانتهاك حقوق النشر في عدد من الدول",
    "نشر في الصحيفة أن الوزير قال",
])
def test_story_and_trailer_lines_are_not_boilerplate(line):
    assert not is_boilerplate_line(line)


def test_boilerplate_cut_steps_over_trailers_and_stops_at_the_story():
    lines = ["شارك", "الرياض - واس", "قال الوزير إن الاجتماع ناقش التعاون.", "اقرأ أيضا: خبر آخر",
             "/ انتهى/", "جميع الحقوق محفوظة © 2023"]
    kept, removed = cut_boilerplate_edges(lines)
    assert kept == ["الرياض - واس", "قال الوزير إن الاجتماع ناقش التعاون.", "/ انتهى/"]
    assert removed == ["شارك", "اقرأ أيضا: خبر آخر", "جميع الحقوق محفوظة © 2023"]
