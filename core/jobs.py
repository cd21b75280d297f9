"""Jobs of the core app. Jobs are thin: they load rows and call a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core.models import Heartbeat

KEEP_HEARTBEATS = 60


@shared_task(name="core.jobs.heartbeat")
def heartbeat() -> int:
    """Record that a worker ran a job now; keep only the newest rows. Returns the row id."""
    from celery import current_task

    hostname = getattr(current_task.request, "hostname", None) or "worker"
    row = Heartbeat.objects.create(worker=hostname, beat_at=timezone.now())
    stale = Heartbeat.objects.order_by("-beat_at").values_list("pk", flat=True)[KEEP_HEARTBEATS:]
    Heartbeat.objects.filter(pk__in=list(stale)).delete()
    return row.pk


@shared_task(name="core.jobs.audit_purge")
def audit_purge() -> int:
    """Delete the part of the security log older than ``AUDIT_RETENTION_DAYS`` (never younger than
    180 days); the purge is itself recorded. Returns the number of rows deleted."""
    from core import audit

    return audit.purge()


@shared_task(name="core.jobs.nightly_backup")
def nightly_backup() -> str:
    """The nightly backup: one archive a day in ``BACKUP_DIR``, the newest ``BACKUP_KEEP`` kept, a
    ``backup.made`` event in the security log. A second run the same day does nothing. Returns the
    archive's name, or why nothing was made."""
    from core.backup import backup_nightly

    result = backup_nightly()
    return result.made.path.name if result.made is not None else result.skipped
