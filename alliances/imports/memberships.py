"""Planning the alliance membership changes of a table: joins, moves and changes of lead, and the
village clinics that follow their township health centre."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext as _

from alliances.imports.cells import _key
from alliances.imports.results import ImportResult, RowResult
from alliances.imports.state import _County
from alliances.models import Alliance, AllianceMembership, Institution

K = Institution.Kind
Role = AllianceMembership.Role


def _plan_memberships(result: ImportResult, state: _County, in_file, issue, today: date) -> dict[str, Alliance]:
    """Decide each row's membership change; returns the alliance each institution will belong to
    (by name key), for the village clinics' check."""
    by_name: dict[str, list[Alliance]] = {}
    for alliance in state.alliances:
        for text in {alliance.name, alliance.short_name}:
            if text:
                by_name.setdefault(_key(text), []).append(alliance)
    planned: dict[str, Alliance] = {}
    leads_in_file: dict[int, int] = {}
    replaced_leads: dict[int, tuple[RowResult, Alliance, date]] = {}
    county_name = result.county.name
    clinic_rows = []
    for row in result.rows:
        data = row.data
        text = data.get("alliance")
        if not text:
            if data.get("role") or data.get("joined"):
                if data.get("kind") != K.VILLAGE_CLINIC:
                    issue(row, "alliance", _("角色 or 加入日期 is filled in but 所属医共体 is empty; leave all three empty "
                                             "to keep the membership as it is."))
            continue
        matches = {a.pk: a for a in by_name.get(_key(text), [])}
        if not matches:
            issue(row, "alliance", _("“%(name)s” is not an alliance of %(county)s.") % {"name": text, "county": county_name})
            continue
        if len(matches) > 1:
            issue(row, "alliance", _("“%(name)s” names more than one alliance; write the full name.") % {"name": text})
            continue
        alliance = next(iter(matches.values()))
        if data.get("kind") is None:
            continue  # the kind is wrong or missing (reported): what the membership may be is unknown
        if data.get("kind") == K.VILLAGE_CLINIC:
            clinic_rows.append((row, alliance))
            continue
        role = data.get("role") or Role.MEMBER
        planned[_key(row.name)] = alliance
        if role == Role.LEAD:
            if alliance.pk in leads_in_file:
                issue(row, "role", _("row %(row)s already names the lead of “%(alliance)s”; an alliance has one lead.")
                      % {"row": leads_in_file[alliance.pk], "alliance": alliance.name})
                continue
            leads_in_file[alliance.pk] = row.row
        day = data.get("joined")
        institution = row.institution
        current = state.membership_on(institution.pk, day or today) if institution else None
        if current and current.alliance_id == alliance.pk and current.role == role:
            if day and current.valid_from != day:
                issue(row, "joined", _("“%(name)s” has been in “%(alliance)s” since %(start)s; the import does not move "
                                       "the start of a membership. Write %(start)s or leave the cell empty.")
                      % {"name": row.name, "alliance": alliance.name, "start": current.valid_from.isoformat()})
            continue
        # A change of alliance or role, from ``day``.
        if not alliance.is_active:
            issue(row, "alliance", _("“%(name)s” is inactive; institutions cannot join it.") % {"name": alliance.name})
            continue
        if day is None:
            issue(row, "joined", _("enter the date from which “%(name)s” belongs to “%(alliance)s”.")
                  % {"name": row.name, "alliance": alliance.name})
            continue
        if role == Role.LEAD and data.get("kind") not in Institution.LEAD_KINDS:
            issue(row, "role", _("only a county general, TCM or maternal and child health hospital can lead an "
                                 "alliance."))
            continue
        if institution:
            later = next((m for m in state.memberships.get(institution.pk, []) if m.valid_from > day), None)
            if later:
                issue(row, "joined", _("“%(name)s” already has a membership of “%(alliance)s” from %(start)s, after "
                                       "%(day)s.") % {"name": row.name, "alliance": state.alliance_by_pk.get(
                                           later.alliance_id, later.alliance_id), "start": later.valid_from.isoformat(),
                                           "day": day.isoformat()})
                continue
            if current and current.valid_from >= day:
                issue(row, "joined", _("the date must be after %(start)s, when the current membership began.")
                      % {"start": current.valid_from.isoformat()})
                continue
        operation = "move" if current else "create"
        if role == Role.LEAD:
            lead = state.lead_on(alliance.pk, day)
            if lead and (institution is None or lead.institution_id != institution.pk):
                if lead.valid_from >= day:
                    issue(row, "joined", _("the date must be after %(start)s, when the current lead began.")
                          % {"start": lead.valid_from.isoformat()})
                    continue
                operation = "change_lead"
                replaced_leads[lead.institution_id] = (row, alliance, day)
        row.membership = {"alliance": alliance, "role": role, "on": day, "operation": operation}
    # The lead that a new lead replaces stays in its alliance as a member from that day.
    for row in result.rows:
        institution = row.institution
        if institution is None or institution.pk not in replaced_leads or not row.membership:
            continue
        new_lead_row, alliance, day = replaced_leads[institution.pk]
        if row.membership["alliance"].pk != alliance.pk:
            issue(row, "alliance", _("“%(new)s” (row %(row)s) takes over the lead of “%(alliance)s” on %(day)s and "
                                     "“%(name)s” stays in it as a member; move it to another alliance in a later "
                                     "import.") % {"new": new_lead_row.name, "row": new_lead_row.row,
                                                   "alliance": alliance.name, "day": day.isoformat(), "name": row.name})
    # A village clinic follows its centre: the alliance named must be the centre's.
    for row, alliance in clinic_rows:
        if row.data.get("role") == Role.LEAD:
            issue(row, "role", _("a village clinic does not join an alliance itself; it follows its township health "
                                 "centre."))
            continue
        parent_key = _key(row.parent_name) if row.parent_name else None
        parent = state.institutions.get(parent_key) if parent_key else None
        current = state.membership_on(parent.pk, today) if parent else None
        allowed = {a.pk for a in (planned.get(parent_key), current and state.alliance_by_pk.get(current.alliance_id))
                   if a is not None}
        if parent_key and alliance.pk not in allowed:
            issue(row, "alliance", _("a village clinic follows the alliance of its township health centre "
                                     "“%(parent)s”; leave 所属医共体 empty or write that alliance.")
                  % {"parent": row.parent_name})
    return planned
