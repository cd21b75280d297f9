"""The one writer of the portal's official-layout workbooks (every .xlsx export uses it).

An official table, as the county's clerks print it: a title row merged across the table, a line of
particulars (填报单位 on the left, the date on the right), one or two header rows (a group title
merged over its columns, the other titles merged down both rows), the body, the 填报人 / 审核人 /
日期 footer; landscape A4, one page wide, the header rows repeated on every page; column widths
set, and each row as tall as its wrapped text (Excel and LibreOffice do not grow a row written by a
program, so long CJK text overlaps the rows below). Where official tables merge a group cell
vertically (the 行动 of a task ledger), the same text repeated on consecutive rows becomes one
merged cell, its value in the top cell.

Two ways to write one:

- the building blocks (``cell``, ``merge``, ``title_row``, ``info_row``, ``header``,
  ``footer_row``, ``page_setup``, ``fit_row_heights``, ``merge_repeated``) for the sheets with a
  layout of their own (the institution register, the task ledger, the evaluation table, the filing
  templates);
- ``workbook(tables, …)``: a list of ``Table`` (columns, rows, total, note, chart), each on its
  sheet, written with named styles (one assignment per cell) — the reports, the staffing, finance
  and security lists.

Every value goes through ``core.xlsx``: a user's text is always a text cell, never a formula.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.merge import MergedCellRange
from openpyxl.worksheet.worksheet import Worksheet

from core import xlsx

OFFICIAL_LANGUAGE = "zh-hans"  # official forms are in Chinese whatever the user's language
FONT_NAME = "宋体"
BODY_SIZE, TITLE_SIZE = 11, 16
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
SECTION_FILL_COLOR = "F2F2F2"  # section, heading and total rows
TOTAL_FILL = PatternFill("solid", fgColor=SECTION_FILL_COLOR)
TITLE_HEIGHT, INFO_HEIGHT = 32, 20

# Row heights: a wrapped line of text takes about 1.3 × the font size in points with 宋体 in Excel
# (a row of 11 pt is 14.25 pt) and 1.45 × with the CJK fonts LibreOffice and WPS fall back on
# without 宋体 (Noto / Source Han: ascent + descent 1.448 em); the taller one, so that no program
# clips a cell, plus a little for the cell's padding. A column's width is in units of one digit of
# the default font, a CJK character about two of them at 11 pt.
LINE_FACTOR = 1.45
ROW_PADDING = 3
DEFAULT_COLUMN_WIDTH = 8.43


def date_zh(day: date) -> str:
    """2026年6月30日."""
    return f"{day.year}年{day.month}月{day.day}日"


# Cells and merges --------------------------------------------------------------------------------

def cell(ws: Worksheet, row: int, column: int, value: Any = None, *, bold: bool = False, align: Alignment = CENTER,
         border: bool = True, size: int = BODY_SIZE, fill: PatternFill | None = None):
    """Write ``value`` (text stays text, ``core.xlsx``) in the official style: 宋体, thin border,
    centred and wrapped unless ``align`` says otherwise."""
    target = xlsx.put(ws, row, column, value)
    target.font = Font(name=FONT_NAME, bold=bold, size=size)
    target.alignment = align
    if border:
        target.border = BORDER
    if fill is not None:
        target.fill = fill
    return target


def merge(ws: Worksheet, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
    """Merge the range (nothing for a single cell); the cells under the top-left one lose their
    values."""
    if (first_row, first_col) != (last_row, last_col):
        ws.merge_cells(start_row=first_row, start_column=first_col, end_row=last_row, end_column=last_col)


def quick_merge(ws: Worksheet, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
    """Merge a range without ``merge_cells``' re-styling of its edges (a millisecond a range, more
    than the rest of a large sheet): the caller styles the cells under it and leaves them empty."""
    if (first_row, first_col) != (last_row, last_col):
        ref = f"{get_column_letter(first_col)}{first_row}:{get_column_letter(last_col)}{last_row}"
        ws.merged_cells.add(MergedCellRange(ws, ref))


def set_widths(ws: Worksheet, widths: Iterable[float], *, first_col: int = 1) -> None:
    for col, width in enumerate(widths, start=first_col):
        ws.column_dimensions[get_column_letter(col)].width = width


# The parts of an official table --------------------------------------------------------------------

def title_row(ws: Worksheet, title: str, ncols: int, *, row: int = 1) -> None:
    """The title, bold 16 pt, merged across the table's ``ncols`` columns."""
    cell(ws, row, 1, title, bold=True, size=TITLE_SIZE, border=False)
    merge(ws, row, 1, row, ncols)
    ws.row_dimensions[row].height = TITLE_HEIGHT


