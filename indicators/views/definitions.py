"""Definitions kept by the county bureau: what is filed (data elements, report forms with their
rows) and what is computed and checked (indicators, validation rules).

Everyone with a grant in the county reads them (the shared catalogue included); the county's bureau
creates and changes the county's own rows; the shared catalogue is read-only here except for the
system administrator. Rows of another county answer 404 (``alliances.scoping``). List pages cost a
constant number of queries whatever the number of rows.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from alliances import scoping
from alliances.models import Institution, Region
from alliances.views.common import write_or_report
from core.clock import local_date
from core.periods import Period, PeriodError
from indicators.forms import (
    FACTOR_CHOICES,
    LEVEL_CHOICES,
    UNIT_SUGGESTIONS,
    DataElementForm,
    ElementFilterForm,
    IndicatorFilterForm,
    IndicatorForm,
    ReportFormForm,
    RuleFilterForm,
    ValidationRuleForm,
    county_codes,
    element_choices,
    form_element_formset,
    same_county,
)
from indicators.formula import FormulaError, check, parse
from indicators.history import parse_period
from indicators.models import DataElement, Filing, FormElement, Indicator, ReportForm, ValidationRule

PAGE_SIZE = 100
K = Institution.Kind


# Access -------------------------------------------------------------------------------------

def _bureau_only() -> str:
    return _("Only the county health bureau changes the data elements, report forms, indicators and "
             "validation rules of the county.")


def _county(user, region_pk, *, edit: bool = False) -> Region:
    """The county of a page: 404 when missing or foreign, 403 for a change the user may not make."""
    county = scoping.get_for_user(user, Region, region_pk)
    if not county.is_county:
        raise Http404(_("Not found."))
    if edit and not scoping.scope_of(user).can_change_county(county.pk):
        raise PermissionDenied(_bureau_only())
    return county


def _can_change(user, obj) -> bool:
    scope = scoping.scope_of(user)
    if obj.county_id is None:
        return scope.everything
    return scope.can_change_county(obj.county_id)


def _definition(user, model, pk, *, edit: bool = False, queryset=None):
    """A definition the user sees (404 otherwise); with ``edit``, 403 unless the user may change it."""
    base = queryset if queryset is not None else scoping.queryset_for(user, model)
    obj = scoping.get_for_user(user, model, pk, queryset=base.select_related("county"))
    if edit and not _can_change(user, obj):
        if obj.county_id is None:
            raise PermissionDenied(_("This row belongs to the shared catalogue: every county reads it, and only "
                                     "the system administrator changes it."))
        raise PermissionDenied(_bureau_only())
    return obj


def _origin_filter(qs, county: Region, origin: str):
    if origin == "shared":
        return qs.filter(county__isnull=True)
    if origin == "own":
        return qs.filter(county=county)
    return qs.filter(Q(county__isnull=True) | Q(county=county))


def _count(model, field: str, **filters):
    """A correlated count (no join multiplying the rows of the list)."""
    qs = model.objects.filter(**{field: OuterRef("pk")}, **filters).order_by().values(field)
    return Coalesce(Subquery(qs.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), Value(0))


def _kind_labels(kinds) -> list[str]:
    labels = dict(K.choices)
    return [str(labels.get(kind, kind)) for kind in kinds or []]


# Data elements ------------------------------------------------------------------------------

@login_required
def element_list(request, region_pk):
    """The county's data elements and the shared catalogue, with the county's forms that carry each."""
    user = request.user
    county = _county(user, region_pk)
    filters = ElementFilterForm(request.GET or None)
    filters.is_valid()  # invalid filters are shown on the form and ignored
    data = getattr(filters, "cleaned_data", {})
    qs = _origin_filter(scoping.queryset_for(user, DataElement), county, data.get("origin") or "")
    if data.get("q"):
        term = data["q"].strip()
        qs = qs.filter(Q(code__icontains=term) | Q(name__icontains=term) | Q(unit__icontains=term))
    if data.get("value_type"):
        qs = qs.filter(value_type=data["value_type"])
    if data.get("aggregation"):
        qs = qs.filter(aggregation=data["aggregation"])
    rows = FormElement.objects.filter(form__county=county).select_related("form").order_by("form__code")
    qs = qs.prefetch_related(Prefetch("form_elements", queryset=rows, to_attr="county_rows")).order_by(
        "-is_active", "code")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "indicators/def_element_list.html", {
        "county": county, "filters": filters, "page": page, "elements": page.object_list,
        "can_edit": scoping.scope_of(user).can_change_county(county.pk), "tab": "elements",
    })


@login_required
def element_create(request, region_pk):
    county = _county(request.user, region_pk, edit=True)
    form = DataElementForm(request.POST or None, county=county)
    if request.method == "POST" and form.is_valid():
        ok, element = write_or_report(form, form.save, on_failure=lambda: setattr(form.instance, "pk", None))
        if ok:
            messages.success(request, _("Data element %(name)s was created.") % {"name": element})
            return redirect("indicators:element_list", region_pk=county.pk)
    return render(request, "indicators/def_element_form.html", {
        "form": form, "county": county, "element": None, "units": UNIT_SUGGESTIONS})


@login_required
def element_edit(request, element_pk):
    element = _definition(request.user, DataElement, element_pk, edit=True)
    form = DataElementForm(request.POST or None, instance=element, county=element.county)
    if request.method == "POST" and form.is_valid():
        ok, _saved = write_or_report(form, form.save)
        if ok:
            messages.success(request, _("Data element %(name)s was saved.") % {"name": element})
            if element.county_id:
                return redirect("indicators:element_list", region_pk=element.county_id)
            return redirect("home")
    return render(request, "indicators/def_element_form.html", {
        "form": form, "county": element.county, "element": element, "units": UNIT_SUGGESTIONS})


# Report forms -------------------------------------------------------------------------------

@login_required
def report_form_list(request, region_pk):
    user = request.user
    county = _county(user, region_pk)
    forms = list(
        scoping.queryset_for(user, ReportForm).filter(county=county)
        .annotate(row_count=_count(FormElement, "form"), filing_count=_count(Filing, "form"))
        .prefetch_related(Prefetch("institutions", queryset=Institution.objects.order_by("name")))
        .order_by("-is_active", "code")
    )
    for form in forms:
        form.kind_labels = _kind_labels(form.institution_kinds)
    return render(request, "indicators/def_form_list.html", {
        "county": county, "forms": forms, "tab": "forms",
        "can_edit": scoping.scope_of(user).can_change_county(county.pk),
    })


def example_dates(form: ReportForm, today) -> dict:
    """The last complete period of the form's kind before ``today``, with its due and lock dates."""
    period = Period.containing_date(form.kind, today).previous
    return {"period": period, "due": form.due_date(period), "lock": form.lock_date(period)}


