"""Stage attribution: every trace in the store placed in a lifecycle stage by a rule.

The rules are data (`framework/stage_rules.yaml`); this module computes each item's
features, asks the rules, and writes `stage_trace` (one row per item and case, with the
rule id) and `stage_gap` (one row per case × stage cell without a trace, with the
reason). `attribute` is pure; `write_stage_tables` is the only part that touches the
store.

Features per item kind (`FEATURES`), the vocabulary of the rules' `when`:
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from llmcarto.framework.stage_rules import StageRules, load_stage_rules
from llmcarto.framework.study import load_study
from llmcarto.store.ingest import insert_rows
from llmcarto.store.schema import PROVENANCE_COLUMNS
from llmcarto.store.status import has_table

FEATURES = {
    "commit": {"inherited": "reachable from the repository's fork point or last upstream sync",
               "repo_role": "primary role of the repository in the case registry, or None"},
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
    "date TIMESTAMPTZ")
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
    """Place each item with the first matching rule; one stage_trace row per item."""
    for item in items:
        rule = rules.decide(item.kind, item.features)
        yield {
            "case_key": item.case_key, "stage": rule.stage, "activity": rule.activity,
            "domain": rule.domain, "rule": rule.id, "item_kind": item.kind,
            "item_table": item.table, "item_key": item.key, "label": item.label,
            "date": item.date, **{name: item.provenance.get(name)
                                  for name, _ in PROVENANCE_COLUMNS},
        }


# ----------------------------------------------------------------------- reading items


@dataclass
class CaseIndex:
    """What the registry tables say, shaped for fast look-ups."""

    orgs: dict[str, set[str]]  # lower-case Hub org -> case keys
    line_regexes: dict[str, list[re.Pattern[str]]]
    repos: dict[str, list[tuple[str, tuple[str, ...], str | None, str | None]]]
    cases: list[str]

    def cases_of_owner(self, repo_id: str) -> set[str]:
        return self.orgs.get(repo_id.split("/", 1)[0].lower(), set())

    def in_release_line(self, case_key: str, repo_id: str) -> bool:
        return any(p.search(repo_id) for p in self.line_regexes.get(case_key, ()))


def case_index(con: duckdb.DuckDBPyConnection) -> CaseIndex:
    orgs: dict[str, set[str]] = defaultdict(set)
    regexes: dict[str, list[re.Pattern[str]]] = defaultdict(list)
    for case_key, hub_orgs, regex in con.execute(
            "SELECT case_key, hub_orgs, id_regex FROM case_release_line").fetchall():
        for org in hub_orgs or ():
            orgs[org.lower()].add(case_key)
        if regex:
            regexes[case_key].append(re.compile(regex))
    repos: dict[str, list] = defaultdict(list)
    for case_key, repo, roles, fork_point, synced in con.execute(
            "SELECT case_key, repo, roles, fork_point, upstream_synced_to "
            "FROM case_repository").fetchall():
        repos[repo.lower()].append((case_key, tuple(roles or ()), fork_point, synced))
    cases = [r[0] for r in con.execute(
        "SELECT case_key FROM case_info ORDER BY case_key").fetchall()]
    return CaseIndex(dict(orgs), dict(regexes), dict(repos), cases)


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


def git_items(con: duckdb.DuckDBPyConnection, index: CaseIndex) -> Iterator[Item]:
    if has_table(con, "git_commit"):
        by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in _rows(con, f"SELECT repo, sha, parents, subject, author_date, {PROV_SQL} "
                              "FROM git_commit"):
            by_repo[row["repo"]].append(row)
        for repo, rows in by_repo.items():
            for case_key, roles, fork_point, synced in index.repos.get(repo.lower(), ()):
                starts = [s for s in (fork_point, synced) if s]
                inherited = inherited_commits(
                    {r["sha"]: list(r["parents"] or ()) for r in rows}, starts) if starts else set()
                role = roles[0] if roles else None
                for r in rows:
                    yield Item("commit", "git_commit", f"{repo}@{r['sha']}", case_key,
                               {"inherited": r["sha"] in inherited, "repo_role": role},
                               f"{repo} {r['sha'][:10]} {r['subject'] or ''}".strip(),
                               _iso(r["author_date"]), _prov(r))
    if has_table(con, "git_pull"):
        for r in _rows(con, f"SELECT repo, number, head_sha, author_date, {PROV_SQL} "
                            "FROM git_pull"):
            for case_key, roles, _fp, _sync in index.repos.get(r["repo"].lower(), ()):
                yield Item("pull-request", "git_pull", f"{r['repo']}#{r['number']}", case_key,
                           {"repo_role": roles[0] if roles else None},
                           f"{r['repo']} PR #{r['number']} head {r['head_sha'][:10]}",
                           _iso(r["author_date"]), _prov(r))


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
                cases: list[str]) -> Iterator[dict[str, Any]]:
    """A reason for every (case, grid stage) without a trace: what could have filled it."""
    role_stage = {"pre-training code": "pre-training", "pre-training data": "pre-training",
                  "post-training code": "post-training", "post-training data": "post-training",
                  "evaluation": "post-release", "inference/docs": "post-release"}
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
                             " are not attributed until path classes decide")
            org_list = ", ".join(sorted(orgs[case_key])) or "none"
            parts.append(f"no Hub trace of this stage from the case's Hub organisations "
                         f"({org_list}) is in the snapshot")
            yield {"case_key": case_key, "stage": stage, "reason": "; ".join(parts) + ".",
                   "source": "stage-rules", "source_url": None, "snapshot_date": None,
                   "file": None, "loc": None, "snapshot_id": None}


# --------------------------------------------------------------------------- writing


def write_stage_tables(con: duckdb.DuckDBPyConnection, rules: StageRules | None = None) -> int:
    """Recompute stage_trace and stage_gap from the store (derived tables, rebuilt whole)."""
    rules = rules or load_stage_rules()
    load_study()  # the rules were validated against it
    if not has_table(con, "case_info"):
        return 0
    index = case_index(con)
    traces = list(attribute(_all_items(con, index), rules))
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
        insert_rows(con, "stage_trace", STAGE_TRACE_COLUMNS, traces)
        insert_rows(con, "stage_gap", STAGE_GAP_COLUMNS, gap_reasons(con, filled, index.cases))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(traces)


def _all_items(con: duckdb.DuckDBPyConnection, index: CaseIndex) -> Iterator[Item]:
    yield from git_items(con, index)
    yield from hub_items(con, index)
