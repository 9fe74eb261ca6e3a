"""Lineage on the real bundled snapshot, checked against the raw tree dumps and against
counts computed independently (plain SQL, plain JSON) — never against the code's own
output: the root's children per declared relation equal the dump's lists; the declared-
finetune/inferred-adapter count on Llama-2-7b-chat-hf equals an independent count; every
other disagreement shows evidence that is in the dump; every provenance entry points at
a real row; exports load back whole; the README block and the atlas panel match the
store."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import igraph
import pytest
from fastapi.testclient import TestClient

from llmcarto.analysis.lineage_readme import BLOCK, readme_block
from llmcarto.bundle import extracted_snapshot
from llmcarto.privacy import HUB_PSEUDONYM
from tests.conftest import REPO

LLMCARTO = [str(Path(sys.executable).with_name("llmcarto"))]
CHAT = "meta-llama/Llama-2-7b-chat-hf"
LIST_RELATION = {"finetunes": "finetune", "adapters": "adapter", "quantized": "quantized",
                 "merges": "merge"}
_RFILENAME = re.compile(r"rfilename=(?:'([^']*)'|\"([^\"]*)\")")


@pytest.fixture(scope="module")
def dumps() -> dict[str, list[dict]]:
    """The tree dumps as shipped: file name -> decoded lines."""
    out = {}
    with extracted_snapshot() as root:
        for path in sorted((root / "hf-trees").glob("*.jsonl")):
            out[path.name] = [json.loads(line) for line in
                              path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(out) == 4
    return out


def q(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def raw_files(row: dict) -> list[str]:
    """File names of a dump row, read straight from the crawler's sibling reprs."""
    names = []
    for sib in (row.get("info") or {}).get("siblings") or []:
        if isinstance(sib, str):
            match = _RFILENAME.search(sib)
            if match:
                names.append(match.group(1) or match.group(2))
        elif isinstance(sib, dict):
            names.append(sib.get("rfilename", ""))
    return names


def raw_tags(row: dict) -> list[str]:
    return [t for t in (row.get("info") or {}).get("tags") or [] if isinstance(t, str)]


def declared_edges(lines: list[dict]) -> Iterator[tuple[str, str, str]]:
    """(parent, child, relation) of every model child list in a dump."""
    for line in lines:
        parent = line["model_id"].removeprefix("https://huggingface.co/")
        for key, relation in LIST_RELATION.items():
            for child in line["children"].get(key) or []:
                yield parent, child, relation


# ----------------------------------------------------------------------------- the trees


def test_each_root_s_children_per_declared_relation_equal_the_dump_lists(published, dumps):
    for name, lines in dumps.items():
        (root_line,) = [line for line in lines if line["depth"] == 0]
        root = root_line["model_id"]
        for key, relation in LIST_RELATION.items():
            listed = set(root_line["children"].get(key) or [])
            ours = {c for (c,) in q(published, """SELECT child FROM lineage_edge
                                                  WHERE parent = ? AND declared_relation = ?""",
                                    [root, relation])}
            assert ours == listed, (name, relation)
        spaces = set(root_line["children"].get("spaces") or [])
        models = {c for key in LIST_RELATION for c in root_line["children"].get(key) or []}
        leaked = {c for (c,) in q(published, "SELECT child FROM lineage_edge WHERE parent = ?",
                                  [root])} & (spaces - models)
        assert not leaked, f"{name}: Spaces children became lineage edges: {sorted(leaked)[:5]}"


def test_every_declared_list_entry_is_one_edge_with_that_relation(published, dumps):
    declared = {(p.lower(), c.lower()): r for lines in dumps.values()
                for p, c, r in declared_edges(lines)}
    ours = {(p.lower(), c.lower()): r for p, c, r in q(
        published, "SELECT parent, child, declared_relation FROM lineage_edge")}
    assert {k: ours.get(k) for k in declared} == declared
    pairs = q(published, "SELECT count(*), count(DISTINCT (lower(parent), lower(child))) "
                         "FROM lineage_edge")[0]
    assert pairs[0] == pairs[1], "one edge per (parent, child)"


