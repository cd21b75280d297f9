"""Pages and API of the alerts (预警): the county bureau's rules (list, add, edit, disable), the alerts
a user may see (open / acknowledged / all, by rule, alliance and period, with the unread ones marked),
an alert's page with its deliveries and the acknowledgement, and ``/api/alerts/``.

Scoping: the rule pages are the county's (404 for a foreign or missing county, 403 for a reader who
is not the bureau); alerts come from ``reports.alerts.alerts_for`` (the scoping of ``Alert`` and the
alerts delivered to the user), so a foreign alert answers the same 404 as a missing one.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from alliances import scoping
from alliances.models import Alliance
from core import audit
from core.clock import request_now
from core.periods import Period
from indicators.models import Indicator
from reports import alerts
from reports.models import Alert, AlertDelivery, AlertRule, Webhook
from reports.recipients import ROLE_CHOICES
from tasks.views.common import county_for

PAGE_SIZE = 30
Kind, Level = AlertRule.Kind, AlertRule.Level
STATES = ("open", "acknowledged", "resolved", "all")
AUDITED_FIELDS = ("name", "kind", "indicator_id", "level", "operator", "value", "count", "roles", "is_active")


# Rules --------------------------------------------------------------------------------------------

class RuleForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(label=gettext_lazy("Who is told"), choices=ROLE_CHOICES, required=False,
                                      widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = AlertRule
        fields = ["name", "kind", "indicator", "level", "operator", "value", "count", "roles", "webhooks", "is_active"]
        widgets = {"webhooks": forms.CheckboxSelectMultiple}
        help_texts = {
            "value": gettext_lazy("Below/above: the limit; quarter: the target (empty: the indicator's own); "
                                  "医保 and budget: the points off the elapsed share of the year (empty: the "
                                  "county's run-rate warning)."),
            "count": gettext_lazy("Falling: periods in a row; red tasks: at least this many."),
        }

    def __init__(self, *args, county, **kwargs):
        super().__init__(*args, **kwargs)
        self.county = county
        self.fields["indicator"].queryset = Indicator.objects.filter(
            Q(county__isnull=True) | Q(county=county), is_active=True).order_by("order", "code")
        self.fields["webhooks"].queryset = Webhook.objects.filter(county=county).order_by("alliance_id", "pk")
        self.fields["webhooks"].required = False

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = AlertRule.objects.filter(county=self.county, name=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("Name: a rule named “%(name)s” exists already.") % {"name": name})
        return name

    def clean(self):
        data = super().clean()
        kind, indicator, level = data.get("kind"), data.get("indicator"), data.get("level")
        if kind in alerts.INDICATOR_KINDS:
            if indicator is None:
                self.add_error("indicator", _("Indicator: choose the indicator this rule watches."))
            elif level and not indicator.applies_at(level):
                self.add_error("level", _("Level: %(indicator)s has no value at this level.") % {
                    "indicator": indicator.name})
        if kind == Kind.THRESHOLD:
            if not data.get("operator"):
                self.add_error("operator", _("Operator: say whether the alert is for below or above the value."))
            if data.get("value") is None:
                self.add_error("value", _("Value: give the limit."))
        if kind in (Kind.FALLING, Kind.RED_TASKS) and not data.get("count"):
            self.add_error("count", _("N: give a whole number of at least 1."))
        if kind == Kind.FALLING and (data.get("count") or 0) > 12:
            self.add_error("count", _("N: at most 12 periods."))
        if kind == Kind.QUARTER and indicator is not None and data.get("value") is None and (
                not indicator.has_threshold or indicator.target_value is None):
            self.add_error("value", _("Value: %(indicator)s has no threshold of its own; give the target.") % {
                "indicator": indicator.name})
        if kind == Kind.INSURANCE and level not in (Level.COUNTY, Level.ALLIANCE):
            self.add_error("level", _("Level: the medical-insurance pace is judged for the county or each alliance."))
        if kind == Kind.BUDGET and level not in (Level.ALLIANCE, Level.INSTITUTION):
            self.add_error("level", _("Level: budgets are judged for each alliance or each member institution."))
        if kind == Kind.RED_TASKS:
            data["level"] = Level.ALLIANCE
        if kind not in alerts.INDICATOR_KINDS:
            data["indicator"] = None
        if data.get("value") is not None and kind in (Kind.INSURANCE, Kind.BUDGET) and data["value"] < 0:
            self.add_error("value", _("Value: points cannot be negative."))
        return data


def _snapshot(rule: AlertRule) -> dict:
    return {name: (str(getattr(rule, name)) if getattr(rule, name) is not None else None) for name in AUDITED_FIELDS}


@login_required
def rule_list(request, region_pk):
    """The county's alert rules, for its bureau."""
    county = county_for(request.user, region_pk, edit=True)
    rules = AlertRule.objects.filter(county=county).select_related("indicator").order_by("-is_active", "name", "pk")
    return render(request, "reports/alerts/rules.html", {"county": county, "rules": rules})


