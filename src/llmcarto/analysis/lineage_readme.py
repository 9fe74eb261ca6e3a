"""The lineage numbers of the README, generated from the store (a test fails on drift).

The published full-Hub mix is quoted beside ours, never used to tune anything: the
inference rules are fixed by their own tests (tests/test_lineage_rules.py) first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from llmcarto.analysis.lineage import LineageIndex, edge_mix, from_trees, load_index
from llmcarto.analysis.lineage_rules import RELATIONS
from llmcarto.analysis.lineage_sources import rows
from llmcarto.store.status import has_table

#: Laufer, Oderinwale, Kleinberg 2025, "Anatomy of a Machine Learning Ecosystem: 2 Million
#: Models on Hugging Face" (arXiv:2508.06811): the relation mix of the full Hub's edges.
PUBLISHED_MIX = {"adapter": 42, "finetune": 33, "quantized": 18, "merge": 7}
PUBLISHED_EDGES = 573_653
BLOCK = re.compile(r"(<!-- lineage:begin -->\n)(.*?)(<!-- lineage:end -->)", re.S)


def summary(index: LineageIndex, edges: Sequence[Mapping[str, Any]], top: int = 10
            ) -> dict[str, Any]:
    """Store-wide numbers: edges, models, the mix both ways, the largest families."""
    mix = edge_mix(edges)
    roots = [r for r in index.graph.roots() if index.graph.children(r)]
    families = []
    for root in roots:
        members = index.graph.descendants(root)
        fam_edges = index.family_edges(members | {root})
        families.append({"root": root, "descendants": len(members),
                         "depth": max(index.graph.depths(root).values()),
                         "disagreements": sum(1 for e in fam_edges if e["disagreement"])})
    families.sort(key=lambda f: (-f["descendants"], f["root"]))
    return {"edges": len(edges), "models": len(index.graph.names),
            "disagreements": sum(1 for e in edges if e["disagreement"]),
            "mix": {k: dict(sorted(v.items())) for k, v in mix.items()},
            "families": families[:top]}


def _pct(n: int, total: int) -> str:
    if not total:
        return "–"
    share = 100 * n / total
    return "< 1 %" if 0 < share < 0.5 else f"{share:.0f} %"


def _n(n: int) -> str:
    return f"{n:,}"


def readme_block(con: duckdb.DuckDBPyConnection) -> str:
    """The Markdown between ``<!-- lineage:begin -->`` and ``<!-- lineage:end -->``."""
    index, edges = load_index(con)
    tree_edges = [e for e in edges if from_trees(e)]
    mix = edge_mix(tree_edges)
    declared_known = sum(n for r, n in mix["declared"].items() if r != "unknown")
    inferred_known = sum(n for r, n in mix["inferred"].items() if r != "unknown")
    rules = Counter(e["rule"] for e in tree_edges if e["inferred_relation"] is None)
    out = [f"Edges asserted by the four bundled tree dumps: {_n(len(tree_edges))} "
           f"(of {_n(len(edges))} lineage edges in the store). Shares are over the edges "
           "whose relation is known in that column.", "",
           "| relation | declared (the Hub's label) | inferred (files, tags, library) "
           "| full Hub, Laufer et al. 2025 |", "|---|---:|---:|---:|"]
    for rel in RELATIONS:
        d, i = mix["declared"].get(rel, 0), mix["inferred"].get(rel, 0)
        out.append(f"| {rel} | {_n(d)} ({_pct(d, declared_known)}) | {_n(i)} "
                   f"({_pct(i, inferred_known)}) | {PUBLISHED_MIX[rel]} % |")
    unknown_why = ", ".join(f"{rule} {_n(n)}" for rule, n in sorted(rules.items()))
    out.append(f"| unknown | {_n(mix['declared'].get('unknown', 0))} | "
               f"{_n(mix['inferred'].get('unknown', 0))} ({unknown_why or 'none'}) | – |")
    out.append(f"| edges | {_n(len(tree_edges))} | {_n(len(tree_edges))} | "
               f"{_n(PUBLISHED_EDGES)} |")
    out += ["", "| tree root | edges | declared adapter / finetune / quantized / merge "
            "| inferred known | disagreements |", "|---|---:|---|---:|---:|"]
    for root in _tree_roots(con):
        if root not in index.graph:
            continue
        members = index.graph.descendants(root) | {root}
        fam = [e for e in index.family_edges(members) if from_trees(e)]
        fmix = edge_mix(fam)
        known = sum(n for r, n in fmix["inferred"].items() if r != "unknown")
        out.append(f"| `{root}` | {_n(len(fam))} | " + " / ".join(
            _n(fmix["declared"].get(r, 0)) for r in ("adapter", "finetune", "quantized",
                                                      "merge"))
            + f" | {_n(known)} | {_n(sum(1 for e in fam if e['disagreement']))} |")
    classes = Counter(k for e in edges for k in e["disagreement_kinds"] or ())
    rules_of: dict[str, Counter] = {}
    for e in edges:
        for k in e["disagreement_kinds"] or ():
            rules_of.setdefault(k, Counter())[e["rule"]] += 1
    out += ["", "| disagreement (all edges) | edges | rules that fired |", "|---|---:|---|"]
    for kind, n in sorted(classes.items(), key=lambda kv: (-kv[1], kv[0])):
        fired = ", ".join(f"`{r}` {_n(c)}" for r, c in sorted(rules_of[kind].items()))
        out.append(f"| {kind} | {_n(n)} | {fired} |")
    if not classes:
        out.append("| none | 0 | – |")
    out += ["", _other_sources(con, edges), ""]
    return "\n".join(out)


def _tree_roots(con: duckdb.DuckDBPyConnection) -> list[str]:
    if not has_table(con, "hub_model"):
        return []
    return [r["id"] for r in rows(con, "SELECT id FROM hub_model WHERE depth = 0 ORDER BY id")]


def _other_sources(con: duckdb.DuckDBPyConnection, edges: Sequence[Mapping[str, Any]]) -> str:
    by_sources = Counter(" + ".join(e["sources"]) for e in edges)
    parts = ["Edges by the sources asserting them: " + "; ".join(
        f"{k} {_n(n)}" for k, n in sorted(by_sources.items(), key=lambda kv: (-kv[1], kv[0])))
        + "."]
    if has_table(con, "eco_hub_id"):
        resolved = dict(con.execute("""SELECT coalesce(via, 'unresolved'), count(*)
                                       FROM eco_hub_id WHERE type = 'model'
                                       GROUP BY ALL""").fetchall())
        total = sum(resolved.values())
        parts.append(f"Ecosystem-graph model assets given a Hub id: "
                     f"{_n(total - resolved.get('unresolved', 0))} of {_n(total)} ("
                     + ", ".join(f"{k} {_n(v)}" for k, v in sorted(resolved.items())
                                 if k != "unresolved") + ").")
    if has_table(con, "lineage_issue"):
        issues = dict(con.execute("SELECT kind, count(*) FROM lineage_issue GROUP BY ALL"
                                  ).fetchall())
        parts.append("Not made into edges: " + (", ".join(
            f"{k} {_n(v)}" for k, v in sorted(issues.items())) or "nothing")
            + f"; cycles {_n(issues.get('cycle', 0))}, self-references "
            f"{_n(issues.get('self-reference', 0))}.")
    if has_table(con, "uses_dataset"):
        n = con.execute("SELECT count(*) FROM uses_dataset").fetchone()[0]
        parts.append(f"Declared uses of datasets (`uses_dataset`, not lineage): {_n(n)}.")
    return " ".join(parts)


def update_readme(text: str, block: str) -> str:
    """`text` with its lineage block replaced (ValueError when the README has none)."""
    if not BLOCK.search(text):
        raise ValueError("README.md has no <!-- lineage:begin --> … <!-- lineage:end --> block")
    return BLOCK.sub(lambda m: m.group(1) + block + m.group(3), text)
