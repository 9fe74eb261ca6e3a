"""The Hub-scale lineage path (analysis/lineage_scale.py) against independent computations:
plain-Python traversals (tests/lineage_reference.py) on synthetic Hubs, a delta against a
full recomputation, the networkx baseline's outputs, and the bundled trees' lineage and
licence tables."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from llmcarto.analysis.licences import drift, normalise
from llmcarto.analysis.lineage_scale import RELATIONS, apply_delta, compute, from_edges
from llmcarto.analysis.synthhub import synth_delta, synth_hub
from tests.lineage_reference import lineage_rows

ROOT = Path(__file__).resolve().parents[1]


def _independent(parents, children, relations, nodes):
    """Per node: (depth, sorted roots, descendants, descendants by relation), plain Python."""
    return lineage_rows(list(parents), list(children), list(relations), list(nodes), RELATIONS)


def _scale_rows(s):
    node, root = s.roots_table()
    roots = defaultdict(list)
    for a, b in zip(node, root, strict=True):
        roots[s.ids[a]].append(s.ids[b])
    return {s.ids[i]: (int(s.depth[i]), sorted(roots[s.ids[i]]), int(s.descendant_count[i]),
                       tuple(int(x) for x in s.by_relation[i])) for i in range(len(s.ids))}


def _hub_arrays(hub):
    return hub.ids, hub.licence, hub.parent, hub.child, hub.relation


def test_scale_equals_plain_traversals_on_a_synthetic_hub():
    hub = synth_hub(3000, seed=5)
    s = compute(*_hub_arrays(hub))
    names = list(hub.ids)
    want = _independent([names[i] for i in hub.parent], [names[i] for i in hub.child],
                        list(hub.relation), names)
    got = _scale_rows(s)
    assert got == want
    assert (s.depth > 1).any() and (s.by_relation[:, RELATIONS.index("merge")] > 0).any()
    # a merge child reached through two parents counts once
    assert s.descendant_count.sum() == sum(v[2] for v in want.values())


def test_licence_drift_per_edge_uses_the_licence_functions():
    hub = synth_hub(1000, seed=2)
    s = compute(*_hub_arrays(hub))
    for k in range(0, len(s.parent), 7):
        p, c = s.parent[k], s.child[k]
        want = drift(normalise(hub.licence[p]).id, normalise(hub.licence[c]).id)
        assert (s.drift[k], s.rule[k]) == want


def test_delta_equals_full_recomputation():
    hub = synth_hub(20_000, seed=3)
    day = synth_delta(hub, 500, seed=4)
    base = compute(*_hub_arrays(hub))
    updated = apply_delta(base, day.ids, day.licence, day.parent, day.child, day.relation)
    full = compute(np.concatenate([hub.ids, day.ids]),
                   np.concatenate([hub.licence, day.licence]),
                   np.concatenate([hub.parent, day.parent]),
                   np.concatenate([hub.child, day.child]),
                   np.concatenate([hub.relation, day.relation]))
    assert len(day.parent) > 200 and (day.parent >= hub.models).any()  # some new parents
    for name in ("depth", "pair_key", "pair_dist", "descendant_count", "by_relation",
                 "licence_id"):
        assert np.array_equal(getattr(updated, name), getattr(full, name)), name
    order_u = np.lexsort((updated.parent, updated.child))
    order_f = np.lexsort((full.parent, full.child))
    for name in ("parent", "child", "relation", "drift", "rule"):
        assert np.array_equal(getattr(updated, name)[order_u], getattr(full, name)[order_f])
    assert updated.descendant_count.sum() > base.descendant_count.sum()


def test_the_benchmark_s_own_delta_check_finds_a_wrong_table():
    from llmcarto.commands.bench import delta_equals_full

    hub = synth_hub(2000, seed=6)
    day = synth_delta(hub, 100, seed=7)
    state = apply_delta(compute(*_hub_arrays(hub)), day.ids, day.licence, day.parent,
                        day.child, day.relation)
    assert delta_equals_full(state) == []
    state.descendant_count = state.descendant_count.copy()
    state.descendant_count[int(day.parent[0])] += 1
    state.pair_dist = state.pair_dist.copy()
    state.pair_dist[-1] += 1
    assert delta_equals_full(state) == ["pair_dist", "descendant_count"]


def test_delta_refuses_a_new_parent_for_an_old_model():
    hub = synth_hub(500, seed=1)
    s = compute(*_hub_arrays(hub))
    with pytest.raises(ValueError, match="existing model a parent"):
        apply_delta(s, np.array(["x/new"], dtype=object), np.array([None], dtype=object),
                    np.array([500]), np.array([3]), ["finetune"])


def test_networkx_baseline_gives_the_same_tables(tmp_path):
    from llmcarto.analysis.synthhub import write_hub
    from llmcarto.commands.bench import compare_outputs, write_outputs

    hub = synth_hub(2000, seed=9)
    write_hub(hub, tmp_path / "hub")
    write_outputs(compute(*_hub_arrays(hub)), tmp_path / "ours")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "networkx_lineage.py"),
                    str(tmp_path / "hub"), str(tmp_path / "theirs")], check=True)
    assert compare_outputs(tmp_path / "ours", tmp_path / "theirs") == {}


def test_scale_path_on_the_bundled_trees(published):
    """The real store's lineage_edge through the same code: equals the plain-Python answers
    and licence_drift's verdicts."""
    edges = published.execute("SELECT parent, child, relation FROM lineage_edge").fetchall()
    drift_rows = published.execute(
        "SELECT parent, child, parent_licence, child_licence, drift, rule FROM licence_drift"
    ).fetchall()
    licence = {}
    for p, c, pl, cl, _, _ in drift_rows:
        licence[p], licence[c] = pl, cl
    parents, children, relations = zip(*edges, strict=True)
    nodes = sorted(set(parents) | set(children))
    s = from_edges(parents, children, nodes, relations, licence)
    got = _scale_rows(s)
    assert got == _independent(list(parents), list(children), list(relations), nodes)
    verdict = {(s.ids[p], s.ids[c]): (v, r)
               for p, c, v, r in zip(s.parent, s.child, s.drift, s.rule, strict=True)}
    assert len(verdict) == len(drift_rows) > 100
    assert verdict == {(p, c): (v, r) for p, c, _, _, v, r in drift_rows}
    families = dict(published.execute("SELECT root, descendants FROM lineage_family").fetchall())
    assert families and all(got[root][2] == n for root, n in families.items())


