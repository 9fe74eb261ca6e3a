"""Licences as data: normalise licence strings, judge licence and gating drift along a
lineage edge, and count drift with honest denominators.

- `normalise(raw, license_name)` turns a Hub tag, card value or free text into an id of
  `framework/licences.yaml` (an SPDX id or a `LicenseRef-` id) and says how (`HOW`).
- `drift(parent, child)` gives the verdict of `framework/licence_rules.yaml` for a pair of
  ids with the id of the rule that decided it.
- `gating_drift(parent_gated, child_gated)` compares the Hub's `gated` of both ends.
- `drift_rates(rows, key)` counts per group: the licence-change rate over edges whose two
  licences are both known (one licence text each), with the share of edges where either
  is not known printed beside it (design.md §5: known-both edges as denominator).
- `licence_strings(con)` lists every licence string the store holds, with its table.

All functions but `licence_strings` are pure.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from llmcarto.framework.licences import (
    LicenceBase,
    RuleTable,
    fold,
    load_licences,
    load_rules,
)
from llmcarto.store.status import has_table

#: how a string was normalised (the second element of `normalise`'s answer)
HOW = {
    "missing": "no licence string (null or empty)",
    "hub-id": "a Hub licence identifier",
    "spdx-id": "an SPDX identifier",
    "alias": "a spelling listed in licences.yaml",
    "pattern": "a version spelling matched by a pattern of licences.yaml",
    "license-name": "Hub `other` resolved by the card's `license_name`",
    "free-text": "a string of the data read by hand (licences.yaml free_text)",
    "weights-part": "the part of the string marked as the weights' licence",
    "comment-dropped": "a licence followed by a comment in brackets",
    "contained": "one licence named inside a longer string",
    "several": "several licences named without saying which governs the weights",
    "named": "a licence named in the text that licences.yaml does not describe",
    "not-a-licence": "the string names no licence (licences.yaml not_licences, or prose)",
    "unmatched": "no licence recognised",
}
MIN_N = 10  # design.md §5: fewer observations are "insufficient data"
_SEPARATORS = re.compile(r"\s*(?:;|,|\band\b|\bplus\b|\s/\s)\s*", re.I)
_WEIGHTS = re.compile(r"^(?P<lic>[^()]+?)\s*\((?:model\s+)?weights(?:\s+only)?\)", re.I)
_COMMENT = re.compile(r"^(?P<lic>[^()]+?)\s*\([^()]*\)\s*\.?$")
_NAMED = re.compile(r"licen[cs]e|terms|agreement|\beula\b|\bpolicy\b|\bopen\b|\bcommunity\b"
                    r"|\bpublic\b|许可", re.I)
_LINKS = re.compile(r"\[\[?([^\]]*)\]?\]\([^)]*\)|https?://\S+")
_BRACKETS = re.compile(r"\([^()]*\)")
_SLUG = re.compile(r"[^a-z0-9.]+")
MAX_LICENCE_TEXT = 120  # longer strings are prose about licences, not a licence name


@dataclass(frozen=True)
class Normalised:
    """A licence string read as an id, with how it was read and, for several, the parts."""

    id: str | None
    how: str
    parts: tuple[str, ...] = ()


def normalise(raw: str | None, license_name: str | None = None,
              base: LicenceBase | None = None) -> Normalised:
    """Read a licence string as a licence id (licences.yaml); never guesses a version.

    `license_name` is the card's name for a `license: other` licence (the Hub's convention,
    https://huggingface.co/docs/hub/repositories-licenses): when the string is `other` and
    the name is recognised, the name decides.
    """
    base = base or load_licences()
    found = _normalise(raw, base, split=True)
    if found.id == "LicenseRef-other" and license_name and license_name.strip():
        named = _normalise(license_name, base, split=True)
        if named.id and named.how not in ("unmatched", "not-a-licence", "missing"):
            return Normalised(named.id, "license-name", named.parts)
    return found


_INDEX: dict[int, tuple[LicenceBase, dict[str, Normalised]]] = {}


def _spellings(base: LicenceBase) -> dict[str, Normalised]:
    """Folded spelling → answer: Hub ids, then SPDX ids, then aliases (first claim wins)."""
    cached = _INDEX.get(id(base))
    if cached and cached[0] is base:
        return cached[1]
    index: dict[str, Normalised] = {}
    for licence in base.licences.values():
        for hub_id in licence.hub_ids:
            index.setdefault(fold(hub_id), Normalised(licence.id, "hub-id"))
    for licence in base.licences.values():
        if licence.kind == "spdx":
            index.setdefault(fold(licence.id), Normalised(licence.id, "spdx-id"))
    for licence in base.licences.values():
        for spelling in (licence.id, *licence.aliases):
            index.setdefault(fold(spelling), Normalised(licence.id, "alias"))
    _INDEX[id(base)] = (base, index)
    return index


def _exact(text: str, key: str, base: LicenceBase) -> Normalised | None:
    found = base.licences.get(text)
    if found is not None and found.kind == "spdx":
        return Normalised(found.id, "spdx-id")  # the SPDX id as SPDX spells it
    return _spellings(base).get(key)


def _normalise(raw: str | None, base: LicenceBase, *, split: bool) -> Normalised:
    if raw is None or not str(raw).strip():
        return Normalised(None, "missing")
    whole = fold(str(raw))
    if whole in base.free_text:
        entry = base.free_text[whole]
        return Normalised(entry.id, "free-text", entry.parts)
    text = " ".join(str(raw).split()).strip().strip("'\"“”")
    key = fold(text)
    exact = _exact(text, key, base)
    if exact:
        return exact
    if key in base.not_licences:
        return Normalised("NOASSERTION", "not-a-licence")
    if len(text) > MAX_LICENCE_TEXT:
        return Normalised("NOASSERTION", "not-a-licence")
    weights = _WEIGHTS.match(text)
    if weights:
        inner = _normalise(weights.group("lic"), base, split=False)
        if inner.id:
            return Normalised(inner.id, "weights-part", inner.parts)
    if split:
        several = _split(text, base)
        if several:
            return several
    comment = _COMMENT.match(text)
    if comment:
        inner = _normalise(comment.group("lic"), base, split=False)
        if inner.id and inner.how not in ("unmatched", "named"):
            return Normalised(inner.id, "comment-dropped", inner.parts)
    for pattern in base.patterns:
        if pattern.regex.search(key):
            return Normalised(pattern.id, "pattern")
    if _NAMED.search(text):
        return Normalised(named_id(text), "named")
    return Normalised("NOASSERTION", "unmatched")


def _split(text: str, base: LicenceBase) -> Normalised | None:
    """Several licences in one string ("A (weights); B (code)" aside): `several` when one part
    is a licence of the base and another part names a licence too, or when ',' / ';' separate
    parts that each name a licence; `contained` when exactly one part does and the others
    name none. Words such as "and" inside one licence's name ("… Model and Data Evaluation
    License") do not split it: a part naming no licence of the base needs a sibling that does.
    """
    bare = _BRACKETS.sub(" ", text)  # a separator inside brackets is part of a comment
    pieces = [p for p in _SEPARATORS.split(bare) if p and p.strip()]
    if len(pieces) < 2:
        return None
    known: list[str] = []
    named: list[str] = []
    for piece in pieces:
        got = _normalise(piece, base, split=False)
        if got.how == "named":
            named.append(got.id or "")
        elif got.id and got.how not in ("unmatched", "not-a-licence", "missing"):
            known += list(got.parts) if got.parts else [got.id]
    listed = bool(re.search(r"[;,]", bare))
    ids = list(dict.fromkeys(known + named))
    if (known and len(ids) > 1) or (listed and len(named) > 1 and len(ids) > 1):
        return Normalised("LicenseRef-several", "several", tuple(ids))
    if len(known) == 1 and not named:
        return Normalised(known[0], "contained")
    return None


def named_id(text: str) -> str:
    """A stable `LicenseRef-` id for a licence named in free text (links and URLs dropped)."""
    plain = _LINKS.sub(lambda m: m.group(1) or "", text)
    slug = _SLUG.sub("-", plain.casefold()).strip("-.")[:60].strip("-.")
    return f"LicenseRef-{slug or 'unnamed'}"


# --------------------------------------------------------------------------- drift


def drift(parent: str | None, child: str | None, rules: RuleTable | None = None,
          base: LicenceBase | None = None) -> tuple[str, str]:
    """The (verdict, rule id) of a parent → child pair of licence ids (licence_rules.yaml).

    Built-in rules first: a missing end → `licence-missing`; an end that names no single
    licence text → `licence-vague`; equal ids → `same-licence`; then the table; a pair in
    no rule → `no-rule` (unknown).
    """
    rules = rules or load_rules()
    base = base or load_licences()
    if not parent or not child:
        rule = rules.builtin["licence-missing"]
    elif not base.is_specific(parent) or not base.is_specific(child):
        rule = rules.builtin["licence-vague"]
    elif parent == child:
        rule = rules.builtin["same-licence"]
    else:
        rule = rules.by_pair.get((parent, child)) or rules.builtin["no-rule"]
    return rule.verdict, rule.id


def gated(value: Any) -> bool | None:
    """The Hub's `gated` as a flag: false → False; "auto", "manual", true → True; else None."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold() if value is not None else ""
    if text in ("false", "0", "no"):
        return False
    if text in ("auto", "manual", "true", "1", "yes"):
        return True
    return None


