"""Sources: one reader per kind of input file. Add a source by writing a module with a
`READERS` list (see `base.py`) and naming it in `_MODULES` below."""

from __future__ import annotations

from importlib import import_module

from llmcarto.sources.base import ReadContext, Reader, Record, Skip

_MODULES = ("gitlog", "hubtrees", "hubcards", "hubcommits", "downloads", "ecosystem",
            "openness", "caseregistry")

READERS: list[Reader] = []
for _name in _MODULES:
    READERS.extend(import_module(f"llmcarto.sources.{_name}").READERS)

# Files that travel with data but are documentation or bookkeeping, not records.
_IGNORED_NAMES = {"manifest.json", "index.json", ".gitkeep"}


def is_ignorable(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base in _IGNORED_NAMES or base.lower().endswith((".md", ".txt"))


def detect_reader(name: str, head: bytes) -> Reader | None:
    """The one reader that claims the file; None when none does."""
    for reader in READERS:
        if reader.detect(name, head):
            return reader
    return None


__all__ = ["READERS", "ReadContext", "Reader", "Record", "Skip", "detect_reader",
           "is_ignorable"]
