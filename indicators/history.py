"""历史数据导入: a county's past figures of one report form, loaded by the bureau when the county
goes live, so that year-on-year (同比) targets judge from the first live quarter.

The long layout: one row a value — 机构 | 报告期 | 数据项 (name or code) | 数值 — with the header
anywhere in the first rows and the columns mapped by ``core.imports.columns`` (the user maps
columns the words do not name). Only periods before the form's first live period
(``ReportForm.first_period``) are accepted; each value lands in a filing of its institution and
period that is locked (approved and closed) and counted, with a value audit row whose source is
``history`` and whose reason names the file. Re-importing the same file changes nothing; a
corrected file changes only what differs, each change audited.

The per-period layout: one sheet a period, laid out as the alliance-wide filing workbook
(``indicators.excel``): the institutions down (单位名称), the data elements across (by name, or by
code in a row below the names), the period in the sheet's name (2025年3月, 2025-03, 2025Q1) or in
its title lines (《月报》（2025年3月）, 报告期：2025年3月). The layout is told from the file: a header
row naming the institution column and data elements is the per-period layout, anything else the
long one. The same checks (a sheet of a live period is refused by its name), problems named by
sheet and cell, and the same values to apply.

Reading and checking are pure Python over a handful of queries; applying is set-based (a constant
number of queries whatever the number of values: ``manage.py bench_history``)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.utils import get_column_letter

from alliances.models import Institution
from core import uploads
from core.bulk import insert_rows, update_column
from core.imports import columns
from core.imports.columns import Field
from core.imports.reading import read_data, read_sheets
from core.issues import ImportFailed, Issue
from core.periods import Period, PeriodError, PeriodKind
from indicators.excel import FOOTER_PREFIXES, MISSING_MARKS, CellError, parse_figure
from indicators.models import DataElement, DataValue, Filing, FilingEvent, FormElement, ReportForm, ValueAudit
from indicators.services.filings import quantize

REGISTER = "history"
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 20
SHEET_MAX_COLUMNS = 200  # the per-period layout: a column per data element

LONG, SHEETS = "long", "sheets"  # the two layouts

FIELDS = (
    Field("institution", gettext_lazy("Institution"),
          ("机构", "机构名称", "单位", "单位名称", "填报单位", "医疗机构", "医疗机构名称", "统一社会信用代码", "机构代码"),
          required=True),
    Field("period", gettext_lazy("Period"), ("报告期", "报告期间", "统计期", "统计期间", "期间", "月份", "年月", "时间",
                                             "统计月份", "季度"), required=True),
    Field("element", gettext_lazy("Data element"), ("数据项", "数据项名称", "数据项代码", "指标", "指标名称", "项目",
                                                    "统计项目", "代码", "编码", "数据元"), required=True),
    Field("value", gettext_lazy("Value"), ("数值", "值", "数据", "本期数", "本期值", "数量", "金额"), required=True),
)

_MONTH_RE = re.compile(r"^(\d{4})\s*(?:年|[-./])\s*(\d{1,2})\s*月?(?:份)?$")
_COMPACT_MONTH_RE = re.compile(r"^(\d{4})(\d{2})$")
_QUARTER_RE = re.compile(r"^(\d{4})\s*(?:年)?\s*(?:第)?\s*([1-4一二三四])\s*季度?$|^(\d{4})\s*Q([1-4])$", re.I)
_HALF_RE = re.compile(r"^(\d{4})\s*年?\s*(上半年|下半年)$|^(\d{4})\s*H([12])$", re.I)
_YEAR_RE = re.compile(r"^(\d{4})\s*年?(?:度)?$")
_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4}


def parse_period(raw, kind: PeriodKind) -> Period:
    """A period cell as written by people: 2025-03, 2025年3月, 2025.3, 202503, a date (its month),
    2025Q1, 2025年第一季度, 2025年上半年, 2025年. ``PeriodError`` (Chinese) otherwise."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        period = Period.containing_date(kind, raw)
        return period
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    text = re.sub(r"\s+", "", text)
    if isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    found = None
    if m := _MONTH_RE.match(text) or _COMPACT_MONTH_RE.match(text):
        found = Period(int(m.group(1)), PeriodKind.MONTH, int(m.group(2))) if 1 <= int(m.group(2)) <= 12 else None
    elif m := _QUARTER_RE.match(text):
        year, quarter = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        found = Period(int(year), PeriodKind.QUARTER, _CN_DIGIT.get(quarter) or int(quarter))
    elif m := _HALF_RE.match(text):
        if m.group(1):
            found = Period(int(m.group(1)), PeriodKind.HALF_YEAR, 1 if m.group(2) == "上半年" else 2)
        else:
            found = Period(int(m.group(3)), PeriodKind.HALF_YEAR, int(m.group(4)))
    elif m := _YEAR_RE.match(text):
        found = Period(int(m.group(1)), PeriodKind.YEAR, 1)
    else:
        try:
            found = Period.parse(text)
        except PeriodError:
            found = None
    if found is None:
        raise PeriodError(_("“%(text)s” is not a period; write a month as 2025-03 or 2025年3月, a quarter as 2025Q1 "
                            "or 2025年第一季度.") % {"text": text or "—"})
    if found.kind != kind:
        raise PeriodError(_("“%(text)s” is a %(found)s, but the form is filed per %(kind)s.")
                          % {"text": text, "found": found.kind_label, "kind": Period(2000, kind, 1).kind_label})
    return found