def info_row(ws: Worksheet, parts: Sequence[tuple[int, int, Any]], *, row: int = 2, right_last: bool = True) -> list:
    """The line of particulars under the title: each part ``(first column, last column, value)``
    merged over its columns, left-aligned, the last one right-aligned (the date). Parts whose first
    column is past their last are left out. The cells written, in order."""
    written = []
    for n, (first, last, value) in enumerate(parts):
        if first > last:
            continue
        align = RIGHT if right_last and n == len(parts) - 1 else LEFT
        written.append(cell(ws, row, first, value, align=align, border=False))
        merge(ws, row, first, row, last)
    ws.row_dimensions[row].height = INFO_HEIGHT
    return written


@dataclass
class HeaderColumn:
    """A column of a header: its title, width, and the group title over it (columns of one group
    side by side share a merged cell in the first header row)."""

    title: str
    width: float
    group: str = ""


def header(ws: Worksheet, columns: Sequence[HeaderColumn | tuple], *, row: int = 3, first_col: int = 1,
           height: float | None = None) -> int:
    """The header from ``row``: one row when no column has a group, else two (a group's title merged
    over its columns, the other titles merged down both rows). Sets the column widths. ``columns``
    may be ``(title, width)`` or ``(title, width, group)`` tuples. The last header row."""
    columns = [c if isinstance(c, HeaderColumn) else HeaderColumn(*c) for c in columns]
    grouped = any(c.group for c in columns)
    last_row = row + 1 if grouped else row
    index = 0
    while index < len(columns):
        column = columns[index]
        col = first_col + index
        if not column.group:
            ws.column_dimensions[get_column_letter(col)].width = column.width
            cell(ws, row, col, column.title, bold=True, fill=HEADER_FILL)
            if grouped:
                cell(ws, last_row, col, None, bold=True, fill=HEADER_FILL)
                merge(ws, row, col, last_row, col)
            index += 1
            continue
        end = index
        while end + 1 < len(columns) and columns[end + 1].group == column.group:
            end += 1
        for offset in range(index, end + 1):
            c = first_col + offset
            ws.column_dimensions[get_column_letter(c)].width = columns[offset].width
            cell(ws, row, c, column.group if offset == index else None, bold=True, fill=HEADER_FILL)
            cell(ws, last_row, c, columns[offset].title, bold=True, fill=HEADER_FILL)
        merge(ws, row, col, row, first_col + end)
        index = end + 1
    for r in range(row, last_row + 1):
        ws.row_dimensions[r].height = height or (22 if grouped else 24)
    return last_row


def footer_row(ws: Worksheet, row: int, *, on: date, ncols: int, splits: tuple[int, int],
               first_label: str | None = None) -> None:
    """填报人 (or ``first_label``) from column 1, 审核人 from ``splits[0]``, 日期 from ``splits[1]`` to the
    last column."""
    reviewer, day = splits
    cell(ws, row, 1, first_label or _("填报人："), align=LEFT, border=False)
    merge(ws, row, 1, row, reviewer - 1)
    cell(ws, row, reviewer, _("审核人："), align=LEFT, border=False)
    merge(ws, row, reviewer, row, day - 1)
    cell(ws, row, day, _("日期：%(date)s") % {"date": date_zh(on)}, align=LEFT, border=False)
    merge(ws, row, day, row, ncols)


def page_setup(ws: Worksheet, *, header_rows: tuple[int, int], last_col: str, last_row: int, frozen_cols: int = 0,
               freeze: str | None = None, landscape: bool = True) -> None:
    """The print setup of every official table: A4 (landscape by default), one page wide, centred,
    the header rows (and ``frozen_cols`` label columns) repeated on every page and frozen on screen
    (``freeze`` names the top-left free cell when it is not the one below the header)."""
    first, last = header_rows
    ws.freeze_panes = freeze or ws.cell(row=last + 1, column=frozen_cols + 1)
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{first}:{last}"
    if frozen_cols:
        ws.print_title_cols = f"A:{get_column_letter(frozen_cols)}"
    ws.print_area = f"A1:{last_col}{last_row}"
    ws.print_options.horizontalCentered = True


def save(wb: Workbook) -> bytes:
    """The workbook as .xlsx bytes (``core.xlsx.save``: no formula leaves the portal)."""
    return xlsx.save(wb)


# Row heights fitted to wrapped text ------------------------------------------------------------------

