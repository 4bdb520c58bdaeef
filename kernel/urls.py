"""Canonical article URLs: one key per article, whatever link or variant led to it.

The crawler uses the canonical URL to decide whether an article was archived before, and
processing uses it as the record id (:func:`kernel.records.article_id`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url as w3lib_canonicalize

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "ref_src", "ref_url", "cmpid", "ito", "spm",
})
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_", "mtm_")

# Query parameters that only select an AMP or print rendering of the same article.
_SWITCH_ON = frozenset({"", "1", "true", "yes"})
VARIANT_PARAMS = {
    "amp": _SWITCH_ON, "print": _SWITCH_ON, "printable": _SWITCH_ON,
    "outputtype": frozenset({"amp"}), "view": frozenset({"amp", "print"}),
}

# Path segments that mark an AMP or print rendering: /ar/amp/news/..., /news/123/amp, /print/123
VARIANT_SEGMENTS = frozenset({"amp", "print", "printable"})
VARIANT_SUFFIX = re.compile(r"\.(amp|print)(?=\.[a-z0-9]+$|$)", re.IGNORECASE)

DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _is_variant(name: str, value: str) -> bool:
    return value.lower() in VARIANT_PARAMS.get(name.lower(), ())


def _plain_path(path: str) -> str:
    """The article path without AMP/print segments or suffixes, keeping a trailing slash."""
    segments = path.split("/")
    kept = [s for s in segments if s.lower() not in VARIANT_SEGMENTS]
    if kept == [""] or not kept:
        return "/"
    plain = "/".join(kept)
    # "/news/123/amp" -> "/news/123" keeps no trailing slash; "/amp/news/1/" keeps its own.
    return VARIANT_SUFFIX.sub("", plain) or "/"


def canonicalize_url(url: str) -> str:
    """The plain article URL: lower-case scheme and host, no default port, no fragment,
    no tracking parameters, no AMP/print variant, query sorted and percent-encoding normalised.

    >>> canonicalize_url("HTTPS://WWW.Tasnimnews.com/ar/amp/news/2020/02/29/2216410/?utm_source=x#top")
    'https://www.tasnimnews.com/ar/news/2020/02/29/2216410/'
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    netloc = host
    if parts.port and parts.port != DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(name) and not _is_variant(name, value)
    ]
    plain = urlunsplit((scheme, netloc, _plain_path(parts.path or "/"), urlencode(query), ""))
    return w3lib_canonicalize(plain, keep_fragments=False)
