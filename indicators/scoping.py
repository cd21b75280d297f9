"""Who sees and changes what of filing and indicators: one scoping function per model,
registered with ``alliances.scoping`` (the one place that decides access).

- A county grant (bureau, supervisor, viewer) and a city or province grant see every form,
  filing, value, indicator and evaluation of their counties; ``CHANGE`` on a filing (review:
  approve, return, unlock) and on definitions (data elements, forms, indicators) is the bureau's.
- An alliance grant sees the filings of the institutions that are or were its members (with
  their village clinics); the alliance office (``alliance_admin``) also reviews the filings of
  its current members.
- An institution grant sees the filings of its institution and of the village clinics it manages.
- Everybody with a grant in a county sees the county's forms, elements and indicators (the
  shared catalogue included) and its evaluation runs: these are the rules everyone files by.

Filing values (which is different from reviewing) is decided by ``indicators.permissions``.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from alliances import scoping
from alliances.models import AllianceMembership, Institution
from alliances.scoping import CHANGE, Scope
from indicators.models import (
    DataElement,
    DataValue,
    EvaluationRun,
    EvaluationScheme,
    Filing,
    FilingEvent,
    Indicator,
    ReportForm,
    ValidationRule,
    ValueAudit,
)


def _unit_institutions(scope: Scope) -> QuerySet:
    """Institutions an alliance or institution grant sees (members past and present, clinics)."""
    units_only = Scope(view_alliances=scope.view_alliances, view_institutions=scope.view_institutions)
    return scoping.queryset_for_scope(units_only, Institution, scoping.VIEW).values("pk")


def current_member_ids(alliance_ids) -> QuerySet:
    """Institutions that are members of the alliances today, and the village clinics they manage."""
    members = (AllianceMembership.objects.on(timezone.localdate()).filter(alliance_id__in=alliance_ids)
               .values("institution_id"))
    return Institution.objects.filter(Q(pk__in=members) | Q(parent_id__in=members)).values("pk")


def _filing_condition(scope: Scope, action, prefix: str = "") -> Q:
    if action == CHANGE:
        condition = Q(**{f"{prefix}county_id__in": scope.change_counties})
        if scope.change_alliances:
            condition |= Q(**{f"{prefix}institution_id__in": current_member_ids(scope.change_alliances)})
        return condition
    condition = Q(**{f"{prefix}county_id__in": scope.view_counties})
    if scope.view_alliances or scope.view_institutions:
        condition |= Q(**{f"{prefix}institution_id__in": _unit_institutions(scope)})
    return condition


@scoping.register(Filing)
def _filings(scope: Scope, action) -> QuerySet[Filing]:
    qs = Filing.objects.all()
    if scope.everything:
        return qs
    return qs.filter(_filing_condition(scope, action))


@scoping.register(DataValue)
def _values(scope: Scope, action) -> QuerySet[DataValue]:
    qs = DataValue.objects.all()
    if scope.everything:
        return qs
    return qs.filter(_filing_condition(scope, action))


def _through_filing(model):
    def scoper(scope: Scope, action) -> QuerySet:
        qs = model.objects.all()
        if scope.everything:
            return qs
        return qs.filter(_filing_condition(scope, action, "filing__"))

    scoper.__name__ = f"_{model._meta.model_name}s"
    return scoper


for _model in (FilingEvent, ValueAudit):
    scoping.register(_model)(_through_filing(_model))


def _all_counties(scope: Scope) -> set[int]:
    return scope.view_counties | scope.context_counties


def _definitions(model, *, shared: bool):
    """Definitions everyone of the county reads; the bureau changes its county's own (the shared
    catalogue is changed by the system administrator only)."""

    def scoper(scope: Scope, action) -> QuerySet:
        qs = model.objects.all()
        if scope.everything:
            return qs
        if action == CHANGE:
            return qs.filter(county_id__in=scope.change_counties)
        condition = Q(county_id__in=_all_counties(scope))
        if shared:
            condition |= Q(county__isnull=True)
        return qs.filter(condition)

    scoper.__name__ = f"_{model._meta.model_name}s"
    return scoper


scoping.register(ReportForm)(_definitions(ReportForm, shared=False))
scoping.register(EvaluationRun)(_definitions(EvaluationRun, shared=False))
for _model in (DataElement, Indicator, ValidationRule, EvaluationScheme):
    scoping.register(_model)(_definitions(_model, shared=True))
