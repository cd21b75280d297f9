"""The institution register (机构名册): xlsx export in the official layout, and the import from
.xlsx/.csv with a preview, errors by row/column/cell, and nothing saved unless all is valid."""

from __future__ import annotations

import os
import re
from datetime import date
from io import BytesIO

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from alliances import imports, services
from alliances.models import Alliance, AllianceMembership, Institution
from alliances.validators import uscc_check_character
from tests.conftest import client_for
from tests.factories import InstitutionFactory

K = Institution.Kind
LEAD, MEMBER = AllianceMembership.Role.LEAD, AllianceMembership.Role.MEMBER
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["序号", "机构名称", "简称", "机构类别", "所属卫生院", "统一社会信用代码", "床位数", "服务人口", "所属医共体", "角色",
          "加入日期", "状态"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def as_user():
    """Clients that chose English, so assertions read the msgids; the Chinese rendering of
    the messages is checked in test_errors_read_in_chinese_by_default."""

    def make(user):
        client = client_for(user)
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


def export_url(region, **params):
    url = reverse("alliances:region_institutions_xlsx", kwargs={"region_pk": region.pk})
    return url + ("?blank=1" if params.get("blank") else "")


def import_url(region):
    return reverse("alliances:region_institutions_import", kwargs={"region_pk": region.pk})


def snapshot():
    """Everything the import could write, to compare before and after."""
    return (
        list(Institution.objects.order_by("pk").values_list()),
        list(AllianceMembership.objects.order_by("pk").values_list()),
        list(Alliance.objects.order_by("pk").values_list()),
    )


def xlsx_bytes(rows, *, header=HEADER, title="郁南县医疗卫生机构名册", footer=True) -> bytes:
    """A register in the simple layout: title (row 1), 填报单位 (row 2), one header row (row 3), data from
    row 4, an empty row, the footer."""
    wb = Workbook()
    ws = wb.active
    ws.append([title])
    ws.append(["填报单位：郁南县卫生健康局"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    if footer:
        ws.append([])
        ws.append(["填报人：", None, None, "审核人："])
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def row(name, kind, parent=None, code=None, beds=None, population=None, alliance=None, role=None, joined=None,
        short=None):
    return [None, name, short, kind, parent, code, beds, population, alliance, role, joined, None]


def upload(client, region, content: bytes, name="名册.xlsx"):
    return client.post(import_url(region), {"file": SimpleUploadedFile(name, content)})


def confirm(client, region, token):
    return client.post(import_url(region), {"token": token})


def preview_rows(response) -> dict[str, imports.RowResult]:
    assert response.status_code == 200, response.status_code
    assert "alliances/import_preview.html" in [t.name for t in response.templates]
    return {r.name: r for r in response.context["result"].rows}


def only_issue(response) -> imports.Issue:
    issues = response.context["issues"] if "issues" in response.context else None
    assert issues, "expected an error"
    return issues[0]


def form_errors(response) -> list[str]:
    assert response.status_code == 200
    assert "alliances/import_upload.html" in [t.name for t in response.templates]
    return response.context["form"].errors["file"]


def valid_code(first17: str) -> str:
    return first17 + uscc_check_character(first17)


# Export -------------------------------------------------------------------------------------

def test_export_has_the_official_layout(as_user, world):
    world.centre.credit_code = valid_code("12445322MB2C90012")
    world.centre.save()
    world.centre_b.is_active = False
    world.centre_b.save()
    response = as_user(world.bureau).get(export_url(world.yn))
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert "attachment" in response["Content-Disposition"]
    ws = load_workbook(BytesIO(response.content)).active
    merged = {str(r) for r in ws.merged_cells.ranges}
    today = timezone.localdate()

    assert ws["A1"].value == "郁南县医疗卫生机构名册" and ws["A1"].font.bold and "A1:L1" in merged
    assert ws["A2"].value == "填报单位：郁南县卫生健康局"
    assert ws["G2"].value == f"导出日期：{today.year}年{today.month}月{today.day}日"
    # Header: every column spans both header rows except the membership columns under 医共体情况.
    assert [ws.cell(row=3, column=c).value for c in range(1, 9)] == HEADER[:8]
    assert ws["I3"].value == "医共体情况" and "I3:K3" in merged
    assert [ws.cell(row=4, column=c).value for c in range(9, 12)] == ["所属医共体", "角色", "加入日期"]
    assert ws["L3"].value == "状态" and {"A3:A4", "B3:B4", "L3:L4"} <= merged

    rows = {ws[f"B{r}"].value: r for r in range(5, ws.max_row + 1) if ws[f"B{r}"].value}
    assert set(rows) == {"县人民医院", "县中医院", "平台镇卫生院", "桂圩镇卫生院", "通门镇卫生院", "平台镇大村卫生站"}
    assert "市人民医院" not in rows
    hospital = rows["县人民医院"]
    assert [ws.cell(row=hospital, column=c).value for c in range(4, 11)] == [
        "县级综合医院", None, None, 500, 30000, "第一医共体", "牵头单位"]
    assert ws[f"K{hospital}"].value.date() == date(2020, 1, 1)
    assert ws[f"L{hospital}"].value == "在用"
    # A village clinic comes right after its centre, names it, and shows the centre's alliance only.
    clinic = rows["平台镇大村卫生站"]
    assert clinic == rows["平台镇卫生院"] + 1
    assert [ws.cell(row=clinic, column=c).value for c in (4, 5, 9, 10, 11)] == [
        "村卫生室", "平台镇卫生院", "第一医共体", None, None]
    assert ws[f"F{rows['平台镇卫生院']}"].value == world.centre.credit_code
    assert ws[f"F{rows['平台镇卫生院']}"].number_format == "@"
    assert ws[f"L{rows['通门镇卫生院']}"].value == "停用"
    assert ws[f"J{rows['桂圩镇卫生院']}"].value == "成员单位"
    # Footer.
    footer = max(rows.values()) + 2
    assert ws[f"A{footer}"].value == "填报人：" and ws[f"E{footer}"].value == "审核人："
    assert ws[f"I{footer}"].value.startswith("日期：")
    assert ws.print_title_rows == "$3:$4"


def test_blank_template_has_the_layout_without_data(as_user, world):
    response = as_user(world.bureau).get(export_url(world.yn, blank=True))
    ws = load_workbook(BytesIO(response.content)).active
    assert ws["A1"].value == "郁南县医疗卫生机构名册" and ws["B3"].value == "机构名称"
    assert all(ws[f"B{r}"].value is None for r in range(5, 15))
    assert any(str(ws[f"A{r}"].value).startswith("填报人") for r in range(15, ws.max_row + 1))
    # Importing the untouched template says there is nothing in it.
    response = upload(as_user(world.bureau), world.yn, response.content)
    assert "no data rows" in form_errors(response)[0]


def test_export_is_scoped_and_only_for_a_county(as_user, world):
    assert as_user(world.outsider).get(export_url(world.yn)).status_code == 404
    assert as_user(world.nobody).get(export_url(world.yn)).status_code == 404
    assert as_user(world.city).get(export_url(world.yf)).status_code == 404
    ws = load_workbook(BytesIO(as_user(world.city).get(export_url(world.yn)).content)).active
    assert "县中医院" in [ws[f"B{r}"].value for r in range(5, ws.max_row + 1)]
    # An alliance office sees its own alliance's institutions only.
    ws = load_workbook(BytesIO(as_user(world.alliance_admin).get(export_url(world.yn)).content)).active
    names = {ws[f"B{r}"].value for r in range(5, ws.max_row + 1)} - {None}
    assert "县中医院" not in names and "县人民医院" in names


def test_export_query_count_does_not_grow(as_user, world):
    c = as_user(world.bureau)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(export_url(world.yn)).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for n in range(10):
        centre = InstitutionFactory(county=world.yn, name=f"加测卫生院{n}")
        InstitutionFactory(county=world.yn, name=f"加测卫生站{n}", kind=K.VILLAGE_CLINIC, parent=centre)
    assert count() == before


def test_list_and_county_pages_link_the_register(as_user, world):
    page = as_user(world.bureau).get(reverse("alliances:institution_list")).content.decode()
    assert export_url(world.yn) in page and import_url(world.yn) in page
    page = as_user(world.bureau).get(reverse("alliances:region_detail", kwargs={"region_pk": world.yn.pk})).content.decode()
    assert import_url(world.yn) in page
    # Read-only users get the export, not the import.
    page = as_user(world.city).get(reverse("alliances:institution_list")).content.decode()
    assert export_url(world.yn) in page and import_url(world.yn) not in page
    page = as_user(world.city).get(reverse("alliances:region_detail", kwargs={"region_pk": world.yn.pk})).content.decode()
    assert import_url(world.yn) not in page
    # Several counties: the links appear once one is chosen.
    province = as_user(world.province)
    assert export_url(world.yn) in province.get(reverse("alliances:institution_list"), {"county": world.yn.pk}).content.decode()


# Import: the good path ------------------------------------------------------------------------

def test_round_trip_changes_nothing(as_user, world):
    c = as_user(world.bureau)
    world.alliance_a.short_name = "一体"
    world.alliance_a.save()
    Institution.objects.filter(pk=world.centre.pk).update(credit_code=valid_code("12445322MB2C90012"))
    Institution.objects.filter(pk=world.clinic.pk).update(short_name="大村站")
    services.institution_deactivate(institution=world.centre_b)
    before = snapshot()
    content = c.get(export_url(world.yn)).content
    response = upload(c, world.yn, content)
    rows = preview_rows(response)
    assert set(rows) == {"县人民医院", "县中医院", "平台镇卫生院", "桂圩镇卫生院", "通门镇卫生院", "平台镇大村卫生站"}
    assert {r.action for r in rows.values()} == {"unchanged"} and not response.context["issues"]
    assert response.context["token"] is None  # nothing to confirm
    assert "Nothing to import" in response.content.decode()
    assert response.context["table"].header_rows == (3, 4)
    assert min(r.row for r in rows.values()) == 5
    assert snapshot() == before


def test_new_centre_and_its_village_clinic_in_one_file(as_user, world):
    c = as_user(world.bureau)
    content = xlsx_bytes([
        row("新建村卫生室", "村卫生站", parent="河口中心卫生院", population=800),
        row("河口中心卫生院", "中心卫生院", beds=40, population=25000, alliance="第一医共体", role="成员单位",
            joined="2026-01-01", code=valid_code("12445322MB2C98760")),
    ])
    response = upload(c, world.yn, content)
    rows = preview_rows(response)
    assert rows["新建村卫生室"].action == rows["河口中心卫生院"].action == "create"
    assert rows["新建村卫生室"].row == 4 and rows["河口中心卫生院"].row == 5
    assert not response.context["issues"]
    token = response.context["token"]
    assert token and f'value="{token}"' in response.content.decode()

    response = confirm(c, world.yn, token)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("alliances:institution_list"))
    centre = Institution.objects.get(county=world.yn, name="河口中心卫生院")
    assert (centre.kind, centre.beds, centre.service_population) == (K.CENTRAL_HEALTH_CENTRE, 40, 25000)
    clinic = Institution.objects.get(county=world.yn, name="新建村卫生室")
    assert clinic.kind == K.VILLAGE_CLINIC and clinic.parent == centre and clinic.service_population == 800
    assert list(centre.memberships.values_list("alliance__name", "role", "valid_from", "valid_to")) == [
        ("第一医共体", MEMBER, date(2026, 1, 1), None)]
    assert not clinic.memberships.exists()
    # The token is used up: a second confirmation applies nothing and says so; the same file again changes nothing.
    again = confirm(c, world.yn, token)
    assert again.status_code == 302 and again["Location"].startswith(reverse("alliances:institution_list"))
    before = snapshot()
    rows = preview_rows(upload(c, world.yn, content))
    assert {r.action for r in rows.values()} == {"unchanged"}
    assert snapshot() == before


def test_update_shows_old_and_new_and_is_applied_on_confirm(as_user, world):
    c = as_user(world.bureau)
    wb = load_workbook(BytesIO(c.get(export_url(world.yn)).content))
    ws = wb.active
    line = next(r for r in range(5, ws.max_row + 1) if ws[f"B{r}"].value == "县人民医院")
    ws[f"G{line}"] = 520
    ws[f"L{line}"] = "停用"  # 状态 is not imported
    buffer = BytesIO()
    wb.save(buffer)
    before = snapshot()

    response = upload(c, world.yn, buffer.getvalue())
    rows = preview_rows(response)
    hospital = rows["县人民医院"]
    assert hospital.action == "update"
    assert [(ch.title, ch.old, ch.new) for ch in hospital.changes] == [("床位数", "500", "520")]
    assert {r.action for name, r in rows.items() if name != "县人民医院"} == {"unchanged"}
    html = response.content.decode()
    assert re.search(r"<del>500</del>\s*→\s*<ins>520</ins>", html)
    assert snapshot() == before  # the preview saves nothing

    assert confirm(c, world.yn, response.context["token"]).status_code == 302
    world.hospital.refresh_from_db()
    assert world.hospital.beds == 520 and world.hospital.is_active
    untouched = [r for r in before[0] if r[0] != world.hospital.pk]
    assert untouched == [r for r in snapshot()[0] if r[0] != world.hospital.pk]


def test_blank_optional_cells_keep_what_the_portal_has(as_user, world):
    code = valid_code("12445322MB0000001")
    world.hospital.credit_code, world.hospital.short_name = code, "县医院"
    world.hospital.save()
    c = as_user(world.bureau)
    response = upload(c, world.yn, xlsx_bytes([row("县人民医院", "县级综合医院")]))  # only name and kind
    assert preview_rows(response)["县人民医院"].action == "unchanged"
    assert response.context["token"] is None  # nothing to import
    world.hospital.refresh_from_db()
    assert (world.hospital.beds, world.hospital.credit_code, world.hospital.short_name) == (500, code, "县医院")
    created = upload(c, world.yn, xlsx_bytes([row("新建镇卫生院", "乡镇卫生院")]))
    assert confirm(c, world.yn, created.context["token"]).status_code == 302
    new = Institution.objects.get(name="新建镇卫生院")
    assert (new.beds, new.service_population, new.credit_code) == (0, 0, "")


def test_move_to_another_alliance_keeps_history(as_user, world):
    c = as_user(world.bureau)
    content = xlsx_bytes([row("桂圩镇卫生院", "乡镇卫生院", beds=50, population=30000, alliance="第三医共体",
                              joined="2026/3/1")])
    response = upload(c, world.yn, content)
    change = {ch.title: (ch.old, ch.new) for ch in preview_rows(response)["桂圩镇卫生院"].changes}
    assert change == {"所属医共体": ("第一医共体", "第三医共体"), "加入日期": ("2020-01-01", "2026-03-01")}
    assert confirm(c, world.yn, response.context["token"]).status_code == 302
    assert list(world.centre2.memberships.order_by("valid_from").values_list("alliance__name", "valid_from", "valid_to")) == [
        ("第一医共体", date(2020, 1, 1), date(2026, 2, 28)), ("第三医共体", date(2026, 3, 1), None)]


def test_new_lead_takes_over_and_the_old_lead_stays_a_member(as_user, world):
    c = as_user(world.bureau)
    content = xlsx_bytes([
        row("县人民医院", "县级综合医院", beds=500, population=30000, alliance="第一医共体", role="成员单位",
            joined=date(2026, 1, 1)),
        row("县妇幼保健院", "妇幼保健院", beds=80, alliance="第一医共体", role="牵头单位", joined=date(2026, 1, 1)),
    ])
    response = upload(c, world.yn, content)
    assert not response.context["issues"]
    assert confirm(c, world.yn, response.context["token"]).status_code == 302
    mch = Institution.objects.get(name="县妇幼保健院")
    assert list(world.alliance_a.memberships.filter(role=LEAD).order_by("valid_from")
                .values_list("institution__name", "valid_from", "valid_to")) == [
        ("县人民医院", date(2020, 1, 1), date(2025, 12, 31)), (mch.name, date(2026, 1, 1), None)]
    assert world.hospital.memberships.on(date(2026, 1, 2)).get().role == MEMBER


def test_failure_at_apply_time_saves_nothing(as_user, world):
    """Moving the lead away leaves 第三医共体 with a member and no lead: the service refuses, and the other
    row's change (written before it in the same import) is rolled back too."""
    c = as_user(world.bureau)
    content = xlsx_bytes([
        row("县人民医院", "县级综合医院", beds=999),
        row("县中医院", "中医医院", beds=300, alliance="第一医共体", role="成员单位", joined="2026-01-01"),
    ])
    response = upload(c, world.yn, content)
    assert not response.context["issues"] and response.context["token"]
    before = snapshot()
    response = confirm(c, world.yn, response.context["token"])
    assert response.status_code == 200
    failures = response.context["apply_issues"]
    assert failures and failures[0].row == 5 and "第三医共体" in failures[0].text
    assert "nothing was saved" in response.content.decode()
    assert snapshot() == before


def test_accepts_excel_numbers_dates_and_synonyms(as_user, world):
    c = as_user(world.bureau)
    content = xlsx_bytes([
        row("甲镇卫生院", "镇卫生院", beds=12.0, population="1,200", alliance="第一医共体", joined="2026年1月1日"),
        row("乙卫生站", "村卫生站", parent="甲镇卫生院", beds="0"),
        row("丙镇卫生院", "乡镇卫生院", alliance="第三医共体", role="成员单位", joined=date(2026, 2, 1)),
        row("丁卫生院", "township_hc", alliance="第三医共体", joined="2026/2/1"),
    ])
    response = upload(c, world.yn, content)
    rows = preview_rows(response)
    assert not response.context["issues"]
    assert rows["甲镇卫生院"].data["beds"] == 12 and rows["甲镇卫生院"].data["service_population"] == 1200
    assert rows["甲镇卫生院"].membership["on"] == date(2026, 1, 1)
    assert rows["丁卫生院"].membership["on"] == date(2026, 2, 1)
    assert {r.data["kind"] for r in rows.values()} == {K.TOWNSHIP_HEALTH_CENTRE, K.VILLAGE_CLINIC}


def test_header_is_found_in_the_first_fifteen_rows_only(as_user, world):
    """(Six rows until issue 17: the import engine looks at the first 15 rows of every register.)"""
    c = as_user(world.bureau)

    def sheet(blank_rows):
        wb = Workbook()
        ws = wb.active
        for _ in range(blank_rows):
            ws.append(["说明文字"])
        ws.append(HEADER)
        ws.append(row("戊镇卫生院", "乡镇卫生院"))
        ws.append([])  # empty rows are skipped, the data goes on below them
        ws.append(row("己镇卫生院", "乡镇卫生院"))
        ws.append([])
        ws.append(["审核人：张三"])
        ws.append(row("页脚之后", "乡镇卫生院"))
        buffer = BytesIO()
        wb.save(buffer)
        return buffer.getvalue()

    rows = preview_rows(upload(c, world.yn, sheet(14)))
    assert set(rows) == {"戊镇卫生院", "己镇卫生院"}  # stops at the footer
    assert rows["己镇卫生院"].row == 18
    assert "No header row" in form_errors(upload(c, world.yn, sheet(15)))[0]


@pytest.mark.parametrize("encoding,bom", [("utf-8", True), ("utf-8", False), ("gb18030", False)])
def test_csv_in_utf8_and_gb18030(as_user, world, encoding, bom):
    c = as_user(world.bureau)
    text = ("郁南县医疗卫生机构名册\r\n"
            "机构名称,机构类别,所属卫生院,床位数,服务人口,所属医共体,加入日期\r\n"
            "建城镇卫生院,乡镇卫生院,,30,\"12,000\",第三医共体,2026/1/1\r\n"
            "建城镇龙岗村卫生站,村卫生站,建城镇卫生院,0,900,,\r\n"
            "\r\n填报人：李四,,,,,,\r\n")
    content = (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
    response = upload(c, world.yn, content, name="名册.csv")
    rows = preview_rows(response)
    assert set(rows) == {"建城镇卫生院", "建城镇龙岗村卫生站"}
    assert rows["建城镇卫生院"].row == 3 and rows["建城镇卫生院"].data["service_population"] == 12000
    assert confirm(c, world.yn, response.context["token"]).status_code == 302
    centre = Institution.objects.get(county=world.yn, name="建城镇卫生院")
    assert Institution.objects.get(name="建城镇龙岗村卫生站").parent == centre
    assert centre.memberships.get().alliance == world.alliance_b


# Import: bad input ----------------------------------------------------------------------------

CODE_17 = "12445322MB2C98760"
WRONG_CODE = CODE_17 + ("1" if uscc_check_character(CODE_17) != "1" else "2")


def _bad(**cells):
    values = {"name": "新建镇卫生院", "kind": "乡镇卫生院"}
    values.update(cells)
    return row(values.pop("name"), values.pop("kind"), **values)


BAD_ROWS = {
    "bad kind": ([_bad(kind="卫生所")], "D4", "机构类别", "卫生所"),
    "a hospital name is not a kind": ([_bad(kind="县人民医院")], "D4", "机构类别", "县人民医院"),
    "text in beds": ([_bad(beds="很多")], "G4", "床位数", "很多"),
    "half a bed": ([_bad(beds=12.5)], "G4", "床位数", "12.5"),
    "negative population": ([_bad(population=-5)], "H4", "服务人口", "-5"),
    "credit code check character": ([_bad(code=WRONG_CODE)], "F4", "统一社会信用代码", WRONG_CODE),
    "unknown parent": ([_bad(kind="村卫生室", parent="不存在镇卫生院")], "E4", "所属卫生院", "不存在镇卫生院"),
    "parent of another county": ([_bad(kind="村卫生室", parent="白沙镇分院")], "E4", "所属卫生院", "白沙镇分院"),
    "parent is no health centre": ([_bad(kind="村卫生室", parent="县中医院")], "E4", "所属卫生院", "县中医院"),
    "village clinic without parent": ([_bad(kind="村卫生室")], "E4", "所属卫生院", ""),
    "unknown alliance": ([_bad(alliance="第九医共体", joined="2026-01-01")], "I4", "所属医共体", "第九医共体"),
    "alliance of another county": ([_bad(alliance="万源市医共体", joined="2026-01-01")], "I4", "所属医共体", "万源市医共体"),
    "bad date": ([_bad(alliance="第一医共体", joined="2026-13-01")], "K4", "加入日期", "2026-13-01"),
    "missing date for a move": ([_bad(alliance="第一医共体")], "K4", "加入日期", "新建镇卫生院"),
    "bad role": ([_bad(alliance="第一医共体", role="主任", joined="2026-01-01")], "J4", "角色", "主任"),
    "a centre cannot lead": ([_bad(alliance="第一医共体", role="牵头单位", joined="2026-01-01")], "J4", "角色", ""),
    "duplicate name": ([_bad(), _bad()], "B5", "机构名称", "row 4"),
    "missing name": ([_bad(name=None, beds=3)], "B4", "机构名称", ""),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_rows_name_the_cell_and_save_nothing(as_user, world, case):
    rows, cell, title, quoted = BAD_ROWS[case]
    c = as_user(world.bureau)
    before = snapshot()
    response = upload(c, world.yn, xlsx_bytes(rows))
    assert response.status_code == 200
    issue = only_issue(response)
    assert (issue.cell, issue.title) == (cell, title), issue.text
    assert issue.row == int(cell[1:]) and issue.column == cell[0]
    assert quoted in issue.message
    # Chinese interface: the location reads 第N行 X列（title）once translated; the message names them either way.
    assert str(issue.row) in issue.text and title in issue.text and cell[0] in issue.text
    html = response.content.decode()
    assert cell in html and title in html
    assert response.context["token"] is None and 'name="token"' not in html
    assert snapshot() == before


def test_kind_change_breaking_the_rules_is_refused(as_user, world):
    c = as_user(world.bureau)
    response = upload(c, world.yn, xlsx_bytes([row("平台镇卫生院", "其他", beds=50, population=30000)]))
    issue = only_issue(response)
    assert issue.cell == "D4" and "village clinics" in issue.message


def test_clinic_named_in_another_alliance_than_its_centre_is_refused(as_user, world):
    c = as_user(world.bureau)
    response = upload(c, world.yn, xlsx_bytes([row("平台镇大村卫生站", "村卫生室", parent="平台镇卫生院",
                                                    alliance="第三医共体")]))
    assert only_issue(response).cell == "I4"


def test_credit_code_of_another_institution_is_refused(as_user, world):
    code = valid_code("12511781MB0C12345")
    world.other_centre.credit_code = code
    world.other_centre.save()
    c = as_user(world.bureau)
    response = upload(c, world.yn, xlsx_bytes([_bad(code=code.lower())]))
    issue = only_issue(response)
    assert issue.cell == "F4" and "白沙镇分院" not in issue.text  # nothing of the other county is shown


def test_missing_required_column(as_user, world):
    header = [h for h in HEADER if h != "机构类别"]
    before = snapshot()
    errors = form_errors(upload(as_user(world.bureau), world.yn, xlsx_bytes([["", "新建镇卫生院"]], header=header)))
    assert "机构类别" in errors[0] and "3" in errors[0]
    assert snapshot() == before


@pytest.mark.parametrize("name,content,expected", [
    ("名册.csv", b"", "empty"),
    ("名册.xlsx", b"   \n", "empty"),
    ("名册.xlsx", os.urandom(4096) + b"\x00", "not an Excel workbook"),
    ("名册.csv", b"\x00\x01\x02binary" * 100, "not a text CSV"),
    ("名册.xls", b"whatever", "neither"),
    ("名册.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, ".xls"),
])
def test_files_that_are_not_registers(as_user, world, name, content, expected):
    before = snapshot()
    errors = form_errors(upload(as_user(world.bureau), world.yn, content, name=name))
    assert expected in errors[0] and name in errors[0]
    assert snapshot() == before


def test_xlsx_renamed_csv_is_refused(as_user, world):
    c = as_user(world.bureau)
    content = c.get(export_url(world.yn)).content
    errors = form_errors(upload(c, world.yn, content, name="名册.csv"))
    assert "named .csv but is an Excel workbook" in errors[0]


def test_file_too_large(as_user, world):
    content = ("机构名称,机构类别\r\n" + "某镇卫生院,乡镇卫生院\r\n" * 300_000).encode()
    assert len(content) > imports.MAX_UPLOAD_BYTES
    before = snapshot()
    errors = form_errors(upload(as_user(world.bureau), world.yn, content, name="名册.csv"))
    assert "limit is 5 MB" in errors[0]
    assert snapshot() == before


def test_no_upload_at_all_is_a_form_error(as_user, world):
    response = as_user(world.bureau).post(import_url(world.yn), {})
    assert response.status_code == 200 and response.context["form"].errors["file"]


# Who may import, and the confirmation token -----------------------------------------------------

def test_outsider_gets_404_and_read_only_users_403(as_user, world):
    for user in (world.outsider, world.nobody):
        c = as_user(user)
        assert c.get(import_url(world.yn)).status_code == 404
        assert c.post(import_url(world.yn), {}).status_code == 404
        assert c.get(export_url(world.yn)).status_code == 404
    for user in (world.city, world.supervisor, world.alliance_admin, world.filer):
        c = as_user(user)
        assert c.get(import_url(world.yn)).status_code == 403, user.username
        before = snapshot()
        response = upload(c, world.yn, xlsx_bytes([_bad()]))
        assert response.status_code == 403 and snapshot() == before
    assert as_user(world.city).get(import_url(world.yf)).status_code == 404  # not a county
    assert as_user(world.bureau).get(import_url(world.yn)).status_code == 200
    assert as_user(world.bureau_admin).get(import_url(world.yn)).status_code == 200


def test_confirm_token_of_another_user_or_session_is_refused(as_user, world):
    c = as_user(world.bureau)
    response = upload(c, world.yn, xlsx_bytes([_bad(beds=7)]))
    token = response.context["token"]
    before = snapshot()
    for other in (as_user(world.bureau_admin), as_user(world.bureau)):  # another user; another session
        response = confirm(other, world.yn, token)
        assert response.status_code == 400
        assert "no longer valid" in response.content.decode()
    assert confirm(c, world.yn, "../../settings").status_code == 400
    assert confirm(c, world.yn, "").status_code == 400
    assert snapshot() == before
    # The token is bound to its county too.
    assert confirm(c, world.wy, token).status_code == 404
    # Its owner can still confirm.
    assert confirm(c, world.yn, token).status_code == 302
    assert Institution.objects.get(name="新建镇卫生院").beds == 7


def test_cancel_discards_the_upload(as_user, world):
    c = as_user(world.bureau)
    token = upload(c, world.yn, xlsx_bytes([_bad()])).context["token"]
    response = c.post(import_url(world.yn), {"token": token, "cancel": "1"})
    assert response.status_code == 302
    assert confirm(c, world.yn, token).status_code == 400
    assert not Institution.objects.filter(name="新建镇卫生院").exists()


def test_confirm_after_the_data_changed_shows_the_preview_again(as_user, world):
    c = as_user(world.bureau)
    response = upload(c, world.yn, xlsx_bytes([row("县人民医院", "县级综合医院", beds=520, population=30000)]))
    token = response.context["token"]
    Institution.objects.filter(pk=world.hospital.pk).update(beds=510)  # someone else edits meanwhile
    response = confirm(c, world.yn, token)
    assert response.status_code == 200 and response.context["notice"]
    assert [(ch.old, ch.new) for ch in preview_rows(response)["县人民医院"].changes] == [("510", "520")]
    world.hospital.refresh_from_db()
    assert world.hospital.beds == 510
    assert confirm(c, world.yn, token).status_code == 302
    world.hospital.refresh_from_db()
    assert world.hospital.beds == 520


def test_preview_query_count_does_not_grow_with_rows(as_user, world):
    c = as_user(world.bureau)

    def count(n):
        rows = [row(f"加测{n}镇卫生院{i}", "乡镇卫生院", beds=i, alliance="第一医共体", joined="2026-01-01")
                for i in range(n)]
        rows += [row(f"加测{n}村卫生站{i}", "村卫生站", parent=f"加测{n}镇卫生院{i}") for i in range(n)]
        rows += [row(name, kind) for name, kind in (("县人民医院", "县级综合医院"), ("平台镇卫生院", "乡镇卫生院"))]
        content = xlsx_bytes(rows)
        with CaptureQueriesContext(connection) as ctx:
            response = upload(c, world.yn, content)
        assert response.status_code == 200 and not response.context["issues"]
        return len(ctx.captured_queries)

    assert count(10) == count(40)


def test_preview_in_english_keeps_the_official_titles(as_user, world):
    c = as_user(world.bureau)
    c.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = upload(c, world.yn, xlsx_bytes([_bad(kind="卫生所")]))
    issue = only_issue(response)
    assert issue.text.startswith("Row 4, column D (机构类别): ")


@pytest.mark.django_db(transaction=True)
def test_import_commits_and_the_database_accepts_it(as_user, world):
    """With real commits: the database checks the lead-coverage rule only at commit on PostgreSQL."""
    c = as_user(world.bureau)
    content = xlsx_bytes([
        row("县人民医院", "县级综合医院", beds=500, population=30000, alliance="第一医共体", role="成员单位",
            joined="2026-01-01"),
        row("县妇幼保健院", "妇幼保健院", alliance="第一医共体", role="牵头单位", joined="2026-01-01"),
        row("桂圩镇卫生院", "乡镇卫生院", beds=50, population=30000, alliance="第三医共体", joined="2026-01-01"),
    ])
    response = upload(c, world.yn, content)
    assert confirm(c, world.yn, response.context["token"]).status_code == 302
    assert world.alliance_a.memberships.on(date(2026, 1, 1)).get(role=LEAD).institution.name == "县妇幼保健院"
    assert world.centre2.memberships.on(date(2026, 1, 1)).get().alliance == world.alliance_b
    # A refused import leaves the committed state as it was.
    before = snapshot()
    content = xlsx_bytes([row("县中医院", "中医医院", beds=1, alliance="第一医共体", joined="2026-06-01")])
    response = upload(c, world.yn, content)
    assert confirm(c, world.yn, response.context["token"]).context["apply_issues"]
    assert snapshot() == before


def test_errors_read_in_chinese_by_default(world):
    chinese = client_for(world.bureau)  # no language cookie: the portal's default, Chinese
    before = snapshot()
    response = upload(chinese, world.yn, xlsx_bytes([_bad(kind="卫生所"), _bad(name="新建镇卫生院二", beds="很多")]))
    html = response.content.decode()
    assert "第4行 D列（机构类别）：“卫生所”不是有效的机构类别" in html
    assert "第5行 G列（床位数）：“很多”不是数字" in html
    assert "导入预览" in html
    assert snapshot() == before
