"""Analyses: pure functions over the store's tables (SQL first, Python where SQL is awkward).

`DERIVED` lists, in order, the functions that recompute derived tables after every write
(`Store.refresh_derived`). Each takes a writable DuckDB connection and rebuilds its tables
whole from what the store holds; a later one may read an earlier one's tables.
"""

from __future__ import annotations

from importlib import import_module

import duckdb

DERIVED: tuple[str, ...] = (
    "llmcarto.analysis.persons:write_person_tables",
    "llmcarto.analysis.affiliation:write_affiliation_tables",
    "llmcarto.analysis.stages:write_stage_tables",
    "llmcarto.analysis.measures:write_measure_tables",
    "llmcarto.analysis.lineage:write_lineage_tables",
    "llmcarto.analysis.licence_drift:write_licence_tables",
)


def refresh_derived(con: duckdb.DuckDBPyConnection) -> None:
    for target in DERIVED:
        module, _, function = target.partition(":")
        getattr(import_module(module), function)(con)