def test_finetunes_that_ship_an_adapter_equal_an_independent_count(published, dumps):
    """Llama-2-7b-chat-hf: declared finetunes whose own row ships adapter_config.json or
    declares peft (library_name or tag), counted from the raw dump."""
    lines = dumps["meta-llama__Llama-2-7b-chat-hf.jsonl"]
    rows = {line["model_id"]: line for line in lines}
    expected = set()
    for parent, child, relation in declared_edges(lines):
        row = rows.get(child)
        if relation != "finetune" or row is None or row["info"] is None:
            continue
        info = row["info"]
        if (any(f.rsplit("/", 1)[-1] == "adapter_config.json" for f in raw_files(row))
                or info.get("library_name") == "peft" or "peft" in raw_tags(row)):
            expected.add((parent, child))
    ours = {(p, c) for p, c, prov in q(published, """
        SELECT parent, child, provenance FROM lineage_edge
        WHERE declared_relation = 'finetune' AND inferred_relation = 'adapter'""")
        if any(e["file"] == "hf-trees/meta-llama__Llama-2-7b-chat-hf.jsonl"
               and e["source"] == "hub-children" for e in json.loads(prov))}
    assert len(expected) > 200  # README: "over 200 declared finetunes ship an adapter_config"
    assert ours == expected


def test_every_other_disagreement_shows_evidence_found_in_the_dump(published, dumps):
    rows = {line["model_id"]: line for lines in dumps.values() for line in lines}
    classes: dict[str, list[str]] = defaultdict(list)
    for child, kinds, _rule, evidence in q(published, """
            SELECT child, disagreement_kinds, rule, rule_evidence FROM lineage_edge
            WHERE disagreement"""):
        for kind in kinds:
            classes[kind].append(child)
        row = rows[child]  # every disagreement in the bundle is about a crawled child
        files, tags = raw_files(row), [t.lower() for t in raw_tags(row)]
        for item in re.split(r", (?=tag |file |library_name )", evidence):
            word, _, value = item.partition(" ")
            if word == "tag":
                assert value in tags, (child, item)
            elif word == "library_name":
                assert (row["info"].get("library_name") or "").lower() == value, (child, item)
            elif word == "file":
                for name in value.split(", "):
                    name = re.sub(r" \(\+\d+ more\)$", "", name)
                    assert name in files, (child, name)
            else:
                pytest.fail(f"{child}: evidence {item!r} names no tag, file or library")
    # listed for the report: every class with its number of edges and an example
    print({k: (len(v), v[0]) for k, v in sorted(classes.items())})
    assert classes, "the bundle has disagreements (README §1 format notes)"
    chat_kinds = {kind for (kinds,) in q(published, """
        SELECT disagreement_kinds FROM lineage_edge
        WHERE disagreement AND provenance::VARCHAR LIKE '%Llama-2-7b-chat-hf.jsonl%'""")
                  for kind in kinds}
    # independently: which declared finetunes of the chat tree carry quantized/merge marks
    lines = dumps["meta-llama__Llama-2-7b-chat-hf.jsonl"]
    crawled = {line["model_id"]: line for line in lines if line["info"]}
    marked = Counter()
    for _, child, relation in declared_edges(lines):
        row = crawled.get(child)
        if relation != "finetune" or row is None:
            continue
        files, tags = [f.lower() for f in raw_files(row)], {t.lower() for t in raw_tags(row)}
        if any(f.endswith("adapter_config.json") for f in files) or "peft" in tags:
            continue
        if (any(f.endswith(".gguf") or "ggml" in f or "gptq" in f or "awq" in f for f in files)
                or tags & {"gguf", "gptq", "awq", "exl2", "mlx", "bitsandbytes", "4-bit",
                           "8-bit"}):
            marked["declared finetune / inferred quantized"] += 1
        elif tags & {"mergekit", "merge"} or "mergekit_config.yml" in files:
            marked["declared finetune / inferred merge"] += 1
    assert chat_kinds - {"declared finetune / inferred adapter"} == set(marked)
    for kind, n in marked.items():
        got = q(published, """SELECT count(*) FROM lineage_edge WHERE list_contains(
                 disagreement_kinds, ?) AND provenance::VARCHAR LIKE
                 '%Llama-2-7b-chat-hf.jsonl%'""", [kind])[0][0]
        assert got == n, kind


