"""统一采购 pages: an alliance's purchasing account (the number masked) and its members' purchases by
category — the year by member and by month — with a month's grid to enter (alliance office or
bureau) and the year as .xlsx."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alliances import scoping
from alliances.models import Alliance
from core.clock import local_date, request_now
from core.http import xlsx_response
from core.periods import Period, PeriodKind
from finance import procurement, procurement_register
from finance import procurement_import as procurement_import_module
from finance.budget_views import _can_edit
from finance.budgets import members_of, parse_amount
from finance.exports import procurement_filename, procurement_xlsx
from finance.import_pages import KeptImportPage, failed
from finance.models import ProcurementAccount, Purchase
from finance.views import _visible_counties, _year


class AccountForm(forms.ModelForm):
    class Meta:
        model = ProcurementAccount
        fields = ["name", "bank", "number", "opened_on"]
        widgets = {"opened_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}


def _alliances(request) -> list[Alliance]:
    scope = scoping.scope_of(request.user)
    counties = _visible_counties(request.user)
    qs = Alliance.objects.filter(county__in=counties, is_active=True).select_related("county").order_by("county_id", "pk")
    if not scope.everything:
        qs = qs.filter(Q(county_id__in=scope.view_counties) | Q(pk__in=scope.view_alliances))
    return list(qs)


@login_required
def procurement_page(request):
    today = local_date(request_now(request))
    alliances = _alliances(request)
    if not alliances:
        raise Http404(_("Not found."))
    wanted = request.GET.get("alliance")
    alliance = next((a for a in alliances if str(a.pk) == wanted), alliances[0])
    year = _year(request.GET.get("year"), today)
    members = members_of(alliance, year)
    summary = procurement.year_summary(alliance, year)
    categories = list(Purchase.Category)
    member_rows = [{"member": m, "values": [summary["by_member"].get(m.pk, {}).get(c.value) for c in categories]}
                   for m in members]
    month_rows = [{"month": p, "values": [summary["by_month"].get(str(p), {}).get(c.value) for c in categories]}
                  for p in summary["months"]]
    account = ProcurementAccount.objects.filter(alliance=alliance).first()
    can_edit = _can_edit(request.user, alliance)
    return render(request, "finance/procurement.html", {
        "alliances": alliances, "alliance": alliance, "year": year, "categories": categories,
        "member_rows": member_rows, "month_rows": month_rows, "summary": summary, "account": account,
        "can_edit": can_edit, "account_form": AccountForm(instance=account) if can_edit else None,
        "this_month": Period.containing_date(PeriodKind.MONTH, today).previous,
        "years": list(range(today.year + 1, today.year - 5, -1)),
    })


@login_required
def procurement_month(request, alliance_pk):
    alliance = scoping.get_for_user(request.user, Alliance, alliance_pk)
    if not _can_edit(request.user, alliance):
        raise PermissionDenied(_("Only the alliance office or the county bureau enters purchases."))
    today = local_date(request_now(request))
    month = procurement.parse_month(request.GET.get("month") or request.POST.get("month"),
                                    Period.containing_date(PeriodKind.MONTH, today).previous)
    members = members_of(alliance, month.year)
    categories = list(Purchase.Category)
    errors, posted = [], {}
    if request.method == "POST":
        entries = {(m.pk, c.value): request.POST.get(f"p_{m.pk}_{c.value}", "") for m in members for c in categories}
        errors = procurement.save_month(alliance, month, entries, user=request.user, now=request_now(request))
        if not errors:
            messages.success(request, _("Saved."))
            return redirect(f"{reverse('finance:procurement')}?alliance={alliance.pk}&year={month.year}")
        posted = {f"p_{i}_{c}": text for (i, c), text in entries.items()}
    current = procurement.month_values(alliance, month)
    rows = []
    for member in members:
        cells = []
        for category in categories:
            name = f"p_{member.pk}_{category.value}"
            value = current.get((member.pk, category.value))
            cells.append({"name": name, "label": f"{member.name} {category.label}",
                          "input": posted.get(name, "") if posted else ("" if value is None else str(value))})
        rows.append({"member": member, "cells": cells})
    return render(request, "finance/procurement_month.html", {
        "alliance": alliance, "month": month, "categories": categories, "rows": rows, "errors": errors,
    }, status=400 if errors else 200)


@login_required
@require_POST
def procurement_account(request, alliance_pk):
    alliance = scoping.get_for_user(request.user, Alliance, alliance_pk)
    if not _can_edit(request.user, alliance):
        raise PermissionDenied(_("Only the alliance office or the county bureau records the account."))
    form = AccountForm(request.POST, instance=ProcurementAccount.objects.filter(alliance=alliance).first())
    if form.is_valid():
        account = form.save(commit=False)
        account.alliance = alliance
        account.save()
        messages.success(request, _("Saved."))
    else:
        messages.error(request, _("Account: nothing saved — %(errors)s") % {"errors": "；".join(
            f"{form.fields[name].label}：{'，'.join(errs)}" for name, errs in form.errors.items())})
    return redirect(f"{reverse('finance:procurement')}?alliance={alliance.pk}")


@login_required
def procurement_export(request):
    today = local_date(request_now(request))
    alliances = _alliances(request)
    alliance = next((a for a in alliances if str(a.pk) == request.GET.get("alliance")), None)
    if alliance is None:
        raise Http404(_("Not found."))
    year = _year(request.GET.get("year"), today)
    content = procurement_xlsx(alliance=alliance, year=year, members=members_of(alliance, year),
                               summary=procurement.year_summary(alliance, year),
                               account=ProcurementAccount.objects.filter(alliance=alliance).first(), on=today)
    return xlsx_response(content, procurement_filename(alliance, year, today))



IMPORT_SESSION_KEY = "finance_procurement_import"  # the preview's token (``KeptImportPage``)
PENDING_KIND = "procurement"  # the previews kept for the confirmation, claimed once
FILES_KIND = "procurement-files"  # the uploaded files themselves, for a new column mapping


def _import_editable(request, alliance_pk) -> Alliance:
    alliance = scoping.get_for_user(request.user, Alliance, alliance_pk)
    if not _can_edit(request.user, alliance):
        raise PermissionDenied(_("Only the alliance office or the county bureau enters purchases."))
    return alliance


def _months(payload: dict) -> dict:
    months: dict = {}
    for month, institution, category, text in payload["entries"]:
        months.setdefault(Period.parse(month), {})[(int(institution), category)] = text
    return months


def _done_url(alliance: Alliance, months) -> str:
    """The procurement page of the alliance, in the year of the file's latest month."""
    latest = max(months, key=str) if months else None
    return f"{reverse('finance:procurement')}?alliance={alliance.pk}" + (f"&year={latest.year}" if latest else "")


