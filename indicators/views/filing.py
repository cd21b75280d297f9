"""Filing pages: 我的填报 (what is due, with deadlines and statuses), the filing grid (save a
draft, submit with comments on warnings), review (approve, return with a reason, unlock), the
history of every value, the review queue and completeness."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alliances import scoping
from alliances.models import Alliance, Institution, Region
from core.clock import local_date, request_now
from core.periods import Period, PeriodError
from indicators import permissions, selectors
from indicators.models import DataElement, Filing, ReportForm, ValueAudit
from indicators.services import filings as service

PAGE_SIZE = 60
_SPACES = re.compile(r"[\s,，]")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．－", "0123456789.-")
MISSING_MARKS = {"", "-", "—", "－", "/"}


def parse_value(text: str, element: DataElement) -> Decimal | None:
    """A cell's text as a Decimal (None when empty or "-"); ValueError with a Chinese message."""
    cleaned = _SPACES.sub("", (text or "").translate(_FULL_WIDTH))
    if cleaned in MISSING_MARKS:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(_("“%(text)s” is not a number.") % {"text": text.strip()}) from None
    if not value.is_finite():
        raise ValueError(_("“%(text)s” is not a number.") % {"text": text.strip()})
    if value < 0:
        raise ValueError(_("A figure cannot be negative."))
    if value != value.quantize(Decimal(1).scaleb(-element.decimal_places)) and element.decimal_places == 0:
        raise ValueError(_("This figure is a whole number."))
    if abs(value) >= Decimal("1e15"):
        raise ValueError(_("This figure is too large."))
    return value


def _today(request):
    return local_date(request_now(request))


PAGE_RELATED = ("form", "form__county", "institution", "county")
SAVE_RELATED = ("form", "institution")  # what a save needs: the form's days, the filer's kind
# The columns a draft save reads (may the user file it, may it still change, what to write): the
# grid save is the month end's busiest request; a save that is refused reads the filing again in
# full for the page.
SAVE_ONLY = ("form", "county", "institution", "period", "period_start", "period_end", "status", "version",
             "reopened_until", "form__county", "form__lock_day", "form__rows_version", "institution__kind",
             "institution__is_active", "institution__parent")


def _filing_for(user, filing_pk, related: tuple[str, ...] = PAGE_RELATED, only: tuple[str, ...] = ()) -> Filing:
    """The filing, if the user sees it (404 otherwise). Few joins and no ordering: joined with the
    three people on it as well (nine tables), PostgreSQL spent some 6 ms *planning* this one-row
    read on every grid request, more than a save's writes (``manage.py bench_load``). The page
    reads the submitter and the reviewer by their key, only when it shows them.

    A filer's own filing (``permissions.files_as_own``, the month end's every request) is read by
    its key alone: building and planning the scoped query cost a third of a grid save. Any other
    filing, and a key that is not the user's, goes through the scoped read (so an outsider's 404
    is the same as for a filing that does not exist)."""
    try:
        pk = int(filing_pk)
    except (TypeError, ValueError):
        pk = None
    if pk is not None:
        direct = Filing.objects.select_related(*related).order_by()
        if only:
            direct = direct.only(*only)
        filing = direct.filter(pk=pk).first()
        if filing is not None and permissions.files_as_own(user, filing):
            return filing
    qs = scoping.queryset_for(user, Filing).select_related(*related).order_by()
    if only:
        qs = qs.only(*only)
    return scoping.get_for_user(user, Filing, filing_pk, queryset=qs)


@login_required
def my_filings(request):
    """Every form × period due for the user's institutions, what needs doing first."""
    today = _today(request)
    rows = selectors.my_filing_rows(request.user, today)
    status = request.GET.get("status", "")
    if status == "todo":
        rows = [r for r in rows if r.status in (Filing.Status.RETURNED, Filing.Status.DRAFT, selectors.NOT_STARTED)]
    elif status in selectors.STATUS_LABELS:
        rows = [r for r in rows if r.status == status]
    counts = {key: 0 for key in selectors.STATUS_LABELS}
    for row in selectors.my_filing_rows(request.user, today) if status else rows:
        counts[row.status] += 1
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "indicators/my_filings.html", {
        "page": page, "rows": page.object_list, "counts": counts, "status": status, "today": today,
        "status_labels": selectors.STATUS_LABELS,
        "late": sum(1 for r in rows if not r.is_filed and r.days_late > 0),
    })