def gating_drift(parent_gated: Any, child_gated: Any) -> tuple[str, str]:
    """(verdict, rule id): `unchanged`, `gate-dropped` (gated parent, ungated child),
    `gate-added` (the reverse) or `unknown` when either end's gating is not known."""
    p, c = gated(parent_gated), gated(child_gated)
    if p is None or c is None:
        return "unknown", "gate-unknown"
    if p == c:
        return "unchanged", "gate-unchanged"
    return ("gate-dropped", "gate-dropped") if p else ("gate-added", "gate-added")


# --------------------------------------------------------------------------- rates


def _rate(num: int, den: int) -> float | None:
    return num / den if den >= MIN_N else None


@dataclass
class DriftRates:
    """Counts of one group of edges; every rate names its denominator."""

    edges: int = 0
    known_both: int = 0  # both ends one licence text each (the change rate's denominator)
    unchanged: int = 0
    changed: int = 0
    compatible: int = 0
    incompatible: int = 0
    changed_unknown_verdict: int = 0  # changed, but no rule decides
    unknown_reasons: Counter = field(default_factory=Counter)  # why an edge is not known-both
    label_both: int = 0  # both raw Hub licence labels present (Laufer et al.'s view)
    label_changed: int = 0
    gating_known: int = 0
    gate_dropped: int = 0
    gate_added: int = 0

    @property
    def unknown(self) -> int:
        return self.edges - self.known_both

    @property
    def change_rate(self) -> float | None:
        return _rate(self.changed, self.known_both)

    @property
    def incompatible_rate(self) -> float | None:
        return _rate(self.incompatible, self.known_both)

    @property
    def unknown_share(self) -> float | None:
        return self.unknown / self.edges if self.edges else None

    @property
    def label_change_rate(self) -> float | None:
        return _rate(self.label_changed, self.label_both)

    @property
    def gating_change_rate(self) -> float | None:
        return _rate(self.gate_dropped + self.gate_added, self.gating_known)

    @property
    def gating_unknown_share(self) -> float | None:
        return (self.edges - self.gating_known) / self.edges if self.edges else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "edges": self.edges, "known_both": self.known_both, "unknown": self.unknown,
            "unknown_share": self.unknown_share, "unchanged": self.unchanged,
            "changed": self.changed, "change_rate": self.change_rate,
            "changed_compatible": self.compatible, "changed_incompatible": self.incompatible,
            "incompatible_rate": self.incompatible_rate,
            "changed_unknown_verdict": self.changed_unknown_verdict,
            "unknown_reasons": dict(sorted(self.unknown_reasons.items())),
            "label_both": self.label_both, "label_changed": self.label_changed,
            "label_change_rate": self.label_change_rate,
            "gating_known": self.gating_known, "gate_dropped": self.gate_dropped,
            "gate_added": self.gate_added, "gating_change_rate": self.gating_change_rate,
            "gating_unknown_share": self.gating_unknown_share,
            "insufficient": self.known_both < MIN_N,
        }


