"""Every source in the store that says "this model was made from that one", as assertions.

One `Assertion` per (source record, parent, child): the Hub's children lists
(`hub_child`), the child's ``base_model:<relation>:<id>`` / ``base_model:<id>`` tags and
its ``baseModels`` field (`hub_model`), a card's ``base_model`` (string or list) with its
``base_model_relation`` (`model_card`), and model→model dependencies of the ecosystem
graphs (`eco_dependency`) whose two ends resolve to Hub ids. Spaces children are not
model lineage and are left out. Each assertion cites the field it comes from and the
file and location of its row.

Ecosystem asset names are not Hub ids ("Llama 2", "LLaMA 2", "Dolma"). `resolve_assets`
gives a name a Hub id only from a field that shows one, tried in this order (the first
that gives an id wins; the field is kept as `via`):

1. the asset's ``model_card`` field is a Hub model URL (``huggingface.co/<owner>/<name>``)
2. the asset's ``url`` field is a Hub model URL
3. a Model Openness Tool record of the same name (letters and digits compared,
   case-insensitive) has ``release.huggingface``
4. a Hub id seen in the store's trees or cards whose name part equals the asset's name
   (same comparison) and whose owner matches the asset's organisation (one contains the
   other, letters and digits only); exactly one such id, else none

A one-segment Hub URL (``huggingface.co/Qwen``) is an organisation page or a legacy id and
resolves nothing. A dependency name is looked up among asset names exactly, then
case-insensitively when that finds exactly one asset. Anything else stays unresolved and
is counted (`lineage_issue`). Dataset assets get a Hub dataset id only from a
``huggingface.co/datasets/…`` URL in their ``datasheet`` or ``url``; applications none.
A model that depends on a dataset asset is a use of data (`uses_dataset`), not lineage.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from llmcarto.store.schema import PROVENANCE_NAMES
from llmcarto.store.status import has_table

HUB = "https://huggingface.co/"
#: hub_child.relation -> the child-list key of the tree dumps
CHILD_LIST_KEYS = {"finetune": "finetunes", "adapter": "adapters", "quantized": "quantized",
                   "merge": "merges"}
HUB_SOURCES = ("hub-children", "hub-tag", "hub-baseModels")  # declared-relation precedence
SOURCES = (*HUB_SOURCES, "card", "ecosystem")
_RELATION_WORDS = {
    "finetune": "finetune", "fine-tune": "finetune", "fine_tune": "finetune",
    "finetuned": "finetune", "fine-tuned": "finetune",
    "adapter": "adapter", "adapters": "adapter",
    "quantized": "quantized", "quantization": "quantized", "quantised": "quantized",
    "merge": "merge", "merges": "merge", "merged": "merge",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?$")
_HUB_URL = re.compile(r"^https?://(?:www\.)?huggingface\.co/([^?#]*)", re.I)
_NOT_OWNERS = {"datasets", "spaces", "docs", "blog", "papers", "collections", "models",
               "organizations", "api", "tasks", "learn", "settings", "join", "login",
               "pricing", "chat", "search"}
_ALNUM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Assertion:
    """One source record stating parent → child, with the relation it states (or None)."""

    parent: str
    child: str
    relation: str | None
    source: str  # one of SOURCES
    field: str  # the field read, e.g. "children.adapters" or "card base_model"
    confidence: str  # high | medium | low: what this source alone supports
    source_url: str | None = None
    snapshot_date: str | None = None
    file: str | None = None
    loc: str | None = None
    snapshot_id: str | None = None
    note: str | None = None

    def provenance(self) -> dict[str, Any]:
        out = {"source": self.source, "field": self.field, "relation": self.relation,
               "url": self.source_url, "snapshot_date": self.snapshot_date,
               "file": self.file, "loc": self.loc}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Issue:
    """Something a lineage source said that could not become an edge, and why."""

    kind: str
    detail: str
    parent: str | None = None
    child: str | None = None
    name: str | None = None
    prov: Mapping[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"kind": self.kind, "parent": self.parent, "child": self.child,
                "name": self.name, "detail": self.detail,
                **{n: self.prov.get(n) for n in PROVENANCE_NAMES}}


def relation_word(value: Any) -> str | None:
    """A relation as the Hub spells it (finetune, adapter, quantized, merge); other words
    are kept lower-cased, so a card's own vocabulary shows as a disagreement."""
    if not isinstance(value, str) or not value.strip():
        return None
    word = value.strip().lower()
    return _RELATION_WORDS.get(word, word)


