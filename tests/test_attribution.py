"""Attribution: credited agencies (with evidence, position, rule) told apart from cited ones."""

from __future__ import annotations

import re

import pytest

from crawler.demo_site import load_articles as load_demo_articles
from kernel.agencies import Agency
from pipelines.attribution import (
    Gazetteer,
    agency_names,
    load_gazetteer,
    tag_attribution,
)
from pipelines.clean import normalize_text


def credits(text: str, title: str = "") -> list[tuple[str, str, str]]:
    """(agency id, rule, evidence) of every credit, after checking each evidence's position."""
    result = tag_attribution(text, title)
    for credit in result.credited:
        assert text[credit.position:credit.position + len(credit.evidence)] == credit.evidence
    return [(credit.agency_id, credit.rule, credit.evidence) for credit in result.credited]


def test_seed_is_credited_to_tasnim_by_its_trailer(seed_text):
    text = normalize_text(seed_text)
    result = tag_attribution(text, text.split("\n")[0])

    assert len(result.credited) == 1
    credit = result.credited[0]
    assert credit.agency_id == "tasnim"
    assert credit.evidence == "المصدر : وكالة تسنيم للأنباء"
    assert credit.position == text.index("المصدر : وكالة تسنيم للأنباء .")
    assert credit.rule == "trailer"
    dateline = tag_attribution("دمشق-سانا: افتتح وزير الصحة اليوم مستشفى جديدا في ريف العاصمة.", "").credited[0]
    assert dateline.rule == "dateline" and credit.confidence > dateline.confidence  # a source line says most
    assert (credit.name_ar, credit.name_en) == ("وكالة تسنيم الدولية للأنباء", "Tasnim News Agency")
    # "وكالة تسنيم الدولية للأنباء" in the body; the IAEA ("الوكالة الدولية للطاقة الذرية") is no news agency
    assert result.cited_agencies == ["tasnim"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # trailers
        ("خبر عن الطقس.\nالمصدر: واس", [("spa", "trailer", "المصدر: واس")]),
        ("خبر.\nمصدر الخبر: وكالة أنباء البحرين .", [("bna", "trailer", "مصدر الخبر: وكالة أنباء البحرين")]),
        # parenthetical credits
        ("أعلن الديوان الملكي تعيين سفير جديد. (واس)", [("spa", "parenthetical", "(واس)")]),
        ("قال الوزير إن الكويت تدعم الحل.( كونا )", [("kuna", "parenthetical", "( كونا )")]),
        ("الدوحة (قنا) - افتتح الوزير الطريق الجديد.", [("qna", "parenthetical", "الدوحة (قنا)")]),
        # datelines
        ("دمشق-سانا: وصل الوفد إلى موسكو.", [("sana", "dateline", "دمشق-سانا")]),
        ("طهران - تسنيم - قال المتحدث إن المحادثات مستمرة.", [("tasnim", "dateline", "طهران - تسنيم")]),
        ("القاهرة - أ ش أ\nأعلنت الوزارة خطة جديدة.", [("mena", "dateline", "القاهرة - أ ش أ")]),
        ("باريس - أ.ف.ب: فتحت النيابة تحقيقا.", [("afp", "dateline", "باريس - أ.ف.ب")]),
        ("واس - الرياض\nأقر مجلس الوزراء النظام.", [("spa", "dateline", "واس - الرياض")]),
        ("اف ب ـ لشبونة\nتعاقد النادي مع مدافع جديد.", []),  # before cleaning the tatweel dash hides the dateline
        (normalize_text("اف ب ـ لشبونة\nتعاقد النادي مع مدافع جديد."), [("afp", "dateline", "اف ب - لشبونة")]),
        # a lone quote mark standing for the dateline colon (one newspaper's house style)
        ('سنغافورة "رويترز\nارتفعت أسعار النفط.', [("reuters", "dateline", 'سنغافورة "رويترز')]),
        ('دبي"رويترز\nقال الوزير إن الإنتاج سيرتفع.', [("reuters", "dateline", 'دبي"رويترز')]),
        ('ذكرت "رويترز" أن الأسعار ارتفعت.', []),
        # "قنا" here is the city of Qena, the agency is MENA
        ("قنا - أ ش أ: افتتح المحافظ مستشفى جديدا.", [("mena", "dateline", "قنا - أ ش أ")]),
        # bylines
        ("رويترز\nقال مسؤولون إن الرحلات ستستأنف.", [("reuters", "byline", "رويترز")]),
        ("وكالات\nألغيت عشرات الرحلات بسبب العاصفة.", [("agencies", "byline", "وكالات")]),
        # نقلا عن in a credit position relays the agency's copy
        ("الوئام - نقلا عن رويترز:\nقال مسؤول إن المشروع سيكتمل.", [("reuters", "via", "الوئام - نقلا عن رويترز")]),
        ("خبر.\nالمصدر: سكاي نيوز نقلا عن رويترز", [("reuters", "via", "المصدر: سكاي نيوز نقلا عن رويترز")]),
    ],
)
def test_credit_forms(text, expected):
    assert credits(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the Saudi Press Agency's own dateline: place, Hijri date, الموافق, Gregorian date, agency
        (normalize_text("بريدة 10 جمادى الآخرة 1448 هـ الموافق 21 نوفمبر 2026 م واس\nانطلق المهرجان."),
         [("spa", "dateline", "بريدة 10 جمادى الآخرة 1448 ه الموافق 21 نوفمبر 2026 م واس")]),
        ("الرياض 5 ذو القعدة 1436 هـ الموافق 20 أغسطس 2015 م - واس\nأقر المجلس النظام.",
         [("spa", "dateline", "الرياض 5 ذو القعدة 1436 هـ الموافق 20 أغسطس 2015 م - واس")]),
        ("الدمام 12 شعبان 1447 ه الموافق 31 يناير 2026 واس: افتتح المحافظ المركز.",
         [("spa", "dateline", "الدمام 12 شعبان 1447 ه الموافق 31 يناير 2026 واس")]),
        ("المدينة المنورة 1 رمضان 1447 ه واس\nخبر.", [("spa", "dateline", "المدينة المنورة 1 رمضان 1447 ه واس")]),
        ("الكويت 2 مارس 2026 - كونا - أعلنت الوزارة الخطة.", [("kuna", "dateline", "الكويت 2 مارس 2026 - كونا")]),
        ("تبوك 20/10/1436 ه الموافق 5/8/2015 م واس\nخبر.",
         [("spa", "dateline", "تبوك 20/10/1436 ه الموافق 5/8/2015 م واس")]),
        # a dated line without an agency, or with running text after the date, credits nobody
        ("الرياض 5 ذو القعدة 1436 ه الموافق 20 أغسطس 2015 م\nأعلنت الأمانة إغلاق الطريق.", []),
        ("وصل الوفد يوم الأحد 5 ذو القعدة 1436 ه واستقبله المحافظ.", []),
        ("الرياض 5 ذو القعدة 1436 ه الواسع الانتشار\nخبر.", []),
    ],
)
def test_dated_datelines(text, expected):
    assert credits(text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "cited"),
    [
        # the Gulf agencies' lead credit, right after the subject clause of the first sentence
        ("أعلنت وزارة التعليم (واس) مواعيد اختبارات الفصل الأول.", [("spa", "parenthetical", "(واس)")], []),
        ("قرر مجلس الوزراء ( كونا ) تمديد العمل بالتوقيت الشتوي حتى نهاية الشهر المقبل.",
         [("kuna", "parenthetical", "( كونا )")], []),
        ("رويترز\nافتتح وزير المواصلات (قنا) الطريق السريع الجديد شمال الدوحة.",
         [("reuters", "byline", "رويترز"), ("qna", "parenthetical", "(قنا)")], []),
        ("أكد وزير الخارجية (بنا) أهمية التعاون.", [("bna", "parenthetical", "(بنا)")], []),
        ("استقبل ولي العهد (وام) وفدا من رجال الأعمال.", [("wam", "parenthetical", "(وام)")], []),
        # the same parentheses as a citation: later in the body, after لـ, a preposition, a citation
        # marker or the agency's own name, or too far into the sentence
        ("افتتح الوزير المبنى الجديد للوزارة صباح اليوم.\nوقال المتحدث لوكالة الأنباء الكويتية (كونا) إن المبنى جاهز.",
         [], ["kuna"]),
        ("قال وزير النفط لـ (واس) إن الإنتاج سيبقى عند مستواه.", [], ["spa"]),
        ("أكد الوزير في تصريح ل (كونا) أن المفاوضات مستمرة.", [], ["kuna"]),
        ("أعلنت وكالة الأنباء القطرية (قنا) أن الأمير سيزور باريس.", [], ["qna"]),
        ("قالت وزارة الطاقة في بيان أوردته وكالة أنباء الإمارات (وام) إن الأسعار ستتغير.", [], ["wam"]),
        ("ارتفعت أسعار النفط اليوم، وبحسب (واس) فإن الصادرات زادت.", [], ["spa"]),
        ("انطلق المهرجان في حديقة المدينة بحضور الزوار. وقال مدير المهرجان (كونا) إن الدورة المقبلة أوسع.",
         [], ["kuna"]),
        ("افتتح أمير المنطقة مساء أمس في مقر الغرفة التجارية (واس) معرض الصناعات الوطنية بمشاركة مئة شركة.",
         [], ["spa"]),
        ("تشير تقارير صدرت عن بلومبيرج (Bloomberg) إلى ارتفاع الاستثمارات في السوق.", [], ["bloomberg"]),
    ],
)
def test_lead_parenthetical_credit_and_citations(text, expected, cited):
    assert credits(text) == expected
    assert tag_attribution(text).cited_agencies == cited


