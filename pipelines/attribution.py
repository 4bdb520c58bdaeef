"""Which agency a story is *credited to*, told apart from agencies merely *cited* in it.

A credit is an agency name in a position where newspapers credit wire copy:

* ``trailer``       a closing source line: ``المصدر : وكالة تسنيم للأنباء .``, ``المصدر: واس``
* ``dateline``      place (or outlet, reporter) and agency opening a line: ``دمشق-سانا: ...``,
                    ``طهران - تسنيم - ...``, ``القاهرة - أ ش أ``, ``الجزيرة - واس:``, ``واس - الرياض``;
                    a date right after the opening place (one to three words) reads as the
                    separator, as in the Saudi Press Agency's own
                    ``بريدة 10 جمادى الآخرة 1448 هـ الموافق 21 نوفمبر 2026 م واس``: a Hijri and/or
                    Gregorian date (day, month name, year, or dd/mm/yyyy; era marks هـ / م optional;
                    two dates joined by الموافق), then the agency alone on its line or followed by
                    ``-`` or ``:``; so does a lone quote mark standing for the colon
                    (``سنغافورة "رويترز``, ``دبي"رويترز``: a line with no closing quote)
* ``byline``        a line that is only agency names: ``رويترز``, ``وكالات``, ``أ ف ب - رويترز``
* ``parenthetical`` an agency in parentheses opening a line (``الرياض (واس) -``) or closing the
                    text (``... بالمنطقة. (واس)``, ``( كونا )``), or the Gulf agencies' lead credit
                    ``أعلنت وزارة التعليم (واس) مواعيد ...``. That one counts only in the first
                    sentence of the lead paragraph (the first line of at least LEAD_MIN_WORDS words),
                    opening within LEAD_CHARS characters, directly after a subject clause of at most
                    MAX_SUBJECT_WORDS words that names no agency (no وكالة / قناة, no agency name),
                    holds no citation marker (بحسب, وفق, نقلا, عبر, أوردته, ...) and does not end on
                    a preposition (``قال لـ (واس)``, ``في تصريح ل (كونا)``): there the agency is
                    the one spoken to or quoted. A Latin name in those parentheses
                    (``بلومبيرج (Bloomberg)``) glosses the word before it and is no credit. The
                    same parentheses anywhere later in the body
                    (``وقال المتحدث لوكالة الأنباء الكويتية (كونا) إن ...``) are citations.
* ``via``           ``نقلا عن X`` or ``بالاتفاق مع X`` inside one of those positions
                    (``الوئام - نقلا عن رويترز``, ``المصدر: سكاي نيوز نقلا عن رويترز``): the outlet
                    republishes X's copy, so X is credited. ``نقلا عن`` in running text
                    (``وذكرت وكالة فارس نقلا عن مصدر``) is a citation only, and so are
                    ``بحسب`` / ``وفقا لـ`` X anywhere.

Everything else that names an agency is a citation (``cited_agencies``): unambiguous names
anywhere (``رويترز``, ``وكالة تسنيم الدولية للأنباء``), and short forms that are also ordinary
words (``واس``, ``قنا``, ``فارس``) only after ``وكالة`` or in parentheses. Words that merely
contain an abbreviation's letters (``الواسع``, ``قناة``, ``وامض``) never match: terms must be
whole tokens. A credit to unnamed agencies (``وكالات``) goes to the pseudo-agency ``agencies``,
which is never a citation. Precision comes first: a credit needs one of the positions above.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kernel.agencies import BUNDLED_AGENCIES, Agency, load_agencies
from kernel.records import Attribution
from pipelines.arabic import LETTER_VARIANTS, replace_each
from pipelines.clean import normalize_text

GENERIC_AGENCY = "agencies"

RULE_CONFIDENCE = {"trailer": 0.97, "dateline": 0.93, "byline": 0.9, "parenthetical": 0.9, "via": 0.85}
GENERIC_CONFIDENCE_PENALTY = 0.2
"""A credit to unnamed agencies says less than a named one."""
_RULE_RANK = {rule: rank for rank, rule in enumerate(RULE_CONFIDENCE)}

# Folding used for matching only; every mapping is one character to one, so offsets in the
# folded text are offsets in the original.
_NO_QUOTES = dict.fromkeys("«»\"“”'", " ")
_FOLDING = LETTER_VARIANTS | {letter: letter.lower() for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}

_SEPARATORS = r"\-–—:/|،,()\[\]"
_SEGMENTS = re.compile(rf"[^{_SEPARATORS}]+")
_VIA = re.compile(r"\s*(?<!\w)(?:نقل(?:اً|ًا|ا)\s+عن|بالاتفاق\s+مع)\s+")
# The one list of words that hand what follows to someone else ("بحسب", "وفقا ل", "نقلا عن", "أوردت"),
# in folded text; reporting verbs and the word "agency" are built around it below.
_ATTRIBUTING = r"ب?حسب|وفق|وفقا|طبقا|نقل|نقلا|نقلت|اورد|اوردت"
_REPORTING_VERBS = r"قال|قالت|ذكر|ذكرت|افاد|افادت|اوضح|اوضحت|اضاف|اضافت|اكد|اكدت|اعلن|اعلنت|اشار|اشارت|" \
    r"تابع|تابعت|كشف|كشفت|بث|بثت|نشر|نشرت"
_AGENCY_NOUN = r"[وفلب]{0,2}(?:ال)?وكال(?:ه|ات|تا|تي)"
# A segment opening with a reporting verb is a sentence ("ونقلت وكالة (رويترز)"), not a dateline.
_REPORTING = re.compile(rf"[وف]?(?:{_REPORTING_VERBS}|{_ATTRIBUTING})(?!\w)")
_AGENCY_WORD_AT_END = re.compile(rf"(?<!\w){_AGENCY_NOUN}(?:\s+(?:انباء|الانباء))?\s*$")
_TRAILER = re.compile(r"(?:المصدر|المصادر|مصدر الخبر|source)\s*[:：\-]\s*(?P<value>.*?[^\s.])[\s.]*")
_CLOSING_PARENTHESIS = re.compile(r"\(\s*(?P<term>[^()\n]{1,40}?)\s*\)[\s.]*$")
_AGENCY_WORD = r"(?:[وفلب]{0,2}وكال(?:ه|تا|تي)|[وفلب]{0,2}قناه)(?:\s+(?:انباء|الانباء))?\s+"

# Dates as wire datelines write them, in folded text (alef forms -> ا, ى -> ي, ة -> ه).
_MONTHS = (
    "محرم|صفر|ربيع (?:الاول|الاخر|الثاني)|جمادي (?:الاولي|الاول|الاخره|الاخر|الثانيه|الثاني)|رجب|شعبان|"
    "رمضان|شوال|(?:ذو|ذي) (?:القعده|الحجه)|يناير|فبراير|مارس|ابريل|مايو|يونيو|يونيه|يوليو|يوليه|اغسطس|"
    "سبتمبر|اكتوبر|نوفمبر|ديسمبر|كانون (?:الثاني|الاول)|شباط|اذار|نيسان|ايار|حزيران|تموز|اب|ايلول|"
    "تشرين (?:الاول|الثاني)"
).replace(" ", r"\s+")
_ONE_DATE = (
    rf"(?:\d{{1,2}}\s+(?:{_MONTHS})\s+\d{{4}}|\d{{1,2}}\s*[/.\-]\s*\d{{1,2}}\s*[/.\-]\s*\d{{4}})"
    r"(?:\s*(?:هـ*|هجريه|م|ميلاديه)(?!\w))?"  # هـ also before tatweel is stripped
)
_OPENING_PLACE = r"\s*[^\W\d_]+(?:\s+[^\W\d_]+){0,2}"
_DATELINE_GAPS = (
    # the date of a dated dateline: "بريده 10 جمادي الاخره 1448 ه الموافق 21 نوفمبر 2026 م واس"
    re.compile(rf"{_OPENING_PLACE}(?P<gap>\s*[\-–—:،,]?\s*{_ONE_DATE}"
               rf"(?:\s*[،,]?\s*(?:الموافق\s*(?:ل\s*)?)?{_ONE_DATE})?)"),
    # Reuters' dateline: day and the month in one or two calendars' names, the agency in
    # parentheses next: "القاهره 12 مارس اذار (رويترز) -", "بيروت 3 تموز/يوليو 2026 (رويترز) -"
    re.compile(rf"{_OPENING_PLACE}(?P<gap>\s*[\-–—:،,]?\s*\d{{1,2}}\s+(?:{_MONTHS})"
               rf"(?:\s*[/\-]?\s*(?:{_MONTHS}))?(?:\s+\d{{4}})?)(?=\s*\()"),
    # a lone quote mark standing for the colon: 'سنغافوره "رويترز', 'دبي"رويترز'
    re.compile(rf'{_OPENING_PLACE}\s*(?P<gap>")(?=[^"\n]*$)'),
)
"""What may stand between the opening place and the agency of a dateline instead of a dash."""

MAX_CONTEXT_SEGMENTS = 4
"""Place, outlet and reporter segments allowed around the agency in a dateline or byline."""
MAX_CONTEXT_WORDS = 3
MAX_NAMES_CHARS = 100
"""Longer than any agency name or list of names: running text, not looked up."""
TAIL_LINES = 3
# Possessive: a word is never split to retry, which made a plain Latin line take exponential time.
_LEFTOVERS = re.compile(r"(?:[a-z][a-z0-9'’&.]*+\s*+|[|»›‹<>•·*#]++\s*+)++(?=[^\W\d_a-z])")
"""Crawler leftovers opening a text before its dateline: slider and navigation words in Latin
script ("Next Previous", "Home News Share") and the symbols between them, in folded text."""
_LAST_SENTENCE = re.compile(r"(?<=[.!؟?])\s+(?P<rest>[^.!؟?]{1,60}?)[\s.]*$")
"""The words after a line's last sentence end: where a tail credit (``... امس. لندن- ا ف ب``) stands."""
LEAD_MIN_WORDS = 6
"""A line of fewer words is a byline or a dateline, not the lead paragraph."""
LEAD_CHARS = 120
"""A lead credit opens within the first clause, before this many characters."""
MAX_SUBJECT_WORDS = 8
"""A verb and its subject ("أعلنت وزارة التعليم"); longer, the parenthesis is inside the sentence."""
_WORD = re.compile(r"[^\W\d_]+")
_LEAD_PARENTHESIS = re.compile(r"\(\s*(?P<term>[^()\n]{1,40}?)\s*\)")
_CITATION_MARKER = re.compile(
    rf"(?<!\w)(?:[وف]?(?:{_ATTRIBUTING}|نقلته|عبر|اوردته|ذكرته|نشرته|مصدر|مصادر)|{_AGENCY_NOUN}|[وفلب]{{0,2}}(?:ال)?قناه)(?!\w)"
)
_LATIN = re.compile(r"[a-z]")
# "قال لـ (واس)", "في تصريح ل (كونا)": the agency spoken to, not the author
_PREPOSITION_AT_END = re.compile(r"(?<!\w)(?:لـ*|لل|ب|مع|عن|الي|من|في|علي|عبر|كما)\s*$")


