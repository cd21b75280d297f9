"""Keeping the roll-ups of the task ledgers (``tasks.models.rollups``) equal to a recount.

What is stored, and how it stays true:

- ``UnitRollup``: per county, ledger, role and unit, the active assignments by *cached* status and
  light, and the reports awaiting review. These change only when a write changes an assignment or a
  report, and every such write goes through ``assignments_refresh`` / ``assignments_refresh_due``
  (tasks.services.status) or ``assignments_sync``, which call ``rollups_touch``: the county's rows
  are recomputed in the same transaction, with a few grouped queries, under a lock on the county
  (an advisory lock on PostgreSQL: see ``_lock``), so two writers of one county recompute one
  after the other and the second sees the first's rows. Imports and other many-write services wrap themselves in
  ``rollups_deferred`` so the county is recomputed once, at the end.
- What depends on today — the overdue responsible assignments by days late, and the overdue count
  of the month under way — is computed *as of* a day, stored in ``CountyMonthRollup.as_of``. A
  county whose rows are of an earlier day is stale: the nightly job recomputes every county for
  the new day, and a page finds and recomputes the stale counties it is about to read
  (``rollups_ensure_fresh``, one query when nothing is stale), as pages refresh due statuses.
- ``LedgerRollup``: each ledger's active items, recomputed with the rest (items change only by
  ``item_save`` and imports, which touch the county).
- ``rollups_verify`` (the nightly job, ``manage.py rebuild_task_rollups --verify``) recounts every
  county, logs each difference from the stored rows and rewrites the county.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Q

from alliances.models import Region
from core.periods import Period, PeriodKind
from tasks.models import Assignment, CountyMonthRollup, LedgerRollup, ProgressReport, TaskItem, UnitRollup
from tasks.models.rollups import MONTH_COUNTS, UNIT_COUNTS
from tasks.selectors import AGING_BUCKETS, overdue_condition
from tasks.status import Status, first_of_month, local_date

logger = logging.getLogger(__name__)

TREND_MONTHS = 12
CHUNK = 50  # counties recomputed in one transaction by the rebuild and the nightly check

UnitKey = tuple[int, int, str, int | None, int | None, int | None]  # county, ledger, role, dept, inst, alliance
MonthKey = tuple[int, str]  # county, month

_pending: ContextVar[set[int] | None] = ContextVar("task_rollups_pending", default=None)


def trend_periods(today: date, months: int = TREND_MONTHS) -> list[Period]:
    """The ``months`` months up to the one containing ``today``, oldest first."""
    first = first_of_month(today, -(months - 1))
    return [Period.containing_date(PeriodKind.MONTH, first_of_month(first, n)) for n in range(months)]


def _unit_fields(today: date) -> dict:
    fields = {"total": Count("pk")}
    for status in Status:
        fields[status.value] = Count("pk", filter=Q(status=status.value))
    for light in ("red", "yellow", "blue"):
        fields[light] = Count("pk", filter=Q(light=light))
    for low, high in AGING_BUCKETS:
        condition = Q(role=Assignment.Role.LEAD, status=Status.OVERDUE, due_date__lte=today - timedelta(days=low))
        if high is not None:
            condition &= Q(due_date__gte=today - timedelta(days=high))
        fields[f"late_{low}"] = Count("pk", filter=condition)
    return fields


def recount_units(county_ids: Iterable[int], today: date) -> dict[UnitKey, dict[str, int]]:
    """The ``UnitRollup`` figures of ``county_ids`` counted from the assignments and reports. Two
    grouped queries."""
    ids = list(county_ids)
    keys = ("county_id", "item__ledger_id", "role", "department_id", "institution_id", "alliance_id")
    rows: dict[UnitKey, dict[str, int]] = {}
    for row in (Assignment.objects.filter(county_id__in=ids, is_active=True).values(*keys)
                .annotate(**_unit_fields(today)).order_by()):
        counts = dict.fromkeys(UNIT_COUNTS, 0)
        counts.update({k: row[k] for k in row if k in counts})
        rows[tuple(row[k] for k in keys)] = counts
    report_keys = tuple(f"assignment__{k}" for k in keys)
    for row in (ProgressReport.objects.filter(county_id__in=ids, state=ProgressReport.State.SUBMITTED,
                                              assignment__is_active=True)
                .values(*report_keys).annotate(n=Count("pk")).order_by()):
        key = tuple(row[k] for k in report_keys)
        rows.setdefault(key, dict.fromkeys(UNIT_COUNTS, 0))["awaiting"] = row["n"]
    return rows


def recount_months(county_ids: Iterable[int], today: date) -> dict[MonthKey, dict[str, int]]:
    """The ``CountyMonthRollup`` figures of ``county_ids`` for the trend months up to ``today``,
    counted from the assignments and reports (every county gets every month, zeros included). Two
    grouped queries."""
    ids = list(county_ids)
    periods = trend_periods(today)
    fields = {}
    for n, period in enumerate(periods):
        end = min(period.end, today)
        fields[f"overdue{n}"] = Count("pk", filter=overdue_condition(end))
        fields[f"done{n}"] = Count("pk", filter=Q(completed_at__date__gte=period.start, completed_at__date__lte=end))
    rows = {(pk, str(p)): dict.fromkeys(MONTH_COUNTS, 0) for pk in ids for p in periods}
    for row in (Assignment.objects.filter(county_id__in=ids, is_active=True, role=Assignment.Role.LEAD)
                .values("county_id").annotate(**fields).order_by()):
        for n, period in enumerate(periods):
            target = rows[(row["county_id"], str(period))]
            target["overdue"], target["done"] = row[f"overdue{n}"], row[f"done{n}"]
    for county_id, month, n in (ProgressReport.objects.filter(county_id__in=ids, period__gte=str(periods[0]),
                                                              period__lte=str(periods[-1]))
                                .values("county_id", "period").annotate(n=Count("pk")).order_by()
                                .values_list("county_id", "period", "n")):
        rows[(county_id, month)]["reports"] = n
    return rows


def recount_ledgers(county_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Each ledger's active items: {ledger: (county, items)}. One grouped query."""
    return {row["ledger_id"]: (row["ledger__county_id"], row["n"]) for row in
            TaskItem.objects.filter(ledger__county_id__in=list(county_ids), is_active=True)
            .values("ledger_id", "ledger__county_id").annotate(n=Count("pk")).order_by()}


