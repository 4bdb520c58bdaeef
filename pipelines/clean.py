"""Cleaning of extracted article text: invisible characters, whitespace and trailers.

Only what is noise to every reader is removed. Letters are kept exactly as written (no alef,
hamza, yeh or teh marbuta folding): search normalisation belongs to the engine's analyzer,
and the attribution tagger needs the text as published.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import regex

TATWEEL = "\u0640"
ZWNJ = "\u200c"
# Every format character (Unicode category Cf: soft hyphen, zero-width space and joiner, bidi
# controls, BOM, word joiner, Arabic letter mark, ...) is invisible and splits the word it sits
# in for search. The one kept is ZWNJ between two letters: Persian and Urdu spell with it
# (می‌خواهم), and the engine's analyzer drops it when matching; elsewhere it is noise too.
_FORMAT_CHARACTERS = regex.compile(r"(?<=\p{L})\u200c(?=\p{L})|(\p{Cf})")

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


# Page furniture that trafilatura keeps when it sits inside the article container. Only short
# lines qualify and only at the body's edges (cut_boilerplate_edges), so a sentence of the story
# that happens to quote one of these words is never touched.
_BOILERPLATE_MAX_WORDS = 25
_BOILERPLATE = re.compile(
    r"(?:"
    # comment policies and prompts: "التعليقات المنشورة لا تعبر عن رأي الموقع", "أضف تعليقك"
    r".*(?:التعليقات|تعليقات القراء|سياسة التعليق|شروط التعليق).*(?:تعبر|تمثل|تخضع|مسؤولية|رأي|نشر).*"
    r"|(?:أضف|اكتب|اترك|إضافة)\s+(?:تعليق|تعليقك|تعليقا|تعليقاً|رد)\b.*"
    # "read also" and "watch also" boxes: "اقرأ أيضا: ...", "إقرأ أيضاً", "شاهد أيضا"
    r"|(?:اقرأ|إقرأ|أقرأ|طالع|شاهد|اقرا)\s+(?:أيضا|أيضاً|أيضًا|ايضا|ايضاً|المزيد)\b.*"
    r"|(?:مواضيع|أخبار|مقالات|اخبار)\s+(?:ذات صلة|متعلقة|مشابهة)\s*[:：]?"
    # share rows: "شارك", "شارك الخبر", "مشاركة عبر", lines made only of network names
    r"|(?:شارك|شاركوا|مشاركة|انشر|تابعونا|تابعنا)(?:\s+(?:هذا|الخبر|المقال|الموضوع|على|عبر|في))*\s*[:：]?"
    r"(?:\s*(?:فيسبوك|فيس بوك|تويتر|إكس|واتساب|واتس اب|تلغرام|تيليجرام|لينكد إن|يوتيوب|انستغرام|إنستغرام|"
    r"facebook|twitter|whatsapp|telegram|linkedin|x|email|البريد الإلكتروني|طباعة)[\s|،,/-]*)*"
    # update-time and publication-time lines: "آخر تحديث: 12:30 - 14/03/2021", "تاريخ النشر 2021-03-14"
    r"|(?:آخر تحديث|اخر تحديث|تاريخ النشر|تاريخ التحديث|تم النشر|نشر في|نُشر في|نشر بتاريخ|"
    r"تم التحديث|محدث|حُدّث|التحديث الأخير)\s*[:：]?\s*.*\d.*"
    # copyright lines
    r"|.*(?:الحقوق محفوظة|(?:حقوق النشر|حقوق الطبع)\s+محفوظة|©|copyright).*"
    r")",
    re.IGNORECASE,
)


def is_boilerplate_line(line: str) -> bool:
    """True for a short line of page furniture: comment policy, "read also", share row,
    update-time line or copyright."""
    return len(line.split()) <= _BOILERPLATE_MAX_WORDS and bool(_BOILERPLATE.fullmatch(line.strip()))


def cut_boilerplate_edges(lines: list[str]) -> tuple[list[str], list[str]]:
    """Cut boilerplate lines from both edges of a body; returns (kept, removed).

    Walking in from each edge, boilerplate lines are cut and trailer lines (``/ انتهى/``,
    ``المصدر : ...``) are stepped over and kept, since cleaning and attribution read them; the
    walk stops at the first line of the story.
    """
    keep = [True] * len(lines)
    for order in (range(len(lines)), range(len(lines) - 1, -1, -1)):
        for index in order:
            if is_boilerplate_line(lines[index]):
                keep[index] = False
            elif not is_trailer_line(lines[index]):
                break
    kept = [line for line, flag in zip(lines, keep) if flag]
    return (kept, [line for line, flag in zip(lines, keep) if not flag]) if kept else (lines, [])


def normalize_text(text: str) -> str:
    """Strip tatweel and format characters (but ZWNJ inside a word), collapse spaces; one
    paragraph per line.

    A tatweel standing alone between spaces is a dash and becomes "-"; Arabic presentation
    forms become the letters they show.
    """
    text = _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    if TATWEEL in text:  # a cheap test: the dash pattern looks at every character to find none
        text = _TATWEEL_DASH.sub("-", text)
    # Every character the format, line-break and space patterns replace is unprintable (as "\n"
    # is, so lines are tested): extracted text rarely holds one, and a printable text is spared
    # those passes but the one for runs of plain spaces.
    if all(map(str.isprintable, text.split("\n"))):
        text = text.replace(TATWEEL, "")
        if "  " in text:
            text = _SPACES.sub(" ", text)
    else:
        text = _FORMAT_CHARACTERS.sub(lambda m: "" if m.group(1) else ZWNJ, text)
        # _SPACES never spans a line break, so one pass over the text does what one per line would.
        text = _SPACES.sub(" ", _LINE_BREAKS.sub("\n", text.replace(TATWEEL, "")))
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class CleanBody:
    body: str
    removed: list[str] = field(default_factory=list)
    """The trailing lines cut from the body (end marker, source line), in text order."""


def is_trailer_line(line: str) -> bool:
    """True for an end marker (``/ انتهى/``) or a source line (``المصدر : ...``)."""
    return bool(_END_MARKER.fullmatch(line) or _SOURCE_TRAILER.fullmatch(line))


def cut_trailers(normalized: str) -> CleanBody:
    """The end markers and source trailers that close a text (already through normalize_text), cut."""
    lines = normalized.split("\n")
    cut = 0
    while cut < len(lines) - 1 and is_trailer_line(lines[len(lines) - 1 - cut]):
        cut += 1
    kept, removed = lines[: len(lines) - cut], lines[len(lines) - cut :]
    return CleanBody(body="\n".join(kept), removed=removed)
