"""Organisation networks: weights against independent SQL (whole and per stage), every
format parses, and the one GraphML/GEXF writer (`graphfile`) escapes what it is given."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

import duckdb

from llmcarto.analysis.networks import network, org_org_edges, org_repo_edges, to_gexf, to_graphml


def test_small_network_by_hand():
    rows = [("c", "a/r1", "internal", "OrgA", 5), ("c", "a/r1", "external", "OrgB", 2),
            ("c", "a/r2", "external", "OrgB", 1), ("c", "a/r2", "unknown", None, 9),
            ("c", "a/r2", "external", "OrgC", 1)]
    orepo = org_repo_edges(rows)
    assert {(e["source"], e["target"], e["weight"]) for e in orepo} == {
        ("org:OrgA", "repo:a/r1", 5), ("org:OrgB", "repo:a/r1", 2),
        ("org:OrgB", "repo:a/r2", 1), ("org:OrgC", "repo:a/r2", 1)}
    oo = {(e["source"], e["target"]): e["weight"] for e in org_org_edges(orepo)}
    assert oo == {("org:OrgA", "org:OrgB"): 1, ("org:OrgB", "org:OrgC"): 1}


def test_network_weights_match_sql(published):
    edges, nodes = network(published)
    got = {(e["source"], e["target"]): e["weight"] for e in edges if e["kind"] == "org-repo"}
    want = {(f"org:{o}", f"repo:{r}"): n for o, r, n in published.execute(
        "SELECT author_org, repo, count(*) FROM commit_affiliation WHERE NOT inherited "
        "AND author_class IN ('internal', 'partner', 'external') AND author_org IS NOT NULL "
        "GROUP BY ALL").fetchall()}
    assert got == want and want
    shared = {(f"org:{a}", f"org:{b}"): n for a, b, n in published.execute("""
        WITH x AS (SELECT DISTINCT author_org AS org, repo FROM commit_affiliation
                   WHERE NOT inherited AND author_class IN ('internal', 'partner', 'external')
                     AND author_org IS NOT NULL)
        SELECT x1.org, x2.org, count(*) FROM x x1 JOIN x x2 ON x1.repo = x2.repo
        AND x1.org < x2.org GROUP BY ALL""").fetchall()}
    assert {(e["source"], e["target"]): e["weight"] for e in edges
            if e["kind"] == "org-org"} == shared
    ids = {n["id"] for n in nodes}
    assert all(e["source"] in ids and e["target"] in ids for e in edges)


def test_xml_formats_escape_and_parse():
    edges = [{"source": "org:A & <B>", "target": "repo:x/y", "kind": "org-repo", "weight": 3,
              "cases": "c", "repos": "x/y", "evidence": "https://github.com/x/y/commits"}]
    nodes = [{"id": "org:A & <B>", "kind": "organisation", "label": "A & <B>\x01",
              "commits": 3, "unknown_commits": None},
             {"id": "repo:x/y", "kind": "repository", "label": "x/y", "commits": 3,
              "unknown_commits": 0}]
    for text in (to_graphml(edges, nodes), to_gexf(edges, nodes)):
        doc = xml.dom.minidom.parseString(text.encode())
        assert doc.getElementsByTagName("edge").length == 1


def test_export_network_cli_formats(built_store: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from llmcarto.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["--db", str(built_store), "export", "network", "--case",
                              "eleutherai", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == "source,target,kind,weight,cases,repos,evidence"
    for fmt in ("graphml", "gexf", "parquet"):
        out = tmp_path / f"n.{fmt}"
        res = runner.invoke(app, ["--db", str(built_store), "export", "network", "--all",
                                  "--format", fmt, "--out", str(out)])
        assert res.exit_code == 0, res.output
        if fmt == "parquet":
            n = duckdb.connect().execute(f"SELECT count(*) FROM '{out}'").fetchone()[0]
            assert n > 0
        else:
            xml.dom.minidom.parse(str(out))
    both = runner.invoke(app, ["--db", str(built_store), "export", "network", "--case",
                               "eleutherai", "--all"])
    assert both.exit_code != 0 and "exactly one" in str(both.exception)


def _stage_counts(con, stage, case=None):
    """org → repo own-commit counts of one stage, from stage_trace's own stage column."""
    return {(f"org:{o}", f"repo:{r}"): n for o, r, n in con.execute("""
        SELECT a.author_org, a.repo, count(*) FROM commit_affiliation a
        JOIN stage_trace t ON t.item_kind = 'commit' AND t.case_key = a.case_key
         AND t.item_key = a.repo || '@' || a.sha
        WHERE t.stage = ? AND (? IS NULL OR a.case_key = ?) AND NOT a.inherited
          AND a.author_class IN ('internal', 'partner', 'external')
          AND a.author_org IS NOT NULL GROUP BY ALL""", [stage, case, case]).fetchall()}