def test_the_bundled_trees_have_no_cycle_and_no_self_reference(published):
    # two Spaces share their model's name; Spaces are not lineage
    assert q(published, """SELECT count(*) FROM hub_child WHERE lower(parent) = lower(child)
                           AND relation <> 'space'""") == [(0,)]
    assert q(published, """SELECT count(*) FROM lineage_issue
                           WHERE kind IN ('cycle', 'self-reference')""") == [(0,)]


# ----------------------------------------------------------------------------- provenance


def test_every_provenance_entry_points_at_a_row_that_says_so(published):
    keys = {
        "hub-children": {(p.lower(), c.lower(), f, loc) for p, c, f, loc in q(
            published, "SELECT parent, child, file, loc FROM hub_child")},
        "hub-tag": {(p.lower(), c.lower(), f, loc) for c, tags, f, loc in q(
            published, "SELECT id, tags, file, loc FROM hub_model WHERE tags IS NOT NULL")
            for t in tags if t.startswith("base_model:")
            for p in [t.rsplit(":", 1)[-1] if t.count(":") == 2 else t.split(":", 1)[1]]},
        "card": {(p.lower(), c.lower(), f, loc) for c, bases, f, loc in q(
            published, "SELECT id, base_model, file, loc FROM model_card")
            for b in bases for p in [b.removeprefix("https://huggingface.co/")]},
        "ecosystem": {(f, loc) for f, loc in q(published, "SELECT file, loc FROM eco_dependency")},
    }
    n = 0
    for parent, child, prov, url in q(published, "SELECT parent, child, provenance, source_url "
                                                  "FROM lineage_edge"):
        entries = json.loads(prov)
        assert entries and url
        for e in entries:
            assert e["file"] and e["loc"], (parent, child)
            key = (e["file"], e["loc"]) if e["source"] == "ecosystem" else \
                (parent.lower(), child.lower(), e["file"], e["loc"])
            assert key in keys[e["source"]], (parent, child, e)
            n += 1
    assert n > 1900


def test_ecosystem_names_resolve_only_to_the_id_in_the_cited_field(published):
    seen = {i for (i,) in q(published, """SELECT id FROM hub_model UNION SELECT child FROM hub_child
                                          UNION SELECT parent FROM hub_child
                                          UNION SELECT id FROM model_card""")}
    rows = q(published, "SELECT name, hub_id, via, evidence, reason FROM eco_hub_id")
    assert len(rows) == q(published, "SELECT count(DISTINCT name) FROM eco_asset")[0][0]
    for name, hub_id, via, evidence, reason in rows:
        if hub_id is None:
            assert reason and via is None, name
        elif via == "seen Hub id":
            assert hub_id in seen, name
        else:
            assert hub_id.lower() in evidence.lower(), (name, via, evidence)


def test_every_model_dependency_is_accounted_for_once(published):
    """model→model edges + model→dataset uses + reported issues + model→application
    dependencies = every dependency of a model asset (nothing silently dropped)."""
    total = q(published, "SELECT count(*) FROM eco_dependency WHERE asset_type = 'model'")[0][0]
    # a dependency naming an application asset (exactly, or case-insensitively and uniquely)
    apps = q(published, """SELECT count(*) FROM eco_dependency d WHERE d.asset_type = 'model'
        AND (SELECT any_value(a.type) FROM eco_asset a WHERE a.name = d.dependency
             OR (NOT EXISTS (SELECT 1 FROM eco_asset x WHERE x.name = d.dependency)
                 AND lower(a.name) = lower(d.dependency))) = 'application'""")[0][0]
    eco_edges = sum(1 for (prov,) in q(published, "SELECT provenance FROM lineage_edge")
                    for e in json.loads(prov) if e["source"] == "ecosystem")
    uses = q(published, "SELECT count(*) FROM uses_dataset WHERE via LIKE 'ecosystem%'")[0][0]
    issues = q(published, "SELECT count(*) FROM lineage_issue WHERE kind LIKE 'eco-%'")[0][0]
    assert eco_edges > 0 and uses > 0 and issues > 0
    assert eco_edges + uses + issues + apps == total


