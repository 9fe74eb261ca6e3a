"""Loader for `stage_rules.yaml`: the ordered, data-defined rules of design.md §3.

Three parts, each validated against `study.yaml` with errors naming file, line and field:
the stage rules, the path classes (which role and activity a changed file speaks for)
and the rules of the `upstream_contribution` flag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    activity_from_paths: bool = False

    def matches(self, kind: str, features: Mapping[str, Any]) -> bool:
        return kind in self.kinds and when_matches(self.when, features)


def when_matches(when: Mapping[str, Any], features: Mapping[str, Any]) -> bool:
    """All of `when`'s features have the expected value (or one of a list of values)."""
    for feature, expected in when.items():
        value = features.get(feature)
        if isinstance(expected, list):
            if value not in expected:
                return False
        elif value != expected:
            return False
    return True


@dataclass(frozen=True)
class PathClass:
    """Which role and activity a changed file speaks for (see stage_rules.yaml)."""

    id: str
    patterns: tuple[re.Pattern[str], ...]
    repos: tuple[str, ...] = ()  # lower-case owner/name; empty: any repository
    role: str | None = None  # the role it picks in a multi-role repository
    roles: tuple[str, ...] = ()  # for activity classes: the roles it applies to
    activity: str | None = None
    description: str = ""

    def applies_to(self, repo: str) -> bool:
        return not self.repos or repo.lower() in self.repos

    def matches(self, path: str) -> bool:
        return any(p.search(path) for p in self.patterns)

    def gives_activity_for(self, role: str) -> bool:
        return self.activity is not None and (role == self.role or role in self.roles)


@dataclass(frozen=True)
class FlagRule:
    """One rule of the upstream_contribution flag: `value` is True, False or None."""

    id: str
    when: Mapping[str, Any]
    value: bool | None
    description: str


@dataclass(frozen=True)
class StageRules:
    rules: tuple[StageRule, ...]
    roles: Mapping[str, str] = field(default_factory=dict)  # repository role -> stage
    path_classes: tuple[PathClass, ...] = ()
    flag_rules: tuple[FlagRule, ...] = ()
    activities: Mapping[str, frozenset[str]] = field(default_factory=dict)  # stage -> keys

    def decide(self, kind: str, features: Mapping[str, Any]) -> StageRule:
        for rule in self.rules:
            if rule.matches(kind, features):
                return rule
        raise FrameworkError(f"no stage rule for kind '{kind}': each kind needs a catch-all")

    def decide_flag(self, features: Mapping[str, Any]) -> FlagRule:
        for rule in self.flag_rules:
            if when_matches(rule.when, features):
                return rule
        raise FrameworkError("no upstream_contribution rule matched: the last must be a "
                             "catch-all")

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
        from_paths = raw.get("activity_from_paths", False)
        if not isinstance(from_paths, bool):
            raise FrameworkError(f"{doc.where((*path, 'activity_from_paths'))}: true or false")
        rules.append(StageRule(rule_id, tuple(raw.get("kinds") or ()), dict(when), stage,
                               activity, raw["domain"], str(raw.get("description") or ""),
                               from_paths))
    for kind in {k for r in rules for k in r.kinds}:
        last = [r for r in rules if kind in r.kinds][-1]
        if last.when:
            raise FrameworkError(f"{filename}: the last rule for kind '{kind}' ({last.id}) must "
                                 "be a catch-all (when: {}) so that nothing goes unplaced")
    activities = {s: frozenset(_activity_keys(study, s)) for s in stages}
    roles = _parse_roles(doc, stages)
    return StageRules(tuple(rules), roles, _parse_path_classes(doc, roles, activities),
                      _parse_flag_rules(doc), activities)


def _parse_roles(doc, stages: set[str]) -> dict[str, str]:
    raw = doc.data.get("roles") or {}
    if not isinstance(raw, Mapping):
        raise FrameworkError(f"{doc.where(('roles',))}: map each repository role to a stage")
    for role, stage in raw.items():
        if stage not in stages:
            raise FrameworkError(f"{doc.where(('roles', role))}: unknown stage '{stage}'")
    return {str(k): str(v) for k, v in raw.items()}


