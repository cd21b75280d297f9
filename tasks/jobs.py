"""Jobs of the task ledgers. Thin: they read the clock once and call a service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from tasks.services.digests import digest_send
from tasks.services.rollups import rollups_verify
from tasks.services.status import assignments_refresh_due
from tasks.status import local_date

logger = logging.getLogger(__name__)


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


@shared_task(name="tasks.jobs.verify_rollups")
def verify_rollups() -> dict:
    """Every night, after midnight (Asia/Shanghai): bring the cached statuses up to date, then
    recount the task roll-ups of every county as of the new day, log each difference from the
    stored rows (a write that bypassed the services) and rewrite them. Idempotent."""
    now = timezone.now()
    refreshed = assignments_refresh_due(now=now)
    result = rollups_verify(today=local_date(now))
    if result.repaired:
        logger.warning("task roll-ups repaired for %s counties: %s", len(result.repaired), result.repaired)
    return {"refreshed": refreshed, "counties": result.counties, "repaired": result.repaired}