def add_edge(rates: DriftRates, row: Mapping[str, Any], base: LicenceBase) -> None:
    """Count one edge row (keys: parent_licence, child_licence, drift, parent_label,
    child_label, gating_drift)."""
    rates.edges += 1
    parent, child = row.get("parent_licence"), row.get("child_licence")
    p_ok, c_ok = base.is_specific(parent), base.is_specific(child)
    if p_ok and c_ok:
        rates.known_both += 1
        if parent == child:
            rates.unchanged += 1
        else:
            rates.changed += 1
            verdict = row.get("drift")
            if verdict == "changed-compatible":
                rates.compatible += 1
            elif verdict == "changed-incompatible":
                rates.incompatible += 1
            else:
                rates.changed_unknown_verdict += 1
    else:
        for side, lid, ok in (("parent", parent, p_ok), ("child", child, c_ok)):
            if not ok:
                rates.unknown_reasons[f"{side} " + ("licence missing" if not lid else
                                                    f"{lid} is a {base.kind(lid)}")] += 1
    p_label, c_label = row.get("parent_label"), row.get("child_label")
    if p_label and c_label:
        rates.label_both += 1
        rates.label_changed += fold(p_label) != fold(c_label)
    g = row.get("gating_drift")
    if g and g != "unknown":
        rates.gating_known += 1
        rates.gate_dropped += g == "gate-dropped"
        rates.gate_added += g == "gate-added"


