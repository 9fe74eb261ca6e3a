"""The data of the atlas family panel's licence-drift summary (issue #6).

`panel_data(rows)` is pure: from a family's `licence_drift` rows it returns the rates
(licence change over edges with both licences known, the unknown share beside it; gating
drift likewise), the verdict counts, and examples with their evidence (both licences as
read, their sources and URLs, the rule's reason and the clause it cites). `licence_panel`
loads a family's rows from the published store. The case page template renders the
returned mapping; nothing here formats HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from llmcarto.analysis.licence_drift import family_drift
from llmcarto.analysis.licences import drift_rates, percent
from llmcarto.framework.licences import RuleTable, load_rules

EXAMPLES = 5


def _evidence(row: Mapping[str, Any], rules: RuleTable) -> dict[str, Any]:
    rule = rules.rule(row["rule"])
    gating = rules.gating.get(row.get("gating_rule") or "")
    return {
        "parent": row["parent"], "child": row["child"], "relation": row.get("relation"),
        "parent_licence": row.get("parent_licence"), "child_licence": row.get("child_licence"),
        "parent_raw": row.get("parent_licence_raw"), "child_raw": row.get("child_licence_raw"),
        "parent_source": row.get("parent_licence_source"),
        "child_source": row.get("child_licence_source"),
        "parent_url": row.get("parent_licence_url"), "child_url": row.get("child_licence_url"),
        "drift": row.get("drift"), "rule": rule.id, "reason": rule.reason,
        "cites": [{"url": c.url, "clause": c.clause} for c in rule.cites],
        "gating_drift": row.get("gating_drift"), "gating_reason": gating,
        "parent_gated": row.get("parent_gated"), "child_gated": row.get("child_gated"),
        "verdicts": row.get("verdicts"),
        "file": row.get("file"), "loc": row.get("loc"), "source_url": row.get("source_url"),
    }


def panel_data(rows: Iterable[Mapping[str, Any]], rules: RuleTable | None = None
               ) -> dict[str, Any]:
    """The licence panel of one family: rates with denominators, and examples with evidence."""
    rules = rules or load_rules()
    rows = list(rows)
    rates = drift_rates(rows, "relation")
    overall = rates.pop("all", None)
    verdicts: dict[str, int] = {}
    for row in rows:
        verdicts[row["drift"]] = verdicts.get(row["drift"], 0) + 1

    def examples(predicate) -> list[dict[str, Any]]:
        return [_evidence(r, rules) for r in rows if predicate(r)][:EXAMPLES]

    summary = None
    if overall is not None:
        summary = {
            **overall.as_dict(),
            "change_rate_text": percent(overall.change_rate, overall.known_both),
            "incompatible_rate_text": percent(overall.incompatible_rate, overall.known_both),
            "unknown_share_text": (f"{100 * overall.unknown_share:.1f} %"
                                   if overall.unknown_share is not None else "no edges"),
            "gating_change_rate_text": percent(overall.gating_change_rate,
                                               overall.gating_known),
        }
    return {
        "edges": len(rows),
        "summary": summary,
        "by_relation": {k: v.as_dict() for k, v in sorted(rates.items())},
        "verdicts": dict(sorted(verdicts.items())),
        "incompatible": examples(lambda r: r["drift"] == "changed-incompatible"),
        "compatible": examples(lambda r: r["drift"] == "changed-compatible"),
        "gate_dropped": examples(lambda r: r.get("gating_drift") == "gate-dropped"),
        "gate_added": examples(lambda r: r.get("gating_drift") == "gate-added"),
        "disagreements": examples(lambda r: bool(r.get("licence_disagreement"))),
        "note": ("Rates count only edges whose two licences each name one licence text; "
                 "the unknown share is the rest (no licence declared, `other`, a family "
                 "label). A verdict reads the licence texts' clauses; it is not legal advice."),
    }


def licence_panel(con: duckdb.DuckDBPyConnection, family: str) -> dict[str, Any]:
    """`panel_data` for the family rooted at (or containing) `family` in the store."""
    return panel_data(family_drift(con, family))