@login_required
def report_form_detail(request, form_pk):
    """A form: its rows grouped by section, who files it, when it is due and locked, and the
    validation rules that apply to its elements."""
    user = request.user
    form = _definition(user, ReportForm, form_pk)
    rows = list(form.form_elements.select_related("element").order_by("order", "pk"))
    sections: list[dict] = []
    by_section: dict[str, dict] = {}
    for row in rows:
        row.kind_labels = _kind_labels(row.institution_kinds)
        group = by_section.get(row.section)
        if group is None:
            group = by_section[row.section] = {"name": row.section, "rows": []}
            sections.append(group)
        group["rows"].append(row)
    listed = list(form.institutions.order_by("name"))
    filers = []
    if form.filer_level == ReportForm.FilerLevel.INSTITUTION:
        filers = list(Institution.objects.filter(county_id=form.county_id, is_active=True).filter(
            Q(kind__in=form.institution_kinds or []) | Q(pk__in=[i.pk for i in listed])).order_by("kind", "name"))
    codes = {row.element.code for row in rows}
    rules = []
    for rule in same_county(ValidationRule, form.county).filter(is_active=True).order_by("code"):
        try:
            used = set(parse(rule.left).codes) | set(parse(rule.right).codes)
        except FormulaError:
            continue
        if used <= codes:
            rules.append(rule)
    return render(request, "indicators/def_form_detail.html", {
        "form": form, "county": form.county, "sections": sections, "row_count": len(rows),
        "kind_labels": _kind_labels(form.institution_kinds), "listed": listed, "filers": filers,
        "example": example_dates(form, timezone.localdate()), "rules": rules,
        "filing_count": Filing.objects.filter(form=form).count(),
        "can_edit": _can_change(user, form), "tab": "forms",
    })


