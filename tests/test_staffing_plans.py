"""统一招聘 and 培训 pages: recruitment plan lines created, edited and deleted by those who keep them
(bad input named per field, nothing saved), the year's lines by alliance with their totals and
completion rates, training records added and deleted by HR officers, the counts by kind and member,
both .xlsx exports, who sees and changes what, and query counts that do not grow with the rows."""

from __future__ import annotations

import re
from datetime import date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from openpyxl import load_workbook

from staffing.models import RecruitmentPlan, TrainingRecord

PLANS = "/staffing/recruitment/"
NEW_PLAN = "/staffing/recruitment/new/"
TRAININGS = "/staffing/training/"


def edit_url(plan) -> str:
    return f"/staffing/recruitment/{plan.pk}/"


def training_url(staff) -> str:
    return f"/staffing/staff/{staff.pk}/training/new/"


def delete_url(record) -> str:
    return f"/staffing/training/{record.pk}/delete/"


def plan_data(alliance, institution, **changes) -> dict:
    data = {"alliance": alliance.pk, "institution": institution.pk, "year": 2026, "post": "临床医师（全科）",
            "profession": "gp", "employment": "established", "planned": 3, "hired": 0, "status": "planned",
            "note": ""}
    data.update(changes)
    return data


def make_plan(alliance, institution, *, year=2026, planned=2, hired=0, status="planned", post="临床医师",
              profession="doctor", note=""):
    return RecruitmentPlan.objects.create(alliance=alliance, institution=institution, year=year, post=post,
                                          profession=profession, planned=planned, hired=hired, status=status,
                                          note=note)


def train(staff, kind, start, end=None, completed=False, provider="市人民医院"):
    return TrainingRecord.objects.create(staff=staff, kind=kind, start=start, end=end, completed=completed,
                                         provider=provider)


def body(response) -> str:
    return response.content.decode()


def chinese(*msgids: str) -> list[str]:
    """The official (Chinese) wording of column titles shared with other pages, each checked to be
    translated."""
    with translation.override("zh-hans"):
        words = [translation.gettext(m) for m in msgids]
    assert not any(re.search(r"[A-Za-z]", w) for w in words), words
    return words


# Recruitment plans: create, edit, delete ------------------------------------------------------------

@pytest.mark.parametrize("who, alliance, member", [("alliance_admin", "alliance_a", "centre"),
                                                   ("hr_county", "alliance_b", "tcm")])
def test_a_plan_line_is_created_edited_and_deleted(staffing_world, as_user, who, alliance, member):
    w = staffing_world
    alliance, member = getattr(w, alliance), getattr(w, member)
    client = as_user(getattr(w, who))
    form = client.get(NEW_PLAN, {"year": 2026, "alliance": alliance.pk})
    assert form.status_code == 200
    assert member.name in body(form) and "新增招聘计划" in body(form)

    created = client.post(NEW_PLAN, plan_data(alliance, member, note="面向社会公开招聘"))
    assert created.status_code == 302 and created["Location"] == f"{PLANS}?year=2026&alliance={alliance.pk}"
    plan = RecruitmentPlan.objects.get()
    assert (plan.alliance, plan.institution, plan.county, plan.planned, plan.hired, plan.status) == (
        alliance, member, w.yn, 3, 0, "planned")
    assert "已新增招聘计划" in body(client.get(created["Location"]))

    assert client.get(edit_url(plan)).status_code == 200
    edited = client.post(edit_url(plan), plan_data(alliance, member, planned=4, hired=4, status="done",
                                                   action="save"))
    assert edited.status_code == 302
    plan.refresh_from_db()
    assert (plan.planned, plan.hired, plan.status) == (4, 4, "done")

    deleted = client.post(edit_url(plan), {"action": "delete"})
    assert deleted.status_code == 302 and not RecruitmentPlan.objects.exists()


