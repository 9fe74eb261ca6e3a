"""`llmcarto lineage` (family measures, or the store-wide edge mix) and
`llmcarto export lineage` (edges as CSV, JSON, Parquet, GraphML or GEXF)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from llmcarto.commands import write_output
from llmcarto.errors import InputError

console = Console()


def _settings(ctx: typer.Context):
    from llmcarto.settings import Settings

    return ctx.obj if isinstance(ctx.obj, Settings) else Settings.resolve()


def _open(ctx: typer.Context):
    from llmcarto.store import open_published

    return open_published(_settings(ctx).db_path)


def _family(index, family: str) -> str:
    """The graph's spelling of `family`, or a one-line error naming what was looked for."""
    found = index.resolve(family.strip())
    if found is None:
        from llmcarto.analysis.lineage_sources import hub_id

        shape = "" if hub_id(family) else " (not a Hub model id: expected ORG/NAME)"
        raise InputError(f"--family {family!r}{shape}: no such model among the "
                         f"{len(index.graph.names):,} models of the lineage graph; "
                         "`llmcarto lineage` lists the largest families")
    return found


def _load(ctx: typer.Context):
    from llmcarto.analysis.lineage import load_index

    con = _open(ctx)
    try:
        return load_index(con)
    finally:
        con.close()


def _mix_table(title: str, mixes: dict[str, dict[str, int]]) -> Table:
    table = Table(title=title)
    table.add_column("relation")
    for name in mixes:
        table.add_column(name, justify="right")
    relations = sorted({r for m in mixes.values() for r in m},
                       key=lambda r: (r == "unknown", r))
    for rel in relations:
        table.add_row(rel, *(f"{m.get(rel, 0):,}" for m in mixes.values()))
    return table


