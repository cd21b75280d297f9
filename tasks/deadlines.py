"""Deadline phrases of task ledgers (完成时限 / 时限要求 / 完成时间) read into a kind, a date and a recurrence.

``parse_deadline(value, year=...)`` is pure: no database, no clock. ``year`` is the ledger's year, the
context for phrases without one ("12月底" in a 2021 ledger is 2021-12-31). It never guesses: a phrase
it cannot read comes back as ``UNKNOWN`` with a note for the user, and a person sets the deadline.

A cell is first normalised (full-width forms, any dash, quotes and book-title marks, Chinese numerals),
then split into clauses at punctuation (，；。：！？) and brackets. Each clause is a date at its start
(the first matching regex of ``_DATE_RULES``, after an optional 截至 / 截止 prefix) and what follows the
date decides the kind (``_MILESTONE_TAIL``, ``_ONGOING_TAIL``, ``_FIXED_TAIL``):

    12月底 / 12月底前 / 10月底前出台文件      -> fixed
    4月底完成并持续推进 / 4月底前完成并长期坚持  -> fixed, then ongoing
    12月底前完成阶段性目标                     -> milestone
    持续实施 / 长期 / 常态化                   -> continuous
    每月 / 每季度 / 按季度 / 每半年 / 每年        -> continuous with a recurrence
    2026—2027年 / 3—5月 / 3月至5月 / 第二至第三季度 -> the end of the range
    截至明年6月底 / 截止2026年12月31日          -> the date after the prefix

A clause without a date continues the clause before it (12月底前完成；长期坚持 -> fixed, then ongoing;
12月底前完成（阶段性目标） -> milestone). With two or more dated clauses (3月底前制定方案，10月底前完成验收)
the last date is the deadline and the earlier ones are its milestones; the dates must rise. Any clause
that is not understood makes the whole cell unknown.
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
    milestones: tuple[date, ...] = ()  # earlier dates of the same cell (3月底前制定方案，…), in order

    @property
    def needs_review(self) -> bool:
        return self.kind == DeadlineKind.UNKNOWN


# "", "——", "—", "-", "无": the cell says there is no deadline.
_EMPTY = re.compile(r"(?:[-—–―‐_/~]+|无|暂无)?")
# Any run of dashes or waves (2026—2027, 2026——2027, 3～5月, 3〜5月) reads as one "-"; after NFKC.
_DASHES = re.compile(r"[-—–―‐‒−─~〜]+")
# Quotes and book-title marks say nothing about the date: 12月底前出台《方案》 is 12月底前出台方案.
_QUOTES = re.compile(r"[\"'“”‘’「」『』《》〈〉]")
# Punctuation and brackets end a clause (after NFKC: ，；：！？（）［］ are , ; : ! ? ( ) [ ]).
_CLAUSE_END = re.compile(r"[,;。:!?()\[\]{}【】〔〕]")
# What separates the two ends of a range: 2026—2027年, 3月至5月, 3到5月.
_TO = r"(?:-|至|到)"
# Chinese numerals before 年/月/日/号/季 become digits: 十二月底 -> 12月底, 第三季度 -> 第3季度, 二〇二二年 -> 2022年;
# so do those at the start of a range whose end has its unit: 第二至第三季度 -> 第2至第3季度, 三至五月 -> 3至5月.
_CN_RUN = "〇零一二三四五六七八九十"
_CN_NUMBER = re.compile(rf"[{_CN_RUN}]+(?=[年月日号季]|{_TO}第?[{_CN_RUN}\d]+[年月日号季])")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
# 截至 / 截止 / 截止到 / 截至到 / 截止于 before a date: "by" that date.
_BY = re.compile(r"截[至止][至到于]?")

_RECURRING = re.compile(r"[每按](?P<unit>月|季度?|半年|年)度?\w*")
_RECURRENCE_OF_UNIT = {"月": Recurrence.MONTHLY, "季": Recurrence.QUARTERLY, "季度": Recurrence.QUARTERLY,
                       "半年": Recurrence.HALF_YEARLY, "年": Recurrence.YEARLY}
_CONTINUOUS = re.compile(r"(?:长期|持续|常态化)(?:坚持|实施|推进|开展|落实|执行|进行)?")


def _year(suffix: str = "") -> str:
    """An optional year before a month, a quarter or a half: 2020年 / 次年 / 明年 / 今年."""
    return rf"(?:(?P<y{suffix}>\d{{4}})年|(?P<rel{suffix}>次年|明年|翌年|今年|当年|本年))?"


_YEAR = _year()
_MONTH_PART = r"(?:底|末|上旬|中旬|下旬)"
# Ordered; each matches at the start of the phrase. The groups say which date is meant
# (see _resolve): y/rel the year, m and d or part the month and day, q a quarter, half a half-year.
# A range names its start with the same groups ending in 0 (y0, m0, q0 …); its end is the deadline.
_DATE_RULES = [
    # 2021-2022年, 2026—2027年, 2026年至2027年底: the end of the last year.
    re.compile(rf"(?P<y0>\d{{4}})年?{_TO}(?P<y>\d{{4}})年?(?:底|末)?"),
    # 2026.03-2026.06, 2026/3至2027/6: the end of the last month.
    re.compile(rf"(?P<y0>\d{{4}})(?P<sep0>[./])(?P<m0>\d{{1,2}}){_TO}(?P<y>\d{{4}})(?P=sep0)(?P<m>\d{{1,2}})(?!\d)"),
    # 3—5月, 3月至5月底, 2026年3-5月, 3月1日至5月15日, 2026年10月至次年3月: the end of the last month
    # (a month without a year is in the year of the range's start, else of the ledger).
    re.compile(_year("0") + rf"(?P<m0>\d{{1,2}})(?:月份?(?:(?P<d0>\d{{1,2}})[日号]|(?P<part0>{_MONTH_PART}))?)?{_TO}"
               + _YEAR + rf"(?P<m>\d{{1,2}})月份?(?:(?P<d>\d{{1,2}})[日号]|(?P<part>{_MONTH_PART}))?"),
    # 第二至第三季度, 1-2季度, 2026年一季度至三季度末: the end of the last quarter.
    re.compile(_year("0") + rf"第?(?P<q0>\d)(?:季度?(?:末|底)?)?{_TO}第?(?P<q>\d)季度?(?:末|底)?"),
    # 2020.03, 2020-06, 2020/6, 2021-06-30, 2021/6/30, 2021.6.30 (one separator throughout).
    re.compile(r"(?P<y>\d{4})(?P<sep>[-./])(?P<m>\d{1,2})(?:(?P=sep)(?P<d>\d{1,2}))?(?!\d)"),
    # 12月15日, 2021年6月30日, 次年3月15号.
    re.compile(_YEAR + r"(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]"),
    # 12月, 12月份, 12月底, 12月末, 12月上旬/中旬/下旬, 2020年6月底, 次年3月底.
    re.compile(_YEAR + rf"(?P<m>\d{{1,2}})月份?(?P<part>{_MONTH_PART})?"),
    # 第一季度, 一季度末, 1季度, 2021年第三季度.
    re.compile(_YEAR + r"第?(?P<q>\d)季度?(?:末|底)?"),
    # 上半年, 年中, 下半年 (2022年上半年).
    re.compile(_YEAR + r"(?P<half>上半年|年中|下半年)"),
    # 2022, 2022年, 2022年底, 年底, 年末, 年内, 全年, 次年: the last day of the year.
    re.compile(r"(?:(?P<y>\d{4})年?|(?P<rel>次年|明年|翌年|今年|当年|本年)|全年|年(?=[底末内终]))(?:底|末|内|终)?"),
]
_PART_DAY = {"上旬": 10, "中旬": 20}  # 底, 末, 下旬 and a bare month: the last day of the month
_NEXT_YEAR = {"次年", "明年", "翌年"}

# What may follow the date in its clause, checked in this order.
_MILESTONE_TAIL = re.compile(r".*阶段性.*")  # 前完成阶段性目标
_VERBS = r"(?:完成|出台|印发|制定|建立|建成|实现|启动|上报|报送|提交|落实|开展|部署|到位)"
# 完成并持续推进, 前完成验收并长期坚持 (after a verb's object, 并/且/后 says the ongoing part is not the object:
# 前印发持续改进方案 is fixed).
_ONGOING_TAIL = re.compile(
    rf"(?:前|之前)?(?:完成|建成|到位|出台|{_VERBS}\w*?(?:后|并|且))?(?:后|并|且)?(?:持续|长期|常态化)\w*"
)
_FIXED_TAIL = re.compile(rf"(?:前|之前|以前|内|止)?(?:{_VERBS}\w*)?")  # 前, 前出台文件, 完成, 印发
# A clause without a date that goes on from the clause before: ；长期坚持 / ，并长期坚持 / 。持续推进 / ，并出台文件.
_ONGOING_NEXT = re.compile(r"(?:并|且|同时|此后|之后|然后|后)?(?:持续|长期|常态化)\w*")
_FIXED_NEXT = re.compile(rf"(?:并|且|同时)?{_VERBS}\w*")
# A second date inside a tail (6月底前完成12月底前全面推开) is never read past.
_ANOTHER_DATE = re.compile(r"\d|年[底末内中]|[上下]半年|月[底末]")
# When one clause says two kinds, the stronger wins (as in one phrase: 阶段性 is read before 持续).
_KIND_RANK = {DeadlineKind.FIXED: 0, DeadlineKind.ONGOING: 1, DeadlineKind.MILESTONE: 2}

_YEAR_LIKE = range(1900, 2101)  # a number Excel made out of a year ("2022") or a year.month ("2020.03")
_SERIAL_MIN, _SERIAL_MAX = 32874, 73050  # Excel date serials of 1990-01-01 .. 2099-12-31
_NOTE_PHRASE_MAX = 60  # the note quotes the phrase; it is kept short enough for the note field


class _NotUnderstood(Exception):
    """A clause of the cell could not be read."""


class _OutOfOrder(Exception):
    """The cell's dates (or a range's ends) do not rise."""

    def __init__(self, dates: list[date]):
        super().__init__(dates)
        self.dates = dates


def parse_deadline(value, *, year: int) -> ParsedDeadline:
    """Read a deadline cell: a phrase, None, a date/datetime, or a number Excel made of the cell."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return ParsedDeadline(DeadlineKind.FIXED, value, Recurrence.NONE, value.isoformat())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _parse_number(value, year)
    return _parse_text("" if value is None else str(value), year)


