"""Threshold alerts (预警, 国卫办规划函〔2025〕63号 综合决策管理): a county's rules are evaluated after a
filing is reviewed (``on_filing_reviewed``) and nightly (``evaluate_all``), and each alert is raised
once per (rule, unit, period) and delivered to the rule's recipients: the alerts inbox, e-mail and
the chosen group robots.

Detect, then act (DESIGN.md "data-driven idempotent jobs"):

1. ``evaluate_county`` judges every active rule of one county in a constant number of queries
   whatever the number of units (one indicator engine for all indicator rules; the finance and task
   figures read set-based), and inserts the alerts whose (rule, unit, period) is new —
   ``bulk_create(ignore_conflicts=True)`` on the unique constraint, so a re-evaluation, or two at
   once, raises nothing twice. Open alerts whose condition stopped holding become resolved; an
   acknowledged alert is never touched again.
2. The alerts this run inserted (their ``batch``) get one ``AlertDelivery`` per recipient, unique by
   (alert, recipient).
3. ``deliver_due`` sends queued deliveries, each claimed by a conditional update first, retried with
   the report pipeline's backoff (``reports.services``), so an alert reaches each recipient once.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Grant, Role
from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution, Region
from core import audit
from core.clock import local_date
from core.periods import Period, PeriodKind
from finance import budgets as finance_budgets
from finance import insurance
from finance.models import Budget, SettlementRule
from indicators.engine import Engine, parsed
from indicators.models import FormElement, Indicator
from reports import recipients as recipient_roles
from reports import services, webhooks
from reports.models import Alert, AlertDelivery, AlertRule, Webhook
from tasks.models import Assignment
from tasks.status import Light

logger = logging.getLogger(__name__)

Kind, Level, Operator = AlertRule.Kind, AlertRule.Level, AlertRule.Operator
DState = AlertDelivery.State
INDICATOR_KINDS = (Kind.THRESHOLD, Kind.FALLING, Kind.QUARTER)
HUNDRED = Decimal(100)
NEWEST = 5


@dataclass
class Finding:
    """A rule's condition holding for one unit in one period."""

    rule: AlertRule
    level: str
    unit_id: int
    unit_name: str
    period: Period
    text: str
    alliance_id: int | None = None
    value: Decimal | None = None
    reference: Decimal | None = None


@dataclass
class EvaluationStats:
    rules: int = 0
    findings: int = 0
    raised: int = 0
    resolved: int = 0
    queued: int = 0
    errors: list[str] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "alert_ids"}


