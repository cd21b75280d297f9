"""Checking a table against the county as it is now: each row's cells, managing institutions, credit
codes and changes of kind, then what each row will do (新建 / 更新 / 不变)."""

from __future__ import annotations

import unicodedata
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from alliances.exports import REGISTER_COLUMN_BY_KEY
from alliances.imports.cells import (
    CellError,
    _count,
    _date,
    _is_blank,
    _key,
    _kind_labels_zh,
    _kind_lookup,
    _role_lookup,
    _text,
)
from alliances.imports.memberships import _plan_memberships
from alliances.imports.results import Change, ImportResult, Issue, RawTable, RowResult
from alliances.imports.state import _County
from alliances.models import AllianceMembership, Institution, Region
from alliances.validators import validate_uscc

K = Institution.Kind
Role = AllianceMembership.Role


def validate(table: RawTable, *, county: Region, user, today: date | None = None) -> ImportResult:
    """What importing ``table`` into ``county`` would do, row by row, checked against the database as
    it is now. A constant number of queries whatever the number of rows."""
    today = today or timezone.localdate()
    state = _County.load(user, county)
    result = ImportResult(county=county, table=table)
    kinds, roles = _kind_lookup(), _role_lookup()
    present = set(table.columns)

    def issue(row: RowResult, key: str | None, message: str) -> None:
        letter, title = table.columns.get(key, (None, REGISTER_COLUMN_BY_KEY[key].title if key else None))
        row.issues.append(Issue(message, row=row.row, column=letter, title=title))

    # 1. Each row on its own.
    seen: dict[str, int] = {}
    for number, values in table.rows:
        row = RowResult(row=number, raw={key: _text(value) for key, value in values.items()})
        result.rows.append(row)
        data = row.data
        name = _text(values.get("name"))
        row.name = name
        if not name:
            issue(row, "name", _("the name of the institution is missing."))
        elif len(name) > 100:
            issue(row, "name", _("the name is longer than %(n)s characters.") % {"n": 100})
        elif _key(name) in seen:
            issue(row, "name", _("“%(name)s” is already in row %(row)s; each institution appears once.")
                  % {"name": name, "row": seen[_key(name)]})
        else:
            seen[_key(name)] = number
        data["name"] = name
        # A blank optional cell keeps what the portal has (a register often lacks a figure);
        # a new institution then gets the model's default.
        if "short_name" in present and not _is_blank(values.get("short_name")):
            data["short_name"] = _text(values.get("short_name"))
            if len(data["short_name"]) > 50:
                issue(row, "short_name", _("the short name is longer than %(n)s characters.") % {"n": 50})
        kind_text = _text(values.get("kind"))
        if not kind_text:
            issue(row, "kind", _("the kind of institution is missing. Use one of: %(kinds)s.")
                  % {"kinds": _kind_labels_zh()})
        elif (kind := kinds.get(_key(kind_text)) or kinds.get(_key(kind_text).lower())) is None:
            issue(row, "kind", _("“%(value)s” is not a valid kind of institution. Use one of: %(kinds)s.")
                  % {"value": kind_text, "kinds": _kind_labels_zh()})
        else:
            data["kind"] = kind
        if "credit_code" in present:
            raw = values.get("credit_code")
            if isinstance(raw, float):
                issue(row, "credit_code", _("the code is stored as a number and has lost digits; format the "
                                            "column as text and type the code again."))
            else:
                code = unicodedata.normalize("NFKC", _text(raw)).replace(" ", "").upper()
                try:
                    if code:
                        validate_uscc(code)
                except ValidationError as exc:
                    issue(row, "credit_code", " ".join(exc.messages))
                else:
                    if code:
                        data["credit_code"] = code
        for key in ("beds", "service_population"):
            if key in present and not _is_blank(values.get(key)):
                try:
                    data[key] = _count(values.get(key))
                except CellError as exc:
                    issue(row, key, str(exc))
        if "parent" in present:
            data["parent"] = _text(values.get("parent"))
        if "alliance" in present:
            data["alliance"] = _text(values.get("alliance"))
        if "role" in present:
            role_text = _text(values.get("role"))
            if role_text:
                role = roles.get(_key(role_text)) or roles.get(_key(role_text).lower())
                if role is None:
                    issue(row, "role", _("“%(value)s” is not a role; write 牵头单位 or 成员单位.") % {"value": role_text})
                else:
                    data["role"] = role
        if "joined" in present:
            try:
                data["joined"] = _date(values.get("joined"))
            except CellError as exc:
                issue(row, "joined", str(exc))
        row.institution = state.institutions.get(_key(name)) if name else None

    # 2. Across rows: managing institutions, codes, kinds and memberships.
    in_file = {_key(r.name): r for r in result.rows if r.name and seen.get(_key(r.name)) == r.row}
    _check_parents(result, state, in_file, issue, today)
    _check_credit_codes(result, issue)
    for row in result.rows:
        _check_existing(row, state, issue)
    planned = _plan_memberships(result, state, in_file, issue, today)
    for row in result.rows:
        _describe(row, state, present, planned, today)
    return result