def _form_page(request, county: Region, report_form: ReportForm | None):
    """Create or edit a form and its rows on one page; nothing is saved unless both are valid."""
    instance = report_form or ReportForm(county=county)
    header = ReportFormForm(request.POST or None, instance=report_form, county=county, prefix="form")
    elements = element_choices(county)
    formset_class = form_element_formset(extra=3 if report_form else 8)
    rows_qs = (FormElement.objects.filter(form=report_form).select_related("element").order_by("order", "pk")
               if report_form else FormElement.objects.none())
    rows = formset_class(request.POST or None, instance=instance, queryset=rows_qs, prefix="rows",
                         form_kwargs={"elements": elements})
    if request.method == "POST":
        header_ok, rows_ok = header.is_valid(), rows.is_valid()
        if header_ok and rows_ok:
            unsaved = [f.instance for f in rows.forms if f.instance.pk is None]
            if report_form is None:
                unsaved.append(header.instance)

            def forget_unsaved():
                # After a rolled-back write, what was new must not look saved when the page is shown again.
                for obj in unsaved:
                    obj.pk = None

            ok, saved = write_or_report(header, lambda: _save_form(header, rows), on_failure=forget_unsaved)
            if ok:
                if report_form:
                    messages.success(request, _("Report form %(name)s was saved.") % {"name": saved.name})
                else:
                    messages.success(request, _("Report form %(name)s was created.") % {"name": saved.name})
                return redirect("indicators:report_form_detail", form_pk=saved.pk)
    sections = sorted({row.section for row in rows_qs if row.section}) if report_form else []
    return render(request, "indicators/def_form_form.html", {
        "form": header, "rows": rows, "county": county, "report_form": report_form, "sections": sections,
        "tab": "forms",
    })


def _save_form(header: ReportFormForm, rows) -> ReportForm:
    report_form = header.save()
    rows.instance = report_form
    changed = rows.save(commit=False)
    # Removed rows go first, so that an element moved to another row does not meet itself.
    for row in rows.deleted_objects:
        row.delete()
    next_order = max([f.instance.order or 0 for f in rows.forms if f.instance.pk and f not in rows.deleted_forms]
                     + [0]) + 10
    for row in changed:
        row.form = report_form
        if row.order is None:
            row.order, next_order = next_order, next_order + 10
        row.save()
    return report_form


@login_required
def report_form_create(request, region_pk):
    county = _county(request.user, region_pk, edit=True)
    return _form_page(request, county, None)


@login_required
def report_form_edit(request, form_pk):
    report_form = _definition(request.user, ReportForm, form_pk, edit=True)
    return _form_page(request, report_form.county, report_form)


# Indicators -------------------------------------------------------------------------------