LOCK_NAMESPACE = 0x7461736B  # "task": the first key of the county's advisory lock


def _lock(county_ids: Iterable[int]) -> list[int]:
    """Lock the counties for a recompute, in the order of their ids (so that writers never wait in a
    cycle), until the transaction ends. PostgreSQL: a transaction-level advisory lock per county,
    which, unlike a lock on the county's row, does not meet the key-share locks that inserting any
    row referring to the county takes (two writers that each inserted a report before recomputing
    would deadlock on FOR UPDATE). SQLite runs one writer at a time. Returns the ids that exist."""
    ids = list(Region.objects.filter(pk__in=set(county_ids)).order_by("pk").values_list("pk", flat=True))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for pk in ids:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, pk])
    return ids


def _write(ids: list[int], units: dict[UnitKey, dict], months: dict[MonthKey, dict], ledgers: dict[int, tuple],
           today: date) -> None:
    LedgerRollup.objects.filter(county_id__in=ids).delete()
    LedgerRollup.objects.bulk_create([LedgerRollup(ledger_id=pk, county_id=county_id, items=n)
                                      for pk, (county_id, n) in ledgers.items()], batch_size=1000)
    UnitRollup.objects.filter(county_id__in=ids).delete()
    UnitRollup.objects.bulk_create(
        [UnitRollup(county_id=k[0], ledger_id=k[1], role=k[2], department_id=k[3], institution_id=k[4],
                    alliance_id=k[5], **counts) for k, counts in units.items()], batch_size=1000)
    CountyMonthRollup.objects.filter(county_id__in=ids).delete()
    CountyMonthRollup.objects.bulk_create(
        [CountyMonthRollup(county_id=k[0], month=k[1], as_of=today, **counts) for k, counts in months.items()],
        batch_size=1000)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def rollups_recompute(county_ids: Iterable[int], *, today: date) -> int:
    """Recount and rewrite the roll-ups of ``county_ids`` as of ``today``, each chunk of counties
    in one transaction under the counties' locks. Returns the number of counties."""
    done = 0
    for chunk in _chunks(sorted(set(county_ids))):
        with transaction.atomic():
            ids = _lock(chunk)
            _write(ids, recount_units(ids, today), recount_months(ids, today), recount_ledgers(ids), today)
            done += len(ids)
    return done


def rollups_touch(county_ids: Iterable[int], *, now: datetime) -> None:
    """A write changed assignments or reports of ``county_ids``: recompute their roll-ups now, or at
    the end of the enclosing ``rollups_deferred`` block."""
    ids = {pk for pk in county_ids if pk is not None}
    if not ids:
        return
    pending = _pending.get()
    if pending is not None:
        pending.update(ids)
        return
    rollups_recompute(ids, today=local_date(now))


@contextmanager
def rollups_deferred(*, now: datetime):
    """Collect the counties touched inside the block and recompute each once when it ends (not when
    it raises: the transaction is rolled back then). Nested blocks join the outermost."""
    if _pending.get() is not None:
        yield
        return
    token = _pending.set(set())
    try:
        yield
        pending = _pending.get()
    finally:
        _pending.reset(token)
    if pending:
        rollups_recompute(pending, today=local_date(now))


