"""Where llmcarto keeps its store and which case files it reads.

Resolved once from flags, then the environment, then defaults, so every command (and
the atlas) sees the same answer. Nothing here reads tokens: collectors take those
from the environment themselves and never store them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

ENV_DB = "LLMCARTO_DB"
ENV_CASES = "LLMCARTO_CASES"


def default_db_path() -> Path:
    return Path(user_data_dir("llmcarto", appauthor=False)) / "llmcarto.duckdb"


@dataclass(frozen=True)
class Settings:
    db_path: Path
    case_files: tuple[Path, ...] = ()

    @classmethod
    def resolve(cls, db: Path | None = None, cases: list[Path] | None = None) -> Settings:
        """Flags win over the environment; LLMCARTO_CASES may list files separated by os.pathsep."""
        db_path = db or (Path(os.environ[ENV_DB]) if os.environ.get(ENV_DB) else None)
        if cases:
            case_files = tuple(cases)
        else:
            env = os.environ.get(ENV_CASES, "")
            case_files = tuple(Path(p) for p in env.split(os.pathsep) if p.strip())
        return cls(db_path=(db_path or default_db_path()).expanduser(), case_files=case_files)
