"""Jobs of the filing pipeline. Thin: they read the clock once and call a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from indicators.services.filings import lock_due


@shared_task(name="indicators.jobs.lock_filings")
def lock_filings() -> dict:
    """Every night (Asia/Shanghai): approved filings whose lock day has passed become locked.
    Idempotent: a second run finds nothing left to lock."""
    return {"locked": lock_due(timezone.localdate())}
