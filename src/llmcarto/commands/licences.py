"""`llmcarto licences` (drift rates per relation and family) and `llmcarto export licences`
(one row per lineage edge: the licence at each end, the drift verdict and its rule, gating
drift), read from the derived table `licence_drift`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from llmcarto.commands import write_output
from llmcarto.errors import InputError

console = Console()
FORMATS = ("csv", "json")
EXPORT_COLUMNS = ("parent", "child", "relation", "parent_licence", "child_licence", "drift",
                  "rule", "gating_drift", "gating_rule", "parent_licence_source",
                  "child_licence_source", "parent_licence_raw", "child_licence_raw",
                  "parent_gated", "child_gated", "licence_disagreement", "verdicts",
                  "source_url", "file", "loc")


def _open(ctx: typer.Context):
    from llmcarto.settings import Settings
    from llmcarto.store import open_published

    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings.resolve()
    return open_published(settings.db_path)


def load_edges(con, family: str | None) -> list[dict[str, Any]]:
    """The licence_drift rows of the store, or of one family (its root and descendants)."""
    from llmcarto.analysis.licence_drift import _dict_rows, family_drift
    from llmcarto.store.status import has_table

    if not has_table(con, "licence_drift"):
        raise InputError("the store has no licence_drift table: run `llmcarto build` first")
    if family is None:
        return list(_dict_rows(con, "SELECT * FROM licence_drift ORDER BY parent, child"))
    wanted = family.strip()
    found = con.execute("SELECT parent FROM licence_drift WHERE lower(parent) = lower(?) UNION "
                        "SELECT child FROM licence_drift WHERE lower(child) = lower(?) LIMIT 1",
                        [wanted, wanted]).fetchone()
    if found is None:
        raise InputError(f"--family {family!r}: no lineage edge has this model at either end; "
                         "`llmcarto lineage` lists the families")
    return family_drift(con, found[0])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(_plain(row, c)) for c in EXPORT_COLUMNS])
    return buf.getvalue()


def _plain(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if column == "verdicts" and isinstance(value, str):
        return json.loads(value)
    return value


def to_json(rows: list[dict[str, Any]], family: str | None) -> str:
    from llmcarto.analysis.licences import drift_rates

    rates = {key: {k: v.as_dict() for k, v in drift_rates(rows, key).items()}
             for key in ("relation",)}
    doc = {"family": family, "rates": rates,
           "edges": [{c: _plain(r, c) for c in EXPORT_COLUMNS} for r in rows]}
    return json.dumps(doc, indent=1, ensure_ascii=False, default=str) + "\n"


def rates_table(title: str, rates: dict[str, Any]) -> Table:
    from llmcarto.analysis.licences import percent

    table = Table(title=title)
    for col in ("group", "edges", "known", "changed", "change rate", "incompat.",
                "unknown", "gating known", "gate dropped", "gating change"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for key, r in sorted(rates.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        table.add_row(key, f"{r.edges:,}", f"{r.known_both:,}", f"{r.changed:,}",
                      percent(r.change_rate, r.known_both), f"{r.incompatible:,}",
                      f"{100 * r.unknown_share:.1f} %" if r.unknown_share is not None
                      else "no edges",
                      f"{r.gating_known:,}", f"{r.gate_dropped:,}",
                      percent(r.gating_change_rate, r.gating_known))
    return table


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    @app.command("licences")
    def licences_command(
        ctx: typer.Context,
        family: Annotated[str | None, typer.Option(
            "--family", help="ORG/NAME: only that family's edges.", show_default=False)] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Licence and gating drift along lineage edges: rates over edges whose two licences
        are known, with the unknown share beside them, per relation and per family."""
        from llmcarto.analysis.licences import drift_rates

        con = _open(ctx)
        try:
            rows = load_edges(con, family)
        finally:
            con.close()
        by_relation = drift_rates(rows, "relation")
        by_family = drift_rates(({**r, "family": f} for r in rows for f in r["families"] or
                                 ["(no root)"]), "family")
        if as_json:
            typer.echo(json.dumps({
                "family": family,
                "by_relation": {k: v.as_dict() for k, v in by_relation.items()},
                "by_family": {k: v.as_dict() for k, v in by_family.items() if k != "all"},
            }, indent=1, default=str))
            return
        console.print(rates_table("licence drift by relation", by_relation))
        by_family.pop("all", None)
        console.print(rates_table("licence drift by family", by_family))

    @export_app.command("licences")
    def export_licences(
        ctx: typer.Context,
        family: Annotated[str | None, typer.Option(
            "--family", help="ORG/NAME: export that family's edges (default: every edge).",
            show_default=False)] = None,
        fmt: Annotated[str, typer.Option("--format", help="csv | json")] = "csv",
        out: Annotated[Path | None, typer.Option(
            "--out", help="File to write (default: standard output).",
            show_default=False)] = None,
    ) -> None:
        """Per lineage edge: parent, child, both licences (with their sources), the drift
        verdict and rule, and gating drift."""
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise InputError(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}")
        con = _open(ctx)
        try:
            rows = load_edges(con, family)
        finally:
            con.close()
        text = to_csv(rows) if fmt == "csv" else to_json(rows, family)
        write_output(text, out, f"{len(rows):,} edges")
