"""Stage attribution: every trace in the store placed in a lifecycle stage by a rule.

The rules are data (`framework/stage_rules.yaml`); this module computes each item's
features, asks the rules, and writes `stage_trace` (one row per item and case, with the
rule id) and `stage_gap` (one row per case × stage cell without a trace, with the
reason). `attribute` is pure; `write_stage_tables` is the only part that touches the
store.

Features per item kind (`FEATURES`), the vocabulary of the rules' `when`:
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from llmcarto.framework.stage_rules import PathClass, StageRules, load_stage_rules
from llmcarto.framework.study import load_study
from llmcarto.store.schema import PROVENANCE_COLUMNS, split_columns

FEATURES = {
    "commit": {"inherited": "reachable from the repository's fork point or last upstream sync",
               "repo_role": "primary role of the repository in the case registry, or None",
               "path_role": "in a multi-role repository, the role the commit's changed files "
                            "agree on by the path classes, else None",
               "path_activity": "the one activity the changed files name (path classes) "
                                "inside the stage of the commit's role, else None",
               "author_class, release": "for the upstream_contribution flag: the author's "
                                        "affiliation class and the date against the case's "
                                        "first release"},
    "pull-request": {"repo_role": "as for commits"},
    "hub-model": {"owned": "the repo's owner is one of the case's Hub organisations",
                  "repo_type": "model | dataset | space",
                  "variant": "safety | post-trained | base, from the repo name (VARIANT_RULES)",
                  "release_line": "the id matches one of the case's release-line id_regex",
                  "post_training_name": "the name marks post-training data (datasets)"},
    "card": {"(same as hub-model)": "for cards of hf-cards records"},
    "hub-commit": {"owned": "as for hub-model"},
    "discussion": {"owned": "as for hub-model"},
    "download-series": {"owned": "as for hub-model"},
}
__doc__ = (__doc__ or "") + "\n".join(
    f"- {kind}: " + "; ".join(f"`{k}` {v}" for k, v in feats.items())
    for kind, feats in FEATURES.items())

# Name patterns for Hub repos. Ordered: the first that matches wins.
VARIANT_RULES = (
    ("safety", re.compile(r"(guard|safety|shield|red-?team)", re.I)),
    ("post-trained", re.compile(
        r"(instruct|chat|(^|[-_.])it($|[-_.])|sft|dpo|rlhf|(^|[-_.])rl($|[-_.])|orpo|kto|grpo"
        r"|tulu|aligned|(^|[-_.])think($|[-_.])|bloomz|mt0)", re.I)),
)
POST_TRAINING_DATA = re.compile(
    r"(sft|instruct|dpo|preference|rlhf|feedback|tulu|ultra|prompt|chat|xp3|^p3$|aya[-_]dataset"
    r"|infinity)", re.I)

GRID_STAGES = ("pre-training", "post-training", "post-release")

STAGE_TRACE_COLUMNS = (
    "case_key VARCHAR, stage VARCHAR, activity VARCHAR, domain VARCHAR, rule VARCHAR, "
    "item_kind VARCHAR, item_table VARCHAR, item_key VARCHAR, label VARCHAR, "
    "date TIMESTAMPTZ, path_class VARCHAR, upstream_contribution BOOLEAN, "
    "upstream_rule VARCHAR")
# The stage trace of each `commit_affiliation a` row (`t`); LEFT JOIN it to keep commits
# no rule placed (their stage is then 'unknown' in measures and networks).
COMMIT_TRACE_ON = ("t.item_kind = 'commit' AND t.case_key = a.case_key "
                   "AND t.item_key = a.repo || '@' || a.sha")
# One row per (repository, commit): a commit collected from a live clone (`llmcarto collect
# git`, source git-clone) wins over the bundle's copy of the same commit.
COMMITS_SQL = """
    SELECT * FROM git_commit
    QUALIFY row_number() OVER (PARTITION BY lower(repo), sha
                               ORDER BY (source = 'git-clone') DESC, file, loc) = 1"""
STAGE_GAP_COLUMNS = "case_key VARCHAR, stage VARCHAR, reason VARCHAR"


@dataclass(frozen=True)
class Item:
    """One trace to place: what it is, for which case, and its features."""

    kind: str
    table: str
    key: str
    case_key: str
    features: Mapping[str, Any]
    label: str
    date: str | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)


def variant_of(repo_id: str) -> str:
    name = repo_id.rsplit("/", 1)[-1]
    for variant, pattern in VARIANT_RULES:
        if pattern.search(name):
            return variant
    return "base"


def attribute(items: Iterable[Item], rules: StageRules) -> Iterator[dict[str, Any]]:
    """Place each item with the first matching rule; one stage_trace row per item.

    A rule marked `activity_from_paths` takes the commit's path activity when it is one
    of the rule's stage; commits also get the upstream_contribution flag and its rule."""
    for item in items:
        rule = rules.decide(item.kind, item.features)
        activity, path_class = rule.activity, None
        feats = item.features
        if feats.get("path_role") and rule.id.startswith("path-"):
            path_class = feats.get("path_role_class")
        if (rule.activity_from_paths and feats.get("path_activity")
                and feats["path_activity"] in rules.activities.get(rule.stage, ())):
            activity = feats["path_activity"]
            ids = f"{path_class or ''},{feats.get('path_activity_class') or ''}".split(",")
            path_class = ",".join(dict.fromkeys(i for i in ids if i))
        flag = flag_rule = None
        if item.kind == "commit" and rules.flag_rules:
            decided = rules.decide_flag(feats)
            flag, flag_rule = decided.value, decided.id
        yield {
            "case_key": item.case_key, "stage": rule.stage, "activity": activity,
            "domain": rule.domain, "rule": rule.id, "item_kind": item.kind,
            "item_table": item.table, "item_key": item.key, "label": item.label,
            "date": item.date, "path_class": path_class, "upstream_contribution": flag,
            "upstream_rule": flag_rule, **{name: item.provenance.get(name)
                                           for name, _ in PROVENANCE_COLUMNS},
        }


