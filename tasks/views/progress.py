"""Pages where units report progress and the bureau reviews it: "my tasks", the monthly report
with evidence, the review queue and the review itself, and evidence downloads."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alliances import scoping
from core.files import serve_file
from tasks import permissions, selectors
from tasks.forms import ReportForm, ReviewForm
from tasks.models import Assignment, Evidence, ProgressReport
from tasks.services.progress import progress_report_review, progress_report_submit
from tasks.services.status import assignments_refresh_due
from tasks.status import Light, Status, local_date
from tasks.views.common import request_now, write_or_report

PAGE_SIZE = 50
# Worst first: red, yellow, blue, then the rest; done last.
LIGHT_ORDER = {Light.RED: 0, Light.YELLOW: 1, Light.BLUE: 2, Light.NONE: 3}


@login_required
def my_tasks(request):
    """What the user's units must do: every assignment they report for, worst first, with the
    deadline, days left or late, and the latest report's state and the reviewer's reason."""
    user = request.user
    now = request_now(request)
    qs = permissions.reportable_assignments(user)
    county_ids = set(qs.values_list("county_id", flat=True).distinct())
    assignments_refresh_due(now=now, county_ids=county_ids)
    show_done = request.GET.get("done") == "1"
    rows = selectors.with_list_data(qs if show_done else qs.exclude(status=Status.DONE))
    rows = list(rows.order_by("due_date", "id"))
    latest = selectors.latest_reports([a.pk for a in rows])
    for assignment in rows:
        assignment.result = assignment.status_at(now)
        assignment.latest = latest.get(assignment.pk)
    rows.sort(key=lambda a: (a.result.status == Status.DONE, LIGHT_ORDER.get(a.result.light, 3),
                             a.item.due_date is None, a.item.due_date or now.date()))
    counts = selectors.status_counts(qs)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tasks/my_tasks.html", {
        "page": page, "rows": page.object_list, "counts": counts, "show_done": show_done,
        "today": local_date(now),
    })


@login_required
def report_create(request, assignment_pk):
    """A unit reports the month's progress on one assignment, with evidence."""
    user = request.user
    assignment = scoping.get_for_user(user, Assignment, assignment_pk, queryset=selectors.with_list_data(
        scoping.queryset_for(user, Assignment)))
    if not permissions.can_report(user, assignment):
        raise PermissionDenied(_("Only the unit's own people report its progress."))
    now = request_now(request)
    form = ReportForm(*((request.POST, request.FILES) if request.method == "POST" else ()), today=local_date(now),
                      initial={"percent": assignment.percent})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, _report = write_or_report(form, lambda: progress_report_submit(
            assignment=assignment, user=user, text=data["text"], percent=data["percent"],
            marks_complete=data["marks_complete"], files=data["files"], period=data["period"], now=now))
        if ok:
            messages.success(request, _("Your progress report was submitted; the county bureau reviews it."))
            return redirect("tasks:item_detail", item_pk=assignment.item_id)
    history = assignment.reports.select_related("reviewed_by").prefetch_related("evidence").order_by(
        "-submitted_at")[:6]
    return render(request, "tasks/report_form.html", {
        "form": form, "assignment": assignment, "item": assignment.item, "history": history,
        "result": assignment.status_at(now),
    })


@login_required
@require_POST
def report_review(request, report_pk):
    """The bureau accepts a report or returns it with a reason (the unit sees the reason)."""
    user = request.user
    report = scoping.get_for_user(user, ProgressReport, report_pk, queryset=scoping.queryset_for(
        user, ProgressReport).select_related("assignment"))
    if not permissions.can_review(user, report):
        raise PermissionDenied(_("Only the county health bureau reviews progress reports."))
    form = ReviewForm(request.POST)
    if form.is_valid():
        accept = form.cleaned_data["decision"] == "accept"
        ok, _reviewed = write_or_report(form, lambda: progress_report_review(
            report=report, user=user, accept=accept, reason=form.cleaned_data["reason"], now=request_now(request)))
        if ok:
            messages.success(request, _("The report was accepted.") if accept else
                             _("The report was returned with your reason."))
    if form.errors:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("tasks:review_queue")


@login_required
def review_queue(request):
    """Reports awaiting the bureau's review, oldest first."""
    user = request.user
    scope = scoping.scope_of(user)
    if not (scope.everything or scope.change_counties):
        raise PermissionDenied(_("Only the county health bureau reviews progress reports."))
    qs = (scoping.queryset_for(user, ProgressReport, scoping.CHANGE).filter(state=ProgressReport.State.SUBMITTED)
          .select_related("assignment__item__ledger", "assignment__department", "assignment__institution",
                          "assignment__alliance", "submitted_by")
          .annotate(evidence_count=Count("evidence"))
          .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("pk")))
          .order_by("submitted_at", "pk"))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tasks/review_queue.html", {"page": page, "reports": page.object_list,
                                                        "review_form": ReviewForm()})


@login_required
def evidence_download(request, evidence_pk):
    """An evidence file, under its original name, for whoever sees its report."""
    evidence = scoping.get_for_user(request.user, Evidence, evidence_pk)
    stem = evidence.original_name.rsplit(".", 1)[0] if "." in evidence.original_name else evidence.original_name
    inline = evidence.kind in (Evidence.Kind.PDF, Evidence.Kind.IMAGE)
    return serve_file(request, evidence.file, filename=f"{stem}{evidence.extension}",
                      content_type=evidence.content_type, as_attachment=not inline)


def pending_review_count(user) -> int:
    scope = scoping.scope_of(user)
    if not (scope.everything or scope.change_counties):
        return 0
    return scoping.queryset_for(user, ProgressReport, scoping.CHANGE).filter(
        state=ProgressReport.State.SUBMITTED).count()

