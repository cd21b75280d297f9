"""A member's own books (seed 001 统一财务管理: 单独设账、独立核算、统一管理): for a user of one
institution, its sub-budget of the alliance's newest approved budget by line with the filed actuals,
the rate and the pacing flag, and what it bought through the alliance's account. The alliance
office and the bureau see every member on the budget and procurement pages."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from alliances import scoping
from alliances.models import AllianceMembership, Institution
from core.clock import local_date, request_now
from core.periods import Period
from finance import budgets
from finance.models import Budget, Purchase, SettlementRule
from finance.views import _year


@login_required
def member_books(request):
    scope = scoping.scope_of(request.user)
    institutions = list(Institution.objects.filter(pk__in=scope.view_institutions).order_by("name"))
    if not institutions:
        raise Http404(_("Not found."))
    today = local_date(request_now(request))
    wanted = request.GET.get("institution")
    institution = next((i for i in institutions if str(i.pk) == wanted), institutions[0])
    year = _year(request.GET.get("year"), today)
    membership = (AllianceMembership.objects.on(date(year, 12, 31)).filter(institution=institution)
                  .select_related("alliance").first())
    alliance = membership.alliance if membership else None
    budget = (Budget.objects.filter(alliance=alliance, year=year, state=Budget.State.APPROVED)
              .order_by("-number").first() if alliance else None)
    rows, months, threshold = [], 0, budgets.PACING_POINTS
    if budget is not None:
        rule = SettlementRule.objects.filter(county_id=budget.county_id, year=year).first()
        threshold = rule.warning_points if rule else budgets.PACING_POINTS
        result = budgets.execution(budget, threshold=threshold)
        months = result.months
        column = next((n for n, m in enumerate(result.grid.members, start=1) if m.pk == institution.pk), None)
        elapsed = Decimal(months) * 100 / 12
        for row in result.rows:
            cell = row["cells"][column] if column is not None else None
            rate = cell.rate if cell else None
            off = rate is not None and months and abs(rate - elapsed) > threshold
            rows.append({"line": row["line"], "budget": cell.budget if cell else None,
                         "actual": cell.actual if cell else None, "rate": rate, "warning": bool(off),
                         "ahead": bool(off and rate > elapsed)})
    purchases: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for month, category, amount in Purchase.objects.filter(institution=institution, month__startswith=f"{year}-") \
            .values_list("month", "category", "amount"):
        purchases[month][category] = amount
    categories = list(Purchase.Category)
    purchase_rows = [{"month": Period.month(year, m), "values": [purchases.get(f"{year}-{m:02d}", {}).get(c.value)
                                                                for c in categories]}
                     for m in range(1, 13) if f"{year}-{m:02d}" in purchases]
    totals = [sum((r["values"][n] or Decimal(0) for r in purchase_rows), Decimal(0)) for n in range(len(categories))]
    return render(request, "finance/member_books.html", {
        "institutions": institutions, "institution": institution, "year": year, "alliance": alliance,
        "budget": budget, "rows": rows, "months": months, "elapsed": (Decimal(months) * 100 / 12).quantize(
            Decimal("0.01")), "threshold": threshold, "categories": categories, "purchase_rows": purchase_rows,
        "purchase_totals": totals, "years": list(range(today.year + 1, today.year - 5, -1)),
    })
