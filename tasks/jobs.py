"""Jobs of the task ledgers. Thin: they read the clock once and call a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from tasks.services.digests import digest_send
from tasks.services.status import assignments_refresh_due


@shared_task(name="tasks.jobs.daily_digest")
def daily_digest() -> dict:
    """Every morning (Asia/Shanghai): find the assignments that became due soon, overdue or behind
    since the last run (their stored next change has passed), record each change once, and send
    each affected person one digest. Running it twice sends nothing twice."""
    now = timezone.now()
    refreshed = assignments_refresh_due(now=now)
    stats = digest_send(now=now)
    return {"refreshed": refreshed, "events": stats.events, "notifications": stats.notifications,
            "emailed": stats.emailed, "failed": stats.failed}
