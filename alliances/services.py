"""Writes to the organisation tree. Each service validates with messages in the
user's language and leaves the database unchanged when anything is invalid;
the database enforces the same rules underneath (migration 0002)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alliances.models import Alliance, AllianceMembership, Institution, JointOffice

Role = AllianceMembership.Role
# One day short of date.max, so "the day after" an open end is still a date.
_FAR_FUTURE = date(9999, 12, 30)


def _fmt(day: date | None) -> str:
    return day.isoformat() if day else _("open-ended")


def _span(start: date, end: date | None) -> str:
    return _("%(start)s to %(end)s") % {"start": _fmt(start), "end": _fmt(end)}


# Lead coverage -------------------------------------------------------------------------

def _merge(ranges: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    merged: list[tuple[date, date]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def first_day_without_lead(memberships: Iterable[AllianceMembership]) -> date | None:
    """The first day on which the given memberships of one alliance include a member but no
    lead, or None when every member's days are covered by a lead."""
    rows = list(memberships)
    leads = _merge((m.valid_from, m.valid_to or _FAR_FUTURE) for m in rows if m.role == Role.LEAD)
    gaps = []
    for m in rows:
        if m.role != Role.MEMBER:
            continue
        start, end = m.valid_from, m.valid_to or _FAR_FUTURE
        day = start
        for lead_start, lead_end in leads:
            if lead_end < day:
                continue
            if lead_start > day:
                break
            day = lead_end + timedelta(days=1)
            if day > end:
                break
        if day <= end:
            gaps.append(day)
    return min(gaps) if gaps else None


def alliance_check_lead_coverage(*, alliance: Alliance, replacing: AllianceMembership | None = None) -> None:
    """Raise unless the alliance has a lead on every day it has members. ``replacing`` is an
    unsaved or changed membership to consider in place of its stored version."""
    rows = [m for m in alliance.memberships.all() if replacing is None or m.pk != replacing.pk]
    if replacing is not None:
        rows.append(replacing)
    gap = first_day_without_lead(rows)
    if gap is not None:
        raise ValidationError(
            _("Alliance “%(alliance)s” would have members but no lead institution on %(day)s. "
              "An alliance has exactly one lead on every day it has members.")
            % {"alliance": alliance.name, "day": gap.isoformat()},
            code="no_lead",
        )


# Checks of one membership --------------------------------------------------------------

def membership_check(membership: AllianceMembership, *, check_lead_coverage: bool = True) -> None:
    """Validate one membership against the stored ones; raises ``ValidationError``."""
    m = membership
    if not (m.institution_id and m.alliance_id and m.valid_from):
        return  # required-field errors are reported by the form
    institution, alliance = m.institution, m.alliance
    if m.valid_to and m.valid_to < m.valid_from:
        raise ValidationError({"valid_to": _("The end date must not be before the start date.")})
    if institution.county_id != alliance.county_id:
        raise ValidationError(
            _("“%(institution)s” and “%(alliance)s” are in different counties; an institution can only join "
              "an alliance of its own county.") % {"institution": institution.name, "alliance": alliance.name},
            code="other_county",
        )
    if institution.kind == Institution.Kind.VILLAGE_CLINIC:
        raise ValidationError(
            _("A village clinic does not join an alliance itself; it follows its township health centre."),
            code="village_clinic",
        )
    if m.role == Role.LEAD and institution.kind not in Institution.LEAD_KINDS:
        raise ValidationError(
            _("Only a county general, TCM or maternal and child health hospital can lead an alliance; "
              "“%(institution)s” is a %(kind)s.") % {"institution": institution.name, "kind": institution.get_kind_display()},
            code="lead_kind",
        )
    clash = (
        AllianceMembership.objects.filter(institution_id=institution.pk)
        .exclude(pk=m.pk)
        .overlapping(m.valid_from, m.valid_to)
        .select_related("alliance")
        .first()
    )
    if clash:
        raise ValidationError(
            _("“%(institution)s” already belongs to “%(alliance)s” from %(span)s; an institution belongs to at "
              "most one alliance on any date.")
            % {"institution": institution.name, "alliance": clash.alliance.name,
               "span": _span(clash.valid_from, clash.valid_to)},
            code="overlap",
        )
    if m.role == Role.LEAD:
        other_lead = (
            AllianceMembership.objects.filter(alliance_id=alliance.pk, role=Role.LEAD)
            .exclude(pk=m.pk)
            .overlapping(m.valid_from, m.valid_to)
            .select_related("institution")
            .first()
        )
        if other_lead:
            raise ValidationError(
                _("“%(alliance)s” is already led by “%(lead)s” from %(span)s; an alliance has exactly one lead "
                  "on any date.")
                % {"alliance": alliance.name, "lead": other_lead.institution.name,
                   "span": _span(other_lead.valid_from, other_lead.valid_to)},
                code="two_leads",
            )
    if check_lead_coverage:
        alliance_check_lead_coverage(alliance=alliance, replacing=m)


# Membership writes ---------------------------------------------------------------------

@transaction.atomic
def membership_create(*, institution: Institution, alliance: Alliance, role: str = Role.MEMBER,
                      valid_from: date, valid_to: date | None = None, note: str = "") -> AllianceMembership:
    membership = AllianceMembership(institution=institution, alliance=alliance, role=role,
                                    valid_from=valid_from, valid_to=valid_to, note=note)
    membership_check(membership)
    membership.save()
    return membership


@transaction.atomic
def membership_end(*, membership: AllianceMembership, last_day: date) -> AllianceMembership:
    """End a membership on ``last_day`` (inclusive)."""
    if last_day < membership.valid_from:
        raise ValidationError(
            _("The membership starts on %(start)s; it cannot end before that.") % {"start": membership.valid_from}
        )
    if membership.valid_to is not None and membership.valid_to <= last_day:
        return membership
    membership.valid_to = last_day
    membership_check(membership)
    membership.save(update_fields=["valid_to"])
    return membership


