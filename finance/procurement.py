"""The alliance's unified procurement (统一采购): its single account and what each member bought
through it, by month and category. A month is entered as one grid (members × categories): a bad
cell is named and nothing saved; every changed amount is kept in ``AmountChange``."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from alliances.models import Alliance
from core.periods import Period, PeriodKind
from finance.budgets import members_of, parse_amount
from finance.models import AmountChange, Purchase

CATEGORIES = list(Purchase.Category)
ZERO = Decimal(0)


def month_values(alliance: Alliance, month: Period) -> dict[tuple[int, str], Decimal]:
    return {(i, c): a for i, c, a in Purchase.objects.filter(alliance=alliance, month=str(month))
            .values_list("institution_id", "category", "amount")}


def save_month(alliance: Alliance, month: Period, entries: dict[tuple[int, str], str], *, user,
               now: datetime) -> list[str]:
    """Replace the month's purchases by ``entries`` ({(member id, category): text}). Returns the errors;
    nothing is saved unless there are none."""
    return save_months(alliance, {month: entries}, user=user, now=now)


def save_months(alliance: Alliance, months: dict[Period, dict[tuple[int, str], str]], *, user,
                now: datetime) -> list[str]:
    """Replace each given month's purchases by its entries, all months or none (an import replaces
    the months its file holds). Returns the errors, named by month, member and category."""
    errors, parsed = [], {}
    for month, entries in months.items():
        members = {m.pk: m for m in members_of(alliance, month.year)}
        values = {}
        for (institution_id, category), text in entries.items():
            if institution_id not in members or category not in Purchase.Category.values:
                continue  # not a cell of this grid
            try:
                values[(institution_id, category)] = parse_amount(text)
            except ValueError:
                where = {"member": members[institution_id].name, "category": Purchase.Category(category).label,
                         "text": text}
                message = _("%(member)s · %(category)s: “%(text)s” is not an amount in yuan (a number ≥ 0, two "
                            "decimal places at most).") % where
                errors.append(f"{month.label} {message}" if len(months) > 1 else message)
        parsed[month] = (members, values)
    if errors:
        return errors
    changes, rows = [], []
    for month, (members, values) in parsed.items():
        current = month_values(alliance, month)
        record = _("%(alliance)s %(month)s purchases") % {"alliance": alliance.name, "month": month.label}
        for key in sorted(set(current) | set(values), key=lambda k: (k[0], CATEGORIES.index(k[1]))):
            old, new = current.get(key), values.get(key)
            if old != new and key[0] in members:
                changes.append(AmountChange(
                    county_id=alliance.county_id, year=month.year, record=record, user=user, at=now,
                    field=f"{members[key[0]].name} · {Purchase.Category(key[1]).label}",
                    old="" if old is None else f"{old:,.2f}", new="" if new is None else f"{new:,.2f}"))
        rows += [Purchase(alliance=alliance, county_id=alliance.county_id, institution_id=i, month=str(month),
                          category=c, amount=v) for (i, c), v in values.items() if v is not None]
    with transaction.atomic():
        Purchase.objects.filter(alliance=alliance, month__in=[str(m) for m in parsed]).delete()
        Purchase.objects.bulk_create(rows)
        AmountChange.objects.bulk_create(changes)
    return []


def year_summary(alliance: Alliance, year: int) -> dict:
    """Totals of ``year``: by member × category, by month × category, and overall. One query."""
    by_member: dict[int, dict[str, Decimal]] = defaultdict(dict)
    by_month: dict[str, dict[str, Decimal]] = defaultdict(dict)
    detail: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(dict)  # (month, member) → category → amount
    for institution_id, month, category, amount in Purchase.objects.filter(
            alliance=alliance, month__startswith=f"{year}-").values_list("institution_id", "month", "category",
                                                                        "amount"):
        by_member[institution_id][category] = by_member[institution_id].get(category, ZERO) + amount
        by_month[month][category] = by_month[month].get(category, ZERO) + amount
        detail[(month, institution_id)][category] = amount
    totals = {c: sum((row.get(c, ZERO) for row in by_member.values()), ZERO) for c in Purchase.Category.values}
    months = [Period.month(year, m) for m in range(1, 13)]
    return {"by_member": by_member, "by_month": by_month, "detail": detail, "totals": totals, "months": months,
            "grand_total": sum(totals.values(), ZERO)}


def parse_month(text: str | None, default: Period) -> Period:
    try:
        period = Period.parse(text or "")
    except ValueError:
        return default
    return period if period.kind == PeriodKind.MONTH and 2000 <= period.year <= default.year + 1 else default
