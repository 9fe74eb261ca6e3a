"""Collaboration networks: organisation ↔ repository and organisation ↔ organisation.

From `commit_affiliation` (own commits, inherited upstream history left out, bots left
out): an org–repo edge weighs the commits authors of the organisation made to the
repository; an org–org edge joins two organisations that both committed to a repository,
weighted by the number of such shared repositories. Only registered organisations appear
(unknown authors are counted on the repository node as `unknown_commits`, never guessed).
Written as CSV, Parquet, GraphML or GEXF; the XML escaping is `lineage_export`'s.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import duckdb

from llmcarto.analysis.lineage_export import _attr, _body
from llmcarto.analysis.stages import has_table

FORMATS = ("csv", "parquet", "graphml", "gexf")
EDGE_COLUMNS = ("source", "target", "kind", "weight", "cases", "repos", "evidence")
NODE_COLUMNS = ("id", "kind", "label", "commits", "unknown_commits")


def org_repo_edges(rows: Sequence[tuple[str, str, str, str, int]]
                   ) -> list[dict[str, Any]]:
    """(case, repo, class, org, commits) → org→repo edges, weight = commits."""
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for case, repo, cls, org, commits in rows:
        if cls not in ("internal", "partner", "external") or not org:
            continue
        e = acc.setdefault((org, repo), {"source": f"org:{org}", "target": f"repo:{repo}",
                                         "kind": "org-repo", "weight": 0, "cases": set(),
                                         "repos": {repo}})
        e["weight"] += commits
        e["cases"].add(case)
    return [_finish(e) for _k, e in sorted(acc.items())]


def org_org_edges(org_repo: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Organisations joined through repositories both committed to; weight = shared repos."""
    by_repo: dict[str, set[str]] = defaultdict(set)
    cases: dict[str, set[str]] = defaultdict(set)
    for e in org_repo:
        by_repo[e["target"]].add(e["source"])
        cases[e["target"]].update(e["cases"].split("; "))
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for repo, orgs in sorted(by_repo.items()):
        for a, b in combinations(sorted(orgs), 2):
            e = acc.setdefault((a, b), {"source": a, "target": b, "kind": "org-org",
                                        "weight": 0, "cases": set(), "repos": set()})
            e["weight"] += 1
            e["repos"].add(repo.removeprefix("repo:"))
            e["cases"].update(cases[repo])
    return [_finish(e) for _k, e in sorted(acc.items())]


def _finish(e: dict[str, Any]) -> dict[str, Any]:
    repos = sorted(e["repos"])
    return {**e, "cases": "; ".join(sorted(e["cases"])), "repos": "; ".join(repos),
            "evidence": "; ".join(f"https://github.com/{r}/commits" for r in repos)}


