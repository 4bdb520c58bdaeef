"""The one table of Arabic letter variants, and the foldings each stage derives from it.

Text is stored as published (see :mod:`pipelines.clean`); folding is for matching only. Each
consumer takes the parts it needs: attribution and dedup fold every variant, language
identification only the letters that Persian keyboards type differently (the letters that tell
the languages apart must survive), and the index analyzer's char filter the variants that the
engine's ``arabic_normalization`` does not fold itself.
"""

from __future__ import annotations

import re

TATWEEL = "\u0640"
ZWNJ, ZWJ = "\u200c", "\u200d"
DIRECTION_MARKS = "\u200e\u200f"

# Persian, Urdu and old-encoder forms of Arabic letters (Persian keyboards type ی and ک).
SCRIPT_VARIANTS = {
    "\u0671": "\u0627",  # ٱ alef wasla
    "\u06a9": "\u0643",  # ک keheh
    "\u06aa": "\u0643",  # ڪ swash kaf
    "\u06cc": "\u064a",  # ی Farsi yeh
    "\u06d2": "\u064a",  # ے yeh barree
    "\u06c0": "\u0647",  # ۀ heh with yeh above
    "\u06c1": "\u0647",  # ہ heh goal
    "\u06d5": "\u0647",  # ە ae
}
# Spellings writers use interchangeably in Arabic itself; the engine's arabic_normalization
# folds these at index time, so the char filter leaves them to it.
SPELLING_VARIANTS = {
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627",  # أ إ آ -> ا
    "\u0649": "\u064a",  # ى -> ي
    "\u0629": "\u0647",  # ة -> ه
}
LETTER_VARIANTS = SCRIPT_VARIANTS | SPELLING_VARIANTS


def replace_each(text: str, table: dict[str, str]) -> str:
    """``text.translate(str.maketrans(table))`` for a table whose replacements are never keys:
    one ``str.replace`` per character of the table that occurs. On Arabic text translate looks
    every character up in the table, several times slower than a scan per table entry."""
    for source, target in table.items():
        if source in text:
            text = text.replace(source, target)
    return text


def word_runs(text: str, runs: re.Pattern[str]) -> list[str]:
    """``runs.findall(text)`` for a pattern of runs of a character class that holds every
    character for which str.isalnum() holds and no whitespace (``\\w+``, ``[^\\W_]+``): most
    whitespace-separated tokens are one run already, isalnum() tells them apart in C, and only the
    others (a word with its comma, "2015-03-14") go through the regex."""
    words: list[str] = []
    for token in text.split():
        if token.isalnum():
            words.append(token)
        else:
            words += runs.findall(token)
    return words


def fold_letters(text: str) -> str:
    """Every letter variant to its one form; one character to one, so offsets are kept."""
    return replace_each(text, LETTER_VARIANTS)


def analyzer_char_mappings() -> list[str]:
    """The index's ``mapping`` char filter: script variants folded, invisible joiners dropped."""
    removed = TATWEEL + ZWNJ + ZWJ + DIRECTION_MARKS
    return [f"{a} => {b}" for a, b in SCRIPT_VARIANTS.items()] + [f"{mark} => " for mark in removed]
