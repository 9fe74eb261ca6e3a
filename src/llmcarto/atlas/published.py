"""One read-only connection to the published store, reopened when a build swaps the file.

Every write re-points the link `<db>.published` at a new versioned file (store/__init__.py),
so the identity of the file it resolves to (inode, mtime, size) tells us when to reopen.
The old connection is closed only after every request reading it has finished, and
requests arriving meanwhile wait for the swap instead of reading stale data.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from llmcarto.errors import StoreError

Signature = tuple[int, int, int, int]  # device, inode, mtime_ns, size


class PublishedStore:
    """Hands out per-request cursors on the current published copy of `db_path`."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.path = Path(str(self.db_path) + ".published")
        self._cond = threading.Condition()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._signature: Signature | None = None
        self._readers = 0
        self._tables: frozenset[str] = frozenset()

    def _stat(self) -> Signature:
        try:
            st = os.stat(self.path)
        except FileNotFoundError as exc:
            raise StoreError(f"{self.path}: no published store yet; run `llmcarto build` "
                             "first") from exc
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def _reopen(self, signature: Signature) -> None:
        from llmcarto.store import open_published  # the store layer owns how to open it

        if self._con is not None:
            self._con.close()
            self._con = None
        self._con = open_published(self.db_path)
        self._signature = signature
        self._tables = frozenset(row[0] for row in self._con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall())

    @contextmanager
    def cursor(self) -> Iterator[Reader]:
        """A cursor for one request; the file is reopened first when it has changed."""
        with self._cond:
            signature = self._stat()
            while signature != self._signature:
                if self._readers == 0:
                    self._reopen(signature)
                    break
                self._cond.wait(timeout=5)
                signature = self._stat()
            self._readers += 1
            assert self._con is not None
            cur = self._con.cursor()
            tables = self._tables
        try:
            yield Reader(cur, tables)
        finally:
            cur.close()
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            if self._con is not None and self._readers == 0:
                self._con.close()
                self._con = None
                self._signature = None


class Reader:
    """A cursor plus the names of the tables the published copy holds."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, tables: frozenset[str]) -> None:
        self.cur = cur
        self.tables = tables

    def has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    def rows(self, sql: str, params: list | None = None) -> list[dict]:
        """Rows as dicts (column name → value)."""
        result = self.cur.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def value(self, sql: str, params: list | None = None):
        row = self.cur.execute(sql, params or []).fetchone()
        return row[0] if row else None
