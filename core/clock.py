"""The time of the portal's business rules: the day in Asia/Shanghai and the moment of a request, read
once. Every app reads "today" through these, so a page, a job and an export agree on which day it is
(dates written the Chinese way: ``core.workbook.date_zh``)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar day of ``moment`` in Asia/Shanghai (whatever the server's time zone)."""
    return moment.astimezone(BUSINESS_TZ).date()


def request_now(request) -> datetime:
    """The moment of this request, read once: every rule of the page sees the same ``now``."""
    if not hasattr(request, "_portal_now"):
        request._portal_now = timezone.now()
    return request._portal_now
