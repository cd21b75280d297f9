"""Writing many new rows at once. On PostgreSQL with psycopg 3 the rows go in by ``COPY`` (their
ids reserved from the table's sequence first, so the objects know them); elsewhere through
``bulk_create``. For imports of thousands of rows, where Django building the INSERT statements
costs more than the database storing them."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model
from django.utils import timezone

BATCH = 1000


def can_copy() -> bool:
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


def bulk_insert(objects: Sequence[Model]) -> None:
    """Insert new ``objects`` of one model and give them their ids. ``auto_now``/``auto_now_add``
    fields are stamped as ``save`` would; nothing else of ``save`` (no signals, no ``pre_save``
    of other fields). Costs two statements on PostgreSQL, one per ``BATCH`` rows elsewhere."""
    if not objects:
        return
    model = type(objects[0])
    if not can_copy():
        model._default_manager.bulk_create(objects, batch_size=BATCH)
        return
    meta = model._meta
    now = timezone.now()
    stamped = [f for f in meta.concrete_fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    for obj in objects:
        for f in stamped:
            if getattr(obj, f.attname) is None or getattr(f, "auto_now", False):
                setattr(obj, f.attname, now)
    pk = meta.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [meta.db_table, pk.column, len(objects)])
        for obj, (value,) in zip(objects, cursor.fetchall(), strict=True):
            setattr(obj, pk.attname, value)
        fields = list(meta.concrete_fields)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        attnames = [f.attname for f in fields]
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([getattr(obj, name) for name in attnames])
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