@dataclass(frozen=True)
class AttributionResult:
    credited: list[Attribution] = field(default_factory=list)
    """Credits, primary first (named before unnamed, then by rule strength, then position)."""
    cited_agencies: list[str] = field(default_factory=list)
    """Sorted ids of agencies named in the text outside the credit evidence."""


def fold(text: str) -> str:
    """Letter variants to one form and Latin capitals to small letters (folding twice changes nothing)."""
    return replace_each(text, _FOLDING)


def term_key(term: str) -> str:
    """Lookup key of a term: folded, dots and runs of spaces as one space."""
    return _folded_key(fold(term))


def _folded_key(folded: str) -> str:
    return " ".join(replace_each(folded.replace(".", " "), _NO_QUOTES).split())


def _spelled_letters(key: str) -> str | None:
    """The letters of an abbreviation spelled in two or more short pieces ("ا ف ب", "اف ب"), else None.

    A single word is never read this way: "اب" is the month of Ab, not أ ب.
    """
    pieces = key.split()
    if len(pieces) > 1 and all(len(piece) <= 2 for piece in pieces):
        return "".join(pieces)
    return None


def _term_pattern(term: str) -> str:
    """Regex for one gazetteer term in folded text; single-letter abbreviations allow dots."""
    tokens = fold(term).split()
    if len(tokens) > 1 and all(len(token) == 1 for token in tokens):
        return r"(?:\s*\.\s*|\s+)".join(map(re.escape, tokens)) + r"\.?"
    return r"\s+".join(map(re.escape, tokens))


