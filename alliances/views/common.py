"""Helpers shared by the pages of ``alliances.views``: scoping shortcuts, where a service error
belongs in a form, the numbered sort order of alliance names."""

from __future__ import annotations

import re
from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from alliances import scoping
from alliances.models import Alliance, Institution, JointOffice, Region

K = Institution.Kind
VIEW, CHANGE = scoping.VIEW, scoping.CHANGE
PAGE_SIZE = 50


# Helpers ----------------------------------------------------------------------------------

# Where a service error belongs in a form, by its code (see alliances.services); others go above the form.
MOVE_ERROR_FIELDS = {
    "move_too_early": "on", "later_membership": "on", "same_alliance": "target", "other_county": "target",
    "lead_kind": "role", "two_leads": "role",
}
ADD_MEMBER_ERROR_FIELDS = {
    "move_too_early": "valid_from", "later_membership": "valid_from", "same_alliance": "institution",
    "other_county": "institution", "village_clinic": "institution", "lead_kind": "role", "two_leads": "role",
}
DEACTIVATE_ERROR_FIELDS = {"history_after_last_day": "last_day", "later_membership": "last_day",
                           "move_too_early": "last_day"}
CREATE_ALLIANCE_ERROR_FIELDS = {
    "move_too_early": "lead_from", "later_membership": "lead_from", "lead_kind": "lead", "other_county": "lead",
}


def add_service_errors(form, exc: ValidationError, fields_by_code: dict[str, str] | None = None) -> None:
    """Show a service's ``ValidationError`` in ``form``: next to the field it concerns when its code
    says which, above the form otherwise."""
    fields_by_code = fields_by_code or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error.messages)
        return
    for error in exc.error_list:
        field = fields_by_code.get(error.code)
        form.add_error(field if field in form.fields else None, error.messages)


def write_or_report(form, write, fields_by_code: dict[str, str] | None = None, *, on_failure=None):
    """Run ``write()`` in a savepoint and return ``(True, its result)``. A service's
    ``ValidationError`` or an ``IntegrityError`` (someone changed the data meanwhile) is shown
    in ``form`` instead, ``on_failure()`` resets what the write left in memory, and the answer
    is ``(False, None)``: nothing was saved."""
    try:
        with transaction.atomic():
            return True, write()
    except ValidationError as exc:
        add_service_errors(form, exc, fields_by_code)
    except IntegrityError:
        form.add_error(None, _("The data changed while you were editing; please check and try again."))
    if on_failure is not None:
        on_failure()
    return False, None


def _forget_unsaved(form) -> None:
    """After a rolled-back create the form's instance must not look saved."""
    form.instance.pk = None


def _require_membership_change(user, county_id: int) -> None:
    """Moving institutions between alliances is the county bureau's decision (see scoping)."""
    if not scoping.scope_of(user).can_change_county(county_id):
        raise PermissionDenied(_("Only the county health bureau changes alliance memberships."))


def _require_change_county(user) -> None:
    if not scoping.counties_for(user, CHANGE).exists():
        raise PermissionDenied(_("You may not create records in any county."))


def _joint_partners(user, *, county: Region | None = None, institution_ids=None) -> dict[int, list[dict]]:
    """``{institution_id: [{"office": JointOffice, "other": Institution}]}`` for the joint offices the user
    sees, in one query."""
    qs = scoping.queryset_for(user, JointOffice).select_related("first", "second")
    if county is not None:
        qs = qs.filter(first__county=county)
    if institution_ids is not None:
        ids = list(institution_ids)
        qs = qs.filter(Q(first_id__in=ids) | Q(second_id__in=ids))
    partners: dict[int, list[dict]] = defaultdict(list)
    for office in qs:
        partners[office.first_id].append({"office": office, "other": office.second})
        partners[office.second_id].append({"office": office, "other": office.first})
    return partners


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_NUMBER_RE = re.compile(r"[0-9]+|[零〇一二两三四五六七八九十百]+")


def _cn_number(text: str) -> int:
    """一 → 1, 十二 → 12, 二十三 → 23, 一百零五 → 105; Arabic digits as they are."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


def natural_key(name: str) -> tuple:
    """Sort 第一医共体, 第二医共体, …, 第十医共体 in their numbered order, not by code point."""
    parts: list = []
    position = 0
    for match in _NUMBER_RE.finditer(name):
        parts += [(0, name[position:match.start()]), (1, _cn_number(match.group()))]
        position = match.end()
    parts.append((0, name[position:]))
    return tuple(parts)


def _visible_alliance_ids(user, alliance_ids) -> set[int]:
    ids = {pk for pk in alliance_ids if pk}
    if not ids:
        return set()
    return set(scoping.queryset_for(user, Alliance).filter(pk__in=ids).values_list("pk", flat=True))


def _visible_institution_ids(user, institution_ids) -> set[int]:
    ids = {pk for pk in institution_ids if pk}
    if not ids:
        return set()
    return set(scoping.queryset_for(user, Institution).filter(pk__in=ids).values_list("pk", flat=True))