@dataclass
class SheetIssue(Issue):
    """A problem of the per-period layout: where it is names the sheet too."""

    sheet: str = ""

    @property
    def cell(self) -> str:
        where = super().cell or (str(self.row) if self.row else "")
        return f"{self.sheet}!{where}" if where else self.sheet

    @property
    def text(self) -> str:
        values = {"sheet": self.sheet, "cell": super().cell, "row": self.row, "title": self.title,
                  "message": self.message}
        if self.row and self.column:
            if self.title:
                return _("Sheet “%(sheet)s”, cell %(cell)s (%(title)s): %(message)s") % values
            return _("Sheet “%(sheet)s”, cell %(cell)s: %(message)s") % values
        if self.row:
            return _("Sheet “%(sheet)s”, row %(row)s: %(message)s") % values
        return _("Sheet “%(sheet)s”: %(message)s") % values


@dataclass
class HistoryValue:
    row: int
    institution_id: int | None
    period: str
    element_id: int
    value: Decimal
    sheet: str = ""  # the per-period layout's sheet
    status: str = ""  # new / changed / unchanged / error, once compared


@dataclass
class HistoryPlan:
    """What importing the file would do: the values read, what exists, and the problems."""

    form: ReportForm
    filename: str
    columns: columns.ColumnPlan | None
    values: list[HistoryValue] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0  # rows without a value
    new_filings: int = 0
    groups: dict[tuple[int | None, str], dict[str, int]] = field(default_factory=dict)
    layout: str = LONG
    sheets: list[dict] = field(default_factory=list)  # the per-period layout: each sheet read

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.warning]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if not i.warning]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def has_changes(self) -> bool:
        return bool(self.new or self.changed)

    def fingerprint(self) -> str:
        data = [self.form.pk, [(v.institution_id, v.period, v.element_id, str(v.value)) for v in self.values],
                self.new, self.changed]
        return hashlib.sha256(repr(data).encode()).hexdigest()

    def payload(self) -> dict:
        return {"form": self.form.pk, "filename": self.filename, "columns": self.columns.to_json() if self.columns else {},
                "values": [[v.row, v.institution_id, v.period, v.element_id, str(v.value)] for v in self.values]}


def _norm(text) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text if text is not None else ""))).strip()


def _institution_names(form: ReportForm) -> dict[str, tuple[int, str]]:
    """The county's institutions by every name a clerk writes: the full name (郁南县人民医院), the
    short name (县人民医院), the name with the county written as 县 or left out, the credit code. A
    name two institutions could have is not used (never guessed)."""
    county = _norm(form.county.name)
    found: dict[str, set[tuple[int, str]]] = {}
    exact: dict[str, tuple[int, str]] = {}
    for pk, name, short, credit, kind in Institution.objects.filter(county_id=form.county_id).values_list(
            "pk", "name", "short_name", "credit_code", "kind"):
        name = _norm(name)
        exact[name] = (pk, kind)
        keys = {name, _norm(short), _norm(credit).upper()}
        if county and name.startswith(county):
            keys |= {"县" + name[len(county):], name[len(county):]}
        for key in keys - {""}:
            found.setdefault(key, set()).add((pk, kind))
    names = {key: next(iter(units)) for key, units in found.items() if len(units) == 1}
    return names | exact