# Each wire article of the demo mirror, read by hand: the agency its text credits, and how.
DEMO_WIRE_CREDITS = {
    "2026/11/20/2290411": ("tasnim", "trailer"), "2026/11/22/2290876": ("tasnim", "trailer"),
    "2026/11/24/2291203": ("tasnim", "trailer"), "2026/11/25/2291377": ("tasnim", "trailer"),
    "2026/11/27/2291560": ("tasnim", "trailer"), "2026/11/28/2291702": ("tasnim", "trailer"),
    "2026/11/20/2301120": ("spa", "dateline"),   # الرياض - واس
    "2026/11/21/2301388": ("spa", "dateline"),   # بريدة 10 جمادى الآخرة 1448 هـ الموافق ... م واس
    "2026/11/23/2301745": ("spa", "parenthetical"),  # أعلنت وزارة التعليم (واس) مواعيد ...
    "2026/11/25/2302031": ("spa", "dateline"), "2026/11/26/2302299": ("spa", "dateline"),
    "2026/11/28/2302544": ("spa", "dateline"),
    "2026/11/20/2301204": ("sana", "dateline"), "2026/11/22/2301377": ("sana", "dateline"),
    "2026/11/24/2301559": ("sana", "dateline"), "2026/11/26/2301702": ("sana", "dateline"),
    "2026/11/27/2301918": ("sana", "dateline"), "2026/11/28/2302065": ("sana", "dateline"),
}


