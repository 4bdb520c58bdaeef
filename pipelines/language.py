"""Language of an article: langdetect plus the disambiguation Arabic-script text needs.

langdetect tells scripts and Latin-script languages apart well but confuses Arabic, Persian
and Urdu on short texts and has no Kurdish profile at all. Iranian agencies' Arabic copy is
typed with Persian ی/ک letters, so those two letters prove nothing. The decision inside the
Arabic script therefore rests on letters and function words that only one language uses;
langdetect's probabilities are kept and break ties. When every distinctive letter and word of
an Arabic-script sample points to one language, langdetect could change neither the label nor
the confidence (1.0), so it is not run at all: it is the most expensive step of the decision.

Only a bounded sample of the body is read (its first paragraphs, about 600 characters): the
language of a news article is settled by its opening, and langdetect's cost grows with length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from pipelines.arabic import LETTER_VARIANTS, ZWNJ, replace_each

EXPECTED_LANGUAGES = ("ar", "fa", "ur", "en", "fr")
EXPECTED_PRIOR = 100.0
"""On a short text langdetect's n-gram evidence is thin and an English headline comes out as
Dutch or Catalan; the languages this pipeline actually meets get a higher prior, which long
texts outweigh easily (a German or Spanish paragraph is still found)."""

SAMPLE_CHARS = 600
MIN_BODY_LETTERS = 40  # below this the body alone says too little and the title is read too
SHORT_TEXT_LETTERS = 25
SHORT_LATIN_LETTERS = 60  # a headline: langdetect's choice is narrowed to the languages we expect
MIXED_SCRIPT_SHARE = 0.25
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class LanguageResult:
    language: str
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)
    """langdetect's, or ``{language: 1.0}`` when the letter and word rules alone decided."""
    flags: list[str] = field(default_factory=list)