def char_width(ch: str) -> int:
    """Units of column width a character takes at 11 pt: 2 for CJK (wide, full-width and the
    ambiguous punctuation Chinese fonts draw wide: “”、…), 1 for the rest."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 1


def text_width(text: str) -> int:
    """The width of one line of ``text`` in units of column width (at 11 pt)."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def wrapped_lines(text: Any, width: float, *, size: float = BODY_SIZE) -> int:
    """How many lines ``text`` takes in a wrapped cell ``width`` units wide at ``size`` pt: each
    line (explicit newlines count) wraps to ceil(its width / the usable width), at least one."""
    if text is None or text == "":
        return 1
    usable = max(1.0, width - 1)  # the cell's inner margins
    scale = size / BODY_SIZE
    return sum(max(1, math.ceil(text_width(part) * scale / usable - 1e-9)) for part in str(text).split("\n"))


def line_height(size: float = BODY_SIZE) -> float:
    return size * LINE_FACTOR


def lines_height(lines: int, size: float = BODY_SIZE) -> float:
    """The row height (pt) ``lines`` lines of ``size`` pt text need."""
    return round(max(1, lines) * line_height(size) + ROW_PADDING, 1)


def column_widths(ws: Worksheet, ncols: int) -> list[float]:
    """The widths of columns 1..``ncols`` (index 0 unused), the default where none was set."""
    widths = [0.0] * (ncols + 1)
    for col in range(1, ncols + 1):
        dimension = ws.column_dimensions.get(get_column_letter(col))
        widths[col] = dimension.width if dimension is not None and dimension.width else DEFAULT_COLUMN_WIDTH
    return widths


def fit_row_heights(ws: Worksheet, first_row: int, last_row: int, *, min_height: float = 0) -> None:
    """Make each row of ``first_row``..``last_row`` that holds text tall enough for its wrapped
    cells: for every cell with wrap_text, its lines from its text and its width (a merged cell's
    width is its columns' sum; a cell merged over several rows spreads what it lacks over them),
    at the cell's font size; at least one line, at least ``min_height``, and never lower than a
    height the row already has."""
    ncols = ws.max_column
    widths = column_widths(ws, ncols)
    merged_at: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for rng in ws.merged_cells.ranges:
        if rng.max_row >= first_row and rng.min_row <= last_row:
            merged_at[(rng.min_row, rng.min_col)] = (rng.min_row, rng.min_col, rng.max_row, rng.max_col)
    style_info: dict[tuple[int, int], tuple[bool, float]] = {}
    wb = ws.parent
    needed: dict[int, float] = {}
    tall: list[tuple[int, int, float]] = []  # merged over rows: (first row, last row, height needed)
    for (row, col), target in ws._cells.items():
        if row < first_row or row > last_row or target.value is None:
            continue
        style = target._style  # None for a cell never styled: the workbook's default font and alignment
        key = (style.alignmentId, style.fontId) if style is not None else (0, 0)
        info = style_info.get(key)
        if info is None:
            alignment = wb._alignments[key[0]]
            font = wb._fonts[key[1]]
            info = style_info[key] = (bool(alignment.wrap_text), float(font.sz or BODY_SIZE))
        wrap, size = info
        span = merged_at.get((row, col))
        if span is None:
            width, last = widths[col] if col <= ncols else DEFAULT_COLUMN_WIDTH, row
        else:
            width = sum(widths[c] if c <= ncols else DEFAULT_COLUMN_WIDTH for c in range(span[1], span[3] + 1))
            last = span[2]
        lines = wrapped_lines(target.value, width, size=size) if wrap and isinstance(target.value, str) else 1
        height = lines_height(lines, size)
        if last > row:
            tall.append((row, min(last, last_row), height))
            height = lines_height(1, size)
        if height > needed.get(row, 0):
            needed[row] = height
    for row, height in needed.items():
        current = ws.row_dimensions[row].height or 0
        ws.row_dimensions[row].height = max(height, min_height, current)
    for first, last, height in tall:
        rows = range(first, last + 1)
        have = sum(ws.row_dimensions[r].height or lines_height(1) for r in rows)
        if height > have:
            extra = (height - have) / len(rows)
            for r in rows:
                ws.row_dimensions[r].height = round((ws.row_dimensions[r].height or lines_height(1)) + extra, 1)


