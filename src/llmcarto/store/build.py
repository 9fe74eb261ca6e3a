"""`llmcarto build`: the bundled real snapshot (and the case registry) into the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from llmcarto.bundle import extracted_snapshot, snapshot_id
from llmcarto.framework.cases import packaged_cases_path
from llmcarto.store import ImportReport, InputFile, Store


def build(db_path: Path, case_files: Sequence[Path] = (),
          progress: Callable[[str], None] | None = None) -> ImportReport:
    """Load the snapshot, the packaged registry and user case files; publish the copy.

    Unchanged files are skipped, so a second build changes nothing."""
    sid = snapshot_id()
    with extracted_snapshot() as root, Store(db_path) as store:
        report = store.import_paths([root], sid, progress)
        registry = [InputFile(packaged_cases_path(), "cases/cases.yaml", explicit=True)]
        registry += [InputFile(Path(p), f"cases/user/{Path(p).name}", explicit=True)
                     for p in case_files]
        extra = store.import_inputs(registry, sid, progress)
    report.files += extra.files
    report.skips += extra.skips
    return report