def drift_rates(rows: Iterable[Mapping[str, Any]], key: str | None = None,
                base: LicenceBase | None = None) -> dict[str, DriftRates]:
    """Rates per value of `key` (e.g. "relation", "family"), plus "all" over every row."""
    base = base or load_licences()
    out: dict[str, DriftRates] = defaultdict(DriftRates)
    for row in rows:
        add_edge(out["all"], row, base)
        if key:
            value = row.get(key)
            add_edge(out[str(value) if value is not None else "unknown"], row, base)
    return dict(out)


def percent(value: float | None, n: int) -> str:
    """A rate for people: "12.3 %" or "insufficient data (n=4)"."""
    return f"{100 * value:.1f} %" if value is not None else f"insufficient data (n={n})"


# --------------------------------------------------------------------------- the store


LICENCE_COLUMNS = (
    ("hub_model", "license"), ("model_card", "license"), ("mot_component", "license"),
    ("mot_model", "distribution_license"), ("eco_asset", "license"),
    ("eco_asset_csv", "license"), ("case_release_line", "licence"),
    ("case_release_line", "hub_license_id"), ("git_repo", "license"),
    ("osai_project", "license"),
)


def licence_strings(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, str, str | None]]:
    """Every distinct licence string in the store as (table.column, raw, license_name).

    Beyond the plain columns: the `license:` tags of hub_model, `license_name` next to
    `license: other` in cards (hub_model.info.card_data, model_card.card_data), the names
    in mot_model.licenses, and eco_asset.license_raw (a string or {value, explanation}).
    """
    seen: set[tuple[str, str | None, str | None]] = set()

    def emit(where: str, raw: Any, name: Any = None):
        raw = raw if isinstance(raw, str) else None
        name = name if isinstance(name, str) and name.strip() else None
        item = (where, raw, name)
        if raw is not None and item not in seen:
            seen.add(item)
            yield item

    for table, column in LICENCE_COLUMNS:
        if has_table(con, table):
            for (raw,) in con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall():
                yield from emit(f"{table}.{column}", raw)
    if has_table(con, "hub_model"):
        for (tag,) in con.execute("SELECT DISTINCT t FROM (SELECT unnest(tags) AS t FROM hub_model)"
                                  " WHERE t LIKE 'license:%'").fetchall():
            yield from emit("hub_model.tags", tag.split(":", 1)[1])
        for info_license, name in con.execute(
                "SELECT DISTINCT license, json_extract_string(info, '$.card_data') FROM hub_model"
                " WHERE info IS NOT NULL").fetchall():
            yield from emit("hub_model.info", info_license, _card_field(name, "license_name"))
    if has_table(con, "model_card"):
        for raw, name in con.execute(
                "SELECT DISTINCT license, json_extract_string(card_data, '$.license_name') "
                "FROM model_card").fetchall():
            yield from emit("model_card.card_data", raw, name)
    if has_table(con, "mot_model"):
        for (licenses,) in con.execute("SELECT DISTINCT licenses FROM mot_model").fetchall():
            for part in (json.loads(licenses) if licenses else {}).values():
                if isinstance(part, Mapping):
                    yield from emit("mot_model.licenses", part.get("name"))
    if has_table(con, "eco_asset"):
        for (raw,) in con.execute("SELECT DISTINCT license_raw FROM eco_asset").fetchall():
            value = json.loads(raw) if raw else None
            if isinstance(value, Mapping):
                value = value.get("value")
            yield from emit("eco_asset.license_raw", value)


def _card_field(card_yaml: str | None, name: str) -> str | None:
    """One top-level scalar of a card's YAML text, read without a YAML parser (a `key:`
    line); the card data of hub_model.info is text, not a mapping."""
    if not card_yaml:
        return None
    match = re.search(rf"^{re.escape(name)}:\s*['\"]?([^'\"\n]+?)['\"]?\s*$", card_yaml, re.M)
    return match.group(1) if match else None