# Letters used by exactly one of the Arabic-script languages we meet in the news.
_SORANI_LETTERS = re.compile("[\u06ce\u06c6\u0695\u06b5\u06d5]")  # ێ ۆ ڕ ڵ ە
_URDU_LETTERS = re.compile("[\u0679\u0688\u0691\u06ba\u06d2\u06d3\u06c1]")  # ٹ ڈ ڑ ں ے ۓ ہ
_PERSIAN_LETTERS = re.compile("[\u067e\u0686\u0698\u06af]")  # پ چ ژ گ (also Urdu and Sorani)
_ARABIC_LETTERS = re.compile("[\u0629\u0623\u0625\u0649\u0624]")  # ة أ إ ى ؤ
# Arabic yeh and kaf: Persian, Urdu and Sorani keyboards type ی and ک instead, so these lean
# Arabic (weakly: some Persian sites still type the Arabic forms).
_ARABIC_YEH_KAF = re.compile("[\u064a\u0643]")
_PERSIAN_YEH_KAF = re.compile("[\u06cc\u06a9]")
_ARABIC_SCRIPT = re.compile(  # letters only: digits and punctuation of the block say nothing
    "[\u0621-\u064a\u066e-\u06d3\u06d5\u06fa-\u06fc\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefc]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_TOKEN = re.compile("[\u0600-\u06ff\u200c]+")
_VOWEL_MARKS = re.compile("[\u064b-\u0652\u0670]")

# Function words that only one language uses (checked on tokens with ي/ى/ی and ك/ک unified).
_ARABIC_WORDS = frozenset(
    "في على الى إلى التي الذي الذين عن أن ان إن هذا هذه ذلك تلك قد كان كانت حيث لم لن ثم "
    "وقال وأضاف واكد وأكد خلال منذ مع أو عند لدى فيما كما اليوم امس أمس".split()
)
_PERSIAN_WORDS = frozenset(
    "است این آن را از در با برای های می که شد شده کرد کرده بود خود تا اند نیز شما آنها "
    "گفت کند کنند باید وی دیگر".split()
)
_URDU_WORDS = frozenset("ہے ہیں کے کا میں نے سے کو اور یہ وہ تھا تھی گیا کہ بھی".split())
_SORANI_WORDS = frozenset("لە بۆ کە ئەم ئەو لەگەڵ دەکات بوو یە دا".split())


_UNIFY = {**{letter: LETTER_VARIANTS[letter] for letter in "\u06cc\u0649\u06a9"}, ZWNJ: ""}


def _unify(token: str) -> str:
    """Persian and Arabic forms of yeh/kaf mean the same word here (the variants of the one table
    that do not tell Persian from Arabic)."""
    return replace_each(token, _UNIFY)


_UNIFIED_ARABIC = frozenset(_unify(w) for w in _ARABIC_WORDS)
_UNIFIED_PERSIAN = frozenset(_unify(w) for w in _PERSIAN_WORDS)
_UNIFIED_URDU = frozenset(_unify(w) for w in _URDU_WORDS)


def _sample(title: str, body: str) -> str:
    """The first paragraphs of the body up to SAMPLE_CHARS; the title joins short bodies only."""
    picked: list[str] = []
    size = 0
    for paragraph in body.splitlines():
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        picked.append(paragraph[: SAMPLE_CHARS - size])
        size += len(picked[-1])
        if size >= SAMPLE_CHARS:
            break
    text = "\n".join(picked)
    if _letter_count(text) < MIN_BODY_LETTERS:
        text = f"{title.strip()}\n{text}".strip()
    return text


def _letter_count(text: str) -> int:
    return sum(map(str.isalpha, text))


@cache
def _detector_factory():
    """langdetect's factory with its profiles and our priors, loaded on the first text that needs
    it: the profiles are slow to load, and commands that never detect a language (``newswire
    search``) import this module too."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    DetectorFactory.seed = 0  # langdetect samples randomly; a fixed seed makes it deterministic
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    prior = {lang: EXPECTED_PRIOR if lang in EXPECTED_LANGUAGES else 1.0 for lang in factory.get_lang_list()}
    return factory, prior


def load_profiles() -> None:
    """Load langdetect's profiles now rather than on the first text that needs them: processes
    forked afterwards (processing workers) share them instead of each loading its own."""
    _detector_factory()


def _langdetect(text: str) -> dict[str, float]:
    from langdetect.lang_detect_exception import LangDetectException

    factory, prior = _detector_factory()
    detector = factory.create()
    detector.set_prior_map(prior)
    detector.append(text)
    try:
        return {item.lang: round(item.prob, 4) for item in detector.get_probabilities()}
    except LangDetectException:
        return {}


@dataclass(frozen=True)
class _ScriptEvidence:
    """Counts of what each Arabic-script language alone would write."""

    arabic: float
    persian: float
    urdu: float
    sorani: float

    def best(self) -> tuple[str | None, float]:
        scores = {"ar": self.arabic, "fa": self.persian, "ur": self.urdu, "ckb": self.sorani}
        total = sum(scores.values())
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        if total == 0 or ranked[0][1] == ranked[1][1]:
            return None, 0.0
        return ranked[0][0], ranked[0][1] / total


def _evidence(text: str) -> _ScriptEvidence:
    # Marks and the unified letters are token characters, so removing them before tokenising
    # gives the same tokens (but empty ones, which count for nothing).
    tokens = _TOKEN.findall(_unify(_VOWEL_MARKS.sub("", text)))
    words = [t[1:] if t.startswith("و") and len(t) > 3 else t for t in tokens]
    definite = sum(1 for t in tokens if t.startswith(("ال", "وال", "بال", "لل", "فال")) and len(t) > 3)
    sorani_letters = len(_SORANI_LETTERS.findall(text))
    urdu_letters = len(_URDU_LETTERS.findall(text))
    return _ScriptEvidence(
        arabic=sum(t in _UNIFIED_ARABIC or w in _UNIFIED_ARABIC for t, w in zip(tokens, words))
        + 0.5 * definite + 0.5 * len(_ARABIC_LETTERS.findall(text))
        + 0.25 * len(_ARABIC_YEH_KAF.findall(text)),
        persian=sum(t in _UNIFIED_PERSIAN for t in tokens)
        + 0.5 * len(_PERSIAN_LETTERS.findall(text)) + text.count("\u200c"),
        urdu=sum(t in _UNIFIED_URDU for t in tokens) + 2 * urdu_letters,
        sorani=sum(t in _SORANI_WORDS for t in tokens) + 2 * sorani_letters,
    )


def _arabic_script_language(text: str, language: str | None, share: float,
                            probabilities: dict[str, float], short: bool) -> tuple[str, float]:
    if language is not None:
        return language, max(share, probabilities.get(language, 0.0))
    # No distinctive letter or word. A word or two typed with Arabic letters (a headline such
    # as "همسات") says nothing, and Arabic, this pipeline's language, is by far the likeliest;
    # with Persian ی/ک (Persian, or Iranian agencies' Arabic) or on longer text langdetect
    # decides among the Arabic-script languages it knows.
    scripted = {k: v for k, v in probabilities.items() if k in ("ar", "fa", "ur")}
    if (short and not _PERSIAN_YEH_KAF.search(text)) or not scripted:
        return "ar", max(probabilities.get("ar", 0.0), MIN_CONFIDENCE)
    language = max(scripted, key=scripted.get)
    return language, scripted[language]


def _latin_script_language(probabilities: dict[str, float], short: bool) -> tuple[str, float]:
    """The most probable language; for a short text, the most probable one we expect, renormalised."""
    candidates = probabilities
    if short:
        candidates = {k: v for k, v in probabilities.items() if k in EXPECTED_LANGUAGES} or probabilities
    language = max(candidates, key=candidates.get)
    return language, candidates[language] / sum(candidates.values())


def detect_language(title: str, body: str) -> LanguageResult:
    """Language of an article from a bounded sample of its body (the title for short bodies)."""
    text = _sample(title, body)
    arabic_script = len(_ARABIC_SCRIPT.findall(text))
    latin = len(_LATIN.findall(text))
    letters = arabic_script + latin
    flags: list[str] = []
    if letters == 0:
        return LanguageResult("und", 0.0, {}, ["unknown"])
    if _letter_count(text) < SHORT_TEXT_LETTERS:
        flags.append("short_text")
    if min(arabic_script, latin) / letters >= MIXED_SCRIPT_SHARE:
        flags.append("mixed")
    ruled, share = _evidence(text).best() if arabic_script >= latin else (None, 0.0)
    if ruled is not None and share == 1.0:
        return LanguageResult(ruled, 1.0, {ruled: 1.0}, flags)
    probabilities = _langdetect(text)
    if arabic_script >= latin:
        language, confidence = _arabic_script_language(text, ruled, share, probabilities,
                                                       short="short_text" in flags)
    elif probabilities:
        language, confidence = _latin_script_language(probabilities, short=latin < SHORT_LATIN_LETTERS)
    else:
        language, confidence = "und", 0.0
    if confidence < MIN_CONFIDENCE:
        flags.append("unknown")
        language = "und"
    return LanguageResult(language, round(confidence, 4), probabilities, flags)
