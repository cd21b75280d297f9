"""The official-layout workbook writer (core.workbook): row heights fitted to wrapped CJK text,
repeated group cells merged vertically, and the layout every export shares."""

from __future__ import annotations

import math
from datetime import date
from io import BytesIO

from openpyxl import Workbook, load_workbook

from core import workbook as book
from core.workbook import (
    LEFT,
    Column,
    Heading,
    Table,
    cell,
    fit_row_heights,
    merge,
    merge_repeated,
    wrapped_lines,
)

ON = date(2026, 6, 30)
ONE_LINE = book.lines_height(1)  # 11 pt: 11 × 1.45 + padding


def merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def test_text_width_counts_cjk_twice_and_ascii_once():
    assert book.text_width("abc12") == 5
    assert book.text_width("医共体") == 6
    assert book.text_width("1.1制定方案，") == 3 + 2 * 5
    # A line wraps when it is wider than the column less its margins; newlines start new lines.
    assert wrapped_lines("医" * 10, 21) == 1
    assert wrapped_lines("医" * 11, 21) == 2
    assert wrapped_lines("短\n短\n短", 40) == 3
    assert wrapped_lines("", 10) == 1
    # A larger font takes more width.
    assert wrapped_lines("医" * 10, 21, size=16) == 2


def test_row_heights_follow_the_wrapped_text_and_the_column_widths():
    wb = Workbook()
    ws = wb.active
    book.set_widths(ws, [14, 46, 8])
    long_text = "推进医共体内人员统筹使用，建立健全牵头医院医师下沉基层服务制度，" * 3  # 96 CJK characters
    cell(ws, 1, 1, "短", align=LEFT)
    cell(ws, 1, 2, "一行", align=LEFT)
    cell(ws, 2, 2, long_text, align=LEFT)
    cell(ws, 3, 2, "第一行\n第二行\n第三行\n第四行", align=LEFT)
    cell(ws, 4, 1, long_text, align=LEFT)  # the same text in the narrow column
    cell(ws, 5, 3, "不换行的长文本不计行数" * 3, align=book.RIGHT)  # no wrap_text: one line
    fit_row_heights(ws, 1, 5)

    heights = {row: ws.row_dimensions[row].height for row in range(1, 6)}
    assert heights[1] == ONE_LINE
    lines_in_46 = math.ceil(book.text_width(long_text) / 45)
    lines_in_14 = math.ceil(book.text_width(long_text) / 13)
    assert lines_in_46 == 5 and lines_in_14 == 15
    assert heights[2] == book.lines_height(lines_in_46) == round(5 * 11 * book.LINE_FACTOR + book.ROW_PADDING, 1)
    assert heights[3] == book.lines_height(4)  # the newlines count
    assert heights[4] == book.lines_height(lines_in_14) > heights[2]
    assert heights[5] == ONE_LINE

    # The heights are in the saved file.
    saved = load_workbook(BytesIO(book.save(wb))).active
    assert [saved.row_dimensions[r].height for r in range(1, 6)] == [heights[r] for r in range(1, 6)]


def test_merged_cells_use_their_merged_width_and_spread_over_their_rows():
    wb = Workbook()
    ws = wb.active
    book.set_widths(ws, [11, 11, 11])
    text = "医" * 30  # 60 units: 6 lines in 11, 2 lines across 33
    cell(ws, 1, 1, text, align=LEFT)
    merge(ws, 1, 1, 1, 3)
    cell(ws, 2, 1, text, align=LEFT)
    merge(ws, 2, 1, 5, 1)  # one column, four rows: 6 lines over 4 rows
    fit_row_heights(ws, 1, 5)
    assert ws.row_dimensions[1].height == book.lines_height(2)
    rows = [ws.row_dimensions[r].height for r in range(2, 6)]
    assert sum(rows) >= book.lines_height(6) - 0.5
    assert max(rows) - min(rows) < 0.2  # spread evenly, not all on the first row


def test_fit_keeps_a_minimum_and_never_lowers_a_height():
    wb = Workbook()
    ws = wb.active
    book.set_widths(ws, [20])
    cell(ws, 1, 1, "短")
    cell(ws, 2, 1, "短")
    ws.row_dimensions[2].height = 40
    fit_row_heights(ws, 1, 2, min_height=20)
    assert ws.row_dimensions[1].height == 20
    assert ws.row_dimensions[2].height == 40