def test_derived_rows_carry_provenance_columns(published):
    for table in ("lineage_edge", "lineage_node", "lineage_issue", "uses_dataset",
                  "eco_hub_id", "lineage_family"):
        missing = q(published, f"""SELECT count(*) FROM {table} WHERE source IS NULL
                                   OR source_url IS NULL AND table_name = 'lineage_edge'
                                   OR file IS NULL OR loc IS NULL""".replace(
            "table_name", f"'{table}'"))[0][0]
        assert missing == 0, table


# ----------------------------------------------------------------------------- families


def family_by_sql(con, root: str) -> tuple[set[str], int, int]:
    """(descendants, edges, disagreement edges) by a recursive CTE: independent of igraph."""
    members = {m for (m,) in q(con, """
        WITH RECURSIVE d(node) AS (SELECT ?::VARCHAR UNION
            SELECT e.child FROM lineage_edge e JOIN d ON e.parent = d.node)
        SELECT node FROM d""", [root])}
    edges = [dis for p, c, dis in q(con, "SELECT parent, child, disagreement FROM lineage_edge")
             if p in members and c in members]
    return members - {root}, len(edges), sum(edges)


def test_family_table_matches_an_independent_traversal(published):
    for root, descendants, edges, disagreements in q(
            published, "SELECT root, descendants, edges, disagreements FROM lineage_family"):
        members, n_edges, n_dis = family_by_sql(published, root)
        assert (descendants, edges, disagreements) == (len(members), n_edges, n_dis), root


def run(built_store: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LLMCARTO_CASES"}
    proc = subprocess.run([*LLMCARTO, "--db", str(built_store), *args], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_graphml_and_gexf_exports_load_back_with_every_node_and_edge(built_store, published,
                                                                     tmp_path):
    members, n_edges, _ = family_by_sql(published, CHAT)
    graphml, gexf = tmp_path / "chat.graphml", tmp_path / "chat.gexf"
    run(built_store, "export", "lineage", "--family", CHAT, "--format", "graphml",
        "--out", str(graphml))
    run(built_store, "export", "lineage", "--family", CHAT.upper(), "--format", "gexf",
        "--out", str(gexf))
    g = igraph.Graph.Read_GraphML(str(graphml))
    assert (g.vcount(), g.ecount()) == (len(members) + 1, n_edges)
    assert set(g.vs["id"]) == members | {CHAT}
    doc = ET.parse(gexf).getroot()
    ns = {"g": "http://gexf.net/1.3"}
    labels = {n.get("label") for n in doc.findall(".//g:node", ns)}
    assert labels == members | {CHAT} and len(doc.findall(".//g:edge", ns)) == n_edges


def test_csv_export_has_the_documented_columns(built_store, published):
    out = run(built_store, "export", "lineage", "--family", "EleutherAI/gpt-neox-20b").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0])[:9] == ["parent", "child", "relation", "declared_relation",
                                 "inferred_relation", "rule", "disagreement", "provenance",
                                 "confidence"]
    members, n_edges, n_dis = family_by_sql(published, "EleutherAI/gpt-neox-20b")
    assert len(rows) == n_edges and sum(r["disagreement"] == "true" for r in rows) == n_dis
    assert all(json.loads(r["provenance"]) for r in rows)