def _kind_of(name_key: str, state: _County, in_file: dict[str, RowResult]) -> str | None:
    if name_key in in_file:
        return in_file[name_key].data.get("kind")
    institution = state.institutions.get(name_key)
    return institution.kind if institution else None


def _check_parents(result: ImportResult, state: _County, in_file: dict[str, RowResult], issue, today) -> None:
    by_short: dict[str, list[str]] = {}
    for key, institution in state.institutions.items():
        if institution.short_name:
            by_short.setdefault(_key(institution.short_name), []).append(key)
    for key, row in in_file.items():
        short = row.data.get("short_name")
        if short and key not in state.institutions:
            by_short.setdefault(_key(short), []).append(key)
    county_name = result.county.name
    for row in result.rows:
        kind = row.data.get("kind")
        parent_text = row.data.get("parent")
        if parent_text is None:  # no 所属卫生院 column: keep the current managing institution
            current = row.institution.parent_id if row.institution else None
            parent_text = state.by_pk[current].name if current in state.by_pk else ""
            if kind == K.VILLAGE_CLINIC and not parent_text:
                issue(row, None, _("a village clinic needs its township health centre: add the column 所属卫生院."))
            row.parent_name = parent_text or None
            row.parent_existing = state.by_pk.get(current)
            continue
        if not parent_text:
            if kind == K.VILLAGE_CLINIC:
                issue(row, "parent", _("a village clinic needs the township health centre that manages it."))
            row.parent_name = None
            continue
        key = _key(parent_text)
        if key not in in_file and key not in state.institutions:
            matches = by_short.get(key, [])
            if len(matches) == 1:
                key = matches[0]
        if key not in in_file and key not in state.institutions:
            issue(row, "parent", _("“%(name)s” is not an institution of %(county)s (neither in the portal nor "
                                   "in this file).") % {"name": parent_text, "county": county_name})
            continue
        if key == _key(row.name):
            issue(row, "parent", _("an institution cannot manage itself."))
            continue
        parent_name = in_file[key].name if key in in_file else state.institutions[key].name
        if _kind_of(key, state, in_file) not in Institution.PARENT_KINDS:
            issue(row, "parent", _("“%(name)s” is not a township, central or community health centre; only these "
                                   "manage village clinics.") % {"name": parent_name})
            continue
        existing_parent = state.institutions.get(key)
        changed = not row.institution or row.institution.parent_id != getattr(existing_parent, "pk", None)
        if changed and existing_parent is not None and not existing_parent.is_active:
            issue(row, "parent", _("“%(name)s” is inactive; it cannot take on village clinics.") % {"name": parent_name})
            continue
        row.parent_name = parent_name
        row.parent_existing = existing_parent
    # A circle of managing institutions (A manages B, B manages A) is refused.
    parent_of = {_key(r.name): _key(r.parent_name) for r in result.rows if r.name and r.parent_name}
    for key, institution in state.institutions.items():
        if key not in in_file and institution.parent_id in state.by_pk:
            parent_of[key] = _key(state.by_pk[institution.parent_id].name)
    for row in result.rows:
        if not row.name or not row.parent_name:
            continue
        key, steps = parent_of.get(_key(row.name)), 0
        while key is not None and steps < len(parent_of) + 1:
            if key == _key(row.name):
                issue(row, "parent", _("the managing institutions form a circle; an institution cannot be managed "
                                       "through itself."))
                break
            key, steps = parent_of.get(key), steps + 1


