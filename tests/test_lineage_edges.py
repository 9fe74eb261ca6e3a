"""Edges from assertions, asset names to Hub ids, family measures and the export formats,
on small hand-made inputs whose right answers are worked out in the comments."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import igraph
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcarto.analysis.lineage import (
    LineageIndex,
    NodeFacts,
    combine,
    family_measures,
    owner_shown,
)
from llmcarto.analysis.lineage_export import (
    EXPORT_COLUMNS,
    to_csv,
    to_gexf,
    to_graphml,
    to_json,
    write_parquet,
)
from llmcarto.analysis.lineage_sources import (
    Assertion,
    Issue,
    card_assertions,
    ecosystem_assertions,
    hub_dataset_url,
    hub_id,
    hub_model_url,
    model_assertions,
    relation_word,
    resolve_assets,
    tag_bases,
)
from llmcarto.privacy import HUB_PSEUDONYM, hub_handle_pseudonym


def a(parent, child, relation, source, confidence="high", file="f", loc="line 1",
      date="2025-04-22"):
    return Assertion(parent, child, relation, source, "field", confidence, None, date, file, loc)


CRAWLED_ADAPTER = NodeFacts("u/lora", crawled=True, files=("adapter_config.json",))


# ----------------------------------------------------------------------------- combine


def test_one_edge_per_pair_with_the_hub_relation_declared_and_files_inferred():
    edges, issues = combine([
        a("meta/base", "u/lora", "finetune", "hub-children", date="2025-04-22"),
        a("meta/base", "u/lora", "finetune", "hub-tag", date="2025-04-20"),
        a("Meta/Base", "U/LoRA", None, "card", "medium", loc="line 9"),
    ], {"u/lora": CRAWLED_ADAPTER})
    assert issues == []
    (edge,) = edges  # ids compare case-insensitively, as on the Hub
    assert (edge["declared_relation"], edge["declared_source"]) == ("finetune", "hub-children")
    assert (edge["inferred_relation"], edge["rule"]) == ("adapter", "adapter-file")
    assert edge["relation"] == "finetune"  # declared wins
    assert edge["disagreement"] and edge["disagreement_kinds"] == [
        "declared finetune / inferred adapter"]
    assert edge["sources"] == ["hub-children", "hub-tag", "card"]
    assert len(edge["provenance"]) == 3 and edge["confidence"] == "high"
    assert edge["first_seen"] == "2025-04-20"


def test_a_card_relation_that_differs_from_the_hub_is_a_disagreement():
    edges, _ = combine([a("b/x", "c/y", "finetune", "hub-children"),
                        a("b/x", "c/y", "merge", "card", "medium")], {})
    (edge,) = edges
    assert edge["declared_relation"] == "finetune" and edge["card_relation"] == "merge"
    assert edge["disagreement_kinds"] == ["card says merge / Hub says finetune"]
    assert edge["inferred_relation"] is None and edge["rule"] == "not-crawled"


def test_hub_sources_that_differ_are_a_disagreement_and_the_child_list_wins():
    edges, _ = combine([a("b/x", "c/y", "quantized", "hub-tag"),
                        a("b/x", "c/y", "finetune", "hub-children")], {})
    (edge,) = edges
    assert edge["declared_relation"] == "finetune"
    assert edge["disagreement_kinds"] == ["Hub sources differ: hub-children finetune, "
                                          "hub-tag quantized"]


def test_without_a_hub_relation_the_card_declares_and_else_the_files_decide():
    edges, _ = combine([a("b/x", "c/y", "adapter", "card", "medium"),
                        a("b/x", "u/lora", None, "card", "low")], {"u/lora": CRAWLED_ADAPTER})
    by_child = {e["child"]: e for e in edges}
    assert by_child["c/y"]["declared_source"] == "card"
    assert by_child["c/y"]["relation"] == "adapter" and by_child["c/y"]["confidence"] == "medium"
    assert by_child["u/lora"]["declared_relation"] is None
    assert by_child["u/lora"]["relation"] == "adapter"  # inferred
    assert not by_child["u/lora"]["disagreement"] and by_child["u/lora"]["confidence"] == "low"


def test_a_card_with_several_bases_makes_each_edge_an_inferred_merge():
    merged = NodeFacts("u/merged", crawled=True, files=("model.safetensors",))
    edges, _ = combine([a("b/x", "u/merged", None, "card", loc="line 3"),
                        a("b/z", "u/merged", None, "card", loc="line 3")], {"u/merged": merged})
    assert [(e["parent"], e["inferred_relation"], e["rule"]) for e in edges] == [
        ("b/x", "merge", "merge-several-bases"), ("b/z", "merge", "merge-several-bases")]


def test_self_references_are_issues_not_edges():
    edges, issues = combine([a("b/x", "B/X", None, "card"), a("b/x", "c/y", None, "card")], {})
    assert [(e["parent"], e["child"]) for e in edges] == [("b/x", "c/y")]
    assert [(i.kind, i.parent, i.child) for i in issues] == [("self-reference", "b/x", "B/X")]


# ----------------------------------------------------------------------------- sources


def test_base_model_tags_with_and_without_relation():
    assert tag_bases(["base_model:meta/L", "base_model:finetune:meta/L", "license:mit",
                      "base_model:adapter:x/y", "base_model:quantized:z"]) == {
        "meta/L": "finetune", "x/y": "adapter", "z": "quantized"}
    # a relation-less tag after a relation-bearing one does not erase the relation
    assert tag_bases(["base_model:finetune:a/b", "base_model:a/b"]) == {"a/b": "finetune"}


def test_model_rows_give_tag_and_basemodels_assertions():
    out = list(model_assertions([{
        "id": "u/m", "tags": ["base_model:merge:a/b", "base_model:c/d"],
        "base_models_info": json.dumps({"relation": "merge", "models": [{"id": "a/b"}]}),
        "source": "hf-trees", "source_url": "https://huggingface.co/u/m",
        "snapshot_date": None, "file": "hf-trees/x.jsonl", "loc": "line 2", "snapshot_id": "s"}]))
    assert [(x.parent, x.relation, x.source) for x in out] == [
        ("a/b", "merge", "hub-tag"), ("c/d", None, "hub-tag"), ("a/b", "merge", "hub-baseModels")]


def test_card_base_models_become_assertions_or_issues():
    rows = [{"id": "u/m", "repo_type": "model", "base_model": ["meta/L", "./local/path",
                                                               "https://huggingface.co/x/y"],
             "base_model_relation": "Fine-Tune", "yaml_status": "recovered", "origin": "hf-cards",
             "source": "hf-cards", "source_url": "u", "snapshot_date": None, "file": "c.jsonl",
             "loc": "line 4", "snapshot_id": "s"},
            {"id": "d/s", "repo_type": "dataset", "base_model": ["meta/L"],
             "base_model_relation": None, "yaml_status": "parsed", "origin": "hf-cards"}]
    out = list(card_assertions(rows))
    found = [(x.parent, x.relation, x.confidence) for x in out if isinstance(x, Assertion)]
    assert found == [("meta/L", "finetune", "low"), ("x/y", "finetune", "low")]
    (issue,) = [x for x in out if isinstance(x, Issue)]
    assert issue.kind == "card-base-not-a-hub-id" and issue.row()["file"] == "c.jsonl"


@pytest.mark.parametrize(("value", "expected"), [
    ("meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-7b-hf"), ("gpt2", "gpt2"),
    ("https://huggingface.co/meta-llama/Llama-2-7b/tree/main", "meta-llama/Llama-2-7b"),
    ("https://huggingface.co/Qwen", None), ("https://huggingface.co/datasets/a/b", None),
    ("./output/checkpoint", None), ("a/b/c", None), ("", None), (None, None),
])
def test_hub_ids(value, expected):
    assert hub_id(value) == expected


def test_hub_urls():
    assert hub_model_url("https://huggingface.co/spaces/a/b") is None
    assert hub_dataset_url("https://huggingface.co/datasets/allenai/dolma") == "allenai/dolma"
    assert hub_dataset_url("https://huggingface.co/datasets/wikitext/tree/main") == "wikitext"
    assert relation_word(" Quantization ") == "quantized" and relation_word("lora") == "lora"


ASSETS = [
    {"name": "BLOOM", "type": "model", "organization": "BigScience",
     "url": "https://arxiv.org/x", "model_card": "https://huggingface.co/bigscience/bloom",
     "file": "a.yaml", "loc": "asset 1 (line 1)"},
    {"name": "Llama 2", "type": "model", "organization": "Meta", "url": "https://ai.meta.com",
     "model_card": "https://huggingface.co/meta-llama", "file": "a.yaml", "loc": "asset 2"},
    {"name": "Amber", "type": "model", "organization": "LLM360", "url": "x", "model_card": "",
     "file": "a.yaml", "loc": "asset 3"},
    {"name": "Pythia", "type": "model", "organization": "EleutherAI", "url": None,
     "model_card": None, "file": "a.yaml", "loc": "asset 4"},
    {"name": "Falcon", "type": "model", "organization": "TII", "url": None, "model_card": None,
     "file": "a.yaml", "loc": "asset 5"},
    {"name": "BLOOMZ", "type": "model", "organization": "BigScience",
     "url": "https://huggingface.co/bigscience/bloomz", "model_card": None, "file": "a.yaml",
     "loc": "asset 6"},
    {"name": "xP3", "type": "dataset", "organization": "BigScience", "url": None,
     "datasheet": "https://huggingface.co/datasets/bigscience/xP3", "file": "a.yaml",
     "loc": "asset 7"},
    {"name": "Chat", "type": "application", "organization": "X", "file": "a.yaml", "loc": "a8"},
]
MOT = [{"name": "amber", "huggingface_url": "https://huggingface.co/LLM360/Amber"}]
SEEN = ["EleutherAI/pythia", "someone/pythia", "someone/falcon", "tiiuae/falcon-7b"]


def test_asset_names_resolve_only_through_a_field_that_shows_a_hub_id():
    got = {n: (r.hub_id, r.via) for n, r in resolve_assets(ASSETS, MOT, SEEN).items()}
    assert got == {
        "BLOOM": ("bigscience/bloom", "eco_asset.model_card"),
        "Llama 2": (None, None),  # an organisation page is not a model
        "Amber": ("LLM360/Amber", "mot release.huggingface"),
        "Pythia": ("EleutherAI/pythia", "seen Hub id"),  # the owner matches the organisation
        "Falcon": (None, None),  # someone/falcon's owner is not TII; falcon-7b is another name
        "BLOOMZ": ("bigscience/bloomz", "eco_asset.url"),
        "xP3": ("bigscience/xP3", "eco_asset.datasheet"),
        "Chat": (None, None),
    }


def test_ecosystem_dependencies_split_into_lineage_data_uses_and_issues():
    resolved = resolve_assets(ASSETS, MOT, SEEN)
    deps = [{"asset": "BLOOMZ", "asset_type": "model", "dependency": dep, "position": i,
             "file": "a.yaml", "loc": "asset 6", "source": "ecosystem-assets",
             "source_url": None, "snapshot_date": None, "snapshot_id": "s"}
            for i, dep in enumerate(["bloom", "xP3", "Llama 2", "Dolma", "Chat"])]
    deps.append({**deps[0], "asset": "Chat", "asset_type": "application", "dependency": "BLOOM"})
    out = list(ecosystem_assertions(deps, resolved))
    lineage = [x for x in out if isinstance(x, Assertion)]
    issues = [x for x in out if isinstance(x, Issue)]
    uses = [x for x in out if isinstance(x, dict)]
    assert [(x.parent, x.child, x.source) for x in lineage] == [
        ("bigscience/bloom", "bigscience/bloomz", "ecosystem")]
    assert "case-insensitively" in lineage[0].note  # "bloom" named the asset "BLOOM"
    assert [(u["model"], u["dataset"], u["dataset_hub_id"]) for u in uses] == [
        ("BLOOMZ", "xP3", "bigscience/xP3")]
    assert sorted(i.kind for i in issues) == ["eco-name-not-in-graph", "eco-unresolved"]


# ----------------------------------------------------------------------------- measures

#   root ─finetune→ u1/a ─adapter→ u2/b        (u2/b crawled, no children: a leaf)
#    │                └─quantized→ u3/c        (not crawled: unknown whether a leaf)
#    └─adapter→ meta/d ─finetune→ u3/c         (u3/c reached twice: counted once)
EDGES = [
    {"parent": "meta/root", "child": "u1/a", "relation": "finetune",
     "declared_relation": "finetune", "inferred_relation": "adapter", "rule": "adapter-file",
     "rule_evidence": "file adapter_config.json", "disagreement": True,
     "disagreement_kinds": ["declared finetune / inferred adapter"], "declared_source": "x"},
    {"parent": "u1/a", "child": "u2/b", "relation": "adapter", "declared_relation": "adapter",
     "inferred_relation": None, "rule": "not-crawled", "disagreement": False},
    {"parent": "u1/a", "child": "u3/c", "relation": "quantized",
     "declared_relation": "quantized", "inferred_relation": None, "rule": "not-crawled",
     "disagreement": False},
    {"parent": "meta/root", "child": "meta/d", "relation": "adapter",
     "declared_relation": "adapter", "inferred_relation": "adapter", "rule": "adapter-file",
     "disagreement": False},
    {"parent": "meta/d", "child": "u3/c", "relation": "finetune",
     "declared_relation": "finetune", "inferred_relation": None, "rule": "not-crawled",
     "disagreement": False},
]
NODES = {
    "meta/root": NodeFacts("meta/root", True, True, "2023-07-01T00:00:00+00:00", ("en",), 7),
    "u1/a": NodeFacts("u1/a", True, True, "2023-08-02T00:00:00+00:00", ("en", "ar")),
    "u2/b": NodeFacts("u2/b", True, True, "2024-01-05T00:00:00+00:00", ("ar", "fr")),
    "u3/c": NodeFacts("u3/c"),
    "meta/d": NodeFacts("meta/d", True, True, None, None),
}


def test_family_measures_on_a_small_family():
    m = family_measures(LineageIndex.build(EDGES, NODES, {"meta": "meta"}), "meta/root")
    assert (m["descendants"], m["edges"], m["depth"]) == (4, 5, 2)
    assert m["depth_distribution"] == {"1": 2, "2": 2}
    assert m["descendants_by_relation"] == {"adapter": 2, "finetune": 2, "quantized": 1}
    assert m["relation_mix"]["declared"] == {"adapter": 2, "finetune": 2, "quantized": 1}
    assert m["relation_mix"]["inferred"] == {"adapter": 2, "unknown": 3}
    assert m["disagreements"]["edges"] == 1
    assert m["disagreements"]["classes"][0]["examples"][0]["evidence"] == \
        "file adapter_config.json"
    # u2/b is a leaf; u1/a and meta/d have children; u3/c's children are unknown
    assert m["leaves"] | {} == {"leaves": 1, "non_leaves": 2, "unknown": 1, "n": 3,
                                "share": None, "note": "insufficient data (n = 3)"}
    assert m["authors"]["distinct"] == 4 and m["authors"]["same_owner_as_root"] == 1
    shown = {a["owner"] for a in m["authors"]["top"]}
    assert "meta" in shown and {hub_handle_pseudonym(o) for o in ("u1", "u2", "u3")} <= shown
    assert m["languages"]["added"] == [{"language": "ar", "derivatives": 2},
                                       {"language": "fr", "derivatives": 1}]
    assert (m["languages"]["with_languages"], m["languages"]["without"]) == (2, 2)
    assert m["created_by_month"] == [{"month": "2023-08", "n": 1}, {"month": "2024-01", "n": 1}]
    assert m["created_unknown"] == 2 and m["spaces_using_root"] == 7
    assert (m["is_root"], m["roots"], m["cycles"]) == (True, ["meta/root"], [])


def test_a_non_root_family_lists_its_ancestors_and_roots():
    m = family_measures(LineageIndex.build(EDGES, NODES), "u1/a")
    assert (m["is_root"], m["ancestors"], m["roots"]) == (False, ["meta/root"], ["meta/root"])
    assert m["descendants"] == 2


def test_languages_added_are_unknown_when_the_base_declares_none():
    m = family_measures(LineageIndex.build(EDGES, NODES), "meta/d")
    assert m["languages"]["added"] is None and "unknown" in m["languages"]["note"]


def test_owners_are_pseudonyms_unless_a_registered_organisation():
    assert owner_shown("meta-llama", {"meta-llama": "meta"}) == "meta-llama"
    assert HUB_PSEUDONYM.match(owner_shown("TheBloke", {"meta-llama": "meta"}))
    assert owner_shown("", {}) == "(no owner)"


# ----------------------------------------------------------------------------- exports

HOSTILE = 'ev<il>&"\'\x00\x1b\ud800 ü'
hostile_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20) | \
    st.just(HOSTILE)


@given(hostile_text, hostile_text)
def test_xml_exports_stay_well_formed_whatever_the_text(parent_name, evidence):
    parent = "p/" + parent_name
    edges = [{**EDGES[0], "parent": parent, "rule_evidence": evidence, "provenance": []}]
    nodes = [{"id": parent, "owner_shown": evidence, "languages": [evidence]}]
    gexf = ET.fromstring(to_gexf(edges, nodes).encode("utf-8"))
    ns = {"g": "http://gexf.net/1.3"}
    assert len(gexf.findall(".//g:node", ns)) == 2 and len(gexf.findall(".//g:edge", ns)) == 1
    graphml = ET.fromstring(to_graphml(edges, nodes).encode("utf-8"))
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(graphml.findall(".//g:node", ns)) == 2
    assert len(graphml.findall(".//g:edge", ns)) == 1


def test_graphml_loads_in_igraph_with_attributes(tmp_path):
    edges = [{**e, "provenance": [{"source": "hub-children", "file": "f<&>"}]} for e in EDGES]
    path = tmp_path / "x.graphml"
    path.write_text(to_graphml(edges, [{"id": "meta/root", "owner_shown": "meta"}]),
                    encoding="utf-8")
    g = igraph.Graph.Read_GraphML(str(path))
    assert (g.vcount(), g.ecount()) == (5, 5)
    assert g.vs.find(id="meta/root")["owner_shown"] == "meta"
    assert json.loads(g.es[0]["provenance"]) == [{"file": "f<&>", "source": "hub-children"}]


def test_csv_json_and_parquet_hold_the_same_edges(tmp_path):
    edges = [{**e, "provenance": [{"source": "card", "loc": "line 1"}]} for e in EDGES]
    rows = list(csv.DictReader(io.StringIO(to_csv(edges))))
    assert tuple(rows[0]) == EXPORT_COLUMNS and len(rows) == 5
    assert rows[0]["disagreement"] == "true"
    assert json.loads(rows[0]["provenance"]) == [{"loc": "line 1", "source": "card"}]
    doc = json.loads(to_json(edges, [], "meta/root"))
    assert [e["child"] for e in doc["edges"]] == [r["child"] for r in rows]
    import duckdb

    out = tmp_path / "e.parquet"
    assert write_parquet(edges, out) == 5
    got = duckdb.sql(f"SELECT child, disagreement FROM '{out}'").fetchall()
    assert got == [(r["child"], r["disagreement"] == "true") for r in rows]
    empty = tmp_path / "none.parquet"
    assert write_parquet([], empty) == 0
    assert duckdb.sql(f"SELECT count(*) FROM '{empty}'").fetchall() == [(0,)]