def network(con: duckdb.DuckDBPyConnection, case: str | None = None
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(edges, nodes) of one case (or all cases when `case` is None)."""
    if not has_table(con, "commit_affiliation"):
        return [], []
    where = "AND case_key = ?" if case else ""
    rows = con.execute(f"""
        SELECT case_key, repo, author_class, author_org, count(*)::INTEGER
        FROM commit_affiliation WHERE NOT inherited {where}
        GROUP BY ALL ORDER BY ALL""", [case] if case else []).fetchall()
    orepo = org_repo_edges(rows)
    edges = orepo + org_org_edges(orepo)
    nodes: dict[str, dict[str, Any]] = {}
    for _case, repo, cls, org, commits in rows:
        if cls == "bot":
            continue
        n = nodes.setdefault(f"repo:{repo}", {"id": f"repo:{repo}", "kind": "repository",
                                              "label": repo, "commits": 0,
                                              "unknown_commits": 0})
        n["commits"] += commits
        if cls == "unknown" or not org:
            n["unknown_commits"] += commits
        else:
            o = nodes.setdefault(f"org:{org}", {"id": f"org:{org}", "kind": "organisation",
                                                "label": org, "commits": 0,
                                                "unknown_commits": None})
            o["commits"] += commits
    return edges, sorted(nodes.values(), key=lambda n: n["id"])


def to_csv(edges: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EDGE_COLUMNS)
    for e in edges:
        writer.writerow(["" if e.get(c) is None else e[c] for c in EDGE_COLUMNS])
    return buf.getvalue()


def write_parquet(edges: Sequence[Mapping[str, Any]], path: Path) -> int:
    con = duckdb.connect(":memory:")
    try:
        con.execute("CREATE TABLE edges (source VARCHAR, target VARCHAR, kind VARCHAR, "
                    "weight INTEGER, cases VARCHAR, repos VARCHAR, evidence VARCHAR)")
        con.executemany("INSERT INTO edges VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [[e.get(c) for c in EDGE_COLUMNS] for e in edges])
        target = str(path).replace("'", "''")
        con.execute(f"COPY edges TO '{target}' (FORMAT parquet)")
    finally:
        con.close()
    return len(edges)


def to_graphml(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">']
    out += [f'  <key id="n{i}" for="node" attr.name="{c}" attr.type="string"/>'
            for i, c in enumerate(NODE_COLUMNS[1:])]
    out += [f'  <key id="e{i}" for="edge" attr.name="{c}" attr.type="string"/>'
            for i, c in enumerate(EDGE_COLUMNS[2:])]
    out.append('  <graph id="collaboration" edgedefault="undirected">')
    for n in nodes:
        out.append(f"    <node id={_attr(n['id'])}>")
        out += [f'      <data key="n{i}">{_body(n[c])}</data>'
                for i, c in enumerate(NODE_COLUMNS[1:]) if n.get(c) is not None]
        out.append("    </node>")
    for j, e in enumerate(edges):
        out.append(f'    <edge id="e{j}" source={_attr(e["source"])} target={_attr(e["target"])}>')
        out += [f'      <data key="e{i}">{_body(e[c])}</data>'
                for i, c in enumerate(EDGE_COLUMNS[2:]) if e.get(c) is not None]
        out.append("    </edge>")
    out += ["  </graph>", "</graphml>", ""]
    return "\n".join(out)


def to_gexf(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> str:
    index = {n["id"]: i for i, n in enumerate(nodes)}
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<gexf xmlns="http://gexf.net/1.3" version="1.3">',
           '  <graph defaultedgetype="undirected" mode="static">',
           '    <attributes class="node">']
    out += [f'      <attribute id="{i}" title="{c}" type="string"/>'
            for i, c in enumerate(NODE_COLUMNS[1:])]
    out += ['    </attributes>', '    <attributes class="edge">']
    out += [f'      <attribute id="{i}" title="{c}" type="string"/>'
            for i, c in enumerate(EDGE_COLUMNS[2:])]
    out += ['    </attributes>', '    <nodes>']
    for n in nodes:
        out.append(f'      <node id="{index[n["id"]]}" label={_attr(n["label"])}>')
        out.append("        <attvalues>")
        out += [f'          <attvalue for="{i}" value={_attr(n[c])}/>'
                for i, c in enumerate(NODE_COLUMNS[1:]) if n.get(c) is not None]
        out += ["        </attvalues>", "      </node>"]
    out += ["    </nodes>", "    <edges>"]
    for j, e in enumerate(edges):
        out.append(f'      <edge id="{j}" source="{index[e["source"]]}" '
                   f'target="{index[e["target"]]}" weight="{float(e["weight"])}">')
        out.append("        <attvalues>")
        out += [f'          <attvalue for="{i}" value={_attr(e[c])}/>'
                for i, c in enumerate(EDGE_COLUMNS[2:]) if e.get(c) is not None]
        out += ["        </attvalues>", "      </edge>"]
    out += ["    </edges>", "  </graph>", "</gexf>", ""]
    return "\n".join(out)
