"""Turning untrusted text and URLs into HTML, building the atlas' own links, formatting.

Everything here returns either plain strings (escaped later by Jinja's autoescape) or
`Markup` built only from escaped pieces. A URL becomes a link only when it is http(s)
without credentials or control characters; anything else (javascript:, data:, relative
paths, "study slide 14") stays text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import quote, urlencode, urlsplit

from markupsafe import Markup, escape

EXTERNAL_REL = "noopener noreferrer nofollow"
_CONTROL = re.compile(r"[\x00-\x20\x7f<>\"'`\\]")
# An http(s) URL inside free text: stops at whitespace, quotes, angle brackets, backticks.
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'`()\[\]{}|\\^]+", re.IGNORECASE)
_TRAILING_PUNCT = ".,;:!?"


def http_url(value: object) -> str | None:
    """`value` when it is a well-formed http(s) URL safe to put in href, else None."""
    if not isinstance(value, str) or not value or len(value) > 2048 or _CONTROL.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password:
        return None
    return value


def external_link(url: object, text: object | None = None) -> Markup:
    """An <a> for an http(s) URL (opened without referrer or opener), else the text."""
    label = short_url(url) if text is None and http_url(url) else (url if text is None else text)
    safe = http_url(url)
    if safe is None:
        return Markup("<span class=\"url-text\">{}</span>").format(label if label else "")
    return Markup('<a href="{}" rel="{}">{}</a>').format(safe, EXTERNAL_REL, label)


def short_url(value: object, width: int = 48) -> str:
    """A URL without its scheme, cut to `width` characters (the full URL stays the href)."""
    text = re.sub(r"^https?://(www\.)?", "", str(value or ""), flags=re.IGNORECASE)
    return text if len(text) <= width else text[: width - 1] + "…"


def linkify_text(text: object) -> Markup:
    """Escaped text in which bare http(s) URLs become inert-target links; nothing else does."""
    if text is None:
        return Markup("")
    source = str(text)
    out: list[str] = []
    pos = 0
    for match in _URL_IN_TEXT.finditer(source):
        url = match.group(0).rstrip(_TRAILING_PUNCT)
        end = match.start() + len(url)
        out.append(str(escape(source[pos:match.start()])))
        if http_url(url):
            out.append(str(Markup('<a href="{}" rel="{}">{}</a>').format(url, EXTERNAL_REL,
                                                                          url)))
        else:
            out.append(str(escape(url)))
        pos = end
    out.append(str(escape(source[pos:])))
    return Markup("".join(out))


def evidence_url(case: str | None = None, stage: str | None = None, kind: str | None = None,
                 rule: str | None = None, page: int | None = None, *, repo: str | None = None,
                 month: str | None = None) -> str:
    """`/evidence?...` with the given filters (None filters left out; values
    percent-encoded). `repo` narrows to one repository's traces, `month` (YYYY-MM) to the
    traces dated in that calendar month, `stage="own"` to every stage but inherited."""
    params = [(k, v) for k, v in (("case", case), ("repo", repo), ("stage", stage),
                                  ("kind", kind), ("rule", rule), ("month", month)) if v]
    if page and page > 1:
        params.append(("page", str(page)))
    return "/evidence" + ("?" + urlencode(params) if params else "")


def case_url(key: str) -> str:
    """`/case/<key>` with the key percent-encoded (user case keys are not trusted)."""
    return "/case/" + quote(key, safe="")


def number(value: int | None) -> str:
    """1234 → '1,234'."""
    return "–" if value is None else f"{value:,}"


def day(value: object) -> str:
    """A date or timestamp as YYYY-MM-DD (timestamps in UTC); '' for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (value if value.tzinfo is None else value.astimezone(UTC)).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