def test_lineage_command_prints_the_family_measures(built_store, published):
    data = json.loads(run(built_store, "lineage", "--family", CHAT, "--json").stdout)
    members, n_edges, n_dis = family_by_sql(published, CHAT)
    assert (data["descendants"], data["edges"], data["disagreements"]["edges"]) == (
        len(members), n_edges, n_dis)
    assert all(HUB_PSEUDONYM.match(a["owner"]) or a["registered"]
               for a in data["authors"]["top"])
    text = run(built_store, "lineage", "--family", CHAT).stdout
    assert f"{len(members):,} descendants" in text and "leaf share" in text
    proc = subprocess.run([*LLMCARTO, "--db", str(built_store), "lineage", "--family",
                           "no/such-model"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no/such-model" in proc.stderr


# ----------------------------------------------------------------------------- README, atlas


def test_readme_lineage_numbers_are_generated_from_the_store(published):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = BLOCK.search(readme)
    assert match, "README.md has no lineage numbers block"
    assert match.group(2) == readme_block(published), \
        "README lineage numbers drifted: run `make readme-numbers`"


def test_the_case_page_shows_the_family_panel_backed_by_the_store(built_store, published):
    from llmcarto.atlas.app import create_app
    from tests.test_atlas_pages import parse

    members, n_edges, n_dis = family_by_sql(published, CHAT)
    with TestClient(create_app(built_store)) as client:
        doc = parse(client.get("/case/meta").text)
    panel = doc.find(where=lambda n: n.attrs.get("id") == "lineage")
    family = next(a for a in panel.find_all("article", "lineage-family")
                  if a.find("h3").text() == CHAT)
    text = family.text()
    assert f"{len(members):,} descendants" in text and f"{n_edges:,} edges" in text
    assert f"Disagreements: {n_dis:,} edges" in text
    mix = {row.find("th").text(): [c.text() for c in row.find_all("td")]
           for row in family.find("table", "lineage-mix").find_all("tr")[1:]}
    declared = dict(q(published, """SELECT declared_relation, count(*) FROM lineage_edge
                                    WHERE list_contains(?, child) AND list_contains(?, parent)
                                    GROUP BY ALL""", [sorted(members), sorted(members | {CHAT})]))
    assert mix["adapter"][0] == f"{declared.get('adapter', 0):,}"
    assert mix["finetune"][0] == f"{declared.get('finetune', 0):,}"
    owners = [s.text() for s in family.find_all("span", "owner")]
    assert owners and all(HUB_PSEUDONYM.match(o) for o in owners)
    examples = family.find("table", "lineage-disagreements").text()
    assert "adapter-file" in examples and "adapter_config.json" in examples


def test_the_family_panel_escapes_untrusted_text(built_store, monkeypatch):
    """File names and ids reach the panel through rule evidence and examples: escaped."""
    from llmcarto.atlas import queries
    from llmcarto.atlas.app import create_app

    evil = '<script>alert(1)</script>"onmouseover=x'
    family = {"root": "meta-llama/" + evil, "case_keys": ["meta"], "is_root": True,
              "descendants": 1, "edges": 1, "depth": 1, "disagreements": 1,
              "source_url": None, "measures": {
                  "relation_mix": {"declared": {"finetune": 1}, "inferred": {"adapter": 1}},
                  "disagreements": {"edges": 1, "classes": [{"class": evil, "n": 1, "examples": [
                      {"parent": evil, "child": "u/" + evil, "rule": evil, "evidence": evil,
                       "card_relation": evil}]}]},
                  "authors": {"distinct": 1, "top": [{"owner": evil, "derivatives": 1}]},
                  "languages": {"base": [evil], "added": [{"language": evil, "derivatives": 1}]},
                  "created_by_month": [{"month": "2024-01", "n": 1}]}}
    monkeypatch.setattr(queries, "lineage_families", lambda db, key: [family])
    with TestClient(create_app(built_store)) as client:
        html = client.get("/case/meta").text
    assert "<script>alert" not in html and '"onmouseover' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
