"""Deadline phrases of task ledgers (完成时限 / 时限要求 / 完成时间) read into a kind, a date and a recurrence.

``parse_deadline(value, year=...)`` is pure: no database, no clock. ``year`` is the ledger's year, the
context for phrases without one ("12月底" in a 2021 ledger is 2021-12-31). It never guesses: a phrase
it cannot read comes back as ``UNKNOWN`` with a note for the user, and a person sets the deadline.

A dated phrase is read in two steps: a date at the start (the first matching regex of ``_DATE_RULES``),
then what follows the date decides the kind (``_MILESTONE_TAIL``, ``_ONGOING_TAIL``, ``_FIXED_TAIL``):

    12月底 / 12月底前 / 10月底前出台文件      -> fixed
    4月底完成并持续推进 / 4月底前完成并长期坚持  -> fixed, then ongoing
    12月底前完成阶段性目标                     -> milestone
    持续实施 / 长期 / 常态化                   -> continuous
    每月 / 每季度 / 按季度 / 每半年 / 每年        -> continuous with a recurrence
"""

from __future__ import annotations

import calendar
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.utils.datetime import from_excel


class DeadlineKind(models.TextChoices):
    FIXED = "fixed", gettext_lazy("Fixed date")
    ONGOING = "fixed_then_ongoing", gettext_lazy("Fixed date, then ongoing")
    MILESTONE = "milestone", gettext_lazy("Milestone")
    CONTINUOUS = "continuous", gettext_lazy("Continuous")
    UNKNOWN = "unknown", gettext_lazy("Unknown")


class Recurrence(models.TextChoices):
    NONE = "", gettext_lazy("None")
    MONTHLY = "monthly", gettext_lazy("Monthly")
    QUARTERLY = "quarterly", gettext_lazy("Quarterly")
    HALF_YEARLY = "half_yearly", gettext_lazy("Half-yearly")
    YEARLY = "yearly", gettext_lazy("Yearly")


@dataclass(frozen=True)
class ParsedDeadline:
    kind: str  # a DeadlineKind value
    due_date: date | None
    recurrence: str  # a Recurrence value
    text: str  # the phrase as written, whitespace removed; the ISO date / the number for a cell value
    note: str = ""  # for UNKNOWN: why, for the user

    @property
    def needs_review(self) -> bool:
        return self.kind == DeadlineKind.UNKNOWN


# "", "——", "—", "-", "无": the cell says there is no deadline.
_EMPTY = re.compile(r"(?:[-—–―‐_/~]+|无|暂无)?")
# Chinese numerals before 年/月/日/号/季 become digits: 十二月底 -> 12月底, 第三季度 -> 第3季度, 二〇二二年 -> 2022年.
_CN_NUMBER = re.compile(r"[〇零一二三四五六七八九十]+(?=[年月日号季])")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}

_RECURRING = re.compile(r"[每按](?P<unit>月|季度?|半年|年)度?\w*")
_RECURRENCE_OF_UNIT = {"月": Recurrence.MONTHLY, "季": Recurrence.QUARTERLY, "季度": Recurrence.QUARTERLY,
                       "半年": Recurrence.HALF_YEARLY, "年": Recurrence.YEARLY}
_CONTINUOUS = re.compile(r"(?:长期|持续|常态化)(?:坚持|实施|推进|开展|落实|执行|进行)?")