class _Names:
    """What a file's names are looked up in (two queries): the county's institutions, the form's
    data elements (by code, then by name; a header's unit in brackets may follow the name)."""

    def __init__(self, form: ReportForm):
        self.form = form
        self.county_level = form.filer_level == ReportForm.FilerLevel.COUNTY
        self.county_names = {_norm(form.county.name)} if self.county_level else set()
        self.institutions = {} if self.county_level else _institution_names(form)
        rows = list(form.form_elements.select_related("element").order_by("order", "pk"))
        self.elements: dict[str, DataElement] = {}
        for row in rows:
            self.elements.setdefault(_norm(row.element.code).upper(), row.element)
            self.elements.setdefault(_norm(row.element.name), row.element)
        self.applies: dict[int, FormElement] = {row.element_id: row for row in rows}

    def element(self, raw) -> DataElement | None:
        return self.elements.get(_norm(raw).upper()) or self.elements.get(_norm(raw))

    def header_element(self, raw) -> DataElement | None:
        if raw in (None, ""):
            return None
        return self.element(raw) or self.elements.get(columns.normalise_title(raw))

    def institution(self, raw) -> tuple[tuple[int | None, str | None] | None, str]:
        """((institution id, kind), "") — (None, None) for the county itself on a county-level form —
        or (None, why not)."""
        if self.county_level:
            if _norm(raw) not in self.county_names | {""}:
                return None, _("“%(name)s” is not the county; this form is filed by the county itself.") % {
                    "name": raw}
            return (None, None), ""
        written = _norm(raw)
        found = self.institutions.get(written) or self.institutions.get(written.upper())
        if found is None:
            return None, _("“%(name)s” is not an institution of %(county)s (by its name or its credit code).") % {
                "name": raw or "—", "county": self.form.county.name}
        return found, ""


def read_history(data: bytes, name: str, form: ReportForm, *, mapping: dict | None = None,
                 saved_for=None) -> HistoryPlan:
    """Read and check a history file against the form and its county (nothing is written)."""
    plan = HistoryPlan(form=form, filename=name, columns=None)
    sheet, problems = read_data(data, name, max_columns=MAX_COLUMNS, max_rows=MAX_ROWS)
    if sheet is None:
        plan.issues = problems
        return plan
    head = sheet.rows[: columns.HEADER_SEARCH_ROWS]
    names = _Names(form)
    if mapping is None and _sheet_header(head, names) is not None:
        _read_sheets(data, name, plan, names)
        return plan
    located = columns.locate(head, FIELDS, given=mapping, saved_for=saved_for)
    plan.columns = located
    if located is None:
        plan.issues = [Issue(_("No header row was found in “%(name)s”: the file needs the columns 机构, 报告期, "
                               "数据项 and 数值.") % {"name": name})]
        return plan
    if located.errors:
        plan.issues = [Issue(text, row=located.header_row) for text in located.errors]
        return plan
    if not form.first_period:
        plan.issues = [Issue(_("The form “%(form)s” has no first live period: set it (the first period the county "
                               "files in the portal) before loading the history before it.") % {"form": form.name})]
        return plan
    first_live = Period.parse(form.first_period)
    by_field = located.by_field
    index = {name: column.index for name, column in by_field.items()}
    letter = {name: column.letter for name, column in by_field.items()}
    label = {f.name: str(f.label) for f in FIELDS}
    applies = names.applies
    seen: dict[tuple, int] = {}

    def issue(number: int, key: str, message: str) -> None:
        plan.issues.append(Issue(message, row=number, column=letter[key], title=label[key]))

    for number, cells in sheet.rows[located.position + 1:]:
        def cell(key, cells=cells):
            i = index[key]
            return cells[i] if i < len(cells) else None

        raw_value = cell("value")
        texts = [cell(k) for k in ("institution", "period", "element")]
        if all(v in (None, "") for v in texts) and raw_value in (None, ""):
            continue
        if _norm(cell("institution")) == _norm(by_field["institution"].title) and \
                _norm(raw_value) == _norm(by_field["value"].title):
            continue  # the header repeated (a table per year pasted one under the other)
        ok = True
        institution_id, kind = None, None
        found, why = names.institution(cell("institution"))
        if found is None:
            issue(number, "institution", why)
            ok = False
        else:
            institution_id, kind = found
        try:
            period = parse_period(cell("period"), form.kind)
            if period >= first_live:
                issue(number, "period", _("%(period)s is not history: the form is filed live from %(first)s; only "
                                          "earlier periods are loaded here.")
                      % {"period": period.label, "first": first_live.label})
                ok = False
        except PeriodError as exc:
            issue(number, "period", str(exc))
            ok = False
        raw_element = cell("element")
        element = names.element(raw_element)
        if element is None:
            issue(number, "element", _("“%(name)s” is not a data element of the form “%(form)s” (by its name or its "
                                       "code).") % {"name": raw_element or "—", "form": form.name})
            ok = False
        elif kind is not None and not applies[element.pk].applies_to(kind):
            issue(number, "element", _("“%(name)s” is not filed by this kind of institution.")
                  % {"name": element.name})
            ok = False
        value = None
        if element is not None:
            try:
                value = parse_figure(raw_value, element)
            except CellError as exc:
                issue(number, "value", str(exc))
                ok = False
        if not ok:
            continue
        if value is None:
            plan.skipped += 1
            continue
        key = (institution_id, str(period), element.pk)
        if key in seen:
            issue(number, "value", _("the same value (institution, period, data element) is already in row %(row)s.")
                  % {"row": seen[key]})
            continue
        seen[key] = number
        plan.values.append(HistoryValue(number, institution_id, str(period), element.pk, quantize(element, value)))
    if not plan.values and plan.ok:
        plan.issues.append(Issue(_("“%(name)s” has no values below its header.") % {"name": name}))
    if plan.ok:
        compare(plan)
    return plan