def test_every_demo_wire_article_is_credited_to_its_agency():
    articles = [article for article in load_demo_articles() if str(article["slug"]) in DEMO_WIRE_CREDITS]
    assert sorted(str(article["slug"]) for article in articles) == sorted(DEMO_WIRE_CREDITS)
    for article in articles:
        text = normalize_text("\n".join(article["paragraphs"] + article.get("trailer", [])))
        result = tag_attribution(text, article["title"])
        found = [(credit.agency_id, credit.rule) for credit in result.credited]
        assert found == [DEMO_WIRE_CREDITS[str(article["slug"])]], (article["slug"], found)
        assert result.cited_agencies == [], article["slug"]


def test_several_credits_named_agencies_first():
    text = "عواصم - وكالات\nشهدت عدة مدن احتجاجات.\nالكويت - كونا: قال الوزير إن الوضع مستقر.\nالمصدر: رويترز"
    result = tag_attribution(text)
    assert [(c.agency_id, c.rule, c.confidence) for c in result.credited] == [
        ("reuters", "trailer", 0.97), ("kuna", "dateline", 0.93), ("agencies", "dateline", 0.73)]
    assert result.cited_agencies == []


def test_two_agencies_in_one_dateline_share_its_evidence():
    assert credits("لندن - رويترز - أ ف ب: قالت الشرطة إنها اعتقلت شخصين.") == [
        ("reuters", "dateline", "لندن - رويترز - أ ف ب"), ("afp", "dateline", "لندن - رويترز - أ ف ب")]


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("قال مسؤول عسكري لوكالة رويترز إن القوات تقدمت.", ["reuters"]),
        ("وذكرت وكالة فارس نقلا عن مصدر مطلع أن الاجتماع سيعقد.", ["fars"]),
        ("ونقلت وكالة الأنباء الكويتية (كونا) عن الوزير قوله.", ["kuna"]),
        ("وقال الناطق باسم الشرطة لفرانس برس إن التحقيق جار.", ["afp"]),
        ("ونقلت وكالة (رويترز) عن مصدر أن الاتفاق قريب.", ["reuters"]),
        ("أعلنت الحكومة خطة جديدة، بحسب وكالة الانباء القطرية (قنا).", ["qna"]),
        ("أكدت الوكالة الدولية للطاقة الذرية عودة المفتشين.", []),
        ("ذكرت وكالات الأنباء أن الزلزال ضرب المنطقة فجرا.", []),
    ],
)
def test_citations_are_not_credits(text, cited):
    result = tag_attribution(text)
    assert result.credited == []
    assert result.cited_agencies == cited