def hub_id(value: Any) -> str | None:
    """`value` as a Hub model id (``owner/name`` or a legacy one-part id), or None.

    A ``https://huggingface.co/<owner>/<name>`` URL is read as its id."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower().startswith(("http://", "https://")):
        return hub_model_url(text)
    return text if _HUB_ID.match(text) else None


def _url_parts(url: Any) -> list[str] | None:
    if not isinstance(url, str):
        return None
    match = _HUB_URL.match(url.strip())
    if not match:
        return None
    return [p for p in match.group(1).split("/") if p]


def hub_model_url(url: Any) -> str | None:
    """``owner/name`` of a Hub model URL; None for datasets, spaces, organisation pages
    (one path segment) and anything that is not huggingface.co."""
    parts = _url_parts(url)
    if not parts or len(parts) < 2 or parts[0].lower() in _NOT_OWNERS:
        return None
    candidate = f"{parts[0]}/{parts[1]}"
    return candidate if _HUB_ID.match(candidate) else None


def hub_dataset_url(url: Any) -> str | None:
    """The dataset id of a ``huggingface.co/datasets/…`` URL (one or two segments)."""
    parts = _url_parts(url)
    if not parts or len(parts) < 2 or parts[0].lower() != "datasets":
        return None
    rest = parts[1:3] if len(parts) >= 3 and parts[2] not in ("tree", "blob", "viewer") \
        else parts[1:2]
    candidate = "/".join(rest)
    return candidate if _HUB_ID.match(candidate) else None


def squash(text: Any) -> str:
    """Letters and digits only, lower-cased: how asset and Hub names are compared."""
    return _ALNUM.sub("", text.lower()) if isinstance(text, str) else ""


def _prov(row: Mapping[str, Any]) -> dict[str, Any]:
    return {n: (str(row[n]) if n == "snapshot_date" and row.get(n) is not None else row.get(n))
            for n in PROVENANCE_NAMES}


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
         ) -> Iterator[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    while batch := cur.fetchmany(5000):
        for row in batch:
            yield dict(zip(names, row, strict=True))


_PROV_SQL = ", ".join(PROVENANCE_NAMES)


# ------------------------------------------------------------------------ Hub records


def children_assertions(records: Iterable[Mapping[str, Any]]) -> Iterator[Assertion]:
    """`hub_child` rows (spaces left out): the parent's declared child lists."""
    for r in records:
        relation = r["relation"]
        if relation == "space" or relation not in CHILD_LIST_KEYS:
            continue
        p = _prov(r)
        yield Assertion(r["parent"], r["child"], relation, "hub-children",
                        f"children.{CHILD_LIST_KEYS[relation]}", "high", p["source_url"],
                        p["snapshot_date"], p["file"], p["loc"], p["snapshot_id"])


def tag_bases(tags: Iterable[Any]) -> dict[str, str | None]:
    """base id -> relation from ``base_model:<relation>:<id>`` / ``base_model:<id>`` tags
    (a relation-less tag never erases a relation another tag states)."""
    found: dict[str, str | None] = {}
    for tag in tags:
        if not isinstance(tag, str) or not tag.startswith("base_model:"):
            continue
        rest = tag[len("base_model:"):]
        word, sep, model = rest.partition(":")
        relation, base = (word, model) if sep and "/" not in word else (None, rest)
        base = base.strip()
        if base:
            found[base] = found.get(base) or relation_word(relation)
    return found


def base_models_field(value: Any) -> dict[str, str | None]:
    """base id -> relation from the Hub's ``baseModels`` ({relation, models: [{id}]})."""
    found: dict[str, str | None] = {}
    entries = value if isinstance(value, list) else [value]
    for entry in entries:
        if isinstance(entry, Mapping) and isinstance(entry.get("models"), list):
            for model in entry["models"]:
                base = model.get("id") if isinstance(model, Mapping) else model
                if isinstance(base, str) and base.strip():
                    found[base.strip()] = relation_word(entry.get("relation"))
    return found


