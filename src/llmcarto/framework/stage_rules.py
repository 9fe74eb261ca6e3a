"""Loader for `stage_rules.yaml`: the ordered, data-defined rules of design.md §3."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from llmcarto.errors import FrameworkError
from llmcarto.framework.study import load_study
from llmcarto.framework.yamlfile import YamlSyntaxError, load_located

OUTSIDE_STAGES = ("inherited", "unknown")


@dataclass(frozen=True)
class StageRule:
    id: str
    kinds: tuple[str, ...]
    when: Mapping[str, Any]
    stage: str
    activity: str | None
    domain: str
    description: str

    def matches(self, kind: str, features: Mapping[str, Any]) -> bool:
        if kind not in self.kinds:
            return False
        for feature, expected in self.when.items():
            value = features.get(feature)
            if isinstance(expected, list):
                if value not in expected:
                    return False
            elif value != expected:
                return False
        return True


@dataclass(frozen=True)
class StageRules:
    rules: tuple[StageRule, ...]

    def decide(self, kind: str, features: Mapping[str, Any]) -> StageRule:
        for rule in self.rules:
            if rule.matches(kind, features):
                return rule
        raise FrameworkError(f"no stage rule for kind '{kind}': each kind needs a catch-all")

    def by_id(self, rule_id: str) -> StageRule:
        return next(r for r in self.rules if r.id == rule_id)

    @property
    def kinds(self) -> tuple[str, ...]:
        seen: list[str] = []
        for rule in self.rules:
            seen += [k for k in rule.kinds if k not in seen]
        return tuple(seen)


def parse_stage_rules(text: str, filename: str) -> StageRules:
    try:
        doc = load_located(text, filename)
    except YamlSyntaxError as exc:
        raise FrameworkError(str(exc)) from exc
    study = load_study()
    stages = set(study.stage_keys) | set(OUTSIDE_STAGES)
    domains = {d.key for d in study.artefact_domains}
    rules: list[StageRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc.data.get("rules") or []):
        path = ("rules", i)
        if not isinstance(raw, Mapping):
            raise FrameworkError(f"{doc.where(path)}: a rule must be a mapping")
        rule_id = str(raw.get("id") or "")
        if not rule_id or rule_id in seen:
            raise FrameworkError(f"{doc.where((*path, 'id'))}: missing or duplicate rule id "
                                 f"'{rule_id}'")
        seen.add(rule_id)
        stage = raw.get("stage")
        if stage not in stages:
            raise FrameworkError(f"{doc.where((*path, 'stage'))}: unknown stage '{stage}'")
        activity = raw.get("activity")
        if activity is not None:
            allowed = _activity_keys(study, stage)
            if activity not in allowed:
                raise FrameworkError(f"{doc.where((*path, 'activity'))}: '{activity}' is not an "
                                     f"activity or on-ramp of {stage}")
        if raw.get("domain") not in domains:
            raise FrameworkError(f"{doc.where((*path, 'domain'))}: unknown artefact domain "
                                 f"'{raw.get('domain')}'")
        when = raw.get("when") or {}
        if not isinstance(when, Mapping):
            raise FrameworkError(f"{doc.where((*path, 'when'))}: 'when' must be a mapping")
        rules.append(StageRule(rule_id, tuple(raw.get("kinds") or ()), dict(when), stage,
                               activity, raw["domain"], str(raw.get("description") or "")))
    ruleset = StageRules(tuple(rules))
    for kind in ruleset.kinds:
        last = [r for r in rules if kind in r.kinds][-1]
        if last.when:
            raise FrameworkError(f"{filename}: the last rule for kind '{kind}' ({last.id}) must "
                                 "be a catch-all (when: {}) so that nothing goes unplaced")
    return ruleset


def _activity_keys(study, stage: str) -> set[str]:
    if stage in OUTSIDE_STAGES:
        return set()
    st = study.stage(stage)
    return {a.key for a in st.activities} | {o.key for o in st.onramps}


def stage_rules_path() -> Path:
    return Path(str(resources.files("llmcarto.framework") / "stage_rules.yaml"))


@lru_cache(maxsize=1)
def load_stage_rules() -> StageRules:
    path = stage_rules_path()
    return parse_stage_rules(path.read_text(encoding="utf-8"), path.name)