def test_the_hr_officer_of_an_alliance_plans_for_that_alliance_only(staffing_world, as_user):
    w = staffing_world
    client = as_user(w.hr_alliance)
    form = body(client.get(NEW_PLAN))
    assert "第一医共体" in form and "第三医共体" not in form and "县中医院" not in form
    refused = client.post(NEW_PLAN, plan_data(w.alliance_b, w.tcm))
    assert refused.status_code == 400 and not RecruitmentPlan.objects.exists()
    assert client.post(NEW_PLAN, plan_data(w.alliance_a, w.hospital)).status_code == 302
    other = make_plan(w.alliance_b, w.tcm)
    assert client.get(edit_url(other)).status_code == 404  # alliance B's lines are not theirs to see


@pytest.mark.parametrize("changes, message", [
    ({"planned": 0}, "计划人数至少为1人。"),
    ({"planned": 2, "hired": 3}, "录用人数不能超过计划人数。"),
    ({"institution": "tcm"}, "县中医院不是第一医共体的现任成员单位。"),
    ({"year": 1990}, "请选择2015年至"),
    ({"post": ""}, "该字段是必填项。"),
])
def test_bad_input_is_named_and_nothing_is_saved(staffing_world, as_user, changes, message):
    w = staffing_world
    if changes.get("institution") == "tcm":
        changes = {**changes, "institution": w.tcm.pk}
    # The bureau may choose both alliances and every member: the checks between fields speak.
    response = as_user(w.bureau).post(NEW_PLAN, {**plan_data(w.alliance_a, w.hospital), **changes})
    assert response.status_code == 400
    text = body(response)
    assert message in text and "未保存任何内容" in text and "is-invalid" in text
    assert not RecruitmentPlan.objects.exists()


def test_a_member_outside_the_offices_alliance_is_not_a_choice(staffing_world, as_user):
    w = staffing_world
    response = as_user(w.alliance_admin).post(NEW_PLAN, plan_data(w.alliance_a, w.tcm))
    assert response.status_code == 400
    field = str(RecruitmentPlan._meta.get_field("institution").verbose_name)
    assert f"{field}：选择一个有效的选项" in body(response) and 'id="id_institution_errors"' in body(response)
    assert not RecruitmentPlan.objects.exists()


def test_a_bad_edit_changes_nothing(staffing_world, as_user):
    w = staffing_world
    plan = make_plan(w.alliance_a, w.hospital, planned=2, hired=1)
    client = as_user(w.bureau)
    too_many = client.post(edit_url(plan), plan_data(w.alliance_a, w.hospital, planned=2, hired=5, status="done"))
    assert too_many.status_code == 400 and "录用人数不能超过计划人数。" in body(too_many)
    elsewhere = client.post(edit_url(plan), plan_data(w.alliance_a, w.centre_b, planned=2, hired=1))
    assert elsewhere.status_code == 400 and "通门镇卫生院不是第一医共体的现任成员单位。" in body(elsewhere)
    plan.refresh_from_db()
    assert (plan.institution, plan.planned, plan.hired, plan.status) == (w.hospital, 2, 1, "planned")


def test_an_old_line_keeps_its_former_member(staffing_world, as_user):
    """A member that left the alliance keeps its old lines editable (status and hired), but no new line."""
    w = staffing_world
    plan = make_plan(w.alliance_a, w.centre2, year=2025)
    w.centre2.memberships.update(valid_to=date(2025, 12, 31))
    client = as_user(w.alliance_admin)
    assert client.post(edit_url(plan), plan_data(w.alliance_a, w.centre2, year=2025, planned=2, hired=2,
                                                 status="done")).status_code == 302
    plan.refresh_from_db()
    assert (plan.hired, plan.status) == (2, "done")
    refused = client.post(NEW_PLAN, plan_data(w.alliance_a, w.centre2))
    assert refused.status_code == 400 and RecruitmentPlan.objects.count() == 1


# Recruitment plans: who sees and changes ---------------------------------------------------------

