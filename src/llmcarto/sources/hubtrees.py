"""Hugging Face model trees (`hf-trees/*.jsonl`) as store tables.

One line per crawled model (README §1): the Hub's ModelInfo as the crawler serialised it
(`info`), the card front matter and body, and the declared child lists per relation.
Rows become `hub_model`, each listed child one `hub_child` edge (children that were not
crawled themselves are edges only), and each row with a card a `model_card` row.

The crawler's `info` is normalised here because its serialisation is lossy in known ways
(README "Format notes"): snake_case and camelCase duplicates (snake_case wins), dates as
``2023-07-28 17:50:20+00:00``, `card_data` as YAML text, siblings as Python reprs
(``RepoSibling(rfilename='README.md', …)``), `gated` as false/"auto"/"manual". A few
rows whose `info` is null carry ``https://huggingface.co/<id>`` as their model_id; the id
is stored without that prefix so it joins with the child lists.

A line that is not JSON or does not have the line schema is one `Skip`; nothing of it is
loaded, and every other line still is.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmcarto.sources.base import ReadContext, Record, Skip, utc_iso
from llmcarto.sources.hubcards import (
    MODEL_CARD_COLUMNS,
    card_row,
    card_skip,
    checked_json_lines,
    parse_card_yaml,
)

HUB = "https://huggingface.co/"
#: child-list key -> (relation name in hub_child, count column)
RELATIONS = {
    "finetunes": ("finetune", "children_count"),
    "adapters": ("adapter", "adapters_count"),
    "quantized": ("quantized", "quantized_count"),
    "merges": ("merge", "merges_count"),
    "spaces": ("space", "spaces_count"),
}
_COUNT_COLUMNS = tuple(count for _, count in RELATIONS.values())
_LINE_KEYS = ("model_id", "depth", "info", "card_yaml", "card_body", "children", "counts")
_INFO_NULL = "null: crawler could not read the repo"
_RFILENAME = re.compile(r"""rfilename=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_FILE_TS = re.compile(r"_(\d{4})(\d{2})(\d{2})_\d{6}")
_HEAD = re.compile(rb'^\s*\{\s*"model_id"\s*:\s*"(?:[^"\\]|\\.)*"\s*,\s*"depth"\s*:')


class HubTreesReader:
    """`hf-trees/<owner>__<name>.jsonl`: one crawled Hub model per line."""

    kind = "hf-trees"
    description = ("Hugging Face model trees crawled from the Hub API (one model per line: "
                   "model_id, depth, info, card_yaml, card_body, children, counts)")
    tables = {
        "hub_model": (
            "tree VARCHAR, id VARCHAR, depth INTEGER, author VARCHAR, "
            "created_at TIMESTAMPTZ, last_modified TIMESTAMPTZ, license VARCHAR, "
            "gated VARCHAR, downloads BIGINT, likes BIGINT, library_name VARCHAR, "
            "pipeline_tag VARCHAR, tags VARCHAR[], base_models JSON, siblings VARCHAR[], "
            "children_count INTEGER, adapters_count INTEGER, quantized_count INTEGER, "
            "merges_count INTEGER, spaces_count INTEGER, info JSON, info_status VARCHAR"
        ),
        "hub_child": "tree VARCHAR, parent VARCHAR, child VARCHAR, relation VARCHAR, "
                     "position INTEGER",
        "model_card": MODEL_CARD_COLUMNS,
    }

    def detect(self, name: str, head: bytes) -> bool:
        head = head.lstrip(b"\xef\xbb\xbf")
        if _HEAD.match(head):  # the bundle's key order; first lines often exceed the head
            return True
        first, newline, _ = head.partition(b"\n")
        if not newline:
            return False
        try:
            obj = json.loads(first)
        except ValueError:
            return False
        return isinstance(obj, dict) and {"model_id", "depth", "children", "counts"} <= set(obj)

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        tree = Path(ctx.name).stem
        snapshot = crawl_date(ctx.path)
        for item in checked_json_lines(ctx, _line_problem):
            if isinstance(item, Skip):
                yield item
                continue
            loc, obj = item
            yield from _records(ctx, tree, obj, loc, snapshot)


def crawl_date(path: Path) -> str | None:
    """YYYY-MM-DD of the crawl: `index.json` beside the file, else a crawler file-name
    timestamp (``_20250422_201036``), else None (the store then uses the bundle date)."""
    index = path.parent / "index.json"
    try:
        trees = json.loads(index.read_text(encoding="utf-8")).get("trees", [])
    except (OSError, ValueError, AttributeError):
        trees = []
    for entry in trees if isinstance(trees, list) else []:
        if isinstance(entry, dict) and entry.get("file") == path.name:
            stamp = entry.get("crawl_ts")
            if isinstance(stamp, str) and re.match(r"^\d{4}-\d{2}-\d{2}", stamp):
                return stamp[:10]
    match = _FILE_TS.search(path.name)
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}" if match else None


def _line_problem(obj: Any) -> str | None:
    """Why a decoded line does not have the tree line schema (None when it does)."""
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not a model object"
    missing = [key for key in _LINE_KEYS if key not in obj]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    model_id = obj["model_id"]
    if not isinstance(model_id, str) or not _hub_id(model_id):
        return "model_id is not a non-empty string"
    if not _is_int(obj["depth"]):
        return "depth is not an integer"
    if obj["info"] is not None and not isinstance(obj["info"], dict):
        return "info is neither an object nor null"
    for key in ("card_yaml", "card_body"):
        if obj[key] is not None and not isinstance(obj[key], str):
            return f"{key} is neither a string nor null"
    children, counts = obj["children"], obj["counts"]
    if not isinstance(children, dict) or not isinstance(counts, dict):
        return "children or counts is not an object"
    unknown = sorted(set(children) - set(RELATIONS)) + sorted(set(counts) - set(_COUNT_COLUMNS))
    if unknown:
        return f"unknown relation(s) {', '.join(unknown)}"
    if not isinstance(children.get("finetunes"), list) or not _is_int(counts.get("children_count")):
        return "finetunes list or children_count missing"
    for key, value in children.items():
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(c, str) for c in value)):
            return f"children.{key} is not a list of strings or null"
    for key, value in counts.items():
        if value is not None and not _is_int(value):
            return f"counts.{key} is not an integer or null"
    return None


