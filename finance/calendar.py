"""Working days in China: Monday to Friday, except the public holidays (放假) the State Council
announces each year, plus the make-up working days (调休上班) that fall on a weekend.

``WorkCalendar`` is built from those exceptions (``CalendarDay`` rows: the national ones and a
county's own corrections) and answers "is this a working day" and "which is the n-th working day
from a date" without a query. Seed 003: the 医保 prepayment arrives "每季度前10个工作日内".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

HOLIDAY, WORKDAY = "holiday", "workday"
MAX_SCAN_DAYS = 370  # no run of days off is longer than a year


@dataclass(frozen=True)
class SpecialDay:
    day: date
    kind: str  # HOLIDAY or WORKDAY
    name: str = ""


class WorkCalendar:
    def __init__(self, exceptions: Iterable[SpecialDay]):
        self.kinds: dict[date, str] = {}
        self.names: dict[date, str] = {}
        for exception in exceptions:
            self.kinds[exception.day] = exception.kind
            self.names[exception.day] = exception.name

    def is_working_day(self, day: date) -> bool:
        kind = self.kinds.get(day)
        if kind == HOLIDAY:
            return False
        if kind == WORKDAY:
            return True
        return day.weekday() < 5

    def nth_working_day(self, start: date, n: int) -> date:
        """The ``n``-th working day counting ``start`` itself if it is one (n ≥ 1)."""
        if n < 1:
            raise ValueError("n starts at 1")
        day, seen = start, 0
        for _step in range(MAX_SCAN_DAYS + n * 3):
            if self.is_working_day(day):
                seen += 1
                if seen == n:
                    return day
            day += timedelta(days=1)
        raise ValueError(f"no {n} working days from {start}")

    def working_days(self, first: date, last: date) -> int:
        """Working days from ``first`` to ``last``, both included."""
        count, day = 0, first
        while day <= last:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count
