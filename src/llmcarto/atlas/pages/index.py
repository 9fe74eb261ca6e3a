"""`/`: every case with its study placement and the case × stage grid of traces.

A cell lists its counts by item kind, each a link to the evidence behind it; an empty
cell says "no data" and why (stage_gap). Traces outside the three stages (inherited
upstream history, unknown) are shown beside the grid, never inside it.
"""

from __future__ import annotations

from typing import Any

from llmcarto.atlas import queries
from llmcarto.atlas.links import evidence_url
from llmcarto.atlas.published import Reader
from llmcarto.framework.study import load_study

NO_REASON = "no trace in the store and no reason recorded"
NO_ANALYSIS = "the stage analysis has not run on this store"


def count_links(case_key: str, stage: str, counts: dict[str, int]) -> list[dict[str, Any]]:
    """[{n, words, href}] for one (case, stage), in the fixed item-kind order."""
    return [{"kind": kind, "n": n, "words": queries.kind_words(kind, n),
             "href": evidence_url(case=case_key, stage=stage, kind=kind)}
            for kind, n in sorted(counts.items(), key=lambda kv: queries.kind_order(kv[0]))
            if n]


def stage_cells(db: Reader, case_key: str | None = None
                ) -> dict[str, dict[str, dict[str, Any]]]:
    """case → stage (grid and outside) → {links, total, reason}."""
    counts = queries.stage_counts(db, case_key)
    gaps = queries.stage_gaps(db, case_key)
    analysed = queries.stages_available(db)
    keys = [case_key] if case_key else [c["case_key"] for c in queries.cases(db)]
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for key in keys:
        cells[key] = {}
        for stage in queries.ALL_STAGES:
            links = count_links(key, stage, counts.get(key, {}).get(stage, {}))
            reason = None
            if not links:
                reason = gaps.get((key, stage)) or (NO_REASON if analysed else NO_ANALYSIS)
            cells[key][stage] = {"links": links, "total": sum(x["n"] for x in links),
                                 "reason": reason}
    return cells


def context(db: Reader) -> dict[str, Any]:
    study = load_study()
    cases = queries.cases(db)
    return {
        "study": study,
        "stages": [study.stage(key) for key in queries.GRID_STAGES],
        "cases": cases,
        "user_cases": sum(c["user_case"] for c in cases),
        "cells": stage_cells(db),
        "analysed": queries.stages_available(db),
        "snapshot": queries.snapshot_summary(db),
        "collab": {k: share_note(v) for k, v in queries.collab_grid(db).items()},
    }


def share_note(row: dict[str, Any]) -> str:
    """The grid's measure line: the external share of own commits with n and unknown share
    (analysis.measures), or why it is missing."""
    unknown = ("" if row["unknown_share"] is None
               else f", unknown {100 * row['unknown_share']:.0f} %")
    if row["value"] is None:
        return f"external share: {row['status']} (n = {row['n']}{unknown})"
    return f"external share {100 * row['value']:.0f} % (n = {row['n']:,}{unknown})"
