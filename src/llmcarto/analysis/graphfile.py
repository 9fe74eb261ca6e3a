"""GraphML and GEXF text for any node/edge rows: the one XML graph writer of llmcarto.

Lineage exports (`lineage_export`) and collaboration networks (`networks`) both write
through here. Hand-written on purpose: every value is escaped, and characters XML 1.0
cannot hold are replaced by U+FFFD, so untrusted card or commit text can never break the
file. Every attribute is declared as a string (lists joined by "; ", objects as JSON);
a None value is left out of the node or edge rather than written empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import quoteattr

Row = Mapping[str, Any]
_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>'
GRAPHML_OPEN = ('<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
                'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">')
GEXF_OPEN = '<gexf xmlns="http://gexf.net/1.3" version="1.3">'


def text(value: Any) -> str:
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
        return "; ".join(text(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def xml_text(value: Any) -> str:
    """`value` as text safe inside an XML 1.0 attribute or element (no bad characters;
    escaping is `attr`'s and `body`'s)."""
    return _XML_BAD.sub("\ufffd", text(value))


def attr(value: Any) -> str:
    """A quoted, escaped XML attribute value (quotes included)."""
    return quoteattr(xml_text(value))


def body(value: Any) -> str:
    """Escaped XML element text."""
    return xml_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def graphml(nodes: Sequence[Row], edges: Sequence[Row], node_keys: Sequence[str],
            edge_keys: Sequence[str], *, graph_id: str, directed: bool,
            source: str = "source", target: str = "target") -> str:
    """GraphML: node ids are `node["id"]`, edge ends `edge[source]` / `edge[target]`;
    `node_keys` / `edge_keys` become string `<key>`s `n0…` / `e0…`."""
    out = [XML_HEADER, GRAPHML_OPEN]
    out += [f'  <key id="n{i}" for="node" attr.name="{name}" attr.type="string"/>'
            for i, name in enumerate(node_keys)]
    out += [f'  <key id="e{i}" for="edge" attr.name="{name}" attr.type="string"/>'
            for i, name in enumerate(edge_keys)]
    out.append(f'  <graph id={attr(graph_id)} '
               f'edgedefault="{"directed" if directed else "undirected"}">')
    for node in nodes:
        out.append(f'    <node id={attr(node["id"])}>')
        out += [f'      <data key="n{i}">{body(node[name])}</data>'
                for i, name in enumerate(node_keys) if node.get(name) is not None]
        out.append("    </node>")
    for j, edge in enumerate(edges):
        out.append(f'    <edge id="e{j}" source={attr(edge[source])} '
                   f'target={attr(edge[target])}>')
        out += [f'      <data key="e{i}">{body(edge[name])}</data>'
                for i, name in enumerate(edge_keys) if edge.get(name) is not None]
        out.append("    </edge>")
    out += ["  </graph>", "</graphml>", ""]
    return "\n".join(out)


def gexf(nodes: Sequence[Row], edges: Sequence[Row], node_keys: Sequence[str],
         edge_keys: Sequence[str], *, directed: bool, source: str = "source",
         target: str = "target", node_label: Callable[[Row], Any] = lambda n: n["id"],
         edge_label: Callable[[Row], Any] | None = None,
         edge_weight: Callable[[Row], float] | None = None) -> str:
    """GEXF 1.3: nodes numbered in order (the label is `node_label(node)`), edges joined
    by those numbers, with an optional label and weight; attributes as in `graphml`.
    An edge end that is not a node is an error (KeyError), never a dangling edge."""
    index = {n["id"]: i for i, n in enumerate(nodes)}
    out = [XML_HEADER, GEXF_OPEN,
           f'  <graph defaultedgetype="{"directed" if directed else "undirected"}" '
           'mode="static">', '    <attributes class="node">']
    out += [f'      <attribute id="{i}" title="{name}" type="string"/>'
            for i, name in enumerate(node_keys)]
    out += ['    </attributes>', '    <attributes class="edge">']
    out += [f'      <attribute id="{i}" title="{name}" type="string"/>'
            for i, name in enumerate(edge_keys)]
    out += ['    </attributes>', '    <nodes>']
    for node in nodes:
        out.append(f'      <node id="{index[node["id"]]}" label={attr(node_label(node))}>')
        out.append("        <attvalues>")
        out += [f'          <attvalue for="{i}" value={attr(node[name])}/>'
                for i, name in enumerate(node_keys) if node.get(name) is not None]
        out += ["        </attvalues>", "      </node>"]
    out += ["    </nodes>", "    <edges>"]
    for j, edge in enumerate(edges):
        extra = ""
        if edge_label is not None:
            extra += f" label={attr(edge_label(edge))}"
        if edge_weight is not None:
            extra += f' weight="{float(edge_weight(edge))}"'
        out.append(f'      <edge id="{j}" source="{index[edge[source]]}" '
                   f'target="{index[edge[target]]}"{extra}>')
        out.append("        <attvalues>")
        out += [f'          <attvalue for="{i}" value={attr(edge[name])}/>'
                for i, name in enumerate(edge_keys) if edge.get(name) is not None]
        out += ["        </attvalues>", "      </edge>"]
    out += ["    </edges>", "  </graph>", "</gexf>", ""]
    return "\n".join(out)
