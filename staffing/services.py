"""Writing the roster: people (identity numbers protected), moves with their checks, and the log of
full identity views. Pages, the import and the API go through these."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from alliances.models import AllianceMembership, Institution
from core import audit
from core.clock import local_date
from staffing import identity
from staffing.models import IdentityView, Move, Staff

# Fields a roster row sets (the import's columns and the page's form).
ROSTER_FIELDS = ("name", "institution", "home", "employment", "nature", "profession", "post_type", "title",
                 "education", "hired_on", "contract_end", "left_on")


def upsert(county_id: int, number: str, fields: dict) -> tuple[Staff, bool]:
    """The person with identity ``number`` in the county, created or updated with ``fields``.
    ``number`` must be valid and normalised (``identity.problem`` is None)."""
    digest = identity.digest(number)
    staff = Staff.objects.filter(county_id=county_id, id_digest=digest).first()
    created = staff is None
    if created:
        staff = Staff(**identity.protect(number), gender=identity.gender_of(number))
    for name, value in fields.items():
        setattr(staff, name, value)
    if not staff.home_id:
        staff.home_id = staff.institution_id
    staff.save()
    return staff, created


def log_full_views(user, staff: list[Staff], channel: str, now: datetime) -> None:
    IdentityView.objects.bulk_create([IdentityView(county_id=s.county_id, staff=s, user=user, at=now, channel=channel)
                                      for s in staff])


def full_number(user, staff: Staff, channel: str, now: datetime, *, request=None) -> str:
    """The whole identity number, logged: an ``IdentityView`` row and a security event
    (``identity.view``; ``request``: the address and browser it came from). Callers check
    ``scoping.may_see_identity`` first."""
    log_full_views(user, [staff], channel, now)
    audit.record(audit.Event.IDENTITY_VIEW, request=request, actor=user, target=staff, now=now,
                 details={"channel": channel})
    return identity.decrypt(staff.id_cipher)


def log_roster_export(*, user, people: list[Staff], shown: list[Staff], county_ids: list[int], now: datetime,
                      request=None) -> None:
    """The security log of a roster export (personal data): one ``export.personal`` event per county
    of the people exported (one, unless a city's user exports several counties), with the rows
    exported and how many identity numbers were shown whole; an empty export is recorded for the
    county of the page (``county_ids``, when it is one). The ``IdentityView`` rows are written by
    ``log_full_views``. One lock and one insert."""
    rows, whole = Counter(p.county_id for p in people), Counter(p.county_id for p in shown)
    counties = sorted(rows) or (list(county_ids) if len(county_ids) == 1 else [None])
    audit.record_many([audit.Pending(audit.Event.EXPORT_PERSONAL, actor=user, county_id=county_id, details={
        "register": "roster", "rows": rows[county_id], "full_identity_numbers": whole[county_id]})
        for county_id in counties], request=request, now=now)


def _alliances_on(institution_id: int, day: date) -> set[int]:
    return set(AllianceMembership.objects.on(day).filter(institution_id=institution_id)
               .values_list("alliance_id", flat=True))


@transaction.atomic
def record_move(staff: Staff, *, kind: str, to: Institution, start: date, end: date | None, note: str, user,
                now: datetime) -> Move:
    """A transfer, secondment or 县聘乡用 inside the alliance, checked: the destination is another
    member of the person's alliance on the first day, a secondment has an end after its start and
    does not overlap another of the person's secondments; 县聘乡用 goes from a county-level hospital to
    a township or community centre. A transfer begun by today moves the person's working institution;
    the home (编制) never moves."""
    with transaction.atomic():
        # The person's row is locked while the move is checked and written: a second click waits, then
        # sees the first one's move ("already works at …") instead of recording it twice.
        Staff.objects.select_for_update().filter(pk=staff.pk).first()
        return _record_move(staff, kind=kind, to=to, start=start, end=end, note=note, user=user, now=now)


def _record_move(staff: Staff, *, kind: str, to: Institution, start: date, end: date | None, note: str, user,
                 now: datetime) -> Move:
    from staffing import rules

    errors = {}
    moves = list(staff.moves.all())
    here = rules.place_on(staff, moves, start)
    if to.pk == here:
        errors["to_institution"] = _("%(name)s already works at %(institution)s on %(day)s.") % {
            "name": staff.name, "institution": to.name, "day": start.isoformat()}
    elif to.county_id != staff.county_id or not (_alliances_on(here, start) & _alliances_on(to.pk, start)):
        errors["to_institution"] = _("%(institution)s is not a member of the same alliance as %(here)s on %(day)s.") % {
            "institution": to.name, "here": Institution.objects.get(pk=here).name, "day": start.isoformat()}
    if kind == Move.Kind.SECONDMENT:
        if end is None:
            errors["end"] = _("A secondment needs its end date.")
        elif end < start:
            errors["end"] = _("The end is before the start.")
        else:
            clash = next((m for m in moves if m.kind == Move.Kind.SECONDMENT and m.start <= end and start <= m.end),
                         None)
            if clash:
                errors["start"] = _("It overlaps the secondment to %(institution)s from %(start)s to %(end)s.") % {
                    "institution": clash.to_institution.name, "start": clash.start, "end": clash.end}
    else:
        end = None
    if kind == Move.Kind.COUNTY_HIRE:
        source = Institution.objects.get(pk=here)
        if source.kind not in Institution.LEAD_KINDS or to.kind not in Institution.PARENT_KINDS:
            errors["kind"] = _("县聘乡用 goes from a county-level hospital to a township or community health centre.")
    if errors:
        raise ValidationError(errors)
    move = Move.objects.create(staff=staff, kind=kind, from_institution_id=here, to_institution=to, start=start,
                               end=end, note=note.strip(), created_at=now, created_by=user)
    if kind != Move.Kind.SECONDMENT and start <= local_date(now):
        Staff.objects.filter(pk=staff.pk).update(institution=to)
        staff.institution = to
    return move