@login_required
def indicator_definitions(request, region_pk):
    user = request.user
    county = _county(user, region_pk)
    visible = _origin_filter(scoping.queryset_for(user, Indicator), county, "")
    categories = sorted(set(visible.exclude(category="").values_list("category", flat=True)))
    filters = IndicatorFilterForm(request.GET or None, categories=categories)
    filters.is_valid()
    data = getattr(filters, "cleaned_data", {})
    qs = _origin_filter(scoping.queryset_for(user, Indicator), county, data.get("origin") or "")
    if data.get("q"):
        term = data["q"].strip()
        qs = qs.filter(Q(code__icontains=term) | Q(name__icontains=term) | Q(numerator__icontains=term)
                       | Q(denominator__icontains=term))
    if data.get("category"):
        qs = qs.filter(category=data["category"])
    page = Paginator(qs.order_by("-is_active", "county_id", "order", "code"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    levels = dict(LEVEL_CHOICES)
    for indicator in page.object_list:
        indicator.level_labels = [str(levels.get(level, level)) for level in indicator.levels or []]
    return render(request, "indicators/def_indicator_list.html", {
        "county": county, "filters": filters, "page": page, "indicators": page.object_list, "tab": "indicators",
        "can_edit": scoping.scope_of(user).can_change_county(county.pk),
    })


def _indicator_page(request, county: Region | None, indicator: Indicator | None, *, home_county: Region | None):
    form = IndicatorForm(request.POST or None, instance=indicator, county=county)
    if request.method == "POST" and form.is_valid():
        ok, saved = write_or_report(form, form.save,
                                    on_failure=None if indicator else lambda: setattr(form.instance, "pk", None))
        if ok:
            if indicator:
                messages.success(request, _("Indicator %(name)s was saved.") % {"name": saved.name})
            else:
                messages.success(request, _("Indicator %(name)s was created.") % {"name": saved.name})
            if home_county is not None:
                return redirect("indicators:indicator_definitions", region_pk=home_county.pk)
            return redirect("home")
    return render(request, "indicators/def_indicator_form.html", {
        "form": form, "county": home_county, "indicator": indicator, "tab": "indicators",
        "factors": FACTOR_CHOICES,
    })


@login_required
def indicator_create(request, region_pk):
    county = _county(request.user, region_pk, edit=True)
    return _indicator_page(request, county, None, home_county=county)


@login_required
def indicator_edit(request, indicator_pk):
    indicator = _definition(request.user, Indicator, indicator_pk, edit=True)
    return _indicator_page(request, indicator.county, indicator, home_county=indicator.county)


FORMULA_FIELDS = {"numerator": False, "denominator": False, "left": True, "right": True}


@login_required
@require_GET
def formula_check(request, region_pk):
    """HTMX: the formula in field ``field`` checked against the county's codes — the error in Chinese,
    or that it is valid with the elements it names."""
    county = _county(request.user, region_pk)
    field = request.GET.get("field", "")
    if field not in FORMULA_FIELDS:
        return render(request, "indicators/def_formula_check.html", {"empty": True})
    # The input is named after the field, with the form's prefix if any (``rule-left``).
    text = next((value for key, value in request.GET.items() if key == field or key.endswith(f"-{field}")), "")
    text = text.strip()
    context = {"field": field}
    if not text:
        context["empty"] = True
        context["optional"] = field == "denominator"
        return render(request, "indicators/def_formula_check.html", context)
    try:
        formula = check(text, county_codes(county), plain=FORMULA_FIELDS[field])
    except FormulaError as exc:
        context["error"] = str(exc)
    else:
        names = {e.code: e for e in same_county(DataElement, county).filter(code__in=formula.codes)}
        context["elements"] = [names[code] for code in formula.codes if code in names]
    return render(request, "indicators/def_formula_check.html", context)


# Validation rules -------------------------------------------------------------------------

@login_required
def rule_list(request, region_pk):
    """The rules a filing of the county is checked by (the shared ones and the county's own), with the
    forms each applies to; the bureau adds rules here and edits one with ``?rule=<pk>``."""
    user = request.user
    county = _county(user, region_pk)
    scope = scoping.scope_of(user)
    can_edit = scope.can_change_county(county.pk)
    editing = None
    if request.GET.get("rule"):
        visible = _origin_filter(scoping.queryset_for(user, ValidationRule), county, "")
        editing = _definition(user, ValidationRule, request.GET["rule"], edit=True, queryset=visible)
    elif request.method == "POST" and not can_edit:
        raise PermissionDenied(_bureau_only())
    form = None
    if editing is not None or can_edit:
        form = ValidationRuleForm(request.POST or None, instance=editing, prefix="rule",
                                  county=editing.county if editing is not None else county)
        if request.method == "POST" and form.is_valid():
            ok, saved = write_or_report(form, form.save,
                                        on_failure=None if editing else lambda: setattr(form.instance, "pk", None))
            if ok:
                if editing:
                    messages.success(request, _("Validation rule %(code)s was saved.") % {"code": saved.code})
                else:
                    messages.success(request, _("Validation rule %(code)s was added.") % {"code": saved.code})
                return redirect("indicators:rule_list", region_pk=county.pk)
    filters = RuleFilterForm(request.GET or None)
    filters.is_valid()
    data = getattr(filters, "cleaned_data", {})
    qs = _origin_filter(scoping.queryset_for(user, ValidationRule), county, data.get("origin") or "")
    if data.get("q"):
        term = data["q"].strip()
        qs = qs.filter(Q(code__icontains=term) | Q(left__icontains=term) | Q(right__icontains=term)
                       | Q(message__icontains=term))
    page = Paginator(qs.order_by("-is_active", "county_id", "code"), PAGE_SIZE).get_page(request.GET.get("page"))
    # The county's forms each rule applies to (all its elements are on the form): one query.
    form_codes: dict[int, set[str]] = defaultdict(set)
    form_names: dict[int, str] = {}
    for form_id, name, code in FormElement.objects.filter(form__county=county, form__is_active=True).values_list(
            "form_id", "form__name", "element__code"):
        form_codes[form_id].add(code)
        form_names[form_id] = name
    for rule in page.object_list:
        try:
            used = set(parse(rule.left).codes) | set(parse(rule.right).codes)
        except FormulaError:
            used = None
        rule.forms = [(pk, form_names[pk]) for pk in sorted(form_codes) if used and used <= form_codes[pk]]
        rule.formula_broken = used is None
    return render(request, "indicators/def_rule_list.html", {
        "county": county, "filters": filters, "page": page, "rules": page.object_list, "form": form,
        "editing": editing, "can_edit": can_edit, "tab": "rules",
    })


# First live periods --------------------------------------------------------------------------

@login_required
def report_form_first_periods(request, region_pk):
    """The first live period of every active form of the county on one page (上线准备): the periods
    before it are history. Read by the form's own rules; all saved, or none when one is wrong."""
    user = request.user
    county = _county(user, region_pk, edit=True)
    forms = list(ReportForm.objects.filter(county=county, is_active=True).order_by("code"))
    errors: dict[int, str] = {}
    values = {f.pk: f.first_period for f in forms}
    if request.method == "POST":
        changed = []
        for form in forms:
            text = (request.POST.get(f"first_{form.pk}") or "").strip()
            values[form.pk] = text
            first, error = _first_period_of(form, text)
            if error:
                errors[form.pk] = error
            elif first != form.first_period:
                form.first_period = first
                changed.append(form)
        if not errors:
            if changed:
                ReportForm.objects.bulk_update(changed, ["first_period"])
            messages.success(request, ngettext("The first live period of %(n)d form was saved.",
                                               "The first live periods of %(n)d forms were saved.", len(changed))
                             % {"n": len(changed)})
            return redirect("indicators:report_form_list", region_pk=county.pk)
    rows = [{"form": f, "value": values[f.pk], "error": errors.get(f.pk, ""),
             "example": str(Period.containing_date(f.kind, local_date(timezone.now())))} for f in forms]
    return render(request, "indicators/def_first_periods.html", {
        "county": county, "rows": rows, "tab": "forms", "has_errors": bool(errors)},
        status=400 if errors else 200)


def _first_period_of(form: ReportForm, text: str) -> tuple[str, str]:
    """``text`` as the form's first period (its canonical form), or the reason it cannot be."""
    if not text:
        return "", ""
    try:
        period = parse_period(text, form.kind)  # as clerks write it: 2026年1月, 2026年第一季度, 2026Q1
    except PeriodError as exc:
        return "", str(exc)
    return str(period), ""
