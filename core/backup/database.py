"""The database side of a backup: a consistent copy with its row counts (pg_dump in an exported
snapshot; SQLite's online backup API), and the way back (an emptied schema and pg_restore; the backup
API the other way)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.db import connections

from core.backup.common import (
    MIGRATE_FILLED,
    BackupError,
)


def database_vendor() -> str:
    return connections["default"].vendor


def _pg_env(settings_dict: dict) -> dict[str, str]:
    """libpq's environment for pg_dump / pg_restore: the password never on a command line. What the
    settings leave out comes from the inherited PG* variables, as for Django's own connection."""
    env = dict(os.environ)
    options = settings_dict.get("OPTIONS") or {}
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD"),
                          ("NAME", "PGDATABASE")):
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    for option, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("sslcert", "PGSSLCERT"),
                             ("sslkey", "PGSSLKEY"), ("passfile", "PGPASSFILE"), ("service", "PGSERVICE")):
        if options.get(option):
            env[variable] = str(options[option])
    env["PGAPPNAME"] = "portal-backup"
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} was not found on the PATH: install the PostgreSQL client programs "
                          "(Debian: postgresql-client, the same major version as the server or newer).")
    return path


def _run(argv: list[str], env: dict) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise BackupError(f"{Path(argv[0]).name} failed (exit {done.returncode}): {detail}")


def _pg_connect():
    import psycopg

    connection = connections["default"]
    return psycopg.connect(**connection.get_connection_params())


def pg_tables(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_counts(cursor, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _applied_migrations(cursor, tables: list[str]) -> dict[str, list[str]]:
    if "django_migrations" not in tables:
        return {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    applied: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return applied


def dump_postgres(target: Path) -> tuple[dict, dict]:
    """pg_dump of the configured database into ``target``; the row counts and migrations are read
    in the snapshot pg_dump dumps. Returns (counts, applied migrations)."""
    pg_dump = _pg_tool("pg_dump")
    settings_dict = connections["default"].settings_dict
    with _pg_connect() as conn:
        import psycopg

        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            tables = pg_tables(cursor)
            counts = table_counts(cursor, tables)
            applied = _applied_migrations(cursor, tables)
            # The snapshot lives as long as this transaction: pg_dump runs inside it.
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}"], _pg_env(settings_dict))
        conn.rollback()
    return counts, applied


def sqlite_path() -> Path:
    return Path(connections["default"].settings_dict["NAME"])


def sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY name").fetchall()
    return [row[0] for row in rows]


def dump_sqlite(target: Path) -> tuple[dict, dict]:
    """A copy of the SQLite database by the online backup API (one step: a consistent copy while
    the portal writes), then counts and migrations read from the copy."""
    source_path = sqlite_path()
    if not source_path.is_file():
        raise BackupError(f"The SQLite database {source_path} does not exist.")
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # A single self-contained file (no -wal beside it).
        copy.execute("PRAGMA journal_mode=DELETE")
        tables = sqlite_tables(copy)
        cursor = copy.cursor()
        return table_counts(cursor, tables), _applied_migrations(cursor, tables)
    finally:
        copy.close()
        source.close()


def django_tables(cursor) -> list[str]:
    if connections["default"].vendor == "postgresql":
        return pg_tables(cursor)
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [row[0] for row in cursor.fetchall()]


def database_tables_with_rows() -> dict[str, int]:
    """The tables of the configured database with rows, beyond those ``migrate`` fills by itself:
    empty means nobody has used it. (A missing SQLite file or a schema without tables is empty.)
    One COUNT per table, on Django's connection."""
    connection = connections["default"]
    if connection.vendor == "sqlite" and not sqlite_path().exists():
        return {}
    with connection.cursor() as cursor:
        tables = [t for t in django_tables(cursor) if t not in MIGRATE_FILLED]
        counts = table_counts(cursor, tables)
    return {table: n for table, n in counts.items() if n}


def database_counts() -> dict[str, int]:
    """Rows per table of the configured database (one COUNT per table, on Django's connection)."""
    with connections["default"].cursor() as cursor:
        return table_counts(cursor, django_tables(cursor))


def wipe_postgres() -> None:
    """Drop everything in the portal's schema (tables, sequences, the security log's trigger
    function) and make the schema again, empty."""
    with _pg_connect() as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0] or "public"
            # A portal still running holds locks: fail with a message rather than wait for ever.
            cursor.execute("SET lock_timeout = '30s'")
            try:
                cursor.execute(f"DROP SCHEMA {_quote(schema)} CASCADE")
                cursor.execute(f"CREATE SCHEMA {_quote(schema)}")
            except Exception as exc:
                raise BackupError(f"Could not empty the schema {schema} (stop the portal's web, worker and beat; "
                                  f"the database user must own the schema): {exc}") from None
            if schema == "public":
                cursor.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")


def restore_postgres(dump: Path) -> None:
    pg_restore = _pg_tool("pg_restore")
    settings_dict = connections["default"].settings_dict
    # One transaction: a failed restore leaves the emptied schema, never half the data.
    _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={settings_dict['NAME']}", str(dump)], _pg_env(settings_dict))


def restore_sqlite(copy_path: Path) -> None:
    """Write the archived database over the configured one, page by page, through the backup API
    (schema, triggers and all); the file need not exist."""
    target = sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(copy_path)
    dest = sqlite3.connect(target, timeout=30)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()