def _normalise(raw: str) -> str:
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw))
    key = _DASHES.sub("-", _QUOTES.sub("", key))
    key = _CN_NUMBER.sub(lambda m: _cn_number(m.group()), key)
    return key.strip("。；;，,、")


def _parse_text(raw: str, year: int) -> ParsedDeadline:
    text = re.sub(r"\s+", "", raw)
    key = _normalise(raw)
    if _EMPTY.fullmatch(key):
        return ParsedDeadline(DeadlineKind.UNKNOWN, None, Recurrence.NONE, text,
                              _("No deadline was given; a person must set the deadline."))
    if m := _RECURRING.fullmatch(key):
        return ParsedDeadline(DeadlineKind.CONTINUOUS, None, _RECURRENCE_OF_UNIT[m["unit"]], text)
    if _CONTINUOUS.fullmatch(key):
        return ParsedDeadline(DeadlineKind.CONTINUOUS, None, Recurrence.NONE, text)
    clauses: list[list] = []  # [kind, date] of each dated clause, in order
    try:
        for part in _CLAUSE_END.split(key):
            if not part:  # "）。" or "，，"
                continue
            dated = _dated_clause(part, year)
            if dated is not None:
                clauses.append(list(dated))
                continue
            kind = _next_kind(part)
            if kind is None or not clauses:  # not understood, or no date for it to go on from
                raise _NotUnderstood(part)
            if _KIND_RANK[kind] > _KIND_RANK[clauses[-1][0]]:
                clauses[-1][0] = kind
        if not clauses:
            raise _NotUnderstood(key)
        dates = [due for _kind, due in clauses]
        if any(later <= earlier for earlier, later in zip(dates, dates[1:], strict=False)):
            raise _OutOfOrder(dates)
    except _OutOfOrder as e:
        return _unknown(text, _(
            'The dates in the deadline "%(phrase)s" are not in increasing order (%(dates)s); a person must set '
            'the deadline.'
        ) % {"phrase": _shortened(text), "dates": " → ".join(d.isoformat() for d in e.dates)})
    except (_NotUnderstood, ValueError):  # ValueError: 13月底, 2月30日, 3—15月: read, but not a date
        return _unreadable(text)
    kind, due = clauses[-1]
    return ParsedDeadline(kind, due, Recurrence.NONE, text, milestones=tuple(dates[:-1]))


