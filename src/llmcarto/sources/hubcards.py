"""Hugging Face card front matter: a tolerant parser and the `hf-cards` reader.

Card front matter is YAML, but the copies we get are not always YAML any more: stored
page copies may have their line breaks collapsed to spaces, lose the indentation of
nested blocks, or be cut mid-value. `parse_card_yaml` therefore never raises. It reports
how far it got in `CardMeta.status`:

* ``parsed``    — `yaml.safe_load` gave a mapping (the same loader huggingface_hub's
  `RepoCard` uses); fields are read from it.
* ``recovered`` — the text is collapsed or not valid YAML, but the documented regex
  recovery below found at least one of licence, base model(s), base-model relation,
  datasets, languages. Lower confidence: use with care.
* ``raw``       — nothing usable; only the text is kept.
* ``absent``    — no front matter at all.

huggingface_hub's `ModelCardData` is not used for the fields: it stores `license`,
`base_model`, `datasets` and `language` exactly as the YAML gives them (str or list) and
raises on the malformed cards we most need to keep, so it would add nothing over reading
the mapping and normalising str|list ourselves. Its front-matter regex is used to strip
``---`` delimiters when a whole README is passed.

Recovery (used for collapsed or broken front matter only): top-level keys are found as
``key:`` at a line start (text with line breaks) or after whitespace (collapsed text).
A wanted key's value runs to the next key. A value starting with ``-`` is a block list
(items split on ``-`` after whitespace), one starting with ``[`` a flow list, anything
else a scalar. From every item only the first whitespace-free token is kept (ids,
licence and language codes contain no spaces; this also drops ``# comments``), quotes are
removed, and a token with an unclosed quote (a value cut by the excerpt) or with
characters outside ``[A-Za-z0-9_.+/-]`` is dropped. The first occurrence of a key wins.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml
from huggingface_hub.repocard import REGEX_YAML_BLOCK

from llmcarto.sources.base import ReadContext, Record, Skip

STATUSES = ("parsed", "recovered", "raw", "absent")

#: Shared by the hf-cards and hf-trees readers (one table, `origin` says which).
MODEL_CARD_COLUMNS = (
    "id VARCHAR, repo_type VARCHAR, case_key VARCHAR, role VARCHAR, url VARCHAR, "
    "source_host VARCHAR, revision VARCHAR, yaml_raw VARCHAR, yaml_collapsed BOOLEAN, "
    "yaml_status VARCHAR, yaml_error VARCHAR, license VARCHAR, base_model VARCHAR[], "
    "base_model_relation VARCHAR, datasets VARCHAR[], languages VARCHAR[], card_data JSON, "
    "body VARCHAR, page_facts JSON, notes VARCHAR, origin VARCHAR"
)

_RECOVER_KEYS = ("license", "base_model", "base_model_relation", "datasets", "language")
_KEY_AT_LINE_START = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?=\s|$)", re.M)
_KEY_AFTER_SPACE = re.compile(r"(?:^|(?<=\s))([A-Za-z_][A-Za-z0-9_.-]*):(?=\s|$)")
_LIST_ITEM_SPLIT = re.compile(r"(?:^|\s+)-(?:\s+|$)")
_TOKEN_OK = re.compile(r"^[A-Za-z0-9_.+/-]+$")


@dataclass(frozen=True)
class CardMeta:
    """What a card's front matter says, and how sure we are (`status`, see module doc)."""

    status: str
    data: dict[str, Any] | None = None  # the parsed mapping (JSON-safe); None unless parsed
    license: str | None = None
    base_model: tuple[str, ...] = ()
    base_model_relation: str | None = None
    datasets: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    error: str | None = None  # why the text did not parse (None when parsed or absent)


