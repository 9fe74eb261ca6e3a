"""Baseline for `llmcarto bench lineage`: the same tables with networkx, node by node.

Usage: python benchmarks/networkx_lineage.py HUB_DIR OUT_DIR
Reads HUB_DIR/models.parquet (id, licence) and edges.parquet (parent, child, relation) and
writes OUT_DIR/{node,root,edge}.parquet: per model its depth (longest path from a root, in
topological order), roots, distinct descendants (`nx.descendants`, a plain traversal per
node) and descendants by relation; per edge its relation and licence drift (llmcarto's
`normalise` and `drift`, the rules being data). Prints one JSON line with its seconds.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import duckdb
import networkx as nx
import numpy as np

from llmcarto.analysis.licences import drift, normalise

RELATIONS = ("adapter", "finetune", "quantized", "merge", "unknown")


def main(hub: Path, out: Path) -> None:
    started = time.perf_counter()
    con = duckdb.connect()
    models = con.execute(f"SELECT id, licence FROM read_parquet('{hub / 'models.parquet'}')"
                         ).fetchall()
    edges = con.execute("SELECT parent, child, relation FROM "
                        f"read_parquet('{hub / 'edges.parquet'}')").fetchall()
    g = nx.DiGraph()
    g.add_nodes_from(m for m, _ in models)
    for p, c, r in edges:
        if p != c and not g.has_edge(p, c):
            g.add_edge(p, c, relation=r if r in RELATIONS[:-1] else "unknown")
    depth = {}
    for node in nx.topological_sort(g):
        depth[node] = max((depth[p] + 1 for p in g.predecessors(node)), default=0)
    node_rows, root_rows = [], []
    for node in g.nodes:
        desc = nx.descendants(g, node)
        members = desc | {node}
        by = defaultdict(set)
        for d in desc:
            for p in g.predecessors(d):
                if p in members:
                    by[g.edges[p, d]["relation"]].add(d)
        node_rows.append((node, depth[node], len(desc), *(len(by[r]) for r in RELATIONS)))
        if depth[node] == 0:
            root_rows.append((node, node))
        else:
            root_rows.extend((node, a) for a in nx.ancestors(g, node) if depth[a] == 0)
    licence = {m: normalise(lic).id for m, lic in models}
    edge_rows = [(p, c, d["relation"], *drift(licence[p], licence[c]))
                 for p, c, d in g.edges(data=True)]
    seconds = time.perf_counter() - started
    write(out, node_rows, root_rows, edge_rows)
    print(json.dumps({"models": len(models), "seconds": round(seconds, 3)}))


def write(out: Path, node_rows: list, root_rows: list, edge_rows: list) -> None:
    """Parquet by DuckDB from column arrays (not timed)."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    names = {"node": ["id", "depth", "descendants", *(f"d_{r}" for r in RELATIONS)],
             "root": ["id", "root"], "edge": ["parent", "child", "relation", "drift", "rule"]}
    for table, rows in (("node", node_rows), ("root", root_rows), ("edge", edge_rows)):
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names[table])
        frame = {n: np.array(col, dtype=np.int64 if table == "node" and i else object)  # noqa: F841
                 for i, (n, col) in enumerate(zip(names[table], columns, strict=True))}
        con.execute(f"COPY (SELECT * FROM frame) TO '{out / (table + '.parquet')}' "
                    "(FORMAT parquet)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
