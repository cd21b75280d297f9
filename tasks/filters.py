"""Filters of the task ledger API (django-filter).

Every filter that takes an id chooses among the rows the requesting user may see
(``alliances.scoping``): an id of another county is "not a valid choice" (400), the same
answer as an id that does not exist. The assignment list applies its filters through
``tasks.selectors.filter_assignments``, the same function as the assignment page.
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from alliances.filters import visible, visible_counties
from alliances.models import Alliance
from tasks import permissions, selectors
from tasks.deadlines import DeadlineKind
from tasks.models import (
    Assignment,
    Colour,
    Evidence,
    Ledger,
    ProgressReport,
    Step,
    SupervisionOrder,
    TaskItem,
)
from tasks.status import Light, Status, local_date

# "1-7", "8-30", "31-90", "91-": days late, as the assignment page writes them.
AGING_CHOICES = [(f"{low}-{high or ''}",) * 2 for low, high in selectors.AGING_BUCKETS]
unit_validator = RegexValidator(r"^(department|institution|alliance):[0-9]+$",
                                _("Write the unit as department:ID, institution:ID or alliance:ID."))


def request_now(request) -> datetime:
    """The moment of this request, read once (the viewsets set it first), so that filters,
    status and services of one request agree on the day."""
    now = getattr(request, "portal_now", None)
    if now is None:
        now = timezone.now()
        if request is not None:
            request.portal_now = now
    return now


def request_today(request) -> date:
    return local_date(request_now(request))


class LedgerFilter(filters.FilterSet):
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    year = filters.NumberFilter()

    class Meta:
        model = Ledger
        fields = ["county", "year"]


class TaskItemFilter(filters.FilterSet):
    ledger = filters.ModelChoiceFilter(queryset=visible(Ledger))
    deadline_kind = filters.ChoiceFilter(choices=DeadlineKind.choices)
    needs_deadline = filters.BooleanFilter(
        method="filter_needs_deadline",
        help_text=_("Items whose deadline could not be read and that nobody has set yet."))

    class Meta:
        model = TaskItem
        fields = ["ledger", "deadline_kind", "needs_deadline"]

    def filter_needs_deadline(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        condition = {"deadline_kind": DeadlineKind.UNKNOWN, "deadline_corrected_at__isnull": True}
        return queryset.filter(**condition) if value else queryset.exclude(**condition)


class AssignmentFilter(filters.FilterSet):
    """The filters of the assignment page, applied by ``selectors.filter_assignments``."""

    county = filters.ModelChoiceFilter(queryset=visible_counties)
    ledger = filters.ModelChoiceFilter(queryset=visible(Ledger), field_name="item__ledger")
    status = filters.ChoiceFilter(choices=Status.choices)
    light = filters.ChoiceFilter(choices=[c for c in Light.choices if c[0]])
    role = filters.ChoiceFilter(choices=Assignment.Role.choices)
    alliance = filters.ModelChoiceFilter(
        queryset=visible(Alliance),
        help_text=_("The alliance's own assignments and those of its member institutions today."))
    unit = filters.CharFilter(
        validators=[unit_validator],
        help_text=_("One responsible unit: department:ID, institution:ID or alliance:ID."))
    aging = filters.ChoiceFilter(choices=AGING_CHOICES, help_text=_("Overdue by this many days."))
    q = filters.CharFilter(help_text=_("Part of the task, its number or the unit's name."))
    needs_deadline = filters.BooleanFilter(help_text=_("Items whose deadline nobody has set yet."))
    mine = filters.BooleanFilter(help_text=_("Only the assignments the user reports for."))

    class Meta:
        model = Assignment
        fields = ["county", "ledger", "status", "light", "role", "alliance", "unit", "aging", "q",
                  "needs_deadline", "mine"]

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        queryset = selectors.filter_assignments(queryset, data, request_today(self.request))
        if data.get("mine"):
            queryset = queryset.filter(permissions.reportable_condition(self.request.user))
        return queryset


class ProgressReportFilter(filters.FilterSet):
    assignment = filters.ModelChoiceFilter(queryset=visible(Assignment))
    ledger = filters.ModelChoiceFilter(queryset=visible(Ledger), field_name="assignment__item__ledger")
    state = filters.ChoiceFilter(choices=ProgressReport.State.choices)
    period = filters.CharFilter(help_text=_("The month reported on, e.g. 2026-11."))

    class Meta:
        model = ProgressReport
        fields = ["assignment", "ledger", "state", "period"]


class EvidenceFilter(filters.FilterSet):
    report = filters.ModelChoiceFilter(queryset=visible(ProgressReport))

    class Meta:
        model = Evidence
        fields = ["report"]


class SupervisionOrderFilter(filters.FilterSet):
    county = filters.ModelChoiceFilter(queryset=visible_counties)
    assignment = filters.ModelChoiceFilter(queryset=visible(Assignment))
    state = filters.ChoiceFilter(choices=SupervisionOrder.State.choices)
    colour = filters.ChoiceFilter(choices=Colour.choices)
    step = filters.ChoiceFilter(choices=Step.choices)

    class Meta:
        model = SupervisionOrder
        fields = ["county", "assignment", "state", "colour", "step"]