def all_county_ids() -> list[int]:
    return list(Region.objects.filter(level=Region.Level.COUNTY).order_by("pk").values_list("pk", flat=True))


def rollups_ensure_fresh(county_ids: Iterable[int], *, today: date) -> int:
    """Recompute the counties among ``county_ids`` whose roll-ups are not as of ``today`` (or were
    never made). One query when none is stale. Returns the number recomputed."""
    ids = set(county_ids)
    fresh = set(CountyMonthRollup.objects.filter(county_id__in=ids, month=f"{today:%Y-%m}", as_of=today)
                .values_list("county_id", flat=True))
    stale = ids - fresh
    return rollups_recompute(stale, today=today) if stale else 0


@dataclass
class VerifyResult:
    counties: int = 0
    repaired: list[int] = field(default_factory=list)  # counties whose stored rows differed from the recount
    differences: list[str] = field(default_factory=list)


def _compare(stored_units, fresh_units, stored_months, fresh_months, today: date) -> list[str]:
    """The differences between the stored rows and a recount as of ``today``. Figures that depend
    on the day (days late; the overdue count of the month under way) are compared only when the
    stored rows are as of ``today``: older rows are merely stale."""
    out = []
    for key in sorted(set(stored_units) | set(fresh_units), key=str):
        old, new = stored_units.get(key), fresh_units.get(key)
        if old is None or new is None:
            out.append(f"unit {key}: stored {old}, counted {new}")
            continue
        as_of = old.pop("_as_of", today)
        names = UNIT_COUNTS if as_of == today else [n for n in UNIT_COUNTS if not n.startswith("late_")]
        diff = {n: (old[n], new[n]) for n in names if old[n] != new[n]}
        if diff:
            out.append(f"unit {key}: " + ", ".join(f"{n} stored {a} counted {b}" for n, (a, b) in diff.items()))
    for key in sorted(set(stored_months) & set(fresh_months)):
        old, new = stored_months[key], fresh_months[key]
        current = key[1] == f"{old['_as_of']:%Y-%m}"
        names = [n for n in MONTH_COUNTS if old["_as_of"] == today or not (n == "overdue" and current)]
        diff = {n: (old[n], new[n]) for n in names if old[n] != new[n]}
        if diff:
            out.append(f"month {key}: " + ", ".join(f"{n} stored {a} counted {b}" for n, (a, b) in diff.items()))
    return out


def rollups_verify(*, today: date, county_ids: Iterable[int] | None = None) -> VerifyResult:
    """Recount every county (or ``county_ids``) as of ``today``, log each difference from the
    stored roll-ups, and rewrite every county with the recount (stale or not). Idempotent."""
    result = VerifyResult()
    ids = sorted(set(county_ids)) if county_ids is not None else all_county_ids()
    for chunk in _chunks(ids):
        with transaction.atomic():
            locked = _lock(chunk)
            fresh_units, fresh_months = recount_units(locked, today), recount_months(locked, today)
            fresh_ledgers = recount_ledgers(locked)
            stored_ledgers = {row.ledger_id: (row.county_id, row.items)
                              for row in LedgerRollup.objects.filter(county_id__in=locked)}
            as_of = dict(CountyMonthRollup.objects.filter(county_id__in=locked).values_list("county_id", "as_of"))
            stored_units = {}
            for row in UnitRollup.objects.filter(county_id__in=locked).values():
                key = (row["county_id"], row["ledger_id"], row["role"], row["department_id"], row["institution_id"],
                       row["alliance_id"])
                stored_units[key] = {**{n: row[n] for n in UNIT_COUNTS}, "_as_of": as_of.get(row["county_id"])}
            stored_months = {(row["county_id"], row["month"]): {**{n: row[n] for n in MONTH_COUNTS},
                                                                 "_as_of": row["as_of"]}
                             for row in CountyMonthRollup.objects.filter(county_id__in=locked).values()}
            for county_id in locked:
                differences = _compare(
                    {k: v for k, v in stored_units.items() if k[0] == county_id},
                    {k: v for k, v in fresh_units.items() if k[0] == county_id},
                    {k: v for k, v in stored_months.items() if k[0] == county_id},
                    {k: v for k, v in fresh_months.items() if k[0] == county_id}, today)
                for pk in sorted(set(stored_ledgers) | set(fresh_ledgers)):
                    old, new = stored_ledgers.get(pk), fresh_ledgers.get(pk)
                    if old != new and (old or new)[0] == county_id:
                        differences.append(f"ledger {pk}: stored (county, items) {old}, counted {new}")
                if differences and county_id in as_of:
                    result.repaired.append(county_id)
                    result.differences += differences
                    for line in differences:
                        logger.warning("task roll-up of county %s differed from the recount: %s", county_id, line)
            _write(locked, fresh_units, fresh_months, fresh_ledgers, today)
            result.counties += len(locked)
    return result
