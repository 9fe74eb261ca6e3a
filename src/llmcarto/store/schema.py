"""Tables of the store: bookkeeping tables by numbered migration, data tables on demand.

Data tables are declared by the readers that fill them (`Reader.tables`) and created the
first time a file of that kind is imported (design.md §2: "create tables when a feature
first fills them"). Every data row carries the same provenance columns. A reader that
later declares more columns gets them added (an additive migration); anything else is a
numbered migration below.
"""

from __future__ import annotations

import re

import duckdb

from llmcarto.errors import StoreError

PROVENANCE_COLUMNS = (
    ("source", "VARCHAR"),          # reader kind, e.g. git-commits
    ("source_url", "VARCHAR"),      # where a person can check the row
    ("snapshot_date", "DATE"),      # the date the data describes
    ("file", "VARCHAR"),            # the imported file (relative name)
    ("loc", "VARCHAR"),             # where in the file (line, row, commit)
    ("snapshot_id", "VARCHAR"),     # which snapshot / import produced the row
)
PROVENANCE_NAMES = tuple(name for name, _ in PROVENANCE_COLUMNS)

# (version, statements). Append only; never edit a released migration.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE llmcarto_meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
        """CREATE TABLE import_file (
               file VARCHAR PRIMARY KEY, kind VARCHAR, sha256 VARCHAR, bytes BIGINT,
               snapshot_id VARCHAR, snapshot_date DATE, file_url VARCHAR,
               records BIGINT, skipped BIGINT, tables VARCHAR[], loaded_at TIMESTAMPTZ)""",
        """CREATE TABLE skipped_item (
               file VARCHAR, kind VARCHAR, loc VARCHAR, reason VARCHAR, snapshot_id VARCHAR)""",
        """CREATE TABLE data_table (name VARCHAR PRIMARY KEY, kind VARCHAR, columns VARCHAR)""",
    ]),
    (2, ["ALTER TABLE skipped_item ADD COLUMN kept BOOLEAN DEFAULT false"]),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]
_COLUMN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(.+?)\s*$")


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the bookkeeping tables to SCHEMA_VERSION; refuse a store from a newer llmcarto."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'llmcarto_meta'"
    ).fetchone()[0]
    current = 0
    if exists:
        row = con.execute(
            "SELECT value FROM llmcarto_meta WHERE key = 'schema_version'").fetchone()
        current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION:
        raise StoreError(f"the store has schema version {current}, newer than this llmcarto "
                         f"({SCHEMA_VERSION}): upgrade llmcarto or use another --db")
    for version, statements in MIGRATIONS:
        if version <= current:
            continue
        for sql in statements:
            con.execute(sql)
        con.execute("INSERT OR REPLACE INTO llmcarto_meta VALUES ('schema_version', ?)",
                    [str(version)])
    return SCHEMA_VERSION


def split_columns(columns_sql: str) -> list[tuple[str, str]]:
    """'a VARCHAR, b INTEGER[]' → [('a', 'VARCHAR'), ('b', 'INTEGER[]')] (no nested commas)."""
    out = []
    for part in _split_top_level(columns_sql):
        match = _COLUMN.match(part)
        if not match:
            raise StoreError(f"cannot read column definition '{part}'")
        out.append((match.group(1), match.group(2)))
    return out


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def ensure_table(con: duckdb.DuckDBPyConnection, name: str, kind: str,
                 columns_sql: str) -> list[tuple[str, str]]:
    """Create `name` with the reader's columns + provenance, or add columns it lacks."""
    columns = split_columns(columns_sql) + list(PROVENANCE_COLUMNS)
    have = {row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [name]
    ).fetchall()}
    if not have:
        body = ", ".join(f'"{col}" {typ}' for col, typ in columns)
        con.execute(f'CREATE TABLE "{name}" ({body})')
    else:
        for col, typ in columns:
            if col not in have:
                con.execute(f'ALTER TABLE "{name}" ADD COLUMN "{col}" {typ}')
    con.execute("INSERT OR REPLACE INTO data_table VALUES (?, ?, ?)", [name, kind, columns_sql])
    return columns