def parse_card_yaml(text: str | None, *, collapsed: bool = False) -> CardMeta:
    """Parse front matter `text` (without or with ``---`` delimiters); never raises.

    `collapsed` says the copy lost its line breaks: such text is never trusted as YAML
    (a collapsed mapping can still load as a wrong one-key mapping) and goes to recovery.
    """
    if text is None or not text.strip():
        return CardMeta("absent")
    block = REGEX_YAML_BLOCK.search(text)  # anchored at the start of the text
    if block:
        text = block.group(2)
    if collapsed:
        return _recover(text, "front matter is collapsed (line breaks lost); not read as YAML")
    try:
        loaded = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
        return _recover(text, f"not valid YAML: {_one_line(exc)}")
    if not isinstance(loaded, dict):
        return _recover(text, f"front matter is a {type(loaded).__name__}, not a mapping")
    data = _jsonable(loaded)
    return CardMeta(
        "parsed",
        data=data,
        license=_license(data.get("license")),
        base_model=_str_list(data.get("base_model")),
        base_model_relation=_scalar(data.get("base_model_relation")),
        datasets=_str_list(data.get("datasets")),
        languages=_str_list(data.get("language"), language=True),
        error=None,
    )


def recover_fields(text: str) -> dict[str, list[str]]:
    """The regex recovery of the module doc: wanted key -> tokens found (first key wins)."""
    pattern = _KEY_AT_LINE_START if "\n" in text.strip() else _KEY_AFTER_SPACE
    keys = list(pattern.finditer(text))
    found: dict[str, list[str]] = {}
    for i, match in enumerate(keys):
        key = match.group(1)
        if key not in _RECOVER_KEYS or key in found:
            continue
        end = keys[i + 1].start() if i + 1 < len(keys) else len(text)
        found[key] = _value_tokens(text[match.end(): end].strip())
    return {k: v for k, v in found.items() if v}


def _recover(text: str, error: str) -> CardMeta:
    got = recover_fields(text)
    if not got:
        return CardMeta("raw", error=error)
    licenses = got.get("license", [])
    relation = got.get("base_model_relation", [])
    return CardMeta(
        "recovered",
        data=None,
        license=", ".join(licenses) if licenses else None,
        base_model=tuple(got.get("base_model", [])),
        base_model_relation=relation[0] if relation else None,
        datasets=tuple(got.get("datasets", [])),
        languages=tuple(got.get("language", [])),
        error=error,
    )


def _value_tokens(value: str) -> list[str]:
    if not value:
        return []
    if value.startswith("["):
        items = value[1:].split("]", 1)[0].split(",")
    elif value.startswith("-"):
        items = _LIST_ITEM_SPLIT.split(value)
    else:
        items = [value]
    out = []
    for item in items:
        parts = item.split()
        if not parts:
            continue
        token = parts[0]
        if token[0] in "'\"":
            if len(token) < 2 or token[-1] != token[0]:
                continue  # cut mid-value
            token = token[1:-1]
        if _TOKEN_OK.match(token) and token not in out:
            out.append(token)
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _jsonable(value: Any) -> Any:
    """YAML values as plain JSON: str keys, ISO dates, no NaN/inf, sets as lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _scalar(value: Any, *, language: bool = False) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        # YAML 1.1 reads the bare language code `no` (Norwegian) as false.
        return ("no" if not value else "yes") if language else str(value).lower()
    text = str(value).strip()
    return text or None


def _str_list(value: Any, *, language: bool = False) -> tuple[str, ...]:
    """A card field that may be a string or a list of strings, as a tuple of strings."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        text = _scalar(item, language=language)
        if text is not None and text not in out:
            out.append(text)
    return tuple(out)


def _license(value: Any) -> str | None:
    items = _str_list(value)
    return ", ".join(items) if items else None


def card_row(meta: CardMeta, *, id: str, yaml_raw: str | None, yaml_collapsed: bool | None,
             origin: str, repo_type: str | None = "model", case_key: str | None = None,
             role: str | None = None, url: str | None = None,
             source_host: str | None = None, revision: str | None = None,
             body: str | None = None, page_facts: Any = None,
             notes: str | None = None) -> dict[str, Any]:
    """One `model_card` row (the columns of MODEL_CARD_COLUMNS) from a parsed card."""
    return {
        "id": id, "repo_type": repo_type, "case_key": case_key, "role": role, "url": url,
        "source_host": source_host, "revision": revision, "yaml_raw": yaml_raw,
        "yaml_collapsed": yaml_collapsed, "yaml_status": meta.status,
        "yaml_error": meta.error, "license": meta.license,
        "base_model": list(meta.base_model), "base_model_relation": meta.base_model_relation,
        "datasets": list(meta.datasets), "languages": list(meta.languages),
        "card_data": meta.data, "body": body, "page_facts": page_facts, "notes": notes,
        "origin": origin,
    }