class ProcurementImportPage(KeptImportPage):
    """Upload → check → preview (each month of the file: members × categories, with what changes;
    the columns of the file and the field each fills, to map); nothing is saved before the
    confirmation, which replaces each month the file holds."""

    register, pending_kind, files_kind = procurement_register.NAME, PENDING_KIND, FILES_KIND
    session_key, owner_key, template = IMPORT_SESSION_KEY, "alliance", "finance/procurement_import.html"

    def mapping_scope(self, scope) -> int:
        return scope.county_id

    def url(self, scope) -> str:
        return reverse("finance:procurement_import", kwargs={"alliance_pk": scope.pk})

    def done_url(self, scope) -> str:
        return reverse("finance:procurement")

    def result_url(self, scope, parsed) -> str:
        return _done_url(scope, parsed.months)

    def read(self, request, scope, upload, *, saved_for):
        return procurement_import_module.read(upload, scope, today=local_date(request_now(request)),
                                              saved_for=saved_for)

    def read_kept(self, request, scope, data, name, *, mapping, saved_for):
        return procurement_import_module.read_data(data, name, scope, today=local_date(request_now(request)),
                                                   mapping=mapping, saved_for=saved_for)

    def payload(self, read, plan, extra) -> dict:
        return {**super().payload(read, plan, extra),
                "entries": [[str(month), institution, category, text]
                            for month, entries in read.parsed.months.items()
                            for (institution, category), text in entries.items()]}

    def apply(self, request, scope, plan, payload):
        errors = procurement.save_months(scope, _months(payload), user=request.user, now=request_now(request))
        if errors:
            raise failed(errors)

    def finish(self, request, scope, plan, payload, result) -> str:
        months = _months(payload)
        procurement_register.finish(request, scope, filename=payload["file"], months=months,
                                    columns=payload["columns"])
        messages.success(request, _("Imported %(count)s months of purchases.") % {"count": len(months)})
        return _done_url(scope, months)

    def context(self, request, scope) -> dict:
        return {"alliance": scope, "year": _year(request.GET.get("year"), local_date(request_now(request))),
                "categories": list(Purchase.Category)}

    def preview_context(self, request, scope, parsed) -> dict:
        return {"preview": _preview(scope, parsed.months), "cells": parsed.cells, "rows": parsed.rows,
                "filename": parsed.name}


PAGE = ProcurementImportPage()


@login_required
def procurement_import(request, alliance_pk):
    return PAGE.handle(request, _import_editable(request, alliance_pk))


def _preview(alliance: Alliance, months: dict) -> list[dict]:
    """Each month of the file: its members' rows with the amounts and how many cells change."""
    categories = list(Purchase.Category)
    result = []
    for month in sorted(months, key=str):
        entries = months[month]
        current = procurement.month_values(alliance, month)
        rows, changed = [], 0
        for member in members_of(alliance, month.year):
            values = []
            for category in categories:
                text = entries.get((member.pk, category.value), "")
                new = parse_amount(text) if text else None
                old = current.get((member.pk, category.value))
                changed += old != new
                values.append({"value": new, "changed": old != new})
            rows.append({"member": member, "values": values})
        result.append({"month": month, "rows": rows, "changed": changed})
    return result


@login_required
@require_POST
def procurement_import_confirm(request, alliance_pk):
    return PAGE.confirm(request, _import_editable(request, alliance_pk))