def merge_repeated(ws: Worksheet, columns: Sequence[int], first_row: int, last_row: int, *,
                   quick: bool = False) -> list[tuple[int, int, int]]:
    """Merge, in each of ``columns`` (group columns, outermost first), the runs of consecutive rows
    of ``first_row``..``last_row`` with the same non-empty value into one cell (the value in the top
    cell, centred vertically); a column's run also ends where a column before it in ``columns``
    changes (the 重点任务 within its 行动). A cell already part of a merged range (a heading row
    merged across) ends a run. ``quick`` merges with ``quick_merge`` and empties the cells under.
    The merged runs as (column, first row, last row)."""
    in_merge = set()
    for rng in ws.merged_cells.ranges:
        if rng.max_row >= first_row and rng.min_row <= last_row:
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    if c in columns:
                        in_merge.add((r, c))
    runs: list[tuple[int, int, int]] = []
    for depth, col in enumerate(columns):
        outer = columns[:depth]
        start = None
        key = None
        for row in range(first_row, last_row + 2):
            if row <= last_row and (row, col) not in in_merge:
                value = ws.cell(row=row, column=col).value
                this = (value, *(ws.cell(row=row, column=c).value for c in outer)) if value not in (None, "") else None
            else:
                this = None
            if start is not None and this == key and this is not None:
                continue
            if start is not None and row - 1 > start:
                runs.append((col, start, row - 1))
            start, key = (row, this) if this is not None else (None, None)
    for col, first, last in runs:
        top = ws.cell(row=first, column=col)
        alignment = copy(top.alignment)
        alignment.vertical = "center"
        top.alignment = alignment
        if quick:
            for r in range(first + 1, last + 1):
                ws.cell(row=r, column=col).value = None
            quick_merge(ws, first, col, last, col)
        else:
            merge(ws, first, col, last, col)
    return runs


# Tables written with named styles (reports, lists) ---------------------------------------------------

LIGHT_FILLS = {"red": "FFC7CE", "yellow": "FFEB9C", "blue": "DDEBF7"}
CHART_DATA_SHEET = "图表数据"


