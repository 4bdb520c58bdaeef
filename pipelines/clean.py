"""Cleaning of extracted article text: invisible characters, whitespace and trailers.

Only what is noise to every reader is removed. Letters are kept exactly as written (no alef,
hamza, yeh or teh marbuta folding): search normalisation belongs to the engine's analyzer,
and the attribution tagger needs the text as published.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

TATWEEL = "\u0640"
ZERO_WIDTH = "\u200b\u200c\u200d\ufeff\u2060"
BIDI_CONTROLS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
_DELETE = str.maketrans(dict.fromkeys(TATWEEL + ZERO_WIDTH + BIDI_CONTROLS))

# Tabs, no-break and typographic spaces become a plain space; line separators a newline.
_SPACES = re.compile(r"[\t\x0b\x0c\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+| {2,}")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
# Presentation forms (ﻭﻟﻢ, ﷲ) are glyph variants from old encoders: back to the letters they show.
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufefe]+")
# A tatweel standing alone between spaces is used as a dash ("اف ب ـ لشبونة"), not to stretch a word.
_TATWEEL_DASH = re.compile(rf"(?<!\S){TATWEEL}+(?!\S)")

# "/ انتهى/", "/انتهى/", "(انتهى)", "- انتهى -", "انتهى."
_END_MARKER = re.compile(r"[/(\-–—]?\s*انتهى\s*[/)\-–—]?\s*\.?")
# "المصدر : وكالة تسنيم للأنباء .", "المصدر: واس", "مصدر الخبر: وكالات"
_SOURCE_TRAILER = re.compile(r"(?:المصدر|المصادر|مصدر الخبر)\s*[:：]\s*\S.{0,100}")


def normalize_text(text: str) -> str:
    """Strip tatweel, zero-width and bidi controls, collapse spaces; one paragraph per line.

    A tatweel standing alone between spaces is a dash and becomes "-"; Arabic presentation
    forms become the letters they show.
    """
    text = _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _LINE_BREAKS.sub("\n", _TATWEEL_DASH.sub("-", text).translate(_DELETE))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class CleanBody:
    body: str
    removed: list[str] = field(default_factory=list)
    """The trailing lines cut from the body (end marker, source line), in text order."""


def is_trailer_line(line: str) -> bool:
    """True for an end marker (``/ انتهى/``) or a source line (``المصدر : ...``)."""
    return bool(_END_MARKER.fullmatch(line) or _SOURCE_TRAILER.fullmatch(line))


def clean_body(text: str) -> CleanBody:
    """normalize_text, then cut the end markers and source trailers that close the text."""
    lines = normalize_text(text).split("\n")
    cut = 0
    while cut < len(lines) - 1 and is_trailer_line(lines[len(lines) - 1 - cut]):
        cut += 1
    kept, removed = lines[: len(lines) - cut], lines[len(lines) - cut :]
    return CleanBody(body="\n".join(kept), removed=removed)
