"""Importing purchases from .xlsx: the 采购明细 sheet of the procurement export (月份, 成员单位, then the
categories across), filled in Excel — the register the alliance office keeps — or the office's own
table of it. The header is found by the import engine (``core.imports.columns``): the columns by the
words clerks write (月份/采购月份, 单位名称, 药品金额, 耗材 …) in any order, under title lines; a
column nobody knows is named as an error until the user maps it or ignores it (the mapping is
remembered for the county's next file with the same headers). Every month that appears in the file
is replaced by the file's rows (a member of that month without a row bought nothing); months not in
the file are left alone. Read → checked cell by cell (第R行第C列（成员 · 类别）) → previewed → saved on
confirmation through ``procurement.save_months`` (all or nothing)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.utils import get_column_letter

from alliances.models import Alliance
from core import uploads
from core.imports.columns import ColumnPlan, Field
from core.periods import Period
from finance.budget_import import _amount_text
from finance.budgets import members_of, parse_amount
from finance.exports import DETAIL_SHEET, MEMBER_TITLE, MONTH_TITLE
from finance.importing import find_header, own_title, read_rows, unknown_columns
from finance.models import Purchase

MAX_BYTES = 2 * 1024 * 1024
MAX_COLUMNS = 20
MAX_MONTHS = 36
_MONTH_RE = re.compile(r"^(\d{4})\s*(?:-|/|\.|年)\s*(\d{1,2})\s*月?$")
MONTH, MEMBER = "month", "member"
# Sums the portal works out itself: ignored without asking.
COMPUTED_TITLES = {"合计", "合计（元）", "小计", "总计", "金额合计", "采购合计"}
_CATEGORY_WORDS = {
    Purchase.Category.DRUGS: ("药品", "药品金额", "药品采购", "药品采购金额", "药品费", "药品类", "药品（元）"),
    Purchase.Category.CONSUMABLES: ("医用耗材", "耗材", "医用耗材金额", "耗材金额", "耗材采购", "卫生材料",
                                    "医用耗材采购", "医用耗材（元）"),
    Purchase.Category.EQUIPMENT: ("设备", "设备金额", "设备采购", "设备购置", "医疗设备", "设备（元）"),
    Purchase.Category.OTHER: ("其他货物和服务", "其他货物及服务", "其他", "其他采购", "其他货物和服务（元）"),
}
FIELDS = (
    Field(MONTH, gettext_lazy("Month of purchase"), synonyms=(MONTH_TITLE, "采购月份", "所属月份", "年月", "月", "期间",
                                                 "采购时间", "采购期间"), required=True),
    Field(MEMBER, gettext_lazy("Member"), synonyms=(MEMBER_TITLE, "单位", "单位名称", "成员单位名称", "医疗机构",
                                                   "机构名称", "采购单位", "成员", "医院"), required=True),
    *(Field(category.value, category.label, synonyms=words) for category, words in _CATEGORY_WORDS.items()),
)
CATEGORY_FIELDS = [c.value for c in Purchase.Category]


@dataclass
class Parsed:
    months: dict[Period, dict[tuple[int, str], str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cells: int = 0  # amounts read
    rows: int = 0
    columns: ColumnPlan | None = None  # the header as found and mapped
    data: bytes | None = None  # the file, kept for a new mapping
    name: str = ""
    lines: list[dict] = field(default_factory=list)  # per row read: row, month, member, errors

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_month_cell(value) -> Period | None:
    """“2026-10”, “2026年10月”, “2026/10”, “202610” or an Excel date → the month; None otherwise."""
    if isinstance(value, datetime | date):
        return Period.month(value.year, value.month)
    text = uploads.cell_text(value).replace(" ", "")
    if re.fullmatch(r"\d{6}", text):
        text = f"{text[:4]}-{text[4:]}"
    match = _MONTH_RE.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        return None
    return Period.month(int(match.group(1)), int(match.group(2)))


def _at(fixed: str, letter: str, moved: str, expected: str, values: dict) -> str:
    """A message of the month or member cell: the export's words when the column is where the
    export has it (A, B), else the same words naming the file's column."""
    if letter == expected:
        return fixed % values
    return moved % {**values, "col": letter}


def read(upload, alliance: Alliance, *, today: date, mapping=None, saved_for=None) -> Parsed:
    """The months' purchases from an uploaded file, every problem named. Reads only; saves nothing."""
    data = uploads.read_limited(upload, MAX_BYTES)
    if data is None:
        return Parsed(errors=[_("The file is larger than 2 MB; a purchase register is much smaller.")])
    return read_data(data, upload.name, alliance, today=today, mapping=mapping, saved_for=saved_for)


