"""The study model file: its shape, its agreement with the case registry and its sources."""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmcarto.errors import FrameworkError
from llmcarto.framework.study import Study, load_study

ROOT = Path(__file__).resolve().parents[1]
STUDY_YAML = ROOT / "src" / "llmcarto" / "framework" / "study.yaml"
SHARED = ROOT.parent / "shared"
SLIDES = SHARED / "docs" / "seed" / "slides.txt"
FRAMEWORK_MD = SHARED / "docs" / "framework.md"


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study()


@pytest.fixture(scope="module")
def cases() -> dict[str, Any]:
    for path in (
        SHARED / "data" / "cases" / "cases.yaml",
        ROOT / "src" / "llmcarto" / "framework" / "cases.yaml",
    ):
        if path.exists():
            return yaml.safe_load(path.read_text(encoding="utf-8"))
    pytest.skip("no cases.yaml (neither ../shared nor the packaged copy)")


def all_evidence(study: Study):
    for stage in study.stages:
        for ramp in (*stage.onramps, *stage.challenges):
            for evidence in ramp.evidence:
                yield stage, ramp, evidence


# -- shape ------------------------------------------------------------------------------


def test_three_stages_in_order_with_release_between_post_training_and_post_release(study):
    assert study.stage_keys == ("pre-training", "post-training", "post-release")
    assert [stage.order for stage in study.stages] == [1, 2, 3]
    assert (study.milestone.after, study.milestone.before) == ("post-training", "post-release")
    assert study.stage("post-release").definition == "downstream reuse, adaptation and feedback"


def test_default_load_is_cached_and_explicit_path_reads_the_same_model(study):
    assert load_study() is study
    from_path = load_study(STUDY_YAML)
    assert from_path is not study
    assert replace(from_path, source="") == replace(study, source="")


def test_six_artefact_domains(study):
    assert [d.key for d in study.artefact_domains] == [
        "models",
        "data",
        "software",
        "evaluation",
        "compute",
        "community",
    ]


def test_governance_grid_is_three_columns_by_two_rows(study):
    assert [c.key for c in study.governance_columns] == [
        "company",
        "research-institute",
        "grassroots",
    ]
    assert len(study.governance_boxes) == 6
    cells = {(box.column, box.row) for box in study.governance_boxes}
    assert cells == set(product([c.key for c in study.governance_columns], [1, 2]))


def test_only_multi_company_is_outside_the_fourteen_cases(study):
    assert [b.key for b in study.governance_boxes if not b.among_cases] == ["multi-company"]
    assert study.box("multi-company").examples == ("BigCode",)
    assert study.box("single-company").examples == ("Llama", "SmolLM", "Typhoon")


def test_every_stage_has_onramps_and_every_evidence_a_source(study):
    for stage in study.stages:
        assert stage.onramps, stage.key
        assert stage.activities, stage.key
    for _, _, evidence in all_evidence(study):
        assert evidence.source.strip()
        assert evidence.kind in ("quote", "paraphrase")


def test_organisation_types_four_sampled_plus_mentioned(study):
    assert [t.sampled for t in study.organisation_types] == [True] * 4 + [False]


def test_lookups_name_the_known_keys(study):
    with pytest.raises(KeyError, match="pre-training"):
        study.stage("training")
    with pytest.raises(KeyError):
        study.box_by_name("Single-company projects")


# -- agreement with the case registry -----------------------------------------------------


def test_box_names_are_the_registry_spellings(study, cases):
    vocabulary = cases["registry"]["vocabularies"]["study_box"]
    assert {box.name for box in study.governance_boxes} == set(vocabulary)
    for name in vocabulary:
        assert study.box_by_name(name).name == name


def test_organisation_type_names_are_the_registry_spellings(study, cases):
    sampled = [t.name for t in study.organisation_types if t.sampled]
    assert sampled == cases["registry"]["vocabularies"]["organisation_type"]
    mentioned = {m["study_type"]["value"] for m in cases.get("mentioned_not_sampled", [])}
    assert mentioned <= {t.name for t in study.organisation_types if not t.sampled}


