"""The county as validation sees it: its institutions, alliances and memberships, read once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from alliances import scoping
from alliances.imports.cells import _key
from alliances.models import Alliance, AllianceMembership, Institution, Region

Role = AllianceMembership.Role


@dataclass
class _County:
    """The county as it is now, read once (a constant number of queries)."""

    institutions: dict[str, Institution]  # by name key
    by_pk: dict[int, Institution]
    children: dict[int, list[int]]
    memberships: dict[int, list[AllianceMembership]]  # by institution, oldest first
    alliances: list[Alliance]
    alliance_by_pk: dict[int, Alliance]

    @classmethod
    def load(cls, user, county: Region) -> _County:
        institutions = list(scoping.queryset_for(user, Institution, scoping.CHANGE).filter(county=county))
        alliances = list(scoping.queryset_for(user, Alliance, scoping.CHANGE).filter(county=county))
        memberships: dict[int, list[AllianceMembership]] = {}
        for m in (scoping.queryset_for(user, AllianceMembership, scoping.CHANGE)
                  .filter(alliance__county=county).order_by("valid_from", "pk")):
            memberships.setdefault(m.institution_id, []).append(m)
        children: dict[int, list[int]] = {}
        for i in institutions:
            if i.parent_id:
                children.setdefault(i.parent_id, []).append(i.pk)
        return cls(
            institutions={_key(i.name): i for i in institutions},
            by_pk={i.pk: i for i in institutions},
            children=children,
            memberships=memberships,
            alliances=alliances,
            alliance_by_pk={a.pk: a for a in alliances},
        )

    def membership_on(self, institution_id: int | None, day: date) -> AllianceMembership | None:
        return next((m for m in self.memberships.get(institution_id, []) if m.in_force_on(day)), None)

    def lead_on(self, alliance_id: int, day: date) -> AllianceMembership | None:
        return next((m for ms in self.memberships.values() for m in ms
                     if m.alliance_id == alliance_id and m.role == Role.LEAD and m.in_force_on(day)), None)