@login_required
def rule_edit(request, region_pk, alert_rule_pk=None):
    county = county_for(request.user, region_pk, edit=True)
    rule = None
    if alert_rule_pk is not None:
        rule = scoping.get_for_user(request.user, AlertRule, alert_rule_pk,
                                    queryset=AlertRule.objects.filter(county=county))
    now = request_now(request)
    before = _snapshot(rule) if rule else None  # before the form writes into the instance
    form = RuleForm(request.POST or None, instance=rule, county=county,
                    initial=None if rule else {"roles": ["bureau_admin", "bureau_staff"], "is_active": True})
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        saved.county, saved.updated_at, saved.updated_by = county, now, request.user
        if rule is None:
            saved.created_at, saved.created_by = now, request.user
        with transaction.atomic():
            saved.save()
            form.save_m2m()
            after = _snapshot(saved)
            if before is None:
                audit.record(audit.Event.ALERT_RULE_ADD, request=request, target=saved, county_id=county.pk, now=now,
                             details=after)
            elif before != after:
                audit.record(audit.Event.ALERT_RULE_CHANGE, request=request, target=saved, county_id=county.pk,
                             now=now, details={k: [before[k], after[k]] for k in after if before[k] != after[k]})
        messages.success(request, _("Alert rule saved."))
        return redirect("reports:alert_rules", region_pk=county.pk)
    return render(request, "reports/alerts/rule_form.html", {"county": county, "form": form, "rule": rule})


@login_required
@require_POST
def rule_disable(request, region_pk, alert_rule_pk):
    """Disable an active rule (or enable a disabled one again); its alerts stay recorded."""
    county = county_for(request.user, region_pk, edit=True)
    rule = scoping.get_for_user(request.user, AlertRule, alert_rule_pk, queryset=AlertRule.objects.filter(county=county))
    now = request_now(request)
    enable = request.POST.get("enable") == "1"
    with transaction.atomic():
        moved = AlertRule.objects.filter(pk=rule.pk, is_active=not enable).update(
            is_active=enable, updated_at=now, updated_by=request.user)
        if moved:
            event = audit.Event.ALERT_RULE_CHANGE if enable else audit.Event.ALERT_RULE_DISABLE
            audit.record(event, request=request, target=rule, county_id=county.pk, now=now,
                         details={"is_active": [str(not enable), str(enable)]})
    messages.success(request, _("Alert rule enabled.") if enable else _("Alert rule disabled."))
    return redirect("reports:alert_rules", region_pk=county.pk)


# Alerts -------------------------------------------------------------------------------------------

def _filtered(request, qs: QuerySet[Alert]) -> tuple[QuerySet[Alert], dict]:
    state = request.GET.get("state") or "open"
    if state not in STATES:
        state = "open"
    if state != "all":
        qs = qs.filter(state=state)
    chosen = {"state": state, "rule": "", "alliance": "", "period": ""}
    for name in ("rule", "alliance"):
        raw = (request.GET.get(name) or "").strip()
        if raw.isdigit():
            qs = qs.filter(**{f"{name}_id": int(raw)})
            chosen[name] = int(raw)
    period = (request.GET.get("period") or "").strip()
    if period:
        qs = qs.filter(period__startswith=period[:7])
        chosen["period"] = period[:7]
    return qs, chosen


@login_required
def alert_list(request):
    """The alerts the user may see, open ones first by default; those sent to the user and not yet
    read are marked. The same few queries at any size."""
    visible = alerts.alerts_for(request.user)
    qs, chosen = _filtered(request, visible)
    page = Paginator(qs.select_related("rule", "alliance", "county").order_by("-raised_at", "-pk"),
                     PAGE_SIZE).get_page(request.GET.get("page"))
    unread = set(AlertDelivery.objects.filter(user=request.user, read_at__isnull=True,
                                              alert_id__in=[a.pk for a in page.object_list])
                 .values_list("alert_id", flat=True))
    rule_ids = visible.values("rule_id")
    rules = AlertRule.objects.filter(pk__in=rule_ids).order_by("name")
    alliances = Alliance.objects.filter(pk__in=visible.values("alliance_id")).order_by("county_id", "pk")
    editable = scoping.scope_of(request.user).change_counties
    return render(request, "reports/alerts/list.html", {
        "page": page, "alerts": page.object_list, "unread": unread, "chosen": chosen, "rules": rules,
        "alliances": alliances, "states": [(s, _state_label(s)) for s in STATES],
        "rule_counties": sorted(editable)[:1]})


def _state_label(state: str) -> str:
    return str(Alert.State(state).label) if state != "all" else _("All")