def _parse_path_classes(doc, roles: Mapping[str, str],
                        activities: Mapping[str, frozenset[str]]) -> tuple[PathClass, ...]:
    out: list[PathClass] = []
    seen: set[str] = set()
    raw_list = doc.data.get("path_classes") or []
    if not isinstance(raw_list, list):
        raise FrameworkError(f"{doc.where(('path_classes',))}: expected a list")
    for i, raw in enumerate(raw_list):
        path = ("path_classes", i)
        if not isinstance(raw, Mapping):
            raise FrameworkError(f"{doc.where(path)}: a path class must be a mapping")
        cid = str(raw.get("id") or "")
        if not cid or cid in seen:
            raise FrameworkError(f"{doc.where((*path, 'id'))}: missing or duplicate path class "
                                 f"id '{cid}'")
        seen.add(cid)
        patterns = raw.get("paths")
        if not isinstance(patterns, list) or not patterns:
            raise FrameworkError(f"{doc.where((*path, 'paths'))}: give a list of regular "
                                 "expressions")
        compiled = []
        for j, pattern in enumerate(patterns):
            try:
                compiled.append(re.compile(str(pattern)))
            except re.error as exc:
                raise FrameworkError(f"{doc.where((*path, 'paths', j))}: not a regular "
                                     f"expression ({exc})") from exc
        role = raw.get("role")
        class_roles = tuple(raw.get("roles") or ())
        for r, where in [(role, (*path, "role"))] + [(r, (*path, "roles", k))
                                                     for k, r in enumerate(class_roles)]:
            if r is not None and r not in roles:
                raise FrameworkError(f"{doc.where(where)}: '{r}' is not a repository role "
                                     f"({', '.join(roles)})")
        activity = raw.get("activity")
        if role is None and (activity is None or not class_roles):
            raise FrameworkError(f"{doc.where(path)}: a path class needs a `role`, or an "
                                 "`activity` with the `roles` it applies to")
        if activity is not None:
            for r in ([role] if role else []) + list(class_roles):
                if activity not in activities.get(roles[r], frozenset()):
                    raise FrameworkError(f"{doc.where((*path, 'activity'))}: '{activity}' is "
                                         f"not an activity or on-ramp of {roles[r]} (role {r})")
        out.append(PathClass(cid, tuple(compiled),
                             tuple(str(x).lower() for x in raw.get("repos") or ()), role,
                             class_roles, activity, str(raw.get("description") or "")))
    return tuple(out)


def _parse_flag_rules(doc) -> tuple[FlagRule, ...]:
    out: list[FlagRule] = []
    raw_list = doc.data.get("upstream_contribution") or []
    for i, raw in enumerate(raw_list):
        path = ("upstream_contribution", i)
        if not isinstance(raw, Mapping) or not raw.get("id"):
            raise FrameworkError(f"{doc.where(path)}: a rule needs an id")
        if raw["id"] in {r.id for r in out}:
            raise FrameworkError(f"{doc.where((*path, 'id'))}: duplicate rule id '{raw['id']}'")
        if "value" not in raw or raw["value"] not in (True, False, None):
            raise FrameworkError(f"{doc.where((*path, 'value'))}: value must be true, false or "
                                 "null")
        when = raw.get("when") or {}
        if not isinstance(when, Mapping):
            raise FrameworkError(f"{doc.where((*path, 'when'))}: 'when' must be a mapping")
        out.append(FlagRule(str(raw["id"]), dict(when), raw["value"],
                            str(raw.get("description") or "")))
    if out and out[-1].when:
        raise FrameworkError(f"{doc.where(('upstream_contribution', len(out) - 1))}: the last "
                             "upstream_contribution rule must be a catch-all (when: {})")
    return tuple(out)


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
