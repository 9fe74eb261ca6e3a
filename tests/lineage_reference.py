"""Plain-Python reference traversals the lineage code is checked against (no numpy, no
igraph): breadth-first reachability, roots above a model, longest-path depth on a DAG."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


def adjacency(edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for p, c in edges:
        if p != c:
            out[p].add(c)
    return out


def reach(out: dict[str, set[str]], start: str) -> set[str]:
    """Every node reachable from `start`, itself excluded (even on a cycle)."""
    seen, todo = set(), [start]
    while todo:
        for nxt in out.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen - {start}


def dag_depths(edges: list[tuple[str, str]], nodes: Iterable[str]) -> dict[str, int]:
    """Longest path from any root, by repeated relaxation in topological order (DAG only)."""
    children = adjacency(edges)
    indegree: dict[str, int] = defaultdict(int)
    for kids in children.values():
        for c in kids:
            indegree[c] += 1
    depth = dict.fromkeys(nodes, 0)
    todo = [n for n in depth if indegree[n] == 0]
    while todo:
        node = todo.pop()
        for c in children.get(node, ()):
            depth[c] = max(depth[c], depth[node] + 1)
            indegree[c] -= 1
            if indegree[c] == 0:
                todo.append(c)
    return depth


def lineage_rows(parents: list[str], children: list[str], relations: list[str | None],
                 nodes: list[str], relation_names: tuple[str, ...]
                 ) -> dict[str, tuple[int, list[str], int, tuple[int, ...]]]:
    """Per node on a DAG: (depth, sorted roots, descendants, descendants by relation)."""
    edges = list(zip(parents, children, strict=True))
    down = adjacency(edges)
    up = adjacency((c, p) for p, c in edges)
    into: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for p, c, r in zip(parents, children, relations, strict=True):
        if p != c:
            into[c].append((p, r or "unknown"))
    depth = dag_depths(edges, nodes)
    out = {}
    for node in nodes:
        above = reach(up, node) | {node}
        roots = sorted(a for a in above if not up.get(a))
        desc = reach(down, node)
        members = desc | {node}
        by: dict[str, set[str]] = defaultdict(set)
        for d in desc:
            for p, r in into[d]:
                if p in members:
                    by[r].add(d)
        out[node] = (depth[node], roots, len(desc),
                     tuple(len(by[r]) for r in relation_names))
    return out