def _dated_clause(part: str, year: int) -> tuple[str, date] | None:
    """The kind and date of a clause that starts with a date (after 截至 / 截止); None when it has no date.

    Raises _NotUnderstood when the date is followed by words that are not understood, ValueError when
    the date does not exist, _OutOfOrder when a range ends before it starts."""
    by = _BY.match(part)
    body = part[by.end():] if by else part
    for rule in _DATE_RULES:
        if m := rule.match(body):
            due = _resolve(m.groupdict(), year)
            tail = body[m.end():]
            if _ANOTHER_DATE.search(tail):
                raise _NotUnderstood(part)
            if _MILESTONE_TAIL.fullmatch(tail):
                return DeadlineKind.MILESTONE, due
            if _ONGOING_TAIL.fullmatch(tail):
                return DeadlineKind.ONGOING, due
            if _FIXED_TAIL.fullmatch(tail):
                return DeadlineKind.FIXED, due
            raise _NotUnderstood(part)
    if by:  # 截至 with no date after it
        raise _NotUnderstood(part)
    return None


def _next_kind(part: str) -> str | None:
    """What a clause without a date makes of the dated clause before it; None when it is not understood."""
    if _ANOTHER_DATE.search(part):
        return None
    if _MILESTONE_TAIL.fullmatch(part):
        return DeadlineKind.MILESTONE
    if _ONGOING_NEXT.fullmatch(part):
        return DeadlineKind.ONGOING
    if _FIXED_NEXT.fullmatch(part):
        return DeadlineKind.FIXED
    return None


