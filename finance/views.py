"""医保总额 pages: each alliance's global budget for a year with its four prepayments (deadline =
the 10th working day of the quarter, arrived in time or not), the fund's payments so far against
the elapsed share of the year (run-rate warning), and the settlement — final after the year,
projected before — with each member's part. The county bureau records budgets, prepayments and the
settlement rule; the working-day calendar page shows the national days and the county's own.

A county's page is the bureau's, city's and province's; an alliance grant sees its alliance only.
Another county's records are a 404. Constant queries whatever the number of alliances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from alliances import scoping
from alliances.models import Alliance, Region
from alliances.scoping import CHANGE
from core.clock import local_date, request_now
from core.http import xlsx_response
from finance import services
from finance.exports import settlement_filename, settlement_title, settlement_xlsx
from finance.insurance import (
    HUNDRED,
    LATE,
    NOT_YET,
    ON_TIME,
    OVERDUE,
    calendar_for,
    county_fund,
    county_settlements,
    fen,
    parse_bands,
    prepayment_lines,
)
from finance.models import AmountChange, CalendarDay, InsuranceBudget, Prepayment, SettlementRule

FIRST_YEAR = 2000
STATE_LABELS = {ON_TIME: gettext_lazy("In time"), LATE: gettext_lazy("Arrived late"),
                OVERDUE: gettext_lazy("Not arrived, overdue"), NOT_YET: gettext_lazy("Not due yet")}
MONEY_FIELD = {"max_digits": 16, "decimal_places": 2}


def _year(text: str | None, today: date) -> int:
    try:
        year = int(text or "")
    except ValueError:
        return today.year
    return year if FIRST_YEAR <= year <= today.year + 1 else today.year


def _visible_counties(user) -> list[Region]:
    scope = scoping.scope_of(user)
    if scope.everything:
        return list(Region.objects.filter(level=Region.Level.COUNTY).order_by("pk"))
    ids = set(scope.view_counties) | (set(scope.context_counties) if scope.view_alliances else set())
    return list(Region.objects.filter(pk__in=ids, level=Region.Level.COUNTY).order_by("pk"))


class BudgetForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("Global budget (yuan)"), min_value=Decimal("0.01"), **MONEY_FIELD)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)


class PrepaymentForm(forms.Form):
    quarter = forms.TypedChoiceField(label=gettext_lazy("Quarter"), choices=[(q, q) for q in range(1, 5)], coerce=int)
    amount = forms.DecimalField(label=gettext_lazy("Amount (yuan)"), min_value=Decimal(0), **MONEY_FIELD)
    received_on = forms.DateField(label=gettext_lazy("Received on"), required=False)


class RuleForm(forms.Form):
    surplus_retained = forms.DecimalField(label=gettext_lazy("Surplus kept by the alliance (%)"), min_value=0,
                                          max_value=100, max_digits=6, decimal_places=2)
    bands = forms.CharField(label=gettext_lazy("Overspend bands"), required=False,
                            help_text=gettext_lazy("“up to % of the budget : % the fund bears”, separated by "
                                                   "commas, e.g. 5:70, 10:50"))
    warning_points = forms.DecimalField(label=gettext_lazy("Run-rate warning (percentage points)"), min_value=0,
                                        max_value=100, max_digits=5, decimal_places=1)

    def clean_bands(self):
        text = self.cleaned_data["bands"].replace("，", ",").replace("：", ":")
        pairs = [part.split(":") for part in text.split(",") if part.strip()]
        try:
            return [[str(b[0]), str(b[1])] for b in parse_bands([[p.strip() for p in pair] for pair in pairs])]
        except ValueError as exc:
            raise forms.ValidationError(_("Band %(n)s is not “up to %% : fund's %%” with rising limits and a "
                                          "share from 0 to 100.") % {"n": exc.args[0]}) from None


def _errors_text(form: forms.Form) -> str:
    return "；".join(f"{form.fields[name].label if name in form.fields else ''}：{'，'.join(errors)}"
                     for name, errors in form.errors.items())


def _bands_text(bands) -> str:
    return ", ".join(f"{b[0]}:{b[1]}" for b in bands or [])


@dataclass
class InsurancePage:
    county: Region
    counties: list[Region]
    year: int
    whole_county: bool
    can_change: bool
    rule: SettlementRule | None
    points: Decimal
    cards: list[dict]
    final: bool


@dataclass
class Selection:
    """The county and year a finance page is about, and the alliances of it the user sees."""

    county: Region
    counties: list[Region]
    year: int
    alliances: list[Alliance]
    whole_county: bool


def selection(request) -> Selection:
    """``?county=&year=`` read against what the user may see (another county's pk falls back to the
    user's first county); 404 for a user without a county or an alliance. Three queries."""
    today = local_date(request_now(request))
    counties = _visible_counties(request.user)
    if not counties:
        raise Http404(_("Not found."))
    wanted = request.GET.get("county")
    county = next((c for c in counties if str(c.pk) == wanted), counties[0])
    scope = scoping.scope_of(request.user)
    whole_county = scope.everything or county.pk in scope.view_counties
    alliances = Alliance.objects.filter(county=county, is_active=True).order_by("pk")
    if not whole_county:
        alliances = alliances.filter(pk__in=scope.view_alliances)
    return Selection(county, counties, _year(request.GET.get("year"), today), list(alliances), whole_county)


def _insurance_page(request) -> InsurancePage:
    """The county, year and alliance cards the request asks for and the user may see."""
    today = local_date(request_now(request))
    chosen = selection(request)
    county, counties, year, alliances = chosen.county, chosen.counties, chosen.year, chosen.alliances
    whole_county = chosen.whole_county
    scope = scoping.scope_of(request.user)
    rule = SettlementRule.objects.filter(county=county, year=year).first()
    calendar = calendar_for(county, [year])
    settlements = {s.budget.alliance_id: s for s in county_settlements(county, year, rule)}
    prepayments: dict[int, list[Prepayment]] = {}
    for prepayment in Prepayment.objects.filter(budget__county=county, budget__year=year):
        prepayments.setdefault(prepayment.budget_id, []).append(prepayment)
    points = rule.warning_points if rule else Decimal(10)
    cards = []
    for alliance in alliances:
        found = settlements.get(alliance.pk)
        card = {"alliance": alliance, "settlement": found, "budget": found.budget if found else None}
        if found is not None:
            budget = found.budget
            lines = prepayment_lines(year, prepayments.get(budget.pk, []), today, calendar)
            for line in lines:
                line.label = STATE_LABELS[line.state]
            elapsed = fen(Decimal(found.months) * HUNDRED / 12)
            spent = fen(found.settlement.actual / budget.amount * HUNDRED)
            card.update(lines=lines, elapsed=elapsed, spent=spent, run_ahead=spent - elapsed > points,
                        warnings=sum(1 for line in lines if line.warning))
        cards.append(card)
    return InsurancePage(county, counties, year, whole_county, scope.can_change_county(county.pk), rule, points,
                         cards, year < today.year)


@login_required
def insurance(request):
    data = _insurance_page(request)
    today = local_date(request_now(request))
    fund_months, fund_total = county_fund(data.county, data.year) if data.whole_county else ([], None)
    rule = data.rule
    return render(request, "finance/insurance.html", {
        **data.__dict__, "years": list(range(today.year + 1, today.year - 5, -1)),
        "fund_months": [m for m in fund_months if m.total is not None], "fund_total": fund_total,
        "rule_form": RuleForm(initial={"surplus_retained": rule.surplus_retained if rule else 100,
                                       "bands": _bands_text(rule.bands) if rule else "5:70, 10:50",
                                       "warning_points": data.points}),
        "calendar_url": reverse("finance:calendar", kwargs={"region_pk": data.county.pk}),
        "changes": list(AmountChange.objects.filter(county=data.county, year=data.year).select_related("user")[:30])
        if data.whole_county else [],
        "export_url": f"{reverse('finance:insurance_xlsx')}?county={data.county.pk}&year={data.year}",
    })


@login_required
def insurance_xlsx(request):
    data = _insurance_page(request)
    rows = [(card["settlement"], card["lines"]) for card in data.cards if card["settlement"] is not None]
    title = settlement_title(data.county.name, data.year, data.final)
    today = local_date(request_now(request))
    return xlsx_response(settlement_xlsx(county_name=data.county.name, year=data.year, final=data.final, rows=rows,
                                         on=today), settlement_filename(title, today))


def _back(county: Region, year: int) -> str:
    return f"{reverse('finance:insurance')}?county={county.pk}&year={year}"


@login_required
@require_POST
def budget_save(request, alliance_pk):
    alliance = scoping.get_for_user(request.user, Alliance, alliance_pk)
    if not scoping.scope_of(request.user).can_change_county(alliance.county_id):
        raise PermissionDenied(_("Only the county health bureau records the 医保 global budget."))
    year = _year(request.POST.get("year"), local_date(request_now(request)))
    form = BudgetForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("%(alliance)s, %(year)s: nothing saved — %(errors)s") % {
            "alliance": alliance.name, "year": year, "errors": _errors_text(form)})
        return redirect(_back(alliance.county, year))
    services.budget_save(alliance=alliance, year=year, amount=form.cleaned_data["amount"],
                         note=form.cleaned_data["note"], user=request.user, now=request_now(request))
    messages.success(request, _("Saved."))
    return redirect(_back(alliance.county, year))


