"""历史数据导入 on the import engine: the per-period layout (one sheet a period, the institutions
down and the data elements across, as the alliance-wide filing workbook) read as the long layout
would be, refused by sheet and cell; and the API register ``history`` (option ``form``) with the
page's scoping."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from core.models import SecurityEvent
from core.periods import Period
from indicators import excel, history
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataValue, Filing, ValueAudit
from tests.conftest import client_for
from tests.test_history_import import long_rows, sheet, upload

URL = "/api/imports/"
OP_VISITS = "门急诊人次（诊疗人次）"


@pytest.fixture
def county(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn, first_period="2026-01")}
    world.monthly = world.forms["MONTHLY_OPS"]
    return world


def book(sheets: dict[str, list]) -> bytes:
    """A hand-made workbook: one sheet a name, rows as given."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def period_sheet(w, *, title=None, hospital=8000, centre=2000):
    """A sheet of one period as clerks make it: a title line, 序号 | 单位名称 | the elements by name
    (the unit in brackets) or by code."""
    rows = [[title]] if title else []
    return rows + [["序号", "单位名称", OP_VISITS, "DISCHARGES"],
                   [1, w.hospital.name, hospital, None], [2, w.centre.name, centre, "-"], ["合计", None, None, None]]


def values_of(plan) -> set:
    return {(v.institution_id, v.period, v.element_id, v.value) for v in plan.values}


def test_per_period_sheets_read_as_the_long_layout_and_load(county):
    w = county
    wide = book({"2025年1月": period_sheet(w), "Sheet2": period_sheet(w, title="郁南县卫生统计月报（2025年2月）")})
    plan = history.read_history(wide, "历史数据.xlsx", w.monthly)
    assert plan.ok and plan.layout == history.SHEETS, [i.text for i in plan.errors]
    long = history.read_history(sheet(long_rows(w, months=("2025-01", "2025-02"))), "a.xlsx", w.monthly)
    assert long.layout == history.LONG and values_of(plan) == values_of(long) and len(plan.values) == 4
    assert [(s["sheet"], s["period"]) for s in plan.sheets] == [("2025年1月", "2025-01"), ("Sheet2", "2025-02")]
    client = client_for(w.bureau_admin)
    page = upload(client, w.monthly, wide)
    assert page.context["token"] and page.context["columns"] is None  # nothing to map in this layout
    done = client.post(reverse("indicators:history_import", kwargs={"form_pk": w.monthly.pk}),
                       {"token": page.context["token"], "confirm": "1"})
    assert done.status_code == 302
    filings = Filing.objects.filter(form=w.monthly, period__in=["2025-01", "2025-02"])
    assert filings.count() == 4 and set(filings.values_list("status", flat=True)) == {Filing.Status.LOCKED}
    assert DataValue.objects.filter(filing__in=filings).count() == 4
    assert set(ValueAudit.objects.filter(filing__in=filings).values_list("source", flat=True)) == {"history"}


def test_the_alliance_wide_workbook_filled_in_loads_as_history(county):
    """The workbook the filing pages export for an alliance and a period, filled in by hand: the period
    from its title, the elements from its header (and hidden code row), the footer left out."""
    w = county
    period = Period.parse("2025-03")
    data = excel.alliance_workbook(w.monthly, w.alliance_a, period, today=period.end)
    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    codes = {ws.cell(excel.A_CODE_ROW, col).value: col for col in range(excel.A_FIRST_ELEMENT_COL, ws.max_column + 1)}
    for row in range(excel.A_FIRST_ROW, excel.A_FIRST_ROW + 3):
        ws.cell(row, codes["OP_VISITS"]).value = 1000 + row
    buffer = io.BytesIO()
    wb.save(buffer)
    plan = history.read_history(buffer.getvalue(), "第一医共体.xlsx", w.monthly)
    assert plan.ok and plan.layout == history.SHEETS, [i.text for i in plan.errors[:3]]
    assert {v.period for v in plan.values} == {"2025-03"} and len(plan.values) == 3
    assert {v.institution_id for v in plan.values} == {w.hospital.pk, w.centre.pk, w.centre2.pk}


