"""HF download counts of European LLM families (speakleash/European-LLM-download-leaderboard).

Four file kinds: the daily snapshots (per repo and per family), the family time series,
the family config (regexes that assign repos to families) and the resolved repo manifest.

A snapshot lists repos without their family: the source assigns a repo to the *first*
config row (in key order) whose regex matches it. The snapshot reader applies that same
rule with the config file that travels beside it (``../european-llm-hf-download-
leaderboard.json``) so each repo row carries its family; without the config the family is
NULL, never guessed. Note that the store re-reads a snapshot only when its own bytes
change, so a changed config needs the snapshots re-imported.

The JSON objects are walked member by member (not `json.load`) so that every row knows its
line, and a truncated or damaged file still yields every member before the damage plus one
Skip saying where the damage is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmcarto.sources.base import ReadContext, Record, Skip, read_text

CONFIG_NAME = "european-llm-hf-download-leaderboard.json"
HUB = "https://huggingface.co/"
_WS = re.compile(r"[ \t\n\r]*")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DECODER = json.JSONDecoder()


# ---------------------------------------------------------------- located JSON walking


class _Broken(Exception):
    """The JSON text is damaged at `pos` (a character offset)."""

    def __init__(self, pos: int, problem: str) -> None:
        super().__init__(problem)
        self.pos = pos
        self.problem = problem


@dataclass
class _Nested:
    """A member whose value is an object the caller walks itself (see `_members`)."""

    pos: int
    end: int | None = None


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()


def _members(text: str, pos: int, lazy: frozenset[str] = frozenset(),
             done: _Nested | None = None) -> Iterator[tuple[str, int, Any]]:
    """Yield (key, offset of key, value) for each member of the JSON object at `pos`.

    For a key in `lazy` the value is a `_Nested` marker: the caller walks it with
    `_members(text, marker.pos, done=marker)`. Damage raises `_Broken` at its offset.
    """
    pos = _skip_ws(text, pos)
    if text[pos:pos + 1] != "{":
        raise _Broken(pos, "expected '{'" if pos < len(text) else "unexpected end of file")
    pos = _skip_ws(text, pos + 1)
    if text[pos:pos + 1] == "}":
        if done is not None:
            done.end = pos + 1
        return
    while True:
        if text[pos:pos + 1] != '"':
            raise _Broken(pos, "expected a member name" if pos < len(text)
                          else "unexpected end of file")
        key, end = _decode(text, pos)
        colon = _skip_ws(text, end)
        if text[colon:colon + 1] != ":":
            raise _Broken(colon, "expected ':'")
        start = _skip_ws(text, colon + 1)
        if key in lazy:
            marker = _Nested(start)
            yield key, pos, marker
            if marker.end is None:  # the caller did not walk it: walk it past
                for _ in _members(text, start, done=marker):
                    pass
            end = marker.end
        else:
            value, end = _decode(text, start)
            yield key, pos, value
        pos = _skip_ws(text, end)
        char = text[pos:pos + 1]
        if char == ",":
            pos = _skip_ws(text, pos + 1)
        elif char == "}":
            if done is not None:
                done.end = pos + 1
            return
        else:
            raise _Broken(pos, "expected ',' or '}'" if char else "unexpected end of file")


def _decode(text: str, pos: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise _Broken(exc.pos, exc.msg) from exc
    except RecursionError as exc:
        raise _Broken(pos, "nested too deeply") from exc


class _Lines:
    """Line numbers of increasing offsets, counted once (files are read front to back)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def __call__(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line

    def where(self, pos: int) -> str:
        line = self(pos)
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return f"line {line} column {column}"


@dataclass
class _Walked:
    """A JSON object read up to its end or its damage: the plain members (`meta`), each
    member of the nested objects as (section, key, value, loc), and the damage, if any."""

    lines: _Lines
    meta: dict[str, Any] = field(default_factory=dict)
    entries: list[tuple[str, str, Any, str]] = field(default_factory=list)
    damage: _Broken | None = None

    def broken(self, ctx: ReadContext, read: str) -> Skip | None:
        """The Skip saying where the damage is and that `read` came before it."""
        if self.damage is None:
            return None
        return Skip(ctx.name, self.lines.where(self.damage.pos),
                    f"JSON damaged or truncated ({self.damage.problem}); {read} read before "
                    f"it, nothing after it")


def _walk(text: str, sections: frozenset[str]) -> _Walked:
    """Walk the top-level object of `text`, and each member of the objects under the
    `sections` keys with its loc (``repos "a/b" (line 12)``); stop at damage."""
    walked = _Walked(_Lines(text))
    try:
        for key, _, value in _members(text, 0, sections):
            if not isinstance(value, _Nested):
                walked.meta[key] = value
                continue
            for item, pos, entry in _members(text, value.pos, done=value):
                walked.entries.append((key, item, entry,
                                       f'{key} "{item}" (line {walked.lines(pos)})'))
    except _Broken as exc:
        walked.damage = exc
    return walked


# ---------------------------------------------------------------- value helpers


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _day(value: Any) -> str | None:
    return value if isinstance(value, str) and _DAY.match(value) else None


def _has(text: str, *keys: str) -> bool:
    return all(re.search(rf'"{re.escape(k)}"\s*:', text) for k in keys)


def _extra(entry: Mapping[str, Any], known: set[str]) -> dict[str, Any] | None:
    rest = {k: v for k, v in entry.items() if k not in known}
    return rest or None


def _count_error(entry: Mapping[str, Any], required: tuple[str, ...]) -> str | None:
    """Why `entry` cannot be a row: a required count that is missing or not an integer."""
    for key in required:
        if _int(entry.get(key)) is None:
            return f"'{key}' is {json.dumps(entry.get(key))}, not an integer"
    return None


# ---------------------------------------------------------------- family assignment


@dataclass(frozen=True)
class FamilyRules:
    """The config's rule: a repo belongs to the first family (key order) whose regex matches."""

    rules: tuple[tuple[str, str, re.Pattern[str]], ...] = field(default_factory=tuple)

    def family_of(self, repo_id: str) -> tuple[str | None, str | None]:
        for family, pattern, compiled in self.rules:
            if compiled.match(repo_id):
                return family, pattern
        return None, None


@lru_cache(maxsize=8)
def _rules_from(path: str, mtime_ns: int, size: int) -> FamilyRules | None:
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    models = config.get("models") if isinstance(config, dict) else None
    if not isinstance(models, dict):
        return None
    rules = []
    for family, entry in models.items():
        patterns = entry.get("regex") if isinstance(entry, dict) else None
        for pattern in patterns if isinstance(patterns, list) else []:
            try:
                rules.append((family, pattern, re.compile(pattern)))
            except (re.error, TypeError):
                continue
    return FamilyRules(tuple(rules))


def family_rules_near(path: Path) -> FamilyRules | None:
    """The family rules of the config beside a snapshot (same folder or one up), if any."""
    for folder in (path.parent, path.parent.parent):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            stat = candidate.stat()
            return _rules_from(str(candidate), stat.st_mtime_ns, stat.st_size)
    return None


# ---------------------------------------------------------------- readers

_REPO_KNOWN = {"downloads_30d", "downloads_all_time", "parameters", "parameters_source"}
_FAMILY_KNOWN = {"total_downloads_30d", "total_downloads_all_time", "repo_count",
                 "fetched_repo_count", "missing_repo_count", "complete", "parameters",
                 "parameters_source_repo"}


class SnapshotReader:
    """snapshots/YYYY-MM-DD.json: per-repo and per-family counts of one day."""

    kind = "hf-downloads-snapshot"
    description = "European LLM leaderboard daily download snapshot (repos and families)"
    tables = {
        "download_repo_day": "repo_id VARCHAR, family VARCHAR, family_rule VARCHAR, "
                             "downloads_30d BIGINT, downloads_all_time BIGINT, "
                             "parameters BIGINT, parameters_source VARCHAR, "
                             "fetched_at TIMESTAMPTZ, manifest_content_hash VARCHAR, extra JSON",
        "download_family_day": "family VARCHAR, total_downloads_30d BIGINT, "
                               "total_downloads_all_time BIGINT, repo_count INTEGER, "
                               "fetched_repo_count INTEGER, missing_repo_count INTEGER, "
                               "complete BOOLEAN, parameters BIGINT, "
                               "parameters_source_repo VARCHAR, fetched_at TIMESTAMPTZ, "
                               "manifest_content_hash VARCHAR, extra JSON",
        "download_snapshot": "fetched_at TIMESTAMPTZ, manifest_content_hash VARCHAR, "
                             "config_version INTEGER, fetch_concurrency INTEGER, "
                             "fetch_errors JSON, repos INTEGER, families INTEGER, "
                             "families_resolved_from VARCHAR, complete BOOLEAN",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return (text.lstrip().startswith("{") and _has(text, "snapshot_date", "repos")
                and ('"downloads_30d"' in text or _has(text, "manifest_content_hash")))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        walked = _walk(read_text(ctx), frozenset({"repos", "rows"}))
        meta = walked.meta
        repos: list[tuple[str, Mapping[str, Any], str]] = []
        families: list[tuple[str, Mapping[str, Any], str]] = []
        skips: list[Skip] = []
        for key, item, entry, loc in walked.entries:
            if not isinstance(entry, Mapping):
                skips.append(Skip(ctx.name, loc, f"{key} entry is not an object"))
            else:
                (repos if key == "repos" else families).append((item, entry, loc))
        broken = walked.broken(ctx, f"{len(repos)} repos and {len(families)} families")
        day = _day(meta.get("snapshot_date")) or _day(ctx.path.stem)
        if day is None:  # undated counts would be misdated by the import: none are kept
            yield Skip(ctx.name, "file", f"no snapshot_date (YYYY-MM-DD) in the file or its "
                                         f"name: its {len(repos)} repos and {len(families)} "
                                         f"families cannot be dated")
            yield from skips
            if broken:
                yield broken
            return
        common = {"fetched_at": _str(meta.get("fetched_at")),
                  "manifest_content_hash": _str(meta.get("manifest_content_hash"))}
        rules = family_rules_near(ctx.path)
        for repo_id, entry, loc in repos:
            problem = _count_error(entry, ("downloads_30d",))
            if problem:
                skips.append(Skip(ctx.name, loc, problem))
                continue
            family, rule = rules.family_of(repo_id) if rules else (None, None)
            yield Record("download_repo_day", {
                "repo_id": repo_id, "family": family, "family_rule": rule,
                "downloads_30d": entry["downloads_30d"],
                "downloads_all_time": _int(entry.get("downloads_all_time")),
                "parameters": _int(entry.get("parameters")),
                "parameters_source": _str(entry.get("parameters_source")),
                **common, "extra": _extra(entry, _REPO_KNOWN)}, HUB + repo_id, loc, day)
        file_url = ctx.extras.get("file_url")
        for family, entry, loc in families:
            problem = _count_error(entry, ("total_downloads_30d",))
            if problem:
                skips.append(Skip(ctx.name, loc, problem))
                continue
            yield Record("download_family_day", {
                "family": family, "total_downloads_30d": entry["total_downloads_30d"],
                "total_downloads_all_time": _int(entry.get("total_downloads_all_time")),
                "repo_count": _int(entry.get("repo_count")),
                "fetched_repo_count": _int(entry.get("fetched_repo_count")),
                "missing_repo_count": _int(entry.get("missing_repo_count")),
                "complete": _bool(entry.get("complete")),
                "parameters": _int(entry.get("parameters")),
                "parameters_source_repo": _str(entry.get("parameters_source_repo")),
                **common, "extra": _extra(entry, _FAMILY_KNOWN)}, file_url, loc, day)
        errors = meta.get("fetch_errors")
        yield Record("download_snapshot", {
            **common, "config_version": _int(meta.get("config_version")),
            "fetch_concurrency": _int(meta.get("fetch_concurrency")),
            "fetch_errors": errors if isinstance(errors, list | dict) else None,
            "repos": len(repos), "families": len(families),
            "families_resolved_from": CONFIG_NAME if rules else None,
            "complete": broken is None}, file_url, "file", day)
        yield from skips
        if broken:
            yield broken


_TS_KNOWN = {"downloads_30d", "downloads_all_time", "repo_count", "complete", "parameters"}


class TimeseriesReader:
    """timeseries.jsonl: one line per collector run with every family's totals.

    Runs are kept as written, including two on 2026-08-03: `record_index` tells them
    apart and `superseded` marks a run that a later line of the same day replaces.
    """

    kind = "hf-downloads-timeseries"
    description = "European LLM leaderboard family time series (JSON lines)"
    tables = {
        "download_timeseries": "record_index INTEGER, family VARCHAR, downloads_30d BIGINT, "
                               "downloads_all_time BIGINT, repo_count INTEGER, "
                               "complete BOOLEAN, parameters BIGINT, fetched_at TIMESTAMPTZ, "
                               "manifest_hash VARCHAR, superseded BOOLEAN, extra JSON",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return (text.lstrip().startswith("{") and _has(text, "snapshot_date", "rows")
                and (_has(text, "manifest_hash") or name.endswith(".jsonl"))
                and not _has(text, "repos"))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        read_text(ctx)  # not UTF-8 → InputError for the whole file
        parsed: list[tuple[int, int, dict[str, Any]]] = []
        skips: list[Skip] = []
        with ctx.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    skips.append(Skip(ctx.name, f"line {number} column {exc.colno}",
                                      f"bad JSON line: {exc.msg}"))
                    continue
                except RecursionError:
                    skips.append(Skip(ctx.name, f"line {number}", "JSON nested too deeply"))
                    continue
                if not isinstance(record, dict) or not isinstance(record.get("rows"), dict):
                    skips.append(Skip(ctx.name, f"line {number}",
                                      "not a time-series record (an object with 'rows')"))
                    continue
                parsed.append((len(parsed) + 1, number, record))
        last_of_day: dict[str | None, int] = {}
        for index, _, record in parsed:
            last_of_day[_day(record.get("snapshot_date"))] = index
        file_url = ctx.extras.get("file_url")
        for index, number, record in parsed:
            day = _day(record.get("snapshot_date"))
            if day is None:
                skips.append(Skip(ctx.name, f"line {number}",
                                  "record has no snapshot_date (YYYY-MM-DD): cannot be dated"))
                continue
            for family, entry in record["rows"].items():
                loc = f'line {number} family "{family}"'
                if not isinstance(entry, Mapping):
                    skips.append(Skip(ctx.name, loc, "family entry is not an object"))
                    continue
                problem = _count_error(entry, ("downloads_30d",))
                if problem:
                    skips.append(Skip(ctx.name, loc, problem))
                    continue
                yield Record("download_timeseries", {
                    "record_index": index, "family": family,
                    "downloads_30d": entry["downloads_30d"],
                    "downloads_all_time": _int(entry.get("downloads_all_time")),
                    "repo_count": _int(entry.get("repo_count")),
                    "complete": _bool(entry.get("complete")),
                    "parameters": _int(entry.get("parameters")),
                    "fetched_at": _str(record.get("fetched_at")),
                    "manifest_hash": _str(record.get("manifest_hash")),
                    "superseded": last_of_day[day] != index,
                    "extra": _extra(entry, _TS_KNOWN)}, file_url, loc, day)
        yield from skips


_CONFIG_FAMILY_KNOWN = {"display_name", "version", "country", "developer", "official_org",
                        "regex"}


class ConfigReader:
    """european-llm-hf-download-leaderboard.json: the families and their repo regexes."""

    kind = "hf-downloads-config"
    description = "European LLM leaderboard family config (official org, country, regexes)"
    tables = {
        "download_family": "family VARCHAR, position INTEGER, display_name VARCHAR, "
                           "version VARCHAR, country VARCHAR, developer VARCHAR, "
                           "official_org VARCHAR, regex VARCHAR[], config_version INTEGER, "
                           "extra JSON",
        "download_config": "config_version INTEGER, description VARCHAR, match_target VARCHAR, "
                           "regex_flavor VARCHAR, official_only BOOLEAN, regex_scope VARCHAR, "
                           "downloads_metric VARCHAR, deduplication JSON, families INTEGER, "
                           "complete BOOLEAN, raw JSON",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return (text.lstrip().startswith("{") and _has(text, "models")
                and _has(text, "regex") and _has(text, "official_org"))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        walked = _walk(read_text(ctx), frozenset({"models"}))
        meta = walked.meta
        rows: list[tuple[str, Mapping[str, Any], str]] = []
        skips: list[Skip] = []
        for _, family, entry, loc in walked.entries:
            if isinstance(entry, Mapping):
                rows.append((family, entry, loc))
            else:
                skips.append(Skip(ctx.name, loc, "family entry is not an object"))
        broken = walked.broken(ctx, f"{len(rows)} families")
        file_url = ctx.extras.get("file_url")
        version = _int(meta.get("version"))
        for position, (family, entry, loc) in enumerate(rows, start=1):
            patterns = entry.get("regex")
            patterns = [patterns] if isinstance(patterns, str) else patterns
            if not isinstance(patterns, list):
                patterns = []
            yield Record("download_family", {
                "family": family, "position": position,
                "display_name": _str(entry.get("display_name")),
                "version": _str(entry.get("version")), "country": _str(entry.get("country")),
                "developer": _str(entry.get("developer")),
                "official_org": _str(entry.get("official_org")),
                "regex": [p for p in patterns if isinstance(p, str)],
                "config_version": version,
                "extra": _extra(entry, _CONFIG_FAMILY_KNOWN)}, file_url, loc)
        dedup = meta.get("deduplication")
        yield Record("download_config", {
            "config_version": version, "description": _str(meta.get("description")),
            "match_target": _str(meta.get("match_target")),
            "regex_flavor": _str(meta.get("regex_flavor")),
            "official_only": _bool(meta.get("official_only")),
            "regex_scope": _str(meta.get("regex_scope")),
            "downloads_metric": _str(meta.get("downloads_metric")),
            "deduplication": dedup if isinstance(dedup, dict) else None,
            "families": len(rows), "complete": broken is None, "raw": meta}, file_url, "file")
        yield from skips
        if broken:
            yield broken


class ManifestReader:
    """manifest/latest.json: each family's resolved repo list, and the repos left out."""

    kind = "hf-downloads-manifest"
    description = "European LLM leaderboard resolved repo manifest"
    tables = {
        "download_manifest": "family VARCHAR, repo_id VARCHAR, position INTEGER, "
                             "generated_at TIMESTAMPTZ, manifest_content_hash VARCHAR",
        "download_unmatched_repo": "official_org VARCHAR, repo_id VARCHAR, "
                                   "generated_at TIMESTAMPTZ, manifest_content_hash VARCHAR",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return (text.lstrip().startswith("{") and _has(text, "generated_at")
                and (_has(text, "manifest_content_hash") or _has(text, "organizations_scanned"))
                and not _has(text, "snapshot_date"))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        walked = _walk(read_text(ctx), frozenset({"rows", "unmatched_repos_by_org"}))
        meta, members = walked.meta, walked.entries  # members: (section, key, value, loc)
        broken = walked.broken(ctx, f"{len(members)} entries")
        common = {"generated_at": _str(meta.get("generated_at")),
                  "manifest_content_hash": _str(meta.get("manifest_content_hash"))}
        day = (common["generated_at"] or "")[:10] or None
        day = _day(day)
        skips: list[Skip] = []
        for section, item, entry, loc in members:
            repos = entry.get("repos") if section == "rows" and isinstance(entry, Mapping) \
                else entry
            if not isinstance(repos, list):
                skips.append(Skip(ctx.name, loc, "no list of repos"))
                continue
            for position, repo_id in enumerate(repos, start=1):
                if not isinstance(repo_id, str) or "/" not in repo_id:
                    skips.append(Skip(ctx.name, f"{loc} repo {position}",
                                      f"not a repo id: {json.dumps(repo_id)}"))
                elif section == "rows":
                    yield Record("download_manifest", {
                        "family": item, "repo_id": repo_id, "position": position, **common},
                        HUB + repo_id, loc, day)
                else:
                    yield Record("download_unmatched_repo", {
                        "official_org": item, "repo_id": repo_id, **common},
                        HUB + repo_id, loc, day)
        yield from skips
        if broken:
            yield broken


READERS: list = [SnapshotReader(), TimeseriesReader(), ConfigReader(), ManifestReader()]