@login_required
@require_POST
def filing_open(request):
    """Start (or continue) the filing of a form × institution × period and go to its grid."""
    user = request.user
    form = scoping.get_for_user(user, ReportForm, request.POST.get("form"))
    institution = None
    if form.filer_level == ReportForm.FilerLevel.INSTITUTION:
        institution = scoping.get_for_user(user, Institution, request.POST.get("institution"))
    try:
        period = Period.parse(request.POST.get("period", ""))
    except PeriodError:
        raise Http404(_("Not found.")) from None
    if not permissions.can_file(user, form, institution.pk if institution else None):
        raise PermissionDenied(_("Only the institution's own filers, its alliance office or the county bureau "
                                 "file this form."))
    today = _today(request)
    first = form.files_from()
    if period.end >= today or (first and period.start < first.start):
        messages.error(request, _("%(period)s cannot be filed: it has not ended yet or comes before the form's "
                                  "first period.") % {"period": period.label})
        return redirect("indicators:my_filings")
    try:
        filing = service.open_filing(form, institution, period, user=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("indicators:my_filings")
    return redirect("indicators:filing_detail", filing_pk=filing.pk)


def _grid(filing: Filing, values: dict[int, Decimal | None], entered: dict[int, str] | None = None,
          errors: dict[int, str] | None = None):
    """The grid's rows: element, section, entered text, errors, reference values (one query)."""
    rows = service.form_rows(filing.form, service.filing_kind(filing))
    refs = selectors.reference_values(filing)
    grid, section = [], None
    for number, row in enumerate(rows, start=1):
        element = row.element
        value = values.get(element.pk)
        grid.append({
            "number": number, "row": row, "element": element,
            "section": row.section if row.section != section else None,
            "value": value,
            "text": entered.get(element.pk, "") if entered is not None else ("" if value is None else _plain(value)),
            "error": (errors or {}).get(element.pk),
            "previous": refs["previous"].get(element.pk),
            "last_year": refs["last_year"].get(element.pk),
        })
        section = row.section
    return grid


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _stored_values(filing: Filing) -> dict[int, Decimal | None]:
    return dict(filing.values.values_list("element_id", "value"))


@login_required
def filing_detail(request, filing_pk):
    """The filing grid: one row per data element with last year's and the previous period's value."""
    user = request.user
    draft_save = request.method == "POST" and request.POST.get("action") == "save"
    if draft_save:
        filing = _filing_for(user, filing_pk, SAVE_RELATED, SAVE_ONLY)
    else:
        filing = _filing_for(user, filing_pk, SAVE_RELATED if request.method == "POST" else PAGE_RELATED)
    today = _today(request)
    can_file = permissions.can_file_filing(user, filing)
    editable = can_file and service.may_edit_on(filing, today)
    stored = None  # read only for the page: a save that succeeds redirects
    entered, errors, comments = None, {}, {}
    findings = None
    if request.method == "POST":
        if not editable:
            if not can_file:
                raise PermissionDenied(_("Only the institution's own filers, its alliance office or the county "
                                         "bureau file this form."))
            messages.error(request, _("This filing can no longer be changed."))
            return redirect("indicators:filing_detail", filing_pk=filing.pk)
        rows = service.cached_form_rows(filing.form, service.filing_kind(filing))
        entered = {row.element_id: request.POST.get(f"v_{row.element_id}", "") for row in rows}
        comments = {key[2:]: value for key, value in request.POST.items() if key.startswith("c_")}
        parsed = {}
        for number, row in enumerate(rows, start=1):
            try:
                parsed[row.element_id] = parse_value(entered[row.element_id], row.element)
            except ValueError as exc:
                errors[row.element_id] = _("Row %(row)s (%(name)s): %(message)s") % {
                    "row": number, "name": row.element.name, "message": exc}
        try:
            version = int(request.POST.get("version", ""))
        except ValueError:
            version = -1
        if errors:
            messages.error(request, _("Nothing was saved: %(count)d figures are not valid; see the marked rows.")
                           % {"count": len(errors)})
        else:
            elements = {row.element_id: row.element for row in rows}
            outcome = _save_and_maybe_submit(request, filing, parsed, version, comments, elements)
            if outcome is True:
                return redirect("indicators:filing_detail", filing_pk=filing.pk)
            findings = outcome
            filing = _filing_for(user, filing_pk, SAVE_RELATED)  # as it is now, every column
            stored = _stored_values(filing)
        if errors and draft_save:
            filing = _filing_for(user, filing_pk, SAVE_RELATED)  # every column, for the page
    if stored is None:
        stored = _stored_values(filing)
    if findings is None and filing.status in (*Filing.EDITABLE, Filing.Status.SUBMITTED):
        findings = service.check_filing(filing)
    grid = _grid(filing, stored, entered, errors)
    excel_urls = [(_("Download the template (.xlsx)"),
                   reverse("indicators:excel_filing_template", kwargs={"filing_pk": filing.pk}))]
    if editable:
        excel_urls.append((_("Fill in from Excel"),
                           reverse("indicators:excel_filing_upload", kwargs={"filing_pk": filing.pk})))
    events = filing.events.select_related("user").order_by("-at", "-pk")[:12]
    period = Period.parse(filing.period)
    return render(request, "indicators/filing_detail.html", {
        "filing": filing, "form": filing.form, "period": period, "grid": grid, "editable": editable,
        "can_file": can_file, "can_review": permissions.can_review(user, filing),
        "can_unlock": permissions.can_unlock(user, filing), "findings": findings or [], "comments": comments,
        "events": events, "lock_date": filing.form.lock_date(period), "today": today,
        "days_late": (today - filing.due_date).days,
        "filled": sum(1 for row in grid if row["value"] is not None), "excel_urls": excel_urls,
    })


def _save_and_maybe_submit(request, filing, parsed, version, comments, elements):
    """Save the values; submit when asked. True when done; otherwise the findings to show. (Each
    service call is atomic by itself: a refusal rolls back its own savepoint.)"""
    user = request.user
    submit = request.POST.get("action") == "submit"
    try:
        result = service.save_values(filing, parsed, user=user, expected_version=version, elements=elements)
        version = filing.version
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None
    if not submit:
        if result.changed or result.created:
            messages.success(request, _("Draft saved: %(count)d figures changed.")
                             % {"count": result.changed + result.created})
        else:
            messages.info(request, _("Nothing changed."))
        return True
    try:
        service.submit(filing, user=user, expected_version=version, comments=comments)
    except ValidationError as exc:
        messages.error(request, _("Not submitted (the figures were saved as a draft): %(reasons)s")
                       % {"reasons": " ".join(exc.messages)})
        return None
    messages.success(request, _("Submitted. The reviewer will approve it or return it with a reason."))
    return True


@login_required
@require_POST
def filing_review(request, filing_pk):
    """Approve or return (with a reason) a submitted filing."""
    user = request.user
    filing = _filing_for(user, filing_pk)
    if not permissions.can_review(user, filing):
        raise PermissionDenied(_("Only the alliance office or the county bureau reviews filings."))
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    action = request.POST.get("action")
    try:
        if action == "approve":
            service.approve(filing, user=user, expected_version=version, comment=request.POST.get("reason", ""))
            messages.success(request, _("Approved."))
        elif action == "return":
            service.return_filing(filing, user=user, reason=request.POST.get("reason", ""), expected_version=version)
            messages.success(request, _("Returned to the filer with your reason."))
        else:
            messages.error(request, _("Choose approve or return."))
    except ValidationError as exc:
        transaction.set_rollback(True)
        messages.error(request, " ".join(exc.messages))
    next_url = request.POST.get("next")
    if next_url == "queue":
        return redirect("indicators:review_queue")
    return redirect("indicators:filing_detail", filing_pk=filing.pk)


@login_required
@require_POST
def filing_unlock(request, filing_pk):
    user = request.user
    filing = _filing_for(user, filing_pk)
    if not permissions.can_unlock(user, filing):
        raise PermissionDenied(_("Only the county bureau unlocks filings."))
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    try:
        service.unlock(filing, user=user, reason=request.POST.get("reason", ""), expected_version=version,
                       request=request)
        messages.success(request, _("Unlocked: the filer can change it for a week."))
    except ValidationError as exc:
        transaction.set_rollback(True)
        messages.error(request, " ".join(exc.messages))
    return redirect("indicators:filing_detail", filing_pk=filing.pk)


@login_required
def filing_history(request, filing_pk):
    """Every change of every value (who, when, old, new, source, reason) and every event; one
    element's history with ``?element=CODE``."""
    filing = _filing_for(request.user, filing_pk)
    audits = ValueAudit.objects.filter(filing=filing).select_related("element", "user").order_by("-at", "-pk")
    element = None
    code = request.GET.get("element")
    if code:
        element = DataElement.objects.filter(pk__in=filing.form.elements.values("pk"), code=code).first()
        if element is None:
            raise Http404(_("Not found."))
        audits = audits.filter(element=element)
    page = Paginator(audits, 100).get_page(request.GET.get("page"))
    events = filing.events.select_related("user").order_by("-at", "-pk")
    return render(request, "indicators/filing_history.html", {
        "filing": filing, "element": element, "page": page, "audits": page.object_list, "events": events,
        "period": Period.parse(filing.period),
    })


@login_required
def review_queue(request):
    """Submitted filings waiting for the user's review."""
    if not permissions.is_reviewer(request.user):
        raise PermissionDenied(_("Only the alliance office or the county bureau reviews filings."))
    qs = selectors.review_queue(request.user)
    period = request.GET.get("period", "")
    if period:
        qs = qs.filter(period=period)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    periods = sorted(set(selectors.review_queue(request.user).values_list("period", flat=True)), reverse=True)
    return render(request, "indicators/review_queue.html", {
        "page": page, "rows": page.object_list, "period": period, "periods": periods,
    })


@login_required
def completeness(request):
    """Expected / filed / on time / late / missing per form and period, by alliance."""
    user = request.user
    scope = scoping.scope_of(user)
    counties = list(scoping.queryset_for(user, Region).filter(level=Region.Level.COUNTY).filter(
        pk__in=ReportForm.objects.values("county_id")).order_by("code"))
    if not counties:
        raise PermissionDenied(_("You have no county whose filings you can follow."))
    county = next((c for c in counties if str(c.pk) == request.GET.get("county")), counties[0])
    # Institution forms first: they are the ones with something to follow.
    forms = sorted(scoping.queryset_for(user, ReportForm).filter(county=county, is_active=True),
                   key=lambda f: (f.filer_level != ReportForm.FilerLevel.INSTITUTION, f.kind.months, f.code))
    if not forms:
        raise Http404(_("Not found."))
    form = next((f for f in forms if str(f.pk) == request.GET.get("form")), forms[0])
    today = _today(request)
    latest = selectors.due_periods(form, today, 1)
    default = latest[0] if latest else Period.containing_date(form.kind, today).previous
    try:
        period = Period.parse(request.GET.get("period") or str(default))
        if period.kind != form.kind:
            period = default
    except PeriodError:
        messages.warning(request, _("That period is not valid; showing the latest."))
        period = default
    alliance_ids = None
    if not (scope.everything or county.pk in scope.view_counties):
        if not scope.view_alliances:
            raise PermissionDenied(_("Completeness is followed by the alliance office and the county bureau."))
        alliance_ids = set(scoping.queryset_for(user, Alliance).filter(county=county).values_list("pk", flat=True))
    report = selectors.completeness(form, period, alliance_ids=alliance_ids)
    # The alliance office (and the bureau) file a whole alliance at once from one workbook.
    workbook_alliances = set()
    if form.filer_level == ReportForm.FilerLevel.INSTITUTION:
        workbook_alliances = {g.alliance.pk for g in report.groups if g.alliance and (
            scope.can_change_county(county.pk) or g.alliance.pk in scope.report_alliances)}
    periods = selectors.due_periods(form, today, 12)
    return render(request, "indicators/completeness.html", {
        "county": county, "counties": counties, "forms": forms, "form": form, "period": period,
        "periods": periods, "report": report, "today": today,
        "status_labels": selectors.STATUS_LABELS,
        "open_url": reverse("indicators:filing_open"), "workbook_alliances": workbook_alliances,
    })
