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
    """The seed items linked to their indicators and judged, then the report schedule run over the past
    months and the alerts, as ``load_demo`` reports it (``core.demo``)."""
    from reports import alert_demo

    targets = load_demo_targets(now=now)
    stats = load_demo_reports(now=now)
    alerts = alert_demo.load_demo_alerts(now=now)
    summary = _("Demo scheduled reports: %(reports)d reports made and sent as the schedule would have.") % {
        "reports": stats["reports"]}
    return DemoReport(
        summary=f"{summary} {alerts}" if alerts else summary,
        details=[_("Indicator-backed task items: %(linked)d linked and judged (%(missing)d not linkable: their "
                   "indicators are not in the catalogue).") % {"linked": targets["linked"],
                                                                "missing": targets["not_in_catalogue"]}])


# Indicator-backed task items: the seed 000 items whose target texts name indicators of the catalogue,
# found by their words (not by their numbers), each linked to the indicator its words name.
DEMO_TARGETS = [
    # (words of the target text, the indicator they name, judged for: the county or each alliance)
    ("县域就诊率同比提升1个百分点或达到90%", "VISIT_RATE", "county"),  # 10.1
    ("下转增幅高于上转增幅", "REFERRAL_GROWTH_GAP", "alliance"),  # 10.3, each alliance (各医共体)
    ("基层就诊率同比提升2个百分点或达到65%", "A4_32", "county"),  # 11.1
    ("村卫生室规范化率达70%", "VILLAGE_CLINIC_STANDARD_RATE", "county"),  # 11.2
    ("重点人群家庭医生签约率巩固在70%以上", "A4_36", "county"),  # 12.2
]


def load_demo_targets(*, now: datetime) -> dict[str, int]:
    """Link the demo items whose target texts hold the words of ``DEMO_TARGETS`` to the indicator those
    words name (when the catalogue has it), as the bureau would confirm the proposal, and judge them once.
    Items already linked are left alone, so running it again changes nothing."""
    from reports.targets import judge_items, levels_of, proposals_for
    from tasks.models import TaskItem
    from tasks.services.targets import item_link_target

    stats = {"linked": 0, "not_in_catalogue": 0}
    query = Q()
    for words, _code, _level in DEMO_TARGETS:
        query |= Q(target_text__contains=words)
    items = list(TaskItem.objects.filter(query, is_active=True, ledger__is_active=True).select_related("ledger__county"))
    by_county: dict[int, list] = {}
    for item in items:
        by_county.setdefault(item.ledger.county_id, []).append(item)
    for county_id, county_items in by_county.items():
        signer = User.objects.filter(grants__region_id=county_id, grants__role="bureau_staff").order_by("pk").first()
        rows = proposals_for([i for i in county_items if not i.is_linked], county_id)
        for item in county_items:
            if item.is_linked:
                continue
            wanted = {code: level for words, code, level in DEMO_TARGETS if words in item.target_text}
            mine = [row for row in rows
                    if row.item.pk == item.pk and row.proposal.code in wanted and row.linkable and row.level]
            if not mine:
                stats["not_in_catalogue"] += 1
                continue
            proposal = mine[0].proposal
            level = wanted[proposal.code] if wanted[proposal.code] in levels_of(mine[0].indicator) else mine[0].level
            item_link_target(item=item, user=signer, indicator_code=proposal.code, level=level,
                             operator=proposal.operator, value=proposal.value, points=proposal.points,
                             auto_complete=True, now=now)
            stats["linked"] += 1
    linked = [i for i in TaskItem.objects.filter(pk__in=[i.pk for i in items]).select_related("ledger")]
    judge_items(linked, now=now)
    return stats