# An optional year before a month, a quarter or a half: 2020年 / 次年 / 明年 / 今年.
_YEAR = r"(?:(?P<y>\d{4})年|(?P<rel>次年|明年|翌年|今年|当年|本年))?"
# Ordered; each matches at the start of the phrase. The groups say which date is meant
# (see _resolve): y/rel the year, m and d or part the month and day, q a quarter, half a half-year.
_DATE_RULES = [
    # 2021-2022年, 2021至2022年底: the end of the last year.
    re.compile(r"(?P<y0>\d{4})[-~至到](?P<y>\d{4})年?(?:底|末)?"),
    # 2020.03, 2020-06, 2020/6, 2021-06-30, 2021/6/30, 2021.6.30 (one separator throughout).
    re.compile(r"(?P<y>\d{4})(?P<sep>[-./])(?P<m>\d{1,2})(?:(?P=sep)(?P<d>\d{1,2}))?(?!\d)"),
    # 12月15日, 2021年6月30日, 次年3月15号.
    re.compile(_YEAR + r"(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]"),
    # 12月, 12月底, 12月末, 12月上旬/中旬/下旬, 2020年6月底, 次年3月底.
    re.compile(_YEAR + r"(?P<m>\d{1,2})月(?P<part>底|末|上旬|中旬|下旬)?"),
    # 第一季度, 一季度末, 1季度, 2021年第三季度.
    re.compile(_YEAR + r"第?(?P<q>\d)季度?(?:末|底)?"),
    # 上半年, 年中, 下半年 (2022年上半年).
    re.compile(_YEAR + r"(?P<half>上半年|年中|下半年)"),
    # 2022, 2022年, 2022年底, 年底, 年末, 年内, 全年, 次年: the last day of the year.
    re.compile(r"(?:(?P<y>\d{4})年?|(?P<rel>次年|明年|翌年|今年|当年|本年)|全年|年(?=[底末内终]))(?:底|末|内|终)?"),
]
_PART_DAY = {"上旬": 10, "中旬": 20}  # 底, 末, 下旬 and a bare month: the last day of the month
_NEXT_YEAR = {"次年", "明年", "翌年"}

# What may follow the date, checked in this order.
_MILESTONE_TAIL = re.compile(r".*阶段性.*")  # 前完成阶段性目标
_ONGOING_TAIL = re.compile(r"(?:前|之前)?(?:完成|建成|到位|出台)?(?:后|并|且)?(?:持续|长期|常态化)\w*")  # 完成并持续推进
_FIXED_TAIL = re.compile(  # 前, 前出台文件, 完成, 印发
    r"(?:前|之前|以前|内|止)?(?:(?:完成|出台|印发|制定|建立|建成|实现|启动|上报|报送|提交|落实|开展|部署|到位)\w*)?"
)

_YEAR_LIKE = range(1900, 2101)  # a number Excel made out of a year ("2022") or a year.month ("2020.03")
_SERIAL_MIN, _SERIAL_MAX = 32874, 73050  # Excel date serials of 1990-01-01 .. 2099-12-31
_NOTE_PHRASE_MAX = 60  # the note quotes the phrase; it is kept short enough for the note field


