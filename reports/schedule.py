"""When each kind of report is due, as pure functions of the clock (Asia/Shanghai).

Seed 001 §四(四): "次月的5日推送上一个月的紧密型县域医共体进度监测表；…季度评价指标表，分别在每季度后一个月
的5日前经县政府审核后上报".

- 进度监测表 of month M: due on the 5th of M+1 at 08:00;
- 季度评价指标表 of quarter Q: drafted on the 1st after Q at 08:00, supervisors alerted if it is not
  signed off by the 3rd at 08:00, deadline the end of the 5th;
- filing reminders: on each reminder day of the month at 08:00, while the month's filings are not
  yet due;
- the late list: at 08:00 on the day after the due day of the county's monthly forms;
- each alliance's semi-annual financial analysis (seed 000 item 7): on the 15th after the half at 08:00;
- the weekly task digest for group robots: every Monday at 08:00, for the county and each alliance
  that has a robot (a digest is about the week: one missed by more than a day is not sent late).

A slot whose moment has passed is due; the sweep looks back ``CATCH_UP_DAYS`` so a report missed
while the scheduler was down goes out when it is back (marked late), and never further back than
that (a new installation does not send a year of old tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from core.periods import Period, PeriodKind
from reports.models import Kind

SEND_HOUR = 8
MONTHLY_DAY = 5
QUARTERLY_DRAFT_DAY = 1
SIGNOFF_ALERT_DAY = 3
QUARTERLY_DEADLINE_DAY = 5
DEFAULT_DUE_DAY = 5
# A report made later than this after its moment is marked late.
GRACE = timedelta(minutes=30)
# Reminders are only worth sending close to their day.
REMINDER_WINDOW = timedelta(hours=20)


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def catch_up() -> timedelta:
    return timedelta(days=getattr(settings, "REPORTS_CATCH_UP_DAYS", 40))


def at(day: date, hour: int = SEND_HOUR) -> datetime:
    """``day`` at ``hour``:00 in Asia/Shanghai, aware."""
    return datetime.combine(day, time(hour), tzinfo=zone())


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone())


def local_today(now: datetime) -> date:
    return now.astimezone(zone()).date()


@dataclass(frozen=True)
class Slot:
    kind: str
    period: Period
    due_at: datetime
    deadline: datetime
    edition: int = 0

    def is_late(self, now: datetime) -> bool:
        return now > self.due_at + GRACE


def _recent_months(now: datetime, back: int = 3) -> list[Period]:
    current = Period.containing_date(PeriodKind.MONTH, local_today(now))
    return [current.shift(-step) for step in range(1, back + 1)]


def _in_window(moment: datetime, now: datetime, window: timedelta) -> bool:
    return moment <= now and now - moment <= window


def monthly_slot(period: Period) -> Slot:
    due = at(period.next.start.replace(day=MONTHLY_DAY))
    return Slot(Kind.MONTHLY, period, due, due + GRACE)


def quarterly_slot(period: Period) -> Slot:
    after = period.end + timedelta(days=1)
    return Slot(Kind.QUARTERLY, period, at(after.replace(day=QUARTERLY_DRAFT_DAY)),
                end_of(after.replace(day=QUARTERLY_DEADLINE_DAY)))


def signoff_alert_at(period: Period) -> datetime:
    return at((period.end + timedelta(days=1)).replace(day=SIGNOFF_ALERT_DAY))


def signoff_alert_slot(period: Period) -> Slot:
    moment = signoff_alert_at(period)
    return Slot(Kind.SIGNOFF_ALERT, period, moment, moment + GRACE)


def reminder_slot(period: Period, day: int) -> Slot:
    moment = at(period.next.start.replace(day=day))
    return Slot(Kind.REMINDER, period, moment, moment + GRACE, edition=day)


def late_slot(period: Period, due_day: int) -> Slot:
    moment = at(period.next.start + timedelta(days=due_day))
    return Slot(Kind.LATE, period, moment, moment + GRACE)


FINANCE_HALF_DAY = 15  # the half-year's financial analysis: the 15th after the half, when its filings are in


def finance_half_slot(period: Period) -> Slot:
    moment = at((period.end + timedelta(days=1)).replace(day=FINANCE_HALF_DAY))
    return Slot(Kind.FINANCE_HALF, period, moment, moment + GRACE)


def finance_half_due(now: datetime) -> list[Slot]:
    current = Period.containing_date(PeriodKind.HALF_YEAR, local_today(now))
    return [s for s in (finance_half_slot(current.shift(-1)),) if _in_window(s.due_at, now, catch_up())]


TASK_DIGEST_WEEKDAY = 0  # Monday
TASK_DIGEST_WINDOW = timedelta(days=1)


def task_digest_slot(day: date) -> Slot:
    """The digest of ``day`` (a Monday): its month as the period, the day of the month as the edition."""
    moment = at(day)
    return Slot(Kind.TASK_DIGEST, Period.containing_date(PeriodKind.MONTH, day), moment, moment + GRACE,
                edition=day.day)


def task_digest_due(now: datetime) -> list[Slot]:
    today = local_today(now)
    monday = today - timedelta(days=(today.weekday() - TASK_DIGEST_WEEKDAY) % 7)
    return [s for s in (task_digest_slot(monday),) if _in_window(s.due_at, now, TASK_DIGEST_WINDOW)]


def slot_for(kind: str, period: Period, edition: int = 0, due_day: int = DEFAULT_DUE_DAY) -> Slot:
    """The slot of a given report (for ``generate now`` and tests)."""
    if kind == Kind.MONTHLY:
        return monthly_slot(period)
    if kind == Kind.QUARTERLY:
        return quarterly_slot(period)
    if kind == Kind.SIGNOFF_ALERT:
        return signoff_alert_slot(period)
    if kind == Kind.REMINDER:
        return reminder_slot(period, edition or 1)
    if kind == Kind.FINANCE_HALF:
        return finance_half_slot(period)
    if kind == Kind.TASK_DIGEST:
        return task_digest_slot(period.start.replace(day=edition or 1))
    return late_slot(period, due_day)


def monthly_due(now: datetime) -> list[Slot]:
    return [s for s in map(monthly_slot, _recent_months(now)) if _in_window(s.due_at, now, catch_up())]


def quarterly_due(now: datetime) -> list[Slot]:
    current = Period.containing_date(PeriodKind.QUARTER, local_today(now))
    slots = [quarterly_slot(current.shift(-step)) for step in (1, 2)]
    return [s for s in slots if _in_window(s.due_at, now, catch_up())]


def reminders_due(now: datetime, days: list[int], due_day: int) -> list[Slot]:
    """Reminders of the filing month (last month) whose day has come, before the due day."""
    slots = []
    for period in _recent_months(now, back=1):
        for day in days:
            if day > due_day:
                continue  # after the due day the late list takes over
            slot = reminder_slot(period, day)
            if _in_window(slot.due_at, now, REMINDER_WINDOW):
                slots.append(slot)
    return slots


def late_due(now: datetime, due_day: int) -> list[Slot]:
    return [s for s in (late_slot(p, due_day) for p in _recent_months(now, back=2))
            if _in_window(s.due_at, now, catch_up())]
