"""`llmcarto export measures`, `export network` and `bench measures`.

Thin: the measures are the derived table `collab_measure` (`analysis.measures`), the
networks `analysis.networks` over `commit_affiliation`; both read the published copy.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llmcarto.commands import command_group, write_output
from llmcarto.errors import InputError

console = Console()
MEASURE_FIELDS = ("case_key", "repo", "stage", "platform", "period", "measure", "value", "n",
                  "unknown_share", "status", "reason", "evidence")


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    export_app.command("measures")(export_measures_command)
    export_app.command("network")(export_network_command)
    command_group(app, "bench").command(
        "measures")(bench_measures_command)


def _open(ctx: typer.Context):  # noqa: ANN202
    from llmcarto.cli import settings
    from llmcarto.store import open_published

    return open_published(settings(ctx).db_path)


def _check_case(con, case: str) -> None:  # noqa: ANN001
    if not con.execute("SELECT count(*) FROM case_info WHERE case_key = ?",
                       [case]).fetchone()[0]:
        keys = [r[0] for r in con.execute("SELECT case_key FROM case_info ORDER BY 1").fetchall()]
        raise InputError(f"--case {case!r}: no such case (known: {', '.join(keys)})")





MEASURE_FORMATS = ("json", "csv", "parquet")
PERIODS = {"overall": "period = 'all'", "monthly": "period <> 'all'", "both": "true"}
_PARQUET_TYPES = {"value": "DOUBLE", "n": "INTEGER", "unknown_share": "DOUBLE"}


def measure_rows(con, case: str, period: str = "both") -> list[dict]:  # noqa: ANN001
    """The case's `collab_measure` rows (export columns) in a stable order."""
    cur = con.execute(f"SELECT {', '.join(MEASURE_FIELDS)} FROM collab_measure "
                      f"WHERE case_key = ? AND {PERIODS[period]} "
                      "ORDER BY platform, stage, repo, period, measure", [case])
    return [dict(zip(MEASURE_FIELDS, r, strict=True)) for r in cur.fetchall()]


def write_measures_parquet(rows: list[dict], path: Path) -> int:
    """Measure rows to a Parquet file through DuckDB (typed columns, nulls kept)."""
    import duckdb

    columns = ", ".join(f'"{f}" {_PARQUET_TYPES.get(f, "VARCHAR")}' for f in MEASURE_FIELDS)
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"CREATE TABLE measures ({columns})")
        if rows:
            con.executemany(f"INSERT INTO measures VALUES ({', '.join('?' * len(MEASURE_FIELDS))})",
                            [[r[f] for f in MEASURE_FIELDS] for r in rows])
        target = str(path).replace("'", "''")
        try:
            con.execute(f"COPY measures TO '{target}' (FORMAT parquet)")
        except duckdb.Error as exc:
            raise InputError(f"{path}: cannot write Parquet ({exc})") from exc
    finally:
        con.close()
    return len(rows)


def export_measures_command(
    ctx: typer.Context,
    case: Annotated[str, typer.Option("--case", help="Case key.")],
    fmt: Annotated[str, typer.Option("--format", help="json, csv or parquet")] = "json",
    period: Annotated[str, typer.Option(
        "--period", help="overall (period `all`), monthly (YYYY-MM rows) or both")] = "both",
    out: Annotated[Path | None, typer.Option("--out", help="File (default: stdout; "
                                             "parquet needs a file).")] = None,
) -> None:
    """Per repository, stage, platform and period: each measure with its value, n, unknown
    share and evidence; a measure with too little data is null with the reason."""
    from llmcarto.store.status import has_table

    if fmt not in MEASURE_FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(MEASURE_FORMATS)}")
    if period not in PERIODS:
        raise InputError(f"--period {period!r}: expected one of {', '.join(PERIODS)}")
    if fmt == "parquet" and out is None:
        raise InputError("--format parquet writes a binary file: give --out FILE")
    con = _open(ctx)
    try:
        if not has_table(con, "collab_measure"):
            raise InputError("the store has no measures yet: run `llmcarto build` first")
        _check_case(con, case)
        rows = measure_rows(con, case, period)
    finally:
        con.close()
    if fmt == "parquet":
        assert out is not None
        write_measures_parquet(rows, out)
    else:
        if fmt == "json":
            text = json.dumps({"case": case, "period": period, "measures": rows},
                              ensure_ascii=False, indent=1) + "\n"
        else:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(MEASURE_FIELDS)
            writer.writerows([["" if r[f] is None else r[f] for f in MEASURE_FIELDS]
                              for r in rows])
            text = buf.getvalue()
        write_output(text, out)
    if out is not None:
        console.print(f"wrote {len(rows):,} measures to {out}", highlight=False, markup=False)