# ------------------------------------------------------------------------ path classes


def path_role(classes: Sequence[PathClass], repo: str, roles: Sequence[str],
              paths: Sequence[str]) -> tuple[str | None, str | None]:
    """In a multi-role repository, the role the changed files agree on (first matching role
    class per file; files of no class do not vote) and the classes that said so."""
    if len(roles) < 2 or not paths:
        return None, None
    picked: dict[str, set[str]] = {}
    for p in paths:
        c = _first_class(classes, repo, ("role", tuple(roles)), p)
        if c is not None:
            picked.setdefault(c.role or "", set()).add(c.id)
    if len(picked) != 1:
        return None, None
    role, ids = next(iter(picked.items()))
    return role, ",".join(sorted(ids))


_CLASS_CACHE: dict[tuple, PathClass | None] = {}
_USABLE: dict[tuple, tuple[PathClass, ...]] = {}


def _first_class(classes: Sequence[PathClass], repo: str, purpose: tuple,
                 path: str) -> PathClass | None:
    """The first class for `purpose` (("role", roles) or ("activity", role)) matching
    `path`; cached, since the same paths recur across a history."""
    scope = (id(classes), repo.lower(), purpose)
    usable = _USABLE.get(scope)
    if usable is None:
        kind, arg = purpose
        usable = tuple(c for c in classes if c.applies_to(repo) and (
            c.role in arg if kind == "role" else c.gives_activity_for(arg)))
        _USABLE[scope] = usable
    if not usable:
        return None
    key = (scope, path)
    if key in _CLASS_CACHE:
        return _CLASS_CACHE[key]
    if len(_CLASS_CACHE) > 500_000:
        _CLASS_CACHE.clear()
    found = next((c for c in usable if c.matches(path)), None)
    _CLASS_CACHE[key] = found
    return found


def path_activity(classes: Sequence[PathClass], repo: str, role: str | None,
                  paths: Sequence[str]) -> tuple[str | None, str | None]:
    """The one activity the changed files name inside `role`'s stage (first matching
    activity class per file), and the classes that named it; (None, None) otherwise."""
    if not role or not paths:
        return None, None
    found: dict[str, set[str]] = {}
    for p in paths:
        c = _first_class(classes, repo, ("activity", role), p)
        if c is not None:
            found.setdefault(c.activity or "", set()).add(c.id)
    if len(found) != 1:
        return None, None
    activity, ids = next(iter(found.items()))
    return activity, ",".join(sorted(ids))


# --------------------------------------------------------------------- release dates


@dataclass(frozen=True)
class ReleaseWindow:
    """When a case's first release could have been: on or after `lo`, on or before `hi`
    (UTC days; None = unbounded). `known` is False when no release line has a date."""

    lo: date | None
    hi: date | None
    known: bool

    def relation(self, day: date | None) -> str:
        """before | after | inside | none for a commit's author date (UTC day)."""
        if not self.known or day is None:
            return "none"
        if self.hi is not None and day > self.hi:
            return "after"
        if self.lo is not None and day < self.lo:
            return "before"
        return "inside"


