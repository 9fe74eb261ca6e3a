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
ENV_ORGANISATIONS = "LLMCARTO_ORGANISATIONS"


def default_db_path() -> Path:
    return Path(user_data_dir("llmcarto", appauthor=False)) / "llmcarto.duckdb"


@dataclass(frozen=True)
class Settings:
    db_path: Path
    case_files: tuple[Path, ...] = ()
    organisation_files: tuple[Path, ...] = ()

    @classmethod
    def resolve(cls, db: Path | None = None, cases: list[Path] | None = None,
                organisations: list[Path] | None = None) -> Settings:
        """Flags win over the environment; LLMCARTO_CASES and LLMCARTO_ORGANISATIONS may list
        files separated by os.pathsep."""
        db_path = db or (Path(os.environ[ENV_DB]) if os.environ.get(ENV_DB) else None)
        return cls(db_path=(db_path or default_db_path()).expanduser(),
                   case_files=_files(cases, ENV_CASES),
                   organisation_files=_files(organisations, ENV_ORGANISATIONS))

    def activate(self) -> Settings:
        """Make these the settings of this process: derived tables refreshed by any write
        (e.g. the affiliation classes, which read `organisation_files`) see them."""
        global _ACTIVE
        _ACTIVE = self
        return self


_ACTIVE: Settings | None = None


def current() -> Settings:
    """The settings the CLI activated, else those of the environment."""
    return _ACTIVE or Settings.resolve()


def _files(flag: list[Path] | None, env_name: str) -> tuple[Path, ...]:
    if flag:
        return tuple(flag)
    env = os.environ.get(env_name, "")
    return tuple(Path(p) for p in env.split(os.pathsep) if p.strip())
