"""The `licence_drift` derived table: every lineage edge with the licence at each end,
its drift verdict and rule, and gating drift (issue #6).

Each model's licence is read from every source that states it (`licence_claims`): the Hub
tag, the card (crawled, or a stored copy), the case registry's release line, the Model
Openness Tool. The first of them that names one licence text speaks for the model
(`primary`); when sources name different licences, every pair's verdict is kept with its
sources (`edge_drift`, design §6). `write_licence_tables` is the writer listed in
`analysis.DERIVED` after the lineage writer, whose `lineage_edge` it reads.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from llmcarto.analysis.licences import (
    drift,
    drift_rates,
    gating_drift,
    normalise,
    percent,
)
from llmcarto.framework.licences import LicenceBase, RuleTable, load_licences, load_rules
from llmcarto.store.status import has_table

#: licence sources of a model, most authoritative first (the primary claim is the first that
#: names one licence text; every claim is kept)
CLAIM_SOURCES = ("hub-tag", "hub-card", "card", "card-copy", "registry", "mot")
DRIFT_COLUMNS = (
    "parent VARCHAR, child VARCHAR, relation VARCHAR, families VARCHAR[], "
    "parent_licence VARCHAR, parent_licence_how VARCHAR, parent_licence_raw VARCHAR, "
    "parent_licence_source VARCHAR, parent_licence_url VARCHAR, "
    "child_licence VARCHAR, child_licence_how VARCHAR, child_licence_raw VARCHAR, "
    "child_licence_source VARCHAR, child_licence_url VARCHAR, "
    "parent_label VARCHAR, child_label VARCHAR, drift VARCHAR, rule VARCHAR, "
    "licence_changed BOOLEAN, parent_gated VARCHAR, child_gated VARCHAR, "
    "gating_drift VARCHAR, gating_rule VARCHAR, licence_disagreement BOOLEAN, verdicts JSON")


@dataclass(frozen=True)
class Claim:
    """One source's statement of a model's licence, normalised, with where it was read."""

    licence: str | None
    how: str
    raw: str | None
    source: str  # one of CLAIM_SOURCES
    url: str | None
    file: str | None = None
    loc: str | None = None
    snapshot_date: Any = None
    snapshot_id: str | None = None
    parts: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"licence": self.licence, "how": self.how, "raw": self.raw,
                "source": self.source, "url": self.url, "file": self.file, "loc": self.loc}


def primary(claims: Iterable[Claim], base: LicenceBase | None = None) -> Claim | None:
    """The claim that speaks for a model: the first (CLAIM_SOURCES order) naming one licence
    text, else the first claim with any licence, else None."""
    base = base or load_licences()
    ordered = sorted(claims, key=lambda c: CLAIM_SOURCES.index(c.source))
    return (next((c for c in ordered if base.is_specific(c.licence)), None)
            or next((c for c in ordered if c.licence), None))


def edge_drift(parent_claims: list[Claim], child_claims: list[Claim],
               rules: RuleTable | None = None, base: LicenceBase | None = None
               ) -> dict[str, Any]:
    """Licence drift of one edge from every claim at each end (pure).

    The verdict comes from the primary claims; when a side's sources name different
    licences (`licence_disagreement`), `verdicts` holds the verdict for every pair of the
    distinct licences, each with its sources, so nothing is silently resolved (design §6).
    """
    rules, base = rules or load_rules(), base or load_licences()
    p, c = primary(parent_claims, base), primary(child_claims, base)
    verdict, rule = drift(p.licence if p else None, c.licence if c else None, rules, base)
    known = base.is_specific(p.licence if p else None) and base.is_specific(
        c.licence if c else None)

    def distinct(claims: list[Claim]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for claim in claims:
            if claim.licence:
                out.setdefault(claim.licence, []).append(claim.source)
        return out

    p_ids, c_ids = distinct(parent_claims), distinct(child_claims)
    disagreement = len(p_ids) > 1 or len(c_ids) > 1
    verdicts = []
    if disagreement:
        for pl, p_src in p_ids.items():
            for cl, c_src in c_ids.items():
                v, r = drift(pl, cl, rules, base)
                verdicts.append({"parent_licence": pl, "parent_sources": sorted(set(p_src)),
                                 "child_licence": cl, "child_sources": sorted(set(c_src)),
                                 "drift": v, "rule": r})
    return {"parent": p, "child": c, "drift": verdict, "rule": rule,
            "licence_changed": (p.licence != c.licence) if known and p and c else None,
            "licence_disagreement": disagreement, "verdicts": verdicts}


def licence_claims(con: duckdb.DuckDBPyConnection,
                   base: LicenceBase | None = None) -> dict[str, list[Claim]]:
    """Every licence claim per Hub id the store holds (CLAIM_SOURCES), normalised."""
    base = base or load_licences()
    out: dict[str, list[Claim]] = defaultdict(list)
    names: dict[str, str] = {}
    if has_table(con, "model_card"):
        for model_id, name in con.execute(
                "SELECT id, json_extract_string(card_data, '$.license_name') FROM model_card "
                "WHERE origin = 'hf-trees' AND card_data IS NOT NULL").fetchall():
            if name:
                names[model_id] = name
    if has_table(con, "hub_model"):
        for r in _dict_rows(con, "SELECT id, license, tags, source_url, snapshot_date, file, "
                                 "loc, snapshot_id FROM hub_model WHERE license IS NOT NULL"):
            tagged = any(t.startswith("license:") for t in r["tags"] or ())
            got = normalise(r["license"], names.get(r["id"]), base)
            out[r["id"]].append(Claim(got.id, got.how, r["license"],
                                      "hub-tag" if tagged else "hub-card", r["source_url"],
                                      r["file"], r["loc"], r["snapshot_date"], r["snapshot_id"],
                                      got.parts))
    if has_table(con, "model_card"):
        for r in _dict_rows(con, "SELECT id, license, json_extract_string(card_data, "
                                 "'$.license_name') AS license_name, origin, url, snapshot_date,"
                                 " file, loc, snapshot_id FROM model_card "
                                 "WHERE license IS NOT NULL"):
            got = normalise(r["license"], r["license_name"], base)
            out[r["id"]].append(Claim(got.id, got.how, r["license"],
                                      "card" if r["origin"] == "hf-trees" else "card-copy",
                                      r["url"], r["file"], r["loc"], r["snapshot_date"],
                                      r["snapshot_id"], got.parts))
    if has_table(con, "case_release_line"):
        lines = list(_dict_rows(con, "SELECT hub_orgs, id_regex, licence, hub_license_id, "
                                     "licence_source, snapshot_date, file, loc, snapshot_id "
                                     "FROM case_release_line WHERE id_regex IS NOT NULL AND "
                                     "(licence IS NOT NULL OR hub_license_id IS NOT NULL)"))
        for model_id in _known_ids(con):
            owner = model_id.split("/", 1)[0].lower()
            for line in lines:
                if owner in {o.lower() for o in line["hub_orgs"] or ()} and \
                        re.search(line["id_regex"], model_id):
                    raw = line["hub_license_id"] or line["licence"]
                    got = normalise(raw, None, base)
                    out[model_id].append(Claim(got.id, got.how, raw, "registry",
                                               line["licence_source"], line["file"],
                                               line["loc"], line["snapshot_date"],
                                               line["snapshot_id"], got.parts))
    if has_table(con, "mot_model"):
        for r in _dict_rows(con, "SELECT huggingface_url, distribution_license, source_url, "
                                 "snapshot_date, file, loc, snapshot_id FROM mot_model "
                                 "WHERE distribution_license IS NOT NULL"):
            match = re.match(r"^https?://huggingface\.co/([^/?#]+/[^/?#]+)/?$",
                             (r["huggingface_url"] or "").strip())
            if match:
                got = normalise(r["distribution_license"], None, base)
                out[match.group(1)].append(Claim(got.id, got.how, r["distribution_license"],
                                                 "mot", r["source_url"], r["file"], r["loc"],
                                                 r["snapshot_date"], r["snapshot_id"],
                                                 got.parts))
    return dict(out)


def _known_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    ids: set[str] = set()
    for table, column in (("hub_model", "id"), ("model_card", "id"), ("lineage_edge", "parent"),
                          ("lineage_edge", "child")):
        if has_table(con, table):
            ids |= {r[0] for r in con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"')
                    .fetchall() if r[0]}
    return ids


def _dict_rows(con: duckdb.DuckDBPyConnection, sql: str,
               params: list | None = None) -> Iterator[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    for row in cur.fetchall():
        yield dict(zip(names, row, strict=True))


def drift_rows(con: duckdb.DuckDBPyConnection, rules: RuleTable | None = None,
               base: LicenceBase | None = None) -> list[dict[str, Any]]:
    """One licence_drift row per lineage edge (the table's columns plus provenance)."""
    from llmcarto.analysis.lineage_scale import from_edges

    rules, base = rules or load_rules(), base or load_licences()
    if not has_table(con, "lineage_edge"):
        return []
    edges = list(_dict_rows(con, "SELECT parent, child, relation, source_url, snapshot_date, "
                                 "file, loc, snapshot_id FROM lineage_edge "
                                 "ORDER BY parent, child"))
    graph = from_edges([e["parent"] for e in edges], [e["child"] for e in edges])
    claims = licence_claims(con, base)
    gated_of: dict[str, str | None] = {}
    if has_table(con, "hub_model"):
        gated_of = dict(con.execute("SELECT id, gated FROM hub_model").fetchall())
    out = []
    for e in edges:
        p_claims, c_claims = claims.get(e["parent"], []), claims.get(e["child"], [])
        judged = edge_drift(p_claims, c_claims, rules, base)
        p, c = judged["parent"], judged["child"]
        g_verdict, g_rule = gating_drift(gated_of.get(e["parent"]), gated_of.get(e["child"]))
        labels = {side: next((cl.raw for cl in cls if cl.source == "hub-tag"), None)
                  for side, cls in (("parent", p_claims), ("child", c_claims))}
        evidence = c  # the child's licence record; without one, the edge's own record
        out.append({
            "parent": e["parent"], "child": e["child"], "relation": e["relation"],
            "families": sorted(graph.roots_above(e["child"])),
            **_side("parent", p), **_side("child", c),
            "parent_label": labels["parent"], "child_label": labels["child"],
            "drift": judged["drift"], "rule": judged["rule"],
            "licence_changed": judged["licence_changed"],
            "parent_gated": gated_of.get(e["parent"]), "child_gated": gated_of.get(e["child"]),
            "gating_drift": g_verdict, "gating_rule": g_rule,
            "licence_disagreement": judged["licence_disagreement"],
            "verdicts": judged["verdicts"] or None,
            "source": "licence-rules",
            "source_url": evidence.url if evidence else e["source_url"],
            "snapshot_date": evidence.snapshot_date if evidence else e["snapshot_date"],
            "file": evidence.file if evidence else e["file"],
            "loc": evidence.loc if evidence else e["loc"],
            "snapshot_id": evidence.snapshot_id if evidence else e["snapshot_id"],
        })
    return out


def _side(side: str, claim: Claim | None) -> dict[str, Any]:
    return {f"{side}_licence": claim.licence if claim else None,
            f"{side}_licence_how": claim.how if claim else "missing",
            f"{side}_licence_raw": claim.raw if claim else None,
            f"{side}_licence_source": claim.source if claim else None,
            f"{side}_licence_url": claim.url if claim else None}


def write_licence_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute `licence_drift` (one row per lineage edge); a derived-table writer of
    `analysis.DERIVED`, after the lineage writer whose `lineage_edge` it reads."""
    from llmcarto.store.ingest import insert_rows
    from llmcarto.store.schema import PROVENANCE_COLUMNS

    rows_ = drift_rows(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute('DROP TABLE IF EXISTS "licence_drift"')
        prov = ", ".join(f'"{n}" {t}' for n, t in PROVENANCE_COLUMNS)
        con.execute(f'CREATE TABLE "licence_drift" ({DRIFT_COLUMNS}, {prov})')
        con.execute("INSERT OR REPLACE INTO data_table VALUES (?, ?, ?)",
                    ["licence_drift", "licence-rules", DRIFT_COLUMNS])
        insert_rows(con, "licence_drift", DRIFT_COLUMNS, rows_)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows_)


def family_drift(con: duckdb.DuckDBPyConnection, family: str) -> list[dict[str, Any]]:
    """The licence_drift rows of one family (design §0: a model and its descendants): the
    edges whose child descends from `family`, as in `llmcarto export lineage --family`."""
    from llmcarto.analysis.lineage_scale import from_edges

    if not has_table(con, "licence_drift"):
        return []
    rows = list(_dict_rows(con, "SELECT * FROM licence_drift ORDER BY parent, child"))
    graph = from_edges([r["parent"] for r in rows], [r["child"] for r in rows])
    if family not in graph:
        return []
    members = graph.descendants(family)
    return [r for r in rows if r["child"] in members]


#: Laufer, Oderinwale, Kleinberg 2025 (arXiv:2508.06811), as cited in issue #6
LAUFER_FINETUNE_CHANGE = 0.198
BLOCK_BEGIN, BLOCK_END = "<!-- licences:begin -->\n", "<!-- licences:end -->"


def readme_block(con: duckdb.DuckDBPyConnection) -> str:
    """The README's licence-drift numbers, generated from `licence_drift` (a test compares)."""
    rows = list(_dict_rows(con, "SELECT * FROM licence_drift")) \
        if has_table(con, "licence_drift") else []
    by_relation = drift_rates(rows, "relation")
    overall = by_relation.pop("all", None)
    if overall is None:
        return "No lineage edges in the store.\n"
    lines = [
        f"Lineage edges in the store: {overall.edges:,}; both licences known (each end names "
        f"one licence text): {overall.known_both:,}; unknown share "
        f"{percent(overall.unknown_share, overall.edges)}.",
        "",
        "| relation | edges | both known | unknown share | changed | change rate "
        "| incompatible | Hub labels differ (both tagged) | gating known | gated parent, "
        "ungated child |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, r in [*sorted(by_relation.items()), ("all", overall)]:
        share = f"{100 * r.unknown_share:.1f} %" if r.unknown_share is not None else "–"
        lines.append(
            f"| {key} | {r.edges:,} | {r.known_both:,} | {share} | {r.changed:,} | "
            f"{percent(r.change_rate, r.known_both)} | {r.incompatible:,} | "
            f"{r.label_changed:,} of {r.label_both:,} "
            f"({percent(r.label_change_rate, r.label_both)}) | {r.gating_known:,} | "
            f"{r.gate_dropped:,} |")
    reasons = overall.unknown_reasons.most_common(4)
    lines += ["", "Why an edge is not known at both ends (an edge may count under both ends): "
              + "; ".join(f"{reason} {n:,}" for reason, n in reasons) + ".",
              "", "Verdicts of the changed edges: " + ", ".join(
                  f"{rule} {n:,}" for rule, n in sorted(_rule_counts(rows).items())) + ".",
              f"Laufer et al. (2025) report the licence changed on "
              f"{100 * LAUFER_FINETUNE_CHANGE:.1f} % of the full Hub's finetune edges.", ""]
    return "\n".join(lines)


def _rule_counts(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["drift"] in ("changed-compatible", "changed-incompatible") or (
                row["licence_changed"] and row["drift"] == "unknown"):
            out[row["rule"]] += 1
    return dict(out)
