"""Helpers shared by the task-ledger pages: the county of a page, the clock read once, xlsx responses;
forms show service errors through ``alliances.views.common.write_or_report``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from alliances import scoping
from alliances.models import Region
from alliances.views.common import write_or_report

__all__ = ["XLSX_CONTENT_TYPE", "county_for", "request_now", "write_or_report", "xlsx_response"]

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def request_now(request):
    """The moment of this request, read once: every rule of the page sees the same ``now``."""
    if not hasattr(request, "_portal_now"):
        request._portal_now = timezone.now()
    return request._portal_now


def county_for(user, region_pk, *, edit: bool = False, supervise: bool = False) -> Region:
    """The county of a page: 404 when missing or foreign, 403 when seen but not changeable."""
    county = scoping.get_for_user(user, Region, region_pk)
    if not county.is_county:
        raise Http404(_("Not found."))
    scope = scoping.scope_of(user)
    if edit and not scope.can_change_county(county.pk):
        raise PermissionDenied(_("Only the county health bureau changes the task ledgers."))
    if supervise and not scope.can_supervise_county(county.pk):
        raise PermissionDenied(_("Only the county's supervisors do this."))
    return county


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