def print_measures(m: dict[str, Any]) -> None:
    console.print(f"[bold]{m['root']}[/]: {m['descendants']:,} descendants, {m['edges']:,} "
                  f"edges, depth {m['depth']}", highlight=False)
    if not m["is_root"]:
        console.print(f"  not a root: ancestors {', '.join(m['ancestors'])}; roots "
                      f"{', '.join(m['roots'])}", highlight=False, soft_wrap=True)
    console.print(_mix_table("relation mix (edges in the family)", m["relation_mix"]))
    console.print("descendants by relation: " + ", ".join(
        f"{k} {v:,}" for k, v in m["descendants_by_relation"].items()), highlight=False)
    console.print("depth distribution: " + ", ".join(
        f"{k}: {v:,}" for k, v in m["depth_distribution"].items()), highlight=False)
    leaves = m["leaves"]
    share = f"{leaves['share']:.1%}" if leaves["share"] is not None else leaves["note"]
    console.print(f"leaf share {share} ({leaves['leaves']:,} leaves, {leaves['non_leaves']:,} "
                  f"with children, {leaves['unknown']:,} whose children are not known)",
                  highlight=False)
    authors = m["authors"]
    console.print(f"distinct derivative owners {authors['distinct']:,} (Hub handles shown as "
                  "pseudonyms); top: " + ", ".join(
                      f"{a['owner']} {a['derivatives']:,}" for a in authors["top"]),
                  highlight=False, soft_wrap=True)
    langs = m["languages"]
    base = ", ".join(langs["base"]) if langs["base"] is not None else "unknown"
    added = (", ".join(f"{x['language']} {x['derivatives']}" for x in langs["added"]) or "none"
             ) if langs["added"] is not None else f"unknown ({langs['note']})"
    console.print(f"languages: base {base}; added by derivatives: {added} "
                  f"({langs['with_languages']:,} derivatives declare languages, "
                  f"{langs['without']:,} do not)", highlight=False, soft_wrap=True)
    years: dict[str, int] = {}
    for row in m["created_by_month"]:
        years[row["month"][:4]] = years.get(row["month"][:4], 0) + row["n"]
    console.print("derivatives created per year: " + (", ".join(
        f"{y} {n:,}" for y, n in sorted(years.items())) or "none known")
        + f" (unknown: {m['created_unknown']:,})", highlight=False)
    if m["spaces_using_root"] is not None:
        console.print(f"Spaces using the root: {m['spaces_using_root']:,}", highlight=False)
    dis = m["disagreements"]
    console.print(f"disagreements: {dis['edges']:,} edges", highlight=False)
    for cls in dis["classes"]:
        console.print(f"  {cls['class']}: {cls['n']:,}", highlight=False, markup=False)
        for ex in cls["examples"][:3]:
            console.print(f"    {ex['parent']} -> {ex['child']}: {ex['rule']} "
                          f"({ex['evidence']})", highlight=False, markup=False, soft_wrap=True)
    for label, items in (("cycles", m["cycles"]), ("self-references", m["self_references"])):
        console.print(f"{label}: {len(items)}" + (f" {items}" if items else ""),
                      highlight=False, markup=False)


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    @app.command("lineage")
    def lineage_command(
        ctx: typer.Context,
        family: Annotated[str | None, typer.Option(
            "--family", help="ORG/NAME: the model whose family (itself and its descendants) "
            "to measure.", show_default=False)] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        markdown: Annotated[bool, typer.Option(
            "--markdown", help="Print the README's lineage numbers block.")] = False,
    ) -> None:
        """Family measures (--family), or the store-wide edge mix and largest families."""
        from llmcarto.analysis.lineage import family_measures
        from llmcarto.analysis.lineage_readme import readme_block, summary

        if markdown:
            con = _open(ctx)
            try:
                typer.echo(readme_block(con), nl=False)
            finally:
                con.close()
            return
        index, edges = _load(ctx)
        if family is None:
            data = summary(index, edges)
            if as_json:
                typer.echo(json.dumps(data, indent=1, default=str))
                return
            console.print(f"{data['edges']:,} lineage edges over {data['models']:,} models; "
                          f"{data['disagreements']:,} with a disagreement", highlight=False)
            console.print(_mix_table("edge mix", data["mix"]))
            table = Table(title="largest families")
            for col in ("root", "descendants", "depth", "disagreements"):
                table.add_column(col, justify="left" if col == "root" else "right")
            for f in data["families"]:
                table.add_row(f["root"], f"{f['descendants']:,}", str(f["depth"]),
                              f"{f['disagreements']:,}")
            console.print(table)
            return
        measures = family_measures(index, _family(index, family))
        if as_json:
            typer.echo(json.dumps(measures, indent=1, default=str))
            return
        print_measures(measures)

    @export_app.command("lineage")
    def export_lineage(
        ctx: typer.Context,
        family: Annotated[str | None, typer.Option(
            "--family", help="ORG/NAME: export that family's edges (default: every edge).",
            show_default=False)] = None,
        fmt: Annotated[str, typer.Option(
            "--format", help="csv | json | parquet | graphml | gexf")] = "csv",
        out: Annotated[Path | None, typer.Option(
            "--out", help="File to write (default: standard output; parquet needs a file).",
            show_default=False)] = None,
    ) -> None:
        """Lineage edges with declared and inferred relation, rule, disagreement and
        provenance (and the nodes, for graph formats)."""
        from llmcarto.analysis.lineage import family_measures
        from llmcarto.analysis.lineage_export import FORMATS, render, write_parquet

        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise InputError(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}")
        if fmt == "parquet" and out is None:
            raise InputError("--format parquet writes a binary file: give --out FILE")
        index, edges = _load(ctx)
        measures = None
        if family is not None:
            root = _family(index, family)
            members = index.graph.descendants(root) | {root}
            edges = index.family_edges(members)
            measures = family_measures(index, root) if fmt == "json" else None
            node_ids = sorted(members)
        else:
            node_ids = sorted(index.graph.names)
        nodes = _node_rows(ctx, node_ids)
        if fmt == "parquet":
            import duckdb

            try:
                n = write_parquet(edges, out)
            except duckdb.Error as exc:
                raise InputError(f"{out}: cannot write Parquet ({exc})") from exc
            console.print(f"{n:,} edges written to {out}", highlight=False)
            return
        text = render(fmt, edges, nodes, family, measures)
        write_output(text, out, f"{len(edges):,} edges")


def _node_rows(ctx: typer.Context, ids: list[str]) -> list[dict[str, Any]]:
    from llmcarto.analysis.lineage_sources import rows
    from llmcarto.store.status import has_table

    con = _open(ctx)
    try:
        if not has_table(con, "lineage_node"):
            return [{"id": i} for i in ids]
        found = {r["id"]: r for r in rows(con, "SELECT * FROM lineage_node WHERE "
                                               "list_contains(?, id)", [ids])}
    finally:
        con.close()
    return [found.get(i, {"id": i}) for i in ids]