@login_required
@require_POST
def prepayment_save(request, insurance_budget_pk):
    budget = scoping.get_for_user(request.user, InsuranceBudget, insurance_budget_pk, action=CHANGE)
    form = PrepaymentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("%(alliance)s, prepayment of quarter %(quarter)s: nothing saved — %(errors)s") % {
            "alliance": budget.alliance.name, "quarter": request.POST.get("quarter", "?"),
            "errors": _errors_text(form)})
        return redirect(_back(budget.alliance.county, budget.year))
    received = form.cleaned_data["received_on"]
    if received is not None and received.year not in (budget.year, budget.year - 1):
        messages.error(request, _("%(alliance)s, prepayment of quarter %(quarter)s: nothing saved — the date "
                                  "received %(day)s is not in %(year)s.") % {
            "alliance": budget.alliance.name, "quarter": form.cleaned_data["quarter"], "day": received,
            "year": budget.year})
        return redirect(_back(budget.alliance.county, budget.year))
    services.prepayment_save(budget=budget, quarter=form.cleaned_data["quarter"], amount=form.cleaned_data["amount"],
                             received_on=received, user=request.user, now=request_now(request))
    messages.success(request, _("Saved."))
    return redirect(_back(budget.alliance.county, budget.year))


@login_required
@require_POST
def rule_save(request, region_pk):
    county = scoping.get_for_user(request.user, Region, region_pk)
    if not scoping.scope_of(request.user).can_change_county(county.pk):
        raise PermissionDenied(_("Only the county health bureau sets the settlement rule."))
    year = _year(request.POST.get("year"), local_date(request_now(request)))
    form = RuleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Settlement rule %(year)s: nothing saved — %(errors)s") % {
            "year": year, "errors": _errors_text(form)})
        return redirect(_back(county, year))
    services.rule_save(county=county, year=year, values=form.cleaned_data, user=request.user, now=request_now(request))
    messages.success(request, _("Saved."))
    return redirect(_back(county, year))


