"""Jobs of unified staffing. Thin: they read the clock once and call a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from staffing.reminders import send_contract_reminders
from staffing.snapshot import snapshot_due


@shared_task(name="staffing.jobs.snapshot")
def snapshot() -> dict:
    """Every night: last month's staffing figures from the roster into the 人员配置月报 of every county,
    until the month's filings are due (a correction of the roster made in the first days still reaches
    them; after the due day they stay as filed). Running it twice writes nothing twice."""
    return snapshot_due(timezone.now())


@shared_task(name="staffing.jobs.contract_reminders")
def contract_reminders() -> dict:
    """Every morning: remind the HR officers of contracts ending in 60 and in 30 days (each once)."""
    return send_contract_reminders(timezone.now())
