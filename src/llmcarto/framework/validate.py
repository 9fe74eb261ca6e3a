"""What the framework loaders share: parse a hand-edited YAML file, then check it piece by
piece with every error naming file, line and field (``file:line: field 'a.b[2]': problem``).

Each loader keeps its own rules and wording; this module holds only the mechanics, so a
new loader cannot forget the line or the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from llmcarto.errors import FrameworkError
from llmcarto.framework.yamlfile import LocatedYaml, PathKey, YamlSyntaxError, load_located


def parse_document(text: str, filename: str,
                   error: type[Exception] = FrameworkError) -> LocatedYaml:
    """Parse `text`; malformed YAML raises `error` naming the file and line."""
    try:
        return load_located(text, filename)
    except YamlSyntaxError as exc:
        raise error(str(exc)) from exc


class Checker:
    """Checks parts of one parsed document; `fail` builds the located error to raise."""

    def __init__(self, doc: LocatedYaml, error: type[Exception] = FrameworkError) -> None:
        self.doc = doc
        self.error = error

    def fail(self, path: PathKey, problem: str) -> Exception:
        """The error for `problem` at `path`: ``file:line: field 'dotted.path': problem``."""
        return self.error(f"{self.doc.where(path)}: {problem}")

    def items(self, value: Any, path: PathKey, problem: str
              ) -> Iterator[tuple[PathKey, Mapping[str, Any]]]:
        """(path, item) per item of the list `value`; an item that is not a mapping fails
        with `problem` at its own line."""
        for i, raw in enumerate(value):
            here = (*path, i)
            if not isinstance(raw, Mapping):
                raise self.fail(here, problem)
            yield here, raw

    def new_id(self, value: Any, path: PathKey, seen: set[str], what: str) -> str:
        """`value` as an id not yet in `seen` (and now in it); else fail naming `what`."""
        if not isinstance(value, str) or not value or value in seen:
            raise self.fail(path, f"missing or duplicate {what} '{value}'")
        seen.add(value)
        return value
