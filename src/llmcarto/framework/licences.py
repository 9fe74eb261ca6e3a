"""Loaders for the licence knowledge base (`licences.yaml`) and the drift rules
(`licence_rules.yaml`): typed, checked, every error naming file, line and field.

The knowledge base holds what each licence id stands for and its properties, each
resting on a clause or URL (or null with a note); the rule table maps a (parent licence,
child licence) pair to a drift verdict with its reason. Both are data so that a reader
can check every verdict against the clause it cites.
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
from llmcarto.framework.validate import Checker, located, parse_document

KINDS = ("spdx", "ai", "family", "marker")
#: kinds whose id names one licence text: the only ones a drift verdict can rest on
SPECIFIC_KINDS = ("spdx", "ai", "named")
COMMERCIAL = ("allowed", "conditional", "not-allowed")
VERDICTS = ("unchanged", "changed-compatible", "changed-incompatible", "unknown")
_ID = re.compile(r"^(LicenseRef-[A-Za-z0-9.\-]+|[A-Za-z0-9][A-Za-z0-9.\-]*)$")
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class Property:
    """One property value with what it rests on: a URL and clause, or a note why unknown."""

    value: Any
    source: str | None = None
    clause: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Licence:
    id: str
    kind: str
    name: str
    url: str
    hub_ids: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    properties: Mapping[str, Property] = field(default_factory=dict)
    note: str | None = None

    @property
    def specific(self) -> bool:
        return self.kind in SPECIFIC_KINDS

    def value(self, name: str) -> Any:
        prop = self.properties.get(name)
        return prop.value if prop else None


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    id: str


@dataclass(frozen=True)
class FreeText:
    text: str
    id: str
    parts: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class LicenceBase:
    licences: Mapping[str, Licence]
    patterns: tuple[Pattern, ...]
    free_text: Mapping[str, FreeText]  # casefolded text -> mapping
    not_licences: Mapping[str, str]  # casefolded text -> note
    property_names: tuple[str, ...]

    def get(self, licence_id: str | None) -> Licence | None:
        return self.licences.get(licence_id) if licence_id else None

    def kind(self, licence_id: str | None) -> str | None:
        """The id's kind; an id outside the base (a licence named in free text) is `named`."""
        if not licence_id:
            return None
        found = self.licences.get(licence_id)
        return found.kind if found else "named"

    def is_specific(self, licence_id: str | None) -> bool:
        return self.kind(licence_id) in SPECIFIC_KINDS


# --------------------------------------------------------------------------- knowledge base


def licences_path() -> Path:
    return Path(str(resources.files("llmcarto.framework") / "licences.yaml"))


def rules_path() -> Path:
    return Path(str(resources.files("llmcarto.framework") / "licence_rules.yaml"))


def _load(text: str, filename: str) -> Checker:
    doc = parse_document(text, filename)
    if not isinstance(doc.data, Mapping):
        raise FrameworkError(f"{filename}:1: the document must be a mapping")
    return Checker(doc)


