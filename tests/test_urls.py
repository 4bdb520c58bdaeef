"""canonicalize_url: one key per article whatever link, variant or tracking led to it."""

import pytest

from kernel.urls import canonicalize_url

SEED = "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/"


@pytest.mark.parametrize("variant", [
    SEED,
    "HTTPS://WWW.TasnimNews.COM/ar/news/2020/02/29/2216410/",
    "https://www.tasnimnews.com:443/ar/news/2020/02/29/2216410/",
    "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/#comments",
    "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/?utm_source=rss&utm_medium=feed",
    "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/?fbclid=IwAR0abc&gclid=xyz",
    "https://www.tasnimnews.com/ar/amp/news/2020/02/29/2216410/",
    "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/?amp=1",
    "https://www.tasnimnews.com/ar/print/news/2020/02/29/2216410/",
])
def test_variants_of_one_article_share_one_canonical_url(variant):
    assert canonicalize_url(variant) == SEED


def test_meaningful_query_parameters_are_kept_and_sorted():
    assert canonicalize_url("https://www.kuna.net.kw/ArticleDetails.aspx?language=ar&id=3212345&utm_campaign=x") == (
        "https://www.kuna.net.kw/ArticleDetails.aspx?id=3212345&language=ar")
    assert canonicalize_url("https://sana.sy/?p=2299201&utm_source=twitter") == "https://sana.sy/?p=2299201"


def test_amp_and_print_suffixes_and_query_switches():
    assert canonicalize_url("https://x.example/news/123/amp") == "https://x.example/news/123"
    assert canonicalize_url("https://x.example/a/story.amp.html") == "https://x.example/a/story.html"
    assert canonicalize_url("https://x.example/a?id=5&outputType=amp") == "https://x.example/a?id=5"
    assert canonicalize_url("https://x.example/a?id=5&view=print") == "https://x.example/a?id=5"
    # a parameter that merely shares a name keeps its meaning
    assert canonicalize_url("https://x.example/a?view=gallery") == "https://x.example/a?view=gallery"


def test_arabic_paths_are_percent_encoded_the_same_way():
    raw = "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/في-اتصاله"
    encoded = "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/%D9%81%D9%8A-%D8%A7%D8%AA%D8%B5%D8%A7%D9%84%D9%87"
    assert canonicalize_url(raw) == canonicalize_url(encoded) == encoded


def test_non_default_ports_stay_and_hosts_are_lowercased():
    assert canonicalize_url("http://127.0.0.1:8701/N2299101?utm_source=x") == "http://127.0.0.1:8701/N2299101"
    assert canonicalize_url("HTTP://Example.ORG:80") == "http://example.org/"
