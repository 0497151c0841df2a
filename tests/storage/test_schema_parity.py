"""Both engines' schemas, migrated from nothing, hold the same tables, columns, types, nullability
and indexes: the statements in bridge/storage/sql.py run on both, so drift is a bug. The few
differences each engine needs are listed here, in one place, each with its reason."""
from __future__ import annotations

import sqlite3

import pytest

from bridge.storage import open_store
from tests import postgres

# Each engine's own bookkeeping and inbox machinery, beside the shared tables.
ONLY_SQLITE_TABLES = {
    "_sqlite_migrations",  # sqlite-utils' record of applied migrations
    "inbox",               # the last rowid given its job: SQLite's rowids grow in commit order
}
ONLY_POSTGRES_TABLES = {
    "bridge_migrations",   # PostgresStore.migrate's record of applied migrations
}
ONLY_POSTGRES_COLUMNS = {
    # PostgreSQL hands out ids before commit: each event says whether it has its job yet
    # (SQLite reads on from the inbox's last rowid instead).
    ("events", "seq"), ("events", "taken"),
}
ONLY_POSTGRES_INDEXES = {"events_untaken"}  # finds the events without their job

# Declared type -> the kind both engines share. SQLite has no boolean: a flag is an integer
# there (0 or 1), a boolean on PostgreSQL, and the shared statements write it as a parameter.
KINDS = {"text": "text", "integer": "integer", "bigint": "integer", "bigserial": "integer",
         "real": "real", "double precision": "real", "boolean": "flag"}
SQLITE_FLAGS = {("accounts", "authorized"), ("configurations", "enabled"),
                ("configurations", "archived")}


def sqlite_schema(path) -> dict:
    conn = sqlite3.connect(path)
    try:
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        columns = {}
        for table in tables:
            for _, name, declared, notnull, _, pk in conn.execute(f"PRAGMA table_info({table})"):
                kind = "flag" if (table, name) in SQLITE_FLAGS else KINDS[declared.lower()]
                columns[table, name] = (kind, bool(notnull or pk))
        indexes = {}
        for table in tables:
            for _, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
                if origin != "c":  # made by a PRIMARY KEY or UNIQUE constraint, not by name
                    continue
                cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
                indexes[index] = (table, cols, bool(unique), bool(partial))
        return {"tables": tables, "columns": columns, "indexes": indexes}
    finally:
        conn.close()


def postgres_schema(url: str) -> dict:
    import psycopg
    with psycopg.connect(url) as conn:
        tables = {name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")}
        columns = {}
        for table, name, declared, nullable in conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable"
                " FROM information_schema.columns WHERE table_schema = current_schema()"):
            columns[table, name] = (KINDS[declared], nullable == "NO")
        indexes = {}
        for index, table, unique, partial, cols in conn.execute(
                "SELECT i.relname, t.relname, x.indisunique, x.indpred IS NOT NULL,"
                " array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o)"
                "       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n"
                "       ORDER BY k.o)"
                " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                " JOIN pg_class t ON t.oid = x.indrelid"
                " WHERE t.relnamespace = current_schema()::regnamespace"
                " AND NOT x.indisprimary"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"):
            indexes[index] = (table, tuple(cols), unique, partial)
    return {"tables": tables, "columns": columns, "indexes": indexes}


@pytest.mark.postgres
def test_both_engines_migrate_to_the_same_tables_columns_types_and_indexes(tmp_path):
    sqlite_store = open_store(f"sqlite:///{tmp_path / 'parity.db'}")
    sqlite_store.migrate()
    sqlite_store.close()
    lite = sqlite_schema(tmp_path / "parity.db")
    with postgres.fresh_schema() as url:
        store = open_store(url)
        try:
            store.migrate()
        finally:
            store.close()
        pg = postgres_schema(url)

    assert lite["tables"] - ONLY_SQLITE_TABLES == pg["tables"] - ONLY_POSTGRES_TABLES
    shared = lite["tables"] - ONLY_SQLITE_TABLES

    def of_shared(columns: dict) -> dict:
        return {key: value for key, value in columns.items()
                if key[0] in shared and key not in ONLY_POSTGRES_COLUMNS}
    assert of_shared(lite["columns"]) == of_shared(pg["columns"])
    assert {k: v for k, v in lite["indexes"].items() if v[0] in shared} == {
        k: v for k, v in pg["indexes"].items() if k not in ONLY_POSTGRES_INDEXES}
