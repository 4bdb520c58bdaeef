"""detect_language: Arabic-script disambiguation, titles, short and mixed texts."""

from __future__ import annotations

import pytest

from pipelines.language import SAMPLE_CHARS, detect_language

PERSIAN = "رئیس‌جمهور ایران روز شنبه در گفت‌وگوی تلفنی با همتای روسی خود تأکید کرد که همکاری برای مبارزه با تروریسم وظیفه همه است."
URDU = "وزیر اعظم نے کہا ہے کہ حکومت مہنگائی پر قابو پانے کے لیے تمام ضروری اقدامات کرے گی۔"
SORANI = "سەرۆکی هەرێمی کوردستان لە کۆبوونەوەیەکدا لەگەڵ شاندێکی ئەمریکی باسی بارودۆخی ناوچەکەی کرد."
# Arabic as typed by Iranian agencies: Persian yeh (ی) and kaf (ک) letters, still Arabic.
IRANIAN_ARABIC = ("أكد المتحدث باسم الخارجیة الایرانیة، یوم الاثنین، ان طهران ستواصل التعاون مع "
                  "الوكالة الدولیة للطاقة الذریة فی اطار الاتفاقات الموقعة.")
ARABIC = "رحبت دولة الكويت اليوم بالنتائج التي خلص إليها الاجتماع الطارئ لمجلس جامعة الدول العربية على المستوى الوزاري."
ENGLISH = "Oil prices rose slightly on Monday after producers said they would keep output targets unchanged."


def test_seed_article_is_arabic(seed_text):
    lines = seed_text.splitlines()
    result = detect_language(lines[0], "\n".join(lines[1:]))
    assert (result.language, result.confidence, result.flags) == ("ar", 1.0, [])
    assert result.probabilities == {"ar": 1.0}


@pytest.mark.parametrize("body, language", [
    (PERSIAN, "fa"), (URDU, "ur"), (SORANI, "ckb"), (IRANIAN_ARABIC, "ar"), (ARABIC, "ar"), (ENGLISH, "en"),
])
def test_paragraph_languages(body, language):
    result = detect_language("", body)
    assert result.language == language
    assert result.flags == []
    assert result.confidence >= 0.9


def test_sorani_is_found_although_langdetect_has_no_kurdish_profile():
    result = detect_language("", SORANI)
    assert "ckb" not in result.probabilities
    assert result.language == "ckb"


@pytest.mark.parametrize("title, language", [
    ("ظريف يلتقي لافروف في موسكو", "ar"),
    ("همسات", "ar"),  # one word without a distinctive letter: Arabic, the pipeline's language
    ("ظریف یلتقی لافروف فی موسكو", "ar"),
    ("دیدار ظریف و لاوروف در مسکو", "fa"),
    ("وزیر اعظم کا دورہ چین", "ur"),
    ("سەرکەوتنی تیمی هەولێر", "ckb"),
])
def test_short_titles_alone(title, language):
    result = detect_language(title, "")
    assert result.language == language
    assert "short_text" in result.flags


def test_body_wins_over_title_and_title_helps_short_bodies():
    assert detect_language("Exclusive: live updates", ARABIC).language == "ar"
    assert detect_language("", "قال").flags == ["short_text"]
    assert detect_language(ARABIC, "قال").language == "ar"


def test_only_the_opening_of_the_body_is_read():
    arabic_opening = "\n".join([ARABIC] * 6)
    assert len(arabic_opening) > SAMPLE_CHARS
    # A long English appendix (a copied press release, say) lies past the sample, and the reverse.
    assert detect_language("", arabic_opening + "\n" + "\n".join([ENGLISH] * 40)).language == "ar"
    assert detect_language("", "\n".join([ENGLISH] * 8) + "\n" + "\n".join([ARABIC] * 40)).language == "en"


def test_mixed_scripts_are_flagged():
    result = detect_language("", "أعلنت شركة أبل اليوم عن إطلاق نظارتها الجديدة Apple Vision Pro headset in Riyadh")
    assert result.flags == ["mixed"]
    assert result.language == "ar"


@pytest.mark.parametrize("title, body", [("", ""), ("", "12345 !!! 2020/02/29"), ("---", "•••")])
def test_no_letters_is_unknown(title, body):
    result = detect_language(title, body)
    assert (result.language, result.confidence, result.flags) == ("und", 0.0, ["unknown"])


def test_same_input_same_result():
    first = [detect_language("", text) for text in (PERSIAN, URDU, SORANI, IRANIAN_ARABIC, ENGLISH)]
    second = [detect_language("", text) for text in (PERSIAN, URDU, SORANI, IRANIAN_ARABIC, ENGLISH)]
    assert first == second
