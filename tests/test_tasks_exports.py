"""Excel exports of the task ledgers: the ledger in the official layout of its source (which is also
the import template: exporting then importing changes nothing), and the supervisor's list."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from core import workbook as book
from tasks.deadlines import DeadlineKind
from tasks.exports import (
    assignment_list_filename,
    assignment_list_workbook,
    ledger_export_data,
    ledger_filename,
    ledger_workbook,
    status_summary,
)
from tasks.imports.planning import plan_import
from tasks.imports.reading import TITLES, read_ledger_upload
from tasks.models import Assignment, Ledger
from tasks.selectors import latest_reports, with_list_data
from tasks.services.ledgers import item_save, item_set_deadline, ledger_create
from tasks.services.progress import progress_report_submit
from tasks.services.status import assignments_refresh_due
from tasks.status import Light, Status

SH = ZoneInfo("Asia/Shanghai")
RED, YELLOW, BLUE = "FFC7CE", "FFEB9C", "DDEBF7"
KNOWN_TITLES = {title for titles in TITLES.values() for title in titles}


def export_ledger(ledger, now) -> bytes:
    items, by_item, latest = ledger_export_data(ledger)
    with CaptureQueriesContext(connection) as ctx:
        data = ledger_workbook(ledger=ledger, items=items, assignments_by_item=by_item,
                               latest_by_assignment=latest, now=now)
    assert len(ctx.captured_queries) == 0, "the writer queries nothing"
    return data


def sheet(data: bytes):
    return load_workbook(BytesIO(data)).active


def merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def row_values(ws, row: int) -> list:
    return [ws.cell(row=row, column=c).value for c in range(1, ws.max_column + 1)]


def fill_of(cell) -> str | None:
    return cell.fill.fgColor.rgb[-6:] if cell.fill.fill_type == "solid" else None


def reimport(w, data: bytes):
    table, issues = read_ledger_upload(SimpleUploadedFile("x.xlsx", data))
    assert issues == [] and table is not None
    return table, plan_import(table, county=w.yn, user=w.bureau, now=w.now)


def after_the_deadline(w) -> datetime:
    """3 July 2026: item 1.1 (due 30 June) is overdue; 1.2 has a report of June."""
    with time_machine.travel(w.now, tick=False):
        progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital,
                               text="已完成就诊流向分析，  制定提升方案。" + "具体措施" * 40, percent=30,
                               marks_complete=False, now=w.now)
    later = datetime(2026, 7, 3, 9, 0, tzinfo=SH)
    with time_machine.travel(later, tick=False):
        assignments_refresh_due(now=later)
    return later


# The ledger ---------------------------------------------------------------------------------------

def test_ledger_workbook_has_the_official_layout(ledger_world):
    w = ledger_world
    later = after_the_deadline(w)
    ws = sheet(export_ledger(w.ledger, later))

    # Title, then the particulars the importer reads (A, C, E) and the export date on the right.
    assert ws["A1"].value == "郁南县2026年医共体建设重点任务" and ws["A1"].font.bold
    assert "A1:H1" in merged(ws)
    assert (ws["A2"].value, ws["C2"].value, ws["E2"].value) == ("文号：郁医共〔2026〕1号", "发文机关：郁南县卫生健康局",
                                                               "年度：2026")
    assert ws["F2"].value.date() == date(2026, 7, 3) and "导出日期" in ws["F2"].number_format
    assert "F2:H2" in merged(ws)

    # One header row; the importer knows every title but those of the added columns.
    header = row_values(ws, 3)
    assert header == ["类别", "重点任务", "主要内容", "责任单位", "配合单位", "完成时限", "完成情况", "最新进展"]
    assert set(header[:6]) <= KNOWN_TITLES and not set(header[6:]) & KNOWN_TITLES
    assert ws.print_title_rows == "$3:$3"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1

    # One row per item; the headings merged down over their items.
    assert [ws[f"C{r}"].value for r in (4, 5, 6)] == ["1.1推进医共体人员统筹使用", "1.2县域就诊率同比提升1个百分点或达到90%",
                                                      "2.1每半年开展一次督查"]
    assert (ws["A4"].value, ws["B4"].value) == ("一、深化改革", "1．夯实管理责任")
    assert {"A4:A5", "B4:B5"} <= merged(ws)
    assert (ws["A6"].value, ws["B6"].value) == ("二、医防融合", None)
    assert row_values(ws, 4)[3:6] == ["各医共体", "县财政局", "6月底"]
    assert row_values(ws, 6)[3:6] == ["县卫生健康局", None, "持续实施"]
    # 1.2 has no cooperating unit: "——", not a blank the importer would fill from 1.1's.
    assert ws["E5"].value == "——"

    # 完成情况: counts over the item's units, the worst light as the fill.
    assert ws["G4"].value == "已完成0/3；逾期2" and fill_of(ws["G4"]) == RED
    assert ws["G5"].value == "已完成0/1" and fill_of(ws["G5"]) is None
    assert ws["G6"].value == "持续推进"
    # 最新进展: unit, text (whitespace folded, cut short), month.
    progress = ws["H5"].value
    assert progress.startswith(f"{w.assignment_hospital.unit_name}：已完成就诊流向分析， 制定提升方案。具体措施")
    assert progress.endswith("…（2026-06）") and len(progress) < 160
    assert ws["H4"].value is None
    # Each row as tall as its longest wrapped cell (here 1.2's progress in the 40-wide column), a row
    # of short texts at the minimum.
    assert book.wrapped_lines(progress, 40) >= 3
    assert ws.row_dimensions[5].height == book.lines_height(book.wrapped_lines(progress, 40)) > 20
    assert ws.row_dimensions[6].height == 20

    # Footer two rows below the data; nothing after it.
    assert (ws["A8"].value, ws["D8"].value) == ("填报人：", "审核人：")
    assert ws["F8"].value == "日期：2026年7月3日"
    assert ws.max_row == 8


def test_ledger_headed_by_actions_names_the_first_column_action(ledger_world):
    w = ledger_world
    item_save(ledger=w.ledger, user=w.bureau, item=w.item_bureau, number="2.1", text="每半年开展一次督查",
              lead_units_text="县卫生健康局", deadline_text="持续实施", section_labels=["二、“医防融合”行动"], now=w.now)
    item_save(ledger=w.ledger, user=w.bureau, item=w.item_fanout, number="1.1", text="推进医共体人员统筹使用",
              lead_units_text="各医共体", coop_units_text="县财政局", deadline_text="6月底",
              section_labels=["一、“深化改革”行动", "1．夯实管理责任"], now=w.now)
    item_save(ledger=w.ledger, user=w.bureau, item=w.item_hospital, number="1.2",
              text="县域就诊率同比提升1个百分点或达到90%", lead_units_text="县人民医院", deadline_text="12月底",
              section_labels=["一、“深化改革”行动", "1．夯实管理责任"], now=w.now)
    ws = sheet(export_ledger(w.ledger, w.now))
    assert ws["A3"].value == "行动"


def test_corrected_deadline_keeps_the_phrase_and_shows_the_date_a_person_set(ledger_world):
    w = ledger_world
    item_set_deadline(item=w.item_hospital, user=w.bureau, kind=DeadlineKind.FIXED, due_date=date(2026, 11, 30),
                      now=w.now)
    data = export_ledger(w.ledger, w.now)
    ws = sheet(data)
    # The 完成时限 cell keeps the ledger's phrase (the import keeps the person's date anyway) …
    assert ws["F5"].value == "12月底"
    # … and the 完成情况 cell says which date a person set.
    assert "时限已人工设定为2026-11-30" in ws["G5"].value
    _table, plan = reimport(w, data)
    assert {i.key: i.action for i in plan.items}["1.2"] == "unchanged"


def test_light_fills_follow_the_worst_light():
    def a(status, light=Light.NONE):
        return SimpleNamespace(status=status, light=light)

    assert status_summary([a(Status.DONE), a(Status.DUE_SOON, Light.BLUE), a(Status.ON_TRACK, Light.YELLOW)]) == (
        "已完成1/3；临期1；滞后1", Light.YELLOW)
    assert status_summary([a(Status.DUE_SOON, Light.BLUE)]) == ("已完成0/1；临期1", Light.BLUE)
    assert status_summary([a(Status.CONTINUOUS, Light.YELLOW)]) == ("持续推进；滞后1", Light.YELLOW)
    assert status_summary([a(Status.DONE), a(Status.DONE)]) == ("已完成2/2", Light.NONE)
    assert status_summary([])[1] == Light.NONE


def test_ledger_filename(ledger_world):
    assert ledger_filename(ledger_world.ledger, date(2026, 7, 3)) == "郁南县2026年医共体建设重点任务_20260703.xlsx"


# The export is the import template ----------------------------------------------------------------

def test_exported_ledger_reimports_unchanged(ledger_world):
    w = ledger_world
    # Everything the tree layout can say (see the next tests for a blank below a filled cell): 1.2 with
    # the same cooperating unit as 1.1, and a text that starts with a figure (3.1 + 90%…).
    item_save(ledger=w.ledger, user=w.bureau, item=w.item_hospital, number="1.2",
              text="县域就诊率同比提升1个百分点或达到90%", lead_units_text="县人民医院", coop_units_text="县财政局",
              deadline_text="12月底", section_labels=["一、深化改革", "1．夯实管理责任"], now=w.now)
    item_save(ledger=w.ledger, user=w.bureau, number="3.1", text="90%以上的村卫生室纳入镇村一体化管理",
              lead_units_text="各医共体", deadline_text="2026年10月底前完成并持续推进",
              section_labels=["三、能力提升", "3．强化基层"], now=w.now)
    later = after_the_deadline(w)
    table, plan = reimport(w, export_ledger(w.ledger, later))

    assert table.layout == "tree"
    assert plan.ledger == w.ledger
    assert (plan.meta["title"], plan.meta["year"], plan.meta["doc_number"], plan.meta["issuer"]) == (
        w.ledger.title, 2026, "郁医共〔2026〕1号", "郁南县卫生健康局")
    assert plan.errors == [] and plan.warnings == []
    assert [(i.key, i.action) for i in plan.items] == [("1.1", "unchanged"), ("1.2", "unchanged"),
                                                       ("2.1", "unchanged"), ("3.1", "unchanged")]
    assert not plan.has_changes


def test_blank_below_a_filled_cell_does_not_give_the_item_the_units_above(ledger_world):
    """1.2 has no cooperating unit under 1.1's 县财政局: written "——", so a re-import does not make
    县财政局 cooperate on 1.2 (the importer reads a blank as "same as above")."""
    w = ledger_world
    table, plan = reimport(w, export_ledger(w.ledger, w.now))
    assert plan.errors == []
    by_key = {i.key: i for i in plan.items}
    assert by_key["1.1"].action == by_key["2.1"].action == "unchanged"
    assert by_key["1.2"].units_changed is False
    assert [r.text for r in by_key["1.2"].coop] == []


def test_manual_ledger_with_a_blank_below_a_filled_cell_reimports_unchanged(ledger_world):
    w = ledger_world
    _table, plan = reimport(w, export_ledger(w.ledger, w.now))
    assert [i.action for i in plan.items] == ["unchanged"] * 3


def test_ledger_with_a_short_title_reimports_into_itself(ledger_world):
    w = ledger_world
    w.ledger.title = "郁南县督查整改任务"
    w.ledger.save()
    _table, plan = reimport(w, export_ledger(w.ledger, w.now))
    assert plan.meta["title"] == "郁南县督查整改任务" and plan.ledger == w.ledger


@pytest.fixture
def numbered_ledger(ledger_world):
    w = ledger_world
    ledger = ledger_create(county=w.yn, user=w.bureau, title="郁南县2026年综合医改重点工作任务", year=2026,
                           doc_number="郁府办〔2026〕5号", issuer="郁南县人民政府办公室", layout=Ledger.Layout.NUMBERED)
    first, second = ["一 推进公立医院高质量发展"], ["二 深化医疗保障制度改革"]
    for number, text, lead, coop, deadline, section in [
        ("1", "加强公立医院党的建设，完善党委会议和院长办公会议议事规则。", "县卫生健康局", "——", "10月底", first),
        ("2", "推动县域医疗中心建设，提升县域服务能力。", "县卫生健康局、县财政局", "县人民医院", "12月底前完成阶段性目标",
         first),
        ("3", "2026年完成二级公立医院绩效考核。", "县卫生健康局", "", "长期", first),
        ("4", "完善城乡居民医保普通门诊统筹政策。", "县财政局", "", "10月底前出台文件", second),
    ]:
        item_save(ledger=ledger, user=w.bureau, number=number, text=text, lead_units_text=lead, coop_units_text=coop,
                  deadline_text=deadline, section_labels=section, now=w.now)
    return ledger


def test_numbered_ledger_has_section_rows_and_reimports_unchanged(ledger_world, numbered_ledger):
    w = ledger_world
    data = export_ledger(numbered_ledger, w.now)
    ws = sheet(data)
    header = row_values(ws, 3)
    assert header == ["序号", "重点工作", "责任部门", "配合部门", "时限要求", "完成情况", "最新进展"]
    assert set(header[:5]) <= KNOWN_TITLES
    assert (ws["A2"].value, ws["C2"].value, ws["E2"].value) == ("文号：郁府办〔2026〕5号", "发文机关：郁南县人民政府办公室",
                                                               "年度：2026")
    # A section row before each section's items, bold on a light fill, as the seed table has.
    assert row_values(ws, 4)[:3] == ["一", "推进公立医院高质量发展", None]
    assert ws["B4"].font.bold and fill_of(ws["B4"]) == "F2F2F2"
    assert row_values(ws, 5)[:5] == ["1", "加强公立医院党的建设，完善党委会议和院长办公会议议事规则。", "县卫生健康局", "——",
                                     "10月底"]
    assert row_values(ws, 8)[:2] == ["二", "深化医疗保障制度改革"]
    assert row_values(ws, 9)[:4] == ["4", "完善城乡居民医保普通门诊统筹政策。", "县财政局", None]
    assert (ws["A11"].value, ws["C11"].value) == ("填报人：", "审核人：")

    table, plan = reimport(w, data)
    assert table.layout == "numbered" and table.section_rows == 2
    assert plan.ledger == numbered_ledger
    assert plan.errors == []
    assert [(i.key, i.action) for i in plan.items] == [("1", "unchanged"), ("2", "unchanged"), ("3", "unchanged"),
                                                       ("4", "unchanged")]


def test_ledger_export_data_costs_the_same_whatever_the_size(ledger_world):
    w = ledger_world
    with time_machine.travel(w.now, tick=False):
        progress_report_submit(assignment=w.assignment_a, user=w.alliance_filer, text="已部署", percent=20,
                               marks_complete=False, now=w.now)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            items, by_item, latest = ledger_export_data(w.ledger)
        return len(ctx.captured_queries), len(items), sum(len(v) for v in by_item.values()), len(latest)

    before = count()
    for n in range(20):
        item_save(ledger=w.ledger, user=w.bureau, number=f"9.{n + 1}", text=f"加测任务{n}", lead_units_text="各医共体",
                  coop_units_text="县财政局", deadline_text="12月底", section_labels=["九、加测", f"9．加测{n % 3}"],
                  now=w.now)
    after = count()
    assert before[0] == after[0] <= 4
    assert (before[1:], after[1:]) == ((3, 5, 1), (23, 65, 1))
    # The writer needs no query over the bigger ledger either.
    ws = sheet(export_ledger(w.ledger, w.now))
    assert ws.max_row == 3 + 23 + 2


# The supervisor's list ----------------------------------------------------------------------------

def test_assignment_list_workbook(ledger_world):
    w = ledger_world
    later = after_the_deadline(w)
    rows = list(with_list_data(Assignment.objects.filter(county=w.yn, is_active=True)).order_by("item__order", "pk"))
    latest = latest_reports([a.pk for a in rows])
    for assignment in rows:
        assignment.latest = latest.get(assignment.pk)
    with CaptureQueriesContext(connection) as ctx:
        data = assignment_list_workbook(title="郁南县任务督办清单", county_name="郁南县", rows=rows,
                                        filters_text="督办灯：红", now=later)
    assert len(ctx.captured_queries) == 0
    ws = sheet(data)

    assert ws["A1"].value == "郁南县任务督办清单" and "A1:L1" in merged(ws)
    assert ws["A2"].value == "填报单位：郁南县卫生健康局"
    assert ws["E2"].value == "筛选条件：督办灯：红"
    assert ws["J2"].value == "导出日期：2026年7月3日"
    assert row_values(ws, 3) == ["序号", "台账", "编号", "任务", "责任单位", "角色", "完成时限", "状态", "督办灯", "逾期天数",
                                 "进度%", "最新进展"]
    data_rows = [row_values(ws, r) for r in range(4, 4 + len(rows))]
    assert [r[0] for r in data_rows] == list(range(1, 6))
    assert all(r[1] == w.ledger.title for r in data_rows)
    by_unit = {r[4]: (r, row) for row, r in enumerate(data_rows, start=4)}
    assert set(by_unit) == {a.unit_name for a in rows}

    overdue, row = by_unit[w.assignment_a.unit_name]
    assert overdue[2:4] == ["1.1", "推进医共体人员统筹使用"]
    assert overdue[5:11] == ["责任", "6月底", "逾期", "红", 3, 0]
    assert fill_of(ws[f"I{row}"]) == RED
    cooperating, row = by_unit["县财政局"]
    assert cooperating[5] == "配合" and cooperating[8] is None and cooperating[9] is None
    assert fill_of(ws[f"I{row}"]) is None
    hospital, _row = by_unit[w.assignment_hospital.unit_name]
    assert hospital[7] == "推进中" and hospital[10] == 30
    assert hospital[11].startswith("已完成就诊流向分析") and hospital[11].endswith("（2026-06）")
    footer = 4 + len(rows) + 1
    assert (ws[f"A{footer}"].value, ws[f"E{footer}"].value) == ("填报人：", "审核人：")
    assert ws[f"I{footer}"].value == "日期：2026年7月3日"


def test_assignment_list_fills_yellow_and_blue(ledger_world):
    w = ledger_world
    rows = list(with_list_data(Assignment.objects.filter(pk__in=[w.assignment_hospital.pk, w.assignment_bureau.pk]))
                .order_by("pk"))
    rows[0].light, rows[0].status = Light.BLUE, Status.DUE_SOON
    rows[1].light = Light.YELLOW
    ws = sheet(assignment_list_workbook(title="郁南县任务督办清单", county_name="郁南县", rows=rows, filters_text="",
                                        now=w.now))
    assert (ws["I4"].value, fill_of(ws["I4"])) == ("蓝", BLUE)
    assert (ws["I5"].value, fill_of(ws["I5"])) == ("黄", YELLOW)
    assert ws["E2"].value == "筛选条件：全部"
    assert ws["L4"].value is None


def test_assignment_list_filename():
    assert assignment_list_filename("郁南县", date(2026, 7, 3)) == "郁南县任务督办清单_20260703.xlsx"


def test_the_rectification_ledger_made_from_findings_reimports_unchanged(ledger_world):
    """督查整改任务: items made from inspection findings (numbered 督1, 督2, no key task) export in a
    layout the ledger importer reads back as it is."""
    from tasks.services.ledgers import finding_to_task
    from tasks.services.supervision import finding_add, inspection_record

    w = ledger_world
    with time_machine.travel(w.now, tick=False):
        inspection = inspection_record(county=w.yn, user=w.supervisor, title="2026年上半年督查",
                                       half_year="2026H1", held_on=date(2026, 6, 1))
        items = []
        for text in ("家庭医生签约服务台账不完整", "医共体财务统一管理未落实到位"):
            finding = finding_add(inspection=inspection, text=text, severity="minor", unit=w.health)
            items.append(finding_to_task(finding=finding, user=w.bureau, deadline_text="9月底", now=w.now))
    ledger = items[0].ledger
    table, plan = reimport(w, export_ledger(ledger, w.now))
    assert plan.ledger == ledger and plan.errors == [], [i.text for i in plan.errors]
    assert [(i.key, i.action) for i in plan.items] == [("督1", "unchanged"), ("督2", "unchanged")]
    assert not plan.has_changes
