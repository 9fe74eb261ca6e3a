"""`llmcarto collect git`, `export commits`, `export persons` and `bench git`.

Thin on purpose: flags → `sources.gitclone.collect_git` (then the derived tables are
refreshed and the read-only copy published), or a query over the published copy's derived
tables (`commit_affiliation`, `stage_trace`, `git_commit_person`). Exports name people only
by pseudonym and organisations only when registered (design.md §7).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llmcarto.commands import command_group
from llmcarto.errors import InputError

console = Console()
err_console = Console(stderr=True)

COMMITS_EXPORT = """
    SELECT a.case_key AS "case", a.sha, a.date, a.person AS author_person,
           a.author_class, a.author_org, a.class_basis, t.stage, t.activity,
           t.domain AS artefact_domain, t.rule, t.path_class, t.upstream_contribution,
           t.upstream_rule, c.files_changed, a.inherited, a.source_url
    FROM commit_affiliation a
    JOIN stage_trace t ON {trace_on}
    JOIN ({commits}) c ON c.repo = a.repo AND c.sha = a.sha
    WHERE lower(a.repo) = lower(?)
    ORDER BY a.case_key, a.date, a.sha"""
PERSONS_EXPORT = """
    SELECT case_key AS "case", person, author_class AS class, author_org AS org,
           count(*) FILTER (WHERE NOT inherited) AS commits,
           count(*) FILTER (WHERE inherited) AS inherited_commits,
           min(date) FILTER (WHERE NOT inherited) AS first,
           max(date) FILTER (WHERE NOT inherited) AS last
    FROM commit_affiliation
    WHERE lower(repo) = lower(?) AND person IS NOT NULL
    GROUP BY ALL
    ORDER BY "case", commits DESC, inherited_commits DESC, person, class, org"""



def register(app: typer.Typer, export_app: typer.Typer) -> None:
    command_group(app, "collect").command("git")(
        collect_git_command)
    export_app.command("commits")(export_commits_command)
    export_app.command("persons")(export_persons_command)
    command_group(app, "bench").command("git")(
        bench_git_command)


def collect_git_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A local clone, bare or not.")],
    repo: Annotated[str | None, typer.Option(
        "--repo", help="OWNER/NAME (default: from a GitHub `origin` remote).")] = None,
    case: Annotated[str | None, typer.Option(
        "--case", help="Tie the repository to this case (when the registry does not).")] = None,
    branch: Annotated[str | None, typer.Option(
        "--branch", help="Branch to read (default: the clone's HEAD).")] = None,
) -> None:
    """Read a local clone's history (commits with numstat and trailers, PR heads) into the
    store; a re-run adds only new commits."""
    from llmcarto.cli import settings
    from llmcarto.framework.organisations import load_organisation_files
    from llmcarto.sources.gitclone import collect_git
    from llmcarto.store import Store

    cfg = settings(ctx)
    load_organisation_files(cfg.organisation_files)  # a bad file fails before any write
    with Store(cfg.db_path) as store, console.status(f"reading {path}"):
        report = collect_git(store.con, path, repo=repo, case=case, branch=branch)
        store.mark_changed()  # collected rows: refresh derived tables and publish on close
    what = ("history rewritten since the last run: collected again whole; "
            if report.rewritten else "")
    console.print(f"collect git {report.repo} ({report.branch} @ {report.head[:12]}): {what}"
                  f"{report.new_commits:,} new commits, {report.total_commits:,} in all, "
                  f"{report.pulls:,} PR heads ({report.pulls_merged:,} merged by ancestry), "
                  f"{sum(not s.kept for s in report.skips):,} skipped",
                  highlight=False, markup=False)
    for skip in report.skips[:20]:
        word = "kept, but" if skip.kept else "skipped"
        err_console.print(f"  {word} {skip.file}:{skip.loc}: {skip.reason}", highlight=False,
                          markup=False, soft_wrap=True)


def _export(ctx: typer.Context, sql: str, repo: str, fmt: str, out: Path | None) -> int:
    from llmcarto.analysis.stages import COMMIT_TRACE_ON, COMMITS_SQL
    from llmcarto.cli import settings
    from llmcarto.store import open_published
    from llmcarto.store.status import has_table

    if fmt not in ("csv", "parquet"):
        raise InputError(f"--format {fmt!r}: expected csv or parquet")
    if fmt == "parquet" and out is None:
        raise InputError("--format parquet writes a file: give --out FILE")
    con = open_published(settings(ctx).db_path)
    try:
        if not has_table(con, "commit_affiliation") or not has_table(con, "git_commit"):
            raise InputError("the store has no commits yet: run `llmcarto build` or "
                             "`llmcarto collect git` first")
        if not con.execute("SELECT count(*) FROM git_commit WHERE lower(repo) = lower(?)",
                           [repo]).fetchone()[0]:
            raise InputError(f"--repo {repo}: no commits of this repository in the store")
        if not con.execute("SELECT count(*) FROM commit_affiliation WHERE lower(repo) = "
                           "lower(?)", [repo]).fetchone()[0]:
            raise InputError(f"--repo {repo}: the repository belongs to no case, so its "
                             "authors have no class; collect it again with --case KEY")
        query = sql.format(commits=COMMITS_SQL, trace_on=COMMIT_TRACE_ON)
        if out is not None:
            count = con.execute(f"SELECT count(*) FROM ({query})", [repo]).fetchone()[0]
            options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
            target = str(out).replace("'", "''")
            con.execute(f"COPY ({query}) TO '{target}' ({options})", [repo])
            return count
        cur = con.execute(query, [repo])
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([d[0] for d in cur.description])
        count = 0
        while batch := cur.fetchmany(5000):
            for row in batch:
                writer.writerow(["" if v is None else str(v).lower() if isinstance(v, bool)
                                 else v for v in row])
                count += 1
        return count
    finally:
        con.close()


def export_commits_command(
    ctx: typer.Context,
    repo: Annotated[str, typer.Option("--repo", help="OWNER/NAME")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: "
                                             "stdout for csv).")] = None,
) -> None:
    """One row per commit and case: stage, activity, artefact domain, the deciding rule,
    the author's pseudonym, class and organisation, the upstream_contribution flag."""
    count = _export(ctx, COMMITS_EXPORT, repo, fmt, out)
    if out is not None:
        console.print(f"wrote {count:,} commits to {out}", highlight=False, markup=False)


