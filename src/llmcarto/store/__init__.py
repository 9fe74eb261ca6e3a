"""The store: one DuckDB file written by `build`/`import`/collectors, and a published
read-only copy that the atlas serves.

DuckDB allows one writing process and no reader beside it, so the atlas never opens the
working file: every finished write copies it to a new versioned file in `<db>.published.d/`
and atomically re-points the symlink `<db>.published` at it. A reader that opened the old
copy keeps reading it; the next connection sees the new one. Versioned names matter:
DuckDB caches open databases by path within a process, so reopening the same path would
hand back the old copy.
"""

from __future__ import annotations

import os
import shutil
import time
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

    def mark_changed(self) -> None:
        """Rows were written outside `import_*` (collectors): refresh and publish on close."""
        self._dirty = True

    def refresh_derived(self) -> None:
        """Recompute the derived tables (`llmcarto.analysis.DERIVED`) from the store."""
        from llmcarto.analysis import refresh_derived

        refresh_derived(self.con)

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


KEEP_VERSIONS = 2


def published_path(db_path: Path) -> Path:
    return Path(str(db_path) + ".published")


def publish(db_path: Path) -> Path:
    """Copy the (closed, checkpointed) store to a new version and switch the link to it."""
    link = published_path(db_path)
    versions = Path(str(db_path) + ".published.d")
    versions.mkdir(exist_ok=True)
    version = versions / f"{time.time_ns()}.duckdb"
    tmp = version.with_suffix(".tmp")
    shutil.copyfile(db_path, tmp)
    os.replace(tmp, version)
    tmp_link = link.with_name(link.name + f".tmp-{os.getpid()}")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(os.path.relpath(version, link.parent), tmp_link)
    os.replace(tmp_link, link)
    for old in sorted(versions.glob("*.duckdb"))[:-KEEP_VERSIONS]:
        old.unlink(missing_ok=True)  # open readers keep their inode alive
    return version


def current_published(db_path: Path) -> Path:
    """The versioned file the published link points at now."""
    link = published_path(db_path)
    if not link.exists():
        raise StoreError(f"{link}: no published store yet; run `llmcarto build` first")
    return Path(os.path.realpath(link))


def open_published(db_path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published copy (what the atlas and reports read)."""
    return duckdb.connect(str(current_published(db_path)), read_only=True)


__all__ = ["ImportReport", "InputFile", "Store", "current_published", "open_published", "publish",
           "published_path"]