def _alternation(patterns: list[str]) -> str:
    """The patterns (of :func:`_term_pattern`: each opens with a literal character, escaped or not)
    as one alternation, longest first since the first alternative that matches is taken. They
    are grouped by that first character, keeping their order within a group: at a position the
    engine then checks one literal per group, not one per term, and still tries the terms that
    can match there in the same order (the others could not match), so the matches are the same."""
    groups: dict[str, list[str]] = {}
    for pattern in sorted(patterns, key=len, reverse=True):
        first = pattern[:2] if pattern.startswith("\\") else pattern[:1]  # re.escape: one backslash at most
        groups.setdefault(first, []).append(pattern[len(first):])
    return "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items())


def _citation_patterns(agencies: list[Agency]) -> tuple[re.Pattern, ...]:
    """Patterns whose group "term" is a citation: one pass each over a text, for all agencies.

    Names are whole tokens after the proclitics و ف ب ل ك (لل for names in ال-); short
    forms count only after وكالة / قناة (وكالة أنباء ...) or alone in parentheses.
    """
    names = [fold(name) for agency in agencies for name in agency.names]
    plain_names = [name for name in names if not name.startswith("ال")]
    plain = [_term_pattern(name) for name in plain_names]
    definite = [_term_pattern(name[2:]) for name in names if name.startswith("ال")]
    short = _alternation([_term_pattern(term) for agency in agencies for term in agency.short])
    # The letters a plain name's citation can open with, checked before the alternation is tried
    # at a word start: many words open with none of them (the matches are the same).
    openings = re.escape("".join(sorted(set("وفبلك") | {name.split()[0][0] for name in plain_names})))
    return (
        re.compile(rf"(?<!\w)(?=[{openings}])[وف]?[بلك]?(?P<term>{_alternation(plain)})(?!\w)"),
        re.compile(rf"(?<!\w)(?:[وف]?[بك]?ال|[وف]?لل)(?P<term>{_alternation(definite)})(?!\w)"),
        re.compile(rf"(?<!\w){_AGENCY_WORD}ل?(?P<term>{short})(?!\w)|\(\s*(?P<inner>{short})\s*\)"),
    )


