"""The lineage inference rules, fixed by their own tests before any comparison with the
published edge mix: one example per rule, the documented precedence, and properties
(order and case never matter; a marker always wins over what ranks below it; nothing is
inferred for a child that was not crawled)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcarto.analysis.lineage_rules import (
    QUANT_TAGS,
    RELATIONS,
    RULE_IDS,
    RULES,
    ChildFacts,
    infer,
)

WEIGHTS = ("model.safetensors", "pytorch_model-00001-of-00002.bin", "tf_model.h5")
EXAMPLES = [
    # (facts, relation, rule)
    (ChildFacts(True, files=("README.md", "adapter_config.json", "adapter_model.bin")),
     "adapter", "adapter-file"),
    (ChildFacts(True, files=("checkpoint-500/adapter_config.json",)), "adapter", "adapter-file"),
    (ChildFacts(True, library_name="peft", files=WEIGHTS), "adapter", "adapter-peft"),
    (ChildFacts(True, tags=("PEFT",), files=WEIGHTS), "adapter", "adapter-peft"),
    (ChildFacts(True, files=("llama-2-7b.Q4_K_M.gguf",)), "quantized", "quantized-file"),
    (ChildFacts(True, files=("llama-2-7b-chat.ggmlv3.q2_K.bin",)), "quantized", "quantized-file"),
    (ChildFacts(True, files=("gptq_model-4bit-128g.safetensors",)), "quantized",
     "quantized-file"),
    (ChildFacts(True, files=("quantize_config.json", "model.safetensors")), "quantized",
     "quantized-file"),
    (ChildFacts(True, tags=("8-bit",), files=WEIGHTS), "quantized", "quantized-tag"),
    (ChildFacts(True, library_name="mlx", files=("weights.npz",)), "quantized", "quantized-tag"),
    (ChildFacts(True, tags=("mergekit", "merge"), files=WEIGHTS), "merge", "merge-marker"),
    (ChildFacts(True, files=("mergekit_config.yml", *WEIGHTS)), "merge", "merge-marker"),
    (ChildFacts(True, files=WEIGHTS, declared_bases=2), "merge", "merge-several-bases"),
    (ChildFacts(True, files=WEIGHTS, declared_bases=1), "finetune", "finetune-weights"),
    (ChildFacts(True, files=("README.md", "training_args.bin", "optimizer.pt")), None,
     "no-weights"),
    (ChildFacts(True), None, "no-weights"),
    (ChildFacts(False, library_name="peft", files=("adapter_config.json",)), None,
     "not-crawled"),
]


@pytest.mark.parametrize(("facts", "relation", "rule"), EXAMPLES)
def test_each_rule_fires_on_its_example(facts, relation, rule):
    got = infer(facts)
    assert (got.relation, got.rule) == (relation, rule)
    assert got.evidence


def test_every_rule_has_an_example_and_the_table_matches_the_rules():
    assert {rule for _, _, rule in EXAMPLES} == set(RULE_IDS)
    relation_of = {r.id: r.relation for r in RULES}
    for _facts, relation, rule in EXAMPLES:
        assert relation_of[rule] == relation
    assert {r.relation for r in RULES} - {None} == set(RELATIONS)


def test_the_rules_never_see_a_declared_relation():
    """Inference reads the child's own facts only (design §6: inference never reads the
    answer it is compared with)."""
    assert [f.name for f in dataclasses.fields(ChildFacts)] == [
        "known", "library_name", "tags", "files", "declared_bases"]


def test_evidence_names_what_fired():
    got = infer(ChildFacts(True, tags=("4-bit", "8-bit"), files=WEIGHTS))
    assert got.evidence == "tag 4-bit, tag 8-bit"
    got = infer(ChildFacts(True, files=("a/adapter_config.json", "b/adapter_config.json")))
    assert got.evidence == "file a/adapter_config.json, b/adapter_config.json"


# ----------------------------------------------------------------------------- properties

NEUTRAL = st.text(alphabet="bcdhijlnortuvxyz_-", min_size=1, max_size=12)  # no marker can form
neutral_files = st.lists(st.builds(lambda stem, ext: stem + ext, NEUTRAL,
                                   st.sampled_from([".json", ".txt", ".md", ".py", ""])),
                         max_size=6)
neutral_tags = st.lists(NEUTRAL, max_size=5)
weight_files = st.lists(st.builds(lambda stem, ext: stem + ext, NEUTRAL,
                                  st.sampled_from([".safetensors", ".bin", ".pt", ".ckpt"])),
                        min_size=1, max_size=4).filter(
    lambda names: any(not n.startswith(("training_args", "optimizer", "scheduler",
                                        "rng_state")) for n in names))
any_files = st.lists(st.text(min_size=1, max_size=30), max_size=8)
any_tags = st.lists(st.text(max_size=15), max_size=8)
any_facts = st.builds(ChildFacts, st.booleans(), st.none() | st.text(max_size=10), any_tags.map(
    tuple), any_files.map(tuple), st.integers(0, 4))


@given(any_facts, st.randoms())
def test_order_of_files_and_tags_never_matters(facts, rnd):
    files, tags = list(facts.files), list(facts.tags)
    rnd.shuffle(files)
    rnd.shuffle(tags)
    shuffled = dataclasses.replace(facts, files=tuple(files), tags=tuple(tags))
    assert infer(shuffled).rule == infer(facts).rule
    assert infer(shuffled).relation == infer(facts).relation


@given(any_facts)
def test_case_of_files_tags_and_library_never_matters(facts):
    upper = dataclasses.replace(facts, files=tuple(f.upper() for f in facts.files),
                                tags=tuple(t.upper() for t in facts.tags),
                                library_name=facts.library_name.upper()
                                if facts.library_name else None)
    # upper() of a few non-ASCII letters changes the text, not only its case: skip those
    if all(x.upper().lower() == x.lower() for x in (*facts.files, *facts.tags)):
        assert infer(upper).rule == infer(facts).rule


@given(any_facts)
def test_rule_ids_and_relations_come_from_the_table(facts):
    got = infer(facts)
    assert got.rule in RULE_IDS
    assert got.relation == next(r.relation for r in RULES if r.id == got.rule)


@given(any_facts)
def test_a_child_that_was_not_crawled_is_never_inferred(facts):
    got = infer(dataclasses.replace(facts, known=False))
    assert (got.relation, got.rule) == (None, "not-crawled")


@given(any_facts, st.sampled_from(["adapter_config.json", "x/ADAPTER_CONFIG.json"]))
def test_an_adapter_config_always_means_adapter(facts, name):
    got = infer(dataclasses.replace(facts, known=True, files=(*facts.files, name)))
    assert (got.relation, got.rule) == ("adapter", "adapter-file")


@given(neutral_files, neutral_tags, st.sampled_from(["m.Q4_K_M.gguf", "x-GPTQ.safetensors",
                                                     "awq_model.bin", "quantize_config.json"]),
       st.integers(0, 4))
def test_a_quantized_file_wins_over_everything_but_adapters(files, tags, quant, bases):
    facts = ChildFacts(True, None, (*tags, "mergekit"), (*files, quant, "model.safetensors"),
                       bases)
    assert infer(facts).rule == "quantized-file"
    with_adapter = dataclasses.replace(facts, files=(*facts.files, "adapter_config.json"))
    assert infer(with_adapter).rule == "adapter-file"


@given(neutral_files, neutral_tags, st.sampled_from(sorted(QUANT_TAGS)), st.integers(0, 4))
def test_a_quantized_tag_wins_over_merge_markers(files, tags, quant_tag, bases):
    facts = ChildFacts(True, None, (*tags, quant_tag, "merge"), (*files, "model.bin"), bases)
    assert (infer(facts).relation, infer(facts).rule) == ("quantized", "quantized-tag")


@given(neutral_files, neutral_tags, weight_files, st.integers(0, 1))
def test_weights_without_any_marker_are_a_finetune(files, tags, weights, bases):
    got = infer(ChildFacts(True, None, tuple(tags), (*files, *weights), bases))
    assert (got.relation, got.rule) == ("finetune", "finetune-weights")


@given(neutral_files, neutral_tags, st.integers(2, 6))
def test_several_declared_bases_make_a_merge_unless_a_file_says_more(files, tags, bases):
    got = infer(ChildFacts(True, None, tuple(tags), (*files, "model.safetensors"), bases))
    assert (got.relation, got.rule) == ("merge", "merge-several-bases")


@given(neutral_files, neutral_tags)
def test_no_weights_and_no_marker_stays_unknown(files, tags):
    got = infer(ChildFacts(True, None, tuple(tags), tuple(files), 0))
    assert (got.relation, got.rule) == (None, "no-weights")
