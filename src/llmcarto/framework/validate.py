"""What the framework loaders share: parse a hand-edited YAML file, then check it piece by
piece with every error naming file, line and field (``file:line: field 'a.b[2]': problem``).

Each loader keeps its own rules and wording; this module holds only the mechanics, so a
new loader cannot forget the line or the field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from llmcarto.errors import FrameworkError
from llmcarto.framework.yamlfile import LocatedYaml, PathKey, YamlSyntaxError, load_located

T = TypeVar("T")
#: the document and item the running check is at (for errors no explicit check foresaw)
_AT: ContextVar[tuple[LocatedYaml, PathKey] | None] = ContextVar("framework_at", default=None)


def located(parse: Callable[..., T]) -> Callable[..., T]:
    """Wrap a `parse_*(text, filename, …)` so a value of the wrong type that no explicit
    check caught (a list where text belongs, …) is a FrameworkError naming the file and the
    line of the item being checked, never a bare TypeError."""

    @functools.wraps(parse)
    def run(text: str, filename: str, *args: Any, **kwargs: Any) -> T:
        token = _AT.set(None)
        try:
            return parse(text, filename, *args, **kwargs)
        except FrameworkError:
            raise
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            at = _AT.get()
            where = at[0].where(at[1]) if at else f"{filename}:?: field '<document>'"
            raise FrameworkError(f"{where}: a value of the wrong type "
                                 f"({type(exc).__name__}: {exc})") from exc
        finally:
            _AT.reset(token)

    return run


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

    def here(self, path: PathKey) -> None:
        """Note the item being checked (where `located` points an unforeseen error)."""
        _AT.set((self.doc, path))

    def items(self, value: Any, path: PathKey, problem: str
              ) -> Iterator[tuple[PathKey, Mapping[str, Any]]]:
        """(path, item) per item of the list `value`; an item that is not a mapping fails
        with `problem` at its own line."""
        for i, raw in enumerate(value):
            here = (*path, i)
            self.here(here)
            if not isinstance(raw, Mapping):
                raise self.fail(here, problem)
            yield here, raw

    def new_id(self, value: Any, path: PathKey, seen: set[str], what: str) -> str:
        """`value` as an id not yet in `seen` (and now in it); else fail naming `what`."""
        if not isinstance(value, str) or not value or value in seen:
            raise self.fail(path, f"missing or duplicate {what} '{value}'")
        seen.add(value)
        return value