def _alert_for(user, alert_pk) -> Alert:
    try:
        pk = int(alert_pk)
    except (TypeError, ValueError):
        raise Http404(_("Not found.")) from None
    alert = alerts.alerts_for(user).filter(pk=pk).select_related("rule", "rule__indicator", "county", "alliance",
                                                                 "acknowledged_by").first()
    if alert is None:
        raise Http404(_("Not found."))
    return alert


class AcknowledgeForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Note"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                           error_messages={"required": gettext_lazy("Note: say what is being done about it."),
                                           "max_length": gettext_lazy("Note: at most 500 characters.")})


@login_required
def alert_detail(request, alert_pk):
    alert = _alert_for(request.user, alert_pk)
    AlertDelivery.objects.filter(alert=alert, user=request.user, read_at__isnull=True).update(
        read_at=request_now(request))
    deliveries = alert.deliveries.select_related("user").order_by("pk")
    return render(request, "reports/alerts/detail.html", {
        "alert": alert, "deliveries": deliveries, "form": AcknowledgeForm(),
        "can_acknowledge": alert.state != Alert.State.ACKNOWLEDGED and alerts.may_acknowledge(request.user, alert),
        "period_label": Period.parse(alert.period).label})


@login_required
@require_POST
def acknowledge(request, alert_pk):
    alert = _alert_for(request.user, alert_pk)
    if not alerts.may_acknowledge(request.user, alert):
        raise PermissionDenied(_("Only the county health bureau or a recipient of the alert acknowledges it."))
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        deliveries = alert.deliveries.select_related("user").order_by("pk")
        return render(request, "reports/alerts/detail.html", {
            "alert": alert, "deliveries": deliveries, "form": form, "can_acknowledge": True,
            "period_label": Period.parse(alert.period).label}, status=400)
    if alerts.acknowledge(alert, user=request.user, note=form.cleaned_data["note"].strip(), now=request_now(request),
                          request=request):
        messages.success(request, _("Alert acknowledged."))
    else:
        messages.info(request, _("This alert was acknowledged already."))
    return redirect("reports:alert_detail", alert_pk=alert.pk)


@login_required
def unread(request):
    """The navigation's badge: the alerts sent to the user and not yet opened."""
    count = AlertDelivery.objects.filter(user=request.user, read_at__isnull=True).count()
    return render(request, "reports/alerts/_unread.html", {"count": count})


# API ----------------------------------------------------------------------------------------------

class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    kind = serializers.CharField(source="rule.kind", read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "rule", "rule_name", "kind", "county", "alliance", "level", "unit_id", "unit_name", "period",
                  "value", "reference", "text", "state", "raised_at", "resolved_at", "acknowledged_at",
                  "acknowledged_by", "note"]
        read_only_fields = fields


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500)


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("state", str, enum=list(STATES), description="open, acknowledged, resolved or all (default)"),
    OpenApiParameter("rule", int, description="An alert rule's id"),
    OpenApiParameter("alliance", int, description="An alliance's id"),
    OpenApiParameter("period", str, description="A period (2026-11, 2026Q4) or its start (2026)"),
]))
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts the user may see (as the alerts page): ``?state=open|acknowledged|resolved|all`` (default
    all), ``rule``, ``alliance``, ``period``. A foreign alert answers 404 like a missing one."""

    scoped_model = Alert
    permission_classes = [IsAuthenticated]
    serializer_class = AlertSerializer

    def get_queryset(self) -> QuerySet[Alert]:
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        qs = alerts.alerts_for(self.request.user).select_related("rule").order_by("-raised_at", "-pk")
        if self.action == "list":
            params = self.request.query_params
            state = params.get("state") or "all"
            if state in STATES and state != "all":
                qs = qs.filter(state=state)
            for name in ("rule", "alliance"):
                raw = (params.get(name) or "").strip()
                if raw.isdigit():
                    qs = qs.filter(**{f"{name}_id": int(raw)})
            if params.get("period"):
                qs = qs.filter(period__startswith=params["period"].strip()[:7])
        return qs

    @extend_schema(summary="Acknowledge an alert", request=AcknowledgeSerializer, responses={200: AlertSerializer},
                   description="The county bureau or a recipient closes the alert with a note (audited); it stays "
                               "closed whatever later evaluations find. Acknowledging twice changes nothing.")
    @action(detail=True, methods=["post"], serializer_class=AcknowledgeSerializer)
    def acknowledge(self, request, pk=None, **kwargs):
        alert = self.get_object()
        if not alerts.may_acknowledge(request.user, alert):
            raise ApiPermissionDenied(_("Only the county health bureau or a recipient of the alert acknowledges it."))
        params = AcknowledgeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        alerts.acknowledge(alert, user=request.user, note=params.validated_data["note"].strip(),
                           now=request_now(request), request=request)
        alert.refresh_from_db()
        return Response(AlertSerializer(alert).data)


def register_routes(router) -> None:
    router.register("alerts", AlertViewSet, basename="alert")