def test_who_sees_and_changes_plans(staffing_world, as_user):
    w = staffing_world
    hospital_line = make_plan(w.alliance_a, w.hospital, post="医院岗位")
    centre_line = make_plan(w.alliance_a, w.centre, post="卫生院岗位")
    tcm_line = make_plan(w.alliance_b, w.tcm, post="中医岗位")

    # The county's supervisor sees every line and changes none.
    supervisor = as_user(w.supervisor)
    text = body(supervisor.get(PLANS, {"year": 2026}))
    assert all(post in text for post in ("医院岗位", "卫生院岗位", "中医岗位"))
    assert f"/staffing/recruitment/{hospital_line.pk}/" not in text and "新增招聘计划" not in text
    assert supervisor.get(edit_url(hospital_line)).status_code == 403
    assert supervisor.post(edit_url(hospital_line), {"action": "delete"}).status_code == 403
    assert supervisor.post(edit_url(hospital_line), plan_data(w.alliance_a, w.hospital, hired=1)).status_code == 403
    assert supervisor.get(NEW_PLAN).status_code == 403
    assert supervisor.post(NEW_PLAN, plan_data(w.alliance_a, w.hospital)).status_code == 403
    assert RecruitmentPlan.objects.count() == 3

    # The hospital's HR officer sees the hospital's line only, and changes nothing.
    hr = as_user(w.hr_hospital)
    text = body(hr.get(PLANS, {"year": 2026}))
    assert "医院岗位" in text and "卫生院岗位" not in text and "中医岗位" not in text
    assert hr.post(edit_url(hospital_line), {"action": "delete"}).status_code == 403
    assert hr.get(edit_url(centre_line)).status_code == 404

    # The alliance office sees and keeps its own alliance.
    office = as_user(w.alliance_admin)
    text = body(office.get(PLANS, {"year": 2026}))
    assert "卫生院岗位" in text and "中医岗位" not in text and f"/staffing/recruitment/{centre_line.pk}/" in text
    assert office.get(edit_url(tcm_line)).status_code == 404

    # The outsider: nothing of 郁南县, 404 on every line, missing or foreign alike.
    outsider = as_user(w.outsider)
    text = body(outsider.get(PLANS, {"year": 2026}))
    for name in ("郁南县", "第一医共体", "县人民医院", "医院岗位"):
        assert name not in text
    for plan in (hospital_line, tcm_line):
        assert outsider.get(edit_url(plan)).status_code == 404
        assert outsider.post(edit_url(plan), {"action": "delete"}).status_code == 404
    assert outsider.get("/staffing/recruitment/987654321/").status_code == 404
    export = outsider.get(PLANS, {"year": 2026, "format": "xlsx"})
    cells = [c.value for row in load_workbook(BytesIO(export.content)).active.iter_rows() for c in row if c.value]
    assert not any("郁南县" in str(v) or "医院岗位" in str(v) for v in cells)
    form = body(outsider.get(NEW_PLAN))
    assert "万源市医共体" in form and "第一医共体" not in form
    assert outsider.post(NEW_PLAN, plan_data(w.alliance_a, w.hospital)).status_code == 400
    assert RecruitmentPlan.objects.count() == 3
    assert as_user(w.nobody).get(NEW_PLAN).status_code == 403


# Recruitment plans: the list, its filters and totals ---------------------------------------------

@pytest.fixture
def plan_lines(staffing_world):
    w = staffing_world
    w.lines = [
        make_plan(w.alliance_a, w.hospital, planned=5, hired=3, status="advertised", post="临床医师", note="急需"),
        make_plan(w.alliance_a, w.centre, planned=2, hired=2, status="done", post="全科医生", profession="gp"),
        make_plan(w.alliance_a, w.centre2, planned=4, hired=0, status="cancelled", post="护士", profession="nurse"),
        make_plan(w.alliance_b, w.tcm, planned=3, hired=1, status="approved", post="中医师", profession="tcm"),
        make_plan(w.alliance_a, w.hospital, year=2025, planned=6, hired=6, status="done", post="去年岗位"),
    ]
    return w


