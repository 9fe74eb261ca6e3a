"""The lineage graph's traversals against plain-Python reference implementations, on
random edge lists with self-references, duplicates and cycles: reachability, roots,
cycles and longest-path depth. Hypothesis runs every function to completion, so none of
them can loop on a cycle."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcarto.analysis.lineage_scale import from_edges

NAMES = [f"org/m{i}" for i in range(9)]
edge_lists = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES)), max_size=30)


def reference_reach(edges: list[tuple[str, str]], start: str) -> set[str]:
    """Plain BFS over non-self edges; the start is excluded unless... never included."""
    out: dict[str, set[str]] = {}
    for p, c in edges:
        if p != c:
            out.setdefault(p, set()).add(c)
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for nxt in out.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen - {start}


def graph_of(edges):
    return from_edges([p for p, _ in edges], [c for _, c in edges])


@given(edge_lists)
def test_descendants_and_ancestors_match_a_plain_bfs(edges):
    g = graph_of(edges)
    reversed_edges = [(c, p) for p, c in edges]
    for node in g.names:
        assert g.descendants(node) == reference_reach(edges, node)
        assert g.descendant_count[g.index[node]] == len(reference_reach(edges, node))
        assert g.ancestors(node) == reference_reach(reversed_edges, node)


@given(edge_lists)
def test_descendant_and_ancestor_are_dual(edges):
    g = graph_of(edges)
    for a in g.names:
        for b in g.descendants(a):
            assert a in g.ancestors(b)


@given(edge_lists)
def test_self_references_are_reported_and_never_edges(edges):
    g = graph_of(edges)
    assert g.self_references == sorted({p for p, c in edges if p == c})
    for node in g.names:
        assert node not in g.children(node)
    assert len(g.parent) == len({(p, c) for p, c in edges if p != c})


@given(edge_lists)
def test_cycles_are_the_groups_of_mutually_reachable_models(edges):
    g = graph_of(edges)
    groups = set()
    for a in g.names:
        mutual = {b for b in g.names if b != a and b in reference_reach(edges, a)
                  and a in reference_reach(edges, b)}
        if mutual:
            groups.add(tuple(sorted(mutual | {a})))
    assert sorted(map(list, groups)) == g.cycles()


@given(edge_lists)
def test_roots_are_the_models_without_a_parent(edges):
    g = graph_of(edges)
    children = {c for p, c in edges if p != c}
    assert g.roots() == sorted(n for n in g.names if n not in children)


@given(edge_lists)
def test_roots_above_a_model_are_its_ancestors_with_no_parent_outside_their_cycle(edges):
    g = graph_of(edges)
    for node in g.names:
        above = set(g.roots_above(node))
        assert above <= g.ancestors(node) | {node}
        assert above, "every model descends from at least one root (or is on a root cycle)"
        for root in above:
            same_cycle = {root} | {b for b in g.descendants(root) if root in g.descendants(b)}
            assert set(g.parents(root)) <= same_cycle


dag_edges = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=30).map(
    lambda pairs: [(NAMES[min(a, b)], NAMES[max(a, b)]) for a, b in pairs if a != b])


@given(dag_edges)
def test_depth_on_a_dag_is_the_longest_path_from_the_root(edges):
    g = graph_of(edges)
    children: dict[str, set[str]] = {}
    for p, c in edges:
        children.setdefault(p, set()).add(c)

    for root in g.names:
        @cache
        def longest_to(target: str, node: str = root) -> int:
            if node == target:
                return 0
            best = -1
            for nxt in children.get(node, ()):
                sub = longest_to(target, nxt)
                if sub >= 0:
                    best = max(best, sub + 1)
            return best

        depths = g.depths(root)
        assert set(depths) == g.descendants(root) | {root}
        for node, depth in depths.items():
            assert depth == longest_to(node)


@settings(max_examples=200)
@given(edge_lists)
def test_depth_with_cycles_is_finite_and_consistent(edges):
    """With cycles collapsed: a cycle's members share a depth, and every other edge in
    the family goes at least one level down."""
    g = graph_of(edges)
    for root in g.names:
        depths = g.depths(root)
        assert set(depths) == g.descendants(root) | {root}
        for p, c in edges:
            if p == c or p not in depths or c not in depths or c == root:
                continue
            same_cycle = p in g.descendants(c)
            if same_cycle:
                assert depths[p] == depths[c]
            else:
                assert depths[c] >= depths[p] + 1
        assert all(0 <= d <= len(g.names) for d in depths.values())


def test_an_unknown_model_has_no_family():
    g = graph_of([("a/x", "b/y")])
    assert g.descendants("c/z") == set() and g.depths("c/z") == {} and g.roots_above("c/z") == []


def test_mismatched_lists_are_refused():
    with pytest.raises(ValueError, match="2 parents but 1 children"):
        from_edges(["a/x", "a/y"], ["b/z"])


def test_a_day_of_new_models_with_a_cycle_among_them_equals_a_full_recomputation():
    """A delta whose new models descend from each other cannot be layered: it is recomputed
    in full with the cycle collapsed, so the result still equals `compute` on everything."""
    import numpy as np

    from llmcarto.analysis.lineage_scale import apply_delta, compute

    ids = np.array(["a/root", "a/ft"], dtype=object)
    lic = np.array(["mit", None], dtype=object)
    base = compute(ids, lic, np.array([0]), np.array([1]), ["finetune"])
    new = np.array(["b/x", "b/y", "b/z"], dtype=object)
    parent, child = np.array([1, 2, 3, 3]), np.array([2, 3, 2, 4])
    rel = ["finetune", "adapter", "merge", "quantized"]
    got = apply_delta(base, new, np.array([None] * 3, dtype=object), parent, child, rel)
    full = compute(np.concatenate([ids, new]), np.array(["mit", None, None, None, None],
                                                         dtype=object),
                   np.array([0, *parent]), np.array([1, *child]), ["finetune", *rel])
    assert got.cycles() == full.cycles() == [["b/x", "b/y"]]
    for name in ("depth", "pair_key", "pair_dist", "descendant_count", "by_relation"):
        assert np.array_equal(getattr(got, name), getattr(full, name)), name
    assert got.depths("a/root") == {"a/root": 0, "a/ft": 1, "b/x": 2, "b/y": 2, "b/z": 3}
    assert got.roots_above("b/z") == ["a/root"]