def model_assertions(records: Iterable[Mapping[str, Any]]) -> Iterator[Assertion]:
    """`hub_model` rows: the child's own base_model tags and baseModels field."""
    for r in records:
        p = _prov(r)
        tags = r.get("tags") or []
        for base, relation in tag_bases(tags).items():
            shown = f"base_model:{relation}:{base}" if relation else f"base_model:{base}"
            yield Assertion(base, r["id"], relation, "hub-tag", f"tags ({shown})", "high",
                            p["source_url"], p["snapshot_date"], p["file"], p["loc"],
                            p["snapshot_id"])
        info = r.get("base_models_info")
        if isinstance(info, str):
            try:
                info = json.loads(info)
            except ValueError:
                info = None
        for base, relation in base_models_field(info).items():
            yield Assertion(base, r["id"], relation, "hub-baseModels", "baseModels", "high",
                            p["source_url"], p["snapshot_date"], p["file"], p["loc"],
                            p["snapshot_id"])


def card_assertions(records: Iterable[Mapping[str, Any]]
                    ) -> Iterator[Assertion | Issue]:
    """`model_card` rows of models: each ``base_model`` entry, with the card's relation."""
    for r in records:
        if (r.get("repo_type") or "model") != "model":
            continue
        p = _prov(r)
        status = r.get("yaml_status") or "unknown"
        confidence = "medium" if status == "parsed" else "low"
        relation = relation_word(r.get("base_model_relation"))
        for value in r.get("base_model") or []:
            base = hub_id(value)
            if base is None:
                yield Issue("card-base-not-a-hub-id",
                            f"card base_model {value!r} is not a Hub model id", None, r["id"],
                            str(value), p)
                continue
            yield Assertion(base, r["id"], relation, "card",
                            f"card base_model ({r.get('origin')}, front matter {status})",
                            confidence, p["source_url"], p["snapshot_date"], p["file"],
                            p["loc"], p["snapshot_id"])


# ------------------------------------------------------------------------ ecosystem


@dataclass(frozen=True)
class Resolution:
    """An asset name and the Hub id a field gives it (None with a reason if none does)."""

    name: str
    type: str | None
    hub_id: str | None
    via: str | None  # eco_asset.<column> | mot release.huggingface | seen Hub id
    evidence: str | None
    confidence: str | None
    reason: str | None
    prov: Mapping[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "hub_id": self.hub_id, "via": self.via,
                "evidence": self.evidence, "confidence": self.confidence,
                "reason": self.reason, **{n: self.prov.get(n) for n in PROVENANCE_NAMES}}


def _owner_matches(owner: str, organization: Any) -> bool:
    own = squash(owner)
    if not own or not isinstance(organization, str):
        return False
    for org in re.split(r"[,;/&]| and ", organization):
        org = squash(org)
        if org and (org in own or own in org):
            return True
    return False


def resolve_assets(assets: Iterable[Mapping[str, Any]], mot: Iterable[Mapping[str, Any]],
                   seen_ids: Iterable[str]) -> dict[str, Resolution]:
    """Asset name -> Resolution by the ordered rules of the module doc (pure)."""
    mot_by_name: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for m in mot:
        if hub_model_url(m.get("huggingface_url")):
            mot_by_name[squash(m.get("name"))].append(m)
    seen_by_name: dict[str, set[str]] = defaultdict(set)
    for sid in seen_ids:
        if isinstance(sid, str) and "/" in sid:
            seen_by_name[squash(sid.split("/", 1)[1])].add(sid)
    by_name: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for a in assets:
        by_name[a["name"]].append(a)
    out: dict[str, Resolution] = {}
    for name, group in by_name.items():
        group = sorted(group, key=lambda a: (str(a.get("file")), str(a.get("loc"))))
        out[name] = _resolve_one(name, group, mot_by_name, seen_by_name)
    return out