# The per-period layout -------------------------------------------------------------------------

INSTITUTION_FIELD = FIELDS[0]
# Columns of the per-period layout that are no data element: the alliance-wide workbook's 序号 and
# hidden 机构ID, a unit column, notes.
OTHER_TITLES = {columns.normalise_title(w) for w in ("序号", "编号", "机构ID", "ID", "计量单位", "单位代码")} | {
    columns.normalise_title(w) for w in columns.NOTE_WORDS}
TOTAL_WORDS = {"合计", "总计", "小计", "全县合计", "全市合计"}
_PERIOD_SEARCH = re.compile(
    r"(?<!\d)(?:\d{4}年第?[一二三四1-4]季度?|\d{4}Q[1-4]|\d{4}年?[上下]半年|\d{4}H[12]|\d{4}年\d{1,2}月份?"
    r"|\d{4}[-./]\d{1,2}(?!\d)|\d{6}(?!\d)|\d{4}年度?)", re.I)
_PERIOD_LINE = re.compile(r"(?:报告期|报告期间|统计期|统计期间|统计时间|所属期)[:：](.+)")
_BRACKETS = re.compile(r"[(（]([^()（）]*)[)）]")


def _sheet_header(head: list[tuple[int, list]], names: _Names) -> tuple[int, int] | None:
    """(position in ``head``, index of the institution column) of a per-period sheet's header: the
    first row with a cell naming the institution column and a cell naming a data element."""
    for position, (_number, cells) in enumerate(head):
        unit = next((i for i, v in enumerate(cells)
                     if v not in (None, "") and INSTITUTION_FIELD.rank_of(columns.normalise_title(v))), None)
        if unit is not None and any(names.header_element(v) for i, v in enumerate(cells) if i != unit):
            return position, unit
    return None


def _periods_in(text, kind: PeriodKind) -> tuple[Period | None, str | None]:
    """The period of ``kind`` a text gives (the whole text, else the first part that is one) and, when
    none, why a part that looks like a period is not one (None when nothing looks like one)."""
    try:
        return parse_period(text, kind), None
    except PeriodError:
        pass
    why = None
    for match in _PERIOD_SEARCH.finditer(_norm(text)):
        try:
            return parse_period(match.group(), kind), None
        except PeriodError as exc:
            why = why or str(exc)
    return None, why


def _title_period(rows: list[tuple[int, list]], kind: PeriodKind) -> tuple[Period | None, str | None]:
    """The period the title lines above the header give: a 报告期：… line first, then a period in
    brackets (the alliance-wide workbook's title: 《表》（2025年3月）), then anywhere."""
    texts = list(dict.fromkeys(_norm(v) for _n, cells in rows for v in cells if v not in (None, "")))
    why = None
    for tier in ([m.group(1) for t in texts for m in _PERIOD_LINE.finditer(t)],
                 [m.group(1) for t in texts for m in _BRACKETS.finditer(t)], texts):
        for text in tier:
            period, problem = _periods_in(text, kind)
            if period is not None:
                return period, None
            why = why or problem
    return None, why