@transaction.atomic
def institution_move(*, institution: Institution, to_alliance: Alliance | None, on: date,
                     role: str = Role.MEMBER, note: str = "") -> AllianceMembership | None:
    """From ``on``, ``institution`` belongs to ``to_alliance`` (or to none, when None): its
    membership in force the day before ends then, history stays as it was."""
    institution = Institution.objects.select_for_update().get(pk=institution.pk)
    later = institution.memberships.filter(valid_from__gt=on).select_related("alliance").first()
    if later:
        raise ValidationError(
            _("“%(institution)s” already has a membership of “%(alliance)s” starting %(start)s, after the move "
              "date; change that one instead.")
            % {"institution": institution.name, "alliance": later.alliance.name, "start": later.valid_from},
            code="later_membership",
        )
    current = institution.memberships.on(on).select_related("alliance").first()
    if current:
        if to_alliance is not None and current.alliance_id == to_alliance.pk and current.role == role:
            raise ValidationError(
                _("“%(institution)s” is already a member of “%(alliance)s” on %(day)s.")
                % {"institution": institution.name, "alliance": to_alliance.name, "day": on},
                code="same_alliance",
            )
        if current.valid_from >= on:
            raise ValidationError(
                _("The move date must be after %(start)s, when the current membership began.")
                % {"start": current.valid_from},
                code="move_too_early",
            )
        previous_alliance = current.alliance
        current.valid_to = on - timedelta(days=1)
        membership_check(current, check_lead_coverage=False)
        current.save(update_fields=["valid_to"])
    else:
        previous_alliance = None
    created = None
    if to_alliance is not None:
        created = AllianceMembership(institution=institution, alliance=to_alliance, role=role,
                                     valid_from=on, note=note)
        membership_check(created, check_lead_coverage=False)
        created.save()
    # Check the end state of both alliances once all rows are written.
    for alliance in {a for a in (previous_alliance, to_alliance) if a is not None}:
        alliance_check_lead_coverage(alliance=alliance)
    return created


@transaction.atomic
def alliance_change_lead(*, alliance: Alliance, new_lead: Institution, on: date) -> AllianceMembership:
    """From ``on``, ``new_lead`` leads ``alliance``; the previous lead stays on as a member."""
    old = alliance.memberships.on(on).filter(role=Role.LEAD).select_related("institution").first()
    if old and old.institution_id == new_lead.pk:
        raise ValidationError(_("“%(institution)s” already leads this alliance.") % {"institution": new_lead.name})
    if old:
        if old.valid_from >= on:
            raise ValidationError(
                _("The change date must be after %(start)s, when the current lead began.") % {"start": old.valid_from}
            )
        old_end = old.valid_to
        old.valid_to = on - timedelta(days=1)
        membership_check(old, check_lead_coverage=False)
        old.save(update_fields=["valid_to"])
        stays = AllianceMembership(institution=old.institution, alliance=alliance, role=Role.MEMBER,
                                   valid_from=on, valid_to=old_end)
        membership_check(stays, check_lead_coverage=False)
        stays.save()
    created = institution_move(institution=new_lead, to_alliance=alliance, on=on, role=Role.LEAD)
    alliance_check_lead_coverage(alliance=alliance)
    return created


# Alliances and institutions ----------------------------------------------------------------

@transaction.atomic
def alliance_deactivate(*, alliance: Alliance, last_day: date | None = None) -> Alliance:
    """Deactivate an alliance and end every membership still open on ``last_day``."""
    today = timezone.localdate()
    last_day = last_day or today
    begun = alliance.memberships.filter(valid_from__gt=last_day, valid_from__lte=today).select_related("institution")
    if begun.exists():
        first = begun.order_by("valid_from").first()
        raise ValidationError(
            _("“%(institution)s” joined “%(alliance)s” on %(start)s, after the chosen last day; choose a later "
              "last day so that history is kept.")
            % {"institution": first.institution.name, "alliance": alliance.name, "start": first.valid_from},
            code="history_after_last_day",
        )
    # Memberships planned for after the last day have not begun: they are withdrawn.
    alliance.memberships.filter(valid_from__gt=last_day).delete()
    alliance.memberships.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=last_day)).update(valid_to=last_day)
    alliance.is_active = False
    alliance.save(update_fields=["is_active", "updated_at"])
    return alliance


@transaction.atomic
def institution_deactivate(*, institution: Institution, last_day: date | None = None) -> Institution:
    """Deactivate an institution and end its open membership on ``last_day``."""
    last_day = last_day or timezone.localdate()
    current = institution.memberships.on(last_day).first()
    if current and current.role == Role.LEAD:
        raise ValidationError(
            _("“%(institution)s” leads “%(alliance)s”; appoint another lead before deactivating it.")
            % {"institution": institution.name, "alliance": current.alliance.name}
        )
    if current:
        institution_move(institution=institution, to_alliance=None, on=last_day + timedelta(days=1))
    institution.is_active = False
    institution.save(update_fields=["is_active", "updated_at"])
    return institution


@transaction.atomic
def joint_office_create(*, first: Institution, second: Institution, note: str = "") -> JointOffice:
    a, b = sorted([first, second], key=lambda i: i.pk)
    if a.pk == b.pk:
        raise ValidationError(_("Link two different institutions."))
    if a.county_id != b.county_id:
        raise ValidationError(_("Both institutions of a joint office must be in the same county."))
    if JointOffice.objects.filter(first=a, second=b).exists():
        raise ValidationError(_("These two institutions are already linked as a joint office."))
    return JointOffice.objects.create(first=a, second=b, note=note)
