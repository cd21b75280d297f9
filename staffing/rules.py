"""The arithmetic of unified staffing, on plain rows (no queries here):

- where a person works on a day: the newest transfer or 县聘乡用 begun by then, else the working
  institution they were first recorded at; an active secondment overrides it for its days;
- the pooled establishment of an alliance: per member approved, filled (在编 people whose home it
  is), vacant, lent (its people working at another member) and borrowed (another member's people
  working here); 员额 apart;
- secondment days per calendar year and the 派驻 rule: a secondment counts for a year when the person
  holds a 中级 or higher title and the secondment covers at least six calendar months of that year
  (the calendar-year cut: a secondment across New Year is judged in each year by its days in it).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from staffing.models import Establishment, Move, Staff

ESTABLISHED = Staff.Employment.ESTABLISHED
QUOTA = Staff.Employment.QUOTA
PLACING = (Move.Kind.TRANSFER, Move.Kind.COUNTY_HIRE)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def place_on(staff: Staff, moves: list[Move], day: date) -> int:
    """The institution ``staff`` works at on ``day`` (``moves``: the person's moves, any order)."""
    seconded = [m for m in moves if m.kind == Move.Kind.SECONDMENT and m.start <= day <= m.end]
    if seconded:
        return max(seconded, key=lambda m: (m.start, m.pk or 0)).to_institution_id
    placing = sorted((m for m in moves if m.kind in PLACING), key=lambda m: (m.start, m.pk or 0))
    begun = [m for m in placing if m.start <= day]
    if begun:
        return begun[-1].to_institution_id
    if placing:  # before the first transfer: where it took them from
        return placing[0].from_institution_id
    return staff.institution_id


def secondment_days(move: Move, year: int) -> int:
    """Days of the secondment that fall in ``year``."""
    start, end = max(move.start, date(year, 1, 1)), min(move.end, date(year, 12, 31))
    return max(0, (end - start).days + 1)


def counts_for_paizhu(move: Move, staff: Staff, year: int) -> bool:
    """Whether the secondment counts toward the 派驻 indicator of ``year``: a 中级 or higher title and at
    least six calendar months of the secondment inside the year."""
    if move.kind != Move.Kind.SECONDMENT or staff.title not in Staff.MID_OR_ABOVE:
        return False
    start, end = max(move.start, date(year, 1, 1)), min(move.end, date(year, 12, 31))
    if end < start:
        return False
    return end >= add_months(start, 6) - timedelta(days=1)


@dataclass
class EstablishmentRow:
    institution_id: int
    approved: int = 0  # 编制
    filled: int = 0  # 在编 people whose home it is
    lent: int = 0  # of them, working at another institution
    borrowed: int = 0  # 在编 people of another home working here
    quota_approved: int = 0  # 员额
    quota_filled: int = 0
    by_nature: dict[str, int] = field(default_factory=dict)  # approved 编制 by 公益一类/二类

    @property
    def vacant(self) -> int:
        return self.approved - self.filled

    @property
    def on_site(self) -> int:
        """在编 people working here: filled − lent + borrowed."""
        return self.filled - self.lent + self.borrowed

    @property
    def quota_vacant(self) -> int:
        return self.quota_approved - self.quota_filled


def establishment(member_ids: list[int], approvals: list[Establishment], staff: list[Staff],
                  moves: dict[int, list[Move]], day: date) -> tuple[list[EstablishmentRow], EstablishmentRow]:
    """Each member's row and the alliance's pooled row on ``day``. ``staff``: the people whose home or
    working institution is a member; ``moves``: their moves by staff id."""
    rows = {pk: EstablishmentRow(pk) for pk in member_ids}
    for approval in approvals:
        row = rows.get(approval.institution_id)
        if row is None:
            continue
        if approval.kind == Establishment.Kind.QUOTA:
            row.quota_approved += approval.approved
        else:
            row.approved += approval.approved
            row.by_nature[approval.nature] = row.by_nature.get(approval.nature, 0) + approval.approved
    pooled = EstablishmentRow(0)
    for person in staff:
        if not person.active_on(day):
            continue
        where = place_on(person, moves.get(person.pk, []), day)
        if person.employment == QUOTA and person.home_id in rows:
            rows[person.home_id].quota_filled += 1
        if person.employment != ESTABLISHED:
            continue
        if person.home_id in rows:
            rows[person.home_id].filled += 1
            if where != person.home_id:
                rows[person.home_id].lent += 1
                pooled.lent += where not in rows  # to outside the alliance
        if where in rows and where != person.home_id:
            rows[where].borrowed += 1
            pooled.borrowed += person.home_id not in rows  # from outside the alliance
    natures: dict[str, int] = defaultdict(int)
    for row in rows.values():
        pooled.approved += row.approved
        pooled.filled += row.filled
        pooled.quota_approved += row.quota_approved
        pooled.quota_filled += row.quota_filled
        for nature, count in row.by_nature.items():
            natures[nature] += count
    # Pooled, moves between members cancel out: the alliance lends and borrows only across its boundary.
    pooled.by_nature = dict(natures)
    return [rows[pk] for pk in member_ids], pooled


def subtotal(rows: list[EstablishmentRow]) -> EstablishmentRow:
    """The members' rows added up (编制 of county-level and of primary institutions are approved
    separately, seed 001 人事制度改革); lent and borrowed are the members' own."""
    total = EstablishmentRow(0)
    for row in rows:
        total.approved += row.approved
        total.filled += row.filled
        total.lent += row.lent
        total.borrowed += row.borrowed
        total.quota_approved += row.quota_approved
        total.quota_filled += row.quota_filled
    return total
