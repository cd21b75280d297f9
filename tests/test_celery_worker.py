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


@pytest.fixture
def worker(tmp_path):
    if (why := broker_reachable()) is not None:
        cannot_run(why)
    hostname = f"pytest-{uuid.uuid4().hex[:10]}@%h"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "PORTAL_VAR_DIR": str(settings.VAR_DIR),
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
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_worker_runs_the_heartbeat_job(worker):
    from config.celery import app  # the portal's app, so .delay() uses our broker
    from core.jobs import heartbeat

    assert app.conf.broker_url == (settings.REDIS_URL or "filesystem://")
    assert not Heartbeat.objects.exists()

    heartbeat.delay()

    deadline = time.monotonic() + WAIT_SECONDS
    row = None
    while time.monotonic() < deadline:
        row = Heartbeat.objects.filter(worker__startswith=worker.expected_hostname).first()
        if row is not None:
            break
        if worker.poll() is not None:
            cannot_run(f"the Celery worker exited with code {worker.returncode}:\n{output_of(worker.log)}")
        time.sleep(0.5)

    assert row is not None, f"no heartbeat within {WAIT_SECONDS} s; worker output:\n{output_of(worker.log)}"
    assert row.worker.startswith("pytest-") and "@" in row.worker
    assert row.beat_at is not None
    assert "core.jobs.heartbeat" in output_of(worker.log)
