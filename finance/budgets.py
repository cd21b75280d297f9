"""Budgets by line (统一预算, seed 000 item 7, seed 001 统一财务管理): the lines, a budget's grid (the
alliance's total and each member's sub-budget by line, with the sum of the sub-budgets and the
difference from the total shown, never hidden), entering amounts (all or nothing, errors named by
member and line), versions (original, then adjusted copies) and the bureau's approval.

Amounts are Decimal yuan with two places; "of which" lines (药品, 卫生材料, 检查, 化验, 医疗服务) are
parts of 医疗收入 and are not added again into the totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances.models import Alliance, AllianceMembership, Institution
from finance.filed import monthly_sums
from finance.models import AmountChange, Budget, BudgetAmount

ZERO = Decimal(0)
FEN = Decimal("0.01")
INCOME, EXPENSE = "income", "expense"


@dataclass(frozen=True)
class Line:
    code: str
    label: object
    side: str
    part_of: str = ""  # an "of which" line of this one
    element: str = ""  # the filed data element of its execution, where one exists


LINES = [
    Line("MED", gettext_lazy("医疗收入"), INCOME, element="MED_REVENUE"),
    Line("DRUG", gettext_lazy("其中：药品收入"), INCOME, part_of="MED", element="DRUG_REVENUE"),
    Line("MATERIAL", gettext_lazy("其中：卫生材料收入"), INCOME, part_of="MED", element="CONSUMABLE_REVENUE"),
    Line("EXAM", gettext_lazy("其中：检查收入"), INCOME, part_of="MED", element="EXAM_REVENUE"),
    Line("LAB", gettext_lazy("其中：化验收入"), INCOME, part_of="MED", element="LAB_REVENUE"),
    Line("SERVICE", gettext_lazy("其中：医疗服务收入"), INCOME, part_of="MED"),
    Line("FISCAL", gettext_lazy("财政补助收入"), INCOME, element="FISCAL_REVENUE"),
    Line("OTHER_INCOME", gettext_lazy("其他收入"), INCOME),
    Line("PERSONNEL", gettext_lazy("人员经费"), EXPENSE, element="PERSONNEL_EXPENSE"),
    Line("DRUGS_MATERIALS", gettext_lazy("药品耗材"), EXPENSE, element="EXP_DRUGS_MATERIALS"),
    Line("EQUIPMENT", gettext_lazy("设备购置"), EXPENSE, element="EXP_EQUIPMENT"),
    Line("CONSTRUCTION", gettext_lazy("基本建设"), EXPENSE, element="EXP_CONSTRUCTION"),
    Line("IT", gettext_lazy("信息化建设"), EXPENSE, element="EXP_IT"),
    Line("PUBLIC_HEALTH", gettext_lazy("公共卫生"), EXPENSE, element="EXP_PUBLIC_HEALTH"),
    Line("OTHER_EXPENSE", gettext_lazy("其他支出"), EXPENSE, element="EXP_OTHER"),
]
LINE_BY_CODE = {line.code: line for line in LINES}
TOTAL = "total"  # the column key of the alliance's total


def members_of(alliance: Alliance, year: int) -> list[Institution]:
    """The alliance's members on the year's last day, the lead first (one query)."""
    return [m.institution for m in AllianceMembership.objects.on(date(year, 12, 31)).filter(alliance=alliance)
            .select_related("institution").order_by("role", "institution__name")]


@dataclass
class Grid:
    budget: Budget
    members: list[Institution]
    cells: dict[tuple[str, object], Decimal] = field(default_factory=dict)  # (line, TOTAL | institution id)

    def value(self, line: str, column) -> Decimal | None:
        return self.cells.get((line, column))

    def members_sum(self, line: str) -> Decimal | None:
        found = [self.cells[(line, m.pk)] for m in self.members if (line, m.pk) in self.cells]
        return sum(found, ZERO) if found else None

    def difference(self, line: str) -> Decimal | None:
        """The total minus the sum of the sub-budgets (None when either is missing)."""
        total, parts = self.value(line, TOTAL), self.members_sum(line)
        if total is None or parts is None:
            return None
        return total - parts

    def side_total(self, side: str, column) -> Decimal:
        return sum((self.cells.get((line.code, column), ZERO) for line in LINES
                    if line.side == side and not line.part_of), ZERO)

    def rows(self) -> list[dict]:
        rows = []
        for line in LINES:
            rows.append({"line": line, "total": self.value(line.code, TOTAL),
                         "members": [self.value(line.code, m.pk) for m in self.members],
                         "sum": self.members_sum(line.code), "difference": self.difference(line.code)})
        return rows

    def side_rows(self) -> list[dict]:
        return [{"side": side, "label": label, "total": self.side_total(side, TOTAL),
                 "members": [self.side_total(side, m.pk) for m in self.members]}
                for side, label in ((INCOME, _("收入合计")), (EXPENSE, _("支出合计")))]


def grid(budget: Budget) -> Grid:
    """Two queries: the members and the amounts."""
    result = Grid(budget, members_of(budget.alliance, budget.year))
    for institution_id, line, amount in budget.amounts.values_list("institution_id", "line", "amount"):
        result.cells[(line, institution_id or TOTAL)] = amount
    return result


def parse_amount(text: str) -> Decimal | None:
    """"1,234.5" → Decimal("1234.50"); "" → None. Raises ValueError for text, negatives or more
    than two decimal places."""
    text = (text or "").strip().replace(",", "").replace("，", "").replace(" ", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite() or value < 0 or value != value.quantize(FEN) or value >= Decimal("1e14"):
        raise ValueError("out of range")
    return value.quantize(FEN)


def save_amounts(budget: Budget, entries: dict[tuple[str, object], str], *, user, now: datetime) -> list[str]:
    """Replace the budget's amounts by ``entries`` ({(line code, TOTAL | institution id): text}).
    Returns the errors (Chinese, naming member and line); nothing is saved unless there are none.
    Only a draft can change; each changed amount is kept in ``AmountChange``."""
    if budget.state != Budget.State.DRAFT:
        return [_("This budget is approved; make an adjusted version to change it.")]
    members = {m.pk: m for m in members_of(budget.alliance, budget.year)}
    errors, values = [], {}
    for (line, column), text in entries.items():
        if line not in LINE_BY_CODE or (column != TOTAL and column not in members):
            errors.append(_("Unknown line or member: %(line)s / %(column)s") % {"line": line, "column": column})
            continue
        where = _("total") if column == TOTAL else members[column].name
        try:
            value = parse_amount(text)
        except ValueError:
            errors.append(_("%(where)s · %(line)s: “%(text)s” is not an amount in yuan (a number ≥ 0, two decimal "
                            "places at most).") % {"where": where, "line": LINE_BY_CODE[line].label, "text": text})
            continue
        values[(line, column)] = value
    if errors:
        return errors
    current = {(line, institution_id or TOTAL): amount
               for institution_id, line, amount in budget.amounts.values_list("institution_id", "line", "amount")}
    record = _("%(alliance)s %(year)s budget v%(n)s") % {"alliance": budget.alliance.name, "year": budget.year,
                                                        "n": budget.number}
    changes = []
    for key in sorted(set(current) | set(values), key=lambda k: (list(LINE_BY_CODE).index(k[0]), str(k[1]))):
        old, new = current.get(key), values.get(key)
        if old == new:
            continue
        line, column = key
        where = _("total") if column == TOTAL else members[column].name if column in members else str(column)
        changes.append(AmountChange(county_id=budget.county_id, year=budget.year, user=user, at=now, record=record,
                                    field=f"{where} · {LINE_BY_CODE[line].label}",
                                    old="" if old is None else f"{old:,.2f}", new="" if new is None else f"{new:,.2f}"))
    rows = [BudgetAmount(budget=budget, line=line, amount=value, institution_id=None if column == TOTAL else column)
            for (line, column), value in values.items() if value is not None]
    with transaction.atomic():
        budget.amounts.all().delete()  # ``entries`` is the whole grid
        BudgetAmount.objects.bulk_create(rows)
        AmountChange.objects.bulk_create(changes)
    return []


OPEN_STATES = (Budget.State.DRAFT, Budget.State.SUBMITTED)
REASON_MAX = 500


def new_version(alliance: Alliance, year: int, *, user, now: datetime, reason: str = "") -> Budget:
    """The original budget if there is none; else an adjusted copy of the newest approved one, which
    needs the reason for the adjustment. A version already open (drafted or submitted) is returned
    as it is."""
    reason = (reason or "").strip()
    with transaction.atomic():
        # One at a time per alliance: a second click waits here and then finds the first one's draft
        # (without the lock it could read "no draft" before and the highest number after the first commit).
        Alliance.objects.select_for_update().filter(pk=alliance.pk).first()
        draft = Budget.objects.filter(alliance=alliance, year=year, state__in=OPEN_STATES).first()
        if draft is not None:
            return draft
        approved = Budget.objects.filter(alliance=alliance, year=year, state=Budget.State.APPROVED) \
            .order_by("-number").first()
        if approved is not None and not reason:
            raise ValidationError(_("Adjusting an approved budget needs the reason for the adjustment."))
        if len(reason) > 200:
            raise ValidationError(_("The reason for the adjustment has %(n)s characters; at most 200.") % {"n": len(reason)})
        number = (Budget.objects.filter(alliance=alliance, year=year).aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            budget = Budget.objects.create(alliance=alliance, year=year, number=number, created_at=now,
                                           created_by=user, note=reason if approved else "",
                                           kind=Budget.Kind.ADJUSTED if approved else Budget.Kind.ORIGINAL)
        except IntegrityError:
            raise ValidationError(_("Another version was made meanwhile; reload the page.")) from None
        if approved is not None:
            BudgetAmount.objects.bulk_create([BudgetAmount(budget=budget, institution_id=a.institution_id,
                                                           line=a.line, amount=a.amount)
                                              for a in approved.amounts.all()])
    return budget


def submit(budget: Budget, *, user, now: datetime) -> bool:
    """Draft → submitted for the bureau's approval (conditional; the grid is locked meanwhile)."""
    return bool(Budget.objects.filter(pk=budget.pk, state=Budget.State.DRAFT).update(
        state=Budget.State.SUBMITTED, submitted_at=now, submitted_by=user, return_reason=""))


