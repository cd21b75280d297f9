"""The county structure export: official layout, scoped content, constant query count."""

from __future__ import annotations

from datetime import date
from io import BytesIO

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from alliances.models import AllianceMembership, Institution
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory

K = Institution.Kind
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_url(region):
    return reverse("alliances:region_structure_xlsx", kwargs={"region_pk": region.pk})


def load(response):
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    return load_workbook(BytesIO(response.content)).active


def merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def column(ws, letter: str, first: int = 5) -> list:
    return [ws[f"{letter}{row}"].value for row in range(first, ws.max_row + 1)]


def test_export_has_the_official_layout(as_user, world):
    response = as_user(world.bureau).get(export_url(world.yn))
    assert "attachment" in response["Content-Disposition"]
    assert "filename*=utf-8''" in response["Content-Disposition"]  # Chinese file name, RFC 5987
    ws = load(response)

    # Title merged across the table, reporting unit and date.
    assert ws["A1"].value == "郁南县紧密型县域医共体组成情况表"
    assert ws["A1"].font.bold
    assert "A1:H1" in merged(ws)
    assert ws["A2"].value == "填报单位：郁南县卫生健康局"
    today = timezone.localdate()
    assert ws["E2"].value == f"统计日期：{today.year}年{today.month}月{today.day}日"

    # Two header rows; 序号/医共体/牵头单位 span both, the member columns sit under one merged cell.
    assert [ws.cell(row=3, column=c).value for c in range(1, 5)] == ["序号", "医共体", "牵头单位", "成员单位情况"]
    assert [ws.cell(row=4, column=c).value for c in range(4, 9)] == ["成员单位", "机构类别", "床位数", "服务人口",
                                                                     "村卫生室数"]
    assert {"A3:A4", "B3:B4", "C3:C4", "D3:H3"} <= merged(ws)

    # Data: one row per member, alliance cells merged over its rows.
    members = column(ws, "D")
    for name in ("县人民医院", "平台镇卫生院", "桂圩镇卫生院", "县中医院", "通门镇卫生院"):
        assert name in members
    assert "市人民医院" not in members and "白沙镇分院" not in members
    assert "平台镇大村卫生站" not in members  # village clinics are counted, not listed
    assert ws["B5"].value == "第一医共体" and ws["C5"].value == "县人民医院"
    assert ws["B8"].value == "第三医共体" and ws["C8"].value == "县中医院"
    assert {"A5:A7", "B5:B7", "C5:C7", "A8:A9", "B8:B9", "C8:C9"} <= merged(ws)
    row_of = {ws[f"D{r}"].value: r for r in range(5, ws.max_row + 1)}
    assert ws[f"H{row_of['平台镇卫生院']}"].value == 1
    assert ws[f"F{row_of['县人民医院']}"].value == 500
    assert "牵头单位" in ws[f"E{row_of['县人民医院']}"].value

    # Totals, then the footer.
    totals = next(r for r in range(5, ws.max_row + 1) if ws[f"A{r}"].value == "合计")
    assert f"A{totals}:C{totals}" in merged(ws)
    assert ws[f"F{totals}"].value == 500 + 300 + 3 * 50
    assert ws[f"H{totals}"].value == 1
    footer = [ws.cell(row=totals + 2, column=c).value for c in (1, 4, 6)]
    assert footer[0] == "填报人：" and footer[1] == "审核人："
    assert footer[2].startswith("日期：")
    assert ws.print_title_rows == "$3:$4"


def test_export_lists_institutions_in_no_alliance(as_user, world):
    InstitutionFactory(county=world.yn, name="县疾病预防控制中心", kind=K.CDC, beds=0)
    ws = load(as_user(world.bureau).get(export_url(world.yn)))
    groups = column(ws, "B")
    assert "（未加入医共体）" in groups
    assert "县疾病预防控制中心" in column(ws, "D")


def test_export_uses_membership_in_force_today(as_user, world):
    c = as_user(world.bureau)
    c.post(reverse("alliances:institution_move", kwargs={"institution_pk": world.centre2.pk}),
           {"target": world.alliance_b.pk, "on": "2025-03-01", "role": AllianceMembership.Role.MEMBER})
    ws = load(c.get(export_url(world.yn)))
    row_of = {ws[f"D{r}"].value: r for r in range(5, ws.max_row + 1)}
    # 桂圩镇卫生院 is now listed in the rows of 第三医共体 (merged B cell starts at the alliance's first row).
    b_range = next(r for r in ws.merged_cells.ranges if r.min_col == 2 and r.min_row <= row_of["桂圩镇卫生院"] <= r.max_row)
    assert ws.cell(row=b_range.min_row, column=2).value == "第三医共体"


def test_export_is_scoped(as_user, world):
    assert as_user(world.outsider).get(export_url(world.yn)).status_code == 404
    assert as_user(world.nobody).get(export_url(world.yn)).status_code == 404
    # City users read the county (read-only), not the city itself (it has no structure of its own).
    ws = load(as_user(world.city).get(export_url(world.yn)))
    assert "第一医共体" in column(ws, "B")
    assert as_user(world.city).get(export_url(world.yf)).status_code == 404
    # An alliance office sees its own alliance only, and no county-wide list of unaffiliated institutions.
    ws = load(as_user(world.alliance_admin).get(export_url(world.yn)))
    groups = {v for v in column(ws, "B") if v}
    assert groups == {"第一医共体"}
    # The institution filer sees no alliance (the alliance page is closed to it): an empty table, nothing leaked.
    ws = load(as_user(world.filer).get(export_url(world.yn)))
    assert "第三医共体" not in column(ws, "B") and "县中医院" not in column(ws, "D")


def test_export_query_count_does_not_grow(as_user, world):
    c = as_user(world.bureau)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = c.get(export_url(world.yn))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for a in range(3):
        lead = InstitutionFactory(county=world.yn, name=f"加测医院{a}", kind=K.COUNTY_GENERAL_HOSPITAL)
        alliance = AllianceFactory(county=world.yn, name=f"加测医共体{a}")
        MembershipFactory(institution=lead, alliance=alliance, role=AllianceMembership.Role.LEAD,
                          valid_from=date(2020, 1, 1))
        for m in range(5):
            centre = InstitutionFactory(county=world.yn, name=f"加测卫生院{a}-{m}")
            MembershipFactory(institution=centre, alliance=alliance, valid_from=date(2020, 1, 1))
            InstitutionFactory(county=world.yn, name=f"加测卫生站{a}-{m}", kind=K.VILLAGE_CLINIC, parent=centre)
    assert count() == before


def test_export_stays_in_chinese_for_an_english_interface(as_user, world):
    c = as_user(world.bureau)
    c.post(reverse("set_language"), {"language": "en", "next": "/"})
    ws = load(c.get(export_url(world.yn)))
    assert ws["A1"].value == "郁南县紧密型县域医共体组成情况表"
    assert ws["A3"].value == "序号"
