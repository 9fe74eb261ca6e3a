"""Lineage edges out of the store: CSV, JSON, Parquet, GraphML and GEXF.

One writer per format over the same edge rows (`EXPORT_COLUMNS`, in that order), so every
format holds the same facts: the relation both ways, the rule, the disagreement and the
provenance of every edge. Graph formats carry the nodes too, with owners shown as in the
atlas (a case's registered organisation in clear, anyone else as an ``hf-…`` pseudonym).
The XML is `graphfile`'s (the one GraphML/GEXF writer): every value is escaped, and
characters XML 1.0 cannot hold are replaced by U+FFFD, so untrusted card text can never
break the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from llmcarto.analysis import graphfile
from llmcarto.analysis.graphfile import text as _text
from llmcarto.analysis.graphfile import xml_text  # noqa: F401  (public since before graphfile)

FORMATS = ("csv", "json", "parquet", "graphml", "gexf")
EXPORT_COLUMNS = ("parent", "child", "relation", "declared_relation", "inferred_relation",
                  "rule", "disagreement", "provenance", "confidence", "declared_source",
                  "rule_evidence", "disagreement_kinds", "card_relation", "sources",
                  "first_seen", "child_created_at")
NODE_ATTRIBUTES = ("owner_shown", "registered_case", "crawled", "children_known",
                   "created_at", "library_name", "languages", "spaces")
_PARQUET_TYPES = {"disagreement": "BOOLEAN", "crawled": "BOOLEAN",
                  "children_known": "BOOLEAN", "spaces": "INTEGER"}


def export_rows(edges: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Edge rows with exactly the export columns (provenance kept as a list of objects)."""
    out = []
    for e in edges:
        row = {c: e.get(c) for c in EXPORT_COLUMNS}
        if isinstance(row["provenance"], str):
            row["provenance"] = json.loads(row["provenance"])
        out.append(row)
    return out


def to_csv(edges: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in export_rows(edges):
        writer.writerow([_text(row[c]) for c in EXPORT_COLUMNS])
    return buf.getvalue()


def to_json(edges: Iterable[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]],
            family: str | None = None, measures: Mapping[str, Any] | None = None) -> str:
    doc = {"family": family, "measures": measures,
           "nodes": [{k: n.get(k) for k in ("id", *NODE_ATTRIBUTES)} for n in nodes],
           "edges": export_rows(edges)}
    return json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n"


def write_parquet(edges: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Edges to a Parquet file through DuckDB (no pyarrow); list/object cells as JSON text."""
    rows = export_rows(edges)
    columns = {c: _PARQUET_TYPES.get(c, "VARCHAR") for c in EXPORT_COLUMNS}
    with tempfile.TemporaryDirectory(prefix="llmcarto-export-") as tmp:
        ndjson = os.path.join(tmp, "edges.ndjson")
        with open(ndjson, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({c: row[c] if columns[c] != "VARCHAR" or row[c] is None
                                     else _text(row[c]) for c in EXPORT_COLUMNS},
                                    ensure_ascii=False))
                fh.write("\n")
        con = duckdb.connect(":memory:")
        try:
            spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in columns.items()) + "}"
            source = (f"read_json(?, format='newline_delimited', columns={spec})" if rows else
                      "(SELECT " + ", ".join(f"NULL::{t} AS \"{c}\"" for c, t in columns.items())
                      + " WHERE false)")
            params = [ndjson] if rows else []
            con.execute(f"CREATE TABLE edges AS SELECT * FROM {source}", params)
            target = str(path).replace("'", "''")
            con.execute(f"COPY edges TO '{target}' (FORMAT parquet)")
        finally:
            con.close()
    return len(rows)


# ------------------------------------------------------------------------ XML formats


def _graph_parts(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]
                 ) -> tuple[list[Mapping[str, Any]], list[dict[str, Any]]]:
    """Nodes of the edges (with their facts when known) and the edge rows."""
    known = {n["id"]: n for n in nodes}
    ids = list(dict.fromkeys([i for e in edges for i in (e["parent"], e["child"])]
                             + [n["id"] for n in nodes]))
    return [known.get(i, {"id": i}) for i in ids], export_rows(edges)


EDGE_KEYS = tuple(c for c in EXPORT_COLUMNS if c not in ("parent", "child"))


def to_graphml(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> str:
    node_list, rows = _graph_parts(edges, nodes)
    return graphfile.graphml(node_list, rows, NODE_ATTRIBUTES, EDGE_KEYS, graph_id="lineage",
                             directed=True, source="parent", target="child")


def to_gexf(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> str:
    node_list, rows = _graph_parts(edges, nodes)
    return graphfile.gexf(node_list, rows, NODE_ATTRIBUTES, EDGE_KEYS, directed=True,
                          source="parent", target="child",
                          edge_label=lambda row: row["relation"] or "unknown")


def render(fmt: str, edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]],
           family: str | None = None, measures: Mapping[str, Any] | None = None) -> str:
    """The text of a text format (all but parquet)."""
    if fmt == "csv":
        return to_csv(edges)
    if fmt == "json":
        return to_json(edges, nodes, family, measures)
    if fmt == "graphml":
        return to_graphml(edges, nodes)
    if fmt == "gexf":
        return to_gexf(edges, nodes)
    raise ValueError(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")
