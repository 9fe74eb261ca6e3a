"""Lineage edges out of the store: CSV, JSON, Parquet, GraphML and GEXF.

One writer per format over the same edge rows (`EXPORT_COLUMNS`, in that order), so every
format holds the same facts: the relation both ways, the rule, the disagreement and the
provenance of every edge. Graph formats carry the nodes too, with owners shown as in the
atlas (a case's registered organisation in clear, anyone else as an ``hf-…`` pseudonym).
The XML writers are hand-written: every value is escaped, and characters XML 1.0 cannot
hold are replaced by U+FFFD, so untrusted card text can never break the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import duckdb

FORMATS = ("csv", "json", "parquet", "graphml", "gexf")
EXPORT_COLUMNS = ("parent", "child", "relation", "declared_relation", "inferred_relation",
                  "rule", "disagreement", "provenance", "confidence", "declared_source",
                  "rule_evidence", "disagreement_kinds", "card_relation", "sources",
                  "first_seen", "child_created_at")
NODE_ATTRIBUTES = ("owner_shown", "registered_case", "crawled", "children_known",
                   "created_at", "library_name", "languages", "spaces")
_PARQUET_TYPES = {"disagreement": "BOOLEAN", "crawled": "BOOLEAN",
                  "children_known": "BOOLEAN", "spaces": "INTEGER"}
_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    """A cell as flat text: lists joined by "; ", objects as JSON, None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        if value and isinstance(value[0], Mapping):
            return json.dumps(list(value), ensure_ascii=False, sort_keys=True, default=str)
        return "; ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


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


def xml_text(value: Any) -> str:
    """`value` as text safe inside an XML 1.0 attribute or element (escaped, no bad chars)."""
    return _XML_BAD.sub("\ufffd", _text(value))


def _attr(value: Any) -> str:
    return quoteattr(xml_text(value))


def _body(value: Any) -> str:
    return (xml_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _graph_parts(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]
                 ) -> tuple[list[Mapping[str, Any]], list[dict[str, Any]]]:
    """Nodes of the edges (with their facts when known) and the edge rows."""
    known = {n["id"]: n for n in nodes}
    ids = list(dict.fromkeys([i for e in edges for i in (e["parent"], e["child"])]
                             + [n["id"] for n in nodes]))
    return [known.get(i, {"id": i}) for i in ids], export_rows(edges)


def to_graphml(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> str:
    node_list, rows = _graph_parts(edges, nodes)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
           'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">']
    for i, name in enumerate(NODE_ATTRIBUTES):
        out.append(f'  <key id="n{i}" for="node" attr.name="{name}" attr.type="string"/>')
    edge_keys = [c for c in EXPORT_COLUMNS if c not in ("parent", "child")]
    for i, name in enumerate(edge_keys):
        out.append(f'  <key id="e{i}" for="edge" attr.name="{name}" attr.type="string"/>')
    out.append('  <graph id="lineage" edgedefault="directed">')
    for node in node_list:
        out.append(f'    <node id={_attr(node["id"])}>')
        for i, name in enumerate(NODE_ATTRIBUTES):
            if node.get(name) is not None:
                out.append(f'      <data key="n{i}">{_body(node[name])}</data>')
        out.append("    </node>")
    for j, row in enumerate(rows):
        out.append(f'    <edge id="e{j}" source={_attr(row["parent"])} '
                   f'target={_attr(row["child"])}>')
        for i, name in enumerate(edge_keys):
            if row.get(name) is not None:
                out.append(f'      <data key="e{i}">{_body(row[name])}</data>')
        out.append("    </edge>")
    out += ["  </graph>", "</graphml>", ""]
    return "\n".join(out)


def to_gexf(edges: Sequence[Mapping[str, Any]], nodes: Sequence[Mapping[str, Any]]) -> str:
    node_list, rows = _graph_parts(edges, nodes)
    index = {n["id"]: i for i, n in enumerate(node_list)}
    edge_keys = [c for c in EXPORT_COLUMNS if c not in ("parent", "child")]
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<gexf xmlns="http://gexf.net/1.3" version="1.3">',
           '  <graph defaultedgetype="directed" mode="static">',
           '    <attributes class="node">']
    out += [f'      <attribute id="{i}" title="{n}" type="string"/>'
            for i, n in enumerate(NODE_ATTRIBUTES)]
    out += ['    </attributes>', '    <attributes class="edge">']
    out += [f'      <attribute id="{i}" title="{n}" type="string"/>'
            for i, n in enumerate(edge_keys)]
    out += ['    </attributes>', '    <nodes>']
    for node in node_list:
        out.append(f'      <node id="{index[node["id"]]}" label={_attr(node["id"])}>')
        out.append("        <attvalues>")
        out += [f'          <attvalue for="{i}" value={_attr(node[n])}/>'
                for i, n in enumerate(NODE_ATTRIBUTES) if node.get(n) is not None]
        out += ["        </attvalues>", "      </node>"]
    out += ["    </nodes>", "    <edges>"]
    for j, row in enumerate(rows):
        out.append(f'      <edge id="{j}" source="{index[row["parent"]]}" '
                   f'target="{index[row["child"]]}" label={_attr(row["relation"] or "unknown")}>')
        out.append("        <attvalues>")
        out += [f'          <attvalue for="{i}" value={_attr(row[n])}/>'
                for i, n in enumerate(edge_keys) if row.get(n) is not None]
        out += ["        </attvalues>", "      </edge>"]
    out += ["    </edges>", "  </graph>", "</gexf>", ""]
    return "\n".join(out)


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
