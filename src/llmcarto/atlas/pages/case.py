"""`/case/{key}`: one case — organisation, study placement, release lines, repositories,
partners, its traces by stage, its model families (lineage) and every Hub repo the store
holds for it.

Lists that can grow (traces, Hub repos) are cut: traces show the newest few per stage with
a link to the full evidence view; Hub repos are paged here.
"""

from __future__ import annotations

from typing import Any

from llmcarto.atlas import queries
from llmcarto.atlas.licence_panel import licence_panel
from llmcarto.atlas.links import case_url, evidence_url
from llmcarto.atlas.pages.index import stage_cells
from llmcarto.atlas.published import Reader
from llmcarto.framework.study import load_study

TRACES_PER_STAGE = 5
HUB_REPOS_PER_PAGE = 10
ORGANISATION_FACTS = (("name", "Name"), ("type", "Type"), ("country", "Country"),
                      ("region", "Region"))


def organisation_facts(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The sourced facts of the case's organisation, in display order."""
    facts = case.get("facts") or {}
    out = []
    for key, label in ORGANISATION_FACTS:
        fact = facts.get(key) or {}
        out.append({"label": label, "value": fact.get("value"), "source": fact.get("source"),
                    "note": fact.get("note")})
    return out


def trace_sections(db: Reader, key: str) -> list[dict[str, Any]]:
    """Per stage (grid stages, then inherited and unknown): counts, newest items, more link."""
    study = load_study()
    cells = stage_cells(db, key)[key]
    sections = []
    for stage in queries.ALL_STAGES:
        cell = cells[stage]
        flt = queries.EvidenceFilter(case=key, stage=stage)
        items = queries.evidence_items(db, flt, TRACES_PER_STAGE, 0) if cell["total"] else []
        name = study.stage(stage).name if stage in queries.GRID_STAGES else stage.capitalize()
        sections.append({"stage": stage, "name": name, **cell, "items": items,
                         "all_href": evidence_url(case=key, stage=stage)})
    return sections


def hub_repos(db: Reader, key: str, page: int) -> dict[str, Any]:
    """One page of the case's Hub repos, each with its tree rows and stored card copies."""
    ids = queries.hub_repo_ids(db, key)
    pages = max(1, -(-len(ids) // HUB_REPOS_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = ids[(page - 1) * HUB_REPOS_PER_PAGE: page * HUB_REPOS_PER_PAGE]
    models = queries.hub_models(db, shown)
    cards = queries.model_cards(db, shown)
    repos = [{"id": repo_id, "models": models.get(repo_id, []), "cards": cards.get(repo_id, [])}
             for repo_id in shown]

    def href(n: int) -> str | None:
        if not 1 <= n <= pages or n == page:
            return None
        return f"{case_url(key)}?hub_page={n}#hub-repos"

    return {"repos": repos, "total": len(ids), "page": page, "pages": pages,
            "first": (page - 1) * HUB_REPOS_PER_PAGE + 1 if ids else 0,
            "last": (page - 1) * HUB_REPOS_PER_PAGE + len(shown),
            "prev": href(page - 1), "next": href(page + 1), "orgs": queries.hub_orgs(db, key)}


LINEAGE_DETAILED = 5  # families drawn in full; the rest are one table row each
LINEAGE_EXAMPLES = 3
MIX_RELATIONS = ("adapter", "finetune", "quantized", "merge", "unknown")
HUB = "https://huggingface.co/"


def family_panel(family: dict[str, Any]) -> dict[str, Any]:
    """One family's measures shaped for the page (every value still untrusted text)."""
    m = family["measures"]
    mix = m.get("relation_mix") or {}
    years: dict[str, int] = {}
    for row in m.get("created_by_month") or []:
        years[row["month"][:4]] = years.get(row["month"][:4], 0) + row["n"]
    langs = m.get("languages") or {}
    dis = m.get("disagreements") or {}
    return {
        "root": family["root"], "root_url": HUB + family["root"],
        "is_root": family["is_root"], "ancestors": m.get("ancestors") or [],
        "descendants": family["descendants"], "edges": family["edges"],
        "depth": family["depth"],
        "depth_distribution": sorted((m.get("depth_distribution") or {}).items(),
                                     key=lambda kv: int(kv[0])),
        "mix": [{"relation": rel, "declared": (mix.get("declared") or {}).get(rel, 0),
                 "inferred": (mix.get("inferred") or {}).get(rel, 0)}
                for rel in MIX_RELATIONS],
        "by_relation": m.get("descendants_by_relation") or {},
        "disagreement_edges": dis.get("edges", 0),
        "disagreements": [{**cls, "examples": [
            {**ex, "child_url": HUB + ex["child"]} for ex in cls["examples"][:LINEAGE_EXAMPLES]]}
            for cls in dis.get("classes") or []],
        "leaves": {"leaves": 0, "non_leaves": 0, "unknown": 0, "share": None, "note": None,
                   **(m.get("leaves") or {})},
        "authors": {"distinct": 0, "top": [], **(m.get("authors") or {})},
        "languages": {"base": None, "added": None, "with_languages": 0, "without": 0,
                      "note": None, **langs},
        "years": sorted(years.items()), "created_unknown": m.get("created_unknown", 0),
        "spaces": m.get("spaces_using_root"),
        "cycles": len(m.get("cycles") or []), "self_references": len(m.get("self_references")
                                                                     or []),
        "export": f"llmcarto export lineage --family {family['root']} --format csv",
    }


def lineage_panel(db: Reader, key: str) -> dict[str, Any]:
    """The family panel: families rooted at the case's models, and its models' parents
    outside the case."""
    families = queries.lineage_families(db, key)
    detailed = [family_panel(f) for f in families[:LINEAGE_DETAILED]]
    for panel in detailed:
        panel["licences"] = licence_panel(db.cur, panel["root"]) if db.has("licence_drift") \
            else None
    return {"available": queries.lineage_available(db),
            "families": detailed,
            "more": families[LINEAGE_DETAILED:],
            "upstream": queries.lineage_upstream(db, key)}


def context(db: Reader, key: str, hub_page: int = 1) -> dict[str, Any] | None:
    """The case page's context, or None when the store holds no case `key`."""
    case = queries.case(db, key)
    if case is None:
        return None
    study = load_study()
    return {
        "study": study,
        "case": case,
        "facts": organisation_facts(case),
        "release_lines": queries.release_lines(db, key),
        "repositories": queries.repositories(db, key),
        "partners": queries.partners(db, key),
        "domains": queries.domains(db, key),
        "sections": trace_sections(db, key),
        "rules": [{**r, "href": evidence_url(case=key, stage=r["stage"], rule=r["rule"])}
                  for r in queries.rules(db, key)],
        "hub": hub_repos(db, key, hub_page),
        "lineage": lineage_panel(db, key),
        "analysed": queries.stages_available(db),
        "collab": collab_panel(db, key),
    }


# ------------------------------------------------------------- collaboration measures

COLLAB_STAGES = ("*", *queries.GRID_STAGES, "unknown")
OWN_STAGE = queries.OWN_STAGE
SHARE_MEASURES = ("external_share", "organisational_diversity", "outside_pr_merge_rate",
                  "activity_decay", "bot_share")
MEASURE_NAMES = {
    "commits": "Commits (own)", "contributors": "Contributors",
    "returning_contributors": "Returning contributors (active in ≥ 2 months)",
    "external_share": "External share", "organisational_diversity":
    "Organisational diversity (Gini–Simpson)", "elephant_factor": "Elephant factor (known orgs)",
    "contributor_absence_factor": "Contributor absence factor",
    "outside_pr_merge_rate": "Outside-PR merge rate", "lifespan_months": "Lifespan (months)",
    "activity_decay": "Activity decay", "repos": "Repositories", "bot_commits": "Bot commits",
    "person_commits": "Commits by people", "bot_share": "Bot share",
    "organisations": "Registered organisations",
}


def measure_text(measure: str, value: float | None) -> str:
    if value is None:
        return "–"
    if measure in SHARE_MEASURES:
        return f"{100 * value:.1f} %"
    return f"{value:,.0f}"


COUNTS = ("commits", "contributors", "new", "returning", "organisations", "external_n")


def monthly_row(row: dict[str, Any]) -> dict[str, Any]:
    """One month of the case: counts as ints, the external share as text (null when its n
    is under the threshold: `status` says so), the evidence link of the month's commits."""
    out = {**row, **{k: None if row[k] is None else int(row[k]) for k in COUNTS}}
    out["external_text"] = measure_text("external_share", row["external_share"])
    out["unknown_text"] = (None if row["unknown_share"] is None
                           else f"{100 * row['unknown_share']:.1f} %")
    return out


def collab_panel(db: Reader, key: str) -> dict[str, Any]:
    """Measures per stage (git) and on the Hub, the monthly series by year, top organisations
    and repository lifespans; a null cell carries its reason."""
    rows = queries.collab_measures(db, key)
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        cells[(r["platform"], r["measure"], r["stage"])] = {
            **r, "text": measure_text(r["measure"], r["value"]),
            "unknown_text": None if r["unknown_share"] is None
            else f"{100 * r['unknown_share']:.1f} %"}
    stages = [s for s in COLLAB_STAGES if any(k[2] == s for k in cells if k[0] == "git")]
    git = [{"measure": m, "name": MEASURE_NAMES.get(m, m),
            "cells": [cells.get(("git", m, s)) for s in stages]}
           for m in queries.COLLAB_OVERVIEW if any(("git", m, s) in cells for s in stages)]
    hub = [{"measure": m, "name": MEASURE_NAMES.get(m, m), "cell": c}
           for (p, m, _s), c in sorted(cells.items()) if p == "hub"]
    monthly = [monthly_row(row) for row in queries.collab_monthly(db, key)]
    orgs_year = queries.organisations_by_year(db, key)
    years: dict[str, dict[str, Any]] = {}
    for row in monthly:
        y = years.setdefault(row["month"][:4], {"year": row["month"][:4], "commits": 0,
                                                "new": 0, "months": 0, "peak": 0,
                                                "peak_orgs": 0})
        y["commits"] += row["commits"] or 0
        y["new"] += row["new"] or 0
        y["months"] += 1
        y["peak"] = max(y["peak"], row["contributors"] or 0)
        y["peak_orgs"] = max(y["peak_orgs"], row["organisations"] or 0)
    for y in years.values():
        y["orgs"] = orgs_year.get(y["year"], 0)
    names = {"*": "All stages", "unknown": "Unknown stage"}
    study = load_study()
    return {"available": queries.collab_available(db),
            "stages": [{"key": s, "name": names.get(s) or study.stage(s).name,
                        "href": evidence_url(case=key, stage=OWN_STAGE if s == "*" else s,
                                             kind="commit")} for s in stages],
            "git": git, "hub": hub, "years": sorted(years.values(), key=lambda y: y["year"]),
            "monthly": monthly, "top_orgs": queries.top_organisations(db, key),
            "lifespans": [{**r, "months": None if r["months"] is None else int(r["months"]),
                           "commits": None if r["commits"] is None else int(r["commits"]),
                           "decay_text": measure_text("activity_decay", r["decay"])}
                          for r in queries.collab_repo_lifespans(db, key)],
            "hub_monthly": [{**r, **{k: None if r[k] is None else int(r[k])
                                     for k in ("commits", "bot_commits", "n")}}
                            for r in queries.collab_hub_monthly(db, key)],
            "export": f"llmcarto export measures --case {key} --format csv"}