def _resolve(g: dict, year: int) -> date:
    """The date the groups of a _DATE_RULES match name (a range's end); ValueError when there is none,
    _OutOfOrder when a range does not end after it starts."""
    if not any(g.get(k) for k in ("y0", "rel0", "m0", "q0")):
        return _resolve_one(g, year)
    start = _resolve_one({k[:-1]: v for k, v in g.items() if k.endswith("0")}, year)
    due = _resolve_one({k: v for k, v in g.items() if not k.endswith("0")}, start.year)
    if due <= start:
        raise _OutOfOrder([start, due])
    return due


def _resolve_one(g: dict, year: int) -> date:
    if g.get("y"):
        y = int(g["y"])
    else:
        y = year + 1 if g.get("rel") in _NEXT_YEAR else year
    if y not in _YEAR_LIKE:
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


def _shortened(text: str) -> str:
    return text if len(text) <= _NOTE_PHRASE_MAX else text[: _NOTE_PHRASE_MAX - 1] + "…"


def _unreadable(text: str) -> ParsedDeadline:
    return _unknown(text, _('The deadline "%(phrase)s" could not be read; a person must set the deadline.')
                    % {"phrase": _shortened(text)})


def _unknown(text: str, note: str) -> ParsedDeadline:
    return ParsedDeadline(DeadlineKind.UNKNOWN, None, Recurrence.NONE, text, note)
