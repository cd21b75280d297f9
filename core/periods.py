"""Reporting periods as values: ``2026-10`` (month), ``2026Q3``, ``2026H1``, ``2026``.

A period knows its first and last day, the period before and after it, the same
period one year earlier, the periods of a finer kind it contains and the
period of a coarser kind that contains it. Parsing errors are ``PeriodError``
with a Chinese message that quotes the offending text.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from django.utils.translation import gettext as _


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"

    @property
    def months(self) -> int:
        return {"month": 1, "quarter": 3, "half_year": 6, "year": 12}[self.value]

    @property
    def per_year(self) -> int:
        return 12 // self.months


# Coarse-to-fine order; a kind contains only the kinds that come after it.
_ORDER = [PeriodKind.YEAR, PeriodKind.HALF_YEAR, PeriodKind.QUARTER, PeriodKind.MONTH]

_PATTERNS = [
    (re.compile(r"^(\d{4})-(\d{2})$"), PeriodKind.MONTH),
    (re.compile(r"^(\d{4})Q(\d)$"), PeriodKind.QUARTER),
    (re.compile(r"^(\d{4})H(\d)$"), PeriodKind.HALF_YEAR),
    (re.compile(r"^(\d{4})$"), PeriodKind.YEAR),
]

_QUARTER_ZH = {1: "一", 2: "二", 3: "三", 4: "四"}


class PeriodError(ValueError):
    """Raised for text that is not a period; the message is for the user."""


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period. ``index`` is 1-based within the year (1 for a year)."""

    year: int
    kind: PeriodKind
    index: int

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9999:
            raise PeriodError(_("Year %(year)s is out of range.") % {"year": self.year})
        if not 1 <= self.index <= self.kind.per_year:
            raise PeriodError(
                _("%(kind)s number %(index)s is out of range 1–%(max)s.")
                % {"kind": self.kind_label, "index": self.index, "max": self.kind.per_year}
            )

    # Construction -----------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Period:
        if not isinstance(text, str):
            raise PeriodError(_("A period must be text such as 2026-10, 2026Q3, 2026H1 or 2026."))
        raw = text.strip().upper()
        for pattern, kind in _PATTERNS:
            match = pattern.match(raw)
            if match:
                year = int(match.group(1))
                index = int(match.group(2)) if kind is not PeriodKind.YEAR else 1
                try:
                    return cls(year, kind, index)
                except PeriodError as exc:
                    raise PeriodError(
                        _("“%(text)s” is not a valid period: %(reason)s") % {"text": text, "reason": exc}
                    ) from None
        raise PeriodError(
            _("“%(text)s” is not a period; write a month as 2026-10, a quarter as 2026Q3, "
              "a half-year as 2026H1 or a year as 2026.") % {"text": text}
        )

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(year, PeriodKind.MONTH, month)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        return cls(year, PeriodKind.QUARTER, quarter)

    @classmethod
    def half_year(cls, year: int, half: int) -> Period:
        return cls(year, PeriodKind.HALF_YEAR, half)

    @classmethod
    def of_year(cls, year: int) -> Period:
        return cls(year, PeriodKind.YEAR, 1)

    @classmethod
    def containing_date(cls, kind: PeriodKind, day: date) -> Period:
        return cls(day.year, kind, (day.month - 1) // kind.months + 1)

    # Text -------------------------------------------------------------------------
    def __str__(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year:04d}-{self.index:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year:04d}Q{self.index}"
        if self.kind is PeriodKind.HALF_YEAR:
            return f"{self.year:04d}H{self.index}"
        return f"{self.year:04d}"

    @property
    def kind_label(self) -> str:
        return {
            PeriodKind.MONTH: _("Month"),
            PeriodKind.QUARTER: _("Quarter"),
            PeriodKind.HALF_YEAR: _("Half-year"),
            PeriodKind.YEAR: _("Year"),
        }[self.kind]

    @property
    def label(self) -> str:
        """The period as people write it in Chinese documents: 2026年10月, 2026年第三季度."""
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}年{self.index}月"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}年第{_QUARTER_ZH[self.index]}季度"
        if self.kind is PeriodKind.HALF_YEAR:
            return f"{self.year}年{'上' if self.index == 1 else '下'}半年"
        return f"{self.year}年"

    # Dates ------------------------------------------------------------------------
    @property
    def first_month(self) -> int:
        return (self.index - 1) * self.kind.months + 1

    @property
    def last_month(self) -> int:
        return self.index * self.kind.months

    @property
    def start(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        month = self.last_month
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains_date(self, day: date) -> bool:
        return self.start <= day <= self.end

    # Arithmetic -------------------------------------------------------------------
    def shift(self, steps: int) -> Period:
        """The period ``steps`` periods of the same kind later (earlier if negative)."""
        ordinal = self.year * self.kind.per_year + (self.index - 1) + steps
        year, index0 = divmod(ordinal, self.kind.per_year)
        return Period(year, self.kind, index0 + 1)

    @property
    def previous(self) -> Period:
        return self.shift(-1)

    @property
    def next(self) -> Period:
        return self.shift(1)

    @property
    def same_period_last_year(self) -> Period:
        return Period(self.year - 1, self.kind, self.index)

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end

    def subperiods(self, kind: PeriodKind) -> list[Period]:
        """The periods of a finer (or the same) ``kind`` that make up this one."""
        if _ORDER.index(kind) < _ORDER.index(self.kind):
            raise PeriodError(
                _("A %(outer)s cannot be split into %(inner)s periods.")
                % {"outer": self.kind_label, "inner": Period(self.year, kind, 1).kind_label}
            )
        first = Period.containing_date(kind, self.start)
        count = self.kind.months // kind.months
        return [first.shift(i) for i in range(count)]

    def containing(self, kind: PeriodKind) -> Period:
        """The period of a coarser (or the same) ``kind`` this one lies in."""
        if _ORDER.index(kind) > _ORDER.index(self.kind):
            raise PeriodError(
                _("A %(inner)s does not lie in a single %(outer)s.")
                % {"inner": self.kind_label, "outer": Period(self.year, kind, 1).kind_label}
            )
        return Period.containing_date(kind, self.start)

    def year_to_date(self) -> tuple[date, date]:
        """From 1 January to the end of this period: the span of 累计 (cumulative) figures."""
        return date(self.year, 1, 1), self.end
