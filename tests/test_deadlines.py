"""Deadline phrases (完成时限) read by ``tasks.deadlines.parse_deadline``: every phrase of the seed
ledgers, the rules of the parser, the issue's examples, and phrases that must never be guessed."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from datetime import date, datetime
from pathlib import Path

import pytest
from django.utils import translation

from tasks.deadlines import DeadlineKind, ParsedDeadline, Recurrence, parse_deadline

FIXED = DeadlineKind.FIXED
ONGOING = DeadlineKind.ONGOING
MILESTONE = DeadlineKind.MILESTONE
CONTINUOUS = DeadlineKind.CONTINUOUS
UNKNOWN = DeadlineKind.UNKNOWN



@pytest.fixture(autouse=True)
def _english():
    """Notes and labels are checked by their English msgids, whatever translations exist."""
    with translation.override("en"):
        yield


SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SEED_000 = "000_03ed86d92934d138.txt"  # 2021 key-task list, 完成时限 column; ledger year 2021
SEED_001 = "001_73de90c5cbe97998.txt"  # 郁南县 2020, 附件4 完成时间 column; ledger year 2020
SEED_004 = "004_fae14af7d0856576.txt"  # 同仁市 2021 台账, 时限要求 column; ledger year 2021

# Every deadline phrase of the seed ledgers: (seed, ledger year, phrase as in the seed, kind, due date).
SEED_PHRASES = [
    (SEED_000, 2021, "4月底完成并持续推进", ONGOING, date(2021, 4, 30)),  # 1.1
    (SEED_000, 2021, "12月底", FIXED, date(2021, 12, 31)),  # 1.2 and 29 more
    (SEED_000, 2021, "6月底完成并持续实施", ONGOING, date(2021, 6, 30)),  # 2.1, 2.2
    (SEED_000, 2021, "7月底完成并持续实施", ONGOING, date(2021, 7, 31)),  # 7.1
    (SEED_000, 2021, "9月底", FIXED, date(2021, 9, 30)),  # 7.2, 9.1
    (SEED_000, 2021, "持续实施", CONTINUOUS, None),  # 13.1–13.3
    (SEED_001, 2020, "2020.03", FIXED, date(2020, 3, 31)),  # 附件4 (1)
    (SEED_001, 2020, "2020.12", FIXED, date(2020, 12, 31)),  # 附件4 (2), (15)
    (SEED_001, 2020, "2020.06", FIXED, date(2020, 6, 30)),  # 附件4 (3)
    (SEED_004, 2021, "10月底", FIXED, date(2021, 10, 31)),  # rows 1, 25
    (SEED_004, 2021, "长期", CONTINUOUS, None),  # row 2
    (SEED_004, 2021, "10月底前 出台文件", FIXED, date(2021, 10, 31)),  # row 3, as the text file has it
    (SEED_004, 2021, "10月底前\n出台文件", FIXED, date(2021, 10, 31)),  # row 3, as the PDF splits it
    (SEED_004, 2021, "12月底", FIXED, date(2021, 12, 31)),  # rows 4–22, 26–35, 37–48
    (SEED_004, 2021, "12月底前完成阶段性目标", MILESTONE, date(2021, 12, 31)),  # rows 23, 24
    (SEED_004, 2021, "10月底前完成阶段性目标", MILESTONE, date(2021, 10, 31)),  # row 36
]


@pytest.mark.parametrize("seed, year, phrase, kind, due", SEED_PHRASES,
                         ids=[f"{s[:3]}-{p!r}" for s, _y, p, _k, _d in SEED_PHRASES])
def test_every_seed_phrase_is_read(seed, year, phrase, kind, due):
    parsed = parse_deadline(phrase, year=year)
    assert (parsed.kind, parsed.due_date, parsed.recurrence) == (kind, due, Recurrence.NONE)
    assert parsed.text == re.sub(r"\s+", "", phrase)
    assert not parsed.needs_review and parsed.note == ""


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not beside the project")
@pytest.mark.parametrize("seed, phrase", sorted({(s, p) for s, _y, p, _k, _d in SEED_PHRASES}))
def test_seed_phrases_come_from_their_seed(seed, phrase):
    seed_text = re.sub(r"\s+", "", (SEEDS / seed).read_text(encoding="utf-8"))
    assert re.sub(r"\s+", "", phrase) in seed_text


# Phrases of the rules, read in a 2021 ledger unless the phrase names its year.
RULE_PHRASES = [
    ("12月底", FIXED, date(2021, 12, 31), ""),
    ("十二月底", FIXED, date(2021, 12, 31), ""),
    ("９月底", FIXED, date(2021, 9, 30), ""),  # full-width digits (NFKC)
    ("2月底", FIXED, date(2021, 2, 28), ""),
    ("10月底", FIXED, date(2021, 10, 31), ""),
    ("12月", FIXED, date(2021, 12, 31), ""),
    ("12月末", FIXED, date(2021, 12, 31), ""),
    ("12月底前", FIXED, date(2021, 12, 31), ""),
    ("12月中旬", FIXED, date(2021, 12, 20), ""),
    ("12月上旬", FIXED, date(2021, 12, 10), ""),
    ("12月下旬", FIXED, date(2021, 12, 31), ""),
    ("12月15日", FIXED, date(2021, 12, 15), ""),
    ("12月15日前", FIXED, date(2021, 12, 15), ""),
    ("十二月十五日", FIXED, date(2021, 12, 15), ""),
    ("10月底前出台文件", FIXED, date(2021, 10, 31), ""),
    ("6月底前完成", FIXED, date(2021, 6, 30), ""),
    ("6月底完成", FIXED, date(2021, 6, 30), ""),
    ("9月底前出台方案", FIXED, date(2021, 9, 30), ""),
    ("9月底印发", FIXED, date(2021, 9, 30), ""),
    ("4月底完成并持续推进", ONGOING, date(2021, 4, 30), ""),
    ("6月底完成并持续实施", ONGOING, date(2021, 6, 30), ""),
    ("7月底完成并持续实施", ONGOING, date(2021, 7, 31), ""),
    ("4月底前完成并长期坚持", ONGOING, date(2021, 4, 30), ""),
    ("5月底后持续推进", ONGOING, date(2021, 5, 31), ""),
    ("12月底前完成阶段性目标", MILESTONE, date(2021, 12, 31), ""),
    ("10月底前完成阶段性目标", MILESTONE, date(2021, 10, 31), ""),
    ("持续实施", CONTINUOUS, None, ""),
    ("持续推进", CONTINUOUS, None, ""),
    ("长期", CONTINUOUS, None, ""),
    ("长期坚持", CONTINUOUS, None, ""),
    ("常态化", CONTINUOUS, None, ""),
    ("持续", CONTINUOUS, None, ""),
    ("每月", CONTINUOUS, None, Recurrence.MONTHLY),
    ("每季度", CONTINUOUS, None, Recurrence.QUARTERLY),
    ("按季度", CONTINUOUS, None, Recurrence.QUARTERLY),
    ("每半年", CONTINUOUS, None, Recurrence.HALF_YEARLY),
    ("每年", CONTINUOUS, None, Recurrence.YEARLY),
    ("2020.03", FIXED, date(2020, 3, 31), ""),  # the phrase's year wins over the ledger's
    ("2020.12", FIXED, date(2020, 12, 31), ""),
    ("2020.06", FIXED, date(2020, 6, 30), ""),
    ("2020.1", FIXED, date(2020, 1, 31), ""),  # as text it is January
    ("2020.10", FIXED, date(2020, 10, 31), ""),
    ("2020-06", FIXED, date(2020, 6, 30), ""),
    ("2020/6", FIXED, date(2020, 6, 30), ""),
    ("2020年6月", FIXED, date(2020, 6, 30), ""),
    ("2020年6月底", FIXED, date(2020, 6, 30), ""),
    ("2021年6月30日", FIXED, date(2021, 6, 30), ""),
    ("2021-06-30", FIXED, date(2021, 6, 30), ""),
    ("2021/6/30", FIXED, date(2021, 6, 30), ""),
    ("2021.6.30", FIXED, date(2021, 6, 30), ""),
    ("2022年", FIXED, date(2022, 12, 31), ""),
    ("2022年底", FIXED, date(2022, 12, 31), ""),
    ("2022年底前", FIXED, date(2022, 12, 31), ""),
    ("2021-2022年", FIXED, date(2022, 12, 31), ""),
    ("年底前", FIXED, date(2021, 12, 31), ""),
    ("年底", FIXED, date(2021, 12, 31), ""),
    ("年内", FIXED, date(2021, 12, 31), ""),
    ("年末", FIXED, date(2021, 12, 31), ""),
    ("全年", FIXED, date(2021, 12, 31), ""),
    ("上半年", FIXED, date(2021, 6, 30), ""),
    ("年中", FIXED, date(2021, 6, 30), ""),
    ("下半年", FIXED, date(2021, 12, 31), ""),
    ("第一季度", FIXED, date(2021, 3, 31), ""),
    ("一季度", FIXED, date(2021, 3, 31), ""),
    ("一季度末", FIXED, date(2021, 3, 31), ""),
    ("1季度", FIXED, date(2021, 3, 31), ""),
    ("第三季度", FIXED, date(2021, 9, 30), ""),
    ("次年3月底", FIXED, date(2022, 3, 31), ""),
    ("明年3月底", FIXED, date(2022, 3, 31), ""),
]


@pytest.mark.parametrize("phrase, kind, due, recurrence", RULE_PHRASES, ids=[r[0] for r in RULE_PHRASES])
def test_rule_phrases(phrase, kind, due, recurrence):
    parsed = parse_deadline(phrase, year=2021)
    assert (parsed.kind, parsed.due_date, parsed.recurrence) == (kind, due, recurrence)
    assert parsed.text == phrase
    assert not parsed.needs_review


@pytest.mark.parametrize("year, last_day", [(2020, 29), (2021, 28), (2024, 29), (2100, 28)])
def test_end_of_february_knows_leap_years(year, last_day):
    assert parse_deadline("2月底", year=year).due_date == date(year, 2, last_day)


# The examples of the issue, as it states them.
ISSUE_EXAMPLES = [
    ("12月底", 2021, FIXED, date(2021, 12, 31), Recurrence.NONE),
    ("4月底完成并持续推进", 2021, ONGOING, date(2021, 4, 30), Recurrence.NONE),
    ("6月底完成并持续实施", 2021, ONGOING, date(2021, 6, 30), Recurrence.NONE),
    ("持续实施", 2021, CONTINUOUS, None, Recurrence.NONE),
    ("长期", 2021, CONTINUOUS, None, Recurrence.NONE),
    ("2020.03", 2020, FIXED, date(2020, 3, 31), Recurrence.NONE),
    ("10月底前出台文件", 2021, FIXED, date(2021, 10, 31), Recurrence.NONE),
    ("12月底前完成阶段性目标", 2021, MILESTONE, date(2021, 12, 31), Recurrence.NONE),
    ("2020.12", 2020, FIXED, date(2020, 12, 31), Recurrence.NONE),
    ("9月底", 2021, FIXED, date(2021, 9, 30), Recurrence.NONE),
    ("年底前", 2021, FIXED, date(2021, 12, 31), Recurrence.NONE),
    ("上半年", 2021, FIXED, date(2021, 6, 30), Recurrence.NONE),
    ("每季度", 2021, CONTINUOUS, None, Recurrence.QUARTERLY),
]


@pytest.mark.parametrize("phrase, year, kind, due, recurrence", ISSUE_EXAMPLES, ids=[e[0] for e in ISSUE_EXAMPLES])
def test_issue_examples(phrase, year, kind, due, recurrence):
    parsed = parse_deadline(phrase, year=year)
    assert (parsed.kind, parsed.due_date, parsed.recurrence) == (kind, due, recurrence)


UNREADABLE = ["尽快", "适时", "13月底", "2月30日", "另行通知", "根据上级要求", "5季度", "2020.13", "12月初",
              "6月底前完成，12月底前全面推开", "每周", "43921"]


@pytest.mark.parametrize("phrase", UNREADABLE)
def test_unreadable_phrases_are_never_guessed(phrase):
    parsed = parse_deadline(phrase, year=2021)
    assert (parsed.kind, parsed.due_date, parsed.recurrence) == (UNKNOWN, None, Recurrence.NONE)
    assert parsed.needs_review
    assert parsed.text == phrase
    assert f'"{phrase}"' in parsed.note and "could not be read" in parsed.note
    assert "a person must set the deadline" in parsed.note


def test_the_note_quotes_a_long_phrase_shortened():
    phrase = "视上级部署情况" * 20
    parsed = parse_deadline(phrase, year=2021)
    assert parsed.text == phrase
    assert parsed.kind == UNKNOWN and len(parsed.note) < 200 and phrase[:30] in parsed.note


@pytest.mark.parametrize("value", ["", None, "——", "—", "-", "无", "  ", "\n"])
def test_no_deadline_given(value):
    parsed = parse_deadline(value, year=2021)
    assert (parsed.kind, parsed.due_date, parsed.recurrence) == (UNKNOWN, None, Recurrence.NONE)
    assert parsed.needs_review
    assert "No deadline was given" in parsed.note
    assert parsed.text == ("" if value is None else value.strip())


def test_whitespace_inside_the_phrase_is_removed():
    parsed = parse_deadline(" 10月底前\n出台\u3000文件 ", year=2021)
    assert parsed.text == "10月底前出台文件"
    assert (parsed.kind, parsed.due_date) == (FIXED, date(2021, 10, 31))


@pytest.mark.parametrize(
    "value, due, text",
    [
        (2020.03, date(2020, 3, 31), "2020.03"),
        (2020.12, date(2020, 12, 31), "2020.12"),
        (2020.06, date(2020, 6, 30), "2020.06"),
        (2020.2, date(2020, 2, 29), "2020.2"),  # 2020.2 or 2020.20: only February is a month
        (2020.11, date(2020, 11, 30), "2020.11"),
        (2022, date(2022, 12, 31), "2022"),  # a year typed in a cell
        (43921, date(2020, 3, 31), "43921"),  # an Excel date serial
        (43921.0, date(2020, 3, 31), "43921"),
        (43921.5, date(2020, 3, 31), "43921.5"),
        (date(2021, 6, 30), date(2021, 6, 30), "2021-06-30"),
        (datetime(2021, 6, 30, 8, 15), date(2021, 6, 30), "2021-06-30"),  # noqa: DTZ001 -- an Excel cell
    ],
)
def test_cell_values(value, due, text):
    parsed = parse_deadline(value, year=2019)
    assert (parsed.kind, parsed.due_date, parsed.recurrence, parsed.text) == (FIXED, due, Recurrence.NONE, text)


def test_a_float_that_could_be_january_or_october_asks_for_text():
    parsed = parse_deadline(2020.1, year=2020)  # Excel made 2020.10 (or 2020.1) into this number
    assert (parsed.kind, parsed.due_date, parsed.text) == (UNKNOWN, None, "2020.1")
    assert parsed.needs_review
    assert "2020.10" in parsed.note and "text" in parsed.note


@pytest.mark.parametrize("value", [12, 0, -5, 2020.123, float("nan"), float("inf"), True])
def test_numbers_that_are_no_deadline_are_unknown(value):
    parsed = parse_deadline(value, year=2021)
    assert (parsed.kind, parsed.due_date) == (UNKNOWN, None)
    assert "could not be read" in parsed.note


def test_result_is_frozen_and_kinds_are_stored_values():
    parsed = parse_deadline("12月底", year=2021)
    assert isinstance(parsed, ParsedDeadline)
    with pytest.raises(FrozenInstanceError):
        parsed.kind = UNKNOWN  # type: ignore[misc]
    assert parsed.kind == "fixed" and parsed.recurrence == ""
    assert parse_deadline("每季度", year=2021).recurrence == "quarterly"
    assert parse_deadline("4月底完成并持续推进", year=2021).kind == "fixed_then_ongoing"


def test_choices_have_english_labels():
    assert dict(DeadlineKind.choices) == {
        "fixed": "Fixed date", "fixed_then_ongoing": "Fixed date, then ongoing", "milestone": "Milestone",
        "continuous": "Continuous", "unknown": "Unknown",
    }
    assert dict(Recurrence.choices) == {
        "": "None", "monthly": "Monthly", "quarterly": "Quarterly", "half_yearly": "Half-yearly", "yearly": "Yearly",
    }


# Issue 17: phrases real ledgers use that were flagged before, by kind. Read in a 2026 ledger.
LEDGER_YEAR = 2026

# Ranges of years, months or quarters, with any dash or 至/到: the end of the range is the deadline.
RANGE_PHRASES = [
    ("2026—2027年", FIXED, date(2027, 12, 31)),
    ("2026——2027年底", FIXED, date(2027, 12, 31)),
    ("2026-2027年", FIXED, date(2027, 12, 31)),
    ("2026–2027年", FIXED, date(2027, 12, 31)),  # en dash
    ("2026―2027年", FIXED, date(2027, 12, 31)),  # horizontal bar
    ("2026~2027年", FIXED, date(2027, 12, 31)),
    ("2026～2027年", FIXED, date(2027, 12, 31)),  # full-width tilde
    ("2026〜2027年", FIXED, date(2027, 12, 31)),  # wave dash
    ("2026至2027年", FIXED, date(2027, 12, 31)),
    ("2026到2027年底", FIXED, date(2027, 12, 31)),
    ("2026年—2027年", FIXED, date(2027, 12, 31)),
    ("2026年至2028年底前完成", FIXED, date(2028, 12, 31)),
    ("二〇二六至二〇二七年", FIXED, date(2027, 12, 31)),
    ("3—5月", FIXED, date(2026, 5, 31)),  # a month range without a year: the ledger's year
    ("3月至5月", FIXED, date(2026, 5, 31)),
    ("3月-5月底", FIXED, date(2026, 5, 31)),
    ("3到5月份", FIXED, date(2026, 5, 31)),
    ("3～5月", FIXED, date(2026, 5, 31)),
    ("三至五月", FIXED, date(2026, 5, 31)),
    ("九至十一月", FIXED, date(2026, 11, 30)),
    ("2026年3-5月", FIXED, date(2026, 5, 31)),
    ("2025年3—5月", FIXED, date(2025, 5, 31)),  # the phrase's year wins over the ledger's
    ("2024年1—2月", FIXED, date(2024, 2, 29)),
    ("明年3—5月", FIXED, date(2027, 5, 31)),
    ("3月1日至5月15日", FIXED, date(2026, 5, 15)),
    ("2026年10月至次年3月", FIXED, date(2027, 3, 31)),
    ("2026年3月—2027年6月", FIXED, date(2027, 6, 30)),
    ("2026.03-2026.06", FIXED, date(2026, 6, 30)),
    ("2026/3至2027/6", FIXED, date(2027, 6, 30)),
    ("3—5月底前完成", FIXED, date(2026, 5, 31)),
    ("3—5月完成并持续推进", ONGOING, date(2026, 5, 31)),
    ("第二至第三季度", FIXED, date(2026, 9, 30)),
    ("二至三季度", FIXED, date(2026, 9, 30)),
    ("2-3季度", FIXED, date(2026, 9, 30)),
    ("第1—2季度", FIXED, date(2026, 6, 30)),
    ("一季度至三季度末", FIXED, date(2026, 9, 30)),
    ("2027年第三至第四季度", FIXED, date(2027, 12, 31)),
]

# 截至 / 截止 / 截止到 / 截至到 / 截止于: the date after the prefix.
BY_PHRASES = [
    ("截至明年6月底", FIXED, date(2027, 6, 30)),
    ("截止2026年12月31日", FIXED, date(2026, 12, 31)),
    ("截至年底", FIXED, date(2026, 12, 31)),
    ("截止到2026年底前完成", FIXED, date(2026, 12, 31)),
    ("截至到10月底", FIXED, date(2026, 10, 31)),
    ("截止于9月30日", FIXED, date(2026, 9, 30)),
    ("截止12月底前完成阶段性目标", MILESTONE, date(2026, 12, 31)),
    ("截至6月底完成并持续推进", ONGOING, date(2026, 6, 30)),
    ("截至2026—2027年", FIXED, date(2027, 12, 31)),
    ("截至第三季度末", FIXED, date(2026, 9, 30)),
]

# Punctuation, brackets and quotes inside one phrase.
PUNCTUATION_PHRASES = [
    ("12月底前完成；长期坚持", ONGOING, date(2026, 12, 31)),
    ("12月底前完成,并长期坚持", ONGOING, date(2026, 12, 31)),
    ("12月底前完成，并长期坚持", ONGOING, date(2026, 12, 31)),
    ("年底前完成。持续推进", ONGOING, date(2026, 12, 31)),
    ("4月底前完成;常态化开展", ONGOING, date(2026, 4, 30)),
    ("１２月底前完成；长期坚持", ONGOING, date(2026, 12, 31)),  # full-width digits
    ("12月底前完成，，长期坚持", ONGOING, date(2026, 12, 31)),
    ("12月底前完成（阶段性目标）", MILESTONE, date(2026, 12, 31)),
    ("12月底前完成(阶段性目标)", MILESTONE, date(2026, 12, 31)),
    ("12月底前完成【阶段性目标】", MILESTONE, date(2026, 12, 31)),
    ("12月底前完成；阶段性目标", MILESTONE, date(2026, 12, 31)),
    ("12月底前完成阶段性目标；长期坚持", MILESTONE, date(2026, 12, 31)),  # as in one phrase: 阶段性 wins
    ("12月底前完成，出台文件", FIXED, date(2026, 12, 31)),
    ("12月底前完成。", FIXED, date(2026, 12, 31)),
    ("“12月底”", FIXED, date(2026, 12, 31)),
    ("\"12月底前\"", FIXED, date(2026, 12, 31)),
    ("12月底前出台《实施方案》", FIXED, date(2026, 12, 31)),
    ("12月份", FIXED, date(2026, 12, 31)),
]


# An ongoing part after a verb's object (not lost in the fixed tail), and 持续 inside the object.
TAIL_PHRASES = [
    ("10月底前完成验收并长期坚持", ONGOING, date(2026, 10, 31)),
    ("10月底前出台文件后持续推进", ONGOING, date(2026, 10, 31)),
    ("10月底前印发持续改进方案", FIXED, date(2026, 10, 31)),
]
NEW_KIND_PHRASES = RANGE_PHRASES + BY_PHRASES + PUNCTUATION_PHRASES + TAIL_PHRASES


@pytest.mark.parametrize("phrase, kind, due", NEW_KIND_PHRASES, ids=[p for p, _k, _d in NEW_KIND_PHRASES])
def test_ranges_prefixes_and_punctuation_are_read(phrase, kind, due):
    parsed = parse_deadline(phrase, year=LEDGER_YEAR)
    assert (parsed.kind, parsed.due_date, parsed.recurrence) == (kind, due, Recurrence.NONE)
    assert parsed.milestones == ()
    assert parsed.text == phrase
    assert not parsed.needs_review and parsed.note == ""


# Two or more dates in one cell: the last is the deadline, the earlier ones its milestones, in order.
MULTI_DATE_PHRASES = [
    ("3月底前制定方案，10月底前完成验收", FIXED, date(2026, 10, 31), (date(2026, 3, 31),)),
    ("3月底前制定方案,10月底前完成验收", FIXED, date(2026, 10, 31), (date(2026, 3, 31),)),
    ("3月底前制定方案；6月底前启动；10月底前完成验收", FIXED, date(2026, 10, 31),
     (date(2026, 3, 31), date(2026, 6, 30))),
    ("6月底前出台文件。年底前完成", FIXED, date(2026, 12, 31), (date(2026, 6, 30),)),
    ("上半年启动，下半年完成", FIXED, date(2026, 12, 31), (date(2026, 6, 30),)),
    ("2026年6月底前制定方案，2027年底前完成", FIXED, date(2027, 12, 31), (date(2026, 6, 30),)),
    ("10月底前制定方案，次年3月底前完成", FIXED, date(2027, 3, 31), (date(2026, 10, 31),)),
    ("3月底前制定方案，12月底", FIXED, date(2026, 12, 31), (date(2026, 3, 31),)),
    ("10月15日前上报，10月底前完成", FIXED, date(2026, 10, 31), (date(2026, 10, 15),)),
    ("3月底前制定方案，12月底前完成阶段性目标", MILESTONE, date(2026, 12, 31), (date(2026, 3, 31),)),
    ("3月底前制定方案，10月底前完成验收并长期坚持", ONGOING, date(2026, 10, 31), (date(2026, 3, 31),)),
    ("3月底前制定方案，10月底前完成验收；长期坚持", ONGOING, date(2026, 10, 31), (date(2026, 3, 31),)),
    ("3月底前制定方案（10月底前完成验收）", FIXED, date(2026, 10, 31), (date(2026, 3, 31),)),
    ("截至3月底制定方案，截至10月底完成验收", FIXED, date(2026, 10, 31), (date(2026, 3, 31),)),
    ("3—5月底前启动，2026—2027年完成", FIXED, date(2027, 12, 31), (date(2026, 5, 31),)),
]


@pytest.mark.parametrize("phrase, kind, due, milestones", MULTI_DATE_PHRASES, ids=[m[0] for m in MULTI_DATE_PHRASES])
def test_the_last_date_is_the_deadline_and_earlier_dates_are_milestones(phrase, kind, due, milestones):
    parsed = parse_deadline(phrase, year=LEDGER_YEAR)
    assert (parsed.kind, parsed.due_date, parsed.recurrence) == (kind, due, Recurrence.NONE)
    assert parsed.milestones == milestones
    assert not parsed.needs_review and parsed.note == ""


def test_whitespace_between_two_dates_is_removed():
    parsed = parse_deadline(" 3月底前制定方案，\n10月底前完成验收 ", year=LEDGER_YEAR)
    assert parsed.text == "3月底前制定方案，10月底前完成验收"
    assert (parsed.kind, parsed.due_date, parsed.milestones) == (FIXED, date(2026, 10, 31), (date(2026, 3, 31),))


# Phrases of the same kinds that must stay flagged: a part not understood makes the whole cell unknown.
UNREAD_OF_NEW_KINDS = [
    "3—15月",  # no 15th month
    "13—15月",
    "0—5月",
    "2月30日至3月底",  # the start is no date
    "3—5",  # no unit
    "2026—27年",  # a two-digit end year is not guessed
    "截至",
    "截止到",
    "截至尽快",
    "截止日期",
    "3月底前制定方案，10月底前全面推开",  # the second date is followed by words not understood
    "3月底前制定方案，另行通知",
    "3—5月试点，2026—2027年全面完成",  # neither 试点 nor 全面完成 is understood  # the second part has no date and is not understood
    "长期坚持，12月底前完成",  # nothing dated before "长期坚持" for it to go on from
    "阶段性目标，12月底前完成",
    "12月底(暂定)",
    "12月底前完成，每周报送",
    "6月底前完成12月底前全面推开",  # two dates without punctuation: never the first one alone
    "12月底前完成并持续推进至2027年底",
    "3月、6月、9月底前",  # a list of months: milestones or a recurrence? a person decides
    "，",
]


@pytest.mark.parametrize("phrase", UNREAD_OF_NEW_KINDS)
def test_new_kinds_not_understood_are_never_guessed(phrase):
    parsed = parse_deadline(phrase, year=LEDGER_YEAR)
    assert (parsed.kind, parsed.due_date, parsed.recurrence, parsed.milestones) == (UNKNOWN, None, Recurrence.NONE, ())
    assert parsed.needs_review
    assert parsed.text == phrase
    if phrase == "，":
        assert "No deadline was given" in parsed.note
    else:
        assert f'"{phrase}"' in parsed.note and "could not be read" in parsed.note


# Dates that do not rise: a reversed range, a later date before an earlier one, the same date twice.
OUT_OF_ORDER = [
    ("2027—2026年", "2027-12-31 → 2026-12-31"),
    ("2026至2026年", "2026-12-31 → 2026-12-31"),
    ("5—3月", "2026-05-31 → 2026-03-31"),
    ("3-3月", "2026-03-31 → 2026-03-31"),
    ("第三至第二季度", "2026-09-30 → 2026-06-30"),
    ("2026.06-2026.03", "2026-06-30 → 2026-03-31"),
    ("10月底前完成验收，3月底前制定方案", "2026-10-31 → 2026-03-31"),
    ("12月底前完成(10月底前制定方案)", "2026-12-31 → 2026-10-31"),
    ("3月底前制定方案，6月底前启动，5月底前完成", "2026-03-31 → 2026-06-30 → 2026-05-31"),
    ("12月底前制定方案，12月底前完成", "2026-12-31 → 2026-12-31"),
    ("次年3月底前完成，10月底前制定方案", "2027-03-31 → 2026-10-31"),
]


@pytest.mark.parametrize("phrase, dates", OUT_OF_ORDER, ids=[o[0] for o in OUT_OF_ORDER])
def test_dates_out_of_order_are_flagged(phrase, dates):
    parsed = parse_deadline(phrase, year=LEDGER_YEAR)
    assert (parsed.kind, parsed.due_date, parsed.milestones) == (UNKNOWN, None, ())
    assert parsed.needs_review and parsed.text == phrase
    assert parsed.note == (f'The dates in the deadline "{phrase}" are not in increasing order ({dates}); '
                           "a person must set the deadline.")


def test_milestones_keep_the_result_frozen_and_hashable():
    parsed = parse_deadline("3月底前制定方案，10月底前完成验收", year=LEDGER_YEAR)
    assert hash(parsed) == hash(parse_deadline("3月底前制定方案，10月底前完成验收", year=LEDGER_YEAR))
    assert len({parsed, parse_deadline("12月底", year=LEDGER_YEAR)}) == 2
    with pytest.raises(FrozenInstanceError):
        parsed.milestones = ()  # type: ignore[misc]
    assert ParsedDeadline(FIXED, date(2026, 12, 31), Recurrence.NONE, "12月底").milestones == ()