def read_data(data: bytes, name: str, alliance: Alliance, *, today: date, mapping=None, saved_for=None) -> Parsed:
    """``read`` of a file's bytes (a kept file read again with the user's mapping)."""
    parsed = Parsed(data=data, name=name)
    rows, refused = read_rows(data, name, max_columns=MAX_COLUMNS, sheet=DETAIL_SHEET, not_xlsx=_(
        "“%(name)s” is not an .xlsx workbook (macro-enabled or other files are refused); start from the "
        "procurement export.") % {"name": name})  # the export's 采购明细, or the only sheet
    if refused:
        parsed.errors.append(refused)
        return parsed
    plan = find_header(rows, FIELDS, mapping=mapping, saved_for=saved_for, computed=COMPUTED_TITLES)
    parsed.columns = plan
    if plan is None or not plan.by_field:  # no title known: the user may still map the columns
        parsed.errors.append(_("No header row with “月份” in column A and “成员单位” in column B: use the 采购明细 "
                               "sheet of the procurement export as the template."))
        return parsed
    header_row = plan.header_row
    labels = {str(c.label): c.value for c in Purchase.Category}
    for column in unknown_columns(plan, chosen=bool(mapping)):
        parsed.errors.append(_("Row %(row)s, column %(col)s: “%(title)s” is not a purchase category (%(known)s).")
                             % {"row": header_row, "col": column.letter, "title": own_title(column),
                                "known": "、".join(labels)})
    parsed.errors += plan.errors  # the month or the member: no column mapped to it
    found = plan.by_field
    columns: dict[int, str] = {c.index: name_ for name_, c in found.items() if name_ in CATEGORY_FIELDS}
    if not columns and not parsed.errors:
        parsed.errors.append(_("Row %(row)s: no category columns.") % {"row": header_row})
    if MONTH not in found or MEMBER not in found:
        return parsed
    month_column, member_column = found[MONTH], found[MEMBER]
    members_by_year: dict[int, dict[str, int]] = {}
    seen: dict[tuple[Period, int], int] = {}
    for number, values in rows:
        if number <= header_row or not values:
            continue
        raw_month = values[month_column.index] if month_column.index < len(values) else None
        first = uploads.cell_text(raw_month)
        member_name = uploads.cell_text(values[member_column.index]) if member_column.index < len(values) else ""
        if not first and not member_name:
            continue
        if first.startswith(("填报单位", "审核人", "日期", "导入时", "合计")):
            continue
        line = {"row": number, "month": None, "member": None, "name": member_name, "errors": []}
        parsed.lines.append(line)
        month = parse_month_cell(raw_month)
        if month is None:
            line["errors"].append(_at(
                _("Row %(row)s, column A: “%(text)s” is not a month (write 2026-10 or 2026年10月)."),
                month_column.letter,
                _("Row %(row)s, column %(col)s: “%(text)s” is not a month (write 2026-10 or 2026年10月)."), "A",
                {"row": number, "text": first}))
            continue
        line["month"] = str(month)
        if month.start > today or month.year < today.year - 5:
            line["errors"].append(_at(
                _("Row %(row)s, column A: %(month)s is not a month that can be recorded (from %(from)s to this "
                  "month)."), month_column.letter,
                _("Row %(row)s, column %(col)s: %(month)s is not a month that can be recorded (from %(from)s to "
                  "this month)."), "A", {"row": number, "month": month.label, "from": f"{today.year - 5}年1月"}))
            continue
        if month.year not in members_by_year:
            members_by_year[month.year] = {m.name: m.pk for m in members_of(alliance, month.year)}
        member = members_by_year[month.year].get(member_name)
        if member is None:
            line["errors"].append(_at(
                _("Row %(row)s, column B: “%(name)s” is not a member of %(alliance)s in %(year)s."),
                member_column.letter,
                _("Row %(row)s, column %(col)s: “%(name)s” is not a member of %(alliance)s in %(year)s."), "B",
                {"row": number, "name": member_name, "alliance": alliance.name, "year": month.year}))
            continue
        line["member"] = member
        if (month, member) in seen:
            line["errors"].append(_("Row %(row)s: %(month)s %(name)s is already on row %(first)s.") % {
                "row": number, "month": month.label, "name": member_name, "first": seen[(month, member)]})
            continue
        seen[(month, member)] = number
        entries = parsed.months.setdefault(month, {})
        parsed.rows += 1
        for index, category in columns.items():
            text = _amount_text(values[index] if index < len(values) else None)
            try:
                value = parse_amount(text)
            except ValueError:
                line["errors"].append(_(
                    "Row %(row)s, column %(col)s (%(name)s · %(category)s): “%(text)s” is not an amount in yuan.") % {
                    "row": number, "col": get_column_letter(index + 1), "name": member_name,
                    "category": Purchase.Category(category).label, "text": text})
                continue
            entries[(member, category)] = "" if value is None else str(value)
            parsed.cells += value is not None
    for line in parsed.lines:
        parsed.errors += line["errors"]
    if len(parsed.months) > MAX_MONTHS:
        parsed.errors.append(_("The file holds %(count)s months; import at most %(max)s at a time.") % {
            "count": len(parsed.months), "max": MAX_MONTHS})
    if not parsed.months and not parsed.errors:
        parsed.errors.append(_("The file has no purchase rows under the header (row %(row)s).") % {"row": header_row})
    return parsed


def row_status(parsed: Parsed, current: dict[Period, dict[tuple[int, str], Decimal]]) -> list[dict]:
    """Each row of the file: new (nothing bought that month by that member yet), changed,
    unchanged, or error. ``current``: the months' purchases now (``procurement.month_values``)."""
    result = []
    for line in parsed.lines:
        status = "error"
        if not line["errors"] and line["member"] is not None:
            month = Period.parse(line["month"])
            entries, now = parsed.months.get(month, {}), current.get(month, {})
            new = {c: parse_amount(entries.get((line["member"], c), "")) for c in CATEGORY_FIELDS}
            old = {c: now.get((line["member"], c)) for c in CATEGORY_FIELDS}
            status = ("unchanged" if new == old else "new" if all(v is None for v in old.values()) else "changed")
        result.append({"row": line["row"], "month": line["month"], "member": line["name"], "status": status,
                       "errors": list(line["errors"])})
    return result
