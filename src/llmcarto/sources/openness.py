"""Openness assessments by others: MOT records, Opening-up-ChatGPT projects, FMTI scores.

These are third parties' judgements about models, kept as they wrote them (a class
"partial" stays "partial", a component without a licence states none) so the atlas can
set them beside what the traces show. Each judgement row links to the record that makes
it; the model's own page is kept in its columns.

- MOT (lfai/model_openness_tool): `release.date` is the record's date, not the model's
  release, hence `record_date`.
- Opening up ChatGPT: 14 dimension keys in three groups; `A_sample.yaml` is the empty
  form contributors copy, recognised by its content (no names, links or notes) and skipped.
- FMTI: wide CSVs (indicator × developer) made long; the edition (May2024, Dec2025) comes
  from the file name, or from the source path in the bundle manifest.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from llmcarto.errors import InputError
from llmcarto.sources.base import ReadContext, Record, Skip, csv_rows, read_text
from llmcarto.sources.ecosystem import (
    CONSTRUCT_ERRORS,
    compose_yaml,
    construct,
    http_url,
    iso_date,
    jsonable,
    node_line,
    yaml_problem,
)


def _load(ctx: ReadContext) -> tuple[Any, yaml.Node | None] | Skip:
    """(data, root node) of a one-document YAML file, or one Skip saying where it broke."""
    text = read_text(ctx)
    try:
        root = compose_yaml(text)
        data = construct(root) if root is not None else None
    except CONSTRUCT_ERRORS as exc:
        loc, reason = yaml_problem(exc)
        return Skip(ctx.name, loc, reason)
    return data, root


def _text(value: Any) -> str | None:
    """Scalar as text ('' is no value); mappings and lists are not text."""
    if value is None or isinstance(value, Mapping | list):
        return None
    text = jsonable(value) if not isinstance(value, str) else value
    text = str(text).strip()
    return text or None


def _loc(root: yaml.Node | None, label: str, *path: str | int) -> str:
    line = node_line(root, *path)
    return f"{label} (line {line})" if line else label


# ---------------------------------------------------------------- MOT


class MotReader:
    """models/*.yml of the Model Openness Tool: one model, its components and licences."""

    kind = "mot-model"
    description = "Model Openness Tool record (lfai/model_openness_tool models/*.yml)"
    tables = {
        "mot_model": "name VARCHAR, version VARCHAR, record_date DATE, type VARCHAR, "
                     "architecture VARCHAR, origin VARCHAR, producer VARCHAR, contact VARCHAR, "
                     "huggingface_url VARCHAR, repository_url VARCHAR, "
                     "distribution_license VARCHAR, licenses JSON, framework_name VARCHAR, "
                     "framework_version VARCHAR, framework_date DATE, components INTEGER, "
                     "raw JSON",
        "mot_component": "model VARCHAR, model_version VARCHAR, component VARCHAR, "
                         "position INTEGER, description VARCHAR, license VARCHAR, "
                         "license_stated BOOLEAN, license_path VARCHAR, component_path VARCHAR, "
                         "extra JSON",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        return (re.search(r"(?m)^release:", text) is not None
                and re.search(r"(?m)^framework:", text) is not None
                and ("Model Openness" in text or "components:" in text))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        loaded = _load(ctx)
        if isinstance(loaded, Skip):
            yield loaded
            return
        data, root = loaded
        release = data.get("release") if isinstance(data, Mapping) else None
        if not isinstance(release, Mapping) or _text(release.get("name")) is None:
            yield Skip(ctx.name, _loc(root, "release", "release"),
                       "no release mapping with a name: not a MOT model record")
            return
        framework = data.get("framework") if isinstance(data.get("framework"), Mapping) else {}
        licenses = release.get("license")
        distribution = licenses.get("distribution") if isinstance(licenses, Mapping) else None
        name, version = _text(release["name"]), _text(release.get("version"))
        record_date = iso_date(release.get("date"))
        hf_url = http_url(release.get("huggingface"))
        components = release.get("components")
        components = components if isinstance(components, list) else []
        yield Record("mot_model", {
            "name": name, "version": version, "record_date": record_date,
            "type": _text(release.get("type")), "architecture": _text(release.get("architecture")),
            "origin": _text(release.get("origin")), "producer": _text(release.get("producer")),
            "contact": _text(release.get("contact")), "huggingface_url": hf_url,
            "repository_url": http_url(release.get("repository")),
            "distribution_license": _text(distribution.get("name"))
            if isinstance(distribution, Mapping) else None,
            "licenses": jsonable(licenses) if isinstance(licenses, Mapping) else None,
            "framework_name": _text(framework.get("name")),
            "framework_version": _text(framework.get("version")),
            "framework_date": iso_date(framework.get("date")),
            "components": len(components), "raw": jsonable(data),
        }, hf_url or ctx.extras.get("file_url"), _loc(root, "release", "release"), record_date)
        known = {"name", "description", "license", "license_path", "component_path"}
        for index, comp in enumerate(components):
            loc = _loc(root, f"component {index + 1}", "release", "components", index)
            if not isinstance(comp, Mapping) or _text(comp.get("name")) is None:
                yield Skip(ctx.name, loc, "component is not a mapping with a name")
                continue
            extra = {k: jsonable(v) for k, v in comp.items() if k not in known}
            yield Record("mot_component", {
                "model": name, "model_version": version, "component": _text(comp["name"]),
                "position": index + 1, "description": _text(comp.get("description")),
                "license": _text(comp.get("license")), "license_stated": "license" in comp,
                "license_path": _text(comp.get("license_path")),
                "component_path": _text(comp.get("component_path")),
                "extra": extra or None}, ctx.extras.get("file_url"), loc, record_date)


# ---------------------------------------------------------------- Opening up ChatGPT

#: the 14 dimensions and their groups, in the order of the project form
OSAI_DIMENSIONS: dict[str, str] = {
    "opencode": "availability", "llmdata": "availability", "llmweights": "availability",
    "rldata": "availability", "rlweights": "availability", "license": "availability",
    "code": "documentation", "architecture": "documentation", "preprint": "documentation",
    "paper": "documentation", "modelcard": "documentation", "datasheet": "documentation",
    "package": "access", "api": "access",
}
_PROJECT_FIELDS = ("name", "link", "notes", "llmbase", "rlbase", "license")


def _is_template(project: Mapping[str, Any], org: Mapping[str, Any],
                 dims: Mapping[str, Any]) -> bool:
    """The blank form: no project or org name, and no dimension has a link or a note."""
    if _text(project.get("name")) or _text(org.get("name")):
        return False
    return not any(_text(d.get("link")) or _text(d.get("notes"))
                   for d in dims.values() if isinstance(d, Mapping))


class OsaiReader:
    """projects/*.yaml of Opening up ChatGPT: a project and its 14 openness dimensions."""

    kind = "osai-project"
    description = "Opening up ChatGPT project openness record (projects/*.yaml)"
    tables = {
        "osai_project": "project VARCHAR, name VARCHAR, link VARCHAR, notes VARCHAR, "
                        "llmbase VARCHAR, rlbase VARCHAR, license VARCHAR, org VARCHAR, "
                        "org_link VARCHAR, org_notes VARCHAR, dimensions INTEGER, raw JSON",
        "osai_dimension": "project VARCHAR, dimension VARCHAR, dimension_group VARCHAR, "
                          "position INTEGER, class VARCHAR, link VARCHAR, notes VARCHAR",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = head.decode("utf-8", "replace")
        keys = set(re.findall(r"(?m)^([a-z]+):", text))
        return {"project", "org"} <= keys and len(keys & set(OSAI_DIMENSIONS)) >= 1

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        loaded = _load(ctx)
        if isinstance(loaded, Skip):
            yield loaded
            return
        data, root = loaded
        if not isinstance(data, Mapping) or not isinstance(data.get("project"), Mapping):
            yield Skip(ctx.name, "file", "no project mapping: not an Opening-up-ChatGPT record")
            return
        project, org = data["project"], data.get("org")
        org = org if isinstance(org, Mapping) else {}
        dims = {k: data[k] for k in OSAI_DIMENSIONS if k in data}
        if _is_template(project, org, dims):
            yield Skip(ctx.name, "file", "template: the blank project form (no project or "
                                         "organisation name, no links or notes), not a project")
            return
        key = ctx.path.stem
        link = http_url(project.get("link"))
        fields = {f: _text(project.get(f)) for f in _PROJECT_FIELDS}
        yield Record("osai_project", {
            "project": key, **fields, "org": _text(org.get("name")),
            "org_link": _text(org.get("link")), "org_notes": _text(org.get("notes")),
            "dimensions": sum(isinstance(d, Mapping) for d in dims.values()),
            "raw": jsonable(data)}, link or ctx.extras.get("file_url"),
            _loc(root, "project", "project"))
        for position, (dimension, value) in enumerate(dims.items(), start=1):
            loc = _loc(root, dimension, dimension)
            if not isinstance(value, Mapping):
                yield Skip(ctx.name, loc, f"dimension {dimension} is not a mapping")
                continue
            yield Record("osai_dimension", {
                "project": key, "dimension": dimension,
                "dimension_group": OSAI_DIMENSIONS[dimension], "position": position,
                "class": _text(value.get("class")), "link": _text(value.get("link")),
                "notes": _text(value.get("notes"))}, ctx.extras.get("file_url"), loc)


# ---------------------------------------------------------------- FMTI

_EDITION = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*[ _-]?(\d{4})")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _edition(ctx: ReadContext) -> tuple[str | None, str | None]:
    """('May2024', '2024-05-01') from the file name, else from the source path."""
    for text in (ctx.name.rsplit("/", 1)[-1], str(ctx.extras.get("file_url") or "")):
        match = _EDITION.search(text)
        if match:
            month = _MONTHS.index(match.group(1)) + 1
            return f"{match.group(1)}{match.group(2)}", f"{match.group(2)}-{month:02d}-01"
    return None, None


def _fmti_header(head: bytes) -> tuple[list[str], list[list[str]]] | None:
    """Header and the complete rows inside `head` of an FMTI table (first cell 'Indicator')."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    complete = text[: text.rfind("\n") + 1] if "\n" in text else text
    try:
        rows = list(csv.reader(io.StringIO(complete)))
    except csv.Error:
        rows = [next(csv.reader([text.split("\n", 1)[0]]), [])]
    if not rows or not rows[0] or rows[0][0].strip().lower() != "indicator" or len(rows[0]) < 3:
        return None
    return rows[0], rows[1:-1] if len(rows) > 2 else rows[1:]


def _all_numbers(rows: list[list[str]]) -> bool | None:
    cells = [c.strip() for row in rows for c in row[1:] if c.strip()]
    if not cells:
        return None
    return all(re.fullmatch(r"-?\d+(\.\d+)?", c) for c in cells)


class _FmtiReader:
    """A wide FMTI table: first column the indicator, then one column per developer."""

    kind = ""
    description = ""
    table = ""
    numeric = False
    name_hint = ""
    tables: dict[str, str] = {}

    def detect(self, name: str, head: bytes) -> bool:
        found = _fmti_header(head)
        if found is None:
            return False
        numbers = _all_numbers(found[1])
        if numbers is None:  # nothing but the header in view: the name decides
            return self.name_hint in name.lower()
        return numbers == self.numeric

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        edition, day = _edition(ctx)
        file_url = ctx.extras.get("file_url")
        rows = csv_rows(ctx, spaces_are_blank=True)
        first = next(rows)
        if isinstance(first, Skip):  # an empty file
            yield first
            return
        header = first.cells
        if not header or header[0].strip().lower() != "indicator":
            raise InputError(f"{ctx.name}: not an FMTI table (first column is not "
                             f"'Indicator')")
        developers = [h.strip() for h in header[1:]]
        for item in rows:
            if isinstance(item, Skip):
                yield item
                continue
            indicator = item.cells[0].strip()
            for developer, cell in zip(developers, item.cells[1:], strict=True):
                yield from self._cell(ctx, edition, indicator, item.number, developer, cell,
                                      f"{item.loc} column {developer}", file_url, day)

    def _cell(self, ctx: ReadContext, edition: str | None, indicator: str, number: int,
              developer: str, cell: str, loc: str, file_url: str | None,
              day: str | None) -> Iterator[Record | Skip]:
        raise NotImplementedError


class FmtiDisclosureReader(_FmtiReader):
    kind = "fmti-disclosures"
    description = "Foundation Model Transparency Index disclosures (indicator × developer text)"
    table = "fmti_disclosure"
    numeric = False
    name_hint = "disclos"
    tables = {"fmti_disclosure": "edition VARCHAR, indicator VARCHAR, indicator_position "
                                 "INTEGER, developer VARCHAR, disclosure VARCHAR"}

    def _cell(self, ctx, edition, indicator, number, developer, cell, loc, file_url, day):
        yield Record("fmti_disclosure", {
            "edition": edition, "indicator": indicator, "indicator_position": number,
            "developer": developer, "disclosure": cell.strip() or None}, file_url, loc, day)


class FmtiScoreReader(_FmtiReader):
    kind = "fmti-scores"
    description = "Foundation Model Transparency Index scores (indicator × developer, 0/1)"
    table = "fmti_score"
    numeric = True
    name_hint = "score"
    tables = {"fmti_score": "edition VARCHAR, indicator VARCHAR, indicator_position INTEGER, "
                            "developer VARCHAR, score INTEGER, is_total BOOLEAN"}

    def _cell(self, ctx, edition, indicator, number, developer, cell, loc, file_url, day):
        text = cell.strip()
        if text and not re.fullmatch(r"-?\d+", text):
            yield Skip(ctx.name, loc, f"score {text!r} is not an integer")
            return
        yield Record("fmti_score", {
            "edition": edition, "indicator": indicator, "indicator_position": number,
            "developer": developer, "score": int(text) if text else None,
            "is_total": indicator.lower() == "total"}, file_url, loc, day)


READERS: list = [MotReader(), OsaiReader(), FmtiDisclosureReader(), FmtiScoreReader()]