@pytest.mark.parametrize(
    "text",
    [
        "يتمتع الساحل بشاطئ واسع ومساحات واسعة من الرمال.",  # not SPA (واس)
        "حث الخطيب على التوكل على الله الواسع الرحيم.",
        "وامض البرق في سماء المدينة ليلة أمس.",  # not WAM (وام)
        "أعلنت قناة السويس ارتفاع إيراداتها.",  # not QNA (قنا)
        "قال المدرب إن الجمهور وقف بنا حتى النهاية.",  # not BNA (بنا)
        "فاز الفارس بالمركز الأول وحددت الأسرة المهر.",  # not Fars, not Mehr
        "أعلنت روسيا اليوم تعليق مشاركتها في المعاهدة.",  # "Russia today", not RT
        "فارس القحطاني (الرياض)\nأعلنت الأمانة إغلاق الطريق.",  # a reporter named Fars
        "جدة - الوئام:\nأطلقت الأمانة حملة لتنظيف الشواطئ.",  # an outlet, not an agency
        "أعلنت الحكومة عن تعديل وزاري. (الأسبوع المقبل)",
        "",
    ],
)
def test_words_that_only_look_like_agencies(text):
    assert tag_attribution(text).credited == []
    assert tag_attribution(text).cited_agencies == []


def test_credit_evidence_is_not_also_a_citation():
    result = tag_attribution("الرياض - واس\nأقر المجلس النظام.\nالمصدر: وكالة الأنباء السعودية")
    assert [c.agency_id for c in result.credited] == ["spa"]
    assert result.credited[0].rule == "trailer"
    assert result.cited_agencies == []