def _resolve_one(name: str, group: list[Mapping[str, Any]],
                 mot_by_name: Mapping[str, list[Mapping[str, Any]]],
                 seen_by_name: Mapping[str, set[str]]) -> Resolution:
    first = group[0]
    kind = first.get("type")
    if kind == "dataset":
        for column in ("datasheet", "url"):
            for a in group:
                found = hub_dataset_url(a.get(column))
                if found:
                    return Resolution(name, kind, found, f"eco_asset.{column}", a.get(column),
                                      "medium", None, _prov(a))
        return Resolution(name, kind, None, None, None, None,
                          "no Hub dataset URL in the asset's datasheet or url", _prov(first))
    if kind != "model":
        return Resolution(name, kind, None, None, None, None,
                          f"a {kind or 'typeless'} asset: only models and datasets are "
                          "resolved", _prov(first))
    for column in ("model_card", "url"):
        for a in group:
            found = hub_model_url(a.get(column))
            if found:
                return Resolution(name, kind, found, f"eco_asset.{column}", a.get(column),
                                  "medium", None, _prov(a))
    key = squash(name)
    mots = mot_by_name.get(key, [])
    ids = sorted({hub_model_url(m["huggingface_url"]) for m in mots})
    if len(ids) == 1:
        m = next(m for m in mots if hub_model_url(m["huggingface_url"]) == ids[0])
        return Resolution(name, kind, ids[0], "mot release.huggingface",
                          f"{m.get('file')}: {m['huggingface_url']}", "medium", None, _prov(first))
    candidates = sorted(i for i in seen_by_name.get(key, set())
                        if any(_owner_matches(i.split("/", 1)[0], a.get("organization"))
                               for a in group))
    if len(candidates) == 1:
        return Resolution(name, kind, candidates[0], "seen Hub id",
                          f"{candidates[0]} (trees or cards; owner matches "
                          f"{first.get('organization')!r})", "low", None, _prov(first))
    reason = ("several MOT records of this name give different Hub ids" if len(ids) > 1 else
              f"several seen Hub ids match: {', '.join(candidates)}" if candidates else
              "no Hub model URL in the asset's model_card or url, no MOT record of this name "
              "with release.huggingface, no seen Hub id of this name and organisation")
    return Resolution(name, kind, None, None, None, None, reason, _prov(first))


def lookup_asset(name: str, names: Mapping[str, Any], folded: Mapping[str, list[str]]
                 ) -> tuple[str | None, str]:
    """The graph's asset name for a dependency name: exact, else case-insensitive unique."""
    if name in names:
        return name, "exact"
    hits = folded.get(name.casefold(), [])
    if len(hits) == 1:
        return hits[0], "case-insensitive"
    return None, "ambiguous" if hits else "absent"


def ecosystem_assertions(deps: Iterable[Mapping[str, Any]],
                         resolved: Mapping[str, Resolution]
                         ) -> Iterator[Assertion | Issue | dict[str, Any]]:
    """Model→model dependencies as assertions; model→dataset as `uses_dataset` rows (dicts);
    a dependency naming no asset, or an end without a Hub id, as an Issue."""
    folded: dict[str, list[str]] = defaultdict(list)
    for n in resolved:
        folded[n.casefold()].append(n)
    for d in deps:
        p = _prov(d)
        child_res = resolved.get(d["asset"])
        if child_res is None or (child_res.type or d.get("asset_type")) != "model":
            continue  # only a model's dependencies can be its lineage or its data
        target, how = lookup_asset(d["dependency"], resolved, folded)
        if target is None:
            yield Issue("eco-name-not-in-graph",
                        f"{d['asset']} depends on {d['dependency']!r}, which names no asset "
                        f"of the graph ({how})", None, None, d["dependency"], p)
            continue
        parent_res = resolved[target]
        if parent_res.type == "dataset":
            yield {"model": d["asset"], "model_hub_id": child_res.hub_id,
                   "dataset": target, "dataset_hub_id": parent_res.hub_id,
                   "via": "ecosystem-graphs dependencies", "stage": None,
                   "stage_note": "a declared dependency does not say in which stage the data "
                                 "was used", **p}
            continue
        if parent_res.type != "model":
            continue  # a model built on an application is not model lineage
        missing = [f"{role} {res.name!r}: {res.reason}" for role, res in
                   (("dependency", parent_res), ("asset", child_res)) if res.hub_id is None]
        if missing:
            yield Issue("eco-unresolved",
                        f"{d['asset']} depends on {target}; no Hub id for " + "; ".join(missing),
                        parent_res.hub_id, child_res.hub_id,
                        f"{target} -> {d['asset']}", p)
            continue
        confidence = "low" if "low" in (parent_res.confidence, child_res.confidence) else "medium"
        note = (f"{target} = {parent_res.hub_id} via {parent_res.via}; "
                f"{d['asset']} = {child_res.hub_id} via {child_res.via}"
                + ("; dependency name matched case-insensitively" if how != "exact" else ""))
        yield Assertion(parent_res.hub_id, child_res.hub_id, None, "ecosystem",
                        f"dependencies of {d['asset']!r}", confidence, p["source_url"],
                        p["snapshot_date"], p["file"], p["loc"], p["snapshot_id"], note)


