"""Importing a ledger: both layouts, merged and carried-down cells, deadlines and units read from
the text, bad input with messages naming the row and column, nothing saved unless the whole file
is valid, and the same file twice changing nothing."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from core.issues import ImportFailed
from tasks.deadlines import DeadlineKind
from tasks.imports.applying import apply_plan
from tasks.imports.planning import plan_import
from tasks.imports.reading import MAX_UPLOAD_BYTES, read_ledger_upload
from tasks.models import Assignment, Department, Ledger, TaskItem
from tests.conftest import client_for

NOW = datetime.fromisoformat("2026-11-23T09:00:00+08:00")

TREE_HEADER = ["重点任务", "主要内容", "责任单位", "完成时限"]
NUMBERED_HEADER = ["序号", "重点工作", "责任部门", "配合部门", "时限要求"]


def workbook(rows, *, merges=(), title="县域医共体建设2021年重点任务清单", meta=("文号：浙卫〔2021〕9号", None,
             "发文机关：省卫生健康委", None, "年度：2021")) -> bytes:
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    if meta:
        ws.append(list(meta))
    for row in rows:
        ws.append(list(row))
    for ref in merges:
        ws.merge_cells(ref)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(data: bytes, name: str = "台账.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def read(data: bytes, name: str = "台账.xlsx"):
    return read_ledger_upload(upload(data, name))


def plan_of(data, world, name="台账.xlsx", **kwargs):
    table, problems = read(data, name)
    assert table is not None, [p.text for p in problems]
    return plan_import(table, county=world.yn, user=world.bureau, now=NOW, **kwargs)


SEED_000_LIKE = [
    TREE_HEADER,
    ["一、“深化改革”行动"],
    ["1．夯实管理责任", "1.1制定医共体2021年重点工作任务清单", "各医共体管委会办公室", "4月底完成并持续推进"],
    [None, "1.2落实省人大常委会决定", None, "12月底"],
    ["2．加强人才培养", "2.1提升医共体管理队伍职业化水平", "各地卫生健康行政部门、各医共体", "6月底完成并持续实施"],
    [None, "2.2牵头医院开展模块化培训", None, "6月底完成并持续实施"],
    ["二、“优化配置”行动"],
    ["5．工作一盘棋", "5.1围绕管理扁平化", "各医共体", "12月底"],
    [None, "5.2县域就诊率同比提升1个百分点或达到90%", "县人民医院、县财政局", "持续实施"],
]
# Row numbers: title 1, meta 2, header 3, section 4, items 5–6, 7–8, section 9, items 10–11.
SEED_000_MERGES = ["A4:D4", "A5:A6", "C5:C6", "A7:A8", "C7:C8", "A9:D9", "A10:A11"]


# Reading -------------------------------------------------------------------------------------

def test_tree_layout_reads_sections_merged_cells_and_source_document(db):
    table, problems = read(workbook(SEED_000_LIKE, merges=SEED_000_MERGES))
    assert problems == []
    assert table.layout == "tree"
    assert table.meta == {"title": "县域医共体建设2021年重点任务清单", "doc_number": "浙卫〔2021〕9号",
                          "issuer": "省卫生健康委", "year": "2021"}
    numbers = [i.number for i in table.items]
    assert numbers == ["1.1", "1.2", "2.1", "2.2", "5.1", "5.2"]
    item_1_2 = table.items[1]
    assert item_1_2.text == "落实省人大常委会决定"
    assert item_1_2.lead == "各医共体管委会办公室"  # from the merged cell
    assert item_1_2.sections == ["一、“深化改革”行动", "1．夯实管理责任"]
    assert table.items[4].sections == ["二、“优化配置”行动", "5．工作一盘棋"]


def test_blank_cells_carry_down_like_merged_word_cells_in_a_csv(db):
    text = "\n".join([
        "重点任务,主要内容,责任单位,完成时限",
        "一、“深化改革”行动,,,",
        "1．夯实管理责任,1.1制定任务清单,各医共体,4月底完成并持续推进",
        ",1.2落实决定,,",
        ",,,",  # a blank row inside the table
        "2．加强人才培养,2.1提升队伍,县卫生健康局,",
    ])
    table, problems = read(text.encode("utf-8"), "台账.csv")
    assert problems == []
    item_1_2 = table.items[1]
    assert (item_1_2.lead, item_1_2.deadline, sorted(item_1_2.filled)) == (
        "各医共体", ["text", "4月底完成并持续推进"], ["deadline", "lead"])
    # The deadline carries only within a key task: 2.1 under a new key task has none.
    assert table.items[2].deadline == ["text", ""]


def test_numbered_layout_with_section_rows_and_cooperating_units(db):
    rows = [NUMBERED_HEADER,
            ["一", "推进公立医院高质量发展", None, None, None],
            [1, "加强公立医院党的建设", "市卫生健康局", "——", "10月底"],
            [2, "打造清廉医院", "市卫生健康局 市财政局", "市发展和改革局", "长期"]]
    table, problems = read(workbook(rows, title="同仁市2021年综合医改重点工作台账", meta=None))
    assert problems == []
    assert table.layout == "numbered"
    assert [(i.number, i.sections) for i in table.items] == [("1", ["一 推进公立医院高质量发展"]),
                                                             ("2", ["一 推进公立医院高质量发展"])]
    assert table.items[1].coop == "市发展和改革局"
    assert table.meta["year"] == "2021"  # from the title


def test_gbk_csv_saved_by_chinese_excel_is_read(db):
    text = "序号,重点工作,责任部门,配合部门,时限要求\r\n1,落实住院医师规范化培训,县卫生健康局,县财政局,12月底\r\n"
    table, problems = read(text.encode("gbk"), "台账.csv")
    assert problems == []
    assert table.items[0].lead == "县卫生健康局"


def test_excel_date_cells_and_serials_become_fixed_dates(ledger_world):
    excel_date = datetime(2026, 9, 30)  # noqa: DTZ001 (an Excel cell has no time zone)
    rows = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, excel_date],
            [2, "任务二", "县卫生健康局", None, 46295]]
    plan = plan_of(workbook(rows), ledger_world)
    kinds = [(i.deadline.kind, i.deadline.due_date) for i in plan.items]
    assert kinds == [(DeadlineKind.FIXED, date(2026, 9, 30)), (DeadlineKind.FIXED, date(2026, 9, 30))]


# Bad input: each with a message naming where, and nothing saved ------------------------------

def test_missing_required_column_is_named(db):
    table, problems = read(workbook([["序号", "重点工作", "配合部门", "时限要求"], [1, "任务", "县财政局", "12月底"]]))
    assert table is None
    assert any("责任单位" in p.text for p in problems), [p.text for p in problems]


def test_no_header_at_all(db):
    table, problems = read(workbook([["甲", "乙"], ["丙", "丁"]]))
    assert table is None and "主要内容" in problems[0].text


def test_duplicate_item_numbers_name_both_rows_and_block_the_import(ledger_world):
    rows = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, "12月底"], [1, "任务二", "县卫生健康局", None, "12月底"]]
    plan = plan_of(workbook(rows), ledger_world)
    assert not plan.ok
    error = plan.errors[0]
    assert (error.row, error.column) == (5, "A") and "4" in error.message
    with pytest.raises(ImportFailed):
        apply_plan(plan, user=ledger_world.bureau, now=NOW)
    assert not Ledger.objects.filter(title="县域医共体建设2021年重点任务清单").exists()


def test_a_row_with_units_but_no_task_text_is_an_error_at_its_cell(ledger_world):
    rows = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, "12月底"], [2, None, "县卫生健康局", None, "12月底"]]
    plan = plan_of(workbook(rows), ledger_world)
    assert [(e.row, e.column) for e in plan.errors] == [(5, "B")]
    assert "第5行 B列（重点工作）" in plan.errors[0].text


def test_text_without_item_number_in_the_tree_layout_is_an_error(ledger_world):
    rows = [TREE_HEADER, ["1．夯实", "制定清单（没有编号）", "县卫生健康局", "12月底"]]
    plan = plan_of(workbook(rows), ledger_world)
    assert plan.errors and plan.errors[0].column == "B"


def test_file_over_the_size_limit(db):
    table, problems = read(b"PK\x03\x04" + b"0" * (MAX_UPLOAD_BYTES + 10))
    assert table is None and "MB" in problems[0].text


def test_binary_renamed_xlsx(db):
    table, problems = read(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    assert table is None and "not an Excel workbook" in problems[0].message or "不是" in problems[0].message


def _xlsm_bytes() -> bytes:
    data = workbook([NUMBERED_HEADER, [1, "任务", "县卫生健康局", None, "12月底"]])
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            target.writestr(entry, source.read(entry.filename))
        target.writestr("xl/vbaProject.bin", b"\x00macro")
    return out.getvalue()


def test_xlsm_with_macros_is_refused_by_name_and_by_content(db):
    by_name, problems_name = read(_xlsm_bytes(), "台账.xlsm")
    by_content, problems_content = read(_xlsm_bytes(), "台账.xlsx")
    assert by_name is None and by_content is None
    assert "macros" in problems_name[0].message or "宏" in problems_name[0].message
    assert "macros" in problems_content[0].message or "宏" in problems_content[0].message


def test_old_xls_file(db):
    table, problems = read(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "台账.xlsx")
    assert table is None and ".xls" in problems[0].message


# Planning: deadlines, units, fan-out -----------------------------------------------------------

def test_plan_reads_deadlines_and_fans_out_each_alliance(ledger_world):
    w = ledger_world
    plan = plan_of(workbook(SEED_000_LIKE, merges=SEED_000_MERGES), w)
    assert plan.ok, [e.text for e in plan.errors]
    by_number = {i.raw.number: i for i in plan.items}
    assert by_number["1.1"].deadline.kind == DeadlineKind.ONGOING
    assert by_number["1.1"].deadline.due_date == date(2021, 4, 30)
    assert by_number["5.2"].deadline.kind == DeadlineKind.CONTINUOUS
    fan = [r for r in by_number["2.1"].lead if r.fan_out][0]
    assert sorted(u.name for u in fan.units) == sorted([w.alliance_a.display_name, w.alliance_b.display_name])
    # 县卫生健康局 stands for 各地卫生健康行政部门 in a county; 县财政局 is known; 管委会办公室 is new.
    assert set(plan.unknown) == {"各医共体管委会办公室"}
    assert plan.unknown["各医共体管委会办公室"].proposed_name == "县医共体管委会办公室"
    assert by_number["5.2"].target_text == "县域就诊率同比提升1个百分点或达到90%"


def test_unreadable_deadline_is_flagged_not_guessed(ledger_world):
    rows = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, "尽快"]]
    plan = plan_of(workbook(rows), ledger_world)
    assert plan.ok  # a warning, not an error
    item = plan.items[0]
    assert item.deadline.kind == DeadlineKind.UNKNOWN and item.deadline.due_date is None
    assert plan.warnings[0].column == "E" and "尽快" in plan.warnings[0].message
    assert plan.counts["needs_deadline"] == 1


def test_plan_costs_a_constant_number_of_queries(ledger_world):
    def rows(n):
        return [NUMBERED_HEADER] + [[i, f"任务{i}", "县卫生健康局、各医共体、县人民医院", "县财政局", "12月底"]
                                    for i in range(1, n + 1)]

    counts = []
    for n in (5, 60):
        table, _problems = read(workbook(rows(n)))
        with CaptureQueriesContext(connection) as ctx:
            plan_import(table, county=ledger_world.yn, user=ledger_world.bureau, now=NOW)
        counts.append(len(ctx))
    assert counts[0] == counts[1], counts


# Applying --------------------------------------------------------------------------------------

def test_apply_creates_ledger_sections_items_departments_and_assignments(ledger_world):
    w = ledger_world
    plan = plan_of(workbook(SEED_000_LIKE, merges=SEED_000_MERGES), w)
    result = apply_plan(plan, user=w.bureau, now=NOW)
    ledger = Ledger.objects.get(pk=result["ledger"])
    assert (ledger.title, ledger.doc_number, ledger.issuer, ledger.year, ledger.layout) == (
        "县域医共体建设2021年重点任务清单", "浙卫〔2021〕9号", "省卫生健康委", 2021, "tree")
    assert ledger.items.count() == 6 and ledger.sections.filter(level=1).count() == 2
    office = Department.objects.get(county=w.yn, name="县医共体管委会办公室")
    assert office.aliases == ["各医共体管委会办公室"]
    item = ledger.items.get(key="2.1")
    units = sorted(a.unit_name for a in item.assignments.all())
    assert units == sorted(["县卫生健康局", w.alliance_a.display_name, w.alliance_b.display_name])
    # Statuses are computed at once: a 2021 deadline is overdue in November 2026.
    assert set(item.assignments.values_list("status", flat=True)) == {"overdue"}
    # 1.1, 1.2: the office; 2.1, 2.2: the bureau and both alliances; 5.1: both alliances; 5.2: two units.
    assert result["assignments"] == Assignment.objects.filter(item__ledger=ledger).count() == 12


def test_the_same_file_twice_changes_nothing(ledger_world):
    w = ledger_world
    data = workbook(SEED_000_LIKE, merges=SEED_000_MERGES)
    apply_plan(plan_of(data, w), user=w.bureau, now=NOW)
    before = (TaskItem.objects.count(), Assignment.objects.count(), Department.objects.count())
    second = plan_of(data, w)
    assert second.counts["create"] == second.counts["update"] == 0
    assert not second.has_changes
    assert second.counts["unchanged"] == 6
    assert (TaskItem.objects.count(), Assignment.objects.count(), Department.objects.count()) == before


def test_a_corrected_deadline_is_kept_when_the_ledger_is_imported_again(ledger_world):
    from tasks.services.ledgers import item_set_deadline

    w = ledger_world
    rows = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, "尽快"]]
    data = workbook(rows)
    result = apply_plan(plan_of(data, w), user=w.bureau, now=NOW)
    item = TaskItem.objects.get(ledger_id=result["ledger"], key="1")
    item_set_deadline(item=item, user=w.bureau, kind=DeadlineKind.FIXED, due_date=date(2021, 9, 30), now=NOW)
    again = plan_of(data, w)
    assert again.items[0].deadline_kept and not again.warnings
    apply_plan(again, user=w.bureau, now=NOW)
    item.refresh_from_db()
    assert (item.deadline_kind, item.due_date) == (DeadlineKind.FIXED, date(2021, 9, 30))


def test_a_changed_row_updates_its_item_and_its_assignments(ledger_world):
    w = ledger_world
    rows = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, "12月底"]]
    result = apply_plan(plan_of(workbook(rows), w), user=w.bureau, now=NOW)
    changed = [NUMBERED_HEADER, [1, "任务一（修订）", "县财政局", None, "9月底"]]
    plan = plan_of(workbook(changed), w)
    assert plan.items[0].action == "update" and plan.items[0].units_changed
    apply_plan(plan, user=w.bureau, now=NOW)
    item = TaskItem.objects.get(ledger_id=result["ledger"], key="1")
    assert item.text == "任务一（修订）" and item.due_date == date(2021, 9, 30)
    assert [a.unit_name for a in item.assignments.filter(is_active=True)] == ["县财政局"]


def test_unknown_unit_mapped_to_a_department_is_remembered_as_its_alias(ledger_world):
    w = ledger_world
    rows = [NUMBERED_HEADER, [1, "任务一", "县财政部门", None, "12月底"]]
    plan = plan_of(workbook(rows), w, decisions={"县财政部门": f"department:{w.finance.pk}"})
    apply_plan(plan, user=w.bureau, now=NOW)
    w.finance.refresh_from_db()
    assert "县财政部门" in w.finance.aliases
    assert not plan_of(workbook(rows), w).unknown  # known from now on


def test_a_unit_named_responsible_and_cooperating_is_kept_responsible(ledger_world):
    rows = [NUMBERED_HEADER, [10, "实施二级公立医院绩效考核", "县卫生健康局", "县卫生健康局", "12月底"]]
    plan = plan_of(workbook(rows), ledger_world)
    assert plan.ok and "responsible" in plan.warnings[0].message or "责任" in plan.warnings[0].message
    result = apply_plan(plan, user=ledger_world.bureau, now=NOW)
    item = TaskItem.objects.get(ledger_id=result["ledger"])
    assert list(item.assignments.values_list("role", flat=True)) == ["lead"]


# Through the pages -----------------------------------------------------------------------------

def test_upload_preview_confirm_through_the_pages(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    url = reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk})
    page = client.post(url, {"file": upload(workbook(SEED_000_LIKE, merges=SEED_000_MERGES))})
    assert page.status_code == 200
    body = page.content.decode()
    assert "各医共体管委会办公室" in body and "县医共体管委会办公室" in body
    assert Ledger.objects.filter(year=2021).count() == 0  # nothing saved before the confirmation
    token = page.context["token"]
    office = "各医共体管委会办公室"
    done = client.post(url, {"token": token, "confirm": "1", "unit_name": [office],
                             "unit_decision": ["create_other"]})
    assert done.status_code == 302
    ledger = Ledger.objects.get(year=2021)
    assert done["Location"] == reverse("tasks:ledger_detail", kwargs={"ledger_pk": ledger.pk})
    assert Department.objects.get(name="县医共体管委会办公室").kind == Department.Kind.OTHER
    # The token is spent: confirming again saves nothing more and says so (issue 16: a second click).
    again = client.post(url, {"token": token, "confirm": "1"}, follow=True)
    assert again.status_code == 200 and Ledger.objects.filter(year=2021).count() == 1
    assert "这次导入已经确认过了。" in [str(m) for m in again.context["messages"]]


def test_an_invalid_file_gets_no_confirm_button_and_saves_nothing(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    url = reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk})
    rows = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, "12月底"], [1, "任务二", "县卫生健康局", None, "12月底"]]
    page = client.post(url, {"file": upload(workbook(rows))})
    assert page.status_code == 200 and page.context["token"] is None
    assert "第5行 A列（序号）" in page.content.decode()
    assert not Ledger.objects.filter(year=2021).exists()


def test_import_is_the_bureau_s_and_foreign_counties_are_missing(ledger_world):
    w = ledger_world
    url = reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk})
    assert client_for(w.filer_hospital).get(url).status_code == 403  # sees its county's name, may not import
    assert client_for(w.supervisor).get(url).status_code == 403
    assert client_for(w.outsider).get(url).status_code == 404


def test_milestones_of_a_deadline_cell_are_stored_with_the_item_and_follow_a_changed_cell(ledger_world):
    w = ledger_world
    rows = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, "3月底前制定方案，10月底前完成验收"],
            [2, "任务二", "县卫生健康局", None, "12月底"]]
    result = apply_plan(plan_of(workbook(rows), w), user=w.bureau, now=NOW)
    first = TaskItem.objects.get(ledger_id=result["ledger"], key="1")
    assert (first.due_date, first.milestones) == (date(2021, 10, 31), ["2021-03-31"])
    assert TaskItem.objects.get(ledger_id=result["ledger"], key="2").milestones == []
    changed = [NUMBERED_HEADER, [1, "任务一", "县卫生健康局", None, "5月底前制定方案，8月底前完成试点，11月底前完成验收"],
               [2, "任务二", "县卫生健康局", None, "12月底"]]
    apply_plan(plan_of(workbook(changed), w), user=w.bureau, now=NOW)
    first.refresh_from_db()
    assert (first.due_date, first.milestones) == (date(2021, 11, 30), ["2021-05-31", "2021-08-31"])