def _is_figure(value) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _read_sheets(data: bytes, name: str, plan: HistoryPlan, names: _Names) -> None:
    """Read and check the per-period layout, every sheet of the workbook (nothing is written)."""
    form = plan.form
    plan.layout = SHEETS
    if not form.first_period:
        plan.issues = [Issue(_("The form “%(form)s” has no first live period: set it (the first period the county "
                               "files in the portal) before loading the history before it.") % {"form": form.name})]
        return
    sheets, problems = read_sheets(data, name, max_columns=SHEET_MAX_COLUMNS, max_rows=MAX_ROWS)
    if problems:
        plan.issues = problems
        return
    first_live = Period.parse(form.first_period)
    periods: dict[str, str] = {}
    for title, sheet in sheets:
        _read_sheet(plan, names, title, sheet, first_live, periods)
    if not plan.values and plan.ok:
        plan.issues.append(Issue(_("“%(name)s” has no values below its header.") % {"name": name}))
    if plan.ok:
        compare(plan)


def _read_sheet(plan: HistoryPlan, names: _Names, title: str, sheet, first_live: Period,
                periods: dict[str, str]) -> None:
    form = plan.form

    def problem(message: str, row: int | None = None, column: str | None = None, cell_title: str | None = None,
                warning: bool = False) -> None:
        plan.issues.append(SheetIssue(message, row=row, column=column, title=cell_title, warning=warning,
                                      sheet=title))

    head = sheet.rows[: columns.HEADER_SEARCH_ROWS]
    found = _sheet_header(head, names)
    by_name, name_why = _periods_in(title, form.kind)
    by_title, title_why = _title_period(head[: found[0]] if found else head, form.kind)
    if found is None:
        if by_name or by_title or name_why or title_why:
            problem(_("No header row was found: the sheet needs a 单位名称 column and a column per data element "
                      "(its name or its code)."))
        else:  # neither a period nor a table: a sheet of notes
            problem(_("Not read: it has neither a period nor a header row with 单位名称 and the data elements."),
                    warning=True)
        return
    if by_name and by_title and by_name != by_title:
        problem(_("Its name says %(name)s but its title says %(title)s; correct one of them.")
                % {"name": by_name.label, "title": by_title.label})
        return
    period = by_name or by_title
    if period is None:
        problem(name_why or title_why or _("No period: name the sheet by its period (2025年3月, 2025-03, 2025Q1) or "
                                           "write the period in its title line."))
        return
    if period >= first_live:
        problem(_("%(period)s is not history: the form is filed live from %(first)s; only earlier periods are loaded "
                  "here.") % {"period": period.label, "first": first_live.label})
        return
    if str(period) in periods:
        problem(_("%(period)s is also the period of sheet “%(other)s”; put each period on one sheet.")
                % {"period": period.label, "other": periods[str(period)]})
        return
    periods[str(period)] = title

    position, unit_index = found
    header_number, header = head[position]
    unit_title = _norm(header[unit_index])
    unit_letter = get_column_letter(unit_index + 1)
    below = []  # the units row and the hidden code row of the alliance-wide workbook
    for _number, cells in sheet.rows[position + 1: position + 4]:
        unit = cells[unit_index] if unit_index < len(cells) else None
        if _norm(unit) not in ("", unit_title) or any(_is_figure(v) for v in cells):
            break
        below.append(cells)
    rows = sheet.rows[position + 1 + len(below):]
    width = max(len(cells) for _n, cells in [head[position], *rows]) if rows else len(header)
    elements: dict[int, DataElement] = {}
    untitled: dict[int, str] = {}
    used: dict[int, str] = {}
    for index in range(width):
        if index == unit_index:
            continue
        texts = [cells[index] if index < len(cells) else None for cells in [header, *below]]
        element = next((e for e in map(names.header_element, texts) if e is not None), None)
        letter = get_column_letter(index + 1)
        written = str(texts[0]).strip() if texts[0] not in (None, "") else ""
        if element is None:
            if not written:
                untitled[index] = letter
            elif columns.normalise_title(written) not in OTHER_TITLES and not INSTITUTION_FIELD.rank_of(
                    columns.normalise_title(written)):
                problem(_("“%(name)s” is not a data element of the form “%(form)s” (by its name or its code).")
                        % {"name": written, "form": form.name}, header_number, letter, written)
            continue
        if element.pk in used:
            problem(_("%(name)s appears twice (also in column %(column)s).") % {"name": element.name,
                                                                               "column": used[element.pk]},
                    header_number, letter, written or element.name)
            continue
        used[element.pk] = letter
        elements[index] = element
    plan.sheets.append({"sheet": title, "period": str(period), "header_row": header_number,
                        "columns": {get_column_letter(i + 1): e.code for i, e in elements.items()}})

    seen: dict[tuple, int] = {}
    for number, cells in rows:
        def at(index, cells=cells):
            return cells[index] if index < len(cells) else None

        raw_unit = at(unit_index)
        written = _norm(raw_unit)
        if any(_norm(at(i)).startswith(FOOTER_PREFIXES) for i in {0, 1, unit_index}):
            break  # 说明 and 填报人 / 审核人 lines below the table
        if written in TOTAL_WORDS or written == unit_title:
            continue
        if not written:
            if any(at(i) not in (None, "") for i in elements):
                problem(_("This row has figures but no institution."), number, unit_letter, str(header[unit_index]))
            continue
        found_unit, why = names.institution(raw_unit)
        if found_unit is None:
            problem(why, number, unit_letter, str(header[unit_index]))
            continue
        institution_id, kind = found_unit
        if institution_id in seen:
            problem(_("%(name)s appears twice (also in row %(row)s).") % {"name": raw_unit, "row": seen[institution_id]},
                    number, unit_letter, str(header[unit_index]))
            continue
        seen[institution_id] = number
        for index, element in elements.items():
            raw = at(index)
            letter = get_column_letter(index + 1)
            where = f"{raw_unit} · {element.name}"
            if kind is not None and not names.applies[element.pk].applies_to(kind):
                if raw not in (None, "") and _norm(raw) not in MISSING_MARKS:
                    problem(_("“%(name)s” is not filed by this kind of institution; leave the cell empty.")
                            % {"name": element.name}, number, letter, where)
                continue
            try:
                value = parse_figure(raw, element)
            except CellError as exc:
                problem(str(exc), number, letter, where)
                continue
            if value is None:
                plan.skipped += 1
                continue
            plan.values.append(HistoryValue(number, institution_id, str(period), element.pk, quantize(element, value),
                                            sheet=title))
        for index, letter in list(untitled.items()):
            if at(index) not in (None, ""):
                problem(_("This column has figures but no data element in its header."), number, letter)
                del untitled[index]