def test_the_year_by_alliance_with_totals(plan_lines, as_user):
    w = plan_lines
    response = as_user(w.bureau).get(PLANS, {"year": 2026})
    assert response.status_code == 200
    groups = response.context["groups"]
    assert [g["alliance"] for g in groups] == [w.alliance_a, w.alliance_b]
    # A: 5 + 2 planned, 3 + 2 hired (the cancelled 护士 line counts in neither): 5 / 7 = 71.4%.
    assert (groups[0]["planned"], groups[0]["hired"], str(groups[0]["rate"])) == (7, 5, "71.4")
    assert (groups[1]["planned"], groups[1]["hired"], str(groups[1]["rate"])) == (3, 1, "33.3")
    total = response.context["total"]
    assert (total["planned"], total["hired"], str(total["rate"])) == (10, 6, "60.0")
    text = body(response)
    assert "71.4%" in text and "33.3%" in text and "60.0%" in text and "去年岗位" not in text
    assert "急需" in text and "护士" in text and "text-decoration-line-through" in text
    assert "统一招聘" in text and "完成率" in text and "第一医共体小计" in text


def test_the_filters(plan_lines, as_user):
    w = plan_lines
    client = as_user(w.bureau)
    only_b = client.get(PLANS, {"year": 2026, "alliance": w.alliance_b.pk})
    assert [g["alliance"] for g in only_b.context["groups"]] == [w.alliance_b]
    assert only_b.context["total"]["planned"] == 3 and "临床医师" not in body(only_b)
    last_year = client.get(PLANS, {"year": 2025})
    assert "去年岗位" in body(last_year) and last_year.context["total"]["planned"] == 6
    # A foreign alliance in the query is ignored, not shown.
    foreign = client.get(PLANS, {"year": 2026, "alliance": w.other_alliance.pk})
    assert foreign.context["alliance"] is None and foreign.context["total"]["planned"] == 10
    empty = client.get(PLANS, {"year": 2024})
    assert "本年度暂无招聘计划" in body(empty) and empty.context["total"]["rate"] is None


def test_the_year_defaults_to_this_year_in_shanghai(staffing_world, as_user):
    w = staffing_world
    make_plan(w.alliance_a, w.hospital, year=2027, post="二〇二七年岗位")
    make_plan(w.alliance_a, w.hospital, year=2028, post="二〇二八年岗位")
    # 2027-12-31 16:30 UTC is already 2028-01-01 in Shanghai.
    with time_machine.travel(datetime(2027, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        response = as_user(w.bureau).get(PLANS)
    assert response.context["year"] == 2028
    assert "二〇二八年岗位" in body(response) and "二〇二七年岗位" not in body(response)


def test_the_plans_export(plan_lines, as_user):
    w = plan_lines
    response = as_user(w.alliance_admin).get(PLANS, {"year": 2026, "alliance": w.alliance_a.pk, "format": "xlsx"})
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"]
    assert "2026" in response["Content-Disposition"]
    ws = load_workbook(BytesIO(response.content)).active
    assert ws.title == "招聘计划"
    assert ws["A1"].value == "第一医共体2026年医共体统一招聘计划表"
    assert "A1:I1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A2"].value == "填报单位：第一医共体" and ws["E2"].value.startswith("报送日期：")
    assert [ws.cell(row=3, column=c).value for c in range(1, 10)] == chinese(
        "Item no.", "Member", "Post", "Profession", "Employment category", "Number planned", "Number hired", "Status", "Note")
    assert ws["F3"].value == "计划人数" and ws["G3"].value == "录用人数"
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=4, max_col=9)]
    assert rows[0][0] == "第一医共体"  # the alliance's heading
    lines = {r[2]: r for r in rows if isinstance(r[0], int)}
    assert set(lines) == {"临床医师", "全科医生", "护士"}
    hospital = lines["临床医师"]
    assert hospital[1] == "县人民医院" and hospital[5:7] == [5, 3] and hospital[8] == "急需"
    subtotal = next(r for r in rows if r[0] == "小计")
    assert subtotal[5:8] == [7, 5, "完成率71.4%"]
    total = next(r for r in rows if r[0] == "合计")
    assert total[5:8] == [7, 5, "完成率71.4%"]
    texts = [str(v) for r in rows for v in r if v]
    assert any(t.startswith("填报单位（盖章）") for t in texts) and any(t.startswith("审核人") for t in texts)
    assert not any("中医师" in t for t in texts)  # alliance B is filtered out

    county = as_user(w.bureau).get(PLANS, {"year": 2026, "format": "xlsx"})
    ws = load_workbook(BytesIO(county.content)).active
    assert ws["A1"].value == "郁南县2026年医共体统一招聘计划表" and ws["A2"].value == "填报单位：郁南县卫生健康局"
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=4, max_col=9)]
    assert next(r for r in rows if r[0] == "合计")[5:8] == [10, 6, "完成率60.0%"]
    assert [r[0] for r in rows if r[0] in ("第一医共体", "第三医共体")] == ["第一医共体", "第三医共体"]


