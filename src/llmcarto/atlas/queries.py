"""The SQL the atlas runs, in one place, so a number on a page and the evidence behind it
are counted by the same predicate.

Every function takes a `Reader` (a cursor on the published copy) and tolerates missing
tables: a store built before an analysis existed shows "no data", not an error.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from llmcarto.atlas.published import Reader
from llmcarto.framework.study import STAGE_KEYS

GRID_STAGES: tuple[str, ...] = STAGE_KEYS  # the study's stages, in order
OUTSIDE_STAGES = ("inherited", "unknown")
ALL_STAGES = GRID_STAGES + OUTSIDE_STAGES
# Display order and words for stage_trace.item_kind (singular, plural).
ITEM_KINDS: dict[str, tuple[str, str]] = {
    "commit": ("commit", "commits"),
    "pull-request": ("pull request", "pull requests"),
    "hub-model": ("Hub model", "Hub models"),
    "card": ("card", "cards"),
    "hub-commit": ("Hub commit", "Hub commits"),
    "download-series": ("download series", "download series"),
    "discussion": ("discussion", "discussions"),
    "derivative": ("derivative", "derivatives"),
}
USER_CASES_PREFIX = "cases/user/"  # how `build` names user case files (store/build.py)
EVIDENCE_FILTERS = ("case", "repo", "stage", "kind", "rule", "month")
# `stage=own`: every stage but `inherited` — the case's own work, as the measures count it
# (analysis.measures leaves inherited upstream history out).
OWN_STAGE = "own"
MONTH_PATTERN = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
# The repository of a trace, from its item key (analysis/stages.py builds the keys:
# `repo@sha`, `repo#number`, `id @ card-url`, a Hub id, or a Hub discussion URL).
ITEM_REPO_SQL = r"""CASE
    WHEN item_kind IN ('commit', 'hub-commit') THEN split_part(item_key, '@', 1)
    WHEN item_kind = 'pull-request' THEN split_part(item_key, '#', 1)
    WHEN item_kind = 'card' THEN split_part(item_key, ' @ ', 1)
    WHEN item_kind IN ('hub-model', 'download-series') THEN item_key
    WHEN item_kind = 'discussion' THEN nullif(regexp_extract(item_key,
        '^https?://huggingface\.co/(?:(?:datasets|spaces)/)?([^/]+/[^/]+)/discussions', 1), '')
    END"""
_FILTER_SQL = {"case": "case_key = ?", "repo": f"({ITEM_REPO_SQL}) = ?", "stage": "stage = ?",
               "kind": "item_kind = ?", "rule": "rule = ?",
               "month": "strftime(date AT TIME ZONE 'UTC', '%Y-%m') = ?"}


def kind_words(kind: str, count: int) -> str:
    singular, plural = ITEM_KINDS.get(kind, (kind, kind))
    return singular if count == 1 else plural


def kind_order(kind: str) -> tuple[int, str]:
    keys = list(ITEM_KINDS)
    return (keys.index(kind) if kind in keys else len(keys), kind)


# ----------------------------------------------------------------------------- cases


def cases(db: Reader) -> list[dict[str, Any]]:
    """Every case (the study's and user cases), ordered by organisation name.

    A user case file that reuses a key replaces that case whole, so when the store holds
    a key from several registry files only the winning file's row is kept: a user file
    over the packaged registry, the most recently loaded user file over older ones."""
    if not db.has("case_info"):
        return []
    loaded = "NULL"
    join = ""
    if db.has("import_file"):
        loaded, join = "f.loaded_at", "LEFT JOIN import_file f ON f.file = c.file"
    rows = db.rows(f"""SELECT c.case_key, c.name, c.org_type, c.country, c.region,
                              c.study_box, c.study_column, c.study_box_source,
                              c.study_model_family, c.origin, c.facts, c.source_url, c.file,
                              c.loc, c.snapshot_date
                       FROM case_info c {join}
                       QUALIFY row_number() OVER (
                           PARTITION BY c.case_key
                           ORDER BY starts_with(coalesce(c.origin, ''), ?) DESC,
                                    {loaded} DESC NULLS LAST, c.file DESC) = 1
                       ORDER BY lower(c.name), c.case_key""", [USER_CASES_PREFIX])
    for row in rows:
        row["facts"] = _json(row["facts"]) or {}
        row["user_case"] = (row["origin"] or "").startswith(USER_CASES_PREFIX)
    return rows


def case(db: Reader, key: str) -> dict[str, Any] | None:
    return next((c for c in cases(db) if c["case_key"] == key), None)


def _registry_rows(db: Reader, table: str, key: str, order: str) -> list[dict[str, Any]]:
    """Rows of a case_* table for `key`, from the registry file that won for that case."""
    found = case(db, key)
    if not db.has(table) or found is None:
        return []
    return db.rows(f"""SELECT * FROM "{table}" WHERE case_key = ? AND file IS NOT DISTINCT FROM ?
                       ORDER BY {order}""", [key, found["file"]])


def release_lines(db: Reader, key: str) -> list[dict[str, Any]]:
    return _registry_rows(db, "case_release_line", key, "first_release NULLS LAST, name")


def repositories(db: Reader, key: str) -> list[dict[str, Any]]:
    return _registry_rows(db, "case_repository", key, "repo")


def partners(db: Reader, key: str) -> list[dict[str, Any]]:
    return _registry_rows(db, "case_partner", key, "lower(name)")


def domains(db: Reader, key: str) -> list[dict[str, Any]]:
    return _registry_rows(db, "case_domain", key, "class, organisation, domain")


def hub_orgs(db: Reader, key: str) -> list[str]:
    """The union of the case's release lines' Hub organisations (lower-cased)."""
    orgs = {org.lower() for line in release_lines(db, key) for org in (line["hub_orgs"] or [])}
    return sorted(orgs)


# ----------------------------------------------------------------------------- stages


def stages_available(db: Reader) -> bool:
    return db.has("stage_trace")


def stage_counts(db: Reader, key: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """case → stage → item kind → number of traces (the grid's numbers)."""
    out: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    if not db.has("stage_trace"):
        return out
    where, params = ("WHERE case_key = ?", [key]) if key else ("", [])
    for row in db.rows(f"""SELECT case_key, stage, item_kind, count(*) AS n FROM stage_trace
                           {where} GROUP BY ALL""", params):
        out[row["case_key"]][row["stage"]][row["item_kind"]] = row["n"]
    return out


def stage_gaps(db: Reader, key: str | None = None) -> dict[tuple[str, str], str]:
    """(case, stage) → why the cell is empty."""
    if not db.has("stage_gap"):
        return {}
    where, params = ("WHERE case_key = ?", [key]) if key else ("", [])
    gaps: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in db.rows(f"SELECT case_key, stage, reason FROM stage_gap {where}", params):
        if row["reason"]:
            gaps[(row["case_key"], row["stage"])].append(row["reason"])
    return {k: "; ".join(dict.fromkeys(v)) for k, v in gaps.items()}


@dataclass(frozen=True)
class EvidenceFilter:
    """Equality filters on `stage_trace`; `repo` is the trace's repository (from its item
    key), `month` the calendar month `YYYY-MM` of its date (UTC), `stage=own` every stage
    but inherited."""

    case: str | None = None
    stage: str | None = None
    kind: str | None = None
    rule: str | None = None
    repo: str | None = None
    month: str | None = None

    def items(self) -> list[tuple[str, str]]:
        return [(name, getattr(self, name)) for name in EVIDENCE_FILTERS if getattr(self, name)]

    def where(self) -> tuple[str, list[str]]:
        clauses, params = [], []
        for name, value in self.items():
            if name == "stage" and value == OWN_STAGE:
                clauses.append("stage <> 'inherited'")
                continue
            clauses.append(_FILTER_SQL[name])
            params.append(value)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def filter_problem(name: str, value: str) -> str | None:
    """Why an evidence filter value is refused (the page answers 400), or None."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return f"{name}: control characters are not allowed"
    if name == "month" and not MONTH_PATTERN.fullmatch(value):
        return f"month {value!r}: expected a calendar month YYYY-MM (e.g. 2024-03)"
    return None


def evidence_count(db: Reader, flt: EvidenceFilter) -> int:
    if not db.has("stage_trace"):
        return 0
    where, params = flt.where()
    return int(db.value(f"SELECT count(*) FROM stage_trace {where}", params) or 0)


def evidence_items(db: Reader, flt: EvidenceFilter, limit: int, offset: int
                   ) -> list[dict[str, Any]]:
    """One page of traces, newest first, in a total order so pages never overlap."""
    if not db.has("stage_trace"):
        return []
    where, params = flt.where()
    return db.rows(f"""SELECT case_key, stage, activity, domain, rule, item_kind, item_table,
                              item_key, label, date, source_url, snapshot_date, file, loc
                       FROM stage_trace {where}
                       ORDER BY date DESC NULLS LAST, item_kind, item_key, file, loc, rowid
                       LIMIT ? OFFSET ?""", [*params, limit, offset])


def rules(db: Reader, key: str) -> list[dict[str, Any]]:
    """How many traces of the case each attribution rule decided."""
    if not db.has("stage_trace"):
        return []
    return db.rows("""SELECT rule, stage, count(*) AS n FROM stage_trace WHERE case_key = ?
                      GROUP BY ALL ORDER BY n DESC, rule""", [key])


# ----------------------------------------------------------------------------- Hub repos


def hub_repo_ids(db: Reader, key: str) -> list[str]:
    """Ids of Hub repos the store holds for the case: owner in its Hub orgs, or a card
    registered for it (case-insensitive owners)."""
    orgs = hub_orgs(db, key)
    parts, params = [], []
    if db.has("hub_model") and orgs:
        parts.append("SELECT id FROM hub_model WHERE list_contains(?, lower(split_part(id, "
                     "'/', 1)))")
        params.append(orgs)
    if db.has("model_card"):
        parts.append("SELECT id FROM model_card WHERE case_key = ? OR list_contains(?, "
                     "lower(split_part(id, '/', 1)))")
        params += [key, orgs]
    if not parts:
        return []
    return [r["id"] for r in db.rows(
        f"SELECT DISTINCT id FROM ({' UNION '.join(parts)}) WHERE id IS NOT NULL "
        "ORDER BY lower(id)", params)]


def hub_models(db: Reader, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not ids or not db.has("hub_model"):
        return {}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in db.rows("""SELECT id, tree, depth, author, created_at, last_modified, license,
                                 gated, downloads, likes, library_name, pipeline_tag,
                                 source_url, snapshot_date, file, loc
                          FROM hub_model WHERE list_contains(?, id)
                          ORDER BY id, tree, depth""", [ids]):
        out[row["id"]].append(row)
    return out


def model_cards(db: Reader, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not ids or not db.has("model_card"):
        return {}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in db.rows("""SELECT id, repo_type, case_key, role, url, source_host, revision,
                                 yaml_raw, yaml_collapsed, yaml_status, yaml_error, license,
                                 base_model, base_model_relation, datasets, languages, body,
                                 notes, origin, source_url, snapshot_date, file, loc
                          FROM model_card WHERE list_contains(?, id)
                          ORDER BY id, file, loc""", [ids]):
        out[row["id"]].append(row)
    return out


# ----------------------------------------------------------------------------- lineage


def lineage_available(db: Reader) -> bool:
    return db.has("lineage_edge", "lineage_family")


def lineage_families(db: Reader, key: str) -> list[dict[str, Any]]:
    """The lineage families rooted at a model of the case's Hub organisations (largest
    first), each with its measures (analysis/lineage.py `family_measures`)."""
    if not db.has("lineage_family"):
        return []
    rows = db.rows("""SELECT root, case_keys, is_root, descendants, edges, depth, disagreements,
                             measures, source_url
                      FROM lineage_family WHERE list_contains(case_keys, ?)
                      ORDER BY descendants DESC, lower(root)""", [key])
    for row in rows:
        row["measures"] = _json(row["measures"]) or {}
    return rows


def lineage_upstream(db: Reader, key: str, limit: int = 20) -> list[dict[str, Any]]:
    """Edges from a model outside the case's Hub organisations to one inside: the case's
    models as derivatives of others' (its own families' inner edges are left out)."""
    orgs = hub_orgs(db, key)
    if not orgs or not db.has("lineage_edge"):
        return []
    return db.rows("""SELECT parent, child, relation, declared_relation, inferred_relation, rule,
                             rule_evidence, sources, confidence, source_url, snapshot_date,
                             file, loc
                      FROM lineage_edge
                      WHERE list_contains(?, lower(split_part(child, '/', 1)))
                        AND NOT list_contains(?, lower(split_part(parent, '/', 1)))
                      ORDER BY lower(child), lower(parent) LIMIT ?""", [orgs, orgs, limit])


# ----------------------------------------------------------------------------- snapshot


def snapshot_summary(db: Reader) -> dict[str, Any]:
    """Which snapshot(s) the store holds and when the data were taken."""
    if not db.has("import_file"):
        return {"ids": [], "first": None, "last": None, "files": 0}
    row = db.rows("""SELECT list(DISTINCT snapshot_id ORDER BY snapshot_id) AS ids,
                            min(snapshot_date) AS first, max(snapshot_date) AS last,
                            count(*) AS files FROM import_file""")[0]
    return row


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


# ------------------------------------------------------------- collaboration measures

COLLAB_OVERVIEW = ("commits", "contributors", "returning_contributors", "external_share",
                   "organisations", "organisational_diversity", "elephant_factor",
                   "contributor_absence_factor", "outside_pr_merge_rate", "lifespan_months",
                   "activity_decay")


def collab_available(db: Reader) -> bool:
    return db.has("collab_measure")


def collab_measures(db: Reader, key: str) -> list[dict[str, Any]]:
    """The case's overall measures (all repositories, period `all`) per stage and platform."""
    if not db.has("collab_measure"):
        return []
    return db.rows("SELECT stage, platform, measure, value, n, unknown_share, status, reason, "
                   "evidence FROM collab_measure WHERE case_key = ? AND repo = '*' "
                   "AND period = 'all' ORDER BY platform, stage, measure", [key])