def _records(ctx: ReadContext, tree: str, obj: dict[str, Any], loc: str,
             snapshot: str | None) -> Iterator[Record | Skip]:
    model_id = _hub_id(obj["model_id"])
    url = HUB + model_id
    info = obj["info"]
    counts = obj["counts"]
    card_meta = parse_card_yaml(_text(info, "card_data", "cardData")) if info else None
    row: dict[str, Any] = {
        "tree": tree, "id": model_id, "depth": obj["depth"],
        "author": None, "created_at": None, "last_modified": None, "license": None,
        "gated": None, "downloads": None, "likes": None, "library_name": None,
        "pipeline_tag": None, "tags": None, "base_models": None, "siblings": None,
        **{column: counts.get(column) for column in _COUNT_COLUMNS},
        "info": info, "info_status": "ok" if info is not None else _INFO_NULL,
    }
    if info is not None:
        tags = [t for t in _pick(info, "tags") or [] if isinstance(t, str)]
        row.update({
            "author": _text(info, "author"),
            "created_at": utc_iso(_pick(info, "created_at", "createdAt")),
            "last_modified": utc_iso(_pick(info, "last_modified", "lastModified")),
            "license": _license(tags, card_meta),
            "gated": _gated(_pick(info, "gated")),
            "downloads": _int(_pick(info, "downloads")),
            "likes": _int(_pick(info, "likes")),
            "library_name": _text(info, "library_name", "libraryName"),
            "pipeline_tag": _text(info, "pipeline_tag", "pipelineTag"),
            "tags": tags,
            "base_models": _base_models(tags, _pick(info, "base_models", "baseModels")),
            "siblings": _siblings(_pick(info, "siblings")),
        })
    out: list[Record | Skip] = [Record("hub_model", row, url, loc, snapshot)]
    for key, (relation, _) in RELATIONS.items():
        for position, child in enumerate(obj["children"].get(key) or []):
            out.append(Record("hub_child", {"tree": tree, "parent": model_id, "child": child,
                                            "relation": relation, "position": position},
                              url, loc, snapshot))
    if obj["card_yaml"] is not None:
        meta = parse_card_yaml(obj["card_yaml"])
        out.append(Record("model_card", card_row(
            meta, id=model_id, yaml_raw=obj["card_yaml"], yaml_collapsed=False,
            origin="hf-trees", repo_type="model", url=url, source_host="huggingface.co",
            revision=None, body=obj["card_body"]), url, loc, snapshot))
        if meta.status in ("recovered", "raw"):
            out.append(card_skip(ctx, loc, meta))
    yield from out


def _hub_id(value: str) -> str:
    text = value.strip()
    return text[len(HUB):] if text.startswith(HUB) else text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any) -> int | None:
    return value if _is_int(value) and -(2**63) <= value < 2**63 else None


def _pick(info: dict[str, Any], *keys: str) -> Any:
    """The first non-null of the duplicate keys (snake_case first)."""
    for key in keys:
        if info.get(key) is not None:
            return info[key]
    return None


def _text(info: dict[str, Any], *keys: str) -> str | None:
    value = _pick(info, *keys)
    return value if isinstance(value, str) and value.strip() else None


def _gated(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) and value else None


def _license(tags: list[str], card: Any) -> str | None:
    """The Hub's own `license:` tag(s), else the licence in info's card data."""
    found = [t.split(":", 1)[1] for t in tags if t.startswith("license:") and t[8:]]
    if found:
        return ", ".join(dict.fromkeys(found))
    return card.license if card is not None else None


def _base_models(tags: list[str], declared: Any) -> list[dict[str, str | None]]:
    """[{id, relation}] from ``base_model:<id>``/``base_model:<relation>:<id>`` tags and
    a `baseModels` field ({relation, models: [{id}]}); one entry per id, relation kept."""
    found: dict[str, str | None] = {}

    def add(model: Any, relation: Any) -> None:
        if isinstance(model, dict):
            model = model.get("id")
        if isinstance(model, str) and model:
            rel = relation if isinstance(relation, str) and relation else None
            found[model] = found.get(model) or rel

    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        rest = tag[len("base_model:"):]
        relation, sep, model = rest.partition(":")
        if sep and "/" not in relation:
            add(model, relation)
        else:
            add(rest, None)
    for entry in declared if isinstance(declared, list) else [declared]:
        if isinstance(entry, dict) and isinstance(entry.get("models"), list):
            for model in entry["models"]:
                add(model, entry.get("relation"))
        else:
            add(entry, None)
    return [{"id": model, "relation": relation} for model, relation in found.items()]


def _siblings(value: Any) -> list[str] | None:
    """File names from ``RepoSibling(rfilename='…', …)`` reprs (or {rfilename} objects)."""
    if not isinstance(value, list):
        return None
    names: list[str] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("rfilename"), str):
            names.append(item["rfilename"])
        elif isinstance(item, str):
            match = _RFILENAME.search(item)
            if match:
                try:
                    names.append(ast.literal_eval(match.group(1)))
                except (ValueError, SyntaxError):
                    names.append(match.group(1)[1:-1])
    return names


READERS = [HubTreesReader()]