# Training records ---------------------------------------------------------------------------------

def test_the_hospital_hr_officer_adds_and_deletes_training(staffing_world, as_user):
    w = staffing_world
    hr = as_user(w.hr_hospital)
    form = hr.get(training_url(w.doctor))
    assert form.status_code == 200 and "李医生" in body(form)
    added = hr.post(training_url(w.doctor), {"kind": "advanced", "provider": "中山大学附属第一医院",
                                             "start": "2026-03-01", "end": "2026-08-31", "completed": "on"})
    assert added.status_code == 302 and added["Location"] == f"/staffing/staff/{w.doctor.pk}/"
    record = TrainingRecord.objects.get()
    assert (record.staff, record.kind, record.completed, record.county) == (w.doctor, "advanced", True, w.yn)
    text = body(hr.get(TRAININGS, {"year": 2026}))
    assert "李医生" in text and "中山大学附属第一医院" in text and delete_url(record) in text

    back = f"{TRAININGS}?year=2026"
    deleted = hr.post(delete_url(record), {"next": back})
    assert deleted.status_code == 302 and deleted["Location"] == back
    assert not TrainingRecord.objects.exists()
    assert hr.get(delete_url(record)).status_code == 405  # delete is POST only


@pytest.mark.parametrize("data, message", [
    ({"start": "2026-05-01", "end": "2026-04-30"}, "结束日期不能早于开始日期。"),
    ({"start": "2026-05-01", "completed": "on"}, "已结业的培训须填写结束日期。"),
    ({"start": "2026-05-01", "kind": "holiday"}, "选择一个有效的选项"),
    ({"start": "五月"}, "输入一个有效的日期"),
])
def test_bad_training_input_is_named_and_nothing_is_saved(staffing_world, as_user, data, message):
    w = staffing_world
    response = as_user(w.hr_hospital).post(training_url(w.doctor), {"kind": "gp_conversion", **data})
    assert response.status_code == 400
    assert message in body(response) and "未保存任何内容" in body(response)
    assert not TrainingRecord.objects.exists()


def test_who_may_add_and_delete_training(staffing_world, as_user):
    w = staffing_world
    nurse_record = train(w.nurse, "gp_conversion", date(2026, 1, 10))
    doctor_record = train(w.doctor, "advanced", date(2026, 2, 1))
    data = {"kind": "other", "start": "2026-06-01"}
    # The hospital's HR officer does not see 平台镇卫生院's nurse at all: 404.
    hr = as_user(w.hr_hospital)
    assert hr.get(training_url(w.nurse)).status_code == 404
    assert hr.post(training_url(w.nurse), data).status_code == 404
    assert hr.post(delete_url(nurse_record)).status_code == 404
    # The centre's filer and the county's supervisor see the staff but may not change them: 403.
    for user, staff, record in ((w.filer, w.nurse, nurse_record), (w.supervisor, w.doctor, doctor_record)):
        client = as_user(user)
        assert client.get(training_url(staff)).status_code == 403
        assert client.post(training_url(staff), data).status_code == 403
        assert client.post(delete_url(record)).status_code == 403
        assert delete_url(record) not in body(client.get(TRAININGS, {"year": 2026}))
    # The HR officers of the alliance and of the county keep both.
    assert as_user(w.hr_alliance).post(training_url(w.nurse), data).status_code == 302
    assert as_user(w.hr_county).post(delete_url(doctor_record)).status_code == 302
    # The outsider: 404 on every 郁南县 route, nothing of 郁南县 in the list.
    outsider = as_user(w.outsider)
    assert outsider.get(training_url(w.doctor)).status_code == 404
    assert outsider.post(training_url(w.doctor), data).status_code == 404
    assert outsider.post(delete_url(nurse_record)).status_code == 404
    assert outsider.post("/staffing/training/987654321/delete/").status_code == 404
    text = body(outsider.get(TRAININGS, {"year": 2026}))
    for name in ("郁南县", "平台镇卫生院", "王护士", "李医生"):
        assert name not in text
    assert TrainingRecord.objects.filter(staff=w.nurse).count() == 2
    assert not TrainingRecord.objects.filter(pk=doctor_record.pk).exists()