def line_bounds(first_release: date | str | None, precision: str | None,
                approx: str | None, upper_bound: bool) -> tuple[date | None, date | None]:
    """(earliest, latest) possible day of one release line's first release."""
    d = first_release
    if isinstance(d, str):
        d = date.fromisoformat(d)
    if precision in ("month", "year") or (d is None and approx):
        text = approx or (d.isoformat() if d else "")
        parts = text.split("-")
        try:
            year = int(parts[0])
            if precision == "year" or len(parts) == 1:
                lo, hi = date(year, 1, 1), date(year, 12, 31)
            else:
                month = int(parts[1])
                lo = date(year, month, 1)
                hi = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))
        except (ValueError, IndexError):
            return None, None
        return (None if upper_bound else lo), hi
    if d is None:
        return None, None
    return (None if upper_bound else d), d


def release_window(lines: Iterable[Mapping[str, Any]]) -> ReleaseWindow:
    """The case's first release over its release lines: the earliest of them, so its
    latest possible day is the minimum of the lines' latest days, and its earliest
    possible day the minimum of their earliest (unbounded if any line is undated)."""
    los: list[date | None] = []
    his: list[date] = []
    known = False
    for line in lines:
        lo, hi = line_bounds(line.get("first_release"), line.get("first_release_precision"),
                             line.get("approx_date"), bool(line.get("date_is_upper_bound")))
        known = known or hi is not None
        los.append(lo)
        if hi is not None:
            his.append(hi)
    lo = None if not los or any(x is None for x in los) else min(x for x in los if x)
    return ReleaseWindow(lo, min(his) if his else None, known)


def utc_day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo is not None else value).date()
    return value if isinstance(value, date) else None


# ----------------------------------------------------------------------- reading items


@dataclass
class CaseIndex:
    """What the registry tables say, shaped for fast look-ups."""

    orgs: dict[str, set[str]]  # lower-case Hub org -> case keys
    line_regexes: dict[str, list[re.Pattern[str]]]
    repos: dict[str, list[tuple[str, tuple[str, ...], str | None, str | None]]]
    cases: list[str]
    releases: dict[str, ReleaseWindow] = field(default_factory=dict)

    def cases_of_owner(self, repo_id: str) -> set[str]:
        return self.orgs.get(repo_id.split("/", 1)[0].lower(), set())

    def in_release_line(self, case_key: str, repo_id: str) -> bool:
        return any(p.search(repo_id) for p in self.line_regexes.get(case_key, ()))


def case_index(con: duckdb.DuckDBPyConnection) -> CaseIndex:
    """Hub orgs, release-line patterns and windows, and repositories of every case: those of
    the registry, plus repositories a user tied to a case with `collect git --case` (no
    role, so their commits are `unknown` until the registry gives one)."""
    orgs: dict[str, set[str]] = defaultdict(set)
    regexes: dict[str, list[re.Pattern[str]]] = defaultdict(list)
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case_key, hub_orgs, regex, first, precision, approx, upper in con.execute(
            "SELECT case_key, hub_orgs, id_regex, first_release, first_release_precision, "
            "approx_date, date_is_upper_bound FROM case_release_line").fetchall():
        for org in hub_orgs or ():
            orgs[org.lower()].add(case_key)
        if regex:
            regexes[case_key].append(re.compile(regex))
        lines[case_key].append({"first_release": first, "first_release_precision": precision,
                                "approx_date": approx, "date_is_upper_bound": upper})
    repos: dict[str, list] = defaultdict(list)
    for case_key, repo, roles, fork_point, synced in con.execute(
            "SELECT case_key, repo, roles, fork_point, upstream_synced_to "
            "FROM case_repository").fetchall():
        repos[repo.lower()].append((case_key, tuple(roles or ()), fork_point, synced))
    cases = [r[0] for r in con.execute(
        "SELECT case_key FROM case_info ORDER BY case_key").fetchall()]
    if has_table(con, "git_clone_case"):
        for case_key, repo in con.execute(
                "SELECT DISTINCT case_key, repo FROM git_clone_case ORDER BY 1, 2").fetchall():
            if case_key in cases and case_key not in {c for c, *_ in repos[repo.lower()]}:
                repos[repo.lower()].append((case_key, (), None, None))
    releases = {case: release_window(lines.get(case, ())) for case in cases}
    return CaseIndex(dict(orgs), dict(regexes), dict(repos), cases, releases)