# ------------------------------------------------------------------------ reading the store


def read_assertions(con: duckdb.DuckDBPyConnection
                    ) -> tuple[list[Assertion], list[Issue], list[dict[str, Any]],
                               list[Resolution]]:
    """Every lineage assertion in the store, the issues, dataset uses and name resolutions."""
    assertions: list[Assertion] = []
    issues: list[Issue] = []
    uses: list[dict[str, Any]] = []
    seen: set[str] = set()
    if has_table(con, "hub_child"):
        records = list(rows(con, f"""SELECT tree, parent, child, relation, position, {_PROV_SQL}
                                     FROM hub_child WHERE relation <> 'space'
                                     ORDER BY file, loc, relation, position"""))
        assertions += children_assertions(records)
        seen |= {r["child"] for r in records} | {r["parent"] for r in records}
    if has_table(con, "hub_model"):
        records = list(rows(con, f"""SELECT id, tags,
                                       coalesce(info->'base_models', info->'baseModels')
                                         AS base_models_info, {_PROV_SQL}
                                     FROM hub_model ORDER BY file, loc"""))
        assertions += model_assertions(records)
        seen |= {r["id"] for r in records}
    if has_table(con, "model_card"):
        for item in card_assertions(rows(con, f"""SELECT id, repo_type, base_model,
                                                    base_model_relation, yaml_status, origin,
                                                    {_PROV_SQL}
                                                  FROM model_card ORDER BY file, loc""")):
            (issues if isinstance(item, Issue) else assertions).append(item)
        seen |= {r["id"] for r in rows(con, "SELECT id FROM model_card WHERE "
                                            "coalesce(repo_type, 'model') = 'model'")}
        uses += card_dataset_uses(rows(con, f"""SELECT id, repo_type, datasets, origin,
                                                 {_PROV_SQL} FROM model_card
                                               WHERE len(datasets) > 0 ORDER BY file, loc"""))
    resolutions: list[Resolution] = []
    if has_table(con, "eco_asset") and has_table(con, "eco_dependency"):
        mot = list(rows(con, "SELECT name, huggingface_url, file, loc FROM mot_model")) \
            if has_table(con, "mot_model") else []
        assets = list(rows(con, f"""SELECT name, type, organization, url, model_card, datasheet,
                                      {_PROV_SQL} FROM eco_asset ORDER BY file, loc"""))
        resolved = resolve_assets(assets, mot, seen)
        resolutions = [resolved[n] for n in sorted(resolved)]
        deps = rows(con, f"""SELECT asset, asset_type, dependency, position, {_PROV_SQL}
                             FROM eco_dependency ORDER BY file, loc, position""")
        for item in ecosystem_assertions(deps, resolved):
            if isinstance(item, Assertion):
                assertions.append(item)
            elif isinstance(item, Issue):
                issues.append(item)
            else:
                uses.append(item)
    return assertions, issues, uses, resolutions


def card_dataset_uses(records: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """A model card's ``datasets`` entries as declared uses of data."""
    for r in records:
        if (r.get("repo_type") or "model") != "model":
            continue
        for value in r.get("datasets") or []:
            yield {"model": r["id"], "model_hub_id": r["id"], "dataset": value,
                   "dataset_hub_id": hub_id(value), "via": f"card datasets ({r.get('origin')})",
                   "stage": None, "stage_note": "a card's datasets field does not say in which "
                                                "stage the data was used", **_prov(r)}