_LOOKUPS_KEPT = 1 << 15


@dataclass(frozen=True)
class Gazetteer:
    agencies: dict[str, Agency]
    terms: dict[str, str]
    """term_key -> agency id, for every name and short form (and "وكالة <term>")."""
    citation_patterns: tuple[re.Pattern, ...]
    letters: dict[str, str] = field(default_factory=dict)
    """Spelled-out abbreviations by their letters alone ("افب" for أ ف ب): how "أف ب", "أ.ف ب" are found."""
    _lookups: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    """:meth:`lookup_folded`'s answers: the tagger looks up the same segments ("واس", a dateline's
    city) in text after text. Bounded by clearing."""

    @classmethod
    def from_agencies(cls, table: tuple[Agency, ...]) -> "Gazetteer":
        agencies = {agency.id: agency for agency in table}
        terms: dict[str, str] = {}
        for agency in agencies.values():
            for term in agency.names + agency.short:
                for variant in (term, f"وكالة {term}", f"وكالة أنباء {term}"):
                    previous = terms.setdefault(term_key(variant), agency.id)
                    if previous != agency.id:
                        raise ValueError(f"term {variant!r} belongs to both {previous} and {agency.id}")
        letters = {}
        for agency in agencies.values():
            for term in agency.short:
                if key := _spelled_letters(term_key(term)):
                    previous = letters.setdefault(key, agency.id)
                    if previous != agency.id:
                        raise ValueError(f"abbreviation {term!r} belongs to both {previous} and {agency.id}")
        named = [agency for agency in agencies.values() if not agency.generic]
        return cls(agencies=agencies, terms=terms, citation_patterns=_citation_patterns(named), letters=letters)

    def lookup(self, segment: str) -> str | None:
        return self.lookup_folded(fold(segment))

    def lookup_folded(self, folded: str) -> str | None:
        """:meth:`lookup` of a text already folded (the tagger's lines): it is not folded again."""
        lookups = self._lookups
        if folded not in lookups:
            if len(lookups) >= _LOOKUPS_KEPT:
                lookups.clear()
            lookups[folded] = self._lookup_key(_folded_key(folded))
        return lookups[folded]

    def _lookup_key(self, key: str) -> str | None:
        if agency_id := self.terms.get(key):
            return agency_id
        return self.letters.get(_spelled_letters(key) or "")

    def citations(self, folded: str) -> list[tuple[str, int, int]]:
        """(agency id, start, end) of every citation in a folded text."""
        found = []
        for index, pattern in enumerate(self.citation_patterns):
            for m in pattern.finditer(folded):
                term = m.group("term") or m.groupdict().get("inner") or ""
                agency_id = self.lookup_folded(("ال" if index == 1 else "") + term)
                if agency_id:
                    found.append((agency_id, m.start(), m.end()))
        return found