def export_network_command(
    ctx: typer.Context,
    case: Annotated[str | None, typer.Option("--case", help="Case key.")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="All cases together.")] = False,
    stage: Annotated[str | None, typer.Option(
        "--stage", help="Only commits placed in this lifecycle stage (stage_trace).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet, graphml or gexf")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="File (default: stdout; "
                                             "parquet needs a file).")] = None,
) -> None:
    """Organisation ↔ repository and organisation ↔ organisation (shared repositories),
    over own commits; `--stage` keeps only the commits placed in that stage."""
    from llmcarto.analysis import networks

    if (case is None) == (not all_cases):
        raise InputError("give exactly one of --case KEY or --all")
    if fmt not in networks.FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(networks.FORMATS)}")
    if fmt == "parquet" and out is None:
        raise InputError("--format parquet writes a file: give --out FILE")
    if stage is not None and stage not in networks.STAGES:
        raise InputError(f"--stage {stage!r}: expected one of {', '.join(networks.STAGES)}")
    con = _open(ctx)
    try:
        if case is not None:
            _check_case(con, case)
        edges, nodes = networks.network(con, case, stage)
    finally:
        con.close()
    if fmt == "parquet":
        assert out is not None
        networks.write_parquet(edges, out)
    else:
        text = (networks.to_csv(edges) if fmt == "csv" else networks.to_graphml(edges, nodes)
                if fmt == "graphml" else networks.to_gexf(edges, nodes))
        write_output(text, out)
    if out is not None:
        console.print(f"wrote {len(edges):,} edges ({len(nodes):,} nodes) to {out}",
                      highlight=False, markup=False)


def bench_measures_command(ctx: typer.Context) -> None:
    """Build a scratch store from the bundle, then time recomputing every measure (git
    and Hub) of all bundled repositories; ends with one JSON line."""
    import tempfile

    import duckdb

    from llmcarto.analysis.measures import collab_rows, write_measure_tables
    from llmcarto.store.build import build

    with tempfile.TemporaryDirectory(prefix="llmcarto-bench-") as tmp:
        db = Path(tmp) / "bench.duckdb"
        t0 = time.perf_counter()
        build(db)
        built = time.perf_counter() - t0
        con = duckdb.connect(str(db))
        try:
            t1 = time.perf_counter()
            rows = collab_rows(con)
            computed = time.perf_counter() - t1
            t2 = time.perf_counter()
            written = write_measure_tables(con)
            total = time.perf_counter() - t2
            repos = con.execute("SELECT count(DISTINCT repo) FROM collab_measure "
                                "WHERE repo <> '*'").fetchone()[0]
        finally:
            con.close()
    console.print(f"store build (not timed against the target): {built:.1f} s", markup=False)
    console.print(f"measures of {repos} repositories: computed in {computed:.2f} s, "
                  f"computed and written in {total:.2f} s ({written:,} rows; target ≤ 10 s)",
                  markup=False, highlight=False)
    print(json.dumps({"bench": "measures", "repos": repos, "rows": len(rows),
                      "compute_s": round(computed, 3), "write_s": round(total, 3),
                      "target_s": 10, "ok": total <= 10}))
