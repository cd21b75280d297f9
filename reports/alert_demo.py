"""Demo alert rules of 郁南县 (预警), judged over the last three months so the portal shows open alerts:
县域就诊率 below 90% and 基层就诊率 below 65% (the seeds' targets), 基层就诊率 falling two months in a row
(each alliance), an alliance with at least 3 red tasks, and the 医保 fund's spending pace ahead of the
budget share. Running it again adds nothing: the rules are found by name, and each alert is unique per
rule, unit and period."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from alliances.models import Region
from indicators.models import Indicator
from reports import alerts
from reports.models import Alert, AlertRule

DEMO_COUNTY = "445322"


def _rules(county: Region, now: datetime) -> list[AlertRule]:
    indicators = {i.code: i for i in Indicator.objects.filter(county__isnull=True, code__in=("VISIT_RATE", "A4_32"))}
    wanted = [
        dict(name="县域就诊率低于90%", kind=AlertRule.Kind.THRESHOLD, indicator=indicators.get("VISIT_RATE"),
             level=AlertRule.Level.COUNTY, operator=AlertRule.Operator.BELOW, value=Decimal(90),
             roles=["bureau_admin", "bureau_staff", "supervisor"]),
        dict(name="基层就诊率低于65%", kind=AlertRule.Kind.THRESHOLD, indicator=indicators.get("A4_32"),
             level=AlertRule.Level.ALLIANCE, operator=AlertRule.Operator.BELOW, value=Decimal(65),
             roles=["bureau_admin", "alliance_admin"]),
        dict(name="基层就诊率连续2个月下降", kind=AlertRule.Kind.FALLING, indicator=indicators.get("A4_32"),
             level=AlertRule.Level.ALLIANCE, count=2, roles=["bureau_admin", "alliance_admin"]),
        dict(name="医共体红灯任务≥3项", kind=AlertRule.Kind.RED_TASKS, level=AlertRule.Level.ALLIANCE, count=3,
             roles=["supervisor", "bureau_admin", "alliance_admin"]),
        dict(name="医保基金支出进度超前", kind=AlertRule.Kind.INSURANCE, level=AlertRule.Level.ALLIANCE,
             value=Decimal(5), roles=["bureau_admin", "alliance_admin"]),
    ]
    made = []
    for fields in wanted:
        if fields["kind"] in alerts.INDICATOR_KINDS and fields["indicator"] is None:
            continue
        rule, _created = AlertRule.objects.get_or_create(
            county=county, name=fields.pop("name"), defaults={**fields, "created_at": now, "updated_at": now})
        made.append(rule)
    return made


def load_demo_alerts(*, now: datetime) -> str:
    """The rules of 郁南县 judged as the nightly runs would have; what was made, in one line (called by
    ``reports.demo.load_demo_part``)."""
    county = Region.objects.filter(code=DEMO_COUNTY, level=Region.Level.COUNTY).first()
    if county is None:
        return ""
    rules = _rules(county, now)
    last = alerts.default_period(now)
    for back in (2, 1, 0):  # the last three months, as the nightly runs would have judged them
        alerts.evaluate_county(county, now, period=last.shift(-back), send=True)
    count = Alert.objects.filter(county=county, state=Alert.State.OPEN).count()
    return _("Demo alerts: %(rules)d rules of 郁南县, %(alerts)d open alerts.") % {"rules": len(rules), "alerts": count}