def test_a_live_sheet_and_a_bad_cell_are_named_by_sheet_and_cell(county):
    w = county
    bad = period_sheet(w)
    bad[2][2] = "很多"  # C3: 平台镇卫生院's 门急诊人次
    wide = book({"2025年12月": period_sheet(w), "2026年1月": period_sheet(w), "2025-11": bad})
    plan = history.read_history(wide, "a.xlsx", w.monthly)
    live, cell = plan.errors
    assert live.sheet == "2026年1月" and "2026年1月" in live.text and "2026年1月" in live.message
    assert (cell.sheet, cell.cell) == ("2025-11", "2025-11!C3") and "2025-11" in cell.text and "C3" in cell.text
    assert "很多" in cell.text
    page = upload(client_for(w.bureau_admin), w.monthly, wide)
    assert page.context["token"] is None and "2025-11!C3" in page.content.decode()
    assert not Filing.objects.filter(period__startswith="2025").exists()


def api_post(client, w, data, *, form=None, name="历史数据.xlsx", **extra):
    return client.post(URL, {"register": "history", "county": w.yn.pk, "form": (form or w.monthly).pk,
                             "file": SimpleUploadedFile(name, data), **extra})


def test_api_previews_and_confirms_once_with_the_page_s_scoping(county):
    w = county
    client = client_for(w.bureau_admin)
    wide = book({"2025年1月": period_sheet(w), "2025年2月": period_sheet(w)})
    body = api_post(client, w, wide).json()
    assert body["token"] and body["layout"] == "sheets" and body["counts"]["new"] == 4, body
    assert {r["status"] for r in body["rows"]} == {"new"} and not body["errors"]
    confirm = reverse("api-import-confirm", kwargs={"token": body["token"]})
    done = client.post(confirm)
    assert done.status_code == 201 and done.json()["created"] == 4 and done.json()["filings"] == 4
    assert done.json()["url"] == reverse("indicators:history_import", kwargs={"form_pk": w.monthly.pk})
    assert client.post(confirm).json()["confirmed"] is False
    assert DataValue.objects.filter(filing__form=w.monthly, period__in=["2025-01", "2025-02"]).count() == 4
    assert SecurityEvent.objects.filter(event="import.confirm").exists()
    # The long layout with a mapping given as JSON; the preview gone stale (a filing started meanwhile).
    rows = [["单位全称", "月度", "统计指标代码", "本月数"], [w.hospital.name, "2025-03", "OP_VISITS", 100]]
    mapping = {"单位全称": "institution", "月度": "period", "统计指标代码": "element", "本月数": "value"}
    body = api_post(client, w, sheet(rows), mapping=json.dumps(mapping)).json()
    assert body["token"] and body["layout"] == "long" and body["mapping"]["本月数"]["source"] == "user", body
    filing = Filing.objects.create(form=w.monthly, county=w.yn, institution=w.hospital, period="2025-03",
                                   period_start=Period.parse("2025-03").start, period_end=Period.parse("2025-03").end,
                                   status=Filing.Status.DRAFT, due_date=Period.parse("2025-03").end)
    stale = client.post(reverse("api-import-confirm", kwargs={"token": body["token"]}))
    assert stale.status_code == 409 and not DataValue.objects.filter(filing=filing).exists()
    # Scoping: another county's form, another county, no form; a county user who may not change it.
    other = {f.code: f for f in install_forms(w.wy, first_period="2026-01")}["MONTHLY_OPS"]
    assert api_post(client, w, wide, form=other).status_code == 404
    assert api_post(client_for(w.outsider), w, wide).status_code == 404
    assert api_post(client_for(w.supervisor), w, wide).status_code == 403
    assert client.post(URL, {"register": "history", "county": w.yn.pk,
                             "file": SimpleUploadedFile("a.xlsx", wide)}).json()["errors"]
