"""The shared mechanics of the framework loaders: every error names file, line and field."""

from __future__ import annotations

import pytest

from llmcarto.errors import CaseFileError, FrameworkError
from llmcarto.framework.validate import Checker, parse_document

TEXT = """\
# a hand-edited file
rules:
  - id: first
    stage: pre-training
  - just a string
  - id: first
    stage: post-training
"""


def _line(needle: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line of TEXT containing `needle`."""
    hits = [n for n, line in enumerate(TEXT.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def test_malformed_yaml_names_file_and_line_with_the_loaders_error_type():
    broken = "rules:\n  - {id: a,\n    stage: b\n"
    with pytest.raises(CaseFileError, match=r"^user\.yaml:\d+: invalid YAML: ") as info:
        parse_document(broken, "user.yaml", CaseFileError)
    assert "line 2" in str(info.value)  # where the unclosed flow mapping started
    with pytest.raises(FrameworkError, match=r"^x\.yaml:\d+: invalid YAML"):
        parse_document(broken, "x.yaml")


def test_an_item_that_is_not_a_mapping_fails_at_its_own_line():
    check = Checker(parse_document(TEXT, "rules.yaml"))
    seen_paths = []
    with pytest.raises(FrameworkError) as info:
        for path, _ in check.items(check.doc.data["rules"], ("rules",), "a rule must be a mapping"):
            seen_paths.append(path)
    assert seen_paths == [("rules", 0)]  # the good item came first, then the bad one stopped
    assert str(info.value) == (f"rules.yaml:{_line('just a string')}: field 'rules[1]': "
                               "a rule must be a mapping")


def test_a_duplicate_id_names_the_line_of_the_second_one():
    check = Checker(parse_document(TEXT, "rules.yaml"))
    seen: set[str] = set()
    rules = check.doc.data["rules"]
    assert check.new_id(rules[0]["id"], ("rules", 0, "id"), seen, "rule id") == "first"
    with pytest.raises(FrameworkError) as info:
        check.new_id(rules[2]["id"], ("rules", 2, "id"), seen, "rule id")
    assert str(info.value) == (f"rules.yaml:{_line('id: first', 2)}: field 'rules[2].id': "
                               "missing or duplicate rule id 'first'")
    with pytest.raises(FrameworkError, match=r"field 'rules\[1\]': missing or duplicate rule "
                                             r"id 'None'"):
        check.new_id(None, ("rules", 1), seen, "rule id")


def test_fail_uses_the_nearest_located_ancestor_and_the_given_error_type():
    check = Checker(parse_document(TEXT, "rules.yaml"), CaseFileError)
    error = check.fail(("rules", 0, "stage", "nested"), "unknown stage")
    assert isinstance(error, CaseFileError)
    assert str(error) == (f"rules.yaml:{_line('stage: pre-training')}: "
                          "field 'rules[0].stage.nested': unknown stage")


@pytest.mark.parametrize("name", ["stage_rules.yaml", "licences.yaml", "licence_rules.yaml"])
def test_a_value_of_the_wrong_type_anywhere_is_a_located_framework_error(name):
    """Every `key: value` line of the real file replaced by a list, a mapping or a number:
    the loader accepts it or raises FrameworkError naming the file and a line — never a
    bare TypeError / AttributeError (`validate.located`)."""
    from pathlib import Path

    from llmcarto.framework.licences import load_licences, parse_licences, parse_rules
    from llmcarto.framework.stage_rules import parse_stage_rules

    parse = {"stage_rules.yaml": parse_stage_rules, "licences.yaml": parse_licences,
             "licence_rules.yaml": lambda t, n: parse_rules(t, n, load_licences())}[name]
    lines = (Path(__file__).resolve().parents[1] / "src" / "llmcarto" / "framework" / name
             ).read_text(encoding="utf-8").splitlines()
    tried = refused = 0
    for i, line in enumerate(lines):
        key, colon, value = line.partition(":")
        if not colon or not value.strip() or line.lstrip().startswith("#"):
            continue
        for replacement in ("[1, 2]", "{a: 1}", "7"):
            tried += 1
            text = "\n".join([*lines[:i], f"{key}: {replacement}", *lines[i + 1:]])
            try:
                parse(text, name)
            except FrameworkError as exc:
                refused += 1
                assert str(exc).startswith(f"{name}:"), str(exc)
                assert "Traceback" not in str(exc)
    assert tried > 100 and refused > tried / 3
