"""Exact and near-duplicate detection: the same wire story reaching us through several outlets.

Exact duplicates share :func:`content_hash`, computed over text normalised so that trivially
re-typed copies (another hamza or yaa form, diacritics, punctuation, spacing, digits) match.
Near duplicates (a paper trims a paragraph, rewrites the dateline or rewords the lead) are found
in two steps:

1. MinHash signatures over the set of a text's words and LSH propose candidate pairs whose
   estimated word-set Jaccard similarity reaches ``CANDIDATE_THRESHOLD``. Words are lightly
   stemmed first (a leading conjunction, then a preposition or article, and one inflection
   suffix dropped), so "وأعلنت المسؤولة" and "أعلن المسؤولين" share words, and a figure keeps
   only its digits, because papers write the same year or count as "1436هـ", "1436" or "و30".
   Word sets rather than word shingles, because a rewritten copy keeps the story's words but
   few of its word sequences.
2. Each candidate pair is confirmed on the words only a few texts of the batch use (names,
   places, figures), each weighing 1 / the number of texts that use it. Wording shared by many
   texts (the template of a royal congratulation cable, of an execution statement, of a relief-
   flight report) then counts for little and the names that differ count for much, so templated
   cables about different countries stay apart. A word no other text of the batch uses weighs
   nothing: it can be shared with no text, and a copy's own rewording must not count against it.
   A pair is one story when the rarest words of one lead (who, where: the title and first
   words) are found in the other text, and then either the two leads largely agree and most
   of the lighter text's rare words are found in the other, or the rare words agree almost
   entirely (a copy whose lead was rewritten), or the titles agree, most of the lead's rarest
   words are found and most rare words are contained (a rewritten lead under the same headline:
   papers rewrite an agency's first sentence more often than its headline's who and what).
   Whatever the words say, a pair is two stories when the figures the two texts write beside
   the same words (digits, or number words up to ten) mostly differ: the next convoy of a
   relief operation or another execution statement repeats its template around another count,
   ordinal or date, where copies of one story agree.

Word rarity is the document frequency in the batch, known only once the batch is complete, so
candidates are confirmed in :meth:`StoryClusterer.clusters`. Confirmed pairs are then grouped
by :func:`story_groups` (stars around the best-connected copies, joined when densely linked)
rather than connected components, so that a round-up or a text bundling two stories does not
chain them together. A group's ``story_cluster`` is its smallest member id, and the same batch
gives the same ids whatever order it arrives in. What is kept of a record (the MinHash
signature, its LSH band keys, sorted arrays of 32-bit word hashes: at most ``PROFILE_WORDS``
plus the lead, and of 64-bit figure places; never the text) goes to a scratch SQLite store on
disk, not to memory.

Rarity needs a batch: with only a handful of texts every word is rare and the check mostly
repeats step 1; templated texts copied by many papers on one day can still pass it, because
their names are then about as frequent as their template. How well the rules do is printed by
``newswire eval-dedup`` (tuning and held-out pairs) and quoted, dated, in the README.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import unicodedata
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from pipelines.arabic import LETTER_VARIANTS, replace_each, word_runs

if TYPE_CHECKING:
    from datasketch import LeanMinHash

NUM_PERM = 128
CANDIDATE_THRESHOLD = 0.25
"""Estimated Jaccard similarity of two texts' word sets from which a pair is checked on its rare
words."""
LSH_THRESHOLD = 0.2
"""LSH candidate threshold: LSH misses some pairs just above its own threshold, and every
candidate is checked against the estimated Jaccard anyway."""
LEAD_OVERLAP = 0.55
"""Jaccard similarity of the two leads' word sets from which the leads agree."""
LEAD_RARE_CONTAINMENT = 0.5
"""Share of the lighter text's rare-word weight (each word weighs 1 / its document frequency in
the batch) found in the other text, from which two texts whose leads agree are one story."""
RARE_WORD_AGREEMENT = 0.7
"""Share of the pair's rare-word weight found in both texts, from which a pair is one story
whatever its leads say."""
RARE_WORD_CONTAINMENT = 0.9
"""Share of the lighter text's rare-word weight found in the other, from which a pair is one
story too: a trimmed copy with a rewritten lead."""
MIN_LENGTH_RATIO = 0.3
"""That containment counts only between texts whose distinct-word counts are within this ratio:
a round-up of several stories contains a short one without being it."""
MIN_WORDS = 7
"""Texts with fewer distinct words stay alone, even when equal: an empty body or a caption such
as "صور" says nothing about which story a record tells."""
PROFILE_WORDS = 1024
"""At most this many distinct words per text are kept for the rare-word check (4 bytes each)."""
LEAD_WORDS = 40
"""The lead: the first words of a text, where a wire story names who did what where."""
LEAD_RAREST = 4
"""How many of the lead's rarest words are looked up in the other text."""
LEAD_AGREEMENT = 0.5
"""Share of one lead's rarest words that the other text must contain, for at least one of the
two texts: templated cables share everything but the names in their leads."""
TITLE_OVERLAP = 0.25
"""Jaccard similarity of the two titles' word sets from which the titles agree."""
TITLE_RARE_CONTAINMENT = 0.75
"""Share of the lighter text's rare-word weight found in the other, from which two texts whose
titles agree and whose rarest lead words mostly match are one story: a copy whose lead was
rewritten keeps the headline's who and what."""
TITLE_LEAD_AGREEMENT = 0.75
"""Share of one lead's rarest words found in the other text that title agreement also needs."""
GROUP_LINK_DENSITY = 0.5
"""Two groups are one story when at least this share of the pairs across them is confirmed."""
FIGURE_DISAGREEMENT = 0.6
"""Share of the words beside which both texts write a figure where their figures differ, above
which a pair is two stories whatever its words say: items of one template (the next convoy of a
relief operation, another execution statement) differ in the count, the ordinal or the date they
put in the same place, where copies of one story agree."""
FIGURE_WORDS = 1024
"""Figures are looked for among the first this many words of a text."""