def test_title_adds_citations_only():
    result = tag_attribution("أعلن الوزير الخطة.", title="رويترز: الوزير يعلن الخطة")
    assert result.credited == []
    assert result.cited_agencies == ["reuters"]


def test_gazetteer_covers_the_agencies_with_names_in_both_languages():
    gazetteer = load_gazetteer()
    named = [agency for agency in gazetteer.agencies.values() if not agency.generic]
    assert len(named) >= 30
    required = {"spa", "sana", "kuna", "wam", "qna", "petra", "mena", "wafa", "bna", "ona", "aps", "map",
                "tap", "ina", "suna", "tasnim", "irna", "fars", "mehr", "anadolu", "reuters", "afp", "ap",
                "dpa", "xinhua", "sputnik", "rt"}
    assert required <= set(gazetteer.agencies)
    for agency in gazetteer.agencies.values():
        assert re.fullmatch(r"[a-z]+", agency.id)
        assert re.search(r"[\u0600-\u06ff]", agency.name_ar) and re.search(r"[A-Za-z]", agency.name_en)
    assert gazetteer.lookup("أ.ش.أ") == "mena" and gazetteer.lookup("وكالة فارس") == "fars"
    assert agency_names("wam") == ("وكالة أنباء الإمارات", "Emirates News Agency")


def test_a_term_claimed_by_two_agencies_is_refused():
    table = (Agency(id="one", name_ar="أ", name_en="A", names=("وكالة الخبر",)),
             Agency(id="two", name_ar="ب", name_en="B", short=("الخبر",)))
    with pytest.raises(ValueError, match="belongs to both one and two"):
        Gazetteer.from_agencies(table)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(((", []),
        ("- - :", []),
        ("المصدر:", []),
        ("(واس", [("spa", "parenthetical", "(واس")]),
        ("المصدر: (واس)", [("spa", "trailer", "المصدر: (واس)")]),
        ("ﻭﻟﻢ\n\n(", []),
    ],
)
def test_odd_inputs_give_an_answer(text, expected):
    assert credits(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # crawler leftovers (slider and navigation words) before the dateline on its line
        ("Next Previous عين الخليج – واس\nافتتح أمير المنطقة مهرجان الصيف بمشاركة واسعة من الأسر.",
         [("spa", "dateline", "عين الخليج – واس")]),
        ("Home » News | جدة - واس\nدشن الوزير مشروعا جديدا للطرق في المحافظة.", [("spa", "dateline", "جدة - واس")]),
        # running text that opens with a Latin word is still running text
        ("iPhone الجديد يصل إلى الأسواق الأسبوع المقبل بحسب رويترز.", []),
        # an outlet, then the agency (en dash, hyphen, no spaces)
        ("الصحيفة اليومية – واس\nأعلنت الهيئة مواعيد التسجيل للفصل الجديد.",
         [("spa", "dateline", "الصحيفة اليومية – واس")]),
        ("صوت المدينة – وكالات\nتراجعت أسعار الذهب في التعاملات المبكرة اليوم.",
         [("agencies", "dateline", "صوت المدينة – وكالات")]),
        ("الدمام–واس\nبدأت البلدية حملة نظافة في الأحياء الشرقية.", [("spa", "dateline", "الدمام–واس")]),
        ("الرياض –واس: وقعت الوزارة اتفاقية تعاون مع الجامعة.", [("spa", "dateline", "الرياض –واس")]),
        # Reuters' dateline: place, day, the month in one or two calendars' names, (رويترز) -
        ("القاهرة 12 مارس آذار (رويترز) - قال مسؤولون إن الحكومة ستطرح سندات جديدة.",
         [("reuters", "parenthetical", "القاهرة 12 مارس آذار (رويترز)")]),
        ("وكالات\nبيروت 3 تموز/يوليو (رويترز) - ارتفعت أسعار الوقود في الأسواق المحلية.",
         [("reuters", "parenthetical", "بيروت 3 تموز/يوليو (رويترز)"), ("agencies", "byline", "وكالات")]),
        # a tail credit: place- agency after the last sentence, in any spelling of the abbreviation
        ("فاز الفريق على منافسه بهدفين نظيفين في المباراة الودية.\nمدريد- أف ب", [("afp", "dateline", "مدريد- أف ب")]),
        ("أعلنت الشركة نتائجها الفصلية وارتفعت أرباحها بنسبة كبيرة. لندن- أ ف ب",
         [("afp", "dateline", "لندن- أ ف ب")]),
        ("تعاقد النادي مع المدرب الجديد لمدة موسمين.\nبرلين - دب أ", [("dpa", "dateline", "برلين - دب أ")]),
        ("تعاقد النادي مع المدرب الجديد لمدة موسمين.\nروما - أ.ف ب", [("afp", "dateline", "روما - أ.ف ب")]),
        # ... but a last sentence that is a sentence is no credit, and one word is never spelled letters
        ("وفي الختام قال المحلل إن الأسواق ستتعافى قريبا. وأضاف المحلل - رويترز", []),
        ("دبا - وام\nافتتح الحاكم المشروع الجديد.", [("wam", "dateline", "دبا - وام")]),
        # credits after a score line or a list lead
        ("الهلال 2 النصر 1\nالرياض - واس\nفاز الهلال على النصر في ديربي العاصمة مساء أمس.",
         [("spa", "dateline", "الرياض - واس")]),
        ("1- افتتاح المعرض\n2- توقيع الاتفاقيات\nأبوظبي - وام: تنطلق غدا فعاليات الأسبوع الثقافي.",
         [("wam", "dateline", "أبوظبي - وام")]),
        # citations are not credits
        ("ونقلت وكالة رويترز عن مسؤول قوله إن المحادثات ستستأنف الأسبوع المقبل.", []),
        ("عين الخليج – الرياض\nأكد الوزير في تصريح لوكالة الأنباء السعودية أن المشروع سيكتمل قريبا.", []),
        ("وصل الوفد في 5 آب إلى المدينة.\nوقال رئيس الوفد لرويترز إن الزيارة ناجحة.", []),
    ],
)
def test_general_credit_forms(text, expected):
    assert credits(text) == expected


