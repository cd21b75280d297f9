"""The status of an assignment (one pure function) and its lights, under time travel: the day
before, of and after a deadline; due soon; behind; continuous items across months; done items and
cooperating units never overdue. Then the same rules through the database: the stored next change
and the refresh that follows it."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tasks.deadlines import DeadlineKind
from tasks.models import Assignment
from tasks.services.status import assignments_refresh_due
from tasks.status import Behind, Light, Status, StatusRules, assignment_status, start_of_day

SH = ZoneInfo("Asia/Shanghai")
RULES = StatusRules(due_soon_days=7, behind_margin=25)


def at(day: str, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=SH)


def status(now, *, kind=DeadlineKind.FIXED, due=date(2026, 12, 31), start=date(2026, 1, 1), completed=False,
           percent=0, last_report=None, lead=True, rules=RULES):
    return assignment_status(is_lead=lead, kind=kind, due_date=due, start_date=start, completed=completed,
                             percent=percent, last_report_at=last_report, now=now, rules=rules)


# The deadline: the day before, of, and after -------------------------------------------------

def test_day_before_the_deadline_is_due_soon_with_one_day_left():
    result = status(at("2026-12-30"), percent=95, last_report=at("2026-12-20"))
    assert (result.status, result.light, result.days_left) == (Status.DUE_SOON, Light.BLUE, 1)


def test_the_deadline_day_itself_is_not_overdue():
    result = status(at("2026-12-31", 23, 59), percent=95, last_report=at("2026-12-20"))
    assert (result.status, result.light, result.days_left) == (Status.DUE_SOON, Light.BLUE, 0)


def test_the_day_after_the_deadline_is_overdue_red():
    result = status(at("2027-01-01", 0, 0), percent=95, last_report=at("2026-12-20"))
    assert (result.status, result.light, result.days_late) == (Status.OVERDUE, Light.RED, 1)


def test_midnight_in_shanghai_not_utc_decides_the_day():
    # 2026-12-31 16:30 UTC is already 2027-01-01 00:30 in Shanghai.
    result = status(datetime(2026, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC")), percent=95,
                    last_report=at("2026-12-20"))
    assert result.status == Status.OVERDUE


def test_due_soon_starts_n_days_before_by_the_county_rule():
    rules = StatusRules(due_soon_days=3, behind_margin=25)
    before = status(at("2026-12-27"), percent=99, last_report=at("2026-12-20"), rules=rules)
    on = status(at("2026-12-28"), percent=99, last_report=at("2026-12-20"), rules=rules)
    assert before.status == Status.ON_TRACK and before.light == Light.NONE
    assert on.status == Status.DUE_SOON and on.light == Light.BLUE
    assert before.next_change_at == start_of_day(date(2026, 12, 28))


def test_next_change_of_a_due_soon_item_is_the_first_overdue_moment():
    result = status(at("2026-12-30"), percent=95, last_report=at("2026-12-20"))
    assert result.next_change_at == start_of_day(date(2027, 1, 1))


# Done, cooperating, continuous, unknown --------------------------------------------------------

def test_nothing_counts_as_overdue_after_it_is_done():
    result = status(at("2027-06-01"), completed=True, percent=100, last_report=at("2026-12-10"))
    assert (result.status, result.light, result.next_change_at) == (Status.DONE, Light.NONE, None)


def test_fixed_then_ongoing_turns_continuous_once_done_and_never_overdue():
    result = status(at("2027-06-01"), kind=DeadlineKind.ONGOING, due=date(2026, 4, 30), completed=True,
                    percent=100, last_report=at("2027-05-20"))
    assert (result.status, result.light) == (Status.CONTINUOUS, Light.NONE)


def test_fixed_then_ongoing_not_done_is_overdue_after_its_date():
    result = status(at("2026-05-01"), kind=DeadlineKind.ONGOING, due=date(2026, 4, 30), percent=60,
                    last_report=at("2026-04-20"))
    assert result.status == Status.OVERDUE


def test_a_cooperating_unit_is_never_overdue_and_carries_no_light():
    result = status(at("2027-06-01"), lead=False)
    assert result.status == Status.NOT_STARTED and result.light == Light.NONE


def test_an_unreadable_deadline_is_never_overdue():
    result = status(at("2030-01-01"), kind=DeadlineKind.UNKNOWN, due=None, percent=10,
                    last_report=at("2029-12-20"))
    assert result.status == Status.ON_TRACK and result.light == Light.NONE


@pytest.mark.parametrize(("now", "last_report", "expected"), [
    # Reported in October: November passes without a report; from 1 December it is flagged.
    ("2026-11-30", "2026-10-15", Behind.NONE),
    ("2026-12-01", "2026-10-15", Behind.NO_REPORT),
    # Reported on 30 November: nothing in December yet, but December is not over.
    ("2026-12-31", "2026-11-30", Behind.NONE),
    ("2027-01-01", "2026-11-30", Behind.NO_REPORT),
    # Across the year end: reported in December, January empty, flagged on 1 February.
    ("2027-02-01", "2026-12-05", Behind.NO_REPORT),
])
def test_continuous_items_across_months_flag_a_month_without_report(now, last_report, expected):
    result = status(at(now), kind=DeadlineKind.CONTINUOUS, due=None, percent=50, last_report=at(last_report))
    assert result.status == Status.CONTINUOUS
    assert result.behind == expected
    assert result.light == (Light.YELLOW if expected else Light.NONE)


def test_continuous_item_never_overdue_and_next_change_is_the_month_it_would_flag():
    result = status(at("2026-11-10"), kind=DeadlineKind.CONTINUOUS, due=None, last_report=at("2026-11-02"))
    assert result.days_late is None
    assert result.next_change_at == start_of_day(date(2027, 1, 1))


def test_progress_well_behind_the_time_elapsed_is_yellow():
    # Half the year gone (start 1 Jan, due 31 Dec): 20% reported is more than 25 points behind.
    behind = status(at("2026-07-02"), percent=20, last_report=at("2026-06-25"))
    fine = status(at("2026-07-02"), percent=30, last_report=at("2026-06-25"))
    assert behind.behind == Behind.SLOW and behind.light == Light.YELLOW and behind.status == Status.ON_TRACK
    assert fine.behind == Behind.NONE and fine.light == Light.NONE


def test_the_next_change_is_the_earliest_of_the_moments_that_matter():
    # Reported on 25 February: a silent March flags it on 1 April, before anything else.
    assert status(at("2026-03-01"), percent=25, last_report=at("2026-02-25")).next_change_at == \
        start_of_day(date(2026, 4, 1))
    # Reported on 25 June at 25%: 25% + 25 points = 50% of 364 days → slow from 3 July, before 1 August.
    result = status(at("2026-06-26"), percent=25, last_report=at("2026-06-25"))
    assert result.next_change_at == start_of_day(date(2026, 7, 3))
    assert status(at("2026-07-02", 23), percent=25, last_report=at("2026-06-25")).behind == Behind.NONE
    assert status(at("2026-07-03"), percent=25, last_report=at("2026-06-25")).behind == Behind.SLOW


def test_red_wins_over_yellow_and_yellow_over_blue():
    due_soon_but_silent = status(at("2026-12-28"), percent=90, last_report=at("2026-10-01"))
    assert due_soon_but_silent.status == Status.DUE_SOON and due_soon_but_silent.light == Light.YELLOW
    overdue_and_silent = status(at("2027-01-05"), percent=90, last_report=at("2026-10-01"))
    assert overdue_and_silent.light == Light.RED


# Through the database ------------------------------------------------------------------------

def _refresh(assignment: Assignment) -> Assignment:
    return Assignment.objects.select_related("item__ledger").get(pk=assignment.pk)


def test_refresh_due_moves_each_row_at_its_stored_moment_and_records_the_change(ledger_world):
    w = ledger_world
    a = _refresh(w.assignment_a)  # due 2026-06-30, made 2026-06-01
    assert a.status == Status.NOT_STARTED and a.next_change_at is not None
    with time_machine.travel(at("2026-06-23", 7, 30), tick=False) as traveller:
        assert assignments_refresh_due(now=at("2026-06-23", 7, 30)) >= 1
        a = _refresh(a)
        assert (a.status, a.light) == (Status.DUE_SOON, Light.YELLOW)  # nothing reported since 1 June: behind
        assert a.events.filter(kind="due_soon").count() == 1
        traveller.move_to(at("2026-07-01", 7, 30))
        assignments_refresh_due(now=at("2026-07-01", 7, 30))
        a = _refresh(a)
        assert (a.status, a.light) == (Status.OVERDUE, Light.RED)
        assert a.events.filter(kind="overdue", key="2026-06-30").count() == 1
        # Running again records nothing new.
        assert assignments_refresh_due(now=at("2026-07-01", 7, 30)) == 0
        assert a.events.filter(kind="overdue").count() == 1


def test_two_refreshes_of_the_same_moment_record_each_change_once(ledger_world):
    w = ledger_world
    moment = at("2026-07-02", 8)
    first = assignments_refresh_due(now=moment)
    second = assignments_refresh_due(now=moment)
    assert first > 0 and second == 0
    assert w.assignment_a.events.filter(kind="overdue").count() == 1
