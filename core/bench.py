"""Helpers of the benchmarks (``manage.py bench_ledgers``, ``bench_indicators``, ``bench_reports``):
the planner's statistics, the database measured, aligned tables of figures."""

from __future__ import annotations

import time

from django.db import connection


def analyze_tables(models) -> float:
    """ANALYZE the tables of ``models`` (PostgreSQL), inside the transaction: the planner then sees
    the rows as it would once autovacuum ran. Returns the seconds it took."""
    if connection.vendor != "postgresql":
        return 0.0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models))
    return time.perf_counter() - started


def table(headers: list[str], rows: list[list[str]], left: int = 2) -> list[str]:
    """Aligned plain-text columns: the first ``left`` to the left, the figures to the right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if n < left else str(c).rjust(w)
                         for n, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def database_description() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        return f"PostgreSQL {version} (database {connection.settings_dict['NAME']})"
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} ({connection.settings_dict['NAME']})"
    return f"{connection.display_name} ({connection.vendor})"
