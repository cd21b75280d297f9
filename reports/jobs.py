"""Jobs of the scheduled reports. Thin: they read the clock once and call a service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from reports import services, targets

logger = logging.getLogger(__name__)


@shared_task(name="reports.jobs.sweep")
def sweep() -> dict:
    """Every five minutes: make the reports that are due, generate, send, retry, recover what a
    dead worker left. Running it twice, or two at once, sends nothing twice."""
    return services.sweep(timezone.now()).as_dict()


@shared_task(name="reports.jobs.process")
def process(report_id: int) -> dict:
    """One report's steps now (after a regenerate, a sign-off or a resend) instead of at the
    next sweep."""
    return services.process(report_id, timezone.now()).as_dict()


def enqueue(report_id: int) -> None:
    """Ask a worker to process the report now (after a sign-off, regenerate or resend, from a page
    or the API); if the broker is away the next sweep does it."""
    try:
        process.delay(report_id)
    except Exception:  # the broker is down: the sweep picks the report up
        logger.warning("could not enqueue report %s; the sweep will process it", report_id, exc_info=True)


@shared_task(name="reports.jobs.judge_targets")
def judge_targets() -> dict:
    """Nightly: judge every indicator-backed task item of every county at the last complete period
    (a new month or quarter begins at midnight; a missed review signal is caught up). Idempotent."""
    return targets.judge_counties(now=timezone.now()).as_dict()
@shared_task(name="reports.jobs.evaluate_alerts")
def evaluate_alerts(alert_ids: list[int] | None = None) -> dict:
    """Alerts (预警). Nightly, without ids: every county's rules judged, new alerts raised and sent.
    With ids (after a filing's review raised them): those alerts' deliveries sent now."""
    from reports import alerts

    if alert_ids:
        return {"sent": alerts.deliver_due(timezone.now(), alert_ids=list(alert_ids))}
    return alerts.evaluate_all(timezone.now())
