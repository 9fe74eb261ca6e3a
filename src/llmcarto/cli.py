"""The `llmcarto` command line: parses flags, calls the layers, shows the result.

Kept thin on purpose: every verb delegates to a function a notebook can call too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from llmcarto import __version__
from llmcarto.errors import LlmcartoError
from llmcarto.framework.cases import Registry, load_registry
from llmcarto.settings import Settings

app = typer.Typer(
    name="llmcarto",
    help="Map where and how open collaboration happens around open LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="Export tables for Gephi, notebooks and spreadsheets.",
                         no_args_is_help=True)
app.add_typer(export_app, name="export")
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmcarto {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[Path | None, typer.Option(
        "--db", help="DuckDB store file (env LLMCARTO_DB; default under the user data dir).",
        show_default=False)] = None,
    cases: Annotated[list[Path] | None, typer.Option(
        "--cases", help="YAML file of cases to add or override (repeatable; env LLMCARTO_CASES).",
        show_default=False)] = None,
    organisations: Annotated[list[Path] | None, typer.Option(
        "--organisations", help="YAML file of organisations' e-mail domains, each with a source "
        "URL (repeatable; env LLMCARTO_ORGANISATIONS).", show_default=False)] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = Settings.resolve(db=db, cases=cases, organisations=organisations).activate()


def settings(ctx: typer.Context) -> Settings:
    return ctx.obj if isinstance(ctx.obj, Settings) else Settings.resolve()


def registry(ctx: typer.Context) -> Registry:
    return load_registry(settings(ctx).case_files)


@app.command("cases")
def cases_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the cases: organisation, type, region, study placement, release lines, repositories."""
    reg = registry(ctx)
    rows = [case_summary(case) for case in reg]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} cases", show_lines=True)
    for col in ("case", "organisation", "type", "region", "study placement",
                "release lines", "repositories"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(
            row["case"], row["organisation"], row["type"] or "unknown", row["region"] or "unknown",
            row["study_box"] or "not placed by the study",
            "\n".join(f"{f['name']} ({', '.join(f['hub_orgs']) or 'no Hub org'})"
                      for f in row["release_lines"]),
            "\n".join(f"{r['repo']} [{', '.join(r['roles']) or 'no role'}]"
                      for r in row["repositories"]),
        )
    console.print(table)


def _print_report(report, verb: str) -> None:
    loaded = report.by_status("loaded")
    unchanged = report.by_status("unchanged")
    console.print(f"{verb}: {len(loaded)} files loaded, {len(unchanged)} unchanged, "
                  f"{report.records:,} records, {report.skipped:,} skipped, "
                  f"{report.reported:,} kept with a reported problem")
    for skip in report.skips[:20]:
        word = "kept, but" if skip.kept else "skipped"
        err_console.print(f"  {word} {skip.file}:{skip.loc}: {skip.reason}", highlight=False,
                          soft_wrap=True, markup=False)
    if len(report.skips) > 20:
        err_console.print(f"  … and {len(report.skips) - 20} more (llmcarto status lists all)")
    for failed in (*report.by_status("unknown"), *report.by_status("failed")):
        err_console.print(f"  [yellow]not read[/]: {failed.message}", highlight=False,
                          soft_wrap=True)
    if report.readable == 0:
        raise typer.Exit(1)


@app.command("build")
def build_command(ctx: typer.Context) -> None:
    """Load the bundled real snapshot and the case registry into the store (idempotent)."""
    from llmcarto.store.build import build

    cfg = settings(ctx)
    with console.status("building the store from the bundled snapshot") as spinner:
        report = build(cfg.db_path, cfg.case_files,
                       progress=lambda name: spinner.update(f"reading {name}"))
    _print_report(report, f"build {cfg.db_path}")


@app.command("import")
def import_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of the bundle's kinds.")],
) -> None:
    """Load files of the offline-bundle kinds (detected by content) into the store."""
    from llmcarto.store import Store

    cfg = settings(ctx)
    with Store(cfg.db_path) as store, console.status("importing") as spinner:
        report = store.import_paths(paths, "import",
                                    progress=lambda name: spinner.update(f"reading {name}"))
    _print_report(report, f"import into {cfg.db_path}")