def card_skip(ctx: ReadContext, loc: str, meta: CardMeta) -> Skip:
    """The report of a front matter that did not parse; its row is still kept (`kept`)."""
    return Skip(ctx.name, loc, f"card front matter not parsed ({meta.error}); "
                               f"kept raw with yaml_status={meta.status}", kept=True)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def iter_json_lines(ctx: ReadContext) -> Iterator[tuple[int, Any] | Skip]:
    """(line number, decoded JSON) per non-blank line of a JSONL file, or a Skip.

    Lines are decoded one by one so a single bad line (not UTF-8, not JSON, NaN) is one
    Skip and the lines around it still load.
    """
    with ctx.path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            loc = f"line {number}"
            try:
                text = raw.decode("utf-8")
                value = json.loads(text, parse_constant=_reject_constant)
            except UnicodeDecodeError as exc:
                yield Skip(ctx.name, loc, f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            except (ValueError, RecursionError) as exc:
                yield Skip(ctx.name, loc, f"not a JSON line ({_one_line(exc)})")
                continue
            yield number, value


def checked_json_lines(ctx: ReadContext, problem_of: Callable[[Any], str | None]
                       ) -> Iterator[tuple[str, Any] | Skip]:
    """(loc, decoded JSON) per line that `problem_of` finds no problem with; a line it
    does, or one `iter_json_lines` cannot decode, is a Skip naming the line."""
    for item in iter_json_lines(ctx):
        if isinstance(item, Skip):
            yield item
            continue
        number, obj = item
        loc = f"line {number}"
        problem = problem_of(obj)
        if problem:
            yield Skip(ctx.name, loc, problem)
            continue
        yield loc, obj


_CARD_FIELDS = {"id": str, "url": str}
_CARD_OPTIONAL = ("repo_type", "case", "role", "source_host", "revision", "yaml",
                  "body_head", "notes")


class HubCardsReader:
    """`hf-cards/cards.jsonl`: one stored copy of a Hub card per line, every copy kept."""

    kind = "hf-cards"
    description = ("Hugging Face card front matter copies (cards.jsonl: id, url, "
                   "source_host, yaml, yaml_collapsed, body_head, page_facts, notes)")
    tables = {"model_card": MODEL_CARD_COLUMNS}

    def detect(self, name: str, head: bytes) -> bool:
        first = head.split(b"\n", 1)[0].lstrip(b"\xef\xbb\xbf \t")
        if not first.startswith(b"{"):
            return False
        # `"yaml"` also matches `"yaml_collapsed"`; a long first line may be cut before it.
        return all(key in first for key in (b'"repo_type"', b'"source_host"', b'"yaml'))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        for item in checked_json_lines(ctx, _card_problem):
            if isinstance(item, Skip):
                yield item
                continue
            loc, obj = item
            collapsed = obj.get("yaml_collapsed")
            meta = parse_card_yaml(obj.get("yaml"), collapsed=bool(collapsed))
            row = card_row(
                meta, id=obj["id"], yaml_raw=obj.get("yaml"), yaml_collapsed=collapsed,
                origin=self.kind, repo_type=obj.get("repo_type"), case_key=obj.get("case"),
                role=obj.get("role"), url=obj["url"], source_host=obj.get("source_host"),
                revision=obj.get("revision"), body=obj.get("body_head"),
                page_facts=obj.get("page_facts"), notes=obj.get("notes"))
            yield Record("model_card", row, obj["url"], loc, None)
            if meta.status in ("recovered", "raw"):
                yield card_skip(ctx, loc, meta)


def _card_problem(obj: Any) -> str | None:
    """Why a decoded line is not a card record (None when it is one)."""
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not a card object"
    for key, typ in _CARD_FIELDS.items():
        if not isinstance(obj.get(key), typ) or not obj[key].strip():
            return f"field '{key}' missing or not a non-empty string"
    for key in _CARD_OPTIONAL:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return f"field '{key}' is a {type(obj[key]).__name__}, not a string or null"
    if obj.get("yaml_collapsed") is not None and not isinstance(obj["yaml_collapsed"], bool):
        return "field 'yaml_collapsed' is not true, false or null"
    facts = obj.get("page_facts")
    if facts is not None and not isinstance(facts, list):
        return "field 'page_facts' is not a list or null"
    return None


READERS = [HubCardsReader()]