@pytest.fixture
def training_records(staffing_world):
    w = staffing_world
    train(w.doctor, "advanced", date(2026, 3, 1), date(2026, 8, 31), completed=True)  # completed
    train(w.doctor, "other", date(2026, 10, 1))  # in progress
    train(w.gp, "gp_standard", date(2024, 9, 1), date(2027, 8, 31))  # in progress all 2026
    train(w.nurse, "gp_conversion", date(2025, 9, 1), date(2026, 6, 30), completed=True)  # completed in 2026
    train(w.nurse, "other", date(2025, 3, 1), date(2025, 5, 31), completed=True)  # 2025 only
    train(w.village_doctor, "gp_conversion", date(2026, 11, 1), date(2027, 4, 30), completed=True,
          provider="县卫生进修学校")  # completed, but only in 2027: in progress in 2026
    train(w.other_staff, "advanced", date(2026, 1, 1))  # 万源市
    return w


def test_the_counts_by_kind_and_member(training_records, as_user):
    w = training_records
    response = as_user(w.hr_county).get(TRAININGS, {"year": 2026})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 5
    lines = {line["member"].name: line for line in response.context["count_lines"]}
    # Kinds in order: gp_standard, gp_conversion, advanced, other; each [completed, in progress].
    assert lines["县人民医院"]["values"] == [[0, 0], [0, 0], [1, 0], [0, 1]]
    assert lines["平台镇卫生院"]["values"] == [[0, 1], [1, 0], [0, 0], [0, 0]]
    assert lines["平台镇大村卫生站"]["values"] == [[0, 0], [0, 1], [0, 0], [0, 0]]
    total = response.context["count_total"]
    assert total["values"] == [[0, 1], [1, 1], [1, 0], [0, 1]]
    assert (total["completed"], total["in_progress"]) == (2, 3)
    text = body(response)
    assert "分类统计" in text and "已结业" in text and "在培" in text and "万源员工" not in text

    next_year = as_user(w.hr_county).get(TRAININGS, {"year": 2027}).context["count_total"]
    assert next_year["values"] == [[0, 1], [1, 0], [0, 0], [0, 1]]  # the village doctor finishes in 2027
    last_year = as_user(w.hr_county).get(TRAININGS, {"year": 2025}).context["count_total"]
    assert last_year["values"] == [[0, 1], [0, 1], [0, 0], [1, 0]]


def test_the_training_filters(training_records, as_user):
    w = training_records
    client = as_user(w.hr_county)
    by_kind = client.get(TRAININGS, {"year": 2026, "kind": "gp_conversion"})
    assert {r.staff for r in by_kind.context["rows"]} == {w.nurse, w.village_doctor}
    by_member = client.get(TRAININGS, {"year": 2026, "institution": w.centre.pk})
    assert {r.staff for r in by_member.context["rows"]} == {w.nurse, w.gp}
    assert [line["member"] for line in by_member.context["count_lines"]] == [w.centre]
    foreign = client.get(TRAININGS, {"year": 2026, "institution": w.other_hospital.pk, "kind": "bogus"})
    assert foreign.context["institution"] is None and foreign.context["kind"] == ""
    assert len(foreign.context["rows"]) == 5
    # The hospital's HR officer sees the hospital's staff only.
    mine = as_user(w.hr_hospital).get(TRAININGS, {"year": 2026})
    assert {r.staff for r in mine.context["rows"]} == {w.doctor}
    assert [i.name for i in mine.context["institutions"]] == ["县人民医院"]