@lru_cache(maxsize=4)
def load_gazetteer(path: Path = BUNDLED_AGENCIES) -> Gazetteer:
    return Gazetteer.from_agencies(load_agencies(path))


ORIGINS = ("body", "byline", "metadata")
"""Where a credit is read, in order of preference for one agency: the text, the page's byline, its metadata."""
_ORIGIN_RANK = {origin: rank for rank, origin in enumerate(ORIGINS)}


@dataclass(frozen=True)
class _Credit:
    agency_id: str
    evidence_start: int
    evidence_end: int
    rule: str
    origin: str = "body"


@dataclass(frozen=True)
class _Segment:
    text: str  # folded
    start: int
    end: int
    in_parentheses: bool


def _segments(folded_line: str, offset: int) -> Iterator[_Segment]:
    """The text between separators, lazily: a dateline scan usually stops at the first one."""
    for m in _SEGMENTS.finditer(folded_line):
        raw = m.group()
        text = raw.strip()
        if text:
            yield _Segment(
                text=text,
                start=offset + m.start() + (len(raw) - len(raw.lstrip())),
                end=offset + m.end() - (len(raw) - len(raw.rstrip())),
                in_parentheses=m.start() > 0 and folded_line[m.start() - 1] == "(",
            )


def _segment_agencies(segment: _Segment, gazetteer: Gazetteer) -> list[tuple[str, bool]]:
    """Agencies a whole segment names, with whether each came through نقلا عن; [] if not a credit.

    "رويترز وأ ف ب" names two agencies joined by و; the segment is tried whole first because
    و also begins واس, وام, وفا. In "الوئام نقلا عن رويترز" the outlet before نقلا عن is context.
    """
    own, *relayed = _VIA.split(segment.text)
    found = [(agency_id, True) for piece in relayed for agency_id, _ in _named(piece, gazetteer)]
    if relayed and found and len(own.split()) <= MAX_CONTEXT_WORDS:
        return _named(own, gazetteer) + found
    return [] if relayed else _named(own, gazetteer)


