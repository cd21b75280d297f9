"""A real Celery worker process runs a job enqueued by the portal.

The worker is started as a subprocess against the *test* database (the SQLite file
under var/, or the PostgreSQL test database) and the broker of the settings: Redis when
REDIS_URL is set, the embedded filesystem broker otherwise.

Without REQUIRE_WORKER=1 a worker that cannot start (no Redis reachable, say) skips the
test; with it (CI) that is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from core.models import Heartbeat

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("REQUIRE_WORKER", "").strip().lower() in ("1", "true", "yes", "on")
WAIT_SECONDS = 60


def cannot_run(reason: str):
    if REQUIRED:
        pytest.fail(f"REQUIRE_WORKER is set but {reason}")
    pytest.skip(reason)


def worker_database_url() -> str:
    """A DATABASE_URL that points a separate process at the database this test uses."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            cannot_run("the SQLite test database is in memory; a worker process cannot share it")
        return f"sqlite:///{Path(name).resolve()}"
    if connection.vendor == "postgresql":
        auth = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "127.0.0.1"
        if host.startswith("/"):  # a socket directory
            return f"postgres://{auth}@/{quote(db['NAME'])}?host={quote(host, safe='')}" + (
                f"&port={db['PORT']}" if db.get("PORT") else ""
            )
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}@{host}{port}/{quote(db['NAME'])}"
    cannot_run(f"no worker database URL for the {connection.vendor} backend")
    raise AssertionError("unreachable")


def broker_reachable() -> str | None:
    """None when the configured broker can be used, else why not."""
    if not settings.REDIS_URL:
        return None
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis at {settings.REDIS_URL} is not reachable: {exc}"
    return None


def output_of(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-4000:]


