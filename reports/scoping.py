"""Who sees the scheduled reports (registered with ``alliances.scoping``):

- a county, city or province grant sees every report of its counties; the county bureau
  (``CHANGE``) signs off, regenerates, resends and sets the recipients;
- an alliance grant sees its alliance's reports;
- anyone sees the reports delivered to them (their inbox), through ``Delivery``.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from alliances import scoping
from alliances.scoping import CHANGE, Scope
from reports.models import Alert, AlertRule, Delivery, RecipientList, Report, ReportSettings, ReportVersion


@scoping.register(Report)
def _reports(scope: Scope, action) -> QuerySet[Report]:
    if scope.everything:
        return Report.objects.all()
    if action == CHANGE:
        return Report.objects.filter(county_id__in=scope.change_counties)
    return Report.objects.filter(Q(county_id__in=scope.view_counties) | Q(alliance_id__in=scope.view_alliances))


@scoping.register(ReportSettings)
def _settings(scope: Scope, action) -> QuerySet[ReportSettings]:
    if scope.everything:
        return ReportSettings.objects.all()
    counties = scope.change_counties if action == CHANGE else scope.view_counties
    return ReportSettings.objects.filter(county_id__in=counties)


@scoping.register(RecipientList)
def _recipient_lists(scope: Scope, action) -> QuerySet[RecipientList]:
    if scope.everything:
        return RecipientList.objects.all()
    counties = scope.change_counties if action == CHANGE else scope.view_counties
    return RecipientList.objects.filter(county_id__in=counties)


@scoping.register(Delivery)
def _deliveries(scope: Scope, action) -> QuerySet[Delivery]:
    """Deliveries of the reports the scope sees (the delivery log). A user's own deliveries are
    read by ``user=request.user`` in the inbox."""
    return Delivery.objects.filter(report__in=_reports(scope, action))


def openable_versions(user) -> QuerySet[ReportVersion]:
    """The versions ``user`` may open (print, download): those of the reports they see, and those of
    the reports delivered to them (their inbox). The archive page and the API use this alone."""
    delivered = Delivery.objects.filter(report_id=OuterRef("report_id"), user=user)
    visible = scoping.queryset_for(user, Report).values("pk")
    return ReportVersion.objects.filter(Q(report_id__in=visible) | Exists(delivered))


@scoping.register(AlertRule)
def _alert_rules(scope: Scope, action) -> QuerySet[AlertRule]:
    """Alert rules are the county bureau's: seen by the county's readers, changed by its bureau."""
    if scope.everything:
        return AlertRule.objects.all()
    counties = scope.change_counties if action == CHANGE else scope.view_counties
    return AlertRule.objects.filter(county_id__in=counties)


@scoping.register(Alert)
def _alerts(scope: Scope, action) -> QuerySet[Alert]:
    """Alerts of the counties (and, for an alliance grant, of the alliance) the scope sees; the county
    bureau acknowledges any. A recipient's own alerts are added by ``reports.alerts.alerts_for``."""
    if scope.everything:
        return Alert.objects.all()
    if action == CHANGE:
        return Alert.objects.filter(county_id__in=scope.change_counties)
    return Alert.objects.filter(Q(county_id__in=scope.view_counties) | Q(alliance_id__in=scope.view_alliances))
