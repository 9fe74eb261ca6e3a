"""Organisation networks: weights against independent SQL, and every format parses."""

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
