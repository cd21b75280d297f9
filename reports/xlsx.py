"""The 进度监测表 workbook in the official layout: on each sheet the title merged across the table,
填报单位 and the reporting date, a header (two rows where columns are grouped, merged), the rows, and
the 填报单位 / 审核人 / 日期 footer; landscape A4, one page wide, the header repeated on each page.

Cells take named styles (one assignment per cell instead of four), so writing a workbook costs
little more than writing its values; ``plain_workbook`` writes the same values without any style
(the floor the report benchmark measures against). Nothing here queries the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from io import BytesIO

from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.merge import MergedCellRange

from alliances.exports import OFFICIAL_LANGUAGE, page_setup
from core import xlsx as cells
from core.clock import date_zh as _date_zh

FONT = "宋体"
_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
LIGHT_FILLS = {"red": "FFC7CE", "yellow": "FFEB9C", "blue": "DDEBF7"}


def _styles() -> list[NamedStyle]:
    def style(name, *, bold=False, size=11, align="center", border=True, fill=None) -> NamedStyle:
        s = NamedStyle(name=name)
        s.font = Font(name=FONT, bold=bold, size=size)
        s.alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
        if border:
            s.border = _BORDER
        if fill:
            s.fill = PatternFill("solid", fgColor=fill)
        return s

    styles = [style("r_title", bold=True, size=16, border=False), style("r_info", align="left", border=False),
              style("r_info_right", align="right", border=False), style("r_head", bold=True, fill="D9E1F2"),
              style("r_num"), style("r_text", align="left"), style("r_total", bold=True, fill="F2F2F2")]
    styles += [style(f"r_{light}", fill=fill) for light, fill in LIGHT_FILLS.items()]
    return styles


@dataclass
class Column:
    title: str
    width: float
    group: str = ""  # columns with the same group share a merged header above their titles
    text: bool = False


@dataclass
class Heading:
    """A row across the whole table (a ledger's title above its sections)."""

    text: str


@dataclass
class Chart:
    """A clustered bar chart under a table: ``categories`` across, one bar series per ``series``
    entry ((name, values)); its figures are written to the 图表数据 sheet, which it reads."""

    title: str
    categories: list[str]
    series: list[tuple[str, list]]
    y_title: str = ""
    horizontal: bool = False


@dataclass
class Table:
    sheet: str
    title: str
    columns: list[Column]
    rows: list[Sequence | Heading]
    total: Sequence | None = None
    light_column: int | None = None  # rows carry their light as an extra last value
    note: str = ""
    chart: Chart | None = None


def workbook(tables: list[Table], *, unit: str, on: date) -> bytes:
    with translation.override(OFFICIAL_LANGUAGE):
        wb = Workbook()
        for style in _styles():
            wb.add_named_style(style)
        wb._portal_styles = _Styles(wb)
        wb.remove(wb.active)
        charted = []
        for table in tables:
            ws = wb.create_sheet(table.sheet[:31])
            footer = _write(ws, table, unit=unit, on=on)
            if table.chart is not None:
                charted.append((ws, footer, table.chart))
        if charted:
            _charts(wb.create_sheet(CHART_DATA_SHEET), charted)
        return cells.save(wb)


def _merge(ws, r1, c1, r2, c2) -> None:
    """Merge a range without ``merge_cells``' re-styling of its edges (a millisecond a range, more
    than the rest of the sheet): the cells under a bordered merge get their style from the
    caller."""
    if (r1, c1) != (r2, c2):
        ws.merged_cells.add(MergedCellRange(ws, f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}"))


class _Styles:
    """The style arrays of the named styles, made once per workbook: giving a cell a copy is what
    ``cell.style = name`` ends in, without looking the name up among the workbook's styles each
    time (a tenth of the cost)."""

    def __init__(self, wb: Workbook):
        ws = wb.create_sheet("_styles")
        self.arrays = {}
        for number, style in enumerate(wb._named_styles, start=1):
            cell = ws.cell(row=number, column=1)
            cell.style = style.name
            self.arrays[style.name] = cell._style
        wb.remove(ws)

    def apply(self, cell, name: str) -> None:
        cell._style = copy(self.arrays[name])


def _put(ws, row, col, value, style):
    cell = ws.cell(row=row, column=col)
    ws.parent._portal_styles.apply(cell, style)
    # After the style (which replaces the cell's style array): text stays text, never a formula.
    return cells.set_value(cell, value) if value is not None else cell


def _style(ws, row, col, style) -> None:
    ws.parent._portal_styles.apply(ws.cell(row=row, column=col), style)


def _write(ws, table: Table, *, unit: str, on: date) -> int:
    ncols = len(table.columns)
    split = max(1, ncols // 2)
    _put(ws, 1, 1, table.title, "r_title")
    _merge(ws, 1, 1, 1, ncols)
    ws.row_dimensions[1].height = 32
    _put(ws, 2, 1, _("填报单位：%(unit)s") % {"unit": unit}, "r_info")
    _merge(ws, 2, 1, 2, split)
    _put(ws, 2, split + 1, _("报送日期：%(date)s") % {"date": _date_zh(on)}, "r_info_right")
    _merge(ws, 2, split + 1, 2, ncols)

    grouped = any(c.group for c in table.columns)
    header_rows = 2 if grouped else 1
    first_header, last_header = 3, 2 + header_rows
    col = 1
    while col <= ncols:
        column = table.columns[col - 1]
        ws.column_dimensions[get_column_letter(col)].width = column.width
        if column.group:
            span = col
            while span < ncols and table.columns[span].group == column.group:
                span += 1
            _put(ws, first_header, col, column.group, "r_head")
            _merge(ws, first_header, col, first_header, span)
            for c in range(col, span + 1):
                ws.column_dimensions[get_column_letter(c)].width = table.columns[c - 1].width
                _put(ws, last_header, c, table.columns[c - 1].title, "r_head")
            for c in range(col + 1, span + 1):
                _style(ws, first_header, c, "r_head")
            col = span + 1
            continue
        _put(ws, first_header, col, column.title, "r_head")
        if grouped:
            _style(ws, last_header, col, "r_head")
            _merge(ws, first_header, col, last_header, col)
        col += 1

    styles = ["r_text" if c.text else "r_num" for c in table.columns]
    row = last_header + 1
    for values in table.rows:
        if isinstance(values, Heading):
            _put(ws, row, 1, values.text, "r_total")
            for c in range(2, ncols + 1):
                _style(ws, row, c, "r_total")
            _merge(ws, row, 1, row, ncols)
            row += 1
            continue
        light = values[ncols] if table.light_column is not None and len(values) > ncols else ""
        for c in range(ncols):
            style = styles[c]
            if c == table.light_column and light in LIGHT_FILLS:
                style = f"r_{light}"
            _put(ws, row, c + 1, values[c], style)
        row += 1
    if not table.rows:
        _put(ws, row, 1, _("（无）"), "r_num")
        _merge(ws, row, 1, row, ncols)
        for c in range(2, ncols + 1):
            _style(ws, row, c, "r_num")
        row += 1
    if table.total is not None:
        for c in range(ncols):
            _put(ws, row, c + 1, table.total[c], "r_total")
        row += 1
    if table.note:
        _put(ws, row, 1, table.note, "r_info")
        _merge(ws, row, 1, row, ncols)
        row += 1
    footer = row + 1
    reviewer, day = max(2, ncols // 3 + 1), max(3, 2 * ncols // 3 + 1)
    _put(ws, footer, 1, _("填报单位（盖章）："), "r_info")
    _merge(ws, footer, 1, footer, reviewer - 1)
    _put(ws, footer, reviewer, _("审核人："), "r_info")
    _merge(ws, footer, reviewer, footer, day - 1)
    _put(ws, footer, day, _("日期：%(date)s") % {"date": _date_zh(on)}, "r_info")
    _merge(ws, footer, day, footer, ncols)

    page_setup(ws, header_rows=(first_header, last_header), last_col=get_column_letter(ncols), last_row=footer)
    return footer


CHART_DATA_SHEET = "图表数据"


def _charts(data_ws, charted) -> None:
    """Each chart's figures as a block on the data sheet (a title row, a header row, a row per
    category), and the chart itself two rows under its table's footer."""
    row = 1
    for ws, footer, chart in charted:
        cells.put(data_ws, row, 1, chart.title).font = Font(name=FONT, bold=True)
        header = row + 1
        cells.put(data_ws, header, 1, _("项目"))
        for n, (name, _values) in enumerate(chart.series, start=2):
            cells.put(data_ws, header, n, name)
        for i, category in enumerate(chart.categories, start=1):
            cells.put(data_ws, header + i, 1, category)
            for n, (_name, values) in enumerate(chart.series, start=2):
                cells.put(data_ws, header + i, n, values[i - 1])
        last = header + len(chart.categories)
        bar = BarChart()
        bar.type = "bar" if chart.horizontal else "col"
        bar.title = chart.title
        bar.y_axis.title = chart.y_title
        bar.y_axis.delete = False
        bar.x_axis.delete = False
        bar.height, bar.width = 9, 22
        bar.add_data(Reference(data_ws, min_col=2, max_col=1 + len(chart.series), min_row=header, max_row=last),
                     titles_from_data=True)
        bar.set_categories(Reference(data_ws, min_col=1, min_row=header + 1, max_row=last))
        ws.add_chart(bar, f"A{footer + 2}")
        row = last + 2
    data_ws.column_dimensions["A"].width = 28


def plain_workbook(tables: list[Table]) -> bytes:
    """The same values in a workbook without styles, merges or print setup: what openpyxl alone
    costs (the benchmark's floor)."""
    wb = Workbook(write_only=False)
    wb.remove(wb.active)
    for table in tables:
        ws = wb.create_sheet(table.sheet[:31])
        ws.append([table.title])
        ws.append(["", ""])
        ws.append([c.group or c.title for c in table.columns])
        if any(c.group for c in table.columns):
            ws.append([c.title for c in table.columns])
        ncols = len(table.columns)
        for values in table.rows:
            ws.append([values.text] if isinstance(values, Heading) else list(values[:ncols]))
        if table.total is not None:
            ws.append(list(table.total))
        ws.append(["", "", ""])
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# The 进度监测表 --------------------------------------------------------------------------------

STATUS_KEYS = ("done", "on_track", "due_soon", "overdue", "not_started", "continuous")
LIGHT_KEYS = ("red", "yellow", "blue")


def monthly_tables(data: dict) -> list[Table]:
    status_group, light_group = _("完成情况（责任单位数）"), _("预警灯")
    status_titles = [_("已完成"), _("推进中"), _("临期"), _("逾期"), _("未启动"), _("持续推进")]
    light_titles = [_("红灯"), _("黄灯"), _("蓝灯")]
    columns = ([Column(_("行动"), 26, text=True), Column(_("重点任务"), 30, text=True), Column(_("任务数"), 8),
                Column(_("责任单位数"), 10)]
               + [Column(t, 8, group=status_group) for t in status_titles]
               + [Column(t, 7, group=light_group) for t in light_titles])

    def counts(row: dict) -> list:
        return [row["items"], row["assignments"], *(row[k] for k in STATUS_KEYS), *(row[k] for k in LIGHT_KEYS)]

    summary = data["summary"]
    rows: list = []
    ledger = None
    for s in data["sections"]:
        if s.get("ledger") and s["ledger"] != ledger:  # each ledger's title above its sections
            ledger = s["ledger"]
            rows.append(Heading(ledger))
        rows.append([s["action"] or _("（未分行动）"), s["key_task"], *counts(s)])
    progress = Table(
        sheet=_("进度监测表"), title=data["title"], columns=columns, rows=rows,
        total=[_("合计"), "", *counts(summary)],
        note=_("统计截至%(date)s；完成情况按责任单位计。") % {"date": data["as_of"]})

    overdue = Table(
        sheet=_("逾期任务"), title=_("%(title)s——逾期任务") % {"title": data["title"]},
        columns=[Column(_("序号"), 6), Column(_("编号"), 8), Column(_("任务"), 40, text=True),
                 Column(_("责任单位"), 20, text=True), Column(_("完成时限"), 12), Column(_("逾期天数"), 9),
                 Column(_("完成进度"), 9), Column(_("最新进展"), 50, text=True)],
        rows=[[n, r["number"], r["task"], r["unit"], r["due"], r["days_late"], f"{r['percent']}%",
               (f"{r['latest']}（{r['latest_period']}）" if r["latest"] else _("未报送进展"))]
              for n, r in enumerate(data["overdue"], start=1)])

    items = Table(
        sheet=_("任务进展明细"), title=_("%(title)s——任务进展明细") % {"title": data["title"]},
        columns=[Column(_("行动"), 20, text=True), Column(_("重点任务"), 22, text=True), Column(_("编号"), 8),
                 Column(_("任务"), 40, text=True), Column(_("责任单位"), 18, text=True),
                 Column(_("完成时限"), 12), Column(_("完成情况"), 10), Column(_("最新进展"), 50, text=True)],
        rows=[[r["action"], r["key_task"], r["number"], r["task"], r["units"], r["deadline"] or r["due"],
               f"{r['status']}（{r['done']}/{r['total']}）", r["latest"] or _("未报送进展"), r["light"]]
              for r in data["items"]],
        light_column=6)

    filing = Table(
        sheet=_("填报完整性"), title=_("%(title)s——数据填报完整性") % {"title": data["title"]},
        columns=[Column(_("报表"), 24, text=True), Column(_("截止日期"), 12), Column(_("应报"), 7),
                 Column(_("已报"), 7), Column(_("按时"), 7), Column(_("逾期报送"), 9), Column(_("未报"), 7),
                 Column(_("上报率"), 9), Column(_("及时率"), 9), Column(_("未报单位"), 40, text=True)],
        rows=[[r["form"], r["due"], r["expected"], r["filed"], r["on_time"], r["late"], r["missing"], r["rate"],
               r["timely_rate"], r["missing_names"]] for r in data["completeness"]])

    indicators = Table(
        sheet=_("重点指标"), title=_("%(title)s——重点指标") % {"title": data["title"]},
        columns=[Column(_("类别"), 16, text=True), Column(_("指标"), 36, text=True), Column(_("本期值"), 12),
                 Column(_("目标值"), 20), Column(_("达标情况"), 10)],
        rows=[[r["category"], r["name"], r["value"], r["target"], r["met_label"],
               {"met": "", "not_met": "red"}.get(r["met"], "")] for r in data["indicators"]],
        light_column=4)
    return [progress, overdue, items, filing, indicators]


def late_tables(data: dict) -> list[Table]:
    return [Table(
        sheet=_("逾期未报名单"), title=data["title"],
        columns=[Column(_("序号"), 6), Column(_("医共体"), 22, text=True), Column(_("单位"), 26, text=True),
                 Column(_("报表"), 24, text=True), Column(_("截止日期"), 12), Column(_("逾期天数"), 9),
                 Column(_("状态"), 10)],
        rows=[[n, r["alliance"], r["institution"], r["form"], r["due"], r["days_late"], r["status"]]
              for n, r in enumerate(data["rows"], start=1)])]


def finance_half_tables(data: dict) -> list[Table]:
    """The half-year's financial analysis: budget execution, the 医保 global budget, the revenue
    structure."""
    execution = Table(
        sheet=_("预算执行"), title=data["title"],
        columns=[Column(_("预算项目"), 24, text=True), Column(_("全年预算（元）"), 18), Column(_("半年实际（元）"), 18),
                 Column(_("执行率"), 10)],
        rows=[[("　" if r["part"] else "") + r["line"], r["budget"], r["actual"], r["rate"],
               "yellow" if r["warning"] else ""] for r in data["execution"]],
        light_column=3,
        note=(_("预算：%(budget)s；已填报%(months)s个月。") % {"budget": data["budget"], "months": data["months"]}
              if data["budget"] else _("本年度尚无已批准的预算。")),
        chart=_execution_chart(data))
    insurance = data.get("insurance")
    medical = Table(
        sheet=_("医保总额"), title=_("%(title)s——医保总额预算") % {"title": data["title"]},
        columns=[Column(_("总额预算（元）"), 18), Column(_("已支付（元）"), 18), Column(_("占预算"), 10),
                 Column(_("已填报月数"), 10)],
        rows=[[insurance["budget"], insurance["actual"], insurance["rate"], insurance["months"]]] if insurance else [])
    indicators = Table(
        sheet=_("收入结构指标"), title=_("%(title)s——收入结构指标") % {"title": data["title"]},
        columns=[Column(_("指标"), 36, text=True), Column(_("本期值"), 12), Column(_("目标值"), 24),
                 Column(_("达标情况"), 10)],
        rows=[[r["name"], r["value"], r["target"], r["met_label"]] for r in data["indicators"]],
        chart=_indicator_chart(data))
    return [execution, medical, indicators]


def _number(text) -> Decimal | None:
    return Decimal(text) if text not in (None, "") else None


def _execution_chart(data: dict) -> Chart | None:
    """执行率 of each main line with a budget, beside the elapsed share of the year (时间进度)."""
    rows = [r for r in data["execution"] if not r["part"] and r.get("rate_value")]
    if not rows or not data.get("elapsed"):
        return None
    elapsed = Decimal(data["elapsed"])
    return Chart(title=_("预算执行率与时间进度"), categories=[r["line"] for r in rows], y_title="%",
                 series=[(_("执行率（%）"), [_number(r["rate_value"]) for r in rows]),
                         (_("时间进度（%）"), [elapsed] * len(rows))])


def _indicator_chart(data: dict) -> Chart | None:
    rows = [r for r in data["indicators"] if r.get("number") not in (None, "") and r.get("unit") == "%"]
    if not rows:
        return None
    return Chart(title=_("收入结构指标（%）"), categories=[r["name"] for r in rows], y_title="%", horizontal=True,
                 series=[(_("本期值"), [_number(r["number"]) for r in rows])])