def _prov(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name, _ in PROVENANCE_COLUMNS}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    while batch := cur.fetchmany(5000):
        for row in batch:
            yield dict(zip(names, row, strict=True))


PROV_SQL = ", ".join(name for name, _ in PROVENANCE_COLUMNS)


def inherited_commits(parents: Mapping[str, list[str]], starts: Iterable[str]) -> set[str]:
    """Commits reachable from `starts` (full or abbreviated ids) through parent links."""
    full = list(parents)
    stack = []
    for start in starts:
        stack += [sha for sha in full if sha.startswith(start)] if len(start) < 40 else [start]
    seen: set[str] = set()
    while stack:
        sha = stack.pop()
        if sha in seen or sha not in parents:
            continue
        seen.add(sha)
        stack.extend(parents[sha])
    return seen


def git_items(con: duckdb.DuckDBPyConnection, index: CaseIndex,
              rules: StageRules | None = None) -> Iterator[Item]:
    """Commits and PR heads of the cases' repositories, with their features."""
    rules = rules or load_stage_rules()
    if has_table(con, "git_commit"):
        authors: dict[tuple[str, str, str], str | None] = {}
        if has_table(con, "commit_affiliation"):
            for case_key, repo, sha, cls in con.execute(
                    "SELECT case_key, repo, sha, author_class FROM commit_affiliation").fetchall():
                authors[(case_key, repo, sha)] = cls
        by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in _rows(con, "SELECT repo, sha, parents, subject, author_date, "
                              "json_extract_string(files, '$[*].path') AS paths, "
                              f"{PROV_SQL} FROM ({COMMITS_SQL})"):
            by_repo[row["repo"]].append(row)
        for repo, rows in by_repo.items():
            for case_key, roles, fork_point, synced in index.repos.get(repo.lower(), ()):
                starts = [s for s in (fork_point, synced) if s]
                inherited = inherited_commits(
                    {r["sha"]: list(r["parents"] or ()) for r in rows}, starts) if starts else set()
                window = index.releases.get(case_key, ReleaseWindow(None, None, False))
                for r in rows:
                    feats = commit_features(rules, repo, roles, r.get("paths") or [])
                    feats.update({"inherited": r["sha"] in inherited,
                                  "author_class": authors.get((case_key, repo, r["sha"])),
                                  "release": window.relation(utc_day(r["author_date"]))})
                    yield Item("commit", "git_commit", f"{repo}@{r['sha']}", case_key, feats,
                               f"{repo} {r['sha'][:10]} {r['subject'] or ''}".strip(),
                               _iso(r["author_date"]), _prov(r))
    if has_table(con, "git_pull"):
        for r in _rows(con, f"SELECT DISTINCT ON (lower(repo), number) repo, number, head_sha, "
                            f"author_date, {PROV_SQL} FROM git_pull "
                            "ORDER BY lower(repo), number, (source = 'git-clone') DESC, file"):
            for case_key, roles, _fp, _sync in index.repos.get(r["repo"].lower(), ()):
                yield Item("pull-request", "git_pull", f"{r['repo']}#{r['number']}", case_key,
                           {"repo_role": roles[0] if roles else None},
                           f"{r['repo']} PR #{r['number']} head {(r['head_sha'] or '')[:10]}",
                           _iso(r["author_date"]), _prov(r))


def commit_features(rules: StageRules, repo: str, roles: Sequence[str],
                    paths: Sequence[str]) -> dict[str, Any]:
    """repo_role, path_role and path_activity (with the path classes behind them)."""
    role, role_class = path_role(rules.path_classes, repo, roles, paths)
    effective = role or (roles[0] if roles else None)
    activity, activity_class = path_activity(rules.path_classes, repo, effective, paths)
    return {"repo_role": roles[0] if roles else None, "path_role": role,
            "path_role_class": role_class, "path_activity": activity,
            "path_activity_class": activity_class}


