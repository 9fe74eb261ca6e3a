"""Stage attribution: rules as data, every trace with its rule, honest empty cells."""

from __future__ import annotations

import pytest

from llmcarto.analysis.stages import GRID_STAGES, Item, attribute, inherited_commits, variant_of
from llmcarto.errors import FrameworkError
from llmcarto.framework.stage_rules import load_stage_rules, parse_stage_rules, stage_rules_path

# The (case, stage) cells with no trace in the bundled snapshot. A newly filled cell must
# come with a new trace in the data (and this list shrinks); a cell that empties is a bug.
EXPECTED_EMPTY = {
    ("eleutherai", "post-training"),
    ("huggingface", "post-training"),
    ("masakhane", "post-training"),
    ("scb10x", "pre-training"),
}


def test_the_empty_cells_are_exactly_the_expected_ones_each_with_a_reason(published):
    gaps = published.execute("SELECT case_key, stage, reason FROM stage_gap").fetchall()
    assert {(c, s) for c, s, _ in gaps} == EXPECTED_EMPTY
    for case_key, stage, reason in gaps:
        assert reason.startswith("no trace in the store for this stage"), reason
        filled = published.execute(
            "SELECT count(*) FROM stage_trace WHERE case_key = ? AND stage = ?",
            [case_key, stage]).fetchone()[0]
        assert filled == 0
    cases = published.execute("SELECT count(*) FROM case_info").fetchone()[0]
    cells = published.execute(
        "SELECT count(DISTINCT (case_key, stage)) FROM stage_trace WHERE stage IN "
        "('pre-training', 'post-training', 'post-release')").fetchone()[0]
    assert cells + len(gaps) == cases * len(GRID_STAGES)


def test_every_trace_carries_a_known_rule(published):
    rules = {r.id for r in load_stage_rules().rules}
    used = {r[0] for r in published.execute("SELECT DISTINCT rule FROM stage_trace").fetchall()}
    assert used and used <= rules
    assert published.execute("SELECT count(*) FROM stage_trace WHERE rule IS NULL "
                             "OR source_url IS NULL").fetchone()[0] == 0


@pytest.mark.parametrize(("repo", "own", "inherited"), [
    ("bigscience-workshop/Megatron-DeepSpeed", 224, 886),
    ("OpenGPTX/olm-datasets", 20, 102),
    ("OpenGPTX/Megatron-LM", 55, 2208),
])
def test_fork_history_is_inherited_by_ancestry(published, repo, own, inherited):
    rows = dict(published.execute(
        "SELECT stage = 'inherited', count(*) FROM stage_trace WHERE item_kind = 'commit' "
        "AND item_key LIKE ? GROUP BY 1", [f"{repo}@%"]).fetchall())
    assert rows == {False: own, True: inherited}


def test_every_commit_of_a_case_repository_is_placed_once_per_case(published):
    expected = published.execute("""
        SELECT count(*) FROM git_commit g JOIN case_repository r ON lower(g.repo) = lower(r.repo)
    """).fetchone()[0]
    got = published.execute(
        "SELECT count(*) FROM stage_trace WHERE item_kind = 'commit'").fetchone()[0]
    assert got == expected > 20_000


def test_meta_tree_splits_into_base_chat_and_derivatives(published):
    rows = dict(published.execute(
        "SELECT rule, count(*) FROM stage_trace WHERE case_key = 'meta' "
        "AND item_kind = 'hub-model' GROUP BY 1").fetchall())
    derivatives = published.execute(
        "SELECT count(DISTINCT id) FROM hub_model WHERE tree LIKE 'meta-llama__%' "
        "AND split_part(id, '/', 1) <> 'meta-llama'").fetchone()[0]
    assert rows == {"hub-own-base-model": 1, "hub-own-post-trained-model": 1,
                    "hub-derivative": derivatives}


def test_attribute_is_pure_and_first_match_wins():
    rules = load_stage_rules()
    items = [
        Item("commit", "git_commit", "a/b@1", "x", {"inherited": True,
                                                    "repo_role": "evaluation"}, "c1"),
        Item("commit", "git_commit", "a/b@2", "x", {"inherited": False,
                                                    "repo_role": "evaluation"}, "c2"),
        Item("commit", "git_commit", "a/b@3", "x", {"inherited": False, "repo_role": None}, "c3"),
        Item("card", "model_card", "o/m", "x", {"owned": False}, "m"),
    ]
    out = list(attribute(items, rules))
    assert [(t["stage"], t["rule"]) for t in out] == [
        ("inherited", "inherited-upstream"), ("post-release", "role-evaluation"),
        ("unknown", "no-role"), ("post-release", "hub-derivative")]
    assert list(attribute(items, rules)) == out


def test_inherited_commits_follow_parents_not_dates():
    parents = {"d": ["c"], "c": ["b", "x"], "b": ["a"], "a": [], "x": [], "e": ["d"]}
    assert inherited_commits(parents, ["c"]) == {"c", "b", "a", "x"}
    assert inherited_commits(parents, []) == set()


@pytest.mark.parametrize(("repo_id", "variant"), [
    ("meta-llama/Llama-2-7b", "base"), ("meta-llama/Llama-2-7b-chat-hf", "post-trained"),
    ("allenai/OLMo-2-1124-7B-Instruct", "post-trained"), ("meta-llama/Llama-Guard-3-8B", "safety"),
    ("bigscience/bloomz-7b1", "post-trained"), ("google/gemma-2-9b-it", "post-trained"),
    ("aisingapore/sea-lion-7b", "base"),
])
def test_variant_names(repo_id, variant):
    assert variant_of(repo_id) == variant


def test_rules_file_errors_name_the_line():
    text = stage_rules_path().read_text(encoding="utf-8")
    broken = text.replace("stage: post-release\n    activity: benchmarking",
                          "stage: release\n    activity: benchmarking", 1)
    with pytest.raises(FrameworkError, match=r"stage_rules.yaml:\d+: field 'rules\[\d+\]\.stage'"):
        parse_stage_rules(broken, "stage_rules.yaml")
    no_catch_all = text.replace("  - id: no-role\n    kinds: [commit, pull-request]\n    when: {}",
                                "  - id: no-role\n    kinds: [commit, pull-request]\n"
                                "    when: {repo_role: x}")
    with pytest.raises(FrameworkError, match="must be a catch-all"):
        parse_stage_rules(no_catch_all, "stage_rules.yaml")
    bad_activity = text.replace("activity: benchmarking", "activity: dancing", 1)
    with pytest.raises(FrameworkError, match="'dancing' is not an activity or on-ramp"):
        parse_stage_rules(bad_activity, "stage_rules.yaml")