def _named(text: str, gazetteer: Gazetteer) -> list[tuple[str, bool]]:
    if len(text) > MAX_NAMES_CHARS:
        return []
    if agency_id := gazetteer.lookup_folded(text):
        return [(agency_id, False)]
    pieces = re.split(r"\s+و(?=\S)", text)
    found = [gazetteer.lookup_folded(piece) or gazetteer.lookup_folded("و" + piece) for piece in pieces]
    if len(pieces) > 1 and all(found):
        return [(agency_id, False) for agency_id in found]
    return []


def _credit_line(folded_line: str, offset: int, gazetteer: Gazetteer) -> list[_Credit]:
    """Credits in the segments opening a line: a dateline, a byline or an opening parenthesis.

    The scan stops at the first segment longer than a place or a name, or opening with a
    reporting verb: the running text; a colon after the agency ends the scan too. What precedes
    the running text is a credit only when it ends on a dateline separator (``-`` or ``:``).
    """
    folded_line = _gap_as_dash(folded_line)
    found: list[tuple[_Segment, str, bool]] = []
    scanned: list[_Segment] = []
    context = 0
    for segment in _segments(folded_line, offset):
        separator = folded_line[scanned[-1].end - offset:segment.start - offset] if scanned else ""
        if found and ":" in separator:
            break  # "باريس - أ.ف.ب: فتحت النيابة تحقيقا." the colon closes the dateline
        agencies = _segment_agencies(segment, gazetteer)
        if not agencies and (len(segment.text.split()) > MAX_CONTEXT_WORDS or _is_sentence(segment.text)):
            if not re.search(r"[\-–—:]", separator):
                return []
            break
        if not agencies:
            context += 1
            if context > MAX_CONTEXT_SEGMENTS:
                return []
        found.extend((segment, agency_id, via) for agency_id, via in agencies)
        scanned.append(segment)
    found = _drop_places(found, gazetteer)
    if not found:
        return []
    start, end = scanned[0].start, scanned[-1].end
    if scanned[0].in_parentheses:
        start = folded_line.rindex("(", 0, start - offset) + offset
    if scanned[-1].in_parentheses and folded_line[end - offset:].lstrip().startswith(")"):
        end = folded_line.index(")", end - offset) + offset + 1
    credits = []
    for segment, agency_id, via in found:
        if segment.in_parentheses:
            rule = "parenthetical"
        elif via:
            rule = "via"
        else:
            rule = "dateline" if len(found) < len(scanned) else "byline"
        credits.append(_Credit(agency_id, start, end, rule))
    return credits


def _gap_as_dash(folded_line: str) -> str:
    """The line with a date or lone quote after its opening place turned into a dash (same length).

    "بريده 10 جمادي الاخره 1448 ه الموافق 21 نوفمبر 2026 م واس" then scans as "بريده - واس";
    offsets are kept, so the evidence spans the date too.
    """
    for gap in _DATELINE_GAPS:
        if m := gap.match(folded_line):
            start, end = m.span("gap")
            return folded_line[:start] + "-".ljust(end - start) + folded_line[end:]
    return folded_line


def _is_sentence(segment: str) -> bool:
    return bool(_REPORTING.match(segment) or _AGENCY_WORD_AT_END.search(segment))


def _names_agency_at_end(text: str, agency_id: str, gazetteer: Gazetteer) -> bool:
    end = len(text.rstrip())
    return any(cited == agency_id and cited_end == end for cited, _, cited_end in gazetteer.citations(text))


def _drop_places(found: list[tuple[_Segment, str, bool]], gazetteer: Gazetteer) -> list[tuple[_Segment, str, bool]]:
    """In "قنا - أ ش أ" the first segment is the city of Qena, not a second agency."""
    if len(found) < 2:
        return found
    first_segment, first_id, _ = found[0]
    places = {term_key(place) for place in gazetteer.agencies[first_id].places}
    if _folded_key(first_segment.text) in places:
        return found[1:]
    return found