def collab_monthly(db: Reader, key: str) -> list[dict[str, Any]]:
    """Per calendar month of the whole case (git, all stages): commits, contributors, new
    and returning contributors, registered organisations, the external share with its n
    and unknown share, and the evidence link of the month's commits."""
    if not db.has("collab_measure"):
        return []
    return db.rows("""
        SELECT period AS month,
               max(value) FILTER (WHERE measure = 'commits') AS commits,
               max(value) FILTER (WHERE measure = 'contributors') AS contributors,
               max(value) FILTER (WHERE measure = 'new_contributors') AS new,
               max(value) FILTER (WHERE measure = 'returning_contributors') AS returning,
               max(value) FILTER (WHERE measure = 'organisations') AS organisations,
               max(value) FILTER (WHERE measure = 'external_share') AS external_share,
               max(n) FILTER (WHERE measure = 'external_share') AS external_n,
               max(unknown_share) FILTER (WHERE measure = 'external_share') AS unknown_share,
               max(evidence) FILTER (WHERE measure = 'commits') AS evidence
        FROM collab_measure WHERE case_key = ? AND repo = '*' AND stage = '*'
          AND platform = 'git' AND period <> 'all'
        GROUP BY period ORDER BY period""", [key])


def collab_repo_lifespans(db: Reader, key: str) -> list[dict[str, Any]]:
    if not db.has("collab_measure"):
        return []
    return db.rows("""
        SELECT repo, max(value) FILTER (WHERE measure = 'lifespan_months') AS months,
               max(value) FILTER (WHERE measure = 'commits') AS commits,
               max(value) FILTER (WHERE measure = 'activity_decay') AS decay,
               max(reason) FILTER (WHERE measure = 'activity_decay') AS decay_reason,
               max(evidence) FILTER (WHERE measure = 'commits') AS evidence
        FROM collab_measure WHERE case_key = ? AND repo <> '*' AND stage = '*'
          AND platform = 'git' AND period = 'all' GROUP BY repo ORDER BY repo""", [key])


