"""content_hash, story clustering and the duplicate-grouping evaluation."""

from __future__ import annotations

import hashlib
import json
import pickle
import random
from collections import Counter

import pytest

from pipelines import dedup
from pipelines.dedup import (
    CANDIDATE_THRESHOLD,
    PROFILE_WORDS,
    DocumentFrequencies,
    PairEvidence,
    StoryClusterer,
    _stem,
    assign_story_clusters,
    content_hash,
    is_same_story,
    minhash_signature,
    normalize_for_matching,
    pair_evidence,
    story_features,
    story_groups,
    word_profile,
)
from pipelines.evaluation import dedup as dedup_evaluation

TEXTS = {row["doc_id"]: row["text"] for row in map(json.loads, dedup_evaluation.TEXTS.read_text("utf-8").splitlines())}


def test_normalize_for_matching_exact_output():
    assert normalize_for_matching("أكّد الرئيسُ، اليومَ (الأحد) ٣ قرارات!") == "اكد الرييس اليوم الاحد 3 قرارات"
    assert normalize_for_matching("إلى مدرسة\u200f  الـــمدينة\nآخر  ۴") == "الي مدرسه المدينه اخر 4"


def test_content_hash_is_sha256_of_normalised_text():
    assert content_hash("أكّد الرئيسُ") == hashlib.sha256("اكد الرييس".encode()).hexdigest()


@pytest.mark.parametrize("retyped", [
    "اكد الرئيس ان التعاون واجب .",          # hamza dropped, punctuation spaced
    "أكـــد الرئيس أن التعاون واجبٌ",        # tatweel and tanween
    "أكد  الرئيس\nأن التعاون واجب!",          # spacing, line break, punctuation
    "أكد الرئیس أن التعاون واجب",            # Persian yeh
])
def test_retyped_copies_share_the_hash(retyped):
    assert content_hash(retyped) == content_hash("أكد الرئيس أن التعاون واجب.")


def test_different_texts_have_different_hashes():
    assert content_hash("أكد الرئيس أن التعاون واجب") != content_hash("أكد الرئيس أن التعاون ممكن")


def test_clusters_group_copies_and_keep_a_templated_different_story_apart():
    clusters = assign_story_clusters([("b-retyped", TEXTS["h1b"]), ("a-original", TEXTS["h1a"]),
                                      ("c-trimmed", TEXTS["h1c"]), ("d-other", TEXTS["h1d"])])
    assert clusters == {"a-original": "a-original", "b-retyped": "a-original",
                        "c-trimmed": "a-original", "d-other": "d-other"}


def test_features_computed_apart_and_pickled_cluster_like_the_texts():
    # worker processes compute StoryFeatures and hand them over pickled; the clusters must not change
    items = [(doc_id, text) for doc_id, text in sorted(TEXTS.items())]
    handed_over = [(doc_id, pickle.loads(pickle.dumps(story_features(text)))) for doc_id, text in items]
    assert assign_story_clusters(handed_over) == assign_story_clusters(items)
    assert assign_story_clusters([*handed_over[:4], *items[4:]]) == assign_story_clusters(items)
    assert story_features("صور") == story_features("") and story_features("صور").signature is None


def test_signatures_equal_a_fresh_minhash_of_the_stemmed_words():
    from datasketch import MinHash

    text = TEXTS["h1a"]
    fresh = MinHash(num_perm=128)
    fresh.update_batch([word.encode("utf-8") for word in {_stem(w) for w in normalize_for_matching(text).split()}])
    for _ in range(2):  # the second signature reuses the first one's permutations
        assert list(minhash_signature(text).hashvalues) == list(fresh.hashvalues)