# Hamza seats on yeh and waw vary between copies of one story too; digits of either script match.
_FOLD = {
    **LETTER_VARIANTS, "ئ": "ي", "ؤ": "و",
    **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
}
# Runs of letters and digits (Unicode categories L* and N*): a character is in [^\W_] exactly when
# str.isalnum() holds for it, and no whitespace character is.
_LETTERS_OR_DIGITS = re.compile(r"[^\W_]+")
_MARKS = re.compile("[\u064b-\u065f\u0670\u0640\u06d6-\u06ed\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _words(text: str) -> list[str]:
    return word_runs(replace_each(_MARKS.sub("", unicodedata.normalize("NFKC", text)), _FOLD).lower(),
                     _LETTERS_OR_DIGITS)


# A record's body is matched twice in a row: for its content hash (the stage sequence), then for
# its story features, after its title (see story_features). The last text's words are kept.
_last_matched: dict[str, tuple[str, ...]] = {}


def matching_words(text: str) -> tuple[str, ...]:
    """The words of :func:`normalize_for_matching`'s text, without joining and splitting them again."""
    words = _last_matched.get(text)
    if words is None:
        _last_matched.clear()
        words = _last_matched[text] = tuple(_words(text))
    return words


def normalize_for_matching(text: str) -> str:
    """Letters folded to one form, diacritics/tatweel/controls and punctuation dropped, one space."""
    return " ".join(matching_words(text))


def content_hash(text: str) -> str:
    """Exact-duplicate key: SHA-256 (hex) of the matching-normalised text."""
    return _digest(normalize_for_matching(text))


def _digest(normalized: str) -> str:
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


# Longest first; after normalisation taa marbuta is ه and alef maqsura is ي.
_CONJUNCTIONS = ("و", "ف")
_PREFIXES = ("بال", "كال", "لل", "ال", "ب", "ل")
_SUFFIXES = ("يتين", "يتان", "يات", "يين", "يون", "تين", "تان", "تها", "تهم", "ته",
             "ات", "ون", "ين", "ان", "وا", "ها", "هم", "يه", "ه", "ي", "ت")
_STEM_LETTERS = 3
# A figure keeps its digits only: "و30", "ال12" and "1436ه" or "2015م" (a Hijri or Gregorian year)
# are the figures "30", "12", "1436" and "2015".
_NUMBER = re.compile(r"\D*(\d(?:.*\d)?)\D*")


# Number words from one to ten, cardinal and ordinal, masculine and feminine: "خمس قاطرات" and "5
# قاطرات" give one figure, "الدفعة الثانية" and "الدفعة الثالثة" two. Looked up after a conjunction
# and an article are stripped, not stemmed: the stem of a ten ("ثلاثين") is its unit's.
_NUMBER_WORDS = {word: str(value) for value, forms in enumerate((
    "واحد واحدة أول أولى", "اثنان اثنين اثنتان اثنتين ثاني ثانية", "ثلاث ثلاثة ثالث ثالثة",
    "أربع أربعة رابع رابعة", "خمس خمسة خامس خامسة", "ست ستة سادس سادسة", "سبع سبعة سابع سابعة",
    "ثمان ثماني ثمانية ثامن ثامنة", "تسع تسعة تاسع تاسعة", "عشر عشرة عاشر عاشرة"), start=1)
    for word in _words(forms)}
_DIGIT_RUNS = re.compile(r"\d+")


def _strip_prefix(word: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if word.startswith(prefix) and len(word) - len(prefix) >= _STEM_LETTERS:
            return word[len(prefix):]
    return word


def _figures(word: str) -> list[str]:
    """The figures a matching-normalised word writes: each run of digits as a number (some papers
    write 12.5 as "12ر5" and 22,000 as "22ر000", one word), or a number word's value; none for
    other words."""
    if _NUMBER.fullmatch(word):
        return [str(int(run)) for run in _DIGIT_RUNS.findall(word)]
    value = _NUMBER_WORDS.get(_strip_prefix(_strip_prefix(word, _CONJUNCTIONS), _PREFIXES))
    return [value] if value else []


# The figures of each word seen, cached as its stem is (see _stemmed_cache): most words are none.
_figures_cache: dict[str, list[str]] = {}


def _figure_slots(words: tuple[str, ...] | list[str]) -> list[int]:
    """Where a text writes its figures: for each figure among its first FIGURE_WORDS words, the
    CRC-32 of the stem of the word before it (marked as before) and of the word after it (marked
    as after), each shifted left 32 bits beside the figure's CRC-32. A neighbour that is a figure itself (a
    date's day beside its month) is no place: its own figure may differ between copies too."""
    words = words[:FIGURE_WORDS]
    if len(_figures_cache) >= _STEMMED_WORDS:
        _figures_cache.clear()
    known = _figures_cache.get
    figures = [found if (found := known(word)) is not None else _figures_cache.setdefault(word, _figures(word))
               for word in words]
    slots = []
    for position in [position for position, found in enumerate(figures) if found]:
        for side, neighbour in ((b"<", position - 1), (b">", position + 1)):
            if 0 <= neighbour < len(words) and not figures[neighbour]:
                stem = (_stemmed_cache.get(words[neighbour]) or _stem_entry(words[neighbour]))[0]
                place = zlib.crc32(side + stem) << 32
                slots.extend(place | zlib.crc32(figure.encode("ascii")) for figure in figures[position])
    return slots


def _stem(word: str) -> str:
    """Drop a leading conjunction, then a preposition or article, and one inflection suffix
    (plural, dual, feminine, possessive, a past verb's feminine or plural ending), keeping at
    least three letters: a light stem, so that a copy that says "وبالمدينة", "المسؤولين" or
    "أكدت" where another says "المدينة", "مسؤولون" or "أكد" shares those words. Broken plurals
    and a word's own leading و (وزير) are beyond it."""
    number = _NUMBER.fullmatch(word)
    if number:
        return number.group(1)
    word = _strip_prefix(_strip_prefix(word, _CONJUNCTIONS), _PREFIXES)
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _STEM_LETTERS:
            return word[:-len(suffix)]
    return word


# News repeats its words: most words of a text were stemmed and hashed for an earlier text. The
# cache is a plain dict (cheaper per lookup than lru_cache, and looked up without a call per
# word), bounded by clearing it when it holds the words of about a thousand articles.
_STEMMED_WORDS = 1 << 16
_stemmed_cache: dict[str, tuple[bytes, int, int]] = {}


def _stem_entry(word: str) -> tuple[bytes, int, int]:
    """A matching-normalised word's stem (UTF-8), the stem's CRC-32 (its word-profile hash) and its
    MinHash hash (datasketch's default, SHA-1 to 32 bits), cached."""
    if len(_stemmed_cache) >= _STEMMED_WORDS:
        _stemmed_cache.clear()
    stem = _stem(word).encode("utf-8")
    entry = _stemmed_cache[word] = (stem, zlib.crc32(stem), _minhash_hash()(stem))
    return entry


def _distinct_stems(words: tuple[str, ...]) -> list[tuple[bytes, int, int]]:
    """The stem entries of the distinct words, in the order the words first occur: each word is
    stemmed once however often the text repeats it."""
    known = _stemmed_cache.get
    return [known(word) or _stem_entry(word) for word in dict.fromkeys(words)]


@lru_cache(maxsize=1)
def _permutations():
    """MinHash's permutations for its default seed: drawn once, not for every signature."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=NUM_PERM)
    return minhash.permutations, minhash.scheme


@lru_cache(maxsize=1)
def _minhash_hash():
    """datasketch's default word hash, imported on first use (see :func:`_signature`)."""
    from datasketch.hashfunc import sha1_hash32

    return sha1_hash32


def _signature(stems: list[tuple[bytes, int, int]]) -> LeanMinHash | None:
    distinct = set(stems)  # two entries are equal exactly when their stems are
    if len(distinct) < MIN_WORDS:
        return None
    # datasketch is imported where it is used: it pulls in numpy and scipy, which commands that
    # only need content_hash (everything importing the stage sequence, ``newswire search``) skip.
    from datasketch import LeanMinHash, MinHash

    permutations, scheme = _permutations()
    # The stems' hashes are the entries' (the default hash, cached with the stem): datasketch is
    # given them with int as its hash function, which returns an int as it is.
    minhash = MinHash(num_perm=NUM_PERM, permutations=permutations, scheme=scheme, hashfunc=int)
    minhash.update_batch([minhash_hash for _, _, minhash_hash in distinct])
    return LeanMinHash(minhash)


def minhash_signature(text: str) -> LeanMinHash | None:
    """Compact MinHash of the text's (stemmed) word set; None when the text is too short to compare."""
    return _signature(_distinct_stems(matching_words(text)))


@dataclass(frozen=True)
class WordProfile:
    """CRC-32 hashes of a text's distinct words (the first PROFILE_WORDS), of its lead's and of
    its title's: a few KB at most, enough to tell which words two texts share without keeping
    either text."""

    words: array
    lead: array
    title: array
    figures: array
    """Sorted distinct :func:`_figure_slots` (64 bits each)."""


def _first_distinct_sorted(hashes: list[int], limit: int) -> array:
    return array("I", sorted(list(dict.fromkeys(hashes))[:limit]))


def _profile(hashes: list[int], lead_hashes: list[int], title_hashes: list[int],
             figure_slots: list[int]) -> WordProfile:
    """The profile of a text's word hashes in text order (or its distinct ones in the order they
    first occur: the same profile), of its first LEAD_WORDS words' hashes, of its title's and of
    its figure slots."""
    return WordProfile(words=_first_distinct_sorted(hashes, PROFILE_WORDS),
                       lead=_first_distinct_sorted(lead_hashes, LEAD_WORDS),
                       title=_first_distinct_sorted(title_hashes, LEAD_WORDS),
                       figures=array("Q", sorted(set(figure_slots))))


def word_profile(words: list[str], title: list[str] = ()) -> WordProfile:
    hashes = [zlib.crc32(word.encode("utf-8")) for word in words]
    return _profile(hashes, hashes[:LEAD_WORDS], [zlib.crc32(word.encode("utf-8")) for word in title],
                    _figure_slots(words))


@dataclass(frozen=True)
class StoryFeatures:
    """All the clusterer keeps of one text, computed from the text alone (so worker processes
    compute it beside the record, and the batch's one clusterer only compares): its exact-copy
    key, MinHash signature and word profile; signature and profile are None for a text too short
    to compare."""

    exact_key: str | None
    signature: LeanMinHash | None
    profile: WordProfile | None


def story_features(text: str) -> StoryFeatures:
    # The words of "title\nbody" are the title's, then the body's: a line break separates words and
    # every step of the normalisation keeps to its side of one. The body's (matched last, for the
    # content hash) are not matched again.
    head, _, rest = text.partition("\n")
    rest_words = matching_words(rest)
    title_words = matching_words(head)
    words = title_words + rest_words  # once, for the stems and the exact key
    stems = _distinct_stems(words)
    signature = _signature(stems)
    if signature is None:
        return StoryFeatures(None, None, None)
    lead = [entry[1] for entry in _distinct_stems(words[:LEAD_WORDS])]
    title = [entry[1] for entry in _distinct_stems(title_words)]
    return StoryFeatures(_digest(" ".join(words)), signature,
                         _profile([crc for _, crc, _ in stems], lead, title, _figure_slots(words)))


@dataclass(frozen=True)
class PairEvidence:
    """What the rare-word check found for a candidate pair."""

    rare_jaccard: float
    """Weight of the words both texts use over the weight of all their words, each word
    weighing 1 / its document frequency in the batch (nothing when no other text uses it)."""
    rare_containment: float
    """Weight of the lighter text's words found in the other, over its own weight."""
    length_ratio: float
    """Distinct words of the shorter text over those of the longer one."""
    lead_agreement: float
    """Share of one lead's rarest words found in the other text, the better of the two."""
    lead_overlap: float
    """Jaccard similarity of the two leads' word sets."""
    title_overlap: float
    """Jaccard similarity of the two titles' word sets (0.0 when either has no title)."""
    figure_disagreement: float
    """Share of the words beside which both texts write a figure where the two texts' figures
    there have none in common (0.0 when there is no such word)."""


def _rarest(lead: array, document_frequency: Mapping[int, int]) -> list[int]:
    return sorted(lead, key=lambda word: (document_frequency[word], word))[:LEAD_RAREST]


def _found_share(words: list[int], profile: set[int]) -> float:
    return sum(word in profile for word in words) / len(words) if words else 0.0


def pair_evidence(a: WordProfile, b: WordProfile, document_frequency: Mapping[int, int]) -> PairEvidence:
    """Compare two word profiles: names and figures of a story weigh much, words that every
    templated text of the batch repeats weigh little. `document_frequency` holds at least every
    word of the two profiles."""
    def weight(words) -> float:
        return sum(1 / frequency for frequency in map(document_frequency.__getitem__, words) if frequency > 1)

    words_a, words_b = set(a.words), set(b.words)
    shared = weight(words_a & words_b)
    weight_a, weight_b = weight(words_a), weight(words_b)
    union = weight_a + weight_b - shared
    lighter = min(weight_a, weight_b)
    return PairEvidence(
        rare_jaccard=shared / union if union else 0.0,
        rare_containment=shared / lighter if lighter else 0.0,
        length_ratio=min(len(words_a), len(words_b)) / max(len(words_a), len(words_b), 1),
        lead_agreement=max(_found_share(_rarest(a.lead, document_frequency), words_b),
                           _found_share(_rarest(b.lead, document_frequency), words_a)),
        lead_overlap=_jaccard(a.lead, b.lead),
        title_overlap=_jaccard(a.title, b.title),
        figure_disagreement=_figure_disagreement(a.figures, b.figures),
    )


def _figures_by_place(slots: array) -> dict[int, set[int]]:
    places: dict[int, set[int]] = {}
    for slot in slots:
        places.setdefault(slot >> 32, set()).add(slot & 0xFFFFFFFF)
    return places


def _figure_disagreement(a: array, b: array) -> float:
    places_a, places_b = _figures_by_place(a), _figures_by_place(b)
    shared = places_a.keys() & places_b.keys()
    return sum(not places_a[place] & places_b[place] for place in shared) / len(shared) if shared else 0.0


def _jaccard(a: array, b: array) -> float:
    return len(set(a) & set(b)) / max(len(set(a) | set(b)), 1)


def is_same_story(evidence: PairEvidence) -> bool:
    """The rarest words of one lead found in the other text, and then: leads that largely agree
    and most of the lighter text's rare words found in the other; or the rare words agreeing
    almost entirely whatever the leads say (a rewritten lead over the same story, or a trimmed
    copy of it that is not a round-up many times its length); or titles that agree, most of the
    lead's rarest words found and most rare words contained (a rewritten lead under the same
    headline). Never when the figures the two texts write in the same places mostly differ:
    items of one template, not copies."""
    if evidence.lead_agreement < LEAD_AGREEMENT or evidence.figure_disagreement > FIGURE_DISAGREEMENT:
        return False
    if evidence.lead_overlap >= LEAD_OVERLAP and evidence.rare_containment >= LEAD_RARE_CONTAINMENT:
        return True
    if (evidence.title_overlap >= TITLE_OVERLAP and evidence.lead_agreement >= TITLE_LEAD_AGREEMENT
            and evidence.rare_containment >= TITLE_RARE_CONTAINMENT):
        return True
    return evidence.rare_jaccard >= RARE_WORD_AGREEMENT or (
        evidence.rare_containment >= RARE_WORD_CONTAINMENT and evidence.length_ratio >= MIN_LENGTH_RATIO)


def _smallest_member_ids(group_of: dict[str, str]) -> dict[str, str]:
    smallest: dict[str, str] = {}
    for record_id, group in group_of.items():
        smallest[group] = min(smallest.get(group, record_id), record_id)
    return {record_id: smallest[group] for record_id, group in group_of.items()}


def _cohesion(record_id: str, partners: dict[str, tuple[str, ...]]) -> float:
    """Share of the pairs among an id's partners that are confirmed too: 1.0 for a copy whose
    partners are all copies of one story, about half for a text that bundles two stories."""
    if len(partners[record_id]) < 2:
        return 1.0
    mine = set(partners[record_id])
    linked = sum(partner_of_partner in mine for partner in mine for partner_of_partner in partners[partner]) / 2
    return linked / (len(mine) * (len(mine) - 1) / 2)


def story_groups(ids: Iterable[str], pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Group ids along confirmed pairs without chaining unrelated stories through one text.

    First stars: the id whose partners are best confirmed among themselves (then: with the most
    partners, then: the smallest id) takes all its partners not yet taken, then the next, and so
    on, so every member is confirmed against its star's centre, and a text bundling two stories
    is not the centre that pulls both together. Then stars are joined when at least
    GROUP_LINK_DENSITY of the pairs across them are confirmed (copies of one story that a second
    centre took). A~B and B~C thus no longer put A and C together through B alone. Each group is
    named by its smallest member; nothing depends on the order ids or pairs come in. An id in no
    pair is its own group, and only the ids in pairs are grouped: in a large batch most texts
    have no copy."""
    grouped = _groups_of_paired(pairs)
    return {record_id: grouped.get(record_id, record_id) for record_id in ids}


def _groups_of_paired(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """:func:`story_groups` of the ids in pairs (its working tables are gone when it returns)."""
    listed: dict[str, list[str]] = {}
    for a, b in pairs:
        listed.setdefault(a, []).append(b)
        listed.setdefault(b, []).append(a)
    # Each id's distinct partners, as a tuple: a set for each of the many ids with one or two
    # partners would take several times the memory.
    partners = {record_id: tuple(dict.fromkeys(others)) for record_id, others in listed.items()}
    del listed
    centre_of: dict[str, str] = {}
    for record_id in sorted(partners, key=lambda r: (-_cohesion(r, partners), -len(partners[r]), r)):
        if record_id not in centre_of:
            centre_of[record_id] = record_id
            for partner in partners[record_id]:
                centre_of.setdefault(partner, record_id)
    size = Counter(centre_of.values())
    links = Counter(tuple(sorted((centre_of[a], centre_of[b])))
                    for a in partners for b in partners[a] if a < b and centre_of[a] != centre_of[b])
    joined = {centre: centre for centre in size}

    def root(centre: str) -> str:
        while joined[centre] != centre:
            centre = joined[centre]
        return centre

    for (a, b), count in links.items():
        if count >= GROUP_LINK_DENSITY * size[a] * size[b]:
            low, high = sorted((root(a), root(b)))
            joined[high] = low
    return _smallest_member_ids({record_id: root(centre) for record_id, centre in centre_of.items()})


_SCRATCH_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -2000;
CREATE TABLE records (number INTEGER PRIMARY KEY, id TEXT NOT NULL, signature BLOB NOT NULL,
                      words BLOB NOT NULL, lead BLOB NOT NULL, title BLOB NOT NULL, figures BLOB NOT NULL);
CREATE TABLE bands (key BLOB NOT NULL, number INTEGER NOT NULL, PRIMARY KEY (key, number)) WITHOUT ROWID;
CREATE TABLE exact (hash BLOB PRIMARY KEY, number INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE ids (id TEXT PRIMARY KEY) WITHOUT ROWID;
"""
"""The clusterer's scratch store. Its page cache is bounded (2 MB, ``cache_size``); nothing is
journalled or synced, because the store dies with the clusterer."""


def _profile_of(words: bytes, lead: bytes, title: bytes, figures: bytes) -> WordProfile:
    profile = WordProfile(words=array("I"), lead=array("I"), title=array("I"), figures=array("Q"))
    profile.words.frombytes(words)
    profile.lead.frombytes(lead)
    profile.title.frombytes(title)
    profile.figures.frombytes(figures)
    return profile


class DocumentFrequencies:
    """How many texts of a batch use each word hash, in two sorted arrays (the distinct words and
    their counts: 8 bytes a word, where a Counter holds a dict entry and an int object for each;
    a large batch has a great many distinct words). Each text's distinct words wait in a buffer
    of at most PENDING_WORDS hashes, merged into the arrays when it fills or before a look-up."""

    PENDING_WORDS = 1 << 18

    def __init__(self) -> None:
        import numpy

        self._words = numpy.empty(0, dtype=numpy.uint32)
        self._counts = numpy.empty(0, dtype=numpy.uint32)
        self._pending = array("I")

    def add(self, words: array) -> None:
        """Count one text's distinct word hashes (a WordProfile's ``words``)."""
        self._pending.extend(words)
        if len(self._pending) >= self.PENDING_WORDS:
            self._merge_pending()

    def _merge_pending(self) -> None:
        import numpy

        new_words, new_counts = numpy.unique(numpy.frombuffer(self._pending, dtype=numpy.uint32), return_counts=True)
        self._pending = array("I")
        words = numpy.union1d(self._words, new_words)
        counts = numpy.zeros(len(words), dtype=numpy.uint32)
        counts[numpy.searchsorted(words, self._words)] += self._counts
        counts[numpy.searchsorted(words, new_words)] += new_counts.astype(numpy.uint32)
        self._words, self._counts = words, counts

    def of(self, words: array) -> dict[int, int]:
        """Word hash -> the number of texts counted that use it (0 for none), for each of `words`."""
        import numpy

        if self._pending:
            self._merge_pending()
        asked = numpy.frombuffer(words, dtype=numpy.uint32)
        if not len(self._words):
            return dict.fromkeys(asked.tolist(), 0)
        positions = numpy.searchsorted(self._words, asked).clip(max=len(self._words) - 1)
        counts = numpy.where(self._words[positions] == asked, self._counts[positions], 0)
        return dict(zip(asked.tolist(), counts.tolist()))

    def between(self, a: WordProfile, b: WordProfile) -> dict[int, int]:
        """The counts :func:`pair_evidence` looks up for two profiles."""
        return self.of(a.words + b.words + a.lead + b.lead)


class StoryClusterer:
    """Collects (id, text) one at a time; :meth:`clusters` confirms the candidate pairs once the
    batch is complete. What it keeps of each record (MinHash signature, LSH band keys, word
    profile, exact-copy hash: about 10 KB) goes to a scratch SQLite database on disk with a
    bounded page cache, so its memory does not grow with the batch by more than the ids, the
    candidate pairs and the batch's word frequencies."""

    def __init__(self) -> None:
        from datasketch import MinHashLSH

        # datasketch chooses the bands (rows per band) for the threshold; the band tables that
        # it would hold in memory live in the scratch store instead.
        self._bands = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM).hashranges
        self._store = sqlite3.connect("")  # "": a private temporary database on disk, deleted on close
        self._store.executescript(_SCRATCH_SCHEMA)
        self._band_query = (f"SELECT number, signature FROM records WHERE number IN "
                            f"(SELECT number FROM bands WHERE key IN ({', '.join('?' * len(self._bands))}))")
        # Every id added, in order; whether one was added before is the scratch store's to answer
        # (a set of a large batch's ids would be held in memory).
        self._ids: list[str] = []
        # The id of each record in the store, by its number: the pairs are made of these strings,
        # not of copies the store gives back.
        self._numbered: list[str] = []
        self._document_frequency = DocumentFrequencies()
        self._exact_pairs: list[tuple[str, str]] = []
        # The candidate pairs' record numbers in the store, flat (a, b, a, b, ...): 8 bytes a pair.
        self._candidates = array("I")

    def close(self) -> None:
        self._store.close()

    def add(self, record_id: str, text: str | StoryFeatures) -> None:
        """Add a text, or the features :func:`story_features` computed of it (elsewhere: in a
        worker process)."""
        try:
            self._store.execute("INSERT INTO ids VALUES (?)", (record_id,))
        except sqlite3.IntegrityError:
            raise ValueError(f"duplicate record id {record_id!r} in one batch") from None
        self._ids.append(record_id)
        features = text if isinstance(text, StoryFeatures) else story_features(text)
        signature = features.signature
        if signature is None:
            return
        import numpy

        store = self._store
        number = len(self._numbered)
        digest = bytes.fromhex(features.exact_key)
        if store.execute("INSERT OR IGNORE INTO exact VALUES (?, ?)", (digest, number)).rowcount == 0:
            (exact,), = store.execute("SELECT number FROM exact WHERE hash = ?", (digest,))
            self._exact_pairs.append((self._numbered[exact], record_id))
        hashvalues = signature.hashvalues
        # A band's key: its number and its rows' hash values, so equal keys are datasketch's
        # collisions in that band.
        keys = [band.to_bytes(1, "big") + hashvalues[start:end].tobytes()
                for band, (start, end) in enumerate(self._bands)]
        # The stored records sharing a band with this one, compared in one array operation
        # rather than one each: a story with many copies shares bands with each of them.
        colliding = store.execute(self._band_query, keys).fetchall()
        stored = numpy.frombuffer(b"".join(signature for _, signature in colliding), dtype=hashvalues.dtype)
        agreement = numpy.count_nonzero(stored.reshape(len(colliding), len(hashvalues)) == hashvalues, axis=1)
        candidates = [candidate for (candidate, _), share in zip(colliding, (agreement / len(hashvalues)).tolist())
                      if share >= CANDIDATE_THRESHOLD]
        profile = features.profile
        store.execute("INSERT INTO records (number, id, signature, words, lead, title, figures) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (number, record_id, hashvalues.tobytes(), profile.words.tobytes(), profile.lead.tobytes(),
                       profile.title.tobytes(), profile.figures.tobytes()))
        self._numbered.append(record_id)
        store.executemany("INSERT INTO bands VALUES (?, ?)", ((key, number) for key in keys))
        for candidate in candidates:
            self._candidates.extend((candidate, number))
        self._document_frequency.add(profile.words)

    def _candidate_records(self) -> Iterator[tuple[tuple[str, WordProfile], tuple[str, WordProfile]]]:
        """Each candidate pair, in the order found, as (id, word profile) of both records."""
        @lru_cache(maxsize=256)  # a record of a story with many copies is in many pairs
        def record(number: int) -> tuple[str, WordProfile]:
            profile = self._store.execute("SELECT words, lead, title, figures FROM records WHERE number = ?",
                                          (number,)).fetchone()
            return self._numbered[number], _profile_of(*profile)

        numbers = iter(self._candidates)
        for a, b in zip(numbers, numbers):
            yield record(a), record(b)

    def candidate_pairs(self) -> list[tuple[str, str]]:
        """Pairs whose estimated word-set Jaccard similarity reaches CANDIDATE_THRESHOLD, in the
        order they were found."""
        return [(id_a, id_b) for (id_a, _), (id_b, _) in self._candidate_records()]

    def evidence(self, a: str, b: str) -> PairEvidence | None:
        """The rare-word check's findings for two added ids against the document frequencies of
        the whole batch so far; None when either text was too short to compare."""
        profiles = {record_id: _profile_of(*profile) for record_id, *profile in self._store.execute(
            "SELECT id, words, lead, title, figures FROM records WHERE id IN (?, ?)", (a, b))}
        if a not in profiles or b not in profiles:
            return None
        return pair_evidence(profiles[a], profiles[b], self._document_frequency.between(profiles[a], profiles[b]))

    def confirmed_pairs(self) -> list[tuple[str, str]]:
        """Exact copies, and candidate pairs that pass the rare-word check against the
        document frequencies of the whole batch so far."""
        return self._exact_pairs + [
            (id_a, id_b) for (id_a, profile_a), (id_b, profile_b) in self._candidate_records()
            if is_same_story(pair_evidence(profile_a, profile_b,
                                           self._document_frequency.between(profile_a, profile_b)))]

    @property
    def ids(self) -> Iterable[str]:
        """Every id added, in the order added."""
        return self._ids

    def clusters(self) -> dict[str, str]:
        """record id -> story_cluster (the smallest id of its group)."""
        return story_groups(self.ids, self.confirmed_pairs())


def assign_story_clusters(items: Iterable[tuple[str, str | StoryFeatures]]) -> dict[str, str]:
    """(record id, text or its StoryFeatures) -> story_cluster id; deterministic for the same batch."""
    return story_groups(*_ids_and_confirmed_pairs(items))


def grouped_story_clusters(items: Iterable[tuple[str, str | StoryFeatures]]) -> dict[str, str]:
    """:func:`assign_story_clusters` of the records in a group only (an id absent is its own story):
    in a large batch most texts have no copy, and their ids need no entry."""
    return _groups_of_paired(_ids_and_confirmed_pairs(items)[1])


def _ids_and_confirmed_pairs(items: Iterable[tuple[str, str | StoryFeatures]],
                             ) -> tuple[Iterable[str], list[tuple[str, str]]]:
    """What :meth:`StoryClusterer.clusters` groups, returned without the clusterer: its store, word
    counts and candidates are freed before the grouping takes its own memory."""
    with closing(StoryClusterer()) as clusterer:
        for record_id, text in items:
            clusterer.add(record_id, text)
        return clusterer.ids, clusterer.confirmed_pairs()
