"""Hub model-repo commits and discussion URLs from the safetensors-migration study (§3).

`fixed3_repository_evolution_commits_*.csv` has one row per (commit, model file); it
becomes `hf_commit` with the same grain (a commit touching three model files is three
rows; `(repo_id, commit_hash)` identifies the commit). Hub display names are never
stored: `author` and the names in `<Word>-by:` trailers of `message` (Co-authored-by,
Signed-off-by, …) become `hf-…` pseudonyms (`llmcarto.privacy`); the e-mail addresses
there are already the bundle's pseudonyms and are kept.

`author_is_bot` (and `is_bot` per co-author) is decided on the raw name before it is
pseudonymised, by one rule: the name is ``system`` (the Hub's own server-side commits) or
``AutoNLP Admin``, contains ``[bot]``, or has a word ending in ``bot`` (``DumBot``,
``bigscience-bot``, ``Safetensors convertbot``).

Dates are written without an offset; the Hub API reports commit times in UTC, so they
are stored as UTC.

`discussion_urls.csv` and `sfconvertbot_activity.csv` both hold one `pr_url` column, so
their content cannot tell them apart: a file whose name mentions the bot
(``sfconvertbot``, ``bot_activity``) is bot activity, any other `pr_url` file a
discussion URL list. The URL's ``#<24 hex>`` anchor is a Hub event id (a MongoDB
ObjectId, whose first 8 hex digits are its creation time in Unix seconds), kept with
that time.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from llmcarto.errors import InputError
from llmcarto.privacy import hub_handle_pseudonym, pseudonymise_trailers
from llmcarto.sources.base import ReadContext, Record, Skip, utc_iso

HUB = "https://huggingface.co/"
_COMMIT_COLUMNS = ("repo_url", "commit_hash", "model_file_path", "serialization_format",
                   "message", "author", "date")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO_ID = re.compile(r"^[^/\s]+/[^/\s]+$")
_BOT = re.compile(r"\[bot\]|bot\b|^(?:system|autonlp admin)$", re.I)
_PR_URL = re.compile(r"^https?://huggingface\.co/(?:(datasets|spaces)/)?([^/\s#?]+/[^/\s#?]+)"
                     r"/discussions/(\d{1,9})(?:#([0-9a-fA-F]{24}))?/?$")
_REPO_TYPES = {None: "model", "datasets": "dataset", "spaces": "space"}
_BOT_FILE = re.compile(r"sfconvertbot|bot_activity", re.I)


def is_bot_name(name: str) -> bool:
    """The documented bot rule (module doc), on a raw display name or handle."""
    return bool(_BOT.search(name.strip()))


def pseudonymise_message(message: str) -> tuple[str, list[dict[str, Any]]]:
    """`message` with every trailer name pseudonymised, and the Co-authored-by entries as
    [{name, email, is_bot}] (e-mail as in the data)."""
    text, trailers = pseudonymise_trailers(message)
    coauthors = [{"name": t.pseudonym, "email": t.email, "is_bot": is_bot_name(t.raw_name)}
                 for t in trailers if t.key.lower() == "co-authored-by"]
    return text, coauthors


def _csv_rows(ctx: ReadContext) -> Iterator[tuple[int, int, list[str]] | Skip]:
    """(data row number, first physical line, fields) per CSV record after the header.

    Blank lines are not records. A row the csv module rejects is a Skip; reading goes on.
    """
    try:
        with ctx.path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            line_after = 0
            row_number = 0
            while True:
                start = line_after + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    line_after = reader.line_num
                    yield Skip(ctx.name, f"row {row_number} (line {start})", f"bad CSV: {exc}")
                    row_number += 1
                    continue
                line_after = reader.line_num
                if not fields or fields == [""]:
                    continue
                yield row_number, start, fields
                row_number += 1
    except UnicodeDecodeError as exc:
        raise InputError(f"{ctx.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from exc


def _header(ctx: ReadContext, rows: Iterator[Any], required: tuple[str, ...]) -> list[str]:
    first = next(rows, None)
    if first is None or isinstance(first, Skip):
        raise InputError(f"{ctx.name}: no CSV header line (expected {', '.join(required)})")
    header = [h.strip() for h in first[2]]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{ctx.name}: header lacks column(s) {', '.join(missing)}")
    return header


def _records(ctx: ReadContext, required: tuple[str, ...]
             ) -> Iterator[tuple[str, int, dict[str, str]] | Skip]:
    """(loc, row number, {column: field}) per data row that has as many fields as the
    header (which must name `required`); any other row is a Skip."""
    rows = _csv_rows(ctx)
    header = _header(ctx, rows, required)
    for item in rows:
        if isinstance(item, Skip):
            yield item
            continue
        number, line, fields = item
        loc = f"row {number} (line {line})"
        if len(fields) != len(header):
            yield Skip(ctx.name, loc, f"{len(fields)} fields, the header has {len(header)}")
            continue
        yield loc, number, dict(zip(header, fields, strict=True))


def _header_of(head: bytes) -> list[str]:
    line = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    return [h.strip() for h in line.decode("utf-8", "replace").split(",")]


class HubCommitsReader:
    """Commits of Hub model repos, one row per (commit, model file)."""

    kind = "hf-commits"
    description = ("Hugging Face model-repo commits (CSV: repo_url, commit_hash, "
                   "model_file_path, serialization_format, message, author, date)")
    tables = {"hf_commit": (
        "repo_id VARCHAR, commit_hash VARCHAR, model_file_path VARCHAR, "
        "serialization_format VARCHAR, message VARCHAR, author VARCHAR, "
        "author_is_bot BOOLEAN, coauthors JSON, date TIMESTAMPTZ, row INTEGER")}

    def detect(self, name: str, head: bytes) -> bool:
        return set(_COMMIT_COLUMNS) <= set(_header_of(head))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        for item in _records(ctx, _COMMIT_COLUMNS):
            if isinstance(item, Skip):
                yield item
                continue
            loc, number, raw = item
            repo = raw["repo_url"].strip().removeprefix(HUB)
            sha = raw["commit_hash"].strip()
            date = utc_iso(raw["date"])
            if not _REPO_ID.match(repo):
                yield Skip(ctx.name, loc, f"repo_url {raw['repo_url']!r} is not owner/name")
                continue
            if not _SHA.match(sha):
                yield Skip(ctx.name, loc, f"commit_hash {sha!r} is not a 40-hex sha")
                continue
            if date is None:
                yield Skip(ctx.name, loc, f"date {raw['date']!r} is not a timestamp")
                continue
            message, coauthors = pseudonymise_message(raw["message"])
            author = raw["author"].strip()
            row = {
                "repo_id": repo, "commit_hash": sha,
                "model_file_path": raw["model_file_path"].replace("\\", "/"),
                "serialization_format": raw["serialization_format"] or None,
                "message": message,
                "author": hub_handle_pseudonym(author) if author else None,
                "author_is_bot": is_bot_name(author) if author else None,
                "coauthors": coauthors, "date": date, "row": number,
            }
            yield Record("hf_commit", row, f"{HUB}{repo}/commit/{sha}", loc, None)


class PrUrlReader:
    """A `pr_url` CSV (one column, maybe more) of Hub discussion / pull-request URLs."""

    def __init__(self, kind: str, table: str, description: str, bot_file: bool) -> None:
        self.kind = kind
        self.table = table
        self.description = description
        self.bot_file = bot_file  # claims only files whose name says bot (or only others)
        self.tables = {table: "repo_id VARCHAR, repo_type VARCHAR, number INTEGER, "
                              "url VARCHAR, event_id VARCHAR, event_at TIMESTAMPTZ, "
                              "extra JSON"}

    def detect(self, name: str, head: bytes) -> bool:
        is_bot = bool(_BOT_FILE.search(name.rsplit("/", 1)[-1]))
        return "pr_url" in _header_of(head) and is_bot == self.bot_file

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        for item in _records(ctx, ("pr_url",)):
            if isinstance(item, Skip):
                yield item
                continue
            loc, _, raw = item
            url = raw.pop("pr_url").strip()
            match = _PR_URL.match(url)
            if not match:
                yield Skip(ctx.name, loc, f"{url!r} is not a Hub discussion URL")
                continue
            kind, repo, num, anchor = match.groups()
            event_at = None
            if anchor:
                event_at = datetime.fromtimestamp(int(anchor[:8], 16), UTC).isoformat()
            row = {"repo_id": repo, "repo_type": _REPO_TYPES[kind], "number": int(num),
                   "url": url, "event_id": anchor.lower() if anchor else None,
                   "event_at": event_at, "extra": raw or None}
            yield Record(self.table, row, url, loc, None)


READERS = [
    HubCommitsReader(),
    PrUrlReader("hf-discussion-urls", "hf_discussion_url",
                "Hub discussion / pull-request URL list (pr_url) of the safetensors migration "
                "study; mostly bot PRs, no author, title or text", bot_file=False),
    PrUrlReader("hf-bot-activity", "hf_bot_activity",
                "SFconvertbot pull-request URLs (pr_url; a file named *sfconvertbot* or "
                "*bot_activity*)", bot_file=True),
]
