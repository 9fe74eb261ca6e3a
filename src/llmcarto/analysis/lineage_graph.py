"""The lineage graph: reachability, roots, depth and cycles over a plain edge list.

Pure functions over parallel ``parents`` / ``children`` id lists so the same code runs on
the bundled trees and on a 2.2M-model Hub (igraph does the traversals in C; design §8).
Definitions (design §10): descendants are distinct nodes (a merge child counts once);
the depth of a node is the longest path to it from the family's root; a family is one
root and its descendants (design §0).

Self-references (parent = child) are never edges: they are kept aside and reported.
Cycles cannot occur on the Hub's own tree but can between sources (a card naming its
own child as base); they are found as strongly connected components, reported, and depth
is computed on the graph with each cycle collapsed to one node, so nothing loops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import igraph


@dataclass
class LineageGraph:
    """A directed parent→child graph over string ids (duplicate pairs collapsed)."""

    names: list[str]
    index: dict[str, int]
    graph: igraph.Graph
    self_references: list[str] = field(default_factory=list)
    _cycles: list[list[str]] | None = field(default=None, repr=False)

    @classmethod
    def from_edges(cls, parents: Sequence[str], children: Sequence[str],
                   nodes: Iterable[str] = ()) -> LineageGraph:
        """Build from parallel lists; `nodes` adds ids without edges."""
        if len(parents) != len(children):
            raise ValueError(f"{len(parents)} parents but {len(children)} children")
        index: dict[str, int] = {}
        names: list[str] = []

        def idx(name: str) -> int:
            found = index.get(name)
            if found is None:
                found = index[name] = len(names)
                names.append(name)
            return found

        pairs: set[tuple[int, int]] = set()
        selfs: list[str] = []
        for parent, child in zip(parents, children, strict=True):
            if parent == child:
                idx(parent)
                selfs.append(parent)
                continue
            pairs.add((idx(parent), idx(child)))
        for name in nodes:
            idx(name)
        graph = igraph.Graph(n=len(names), edges=sorted(pairs), directed=True)
        return cls(names, index, graph, sorted(set(selfs)))

    # ------------------------------------------------------------------ reachability

    def __contains__(self, node: str) -> bool:
        return node in self.index

    def _reach(self, node: str, mode: str) -> set[str]:
        if node not in self.index:
            return set()
        found = self.graph.subcomponent(self.index[node], mode=mode)
        return {self.names[i] for i in found} - {node}

    def descendants(self, node: str) -> set[str]:
        """Every node reachable from `node` (itself excluded, even on a cycle)."""
        return self._reach(node, "out")

    def ancestors(self, node: str) -> set[str]:
        return self._reach(node, "in")

    def parents(self, node: str) -> list[str]:
        if node not in self.index:
            return []
        return sorted(self.names[i] for i in self.graph.predecessors(self.index[node]))

    def children(self, node: str) -> list[str]:
        if node not in self.index:
            return []
        return sorted(self.names[i] for i in self.graph.successors(self.index[node]))

    def roots(self) -> list[str]:
        """Nodes without a parent."""
        indegree = self.graph.indegree()
        return sorted(self.names[i] for i, d in enumerate(indegree) if d == 0)

    def roots_above(self, node: str) -> list[str]:
        """The roots a node descends from: ancestors (or itself) whose strongly connected
        component has no parent outside it. A node on a parentless cycle is its own root."""
        if node not in self.index:
            return []
        members = self.ancestors(node) | {node}
        sub, names = self._induced(members)
        comp = sub.connected_components(mode="strong").membership
        entered = {comp[e.target] for e in sub.es if comp[e.source] != comp[e.target]}
        return sorted(names[i] for i in range(len(names)) if comp[i] not in entered)

    # ------------------------------------------------------------------ cycles, depth

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one node (each a cycle); computed
        once per graph (family measures ask for every family)."""
        if self._cycles is None:
            out = []
            for members in self.graph.connected_components(mode="strong"):
                if len(members) > 1:
                    out.append(sorted(self.names[i] for i in members))
            self._cycles = sorted(out)
        return [list(c) for c in self._cycles]

    def _induced(self, members: Iterable[str]) -> tuple[igraph.Graph, list[str]]:
        ids = sorted(self.index[m] for m in members if m in self.index)
        sub = self.graph.induced_subgraph(ids, implementation="create_from_scratch")
        return sub, [self.names[i] for i in ids]

    def depths(self, root: str) -> dict[str, int]:
        """Longest-path depth of every member of `root`'s family (root = 0), with cycles
        collapsed to one node (all members of a cycle share its depth)."""
        if root not in self.index:
            return {}
        members = self.descendants(root) | {root}
        sub, names = self._induced(members)
        comp = sub.connected_components(mode="strong").membership
        n_comp = max(comp) + 1
        cond = igraph.Graph(n=n_comp, directed=True, edges=sorted(
            {(comp[e.source], comp[e.target]) for e in sub.es if comp[e.source] != comp[e.target]}))
        order = cond.topological_sorting(mode="out")
        start = comp[names.index(root)]
        depth = [-1] * n_comp
        depth[start] = 0
        for c in order:
            if depth[c] < 0:
                continue
            for nxt in cond.successors(c):
                if depth[c] + 1 > depth[nxt]:
                    depth[nxt] = depth[c] + 1
        return {names[i]: depth[comp[i]] for i in range(len(names)) if depth[comp[i]] >= 0}
