"""YAML loading that remembers where every value came from (file and line).

Case files are written by hand; an error that says only "invalid" sends the user
hunting. Composing the node tree once gives us both the data and a path → line map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml is an order of magnitude faster on the 2,400-line registry
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the wheel
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]


@dataclass
class LocatedYaml:
    """Parsed YAML plus the 1-based line of every mapping key / sequence item."""

    data: Any
    filename: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def where(self, path: PathKey) -> str:
        line = self.line(path)
        dotted = dotted_path(path)
        return f"{self.filename}:{line if line is not None else '?'}: field '{dotted}'"


def dotted_path(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<document>"


class YamlSyntaxError(ValueError):
    """YAML that does not parse; carries file and line."""

    def __init__(self, filename: str, line: int | None, problem: str) -> None:
        self.filename, self.line, self.problem = filename, line, problem
        super().__init__(f"{filename}:{line if line is not None else '?'}: invalid YAML: {problem}")


def load_located(text: str, filename: str) -> LocatedYaml:
    """Parse `text`; raise YamlSyntaxError with the file's line on malformed YAML."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            problem += f" ({context} started at line {context_mark.line + 1})"
        raise YamlSyntaxError(filename, mark.line + 1 if mark else None, problem) from exc
    finally:
        loader.dispose()
    located = LocatedYaml(data=data, filename=filename)
    if node is not None:
        located.lines[()] = node.start_mark.line + 1
        _walk(node, (), located.lines)
    return located


def load_located_file(path: Path) -> LocatedYaml:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(str(path), None, f"not UTF-8 text ({exc.reason})") from exc
    return load_located(text, str(path))


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines)
