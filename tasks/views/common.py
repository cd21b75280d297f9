"""Helpers shared by the task-ledger pages: the county of a page; the clock read once and xlsx responses
(``core.clock``, ``core.http``, named here for the task views); forms show service errors through
``alliances.views.common.write_or_report``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from alliances import scoping
from alliances.models import Region
from alliances.views.common import write_or_report
from core.clock import request_now
from core.http import XLSX_CONTENT_TYPE, xlsx_response

__all__ = ["XLSX_CONTENT_TYPE", "county_for", "request_now", "write_or_report", "xlsx_response"]


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

