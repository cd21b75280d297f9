from datetime import date

import pytest

from core.periods import Period, PeriodError, PeriodKind


@pytest.mark.parametrize(
    "text, kind, start, end",
    [
        ("2026-10", PeriodKind.MONTH, date(2026, 10, 1), date(2026, 10, 31)),
        ("2024-02", PeriodKind.MONTH, date(2024, 2, 1), date(2024, 2, 29)),
        ("2026Q3", PeriodKind.QUARTER, date(2026, 7, 1), date(2026, 9, 30)),
        ("2026q4", PeriodKind.QUARTER, date(2026, 10, 1), date(2026, 12, 31)),
        ("2026H1", PeriodKind.HALF_YEAR, date(2026, 1, 1), date(2026, 6, 30)),
        ("2026H2", PeriodKind.HALF_YEAR, date(2026, 7, 1), date(2026, 12, 31)),
        ("2026", PeriodKind.YEAR, date(2026, 1, 1), date(2026, 12, 31)),
        (" 2025-01 ", PeriodKind.MONTH, date(2025, 1, 1), date(2025, 1, 31)),
    ],
)
def test_parse_gives_kind_start_and_end(text, kind, start, end):
    period = Period.parse(text)
    assert period.kind is kind
    assert (period.start, period.end) == (start, end)
    assert Period.parse(str(period)) == period


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026Q5", "2026Q0", "2026H3", "26-10", "2026/10", "", "abc",
                                  "2026-1", "二〇二六"])
def test_parse_rejects_bad_text_with_the_text_in_the_message(text):
    with pytest.raises(PeriodError) as excinfo:
        Period.parse(text)
    assert text.strip() in str(excinfo.value) or text == ""


def test_parse_rejects_non_text():
    with pytest.raises(PeriodError):
        Period.parse(202610)  # type: ignore[arg-type]


def test_canonical_text():
    assert str(Period.month(2026, 3)) == "2026-03"
    assert str(Period.quarter(2026, 3)) == "2026Q3"
    assert str(Period.half_year(2026, 1)) == "2026H1"
    assert str(Period.of_year(2026)) == "2026"


def test_previous_and_next_cross_year_boundaries():
    assert Period.parse("2026-01").previous == Period.parse("2025-12")
    assert Period.parse("2025-12").next == Period.parse("2026-01")
    assert Period.parse("2026Q1").previous == Period.parse("2025Q4")
    assert Period.parse("2025Q4").next == Period.parse("2026Q1")
    assert Period.parse("2026H1").previous == Period.parse("2025H2")
    assert Period.parse("2026").previous == Period.parse("2025")
    assert Period.parse("2026-03").shift(-14) == Period.parse("2025-01")
    assert Period.parse("2026-03").shift(22) == Period.parse("2028-01")


def test_same_period_last_year():
    assert Period.parse("2026-02").same_period_last_year == Period.parse("2025-02")
    assert Period.parse("2024-02").same_period_last_year.end == date(2023, 2, 28)
    assert Period.parse("2026Q1").same_period_last_year == Period.parse("2025Q1")
    assert Period.parse("2026H2").same_period_last_year == Period.parse("2025H2")


def test_subperiods_and_containing():
    q4 = Period.parse("2025Q4")
    assert [str(p) for p in q4.subperiods(PeriodKind.MONTH)] == ["2025-10", "2025-11", "2025-12"]
    assert [str(p) for p in Period.parse("2026").subperiods(PeriodKind.QUARTER)] == ["2026Q1", "2026Q2", "2026Q3",
                                                                                      "2026Q4"]
    assert [str(p) for p in Period.parse("2026H2").subperiods(PeriodKind.QUARTER)] == ["2026Q3", "2026Q4"]
    assert Period.parse("2025-12").containing(PeriodKind.QUARTER) == q4
    assert Period.parse("2025-12").containing(PeriodKind.HALF_YEAR) == Period.parse("2025H2")
    assert Period.parse("2026Q2").containing(PeriodKind.YEAR) == Period.parse("2026")
    with pytest.raises(PeriodError):
        Period.parse("2026-01").subperiods(PeriodKind.QUARTER)
    with pytest.raises(PeriodError):
        Period.parse("2026").containing(PeriodKind.MONTH)


def test_contains_and_dates():
    year = Period.parse("2026")
    assert year.contains(Period.parse("2026-12"))
    assert not year.contains(Period.parse("2027-01"))
    assert Period.parse("2026Q1").contains_date(date(2026, 3, 31))
    assert not Period.parse("2026Q1").contains_date(date(2026, 4, 1))
    assert Period.containing_date(PeriodKind.QUARTER, date(2026, 12, 31)) == Period.parse("2026Q4")
    assert Period.parse("2024").days == 366
    assert Period.parse("2026-10").year_to_date() == (date(2026, 1, 1), date(2026, 10, 31))


def test_ordering_within_a_kind():
    months = [Period.parse(t) for t in ["2026-02", "2025-12", "2026-01"]]
    assert [str(p) for p in sorted(months)] == ["2025-12", "2026-01", "2026-02"]


def test_chinese_labels():
    assert Period.parse("2026-10").label == "2026年10月"
    assert Period.parse("2026Q3").label == "2026年第三季度"
    assert Period.parse("2026H1").label == "2026年上半年"
    assert Period.parse("2026H2").label == "2026年下半年"
    assert Period.parse("2026").label == "2026年"