def _str_list(check: Checker, path: tuple, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise check.fail(path, "must be a list of non-empty strings")
    return tuple(value)


def _property(check: Checker, path: tuple, name: str, raw: Any) -> Property:
    if not isinstance(raw, Mapping) or "value" not in raw:
        raise check.fail(path, f"property '{name}' must be a mapping with 'value'")
    value = raw["value"]
    if value is None:
        if not raw.get("note"):
            raise check.fail(path, f"property '{name}' is null without a 'note' saying why it "
                                   "is not known")
        return Property(None, note=str(raw["note"]))
    source, clause = raw.get("source"), raw.get("clause")
    if not isinstance(source, str) or not _URL.match(source) or not clause:
        raise check.fail(path, f"property '{name}' has a value but no 'source' URL and "
                               "'clause' it rests on")
    if name == "commercial_use" and value not in COMMERCIAL:
        raise check.fail(path, f"commercial_use '{value}' is not one of: "
                               + ", ".join(COMMERCIAL))
    if name in ("osi_approved", "use_restrictions", "must_propagate", "gated_by_default") \
            and not isinstance(value, bool):
        raise check.fail(path, f"property '{name}' must be true, false or null")
    if name in ("attribution", "naming", "region_restriction") \
            and not (value is False or isinstance(value, str)):
        raise check.fail(path, f"property '{name}' must be a text, false or null")
    return Property(value, source=source, clause=str(clause), note=raw.get("note"))


@located
def parse_licences(text: str, filename: str) -> LicenceBase:
    """Parse and check `licences.yaml`: unique ids and spellings, sourced properties."""
    check = _load(text, filename)
    data = check.doc.data
    required = tuple(data.get("properties") or ())
    optional = tuple(data.get("optional_properties") or ())
    licences: dict[str, Licence] = {}
    spellings: dict[str, str] = {}

    def claim(spelling: str, licence_id: str, path: tuple) -> None:
        key = fold(spelling)
        if spellings.get(key, licence_id) != licence_id:
            raise check.fail(path, f"'{spelling}' already names {spellings[key]}")
        spellings[key] = licence_id

    for path, raw in check.items(data.get("licences") or [], ("licences",),
                                 "a licence must be a mapping"):
        licence_id = raw.get("id")
        if not isinstance(licence_id, str) or not _ID.match(licence_id):
            raise check.fail((*path, "id"), f"'{licence_id}' is not an SPDX id or a "
                                            "LicenseRef- id")
        if licence_id in licences:
            raise check.fail((*path, "id"), f"duplicate id '{licence_id}'")
        kind = raw.get("kind")
        if kind not in KINDS:
            raise check.fail((*path, "kind"), f"'{kind}' is not one of: " + ", ".join(KINDS))
        for key in ("name", "url"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise check.fail((*path, key), f"missing '{key}'")
        if not _URL.match(raw["url"]):
            raise check.fail((*path, "url"), "not an http(s) URL")
        hub_ids = _str_list(check, (*path, "hub_ids"), raw.get("hub_ids"))
        aliases = _str_list(check, (*path, "aliases"), raw.get("aliases"))
        for spelling in (licence_id, *hub_ids, *aliases):
            claim(spelling, licence_id, path)
        props: dict[str, Property] = {}
        raw_props = raw.get("properties")
        if kind in ("spdx", "ai"):
            if not isinstance(raw_props, Mapping):
                raise check.fail((*path, "properties"), f"a {kind} licence needs its properties")
            missing = [name for name in required if name not in raw_props]
            if missing:
                raise check.fail((*path, "properties"), "missing " + ", ".join(missing))
            for name, value in raw_props.items():
                if name not in required and name not in optional:
                    raise check.fail((*path, "properties", name), f"unknown property '{name}'")
                props[name] = _property(check, (*path, "properties", name), name, value)
        else:
            if raw_props:
                raise check.fail((*path, "properties"), f"a {kind} is not one licence text and "
                                                        "has no properties")
            if not raw.get("note"):
                raise check.fail(path, f"a {kind} needs a 'note' saying what it stands for")
        licences[licence_id] = Licence(licence_id, kind, raw["name"].strip(), raw["url"],
                                       hub_ids, aliases, props, raw.get("note"))
    for i, raw in enumerate(data.get("families") or []):
        check.here(("families", i))
        path = ("families", i)
        licence_id = raw.get("id") if isinstance(raw, Mapping) else None
        if not isinstance(licence_id, str) or not _ID.match(licence_id) or licence_id in licences:
            raise check.fail(path, "missing, malformed or duplicate id")
        licences[licence_id] = Licence(licence_id, "family", str(raw.get("name")),
                                       str(raw.get("url")), note=raw.get("note"))
    patterns: list[Pattern] = []
    for i, raw in enumerate(data.get("patterns") or []):
        check.here(("patterns", i))
        path = ("patterns", i)
        try:
            regex = re.compile(raw["regex"], re.I)
        except (KeyError, TypeError, re.error) as exc:
            raise check.fail(path, f"bad or missing 'regex' ({exc})") from exc
        if raw.get("id") not in licences:
            raise check.fail(path, f"id '{raw.get('id')}' is not in the base")
        patterns.append(Pattern(regex, raw["id"]))
    free_text: dict[str, FreeText] = {}
    for i, raw in enumerate(data.get("free_text") or []):
        path = ("free_text", i)
        check.here(path)
        parts = _str_list(check, (*path, "parts"), raw.get("parts"))
        if raw.get("id") not in licences or any(p not in licences for p in parts) \
                or not raw.get("note") or not raw.get("text"):
            raise check.fail(path, "needs 'text', a known 'id', known 'parts' and a 'note'")
        free_text[fold(raw["text"])] = FreeText(raw["text"], raw["id"], parts, raw["note"])
    not_licences: dict[str, str] = {}
    for i, raw in enumerate(data.get("not_licences") or []):
        check.here(("not_licences", i))
        if not isinstance(raw, Mapping) or not raw.get("text") or not raw.get("note"):
            raise check.fail(("not_licences", i), "needs 'text' and 'note'")
        not_licences[fold(raw["text"])] = raw["note"]
    return LicenceBase(licences, tuple(patterns), free_text, not_licences, required)


def fold(text: str) -> str:
    """The comparison form of a licence string: case-folded, spacing collapsed."""
    return " ".join(text.split()).casefold().rstrip(".")


@lru_cache(maxsize=1)
def load_licences() -> LicenceBase:
    path = licences_path()
    return parse_licences(path.read_text(encoding="utf-8"), path.name)


# --------------------------------------------------------------------------- drift rules


@dataclass(frozen=True)
class Citation:
    url: str
    clause: str


@dataclass(frozen=True)
class DriftRule:
    id: str
    verdict: str
    reason: str
    cites: tuple[Citation, ...]
    pairs: tuple[tuple[str, str], ...] = ()  # expanded (parent, child) pairs; () for built-ins


@dataclass(frozen=True)
class RuleTable:
    builtin: Mapping[str, DriftRule]
    rules: tuple[DriftRule, ...]
    by_pair: Mapping[tuple[str, str], DriftRule]
    gating: Mapping[str, str] = field(default_factory=dict)  # gating rule id -> reason

    def rule(self, rule_id: str) -> DriftRule:
        if rule_id in self.builtin:
            return self.builtin[rule_id]
        return next(r for r in self.rules if r.id == rule_id)

    @property
    def all_rules(self) -> tuple[DriftRule, ...]:
        return (*self.builtin.values(), *self.rules)


BUILTIN_RULES = ("licence-missing", "licence-vague", "same-licence", "no-rule")
GATING_RULES = ("gate-unchanged", "gate-dropped", "gate-added", "gate-unknown")


def _citations(check: Checker, path: tuple, raw: Any, *, required: bool
               ) -> tuple[Citation, ...]:
    items = raw or []
    if not isinstance(items, list) or (required and not items):
        raise check.fail(path, "a rule needs 'cites': a list of {url, clause}")
    out = []
    for j, item in enumerate(items):
        if not isinstance(item, Mapping) or not _URL.match(str(item.get("url") or "")) \
                or not item.get("clause"):
            raise check.fail((*path, j), "a citation needs an http(s) 'url' and a 'clause'")
        out.append(Citation(item["url"], str(item["clause"])))
    return tuple(out)


@located
def parse_rules(text: str, filename: str, base: LicenceBase) -> RuleTable:
    """Parse and check `licence_rules.yaml`; expand groups into pairs; refuse a pair twice."""
    check = _load(text, filename)
    data = check.doc.data
    groups: dict[str, tuple[str, ...]] = {}
    for name, members in (data.get("groups") or {}).items():
        check.here(("groups", name))
        ids = _str_list(check, ("groups", name), members)
        for member in ids:
            if member not in base.licences:
                raise check.fail(("groups", name), f"'{member}' is not in licences.yaml")
            if not base.licences[member].specific:
                raise check.fail(("groups", name), f"'{member}' is a "
                                 f"{base.licences[member].kind}, not one licence text")
        groups[name] = ids
    builtin: dict[str, DriftRule] = {}
    for i, raw in enumerate(data.get("builtin") or []):
        check.here(("builtin", i))
        path = ("builtin", i)
        rule_id = raw.get("id") if isinstance(raw, Mapping) else None
        if rule_id not in BUILTIN_RULES or rule_id in builtin:
            raise check.fail(path, "built-in rule id must be one of "
                             + ", ".join(BUILTIN_RULES) + " (once each)")
        if raw.get("verdict") not in VERDICTS or not raw.get("reason"):
            raise check.fail(path, "needs a 'verdict' and a 'reason'")
        builtin[rule_id] = DriftRule(rule_id, raw["verdict"], raw["reason"],
                                     _citations(check, (*path, "cites"), raw.get("cites"),
                                                required=False))
    missing = [r for r in BUILTIN_RULES if r not in builtin]
    if missing:
        raise FrameworkError(f"{filename}: built-in rules missing: " + ", ".join(missing))

    def expand(path: tuple, value: Any) -> tuple[str, ...]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            raise check.fail(path, "a licence id, a group, or a list of them")
        out: list[str] = []
        for name in names:
            if name in groups:
                out += groups[name]
            elif name in base.licences and base.licences[name].specific:
                out.append(name)
            else:
                raise check.fail(path, f"'{name}' is neither a group nor a specific licence "
                                       "of licences.yaml")
        return tuple(dict.fromkeys(out))

    rules: list[DriftRule] = []
    by_pair: dict[tuple[str, str], DriftRule] = {}
    seen: set[str] = set(builtin)
    for path, raw in check.items(data.get("rules") or [], ("rules",),
                                 "a rule must be a mapping"):
        rule_id = check.new_id(raw.get("id"), (*path, "id"), seen, "rule id")
        verdict = raw.get("verdict")
        if verdict not in VERDICTS or verdict == "unchanged":
            raise check.fail((*path, "verdict"), f"'{verdict}' must be one of "
                             "changed-compatible, changed-incompatible, unknown")
        if not raw.get("reason"):
            raise check.fail(path, "a rule needs a 'reason'")
        parents = expand((*path, "parent"), raw.get("parent"))
        children = expand((*path, "child"), raw.get("child"))
        pairs = tuple((p, c) for p in parents for c in children if p != c)
        rule = DriftRule(rule_id, verdict, raw["reason"],
                         _citations(check, (*path, "cites"), raw.get("cites"), required=True),
                         pairs)
        for pair in pairs:
            if pair in by_pair:
                raise check.fail(path, f"pair {pair[0]} → {pair[1]} is already decided by "
                                       f"rule '{by_pair[pair].id}'")
            by_pair[pair] = rule
        rules.append(rule)
    gating: dict[str, str] = {}
    for i, raw in enumerate(data.get("gating") or []):
        check.here(("gating", i))
        rule_id = raw.get("id") if isinstance(raw, Mapping) else None
        if rule_id not in GATING_RULES or rule_id in gating or not raw.get("reason"):
            raise check.fail(("gating", i), "gating rule id must be one of "
                             + ", ".join(GATING_RULES) + " (once each), with a 'reason'")
        gating[rule_id] = raw["reason"]
    if set(gating) != set(GATING_RULES):
        raise FrameworkError(f"{filename}: gating rules missing: "
                             + ", ".join(r for r in GATING_RULES if r not in gating))
    return RuleTable(builtin, tuple(rules), by_pair, gating)


@lru_cache(maxsize=1)
def load_rules() -> RuleTable:
    path = rules_path()
    return parse_rules(path.read_text(encoding="utf-8"), path.name, load_licences())