def test_the_trainings_export(training_records, as_user):
    w = training_records
    response = as_user(w.hr_county).get(TRAININGS, {"year": 2026, "format": "xlsx"})
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"]
    book = load_workbook(BytesIO(response.content))
    assert book.sheetnames == ["培训记录", "分类统计"]
    records = book["培训记录"]
    assert records["A1"].value == "郁南县卫生健康局2026年卫生人员培训情况表"
    assert records["A2"].value == "填报单位：郁南县卫生健康局"
    assert [records.cell(row=3, column=c).value for c in range(1, 9)] == chinese(
        "Item no.", "Full name", "Working institution", "Kind", "Where", "Start", "End", "State")
    assert records["B3"].value == "姓名"
    rows = [[c.value for c in r] for r in records.iter_rows(min_row=4, max_col=8) if isinstance(r[0].value, int)]
    assert len(rows) == 5
    village = next(r for r in rows if r[1] == "赵村医")
    assert village[2] == "平台镇大村卫生站" and village[4:] == ["县卫生进修学校", "2026-11-01", "2027-04-30", "在培"]
    doctor_done = next(r for r in rows if r[1] == "李医生" and r[5] == "2026-03-01")
    assert doctor_done[7] == "已结业"

    counts = book["分类统计"]
    assert counts["A1"].value == "郁南县卫生健康局2026年卫生人员培训情况表——分类统计"
    assert counts["A3"].value == chinese("Member")[0] and counts["B4"].value == "已结业" and counts["C4"].value == "在培"
    assert "B3:C3" in {str(r) for r in counts.merged_cells.ranges}
    table = {r[0].value: [c.value for c in r[1:11]] for r in counts.iter_rows(min_row=5) if r[0].value}
    assert table["平台镇卫生院"] == [0, 1, 1, 0, 0, 0, 0, 0, 1, 1]
    assert table["合计"] == [0, 1, 1, 1, 1, 0, 0, 1, 2, 3]

    hospital = as_user(w.hr_hospital).get(TRAININGS, {"year": 2026, "format": "xlsx"})
    sheet = load_workbook(BytesIO(hospital.content))["培训记录"]
    assert sheet["A2"].value == "填报单位：县人民医院"
    names = {r[1].value for r in sheet.iter_rows(min_row=4) if isinstance(r[0].value, int)}
    assert names == {"李医生"}


# Query counts --------------------------------------------------------------------------------------

def _queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured)


def test_the_plan_list_costs_the_same_for_2_or_12_lines(staffing_world, as_user):
    w = staffing_world
    members = [(w.alliance_a, w.hospital), (w.alliance_a, w.centre), (w.alliance_a, w.centre2),
               (w.alliance_b, w.tcm), (w.alliance_b, w.centre_b)]
    make_plan(w.alliance_a, w.hospital)
    make_plan(w.alliance_b, w.tcm)
    client = as_user(w.bureau)
    few = [_queries(client, PLANS, {"year": 2026, **fmt}) for fmt in ({}, {"format": "xlsx"})]
    for n in range(10):
        alliance, member = members[n % len(members)]
        make_plan(alliance, member, post=f"岗位{n}")
    assert RecruitmentPlan.objects.count() == 12
    many = [_queries(client, PLANS, {"year": 2026, **fmt}) for fmt in ({}, {"format": "xlsx"})]
    assert few == many


def test_the_training_list_costs_the_same_for_2_or_12_records(staffing_world, as_user):
    w = staffing_world
    people = [w.doctor, w.nurse, w.gp, w.village_doctor]
    train(w.doctor, "advanced", date(2026, 1, 5))
    train(w.nurse, "other", date(2026, 2, 5), date(2026, 3, 5), completed=True)
    client = as_user(w.hr_county)
    few = [_queries(client, TRAININGS, {"year": 2026, **fmt}) for fmt in ({}, {"format": "xlsx"})]
    for n in range(10):
        train(people[n % 4], TrainingRecord.Kind.values[n % 4], date(2026, 1 + n, 1))
    assert TrainingRecord.objects.count() == 12
    many = [_queries(client, TRAININGS, {"year": 2026, **fmt}) for fmt in ({}, {"format": "xlsx"})]
    assert few == many
