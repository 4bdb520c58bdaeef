from __future__ import annotations

import re

import pytest

from pipelines.arabic import word_runs

# A word with its comma, a date, an underscore, a right-to-left mark inside a word, Arabic-Indic
# digits, a diacritic, and whitespace that str.split() splits on (no-break space, U+001C).
TEXT = "قال، الوزير 2015-03-14 snake_case مؤ\u200fتمر ١٤٣٦هـ مُدن\u00a0a\x1cb (واس)"


def test_word_runs_are_the_words_of_the_text():
    assert word_runs(TEXT, re.compile(r"\w+")) == [
        "قال", "الوزير", "2015", "03", "14", "snake_case", "مؤ", "تمر", "١٤٣٦هـ", "م", "دن", "a", "b", "واس"]


@pytest.mark.parametrize("runs", [r"\w+", r"[^\W_]+"])
def test_word_runs_are_the_patterns_matches(runs):
    pattern = re.compile(runs)
    assert word_runs(TEXT, pattern) == pattern.findall(TEXT)
