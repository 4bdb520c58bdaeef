"""The bundled demo mirror's content: article pages, feeds, sitemaps and listing pages rendered
from the YAML articles and layouts in ``infra/demo-mirror/``.

Each demo source keeps its real site's URL layout and discovery method (tasnim: RSS feed; spa:
news sitemap named in robots.txt; sana: section listing page), so pointing the real registry
entry at the mirror with ``--base-url-override`` crawls it like the real site.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from string import Template

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "infra" / "demo-mirror"
HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"

Rendered = dict[str, tuple[bytes, str]]  # request target -> (body, content type)


def load_layouts() -> dict[str, dict]:
    return yaml.safe_load((DEMO_DIR / "sites.yaml").read_text(encoding="utf-8"))


def load_articles() -> list[dict]:
    """All entries of infra/demo-mirror/articles/*.yaml, files in name order, with ``path``."""
    layouts = load_layouts()
    articles = []
    for path in sorted((DEMO_DIR / "articles").glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            layout = layouts[entry["source"]]
            slug = str(entry["slug"])
            path = layout["article_path"].format(slug=slug, id=slug.rsplit("/", 1)[-1])
            articles.append({**entry, "path": path})
    return articles


def _published(entry: dict) -> datetime:
    value = entry["published"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _template(name: str) -> Template:
    return Template((DEMO_DIR / "templates" / name).read_text(encoding="utf-8"))


def render_article(entry: dict, layout: dict) -> bytes:
    paragraphs = "\n".join(f"      <p>{escape(p)}</p>" for p in entry["paragraphs"])
    trailer = "\n".join(f"      <p>{escape(line)}</p>" for line in entry.get("trailer", []))
    published = _published(entry)
    html = _template(layout["article_template"]).substitute(
        title=escape(entry["title"]),
        description=escape(entry["paragraphs"][0][:160]),
        canonical=escape(layout["canonical_base"] + entry["path"]),
        published_iso=published.isoformat(),
        published_text=published.strftime("%Y/%m/%d %H:%M"),
        paragraphs=paragraphs,
        trailer=trailer,
    )
    return html.encode("utf-8")


def render_rss(items: list[dict], layout: dict, base_url: str) -> bytes:
    entries = "".join(
        f"""
    <item>
      <title>{escape(a['title'])}</title>
      <link>{escape(base_url + a['path'])}</link>
      <guid isPermaLink="true">{escape(base_url + a['path'])}</guid>
      <pubDate>{format_datetime(_published(a))}</pubDate>
      <description>{escape(a['paragraphs'][0][:200]) if a.get('paragraphs') else ''}</description>
    </item>"""
        for a in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>{escape(layout['name'])}</title>
    <link>{escape(base_url)}/</link>
    <language>ar</language>{entries}
  </channel>
</rss>
""".encode()


def render_news_sitemap(items: list[dict], layout: dict, base_url: str) -> bytes:
    urls = "".join(
        f"""
  <url>
    <loc>{escape(base_url + a['path'])}</loc>
    <news:news>
      <news:publication><news:name>{escape(layout['name'])}</news:name><news:language>ar</news:language></news:publication>
      <news:publication_date>{_published(a).isoformat()}</news:publication_date>
      <news:title>{escape(a['title'])}</news:title>
    </news:news>
  </url>"""
        for a in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}
</urlset>
""".encode()


def render_listing(items: list[dict], layout: dict) -> bytes:
    entries = "\n".join(
        f'      <li class="post"><a href="{escape(a["path"])}">{escape(a["title"])}</a>'
        f' <time datetime="{_published(a).isoformat()}">{_published(a):%Y-%m-%d}</time></li>'
        for a in items
    )
    return _template(layout["listing_template"]).substitute(items=entries).encode("utf-8")


DISCOVERY_RENDERERS = {
    "rss": lambda items, layout, base_url: (render_rss(items, layout, base_url), XML),
    "news_sitemap": lambda items, layout, base_url: (render_news_sitemap(items, layout, base_url), XML),
    "listing": lambda items, layout, base_url: (render_listing(items, layout), HTML),
}


def render_site(source_id: str, layout: dict, articles: list[dict], base_url: str) -> Rendered:
    """Every page the mirror of ``source_id`` serves, newest article first in its discovery."""
    own = [a for a in articles if a["source"] == source_id]
    pages: Rendered = {a["path"]: (render_article(a, layout), HTML) for a in own}
    for static in layout.get("static_pages", []):
        pages[static["path"]] = ((REPO_ROOT / static["file"]).read_bytes(), HTML)
    listed = sorted(own + layout.get("static_pages", []), key=_published, reverse=True)
    pages[layout["discovery_path"]] = DISCOVERY_RENDERERS[layout["discovery"]](listed, layout, base_url)
    robots = layout.get("robots", "User-agent: *\nDisallow:\n").replace("{base_url}", base_url)
    pages["/robots.txt"] = (robots.encode("utf-8"), "text/plain; charset=utf-8")
    return pages
