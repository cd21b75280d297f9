"""Cleaning cell values: text, name keys, whole numbers, dates, kinds of institution and roles."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl.utils.datetime import from_excel

from alliances.exports import OFFICIAL_LANGUAGE, ROLE_TITLES
from alliances.forms import DATE_MAX, DATE_MIN
from alliances.models import AllianceMembership, Institution
from core.uploads import cell_text

K = Institution.Kind
Role = AllianceMembership.Role

MAX_INT = 2147483647  # PositiveIntegerField on PostgreSQL

# Kind names accepted besides the labels the export writes (see ``_kind_lookup``). Names of
# institutions such as 县人民医院 are not kinds.
KIND_SYNONYMS = {
    "综合医院": K.COUNTY_GENERAL_HOSPITAL,
    "县级综合性医院": K.COUNTY_GENERAL_HOSPITAL,
    "县综合医院": K.COUNTY_GENERAL_HOSPITAL,
    "中医院": K.TCM_HOSPITAL,
    "中医类医院": K.TCM_HOSPITAL,
    "妇幼保健机构": K.MCH_HOSPITAL,
    "妇幼保健计划生育服务中心": K.MCH_HOSPITAL,
    "乡镇卫生院": K.TOWNSHIP_HEALTH_CENTRE,
    "镇卫生院": K.TOWNSHIP_HEALTH_CENTRE,
    "乡卫生院": K.TOWNSHIP_HEALTH_CENTRE,
    "社区卫生服务中心": K.COMMUNITY_HEALTH_CENTRE,
    "村卫生室": K.VILLAGE_CLINIC,
    "村卫生站": K.VILLAGE_CLINIC,
    "疾控中心": K.CDC,
    "其它": K.OTHER,
}
ROLE_SYNONYMS = {
    "牵头": Role.LEAD, "牵头医院": Role.LEAD, "总医院": Role.LEAD,
    "成员": Role.MEMBER, "分院": Role.MEMBER,
}


class CellError(Exception):
    pass


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_text = cell_text


def _key(name: str) -> str:
    """How names are compared: NFKC (full-width letters and digits), no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


_INT_RE = re.compile(r"^[+-]?[0-9]+(\.0*)?$")
_DECIMAL_RE = re.compile(r"^[+-]?[0-9]*\.[0-9]+$")


def _count(value: Any) -> int:
    """A non-negative whole number: 12, 12.0 and "1,200" are accepted; 12.5, text and -1 are not."""
    if _is_blank(value):
        return 0
    if isinstance(value, bool):
        raise CellError(_("“%(value)s” is not a number.") % {"value": value})
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CellError(_("“%(value)s” is not a whole number.") % {"value": _text(value)})
        number = int(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
        if _INT_RE.match(text):
            number = int(text.split(".")[0])
        elif _DECIMAL_RE.match(text):
            raise CellError(_("“%(value)s” is not a whole number.") % {"value": value})
        else:
            raise CellError(_("“%(value)s” is not a number.") % {"value": value})
    if number < 0:
        raise CellError(_("%(value)s is negative; enter 0 or more.") % {"value": number})
    if number > MAX_INT:
        raise CellError(_("%(value)s is too large.") % {"value": number})
    return number


_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
)


def _date(value: Any) -> date | None:
    """An Excel date cell, an Excel serial number, or text such as 2026-01-01, 2026/1/1, 2026年1月1日."""
    if _is_blank(value):
        return None
    day = None
    if isinstance(value, date):
        day = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:
            day = from_excel(value)
            day = day.date() if isinstance(day, datetime) else day
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        match = _DATE_RE.match(text)
        if not match and re.fullmatch(r"\d{8}", text):
            match = re.match(r"(\d{4})(\d{2})(\d{2})", text)
        if match:
            try:
                day = date(*(int(g) for g in match.groups()[:3]))
            except ValueError:
                day = None
    if not isinstance(day, date):
        raise CellError(_("“%(value)s” is not a date; write it as 2026-01-01, 2026/1/1 or 2026年1月1日.")
                        % {"value": _text(value)})
    if not DATE_MIN <= day <= DATE_MAX:
        raise CellError(_("%(value)s is outside %(min)s to %(max)s.")
                        % {"value": day.isoformat(), "min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()})
    return day


def _kind_lookup() -> dict[str, str]:
    lookup = {}
    with translation.override(OFFICIAL_LANGUAGE):
        for kind in K:
            lookup[_key(str(kind.label))] = kind.value
    with translation.override("en"):
        for kind in K:
            lookup[_key(str(kind.label)).lower()] = kind.value
    for kind in K:
        lookup[kind.value] = kind.value
    for text, kind in KIND_SYNONYMS.items():
        lookup[_key(text)] = kind
    return lookup


def _kind_labels_zh() -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return "、".join(str(kind.label) for kind in K)


def _role_lookup() -> dict[str, str]:
    lookup = {_key(title): role for role, title in ROLE_TITLES.items()}
    for role in Role:
        lookup[role.value] = role.value
        with translation.override("en"):
            lookup[_key(str(role.label)).lower()] = role.value
    for text, role in ROLE_SYNONYMS.items():
        lookup[_key(text)] = role
    return lookup
