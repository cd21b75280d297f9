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
from core import pending
from core.clock import local_date, request_now
from core.http import xlsx_response
from core.imports import mappings
from core.periods import Period, PeriodKind
from finance import procurement, procurement_register
from finance import procurement_import as procurement_import_module
from finance.budget_views import _can_edit
from finance.budgets import members_of, parse_amount
from finance.exports import procurement_filename, procurement_xlsx
from finance.importing import needs_mapping
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



IMPORT_SESSION_KEY = "finance_procurement_import"
CLAIM_KIND = "procurement"  # core.pending.claim: one confirmation applies, a second click is told so
FILES_KIND = "procurement-files"  # the uploaded files themselves, for a new column mapping


def _import_editable(request, alliance_pk) -> Alliance:
    alliance = scoping.get_for_user(request.user, Alliance, alliance_pk)
    if not _can_edit(request.user, alliance):
        raise PermissionDenied(_("Only the alliance office or the county bureau enters purchases."))
    return alliance


def _import_owner(request, alliance: Alliance) -> dict:
    return {"user": request.user.pk, "alliance": alliance.pk}


@login_required
def procurement_import(request, alliance_pk):
    """Upload → check → preview (each month of the file: members × categories, with what changes;
    the columns of the file and the field each fills, to map); nothing is saved before the
    confirmation."""
    alliance = _import_editable(request, alliance_pk)
    today = local_date(request_now(request))
    context = _import_context(request, alliance, today)
    if request.method != "POST":
        return render(request, "finance/procurement_import.html", context)
    saved_for = mappings.saver(procurement_register.NAME, alliance.county_id)
    if "remap" in request.POST:  # the same file again, with the columns mapped as the user said
        found = mappings.remapped(request, FILES_KIND, owner=_import_owner(request, alliance))
        if found is None:
            context["errors"] = [_("This preview is no longer valid: it has expired, has been imported already, or "
                                   "belongs to another session. Nothing was saved. Upload the file again.")]
            return render(request, "finance/procurement_import.html", context, status=400)
        data, name, _extra, given, mapping_errors = found
        parsed = procurement_import_module.read_data(data, name, alliance, today=today, mapping=given,
                                                     saved_for=saved_for)
        return _after_reading(request, alliance, today, parsed, file_token=request.POST["remap"],
                              mapping_errors=mapping_errors)
    upload = request.FILES.get("file")
    if upload is None:
        context["errors"] = [_("Choose the .xlsx file to import.")]
        return render(request, "finance/procurement_import.html", context, status=400)
    parsed = procurement_import_module.read(upload, alliance, today=today, saved_for=saved_for)
    return _after_reading(request, alliance, today, parsed)


def _import_context(request, alliance: Alliance, today) -> dict:
    return {"alliance": alliance, "year": _year(request.GET.get("year"), today),
            "categories": list(Purchase.Category)}


def _after_reading(request, alliance: Alliance, today, parsed, *, file_token: str = "", mapping_errors=()):
    context = _import_context(request, alliance, today)
    plan = parsed.columns
    remapped = bool(file_token)  # read with the user's mapping
    if plan is not None:
        if parsed.data is not None and not file_token:
            file_token = pending.store_file(request.session, FILES_KIND, data=parsed.data, name=parsed.name,
                                            owner=_import_owner(request, alliance), extra={"columns": plan.to_json()})
        context.update(columns=plan.to_json(), remap_token=file_token, mapping_errors=list(mapping_errors),
                       remap_url=reverse("finance:procurement_import", kwargs={"alliance_pk": alliance.pk}),
                       mapping_open=bool(mapping_errors) or needs_mapping(plan, chosen=remapped))
    if not parsed.ok:
        context["errors"] = parsed.errors
        return render(request, "finance/procurement_import.html", context, status=400)
    request.session[IMPORT_SESSION_KEY] = {
        "alliance": alliance.pk, "user": request.user.pk, "filename": parsed.name, "claim": pending.new_token(),
        "columns": plan.to_json(),
        "entries": [[str(month), institution, category, text]
                    for month, entries in parsed.months.items()
                    for (institution, category), text in entries.items()]}
    context.update(preview=_preview(alliance, parsed.months), cells=parsed.cells, rows=parsed.rows,
                   filename=parsed.name)
    return render(request, "finance/procurement_import.html", context)


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
    alliance = _import_editable(request, alliance_pk)
    stored = request.session.get(IMPORT_SESSION_KEY)
    if stored and stored.get("done") and stored.get("alliance") == alliance.pk:  # a second click, after the first
        messages.info(request, pending.ALREADY_CONFIRMED)
        return redirect(stored.get("url") or reverse("finance:procurement"))
    if not stored or stored.get("alliance") != alliance.pk or stored.get("user") != request.user.pk:
        messages.error(request, _("Nothing to import: upload the file again."))
        return redirect("finance:procurement_import", alliance_pk=alliance.pk)
    months: dict = {}
    for month, institution, category, text in stored["entries"]:
        months.setdefault(Period.parse(month), {})[(int(institution), category)] = text
    latest = max(months, key=str) if months else None
    done_url = f"{reverse('finance:procurement')}?alliance={alliance.pk}" + (f"&year={latest.year}" if latest else "")
    claim = stored.get("claim") or pending.new_token()
    if not pending.claim(CLAIM_KIND, claim):  # two clicks at once: the other one applies it
        messages.info(request, pending.ALREADY_CONFIRMED)
        return redirect(done_url)
    with pending.released_on_error(CLAIM_KIND, claim):
        errors = procurement.save_months(alliance, months, user=request.user, now=request_now(request))
    del request.session[IMPORT_SESSION_KEY]
    if errors:  # the members changed since the preview
        pending.release(CLAIM_KIND, claim)
        for error in errors:
            messages.error(request, error)
        return redirect("finance:procurement_import", alliance_pk=alliance.pk)
    request.session[IMPORT_SESSION_KEY] = {"done": True, "alliance": alliance.pk, "url": done_url}
    procurement_register.finish(request, alliance, filename=stored.get("filename", ""), months=months,
                                columns=stored.get("columns") or {})
    messages.success(request, _("Imported %(count)s months of purchases.") % {"count": len(months)})
    return redirect(done_url)