def test_cluster_ids_do_not_depend_on_order():
    items = [(doc_id, text) for doc_id, text in sorted(TEXTS.items())]
    expected = assign_story_clusters(items)
    assert expected == {"h1a": "h1a", "h1b": "h1a", "h1c": "h1a", "h1d": "h1d",
                        "h2a": "h2a", "h2b": "h2a", "h2c": "h2c",
                        "h3a": "h3a", "h3b": "h3a", "h3c": "h3c"}
    for seed in range(3):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        assert assign_story_clusters(shuffled) == expected


def test_empty_and_very_short_texts_stay_alone_even_when_equal():
    clusters = assign_story_clusters([("1", ""), ("2", ""), ("3", "صور"), ("4", "صور"), ("5", "عاجل: زلزال قوي")])
    assert clusters == {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5"}
    assert minhash_signature("عاجل: زلزال قوي يضرب المدينة") is None


def test_exact_copies_group_even_when_lsh_would_not_be_asked():
    text = "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في المدينة بسعة مئتي سرير"
    assert assign_story_clusters([("b", text), ("a", text.replace("أ", "ا") + ".")]) == {"a": "a", "b": "a"}


def test_duplicate_id_in_one_batch_is_refused():
    clusterer = StoryClusterer()
    clusterer.add("x", TEXTS["h1a"])
    with pytest.raises(ValueError, match="duplicate record id"):
        clusterer.add("x", TEXTS["h2a"])


def test_similarity_of_an_edited_copy_is_high_and_a_templated_other_story_only_a_candidate():
    original, edited, other = (minhash_signature(TEXTS[key]) for key in ("h1a", "h1c", "h1d"))
    assert original.jaccard(edited) >= 0.5
    # The template's words make the other story a candidate; its rare words keep it apart.
    assert original.jaccard(other) >= CANDIDATE_THRESHOLD
    clusters = assign_story_clusters([(key, TEXTS[key]) for key in ("h1a", "h1c", "h1d", "h2a", "h3a")])
    assert clusters["h1c"] == "h1a" and clusters["h1d"] == "h1d"


def test_prefixed_and_inflected_forms_share_their_stem():
    plain = minhash_signature("أعلن المسؤولون المدينة عن جوائز الطلاب المتفوقين اليوم")
    inflected = minhash_signature("وأعلن المسؤولين بالمدينة عن جوائز للطلاب المتفوقون اليوم")
    assert plain.jaccard(inflected) == 1.0


def test_a_conjunction_before_an_article_and_verb_endings_share_their_stem():
    plain = minhash_signature("أكد الوزير بالمدينة أن المسعفين اليمنيين نقلوا الجرحى إلى مستشفاها")
    inflected = minhash_signature("وأكدت الوزيرة وبالمدينة أن المسعفون اليمنيون نقل الجرحى الى مستشفاه")
    assert plain.jaccard(inflected) == 1.0


def test_a_figure_is_its_digits_whatever_letters_cling_to_it():
    plain = minhash_signature("نقل 30 جريحا في 12 شوال عام 1436 وفي عام 2015 إلى المستشفى")
    clinging = minhash_signature("نقل و30 جريحا في ال12 شوال عام 1436هـ وفي عام 2015م إلى المستشفى")
    assert plain.jaccard(clinging) == 1.0
    # Other figures stay other words.
    assert minhash_signature("نقل 45 جريحا في 14 شوال عام 1437 وفي عام 2016 إلى المستشفى").jaccard(plain) < 0.7


REPORT = ("قالت وزارة الصحة اليمنية إن فرقها وصلت صباح الأحد 12 شوال 1436ه وبالمدينة الساحلية عدن أقامت "
          "مستشفى ميدانيا، وأكدت أن مسعفيها نقلوا 30 جريحا إلى مستشفى الجمهورية، وأوضحت أن العمل سيستمر حتى "
          "نهاية الأسبوع.")
"""Our own report; the copy below retells it with other clitics, verb endings and figure suffixes."""
RETOLD = ("قال بيان لوزارة الصحة اليمنية إن الفرق وصلت صباح الأحد 12 شوال 1436 وفي المدينة الساحلية عدن أقام "
          "الفريق مستشفى ميدانيا، وأكد البيان نقل و30 جريحا للمستشفى الجمهوري، وأوضح أن العمل مستمر حتى نهاية "
          "الأسبوع.")


def test_a_copy_inflected_otherwise_joins_its_story_and_templated_ones_stay_apart():
    same_template = (REPORT.replace("عدن", "المكلا").replace("الجمهورية", "ابن سينا")
                     .replace("30", "45").replace("12", "14"))
    unrelated = [(doc_id, TEXTS[doc_id]) for doc_id in ("h2a", "h2c", "h3a", "h3c")]
    clusters = assign_story_clusters([("report-b", RETOLD), ("report-a", REPORT), ("report-c", same_template),
                                      *cables(), *unrelated])
    assert {k: v for k, v in clusters.items() if k.startswith(("report", "cable"))} == {
        "report-a": "report-a", "report-b": "report-a", "report-c": "report-c",
        "cable-x1": "cable-x1", "cable-x2": "cable-x1", "cable-x3": "cable-x1", "cable-y": "cable-y"}


def test_words_no_other_text_uses_weigh_nothing():
    a, b = word_profile(["وزير", "سفير", "تعاون", "ودي"]), word_profile(["وزير", "سفير", "تعاون", "حار"])
    frequency = Counter([*a.words, *b.words])
    evidence = pair_evidence(a, b, frequency)
    assert evidence.rare_jaccard == evidence.rare_containment == 1.0
    # A third text using one of them makes that word count: the two texts differ on it.
    frequency.update(word_profile(["ودي"]).words)
    assert pair_evidence(a, b, frequency).rare_jaccard == pytest.approx(1.5 / 2.0)


def test_figures_in_the_same_places_that_mostly_differ_make_two_stories():
    copy = PairEvidence(rare_jaccard=0.9, rare_containment=0.95, length_ratio=0.9, lead_agreement=1.0,
                        lead_overlap=0.85, title_overlap=0.0, figure_disagreement=0.0)
    assert is_same_story(copy)
    # Half the places disagreeing is not enough (a copy may correct one count); most of them is.
    assert is_same_story(PairEvidence(**{**vars(copy), "figure_disagreement": 0.5}))
    assert not is_same_story(PairEvidence(**{**vars(copy), "figure_disagreement": 0.75}))


def test_a_figure_agrees_in_digits_or_words_and_a_ten_is_not_read_as_its_unit():
    def disagreement(a: str, b: str) -> float:
        profile_a, profile_b = story_features(f"\n{a}").profile, story_features(f"\n{b}").profile
        return pair_evidence(profile_a, profile_b, Counter([*profile_a.words, *profile_b.words])).figure_disagreement

    convoy = "وصلت الدفعة {0} من المساعدات على متن {1} شاحنات تحمل {2} طنا من الأدوية إلى المستشفيات"
    assert disagreement(convoy.format("الثانية", "خمس", "40"), convoy.format("الثانيه", "5", "و40")) == 0.0
    # The word before and the word after each figure are its places: 2 vs 3, 5 vs 3, 40 vs 25.
    assert disagreement(convoy.format("الثانية", "خمس", "40"), convoy.format("الثالثة", "ثلاث", "25")) == 1.0
    # A ten is no figure at all, not its unit's: two places (before and after each figure) fewer.
    places = {count: len(story_features(convoy.format("الثانية", count, "40")).profile.figures)
              for count in ("ثلاث", "ثلاثين")}
    assert places == {"ثلاث": 6, "ثلاثين": 4}
    # "22ر000" (22,000) writes 22 too; a text without figures shares no place, so nothing disagrees.
    assert disagreement(convoy.format("الثانية", "خمس", "22ر000"), convoy.format("الثانية", "خمس", "22")) == 0.0
    assert disagreement(convoy.format("الثانية", "خمس", "40"), "وصلت المساعدات إلى المستشفيات في المدينة اليوم") == 0.0


CONVOY = ("وصلت أمس الدفعة الثانية من المساعدات الطبية إلى مدينة المكلا على متن خمس شاحنات قادمة عبر منفذ "
          "الوديعة، وأوضح المتحدث باسم المركز أن الدفعة تحتوي على 40 طنا من الأدوية والمحاليل للمستشفيات "
          "والمراكز الصحية في المحافظة لتخفيف معاناة المرضى والجرحى.")
"""Our own relief-convoy report; the copy below rewords it and writes its count in digits."""
CONVOY_COPY = ("وصلت أمس الأول الدفعة الثانية من المساعدات الطبية الى مدينة المكلا على متن 5 شاحنات قادمة عبر "
               "منفذ الوديعة البري، وأوضح المتحدث الرسمي باسم المركز في تصريح أن هذه الدفعة تحتوي على 40 طنا "
               "من الأدوية والمحاليل للمستشفيات والمراكز الصحية بالمحافظة لتخفيف معاناة المرضى والجرحى.")
FIGURES_ELSEWHERE = [  # other stories using the same figures, so that the figures are not the rarest words
    "فاز فريق النصر في الجولة الثانية من الدوري بثلاث نقاط، وسجل مهاجمه 40 هدفا في خمس سنوات، ويلعب "
    "مباراته الثالثة بعد 25 يوما على ملعبه في الرياض أمام جمهوره.",
    "أعلنت الجامعة قبول الدفعة الثالثة من طلاب الطب في خمس كليات، وتضم الدفعة الثانية 40 طالبا و25 طالبة، "
    "وتبدأ الدراسة بعد ثلاث أسابيع في الحرم الجامعي الجديد.",
    "افتتح المعرض في نسخته الثانية بمشاركة 40 دارا للنشر من خمس دول عربية، ويستمر ثلاث أيام، وهو الثالث "
    "من نوعه في المنطقة ويزوره 25 ألف زائر كل عام.",
]


def test_the_next_convoy_of_one_template_stays_apart_and_the_copy_joins(monkeypatch):
    next_convoy = CONVOY.replace("الثانية", "الثالثة").replace("خمس", "ثلاث").replace("40", "25")
    items = [("convoy-2", CONVOY), ("convoy-2-copy", CONVOY_COPY), ("convoy-3", next_convoy),
             *((f"other-{i}", text) for i, text in enumerate(FIGURES_ELSEWHERE)),
             *((doc_id, TEXTS[doc_id]) for doc_id in ("h2a", "h3a"))]
    convoys = {"convoy-2": "convoy-2", "convoy-2-copy": "convoy-2", "convoy-3": "convoy-3"}
    assert {k: v for k, v in assign_story_clusters(items).items() if k.startswith("convoy")} == convoys
    # Its words alone would have made it a copy: the figures keep it apart.
    monkeypatch.setattr(dedup, "FIGURE_DISAGREEMENT", 1.0)
    assert {k: v for k, v in assign_story_clusters(items).items() if k.startswith("convoy")} == {
        **convoys, "convoy-3": "convoy-2"}


def test_a_rewritten_lead_under_an_agreeing_title_is_one_story():
    rewritten = PairEvidence(rare_jaccard=0.5, rare_containment=0.85, length_ratio=0.8, lead_agreement=0.75,
                             lead_overlap=0.2, title_overlap=0.4, figure_disagreement=0.0)
    assert is_same_story(rewritten)
    # Each of the three is needed: another headline, fewer of the lead's rarest words, fewer rare words.
    assert not is_same_story(PairEvidence(**{**vars(rewritten), "title_overlap": 0.1}))
    assert not is_same_story(PairEvidence(**{**vars(rewritten), "lead_agreement": 0.5}))
    assert not is_same_story(PairEvidence(**{**vars(rewritten), "rare_containment": 0.7}))


def test_the_title_is_the_story_texts_first_line():
    body = "أعلنت وزارة الصحة اليوم افتتاح مستشفى جديد في المدينة بسعة مئتي سرير لخدمة السكان"
    titled = story_features(f"افتتاح مستشفى جديد\n{body}").profile
    stems = [_stem(word) for word in normalize_for_matching("افتتاح مستشفى جديد").split()]
    assert list(titled.title) == list(word_profile([], title=stems).title)
    assert len(titled.title) == 3 and set(titled.title) <= set(titled.lead)
    assert len(story_features(f"\n{body}").profile.title) == 0
    a, b = (story_features(f"{title}\n{body}").profile for title in ("افتتاح مستشفى جديد", "مستشفى جديد في المدينة"))
    assert pair_evidence(a, b, Counter([*a.words, *b.words])).title_overlap == pytest.approx(2 / 5)


def test_document_frequencies_count_as_a_counter_across_merges(monkeypatch):
    monkeypatch.setattr(DocumentFrequencies, "PENDING_WORDS", 5)  # several merges of the buffer
    profiles = [word_profile(text.split()) for text in (TEXTS["h1a"], TEXTS["h1c"], TEXTS["h2a"], "وزير سفير")]
    frequencies, expected = DocumentFrequencies(), Counter()
    for profile in profiles:
        frequencies.add(profile.words)
        expected.update(profile.words)
    unused = word_profile(["كلمةلاتردفيأيّنص"]).words
    assert frequencies.of(unused) == {unused[0]: 0}
    asked = profiles[0].words + profiles[3].words
    assert frequencies.of(asked) == {word: expected[word] for word in asked}
    assert frequencies.between(profiles[0], profiles[1]) == {
        word: expected[word] for word in profiles[0].words + profiles[1].words}


CABLE = ("بعث خادم الحرمين الشريفين الملك سلمان بن عبدالعزيز آل سعود برقية تهنئة لفخامة الرئيس {name} رئيس "
         "جمهورية {country} بمناسبة ذكرى استقلال بلاده. وأعرب الملك باسمه واسم شعب وحكومة المملكة العربية "
         "السعودية عن أصدق التهاني وأطيب التمنيات بالصحة والسعادة لفخامته، ولحكومة وشعب {country} الصديق "
         "اطراد التقدم والازدهار.{tail}")
"""Our own text in the form of the SPA congratulation cables that one template fills with names."""


def cables() -> list[tuple[str, str]]:
    copies = [("cable-x1", CABLE.format(name="جان بيير مولان", country="فالدونيا", tail="")),
              ("cable-x2", "واس - الرياض: " + CABLE.format(name="جان بيير مولان", country="فالدونيا", tail="")),
              ("cable-x3", CABLE.format(name="جان بيير مولان", country="فالدونيا",
                                        tail=" كما بعث ولي العهد برقية مماثلة."))]
    return [*copies, ("cable-y", CABLE.format(name="أندريس كامبو", country="سيرانيا", tail=""))]


def test_templated_cable_to_another_country_is_another_story():
    unrelated = [(doc_id, TEXTS[doc_id]) for doc_id in ("h2a", "h2c", "h3a", "h3c")]
    clusters = assign_story_clusters([*cables(), *unrelated])
    assert {k: v for k, v in clusters.items() if k.startswith("cable")} == {
        "cable-x1": "cable-x1", "cable-x2": "cable-x1", "cable-x3": "cable-x1", "cable-y": "cable-y"}
    # The word sets alone would have merged it: the template is most of the text.
    signatures = {doc_id: minhash_signature(text) for doc_id, text in cables()}
    assert signatures["cable-y"].jaccard(signatures["cable-x1"]) >= 0.5


def test_story_groups_do_not_chain_through_a_text_bundling_two_stories():
    # a1-a3 are one story, b1-b3 another, "both" bundles them and is confirmed with all six.
    story_a, story_b = ["a1", "a2", "a3"], ["b1", "b2", "b3"]
    pairs = [(x, y) for group in (story_a, story_b) for i, x in enumerate(group) for y in group[i + 1:]]
    pairs += [("both", x) for x in story_a + story_b]
    groups = story_groups(["both", *story_a, *story_b], pairs)
    assert groups["a2"] == groups["a3"] == "a1" and groups["b2"] == groups["b3"] == "b1"
    assert groups["both"] in {"a1", "b1"}
    for seed in range(3):
        shuffled = pairs[:]
        random.Random(seed).shuffle(shuffled)
        assert story_groups(reversed(["both", *story_a, *story_b]), [(b, a) for a, b in shuffled]) == groups


def test_story_groups_join_stars_that_are_densely_linked():
    # Two centres each took part of one story, and most pairs across them are confirmed.
    pairs = [("c1", "m1"), ("c1", "m2"), ("c1", "m3"), ("c2", "n1"), ("c2", "n2"), ("c2", "n3"),
             ("m1", "m2"), ("m1", "m3"), ("m2", "m3"), ("n1", "n2"), ("n1", "n3"), ("n2", "n3"),
             ("c1", "c2"), ("c1", "n1"), ("c1", "n2"), ("m1", "c2"), ("m1", "n1"), ("m2", "n2"),
             ("m3", "n3"), ("m2", "c2")]
    groups = story_groups(["c1", "c2", "m1", "m2", "m3", "n1", "n2", "n3"], pairs)
    assert set(groups.values()) == {"c1"}
    assert story_groups(["x", "y", "z"], [("x", "y")]) == {"x": "x", "y": "x", "z": "z"}


def test_word_profile_is_bounded_and_keeps_no_text():
    words = [f"كلمة{i}" for i in range(3 * PROFILE_WORDS)]
    profile = word_profile(words)
    assert len(profile.words) == PROFILE_WORDS and len(profile.lead) == 40
    assert profile.words.typecode == "I" and list(profile.words) == sorted(profile.words)


def test_dedup_labels_reference_the_corpus_without_copying_it():
    rows = [json.loads(line) for line in dedup_evaluation.PAIRS.read_text("utf-8").splitlines()]
    assert all(row["provenance"] for row in rows)
    assert len({row["pair_id"] for row in rows}) == len(rows) == 547
    corpus = [ref for row in rows for ref in (row["a"], row["b"]) if "dataset" in ref]
    assert corpus and all(set(ref) == {"dataset", "line"} for ref in corpus)
    by_split = {split: [row["same_story"] for row in rows if row["split"] == split]
                for split in ("handwritten", "tune", "heldout", "seen")}
    assert {split: (sum(labels), len(labels) - sum(labels)) for split, labels in by_split.items()} == {
        "handwritten": (5, 6), "tune": (123, 82), "heldout": (102, 107), "seen": (95, 27)}


def test_handwritten_pairs_are_grouped_exactly():
    result = dedup_evaluation.run(shared_data=None)
    assert result["pairs"] == 11
    assert (result["precision"], result["recall"]) == (1.0, 1.0)


def test_clusterer_tells_its_candidates_and_their_evidence():
    clusterer = StoryClusterer()
    for key in ("h1a", "h1d", "h3c"):
        clusterer.add(key, TEXTS[key])
    clusterer.add("short", "صور")
    # The templated cable to another country is proposed and rejected; the gold story never proposed.
    assert clusterer.candidate_pairs() == [("h1a", "h1d")]
    assert clusterer.confirmed_pairs() == []
    evidence = clusterer.evidence("h1a", "h1d")
    # In three texts nearly every word is rare: only the lead's rarest words (the country) differ.
    assert evidence.rare_jaccard >= 0.8 and evidence.lead_agreement == 0.0 and not is_same_story(evidence)
    assert clusterer.evidence("h1a", "short") is None
