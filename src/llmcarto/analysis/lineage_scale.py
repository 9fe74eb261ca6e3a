"""Lineage measures for every model at once (numpy), for the whole Hub and for the store.

Same definitions as `lineage_graph` / `lineage.family_measures` (design §10), computed for
all nodes together instead of one family at a time:

- depth: the longest path from a root = the Kahn layer of the node (layer peeling);
- roots: the parentless ancestors of a node (a root is its own);
- descendants: distinct nodes (a merge child counts once). Every (ancestor, descendant)
  pair is built once, layer by layer: anc(c) = ⋃ over parents p of {p} ∪ anc(p), deduplicated;
  a node's descendant count is the number of pairs naming it as ancestor. The pairs number
  Σ depth-ish per node (≈1M on a 2.2M-model Hub), so this is linear in practice;
- descendants by relation (family_measures' definition): distinct descendants d of a with an
  incoming edge of that relation whose parent is a or a descendant of a;
- licence drift per edge: `licences.normalise` on each distinct licence string and
  `licences.drift` on each distinct (parent id, child id) pair — the issue-6 functions.

`apply_delta` adds models whose parents already exist (or are added with them) and updates
every table incrementally: an old model never gains a parent, so its depth, roots and
ancestors stay, and only pairs ending at new models are new. Cycles (possible between
sources in the store, never on the Hub) are refused with their nodes named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmcarto.analysis.licences import drift, normalise

RELATIONS = ("adapter", "finetune", "quantized", "merge", "unknown")
SHIFT = np.int64(32)  # pair key = descendant << 32 | ancestor (stable when nodes are added)


class CycleError(ValueError):
    """The edges contain a cycle; `nodes` are the models on or below it."""

    def __init__(self, nodes: list[str]):
        super().__init__(f"lineage has a cycle: {len(nodes)} models on or below it, e.g. "
                         + ", ".join(nodes[:5]))
        self.nodes = nodes


@dataclass
class ScaleLineage:
    """Per-node and per-edge lineage tables as arrays (index = node number)."""

    ids: np.ndarray  # object: model ids
    licence_raw: np.ndarray  # object: licence string per node (None = none)
    parent: np.ndarray  # int64 per edge
    child: np.ndarray
    relation: np.ndarray  # int64 code into RELATIONS
    depth: np.ndarray  # int64 per node
    pair_key: np.ndarray  # sorted descendant<<32|ancestor
    descendants: np.ndarray  # int64 per node
    by_relation: np.ndarray  # int64 (nodes, len(RELATIONS))
    drift: np.ndarray  # object per edge: verdict
    rule: np.ndarray  # object per edge: rule id
    licence_code: np.ndarray  # int64 per node into `vocab`
    vocab: dict  # licence string -> code
    vocab_id: np.ndarray  # object per code: normalised licence id

    @property
    def licence_id(self) -> np.ndarray:
        return self.vocab_id[self.licence_code]

    @property
    def pair_desc(self) -> np.ndarray:
        return self.pair_key >> SHIFT

    @property
    def pair_anc(self) -> np.ndarray:
        return self.pair_key & np.int64((1 << 32) - 1)

    def roots(self) -> tuple[np.ndarray, np.ndarray]:
        """(node, root) pairs: each node with each parentless ancestor; a root with itself."""
        desc, anc = self.pair_desc, self.pair_anc
        keep = self.depth[anc] == 0
        own = np.flatnonzero(self.depth == 0)
        node = np.concatenate([desc[keep], own])
        root = np.concatenate([anc[keep], own])
        order = np.lexsort((root, node))
        return node[order], root[order]


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


def _ancestor_pairs(n: int, parent: np.ndarray, child: np.ndarray, depth: np.ndarray,
                    base: np.ndarray | None = None, new_from: int = 0) -> np.ndarray:
    """Sorted pair keys (descendant<<32|ancestor) for every node >= new_from, extending the
    sorted `base` keys (whose descendants are all < new_from)."""
    keys = base if base is not None else np.zeros(0, dtype=np.int64)
    desc_all = keys >> SHIFT
    start = np.searchsorted(desc_all, np.arange(n, dtype=np.int64))
    count = np.searchsorted(desc_all, np.arange(n, dtype=np.int64), side="right") - start
    chunks = [keys]
    pending = np.flatnonzero((np.arange(n) >= new_from) & (depth > 0))
    if len(pending) == 0:
        return keys
    for d in range(int(depth[pending].min()), int(depth[pending].max()) + 1):
        sel = (depth[child] == d) & (child >= new_from)
        p, c = parent[sel], child[sel]
        if len(p) == 0:
            continue
        flat = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        chunks = [flat]
        anc = flat[_ranges(start[p], count[p])] & np.int64((1 << 32) - 1)
        desc = np.repeat(c, count[p])
        new = np.unique(np.concatenate([(c << SHIFT) | p, (desc << SHIFT) | anc]))
        nd = new >> SHIFT
        layer_nodes = np.unique(nd)
        first = np.searchsorted(nd, layer_nodes)
        start[layer_nodes] = len(flat) + first
        count[layer_nodes] = np.diff(np.append(first, len(nd)))
        chunks.append(new)
    return np.sort(np.concatenate(chunks))


def _by_relation(n: int, keys: np.ndarray, parent: np.ndarray, child: np.ndarray,
                 relation: np.ndarray, all_keys: np.ndarray) -> np.ndarray:
    """(nodes, relations) counts of distinct descendants per relation over the pairs `keys`
    (all_keys: every pair, for the family-membership test of each incoming edge)."""
    out = np.zeros((n, len(RELATIONS)), dtype=np.int64)
    if len(keys) == 0:
        return out
    order = np.argsort(child, kind="stable")
    c_sorted, p_sorted, r_sorted = child[order], parent[order], relation[order]
    desc, anc = keys >> SHIFT, keys & np.int64((1 << 32) - 1)
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
    """Drop self-references and duplicate pairs (first kept), as LineageGraph does."""
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
    parent, child, relation = _clean(np.asarray(parent, dtype=np.int64),
                                     np.asarray(child, dtype=np.int64), relation_codes(relations))
    depth = _layers(n, parent, child)
    if (depth < 0).any():
        raise CycleError(sorted(str(x) for x in ids[depth < 0]))
    keys = _ancestor_pairs(n, parent, child, depth)
    descendants = np.bincount(keys & np.int64((1 << 32) - 1), minlength=n).astype(np.int64)
    by_rel = _by_relation(n, keys, parent, child, relation, keys)
    code, vocab = licence_codes(licence_raw)
    vocab_id, verdict, rule = edge_drift(code, vocab, parent, child)
    return ScaleLineage(np.asarray(ids, dtype=object), np.asarray(licence_raw, dtype=object),
                        parent, child, relation, depth, keys, descendants, by_rel, verdict,
                        rule, code, vocab, vocab_id)


def from_names(parents: Sequence[str], children: Sequence[str],
               relations: Sequence[str | None], licences: dict[str, str | None] | None = None,
               nodes: Sequence[str] = ()) -> ScaleLineage:
    """`compute` over string ids (nodes first, then edge ends in order of appearance)."""
    names = np.concatenate([np.asarray(list(nodes), dtype=object),
                            np.asarray(list(parents), dtype=object),
                            np.asarray(list(children), dtype=object)])
    ids, first = np.unique(names.astype(str), return_index=True)
    ids = names[np.sort(first)]
    pos = {name: i for i, name in enumerate(ids)}
    p = np.array([pos[x] for x in parents], dtype=np.int64)
    c = np.array([pos[x] for x in children], dtype=np.int64)
    lic = np.array([(licences or {}).get(x) for x in ids], dtype=object)
    return compute(ids, lic, p, c, list(relations))


def apply_delta(state: ScaleLineage, new_ids: np.ndarray, new_licence: np.ndarray,
                parent: np.ndarray, child: np.ndarray,
                relations: Sequence[str | None] | np.ndarray) -> ScaleLineage:
    """Add models `new_ids` (numbered after the existing ones) and edges whose children are
    all new; every table is updated without recomputing the old nodes."""
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
    depth = _layers(n, parent, child, fixed)  # old models never get a parent
    if (depth < 0).any():
        raise CycleError(sorted(str(x) for x in new_ids[depth[old:] < 0]))
    keys = _ancestor_pairs(n, parent, child, depth, state.pair_key, old)
    new_keys = keys[np.searchsorted(keys, np.int64(old) << SHIFT):]
    descendants = np.concatenate([state.descendants, np.zeros(len(new_ids), dtype=np.int64)])
    np.add.at(descendants, new_keys & np.int64((1 << 32) - 1), 1)
    by_rel = np.concatenate([state.by_relation,
                             np.zeros((len(new_ids), len(RELATIONS)), dtype=np.int64)])
    by_rel += _by_relation(n, new_keys, parent, child, relation, keys)
    licence_raw = np.concatenate([state.licence_raw, np.asarray(new_licence, dtype=object)])
    new_code, vocab = licence_codes(np.asarray(new_licence, dtype=object), dict(state.vocab))
    code = np.concatenate([state.licence_code, new_code])
    vocab_id, verdict, rule = edge_drift(code, vocab, parent, child)
    return ScaleLineage(np.concatenate([state.ids, np.asarray(new_ids, dtype=object)]),
                        licence_raw, all_parent, all_child,
                        np.concatenate([state.relation, relation]), depth, keys, descendants,
                        by_rel, np.concatenate([state.drift, verdict]),
                        np.concatenate([state.rule, rule]), code, vocab, vocab_id)