def export_persons_command(
    ctx: typer.Context,
    repo: Annotated[str, typer.Option("--repo", help="OWNER/NAME")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: "
                                             "stdout for csv).")] = None,
) -> None:
    """One row per case, person, class and organisation: own commits (inherited upstream
    history counted apart) and the first and last of them."""
    count = _export(ctx, PERSONS_EXPORT, repo, fmt, out)
    if out is not None:
        console.print(f"wrote {count:,} rows to {out}", highlight=False, markup=False)


def bench_git_command(
    repo: Annotated[str, typer.Option("--repo", help="A bundled repository's OWNER/NAME.")
                    ] = "EleutherAI/lm-evaluation-harness",
    baseline_timeout: Annotated[float, typer.Option(
        "--baseline-timeout", help="Seconds before the pydriller baseline is stopped.")] = 1800,
    baseline: Annotated[bool, typer.Option(help="Run the pydriller baseline.")] = True,
    keep: Annotated[Path | None, typer.Option(
        "--keep", help="Keep the replayed repository in this (new) folder.")] = None,
) -> None:
    """Replay a bundled log into a real git repository (real commits, authors, dates and
    paths; synthetic file contents), time collect + classify, and the pydriller baseline."""
    from llmcarto.commands.git_bench import run_bench

    run_bench(repo, baseline_timeout if baseline else None, keep, print_line=console.print)
