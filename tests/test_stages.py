"""Stage attribution: rules as data, every trace with its rule, honest empty cells."""

from __future__ import annotations

from datetime import date

import pytest

from llmcarto.analysis.stages import (
    GRID_STAGES,
    Item,
    attribute,
    inherited_commits,
    line_bounds,
    path_activity,
    path_role,
    release_window,
    variant_of,
)
from llmcarto.errors import FrameworkError
from llmcarto.framework.stage_rules import load_stage_rules, parse_stage_rules, stage_rules_path

# The (case, stage) cells with no trace in the bundled snapshot. A newly filled cell must
# come with a new trace in the data (and this list shrinks); a cell that empties is a bug.
# huggingface × post-training was filled by the path classes of huggingface/smollm
# (its finetuning/ and SmolTalk folders), see test_smollm_commits_take_the_role_of_their_folders.
EXPECTED_EMPTY = {
    ("eleutherai", "post-training"),
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


# --- path classes ---------------------------------------------------------------------

# huggingface/smollm's layout as its README describes it: one folder per stage.
SMOLLM_FOLDERS = {
    "pre-training code": r"^(text/|vision/experiments/)?pre-?training/|^continual-pretraining/"
                         r"|^text/data/(fineweb-edu|finemath|decontamination)/",
    "post-training code": r"^(text/|vision/)?finetun(e|ing)/|^text/data/smoltalk/"
                          r"|^distilabel_pipelines/",
    "evaluation": r"^(text/|vision/(experiments/|m4/)?)?evaluation/",
    "inference/docs": r"^(local_inference|inference|tools|smol_tools)/",
}


def test_smollm_commits_take_the_role_of_their_folders(published):
    import re

    expected: dict[str, str] = {}
    for sha, paths in published.execute(
            "SELECT sha, json_extract_string(files, '$[*].path') FROM git_commit "
            "WHERE repo = 'huggingface/smollm'").fetchall():
        roles = {role for p in paths or [] for role, rx in SMOLLM_FOLDERS.items()
                 if re.search(rx, p)}
        if len(roles) == 1:
            expected[sha] = roles.pop()
    got = dict(published.execute(
        "SELECT split_part(item_key, '@', 2), rule FROM stage_trace WHERE item_kind = 'commit' "
        "AND item_key LIKE 'huggingface/smollm@%' AND rule LIKE 'path-%'").fetchall())
    names = {"pre-training code": "path-pre-training-code",
             "post-training code": "path-post-training-code",
             "evaluation": "path-evaluation", "inference/docs": "path-inference-docs"}
    assert got == {sha: names[role] for sha, role in expected.items()}
    assert sum(r == "path-post-training-code" for r in got.values()) >= 20
    row = published.execute("SELECT stage, rule, path_class FROM stage_trace WHERE item_key = "
                            "'huggingface/smollm@a5efdb310eea2bbe95941436cc980102ff7f2808'"
                            ).fetchone()
    assert row == ("post-training", "path-post-training-code", "smollm-finetuning")


def test_path_classes_pick_a_role_only_when_the_files_agree():
    rules = load_stage_rules()
    roles = ("pre-training code", "post-training code", "evaluation", "inference/docs")
    repo = "huggingface/smollm"
    assert path_role(rules.path_classes, repo, roles, ["text/finetuning/train.py",
                                                      "README.md"]) == (
        "post-training code", "smollm-finetuning")
    assert path_role(rules.path_classes, repo, roles, ["text/finetuning/train.py",
                                                      "text/evaluation/tasks.py"]) == (None, None)
    assert path_role(rules.path_classes, repo, roles[:1], ["text/finetuning/x"]) == (None, None)
    assert path_role(rules.path_classes, "other/repo", roles, ["text/finetuning/x"]) == (
        None, None)
    assert path_activity(rules.path_classes, "allenai/OLMo", "pre-training code",
                         ["olmo/tokenizer.py"]) == ("model-design", "tokenizer")
    assert path_activity(rules.path_classes, "allenai/OLMo", "pre-training code",
                         ["olmo/tokenizer.py", "scripts/train.py"]) == (None, None)
    assert path_activity(rules.path_classes, "allenai/open-instruct", "post-training code",
                         ["open_instruct/dpo_tune.py", "README.md"]) == (
        "alignment-fine-tuning", "alignment")
    items = [Item("commit", "git_commit", "a/b@1", "x",
                  {"inherited": False, "repo_role": "pre-training code",
                   "path_activity": "model-design", "path_activity_class": "tokenizer"}, "c"),
             Item("commit", "git_commit", "a/b@2", "x",
                  {"inherited": False, "repo_role": "evaluation",
                   "path_activity": "model-design", "path_activity_class": "tokenizer"}, "c")]
    out = list(attribute(items, rules))
    assert [(t["activity"], t["path_class"]) for t in out] == [
        ("model-design", "tokenizer"), ("benchmarking", None)]  # not an activity of the stage


# --- upstream contributions -------------------------------------------------------------


def test_release_windows_respect_date_precision():
    assert line_bounds(date(2024, 2, 1), "day", None, False) == (date(2024, 2, 1),
                                                                 date(2024, 2, 1))
    assert line_bounds(None, "month", "2023-12", False) == (date(2023, 12, 1), date(2023, 12, 31))
    assert line_bounds(None, "year", "2024", False) == (date(2024, 1, 1), date(2024, 12, 31))
    assert line_bounds(date(2022, 12, 8), "day", None, True) == (None, date(2022, 12, 8))
    assert line_bounds(None, None, None, False) == (None, None)
    window = release_window([
        {"first_release": None, "first_release_precision": None},
        {"first_release": date(2025, 9, 10), "first_release_precision": "day"}])
    assert [window.relation(d) for d in (date(2025, 9, 11), date(2025, 9, 10), date(2020, 1, 1))
            ] == ["after", "inside", "inside"]
    months = release_window([{"first_release": None, "first_release_precision": "month",
                              "approx_date": "2023-12"}])
    assert [months.relation(d) for d in (date(2023, 11, 30), date(2023, 12, 15),
                                         date(2024, 1, 1))] == ["before", "inside", "after"]
    assert release_window([{"first_release": None}]).relation(date(2024, 1, 1)) == "none"


@pytest.mark.parametrize(("features", "value", "rule"), [
    ({"inherited": True, "author_class": "external", "release": "after"}, False,
     "inherited-history"),
    ({"inherited": False, "author_class": "external", "release": "after"}, True,
     "upstream-after-release"),
    ({"inherited": False, "author_class": "partner", "release": "after"}, True,
     "upstream-after-release"),
    ({"inherited": False, "author_class": "unknown", "release": "after"}, None, "author-unknown"),
    ({"inherited": False, "author_class": "internal", "release": "after"}, False,
     "author-internal"),
    ({"inherited": False, "author_class": "bot", "release": "after"}, False, "author-bot"),
    ({"inherited": False, "author_class": "external", "release": "inside"}, None,
     "date-imprecise"),
    ({"inherited": False, "author_class": "external", "release": "before"}, False,
     "before-first-release"),
    ({"inherited": False, "author_class": "external", "release": "none"}, None,
     "no-release-date"),
])
def test_upstream_contribution_rules(features, value, rule):
    decided = load_stage_rules().decide_flag(features)
    assert (decided.value, decided.id) == (value, rule)


def test_upstream_contributions_in_the_bundle(published):
    flagged = published.execute("""
        SELECT t.case_key, a.author_class, a.inherited, a.date,
               (SELECT min(coalesce(first_release, CAST(approx_date || CASE WHEN
                    length(approx_date) = 4 THEN '-01-01' ELSE '-01' END AS DATE)))
                FROM case_release_line l WHERE l.case_key = t.case_key) AS earliest
        FROM stage_trace t JOIN commit_affiliation a ON a.case_key = t.case_key
             AND t.item_key = a.repo || '@' || a.sha
        WHERE t.item_kind = 'commit' AND t.upstream_contribution""").fetchall()
    assert len(flagged) > 100
    for case, cls, inherited, when, earliest in flagged:
        assert cls in ("external", "partner") and not inherited
        assert when.date() > earliest, (case, when, earliest)
    assert not [r for r in flagged if r[0] == "masakhane"]  # no release line has a date
    sealion = [r for r in flagged if r[0] == "ai-singapore"]
    assert all(not (r[3].year == 2023 and r[3].month == 12) for r in sealion)
    counts = dict(published.execute(
        "SELECT upstream_rule IS NULL, count(*) FROM stage_trace WHERE item_kind = 'commit' "
        "GROUP BY 1").fetchall())
    assert counts == {False: published.execute("SELECT count(*) FROM stage_trace "
                                               "WHERE item_kind = 'commit'").fetchone()[0]}
    unknown = published.execute("""SELECT count(*) FROM stage_trace t JOIN commit_affiliation a
        ON a.case_key = t.case_key AND t.item_key = a.repo || '@' || a.sha
        WHERE a.author_class = 'unknown' AND NOT a.inherited
          AND t.upstream_contribution IS NOT NULL""").fetchone()[0]
    assert unknown == 0


def test_path_class_and_flag_rule_errors_name_the_line():
    text = stage_rules_path().read_text(encoding="utf-8")
    bad_role = text.replace("    role: evaluation\n    activity: benchmarking\n    description: "
                            "evaluation tasks", "    role: evaluating\n    activity: benchmarking"
                            "\n    description: evaluation tasks", 1)
    assert bad_role != text
    with pytest.raises(FrameworkError, match=r"stage_rules.yaml:\d+: field 'path_classes\[\d+\]"
                                             r"\.role': 'evaluating' is not a repository role"):
        parse_stage_rules(bad_role, "stage_rules.yaml")
    bad_regex = text.replace("paths: ['^finetune/']", "paths: ['^finetune/(']", 1)
    with pytest.raises(FrameworkError, match=r"field 'path_classes\[\d+\]\.paths\[0\]': not a "
                                             "regular expression"):
        parse_stage_rules(bad_regex, "stage_rules.yaml")
    no_catch_all = text.replace("  - id: upstream-undecided\n    when: {}",
                                "  - id: upstream-undecided\n    when: {release: after}")
    with pytest.raises(FrameworkError, match="last upstream_contribution rule must be a catch-all"):
        parse_stage_rules(no_catch_all, "stage_rules.yaml")
