"""The case registry: 14 sourced cases, user files layered over them, precise errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from llmcarto.errors import CaseFileError
from llmcarto.framework.cases import Sourced, load_registry, packaged_cases_path, parse_registry

CASE_KEYS = {"allenai", "cohere", "eleutherai", "huggingface", "meta", "bigscience", "opengpt-x",
             "nb-ailab", "speakleash", "masakhane", "baai", "ant-group", "scb10x",
             "ai-singapore"}

USER_CASE = """\
cases:
  swiss-ai:
    organisation:
      name: {value: Swiss AI Initiative, source: "https://www.swiss-ai.org/"}
      type: {value: public research institute or public body, source: "https://www.swiss-ai.org/"}
      country: {value: Switzerland, source: "https://www.swiss-ai.org/"}
    region: {value: Europe, source: "https://www.swiss-ai.org/"}
    study:
      box: {value: null, note: not one of the study's cases}
    families:
    - name: Apertus
      artefact: model weights
      hub_orgs: {value: [swiss-ai], source: "https://huggingface.co/swiss-ai"}
      id_regex: ^swiss-ai/Apertus-.+$
      first_release: {date: null, note: not looked up}
    repositories:
    - repo: swiss-ai/Megatron-LM
      role: [pre-training code]
      source: https://github.com/swiss-ai/Megatron-LM
"""


def test_packaged_registry_has_the_14_cases_with_12_study_placements():
    reg = load_registry()
    assert set(reg.cases) == CASE_KEYS
    placed = {c.key for c in reg if c.placed_by_study}
    assert CASE_KEYS - placed == {"nb-ailab", "ant-group"}
    assert len(reg.mentioned_not_sampled) == 5
    assert [r.repo for r in reg.related_repositories] == ["bigcode-project/bigcode-dataset"]


def test_every_fact_in_the_raw_file_has_a_source_or_a_null_with_note():
    raw = yaml.safe_load(packaged_cases_path().read_text(encoding="utf-8"))
    facts = []

    def walk(node, path):
        if isinstance(node, dict):
            if "value" in node:
                facts.append((path, node))
            for key, child in node.items():
                walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{path}[{i}]")

    walk(raw["cases"], "cases")
    assert len(facts) > 14 * 5
    for path, fact in facts:
        if fact["value"] is None:
            assert fact.get("note"), f"{path}: null without a note"
        else:
            assert fact.get("source") or fact.get("note"), f"{path}: value without a source"


def test_typed_facts_keep_their_sources():
    reg = load_registry()
    meta = reg["meta"]
    assert isinstance(meta.name, Sourced) and meta.name.source == "study slide 11"
    assert meta.hub_orgs == ("meta-llama",)
    nln = reg["nb-ailab"]
    assert nln.study.box.value is None and nln.study.box.note
    bloom = reg["bigscience"]
    mds = next(r for r in bloom.repositories if r.repo == "bigscience-workshop/Megatron-DeepSpeed")
    assert mds.fork_point is not None and mds.fork_point.sha.startswith("b56b50bb4728")
    olm = reg["opengpt-x"].repositories[0]
    assert olm.upstream_synced_to is not None and olm.upstream_synced_to.sha.startswith("3c32349")
    # a domain value may hold two domains separated by " / "
    everywhere = [d for c in reg for d in (*c.domains.internal, *c.domains.partner,
                                           *c.domains.unsourced_candidates)]
    two = [d for d in everywhere if " / " in d.value]
    assert {d.names for d in two} == {("aleph-alpha.com", "aleph-alpha.de"),
                                      ("mcgill.ca", "mila.quebec")}
    for case in reg:
        for line in case.families:
            for example in line.id_examples:
                if line.id_regex_checked:
                    assert line.matches(example), (case.key, line.name, example)


def test_packaged_registry_is_byte_identical_to_the_bundle(shared_data: Path):
    assert packaged_cases_path().read_bytes() == (shared_data / "cases" / "cases.yaml").read_bytes()


def test_a_user_case_file_adds_a_15th_case(tmp_path: Path):
    user = tmp_path / "mine.yaml"
    user.write_text(USER_CASE, encoding="utf-8")
    reg = load_registry([user])
    assert len(reg) == 15
    case = reg["swiss-ai"]
    assert case.origin == str(user)
    assert case.name.value == "Swiss AI Initiative"
    assert case.owns_hub_repo("swiss-ai/Apertus-8B") and not case.owns_hub_repo("meta-llama/x")
    assert case.release_line_of("swiss-ai/Apertus-8B").name == "Apertus"
    assert not case.placed_by_study


def test_a_user_case_overrides_a_packaged_case_with_the_same_key(tmp_path: Path):
    user = tmp_path / "override.yaml"
    user.write_text(USER_CASE.replace("swiss-ai:", "meta:", 1), encoding="utf-8")
    reg = load_registry([user])
    assert len(reg) == 14 and reg["meta"].name.value == "Swiss AI Initiative"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("mutate", "needle", "field", "message"),
    [
        (lambda t: t.replace(', source: "https://www.swiss-ai.org/"}', "}", 1),
         "name: {value: Swiss", "cases.swiss-ai.organisation.name", "no 'source'"),
        (lambda t: t.replace("type: {value: public research institute or public body",
                             "type: {value: startup", 1),
         "type: {value: startup", "cases.swiss-ai.organisation.type.value", "is not one of"),
        (lambda t: t.replace("role: [pre-training code]", "role: [training code]"),
         "role: [training code]", "cases.swiss-ai.repositories[0].role[0]", "is not one of"),
        (lambda t: t.replace("id_regex: ^swiss-ai/Apertus-.+$", "id_regex: ^swiss-ai/(Apertus"),
         "id_regex: ^swiss-ai/(Apertus", "cases.swiss-ai.families[0].id_regex",
         "not a valid regular expression"),
        (lambda t: t.replace("first_release: {date: null, note: not looked up}",
                             "first_release: {date: 12/05/2024}"),
         "first_release:", "cases.swiss-ai.families[0].first_release.date", "YYYY-MM-DD"),
        (lambda t: t.replace("    region: {value: Europe", "    region: {value: null"),
         "region: {value: null", "cases.swiss-ai.region", "add a 'note'"),
    ],
)
def test_a_broken_case_file_names_file_line_and_field(tmp_path, mutate, needle, field, message):
    text = mutate(USER_CASE)
    assert text != USER_CASE
    user = tmp_path / "broken.yaml"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(CaseFileError) as info:
        load_registry([user])
    msg = str(info.value)
    assert msg.startswith(f"{user}:{_line_of(text, needle)}: field '{field}'"), msg
    assert message in msg


def test_malformed_yaml_reports_the_line():
    text = USER_CASE.replace('name: {value: Swiss AI Initiative, source: "https://www.swiss-ai.org/"}',
                             'name: {value: Swiss AI Initiative, source: "https://x"')
    with pytest.raises(CaseFileError) as info:
        parse_registry(packaged_cases_path().read_text(encoding="utf-8"), "cases.yaml",
                       [(text, "user.yaml")])
    match = re.match(r"user\.yaml:(\d+): invalid YAML", str(info.value))
    assert match, str(info.value)
    assert "line 4" in str(info.value)  # the flow mapping that was never closed


def test_a_file_without_cases_is_rejected(tmp_path):
    user = tmp_path / "empty.yaml"
    user.write_text("families: []\n", encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"empty\.yaml:\d+: .*needs a 'cases:' mapping"):
        load_registry([user])


def test_a_missing_user_file_is_named(tmp_path):
    with pytest.raises(CaseFileError, match="nope.yaml: case file not found"):
        load_registry([tmp_path / "nope.yaml"])
