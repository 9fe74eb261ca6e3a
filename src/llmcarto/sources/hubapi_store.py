"""Where the live Hub collector writes: the bundled readers' tables and its crawl state.

Models, edges and cards go to the tables the `hf-trees` reader fills (`hub_model`,
`hub_child`, `model_card`), so the atlas, the stage rules and the lineage analyses read a
live crawl without change; discussions, their events, repo commits and dataset reuse get
tables of their own. Every row carries the provenance columns: ``source = 'hub-api'``,
``source_url`` the public ``https://huggingface.co/…`` page (also when the endpoint is a
mirror or a test server: the endpoint is kept in `crawl_run`), ``snapshot_date`` the
crawl date, ``file = 'hub-api/<tree>'``, ``loc`` the request that returned the row and
``snapshot_id`` the crawl run.

Crawl state lives in the store too: `crawl_run` (one per crawl, with its counters),
`crawl_cursor` (the `next` URL of every listing in progress) and `crawl_item` (every
unit of work with status pending/ok/failed/skipped and the reason). `CrawlStore.page`
writes a page's rows, the cursor and the items in ONE transaction: a process killed at
any point leaves either the whole page or none of it, so a re-run resumes from the last
committed cursor with nothing lost and nothing duplicated. Rows are replaced by their
key (upsert), so seeing an item twice never duplicates it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from llmcarto.sources.hubcards import MODEL_CARD_COLUMNS
from llmcarto.sources.hubtrees import HubTreesReader
from llmcarto.store.ingest import insert_rows
from llmcarto.store.schema import ensure_table

SOURCE = "hub-api"
HUB = "https://huggingface.co/"

#: table -> (columns, key columns used to replace a row)
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "hub_model": (HubTreesReader.tables["hub_model"], ("tree", "id")),
    "hub_child": (HubTreesReader.tables["hub_child"], ("tree", "parent", "child", "relation")),
    "model_card": (MODEL_CARD_COLUMNS, ("id", "origin")),
    "hub_discussion": (
        "tree VARCHAR, repo_id VARCHAR, repo_type VARCHAR, num INTEGER, title VARCHAR, "
        "status VARCHAR, is_pull_request BOOLEAN, author VARCHAR, created_at TIMESTAMPTZ, "
        "num_events INTEGER, target_branch VARCHAR, merge_commit_oid VARCHAR, "
        "synthetic_fixture VARCHAR", ("repo_id", "num")),
    "hub_discussion_event": (
        "tree VARCHAR, repo_id VARCHAR, num INTEGER, position INTEGER, event_id VARCHAR, "
        "type VARCHAR, author VARCHAR, created_at TIMESTAMPTZ, data JSON, "
        "synthetic_fixture VARCHAR", ("repo_id", "num", "event_id")),
    "hub_repo_commit": (
        "tree VARCHAR, repo_id VARCHAR, position INTEGER, commit_id VARCHAR, "
        "authors VARCHAR[], created_at TIMESTAMPTZ, title VARCHAR, message VARCHAR, "
        "synthetic_fixture VARCHAR", ("repo_id", "commit_id")),
    "hub_dataset_use": (
        "tree VARCHAR, dataset VARCHAR, model VARCHAR, declared_by VARCHAR, position INTEGER",
        ("tree", "dataset", "model")),
    "crawl_run": (
        "run_id VARCHAR, target VARCHAR, tree VARCHAR, options JSON, endpoint VARCHAR, "
        "status VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, requests BIGINT, "
        "list_requests BIGINT, retries BIGINT, items_gained BIGINT, rate_wait_s DOUBLE, "
        "children_count_on_list BOOLEAN", ("run_id",)),
    "crawl_cursor": (
        "run_id VARCHAR, kind VARCHAR, key VARCHAR, next_url VARCHAR, page INTEGER, "
        "positions JSON, updated_at TIMESTAMPTZ", ("run_id", "kind", "key")),
    "crawl_item": (
        "run_id VARCHAR, kind VARCHAR, key VARCHAR, depth INTEGER, status VARCHAR, "
        "reason VARCHAR, attempts INTEGER, updated_at TIMESTAMPTZ", ("run_id", "kind", "key")),
    "crawl_delta_seen": (
        "run_id VARCHAR, id VARCHAR, item JSON", ("run_id", "id")),
}
#: tables whose rows are findings (counted as "items gained"); the rest is crawl state
FINDINGS = ("hub_model", "hub_child", "model_card", "hub_discussion", "hub_discussion_event",
            "hub_repo_commit", "hub_dataset_use")
ITEM_STATUSES = ("pending", "ok", "failed", "skipped")


def now() -> datetime:
    return datetime.now(UTC)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for name, (columns, _) in TABLES.items():
        ensure_table(con, name, SOURCE, columns)


@dataclass
class Run:
    run_id: str
    target: str
    tree: str
    options: dict[str, Any]
    endpoint: str
    status: str
    started_at: datetime
    children_count_on_list: bool = True


class CrawlStore:
    """The crawl's reads and its one-transaction-per-page writes."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run: Run, crawl_date: date) -> None:
        self.con = con
        self.run = run
        self.crawl_date = crawl_date
        self.gained = 0  # finding rows added (not replaced) by this process
        self._in_tx = False

    # ------------------------------------------------------------------ runs

    @staticmethod
    def latest_run(con: duckdb.DuckDBPyConnection, target: str) -> Run | None:
        row = con.execute(
            "SELECT run_id, target, tree, options, endpoint, status, started_at, "
            "children_count_on_list FROM crawl_run WHERE target = ? "
            "ORDER BY started_at DESC, run_id DESC LIMIT 1", [target]).fetchone()
        if row is None:
            return None
        return Run(row[0], row[1], row[2], json.loads(row[3]) if row[3] else {}, row[4],
                   row[5], row[6], bool(row[7]) if row[7] is not None else True)

    @staticmethod
    def watermark(con: duckdb.DuckDBPyConnection, target: str) -> datetime | None:
        """When the last finished crawl of `target` started (a delta sweep's default)."""
        row = con.execute("SELECT max(started_at) FROM crawl_run WHERE target = ? AND "
                          "status = 'done'", [target]).fetchone()
        return row[0] if row else None

    def create_run(self) -> None:
        self._replace("crawl_run", [self._run_row(status="running")])

    def _run_row(self, **changes: Any) -> dict[str, Any]:
        r = self.run
        row = {"run_id": r.run_id, "target": r.target, "tree": r.tree,
               "options": r.options, "endpoint": r.endpoint, "status": r.status,
               "started_at": r.started_at.isoformat(), "finished_at": None, "requests": 0,
               "list_requests": 0, "retries": 0, "items_gained": 0, "rate_wait_s": 0.0,
               "children_count_on_list": r.children_count_on_list}
        row.update(changes)
        return self._prov(row, HUB + r.target.split(":", 1)[1], f"run {r.run_id}")

    def set_run_status(self, status: str, finished: bool = False) -> None:
        self.run.status = status
        self.con.execute("UPDATE crawl_run SET status = ?, finished_at = ? WHERE run_id = ?",
                         [status, now() if finished else None, self.run.run_id])

    def add_counters(self, requests: int, list_requests: int, retries: int, gained: int,
                     rate_wait: float) -> None:
        self.con.execute(
            "UPDATE crawl_run SET requests = requests + ?, list_requests = list_requests + ?, "
            "retries = retries + ?, items_gained = items_gained + ?, "
            "rate_wait_s = rate_wait_s + ?, children_count_on_list = ? WHERE run_id = ?",
            [requests, list_requests, retries, gained, rate_wait,
             self.run.children_count_on_list, self.run.run_id])

    def run_totals(self) -> dict[str, Any]:
        row = self.con.execute(
            "SELECT requests, list_requests, retries, items_gained, rate_wait_s FROM crawl_run "
            "WHERE run_id = ?", [self.run.run_id]).fetchone()
        return dict(zip(("requests", "list_requests", "retries", "items_gained",
                         "rate_wait_s"), row, strict=True))

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN … COMMIT; nested calls join the outer transaction."""
        if self._in_tx:
            yield
            return
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self._in_tx = False

    # ------------------------------------------------------------------ items

    def next_item(self, priorities: Mapping[str, int]) -> tuple[str, str, int | None] | None:
        order = " ".join(f"WHEN '{k}' THEN {v}" for k, v in priorities.items())
        row = self.con.execute(
            f"SELECT kind, key, depth FROM crawl_item WHERE run_id = ? AND status = 'pending' "
            f"ORDER BY CASE kind {order} ELSE 99 END, depth NULLS LAST, key LIMIT 1",
            [self.run.run_id]).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def add_items(self, items: Iterable[tuple[str, str, int | None, str, str | None]]) -> int:
        """Insert (kind, key, depth, status, reason) items this run does not have yet."""
        items = list({(k, key): (k, key, d, s, r) for k, key, d, s, r in items}.values())
        if not items:
            return 0
        have = {(k, key) for k, key in self.con.execute(
            "SELECT kind, key FROM crawl_item WHERE run_id = ? AND list_contains(?, key)",
            [self.run.run_id, sorted({i[1] for i in items})]).fetchall()}
        rows = [self._item_row(kind, key, depth, status, reason)
                for kind, key, depth, status, reason in items if (kind, key) not in have]
        self._insert("crawl_item", rows)
        return len(rows)

    def set_item(self, kind: str, key: str, status: str, reason: str | None = None,
                 attempted: bool = True) -> None:
        self.con.execute(
            "UPDATE crawl_item SET status = ?, reason = ?, attempts = attempts + ?, "
            "updated_at = ? WHERE run_id = ? AND kind = ? AND key = ?",
            [status, reason, int(attempted), now(), self.run.run_id, kind, key])

    def requeue_failed(self) -> int:
        n = self.con.execute("SELECT count(*) FROM crawl_item WHERE run_id = ? AND "
                             "status = 'failed'", [self.run.run_id]).fetchone()[0]
        self.con.execute("UPDATE crawl_item SET status = 'pending', reason = NULL, "
                         "updated_at = ? WHERE run_id = ? AND status = 'failed'",
                         [now(), self.run.run_id])
        return n

    def item_counts(self) -> dict[str, int]:
        return dict(self.con.execute(
            "SELECT status, count(*) FROM crawl_item WHERE run_id = ? GROUP BY status",
            [self.run.run_id]).fetchall())

    def failures(self) -> list[tuple[str, str, str]]:
        return self.con.execute(
            "SELECT kind, key, reason FROM crawl_item WHERE run_id = ? AND status = 'failed' "
            "ORDER BY kind, key", [self.run.run_id]).fetchall()

    def _item_row(self, kind: str, key: str, depth: int | None, status: str,
                  reason: str | None) -> dict[str, Any]:
        url = HUB + key.split("#", 1)[0] if "/" in key else HUB
        return self._prov({"run_id": self.run.run_id, "kind": kind, "key": key,
                           "depth": depth, "status": status, "reason": reason, "attempts": 0,
                           "updated_at": now().isoformat()}, url, f"{kind} {key}")

    # ------------------------------------------------------------------ cursors

    def cursor(self, kind: str, key: str) -> tuple[str | None, int, dict[str, Any]]:
        row = self.con.execute(
            "SELECT next_url, page, positions FROM crawl_cursor WHERE run_id = ? AND kind = ? "
            "AND key = ?", [self.run.run_id, kind, key]).fetchone()
        if row is None:
            return None, 0, {}
        return row[0], row[1] or 0, json.loads(row[2]) if row[2] else {}

    def set_cursor(self, kind: str, key: str, next_url: str | None, page: int,
                   positions: Mapping[str, Any]) -> None:
        self._replace("crawl_cursor", [self._prov(
            {"run_id": self.run.run_id, "kind": kind, "key": key, "next_url": next_url,
             "page": page, "positions": dict(positions), "updated_at": now().isoformat()},
            HUB + key if "/" in key else HUB, f"{kind} {key} page {page}")])

    def drop_cursor(self, kind: str, key: str) -> None:
        self.con.execute("DELETE FROM crawl_cursor WHERE run_id = ? AND kind = ? AND key = ?",
                         [self.run.run_id, kind, key])

    # ------------------------------------------------------------------ findings

    def known_depths(self, ids: Iterable[str]) -> dict[str, int]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        return dict(self.con.execute(
            "SELECT id, min(depth) FROM hub_model WHERE source = ? AND tree = ? AND "
            "list_contains(?, id) GROUP BY id", [SOURCE, self.run.tree, ids]).fetchall())

    def readme_cards(self, ids: Iterable[str]) -> set[str]:
        """Ids whose hub-api card row came from README.md (not to be overwritten)."""
        ids = sorted(set(ids))
        if not ids:
            return set()
        return {r[0] for r in self.con.execute(
            "SELECT id FROM model_card WHERE source = ? AND origin = ? AND yaml_raw IS NOT NULL "
            "AND list_contains(?, id)", [SOURCE, SOURCE, ids]).fetchall()}

    def write(self, table: str, rows: list[dict[str, Any]], url_of, loc: str) -> None:
        """Replace `rows` (by the table's key) with provenance; count new finding rows."""
        full = [self._prov(dict(row), url_of(row), loc) for row in rows]
        added = self._replace(table, full)
        if table in FINDINGS:
            self.gained += added

    def replace_where(self, table: str, where: str, params: list[Any]) -> None:
        self.con.execute(f'DELETE FROM "{table}" WHERE source = ? AND {where}',
                         [SOURCE, *params])

    def skip_report(self, loc: str, reason: str) -> None:
        """A kept-with-a-problem report, listed by `llmcarto status` like an import's."""
        name = f"hub-api/{self.run.tree}"
        self.con.execute("DELETE FROM skipped_item WHERE file = ? AND loc = ?", [name, loc])
        self.con.execute("INSERT INTO skipped_item (file, kind, loc, reason, snapshot_id, kept) "
                         "VALUES (?, ?, ?, ?, ?, true)",
                         [name, SOURCE, loc, reason, self.run.run_id])

    # ------------------------------------------------------------------ plumbing

    def _prov(self, row: dict[str, Any], url: str, loc: str) -> dict[str, Any]:
        row.update({"source": SOURCE, "source_url": url,
                    "snapshot_date": self.crawl_date.isoformat(),
                    "file": f"hub-api/{self.run.tree}", "loc": loc,
                    "snapshot_id": self.run.run_id})
        return row

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            insert_rows(self.con, table, TABLES[table][0], rows)

    def _replace(self, table: str, rows: list[dict[str, Any]]) -> int:
        """Delete the rows with the same key (from this source), insert `rows`; returns how
        many rows are new (inserted minus replaced)."""
        if not rows:
            return 0
        columns, key = TABLES[table]
        unique: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            unique[tuple(row.get(k) for k in key)] = row
        rows = list(unique.values())
        stage = f"_stage_{table}"
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{stage}" AS '
                         f'SELECT * FROM "{table}" LIMIT 0')
        insert_rows(self.con, stage, columns, rows)
        match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM s."{k}"' for k in key)
        deleted = self.con.execute(
            f'DELETE FROM "{table}" t USING "{stage}" s WHERE t.source = ? AND {match}',
            [SOURCE]).fetchone()[0]
        self.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM "{stage}"')
        self.con.execute(f'DROP TABLE "{stage}"')
        return len(rows) - int(deleted or 0)