def hub_items(con: duckdb.DuckDBPyConnection, index: CaseIndex) -> Iterator[Item]:
    if has_table(con, "hub_model"):
        for r in _rows(con, f"SELECT tree, id, created_at, {PROV_SQL} FROM hub_model"):
            owners = index.cases_of_owner(r["id"])
            root = (r["tree"] or "").replace("__", "/", 1)
            tree_cases = index.cases_of_owner(root) if root else set()
            for case_key in sorted(owners | tree_cases):
                yield Item("hub-model", "hub_model", r["id"], case_key,
                           _hub_features(index, case_key, r["id"], "model"), r["id"],
                           _iso(r["created_at"]), _prov(r))
    if has_table(con, "model_card"):
        for r in _rows(con, f"SELECT id, url, repo_type, case_key AS card_case, {PROV_SQL} "
                            "FROM model_card WHERE origin = 'hf-cards'"):
            cases = ({r["card_case"]} if r["card_case"] else set()) | index.cases_of_owner(r["id"])
            for case_key in sorted(c for c in cases if c in index.cases):
                yield Item("card", "model_card", f"{r['id']} @ {r['url']}", case_key,
                           _hub_features(index, case_key, r["id"], r["repo_type"] or "model"),
                           f"{r['id']} (card copy at {_host(r['url'])})", None, _prov(r))
    for kind, table, sql, key in (
        ("hub-commit", "hf_commit",
         f"SELECT DISTINCT ON (repo_id, commit_hash) repo_id, commit_hash, date, {PROV_SQL} "
         "FROM hf_commit ORDER BY repo_id, commit_hash, file, loc",
         lambda r: f"{r['repo_id']}@{r['commit_hash']}"),
        ("discussion", "hf_discussion_url", f"SELECT repo_id, url, {PROV_SQL} "
         "FROM hf_discussion_url", lambda r: r["url"]),
        ("download-series", "download_repo_day",
         f"SELECT DISTINCT ON (repo_id) repo_id, {PROV_SQL} FROM download_repo_day "
         "ORDER BY repo_id, snapshot_date DESC, file", lambda r: r["repo_id"]),
    ):
        if not has_table(con, table):
            continue
        for r in _rows(con, sql):
            repo_id = r.get("repo_id") or ""
            for case_key in sorted(index.cases_of_owner(repo_id)):
                label = key(r) if kind != "download-series" else f"{repo_id} (daily downloads)"
                yield Item(kind, table, key(r), case_key, {"owned": True}, label,
                           _iso(r.get("date")), _prov(r))


def _hub_features(index: CaseIndex, case_key: str, repo_id: str, repo_type: str) -> dict:
    owned = case_key in index.cases_of_owner(repo_id)
    name = repo_id.rsplit("/", 1)[-1]
    return {"owned": owned, "repo_type": repo_type, "variant": variant_of(repo_id),
            "release_line": index.in_release_line(case_key, repo_id),
            "post_training_name": bool(POST_TRAINING_DATA.search(name))}


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _host(url: str | None) -> str:
    match = re.match(r"https?://([^/]+)", url or "")
    return match.group(1) if match else "unknown host"


# --------------------------------------------------------------------------- gaps


def gap_reasons(con: duckdb.DuckDBPyConnection, filled: set[tuple[str, str]],
                cases: list[str], rules: StageRules | None = None) -> Iterator[dict[str, Any]]:
    """A reason for every (case, grid stage) without a trace: what could have filled it."""
    role_stage = dict((rules or load_stage_rules()).roles)
    repos: dict[str, list[tuple[str, tuple[str, ...], bool]]] = defaultdict(list)
    for case_key, repo, roles, in_bundle in con.execute(
            "SELECT case_key, repo, roles, in_bundle FROM case_repository").fetchall():
        repos[case_key].append((repo, tuple(roles or ()), bool(in_bundle)))
    orgs = defaultdict(set)
    for case_key, hub_orgs in con.execute(
            "SELECT case_key, hub_orgs FROM case_release_line").fetchall():
        orgs[case_key] |= set(hub_orgs or ())
    for case_key in cases:
        for stage in GRID_STAGES:
            if (case_key, stage) in filled:
                continue
            named = [(repo, in_bundle) for repo, roles, in_bundle in repos[case_key]
                     if roles and role_stage.get(roles[0]) == stage]
            other_roles = [repo for repo, roles, _ in repos[case_key]
                           if any(role_stage.get(r) == stage for r in roles[1:])]
            parts = ["no trace in the store for this stage"]
            if named:
                parts.append("repositories of this stage named in the case registry: " + ", ".join(
                    f"{repo} ({'in the bundle, but no commits' if b else 'not in the bundle'})"
                    for repo, b in named))
            else:
                parts.append("the case registry names no repository whose primary role is "
                             "of this stage")
            if other_roles:
                parts.append("secondary roles of " + ", ".join(other_roles) +
                             " count only for commits whose changed files a path class ties "
                             "to them, and none of their commits does")
            org_list = ", ".join(sorted(orgs[case_key])) or "none"
            parts.append(f"no Hub trace of this stage from the case's Hub organisations "
                         f"({org_list}) is in the snapshot")
            yield {"case_key": case_key, "stage": stage, "reason": "; ".join(parts) + ".",
                   "source": "stage-rules", "source_url": None, "snapshot_date": None,
                   "file": None, "loc": None, "snapshot_id": None}


