"""Indicator pages: the table of indicators for a scope (a county, an alliance or an institution)
and a period, one indicator with its trend and the units one level down, the units sub-table
(loaded into the table by HTMX) and the table as .xlsx.

The scope is ``?county=``, ``?alliance=`` or ``?institution=`` and the period ``?period=2026Q3``.
A scope the user cannot see is a 404, like a missing one; a period that cannot be read gives a
message and the default period (the latest quarter whose filings are due). Each page reads a
constant number of queries whatever the number of units, indicators and filed values.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from alliances import scoping
from alliances.exports import OFFICIAL_LANGUAGE
from core.http import xlsx_response
from core.periods import Period
from indicators import exports
from indicators import indicator_tables as tables
from indicators.engine import Engine
from indicators.models import Indicator


def _context(request, *, indicator: Indicator | None = None) -> dict:
    """Scope, period and picker shared by the pages. ``unit_scope`` is None for a user who sees no
    county, alliance or institution."""
    user = request.user
    today = timezone.localdate()
    period, period_error = tables.read_period(request.GET.get("period"), today)
    unit_scope = tables.resolve_scope(user, request.GET)
    if unit_scope is None and indicator is not None and indicator.county_id:
        # A county's own indicator opens on its county when the user sees that county in full.
        county = tables.county_queryset(user).filter(pk=indicator.county_id).first()
        unit_scope = tables.UnitScope("county", county) if county else None
    if unit_scope is None:
        unit_scope = tables.default_scope(user)
    if indicator is not None and unit_scope is not None and indicator.county_id not in (None, unit_scope.county.pk):
        raise Http404(_("Not found."))
    context = {
        "period": period, "period_value": str(period), "period_error": period_error, "unit_scope": unit_scope,
        "today": today, "spark_periods": tables.SPARK_PERIODS,
        "period_choices": tables.period_choices(today, period),
        "previous_period": period.previous if period.previous.year >= tables.FIRST_YEAR else None,
        "next_period": period.next if period.next.year <= today.year + 1 else None,
    }
    if unit_scope is None:
        return context
    if unit_scope.level == "institution":
        membership = tables.membership_of(unit_scope.institution, period.end)
        unit_scope.role = membership.role if membership else ""
        alliance = membership.alliance if membership else None
        context["institution_alliance"] = alliance if tables.can_see_alliance(user, alliance) else None
    context["picker"] = tables.picker(user, unit_scope)
    context["county_link"] = any(c.pk == unit_scope.county.pk for c in context["picker"].counties)
    context["scope_query"] = unit_scope.query
    return context


@login_required
@require_GET
def indicator_table(request):
    """Every indicator for the scope and period: value, numerator, denominator, target, met, the
    same period last year and the last eight periods; the units one level down to drill into."""
    context = _context(request)
    unit_scope, period = context["unit_scope"], context["period"]
    if unit_scope is not None:
        indicators = tables.visible_indicators(request.user, unit_scope)
        names = tables.element_names(indicators, unit_scope.county)
        rows = tables.indicator_rows(indicators, unit_scope, period, names)
        context.update({
            "groups": tables.grouped(rows), "tally": tables.tally(rows), "rows": rows,
            "children": tables.child_units(request.user, unit_scope, period),
            "child_level_label": (str(tables.LEVEL_LABELS[unit_scope.child_level])
                                  if unit_scope.child_level else ""),
        })
    return render(request, "indicators/indicator_table.html", context)


def _indicator(request, indicator_pk) -> Indicator:
    indicator = scoping.get_for_user(request.user, Indicator, indicator_pk)
    if not indicator.is_active:
        raise Http404(_("Not found."))
    return indicator


@login_required
@require_GET
def indicator_detail(request, indicator_pk):
    """One indicator for the scope: the trend with its target line and last year's figures, the
    units one level down compared in a chart and a table."""
    indicator = _indicator(request, indicator_pk)
    context = _context(request, indicator=indicator)
    context["indicator"] = indicator
    unit_scope, period = context["unit_scope"], context["period"]
    if unit_scope is None:
        return render(request, "indicators/indicator_detail.html", context)
    applies = tables.applies(indicator, unit_scope.level, unit_scope.institution, unit_scope.role)
    names = tables.element_names([indicator], unit_scope.county)
    engine = Engine([indicator], [unit_scope.county.pk])
    children = tables.child_units(request.user, unit_scope, period)
    unit_rows = tables.unit_rows(indicator, unit_scope, period, children, names, engine=engine)
    context.update({
        "applies": applies,
        "numerator_formula": tables.formula_text(indicator.numerator, names),
        "denominator_formula": tables.formula_text(indicator.denominator, names),
        "target": tables.target_text(indicator),
        "unit_rows": unit_rows,
        "child_level_label": str(tables.LEVEL_LABELS[unit_scope.child_level]) if unit_scope.child_level else "",
    })
    if applies:
        trend = tables.trend(indicator, unit_scope, period, engine)
        current = engine.compute(period, unit_scope.level, units=unit_scope.units()).get(
            (indicator.pk, unit_scope.unit_id))
        row = tables.Row(indicator, current, trend.last_year[-1], context["numerator_formula"],
                         context["denominator_formula"], context["target"])
        context.update({"row": row, "trend": trend, "charts": _chart_data(indicator, unit_scope, trend, unit_rows)})
    return render(request, "indicators/indicator_detail.html", context)


def _chart_data(indicator: Indicator, unit_scope, trend, unit_rows) -> dict:
    decimals = indicator.decimals
    target = (tables.as_float(indicator.target_value, 4)
              if indicator.has_threshold and indicator.target_value is not None else None)
    return {
        "unit": indicator.unit_label,
        "decimals": decimals,
        "target": target,
        "labels": {"value": _("This period"), "lastYear": _("Same period last year"),
                   "target": _("Target"), "met": str(tables.MET_LABELS[tables.MET]),
                   "notMet": str(tables.MET_LABELS[tables.NOT_MET]),
                   "undetermined": str(tables.MET_LABELS[tables.UNDETERMINED]),
                   "noTarget": str(tables.MET_LABELS[tables.NO_TARGET])},
        "trend": {
            "periods": [p.label for p in trend.periods],
            "values": [tables.as_float(v, decimals) for v in trend.values],
            "lastYear": [tables.as_float(v, decimals) for v in trend.last_year],
            "met": trend.met,
            "name": unit_scope.name,
        },
        "units": {
            "names": [u.unit.name for u in unit_rows],
            "values": [tables.as_float(u.row.value, decimals) for u in unit_rows],
            "met": [u.row.met for u in unit_rows],
        },
    }


@login_required
@require_GET
def indicator_units(request, indicator_pk):
    """The units one level down on one indicator (the table page loads it into a row by HTMX)."""
    indicator = _indicator(request, indicator_pk)
    context = _context(request, indicator=indicator)
    context["indicator"] = indicator
    unit_scope, period = context["unit_scope"], context["period"]
    unit_rows = []
    if unit_scope is not None:
        names = tables.element_names([indicator], unit_scope.county)
        children = tables.child_units(request.user, unit_scope, period)
        unit_rows = tables.unit_rows(indicator, unit_scope, period, children, names)
        context["child_level_label"] = (str(tables.LEVEL_LABELS[unit_scope.child_level])
                                        if unit_scope.child_level else "")
        context["child_applies"] = bool(unit_scope.child_level and indicator.applies_at(unit_scope.child_level))
    context.update({"unit_rows": unit_rows, "fragment": True})
    return render(request, "indicators/indicator_units.html", context)


@login_required
@require_GET
def indicator_export(request):
    """The table of the page as .xlsx, in the official layout."""
    context = _context(request)
    unit_scope, period = context["unit_scope"], context["period"]
    if unit_scope is None:
        raise Http404(_("Not found."))
    indicators = tables.visible_indicators(request.user, unit_scope)
    names = tables.element_names(indicators, unit_scope.county)
    rows = tables.indicator_rows(indicators, unit_scope, period, names)
    title, scope_label = export_title(unit_scope, period)
    content = exports.indicator_table_xlsx(title=title, scope_label=scope_label, period=period,
                                           rows=[export_row(r) for r in rows], on=context["today"])
    return xlsx_response(content, exports.indicator_table_filename(title, context["today"]))


def export_title(unit_scope, period: Period) -> tuple[str, str]:
    """The workbook's title and the scope line, in Chinese (an official form)."""
    with translation.override(OFFICIAL_LANGUAGE):
        title = _("%(unit)s%(period)s医共体监测指标表") % {"unit": unit_scope.name, "period": period.label}
        if unit_scope.level == "county":
            scope_label = unit_scope.county.name
        else:
            scope_label = f"{unit_scope.county.name} {unit_scope.name}"
    return title, scope_label


def export_row(row: tables.Row) -> dict:
    """A row of ``indicators.exports.indicator_table_xlsx``."""
    indicator, result = row.indicator, row.result
    return {
        "name": indicator.name,
        "unit_label": indicator.unit_label,
        "decimals": indicator.decimals,
        "value": row.value,
        "numerator": result.numerator if result else None,
        "denominator": result.denominator if result else None,
        "baseline": row.baseline,
        "target": exports.orientation_text(indicator),
        "met": {tables.MET: True, tables.NOT_MET: False}.get(row.met),
    }
