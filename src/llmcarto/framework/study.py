"""The study's model (arXiv:2509.25397) as typed, validated, immutable objects.

`study.yaml` is edited by hand and read by analysis and the atlas; checking its shape once,
here, means a typo fails loudly with file, line and field instead of silently dropping a
stage or an on-ramp from the map. The study's placement of cases in governance boxes is
deliberately absent (it lives in cases.yaml) so inference code reading this cannot peek.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from llmcarto.errors import FrameworkError
from llmcarto.framework.validate import Checker, parse_document
from llmcarto.framework.yamlfile import PathKey

SUPPORTED_VERSION = 1
STAGE_KEYS = ("pre-training", "post-training", "post-release")
ARTEFACT_DOMAIN_KEYS = ("models", "data", "software", "evaluation", "compute", "community")
MOTIVATION_FAMILY_KEYS = ("social", "economic", "technological")
GOVERNANCE_COLUMN_KEYS = ("company", "research-institute", "grassroots")
GOVERNANCE_ROWS = (1, 2)
SAMPLED_ORGANISATION_TYPES = 4
EVIDENCE_KINDS = ("quote", "paraphrase")

_KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Evidence:
    """One piece of the study's evidence; `source` makes every claim checkable."""

    text: str
    kind: str  # "quote" (an interviewee's words) or "paraphrase" (the authors' words)
    attribution: str | None  # case key (cases.yaml) the evidence speaks for, or None
    source: str  # e.g. "study slide 21" or "framework.md §3"


@dataclass(frozen=True)
class OnRamp:
    """A collaboration on-ramp or challenge of a stage (same shape, different list)."""

    key: str
    name: str
    description: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Activity:
    key: str
    name: str


@dataclass(frozen=True)
class Stage:
    """A lifecycle stage; `order` is 1-based and matches its position in `Study.stages`."""

    key: str
    name: str
    order: int
    definition: str
    activities: tuple[Activity, ...]
    onramps: tuple[OnRamp, ...]
    challenges: tuple[OnRamp, ...]


@dataclass(frozen=True)
class Milestone:
    """Public release of weights: sits between `after` and `before` (stage keys)."""

    key: str
    name: str
    after: str
    before: str


@dataclass(frozen=True)
class ArtefactDomain:
    key: str
    name: str
    description: str


@dataclass(frozen=True)
class MotivationExample:
    key: str
    name: str


@dataclass(frozen=True)
class MotivationFamily:
    key: str
    name: str
    examples: tuple[MotivationExample, ...]


@dataclass(frozen=True)
class Motivations:
    """Families plus named examples the public sources do not assign to a family."""

    families: tuple[MotivationFamily, ...]
    unassigned_examples: tuple[MotivationExample, ...]
    note: str


@dataclass(frozen=True)
class OrganisationType:
    """A legend entry of the study's map; `sampled` is False for organisations only mentioned."""

    key: str
    name: str  # spelled as in cases.yaml registry.vocabularies.organisation_type
    sampled: bool


@dataclass(frozen=True)
class GovernanceColumn:
    key: str
    name: str


@dataclass(frozen=True)
class GovernanceBox:
    """A cell of the 3x2 governance grid; `examples` are the slide's project names only."""

    key: str
    column: str
    row: int
    name: str  # spelled as in cases.yaml registry.vocabularies.study_box
    examples: tuple[str, ...]
    among_cases: bool
    description: str


@dataclass(frozen=True)
class Recommendation:
    key: str
    text: str


@dataclass(frozen=True)
class Stakeholder:
    key: str
    name: str
    recommendations: tuple[Recommendation, ...]


@dataclass(frozen=True)
class StudyReference:
    citation: str
    url: str
    licence: str
    slides: str


@dataclass(frozen=True)
class Study:
    """The whole model; lookups raise KeyError naming the known keys."""

    version: int
    reference: StudyReference
    stages: tuple[Stage, ...]
    milestone: Milestone
    artefact_domains: tuple[ArtefactDomain, ...]
    motivations: Motivations
    organisation_types: tuple[OrganisationType, ...]
    governance_columns: tuple[GovernanceColumn, ...]
    governance_boxes: tuple[GovernanceBox, ...]
    recommendations: tuple[Stakeholder, ...]
    source: str  # the file it was read from, for messages

    @property
    def stage_keys(self) -> tuple[str, ...]:
        return tuple(stage.key for stage in self.stages)

    def stage(self, key: str) -> Stage:
        return _lookup(self.stages, "key", key, "stage")

    def box(self, key: str) -> GovernanceBox:
        return _lookup(self.governance_boxes, "key", key, "governance box")

    def box_by_name(self, name: str) -> GovernanceBox:
        """Find a box by its cases.yaml spelling (e.g. "single-company projects")."""
        return _lookup(self.governance_boxes, "name", name, "governance box name")

    def artefact_domain(self, key: str) -> ArtefactDomain:
        return _lookup(self.artefact_domains, "key", key, "artefact domain")


