"""The case registry: the study's 14 cases (and user cases) as typed, sourced facts.

`cases.yaml` in this package is a byte-identical copy of the sourced registry in the
offline data bundle and the only copy llmcarto ships. Every fact keeps its source (or
its null-with-note), so the atlas can cite it. User files (`--cases FILE` or
`LLMCARTO_CASES`) use the same shape; a case key already present is replaced whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from llmcarto.errors import CaseFileError
from llmcarto.framework.validate import Checker, parse_document
from llmcarto.framework.yamlfile import LocatedYaml, PathKey

PACKAGED_CASES = "cases.yaml"
CASE_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")
REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
SHA = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class Sourced:
    """One fact: its value, where it was read, and a note (why null, or what else is known)."""

    value: Any
    source: str | None = None
    note: str | None = None
    source_kind: str | None = None  # "secondary" for wikis, aggregators, curated registries
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class FirstRelease:
    date: str | None
    precision: str | None  # day | month | year
    approx_date: str | None = None
    date_is_upper_bound: bool = False
    basis: str | None = None
    source: str | None = None
    note: str | None = None
    source_kind: str | None = None


@dataclass(frozen=True)
class ReleaseLine:
    """A model line (OLMo 2, Llama 3.1 …): Hub repos belong to it when `id_regex` matches."""

    name: str
    artefact: str | None
    hub_orgs: Sourced
    id_regex: str | None
    id_regex_checked: bool
    id_examples: tuple[str, ...]
    first_release: FirstRelease
    licence: Sourced
    note: str | None = None

    def matches(self, repo_id: str) -> bool:
        return bool(self.id_regex and re.search(self.id_regex, repo_id))


@dataclass(frozen=True)
class Commitish:
    sha: str
    date: str | None
    source: str | None


@dataclass(frozen=True)
class Repository:
    """A public code repository of a case, with its README-stated roles (primary first)."""

    repo: str
    url: str | None
    roles: tuple[str, ...]
    role_evidence: str | None
    source: str | None
    in_bundle: bool
    fork_of: str | None = None
    fork_evidence: str | None = None
    fork_point: Commitish | None = None
    upstream_synced_to: Commitish | None = None
    bundle_snapshot_commit: str | None = None
    bundle_licence: str | None = None
    note: str | None = None

    @property
    def primary_role(self) -> str | None:
        return self.roles[0] if self.roles else None


@dataclass(frozen=True)
class Partner:
    name: str
    kinds: tuple[str, ...]
    role: str | None
    source: str | None
    note: str | None = None


@dataclass(frozen=True)
class Domain:
    """A domain entry; `value` may hold two domains ("a.com / a.de"), see `names`."""

    value: str
    organisation: str | None
    source: str | None
    note: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(part.strip().lower() for part in self.value.split(" / ") if part.strip())


@dataclass(frozen=True)
class Domains:
    internal: tuple[Domain, ...] = ()
    partner: tuple[Domain, ...] = ()
    unsourced_candidates: tuple[Domain, ...] = ()


@dataclass(frozen=True)
class StudyPlacement:
    """Where the study puts the case; `box.value` is None for cases the grid does not place."""

    box: Sourced
    column: str | None
    model_family: Sourced
    other_named: tuple[Sourced, ...] = ()


@dataclass(frozen=True)
class Case:
    key: str
    name: Sourced
    org_type: Sourced
    country: Sourced
    region: Sourced
    study: StudyPlacement
    families: tuple[ReleaseLine, ...]
    repositories: tuple[Repository, ...]
    partners: tuple[Partner, ...]
    domains: Domains
    other_artefacts: tuple[Mapping[str, Any], ...] = ()
    partners_note: str | None = None
    origin: str = PACKAGED_CASES  # the file the case was read from

    @property
    def hub_orgs(self) -> tuple[str, ...]:
        orgs: list[str] = []
        for line in self.families:
            for org in line.hub_orgs.value or ():
                if org not in orgs:
                    orgs.append(org)
        return tuple(orgs)

    @property
    def placed_by_study(self) -> bool:
        return self.study.box.value is not None

    def owns_hub_repo(self, repo_id: str) -> bool:
        owner = repo_id.split("/", 1)[0].lower()
        return owner in {org.lower() for org in self.hub_orgs}

    def release_line_of(self, repo_id: str) -> ReleaseLine | None:
        return next((line for line in self.families if line.matches(repo_id)), None)


@dataclass(frozen=True)
class MentionedOrganisation:
    name: str
    study_type: Sourced
    org_type: Sourced


@dataclass(frozen=True)
class Registry:
    cases: Mapping[str, Case]
    related_repositories: tuple[Repository, ...]
    mentioned_not_sampled: tuple[MentionedOrganisation, ...]
    vocabularies: Mapping[str, tuple[str, ...]]
    meta: Mapping[str, Any]
    files: tuple[str, ...]

    def __getitem__(self, key: str) -> Case:
        return self.cases[key]

    def __iter__(self):
        return iter(self.cases.values())

    def __len__(self) -> int:
        return len(self.cases)

    def case_of_repo(self, repo: str) -> Case | None:
        for case in self.cases.values():
            if any(r.repo.lower() == repo.lower() for r in case.repositories):
                return case
        return None

    def repository(self, repo: str) -> Repository | None:
        for r in self.all_repositories():
            if r.repo.lower() == repo.lower():
                return r
        return None

    def all_repositories(self) -> Iterable[Repository]:
        for case in self.cases.values():
            yield from case.repositories
        yield from self.related_repositories


# --------------------------------------------------------------------------- parsing


class _Reader(Checker):
    """Validates one located YAML document and raises errors that point at a line."""

    def __init__(self, doc: LocatedYaml, vocab: Mapping[str, tuple[str, ...]]) -> None:
        super().__init__(doc, CaseFileError)
        self.vocab = vocab

    def mapping(self, value: Any, path: PathKey) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        return value

    def sequence(self, value: Any, path: PathKey) -> Sequence[Any]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_kind(value)}")
        return value

    def text(self, value: Any, path: PathKey, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                raise self.fail(path, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(path, f"expected text, got {_kind(value)}")
        return str(value)

    def sourced(self, raw: Mapping[str, Any], key: str, path: PathKey, *,
                required: bool = False, vocab: str | None = None) -> Sourced:
        here = (*path, key)
        if key not in raw:
            if required:
                raise self.fail(path, f"missing field '{key}'")
            return Sourced(None, None, f"'{key}' not given in {self.doc.filename}")
        return self.fact(raw[key], here, vocab=vocab)

    def fact(self, fact: Any, here: PathKey, *, vocab: str | None = None) -> Sourced:
        if not isinstance(fact, Mapping):
            raise self.fail(here, "a fact must be a mapping {value, source, note}, "
                            f"got {_kind(fact)}: write '{here[-1]}: {{value: …, source: URL}}'")
        if "value" not in fact:
            raise self.fail(here, "a fact needs 'value' (null when not found, with a 'note')")
        value, source, note = fact.get("value"), fact.get("source"), fact.get("note")
        self.text(source, (*here, "source"))
        self.text(note, (*here, "note"))
        if value is None and not note:
            raise self.fail(here, "value is null: add a 'note' saying what was looked for")
        if value is not None and not source and not note:
            raise self.fail(here, "value has no 'source' (a URL or a 'study slide N' label)")
        if vocab and value is not None and self.vocab.get(vocab) and value not in self.vocab[vocab]:
            allowed = ", ".join(self.vocab[vocab])
            raise self.fail((*here, "value"), f"'{value}' is not one of: {allowed}")
        plain = {"value", "source", "note", "source_kind"}
        extra = {k: v for k, v in fact.items() if k not in plain}
        return Sourced(value, source, note, fact.get("source_kind"), extra)

    def case(self, key: Any, raw: Any, origin: str) -> Case:
        path: PathKey = ("cases", key)
        if not isinstance(key, str) or not CASE_KEY.match(key):
            raise self.fail(path, f"case key '{key}' must be lower-case letters, digits and '-'")
        raw = self.mapping(raw, path)
        org = self.mapping(raw.get("organisation"), (*path, "organisation"))
        opath = (*path, "organisation")
        study_raw = raw.get("study") or {}
        study_raw = self.mapping(study_raw, (*path, "study"))
        spath = (*path, "study")
        box = self.sourced(study_raw, "box", spath, vocab="study_box")
        study = StudyPlacement(
            box=box,
            column=_opt_str(box.extra.get("column")),
            model_family=self.sourced(study_raw, "model_family", spath),
            other_named=tuple(
                self.fact(item, (*spath, "other_named", i))
                for i, item in enumerate(self.sequence(study_raw.get("other_named"),
                                                       (*spath, "other_named")))),
        )
        families = tuple(
            self.release_line(item, (*path, "families", i))
            for i, item in enumerate(self.sequence(raw.get("families"), (*path, "families"))))
        repos = tuple(
            self.repository(item, (*path, "repositories", i))
            for i, item in enumerate(self.sequence(raw.get("repositories"),
                                                   (*path, "repositories"))))
        partners = tuple(
            self.partner(item, (*path, "partners", i))
            for i, item in enumerate(self.sequence(raw.get("partners"), (*path, "partners"))))
        return Case(
            key=key,
            name=self.sourced(org, "name", opath, required=True),
            org_type=self.sourced(org, "type", opath, vocab="organisation_type"),
            country=self.sourced(org, "country", opath),
            region=self.sourced(raw, "region", path, vocab="region"),
            study=study,
            families=families,
            repositories=repos,
            partners=partners,
            domains=self.domains(raw.get("domains"), (*path, "domains")),
            other_artefacts=tuple(self.sequence(raw.get("other_artefacts"),
                                                (*path, "other_artefacts"))),
            partners_note=self.text(raw.get("partners_note"), (*path, "partners_note")),
            origin=origin,
        )

    def release_line(self, raw: Any, path: PathKey) -> ReleaseLine:
        raw = self.mapping(raw, path)
        name = self.text(raw.get("name"), (*path, "name"), required=True)
        regex = self.text(raw.get("id_regex"), (*path, "id_regex"))
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as exc:
                raise self.fail((*path, "id_regex"), f"not a valid regular expression: {exc}") \
                    from exc
        hub_orgs = self.sourced(raw, "hub_orgs", path)
        if hub_orgs.value is not None and not isinstance(hub_orgs.value, list):
            raise self.fail((*path, "hub_orgs", "value"), "expected a list of Hub organisations")
        fr_raw = raw.get("first_release") or {"date": None, "note": "not given"}
        fr_raw = self.mapping(fr_raw, (*path, "first_release"))
        fpath = (*path, "first_release")
        date = fr_raw.get("date")
        date = str(date) if date is not None else None
        if date is not None and not re.match(r"^\d{4}-\d{2}-\d{2}$", date):
            raise self.fail((*fpath, "date"), f"'{date}' is not a YYYY-MM-DD date")
        precision = fr_raw.get("precision")
        if precision is not None and precision not in self.vocab.get(
                "release_precision", ("day", "month", "year")):
            raise self.fail((*fpath, "precision"), f"'{precision}' is not day, month or year")
        if date is None and not fr_raw.get("note"):
            raise self.fail(fpath, "date is null: add a 'note' saying what was looked for")
        licence = raw.get("licence")
        if licence is None:
            licence_fact = Sourced(None, None, "licence not given")
        else:
            licence_fact = self.fact(licence, (*path, "licence"))
        return ReleaseLine(
            name=name or "",
            artefact=self.text(raw.get("artefact"), (*path, "artefact")),
            hub_orgs=hub_orgs,
            id_regex=regex,
            id_regex_checked=bool(raw.get("id_regex_checked")),
            id_examples=tuple(str(x) for x in self.sequence(raw.get("id_examples"),
                                                            (*path, "id_examples"))),
            first_release=FirstRelease(
                date=date,
                precision=precision,
                approx_date=_opt_str(fr_raw.get("approx_date")),
                date_is_upper_bound=bool(fr_raw.get("date_is_upper_bound")),
                basis=fr_raw.get("basis"),
                source=fr_raw.get("source"),
                note=fr_raw.get("note"),
                source_kind=fr_raw.get("source_kind"),
            ),
            licence=licence_fact,
            note=self.text(raw.get("note"), (*path, "note")),
        )

    def repository(self, raw: Any, path: PathKey) -> Repository:
        raw = self.mapping(raw, path)
        name = self.text(raw.get("repo"), (*path, "repo"), required=True) or ""
        if not REPO_NAME.match(name):
            raise self.fail((*path, "repo"), f"'{name}' is not OWNER/NAME")
        roles_raw = raw.get("role")
        roles = tuple(self.sequence(roles_raw, (*path, "role"))) if roles_raw is not None else ()
        allowed = self.vocab.get("repository_role")
        for i, role in enumerate(roles):
            if allowed and role not in allowed:
                raise self.fail((*path, "role", i),
                                f"'{role}' is not one of: {', '.join(allowed)}")
        return Repository(
            repo=name,
            url=self.text(raw.get("url"), (*path, "url")),
            roles=roles,
            role_evidence=self.text(raw.get("role_evidence"), (*path, "role_evidence")),
            source=self.text(raw.get("source"), (*path, "source")),
            in_bundle=bool(raw.get("in_bundle")),
            fork_of=self.text(raw.get("fork_of"), (*path, "fork_of")),
            fork_evidence=self.text(raw.get("fork_evidence"), (*path, "fork_evidence")),
            fork_point=self.commitish(raw.get("fork_point"), (*path, "fork_point")),
            upstream_synced_to=self.commitish(raw.get("upstream_synced_to"),
                                              (*path, "upstream_synced_to")),
            bundle_snapshot_commit=_opt_str(raw.get("bundle_snapshot_commit")),
            bundle_licence=_opt_str(raw.get("bundle_licence")),
            note=_opt_str(raw.get("note") or raw.get("role_note")),
        )

    def commitish(self, raw: Any, path: PathKey) -> Commitish | None:
        if raw is None:
            return None
        raw = self.mapping(raw, path)
        sha = str(raw.get("sha") or "")
        if not SHA.match(sha):
            raise self.fail((*path, "sha"), f"'{sha}' is not a commit id (7-40 hex digits)")
        return Commitish(sha, _opt_str(raw.get("date")), _opt_str(raw.get("source")))

    def partner(self, raw: Any, path: PathKey) -> Partner:
        raw = self.mapping(raw, path)
        kinds = tuple(self.sequence(raw.get("kind"), (*path, "kind")))
        allowed = self.vocab.get("partner_kind")
        for i, kind in enumerate(kinds):
            if allowed and kind not in allowed:
                raise self.fail((*path, "kind", i), f"'{kind}' is not one of: {', '.join(allowed)}")
        return Partner(
            name=self.text(raw.get("name"), (*path, "name"), required=True) or "",
            kinds=kinds,
            role=self.text(raw.get("role"), (*path, "role")),
            source=self.text(raw.get("source"), (*path, "source")),
            note=self.text(raw.get("note"), (*path, "note")),
        )

    def domains(self, raw: Any, path: PathKey) -> Domains:
        if raw is None:
            return Domains()
        raw = self.mapping(raw, path)
        groups: dict[str, tuple[Domain, ...]] = {}
        for group in ("internal", "partner", "unsourced_candidates"):
            entries = []
            for i, item in enumerate(self.sequence(raw.get(group), (*path, group))):
                ipath = (*path, group, i)
                item = self.mapping(item, ipath)
                value = self.text(item.get("domain"), (*ipath, "domain"), required=True) or ""
                entries.append(Domain(value, _opt_str(item.get("organisation")),
                                      _opt_str(item.get("source")), _opt_str(item.get("note"))))
            groups[group] = tuple(entries)
        return Domains(**groups)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _parse_file(text: str, filename: str, base_vocab: Mapping[str, tuple[str, ...]] | None
                ) -> tuple[LocatedYaml, dict[str, tuple[str, ...]]]:
    doc = parse_document(text, filename, CaseFileError)
    if not isinstance(doc.data, Mapping):
        raise CaseFileError(f"{filename}:1: field '<document>': expected a mapping with 'cases:'")
    vocab = dict(base_vocab or {})
    registry = doc.data.get("registry")
    if isinstance(registry, Mapping) and isinstance(registry.get("vocabularies"), Mapping):
        for name, values in registry["vocabularies"].items():
            vocab[name] = tuple(values or ())
    if "cases" not in doc.data or not isinstance(doc.data["cases"], Mapping):
        raise CaseFileError(f"{doc.where(('cases',))}: a case file needs a 'cases:' mapping "
                            "of case key → case (see the README, 'Your own cases')")
    return doc, vocab


def parse_registry(text: str, filename: str,
                   overrides: Sequence[tuple[str, str]] = ()) -> Registry:
    """Parse the registry text and any user case files (text, filename) layered over it."""
    doc, vocab = _parse_file(text, filename, None)
    reader = _Reader(doc, vocab)
    cases: dict[str, Case] = {
        key: reader.case(key, raw, filename) for key, raw in doc.data["cases"].items()}
    related = tuple(
        reader.repository(item, ("related_repositories", i))
        for i, item in enumerate(reader.sequence(doc.data.get("related_repositories"),
                                                 ("related_repositories",))))
    mentioned = []
    for i, item in enumerate(reader.sequence(doc.data.get("mentioned_not_sampled"),
                                             ("mentioned_not_sampled",))):
        mpath = ("mentioned_not_sampled", i)
        item = reader.mapping(item, mpath)
        mentioned.append(MentionedOrganisation(
            name=reader.text(item.get("name"), (*mpath, "name"), required=True) or "",
            study_type=reader.sourced(item, "study_type", mpath),
            org_type=reader.sourced(item, "type", mpath, vocab="organisation_type"),
        ))
    files = [filename]
    for user_text, user_name in overrides:
        user_doc, _ = _parse_file(user_text, user_name, vocab)
        user_reader = _Reader(user_doc, vocab)
        for key, raw in user_doc.data["cases"].items():
            cases[key] = user_reader.case(key, raw, user_name)
        files.append(user_name)
    meta = doc.data.get("registry") if isinstance(doc.data.get("registry"), Mapping) else {}
    return Registry(cases=cases, related_repositories=related,
                    mentioned_not_sampled=tuple(mentioned), vocabularies=vocab,
                    meta=meta or {}, files=tuple(files))


def packaged_cases_path() -> Path:
    return Path(str(resources.files("llmcarto.framework") / PACKAGED_CASES))


@lru_cache(maxsize=8)
def _load_cached(user_files: tuple[str, ...]) -> Registry:
    base = packaged_cases_path()
    overrides = []
    for name in user_files:
        path = Path(name)
        try:
            overrides.append((path.read_text(encoding="utf-8"), str(path)))
        except FileNotFoundError as exc:
            raise CaseFileError(f"{path}: case file not found (from --cases or LLMCARTO_CASES)") \
                from exc
        except UnicodeDecodeError as exc:
            raise CaseFileError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    return parse_registry(base.read_text(encoding="utf-8"), PACKAGED_CASES, overrides)


def load_registry(user_files: Sequence[str | Path] = ()) -> Registry:
    """The packaged registry with user case files layered over it, in order."""
    return _load_cached(tuple(str(p) for p in user_files))
