"""Who sees the finance records (registered with ``alliances.scoping``): a county, city or province
grant sees its counties'; an alliance grant its alliance's budgets; only the county bureau
(``CHANGE``) records budgets, prepayments, settlement rules and the county's calendar days. The
national calendar is everyone's to read and nobody's to change in the portal."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from alliances import scoping
from alliances.scoping import CHANGE, Scope
from finance.models import Budget, CalendarDay, InsuranceBudget, Prepayment, SettlementRule


def _counties(scope: Scope, action) -> set[int]:
    return scope.change_counties if action == CHANGE else scope.view_counties


@scoping.register(CalendarDay)
def _calendar_days(scope: Scope, action) -> QuerySet[CalendarDay]:
    if scope.everything:
        return CalendarDay.objects.all()
    county_rows = Q(county_id__in=_counties(scope, action))
    return CalendarDay.objects.filter(county_rows if action == CHANGE else county_rows | Q(county__isnull=True))


@scoping.register(InsuranceBudget)
def _budgets(scope: Scope, action) -> QuerySet[InsuranceBudget]:
    if scope.everything:
        return InsuranceBudget.objects.all()
    condition = Q(county_id__in=_counties(scope, action))
    if action != CHANGE:
        condition |= Q(alliance_id__in=scope.view_alliances)
    return InsuranceBudget.objects.filter(condition)


@scoping.register(Prepayment)
def _prepayments(scope: Scope, action) -> QuerySet[Prepayment]:
    return Prepayment.objects.filter(budget__in=_budgets(scope, action))


@scoping.register(SettlementRule)
def _rules(scope: Scope, action) -> QuerySet[SettlementRule]:
    if scope.everything:
        return SettlementRule.objects.all()
    return SettlementRule.objects.filter(county_id__in=_counties(scope, action))


@scoping.register(Budget)
def _line_budgets(scope: Scope, action) -> QuerySet[Budget]:
    """The county's bureau and the alliance's office change a budget (a draft); the bureau alone
    approves (``finance.budget_views``)."""
    if scope.everything:
        return Budget.objects.all()
    if action == CHANGE:
        return Budget.objects.filter(Q(county_id__in=scope.change_counties) | Q(alliance_id__in=scope.change_alliances))
    return Budget.objects.filter(Q(county_id__in=scope.view_counties) | Q(alliance_id__in=scope.view_alliances))