class CalendarDayForm(forms.Form):
    day = forms.DateField(label=gettext_lazy("Day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=CalendarDay.Kind.choices)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=40, required=False)


@login_required
def calendar(request, region_pk):
    county = scoping.get_for_user(request.user, Region, region_pk)
    if not county.is_county:
        raise Http404(_("Not found."))
    today = local_date(request_now(request))
    year = _year(request.GET.get("year") or request.POST.get("year"), today)
    can_change = scoping.scope_of(request.user).can_change_county(county.pk)
    form = CalendarDayForm(request.POST or None)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied(_("Only the county health bureau changes the county's calendar."))
        if form.is_valid():
            try:
                with transaction.atomic():
                    CalendarDay.objects.create(county=county, updated_by=request.user, **form.cleaned_data)
            except IntegrityError:
                form.add_error("day", _("%(day)s is in the county's calendar already; delete it first.") % {
                    "day": form.cleaned_data["day"]})
            else:
                messages.success(request, _("Saved."))
                return redirect(f"{reverse('finance:calendar', kwargs={'region_pk': county.pk})}?year="
                                f"{form.cleaned_data['day'].year}")
    days = list(CalendarDay.objects.filter(day__year=year).filter(Q(county__isnull=True) | Q(county=county))
                .order_by("day", "county_id"))
    local = {d.day for d in days if d.county_id}
    work = calendar_for(county, [year])
    quarters = [(q, date(year, 3 * q - 2, 1), work.nth_working_day(date(year, 3 * q - 2, 1), 10)) for q in range(1, 5)]
    return render(request, "finance/calendar.html", {
        "county": county, "year": year, "days": days, "local": local, "form": form, "can_change": can_change,
        "quarters": quarters, "years": list(range(today.year + 1, today.year - 3, -1)),
    })


@login_required
@require_POST
def calendar_day_delete(request, calendar_day_pk):
    day = scoping.get_for_user(request.user, CalendarDay, calendar_day_pk, action=CHANGE,
                               queryset=scoping.queryset_for(request.user, CalendarDay).filter(county__isnull=False))
    county = day.county
    day.delete()
    messages.success(request, _("Deleted."))
    return redirect(f"{reverse('finance:calendar', kwargs={'region_pk': county.pk})}?year={day.day.year}")
