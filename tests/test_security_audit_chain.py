"""The security log's integrity: the database refuses UPDATE and DELETE of its rows (DELETE is allowed
for rows older than 180 days), ``manage.py audit_verify`` names the first row changed or removed
behind the application's back, concurrent writers keep the chain valid, and the retention: never
below 180 days (at start-up and in ``retention_days``), a purge deletes the oldest part only, records
the chain's new start and leaves a chain that verifies.

The table is unmanaged and not emptied between tests: tests compare against the rows they wrote.
Tampering happens inside the test's transaction (rolled back at its end), so the chain stays whole
for the tests after."""

from __future__ import annotations

import importlib
import io
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from core import audit
from core.jobs import audit_purge
from core.models import AuditChain, SecurityEvent
from tests.test_settings import SETUP, run_python

E = audit.Event
SQLITE_TRIGGERS = dict(zip(("core_securityevent_no_update", "core_securityevent_no_delete"),
                           importlib.import_module("core.migrations.0002_security_log").SQLITE, strict=True))


def record(n: int, **kwargs) -> list[SecurityEvent]:
    return [audit.record(E.LOGIN_FAILED, username=f"chain_test_{i}", result=audit.FAILURE, **kwargs)
            for i in range(n)]


@contextmanager
def trigger_off(name: str):
    """The trigger ``name`` off, as someone with the database's password could do it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE core_securityevent DISABLE TRIGGER {name}")
        else:
            cursor.execute(f"DROP TRIGGER {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE core_securityevent ENABLE TRIGGER {name}")
            else:
                cursor.execute(SQLITE_TRIGGERS[name])


def verify_command() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


# The database's triggers -------------------------------------------------------------------------

def test_the_database_refuses_update_and_delete_of_a_row(db):
    row, = record(1)
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(pk=row.pk).update(address="6.6.6.6")
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(pk=row.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_securityevent SET details = %s WHERE id = %s", ['{"x": 1}', row.pk])
    assert SecurityEvent.objects.get(pk=row.pk).address == "" and audit.verify().ok


def test_a_row_older_than_180_days_may_be_deleted(db):
    with time_machine.travel(timezone.now() - timedelta(days=181)):
        old, = record(1)
    with time_machine.travel(timezone.now() - timedelta(days=179)):
        young, = record(1)
    SecurityEvent.objects.filter(pk=old.pk).delete()
    assert not SecurityEvent.objects.filter(pk=old.pk).exists()
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(pk=young.pk).delete()
    assert SecurityEvent.objects.filter(pk=young.pk).exists()


# audit_verify --------------------------------------------------------------------------------------

def test_audit_verify_passes_on_an_intact_chain(db):
    record(3)
    code, output = verify_command()
    assert code == 0, output
    head = AuditChain.objects.get(pk=1)
    assert "intact" in output and f"seq {head.start_seq}–{head.last_seq}" in output


def test_audit_verify_names_a_row_changed_behind_the_applications_back(db):
    _first, changed, _last = record(3)
    with trigger_off("core_securityevent_no_update"):
        SecurityEvent.objects.filter(pk=changed.pk).update(address="6.6.6.6")
    code, output = verify_command()
    assert code == 1
    assert f"seq {changed.seq}, id {changed.pk}" in output and "event auth.login_failed" in output
    assert timezone.localtime(changed.time).isoformat() in output and "its content was changed" in output
    # The trigger is back.
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(pk=changed.pk).update(address="7.7.7.7")


def test_a_row_rewritten_with_its_hashes_recomputed_without_the_key_is_named(db):
    """Someone who can write to the database but does not hold the chain's key: rewriting a row and
    recomputing its hash (and the next row's link) as a plain SHA-256 does not get past the HMAC."""
    import hashlib
    import json

    _first, changed, after = record(3)
    row = SecurityEvent.objects.get(pk=changed.pk)
    row.address = "6.6.6.6"
    content = [row.seq, audit._time_text(row.time), row.event, row.result, row.actor_id, row.actor_username,
               row.address, row.user_agent, row.target_type, row.target_id, row.target_repr, row.county_id,
               row.details]
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    forged = hashlib.sha256((row.prev_hash + text).encode()).hexdigest()
    with trigger_off("core_securityevent_no_update"):
        SecurityEvent.objects.filter(pk=row.pk).update(address=row.address, hash=forged)
        SecurityEvent.objects.filter(pk=after.pk).update(prev_hash=forged)
    code, output = verify_command()
    assert code == 1 and f"seq {changed.seq}, id {changed.pk}" in output and "its content was changed" in output


def test_the_chain_is_keyed(db, settings):
    """The same row hashes differently under another key (AUDIT_CHAIN_KEY), so the key is what vouches."""
    row, = record(1)
    settings.AUDIT_CHAIN_KEY = "another key, kept elsewhere"
    assert audit.row_hash(row) != row.hash
    settings.AUDIT_CHAIN_KEY = ""
    assert audit.row_hash(row) == row.hash


def test_audit_verify_names_a_row_removed_behind_the_applications_back(db):
    _first, removed, after = record(3)
    with trigger_off("core_securityevent_no_delete"):
        SecurityEvent.objects.filter(pk=removed.pk).delete()
    code, output = verify_command()
    assert code == 1
    assert f"seq {after.seq}, id {after.pk}" in output
    assert f"rows {removed.seq}–{removed.seq} are missing before this row" in output


def test_audit_verify_notices_the_newest_rows_removed(db):
    kept, last = record(2)
    with trigger_off("core_securityevent_no_delete"):
        SecurityEvent.objects.filter(pk=last.pk).delete()
    code, output = verify_command()
    assert code == 1 and f"seq {kept.seq}" in output
    assert f"the chain ends at {kept.seq} but its head says {last.seq}" in output


def test_audit_verify_names_a_row_slipped_in_after_the_head(db):
    last, = record(1)
    head = AuditChain.objects.get(pk=1)
    forged = SecurityEvent(seq=head.last_seq + 1, time=timezone.now(), event=E.LOGIN, actor_username="forger",
                           prev_hash=head.last_hash)
    forged.hash = audit.row_hash(forged)
    forged.save(force_insert=True)  # INSERT is not refused; the head was not moved
    code, output = verify_command()
    assert code == 1 and f"seq {forged.seq}, id {forged.pk}" in output and "after the chain's head" in output


# Concurrent writers --------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_valid():
    """8 threads × 10 events at once: consecutive sequence numbers, one chain (PostgreSQL: the head's
    row lock; SQLite: IMMEDIATE transactions). Rows belong to no county: no auditor sees them."""
    threads_n, each = 8, 10
    start = AuditChain.objects.get(pk=1).last_seq
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(each):
                audit.record(E.LOGIN_FAILED, username=f"concurrent_{n}", result=audit.FAILURE, details={"i": i})
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    seqs = sorted(SecurityEvent.objects.filter(seq__gt=start).values_list("seq", flat=True))
    assert seqs == list(range(start + 1, start + threads_n * each + 1))
    assert AuditChain.objects.get(pk=1).last_seq == start + threads_n * each
    result = audit.verify()
    assert result.ok, result


# Retention and purge -------------------------------------------------------------------------------

def test_a_retention_below_180_days_stops_start_up(tmp_path):
    result = run_python(SETUP, {"AUDIT_RETENTION_DAYS": "179"}, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "AUDIT_RETENTION_DAYS" in result.stderr


def test_retention_days_never_below_180(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    assert audit.retention_days() == 180
    settings.AUDIT_RETENTION_DAYS = 400
    assert audit.retention_days() == 400


@pytest.fixture
def empty_log(db):
    """The log as if everything before this test had been purged (inside the test's transaction)."""
    with trigger_off("core_securityevent_no_delete"):
        SecurityEvent.objects.all().delete()
    head = AuditChain.objects.get(pk=1)
    AuditChain.objects.filter(pk=1).update(start_seq=head.last_seq + 1, start_prev_hash=head.last_hash)
    assert audit.verify().ok


def _aged(days: int) -> SecurityEvent:
    with time_machine.travel(timezone.now() - timedelta(days=days)):
        return record(1)[0]


def test_purge_deletes_the_rows_older_than_the_retention(empty_log, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    oldest, older, old, young = _aged(400), _aged(370), _aged(200), _aged(10)
    assert audit_purge() == 2  # the job calls the service
    remaining = set(SecurityEvent.objects.values_list("pk", flat=True))
    assert {oldest.pk, older.pk} & remaining == set() and {old.pk, young.pk} <= remaining
    purge = SecurityEvent.objects.get(event=E.AUDIT_PURGE)
    assert purge.details["deleted"] == 2 and (purge.details["from_seq"], purge.details["to_seq"]) == (
        oldest.seq, older.seq)
    assert (purge.details["new_start_seq"], purge.details["new_start_prev_hash"]) == (old.seq, older.hash)
    assert purge.details["retention_days"] == 365
    head = AuditChain.objects.get(pk=1)
    assert (head.start_seq, head.start_prev_hash, head.last_seq) == (old.seq, older.hash, purge.seq)
    assert verify_command()[0] == 0
    assert audit.purge() == 0  # nothing more to purge: no event either
    assert SecurityEvent.objects.filter(event=E.AUDIT_PURGE).count() == 1


def test_purge_keeps_180_days_whatever_it_is_told(empty_log, settings):
    settings.AUDIT_RETENTION_DAYS = 30  # below the legal minimum: 180 days apply
    old, kept, young = _aged(200), _aged(170), _aged(1)
    assert audit.purge() == 1
    assert not SecurityEvent.objects.filter(pk=old.pk).exists()
    assert SecurityEvent.objects.filter(pk__in=[kept.pk, young.pk]).count() == 2
    # A purge with a clock a year ahead would delete young rows: the database refuses, nothing changes.
    head = AuditChain.objects.get(pk=1)
    with pytest.raises(DatabaseError):
        audit.purge(now=timezone.now() + timedelta(days=365))
    assert SecurityEvent.objects.filter(pk__in=[kept.pk, young.pk]).count() == 2
    assert AuditChain.objects.get(pk=1).start_seq == head.start_seq
    assert verify_command()[0] == 0