def _trailer(folded_line: str, offset: int, gazetteer: Gazetteer) -> list[_Credit]:
    m = _TRAILER.fullmatch(folded_line)
    if not m:
        return []
    value_start = m.start("value")
    credits = []
    for segment in _segments(m.group("value"), offset + value_start):
        for agency_id, via in _segment_agencies(segment, gazetteer):
            credits.append(_Credit(agency_id, offset, offset + m.end("value"), "via" if via else "trailer"))
    return credits


def _closing_parenthesis(folded_line: str, offset: int, gazetteer: Gazetteer) -> list[_Credit]:
    m = _CLOSING_PARENTHESIS.search(folded_line)
    if not m or not (agency_id := gazetteer.lookup_folded(m.group("term"))):
        return []
    before = folded_line[:m.start()]
    if _AGENCY_WORD_AT_END.search(before) or _names_agency_at_end(before, agency_id, gazetteer):
        return []  # "بحسب وكالة الأنباء القطرية (قنا)." spells out a citation
    end = folded_line.rindex(")") + 1
    return [_Credit(agency_id, offset + m.start(), offset + end, "parenthetical")]


def _lead_parenthesis(folded_line: str, offset: int, gazetteer: Gazetteer) -> list[_Credit]:
    """``اعلنت وزاره التعليم (واس) مواعيد ...``: the lead's credit right after its subject clause."""
    sentence = re.split(r"[.!؟?](?:\s|$)", folded_line, maxsplit=1)[0]
    m = _LEAD_PARENTHESIS.search(sentence)
    if not m or m.start() > LEAD_CHARS or _LATIN.search(m.group("term")):
        return []  # "خبر صدر عن بلومبيرج (Bloomberg)": Latin in parentheses glosses the name before
    if not (agency_id := gazetteer.lookup_folded(m.group("term"))):
        return []
    subject = sentence[:m.start()]
    if (len(_WORD.findall(subject)) > MAX_SUBJECT_WORDS or _CITATION_MARKER.search(subject)
            or _PREPOSITION_AT_END.search(subject) or gazetteer.citations(subject)):
        return []
    return [_Credit(agency_id, offset + m.start(), offset + m.end(), "parenthetical")]


def _find_credits(folded: str, gazetteer: Gazetteer) -> list[_Credit]:
    lines = [(m.group(), m.start()) for m in re.finditer(r"[^\n]+", folded)]
    tail = {offset for _, offset in lines[-TAIL_LINES:]}
    lead = next((offset for line, offset in lines if len(_WORD.findall(line)) >= LEAD_MIN_WORDS), None)
    credits: list[_Credit] = []
    for whole_line, line_start in lines:
        line, offset = whole_line, line_start
        if (lead is None or line_start <= lead) and (m := _LEFTOVERS.match(line)):
            line, offset = line[m.end():], offset + m.end()  # "Next Previous عين اليوم – واس"
        if line_start == lead:
            credits.extend(_lead_parenthesis(line, offset, gazetteer))
        if line_start in tail and (found := _trailer(line, offset, gazetteer)):
            credits.extend(found)
            continue
        found = _credit_line(line, offset, gazetteer)
        if not found and line_start in tail:
            found = _closing_parenthesis(line, offset, gazetteer) or _tail_credit(line, offset, gazetteer)
        credits.extend(found)
    return credits


def _tail_credit(folded_line: str, offset: int, gazetteer: Gazetteer) -> list[_Credit]:
    """``... في الموسم المقبل. لندن- ا ف ب``: a place-and-agency credit after the last sentence."""
    if not (m := _LAST_SENTENCE.search(folded_line)):
        return []
    return _credit_line(m.group("rest"), offset + m.start("rest"), gazetteer)


