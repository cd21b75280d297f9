"""Importing a budget from .xlsx: the file is the budget's own export (预算项目 down; 医共体合计 and
each member across; 成员合计 and 差额 are ignored), filled in Excel. Read → checked cell by cell
(errors name the row, the column and the cell: 第7行第D列（县人民医院 · 其中：药品收入）) → previewed →
saved on confirmation through ``budgets.save_amounts`` (all or nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from openpyxl.utils import get_column_letter

from core import uploads
from finance import budgets
from finance.models import Budget

MAX_BYTES = 2 * 1024 * 1024
MAX_COLUMNS = 60
HEADER_TITLE = "预算项目"
TOTAL_TITLES = {"医共体合计（元）", "医共体合计"}
IGNORED_TITLES = {"成员合计（元）", "成员合计", "差额（元）", "差额"}
STOP_LABELS = {"收入合计", "支出合计"}


@dataclass
class Parsed:
    entries: dict[tuple[str, object], str] = field(default_factory=dict)  # for ``budgets.save_amounts``
    errors: list[str] = field(default_factory=list)
    cells: int = 0  # amounts read

    @property
    def ok(self) -> bool:
        return not self.errors


def _amount_text(value) -> str:
    """A cell as the text ``budgets.parse_amount`` reads: Excel numbers exactly (no float noise)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        try:
            return str(Decimal(repr(value)))
        except InvalidOperation:
            return str(value)
    return uploads.cell_text(value)


def read(upload, budget: Budget) -> Parsed:
    """The budget's grid from an uploaded file, every problem named. Reads only; saves nothing."""
    parsed = Parsed()
    data = uploads.read_limited(upload, MAX_BYTES)
    if data is None:
        parsed.errors.append(_("The file is larger than 2 MB; a budget table is much smaller."))
        return parsed
    kind = uploads.sniff_zip(data)
    refused = uploads.refusal(kind, upload.name)  # zip bomb, macros, XML entities: as every upload says it
    if refused:
        parsed.errors.append(refused)
        return parsed
    if kind != uploads.XLSX:
        parsed.errors.append(_("“%(name)s” is not an .xlsx workbook (macro-enabled or other files are refused); "
                               "start from the budget's export.") % {"name": upload.name})
        return parsed
    try:
        workbook = uploads.Workbook(data)
        rows = list(workbook.rows(MAX_COLUMNS))
        workbook.close()
    except Exception:  # a damaged workbook: openpyxl's errors are many
        parsed.errors.append(_("“%(name)s” cannot be read as a workbook.") % {"name": upload.name})
        return parsed
    header = next(((number, values) for number, values in rows
                   if values and uploads.cell_text(values[0]) == HEADER_TITLE), None)
    if header is None:
        parsed.errors.append(_("No header row with “预算项目” in column A: use the budget's export as the template."))
        return parsed
    header_row, titles = header
    # Grouped columns (the members) have their names on a second header row, column A blank (merged).
    second = next((values for number, values in rows if number == header_row + 1), None)
    if second and not uploads.cell_text(second[0]) and any(uploads.cell_text(v) for v in second[1:]):
        titles = [low if uploads.cell_text(low) else high
                  for high, low in zip(titles + [None] * (len(second) - len(titles)),
                                       second + [None] * (len(titles) - len(second)), strict=True)]
        header_row += 1
    members = {m.name: m for m in budgets.members_of(budget.alliance, budget.year)}
    columns: dict[int, object] = {}
    for index, value in enumerate(titles[1:], start=1):
        title = uploads.cell_text(value)
        if not title or title in IGNORED_TITLES:
            continue
        if title in TOTAL_TITLES:
            columns[index] = budgets.TOTAL
        elif title in members:
            columns[index] = members[title].pk
        else:
            parsed.errors.append(_("Row %(row)s, column %(col)s: “%(title)s” is not a member of %(alliance)s on "
                                   "31 December %(year)s.") % {
                "row": header_row, "col": get_column_letter(index + 1), "title": title,
                "alliance": budget.alliance.name, "year": budget.year})
    if budgets.TOTAL not in columns.values():
        parsed.errors.append(_("Row %(row)s: no “医共体合计（元）” column.") % {"row": header_row})
    names = {budgets.TOTAL: _("total"), **{m.pk: m.name for m in members.values()}}
    labels = {str(line.label): line.code for line in budgets.LINES}
    seen: set[str] = set()
    for number, values in rows:
        if number <= header_row or not values:
            continue
        label = uploads.cell_text(values[0])
        if not label:
            continue
        if label in STOP_LABELS or label.startswith(("填报单位", "差额 =", "审核人", "日期")):
            continue
        code = labels.get(label)
        if code is None:
            parsed.errors.append(_("Row %(row)s, column A: “%(label)s” is not a budget line.") % {
                "row": number, "label": label})
            continue
        if code in seen:
            parsed.errors.append(_("Row %(row)s, column A: “%(label)s” appears twice.") % {"row": number, "label": label})
            continue
        seen.add(code)
        for index, column in columns.items():
            text = _amount_text(values[index] if index < len(values) else None)
            try:
                value = budgets.parse_amount(text)
            except ValueError:
                parsed.errors.append(_("Row %(row)s, column %(col)s (%(where)s · %(line)s): “%(text)s” is not an amount "
                                       "in yuan.") % {"row": number, "col": get_column_letter(index + 1),
                                                      "where": names[column], "line": label, "text": text})
                continue
            parsed.entries[(code, column)] = "" if value is None else str(value)
            parsed.cells += value is not None
    for line in budgets.LINES:  # lines missing from the file are left empty
        for column in {budgets.TOTAL, *[m.pk for m in members.values()]}:
            parsed.entries.setdefault((line.code, column), "")
    return parsed
