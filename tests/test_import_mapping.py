"""The import engine's column mapping (``core.imports``): the header found anywhere in the first
rows, known words and their context (责任单位 beside 牵头单位), two-row headers, repeated titles
never guessed between, the user's mapping in the preview remembered per county and register and
applied to the next file with the same headers; the ledger register on it."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import Workbook

from core.imports import columns
from core.imports.columns import FROM_SAVED, FROM_USER, UNMAPPED
from core.models import ImportMapping
from tasks.imports.reading import FIELDS, read_ledger_upload
from tasks.models import Assignment, Ledger, TaskItem
from tests.conftest import client_for
from tests.test_tasks_import import NOW, plan_of, upload


def head(*rows, start=1):
    return [(start + i, list(r)) for i, r in enumerate(rows)]


def fields_of(plan) -> dict[str, str]:
    return {c.title: c.field for c in plan.columns if c.field}


@pytest.mark.parametrize(("titles", "expected"), [
    (["序号", "工作任务", "牵头单位", "责任单位", "完成时限"], {"牵头单位": "lead", "责任单位": "coop"}),
    (["序号", "主要内容", "牵头单位", "配合单位", "完成时间"], {"牵头单位": "lead", "配合单位": "coop"}),
    (["主要内容", "责任单位", "配合单位", "时限要求"], {"责任单位": "lead", "配合单位": "coop"}),
    (["主要内容", "责任部门", "完成时限"], {"责任部门": "lead"}),
    (["主要内容", "协办单位", "牵头部门", "完成期限"], {"牵头部门": "lead", "协办单位": "coop"}),
])
def test_lead_and_cooperating_units_are_decided_by_the_other_columns(titles, expected):
    plan = columns.locate(head(titles, ["x"] * len(titles)), FIELDS)
    mapped = fields_of(plan)
    assert {t: mapped.get(t) for t in expected} == expected
    assert not plan.errors


def test_header_under_title_lines_two_row_header_and_unknown_columns():
    rows = head(["郁南县2026年医改重点任务台账"], ["填报单位：县卫生健康局", None, None, "2026年3月1日"], [None],
                ["编号", "工作事项", "责任单位", "责任单位", "完成时限", "承办科室", "备注"],  # merged, as read
                [None, None, "牵头单位", "配合单位", None, None, None],
                [1, "推进医共体建设", "县卫健局", "县财政局", "12月底", "医政股", ""])
    plan = columns.locate(rows, FIELDS)
    assert plan.header_row == 5 and plan.header_rows == 2
    assert fields_of(plan) == {"编号": "number", "责任单位 / 牵头单位": "lead", "责任单位 / 配合单位": "coop",
                               "完成时限": "deadline"}
    # 工作事项 and 承办科室 are no field's words: unmapped, never guessed; 备注 is a notes column, ignored.
    assert {c.title for c in plan.columns if c.source == UNMAPPED} == {"工作事项", "承办科室"}
    assert [c.source for c in plan.columns if c.title == "备注"] == [columns.IGNORED]
    assert [c.samples for c in plan.columns][:2] == [["1"], ["推进医共体建设"]]


def test_a_notes_column_stays_ignored_after_the_user_maps_the_others():
    # The mapping form posts every column; 备注, left on "ignore", is still a notes column the user
    # need not look at, not a column "not mapped" that keeps the panel open.
    rows = head(["完成时限", "工作举措", "主抓单位", "备注"], ["12月底", "建立财务中心", "各医共体", ""])
    given = {"完成时限": "deadline", "工作举措": "content", "主抓单位": "lead", "备注": None}
    plan = columns.locate(rows, FIELDS, given=given)
    assert [(c.field, c.source) for c in plan.columns] == [
        ("deadline", FROM_USER), ("content", FROM_USER), ("lead", FROM_USER), (None, columns.IGNORED)]
    assert not plan.errors and not plan.needs_user


def test_repeated_titles_are_not_guessed_and_an_unmapped_required_field_is_named():
    plan = columns.locate(head(["主要内容", "责任单位", "责任单位", "完成时限"], ["a", "b", "c", "d"]), FIELDS)
    assert [c.field for c in plan.columns] == ["content", None, None, "deadline"]
    assert len(plan.errors) == 1 and "标题相同的列（责任单位）" in plan.errors[0]
    # The user says which is which: that mapping is the answer.
    given = {"主要内容": "content", "责任单位": "lead", "责任单位#2": "coop", "完成时限": "deadline"}
    plan = columns.locate(head(["主要内容", "责任单位", "责任单位", "完成时限"], ["a", "b", "c", "d"]), FIELDS,
                          given=given)
    assert [(c.field, c.source) for c in plan.columns] == [
        ("content", FROM_USER), ("lead", FROM_USER), ("coop", FROM_USER), ("deadline", FROM_USER)]
    assert not plan.errors


def test_a_saved_mapping_applies_to_the_same_headers_only():
    titles = ["事项", "单位", "时间"]
    first = columns.locate(head(titles, ["a", "b", "c"]), FIELDS)
    assert [c.field for c in first.columns] == [None, None, None] and len(first.errors) == 2
    saved = {"事项": "content", "单位": "lead", "时间": "deadline"}
    again = columns.locate(head(titles, ["a", "b", "c"]), FIELDS,
                           saved_for=lambda signature: saved if signature == first.signature else None)
    assert [(c.field, c.source) for c in again.columns] == [
        ("content", FROM_SAVED), ("lead", FROM_SAVED), ("deadline", FROM_SAVED)]
    other = columns.locate(head(["事项", "单位", "时间", "备注"], ["a", "b", "c", "d"]), FIELDS,
                           saved_for=lambda signature: saved if signature == first.signature else None)
    assert other.signature != first.signature and all(c.source != FROM_SAVED for c in other.columns)


def test_parse_mapping_refuses_unknown_fields_and_a_field_twice():
    mapping, errors = columns.parse_mapping({"事项": "content", "单位": "nonsense", "时间": "content"}, FIELDS)
    assert mapping == {"事项": "content"} and len(errors) == 2


# The ledger register through the pages ------------------------------------------------------

def sheet(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(list(row))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


LEAD_AND_RESPONSIBLE = [
    ["郁南县2026年医共体建设重点任务分工表"],
    ["序号", "工作任务", "牵头单位", "责任单位", "完成时限", "备注"],
    [1, "推进医共体人财物统一管理", "县卫生健康局", "各医共体", "12月底", "重点"],
    [2, "落实财政投入政策", "县财政局", "县卫生健康局", "6月底前", ""],
]


def test_ledger_with_lead_and_responsible_columns(ledger_world):
    w = ledger_world
    table, problems = read_ledger_upload(upload(sheet(LEAD_AND_RESPONSIBLE)))
    assert table is not None, [p.text for p in problems]
    assert table.columns["lead"][1] == "牵头单位" and table.columns["coop"][1] == "责任单位"
    plan = plan_of(sheet(LEAD_AND_RESPONSIBLE), w)
    assert plan.ok, [i.text for i in plan.errors]
    from tasks.imports.applying import apply_plan

    result = apply_plan(plan, user=w.bureau, now=NOW)
    items = {i.number: i for i in TaskItem.objects.filter(ledger_id=result["ledger"])}
    first = sorted((a.role, a.unit_name) for a in Assignment.objects.filter(item=items["1"]))
    # 县卫生健康局 leads; 各医共体 (the responsible column, beside 牵头单位) fans out to both alliances as
    # cooperating units.
    assert first == sorted([("lead", "县卫生健康局"), ("cooperating", w.alliance_a.display_name),
                            ("cooperating", w.alliance_b.display_name)])
    second = sorted((a.role, a.unit_name) for a in Assignment.objects.filter(item=items["2"]))
    assert second == [("cooperating", "县卫生健康局"), ("lead", "县财政局")]


UNSEEN = [
    ["万源市卫健局 医改任务推进表"],
    ["事项名称", "承办单位", "办结时间", "备注", "编号"],
    ["推进家庭医生签约服务", "县卫生健康局", "12月底", "", "1"],
    ["完善医保支付方式改革", "县财政局", "2026年6月底前", "新增", "2"],
]


def test_unseen_layout_maps_once_and_the_next_file_needs_no_mapping(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    url = reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk})
    page = client.post(url, {"file": upload(sheet(UNSEEN), "新台账.xlsx"), "year": "2026", "title": "推进表"})
    assert page.status_code == 200
    plan = page.context["columns"]
    body = page.content.decode()
    # The required fields nobody named are errors naming them; the file's columns with first values.
    assert len(plan["errors"]) == 3  # the task text, the lead units, the deadline: each named by its words
    assert [w for w in ("主要内容", "牵头单位", "完成时限") if any(w in e for e in plan["errors"])] == [
        "主要内容", "牵头单位", "完成时限"]
    assert "推进家庭医生签约服务" in body and "事项名称" in body
    assert not Ledger.objects.filter(title="推进表").exists()
    token = page.context["remap_token"]
    by_title = {c["title"]: c["index"] for c in plan["columns"]}
    answer = {"remap": token, f"map_{by_title['事项名称']}": "content", f"map_{by_title['承办单位']}": "lead",
              f"map_{by_title['办结时间']}": "deadline", f"map_{by_title['编号']}": "number"}
    preview = client.post(url, answer)
    assert preview.status_code == 200 and preview.context["token"], preview.context.get("errors")
    assert {c["title"]: c["source"] for c in preview.context["columns"]["columns"]}["事项名称"] == FROM_USER
    assert not ImportMapping.objects.exists()  # remembered when the import is confirmed
    done = client.post(url, {"token": preview.context["token"], "confirm": "1"})
    assert done.status_code == 302
    ledger = Ledger.objects.get(title="推进表")
    assert sorted(ledger.items.values_list("number", "text")) == [("1", "推进家庭医生签约服务"),
                                                                   ("2", "完善医保支付方式改革")]
    saved = ImportMapping.objects.get(register="ledger", scope=w.yn.pk)
    assert saved.mapping["事项名称"] == "content" and saved.mapping["备注"] is None and saved.updated_by == w.bureau
    # A second file with the same headers (other rows) goes straight to the preview.
    rows = UNSEEN[:2] + [["开展县域巡回医疗", "县卫生健康局", "9月底", "", "3"]]
    second = client.post(url, {"file": upload(sheet(rows), "新台账-二.xlsx"), "year": "2026", "title": "推进表"})
    assert second.status_code == 200 and second.context["token"]
    assert {c["source"] for c in second.context["columns"]["columns"] if c["field"]} == {FROM_SAVED}
    # Another county does not get 郁南县's mapping.
    assert not ImportMapping.objects.filter(scope=w.wy.pk).exists()


def test_remap_of_another_session_or_user_is_refused(ledger_world):
    w = ledger_world
    url = reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk})
    page = client_for(w.bureau).post(url, {"file": upload(sheet(UNSEEN), "新台账.xlsx")})
    token = page.context["remap_token"]
    other = client_for(w.bureau_admin).post(url, {"remap": token, "map_0": "content"})
    assert other.status_code == 400 and not other.context.get("columns")  # another user's file: not shown
    assert client_for(w.outsider).post(url, {"remap": token}).status_code == 404


def test_a_field_mapped_twice_in_the_form_is_an_error(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    url = reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk})
    page = client.post(url, {"file": upload(sheet(UNSEEN), "新台账.xlsx")})
    token = page.context["remap_token"]
    again = client.post(url, {"remap": token, "map_0": "content", "map_1": "content"})
    assert again.status_code == 200 and again.context["mapping_errors"]
    assert "A" in again.context["mapping_errors"][0] and "B" in again.context["mapping_errors"][0]
    assert again.context.get("token") is None


# The institution register on the engine ---------------------------------------------------------

REGISTER_UNSEEN = [
    ["郁南县基层医疗卫生机构一览表"],
    ["制表单位：县卫生健康局", None, None, "2026年3月"],
    ["备注", "机构全称", "机构性质", "开放床位"],
    ["新建", "宝珠镇卫生院", "乡镇卫生院", 30],
    ["", "大湾镇卫生院", "乡镇卫生院", 20],
]


def test_institution_register_in_an_unseen_layout_maps_once(world):
    w = world
    client = client_for(w.bureau_admin)
    url = reverse("alliances:region_institutions_import", kwargs={"region_pk": w.yn.pk})
    page = client.post(url, {"file": upload(sheet(REGISTER_UNSEEN), "机构一览.xlsx")})
    assert page.status_code == 200
    plan = page.context["mapping_columns"]
    # 机构全称 and 机构性质 are no known words: the required fields are named, nothing is read.
    assert len(plan["errors"]) == 2 and any("单位名称" in e for e in plan["errors"])
    assert plan["header_row"] == 3 and [c["samples"][:1] for c in plan["columns"]][1] == ["宝珠镇卫生院"]
    index = {c["title"]: c["index"] for c in plan["columns"]}
    preview = client.post(url, {"remap": page.context["remap_token"], f"map_{index['机构全称']}": "name",
                                f"map_{index['机构性质']}": "kind", f"map_{index['开放床位']}": "beds"})
    assert preview.status_code == 200 and preview.context["token"], preview.context.get("issues")
    assert preview.context["counts"]["create"] == 2
    done = client.post(url, {"token": preview.context["token"], "confirm": "1"})
    assert done.status_code == 302
    saved = ImportMapping.objects.get(register="institutions", scope=w.yn.pk)
    assert saved.mapping["机构全称"] == "name" and saved.mapping["备注"] is None
    again = client.post(url, {"file": upload(sheet(REGISTER_UNSEEN), "机构一览-二.xlsx")})
    assert not again.context["mapping_columns"]["errors"]
    assert {c["source"] for c in again.context["mapping_columns"]["columns"] if c["field"]} == {FROM_SAVED}


def test_a_column_the_user_leaves_ignored_is_a_decision_remembered_with_the_mapping(db):
    from accounts.models import User

    titles = ["主要内容", "责任单位", "完成时限", "经办人"]
    rows = head(titles, ["a", "b", "12月底", "张三"])
    first = columns.locate(rows, FIELDS)
    assert first.needs_user and [c.source for c in first.columns][-1] == UNMAPPED
    given = {"主要内容": "content", "责任单位": "lead", "完成时限": "deadline", "经办人": None}
    decided = columns.locate(rows, FIELDS, given=given)
    assert (decided.columns[-1].field, decided.columns[-1].source) == (None, FROM_USER)
    assert not decided.needs_user
    user = User.objects.create_user(username="mapper", password="x-Long-Password-1")
    assert columns_saved(decided, user)
    again = columns.locate(rows, FIELDS, saved_for=lambda s: ImportMapping.objects.get(signature=s).mapping)
    assert (again.columns[-1].field, again.columns[-1].source) == (None, FROM_SAVED) and not again.needs_user


def columns_saved(plan, user) -> bool:
    from core.imports import mappings

    return mappings.remember(plan.to_json(), register="ledger", scope=1, user=user)