def _primary_first(credits: list[_Credit], gazetteer: Gazetteer) -> list[_Credit]:
    """One credit per agency (the strongest evidence), named agencies before unnamed ones."""
    def strength(credit: _Credit) -> tuple:
        return (gazetteer.agencies[credit.agency_id].generic, _ORIGIN_RANK[credit.origin], _RULE_RANK[credit.rule],
                credit.evidence_start)

    best: dict[str, _Credit] = {}
    for credit in sorted(credits, key=strength):
        best.setdefault(credit.agency_id, credit)
    return sorted(best.values(), key=strength)


def _cited(folded: str, folded_title: str, excluded: list[tuple[int, int]], gazetteer: Gazetteer) -> list[str]:
    def outside_credits(start: int, end: int) -> bool:
        return not any(start < ex_end and ex_start < end for ex_start, ex_end in excluded)

    in_text = {agency_id for agency_id, start, end in gazetteer.citations(folded) if outside_credits(start, end)}
    in_title = {agency_id for agency_id, _, _ in gazetteer.citations(folded_title)}
    return sorted(in_text | in_title)


def _attribution(credit: _Credit, sources: dict[str, str], gazetteer: Gazetteer) -> Attribution:
    agency = gazetteer.agencies[credit.agency_id]
    confidence = RULE_CONFIDENCE[credit.rule] - (GENERIC_CONFIDENCE_PENALTY if agency.generic else 0.0)
    return Attribution(
        agency_id=agency.id, name_ar=agency.name_ar, name_en=agency.name_en,
        evidence=sources[credit.origin][credit.evidence_start:credit.evidence_end], position=credit.evidence_start,
        rule=credit.rule, confidence=round(confidence, 2), origin=credit.origin,
    )


def _credit_lines(text: str, origin: str, gazetteer: Gazetteer) -> list[_Credit]:
    """Credits of a byline or metadata author: each of its lines read as a dateline or byline."""
    return [
        _Credit(credit.agency_id, credit.evidence_start, credit.evidence_end, credit.rule, origin)
        for m in re.finditer(r"[^\n]+", fold(text))
        for credit in _credit_line(m.group(), m.start(), gazetteer)
    ]


def tag_attribution(text: str, title: str = "", byline: str = "", metadata: str = "",
                    gazetteer: Gazetteer | None = None) -> AttributionResult:
    """Credited agencies (with evidence, its offset and where it was read) and cited agencies.

    ``text`` is the normalised text *including* its trailers (see pipelines.clean); the title
    only contributes citations. ``byline`` is the page's byline shown above the text
    (``الرياض - واس``) and ``metadata`` the author names its JSON-LD or meta tags give (one a
    line), both as plain text with HTML entities decoded. They are normalised here like the text
    and read only as credit lines (a dateline or a list of agency names), never as running text.
    Each credit's ``origin`` says which of the three it came from, and its position is an offset
    in that (normalised) string. ``gazetteer`` defaults to the bundled agency table's.
    """
    byline, metadata = normalize_text(byline), normalize_text(metadata)
    gazetteer = gazetteer or load_gazetteer()
    folded = fold(text)
    found = _find_credits(folded, gazetteer)
    outside = _credit_lines(byline, "byline", gazetteer) + _credit_lines(metadata, "metadata", gazetteer)
    credits = _primary_first(found + outside, gazetteer)
    evidence_spans = [(credit.evidence_start, credit.evidence_end) for credit in found]
    sources = {"body": text, "byline": byline, "metadata": metadata}
    return AttributionResult(
        credited=[_attribution(credit, sources, gazetteer) for credit in credits],
        cited_agencies=_cited(folded, fold(title), evidence_spans, gazetteer),
    )


def agency_names(agency_id: str) -> tuple[str, str]:
    """(Arabic name, English name) of an agency id from the gazetteer."""
    agency = load_gazetteer().agencies[agency_id]
    return agency.name_ar, agency.name_en