def _named_styles() -> list[NamedStyle]:
    def style(name, *, bold=False, size=BODY_SIZE, align="center", border=True, fill=None) -> NamedStyle:
        s = NamedStyle(name=name)
        s.font = Font(name=FONT_NAME, bold=bold, size=size)
        s.alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
        if border:
            s.border = BORDER
        if fill:
            s.fill = PatternFill("solid", fgColor=fill)
        return s

    styles = [style("r_title", bold=True, size=TITLE_SIZE, border=False), style("r_info", align="left", border=False),
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
    # Group columns (0-based, outermost first) whose equal consecutive cells are merged vertically.
    group_columns: tuple[int, ...] = ()


def workbook(tables: list[Table], *, unit: str, on: date) -> bytes:
    """``tables`` as an .xlsx file (bytes), each on its sheet in the official layout, in Chinese."""
    with translation.override(OFFICIAL_LANGUAGE):
        wb = Workbook()
        for style in _named_styles():
            wb.add_named_style(style)
        styles = _StyleArrays(wb)
        wb.remove(wb.active)
        charted = []
        for table in tables:
            ws = wb.create_sheet(table.sheet[:31])
            footer = _write_table(ws, table, styles, unit=unit, on=on)
            if table.chart is not None:
                charted.append((ws, footer, table.chart))
        if charted:
            _charts(wb.create_sheet(CHART_DATA_SHEET), charted)
        return xlsx.save(wb)


class _StyleArrays:
    """The style arrays of the named styles, made once per workbook: giving a cell a copy is what
    ``cell.style = name`` ends in, without looking the name up among the workbook's styles each
    time (a tenth of the cost)."""

    def __init__(self, wb: Workbook):
        ws = wb.create_sheet("_styles")
        self.arrays = {}
        for number, style in enumerate(wb._named_styles, start=1):
            target = ws.cell(row=number, column=1)
            target.style = style.name
            self.arrays[style.name] = target._style
        wb.remove(ws)

    def put(self, ws, row, col, value, name):
        target = ws.cell(row=row, column=col)
        target._style = copy(self.arrays[name])
        # After the style (which replaces the cell's style array): text stays text, never a formula.
        return xlsx.set_value(target, value) if value is not None else target

    def style(self, ws, row, col, name) -> None:
        ws.cell(row=row, column=col)._style = copy(self.arrays[name])


def _write_table(ws, table: Table, styles: _StyleArrays, *, unit: str, on: date) -> int:
    put, style = styles.put, styles.style
    ncols = len(table.columns)
    split = max(1, ncols // 2)
    put(ws, 1, 1, table.title, "r_title")
    quick_merge(ws, 1, 1, 1, ncols)
    ws.row_dimensions[1].height = TITLE_HEIGHT
    put(ws, 2, 1, _("填报单位：%(unit)s") % {"unit": unit}, "r_info")
    quick_merge(ws, 2, 1, 2, split)
    put(ws, 2, split + 1, _("报送日期：%(date)s") % {"date": date_zh(on)}, "r_info_right")
    quick_merge(ws, 2, split + 1, 2, ncols)

    grouped = any(c.group for c in table.columns)
    first_header, last_header = 3, 4 if grouped else 3
    col = 1
    while col <= ncols:
        column = table.columns[col - 1]
        ws.column_dimensions[get_column_letter(col)].width = column.width
        if column.group:
            span = col
            while span < ncols and table.columns[span].group == column.group:
                span += 1
            put(ws, first_header, col, column.group, "r_head")
            quick_merge(ws, first_header, col, first_header, span)
            for c in range(col, span + 1):
                ws.column_dimensions[get_column_letter(c)].width = table.columns[c - 1].width
                put(ws, last_header, c, table.columns[c - 1].title, "r_head")
            for c in range(col + 1, span + 1):
                style(ws, first_header, c, "r_head")
            col = span + 1
            continue
        put(ws, first_header, col, column.title, "r_head")
        if grouped:
            style(ws, last_header, col, "r_head")
            quick_merge(ws, first_header, col, last_header, col)
        col += 1

    column_styles = ["r_text" if c.text else "r_num" for c in table.columns]
    row = last_header + 1
    for values in table.rows:
        if isinstance(values, Heading):
            put(ws, row, 1, values.text, "r_total")
            for c in range(2, ncols + 1):
                style(ws, row, c, "r_total")
            quick_merge(ws, row, 1, row, ncols)
            row += 1
            continue
        light = values[ncols] if table.light_column is not None and len(values) > ncols else ""
        for c in range(ncols):
            name = column_styles[c]
            if c == table.light_column and light in LIGHT_FILLS:
                name = f"r_{light}"
            put(ws, row, c + 1, values[c], name)
        row += 1
    if table.group_columns and row - 1 > last_header:
        merge_repeated(ws, [c + 1 for c in table.group_columns], last_header + 1, row - 1, quick=True)
    if not table.rows:
        put(ws, row, 1, _("（无）"), "r_num")
        quick_merge(ws, row, 1, row, ncols)
        for c in range(2, ncols + 1):
            style(ws, row, c, "r_num")
        row += 1
    if table.total is not None:
        for c in range(ncols):
            put(ws, row, c + 1, table.total[c], "r_total")
        row += 1
    if table.note:
        put(ws, row, 1, table.note, "r_info")
        quick_merge(ws, row, 1, row, ncols)
        row += 1
    footer = row + 1
    reviewer, day = max(2, ncols // 3 + 1), max(3, 2 * ncols // 3 + 1)
    put(ws, footer, 1, _("填报单位（盖章）："), "r_info")
    quick_merge(ws, footer, 1, footer, reviewer - 1)
    put(ws, footer, reviewer, _("审核人："), "r_info")
    quick_merge(ws, footer, reviewer, footer, day - 1)
    put(ws, footer, day, _("日期：%(date)s") % {"date": date_zh(on)}, "r_info")
    quick_merge(ws, footer, day, footer, ncols)
    fit_row_heights(ws, first_header, footer)

    page_setup(ws, header_rows=(first_header, last_header), last_col=get_column_letter(ncols), last_row=footer)
    return footer


def _charts(data_ws, charted) -> None:
    """Each chart's figures as a block on the data sheet (a title row, a header row, a row per
    category), and the chart itself two rows under its table's footer."""
    row = 1
    for ws, footer, chart in charted:
        xlsx.put(data_ws, row, 1, chart.title).font = Font(name=FONT_NAME, bold=True)
        head = row + 1
        xlsx.put(data_ws, head, 1, _("项目"))
        for n, (name, _values) in enumerate(chart.series, start=2):
            xlsx.put(data_ws, head, n, name)
        for i, category in enumerate(chart.categories, start=1):
            xlsx.put(data_ws, head + i, 1, category)
            for n, (_name, values) in enumerate(chart.series, start=2):
                xlsx.put(data_ws, head + i, n, values[i - 1])
        last = head + len(chart.categories)
        bar = BarChart()
        bar.type = "bar" if chart.horizontal else "col"
        bar.title = chart.title
        bar.y_axis.title = chart.y_title
        bar.y_axis.delete = False
        bar.x_axis.delete = False
        bar.height, bar.width = 9, 22
        bar.add_data(Reference(data_ws, min_col=2, max_col=1 + len(chart.series), min_row=head, max_row=last),
                     titles_from_data=True)
        bar.set_categories(Reference(data_ws, min_col=1, min_row=head + 1, max_row=last))
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
