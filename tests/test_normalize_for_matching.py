"""normalize_for_matching, the text every duplicate check compares, against its definition: NFKC,
marks dropped, letters folded, lower case, and every character that is not a letter or a digit
(Unicode categories L* and N*) a separator, runs of separators one space."""

from __future__ import annotations

import sys
import unicodedata

from pipelines.dedup import (
    _FOLD,
    _MARKS,
    content_hash,
    matching_words,
    normalize_for_matching,
    story_features,
)


def by_definition(text: str) -> str:
    folded = _MARKS.sub("", unicodedata.normalize("NFKC", text)).translate(str.maketrans(_FOLD)).lower()
    kept = "".join(ch if unicodedata.category(ch)[0] in "LN" else " " for ch in folded)
    return " ".join(kept.split())


def test_every_character_is_kept_folded_or_a_separator_as_defined():
    differing = [hex(code) for code in range(sys.maxunicode + 1)
                 if not 0xD800 <= code <= 0xDFFF  # surrogates are no characters
                 and normalize_for_matching(f"x{chr(code)}y") != by_definition(f"x{chr(code)}y")]
    assert differing == []


def test_folded_letters_digits_and_separators_of_an_arabic_text():
    text = "أعلنت  وكالة الأنباء (واس) إطلاق ٣ مبادرات—في «الرياض»؛ آخر الأخبار ی ک ئ ؤ ـ"
    assert normalize_for_matching(text) == by_definition(text) == (
        "اعلنت وكاله الانباء واس اطلاق 3 مبادرات في الرياض اخر الاخبار ي ك ي و")
    assert content_hash("آخر الأخبار") == content_hash("اخر  الاخبار!")


def test_the_words_of_two_lines_are_the_first_line_s_then_the_second_s():
    # story_features matches a story text's title and body apart, on either side of a line break
    differing = [hex(code) for code in range(sys.maxunicode + 1)
                 if not 0xD800 <= code <= 0xDFFF
                 and matching_words(f"x{chr(code)}\n{chr(code)}y") != (
                     matching_words(f"x{chr(code)}") + matching_words(f"{chr(code)}y"))]
    assert differing == []


def test_story_features_of_a_title_and_body_are_those_of_their_words_together():
    title, body = "أعلنت وكالة الأنباء", "إطلاق ٣ مبادرات في «الرياض» اليوم،\nوقال الوزير إن الخطة جاهزة"
    unremembered = story_features(f"{title}\n{body}")
    content_hash(body)  # the body's words are then remembered
    features = story_features(f"{title}\n{body}")
    assert features == unremembered
    # the words, lead and exact key are those of the words together; the title is its own line's
    together = story_features(f"{title} {body}")
    assert (features.signature, features.profile.words, features.profile.lead) == (
        together.signature, together.profile.words, together.profile.lead)
    assert features.exact_key == content_hash(f"{title} {body}")
    other_body = "\n".join(reversed(body.split("\n")))
    assert features.profile.title == story_features(f"{title}\n{other_body}").profile.title != together.profile.title