def test_bench_lineage_command_ends_with_json(tmp_path):
    """A small run of the benchmark command: baseline at 10k, outputs compared, JSON last."""
    import json

    from typer.testing import CliRunner

    from llmcarto.cli import app

    record = tmp_path / "results" / "run.json"
    result = CliRunner().invoke(app, ["bench", "lineage", "--models", "10000", "--delta",
                                      "300", "--workdir", str(tmp_path), "--record",
                                      str(record)])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    saved = json.loads(record.read_text(encoding="utf-8"))
    assert saved["result"] == last and saved["sizes"][0]["models"] == 10_000
    assert saved["command"].endswith("--models 10000 --seed 0 --delta 300")
    assert last["models"] == 10_000 and last["baseline_models"] == 10_000
    assert last["seconds"] > 0 and last["peak_rss_mb"] > 0 and last["delta_models"] == 300
    assert last["speedup_vs_networkx"] == pytest.approx(
        last["baseline_seconds"] / last["seconds"], rel=0.2)
    assert "outputs identical" in result.output


def test_write_readme_needs_a_record_and_an_unwritable_record_is_one_clear_error(tmp_path):
    from typer.testing import CliRunner

    from llmcarto.cli import app
    from llmcarto.errors import InputError

    result = CliRunner().invoke(app, ["bench", "lineage", "--models", "300", "--no-baseline",
                                      "--write-readme"])
    assert isinstance(result.exception, InputError) and "give both" in str(result.exception)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(app, ["bench", "lineage", "--models", "300", "--no-baseline",
                                      "--workdir", str(tmp_path / "w"), "--record",
                                      str(blocker / "run.json")])
    assert isinstance(result.exception, InputError)
    assert str(result.exception).startswith(f"{blocker}: cannot create")


def test_readme_benchmark_block_is_the_recorded_run():
    """The README's numbers are rendered from the committed record of a full run, and that
    run met the issue's targets with identical outputs at every size the baseline finished."""
    import json

    from llmcarto.commands.bench import README_BLOCK, RECORD, readme_markdown

    record = json.loads(RECORD.read_text(encoding="utf-8"))
    block = README_BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block, "README.md lost its <!-- bench-lineage:begin --> block"
    assert block.group(2) == readme_markdown(record), \
        "README drifted from the record: rerun the command the README names"
    r, targets = record["result"], record["targets"]
    assert r["models"] == 2_200_000 and r["delta_models"] == 5000
    assert r["seconds"] <= targets["seconds"] and r["peak_rss_mb"] <= targets["peak_rss_mb"]
    assert r["delta_seconds"] <= targets["delta_seconds"] and r["delta_equals_full"] is True
    finished = [row for row in record["sizes"] if row["baseline_seconds"] is not None]
    assert finished and all(row["outputs"] == "identical" for row in finished)
    last = finished[-1]
    assert r["baseline_models"] == last["models"]
    assert r["speedup_vs_networkx"] == round(last["baseline_seconds"] / last["seconds"], 1)
