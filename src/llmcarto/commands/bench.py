"""`llmcarto synth` (a synthetic Hub in Parquet) and `llmcarto bench lineage`.

`bench lineage` loads a synthetic Hub (generated first if missing; generation not timed),
computes every lineage table with `analysis.lineage_scale` — the code the store's tables
can be checked against — reads its own peak RSS, then runs the committed baseline
`benchmarks/networkx_lineage.py` in a child process (timeout each) at 10k, 100k, 1M and
2.2M models until one times out, compares both outputs where both finish, and prints one
JSON line last (design §10).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from llmcarto.commands import command_group, write_output
from llmcarto.errors import InputError

console = Console()
BASELINE = Path(__file__).resolve().parents[3] / "benchmarks" / "networkx_lineage.py"
README = Path(__file__).resolve().parents[3] / "README.md"
RECORD = Path(__file__).resolve().parents[3] / "benchmarks" / "results" / "bench-lineage.json"
README_BLOCK = re.compile(r"(<!-- bench-lineage:begin -->\n)(.*?)(<!-- bench-lineage:end -->)",
                          re.S)
BASELINE_SIZES = (10_000, 100_000, 1_000_000, 2_200_000)
TARGET_SECONDS = 30.0
TARGET_RSS_MB = 3072.0
TARGET_DELTA_SECONDS = 2.0



def register(app: typer.Typer, export_app: typer.Typer) -> None:
    app.command("synth")(synth_command)
    command_group(app, "bench").command(
        "lineage")(bench_lineage_command)


def synth_command(
    models: Annotated[int, typer.Option("--models", help="Number of models.")] = 2_200_000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Folder for the Parquet files.")] = Path(
        "synthhub"),
) -> None:
    """Write a deterministic synthetic Hub with the shape of design §10 to Parquet."""
    from llmcarto.analysis.synthhub import synth_hub, write_hub

    if models < 200:
        raise InputError(f"--models {models}: at least 200")
    paths = write_hub(synth_hub(models, seed), out)
    console.print(f"wrote {models} models to {paths['models']} and {paths['edges']}")


# ------------------------------------------------------------------------ outputs


def write_outputs(state: Any, out: Path) -> None:
    """node/root/edge Parquet files of a ScaleLineage (the baseline writes the same)."""
    import duckdb

    from llmcarto.analysis.lineage_scale import RELATIONS

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    node = {"id": state.ids, "depth": state.depth, "descendants": state.descendant_count,
            **{f"d_{r}": state.by_relation[:, i] for i, r in enumerate(RELATIONS)}}
    n, r = state.roots_table()
    root = {"id": state.ids[n], "root": state.ids[r]}
    import numpy as np

    edge = {"parent": state.ids[state.parent], "child": state.ids[state.child],
            "relation": np.array(RELATIONS, dtype=object)[state.relation],
            "drift": state.drift, "rule": state.rule}
    for name, frame in (("node", node), ("root", root), ("edge", edge)):
        _copy(con, frame, out / (name + ".parquet"))
    con.close()


def _copy(con: Any, frame: dict, path: Path) -> None:
    """COPY a dict of numpy columns (DuckDB scans the local `frame`) to Parquet."""
    con.execute(f"COPY (SELECT * FROM frame) TO '{path}' (FORMAT parquet)")


def compare_outputs(ours: Path, theirs: Path) -> dict[str, int]:
    """Rows in one output and not the other, per table (empty when equal)."""
    import duckdb

    con = duckdb.connect()
    out = {}
    for table in ("node", "root", "edge"):
        a = f"SELECT * FROM read_parquet('{ours / table}.parquet')"
        b = f"SELECT * FROM read_parquet('{theirs / table}.parquet')"
        diff = con.execute(f"SELECT (SELECT count(*) FROM ({a} EXCEPT ALL {b})) + "
                           f"(SELECT count(*) FROM ({b} EXCEPT ALL {a}))").fetchone()[0]
        if diff:
            out[table] = int(diff)
    return out


# ------------------------------------------------------------------------ the benchmark


def delta_equals_full(state: Any) -> list[str]:
    """The tables of a delta-updated state that differ from `compute` over all its models
    and edges (empty when every table is equal)."""
    import numpy as np

    from llmcarto.analysis.lineage_scale import RELATIONS, compute

    full = compute(state.ids, state.licence_raw, state.parent, state.child,
                   np.array(RELATIONS, dtype=object)[state.relation])
    return [name for name in ("depth", "pair_key", "pair_dist", "descendant_count",
                              "by_relation", "parent", "child", "relation", "drift", "rule",
                              "licence_id")
            if not np.array_equal(getattr(state, name), getattr(full, name))]


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def _ensure_hub(models: int, seed: int, folder: Path) -> Path:
    from llmcarto.analysis.synthhub import synth_hub, write_hub

    hub = folder / f"hub-{models}-s{seed}"
    if not (hub / "edges.parquet").exists():
        write_hub(synth_hub(models, seed), hub)
    return hub


def run_bench(models: int, seed: int, delta: int, baseline_timeout: float | None,
              folder: Path, print_line: Any = print, sizes: list | None = None
              ) -> dict[str, Any]:
    """The benchmark (see the module docstring); returns the final JSON object and appends
    one row per baseline size to `sizes`."""
    sizes = [] if sizes is None else sizes
    from llmcarto.analysis.lineage_scale import apply_delta, compute
    from llmcarto.analysis.synthhub import read_hub

    hub_dir = _ensure_hub(models, seed, folder)  # not timed
    started = time.perf_counter()
    ids, licence, parent_names, child_names, relation = read_hub(hub_dir)
    load_s = time.perf_counter() - started
    import numpy as np

    index = {name: i for i, name in enumerate(ids)}
    parent = np.fromiter((index[x] for x in parent_names), dtype=np.int64,
                         count=len(parent_names))
    child = np.fromiter((index[x] for x in child_names), dtype=np.int64, count=len(child_names))
    state = first = compute(ids, licence, parent, child, relation)
    seconds = time.perf_counter() - started
    peak = _peak_mb(resource.RUSAGE_SELF)
    print_line(f"llmcarto: {models} models, {len(state.parent)} edges, "
               f"{len(state.pair_key)} ancestor pairs: {seconds:.2f} s "
               f"(Parquet load {load_s:.2f} s), peak RSS {peak:.0f} MB "
               f"[targets ≤ {TARGET_SECONDS:.0f} s, ≤ {TARGET_RSS_MB:.0f} MB]")
    result: dict[str, Any] = {"models": models, "seconds": round(seconds, 3),
                              "peak_rss_mb": round(peak, 1), "edges": len(state.parent),
                              "load_seconds": round(load_s, 3)}
    if delta:
        from llmcarto.analysis.synthhub import synth_delta, synth_hub

        day = synth_delta(synth_hub(models, seed), delta, seed + 1)  # not timed
        t0 = time.perf_counter()
        state = apply_delta(state, day.ids, day.licence, day.parent, day.child, day.relation)
        delta_s = time.perf_counter() - t0
        print_line(f"delta: {delta} new models, {len(day.parent)} new edges, tables updated "
                   f"in {delta_s:.3f} s [target ≤ {TARGET_DELTA_SECONDS:.0f} s]")
        same = delta_equals_full(state)  # not timed
        print_line("delta tables equal a full recomputation over every model: "
                   + ("yes" if not same else f"NO, they differ in {', '.join(same)}"))
        if same:
            raise InputError(f"the delta-updated tables differ from a full recomputation: {same}")
        result.update({"delta_models": delta, "delta_edges": len(day.parent),
                       "delta_seconds": round(delta_s, 3), "delta_equals_full": True})
    result.update({"baseline_models": None, "baseline_seconds": None,
                   "speedup_vs_networkx": None})
    if baseline_timeout is None:
        return result
    for size in BASELINE_SIZES:
        if size > models:
            break
        hub = _ensure_hub(size, seed, folder)
        ours_started = time.perf_counter()
        if size == models:
            ours, ours_s = first, seconds
        else:
            h_ids, h_lic, h_p, h_c, h_rel = read_hub(hub)
            pos = {name: i for i, name in enumerate(h_ids)}
            ours = compute(h_ids, h_lic, np.array([pos[x] for x in h_p], dtype=np.int64),
                           np.array([pos[x] for x in h_c], dtype=np.int64), h_rel)
            ours_s = time.perf_counter() - ours_started
        t0 = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, str(BASELINE), str(hub),
                                   str(folder / f"networkx-{size}")], capture_output=True,
                                  text=True, timeout=baseline_timeout, check=True)
        except subprocess.TimeoutExpired:
            print_line(f"networkx baseline at {size} models: timed out after "
                       f"{baseline_timeout:.0f} s")
            sizes.append({"models": size, "seconds": round(ours_s, 3),
                          "baseline_seconds": None, "outputs": "baseline timed out"})
            break
        except subprocess.CalledProcessError as exc:
            raise InputError(f"baseline {BASELINE} failed at {size} models: "
                             f"{exc.stderr[-500:]}") from exc
        wall = time.perf_counter() - t0
        base_s = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
        write_outputs(ours, folder / f"llmcarto-{size}")
        diff = compare_outputs(folder / f"llmcarto-{size}", folder / f"networkx-{size}")
        print_line(f"networkx baseline at {size} models: {base_s:.2f} s computing "
                   f"({wall:.1f} s with I/O), llmcarto {ours_s:.2f} s; outputs "
                   + ("identical" if not diff else f"DIFFER: {diff}"))
        if diff:
            raise InputError(f"llmcarto and networkx differ at {size} models: {diff}")
        sizes.append({"models": size, "seconds": round(ours_s, 3),
                      "baseline_seconds": round(base_s, 3), "outputs": "identical"})
        result["baseline_models"] = size
        result["baseline_seconds"] = round(base_s, 3)
        result["speedup_vs_networkx"] = round(base_s / ours_s, 1)
    result["baseline_peak_rss_mb"] = round(_peak_mb(resource.RUSAGE_CHILDREN), 1)
    return result


def bench_lineage_command(
    models: Annotated[int, typer.Option("--models")] = 2_200_000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    delta: Annotated[int, typer.Option("--delta", help="Add N new models incrementally.")] = 0,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline")] = True,
    baseline_timeout: Annotated[float, typer.Option("--baseline-timeout")] = 600.0,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", help="Where synthetic Hubs and outputs go (default: a temp folder).")
    ] = None,
    record: Annotated[Path | None, typer.Option(
        "--record", help="Also write the run (lines, sizes, result) to this JSON file.")
    ] = None,
    write_readme: Annotated[bool, typer.Option(
        "--write-readme", help="Replace the README's bench-lineage block from --record.")
    ] = False,
) -> None:
    """Lineage for every model of a synthetic Hub, timed, against networkx."""
    if models < 200:
        raise InputError(f"--models {models}: at least 200 (the shape needs 100 hubs)")
    if delta < 0:
        raise InputError(f"--delta {delta}: a number of new models, 0 or more")
    if write_readme and record is None:
        raise InputError("--write-readme renders the README block from --record FILE: give both")
    lines: list[str] = []
    sizes: list[dict[str, Any]] = []

    def say(line: str) -> None:
        lines.append(line)
        console.print(line)

    load_before = os.getloadavg()[0]
    timeout = baseline_timeout if baseline else None
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="llmcarto-bench-") as tmp:
            result = run_bench(models, seed, delta, timeout, Path(tmp), say, sizes)
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        result = run_bench(models, seed, delta, timeout, workdir, say, sizes)
    if record is not None:
        argv = ["llmcarto", "bench", "lineage", "--models", str(models), "--seed", str(seed)]
        argv += ["--delta", str(delta)] if delta else []
        argv += [] if baseline else ["--no-baseline"]
        data = {"command": " ".join(argv), "date": time.strftime("%Y-%m-%d"),
                "cpus": os.cpu_count(), "load_before": round(load_before, 2),
                "targets": {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_RSS_MB,
                            "delta_seconds": TARGET_DELTA_SECONDS},
                "lines": lines, "sizes": sizes, "result": result}
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{record.parent}: cannot create ({exc.strerror or exc})") from exc
        write_output(json.dumps(data, indent=1) + "\n", record)
        if write_readme:
            text = README.read_text(encoding="utf-8")
            if not README_BLOCK.search(text):
                raise InputError(f"{README} has no <!-- bench-lineage:begin --> block")
            README.write_text(README_BLOCK.sub(
                lambda m: m.group(1) + readme_markdown(data) + m.group(3), text),
                encoding="utf-8")
    print(json.dumps(result))


# ------------------------------------------------------------------------ the README block


def readme_markdown(record: dict[str, Any]) -> str:
    """The README's bench-lineage block, rendered from a `--record` file (a test compares)."""
    r = record["result"]
    t = record["targets"]
    out = [f"Recorded by `{record['command']}` on {record['date']}, {record['cpus']} CPUs "
           f"(load average {record['load_before']:.1f} before the run; targets ≤ "
           f"{t['seconds']:.0f} s and ≤ {t['peak_rss_mb'] / 1024:.0f} GB peak RSS, a delta of "
           f"5K models ≤ {t['delta_seconds']:.0f} s). The file is "
           "`benchmarks/results/bench-lineage.json`.", "",
           "| models | llmcarto | networkx baseline | outputs |", "|---:|---:|---:|---|"]
    for row in record["sizes"] or [{"models": r["models"], "seconds": r["seconds"],
                                    "baseline_seconds": None, "outputs": "no baseline run"}]:
        ours = f"{row['seconds']:.2f} s"
        theirs = "–" if row["baseline_seconds"] is None else f"{row['baseline_seconds']:.2f} s"
        if row["models"] == r["models"]:
            ours += (f" (Parquet load {r['load_seconds']:.2f} s), peak RSS "
                     f"{r['peak_rss_mb']:,.0f} MB")
            if row["baseline_seconds"] is not None:
                theirs += f", peak RSS {r['baseline_peak_rss_mb']:,.0f} MB"
        out.append(f"| {row['models']:,} | {ours} | {theirs} | {row['outputs']} |")
    out.append("")
    if r.get("delta_models"):
        out += [f"With `--delta {r['delta_models']}`: {r['delta_models']:,} new models "
                f"({r['delta_edges']:,} new edges) update every table in "
                f"{r['delta_seconds']:.2f} s"
                + ("; in the same run (not timed) every updated table equals a full "
                   f"recomputation over all {r['models'] + r['delta_models']:,} models."
                   if r.get("delta_equals_full") else "."), ""]
    out += ["```", json.dumps(r), "```", ""]
    return "\n".join(out)
