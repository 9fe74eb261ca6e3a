"""Loader for `organisations.yaml`: the sourced registry of organisations' e-mail domains.

An author whose domain is registered here (and is neither the case's own nor a partner's)
is *external*; a domain that is registered nowhere stays *unknown* (design.md §4). Every
entry must carry a source URL, so the registry cannot grow by guesses. Users add their
own files with `--organisations FILE`; an entry for a domain already registered replaces
it (the later file wins), and the file and line of every entry are kept as provenance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from llmcarto.errors import FrameworkError
from llmcarto.framework.validate import Checker, parse_document

PACKAGED_ORGANISATIONS = "organisations.yaml"
DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
URL = re.compile(r"^https?://[^\s/]+\S*$")
SOURCE_KINDS = ("primary", "secondary")


@dataclass(frozen=True)
class Organisation:
    """One registered organisation: its domains and where the tie can be checked."""

    name: str
    domains: tuple[str, ...]
    source: str
    shows: str | None
    source_kind: str
    note: str | None
    file: str
    line: int | None


def parse_organisations(text: str, filename: str) -> list[Organisation]:
    """The entries of one registry file; a malformed entry is an error naming file:line:field."""
    check = Checker(parse_document(text, filename))
    data = check.doc.data
    if not isinstance(data, Mapping) or not isinstance(data.get("organisations"), list):
        raise check.fail(("organisations",), "expected a list under 'organisations:'")
    out: list[Organisation] = []
    for path, raw in check.items(data["organisations"], ("organisations",),
                                 "an organisation must be a mapping"):
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise check.fail((*path, "name"), "missing organisation name")
        domains = raw.get("domains")
        if isinstance(domains, str):
            domains = [domains]
        if not isinstance(domains, list) or not domains:
            raise check.fail((*path, "domains"), "give a list of domains")
        clean = []
        for j, domain in enumerate(domains):
            value = str(domain).strip().lower() if isinstance(domain, str) else ""
            if not DOMAIN.match(value):
                raise check.fail((*path, "domains", j), f"{domain!r} is not a domain name "
                                                        "(e.g. example.org)")
            clean.append(value)
        for key in ("source", "shows"):
            value = raw.get(key)
            if value is None and key == "shows":
                continue
            if not isinstance(value, str) or not URL.match(value.strip()):
                raise check.fail(
                    (*path, key), f"{key} must be an http(s) URL showing that the domain is "
                    "the organisation's (entries without a source are not accepted)")
        kind = raw.get("source_kind", "primary")
        if kind not in SOURCE_KINDS:
            raise check.fail((*path, "source_kind"), f"{kind!r} is not one of "
                                                     f"{', '.join(SOURCE_KINDS)}")
        note = raw.get("note")
        out.append(Organisation(name.strip(), tuple(clean), raw["source"].strip(),
                                (raw.get("shows") or "").strip() or None, kind,
                                str(note) if note is not None else None, filename,
                                check.doc.line(path)))
    return out


def organisations_path() -> Path:
    return Path(str(resources.files("llmcarto.framework") / PACKAGED_ORGANISATIONS))


@lru_cache(maxsize=1)
def packaged_organisations() -> tuple[Organisation, ...]:
    path = organisations_path()
    return tuple(parse_organisations(path.read_text(encoding="utf-8"), PACKAGED_ORGANISATIONS))


def load_organisation_files(files: Iterable[Path]) -> list[Organisation]:
    """User registry files, in order; an unreadable file is an error naming it."""
    out: list[Organisation] = []
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FrameworkError(f"{path}: cannot read the organisation file ({exc})") from exc
        out += parse_organisations(text, str(path))
    return out


def domain_table(entries: Iterable[Organisation]) -> dict[str, Organisation]:
    """domain → entry; a later entry for the same domain replaces an earlier one."""
    table: dict[str, Organisation] = {}
    for entry in entries:
        for domain in entry.domains:
            table[domain] = entry
    return table
