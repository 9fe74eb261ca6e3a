"""Model lineage: one edge per (parent, child), with what was declared and what the files show.

`lineage_sources` turns every source in the store into assertions; `combine` makes one
edge of all assertions about a pair:

- ``declared_relation``: the Hub's relation — the parent's child list first, then the
  child's ``base_model:<relation>:`` tag, then ``baseModels`` (`HUB_SOURCES` order; Hub
  sources that differ are a disagreement). Without any Hub relation, a card's
  ``base_model_relation`` is the declaration (``declared_source`` says which).
- ``inferred_relation`` / ``rule`` / ``rule_evidence``: `lineage_rules.infer` on the
  child's own library, tags and files (never on a declared relation).
- ``disagreement`` (with ``disagreement_kinds``): declared and inferred both known and
  different; a card's ``base_model_relation`` that differs from the Hub's; Hub sources
  that differ among themselves.
- ``relation``: declared if present, else inferred, else NULL (unknown).
- ``provenance``: every assertion, with its source, field, file and location;
  ``confidence``: ``high`` when a Hub source asserts the edge, ``medium`` when the best is
  a parsed card or an ecosystem dependency resolved through Hub URLs, ``low`` otherwise
  (recovered front matter, a name-matched ecosystem asset).
- ``first_seen``: the earliest snapshot date among the assertions.

Self-references never become edges and cycles are reported (`lineage_issue`); family
measures (`family_measures`) follow design §5 and §10. `write_lineage_tables` is the
derived-table writer listed in `analysis.DERIVED`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from llmcarto.analysis.lineage_rules import ChildFacts, infer
from llmcarto.analysis.lineage_scale import ScaleLineage, from_edges
from llmcarto.analysis.lineage_sources import (
    HUB,
    HUB_SOURCES,
    SOURCES,
    Assertion,
    Issue,
    read_assertions,
    rows,
)
from llmcarto.privacy import hub_handle_pseudonym
from llmcarto.store.ingest import insert_rows
from llmcarto.store.schema import PROVENANCE_COLUMNS, PROVENANCE_NAMES
from llmcarto.store.status import has_table

CONFIDENCE_ORDER = ("high", "medium", "low")
EDGE_COLUMNS = (
    "parent VARCHAR, child VARCHAR, relation VARCHAR, declared_relation VARCHAR, "
    "declared_source VARCHAR, inferred_relation VARCHAR, rule VARCHAR, rule_evidence VARCHAR, "
    "disagreement BOOLEAN, disagreement_kinds VARCHAR[], card_relation VARCHAR, "
    "provenance JSON, sources VARCHAR[], confidence VARCHAR, first_seen DATE, "
    "child_created_at TIMESTAMPTZ")
NODE_COLUMNS = (
    "id VARCHAR, owner VARCHAR, owner_shown VARCHAR, registered_case VARCHAR, "
    "crawled BOOLEAN, children_known BOOLEAN, created_at TIMESTAMPTZ, library_name VARCHAR, "
    "languages VARCHAR[], spaces INTEGER, trees VARCHAR[], depth INTEGER, roots VARCHAR[], "
    "descendants INTEGER, descendants_by_relation JSON")
ISSUE_COLUMNS = "kind VARCHAR, parent VARCHAR, child VARCHAR, name VARCHAR, detail VARCHAR"
USES_DATASET_COLUMNS = ("model VARCHAR, model_hub_id VARCHAR, dataset VARCHAR, "
                        "dataset_hub_id VARCHAR, via VARCHAR, stage VARCHAR, stage_note VARCHAR")
RESOLUTION_COLUMNS = ("name VARCHAR, type VARCHAR, hub_id VARCHAR, via VARCHAR, "
                      "evidence VARCHAR, confidence VARCHAR, reason VARCHAR")
FAMILY_COLUMNS = ("root VARCHAR, case_keys VARCHAR[], is_root BOOLEAN, descendants INTEGER, "
                  "edges INTEGER, depth INTEGER, disagreements INTEGER, measures JSON")
TABLES = {
    "lineage_edge": EDGE_COLUMNS, "lineage_node": NODE_COLUMNS, "lineage_issue": ISSUE_COLUMNS,
    "uses_dataset": USES_DATASET_COLUMNS, "eco_hub_id": RESOLUTION_COLUMNS,
    "lineage_family": FAMILY_COLUMNS,
}
EXAMPLES_PER_CLASS = 5
MIN_OBSERVATIONS = 10  # design §5: fewer observations -> "insufficient data" with n
TOP_AUTHORS = 10
_PROV_SQL = ", ".join(PROVENANCE_NAMES)


# ------------------------------------------------------------------------ nodes


@dataclass(frozen=True)
class NodeFacts:
    """What the store knows about one model of the graph (None = unknown)."""

    id: str
    crawled: bool = False  # its Hub metadata (files, tags) is in the store
    children_known: bool = False  # it is a tree row whose model child lists are all given
    created_at: str | None = None
    languages: tuple[str, ...] | None = None  # from its card(s); None when no card says
    spaces: int | None = None
    library_name: str | None = None
    tags: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    trees: tuple[str, ...] = ()

    @property
    def owner(self) -> str:
        return self.id.split("/", 1)[0] if "/" in self.id else ""

    def child_facts(self) -> ChildFacts:
        return ChildFacts(self.crawled, self.library_name, self.tags, self.files)


def owner_shown(owner: str, registered: Mapping[str, str]) -> str:
    """A case's registered Hub organisation in clear, any other owner as an hf-… pseudonym
    (design §7); a legacy id without owner is "(no owner)"."""
    if not owner:
        return "(no owner)"
    return owner if owner.lower() in registered else hub_handle_pseudonym(owner)


# ------------------------------------------------------------------------ combining


def _best(levels: Iterable[str]) -> str:
    got = set(levels)
    return next((c for c in CONFIDENCE_ORDER if c in got), "low")


def declared_bases(assertions: Iterable[Assertion]) -> dict[str, int]:
    """child (lower-case) -> the most bases one of its own declarations names (a card's
    base_model list, or its base_model tags / baseModels): the several-bases merge rule."""
    per_record: dict[tuple[str, str, str | None, str | None], set[str]] = defaultdict(set)
    for a in assertions:
        if a.source in ("card", "hub-tag", "hub-baseModels"):
            per_record[(a.child.lower(), a.source, a.file, a.loc)].add(a.parent.lower())
    out: dict[str, int] = defaultdict(int)
    for (child, *_), bases in per_record.items():
        out[child] = max(out[child], len(bases))
    return dict(out)


def combine(assertions: Sequence[Assertion], nodes: Mapping[str, NodeFacts]
            ) -> tuple[list[dict[str, Any]], list[Issue]]:
    """One edge row per (parent, child) from all assertions about it (pure; ids compared
    case-insensitively, as the Hub does). Self-references become issues, not edges."""
    rank = {s: i for i, s in enumerate(SOURCES)}
    ordered = sorted(assertions, key=lambda a: (rank.get(a.source, 99), str(a.file),
                                                str(a.loc), a.parent, a.child))
    spelling: dict[str, str] = {k.lower(): k for k in nodes}
    for a in ordered:
        spelling.setdefault(a.parent.lower(), a.parent)
        spelling.setdefault(a.child.lower(), a.child)
    bases = declared_bases(ordered)
    by_pair: dict[tuple[str, str], list[Assertion]] = defaultdict(list)
    issues: list[Issue] = []
    for a in ordered:
        if a.parent.lower() == a.child.lower():
            issues.append(Issue("self-reference", f"{a.source} ({a.field}) names the model as "
                                f"its own base", a.parent, a.child, None,
                                {"source": a.source, "source_url": a.source_url,
                                 "snapshot_date": a.snapshot_date, "file": a.file,
                                 "loc": a.loc, "snapshot_id": a.snapshot_id}))
            continue
        by_pair[(a.parent.lower(), a.child.lower())].append(a)
    edges = []
    for (p_key, c_key), group in by_pair.items():
        node = nodes.get(spelling[c_key]) or NodeFacts(spelling[c_key])
        facts = replace(node.child_facts(), declared_bases=bases.get(c_key, 0))
        edges.append(edge_row(spelling[p_key], spelling[c_key], group, facts, node.created_at))
    edges.sort(key=lambda e: (e["parent"].lower(), e["child"].lower()))
    return edges, issues


def edge_row(parent: str, child: str, group: Sequence[Assertion], facts: ChildFacts,
             child_created_at: str | None = None) -> dict[str, Any]:
    """The edge of one pair from its assertions (already in precedence order)."""
    hub = {s: [a.relation for a in group if a.source == s and a.relation] for s in HUB_SOURCES}
    hub_relations = [r for s in HUB_SOURCES for r in hub[s]]
    card_relations = list(dict.fromkeys(a.relation for a in group
                                        if a.source == "card" and a.relation))
    kinds: list[str] = []
    if hub_relations:
        declared, declared_source = hub_relations[0], next(s for s in HUB_SOURCES if hub[s])
        if len(set(hub_relations)) > 1:
            kinds.append("Hub sources differ: " + ", ".join(
                f"{s} {'/'.join(dict.fromkeys(hub[s]))}" for s in HUB_SOURCES if hub[s]))
        differing = [r for r in card_relations if r != declared]
        if differing:
            kinds.append(f"card says {'/'.join(differing)} / Hub says {declared}")
    elif card_relations:
        declared, declared_source = card_relations[0], "card"
        if len(card_relations) > 1:
            kinds.append(f"card copies differ: {'/'.join(card_relations)}")
    else:
        declared, declared_source = None, None
    inference = infer(facts)
    if declared and inference.relation and declared != inference.relation:
        kinds.insert(0, f"declared {declared} / inferred {inference.relation}")
    provenance = list({json.dumps(a.provenance(), sort_keys=True): a.provenance()
                       for a in group}.values())
    dates = [a.snapshot_date for a in group if a.snapshot_date]
    head = group[0]
    return {
        "parent": parent, "child": child,
        "relation": declared or inference.relation,
        "declared_relation": declared, "declared_source": declared_source,
        "inferred_relation": inference.relation, "rule": inference.rule,
        "rule_evidence": inference.evidence, "disagreement": bool(kinds),
        "disagreement_kinds": kinds, "card_relation": "/".join(card_relations) or None,
        "provenance": provenance,
        "sources": list(dict.fromkeys(a.source for a in group)),
        "confidence": _best(a.confidence for a in group),
        "first_seen": min(dates) if dates else None,
        "child_created_at": child_created_at,
        "source": "lineage", "source_url": head.source_url or HUB + child,
        "snapshot_date": min(dates) if dates else None, "file": head.file, "loc": head.loc,
        "snapshot_id": head.snapshot_id,
    }


def disagreement_class(edge: Mapping[str, Any]) -> list[str]:
    """The disagreement classes of an edge, e.g. "declared finetune / inferred adapter"."""
    return list(edge.get("disagreement_kinds") or [])


# ------------------------------------------------------------------------ family measures


@dataclass
class LineageIndex:
    """The edges, the graph over them and the node facts, indexed for family queries."""

    graph: ScaleLineage
    into: dict[str, list[Mapping[str, Any]]]
    nodes: Mapping[str, NodeFacts]
    registered: Mapping[str, str]  # lower-case Hub org -> case key

    @classmethod
    def build(cls, edges: Sequence[Mapping[str, Any]], nodes: Mapping[str, NodeFacts],
              registered: Mapping[str, str] | None = None) -> LineageIndex:
        graph = from_edges([e["parent"] for e in edges], [e["child"] for e in edges], nodes,
                           [e["relation"] for e in edges])
        into: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for e in edges:
            into[e["child"]].append(e)
        return cls(graph, dict(into), nodes, dict(registered or {}))

    def resolve(self, name: str) -> str | None:
        """The graph's spelling of a model id (Hub ids are case-insensitive)."""
        if name in self.graph:
            return name
        low = name.lower()
        return next((n for n in self.graph.names if n.lower() == low), None)

    def family_edges(self, members: set[str]) -> list[Mapping[str, Any]]:
        return [e for m in sorted(members) for e in self.into.get(m, ())
                if e["parent"] in members]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def family_measures(index: LineageIndex, root: str) -> dict[str, Any]:
    """Design §5 lineage measures for the family of `root` (the model and its descendants).

    Relation mixes count edges inside the family; descendants by relation count distinct
    nodes with at least one incoming family edge of that relation (a node reached by two
    relations counts under both). Leaf share is over descendants whose children are
    known (a tree row with all model child lists, or a node with children in the graph);
    the rest are "unknown", never leaves; under 10 known it is "insufficient data"."""
    graph = index.graph
    descendants = graph.descendants(root)
    members = descendants | {root}
    edges = index.family_edges(members)
    depths = graph.depths(root)
    mix = {key: Counter(e[key] or "unknown" for e in edges)
           for key in ("relation", "declared_relation", "inferred_relation")}
    classes: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for e in edges:
        for kind in disagreement_class(e):
            classes[kind].append(e)
    leaves = non_leaves = unknown_leaf = 0
    for d in descendants:
        if graph.children(d):
            non_leaves += 1
        elif index.nodes.get(d, NodeFacts(d)).children_known:
            leaves += 1
        else:
            unknown_leaf += 1
    owners = Counter(NodeFacts(d).owner for d in descendants)
    root_owner = root.split("/", 1)[0] if "/" in root else ""
    root_facts = index.nodes.get(root, NodeFacts(root))
    months = Counter()
    created_unknown = 0
    for d in descendants:
        created = index.nodes.get(d, NodeFacts(d)).created_at
        if created:
            months[str(created)[:7]] += 1
        else:
            created_unknown += 1
    return {
        "root": root,
        "is_root": not graph.parents(root),
        "ancestors": sorted(graph.ancestors(root)),
        "roots": graph.roots_above(root),
        "descendants": len(descendants),
        "edges": len(edges),
        "depth": max(depths.values()) if depths else 0,
        "depth_distribution": {str(k): v for k, v in sorted(Counter(
            d for n, d in depths.items() if n != root).items())},
        "relation_mix": {key.replace("_relation", ""): dict(sorted(c.items()))
                         for key, c in mix.items()},
        "descendants_by_relation": dict(sorted(graph.descendants_by_relation(root).items())),
        "disagreements": {
            "edges": sum(1 for e in edges if e["disagreement"]),
            "classes": [{"class": kind, "n": len(group), "examples": [
                {"parent": e["parent"], "child": e["child"],
                 "declared": e["declared_relation"], "declared_source": e["declared_source"],
                 "inferred": e["inferred_relation"], "rule": e["rule"],
                 "evidence": e["rule_evidence"], "card_relation": e.get("card_relation")}
                for e in group[:EXAMPLES_PER_CLASS]]}
                for kind, group in sorted(classes.items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        },
        "leaves": {"leaves": leaves, "non_leaves": non_leaves, "unknown": unknown_leaf,
                   "n": leaves + non_leaves,
                   "share": _share(leaves, leaves + non_leaves)
                   if leaves + non_leaves >= MIN_OBSERVATIONS else None,
                   "note": None if leaves + non_leaves >= MIN_OBSERVATIONS else
                   f"insufficient data (n = {leaves + non_leaves})"},
        "authors": _authors(owners, root_owner, index.registered),
        "languages": _languages(root_facts, [index.nodes.get(d, NodeFacts(d))
                                             for d in sorted(descendants)]),
        "created_by_month": [{"month": m, "n": n} for m, n in sorted(months.items())],
        "created_unknown": created_unknown,
        "spaces_using_root": root_facts.spaces,
        "cycles": [c for c in graph.cycles() if set(c) & members],
        "self_references": [s for s in graph.self_references if s in members],
    }


def _authors(owners: Counter, root_owner: str, registered: Mapping[str, str]
             ) -> dict[str, Any]:
    top = sorted(owners.items(), key=lambda kv: (-kv[1], owner_shown(kv[0], registered)))
    return {
        "distinct": len(owners),
        "same_owner_as_root": owners.get(root_owner, 0) if root_owner else 0,
        "top": [{"owner": owner_shown(o, registered), "registered": o.lower() in registered,
                 "derivatives": n} for o, n in top[:TOP_AUTHORS]],
    }


def _languages(root: NodeFacts, descendants: Sequence[NodeFacts]) -> dict[str, Any]:
    """Languages derivatives declare beyond the base's (regional adaptation)."""
    base = sorted(set(root.languages)) if root.languages is not None else None
    known = [d for d in descendants if d.languages]
    counts: Counter = Counter()
    for d in known:
        for lang in set(d.languages or ()) - set(base or ()):
            counts[lang] += 1
    return {
        "base": base,
        "with_languages": len(known),
        "without": len(descendants) - len(known),
        "added": ([{"language": k, "derivatives": n}
                   for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
                  if base is not None else None),
        "declared": [{"language": k, "derivatives": n} for k, n in sorted(
            Counter(lang for d in known for lang in set(d.languages or ())).items(),
            key=lambda kv: (-kv[1], kv[0]))],
        "note": None if base is not None else
        "the base's card declares no language: languages added are unknown",
    }


# ------------------------------------------------------------------------ store I/O


def registered_orgs(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Lower-case Hub organisation -> case key, from the case registry's release lines."""
    if not has_table(con, "case_release_line"):
        return {}
    out: dict[str, str] = {}
    for case_key, orgs in con.execute("SELECT case_key, hub_orgs FROM case_release_line "
                                      "ORDER BY case_key").fetchall():
        for org in orgs or ():
            out.setdefault(org.lower(), case_key)
    return out


def read_nodes(con: duckdb.DuckDBPyConnection
               ) -> tuple[dict[str, NodeFacts], dict[str, dict[str, Any]]]:
    """NodeFacts of every model the trees or cards describe (first tree row wins), and
    the provenance of the row each node's facts come from."""
    nodes: dict[str, NodeFacts] = {}
    prov: dict[str, dict[str, Any]] = {}
    languages: dict[str, tuple[str, ...]] = {}
    if has_table(con, "model_card"):
        for r in rows(con, f"""SELECT id, languages, {_PROV_SQL} FROM model_card
                               WHERE coalesce(repo_type, 'model') = 'model'
                               ORDER BY yaml_status = 'parsed' DESC, file, loc"""):
            if r["languages"] and r["id"] not in languages:
                languages[r["id"]] = tuple(dict.fromkeys(str(x).lower() for x in r["languages"]))
                prov[r["id"]] = {n: r[n] for n in PROVENANCE_NAMES}
    if has_table(con, "hub_model"):
        for r in rows(con, f"""SELECT id, tree, info IS NOT NULL AS crawled, created_at,
                                      library_name, tags, siblings, spaces_count,
                                      children_count IS NOT NULL AND adapters_count IS NOT NULL
                                        AND quantized_count IS NOT NULL
                                        AND merges_count IS NOT NULL AS children_known,
                                      {_PROV_SQL}
                               FROM hub_model ORDER BY snapshot_date DESC, file, loc"""):
            old = nodes.get(r["id"])
            if old is not None:
                nodes[r["id"]] = replace(old, trees=(*old.trees, r["tree"]))
                continue
            prov[r["id"]] = {n: r[n] for n in PROVENANCE_NAMES}
            nodes[r["id"]] = NodeFacts(
                r["id"], bool(r["crawled"]), bool(r["children_known"]),
                r["created_at"].isoformat() if r["created_at"] else None,
                languages.get(r["id"]), r["spaces_count"], r["library_name"],
                tuple(r["tags"] or ()), tuple(r["siblings"] or ()), (r["tree"],))
    for model_id, langs in languages.items():
        nodes.setdefault(model_id, NodeFacts(model_id, languages=langs))
    return nodes, prov


def node_row(node: NodeFacts, registered: Mapping[str, str],
             prov: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"id": node.id, "owner": node.owner or None,
            "owner_shown": owner_shown(node.owner, registered),
            "registered_case": registered.get(node.owner.lower()) if node.owner else None,
            "crawled": node.crawled, "children_known": node.children_known,
            "created_at": node.created_at, "library_name": node.library_name,
            "languages": list(node.languages) if node.languages is not None else None,
            "spaces": node.spaces, "trees": list(node.trees),
            "source": "lineage", "source_url": HUB + node.id,
            **{n: (str(v) if n == "snapshot_date" and v is not None else v)
               for n in PROVENANCE_NAMES if n not in ("source", "source_url")
               for v in [(prov or {}).get(n)]}}


def graph_measures(graph: ScaleLineage, node: str) -> dict[str, Any]:
    """A model's place in the whole graph (lineage_scale, the same pass as `bench lineage`):
    longest path from a root, its roots, distinct descendants, descendants by relation."""
    i = graph.index[node]
    return {"depth": int(graph.depth[i]), "roots": graph.roots_above(node),
            "descendants": int(graph.descendant_count[i]),
            "descendants_by_relation": graph.descendants_by_relation(node)}


def family_roots(index: LineageIndex, tree_roots: Iterable[str]) -> list[str]:
    """The families kept in `lineage_family`: every graph root with a descendant, and
    every tree's root (a crawl root may have a declared base of its own)."""
    roots = {r for r in index.graph.roots() if index.graph.children(r)}
    roots |= {r for r in tree_roots if r in index.graph}
    return sorted(roots)


def write_lineage_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild the lineage tables from the store (derived tables, rebuilt whole)."""
    assertions, issues, uses, resolutions = read_assertions(con)
    nodes, node_prov = read_nodes(con)
    registered = registered_orgs(con)
    edges, self_refs = combine(assertions, nodes)
    issues = self_refs + issues
    for e in edges:  # a model no row describes: the first edge that names it
        for end in (e["parent"], e["child"]):
            node_prov.setdefault(end, {n: e[n] for n in PROVENANCE_NAMES})
    in_graph = sorted({e["parent"] for e in edges} | {e["child"] for e in edges})
    graph_nodes = {n: nodes.get(n) or NodeFacts(n) for n in in_graph}
    index = LineageIndex.build(edges, graph_nodes, registered)
    for cycle in index.graph.cycles():
        issues.append(Issue("cycle", "these models descend from each other: "
                            + ", ".join(cycle), None, None, ", ".join(cycle),
                            {**node_prov[cycle[0]], "source": "lineage"}))
    node_rows = [{**node_row(graph_nodes[n], registered, node_prov.get(n)),
                  **graph_measures(index.graph, n)} for n in in_graph]
    tree_roots = [r[0] for r in con.execute(
        "SELECT id FROM hub_model WHERE depth = 0 ORDER BY id").fetchall()] \
        if has_table(con, "hub_model") else []
    families = []
    for root in family_roots(index, tree_roots):
        measures = family_measures(index, root)
        owner = root.split("/", 1)[0].lower() if "/" in root else ""
        families.append({
            "root": root, "case_keys": [registered[owner]] if owner in registered else [],
            "is_root": measures["is_root"], "descendants": measures["descendants"],
            "edges": measures["edges"], "depth": measures["depth"],
            "disagreements": measures["disagreements"]["edges"], "measures": measures,
            **{n: node_prov.get(root, {}).get(n) for n in PROVENANCE_NAMES},
            "source": "lineage", "source_url": HUB + root})
    con.execute("BEGIN TRANSACTION")
    try:
        for table, columns in TABLES.items():
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
            prov = ", ".join(f'"{n}" {t}' for n, t in PROVENANCE_COLUMNS)
            con.execute(f'CREATE TABLE "{table}" ({columns}, {prov})')
            con.execute("INSERT OR REPLACE INTO data_table VALUES (?, ?, ?)",
                        [table, "lineage", columns])
        insert_rows(con, "lineage_edge", EDGE_COLUMNS, edges)
        insert_rows(con, "lineage_node", NODE_COLUMNS, node_rows)
        insert_rows(con, "lineage_issue", ISSUE_COLUMNS, (i.row() for i in issues))
        insert_rows(con, "uses_dataset", USES_DATASET_COLUMNS, uses)
        insert_rows(con, "eco_hub_id", RESOLUTION_COLUMNS, (r.row() for r in resolutions))
        insert_rows(con, "lineage_family", FAMILY_COLUMNS, families)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(edges)


# ------------------------------------------------------------------------ reading back


def load_index(con: duckdb.DuckDBPyConnection) -> tuple[LineageIndex, list[dict[str, Any]]]:
    """The lineage index and edge rows from a store's lineage tables (empty when absent)."""
    if not has_table(con, "lineage_edge"):
        return LineageIndex.build([], {}), []
    edges = list(rows(con, "SELECT * FROM lineage_edge ORDER BY lower(parent), lower(child)"))
    for e in edges:
        if isinstance(e["provenance"], str):
            e["provenance"] = json.loads(e["provenance"])
    nodes = {}
    for r in rows(con, "SELECT * FROM lineage_node"):
        nodes[r["id"]] = NodeFacts(
            r["id"], bool(r["crawled"]), bool(r["children_known"]),
            r["created_at"].isoformat() if r["created_at"] else None,
            tuple(r["languages"]) if r["languages"] is not None else None, r["spaces"],
            r["library_name"], (), (), tuple(r["trees"] or ()))
    return LineageIndex.build(edges, nodes, registered_orgs(con)), edges


def edge_mix(edges: Iterable[Mapping[str, Any]]) -> dict[str, Counter]:
    """Edges by declared, inferred and final relation ("unknown" for NULL)."""
    mix = {"declared": Counter(), "inferred": Counter(), "relation": Counter()}
    for e in edges:
        mix["declared"][e["declared_relation"] or "unknown"] += 1
        mix["inferred"][e["inferred_relation"] or "unknown"] += 1
        mix["relation"][e["relation"] or "unknown"] += 1
    return mix


def from_trees(edge: Mapping[str, Any]) -> bool:
    """True when a tree dump asserts the edge (a child list, or a crawled row's tags/card)."""
    return any(str(p.get("file") or "").startswith("hf-trees/") for p in edge["provenance"])