def start_worker(tmp_path, *, beat: bool = False, env_extra: dict | None = None):
    """A worker process (with embedded beat if ``beat``) against the test database and the
    settings' broker. E-mail goes to the console (the worker's log) unless ``env_extra`` says."""
    if (why := broker_reachable()) is not None:
        cannot_run(why)
    from config.celery import app

    app.control.purge()  # jobs other tests enqueued (with no worker then) are not this test's
    hostname = f"pytest-{uuid.uuid4().hex[:10]}@%h"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "PORTAL_VAR_DIR": str(settings.VAR_DIR),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        **(env_extra or {}),
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")]))
    celery = Path(sys.executable).with_name("celery")
    program = [str(celery)] if celery.exists() else [sys.executable, "-m", "celery"]
    command = [
        *program, "-A", "config", "worker",
        "--pool=solo", "--concurrency=1", "-Q", "celery",
        f"--hostname={hostname}",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel=INFO",
    ]  # fmt: skip
    if beat:
        command += ["-B", f"--schedule={tmp_path / 'beat-schedule'}"]
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        try:
            proc = subprocess.Popen(
                command, cwd=settings.VAR_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            cannot_run(f"the Celery worker could not be started: {exc}")
    proc.log = log  # type: ignore[attr-defined]
    proc.expected_hostname = hostname.replace("%h", "")  # type: ignore[attr-defined]
    return proc


def wait_for(proc, find):
    """``find()``'s first non-None answer within ``WAIT_SECONDS``, polled every half second (None if it
    never comes); a worker that exits meanwhile cannot run the test."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        if proc.poll() is not None:
            cannot_run(f"the Celery worker exited with code {proc.returncode}:\n{output_of(proc.log)}")
        time.sleep(0.5)
    return None


def stop_worker(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def worker(tmp_path):
    proc = start_worker(tmp_path)
    try:
        yield proc
    finally:
        stop_worker(proc)


def small_county():
    """郁南县 with one alliance led by its hospital: (county, alliance)."""
    from tests.factories import AllianceFactory, MembershipFactory, RegionFactory
    from tests.factories import InstitutionFactory as Institutions

    province = RegionFactory(code="440000", name="广东省", level="province")
    city = RegionFactory(code="445300", name="云浮市", level="city", parent=province)
    county = RegionFactory(code="445322", name="郁南县", level="county", parent=city)
    hospital = Institutions(county=county, name="郁南县人民医院", kind="county_general")
    alliance = AllianceFactory(county=county, name="郁南县第一医共体")
    MembershipFactory(institution=hospital, alliance=alliance, role="lead")
    return county, alliance


def test_worker_runs_the_heartbeat_job(worker):
    from config.celery import app  # the portal's app, so .delay() uses our broker
    from core.jobs import heartbeat

    assert app.conf.broker_url == (settings.REDIS_URL or "filesystem://")
    assert not Heartbeat.objects.exists()

    heartbeat.delay()

    row = wait_for(worker, lambda: Heartbeat.objects.filter(worker__startswith=worker.expected_hostname).first())

    assert row is not None, f"no heartbeat within {WAIT_SECONDS} s; worker output:\n{output_of(worker.log)}"
    assert row.worker.startswith("pytest-") and "@" in row.worker
    assert row.beat_at is not None
    assert "core.jobs.heartbeat" in output_of(worker.log)


def test_worker_runs_the_daily_digest_once_however_often_it_is_enqueued(worker):
    """The daily digest through a real worker: an item made ten days ago is due yesterday, so at the
    worker's (real) clock it is overdue; the alliance office gets one digest, by e-mail too (the
    console backend prints it into the worker's log); enqueued again, it sends nothing more."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from accounts.models import Role
    from tasks.jobs import daily_digest
    from tasks.models import Notification
    from tasks.services.ledgers import item_save, ledger_create
    from tests.factories import UserFactory, grant

    county, alliance = small_county()
    office = UserFactory(username="yn_gt1", email="gt1@example.org")
    grant(office, Role.ALLIANCE_ADMIN, alliance)
    bureau = UserFactory(username="yn_staff")
    grant(bureau, Role.BUREAU_STAFF, county)
    made = timezone.now() - timedelta(days=10)
    due = timezone.localdate() - timedelta(days=1)
    with time_machine.travel(made, tick=False):
        ledger = ledger_create(county=county, user=bureau, title="郁南县2026年重点任务", year=due.year)
        item_save(ledger=ledger, user=bureau, number="1", text="完善医共体章程", lead_units_text="各医共体",
                  deadline_text=due.isoformat(), now=made)

    daily_digest.delay()
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and not Notification.objects.filter(
            user=office, email_state=Notification.EmailState.SENT).exists():
        if worker.poll() is not None:
            cannot_run(f"the Celery worker exited with code {worker.returncode}:\n{output_of(worker.log)}")
        time.sleep(0.5)
    digest = Notification.objects.filter(user=office).first()
    assert digest is not None, f"no digest within {WAIT_SECONDS} s; worker output:\n{output_of(worker.log)}"
    assert digest.email_state == Notification.EmailState.SENT
    assert "完善医共体章程" in digest.items.get().text
    assert "gt1@example.org" in output_of(worker.log)

    daily_digest.delay()
    finished = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < finished and output_of(worker.log).count("tasks.jobs.daily_digest") < 4:
        time.sleep(0.5)  # received + succeeded, twice
    assert Notification.objects.filter(user=office).count() == 1
    assert output_of(worker.log).count("gt1@example.org") == output_of(worker.log).count("To: gt1@example.org") == 1


def test_beat_and_worker_make_and_send_the_reports_that_are_due(tmp_path):
    """End to end on the real clock: beat (embedded in the worker, the sweep every 2 s instead of 5
    minutes) finds the latest 进度监测表 that is due and missing, generates it and e-mails it (file
    backend); later sweeps send nothing twice.

    The worker reads the real clock, so the test states the scheduler's history instead of
    depending on the day: its first sweep was a minute before the moment of the latest monthly
    table due now — last month's (the 5th at 08:00), or before that moment the month before's —
    so on any day of any month the sweep itself must catch up and make that table, and nothing
    due before its first sweep (the table of the month before)."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Role
    from core.periods import Period, PeriodKind
    from reports import schedule
    from reports.models import Delivery, Report, SweepMark
    from tests.factories import UserFactory, grant

    county, _alliance = small_county()
    bureau = UserFactory(username="yn_admin", email="admin@yn.example.org")
    grant(bureau, Role.BUREAU_ADMIN, county)
    now = timezone.now()
    this_month = Period.containing_date(PeriodKind.MONTH, schedule.local_today(now))
    due_month = this_month.previous  # its table is due on the 5th of this month at 08:00
    if schedule.monthly_slot(due_month).due_at > now:  # the 1st to the 5th before 08:00
        due_month = due_month.previous
    due_at = schedule.monthly_slot(due_month).due_at
    assert due_at <= now and now - due_at < schedule.catch_up(), (now, due_month, schedule.catch_up())
    first_sweep = due_at - timedelta(minutes=1)
    SweepMark.objects.create(pk=1, first_at=first_sweep, last_at=first_sweep)
    mail_dir = tmp_path / "mail"
    proc = start_worker(tmp_path, beat=True, env_extra={
        "REPORTS_SWEEP_SECONDS": "2", "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir)})
    try:
        report = wait_for(proc, lambda: Report.objects.filter(
            kind="monthly", county=county, alliance=None, period=str(due_month), state=Report.State.SENT).first())
        assert report is not None, f"not sent within {WAIT_SECONDS} s; worker output:\n{output_of(proc.log)}"
        delivery = report.deliveries.get()
        assert delivery.email == "admin@yn.example.org" and delivery.state == Delivery.State.SENT
        assert report.versions.count() == 1
        time.sleep(5)  # two more sweeps
        assert "reports.jobs.sweep" in output_of(proc.log)
        # Before the scheduler's first sweep: not made, however recent.
        assert not Report.objects.filter(kind="monthly", period=str(due_month.previous)).exists()
    finally:
        stop_worker(proc)
    files = list(mail_dir.glob("*.log"))
    messages = [f.read_text(errors="replace") for f in files]
    to_admin = [m for m in messages if "To: admin@yn.example.org" in m]
    assert len(to_admin) == Delivery.objects.filter(email="admin@yn.example.org").count() >= 1
    assert report.versions.count() == 1 and report.deliveries.count() == 1
    assert any(".xlsx" in m for m in to_admin)
