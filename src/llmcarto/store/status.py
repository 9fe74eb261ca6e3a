"""What the store holds: counts per table and per source, per case, and what was skipped.

The README's numbers are generated from `status_markdown` so they cannot drift from the
data (a test compares them).
"""

from __future__ import annotations

from typing import Any

import duckdb

# Tables whose rows are the collected facts (bookkeeping tables are left out).
_BOOKKEEPING = {"llmcarto_meta", "import_file", "skipped_item", "data_table"}


def data_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("SELECT name FROM data_table ORDER BY name").fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchone()[0])


def status(con: duckdb.DuckDBPyConnection, skipped_limit: int | None = None) -> dict[str, Any]:
    tables = []
    for name in data_tables(con):
        by_source = con.execute(
            f'SELECT source, count(*) FROM "{name}" GROUP BY source ORDER BY source').fetchall()
        tables.append({"table": name, "rows": sum(n for _, n in by_source),
                       "by_source": {s: n for s, n in by_source}})
    sources = con.execute(
        "SELECT kind, count(*), sum(records), sum(skipped), min(snapshot_date), "
        "max(snapshot_date) FROM import_file GROUP BY kind ORDER BY kind").fetchall()
    skipped_sql = ("SELECT file, kind, loc, reason, kept FROM skipped_item "
                   "ORDER BY file, loc")
    if skipped_limit is not None:
        skipped_sql += f" LIMIT {int(skipped_limit)}"
    skipped = [dict(zip(("file", "kind", "loc", "reason", "kept"), row, strict=True))
               for row in con.execute(skipped_sql).fetchall()]
    total_skipped, total_kept = con.execute(
        "SELECT count(*) FILTER (WHERE NOT kept), count(*) FILTER (WHERE kept) "
        "FROM skipped_item").fetchone()
    snapshot_ids = [r[0] for r in con.execute(
        "SELECT DISTINCT snapshot_id FROM import_file ORDER BY 1").fetchall()]
    return {
        "tables": tables,
        "sources": [{"kind": k, "files": f, "records": int(r or 0), "skipped": int(s or 0),
                     "snapshot_dates": [str(a) if a else None, str(b) if b else None]}
                    for k, f, r, s, a, b in sources],
        "per_case": per_case(con),
        "skipped_total": total_skipped,
        "reported_kept_total": total_kept,
        "skipped": skipped,
        "snapshot_ids": snapshot_ids,
        **({"crawl": crawl_status(con)} if has_table(con, "crawl_run") else {}),
    }


def crawl_status(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Live crawls (`llmcarto collect hub`): each run with its counters and item statuses,
    and every failed item with its reason (retried by `--retry-failed`)."""
    runs = []
    for row in con.execute(
            "SELECT run_id, target, endpoint, status, started_at, finished_at, requests, "
            "list_requests, retries, items_gained, rate_wait_s FROM crawl_run "
            "ORDER BY started_at, run_id").fetchall():
        run = dict(zip(("run_id", "target", "endpoint", "status", "started_at", "finished_at",
                        "requests", "list_requests", "retries", "items_gained", "rate_wait_s"),
                       row, strict=True))
        run["started_at"] = str(run["started_at"]) if run["started_at"] else None
        run["finished_at"] = str(run["finished_at"]) if run["finished_at"] else None
        run["items"] = dict(con.execute(
            "SELECT status, count(*) FROM crawl_item WHERE run_id = ? GROUP BY status "
            "ORDER BY status", [run["run_id"]]).fetchall()) if has_table(con, "crawl_item") \
            else {}
        runs.append(run)
    failures = []
    if has_table(con, "crawl_item"):
        failures = [dict(zip(("run_id", "kind", "key", "reason", "attempts"), r, strict=True))
                    for r in con.execute(
                        "SELECT run_id, kind, key, reason, attempts FROM crawl_item "
                        "WHERE status = 'failed' ORDER BY run_id, kind, key").fetchall()]
    return {"runs": runs, "failures": failures}


def per_case(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per case: bundled repositories and commits, Hub repos owned (trees, cards)."""
    if not has_table(con, "case_info"):
        return []
    commits = "0"
    if has_table(con, "git_commit"):
        commits = ("(SELECT count(*) FROM git_commit g JOIN case_repository r "
                   "ON lower(g.repo) = lower(r.repo) WHERE r.case_key = c.case_key)")
    hub_models = "0"
    if has_table(con, "hub_model"):
        hub_models = ("(SELECT count(DISTINCT m.id) FROM hub_model m WHERE lower(split_part("
                      "m.id, '/', 1)) IN (SELECT lower(unnest(hub_orgs)) FROM case_release_line "
                      "l WHERE l.case_key = c.case_key))")
    cards = "0"
    if has_table(con, "model_card"):
        cards = ("(SELECT count(*) FROM model_card k WHERE k.origin = 'hf-cards' AND "
                 "k.case_key = c.case_key)")
    rows = con.execute(f"""
        SELECT c.case_key,
               (SELECT count(*) FROM case_repository r WHERE r.case_key = c.case_key),
               (SELECT count(*) FROM case_repository r
                 WHERE r.case_key = c.case_key AND r.in_bundle),
               {commits}, {hub_models}, {cards}
        FROM case_info c ORDER BY c.case_key""").fetchall()
    return [{"case": k, "repositories": r, "repositories_in_bundle": b, "commits": n,
             "hub_models_in_trees": m, "cards": cd} for k, r, b, n, m, cd in rows]


def status_markdown(data: dict[str, Any]) -> str:
    """The README block: per source, per table, per case. Deterministic for a given store."""
    lines = ["| source | files | records | skipped |", "|---|---:|---:|---:|"]
    for s in data["sources"]:
        lines.append(f"| `{s['kind']}` | {s['files']:,} | {s['records']:,} | {s['skipped']:,} |")
    lines += ["", "| table | rows |", "|---|---:|"]
    for t in data["tables"]:
        lines.append(f"| `{t['table']}` | {t['rows']:,} |")
    if data["per_case"]:
        lines += ["", "| case | repositories (in bundle) | commits in bundle | Hub models in "
                  "trees | cards |", "|---|---:|---:|---:|---:|"]
        for c in data["per_case"]:
            lines.append(f"| `{c['case']}` | {c['repositories']} ({c['repositories_in_bundle']})"
                         f" | {c['commits']:,} | {c['hub_models_in_trees']:,} | {c['cards']} |")
    lines += ["", f"Records skipped: {data['skipped_total']:,}; records kept in a degraded form "
              f"with a reported problem: {data['reported_kept_total']:,}."]
    return "\n".join(lines) + "\n"
