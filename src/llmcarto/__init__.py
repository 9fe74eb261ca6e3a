"""llmcarto: a measured, reproducible cartography of open collaboration around open LLMs.

Layers, top to bottom: `framework` (the study's model and the case registry, as data),
`sources` (one reader per source, yielding records with provenance), `store` (DuckDB),
`analysis` (pure functions over tables), `atlas` (the web app), `cli` (a thin shell).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmcarto")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"



def open(db=None):  # noqa: A001 - the public entry point, like duckdb.connect / sqlite3.connect
    """A read-only DuckDB connection to the published store (for notebooks and scripts).

    `db` is the store path (default: `LLMCARTO_DB` or the user data dir, as for the CLI);
    the connection reads the copy the last build published, never the working file.
    """
    from pathlib import Path

    from llmcarto.settings import Settings
    from llmcarto.store import open_published

    return open_published(Settings.resolve(db=Path(db) if db else None).db_path)


__all__ = ["__version__", "open"]
