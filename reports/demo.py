"""Demo history of the scheduled reports: the sweep is run at the moments it would have run over the
last months, so the archive holds 进度监测表 sent on the 5th, late lists, this month's reminders, the
quarterly table of the quarter before last signed off and sent, and the last quarter's awaiting the
bureau's sign-off. Demo users get e-mail addresses (the embedded default writes mail to var/mail).
Running it again changes nothing: every report is a unique row."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import User
from alliances.models import Region
from core.demo import DemoReport
from core.periods import Period, PeriodKind
from reports import schedule, services
from reports.models import Kind, RecipientList, Report

DEMO_DOMAIN = "demo.example.cn"
# 云浮市卫生健康局 receives 郁南县's quarterly table besides the city's users.
CITY_ADDRESSES = {"445322": ["yfswjj@yunfu.example.cn"], "511781": ["dzswjw@dazhou.example.cn"]}


def load_demo_reports(*, now: datetime) -> dict[str, int]:
    stats = {"emails": 0, "reports": 0}
    for user in User.objects.filter(email="").filter(Q(grants__isnull=False)).distinct():
        user.email = f"{user.username}@{DEMO_DOMAIN}"
        user.save(update_fields=["email"])
        stats["emails"] += 1
    counties = {c.code: c for c in Region.objects.filter(code__in=CITY_ADDRESSES)}
    for code, addresses in CITY_ADDRESSES.items():
        county = counties.get(code)
        if county is None:
            continue
        RecipientList.objects.get_or_create(county=county, alliance=None, kind=Kind.QUARTERLY,
                                            scope_key=f"county:{county.pk}",
                                            defaults={"roles": ["city", "bureau_admin"], "emails": "\n".join(addresses)})
    before = Report.objects.count()
    today = schedule.local_today(now)
    quarter = Period.containing_date(PeriodKind.QUARTER, today)
    signed_quarter, draft_quarter = quarter.shift(-2), quarter.shift(-1)
    moments = {schedule.quarterly_slot(signed_quarter).due_at, schedule.quarterly_slot(draft_quarter).due_at}
    month = Period.containing_date(PeriodKind.MONTH, today)
    for step in range(1, 7):  # every 5th and 6th since the signed quarter's draft
        moments.add(schedule.monthly_slot(month.shift(-step)).due_at)
        moments.add(schedule.late_slot(month.shift(-step), schedule.DEFAULT_DUE_DAY).due_at)
    moments.add(schedule.signoff_alert_at(draft_quarter))
    half = Period.containing_date(PeriodKind.HALF_YEAR, today).previous
    moments.add(schedule.finance_half_slot(half).due_at)
    for day in (1, 3):
        moments.add(schedule.reminder_slot(month.previous, day).due_at)
    signed_at = schedule.quarterly_slot(signed_quarter).due_at + timedelta(days=1, hours=2)
    moments.add(signed_at)
    first = schedule.quarterly_slot(signed_quarter).due_at
    for moment in sorted(m for m in moments if first <= m <= now):
        if moment == signed_at:
            _sign_off(signed_quarter, signed_at)
        services.sweep(moment)
    stats["reports"] = Report.objects.count() - before
    return stats


def _sign_off(period: Period, moment: datetime) -> None:
    for report in Report.objects.filter(kind=Kind.QUARTERLY, period=str(period), state=Report.State.READY):
        signer = User.objects.filter(grants__region=report.county, grants__role="bureau_admin").first()
        if signer is not None:
            services.sign_off(report, user=signer, now=moment,
                              commentary="经县卫生健康局审核，同意上报。请各医共体对照未达标指标抓好整改。")


def load_demo_part(*, now: datetime, today) -> DemoReport:
    """The report schedule run over the past months, as ``load_demo`` reports it (``core.demo``)."""
    from reports import alert_demo

    stats = load_demo_reports(now=now)
    alerts = alert_demo.load_demo_alerts(now=now)
    summary = _("Demo scheduled reports: %(reports)d reports made and sent as the schedule would have.") % {
        "reports": stats["reports"]}
    return DemoReport(summary=f"{summary} {alerts}" if alerts else summary)
