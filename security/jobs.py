"""Jobs of the security side. Jobs are thin: they call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="security.jobs.deactivate_dormant")
def deactivate_dormant() -> dict:
    """Nightly: deactivate accounts without a sign-in for ``ACCOUNT_DORMANT_DAYS`` days. Returns the
    user names deactivated and those skipped (a county's last account able to run its accounts)."""
    from security.dormant import dormant_deactivate

    result = dormant_deactivate()
    return {"deactivated": result.deactivated, "skipped": result.skipped}
