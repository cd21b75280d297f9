"""Helpers shared by the task-ledger pages: the county of a page, the clock read once, service
errors shown on forms, xlsx responses."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from alliances import scoping
from alliances.models import Region
from alliances.views.common import add_service_errors

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


def write_or_report(form, write, fields_by_code=None):
    """Run ``write()`` in a savepoint; a service's ValidationError (or a concurrent change) shows on
    ``form`` and nothing is saved. Returns ``(ok, result)``."""
    try:
        with transaction.atomic():
            return True, write()
    except ValidationError as exc:
        add_service_errors(form, exc, fields_by_code)
    except IntegrityError:
        form.add_error(None, _("The data changed while you were editing; please check and try again."))
    return False, None


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
