"""The source registry: bundled entries, validation errors, source selection, URL matching."""

from datetime import date
from pathlib import Path

import pytest
import yaml

from kernel.registry import (
    DiscoveryType,
    RegistryError,
    article_match,
    date_from_match,
    load_registry,
    parse_registry,
    select_sources,
    url_key,
)
from kernel.settings import get_settings

REQUIRED = {"tasnim", "irna", "sana", "spa", "kuna", "wam", "qna", "petra", "mena", "wafa", "bna", "anadolu"}

# One real-looking article URL per source: the pattern must accept it, on the site and on a mirror.
ARTICLE_URLS = {
    "tasnim": "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/",
    "irna": "https://ar.irna.ir/news/85312345/",
    "sana": "https://sana.sy/?p=2299201",
    "spa": "https://www.spa.gov.sa/N2219450",
    "kuna": "https://www.kuna.net.kw/ArticleDetails.aspx?id=3212345&language=ar",
    "wam": "https://www.wam.ae/ar/article/b3y5k9a-الإمارات",
    "qna": "https://www.qna.org.qa/ar/News-Area/News/2026-11/27/0031-خبر",
    "petra": "https://petra.gov.jo/Include/InnerPage.jsp?ID=12345&lang=ar&name=news",
    "mena": "https://www.mena.org.eg/news/dbcall/table/textnews/id/12345678",
    "wafa": "https://www.wafa.ps/Pages/Details/112233",
    "bna": "https://www.bna.bh/.aspx?cms=q8FmFJgiscL2fwIzON1%2BDhyJ",
    "anadolu": "https://www.aa.com.tr/ar/الدول-العربية/خبر/3401234",
}


@pytest.fixture()
def registry():
    return {s.id: s for s in load_registry(get_settings(agencies_file=None))}


def test_bundled_registry_has_the_agencies_of_the_issue(registry):
    assert REQUIRED <= set(registry)
    assert len(registry) >= 12
    for source in registry.values():
        assert source.language == "ar"
        assert source.name_ar and source.name_en and source.discovery
        assert source.base_url.startswith("https://")


def test_discovery_is_ordered_by_preference(registry):
    irna = registry["irna"].discovery_in_preference_order()
    assert [d.type for d in irna] == [DiscoveryType.RSS, DiscoveryType.ROBOTS_SITEMAPS]
    assert [d.type.via for d in irna] == ["rss", "sitemap"]


@pytest.mark.parametrize("source_id", sorted(ARTICLE_URLS))
def test_article_patterns_match_on_the_site_and_on_a_mirror(registry, source_id):
    source, url = registry[source_id], ARTICLE_URLS[source_id]
    assert article_match(source, url), url
    on_mirror = "http://127.0.0.1:8701/" + url.split("/", 3)[3]
    assert article_match(source, on_mirror), on_mirror
    assert not article_match(source, source.base_url + "/")  # the home page is no article


def test_url_dates_and_mirror_keys(registry):
    tasnim = registry["tasnim"]
    match = article_match(tasnim, "http://127.0.0.1:9/ar/news/2026/11/27/2291560/")
    assert date_from_match(match) == date(2026, 11, 27)
    assert date_from_match(article_match(registry["spa"], "https://www.spa.gov.sa/N2219450")) is None
    # a mirror URL gets the key of the same article on the real site
    assert url_key(tasnim, "http://127.0.0.1:9/ar/news/2026/11/27/2291560/?utm_source=rss",
                   "http://127.0.0.1:9") == "https://www.tasnimnews.com/ar/news/2026/11/27/2291560/"


def _entry(**changes):
    entry = {"id": "demo", "name_ar": "وكالة", "name_en": "Agency", "base_url": "https://a.example",
             "timezone": "Asia/Riyadh", "discovery": [{"type": "rss", "url": "/rss"}],
             "article_pattern": r"^/news/\d+$"}
    return {**entry, **changes}


@pytest.mark.parametrize("changes, message", [
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"article_pattern": "^/news/(\\d+$"}, "article_pattern does not compile"),
    ({"base_url": "a.example"}, "base_url must be an absolute"),
    ({"discovery": [{"type": "telepathy", "url": "/"}]}, "discovery"),
    ({"discovery": []}, "discovery"),
])
def test_invalid_entries_are_reported_with_the_source_and_the_problem(changes, message):
    with pytest.raises(RegistryError) as error:
        parse_registry([_entry(**changes)])
    assert "source demo" in str(error.value) and message in str(error.value)


def test_duplicate_ids_are_rejected():
    with pytest.raises(RegistryError, match="duplicate source id 'demo'"):
        parse_registry([_entry(), _entry()])


def _agency(entry: dict) -> dict:
    """An agency-table entry crawled with the registry fields of `entry`."""
    crawl = {key: value for key, value in entry.items() if key not in ("id", "name_ar", "name_en")}
    return {"id": entry["id"], "name_ar": entry["name_ar"], "name_en": entry["name_en"], "crawl": crawl}


def test_a_new_source_is_just_an_entry(tmp_path: Path):
    path = tmp_path / "agencies.yaml"
    entries = [_agency(_entry()), _agency(_entry(id="off", enabled=False)),
               {"id": "credited", "name_ar": "وكالة", "name_en": "Credited only"}]
    path.write_text(yaml.safe_dump({"agencies": entries}), encoding="utf-8")
    settings = get_settings(agencies_file=path, enabled_sources=[])
    assert [s.id for s in select_sources(settings)] == ["demo"]  # enabled ones by default
    assert [s.id for s in select_sources(settings, ["off"])] == ["off"]  # asked for by id
    assert [s.id for s in select_sources(get_settings(agencies_file=path, enabled_sources=["off"]))] == ["off"]
    with pytest.raises(RegistryError, match="unknown source id\\(s\\): nope"):
        select_sources(settings, ["nope"])


def test_unreadable_registry_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "agencies.yaml"
    path.write_text("agencies: [unclosed", encoding="utf-8")
    with pytest.raises(RegistryError, match="cannot read the agency table"):
        load_registry(get_settings(agencies_file=path))