def test_every_attribution_is_null_or_a_case_key(study, cases):
    case_keys = set(cases["cases"])
    attributions = {evidence.attribution for _, _, evidence in all_evidence(study)}
    assert attributions - {None} <= case_keys, attributions - {None} - case_keys


def test_no_case_placement_in_the_study_file(study, cases):
    """Boxes carry slide examples only: no case key may appear as a box example."""
    case_keys = set(cases["cases"])
    for box in study.governance_boxes:
        assert not case_keys & set(box.examples), box.key


# -- evidence is copied from the sources, not written from memory --------------------------


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("*", "")).strip()


def test_evidence_text_is_verbatim_from_its_source(study):
    if not (SLIDES.exists() and FRAMEWORK_MD.exists()):
        pytest.skip("the study's slides and framework.md are in ../shared/docs")
    slides = _normalise(SLIDES.read_text(encoding="utf-8"))
    framework = _normalise(FRAMEWORK_MD.read_text(encoding="utf-8"))
    for stage, ramp, evidence in all_evidence(study):
        corpus = slides if evidence.source.startswith("study slide") else framework
        assert _normalise(evidence.text) in corpus, (stage.key, ramp.key, evidence.text)


def test_named_quotes_are_kept_verbatim(study):
    texts = {evidence.text for _, _, evidence in all_evidence(study)}
    assert any("very unoptimized to have 300 people involved" in t for t in texts)
    assert "Everybody wants to train models. Nobody wants to do the data work" in texts


# -- broken copies fail loudly -----------------------------------------------------------


def _write_broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(STUDY_YAML.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_missing_stage_is_named(tmp_path):
    path = _write_broken(tmp_path, lambda d: d["stages"].pop())
    with pytest.raises(FrameworkError, match=r"missing 'post-release'") as info:
        load_study(path)
    assert str(path) in str(info.value)


def test_duplicate_onramp_key_is_named(tmp_path):
    def duplicate(data):
        ramps = data["stages"][0]["onramps"]
        ramps[1]["key"] = ramps[0]["key"]

    path = _write_broken(tmp_path, duplicate)
    with pytest.raises(
        FrameworkError, match=r"duplicate .*'low-medium-resource-language-datasets'"
    ):
        load_study(path)


def test_duplicate_stage_key_is_named(tmp_path):
    def duplicate(data):
        data["stages"][2]["key"] = "post-training"

    with pytest.raises(FrameworkError, match=r"duplicate stage key: 'post-training'"):
        load_study(_write_broken(tmp_path, duplicate))


def test_evidence_without_source_is_rejected(tmp_path):
    def drop_source(data):
        del data["stages"][1]["onramps"][0]["evidence"][0]["source"]

    with pytest.raises(FrameworkError, match=r"no source") as info:
        load_study(_write_broken(tmp_path, drop_source))
    assert "stages[1].onramps[0].evidence[0]" in str(info.value)


def test_case_placement_field_on_a_box_is_rejected(tmp_path):
    def add_cases(data):
        data["governance"]["boxes"][0]["cases"] = ["meta"]

    with pytest.raises(FrameworkError, match=r"unknown field\(s\) cases"):
        load_study(_write_broken(tmp_path, add_cases))


def test_two_boxes_in_one_cell_are_rejected(tmp_path):
    def collide(data):
        data["governance"]["boxes"][1]["row"] = 1

    with pytest.raises(FrameworkError, match=r"both occupy column 'company', row 1"):
        load_study(_write_broken(tmp_path, collide))


def test_seventh_artefact_domain_is_rejected(tmp_path):
    def add_domain(data):
        data["artefact_domains"].append({"key": "people", "name": "People", "description": "x"})

    with pytest.raises(FrameworkError, match=r"expected exactly 6 artefact domains"):
        load_study(_write_broken(tmp_path, add_domain))


def test_milestone_outside_consecutive_stages_is_rejected(tmp_path):
    def move(data):
        data["milestone"]["after"] = "pre-training"

    with pytest.raises(FrameworkError, match=r"consecutive stages"):
        load_study(_write_broken(tmp_path, move))


def test_malformed_yaml_is_a_framework_error(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("version: 1\nstages: [\n", encoding="utf-8")
    with pytest.raises(FrameworkError, match=r"invalid YAML"):
        load_study(path)
