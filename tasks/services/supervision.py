"""Supervision (三色督办): orders about one matter, replies, escalation with the portal's
suggestion of the next step, and inspections whose findings can become tasks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from core.periods import Period, PeriodError, PeriodKind
from tasks.models import (
    STEP_ORDER,
    Assignment,
    AssignmentEvent,
    Colour,
    EscalationRule,
    EscalationStep,
    Inspection,
    InspectionFinding,
    Step,
    SupervisionOrder,
    TaskSettings,
)
from tasks.status import local_date

MAX_TEXT = 5000
_NUMBER_RE = re.compile(r"^(\d+)号$")
DEFAULT_RULES = [
    # (colour, count, window, suggests): the examples of the issue and a notice between them.
    (Colour.YELLOW, 2, EscalationRule.Window.QUARTER, Step.LETTER),
    (Colour.RED, 2, EscalationRule.Window.QUARTER, Step.NOTICE),
    (Colour.RED, 3, EscalationRule.Window.CONSECUTIVE, Step.INTERVIEW),
]


def default_escalation_rules(county_id: int) -> list[EscalationRule]:
    """The rules a county has until it sets its own (unsaved)."""
    return [EscalationRule(county_id=county_id, colour=colour, count=count, window=window, suggests=step)
            for colour, count, window, step in DEFAULT_RULES]


def escalation_rules(county_id: int) -> list[EscalationRule]:
    """The county's active rules: its own once it has saved them on the settings page, the defaults
    before. Reading never writes. Two queries."""
    configured = TaskSettings.objects.filter(county_id=county_id, escalation_configured=True).exists()
    if not configured:
        return default_escalation_rules(county_id)
    return list(EscalationRule.objects.filter(county_id=county_id, is_active=True))


def _text(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: [message]})
    if len(value) > MAX_TEXT:
        raise ValidationError({field: [_("Keep it under %(n)s characters.") % {"n": MAX_TEXT}]})
    return value


def _unit_filter(assignment: Assignment) -> Q:
    """Orders about the same unit as ``assignment`` (any of its matters)."""
    if assignment.department_id:
        return Q(assignment__department_id=assignment.department_id)
    if assignment.institution_id:
        return Q(assignment__institution_id=assignment.institution_id)
    return Q(assignment__alliance_id=assignment.alliance_id)


@dataclass(frozen=True)
class Suggestion:
    step: str
    rule: EscalationRule
    count: int

    @property
    def reason(self) -> str:
        return _("%(count)s %(colour)s orders to this unit %(window)s") % {
            "count": self.count, "colour": self.rule.get_colour_display(), "window": self.rule.get_window_display()}


def suggest_next_step(order: SupervisionOrder) -> Suggestion | None:
    """The step the county's rules suggest for ``order``, counting the orders to the same unit
    (this one included): of one colour within the calendar quarter of this order, or the unit's
    latest orders in a row. Only a step beyond the order's present one is suggested; of several,
    the furthest. Two queries."""
    rules = escalation_rules(order.county_id)
    if not rules:
        return None
    history = list(SupervisionOrder.objects.filter(_unit_filter(order.assignment), county_id=order.county_id,
                                                   issued_at__lte=order.issued_at)
                   .order_by("-issued_at", "-pk").values_list("colour", "issued_at"))
    quarter = Period.containing_date(PeriodKind.QUARTER, local_date(order.issued_at))
    best: Suggestion | None = None
    for rule in rules:
        if rule.window == EscalationRule.Window.QUARTER:
            count = sum(1 for colour, at in history if colour == rule.colour and quarter.contains_date(local_date(at)))
            matched = count >= rule.count
        else:
            latest = [colour for colour, _at in history[:rule.count]]
            count = len(latest)
            matched = count >= rule.count and all(colour == rule.colour for colour in latest)
        if not matched or STEP_ORDER.index(rule.suggests) <= STEP_ORDER.index(order.step):
            continue
        if best is None or STEP_ORDER.index(rule.suggests) > STEP_ORDER.index(best.step):
            best = Suggestion(rule.suggests, rule, count)
    return best


def _next_number(county_id: int, year: int) -> str:
    """督办〔2026〕N号 with N one above the highest of the year (orders deleted with their ledger leave
    gaps; a count would collide with a number still in use)."""
    prefix = f"督办〔{year}〕"
    numbers = SupervisionOrder.objects.filter(county_id=county_id, number__startswith=prefix).values_list(
        "number", flat=True)
    highest = max((int(m.group(1)) for n in numbers if (m := _NUMBER_RE.match(n[len(prefix):]))), default=0)
    return f"{prefix}{highest + 1}号"


def order_issue(*, assignment: Assignment, user, colour: str, text: str, reply_due: date,
                now: datetime) -> SupervisionOrder:
    """Issue a 督办单 about ``assignment``. At most one order per matter awaits its reply."""
    errors = {}
    if colour not in Colour.values:
        errors["colour"] = [_("Choose blue, yellow or red.")]
    try:
        text = _text(text, "text", _("Write what the unit must do."))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if reply_due is None:
        errors["reply_due"] = [_("Set the day by which the unit must reply.")]
    elif reply_due < local_date(now):
        errors["reply_due"] = [_("The reply deadline cannot be in the past.")]
    if not assignment.is_active:
        errors["__all__"] = [_("This assignment was withdrawn.")]
    if errors:
        raise ValidationError(errors)
    if SupervisionOrder.objects.filter(assignment=assignment, state=SupervisionOrder.State.OPEN).exists():
        raise ValidationError(_("An order about this matter is still awaiting its reply; escalate that one "
                                "instead."), code="open_order")
    for _attempt in range(5):
        try:
            with transaction.atomic():
                order = SupervisionOrder.objects.create(
                    county_id=assignment.county_id, assignment=assignment, number=_next_number(
                        assignment.county_id, local_date(now).year),
                    colour=colour, text=text, reply_due=reply_due, issued_by=user, issued_at=now)
                EscalationStep.objects.create(order=order, county_id=order.county_id, step=Step.REMINDER,
                                              note=text[:300], taken_by=user, taken_at=now)
                AssignmentEvent.objects.create(assignment=assignment, county_id=assignment.county_id,
                                               kind=AssignmentEvent.Kind.ORDER, key=f"order:{order.pk}",
                                               detail=order.number, happened_at=now)
                return order
        except IntegrityError:
            if SupervisionOrder.objects.filter(assignment=assignment, state=SupervisionOrder.State.OPEN).exists():
                raise ValidationError(_("An order about this matter is still awaiting its reply; escalate that "
                                        "one instead."), code="open_order") from None
            continue  # another order took the number meanwhile
    raise ValidationError(_("The data changed while you were editing; please check and try again."))


def order_reply(*, order: SupervisionOrder, user, text: str, now: datetime) -> SupervisionOrder:
    text = _text(text, "reply_text", _("Write the reply."))
    won = SupervisionOrder.objects.filter(pk=order.pk, state=SupervisionOrder.State.OPEN).update(
        state=SupervisionOrder.State.REPLIED, reply_text=text, replied_by=user, replied_at=now)
    if not won:
        raise ValidationError(_("This order is not awaiting a reply."), code="not_open")
    order.refresh_from_db()
    return order


def order_close(*, order: SupervisionOrder, user, note: str, now: datetime) -> SupervisionOrder:
    note = (note or "").strip()[:MAX_TEXT]
    won = SupervisionOrder.objects.filter(pk=order.pk).exclude(state=SupervisionOrder.State.CLOSED).update(
        state=SupervisionOrder.State.CLOSED, closed_by=user, closed_at=now, close_note=note)
    if not won:
        raise ValidationError(_("This order is closed already."), code="closed")
    order.refresh_from_db()
    return order


def order_escalate(*, order: SupervisionOrder, user, step: str, note: str, now: datetime) -> EscalationStep:
    """Take the next step on ``order`` (提醒 → 专函督办 → 通报 → 约谈 → 问责), recorded with who and
    when; a step can be skipped but not taken back."""
    if step not in Step.values:
        raise ValidationError({"step": [_("Choose an escalation step.")]})
    if order.state == SupervisionOrder.State.CLOSED:
        raise ValidationError(_("This order is closed already."), code="closed")
    note = (note or "").strip()[:MAX_TEXT]
    if STEP_ORDER.index(step) <= STEP_ORDER.index(order.step):
        raise ValidationError({"step": [_("Choose a step beyond the present one (%(step)s).")
                                        % {"step": order.get_step_display()}]})
    suggestion = suggest_next_step(order)
    with transaction.atomic():
        # Conditional on the step read: two supervisors escalating at once record one step.
        won = SupervisionOrder.objects.filter(pk=order.pk, step=order.step).exclude(
            state=SupervisionOrder.State.CLOSED).update(step=step)
        if not won:
            raise ValidationError(_("The data changed while you were editing; please check and try again."),
                                  code="changed")
        taken = EscalationStep.objects.create(order=order, county_id=order.county_id, step=step, note=note,
                                              was_suggested=bool(suggestion and suggestion.step == step),
                                              taken_by=user, taken_at=now)
    order.refresh_from_db()
    return taken


def inspection_record(*, county, user, title: str, half_year: str, held_on: date, inspectors: str = "",
                      summary: str = "") -> Inspection:
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("Give the inspection a title.")]
    try:
        period = Period.parse((half_year or "").strip().upper())
        if period.kind != PeriodKind.HALF_YEAR:
            raise PeriodError("")
    except PeriodError:
        errors["half_year"] = [_("Write the half year as 2026H1 or 2026H2.")]
        period = None
    if held_on is None:
        errors["held_on"] = [_("Set the day the inspection was held.")]
    if errors:
        raise ValidationError(errors)
    return Inspection.objects.create(county=county, title=title[:200], half_year=str(period), held_on=held_on,
                                     inspectors=(inspectors or "").strip()[:300], summary=(summary or "").strip(),
                                     created_by=user)


def finding_add(*, inspection: Inspection, text: str, severity: str, unit=None) -> InspectionFinding:
    text = _text(text, "text", _("Write the finding."))
    if severity not in InspectionFinding.Severity.values:
        raise ValidationError({"severity": [_("Choose the severity.")]})
    finding = InspectionFinding(inspection=inspection, county_id=inspection.county_id, text=text, severity=severity)
    if unit is not None:
        if unit.county_id != inspection.county_id:
            raise ValidationError({"unit": [_("The unit must be of the inspection's county.")]})
        setattr(finding, {"Department": "department", "Institution": "institution",
                          "Alliance": "alliance"}[type(unit).__name__], unit)
    finding.save()
    return finding
