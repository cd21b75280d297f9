"""Backups with a tested restore (core/backup/, manage.py backup / restore, the nightly job).

The drill loads the demo, backs it up, wipes the database and the media, restores, and proves that
every table holds the same rows (count and a sha256 of its content), that an evidence file downloads
byte-identical through its scoped view, and that the security log and the value history survive —
on whichever database the session runs (PostgreSQL or SQLite).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client
from django.urls import reverse

from core import audit, backup
from core.models import AuditChain, SecurityEvent
from tests.test_settings import run_python

SHANGHAI = ZoneInfo("Asia/Shanghai")
KEYS = {"SECRET_KEY": "s3cret-key-for-the-backup-test-" + "x" * 30,
        "STAFF_IDENTITY_KEY": "identity-key-for-the-backup-test-0123456789",
        "AUDIT_CHAIN_KEY": "chain-key-for-the-backup-test-0123456789"}
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def places(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BACKUP_DIR = tmp_path / "backups"
    return tmp_path


def table_digests(*, security_up_to: int | None = None) -> dict[str, tuple[int, str]]:
    """Every table's row count and a sha256 of its rows in primary-key order (raw SQL). The security
    log is read up to ``security_up_to`` when given (a restore appends its own event)."""
    out = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            pk = connection.introspection.get_primary_key_column(cursor, table)
            quoted = connection.ops.quote_name(table)
            where = f" WHERE seq <= {int(security_up_to)}" if table == "core_securityevent" and security_up_to else ""
            order = connection.ops.quote_name(pk) if pk else "1"
            cursor.execute(f"SELECT * FROM {quoted}{where} ORDER BY {order}")
            digest, count = hashlib.sha256(), 0
            for row in cursor.fetchall():
                values = [bytes(v) if isinstance(v, memoryview) else v for v in row]
                digest.update(repr(values).encode())
                count += 1
            out[table] = (count, digest.hexdigest())
    return out


def media_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def wipe_database() -> None:
    """Drop every table, as if the server were new (the security log's triggers go with its table)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '30s'")  # a connection left open elsewhere: fail, do not hang
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        connections.close_all()
        return
    path = connection.settings_dict["NAME"]
    connections.close_all()
    raw = sqlite3.connect(path)
    try:
        raw.execute("PRAGMA foreign_keys = OFF")
        names = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%'")]
        for name in names:
            raw.execute(f'DROP TABLE "{name}"')
        raw.commit()
        assert not raw.execute("SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table', 'trigger') "
                               "AND name NOT LIKE 'sqlite_%'").fetchone()[0]
    finally:
        raw.close()


def rewrite(archive: Path, target: Path, *, manifest=None, members: dict[str, bytes] | None = None,
            rename: dict[str, str] | None = None) -> Path:
    """A copy of ``archive`` with its manifest changed by ``manifest(dict)``, members replaced and renamed."""
    members, rename = members or {}, rename or {}
    with tarfile.open(archive) as src, tarfile.open(target, "w") as dst:
        for member in src:
            data = src.extractfile(member).read()
            if member.name == backup.MANIFEST and manifest is not None:
                content = json.loads(data)
                manifest(content)
                data = json.dumps(content).encode()
            data = members.get(member.name, data)
            info = tarfile.TarInfo(rename.get(member.name, member.name))
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return target


# The drill -------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_restore_drill_brings_back_every_row_file_and_chain(places, settings):
    from indicators.models import ValueAudit
    from tasks.models import Evidence

    # The session's own SECRET_KEY and AUDIT_CHAIN_KEY: the security log outlives this test (it is not
    # flushed), and rows keyed otherwise would break the chain for every later test.
    settings.STAFF_IDENTITY_KEY = KEYS["STAFF_IDENTITY_KEY"]
    keys = {"DJANGO_SECRET_KEY": settings.SECRET_KEY, "STAFF_IDENTITY_KEY": settings.STAFF_IDENTITY_KEY,
            "AUDIT_CHAIN_KEY": settings.AUDIT_CHAIN_KEY}
    call_command("load_demo", quiet=True, without_staffing=True, without_reports=True)
    demo_evidence = list(Evidence.objects.order_by("pk"))
    assert demo_evidence and all(e.file and e.file.storage.exists(e.file.name) for e in demo_evidence)
    # One evidence file of our own, of every byte value, so that "byte-identical" means something.
    payload = b"%PDF-1.4\n" + bytes(range(256)) * 400 + os.urandom(4096)
    first = demo_evidence[0]
    sha = hashlib.sha256(payload).hexdigest()
    extra = Evidence(report=first.report, county=first.county, original_name="恢复演练.pdf", kind=first.kind,
                     content_type="application/pdf", extension=".pdf", size=len(payload), sha256=sha,
                     uploaded_by=first.uploaded_by)
    extra.file.save("drill.pdf", ContentFile(payload), save=True)
    # The security log has rows of its own.
    audit.record(audit.Event.LOGIN, actor=first.uploaded_by, details={"method": "password"})
    audit.record(audit.Event.LOGIN_FAILED, username="nobody", result=audit.FAILURE)
    # A corrected value (the demo's filings are loaded without history): a row of the value audit.
    from indicators.models import DataValue
    from indicators.services.filings import save_values

    value = DataValue.objects.select_related("filing").order_by("pk").first()
    save_values(value.filing, {value.element_id: value.value + 1}, user=first.uploaded_by,
                expected_version=value.filing.version, reason="恢复演练更正", check_edit=False)
    assert ValueAudit.objects.filter(reason="恢复演练更正").exists()
    history = list(ValueAudit.objects.order_by("pk").values_list())
    last_seq = AuditChain.objects.get(pk=1).last_seq
    before = table_digests()
    files_before = media_digests(places / "media")
    assert len(files_before) >= 2

    made = backup.backup_create(passphrase=PASSPHRASE)
    assert made.manifest["tables"] == {t: n for t, (n, _) in before.items()}
    assert SecurityEvent.objects.filter(event=audit.Event.BACKUP_MADE, details__archive=made.path.name).exists()
    # No key in clear anywhere in the archive (the database copy included).
    raw = made.path.read_bytes()
    for value in keys.values():
        assert not value or value.encode() not in raw

    wipe_database()
    shutil.rmtree(places / "media")
    assert backup.database_tables_with_rows() == {}

    lines: list[str] = []
    keys_file = places / "keys.env"
    result = backup.backup_restore(made.path, passphrase=PASSPHRASE, keys_out=keys_file, say=lines.append)

    assert not result.wiped and result.audit_ok and not result.pending_migrations and not result.warnings
    assert any(line.startswith("Verified:") for line in lines)
    after = table_digests(security_up_to=last_seq)
    assert set(after) == set(before)
    differ = {t for t in before if t != "core_auditchain" and before[t] != after[t]}
    assert not differ, f"tables restored with other content: {sorted(differ)}"
    # The chain's head moved by exactly the restore's own event, which extends the restored chain.
    head = AuditChain.objects.get(pk=1)
    restored = SecurityEvent.objects.get(seq=head.last_seq)
    assert head.last_seq == last_seq + 1 and restored.event == audit.Event.BACKUP_RESTORED
    assert restored.actor_username.startswith("manage.py") and restored.details["archive"] == made.path.name
    assert audit.verify().ok
    assert list(ValueAudit.objects.order_by("pk").values_list()) == history
    assert media_digests(places / "media") == files_before
    # The database refuses to change the security log again: the triggers came back with the table.
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(seq=last_seq).update(event="tampered")
    assert SecurityEvent.objects.get(seq=last_seq).event == audit.Event.LOGIN_FAILED

    client = Client()
    client.force_login(extra.uploaded_by)
    response = client.get(reverse("tasks:evidence_download", args=[extra.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == payload

    assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
    written = dict(line.split("=", 1) for line in keys_file.read_text().splitlines() if not line.startswith("#"))
    assert written == keys

    # The same archive again: refused over the data now there, accepted with --force.
    with pytest.raises(CommandError, match="Refusing to restore over existing data"):
        call_command("restore", str(made.path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("restore", str(made.path), "--force", stdout=out)
    assert "wiping" in out.getvalue() and "Restored" in out.getvalue()
    again = table_digests(security_up_to=last_seq)
    again.pop("core_auditchain"), after.pop("core_auditchain")
    assert again == after


# Refusals ----------------------------------------------------------------------------------------------

@pytest.fixture
def archive(places, db):
    return backup.backup_create().path


def test_an_archive_that_fails_its_checksums_is_refused_before_anything_changes(archive, places, world):
    # Change one byte of the database copy.
    with tarfile.open(archive) as src:
        db_name = json.loads(src.extractfile(backup.MANIFEST).read())["database"]["file"]
        data = bytearray(src.extractfile(db_name).read())
    data[len(data) // 2] ^= 0xFF
    bad = rewrite(archive, places / "bad.tar", members={db_name: bytes(data)})
    before = table_digests()
    with pytest.raises(CommandError, match=f"fails its checksums.*{db_name}: checksum mismatch"):
        call_command("restore", str(bad), "--force", stdout=io.StringIO())
    # A file that the manifest does not list, and one it lists but the archive lacks.
    extra = rewrite(archive, places / "extra.tar", manifest=lambda m: m["files"].pop(db_name))
    with pytest.raises(backup.BackupError, match=f"{db_name}: not in the manifest"):
        backup.backup_restore(extra, force=True)
    assert table_digests() == before


def test_an_archive_from_newer_code_is_refused(archive, places, world):
    def newer(manifest):
        manifest["migrations"]["applied"]["tasks"].append("0099_from_the_future")
        manifest["migrations"]["applied"]["newapp"] = ["0001_initial"]

    # The manifest is not covered by its own checksums: edit it freely.
    future = rewrite(archive, places / "future.tar", manifest=newer)
    with pytest.raises(CommandError, match=r"newer version.*newapp\.0001_initial, tasks\.0099_from_the_future"):
        call_command("restore", str(future), "--force", stdout=io.StringIO())


def test_an_archive_from_older_code_lists_the_migrations_to_apply(archive):
    with tarfile.open(archive) as tar:
        manifest = backup.read_manifest(tar)
    latest = manifest["migrations"]["applied"]["tasks"].pop()
    assert backup.check_migrations(manifest) == [f"tasks.{latest}"]


def test_an_archive_of_another_database_vendor_is_refused(archive, places, world):
    other, mine = ("sqlite", backup.DB_POSTGRES) if connection.vendor == "postgresql" else ("postgresql", backup.DB_SQLITE)
    theirs = backup.DB_SQLITE if other == "sqlite" else backup.DB_POSTGRES

    def other_vendor(manifest):
        manifest["database"].update(vendor=other, file=theirs)
        manifest["files"][theirs] = manifest["files"].pop(mine)

    foreign = rewrite(archive, places / "foreign.tar", manifest=other_vendor, rename={mine: theirs})
    with pytest.raises(backup.BackupError, match=f"holds a {other} database"):
        backup.backup_restore(foreign, force=True)


def test_a_database_with_data_is_refused_without_force(archive, world):
    assert "alliances_region" in backup.database_tables_with_rows() or connection.vendor == "postgresql"
    with pytest.raises(CommandError, match="Refusing to restore over existing data.*--force"):
        call_command("restore", str(archive), stdout=io.StringIO())


def test_a_manifest_that_is_not_ours_is_refused(archive, places):
    odd = rewrite(archive, places / "odd.tar", manifest=lambda m: m["database"].update(file="media/x"))
    with pytest.raises(backup.BackupError, match="lacks parts of a portal backup's manifest"):
        backup.backup_restore(odd, force=True)


def test_a_missing_or_foreign_file_is_refused_with_a_clear_message(places, db):
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(places / "none.tar"))
    junk = places / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(CommandError, match="not a readable tar archive"):
        call_command("restore", str(junk))


# Keys ---------------------------------------------------------------------------------------------------

def test_keys_stay_out_unless_a_passphrase_encrypts_them(places, settings, db):
    for name, value in KEYS.items():
        setattr(settings, name, value)
    plain = backup.backup_create(now=datetime(2026, 12, 6, 2, 30, tzinfo=SHANGHAI))
    with tarfile.open(plain.path) as tar:
        assert backup.KEYS not in tar.getnames()
    assert not plain.manifest["keys"]["included"]
    assert oct(plain.path.stat().st_mode & 0o777) == "0o600"

    passphrase_file = places / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    out = io.StringIO()
    with time_machine.travel(datetime(2026, 12, 6, 2, 31, tzinfo=SHANGHAI), tick=False):
        call_command("backup", "--with-keys", "--passphrase-file", str(passphrase_file), stdout=out)
    assert "included, encrypted" in out.getvalue()
    made = places / "backups" / "portal-backup-20261206-023100.tar"
    raw = made.read_bytes()
    for value in KEYS.values():
        assert value.encode() not in raw
    with tarfile.open(made) as tar:
        sealed = tar.extractfile(backup.KEYS).read()
    assert backup.decrypt_keys(sealed, PASSPHRASE)["AUDIT_CHAIN_KEY"] == KEYS["AUDIT_CHAIN_KEY"]
    with pytest.raises(backup.BackupError, match="passphrase does not open"):
        backup.decrypt_keys(sealed, PASSPHRASE + "!")

    passphrase_file.write_text("short\n")
    with pytest.raises(CommandError, match="at least 12 characters"):
        call_command("backup", "--with-keys", "--passphrase-file", str(passphrase_file), stdout=io.StringIO())
    with pytest.raises(CommandError, match="needs a passphrase"):
        call_command("backup", "--with-keys", stdout=io.StringIO())


# The nightly job ---------------------------------------------------------------------------------------

def test_nightly_backup_makes_one_archive_a_day_and_keeps_the_newest(places, settings, db):
    from core.jobs import nightly_backup

    settings.BACKUP_KEEP = 3
    backups = places / "backups"
    backups.mkdir()
    for day in ("20261201", "20261202", "20261203"):
        (backups / f"portal-backup-{day}-023000.tar").write_bytes(b"old")
    (backups / "notes.txt").write_text("not an archive")

    with time_machine.travel(datetime(2026, 12, 6, 2, 30, tzinfo=SHANGHAI), tick=False):
        assert nightly_backup() == "portal-backup-20261206-023000.tar"
    with time_machine.travel(datetime(2026, 12, 6, 23, 50, tzinfo=SHANGHAI), tick=False):
        assert nightly_backup().startswith("today's archive exists")
    names = sorted(p.name for p in backups.iterdir() if not p.name.startswith("."))
    assert names == ["notes.txt", "portal-backup-20261202-023000.tar", "portal-backup-20261203-023000.tar",
                     "portal-backup-20261206-023000.tar"]
    events = SecurityEvent.objects.filter(event=audit.Event.BACKUP_MADE)
    assert events.count() == 1
    details = events.get().details
    assert details["trigger"] == "nightly" and details["removed"] == ["portal-backup-20261201-023000.tar"]
    assert events.get().actor_username == "nightly job" and events.get().actor_id is None

    # The next day (Asia/Shanghai: 00:10 there is still the 6th in UTC) makes the next one.
    with time_machine.travel(datetime(2026, 12, 7, 0, 10, tzinfo=SHANGHAI), tick=False):
        assert nightly_backup() == "portal-backup-20261207-001000.tar"


def test_nightly_backup_does_nothing_while_another_runs(places, db):
    import fcntl

    backups = places / "backups"
    backups.mkdir()
    with (backups / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = backup.backup_nightly()
    assert result.made is None and result.skipped == "another backup is running"
    assert backup.archives(backups) == []


def test_nightly_backup_is_scheduled_at_the_configured_time(settings, tmp_path):
    entry = settings.CELERY_BEAT_SCHEDULE["core-backup"]
    assert entry["task"] == "core.jobs.nightly_backup"
    assert entry["schedule"].hour == {2} and entry["schedule"].minute == {30}
    assert settings.CELERY_TIMEZONE == "Asia/Shanghai" and settings.BACKUP_KEEP == 14

    from config.celery import app

    assert "core.jobs.nightly_backup" in app.tasks
    code = ("from django.conf import settings; s = settings.CELERY_BEAT_SCHEDULE['core-backup']['schedule']; "
            "print(sorted(s.hour), sorted(s.minute), settings.BACKUP_KEEP, settings.CELERY_TASK_ROUTES)")
    done = run_python(code, {"BACKUP_HOUR": "3", "BACKUP_MINUTE": "5", "BACKUP_KEEP": "30",
                             "BACKUP_QUEUE": "backup"}, tmp_path)
    assert done.stdout.strip() == "[3] [5] 30 {'core.jobs.nightly_backup': {'queue': 'backup'}}", done.stderr
    bad = run_python("import django; django.setup()", {"BACKUP_HOUR": "24"}, tmp_path)
    assert bad.returncode != 0 and "BACKUP_HOUR=24" in bad.stderr
