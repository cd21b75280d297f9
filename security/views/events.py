"""The security log for auditors (安全审计): the filtered list, one event with everything it holds,
and the .xlsx export (itself an ``export.personal`` event). Read-only; anyone who is not an auditor
or a superuser gets 403, an event outside the auditor's counties the same 404 as a missing one."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from alliances import scoping
from alliances.models import Region
from core import audit
from core.clock import local_date, request_now
from core.http import xlsx_response
from core.models import SecurityEvent
from security import events


@login_required
@require_GET
def event_list(request):
    events.require_auditor(request.user)
    form = events.EventFilterForm(request.GET)
    qs = events.filtered(request.user, form.filters())
    page = Paginator(qs, events.PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    names = events.actor_names(rows)
    results = dict(SecurityEvent.Result.choices)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "security/events/list.html", {
        "form": form, "page": page, "query": query.urlencode(),
        "rows": [{"event": row, "name": names.get(row.actor_id, ""), "label": audit.label(row.event),
                  "result": results.get(row.result, row.result), "summary": events.summary(row)} for row in rows],
    })


@login_required
@require_GET
def event_detail(request, event_pk):
    events.require_auditor(request.user)
    row = scoping.get_for_user(request.user, SecurityEvent, event_pk)
    county = Region.objects.filter(pk=row.county_id).first() if row.county_id else None
    return render(request, "security/events/detail.html", {
        "county": county,
        "row": row, "name": events.actor_names([row]).get(row.actor_id, ""), "label": audit.label(row.event),
        "result": dict(SecurityEvent.Result.choices).get(row.result, row.result), "summary": events.summary(row),
        "details": events.pretty_details(row),
    })


@login_required
@require_GET
def event_export(request):
    """The filtered log (the page's filters) as .xlsx; the export is recorded."""
    user = request.user
    events.require_auditor(user)
    filters = events.EventFilterForm(request.GET).filters()
    rows, truncated = events.export_rows(user, filters)
    today = local_date(request_now(request))
    content = events.export_workbook(rows, events.actor_names(rows), unit=events.unit_name(user), on=today,
                                     truncated=truncated)
    audit.record(audit.Event.EXPORT_PERSONAL, request=request, county_id=events.export_county(user), details={
        "register": "security_log", "rows": len(rows),
        "filters": {name: str(value) for name, value in filters.items()}})
    return xlsx_response(content, events.export_filename(today))
