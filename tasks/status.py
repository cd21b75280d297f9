"""The status of an assignment at a moment: one pure function, so pages, the dashboard, the daily
job and the tests agree on one definition (healthchecks' ``Check.get_status``).

``assignment_status(...)`` reads nothing from the database and takes ``now`` as an argument. It
answers the status, the light of 三色督办 and the next moment at which the answer could change
by the passing of time alone (``next_change_at``). That moment is stored on the assignment with
an index, so the daily job asks "what changed since" instead of reading every row.

The rules (days are calendar days in Asia/Shanghai):

- done: a completion report was accepted. Nothing counts as overdue after it is done. An item
  "fixed, then ongoing" (4月底完成并持续推进) turns continuous once done.
- overdue (红): open, with a real due date, and today is after it. Continuous items, items
  without a readable deadline and cooperating units (配合单位 do not own the deadline) are
  never overdue.
- due soon (蓝): open and due within ``due_soon_days`` days (today included).
- behind (黄): open, and either a whole calendar month went by without a progress report
  (no report last month and none this month), or the reported percent is more than
  ``behind_margin`` points behind the share of the time elapsed between the start and the due
  date.
- Lights: 红 over 黄 over 蓝.

Indicator-backed items (``TaskItem.indicator_code``; judged by ``reports.targets``):

- done by the target (达标自动完成): the item completes itself when its indicator meets the
  target (``auto_complete``) and the last judgement says the target is met at the last complete
  period. A later correction that unmeets it opens the assignment again.
- behind by the trend (黄): open, and the indicator moved away from the target between the
  previous period and the last complete one. A cooperating unit carries no light for it either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

# BUSINESS_TZ and local_date are read from here by the task modules; other apps read core.clock.
from core.clock import BUSINESS_TZ, local_date
from tasks.deadlines import DeadlineKind

DATED_KINDS = (DeadlineKind.FIXED, DeadlineKind.ONGOING, DeadlineKind.MILESTONE)


class Status(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    ON_TRACK = "on_track", _("On track")
    DUE_SOON = "due_soon", _("Due soon")
    OVERDUE = "overdue", _("Overdue")
    DONE = "done", _("Done")
    CONTINUOUS = "continuous", _("Continuous")


class Light(models.TextChoices):
    NONE = "", _("No light")
    BLUE = "blue", _("Blue: due soon")
    YELLOW = "yellow", _("Yellow: behind")
    RED = "red", _("Red: overdue")


class Behind(models.TextChoices):
    NONE = "", _("Not behind")
    NO_REPORT = "no_report", _("No progress report for a month")
    SLOW = "slow", _("Progress behind the time elapsed")
    TREND = "trend", _("Indicator moving away from the target")


@dataclass(frozen=True)
class StatusRules:
    due_soon_days: int = 7
    behind_margin: int = 25  # percentage points


DEFAULT_RULES = StatusRules()


@dataclass(frozen=True)
class StatusResult:
    status: str
    light: str
    behind: str
    days_left: int | None
    days_late: int | None
    next_change_at: datetime | None
    by_target: bool = False  # done because the indicator meets the target (达标自动完成)


def start_of_day(day: date) -> datetime:
    """Midnight starting ``day`` in Asia/Shanghai, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=BUSINESS_TZ)


def first_of_month(day: date, months_ahead: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def assignment_status(
    *,
    is_lead: bool,
    kind: str,
    due_date: date | None,
    start_date: date,
    completed: bool,
    percent: int,
    last_report_at: datetime | None,
    now: datetime,
    rules: StatusRules = DEFAULT_RULES,
    auto_complete: bool = False,
    target_met: bool | None = None,
    target_away: bool = False,
) -> StatusResult:
    """The status of one assignment at ``now``. ``start_date`` is when the work began (the
    ledger's date, or the day the assignment was made if later); ``last_report_at`` the newest
    progress report that was not returned. ``target_met`` and ``target_away`` are the last
    judgement of the item's indicator (None: not linked or no figure); ``auto_complete`` whether
    meeting the target completes the item."""
    if auto_complete and target_met and not completed:
        return StatusResult(Status.DONE, Light.NONE, Behind.NONE, None, None, None, by_target=True)
    result = _time_status(is_lead=is_lead, kind=kind, due_date=due_date, start_date=start_date,
                          completed=completed, percent=percent, last_report_at=last_report_at, now=now, rules=rules)
    if (target_away and not target_met and is_lead and not result.behind
            and result.status not in (Status.DONE, Status.OVERDUE)):
        light = Light.YELLOW if result.light in (Light.NONE, Light.BLUE) else result.light
        return replace(result, light=light, behind=Behind.TREND)
    return result


def _time_status(*, is_lead: bool, kind: str, due_date: date | None, start_date: date, completed: bool,
                 percent: int, last_report_at: datetime | None, now: datetime, rules: StatusRules) -> StatusResult:
    """The status by time and reports alone (the rules of the module's docstring)."""
    today = local_date(now)
    reported = last_report_at is not None
    continuous = kind == DeadlineKind.CONTINUOUS or (kind == DeadlineKind.ONGOING and completed)

    if completed and not continuous:
        return StatusResult(Status.DONE, Light.NONE, Behind.NONE, None, None, None)

    moments: list[date] = []

    # A whole calendar month without a report: the month of the last report (or of the start),
    # then a month with nothing; from the first day after that month it shows.
    anchor = local_date(last_report_at) if reported else start_date
    no_report_from = first_of_month(anchor, 2)
    no_report = today >= no_report_from
    if not no_report:
        moments.append(no_report_from)

    if continuous or not is_lead or kind not in DATED_KINDS or due_date is None:
        if continuous:
            status = Status.CONTINUOUS
        else:
            status = Status.ON_TRACK if reported else Status.NOT_STARTED
        if not is_lead:
            # A cooperating unit reports but carries no light: the deadline is the lead's.
            return StatusResult(status, Light.NONE, Behind.NONE, None, None, None)
        behind = Behind.NO_REPORT if no_report else Behind.NONE
        light = Light.YELLOW if behind else Light.NONE
        return StatusResult(status, light, behind, None, None, _next(moments, today))

    days_left = (due_date - today).days
    if days_left < 0:
        return StatusResult(Status.OVERDUE, Light.RED, Behind.NO_REPORT if no_report else Behind.NONE,
                            None, -days_left, _next(moments, today))

    moments.append(due_date + timedelta(days=1))  # becomes overdue
    due_soon_from = due_date - timedelta(days=rules.due_soon_days)
    if today >= due_soon_from:
        status = Status.DUE_SOON
    else:
        status = Status.ON_TRACK if reported else Status.NOT_STARTED
        moments.append(due_soon_from)

    behind = Behind.NO_REPORT if no_report else Behind.NONE
    total = (due_date - start_date).days
    if not behind and total > 0:
        allowed = min(percent + rules.behind_margin, 100)
        # The first day on which the elapsed share is more than ``allowed`` percent.
        slow_from = start_date + timedelta(days=allowed * total // 100 + 1)
        if today >= slow_from:
            behind = Behind.SLOW
        else:
            moments.append(slow_from)

    if behind:
        light = Light.YELLOW
    elif status == Status.DUE_SOON:
        light = Light.BLUE
    else:
        light = Light.NONE
    return StatusResult(status, light, behind, days_left, None, _next(moments, today))


def _next(moments: list[date], today: date) -> datetime | None:
    future = [day for day in moments if day > today]
    return start_of_day(min(future)) if future else None