def _check_credit_codes(result: ImportResult, issue) -> None:
    codes: dict[str, int] = {}
    for row in result.rows:
        code = row.data.get("credit_code")
        if not code:
            continue
        if code in codes:
            issue(row, "credit_code", _("the code %(code)s is also in row %(row)s; each institution has its own.")
                  % {"code": code, "row": codes[code]})
        else:
            codes[code] = row.row
    if not codes:
        return
    # The code is unique across all counties (a database constraint): ask whether another institution
    # holds it, without reading which (the answer shows no other county's data).
    owners = dict(Institution.objects.filter(credit_code__in=list(codes)).values_list("credit_code", "pk"))
    for row in result.rows:
        code = row.data.get("credit_code")
        if code and code in owners and codes.get(code) == row.row:
            if not row.institution or owners[code] != row.institution.pk:
                issue(row, "credit_code", _("another institution already has the code %(code)s.") % {"code": code})


def _check_existing(row: RowResult, state: _County, issue) -> None:
    """Rules for changing the kind of an institution that exists (as ``Institution.clean`` has them)."""
    institution, kind = row.institution, row.data.get("kind")
    if institution is None or kind is None or kind == institution.kind:
        return
    memberships = state.memberships.get(institution.pk, [])
    if kind == K.VILLAGE_CLINIC and memberships:
        issue(row, "kind", _("“%(name)s” has alliance memberships; it cannot become a village clinic.")
              % {"name": institution.name})
    elif kind not in Institution.LEAD_KINDS and any(m.role == Role.LEAD for m in memberships):
        issue(row, "kind", _("“%(name)s” leads or has led an alliance; only a county general, TCM or maternal and "
                             "child health hospital can lead.") % {"name": institution.name})
    elif kind not in Institution.PARENT_KINDS and state.children.get(institution.pk):
        issue(row, "kind", _("“%(name)s” manages village clinics; only a township, central or community health "
                             "centre manages village clinics.") % {"name": institution.name})


def _describe(row: RowResult, state: _County, present: set[str], planned, today: date) -> None:
    """The row's action, its changed fields (old → new) and its values for the preview."""
    data, institution = row.data, row.institution
    kind = data.get("kind")
    display = {
        "name": row.name,
        "short_name": data.get("short_name", ""),
        "kind": str(K(kind).label) if kind else "",
        "parent": row.parent_name or "",
        "credit_code": data.get("credit_code", ""),
        "beds": str(data["beds"]) if "beds" in data else "",
        "service_population": str(data["service_population"]) if "service_population" in data else "",
        "alliance": data.get("alliance", ""),
        "role": str(Role(data["role"]).label) if data.get("role") else "",
        "joined": data["joined"].isoformat() if data.get("joined") else "",
    }
    if row.membership:
        display["alliance"] = row.membership["alliance"].name
    row.display = display
    if institution is None:
        row.action = "create"
        return
    title = {k: REGISTER_COLUMN_BY_KEY[k].title for k in REGISTER_COLUMN_BY_KEY}
    old_parent = state.by_pk[institution.parent_id].name if institution.parent_id in state.by_pk else ""
    comparisons = [
        ("short_name", institution.short_name, data.get("short_name")),
        ("kind", institution.kind, kind),
        ("parent", old_parent, (row.parent_name or "") if "parent" in present else None),
        ("credit_code", institution.credit_code, data.get("credit_code")),
        ("beds", str(institution.beds), display["beds"] if "beds" in data else None),
        ("service_population", str(institution.service_population),
         display["service_population"] if "service_population" in data else None),
    ]
    for key, old, new in comparisons:
        if new is not None and new != old:
            if key == "kind":
                row.changes.append(Change(key, title[key], str(K(old).label), str(K(new).label), plain=(old, new)))
            else:
                row.changes.append(Change(key, title[key], old, new))
    if row.membership:
        membership = row.membership
        current = state.membership_on(institution.pk, membership["on"]) or state.membership_on(institution.pk, today)
        old_alliance = state.alliance_by_pk[current.alliance_id].name if current else ""
        old_role = str(Role(current.role).label) if current else ""
        if old_alliance != membership["alliance"].name:
            row.changes.append(Change("alliance", title["alliance"], old_alliance, membership["alliance"].name))
        if old_role != str(Role(membership["role"]).label):
            row.changes.append(Change("role", title["role"], old_role, str(Role(membership["role"]).label),
                                      plain=(current.role if current else "", membership["role"])))
        row.changes.append(Change("joined", title["joined"], current.valid_from.isoformat() if current else "",
                                  membership["on"].isoformat()))
    row.action = "update" if row.changes else "unchanged"
    if row.changes and not institution.is_active:
        row.issues.append(Issue(_("“%(name)s” is inactive (停用); the import does not change inactive "
                                  "institutions.") % {"name": institution.name}, row=row.row))
