"""The `licence_drift` table, `llmcarto export licences`, the atlas panel data and the README
block, on the store built from the bundled real snapshot."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcarto.analysis.licence_drift import (
    Claim,
    edge_drift,
    licence_claims,
    readme_block,
)
from llmcarto.analysis.licences import drift, drift_rates, normalise
from llmcarto.atlas.licence_panel import licence_panel, panel_data
from llmcarto.framework.licences import load_licences

REPO = Path(__file__).resolve().parents[1]


def _rows(con, sql, params=()):
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_one_row_per_lineage_edge_with_provenance(published):
    edges = {tuple(r) for r in published.execute(
        "SELECT parent, child FROM lineage_edge").fetchall()}
    drifts = published.execute("SELECT parent, child FROM licence_drift").fetchall()
    assert len(drifts) == len(edges) and set(drifts) == edges
    missing = published.execute("SELECT count(*) FROM licence_drift WHERE file IS NULL OR "
                                "source IS NULL").fetchone()[0]
    assert missing == 0


def test_each_verdict_is_the_rule_tables_verdict_for_its_two_licences(published):
    for r in _rows(published, "SELECT parent_licence, child_licence, drift, rule "
                              "FROM licence_drift"):
        assert drift(r["parent_licence"], r["child_licence"]) == (r["drift"], r["rule"])


def test_licences_are_read_from_the_tables_that_state_them(published):
    # independent: the Hub tag of every crawled child equals the raw licence used for it
    rows = _rows(published, "SELECT d.child, d.child_licence_raw, d.child_licence_source, "
                            "m.license FROM licence_drift d JOIN hub_model m ON m.id = d.child "
                            "WHERE m.license IS NOT NULL")
    assert rows
    for r in rows:
        assert r["child_licence_raw"] == r["license"], r["child"]
        assert r["child_licence_source"] in ("hub-tag", "hub-card")


def test_real_edges_of_the_rule_cases_carry_their_rule(published):
    from tests.test_licences import RULE_CASES

    for rule_id, (_p, _c, _v, edge) in RULE_CASES.items():
        match = re.match(r"real: (\S+) -> (\S+)$", edge)
        if not match:
            continue
        got = published.execute("SELECT rule FROM licence_drift WHERE parent = ? AND child = ?",
                                list(match.groups())).fetchone()
        assert got == (rule_id,), (rule_id, edge)


def test_rates_match_an_independent_count(published):
    base = load_licences()
    markers = [lid for lid, lic in base.licences.items() if lic.kind in ("family", "marker")]
    known, changed, edges = published.execute(
        "SELECT count(*) FILTER (WHERE parent_licence IS NOT NULL AND child_licence IS NOT NULL "
        "AND NOT list_contains(?, parent_licence) AND NOT list_contains(?, child_licence)), "
        "count(*) FILTER (WHERE parent_licence IS NOT NULL AND child_licence IS NOT NULL "
        "AND NOT list_contains(?, parent_licence) AND NOT list_contains(?, child_licence) "
        "AND parent_licence <> child_licence), count(*) FROM licence_drift "
        "WHERE relation = 'finetune'", [markers] * 4).fetchone()
    rows = _rows(published, "SELECT * FROM licence_drift WHERE relation = 'finetune'")
    r = drift_rates(rows)["all"]
    assert (r.edges, r.known_both, r.changed) == (edges, known, changed)
    assert known >= 10 and r.change_rate == pytest.approx(changed / known)


def test_gated_llama_parents_with_ungated_children_are_gate_dropped(published):
    # independent: hub_model.gated of both ends
    expected = published.execute(
        "SELECT count(*) FROM lineage_edge e JOIN hub_model p ON p.id = e.parent "
        "JOIN hub_model c ON c.id = e.child WHERE p.gated IN ('auto', 'manual') "
        "AND c.gated = 'false'").fetchone()[0]
    got = published.execute("SELECT count(*) FROM licence_drift "
                            "WHERE gating_drift = 'gate-dropped'").fetchone()[0]
    assert got == expected > 0


def test_disagreeing_sources_keep_a_verdict_each(published):
    rows = _rows(published, "SELECT * FROM licence_drift WHERE licence_disagreement")
    for r in rows:
        verdicts = json.loads(r["verdicts"]) if isinstance(r["verdicts"], str) else r["verdicts"]
        assert len(verdicts) >= 2
        assert all(v["parent_sources"] and v["child_sources"] for v in verdicts)


def test_dolma_s_two_licences_give_a_verdict_each(published):
    eco = published.execute("SELECT license, source_url, file, loc FROM eco_asset "
                            "WHERE name = 'Dolma'").fetchone()
    card = published.execute("SELECT license, url FROM model_card WHERE id = 'allenai/dolma'"
                             ).fetchone()
    assert eco[0] == "AI2 ImpACT" and card[0] == "odc-by"
    claims = [Claim(normalise(eco[0]).id, "alias", eco[0], "mot", eco[1], eco[2], eco[3]),
              Claim(normalise(card[0]).id, "hub-id", card[0], "card-copy", card[1])]
    child = [Claim("Apache-2.0", "hub-id", "apache-2.0", "hub-tag", "https://huggingface.co/x")]
    judged = edge_drift(claims, child)
    assert judged["licence_disagreement"]
    pairs = {(v["parent_licence"], v["rule"]) for v in judged["verdicts"]}
    assert pairs == {("ODC-By-1.0", "no-rule"), ("LicenseRef-ai2-impact", "licence-vague")}


def test_mutating_a_real_child_licence_changes_its_verdict(published):
    row = _rows(published, "SELECT parent, child FROM licence_drift WHERE rule = 'same-licence' "
                           "AND parent_licence = 'LicenseRef-llama2' LIMIT 1")[0]
    claims = licence_claims(published)
    parent, child = claims[row["parent"]], claims[row["child"]]
    assert edge_drift(parent, child)["drift"] == "unchanged"
    mutated = [Claim("Apache-2.0", "hub-id", "apache-2.0", c.source, c.url) for c in child]
    assert edge_drift(parent, mutated)["rule"] == "llama2-terms-dropped"


def test_export_licences_csv_and_json(built_store):
    from llmcarto.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["--db", str(built_store), "export", "licences", "--family",
                              "meta-llama/Llama-2-7b", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows and {"parent", "child", "parent_licence", "child_licence", "drift", "rule",
                     "gating_drift"} <= set(rows[0])
    assert any(r["rule"] == "llama2-terms-dropped" for r in rows)
    res = runner.invoke(app, ["--db", str(built_store), "export", "licences", "--family",
                              "meta-llama/Llama-2-7b", "--format", "json"])
    doc = json.loads(res.stdout)
    assert len(doc["edges"]) == len(rows)
    assert doc["rates"]["relation"]["all"]["edges"] == len(rows)
    bad = runner.invoke(app, ["--db", str(built_store), "export", "licences", "--family",
                              "nobody/nothing"])
    assert bad.exit_code != 0


def test_panel_data_gives_rates_and_examples_with_evidence(published):
    panel = licence_panel(published, "meta-llama/Llama-2-7b")
    assert panel["edges"] > 0 and panel["summary"]["edges"] == panel["edges"]
    ex = panel["incompatible"][0]
    assert ex["rule"] == "llama2-terms-dropped" and ex["cites"] and ex["child_raw"]
    assert panel["gate_dropped"]
    assert panel_data([])["summary"] is None


def test_readme_licence_numbers_are_generated_from_the_store(published):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- licences:begin -->\n(.*?)<!-- licences:end -->", readme, re.S)
    assert match, "README.md has no licences block"
    assert match.group(1) == readme_block(published), \
        "README licence numbers drifted: run `make readme-numbers`"