# --------------------------------------------------------------------------- writing

_NULL = "\\N"


def insert_derived(con: duckdb.DuckDBPyConnection, table: str, columns_sql: str,
                   rows: Iterable[Mapping[str, Any]]) -> int:
    """Bulk-insert derived rows (with provenance keys) through a temporary CSV file.

    Derived tables are rewritten after every write, so their insert cost is paid often:
    the csv module is several times faster than one `json.dumps` per row. Lists and JSON
    values travel as JSON text and are parsed back by DuckDB; NULL is written as \\N."""
    columns = split_columns(columns_sql) + list(PROVENANCE_COLUMNS)
    kinds = ["list" if typ.endswith("[]") else "json" if typ.upper() == "JSON" else "plain"
             for _name, typ in columns]
    count = 0
    with tempfile.TemporaryDirectory(prefix="llmcarto-derived-") as tmp:
        path = os.path.join(tmp, "rows.csv")
        names = [name for name, _typ in columns]
        encoded = [i for i, kind in enumerate(kinds) if kind != "plain"]
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            for row in rows:
                out = [_NULL if v is None else v for v in map(row.get, names)]
                for i in encoded:
                    if out[i] is not _NULL:
                        out[i] = json.dumps(out[i], ensure_ascii=False, default=str)
                writer.writerow(out)
                count += 1
        if count:
            spec = ", ".join(f"'{name}': '{'VARCHAR' if kind != 'plain' else typ}'"
                             for (name, typ), kind in zip(columns, kinds, strict=True))
            select = ", ".join(
                f"from_json(\"{name}\", '[\"{typ[:-2]}\"]')" if kind == "list"
                else f"CAST(\"{name}\" AS JSON)" if kind == "json" else f'"{name}"'
                for (name, typ), kind in zip(columns, kinds, strict=True))
            names = ", ".join(f'"{name}"' for name, _typ in columns)
            con.execute(f'INSERT INTO "{table}" ({names}) SELECT {select} FROM read_csv(?, '
                        f"header=false, nullstr='{_NULL}', quote='\"', escape='\"', "
                        f"columns={{{spec}}})", [path])
    return count


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store has table `name` (duckdb_tables() is cheaper than
    information_schema, and derived writers ask often)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                            [name]).fetchone()[0])



def write_stage_tables(con: duckdb.DuckDBPyConnection, rules: StageRules | None = None) -> int:
    """Recompute stage_trace and stage_gap from the store (derived tables, rebuilt whole)."""
    rules = rules or load_stage_rules()
    load_study()  # the rules were validated against it
    if not has_table(con, "case_info"):
        return 0
    index = case_index(con)
    traces = list(attribute(_all_items(con, index, rules), rules))
    filled = {(t["case_key"], t["stage"]) for t in traces}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, columns in (("stage_trace", STAGE_TRACE_COLUMNS),
                               ("stage_gap", STAGE_GAP_COLUMNS)):
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
            prov = ", ".join(f'"{n}" {t}' for n, t in PROVENANCE_COLUMNS)
            con.execute(f'CREATE TABLE "{table}" ({columns}, {prov})')
            con.execute("INSERT OR REPLACE INTO data_table VALUES (?, ?, ?)",
                        [table, "stage-rules", columns])
        traces.sort(key=lambda t: (t["case_key"], t["item_kind"], t["item_key"]))
        insert_derived(con, "stage_trace", STAGE_TRACE_COLUMNS, traces)
        insert_derived(con, "stage_gap", STAGE_GAP_COLUMNS,
                       gap_reasons(con, filled, index.cases, rules))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(traces)


def _all_items(con: duckdb.DuckDBPyConnection, index: CaseIndex,
               rules: StageRules) -> Iterator[Item]:
    yield from git_items(con, index, rules)
    yield from hub_items(con, index)
