"""The store: one DuckDB file written by `build`/`import`/collectors, and a published
read-only copy that the atlas serves.

DuckDB allows one writing process and no reader beside it, so the atlas never opens the
working file: every finished write copies it to `<db>.published` through a temporary
file and an atomic rename. A reader that opened the old copy keeps reading it; the next
request sees the new one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from llmcarto.errors import StoreError
from llmcarto.store.ingest import ImportReport, InputFile, discover, import_files
from llmcarto.store.schema import migrate


class Store:
    """A writable store. Use as a context manager; `close()` publishes the read-only copy."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            raise StoreError(f"{self.path}: cannot open the store for writing ({exc}); is "
                             "another llmcarto command writing it?") from exc
        migrate(self.con)
        self._dirty = False

    def import_paths(self, paths: Iterable[Path], snapshot_id: str,
                     progress: Callable[[str], None] | None = None) -> ImportReport:
        report = import_files(self.con, discover(paths), snapshot_id, progress)
        self._dirty = self._dirty or any(f.status == "loaded" for f in report.files)
        return report

    def import_inputs(self, inputs: list[InputFile], snapshot_id: str,
                      progress: Callable[[str], None] | None = None) -> ImportReport:
        report = import_files(self.con, inputs, snapshot_id, progress)
        self._dirty = self._dirty or any(f.status == "loaded" for f in report.files)
        return report

    def refresh_derived(self) -> None:
        """Recompute the derived tables (stage attribution) from what the store now holds."""
        from llmcarto.analysis.stages import write_stage_tables

        write_stage_tables(self.con)

    def close(self, publish_copy: bool = True) -> None:
        if publish_copy and self._dirty:
            self.refresh_derived()
        self.con.execute("CHECKPOINT")
        self.con.close()
        if publish_copy and (self._dirty or not published_path(self.path).exists()):
            publish(self.path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close(publish_copy=exc[0] is None)


def published_path(db_path: Path) -> Path:
    return Path(str(db_path) + ".published")


def publish(db_path: Path) -> Path:
    """Copy the (closed, checkpointed) store to its published path atomically."""
    target = published_path(db_path)
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.copyfile(db_path, tmp)
    os.replace(tmp, target)
    return target


def open_published(db_path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy (what the atlas and reports read)."""
    target = published_path(db_path)
    if not target.exists():
        raise StoreError(f"{target}: no published store yet; run `llmcarto build` first")
    return duckdb.connect(str(target), read_only=True)


__all__ = ["ImportReport", "InputFile", "Store", "open_published", "publish", "published_path"]
