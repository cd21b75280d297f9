"""Importing a budget from .xlsx: the budget's own export (预算项目 down; 医共体合计 and each member
across; 成员合计 and 差额 are worked out, so ignored), filled in Excel — or a clerk's own table of the
same grid. The header is found by the import engine (``core.imports.columns``): the line column and
the total by the words clerks write (项目, 合计 …), members by their names, in any order, under title
lines; a column nobody knows is named as an error until the user maps it (to a member) or ignores it
(the mapping is remembered for the county's next file with the same headers). Read → checked cell
by cell (errors name the row, the column and the cell: 第7行第D列（县人民医院 · 其中：药品收入）) →
previewed → saved on confirmation through ``budgets.save_amounts`` (all or nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.utils import get_column_letter

from core import uploads
from core.imports.columns import ColumnPlan, Field
from finance import budgets
from finance.importing import find_header, own_title, read_rows, unknown_columns
from finance.models import Budget

MAX_BYTES = 2 * 1024 * 1024
MAX_COLUMNS = 60
HEADER_TITLE = "预算项目"
IGNORED_TITLES = {"成员合计（元）", "成员合计", "差额（元）", "差额", "成员单位合计", "合计差额"}
STOP_LABELS = {"收入合计", "支出合计"}
LINE, TOTAL_FIELD = "line", "total"
FIELDS = (
    Field(LINE, gettext_lazy("Budget line"), synonyms=(
        HEADER_TITLE, "项目", "预算科目", "科目", "收支项目", "项目名称", "预算项目名称", "收支科目", "科目名称"),
        required=True),
    Field(TOTAL_FIELD, gettext_lazy("Alliance total"), synonyms=(
        "医共体合计（元）", "医共体合计", "医共体预算", "医共体总预算", "医共体预算合计", "总预算", "预算总额",
        "合计", "总计"), required=True),
)


def member_field(institution) -> Field:
    words = tuple(dict.fromkeys(w for w in (institution.name, getattr(institution, "short_name", "")) if w))
    return Field(f"m{institution.pk}", institution.name, synonyms=words)


def fields_for(members) -> list[Field]:
    """The line and the total, then a field per member (its name and short name)."""
    return [*FIELDS, *(member_field(m) for m in members)]


@dataclass
class Parsed:
    entries: dict[tuple[str, object], str] = field(default_factory=dict)  # for ``budgets.save_amounts``
    errors: list[str] = field(default_factory=list)
    cells: int = 0  # amounts read
    columns: ColumnPlan | None = None  # the header as found and mapped
    data: bytes | None = None  # the file, kept for a new mapping
    name: str = ""
    lines: list[dict] = field(default_factory=list)  # per row read: row, line code, label, errors

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


def read(upload, budget: Budget, *, mapping=None, saved_for=None) -> Parsed:
    """The budget's grid from an uploaded file, every problem named. Reads only; saves nothing."""
    data = uploads.read_limited(upload, MAX_BYTES)
    if data is None:
        return Parsed(errors=[_("The file is larger than 2 MB; a budget table is much smaller.")])
    return read_data(data, upload.name, budget, mapping=mapping, saved_for=saved_for)