def return_to_draft(budget: Budget, *, reason: str) -> bool:
    """Submitted → draft again, with the bureau's reason (required, at most 500 characters)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the budget is returned."))
    if len(reason) > REASON_MAX:
        raise ValidationError(_("The reason has %(n)s characters; at most %(max)s.") % {"n": len(reason),
                                                                                    "max": REASON_MAX})
    return bool(Budget.objects.filter(pk=budget.pk, state=Budget.State.SUBMITTED).update(
        state=Budget.State.DRAFT, return_reason=reason))


def approve(budget: Budget, *, user, now: datetime) -> bool:
    """Submitted (or a draft the bureau made itself) → approved (conditional: two clicks approve once)."""
    return bool(Budget.objects.filter(pk=budget.pk, state__in=OPEN_STATES).update(
        state=Budget.State.APPROVED, approved_at=now, approved_by=user))


# Execution: filed actuals against the budget ------------------------------------------------------

DERIVED = {  # lines whose actual is worked out from other filed elements
    "SERVICE": ("MED_REVENUE", ("DRUG_REVENUE", "CONSUMABLE_REVENUE", "EXAM_REVENUE", "LAB_REVENUE")),
    "OTHER_INCOME": ("TOTAL_REVENUE", ("MED_REVENUE", "FISCAL_REVENUE")),
}
PACING_POINTS = Decimal(10)  # warn when the execution rate is off the elapsed share by more


@dataclass
class ExecutionCell:
    budget: Decimal | None
    actual: Decimal | None

    @property
    def rate(self) -> Decimal | None:
        if not self.budget or self.actual is None:
            return None
        return (self.actual / self.budget * 100).quantize(FEN)


@dataclass
class Execution:
    grid: Grid
    months: int  # months of the year with filed figures
    rows: list[dict]
    threshold: Decimal

    @property
    def elapsed(self) -> Decimal:
        return (Decimal(self.months) * 100 / 12).quantize(FEN)


def _elements_needed() -> set[str]:
    codes = {line.element for line in LINES if line.element}
    for total, parts in DERIVED.values():
        codes |= {total, *parts}
    return codes


def filed_actuals(institution_ids: list[int], year: int, through: date | None = None
                  ) -> tuple[dict[tuple[int, str], Decimal], int]:
    """{(institution id, element code): sum of counted monthly values of ``year`` (up to ``through``)},
    and the number of months with any. One query."""
    return monthly_sums(_elements_needed(), year, institution_ids=institution_ids, through=through)


def actual_of(line: Line, sums: dict, institution_id: int) -> Decimal | None:
    if line.code in DERIVED:
        total_code, parts = DERIVED[line.code]
        total = sums.get((institution_id, total_code))
        if total is None:
            return None
        return total - sum((sums.get((institution_id, code), ZERO) for code in parts), ZERO)
    if not line.element:
        return None
    return sums.get((institution_id, line.element))


def execution(budget: Budget, *, threshold: Decimal = PACING_POINTS, through: date | None = None) -> Execution:
    """Each line's budget and filed actual for the alliance and each member, the rate, and whether it
    is off the elapsed share of the year (months filed / 12) by more than ``threshold`` points. Income
    and 人员经费 come from the 运行监测月报, the other expenditure lines from the 财务支出月报; a line
    nobody has filed has no actual. Three queries."""
    grid_ = grid(budget)
    member_ids = [m.pk for m in grid_.members]
    sums, months = filed_actuals(member_ids, budget.year, through)
    elapsed = Decimal(months) * 100 / 12
    rows = []
    for line in LINES:
        actuals = {m.pk: actual_of(line, sums, m.pk) for m in grid_.members}
        known = [a for a in actuals.values() if a is not None]
        total_actual = sum(known, ZERO) if known else None
        cells = [ExecutionCell(grid_.value(line.code, TOTAL), total_actual)]
        cells += [ExecutionCell(grid_.value(line.code, m.pk), actuals[m.pk]) for m in grid_.members]
        total = cells[0]
        off = total.rate is not None and months and abs(total.rate - elapsed) > threshold
        rows.append({"line": line, "cells": cells, "warning": bool(off),
                     "ahead": bool(off and total.rate > elapsed)})
    return Execution(grid_, months, rows, threshold)