def collab_hub_monthly(db: Reader, key: str) -> list[dict[str, Any]]:
    """Per calendar month: the case's Hub commits and bot commits (null with the status
    when the case has too few Hub commits), n and the evidence link of the month."""
    if not db.has("collab_measure"):
        return []
    return db.rows("""
        SELECT period AS month,
               max(value) FILTER (WHERE measure = 'commits') AS commits,
               max(value) FILTER (WHERE measure = 'bot_commits') AS bot_commits,
               max(n) FILTER (WHERE measure = 'commits') AS n,
               max(status) FILTER (WHERE measure = 'commits') AS status,
               max(evidence) FILTER (WHERE measure = 'commits') AS evidence
        FROM collab_measure WHERE case_key = ? AND platform = 'hub' AND repo = '*'
          AND period <> 'all'
        GROUP BY period ORDER BY period""", [key])


def top_organisations(db: Reader, key: str, limit: int = 10) -> list[dict[str, Any]]:
    """Registered organisations by own commits to the case's repositories (bots, inherited
    history and unknown authors left out)."""
    if not db.has("commit_affiliation"):
        return []
    return db.rows("""
        SELECT author_org AS org, author_class AS class, count(*) AS commits,
               count(DISTINCT person) AS contributors, count(DISTINCT repo) AS repos
        FROM commit_affiliation WHERE case_key = ? AND NOT inherited
          AND author_class IN ('internal', 'partner', 'external') AND author_org IS NOT NULL
        GROUP BY ALL ORDER BY commits DESC, org LIMIT ?""", [key, limit])


def collab_grid(db: Reader) -> dict[tuple[str, str], dict[str, Any]]:
    """(case, stage) → the git external share row (value, n, unknown_share, status, reason)."""
    if not db.has("collab_measure"):
        return {}
    return {(r["case_key"], r["stage"]): r for r in db.rows(
        "SELECT case_key, stage, value, n, unknown_share, status, reason, evidence "
        "FROM collab_measure WHERE repo = '*' AND platform = 'git' AND period = 'all' "
        "AND measure = 'external_share'")}


def organisations_by_year(db: Reader, key: str) -> dict[str, int]:
    """year → distinct registered organisations with an own commit that year."""
    if not db.has("commit_affiliation"):
        return {}
    return {str(r["year"]): r["orgs"] for r in db.rows("""
        SELECT year(date AT TIME ZONE 'UTC') AS year, count(DISTINCT author_org) AS orgs
        FROM commit_affiliation WHERE case_key = ? AND NOT inherited AND date IS NOT NULL
          AND author_class IN ('internal', 'partner', 'external') AND author_org IS NOT NULL
        GROUP BY 1 ORDER BY 1""", [key])}