def read_data(data: bytes, name: str, budget: Budget, *, mapping=None, saved_for=None) -> Parsed:
    """``read`` of a file's bytes (a kept file read again with the user's mapping)."""
    parsed = Parsed(data=data, name=name)
    rows, refused = read_rows(data, name, max_columns=MAX_COLUMNS, not_xlsx=_(
        "“%(name)s” is not an .xlsx workbook (macro-enabled or other files are refused); start from the budget's "
        "export.") % {"name": name})
    if refused:
        parsed.errors.append(refused)
        return parsed
    members = budgets.members_of(budget.alliance, budget.year)
    plan = find_header(rows, fields_for(members), mapping=mapping, saved_for=saved_for, computed=IGNORED_TITLES)
    parsed.columns = plan
    if plan is None or not plan.by_field:  # no title known: the user may still map the columns
        parsed.errors.append(_("No header row with “预算项目” in column A: use the budget's export as the template."))
        return parsed
    header_row = plan.header_row
    for column in unknown_columns(plan, chosen=bool(mapping)):
        parsed.errors.append(_("Row %(row)s, column %(col)s: “%(title)s” is not a member of %(alliance)s on "
                               "31 December %(year)s.") % {
            "row": header_row, "col": column.letter, "title": own_title(column),
            "alliance": budget.alliance.name, "year": budget.year})
    parsed.errors += plan.errors  # a required field (the line, the total) no column is mapped to
    found = plan.by_field
    if LINE not in found:
        return parsed
    by_pk = {f"m{m.pk}": m.pk for m in members}
    columns: dict[int, object] = {}
    for name_, column in found.items():
        if name_ == TOTAL_FIELD:
            columns[column.index] = budgets.TOTAL
        elif name_ in by_pk:
            columns[column.index] = by_pk[name_]
    line_index = found[LINE].index
    line_letter = found[LINE].letter
    names = {budgets.TOTAL: _("total"), **{m.pk: m.name for m in members}}
    labels = {str(line.label): line.code for line in budgets.LINES}
    seen: set[str] = set()
    for number, values in rows:
        if number <= header_row or not values:
            continue
        label = uploads.cell_text(values[line_index]) if line_index < len(values) else ""
        if not label:
            continue
        if label in STOP_LABELS or label.startswith(("填报单位", "差额 =", "审核人", "日期")):
            continue
        code = labels.get(label)
        if code is None:
            parsed.lines.append({"row": number, "line": None, "label": label, "errors": [_line_error(
                _("Row %(row)s, column A: “%(label)s” is not a budget line."),
                _("Row %(row)s, column %(col)s: “%(label)s” is not a budget line."), number, line_letter, label)]})
            continue
        if code in seen:
            parsed.lines.append({"row": number, "line": code, "label": label, "errors": [_line_error(
                _("Row %(row)s, column A: “%(label)s” appears twice."),
                _("Row %(row)s, column %(col)s: “%(label)s” appears twice."), number, line_letter, label)]})
            continue
        seen.add(code)
        entry = {"row": number, "line": code, "label": label, "errors": []}
        parsed.lines.append(entry)
        for index, column in columns.items():
            text = _amount_text(values[index] if index < len(values) else None)
            try:
                value = budgets.parse_amount(text)
            except ValueError:
                entry["errors"].append(_(
                    "Row %(row)s, column %(col)s (%(where)s · %(line)s): “%(text)s” is not an amount in yuan.") % {
                    "row": number, "col": get_column_letter(index + 1), "where": names[column], "line": label,
                    "text": text})
                continue
            parsed.entries[(code, column)] = "" if value is None else str(value)
            parsed.cells += value is not None
    for entry in parsed.lines:
        parsed.errors += entry["errors"]
    for line in budgets.LINES:  # lines missing from the file are left empty
        for column in {budgets.TOTAL, *[m.pk for m in members]}:
            parsed.entries.setdefault((line.code, column), "")
    return parsed


def _line_error(in_a: str, elsewhere: str, row: int, letter: str, label: str) -> str:
    """The message of a line cell: the export's words when the lines are in column A."""
    if letter == "A":
        return in_a % {"row": row, "label": label}
    return elsewhere % {"row": row, "col": letter, "label": label}


def row_status(parsed: Parsed, current: dict[tuple[str, object], Decimal]) -> list[dict]:
    """Each line of the file: new (nothing there yet), changed, unchanged, or error."""
    result = []
    for entry in parsed.lines:
        if entry["errors"] or entry["line"] is None:
            status = "error"
        else:
            keys = {k for k in parsed.entries if k[0] == entry["line"]} | {k for k in current if k[0] == entry["line"]}
            new = {k: budgets.parse_amount(parsed.entries.get(k, "")) for k in keys}
            old = {k: current.get(k) for k in keys}
            if new == old:
                status = "unchanged"
            elif not any(v is not None for v in old.values()):
                status = "new"
            else:
                status = "changed"
        result.append({"row": entry["row"], "line": entry["line"], "label": entry["label"], "status": status,
                       "errors": list(entry["errors"])})
    return result
