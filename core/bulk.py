"""Writing many new rows at once. On PostgreSQL with psycopg 3 the rows go in by ``COPY`` (their
ids reserved from the table's sequence first, so the caller knows them); elsewhere through
``bulk_create``. For imports of thousands of rows, where making model instances and Django building
the INSERT statements cost more than the database storing them."""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection
from django.db.models import JSONField, Model
from django.utils import timezone

BATCH = 1000
SMALL = 200  # up to this many rows without ids: one INSERT … VALUES (a grid save's audit rows), else COPY


def can_copy() -> bool:
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


def insert_rows(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence], *,
                returning_ids: bool = True) -> list[int]:
    """Insert ``rows`` (values of ``fields``, attnames such as ``item_id``) as new rows of ``model``
    without making model instances — for tens of thousands of rows their construction costs more
    than the insert. Other concrete fields get their default; ``auto_now``/``auto_now_add`` fields
    not given get now. Returns the new ids in order (``[]`` without ``returning_ids``: on PostgreSQL
    the database numbers the rows itself then, without a round trip to reserve ids)."""
    if not rows:
        return []
    meta = model._meta
    now = timezone.now()
    given = list(fields)
    extra: list[tuple[str, object]] = []
    for f in meta.concrete_fields:
        if f.primary_key or f.attname in given:
            continue
        auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        extra.append((f.attname, now if auto else f.get_default()))
    names = given + [name for name, _value in extra]
    tail = [value for _name, value in extra]
    if not returning_ids and len(rows) <= SMALL:
        _insert_values(model, names, [[*row, *tail] for row in rows])
        return []
    if not can_copy():
        objects = [model(**dict(zip(names, [*row, *tail], strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=BATCH)
        return [obj.pk for obj in objects] if returning_ids else []
    pk = meta.pk
    by_attname = {f.attname: f for f in meta.concrete_fields}
    columns = [by_attname[name].column for name in names]
    # COPY takes text: JSON values (given or defaults) go in as JSON documents.
    json_given = [i for i, name in enumerate(given) if isinstance(by_attname[name], JSONField)]
    tail = [json.dumps(value) if isinstance(by_attname[name], JSONField) and value is not None else value
            for (name, _default), value in zip(extra, tail, strict=True)]
    if json_given:
        rows = [[json.dumps(v) if i in json_given and v is not None else v for i, v in enumerate(row)]
                for row in rows]
    with connection.cursor() as cursor:
        ids: list[int] = []
        if returning_ids:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [meta.db_table, pk.column, len(rows)])
            ids = [value for (value,) in cursor.fetchall()]
            columns.insert(0, pk.column)
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        statement = f"COPY {connection.ops.quote_name(meta.db_table)} ({quoted}) FROM STDIN"
        if connection.queries_logged:  # COPY bypasses Django's cursor: count it like any statement
            connection.queries_log.append({"sql": f"{statement} -- {len(rows)} rows", "time": "0.000"})
        with cursor.cursor.copy(statement) as copy:
            if returning_ids:
                for new_id, row in zip(ids, rows, strict=True):
                    copy.write_row([new_id, *row, *tail])
            else:
                for row in rows:
                    copy.write_row([*row, *tail])
    return ids


def _insert_values(model: type[Model], names: list[str], rows: list[list]) -> None:
    """A few rows in one ``INSERT … VALUES`` statement: no model instances, and, unlike ``COPY``,
    a statement Django sees (the query counts the tests assert stay true)."""
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    fields = [by_attname[name] for name in names]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [f.get_db_prep_save(value, connection) for row in rows for f, value in zip(fields, row, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row_sql] * len(rows))}",
                       params)


def update_column(model: type[Model], field_name: str, values: dict[int, object], **same) -> None:
    """Set ``field_name`` of each row ``{pk: value}`` of ``model`` (and the ``same`` fields to one
    value for all, e.g. ``updated_at=now``) in one statement. On PostgreSQL one ``UPDATE … FROM
    (VALUES …)`` built here, a fraction of the Python ``bulk_update`` spends on its ``CASE WHEN``
    expressions; elsewhere ``bulk_update``."""
    if not values:
        return
    meta = model._meta
    if connection.vendor != "postgresql":
        objects = []
        for pk, value in values.items():
            obj = model(pk=pk, **{field_name: value}, **same)
            objects.append(obj)
        model._default_manager.bulk_update(objects, [field_name, *same], batch_size=BATCH)
        return
    quote = connection.ops.quote_name
    field = meta.get_field(field_name)
    table, pk_column = quote(meta.db_table), quote(meta.pk.column)
    sets = [f"{quote(field.column)} = v.value::{field.db_type(connection)}"]
    params: list[object] = []
    for name, value in same.items():
        other = meta.get_field(name)
        sets.append(f"{quote(other.column)} = %s")
        params.append(other.get_db_prep_save(value, connection))
    rows = list(values.items())
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        placeholders = ", ".join(["(%s::bigint, %s)"] * len(chunk))
        chunk_params = [item for pk, value in chunk for item in (pk, field.get_db_prep_save(value, connection))]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {', '.join(sets)} FROM (VALUES {placeholders}) AS v(id, value) "
                           f"WHERE {table}.{pk_column} = v.id", params + chunk_params)