def _at(value: HistoryValue, message: str) -> Issue:
    if value.sheet:
        return SheetIssue(message, row=value.row, sheet=value.sheet)
    return Issue(message, row=value.row)


def compare(plan: HistoryPlan) -> None:
    """New / changed / unchanged against the database (three queries), and filings in progress."""
    form = plan.form
    periods = sorted({v.period for v in plan.values})
    filings = {(f["institution_id"], f["period"]): f for f in Filing.objects.filter(
        form=form, period__in=periods).order_by().values("pk", "institution_id", "period", "status")}
    existing = {}
    if filings:
        existing = {(f, e): value for f, e, value in DataValue.objects.filter(
            filing_id__in=[f["pk"] for f in filings.values()]).values_list("filing_id", "element_id", "value")}
    new_filings = set()
    for v in plan.values:
        group = plan.groups.setdefault((v.institution_id, v.period), {"new": 0, "changed": 0, "unchanged": 0})
        filing = filings.get((v.institution_id, v.period))
        if filing is None:
            new_filings.add((v.institution_id, v.period))
            plan.new += 1
            group["new"] += 1
            v.status = "new"
            continue
        if filing["status"] not in (Filing.Status.LOCKED, Filing.Status.APPROVED):
            plan.issues.append(_at(v, _("%(period)s of this institution has a filing in progress (%(status)s); "
                                        "history does not overwrite it.")
                                   % {"period": Period.parse(v.period).label,
                                      "status": Filing.Status(filing["status"]).label}))
            v.status = "error"
            continue
        old = existing.get((filing["pk"], v.element_id), "missing")
        if old == "missing" or old is None:
            plan.new += 1
            group["new"] += 1
            v.status = "new"
        elif old != v.value:
            plan.changed += 1
            group["changed"] += 1
            v.status = "changed"
        else:
            plan.unchanged += 1
            group["unchanged"] += 1
            v.status = "unchanged"
    plan.new_filings = len(new_filings)