def _number(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


def default_period(now: datetime) -> Period:
    """The month the nightly evaluation judges: the last complete month (its filings are due by the
    5th of this one)."""
    return Period.containing_date(PeriodKind.MONTH, local_date(now)).previous


# Units and their names ------------------------------------------------------------------------

class _Names:
    """Names and alliances of the county's units, read once per evaluation (two queries)."""

    def __init__(self, county: Region, day: date) -> None:
        self.county = county
        self.alliances = dict(Alliance.objects.filter(county=county).values_list("pk", "name"))
        self.institutions: dict[int, str] = {}
        self.alliance_of: dict[int, int] = {}
        for pk, name, alliance_id in (Institution.objects.filter(county=county)
                                      .annotate(alliance_now=_alliance_on(day))
                                      .values_list("pk", "name", "alliance_now")):
            self.institutions[pk] = name
            if alliance_id:
                self.alliance_of[pk] = alliance_id

    def name(self, level: str, unit_id: int) -> str:
        if level == Level.COUNTY:
            return self.county.name
        if level == Level.ALLIANCE:
            return self.alliances.get(unit_id, str(unit_id))
        return self.institutions.get(unit_id, str(unit_id))

    def alliance(self, level: str, unit_id: int) -> int | None:
        if level == Level.ALLIANCE:
            return unit_id
        if level == Level.INSTITUTION:
            return self.alliance_of.get(unit_id)
        return None


def _alliance_on(day: date):
    from django.db.models import Subquery

    return Subquery(AllianceMembership.objects.on(day).filter(institution_id=OuterRef("pk"))
                    .order_by("pk").values("alliance_id")[:1])


# Judging the rules ----------------------------------------------------------------------------

def _indicator_findings(rules: list[AlertRule], county: Region, period: Period, names: _Names) -> list[Finding]:
    """Threshold, falling and quarter-to-date rules: one engine for every indicator, one grouped read
    per period needed (the month, the months before it for falling rules, the quarter)."""
    if not rules:
        return []
    indicators = {rule.indicator_id: rule.indicator for rule in rules}
    engine = Engine(indicators.values(), [county.pk])
    computed: dict[tuple[Period, str], dict] = {}

    def results(at: Period, level: str) -> dict:
        key = (at, level)
        if key not in computed:
            computed[key] = engine.compute(at, level)
        return computed[key]

    findings = []
    for rule in rules:
        indicator, level = rule.indicator, rule.level
        if not indicator.applies_at(level):
            continue
        unit_label = indicator.unit_label or ""
        if rule.kind == Kind.THRESHOLD:
            for (indicator_id, unit_id), result in results(period, level).items():
                if indicator_id != indicator.pk or result.value is None or rule.value is None:
                    continue
                below = rule.operator != Operator.ABOVE
                if (result.value < rule.value) if below else (result.value > rule.value):
                    findings.append(Finding(
                        rule, level, unit_id, names.name(level, unit_id), period,
                        _("%(unit)s: %(indicator)s %(value)s%(label)s in %(period)s, %(op)s %(limit)s%(label)s") % {
                            "unit": names.name(level, unit_id), "indicator": indicator.name,
                            "value": _number(result.value), "label": unit_label, "period": period.label,
                            "op": _("below") if below else _("above"), "limit": _number(rule.value)},
                        names.alliance(level, unit_id), result.value, rule.value))
        elif rule.kind == Kind.FALLING:
            steps = max(rule.count or 1, 1)
            series = [results(period.shift(-back), level) for back in range(steps + 1)]
            for indicator_id, unit_id in series[0]:
                if indicator_id != indicator.pk:
                    continue
                values = [found.get((indicator_id, unit_id)) for found in series]
                values = [r.value if r is not None else None for r in values]
                if None in values or not all(values[i] < values[i + 1] for i in range(steps)):
                    continue
                trail = " → ".join(_number(v) for v in reversed(values))
                findings.append(Finding(
                    rule, level, unit_id, names.name(level, unit_id), period,
                    _("%(unit)s: %(indicator)s fell %(n)s periods in a row to %(period)s (%(trail)s)") % {
                        "unit": names.name(level, unit_id), "indicator": indicator.name, "n": steps,
                        "period": period.label, "trail": trail},
                    names.alliance(level, unit_id), values[0], values[-1]))
        elif rule.kind == Kind.QUARTER:
            if period.kind not in (PeriodKind.MONTH, PeriodKind.QUARTER):
                continue  # a half-year's or year's figures say nothing of one quarter
            quarter = period if period.kind == PeriodKind.QUARTER else period.containing(PeriodKind.QUARTER)
            target = rule.value if rule.value is not None else indicator.target_value
            if target is None:
                continue
            at_most = rule.value is None and indicator.target_operator == Indicator.Operator.LE
            for (indicator_id, unit_id), result in results(quarter, level).items():
                if indicator_id != indicator.pk or result.value is None:
                    continue
                missed = result.value > target if at_most else result.value < target
                if missed:
                    findings.append(Finding(
                        rule, level, unit_id, names.name(level, unit_id), quarter,
                        _("%(unit)s: %(indicator)s %(value)s%(label)s for %(quarter)s so far misses its target "
                          "%(op)s %(target)s%(label)s") % {
                            "unit": names.name(level, unit_id), "indicator": indicator.name,
                            "value": _number(result.value), "label": unit_label, "quarter": quarter.label,
                            "op": "≤" if at_most else "≥", "target": _number(target)},
                        names.alliance(level, unit_id), result.value, target))
    return findings


def _insurance_findings(rules: list[AlertRule], county: Region, period: Period, names: _Names,
                        rule_row: SettlementRule | None) -> list[Finding]:
    """医保 run-rate: the fund's payments so far as a share of each alliance's global budget (or of the
    county's, summed) against the share of the year elapsed, as the 医保 page judges it
    (``finance.insurance.county_settlements``: four queries). Without a value in the rule, the county's
    run-rate warning points of its settlement rule."""
    if not rules:
        return []
    year = period.start.year
    settlements = insurance.county_settlements(county, year, rule_row, through=period.end)
    rows = [(Level.ALLIANCE, s.budget.alliance_id, s.settlement.budget, s.settlement.actual, s.months)
            for s in settlements]
    if settlements:
        rows.append((Level.COUNTY, county.pk, sum((s.settlement.budget for s in settlements), Decimal(0)),
                     sum((s.settlement.actual for s in settlements), Decimal(0)),
                     max(s.months for s in settlements)))
    findings = []
    for rule in rules:
        points = rule.value if rule.value is not None else _county_points(rule_row)
        for level, unit_id, budget, actual, months in rows:
            if level != rule.level or not budget or not months:
                continue
            rate = (actual / budget * HUNDRED).quantize(insurance.FEN)
            elapsed = (Decimal(months) * HUNDRED / 12).quantize(insurance.FEN)
            if rate - elapsed > points:
                findings.append(Finding(
                    rule, level, unit_id, names.name(level, unit_id), period,
                    _("%(unit)s: the medical-insurance fund has paid %(rate)s%% of the global budget after "
                      "%(months)s months (%(elapsed)s%% of the year)") % {
                        "unit": names.name(level, unit_id), "rate": _number(rate), "months": months,
                        "elapsed": _number(elapsed)},
                    names.alliance(level, unit_id), rate, elapsed))
    return findings


def _county_points(rule_row: SettlementRule | None) -> Decimal:
    return rule_row.warning_points if rule_row is not None else finance_budgets.PACING_POINTS


def _budget_findings(rules: list[AlertRule], county: Region, period: Period, names: _Names,
                     rule_row: SettlementRule | None) -> list[Finding]:
    """Budget pacing: each alliance's newest approved budget of the year through
    ``finance.budgets.execution`` (its lines for the alliance and each member; five queries per alliance
    with a budget). Without a value in the rule, the county's warning points, as on the budget page."""
    if not rules:
        return []
    year = period.start.year
    newest: dict[int, Budget] = {}
    for budget in (Budget.objects.filter(county=county, year=year, state=Budget.State.APPROVED)
                   .select_related("alliance").order_by("alliance_id", "-number")):
        newest.setdefault(budget.alliance_id, budget)
    executions = {alliance_id: finance_budgets.execution(budget, through=period.end)
                  for alliance_id, budget in newest.items()}
    findings = []
    for rule in rules:
        points = rule.value if rule.value is not None else _county_points(rule_row)
        for alliance_id, execution in executions.items():
            if not execution.months:
                continue
            elapsed = execution.elapsed
            columns = [(Level.ALLIANCE, alliance_id, 0)] if rule.level == Level.ALLIANCE else [
                (Level.INSTITUTION, member.pk, index + 1) for index, member in enumerate(execution.grid.members)]
            for level, unit_id, column in columns:
                off_lines, worst = [], None
                for row in execution.rows:
                    rate = row["cells"][column].rate
                    if rate is None:
                        continue
                    gap = rate - elapsed
                    if abs(gap) <= points:
                        continue
                    if (rule.operator == Operator.BELOW and gap > 0) or (rule.operator == Operator.ABOVE and gap < 0):
                        continue
                    off_lines.append(f"{row['line'].label} {_number(rate)}%")
                    worst = gap if worst is None or abs(gap) > abs(worst) else worst
                if off_lines:
                    findings.append(Finding(
                        rule, level, unit_id, names.name(level, unit_id), period,
                        _("%(unit)s: budget execution off the elapsed %(elapsed)s%% of the year by more than "
                          "%(points)s points: %(lines)s") % {
                            "unit": names.name(level, unit_id), "elapsed": _number(elapsed),
                            "points": _number(points), "lines": "、".join(off_lines[:6])},
                        alliance_id, worst, elapsed))
    return findings


def _red_task_findings(rules: list[AlertRule], county: Region, period: Period, names: _Names) -> list[Finding]:
    """Alliances with at least N red (overdue) responsible assignments open: one grouped query."""
    if not rules:
        return []
    counts = dict(Assignment.objects.filter(
        county=county, role=Assignment.Role.LEAD, is_active=True, alliance__isnull=False, light=Light.RED,
        completed_at__isnull=True).values("alliance_id").annotate(n=Count("pk")).values_list("alliance_id", "n"))
    findings = []
    for rule in rules:
        wanted = max(rule.count or 1, 1)
        for alliance_id, n in sorted(counts.items()):
            if n >= wanted:
                findings.append(Finding(
                    rule, Level.ALLIANCE, alliance_id, names.name(Level.ALLIANCE, alliance_id), period,
                    _("%(unit)s: %(n)s red (overdue) tasks, at least %(wanted)s") % {
                        "unit": names.name(Level.ALLIANCE, alliance_id), "n": n, "wanted": wanted},
                    alliance_id, Decimal(n), Decimal(wanted)))
    return findings


def _rules_of(county: Region, form_id: int | None = None) -> list[AlertRule]:
    """The county's active rules; with ``form_id``, only the indicator rules whose indicator reads an
    element of that form (two queries)."""
    rules = list(AlertRule.objects.filter(county=county, is_active=True).select_related("indicator")
                 .order_by("pk"))
    if form_id is None:
        return rules
    codes = set(FormElement.objects.filter(form_id=form_id).values_list("element__code", flat=True))

    def fed(rule: AlertRule) -> bool:
        if rule.kind not in INDICATOR_KINDS or rule.indicator is None:
            return False
        for text in (rule.indicator.numerator, rule.indicator.denominator):
            formula = parsed(text)
            if formula is not None and codes & set(formula.codes):
                return True
        return False

    return [rule for rule in rules if fed(rule)]


def judge(rules: list[AlertRule], county: Region, period: Period, now: datetime) -> list[Finding]:
    """Every finding of ``rules`` (all of one county). Indicator rules are judged at ``period`` (its
    quarter for quarter-to-date rules); the 医保, budget and task rules at the month of ``now`` for
    tasks and at ``period``'s figures for money."""
    names = _Names(county, local_date(now))
    by_kind: dict[str, list[AlertRule]] = defaultdict(list)
    for rule in rules:
        if rule.kind in INDICATOR_KINDS and rule.indicator_id is None:
            continue
        by_kind[rule.kind].append(rule)
    this_month = Period.containing_date(PeriodKind.MONTH, local_date(now))
    rule_row = None
    if by_kind[Kind.INSURANCE] or by_kind[Kind.BUDGET]:
        rule_row = SettlementRule.objects.filter(county=county, year=period.start.year).first()
    return [
        *_indicator_findings([r for k in INDICATOR_KINDS for r in by_kind[k]], county, period, names),
        *_insurance_findings(by_kind[Kind.INSURANCE], county, period, names, rule_row),
        *_budget_findings(by_kind[Kind.BUDGET], county, period, names, rule_row),
        *_red_task_findings(by_kind[Kind.RED_TASKS], county, this_month, names),
    ]


# Raising ----------------------------------------------------------------------------------------

def evaluate_county(county: Region, now: datetime, *, period: Period | None = None, form_id: int | None = None,
                    send: bool = True) -> EvaluationStats:
    """Judge the county's rules (those fed by ``form_id`` only, after a review) and raise what is new.
    A constant number of queries for any number of units; with ``send`` the new deliveries go out
    now (else at the next ``deliver_due``)."""
    stats = EvaluationStats()
    period = period or default_period(now)
    rules = _rules_of(county, form_id)
    stats.rules = len(rules)
    if not rules:
        return stats
    with translation.override(settings.LANGUAGE_CODE):
        findings = judge(rules, county, period, now)
        stats.findings = len(findings)
        batch = uuid.uuid4().hex
        with transaction.atomic():
            Alert.objects.bulk_create([
                Alert(rule=f.rule, county=county, alliance_id=f.alliance_id, level=f.level, unit_id=f.unit_id,
                      unit_name=f.unit_name[:120], period=str(f.period), value=f.value, reference=f.reference,
                      text=f.text[:500], batch=batch, raised_at=now) for f in findings], ignore_conflicts=True)
            stats.resolved = _resolve(rules, findings, county, period, now)
            raised = list(Alert.objects.filter(batch=batch).select_related("rule"))
            stats.raised = len(raised)
            stats.alert_ids = [a.pk for a in raised]
            stats.queued = queue(raised, county, now)
    if send and stats.queued:
        deliver_due(now, alert_ids=[a.pk for a in raised])
    return stats


def judged_period(rule: AlertRule, period: Period, now: datetime) -> str:
    """The period a rule is judged at in this evaluation (what its alerts carry)."""
    if rule.kind == Kind.RED_TASKS:
        return str(Period.containing_date(PeriodKind.MONTH, local_date(now)))
    if rule.kind == Kind.QUARTER and period.kind == PeriodKind.MONTH:
        return str(period.containing(PeriodKind.QUARTER))
    return str(period)


def _resolve(rules: list[AlertRule], findings: list[Finding], county: Region, period: Period, now: datetime) -> int:
    """Open alerts of the judged (rule, period) pairs whose condition no longer holds: resolved. One
    query to read, one to write."""
    holding = {(f.rule.pk, f.level, f.unit_id, str(f.period)) for f in findings}
    judged = {(rule.pk, judged_period(rule, period, now)) for rule in rules}
    candidates = Alert.objects.filter(county=county, rule__in=rules, state=Alert.State.OPEN,
                                      period__in={p for _r, p in judged}).values_list("pk", "rule_id", "level",
                                                                                     "unit_id", "period")
    stale = [pk for pk, rule_id, level, unit_id, at in candidates
             if (rule_id, at) in judged and (rule_id, level, unit_id, at) not in holding]
    if not stale:
        return 0
    return Alert.objects.filter(pk__in=stale, state=Alert.State.OPEN).update(state=Alert.State.RESOLVED,
                                                                           resolved_at=now)


def _people(county: Region) -> list[Grant]:
    """Every active grant that a rule's roles can reach in ``county``: the county's, its city's and
    its alliances' (one query)."""
    condition = Q(region_id=county.pk) | Q(alliance__county_id=county.pk)
    if county.parent_id:
        condition |= Q(region_id=county.parent_id)
    return list(Grant.objects.filter(condition, user__is_active=True).select_related("user").order_by("user_id", "pk"))


def _chosen(grants: list[Grant], roles: list[str], county: Region, alliance_id: int | None) -> dict[int, Grant]:
    """The grants among ``grants`` that ``roles`` pick for an alert of ``alliance_id`` (the rules of
    ``reports.recipients``: county roles, city users, the alliance's office and filers)."""
    chosen: dict[int, Grant] = {}
    for held in grants:
        if held.user_id in chosen:
            continue
        if held.region_id == county.pk and held.role in roles and held.role in recipient_roles.COUNTY_ROLES:
            chosen[held.user_id] = held
        elif recipient_roles.CITY in roles and held.region_id and held.region_id == county.parent_id:
            chosen[held.user_id] = held
        elif alliance_id and held.alliance_id == alliance_id and (
                (held.role == Role.ALLIANCE_ADMIN and Role.ALLIANCE_ADMIN in roles)
                or (held.role in recipient_roles.ALLIANCE_FILER_ROLES and recipient_roles.ALLIANCE_FILERS in roles)):
            chosen[held.user_id] = held
    return chosen


def queue(alerts: list[Alert], county: Region, now: datetime) -> int:
    """One delivery per recipient of each alert: the users the rule's roles pick and the rule's group
    robots. Three queries whatever the number of alerts."""
    if not alerts:
        return 0
    grants = _people(county)
    robots: dict[int, list[Webhook]] = defaultdict(list)
    for link in AlertRule.webhooks.through.objects.filter(
            alertrule_id__in={a.rule_id for a in alerts}).select_related("webhook"):
        robots[link.alertrule_id].append(link.webhook)
    rows = []
    for alert in alerts:
        for user_id, held in _chosen(grants, list(alert.rule.roles), county, alert.alliance_id).items():
            rows.append(AlertDelivery(alert=alert, address_key=f"user:{user_id}", user_id=user_id,
                                      email=held.user.email or "", next_attempt_at=now, created_at=now))
        for hook in robots.get(alert.rule_id, []):
            if hook.alliance_id and hook.alliance_id != alert.alliance_id:
                continue  # an alliance's robot hears only of its own alliance
            rows.append(AlertDelivery(alert=alert, address_key=f"webhook:{hook.pk}", webhook=hook,
                                      label=hook.name[:200], next_attempt_at=now, created_at=now))
    AlertDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# Sending ----------------------------------------------------------------------------------------

def alert_url(alert: Alert) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("reports:alert_detail", kwargs={"alert_pk": alert.pk})


def alert_title(alert: Alert) -> str:
    return _("Alert: %(rule)s") % {"rule": alert.rule.name}


def robot_message(alert: Alert, kind: str) -> dict:
    """What a group robot gets: the rule, what happened (unit names and figures, no personal data) and
    the link."""
    title = f"【医共体治理门户】{alert_title(alert)}"
    text = "\n".join([title, alert.text, _("期间：%(period)s") % {"period": Period.parse(alert.period).label}])
    return webhooks.body(kind, title=title, text=text, url=alert_url(alert))


def _email(delivery: AlertDelivery) -> EmailMessage:
    alert = delivery.alert
    body = "\n".join([alert.text, "", _("Open it in the portal: %(url)s") % {"url": alert_url(alert)}])
    return EmailMessage(subject=f"【医共体治理门户】{alert_title(alert)}", body=body,
                        from_email=settings.DEFAULT_FROM_EMAIL, to=[delivery.email])


def deliver_due(now: datetime, alert_ids: list[int] | None = None) -> int:
    """Send every queued delivery whose time has come, each claimed first (a conditional update), so
    two runs at once send nothing twice; failures are retried with backoff, then given up."""
    due = AlertDelivery.objects.filter(state=DState.QUEUED, next_attempt_at__lte=now)
    if alert_ids is not None:
        due = due.filter(alert_id__in=alert_ids)
    sent = 0
    with translation.override(settings.LANGUAGE_CODE):
        for delivery in due.select_related("alert", "alert__rule", "webhook").order_by("pk"):
            moved = AlertDelivery.objects.filter(pk=delivery.pk, state=DState.QUEUED).update(
                state=DState.SENDING, claimed_at=now, attempts=F("attempts") + 1)
            if not moved:
                continue
            attempts = delivery.attempts + 1
            robot = delivery.address_key.startswith("webhook:")
            mine = AlertDelivery.objects.filter(pk=delivery.pk, state=DState.SENDING)
            if robot and delivery.webhook is None:
                mine.update(state=DState.FAILED, last_error=_("The group robot was removed."), claimed_at=None)
                continue
            if not robot and not delivery.email:
                mine.update(state=DState.PORTAL, sent_at=now, claimed_at=None)
                sent += 1
                continue
            try:
                if robot:
                    webhooks.post(delivery.webhook, robot_message(delivery.alert, delivery.webhook.kind), now)
                else:
                    _email(delivery).send()
            except Exception as exc:  # SMTP and robots fail in many ways; each is retried
                error = (str(exc) if isinstance(exc, webhooks.WebhookError) else f"{type(exc).__name__}: {exc}")[:500]
                if attempts >= services.MAX_SEND_ATTEMPTS:
                    mine.update(state=DState.FAILED, last_error=error, claimed_at=None)
                else:
                    mine.update(state=DState.QUEUED, last_error=error, claimed_at=None,
                                next_attempt_at=now + services.BACKOFF[min(attempts, len(services.BACKOFF)) - 1])
                continue
            mine.update(state=DState.SENT, sent_at=now, last_error="", claimed_at=None)
            sent += 1
    return sent


def recover_stuck(now: datetime) -> int:
    """Deliveries left sending by a worker that died: queued again after the pipeline's timeout."""
    return AlertDelivery.objects.filter(state=DState.SENDING, claimed_at__lt=now - services.SEND_TIMEOUT).update(
        state=DState.QUEUED, next_attempt_at=now, claimed_at=None)


def evaluate_all(now: datetime | None = None) -> dict:
    """The nightly run: every county with an active rule, then whatever is queued."""
    now = now or timezone.now()
    totals = EvaluationStats()
    counties = Region.objects.filter(pk__in=AlertRule.objects.filter(is_active=True).values("county_id")).order_by("pk")
    for county in counties:
        try:
            stats = evaluate_county(county, now, send=False)
        except Exception as exc:  # one county's bad figures must not stop the others
            logger.exception("alerts of county %s could not be evaluated", county.pk)
            totals.errors.append(f"{county.pk}: {type(exc).__name__}")
            continue
        for name in ("rules", "findings", "raised", "resolved", "queued"):
            setattr(totals, name, getattr(totals, name) + getattr(stats, name))
    recover_stuck(now)
    deliver_due(now)
    return totals.as_dict()


def on_filing_reviewed(sender, *, county_id: int, form_id: int, period: str, action: str, **kwargs) -> None:
    """``indicators.signals.filing_reviewed``: re-judge the county's rules whose indicator is fed by the
    form, at the filing's period (a constant number of queries), and ask a worker to send what was
    raised. Never the reviewer's error (``send_robust`` logs a failure)."""
    county = Region.objects.filter(pk=county_id).first()
    if county is None:
        return
    try:
        at = Period.parse(period)
    except ValueError:
        return
    stats = evaluate_county(county, timezone.now(), period=at, form_id=form_id, send=False)
    if stats.alert_ids:
        enqueue_delivery(stats.alert_ids)


def enqueue_delivery(alert_ids: list[int]) -> None:
    """Send the new alerts' deliveries through a worker; if the broker is away, now."""
    from reports.jobs import evaluate_alerts

    try:
        evaluate_alerts.delay(alert_ids=alert_ids)
    except Exception:  # the broker is down: send them here rather than at night
        logger.warning("could not enqueue the delivery of alerts %s; sending now", alert_ids, exc_info=True)
        deliver_due(timezone.now(), alert_ids=alert_ids)


# Reading and acknowledging ----------------------------------------------------------------------

def alerts_for(user) -> QuerySet[Alert]:
    """The alerts ``user`` may see: those of the counties and alliances they see (``alliances.scoping``)
    and those delivered to them."""
    delivered = AlertDelivery.objects.filter(alert_id=OuterRef("pk"), user=user)
    visible = scoping.queryset_for(user, Alert).values("pk")
    return Alert.objects.filter(Q(pk__in=visible) | Exists(delivered))


def may_acknowledge(user, alert: Alert) -> bool:
    """The county bureau, or a recipient of the alert."""
    return (scoping.scope_of(user).can_change_county(alert.county_id)
            or AlertDelivery.objects.filter(alert=alert, user=user).exists())


def acknowledge(alert: Alert, *, user, note: str, now: datetime, request=None) -> bool:
    """Close an open (or resolved) alert with a note; it stays closed whatever later evaluations find.
    False when it was acknowledged already (a double submit)."""
    with transaction.atomic():
        moved = Alert.objects.filter(pk=alert.pk).exclude(state=Alert.State.ACKNOWLEDGED).update(
            state=Alert.State.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user, note=note[:500])
        if not moved:
            return False
        AlertDelivery.objects.filter(alert=alert, user=user, read_at__isnull=True).update(read_at=now)
        audit.record(audit.Event.ALERT_ACKNOWLEDGE, request=request, actor=user, target=alert,
                     county_id=alert.county_id, now=now, details={"rule": alert.rule_id, "period": alert.period,
                                                                  "note": note[:200]})
    return True


def open_alerts_summary(user) -> dict:
    """For the cockpit (驾驶舱): ``{"count": open alerts the user may see, "newest": [the 5 newest open
    alerts, each a dict of pk, text, rule, period, raised_at, url]}``. Three queries (the user's scope,
    the count, the five)."""
    qs = alerts_for(user).filter(state=Alert.State.OPEN)
    newest = list(qs.select_related("rule").order_by("-raised_at", "-pk")[:NEWEST])
    return {"count": qs.count(),
            "newest": [{"pk": a.pk, "text": a.text, "rule": a.rule.name, "period": a.period, "raised_at": a.raised_at,
                        "url": reverse("reports:alert_detail", kwargs={"alert_pk": a.pk})} for a in newest]}