def _lookup(items: Iterable[Any], attr: str, value: str, what: str) -> Any:
    items = tuple(items)
    for item in items:
        if getattr(item, attr) == value:
            return item
    known = ", ".join(repr(getattr(item, attr)) for item in items)
    raise KeyError(f"unknown {what} {value!r}; known: {known}")


def load_study(path: Path | None = None) -> Study:
    """Load and validate the study model; the packaged file is parsed once per process."""
    if path is None:
        return _packaged_study()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FrameworkError(f"{path}: cannot read the study model: {exc}") from exc
    return parse_study(text, str(path))


@cache
def _packaged_study() -> Study:
    resource = files("llmcarto.framework") / "study.yaml"
    return parse_study(resource.read_text(encoding="utf-8"), str(resource))


def parse_study(text: str, filename: str = "<study.yaml>") -> Study:
    """Parse YAML text into a validated `Study`; raise FrameworkError on any violation."""
    return _Reader(parse_document(text, filename)).study()


class _Reader(Checker):
    """Walks the parsed YAML, keeping the path so every error names file, line and field."""

    # -- primitives -------------------------------------------------------------------

    def mapping(self, value: Any, path: PathKey, allowed: Iterable[str]) -> dict[str, Any]:
        """Require a mapping with exactly the `allowed` fields (typos must not pass silently)."""
        allowed = tuple(allowed)
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping with fields {', '.join(allowed)}")
        missing = [name for name in allowed if name not in value]
        if missing:
            raise self.fail(path, f"missing field(s) {', '.join(missing)}")
        unknown = [str(name) for name in value if name not in allowed]
        if unknown:
            raise self.fail(
                (*path, unknown[0]),
                f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}",
            )
        return value

    def text(self, value: Any, path: PathKey) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "expected non-empty text")
        return value.strip()

    def key(self, value: Any, path: PathKey) -> str:
        text = self.text(value, path)
        if not _KEBAB.match(text):
            raise self.fail(path, f"key {text!r} is not kebab-case (a-z, 0-9 and '-')")
        return text

    def integer(self, value: Any, path: PathKey) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer, got {value!r}")
        return value

    def boolean(self, value: Any, path: PathKey) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {value!r}")
        return value

    def sequence(self, value: Any, path: PathKey, *, min_items: int = 0) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, "expected a list")
        if len(value) < min_items:
            raise self.fail(path, f"expected at least {min_items} item(s), found {len(value)}")
        return value

    def key_names(self, value: Any, path: PathKey, *, min_items: int = 1) -> list[tuple[str, str]]:
        """A list of {key, name} mappings, as (key, name) pairs."""
        pairs = []
        for i, raw in enumerate(self.sequence(value, path, min_items=min_items)):
            item = self.mapping(raw, (*path, i), ("key", "name"))
            pairs.append(
                (
                    self.key(item["key"], (*path, i, "key")),
                    self.text(item["name"], (*path, i, "name")),
                )
            )
        return pairs

    def unique(self, values: Iterable[tuple[str, PathKey]], what: str) -> None:
        seen: set[str] = set()
        for value, path in values:
            if value in seen:
                raise self.fail(path, f"duplicate {what}: {value!r}")
            seen.add(value)

    def exact_keys(
        self, found: list[str], expected: tuple[str, ...], path: PathKey, what: str
    ) -> None:
        """Require exactly `expected`, in that order; say what is missing or extra."""
        if tuple(found) == expected:
            return
        missing = [key for key in expected if key not in found]
        extra = [key for key in found if key not in expected]
        details = []
        if missing:
            details.append(f"missing {', '.join(repr(key) for key in missing)}")
        if extra:
            details.append(f"unexpected {', '.join(repr(key) for key in extra)}")
        if not details:
            details.append(f"found in the order {', '.join(found)}")
        raise self.fail(
            path,
            f"expected exactly {len(expected)} {what} ({', '.join(expected)}), "
            f"found {len(found)}: {'; '.join(details)}",
        )

    # -- sections ---------------------------------------------------------------------

    def study(self) -> Study:
        root = self.mapping(
            self.doc.data,
            (),
            (
                "version",
                "study",
                "stages",
                "milestone",
                "artefact_domains",
                "motivations",
                "organisation_types",
                "governance",
                "recommendations",
            ),
        )
        version = self.integer(root["version"], ("version",))
        if version != SUPPORTED_VERSION:
            raise self.fail(
                ("version",),
                f"unsupported version {version}; this llmcarto reads version "
                f"{SUPPORTED_VERSION} (upgrade llmcarto or convert the file)",
            )
        stages = self.stages(root["stages"], ("stages",))
        columns = self.governance_columns(root["governance"])
        return Study(
            version=version,
            reference=self.reference(root["study"], ("study",)),
            stages=stages,
            milestone=self.milestone(root["milestone"], ("milestone",), stages),
            artefact_domains=self.artefact_domains(root["artefact_domains"], ("artefact_domains",)),
            motivations=self.motivations(root["motivations"], ("motivations",)),
            organisation_types=self.organisation_types(
                root["organisation_types"], ("organisation_types",)
            ),
            governance_columns=columns,
            governance_boxes=self.governance_boxes(root["governance"], columns),
            recommendations=self.recommendations(root["recommendations"], ("recommendations",)),
            source=self.doc.filename,
        )

    def reference(self, value: Any, path: PathKey) -> StudyReference:
        data = self.mapping(value, path, ("citation", "url", "licence", "slides"))
        return StudyReference(**{name: self.text(data[name], (*path, name)) for name in data})

    def stages(self, value: Any, path: PathKey) -> tuple[Stage, ...]:
        items = self.sequence(value, path)
        keys = [item.get("key") if isinstance(item, dict) else None for item in items]
        self.unique(
            ((key, (*path, i, "key")) for i, key in enumerate(keys) if isinstance(key, str)),
            "stage key",
        )
        self.exact_keys([str(key) for key in keys], STAGE_KEYS, path, "stages")
        stages = tuple(self.stage(item, (*path, i)) for i, item in enumerate(items))
        for position, stage in enumerate(stages, start=1):
            if stage.order != position:
                raise self.fail(
                    (*path, position - 1, "order"),
                    f"stage {stage.key!r} has order {stage.order}, expected {position}",
                )
        return stages

    def stage(self, value: Any, path: PathKey) -> Stage:
        data = self.mapping(
            value,
            path,
            ("key", "name", "order", "definition", "activities", "onramps", "challenges"),
        )
        activities = tuple(
            Activity(key, name)
            for key, name in self.key_names(data["activities"], (*path, "activities"))
        )
        self.unique(
            ((a.key, (*path, "activities", i, "key")) for i, a in enumerate(activities)),
            "activity key",
        )
        onramps = self.onramps(data["onramps"], (*path, "onramps"), min_items=1)
        challenges = self.onramps(data["challenges"], (*path, "challenges"), min_items=0)
        self.unique(
            [(r.key, (*path, "onramps", i, "key")) for i, r in enumerate(onramps)]
            + [(c.key, (*path, "challenges", i, "key")) for i, c in enumerate(challenges)],
            "on-ramp/challenge key (unique within a stage)",
        )
        return Stage(
            key=self.key(data["key"], (*path, "key")),
            name=self.text(data["name"], (*path, "name")),
            order=self.integer(data["order"], (*path, "order")),
            definition=self.text(data["definition"], (*path, "definition")),
            activities=activities,
            onramps=onramps,
            challenges=challenges,
        )

    def onramps(self, value: Any, path: PathKey, *, min_items: int) -> tuple[OnRamp, ...]:
        result = []
        for i, raw in enumerate(self.sequence(value, path, min_items=min_items)):
            p = (*path, i)
            data = self.mapping(raw, p, ("key", "name", "description", "evidence"))
            evidence = self.sequence(data["evidence"], (*p, "evidence"), min_items=1)
            result.append(
                OnRamp(
                    key=self.key(data["key"], (*p, "key")),
                    name=self.text(data["name"], (*p, "name")),
                    description=self.text(data["description"], (*p, "description")),
                    evidence=tuple(
                        self.evidence(item, (*p, "evidence", j)) for j, item in enumerate(evidence)
                    ),
                )
            )
        return tuple(result)

    def evidence(self, value: Any, path: PathKey) -> Evidence:
        if isinstance(value, dict) and not value.get("source"):
            raise self.fail(
                path, "evidence has no source; add e.g. source: study slide 21 or framework.md §3"
            )
        data = self.mapping(value, path, ("text", "kind", "attribution", "source"))
        kind = self.text(data["kind"], (*path, "kind"))
        if kind not in EVIDENCE_KINDS:
            raise self.fail((*path, "kind"), f"kind {kind!r} is not one of {EVIDENCE_KINDS}")
        attribution = data["attribution"]
        return Evidence(
            text=self.text(data["text"], (*path, "text")),
            kind=kind,
            attribution=None
            if attribution is None
            else self.key(attribution, (*path, "attribution")),
            source=self.text(data["source"], (*path, "source")),
        )

    def milestone(self, value: Any, path: PathKey, stages: tuple[Stage, ...]) -> Milestone:
        data = self.mapping(value, path, ("key", "name", "after", "before"))
        milestone = Milestone(
            key=self.key(data["key"], (*path, "key")),
            name=self.text(data["name"], (*path, "name")),
            after=self.key(data["after"], (*path, "after")),
            before=self.key(data["before"], (*path, "before")),
        )
        order = {stage.key: stage.order for stage in stages}
        for field in ("after", "before"):
            if getattr(milestone, field) not in order:
                raise self.fail((*path, field), f"{field} must be a stage key ({', '.join(order)})")
        if order[milestone.before] != order[milestone.after] + 1:
            raise self.fail(
                path,
                f"milestone must sit between two consecutive stages; "
                f"{milestone.after!r} and {milestone.before!r} are not",
            )
        return milestone

    def artefact_domains(self, value: Any, path: PathKey) -> tuple[ArtefactDomain, ...]:
        domains = []
        for i, raw in enumerate(self.sequence(value, path)):
            p = (*path, i)
            d = self.mapping(raw, p, ("key", "name", "description"))
            domains.append(
                ArtefactDomain(
                    key=self.key(d["key"], (*p, "key")),
                    name=self.text(d["name"], (*p, "name")),
                    description=self.text(d["description"], (*p, "description")),
                )
            )
        self.unique(((d.key, (*path, i, "key")) for i, d in enumerate(domains)), "domain key")
        self.exact_keys([d.key for d in domains], ARTEFACT_DOMAIN_KEYS, path, "artefact domains")
        return tuple(domains)

    def motivations(self, value: Any, path: PathKey) -> Motivations:
        data = self.mapping(value, path, ("families", "unassigned_examples", "note"))
        examples_seen: list[tuple[str, PathKey]] = []

        def examples(raw_list: Any, p: PathKey) -> tuple[MotivationExample, ...]:
            pairs = self.key_names(raw_list, p, min_items=0)
            examples_seen.extend((key, (*p, j, "key")) for j, (key, _) in enumerate(pairs))
            return tuple(MotivationExample(key, name) for key, name in pairs)

        families = []
        for i, raw in enumerate(self.sequence(data["families"], (*path, "families"))):
            p = (*path, "families", i)
            f = self.mapping(raw, p, ("key", "name", "examples"))
            families.append(
                MotivationFamily(
                    key=self.key(f["key"], (*p, "key")),
                    name=self.text(f["name"], (*p, "name")),
                    examples=examples(f["examples"], (*p, "examples")),
                )
            )
        self.unique(
            ((f.key, (*path, "families", i, "key")) for i, f in enumerate(families)),
            "motivation family key",
        )
        self.exact_keys(
            [f.key for f in families],
            MOTIVATION_FAMILY_KEYS,
            (*path, "families"),
            "motivation families",
        )
        unassigned = examples(data["unassigned_examples"], (*path, "unassigned_examples"))
        self.unique(examples_seen, "motivation example key")
        return Motivations(
            families=tuple(families),
            unassigned_examples=unassigned,
            note=self.text(data["note"], (*path, "note")),
        )

    def organisation_types(self, value: Any, path: PathKey) -> tuple[OrganisationType, ...]:
        types = []
        for i, raw in enumerate(self.sequence(value, path)):
            p = (*path, i)
            t = self.mapping(raw, p, ("key", "name", "sampled"))
            types.append(
                OrganisationType(
                    key=self.key(t["key"], (*p, "key")),
                    name=self.text(t["name"], (*p, "name")),
                    sampled=self.boolean(t["sampled"], (*p, "sampled")),
                )
            )
        self.unique(((t.key, (*path, i, "key")) for i, t in enumerate(types)), "type key")
        self.unique(((t.name, (*path, i, "name")) for i, t in enumerate(types)), "type name")
        sampled = sum(t.sampled for t in types)
        if sampled != SAMPLED_ORGANISATION_TYPES or len(types) != SAMPLED_ORGANISATION_TYPES + 1:
            raise self.fail(
                path,
                f"expected {SAMPLED_ORGANISATION_TYPES} sampled organisation types and 1 "
                f"'mentioned in interviews' type (sampled: false), found {sampled} sampled "
                f"of {len(types)}",
            )
        return tuple(types)

    def governance_columns(self, value: Any) -> tuple[GovernanceColumn, ...]:
        path: PathKey = ("governance",)
        data = self.mapping(value, path, ("columns", "boxes"))
        columns = [
            GovernanceColumn(key, name)
            for key, name in self.key_names(data["columns"], (*path, "columns"))
        ]
        self.unique(
            ((c.key, (*path, "columns", i, "key")) for i, c in enumerate(columns)),
            "governance column key",
        )
        self.exact_keys(
            [c.key for c in columns],
            GOVERNANCE_COLUMN_KEYS,
            (*path, "columns"),
            "governance columns",
        )
        return tuple(columns)

    def governance_boxes(
        self, value: dict[str, Any], columns: tuple[GovernanceColumn, ...]
    ) -> tuple[GovernanceBox, ...]:
        path: PathKey = ("governance", "boxes")
        boxes = []
        fields = ("key", "column", "row", "name", "examples", "among_cases", "description")
        for i, raw in enumerate(self.sequence(value["boxes"], path)):
            p = (*path, i)
            b = self.mapping(raw, p, fields)
            examples = self.sequence(b["examples"], (*p, "examples"), min_items=1)
            boxes.append(
                GovernanceBox(
                    key=self.key(b["key"], (*p, "key")),
                    column=self.key(b["column"], (*p, "column")),
                    row=self.integer(b["row"], (*p, "row")),
                    name=self.text(b["name"], (*p, "name")),
                    examples=tuple(
                        self.text(e, (*p, "examples", j)) for j, e in enumerate(examples)
                    ),
                    among_cases=self.boolean(b["among_cases"], (*p, "among_cases")),
                    description=self.text(b["description"], (*p, "description")),
                )
            )
        self.unique(((b.key, (*path, i, "key")) for i, b in enumerate(boxes)), "box key")
        self.unique(((b.name, (*path, i, "name")) for i, b in enumerate(boxes)), "box name")
        column_keys = [c.key for c in columns]
        cells: dict[tuple[str, int], str] = {}
        for i, box in enumerate(boxes):
            if box.column not in column_keys:
                raise self.fail(
                    (*path, i, "column"),
                    f"box {box.key!r} names unknown column {box.column!r} "
                    f"(columns: {', '.join(column_keys)})",
                )
            if box.row not in GOVERNANCE_ROWS:
                raise self.fail((*path, i, "row"), f"row must be 1 or 2, got {box.row}")
            cell = (box.column, box.row)
            if cell in cells:
                raise self.fail(
                    (*path, i),
                    f"boxes {cells[cell]!r} and {box.key!r} both occupy column "
                    f"{box.column!r}, row {box.row}",
                )
            cells[cell] = box.key
        expected = len(column_keys) * len(GOVERNANCE_ROWS)
        if len(boxes) != expected:
            empty = [
                f"{column} row {row}"
                for column in column_keys
                for row in GOVERNANCE_ROWS
                if (column, row) not in cells
            ]
            raise self.fail(
                path,
                f"expected exactly {expected} governance boxes (3 columns x 2 rows), found "
                f"{len(boxes)}; empty cell(s): {', '.join(empty)}",
            )
        return tuple(boxes)

    def recommendations(self, value: Any, path: PathKey) -> tuple[Stakeholder, ...]:
        stakeholders = []
        for i, raw in enumerate(self.sequence(value, path, min_items=1)):
            p = (*path, i)
            s = self.mapping(raw, p, ("stakeholder", "items"))
            who = self.mapping(s["stakeholder"], (*p, "stakeholder"), ("key", "name"))
            items = []
            for j, raw_item in enumerate(self.sequence(s["items"], (*p, "items"), min_items=1)):
                q = (*p, "items", j)
                item = self.mapping(raw_item, q, ("key", "text"))
                items.append(
                    Recommendation(
                        key=self.key(item["key"], (*q, "key")),
                        text=self.text(item["text"], (*q, "text")),
                    )
                )
            self.unique(
                ((r.key, (*p, "items", j, "key")) for j, r in enumerate(items)),
                "recommendation key",
            )
            stakeholders.append(
                Stakeholder(
                    key=self.key(who["key"], (*p, "stakeholder", "key")),
                    name=self.text(who["name"], (*p, "stakeholder", "name")),
                    recommendations=tuple(items),
                )
            )
        self.unique(
            ((s.key, (*path, i, "stakeholder", "key")) for i, s in enumerate(stakeholders)),
            "stakeholder key",
        )
        return tuple(stakeholders)
