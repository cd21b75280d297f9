"""Importing purchases from .xlsx: the 采购明细 sheet of the procurement export (月份, 成员单位, then the
categories across), filled in Excel — the register the alliance office keeps. Every month that
appears in the file is replaced by the file's rows (a member of that month without a row bought
nothing); months not in the file are left alone. Read → checked cell by cell (第R行第C列（成员 ·
类别）) → previewed → saved on confirmation through ``procurement.save_months`` (all or nothing)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils.translation import gettext as _
from openpyxl.utils import get_column_letter

from alliances.models import Alliance
from core import uploads
from core.periods import Period
from finance.budget_import import _amount_text
from finance.budgets import members_of, parse_amount
from finance.exports import DETAIL_SHEET, MEMBER_TITLE, MONTH_TITLE
from finance.models import Purchase

MAX_BYTES = 2 * 1024 * 1024
MAX_COLUMNS = 20
MAX_MONTHS = 36
_MONTH_RE = re.compile(r"^(\d{4})\s*(?:-|/|\.|年)\s*(\d{1,2})\s*月?$")


@dataclass
class Parsed:
    months: dict[Period, dict[tuple[int, str], str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cells: int = 0  # amounts read
    rows: int = 0

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


def _header(rows):
    """(row number, titles) of the header with 月份 in A and 成员单位 in B; the categories may be on the
    row below (under the merged 采购金额（元）)."""
    for index, (number, values) in enumerate(rows):
        if len(values) >= 2 and uploads.cell_text(values[0]) == MONTH_TITLE \
                and uploads.cell_text(values[1]) == MEMBER_TITLE:
            titles = list(values)
            if index + 1 < len(rows):
                below_number, below = rows[index + 1]
                if below and not uploads.cell_text(below[0]) and any(uploads.cell_text(v) for v in below[2:]):
                    titles = [uploads.cell_text(low) or uploads.cell_text(high)
                              for high, low in zip(titles + [None] * (len(below) - len(titles)),
                                                   list(below) + [None] * (len(titles) - len(below)), strict=True)]
                    return below_number, titles
            return number, [uploads.cell_text(t) for t in titles]
    return None


def read(upload, alliance: Alliance, *, today: date) -> Parsed:
    """The months' purchases from an uploaded file, every problem named. Reads only; saves nothing."""
    parsed = Parsed()
    data = uploads.read_limited(upload, MAX_BYTES)
    if data is None:
        parsed.errors.append(_("The file is larger than 2 MB; a purchase register is much smaller."))
        return parsed
    kind = uploads.sniff_zip(data)
    refused = uploads.refusal(kind, upload.name)  # zip bomb, macros, XML entities: as every upload says it
    if refused:
        parsed.errors.append(refused)
        return parsed
    if kind != uploads.XLSX:
        parsed.errors.append(_("“%(name)s” is not an .xlsx workbook (macro-enabled or other files are refused); "
                               "start from the procurement export.") % {"name": upload.name})
        return parsed
    try:
        workbook = uploads.Workbook(data, sheet=DETAIL_SHEET)  # the export's 采购明细, or the only sheet
        rows = list(workbook.rows(MAX_COLUMNS))
        workbook.close()
    except Exception:  # a damaged workbook: openpyxl's errors are many
        parsed.errors.append(_("“%(name)s” cannot be read as a workbook.") % {"name": upload.name})
        return parsed
    header = _header(rows)
    if header is None:
        parsed.errors.append(_("No header row with “月份” in column A and “成员单位” in column B: use the 采购明细 "
                               "sheet of the procurement export as the template."))
        return parsed
    header_row, titles = header
    labels = {str(c.label): c.value for c in Purchase.Category}
    columns: dict[int, str] = {}
    for index, title in enumerate(titles[2:], start=2):
        if not title:
            continue
        category = labels.get(title.removesuffix("（元）"))
        if category is None:
            parsed.errors.append(_("Row %(row)s, column %(col)s: “%(title)s” is not a purchase category (%(known)s).")
                                 % {"row": header_row, "col": get_column_letter(index + 1), "title": title,
                                    "known": "、".join(labels)})
        else:
            columns[index] = category
    if not columns and not parsed.errors:
        parsed.errors.append(_("Row %(row)s: no category columns.") % {"row": header_row})
    members_by_year: dict[int, dict[str, int]] = {}
    seen: dict[tuple[Period, int], int] = {}
    for number, values in rows:
        if number <= header_row or not values:
            continue
        first = uploads.cell_text(values[0])
        member_name = uploads.cell_text(values[1]) if len(values) > 1 else ""
        if not first and not member_name:
            continue
        if first.startswith(("填报单位", "审核人", "日期", "导入时", "合计")):
            continue
        month = parse_month_cell(values[0])
        if month is None:
            parsed.errors.append(_("Row %(row)s, column A: “%(text)s” is not a month (write 2026-10 or 2026年10月).")
                                 % {"row": number, "text": first})
            continue
        if month.start > today or month.year < today.year - 5:
            parsed.errors.append(_("Row %(row)s, column A: %(month)s is not a month that can be recorded (from %(from)s "
                                   "to this month).") % {"row": number, "month": month.label,
                                                         "from": f"{today.year - 5}年1月"})
            continue
        if month.year not in members_by_year:
            members_by_year[month.year] = {m.name: m.pk for m in members_of(alliance, month.year)}
        member = members_by_year[month.year].get(member_name)
        if member is None:
            parsed.errors.append(_("Row %(row)s, column B: “%(name)s” is not a member of %(alliance)s in %(year)s.")
                                 % {"row": number, "name": member_name, "alliance": alliance.name,
                                    "year": month.year})
            continue
        if (month, member) in seen:
            parsed.errors.append(_("Row %(row)s: %(month)s %(name)s is already on row %(first)s.") % {
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
                parsed.errors.append(_("Row %(row)s, column %(col)s (%(name)s · %(category)s): “%(text)s” is not an "
                                       "amount in yuan.") % {
                    "row": number, "col": get_column_letter(index + 1), "name": member_name,
                    "category": Purchase.Category(category).label, "text": text})
                continue
            entries[(member, category)] = "" if value is None else str(value)
            parsed.cells += value is not None
    if len(parsed.months) > MAX_MONTHS:
        parsed.errors.append(_("The file holds %(count)s months; import at most %(max)s at a time.") % {
            "count": len(parsed.months), "max": MAX_MONTHS})
    if not parsed.months and not parsed.errors:
        parsed.errors.append(_("The file has no purchase rows under the header (row %(row)s).") % {"row": header_row})
    return parsed