@app.command("status")
def status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown",
                                           help="Print the README's numbers block.")] = False,
) -> None:
    """Counts per table, per source and per case, and every skipped item with its reason."""
    from llmcarto.store import open_published
    from llmcarto.store.status import status, status_markdown

    con = open_published(settings(ctx).db_path)
    try:
        data = status(con)
    finally:
        con.close()
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    if markdown:
        typer.echo(status_markdown(data), nl=False)
        return
    table = Table(title="sources")
    for col in ("source", "files", "records", "skipped", "snapshot dates"):
        table.add_column(col)
    for s in data["sources"]:
        dates = " … ".join(d for d in s["snapshot_dates"] if d) or "unknown"
        table.add_row(s["kind"], f"{s['files']:,}", f"{s['records']:,}", f"{s['skipped']:,}",
                      dates)
    console.print(table)
    tables = Table(title="tables")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for t in data["tables"]:
        tables.add_row(t["table"], f"{t['rows']:,}")
    console.print(tables)
    console.print(f"records skipped: {data['skipped_total']:,}; kept with a reported problem: "
                  f"{data['reported_kept_total']:,}")
    for item in data["skipped"]:
        word = "kept" if item["kept"] else "skipped"
        console.print(f"  {word} {item['file']}:{item['loc']}: {item['reason']}",
                      highlight=False, soft_wrap=True, markup=False)
    if "crawl" in data:
        _print_crawl(data["crawl"])


def _print_crawl(crawl: dict) -> None:
    """The live crawls and every failed item (`llmcarto collect hub --retry-failed`)."""
    runs = Table(title="live crawls")
    for col in ("run", "target", "status", "requests", "items gained", "rate-limit wait",
                "items"):
        runs.add_column(col)
    for r in crawl["runs"]:
        runs.add_row(r["run_id"], r["target"], r["status"], f"{r['requests'] or 0:,}",
                     f"{r['items_gained'] or 0:,}", f"{r['rate_wait_s'] or 0:.1f} s",
                     ", ".join(f"{k} {n:,}" for k, n in r["items"].items()))
    console.print(runs)
    console.print(f"crawl items failed: {len(crawl['failures']):,}")
    for f in crawl["failures"]:
        console.print(f"  failed {f['kind']} {f['key']} ({f['run_id']}): {f['reason']}",
                      highlight=False, soft_wrap=True, markup=False)


@app.command("atlas")
def atlas_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you "
                                      "mean to expose the atlas.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the atlas (read-only) on http://HOST:PORT."""
    from llmcarto.atlas.app import serve

    serve(settings(ctx).db_path, host=host, port=port)


def case_summary(case) -> dict:
    """The JSON shape of `llmcarto cases --json` (one object per case)."""
    return {
        "case": case.key,
        "organisation": case.name.value,
        "type": case.org_type.value,
        "country": case.country.value,
        "region": case.region.value,
        "study_box": case.study.box.value,
        "study_box_source": case.study.box.source,
        "study_model_family": case.study.model_family.value,
        "release_lines": [
            {"name": f.name, "hub_orgs": list(f.hub_orgs.value or []), "id_regex": f.id_regex,
             "first_release": f.first_release.date or f.first_release.approx_date,
             "first_release_precision": f.first_release.precision,
             "licence": f.licence.value}
            for f in case.families],
        "repositories": [
            {"repo": r.repo, "roles": list(r.roles), "in_bundle": r.in_bundle,
             "fork_of": r.fork_of, "fork_point": r.fork_point.sha if r.fork_point else None}
            for r in case.repositories],
        "origin": case.origin,
    }


def _register_command_modules() -> None:
    from importlib import import_module

    from llmcarto.commands import COMMAND_MODULES

    for name in COMMAND_MODULES:
        import_module(f"llmcarto.commands.{name}").register(app, export_app)


_register_command_modules()


def main() -> None:
    """Entry point: user errors print one clear line and exit 2, never a traceback."""
    try:
        app()
    except LlmcartoError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