def test_repeated_group_cells_are_merged_vertically_within_their_outer_group():
    wb = Workbook()
    ws = wb.active
    rows = [
        ("一、深化改革行动", "1．管理", "a"),
        ("一、深化改革行动", "1．管理", "b"),
        ("一、深化改革行动", "2．人事", "c"),
        ("二、医防融合行动", "2．人事", "d"),  # same 重点任务 text under another 行动: not merged with the row above
        ("二、医防融合行动", "2．人事", "e"),
        (None, None, "f"),
        (None, None, "g"),  # blanks are never merged
        ("二、医防融合行动", "3．其他", "h"),  # not consecutive with the earlier run
    ]
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            cell(ws, r, c, value)
    runs = merge_repeated(ws, [1, 2], 1, len(rows))
    assert merged(ws) == {"A1:A3", "A4:A5", "B1:B2", "B4:B5"}
    assert (1, 1, 3) in runs
    assert ws["A1"].value == "一、深化改革行动" and ws["A2"].value is None
    assert ws["A1"].alignment.vertical == "center"
    assert ws["A8"].value == "二、医防融合行动"


def test_table_writer_merges_group_columns_and_fits_rows():
    """The 进度监测表's layout: the 行动 of several key tasks merged down, a ledger heading row
    between two ledgers ending the run, long text in taller rows."""
    long_task = "建立健全县域医共体内部人员统筹使用、薪酬分配和绩效考核机制，推动优质资源下沉基层" * 2
    table = Table(
        sheet="进度监测表", title="郁南县紧密型县域医共体进度监测表（2026年6月）",
        columns=[Column("行动", 26, text=True), Column("重点任务", 30, text=True), Column("任务数", 8),
                 Column("已完成", 8, group="完成情况（责任单位数）"), Column("逾期", 8, group="完成情况（责任单位数）")],
        rows=[Heading("台账一"),
              ["一、“深化改革”行动", "1．夯实管理责任", 2, 1, 0],
              ["一、“深化改革”行动", long_task, 3, 0, 1],
              ["一、“深化改革”行动", "3．短", 1, 1, 0],
              Heading("台账二"),
              ["一、“深化改革”行动", "1．另一台账", 1, 0, 0]],
        total=["合计", "", 7, 2, 1], group_columns=(0,))
    ws = load_workbook(BytesIO(book.workbook([table], unit="郁南县卫生健康局", on=ON)))["进度监测表"]
    # Rows: 1 title, 2 info, 3–4 header, 5 heading, 6–8 ledger one, 9 heading, 10 ledger two, 11 total.
    assert ws["A5"].value == "台账一" and "A5:E5" in merged(ws)
    assert "A6:A8" in merged(ws)
    assert ws["A6"].value == "一、“深化改革”行动" and ws["A7"].value is None
    assert ws["A10"].value == "一、“深化改革”行动" and not any(r.startswith("A10:") for r in merged(ws))
    assert ws["A11"].value == "合计"
    # The long key task's row is as tall as its wrapped lines; a short one is one line.
    lines = math.ceil(book.text_width(long_task) / 29)
    assert lines >= 5
    assert ws.row_dimensions[7].height == book.lines_height(lines)
    assert ws.row_dimensions[8].height == ONE_LINE
    # The layout: print titles, landscape A4 one page wide.
    assert ws.print_title_rows in ("$3:$4", "3:4")
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1


def test_header_writes_one_or_two_rows():
    wb = Workbook()
    ws = wb.active
    assert book.header(ws, [("序号", 6), ("任务", 40)], row=3) == 3
    assert ws["B3"].value == "任务" and ws.column_dimensions["B"].width == 40
    ws = wb.create_sheet()
    last = book.header(ws, [("序号", 6), ("已完成", 8, "完成情况"), ("逾期", 8, "完成情况"), ("备注", 20)], row=3)
    assert last == 4
    assert merged(ws) == {"A3:A4", "B3:C3", "D3:D4"}
    assert [ws["B3"].value, ws["B4"].value, ws["C4"].value] == ["完成情况", "已完成", "逾期"]
