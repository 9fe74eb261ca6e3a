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
from llmcarto.framework.validate import Checker, located, parse_document

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


@located
def parse_stage_rules(text: str, filename: str) -> StageRules:
    check = Checker(parse_document(text, filename))
    study = load_study()
    stages = set(study.stage_keys) | set(OUTSIDE_STAGES)
    domains = {d.key for d in study.artefact_domains}
    rules: list[StageRule] = []
    seen: set[str] = set()
    for path, raw in check.items(check.doc.data.get("rules") or [], ("rules",),
                                 "a rule must be a mapping"):
        rule_id = check.new_id(str(raw.get("id") or ""), (*path, "id"), seen, "rule id")
        stage = raw.get("stage")
        if stage not in stages:
            raise check.fail((*path, "stage"), f"unknown stage '{stage}'")
        activity = raw.get("activity")
        if activity is not None:
            allowed = _activity_keys(study, stage)
            if activity not in allowed:
                raise check.fail((*path, "activity"), f"'{activity}' is not an activity or "
                                                      f"on-ramp of {stage}")
        if raw.get("domain") not in domains:
            raise check.fail((*path, "domain"), f"unknown artefact domain "
                                                f"'{raw.get('domain')}'")
        when = raw.get("when") or {}
        if not isinstance(when, Mapping):
            raise check.fail((*path, "when"), "'when' must be a mapping")
        from_paths = raw.get("activity_from_paths", False)
        if not isinstance(from_paths, bool):
            raise check.fail((*path, "activity_from_paths"), "true or false")
        rules.append(StageRule(rule_id, tuple(raw.get("kinds") or ()), dict(when), stage,
                               activity, raw["domain"], str(raw.get("description") or ""),
                               from_paths))
    for kind in sorted({k for r in rules for k in r.kinds}):
        last = [r for r in rules if kind in r.kinds][-1]
        if last.when:
            raise FrameworkError(f"{filename}: the last rule for kind '{kind}' ({last.id}) must "
                                 "be a catch-all (when: {}) so that nothing goes unplaced")
    activities = {s: frozenset(_activity_keys(study, s)) for s in stages}
    roles = _parse_roles(check, stages)
    return StageRules(tuple(rules), roles, _parse_path_classes(check, roles, activities),
                      _parse_flag_rules(check), activities)


def _parse_roles(check: Checker, stages: set[str]) -> dict[str, str]:
    raw = check.doc.data.get("roles") or {}
    if not isinstance(raw, Mapping):
        raise check.fail(("roles",), "map each repository role to a stage")
    for role, stage in raw.items():
        check.here(("roles", role))
        if stage not in stages:
            raise check.fail(("roles", role), f"unknown stage '{stage}'")
    return {str(k): str(v) for k, v in raw.items()}


def _parse_path_classes(check: Checker, roles: Mapping[str, str],
                        activities: Mapping[str, frozenset[str]]) -> tuple[PathClass, ...]:
    out: list[PathClass] = []
    seen: set[str] = set()
    raw_list = check.doc.data.get("path_classes") or []
    if not isinstance(raw_list, list):
        raise check.fail(("path_classes",), "expected a list")
    for path, raw in check.items(raw_list, ("path_classes",),
                                 "a path class must be a mapping"):
        cid = check.new_id(str(raw.get("id") or ""), (*path, "id"), seen, "path class id")
        patterns = raw.get("paths")
        if not isinstance(patterns, list) or not patterns:
            raise check.fail((*path, "paths"), "give a list of regular expressions")
        compiled = []
        for j, pattern in enumerate(patterns):
            try:
                compiled.append(re.compile(str(pattern)))
            except re.error as exc:
                raise check.fail((*path, "paths", j), f"not a regular expression ({exc})") \
                    from exc
        role = raw.get("role")
        class_roles = tuple(raw.get("roles") or ())
        for r, where in [(role, (*path, "role"))] + [(r, (*path, "roles", k))
                                                     for k, r in enumerate(class_roles)]:
            if r is not None and r not in roles:
                raise check.fail(where, f"'{r}' is not a repository role ({', '.join(roles)})")
        activity = raw.get("activity")
        if role is None and (activity is None or not class_roles):
            raise check.fail(path, "a path class needs a `role`, or an `activity` with the "
                                   "`roles` it applies to")
        if activity is not None:
            for r in ([role] if role else []) + list(class_roles):
                if activity not in activities.get(roles[r], frozenset()):
                    raise check.fail((*path, "activity"), f"'{activity}' is not an activity "
                                     f"or on-ramp of {roles[r]} (role {r})")
        out.append(PathClass(cid, tuple(compiled),
                             tuple(str(x).lower() for x in raw.get("repos") or ()), role,
                             class_roles, activity, str(raw.get("description") or "")))
    return tuple(out)


def _parse_flag_rules(check: Checker) -> tuple[FlagRule, ...]:
    out: list[FlagRule] = []
    raw_list = check.doc.data.get("upstream_contribution") or []
    for i, raw in enumerate(raw_list):
        path = ("upstream_contribution", i)
        check.here(path)
        if not isinstance(raw, Mapping) or not raw.get("id"):
            raise check.fail(path, "a rule needs an id")
        if raw["id"] in {r.id for r in out}:
            raise check.fail((*path, "id"), f"duplicate rule id '{raw['id']}'")
        if "value" not in raw or raw["value"] not in (True, False, None):
            raise check.fail((*path, "value"), "value must be true, false or null")
        when = raw.get("when") or {}
        if not isinstance(when, Mapping):
            raise check.fail((*path, "when"), "'when' must be a mapping")
        out.append(FlagRule(str(raw["id"]), dict(when), raw["value"],
                            str(raw.get("description") or "")))
    if out and out[-1].when:
        raise check.fail(("upstream_contribution", len(out) - 1), "the last "
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