def parse_deadline(value, *, year: int) -> ParsedDeadline:
    """Read a deadline cell: a phrase, None, a date/datetime, or a number Excel made of the cell."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return ParsedDeadline(DeadlineKind.FIXED, value, Recurrence.NONE, value.isoformat())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _parse_number(value, year)
    return _parse_text("" if value is None else str(value), year)


def _parse_text(raw: str, year: int) -> ParsedDeadline:
    text = re.sub(r"\s+", "", raw)
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw)).strip("。；;，,、")
    key = _CN_NUMBER.sub(lambda m: _cn_number(m.group()), key)
    if _EMPTY.fullmatch(key):
        return ParsedDeadline(DeadlineKind.UNKNOWN, None, Recurrence.NONE, text,
                              _("No deadline was given; a person must set the deadline."))
    if m := _RECURRING.fullmatch(key):
        return ParsedDeadline(DeadlineKind.CONTINUOUS, None, _RECURRENCE_OF_UNIT[m["unit"]], text)
    if _CONTINUOUS.fullmatch(key):
        return ParsedDeadline(DeadlineKind.CONTINUOUS, None, Recurrence.NONE, text)
    for rule in _DATE_RULES:
        if m := rule.match(key):
            try:
                due = _resolve(m.groupdict(), year)
            except ValueError:  # 13月底, 2月30日: read, but not a date
                return _unreadable(text)
            tail = key[m.end():]
            if _MILESTONE_TAIL.fullmatch(tail):
                return ParsedDeadline(DeadlineKind.MILESTONE, due, Recurrence.NONE, text)
            if _ONGOING_TAIL.fullmatch(tail):
                return ParsedDeadline(DeadlineKind.ONGOING, due, Recurrence.NONE, text)
            if _FIXED_TAIL.fullmatch(tail):
                return ParsedDeadline(DeadlineKind.FIXED, due, Recurrence.NONE, text)
            return _unreadable(text)
    return _unreadable(text)


def _resolve(g: dict, year: int) -> date:
    """The date the groups of a _DATE_RULES match name; ValueError when there is none."""
    if g.get("y"):
        y = int(g["y"])
    else:
        y = year + 1 if g.get("rel") in _NEXT_YEAR else year
    if y not in _YEAR_LIKE or (g.get("y0") and int(g["y0"]) > y):
        raise ValueError(y)
    if g.get("half"):
        return date(y, 6, 30) if g["half"] in ("上半年", "年中") else date(y, 12, 31)
    if g.get("q"):
        quarter = int(g["q"])
        if not 1 <= quarter <= 4:
            raise ValueError(quarter)
        return _month_end(y, quarter * 3)
    if g.get("m"):
        month = int(g["m"])
        if g.get("d"):
            return date(y, month, int(g["d"]))
        if g.get("part") in _PART_DAY:
            return date(y, month, _PART_DAY[g["part"]])
        return _month_end(y, month)
    return date(y, 12, 31)


def _month_end(y: int, month: int) -> date:
    return date(y, month, calendar.monthrange(y, month)[1])  # IllegalMonthError is a ValueError


def _cn_number(run: str) -> str:
    """一 -> 1, 十二 -> 12, 三十一 -> 31, 二〇二二 -> 2022; anything else is left as written."""
    if "十" in run:
        tens, _sep, ones = run.partition("十")
        if len(tens) > 1 or len(ones) > 1 or "十" in ones or not all(c in _CN_DIGITS for c in tens + ones):
            return run
        return str((_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0))
    if len(run) in (1, 4) and all(c in _CN_DIGITS for c in run):
        return "".join(str(_CN_DIGITS[c]) for c in run)
    return run


def _parse_number(value: int | float, year: int) -> ParsedDeadline:
    if not math.isfinite(value):
        return _unreadable(repr(value))
    if float(value).is_integer():
        number = int(value)
        text = str(number)
        if number in _YEAR_LIKE:  # "2022" typed in a cell
            return _parse_text(text, year)
    else:
        number, text = value, repr(value)
        if int(value) in _YEAR_LIKE:  # "2020.03" typed in a cell: 2020.03; "2020.10" became 2020.1
            if text.partition(".")[2] == "1":
                return _unknown(text, _(
                    "The deadline %(phrase)s became a number in Excel, so it could mean January or October; "
                    "type it as text (e.g. %(year)s.10) and import again."
                ) % {"phrase": text, "year": int(value)})
            return _parse_text(text, year)
    if _SERIAL_MIN <= number <= _SERIAL_MAX:  # a date cell read as its serial
        return ParsedDeadline(DeadlineKind.FIXED, from_excel(number).date(), Recurrence.NONE, text)
    return _unreadable(text)


def _unreadable(text: str) -> ParsedDeadline:
    phrase = text if len(text) <= _NOTE_PHRASE_MAX else text[: _NOTE_PHRASE_MAX - 1] + "…"
    return _unknown(text, _('The deadline "%(phrase)s" could not be read; a person must set the deadline.')
                    % {"phrase": phrase})


def _unknown(text: str, note: str) -> ParsedDeadline:
    return ParsedDeadline(DeadlineKind.UNKNOWN, None, Recurrence.NONE, text, note)