def test_a_byline_credit_keeps_its_origin_and_position_in_the_byline():
    body = "اختار المجلس رئيسا جديدا للجنة في اجتماعه الأخير."
    result = tag_attribution(body, byline="جدة: واس")
    assert [(c.agency_id, c.rule, c.origin, c.evidence, c.position) for c in result.credited] == [
        ("spa", "dateline", "byline", "جدة: واس", 0)]
    metadata = tag_attribution(body, metadata="Reuters")
    assert [(c.agency_id, c.rule, c.origin, c.evidence) for c in metadata.credited] == [
        ("reuters", "byline", "metadata", "Reuters")]
    # the body's own credit wins over the same agency in the byline; a reporter's byline credits nobody
    both = tag_attribution("الرياض - واس\n" + body, byline="واس (الرياض)")
    assert [(c.agency_id, c.origin, c.position) for c in both.credited] == [("spa", "body", 0)]
    assert tag_attribution(body, byline="مراسل الصحيفة - الرياض").credited == []
    # a byline is read as credit lines only: a sentence naming an agency there credits nobody
    assert tag_attribution(body, byline="ونقلت وكالة رويترز عن مسؤول قوله").credited == []
    assert tag_attribution(body).credited == []
    # the byline is passed as the page shows it and normalised like the text (a lone tatweel is a dash)
    raw = tag_attribution(body, byline="  الرياضي ـ وكالات ")
    assert [(c.agency_id, c.origin, c.evidence) for c in raw.credited] == [("agencies", "byline", "الرياضي - وكالات")]
