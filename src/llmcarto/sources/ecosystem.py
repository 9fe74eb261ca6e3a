"""Ecosystem graphs (stanford-crfm/ecosystem-graphs): assets and their declared dependencies.

`assets/*.yaml` is the curated source (one YAML list of assets per organisation);
`all_assets.csv` is the project's own flattened export of the same graph. Curators write a
field either as a plain value or as a ``{value, explanation}`` mapping, and dates as YAML
dates, text ("unknown") or bare years, so every such field is normalised *and* kept raw:
a question about the graph must be answerable without re-reading the YAML.

The YAML helpers here (`compose_yaml`, `construct`, `node_line`, `yaml_problem`,
`jsonable`) are shared with `openness.py`: both need located errors from YAML files.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from llmcarto.errors import InputError
from llmcarto.sources.base import CsvRow, ReadContext, Record, Skip, csv_rows, read_text

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
#: what a construct of a composed node can raise on odd input (bad dates, odd tags, depth)
CONSTRUCT_ERRORS = (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError)


# ---------------------------------------------------------------- shared YAML helpers


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of a one-document YAML text: nodes keep their line numbers."""
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def construct(node: yaml.Node) -> Any:
    """Plain Python for one node (safe tags only); may raise one of CONSTRUCT_ERRORS."""
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def node_line(node: yaml.Node | None, *path: str | int) -> int | None:
    """1-based line of the node at `path` (mapping keys / sequence indexes) below `node`."""
    for step in path:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            node = next((v for k, v in node.value
                         if isinstance(k, yaml.ScalarNode) and k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if 0 <= step < len(node.value) else None
        else:
            node = None
        if node is None:
            return None
    return node.start_mark.line + 1 if node is not None else None


def yaml_problem(exc: BaseException) -> tuple[str, str]:
    """(loc, reason) for a YAML error: the line and column PyYAML points at, when it does."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    loc = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else "file"
    lines = str(exc).strip().splitlines()
    problem = getattr(exc, "problem", None) or (lines[0] if lines else type(exc).__name__)
    context = getattr(exc, "context", None)
    return loc, f"YAML does not parse: {context + ', ' if context else ''}{problem}"


def jsonable(value: Any) -> Any:
    """`value` with dates as ISO text and other YAML-only types made JSON-safe."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) \
            else str(value)
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def iso_date(value: Any) -> str | None:
    """YYYY-MM-DD for a date, a datetime or text starting with a valid date; else None."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        match = _DATE.match(value.strip())
        if match:
            try:
                return dt.date(*map(int, match.groups())).isoformat()
            except ValueError:
                return None
    return None


def http_url(value: Any) -> str | None:
    """`value` when it is a single http(s) URL, else None."""
    return value.strip() if isinstance(value, str) and _URL.match(value.strip()) else None


# ---------------------------------------------------------------- field normalisation


def _value_and_explanation(value: Any) -> tuple[Any, str | None]:
    """Split the curators' ``{value, explanation}`` form; a plain value has no explanation."""
    if isinstance(value, Mapping):
        explanation = value.get("explanation")
        return value.get("value"), _text(explanation)
    return value, None


def _text(value: Any) -> str | None:
    """A plain text value ('' and lists are no value; dates become ISO text)."""
    value, _ = _value_and_explanation(value) if isinstance(value, Mapping) else (value, None)
    if value is None or isinstance(value, list | tuple | set | Mapping):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _dependencies(value: Any) -> tuple[list[str], str | None]:
    value, explanation = _value_and_explanation(value)
    if value is None:
        return [], explanation
    if not isinstance(value, list | tuple):
        value = [value]
    deps = [d for d in (_text(v) for v in value) if d is not None]
    return deps, explanation


# ---------------------------------------------------------------- readers

ASSET_COLUMNS = (
    "name VARCHAR, type VARCHAR, organization VARCHAR, nationality VARCHAR, "
    "created_date DATE, created_date_raw JSON, created_date_explanation VARCHAR, "
    "license VARCHAR, license_raw JSON, license_explanation VARCHAR, url VARCHAR, "
    "model_card VARCHAR, datasheet VARCHAR, modality VARCHAR, size VARCHAR, access VARCHAR, "
    "dependencies VARCHAR[], dependencies_explanation VARCHAR, description VARCHAR, "
    "position INTEGER, raw JSON"
)


class EcosystemAssetsReader:
    """assets/*.yaml: one row per asset, one row per declared dependency."""

    kind = "ecosystem-assets"
    description = "ecosystem-graphs asset list (YAML list of models, datasets, applications)"
    tables = {
        "eco_asset": ASSET_COLUMNS,
        "eco_dependency": "asset VARCHAR, asset_type VARCHAR, dependency VARCHAR, "
                          "position INTEGER",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        body = "\n".join(line for line in text.splitlines()
                         if line.strip() and not line.lstrip().startswith("#"))
        return (body.startswith("-") and "created_date:" in text
                and "organization:" in text and ("access:" in text or "type:" in text))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        text = read_text(ctx)
        try:
            root = compose_yaml(text)
        except CONSTRUCT_ERRORS as exc:
            loc, reason = yaml_problem(exc)
            yield Skip(ctx.name, loc, reason + " (the file is skipped: a YAML error cannot be "
                                              "confined to one asset)")
            return
        if root is None:
            yield Skip(ctx.name, "file", "empty YAML document: no assets")
            return
        if not isinstance(root, yaml.SequenceNode):
            yield Skip(ctx.name, f"line {root.start_mark.line + 1}",
                       f"expected a YAML list of assets, found a {root.id}")
            return
        file_url = ctx.extras.get("file_url")
        for index, node in enumerate(root.value):
            line = node.start_mark.line + 1
            loc = f"asset {index + 1} (line {line})"
            try:
                asset = construct(node)
            except CONSTRUCT_ERRORS as exc:
                where, reason = yaml_problem(exc)
                yield Skip(ctx.name, loc if where == "file" else f"{loc}, {where}", reason)
                continue
            if not isinstance(asset, Mapping):
                yield Skip(ctx.name, loc, f"asset is a {type(asset).__name__}, not a mapping")
                continue
            name = asset.get("name")
            if isinstance(name, int | float) and not isinstance(name, bool):
                name = str(name)
            if not isinstance(name, str) or not name.strip():
                yield Skip(ctx.name, loc, "asset has no name")
                continue
            yield from self._records(asset, name, index, loc, file_url)

    def _records(self, asset: Mapping[str, Any], name: str, index: int, loc: str,
                 file_url: str | None) -> Iterator[Record]:
        created, created_expl = _value_and_explanation(asset.get("created_date"))
        licence, licence_expl = _value_and_explanation(asset.get("license"))
        deps, deps_expl = _dependencies(asset.get("dependencies"))
        asset_type = _text(asset.get("type"))
        url = _text(asset.get("url"))
        source_url = http_url(url) or file_url
        yield Record("eco_asset", {
            "name": name, "type": asset_type, "organization": _text(asset.get("organization")),
            "nationality": _text(asset.get("nationality")),
            "created_date": iso_date(created),
            "created_date_raw": jsonable(asset.get("created_date")),
            "created_date_explanation": created_expl,
            "license": _text(licence), "license_raw": jsonable(asset.get("license")),
            "license_explanation": licence_expl, "url": url,
            "model_card": _text(asset.get("model_card")),
            "datasheet": _text(asset.get("datasheet")),
            "modality": _text(asset.get("modality")), "size": _text(asset.get("size")),
            "access": _text(asset.get("access")), "dependencies": deps,
            "dependencies_explanation": deps_expl,
            "description": _text(asset.get("description")), "position": index + 1,
            "raw": jsonable(asset),
        }, source_url, loc)
        for position, dep in enumerate(deps, start=1):
            yield Record("eco_dependency", {"asset": name, "asset_type": asset_type,
                                            "dependency": dep, "position": position},
                         source_url, loc)


#: the columns of resources/all_assets.csv as of ecosystem-graphs 576655a5
CSV_COLUMNS = (
    "access", "analysis", "created_date", "datasheet", "dependencies", "description",
    "excluded", "feedback", "included", "intended_uses", "license", "modality", "monitoring",
    "name", "nationality", "organization", "prohibited_uses", "quality_control", "sample",
    "size", "type", "url", "model_card", "training_emissions", "training_hardware",
    "training_time", "adaptation", "failures", "monthly_active_users", "output_space",
    "terms_of_service", "user_distribution", "value",
)
_CSV_REQUIRED = {"name", "organization", "created_date", "dependencies", "type", "access"}


def _python_list(text: str | None) -> list[str] | None:
    """"['A', 'B']" (the export writes Python reprs) → ['A', 'B']; None when it is not one."""
    if text is None:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return None


class EcosystemCsvReader:
    """all_assets.csv: the graph's flat export, kept column for column."""

    kind = "ecosystem-csv"
    description = "ecosystem-graphs flat export (all_assets.csv)"
    tables = {
        "eco_asset_csv": ", ".join(f"{c} VARCHAR" for c in CSV_COLUMNS)
        + ", dependencies_list VARCHAR[], created_date_iso DATE, row_number INTEGER, extra JSON",
    }

    def detect(self, name: str, head: bytes) -> bool:
        first = head.decode("utf-8", "replace").lstrip("\ufeff").split("\n", 1)[0]
        try:
            header = next(csv.reader([first]))
        except (csv.Error, StopIteration):
            return False
        return {h.strip() for h in header} >= _CSV_REQUIRED

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        rows = csv_rows(ctx)
        first = next(rows)
        if isinstance(first, Skip):  # an empty file
            yield first
            return
        header = [h.strip() for h in first.cells]
        if not set(header) >= _CSV_REQUIRED:
            raise InputError(f"{ctx.name}: not an ecosystem-graphs export (header lacks "
                             f"{sorted(_CSV_REQUIRED - set(header))})")
        file_url = ctx.extras.get("file_url")
        for item in rows:
            yield item if isinstance(item, Skip) else _csv_record(item, header, file_url)


def _csv_record(item: CsvRow, header: list[str], file_url: str | None) -> Record:
    values = {h: (c if c != "" else None) for h, c in zip(header, item.cells, strict=True)}
    row: dict[str, Any] = {c: values.get(c) for c in CSV_COLUMNS}
    extra = {h: v for h, v in values.items() if h not in row}
    row.update({"dependencies_list": _python_list(values.get("dependencies")),
                "created_date_iso": iso_date(values.get("created_date")),
                "row_number": item.number, "extra": extra or None})
    return Record("eco_asset_csv", row, http_url(values.get("url")) or file_url, item.loc)


READERS: list = [EcosystemAssetsReader(), EcosystemCsvReader()]
