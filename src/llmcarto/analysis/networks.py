"""Collaboration networks: organisation ↔ repository and organisation ↔ organisation.

From `commit_affiliation` (own commits, inherited upstream history left out, bots left
out; optionally only the commits `stage_trace` places in one lifecycle stage): an org–repo
edge weighs the commits authors of the organisation made to the repository; an org–org
edge joins two organisations that both committed to a repository, weighted by the number
of such shared repositories. Only registered organisations appear
(unknown authors are counted on the repository node as `unknown_commits`, never guessed).
Written as CSV, Parquet, GraphML or GEXF (the XML through `graphfile`).
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

from llmcarto.analysis import graphfile
from llmcarto.analysis.stages import COMMIT_TRACE_ON, has_table
from llmcarto.framework.study import STAGE_KEYS

FORMATS = ("csv", "parquet", "graphml", "gexf")
# The stages own commits can be placed in (inherited history is never in a network).
STAGES = (*STAGE_KEYS, "unknown")
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


def network(con: duckdb.DuckDBPyConnection, case: str | None = None,
            stage: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(edges, nodes) of one case (or all cases when `case` is None), over the own commits
    `stage_trace` places in `stage` when given (a commit without a trace is `unknown`, as
    in `analysis.measures`)."""
    if not has_table(con, "commit_affiliation"):
        return [], []
    join, where, params = "", ["NOT a.inherited"], []
    if case:
        where.append("a.case_key = ?")
        params.append(case)
    if stage:
        if not has_table(con, "stage_trace"):
            return [], []
        join = f"LEFT JOIN stage_trace t ON {COMMIT_TRACE_ON}"
        where.append("coalesce(t.stage, 'unknown') = ?")
        params.append(stage)
    rows = con.execute(f"""
        SELECT a.case_key, a.repo, a.author_class, a.author_org, count(*)::INTEGER
        FROM commit_affiliation a {join} WHERE {' AND '.join(where)}
        GROUP BY ALL ORDER BY ALL""", params).fetchall()
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
    return graphfile.graphml(nodes, edges, NODE_COLUMNS[1:], EDGE_COLUMNS[2:],
                             graph_id="collaboration", directed=False)


def to_gexf(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> str:
    return graphfile.gexf(nodes, edges, NODE_COLUMNS[1:], EDGE_COLUMNS[2:], directed=False,
                          node_label=lambda n: n["label"], edge_weight=lambda e: e["weight"])