def test_stage_network_matches_the_stage_traces(published):
    whole = {(e["source"], e["target"]): e["weight"] for e in network(published)[0]
             if e["kind"] == "org-repo"}
    total: dict = {}
    for stage in ("pre-training", "post-training", "post-release"):
        edges, nodes = network(published, stage=stage)
        got = {(e["source"], e["target"]): e["weight"] for e in edges if e["kind"] == "org-repo"}
        assert got == _stage_counts(published, stage) and got, stage
        ids = {n["id"] for n in nodes}
        assert all(e["source"] in ids and e["target"] in ids for e in edges)
        for k, v in got.items():
            total[k] = total.get(k, 0) + v
    assert total == whole  # the three stages partition the own commits of known orgs
    edges, _ = network(published, "allenai", "post-training")
    got = {(e["source"], e["target"]): e["weight"] for e in edges if e["kind"] == "org-repo"}
    assert got == _stage_counts(published, "post-training", "allenai")
    assert not network(published, "eleutherai", "post-training")[0]  # no such commits


def test_export_network_stage_option(built_store: Path):
    from typer.testing import CliRunner

    from llmcarto.cli import app

    runner = CliRunner()
    base = ["--db", str(built_store), "export", "network", "--case", "allenai"]
    whole = runner.invoke(app, base).output.splitlines()
    pre = runner.invoke(app, [*base, "--stage", "pre-training"])
    assert pre.exit_code == 0, pre.output
    lines = pre.output.splitlines()
    assert lines[0] == whole[0] and 1 < len(lines) < len(whole)
    bad = runner.invoke(app, [*base, "--stage", "inherited"])
    assert bad.exit_code != 0 and "--stage 'inherited'" in str(bad.exception)


def test_graphfile_is_the_writer_of_both_graph_exports():
    import inspect

    from llmcarto.analysis import lineage_export, networks

    for module in (lineage_export, networks):
        source = inspect.getsource(module)
        assert "graphfile.graphml(" in source and "graphfile.gexf(" in source
        assert "<graphml" not in source and "<gexf" not in source


def test_graphfile_escapes_and_numbers_nodes():
    from llmcarto.analysis.graphfile import gexf, graphml

    nodes = [{"id": 'a"<&>\x00', "kind": ["x", "y"], "n": 1}, {"id": "b", "kind": None}]
    edges = [{"source": 'a"<&>\x00', "target": "b", "w": 2, "note": {"k": "<v>"}}]
    g = xml.dom.minidom.parseString(graphml(nodes, edges, ("kind", "n"), ("w", "note"),
                                            graph_id="g", directed=True).encode())
    node = g.getElementsByTagName("node")[0]
    assert node.getAttribute("id") == 'a"<&>\ufffd'
    assert node.getElementsByTagName("data")[0].firstChild.data == "x; y"
    assert len(g.getElementsByTagName("node")[1].getElementsByTagName("data")) == 0
    assert g.getElementsByTagName("graph")[0].getAttribute("edgedefault") == "directed"
    x = xml.dom.minidom.parseString(gexf(nodes, edges, ("kind", "n"), ("w", "note"),
                                         directed=False, edge_weight=lambda e: e["w"],
                                         edge_label=lambda e: e["note"]["k"]).encode())
    edge = x.getElementsByTagName("edge")[0]
    assert (edge.getAttribute("source"), edge.getAttribute("target")) == ("0", "1")
    assert edge.getAttribute("weight") == "2.0" and edge.getAttribute("label") == "<v>"
    values = [v.getAttribute("value") for v in edge.getElementsByTagName("attvalue")]
    assert values == ["2", '{"k": "<v>"}']