def apply_history(payload: dict, *, user, now: datetime, reason: str) -> dict[str, int]:
    """Write the previewed values (all or nothing): missing filings created locked, new values
    inserted, changed ones updated, each change audited with the source ``history``. A constant
    number of queries whatever the number of values."""
    form = ReportForm.objects.select_related("county").get(pk=payload["form"])
    values = [(row, inst, period, element, Decimal(value)) for row, inst, period, element, value in payload["values"]]
    periods = sorted({v[2] for v in values})
    with transaction.atomic():
        filings = {(f["institution_id"], f["period"]): f for f in Filing.objects.select_for_update(of=("self",)).filter(
            form=form, period__in=periods).order_by().values("pk", "institution_id", "period", "status")}
        busy = [f for f in filings.values() if f["status"] not in (Filing.Status.LOCKED, Filing.Status.APPROVED)]
        if busy:
            raise ImportFailed([Issue(_("A filing of %(period)s was started in the meantime; preview again.")
                                      % {"period": busy[0]["period"]})])
        missing = sorted({(v[1], v[2]) for v in values} - set(filings))
        if missing:
            rows = []
            for institution_id, period_text in missing:
                period = Period.parse(period_text)
                rows.append((form.pk, form.county_id, institution_id, period_text, period.start, period.end,
                             Filing.Status.LOCKED, form.due_date(period), now, user.pk, now, now, user.pk, user.pk))
            ids = insert_rows(Filing, ("form_id", "county_id", "institution_id", "period", "period_start", "period_end",
                                       "status", "due_date", "submitted_at", "submitted_by_id", "first_submitted_at",
                                       "reviewed_at", "reviewed_by_id", "updated_by_id"), rows)
            for (institution_id, period_text), pk in zip(missing, ids, strict=True):
                filings[(institution_id, period_text)] = {"pk": pk, "institution_id": institution_id,
                                                          "period": period_text, "status": Filing.Status.LOCKED}
        filing_ids = [f["pk"] for f in filings.values()]
        existing = {(f, e): (pk, value) for pk, f, e, value in DataValue.objects.filter(
            filing_id__in=filing_ids).values_list("pk", "filing_id", "element_id", "value")}
        new_rows, changed, audits, touched = [], {}, [], set()
        for _row, institution_id, period_text, element_id, value in values:
            filing_id = filings[(institution_id, period_text)]["pk"]
            current = existing.get((filing_id, element_id))
            if current is not None and current[1] == value:
                continue
            touched.add(filing_id)
            if current is None:
                period = Period.parse(period_text)
                new_rows.append((element_id, filing_id, form.county_id, institution_id, period_text, period.start,
                                 period.end, value, True))
                audits.append((filing_id, element_id, None, value, True, user.pk, now, FilingEvent.Action.HISTORY,
                               reason))
            else:
                changed[current[0]] = value
                audits.append((filing_id, element_id, current[1], value, False, user.pk, now,
                               FilingEvent.Action.HISTORY, reason))
        insert_rows(DataValue, ("element_id", "filing_id", "county_id", "institution_id", "period", "period_start",
                                "period_end", "value", "counted"), new_rows, returning_ids=False)
        update_column(DataValue, "value", changed, updated_at=now)
        insert_rows(ValueAudit, ("filing_id", "element_id", "old_value", "new_value", "created", "user_id", "at",
                                 "source", "reason"), audits, returning_ids=False)
        insert_rows(FilingEvent, ("filing_id", "action", "user_id", "at", "reason"),
                    [(pk, FilingEvent.Action.HISTORY, user.pk, now, reason) for pk in sorted(touched)],
                    returning_ids=False)
        if touched:
            Filing.objects.filter(pk__in=touched).update(version=F("version") + 1, updated_at=now, updated_by=user)
    return {"filings": len(missing), "created": len(new_rows), "changed": len(changed),
            "unchanged": len(values) - len(new_rows) - len(changed)}


def read_upload(upload, form: ReportForm, *, mapping=None, saved_for=None) -> tuple[HistoryPlan, bytes]:
    data = uploads.read_limited(upload, MAX_UPLOAD_BYTES)
    name = getattr(upload, "name", "") or ""
    if data is None:
        plan = HistoryPlan(form=form, filename=name, columns=None, issues=[Issue(
            _("“%(name)s” is larger than %(limit)s MB; split it by year and import the parts.")
            % {"name": name, "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})])
        return plan, b""
    return read_history(data, name, form, mapping=mapping, saved_for=saved_for), data
