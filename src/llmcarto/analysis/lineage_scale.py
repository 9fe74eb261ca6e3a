"""The lineage graph: every model's lineage measures at once (numpy), for the store and the Hub.

One implementation serves the store's lineage tables, the atlas, the exports and
`bench lineage` on a 2.2M-model synthetic Hub (design §10 definitions):

- depth: the longest path from a root = the Kahn layer of the node (layer peeling);
- roots: the parentless ancestors of a node (a root is its own);
- descendants: distinct nodes (a merge child counts once). Every (ancestor, descendant)
  pair is built once, layer by layer: anc(c) = ⋃ over parents p of {p} ∪ anc(p),
  deduplicated, with the longest distance between the two (a family's depth is the
  largest distance from its root). The pairs number about the models × mean depth, so this
  is linear in practice;
- descendants by relation (`lineage.family_measures`' definition): distinct descendants d
  of a with an incoming edge of that relation whose parent is a or a descendant of a;
- licence drift per edge: `licences.normalise` on each distinct licence string and
  `licences.drift` on each distinct (parent id, child id) pair — the issue-6 functions.

Self-references never become edges (kept in `self_references`); duplicate pairs collapse.
Cycles cannot occur on the Hub's own tree but can between sources (a card naming its own
child as base): they are found as strongly connected components (igraph, only among the
models Kahn's layering could not place), reported in `cycles`, and collapsed to one node
for the computation — members of a cycle share its depth, descend from each other and sit
at distance 0 from each other.

`apply_delta` adds models whose parents already exist (or are added with them) and updates
every table incrementally: an old model never gains a parent, so its depth, roots and
ancestors stay, and only pairs ending at new models are new.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from llmcarto.analysis.licences import drift, normalise

RELATIONS = ("adapter", "finetune", "quantized", "merge", "unknown")
SHIFT = np.int64(32)  # pair key = descendant << 32 | ancestor (stable when nodes are added)
LOW = np.int64((1 << 32) - 1)


@dataclass
class ScaleLineage:
    """Per-node, per-pair and per-edge lineage tables as arrays (index = node number), with
    one-model queries for families, pages and exports."""

    ids: np.ndarray  # object: model ids
    licence_raw: np.ndarray  # object: licence string per node (None = none)
    parent: np.ndarray  # int64 per edge
    child: np.ndarray
    relation: np.ndarray  # int64 code into RELATIONS
    depth: np.ndarray  # int64 per node
    pair_key: np.ndarray  # sorted descendant<<32|ancestor
    pair_dist: np.ndarray  # int64 per pair: the longest path from ancestor to descendant
    descendant_count: np.ndarray  # int64 per node: distinct descendants
    by_relation: np.ndarray  # int64 (nodes, len(RELATIONS))
    drift: np.ndarray  # object per edge: verdict
    rule: np.ndarray  # object per edge: rule id
    licence_code: np.ndarray  # int64 per node into `vocab`
    vocab: dict  # licence string -> code
    vocab_id: np.ndarray  # object per code: normalised licence id
    cycle_groups: list[list[int]] = field(default_factory=list)
    self_references: list[str] = field(default_factory=list)

    @property
    def licence_id(self) -> np.ndarray:
        return self.vocab_id[self.licence_code]

    @property
    def pair_desc(self) -> np.ndarray:
        return self.pair_key >> SHIFT

    @property
    def pair_anc(self) -> np.ndarray:
        return self.pair_key & LOW

    def roots_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(node, root) pairs: each node with each parentless ancestor; a root with itself."""
        desc, anc = self.pair_desc, self.pair_anc
        keep = self.depth[anc] == 0
        own = np.flatnonzero(self.depth == 0)
        node = np.concatenate([desc[keep], own])
        root = np.concatenate([anc[keep], own])
        order = np.lexsort((root, node))
        return node[order], root[order]

    # ------------------------------------------------------------------ one-model queries

    @cached_property
    def names(self) -> list[str]:
        return [str(x) for x in self.ids]

    @cached_property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @cached_property
    def _by_anc(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.pair_anc, kind="stable")
        return order, self.pair_anc[order]

    @cached_property
    def _edges_by(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for end, other in (("parent", self.child), ("child", self.parent)):
            order = np.argsort(getattr(self, end), kind="stable")
            out[end] = (getattr(self, end)[order], other[order])
        return out

    def __contains__(self, node: str) -> bool:
        return node in self.index

    def _slice_desc(self, i: int) -> slice:
        lo = np.searchsorted(self.pair_key, np.int64(i) << SHIFT)
        hi = np.searchsorted(self.pair_key, np.int64(i + 1) << SHIFT)
        return slice(int(lo), int(hi))

    def _desc_positions(self, i: int) -> np.ndarray:
        order, sorted_anc = self._by_anc
        lo, hi = np.searchsorted(sorted_anc, i), np.searchsorted(sorted_anc, i, side="right")
        return order[lo:hi]

    def descendants(self, node: str) -> set[str]:
        """Every model reachable from `node` (itself excluded, even on a cycle)."""
        if node not in self.index:
            return set()
        return {self.names[d] for d in self.pair_desc[self._desc_positions(self.index[node])]}

    def ancestors(self, node: str) -> set[str]:
        if node not in self.index:
            return set()
        return {self.names[a] for a in self.pair_anc[self._slice_desc(self.index[node])]}

    def _neighbours(self, node: str, end: str) -> list[str]:
        if node not in self.index:
            return []
        keys, other = self._edges_by[end]
        i = self.index[node]
        lo, hi = np.searchsorted(keys, i), np.searchsorted(keys, i, side="right")
        return sorted(self.names[j] for j in other[lo:hi])

    def parents(self, node: str) -> list[str]:
        return self._neighbours(node, "child")

    def children(self, node: str) -> list[str]:
        return self._neighbours(node, "parent")

    def roots(self) -> list[str]:
        """Models without a parent."""
        has_parent = np.bincount(self.child, minlength=len(self.ids)) > 0
        return sorted(self.names[i] for i in np.flatnonzero(~has_parent))

    def roots_above(self, node: str) -> list[str]:
        """The roots a model descends from: its ancestors (or itself) at depth 0 — a model
        on a parentless cycle is a root, as are the other members of that cycle."""
        if node not in self.index:
            return []
        i = self.index[node]
        found = {a for a in self.pair_anc[self._slice_desc(i)] if self.depth[a] == 0}
        if self.depth[i] == 0:
            found.add(i)
        return sorted(self.names[a] for a in found)

    def cycles(self) -> list[list[str]]:
        """Groups of models that descend from each other (strongly connected components)."""
        return sorted(sorted(self.names[i] for i in group) for group in self.cycle_groups)

    def depths(self, root: str) -> dict[str, int]:
        """The longest-path distance from `root` to each member of its family (root = 0;
        members of a cycle with the root are at 0)."""
        if root not in self.index:
            return {}
        pos = self._desc_positions(self.index[root])
        out = {self.names[d]: int(x) for d, x in zip(self.pair_desc[pos], self.pair_dist[pos],
                                                     strict=True)}
        return {root: 0, **out}

    def family_depth(self, root: str) -> int:
        pos = self._desc_positions(self.index[root]) if root in self.index else []
        return int(self.pair_dist[pos].max()) if len(pos) else 0

    def descendants_by_relation(self, node: str) -> dict[str, int]:
        row = self.by_relation[self.index[node]]
        return {r: int(n) for r, n in zip(RELATIONS, row, strict=True) if n}


# ------------------------------------------------------------------------ building blocks


def relation_codes(relations: Sequence[str | None] | np.ndarray) -> np.ndarray:
    """RELATIONS codes; NULL and any other value are "unknown" (family_measures' label)."""
    rel = np.asarray(relations, dtype=object)
    out = np.full(len(rel), RELATIONS.index("unknown"), dtype=np.int64)
    for i, name in enumerate(RELATIONS[:-1]):
        out[rel == name] = i
    return out


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated arange(s, s+l) for every (s, l), vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


def _layers(n: int, parent: np.ndarray, child: np.ndarray, fixed: np.ndarray | None = None
            ) -> np.ndarray:
    """Longest-path depth by Kahn layers; -1 for nodes on or below a cycle. In a delta,
    `fixed` holds the old nodes' depths (-1 for new ones) and the edges are the new ones."""
    depth = np.full(n, -1, dtype=np.int64) if fixed is None else fixed.copy()
    remaining = np.bincount(child, minlength=n)
    order = np.argsort(parent, kind="stable")
    p_sorted, c_sorted = parent[order], child[order]
    starts = np.searchsorted(p_sorted, np.arange(n))
    ends = np.searchsorted(p_sorted, np.arange(n), side="right")
    new_roots = np.flatnonzero((remaining == 0) & (depth < 0))
    depth[new_roots] = 0
    if fixed is None:
        frontier = new_roots
    else:
        frontier = np.unique(np.concatenate([new_roots, parent[depth[parent] >= 0]]))
    level_of = np.zeros(n, dtype=np.int64)
    while len(frontier):
        out = _ranges(starts[frontier], ends[frontier] - starts[frontier])
        kids = c_sorted[out]
        np.maximum.at(level_of, kids, depth[p_sorted[out]] + 1)
        np.subtract.at(remaining, kids, 1)
        frontier = np.unique(kids[remaining[kids] == 0])
        frontier = frontier[depth[frontier] < 0]
        depth[frontier] = level_of[frontier]
    return depth


def _keep_longest(keys: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys, each with its largest distance."""
    order = np.lexsort((-dist, keys))
    keys, dist = keys[order], dist[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first], dist[first]


def _ancestor_pairs(n: int, parent: np.ndarray, child: np.ndarray, depth: np.ndarray,
                    base: tuple[np.ndarray, np.ndarray] | None = None, new_from: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted pair keys (descendant<<32|ancestor) and longest distances for every node >=
    new_from, extending the sorted `base` pairs (whose descendants are all < new_from)."""
    empty = np.zeros(0, dtype=np.int64)
    keys, dist = base if base is not None else (empty, empty)
    desc_all = keys >> SHIFT
    start = np.searchsorted(desc_all, np.arange(n, dtype=np.int64))
    count = np.searchsorted(desc_all, np.arange(n, dtype=np.int64), side="right") - start
    chunks, dchunks = [keys], [dist]
    pending = np.flatnonzero((np.arange(n) >= new_from) & (depth > 0))
    if len(pending) == 0:
        return keys, dist
    for d in range(int(depth[pending].min()), int(depth[pending].max()) + 1):
        sel = (depth[child] == d) & (child >= new_from)
        p, c = parent[sel], child[sel]
        if len(p) == 0:
            continue
        flat = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        fdist = np.concatenate(dchunks) if len(dchunks) > 1 else dchunks[0]
        chunks, dchunks = [flat], [fdist]
        inherited = _ranges(start[p], count[p])
        desc = np.repeat(c, count[p])
        new, new_dist = _keep_longest(
            np.concatenate([(c << SHIFT) | p, (desc << SHIFT) | (flat[inherited] & LOW)]),
            np.concatenate([np.ones(len(c), dtype=np.int64), fdist[inherited] + 1]))
        nd = new >> SHIFT
        layer_nodes = np.unique(nd)
        first = np.searchsorted(nd, layer_nodes)
        start[layer_nodes] = len(flat) + first
        count[layer_nodes] = np.diff(np.append(first, len(nd)))
        chunks.append(new)
        dchunks.append(new_dist)
    keys, dist = np.concatenate(chunks), np.concatenate(dchunks)
    order = np.argsort(keys, kind="stable")
    return keys[order], dist[order]


def _strong_groups(n: int, parent: np.ndarray, child: np.ndarray, stuck: np.ndarray
                   ) -> list[list[int]]:
    """Strongly connected components (> 1 model) among the models Kahn could not place."""
    import igraph

    nodes = np.flatnonzero(stuck)
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    sel = stuck[parent] & stuck[child]
    graph = igraph.Graph(n=len(nodes), directed=True,
                         edges=np.column_stack([local[parent[sel]], local[child[sel]]]).tolist())
    return sorted(sorted(int(nodes[i]) for i in comp)
                  for comp in graph.connected_components(mode="strong") if len(comp) > 1)


def _collapsed_pairs(n: int, parent: np.ndarray, child: np.ndarray, groups: list[list[int]]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(depth, pair keys, distances) with every cycle collapsed onto its first model, then
    expanded back: members share the depth and pairs of their cycle, and descend from each
    other at distance 0."""
    rep = np.arange(n, dtype=np.int64)
    members: dict[int, list[int]] = {}
    for group in groups:
        rep[group] = group[0]
        members[group[0]] = group
    cp, cc = rep[parent], rep[child]
    keep = cp != cc
    pairs = np.unique((cc[keep] << SHIFT) | cp[keep])
    cp, cc = pairs & LOW, pairs >> SHIFT
    depth = _layers(n, cp, cc)
    keys, dist = _ancestor_pairs(n, cp, cc, depth)
    desc, anc = keys >> SHIFT, keys & LOW
    touched = np.isin(desc, list(members)) | np.isin(anc, list(members))
    extra_keys, extra_dist = [keys[~touched]], [dist[~touched]]
    for d, a, x in zip(desc[touched], anc[touched], dist[touched], strict=True):
        ds, as_ = members.get(int(d), [int(d)]), members.get(int(a), [int(a)])
        grid = (np.repeat(ds, len(as_)) << SHIFT) | np.tile(as_, len(ds))
        extra_keys.append(grid.astype(np.int64))
        extra_dist.append(np.full(len(grid), x, dtype=np.int64))
    for group in groups:
        g = np.asarray(group, dtype=np.int64)
        d, a = np.repeat(g, len(g)), np.tile(g, len(g))
        extra_keys.append((d[d != a] << SHIFT) | a[d != a])
        extra_dist.append(np.zeros(int((d != a).sum()), dtype=np.int64))
    keys, dist = np.concatenate(extra_keys), np.concatenate(extra_dist)
    order = np.argsort(keys, kind="stable")
    return depth[rep], keys[order], dist[order]


def _by_relation(n: int, keys: np.ndarray, parent: np.ndarray, child: np.ndarray,
                 relation: np.ndarray, all_keys: np.ndarray) -> np.ndarray:
    """(nodes, relations) counts of distinct descendants per relation over the pairs `keys`
    (all_keys: every pair, for the family-membership test of each incoming edge)."""
    out = np.zeros((n, len(RELATIONS)), dtype=np.int64)
    if len(keys) == 0:
        return out
    order = np.argsort(child, kind="stable")
    c_sorted, p_sorted, r_sorted = child[order], parent[order], relation[order]
    desc, anc = keys >> SHIFT, keys & LOW
    s = np.searchsorted(c_sorted, desc)
    e = np.searchsorted(c_sorted, desc, side="right")
    edge = _ranges(s, e - s)
    a = np.repeat(anc, e - s)
    d = np.repeat(desc, e - s)
    p = p_sorted[edge]
    member_key = (p << SHIFT) | a  # p is a descendant of a
    pos = np.searchsorted(all_keys, member_key)
    inside = (p == a) | ((pos < len(all_keys))
                         & (all_keys[np.minimum(pos, len(all_keys) - 1)] == member_key))
    triple = np.unique(((a[inside] * np.int64(len(RELATIONS)) + r_sorted[edge][inside])
                        << SHIFT) | d[inside])
    cell = triple >> SHIFT
    np.add.at(out.reshape(-1), cell, 1)
    return out


def licence_codes(raw: np.ndarray, vocab: dict[str | None, int] | None = None
                  ) -> tuple[np.ndarray, dict[str | None, int]]:
    """A code per node for its licence string (hash lookup; `vocab` grows in place)."""
    vocab = {} if vocab is None else vocab
    codes = np.fromiter((vocab.setdefault(x, len(vocab)) for x in raw), dtype=np.int64,
                        count=len(raw))
    return codes, vocab


def edge_drift(code: np.ndarray, vocab: dict[str | None, int], parent: np.ndarray,
               child: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(licence id per vocabulary entry, verdict per edge, rule per edge): `normalise` once
    per distinct licence string, `drift` once per distinct (parent, child) pair."""
    strings = sorted(vocab, key=vocab.get)
    ids = np.array([normalise(x).id for x in strings], dtype=object)
    size = np.int64(max(len(strings), 1))
    pairs, back = np.unique(code[parent] * size + code[child], return_inverse=True)
    judged = [drift(ids[p // size], ids[p % size]) for p in pairs]
    verdict = np.array([v for v, _ in judged] or [""], dtype=object)
    rule = np.array([r for _, r in judged] or [""], dtype=object)
    back = back.reshape(-1)
    return ids, verdict[back], rule[back]


def _clean(parent: np.ndarray, child: np.ndarray, relation: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop self-references and duplicate pairs (first kept)."""
    keep = parent != child
    parent, child, relation = parent[keep], child[keep], relation[keep]
    _, first = np.unique((child << SHIFT) | parent, return_index=True)
    first.sort()
    return parent[first], child[first], relation[first]


# ------------------------------------------------------------------------ entry points


def compute(ids: np.ndarray, licence_raw: np.ndarray, parent: np.ndarray, child: np.ndarray,
            relations: Sequence[str | None] | np.ndarray) -> ScaleLineage:
    """Every table from node ids and edges given by node index (full recomputation)."""
    n = len(ids)
    parent = np.asarray(parent, dtype=np.int64)
    child = np.asarray(child, dtype=np.int64)
    if n >= 1 << 31:
        raise ValueError(f"{n} models: pair keys hold at most 2**31")
    parent, child, relation = _clean(parent, child, relation_codes(relations))
    depth = _layers(n, parent, child)
    groups: list[list[int]] = []
    if (depth < 0).any():
        groups = _strong_groups(n, parent, child, depth < 0)
        depth, keys, dist = _collapsed_pairs(n, parent, child, groups)
    else:
        keys, dist = _ancestor_pairs(n, parent, child, depth)
    count = np.bincount(keys & LOW, minlength=n).astype(np.int64)
    by_rel = _by_relation(n, keys, parent, child, relation, keys)
    code, vocab = licence_codes(np.asarray(licence_raw, dtype=object))
    vocab_id, verdict, rule = edge_drift(code, vocab, parent, child)
    return ScaleLineage(np.asarray(ids, dtype=object), np.asarray(licence_raw, dtype=object),
                        parent, child, relation, depth, keys, dist, count, by_rel,
                        verdict, rule, code, vocab, vocab_id, groups)


def from_edges(parents: Sequence[str], children: Sequence[str],
               nodes: Iterable[str] = (), relations: Sequence[str | None] | None = None,
               licences: dict[str, str | None] | None = None) -> ScaleLineage:
    """`compute` over string ids (ids numbered in order of first appearance: edge ends,
    then `nodes`); self-references are kept aside in `self_references`."""
    if len(parents) != len(children):
        raise ValueError(f"{len(parents)} parents but {len(children)} children")
    pos: dict[str, int] = {}
    for pair in zip(parents, children, strict=True):
        for name in pair:
            pos.setdefault(name, len(pos))
    for name in nodes:
        pos.setdefault(name, len(pos))
    ids = np.array(list(pos), dtype=object)
    p = np.fromiter((pos[x] for x in parents), dtype=np.int64, count=len(parents))
    c = np.fromiter((pos[x] for x in children), dtype=np.int64, count=len(children))
    lic = np.array([(licences or {}).get(x) for x in pos], dtype=object)
    rel = list(relations) if relations is not None else [None] * len(p)
    out = compute(ids, lic, p, c, rel)
    out.self_references = sorted({a for a, b in zip(parents, children, strict=True) if a == b})
    return out


def apply_delta(state: ScaleLineage, new_ids: np.ndarray, new_licence: np.ndarray,
                parent: np.ndarray, child: np.ndarray,
                relations: Sequence[str | None] | np.ndarray) -> ScaleLineage:
    """Add models `new_ids` (numbered after the existing ones) and edges whose children are
    all new; every table is updated without recomputing the old nodes. New models that
    form a cycle among themselves need the cycle collapsed: then everything is recomputed."""
    old = len(state.ids)
    parent = np.asarray(parent, dtype=np.int64)
    child = np.asarray(child, dtype=np.int64)
    if len(child) and child.min() < old:
        raise ValueError("a delta edge gives an existing model a parent: recompute in full")
    parent, child, relation = _clean(parent, child, relation_codes(relations))
    n = old + len(new_ids)
    fixed = np.concatenate([state.depth, np.full(len(new_ids), -1, dtype=np.int64)])
    all_parent = np.concatenate([state.parent, parent])
    all_child = np.concatenate([state.child, child])
    all_relation = np.concatenate([state.relation, relation])
    licence_raw = np.concatenate([state.licence_raw, np.asarray(new_licence, dtype=object)])
    ids = np.concatenate([state.ids, np.asarray(new_ids, dtype=object)])
    depth = _layers(n, parent, child, fixed)  # old models never get a parent
    if (depth < 0).any():
        return compute(ids, licence_raw, all_parent, all_child,
                       np.array(RELATIONS, dtype=object)[all_relation])
    keys, dist = _ancestor_pairs(n, parent, child, depth, (state.pair_key, state.pair_dist),
                                 old)
    new_keys = keys[np.searchsorted(keys, np.int64(old) << SHIFT):]
    count = np.concatenate([state.descendant_count, np.zeros(len(new_ids), dtype=np.int64)])
    np.add.at(count, new_keys & LOW, 1)
    by_rel = np.concatenate([state.by_relation,
                             np.zeros((len(new_ids), len(RELATIONS)), dtype=np.int64)])
    by_rel += _by_relation(n, new_keys, parent, child, relation, keys)
    new_code, vocab = licence_codes(np.asarray(new_licence, dtype=object), dict(state.vocab))
    code = np.concatenate([state.licence_code, new_code])
    vocab_id, verdict, rule = edge_drift(code, vocab, parent, child)
    return ScaleLineage(ids, licence_raw, all_parent, all_child, all_relation, depth, keys,
                        dist, count, by_rel, np.concatenate([state.drift, verdict]),
                        np.concatenate([state.rule, rule]), code, vocab, vocab_id,
                        state.cycle_groups, state.self_references)
