"""`llmcarto build`: the bundled real snapshot (and the case registry) into the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from llmcarto.bundle import extracted_snapshot, snapshot_id
from llmcarto.framework.cases import packaged_cases_path
from llmcarto.sources.caseregistry import CaseRegistryReader
from llmcarto.store import ImportReport, InputFile, Store
from llmcarto.store.status import has_table

REGISTRY_NAME = "cases/cases.yaml"
USER_CASES_PREFIX = "cases/user/"


def build(db_path: Path, case_files: Sequence[Path] = (),
          progress: Callable[[str], None] | None = None) -> ImportReport:
    """Load the snapshot, the packaged registry and user case files; publish the copy.

    Unchanged files are skipped, so a second build changes nothing."""
    sid = snapshot_id()
    registry = [InputFile(packaged_cases_path(), REGISTRY_NAME, explicit=True)]
    registry += [InputFile(Path(p), f"{USER_CASES_PREFIX}{i:02d}-{Path(p).name}", explicit=True)
                 for i, p in enumerate(case_files, 1)]
    with extracted_snapshot() as root, Store(db_path) as store:
        report = store.import_paths([root], sid, progress)
        if _registry_set_changed(store.con, [f.name for f in registry]):
            _forget_registry(store.con)
        extra = store.import_inputs(registry, sid, progress)
        if any(f.status == "loaded" for f in extra.files):
            _keep_winning_case_files(store.con, [f.name for f in registry])
    report.files += extra.files
    report.skips += extra.skips
    return report


def _registry_set_changed(con: duckdb.DuckDBPyConnection, names: list[str]) -> bool:
    loaded = {r[0] for r in con.execute(
        "SELECT file FROM import_file WHERE kind = 'cases'").fetchall()}
    return loaded != set(names)


def _forget_registry(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every registry file's rows so the current set is loaded whole, in order."""
    for table in CaseRegistryReader.tables:
        if has_table(con, table):
            con.execute(f'DELETE FROM "{table}" WHERE source = \'cases\'')
    con.execute("DELETE FROM import_file WHERE kind = 'cases'")
    con.execute("DELETE FROM skipped_item WHERE kind = 'cases'")


def _keep_winning_case_files(con: duckdb.DuckDBPyConnection, order: list[str]) -> None:
    """A later file replaces a case key whole: drop the earlier files' rows for that key."""
    rank = {name: i for i, name in enumerate(order)}
    rows = con.execute("SELECT case_key, file FROM case_info").fetchall()
    winner: dict[str, str] = {}
    for key, file in rows:
        if key not in winner or rank.get(file, -1) > rank.get(winner[key], -1):
            winner[key] = file
    for key, file in winner.items():
        for table in CaseRegistryReader.tables:
            if has_table(con, table):
                con.execute(f'DELETE FROM "{table}" WHERE case_key = ? AND file <> ?',
                            [key, file])
