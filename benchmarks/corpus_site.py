"""A local news site rendered from the SaudiNewsNet corpus, for the benchmarks.

The first N articles with a body of ``../shared/data/saudinewsnet/articles.jsonl.gz``
(SaudiNewsNet by Mazen Abdulaziz, CC BY-NC-SA 4.0; read for measurement only, never copied into
the repository) become article pages in the URL layout of the registry's ``spa`` source
(``/ar/N<number>``): a head with a canonical link and meta description, navigation, a title, a
dateline, the body paragraphs, a "read also" box and a footer. ``robots.txt`` names a sitemap
(how ``spa`` is discovered) and an RSS feed lists the same articles. The pages are rendered in
memory and served by :mod:`crawler.mirror` on 127.0.0.1, so ``newswire crawl --source spa
--base-url-override spa=URL`` crawls it like the real site.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from html import escape
from itertools import islice
from pathlib import Path

from crawler.demo_site import render_news_sitemap, render_rss
from crawler.mirror import Mirrors, Page, Site, start_servers

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "saudinewsnet" / "articles.jsonl.gz"
SOURCE_ID = "spa"
FULL_CORPUS = 27_525
HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
LAYOUT = {"name": "وكالة الأنباء السعودية"}
SITEMAP_URLS = 5000  # per child sitemap: a 27k-article urlset would exceed newswire's page size cap

# Boilerplate around the article, as news CMSs print it (navigation, related links, footer).
_NAV = ("الرئيسية", "محليات", "سياسة", "اقتصاد", "رياضة", "ثقافة", "منوعات", "اتصل بنا")
_PAGE = """<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
  <meta charset="utf-8">
  <title>{title} | {site}</title>
  <meta name="description" content="{description}">
  <link rel="canonical" href="{canonical}">
  <meta property="og:title" content="{title}">
  <meta property="article:published_time" content="{published_iso}">
  <link rel="stylesheet" href="/static/site.css">
</head>
<body>
  <header class="site-header"><a class="logo" href="/">{site}</a>
    <nav class="menu"><ul>{nav}</ul></nav>
    <form class="search" action="/search"><input name="q" placeholder="بحث"></form>
  </header>
  <main>
    <article class="article">
      <h1 class="title">{title}</h1>
      <div class="meta"><span class="author">{author}</span>
        <time datetime="{published_iso}">{published_text}</time></div>
      <div class="share"><a href="#">تويتر</a> <a href="#">فيسبوك</a> <a href="#">واتساب</a></div>
      <div class="story">
{paragraphs}
      </div>
    </article>
    <aside class="related"><h3>اقرأ أيضا</h3><ul>{related}</ul></aside>
  </main>
  <footer class="site-footer"><p>جميع الحقوق محفوظة © {site}</p>
    <ul>{nav}</ul></footer>
</body>
</html>
"""


def dataset_or_exit() -> Path:
    """The corpus path; exits with a clear message when ../shared/data is absent."""
    if not DATASET.exists():
        sys.exit(f"skipped: the benchmark corpus {DATASET} is absent (benchmarks need ../shared/data)")
    return DATASET


def article_path(number: int) -> str:
    return f"/ar/N{number:07d}"


def load_articles(limit: int) -> list[dict]:
    """The first ``limit`` corpus articles that have a body, each with its site ``path``."""
    with gzip.open(dataset_or_exit(), "rt", encoding="utf-8") as lines:
        items = (json.loads(line) for line in lines)
        with_body = (item for item in items if (item.get("content") or "").strip())
        articles = list(islice(with_body, limit))
    for number, article in enumerate(articles, start=1):
        article["path"] = article_path(number)
        article["published"] = datetime.fromisoformat(article["date_extracted"])
        article["paragraphs"] = [p.strip() for p in article["content"].splitlines() if p.strip()]
    return articles


def render_article(article: dict, neighbours: list[dict], base_url: str) -> bytes:
    published = article["published"]
    nav = "".join(f'<li><a href="/section/{number}">{escape(name)}</a></li>' for number, name in enumerate(_NAV))
    related = "".join(f'<li><a href="{n["path"]}">{escape(n["title"])}</a></li>' for n in neighbours)
    html = _PAGE.format(
        site=escape(LAYOUT["name"]),
        title=escape(article["title"]),
        description=escape(article["paragraphs"][0][:160]),
        canonical=escape(base_url + article["path"]),
        published_iso=published.isoformat(),
        published_text=f"{published:%Y/%m/%d %H:%M}",
        author=escape(article.get("author") or ""),
        nav=nav,
        related=related,
        paragraphs="\n".join(f"        <p>{escape(p)}</p>" for p in article["paragraphs"]),
    )
    return html.encode("utf-8")


def build_site(articles: list[dict], base_url: str) -> Site:
    """Article pages, a sitemap index named in robots.txt (child sitemaps of SITEMAP_URLS
    articles) and an RSS feed of all articles."""
    site = Site()
    for index, article in enumerate(articles):
        neighbours = articles[index + 1:index + 4]
        site.add(article["path"], Page(render_article(article, neighbours, base_url), HTML))
    children = []
    for number, start in enumerate(range(0, len(articles), SITEMAP_URLS), start=1):
        children.append(f"{base_url}/sitemap-{number}.xml")
        site.add(f"/sitemap-{number}.xml",
                 Page(render_news_sitemap(articles[start:start + SITEMAP_URLS], LAYOUT, base_url), XML))
    index_entries = "".join(f"<sitemap><loc>{escape(url)}</loc></sitemap>" for url in children)
    site.add("/sitemap.xml", Page(
        ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
         f"{index_entries}</sitemapindex>\n").encode(), XML))
    site.add("/rss.xml", Page(render_rss(articles, LAYOUT, base_url), XML))
    robots = f"User-agent: *\nDisallow: /search\nSitemap: {base_url}/sitemap.xml\n"
    site.add("/robots.txt", Page(robots.encode(), "text/plain; charset=utf-8"))
    return site


@contextmanager
def serve_corpus(articles: list[dict]) -> Iterator[Mirrors]:
    """The corpus site on a free port of 127.0.0.1 (``mirrors.base_urls[SOURCE_ID]``)."""
    with start_servers([SOURCE_ID]) as mirrors:
        server = mirrors.servers[SOURCE_ID]
        server.site = build_site(articles, server.base_url)
        yield mirrors


def article_urls(mirrors: Mirrors, articles: list[dict]) -> list[str]:
    base = mirrors.base_urls[SOURCE_ID]
    return [base + article["path"] for article in articles]


if __name__ == "__main__":
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Serve the corpus site until interrupted.")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    with serve_corpus(load_articles(args.limit)) as served:
        print(f"serving {args.limit} articles at {served.base_urls[SOURCE_ID]} (robots.txt, sitemap.xml, rss.xml)")
        while True:
            time.sleep(3600)
