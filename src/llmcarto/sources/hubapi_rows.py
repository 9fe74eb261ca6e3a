"""API objects of the Hub as store rows: models, cards, discussions, events, commits.

Pure functions over the JSON the Hub returns (camelCase keys, dates like
``2024-02-21T07:55:18.000Z``); the columns are those of `hubapi_store.TABLES`, which reuse
the hf-trees and hf-cards readers' tables so a live crawl reads like the bundled one.
"""

from __future__ import annotations

import re
from typing import Any

from huggingface_hub.utils import parse_datetime

from llmcarto.sources.hubapi_store import HUB
from llmcarto.sources.hubcards import CardMeta, _jsonable, _scalar, _str_list, card_row
from llmcarto.sources.hubcards import _license as _card_licence
from llmcarto.sources.hubtrees import _base_models, _gated, _int, _license, _siblings

RELATION_COUNT = {"finetune": "children_count", "adapter": "adapters_count",
                  "quantized": "quantized_count", "merge": "merges_count"}

FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)


def base_ids(item: dict[str, Any]) -> list[str]:
    """The ids `item` declares as its base models (baseModels, else base_model: tags)."""
    return [b["id"] for b in _base_models(
        [t for t in item.get("tags") or [] if isinstance(t, str)], item.get("baseModels"))]


def relation_to(item: dict[str, Any], parent: str) -> str | None:
    """The relation `item` declares to `parent` (None when it declares none)."""
    for entry in _base_models([t for t in item.get("tags") or [] if isinstance(t, str)],
                              item.get("baseModels")):
        if entry["id"] == parent:
            return entry["relation"]
    return None


def children_total(item: dict[str, Any]) -> int | None:
    """Σ childrenModelCount (a dict by relation; an int in some client versions)."""
    count = item.get("childrenModelCount")
    if isinstance(count, dict):
        return sum(v for v in count.values() if isinstance(v, int) and not isinstance(v, bool))
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    return None


def hub_time(value: Any) -> str | None:
    """A Hub date (``2024-02-21T07:55:18.000Z``) as ISO text; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value).isoformat()
    except ValueError:
        return None


def card_meta(card: dict[str, Any]) -> CardMeta:
    """The API's cardData (already a mapping) read as `parse_card_yaml` reads a parsed
    front matter, without a YAML round trip."""
    data = _jsonable(card)
    return CardMeta("parsed", data=data, license=_card_licence(data.get("license")),
                    base_model=_str_list(data.get("base_model")),
                    base_model_relation=_scalar(data.get("base_model_relation")),
                    datasets=_str_list(data.get("datasets")),
                    languages=_str_list(data.get("language"), language=True))


def model_row(tree: str, item: dict[str, Any], depth: int,
              meta: CardMeta | None = None) -> dict[str, Any]:
    """A `hub_model` row (the hf-trees reader's columns) from an API model object."""
    tags = [t for t in item.get("tags") or [] if isinstance(t, str)]
    card = item.get("cardData")
    if meta is None and isinstance(card, dict):
        meta = card_meta(card)
    counts = item.get("childrenModelCount")
    per_relation = {col: (counts.get(rel, 0) if isinstance(counts, dict) else None)
                    for rel, col in RELATION_COUNT.items()}
    spaces = item.get("spaces")
    siblings = item.get("siblings")
    return {
        "tree": tree, "id": item["id"], "depth": depth,
        "author": item.get("author") if isinstance(item.get("author"), str) else None,
        "created_at": hub_time(item.get("createdAt")),
        "last_modified": hub_time(item.get("lastModified")),
        "license": _license(tags, meta), "gated": _gated(item.get("gated")),
        "downloads": _int(item.get("downloads")), "likes": _int(item.get("likes")),
        "library_name": item.get("library_name") if isinstance(item.get("library_name"),
                                                               str) else None,
        "pipeline_tag": item.get("pipeline_tag") if isinstance(item.get("pipeline_tag"),
                                                               str) else None,
        "tags": tags, "base_models": _base_models(tags, item.get("baseModels")),
        "siblings": _siblings(siblings) if siblings is not None else None,
        **per_relation,
        "spaces_count": len(spaces) if isinstance(spaces, list) else None,
        "info": item, "info_status": "ok",
    }


def api_card_row(item: dict[str, Any], meta: CardMeta | None = None) -> dict[str, Any]:
    """A `model_card` row from the API's parsed cardData (the README itself not read)."""
    meta = meta or card_meta(item["cardData"])
    return card_row(meta, id=item["id"], yaml_raw=None, yaml_collapsed=None,
                    origin="hub-api", repo_type="model", url=HUB + item["id"],
                    source_host="huggingface.co", revision=item.get("sha"), body=None,
                    notes="front matter as the API's cardData; README.md not read")


def discussion_row(tree: str, repo_id: str, d: dict[str, Any],
                   fixture: str | None) -> dict[str, Any]:
    author = d.get("author")
    changes = d.get("changes") if isinstance(d.get("changes"), dict) else {}
    events = d.get("events")
    return {"tree": tree, "repo_id": repo_id, "repo_type": "model", "num": d["num"],
            "title": d.get("title"), "status": d.get("status"),
            "is_pull_request": d.get("isPullRequest"),
            "author": author.get("name") if isinstance(author, dict) else None,
            "created_at": hub_time(d.get("createdAt")),
            "num_events": len(events) if isinstance(events, list) else None,
            "target_branch": changes.get("base"), "merge_commit_oid": changes.get(
                "mergeCommitId"), "synthetic_fixture": fixture}


def event_row(tree: str, repo_id: str, num: int, position: int, e: dict[str, Any],
              fixture: str | None) -> dict[str, Any]:
    author = e.get("author")
    return {"tree": tree, "repo_id": repo_id, "num": num, "position": position,
            "event_id": str(e.get("id") if e.get("id") is not None else position),
            "type": e.get("type"),
            "author": author.get("name") if isinstance(author, dict) else None,
            "created_at": hub_time(e.get("createdAt")), "data": e.get("data"),
            "synthetic_fixture": fixture}


def commit_row(tree: str, repo_id: str, position: int, c: dict[str, Any],
               fixture: str | None) -> dict[str, Any]:
    authors = [a.get("user") for a in c.get("authors") or [] if isinstance(a, dict)]
    return {"tree": tree, "repo_id": repo_id, "position": position, "commit_id": c["id"],
            "authors": [a for a in authors if isinstance(a, str)],
            "created_at": hub_time(c.get("date")), "title": c.get("title"),
            "message": c.get("message"), "synthetic_fixture": fixture}


def discussion_url(row: dict[str, Any]) -> str:
    return f"{HUB}{row['repo_id']}/discussions/{row['num']}"
