"""The filing Excel uploads on the import engine: a clerk's own sheet (数据项 | 编码 | 数值 | 说明 in
any order under title lines) into one filing, the alliance's own 机构 × elements sheet; a column no
word names is mapped once on the preview and the mapping is remembered; the import API's
``filing`` and ``alliance_filing`` registers (preview, confirm once, scoping)."""

from __future__ import annotations

import io
import json

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from core.imports.columns import FROM_SAVED, FROM_USER, FROM_WORDS
from core.models import ImportMapping, SecurityEvent
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataElement, DataValue, Filing, ValueAudit
from indicators.services import filings as svc
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.test_indicators_excel import CENTRE_VALUES, NOW, OCTOBER, either, stored, upload_url

API = "/api/imports/"


@pytest.fixture(autouse=True)
def _november():
    """The October 2026 filings are open."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def w(world):
    install_catalog()
    world.monthly = {form.code: form for form in install_forms(world.yn)}["MONTHLY_OPS"]
    world.filing = svc.open_filing(world.monthly, world.centre, OCTOBER, user=world.filer)
    return world
OWN_HEADER = ["编码", "数据项名称", "备注", "本月上报"]  # 本月上报: a title no synonym knows


def book(rows: list[list]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def own_filing_sheet(values: dict, header=OWN_HEADER) -> bytes:
    names = dict(DataElement.objects.filter(code__in=list(values)).values_list("code", "name"))
    rows = [["平台镇卫生院运行监测月报"], ["填报单位：平台镇卫生院", None, "2026年10月"], header]
    for code, value in values.items():
        rows.append([code, names[code], "核对过", value])
    return book(rows)


def test_a_clerks_own_sheet_is_mapped_once_then_imported_and_the_mapping_remembered(w):
    client = client_for(w.filer)
    url = upload_url(w.filing)
    first = client.post(url, {"file": SimpleUploadedFile("自制.xlsx", own_filing_sheet(CENTRE_VALUES))})
    assert first.status_code == 200 and first.context["token"] is None
    columns = {c["title"]: c for c in first.context["columns"]["columns"]}
    assert columns["本月上报"]["field"] is None and columns["编码"]["field"] == "code"
    assert columns["备注"]["source"] == "ignored" and first.context["mapping_open"]
    assert any(either(i.text, "数值", "Value") for i in first.context["errors"])  # the unmapped required field
    assert not DataValue.objects.exists()

    mapping = {"remap": first.context["remap_token"], "map_0": "code", "map_1": "name", "map_2": "", "map_3": "value"}
    mapped = client.post(url, mapping)
    assert mapped.status_code == 200 and mapped.context["plan"].ok and mapped.context["token"]
    assert mapped.context["plan"].counts["new"] == 21
    done = client.post(url, {"token": mapped.context["token"], "confirm": "1"})
    assert done.status_code == 302 and stored(w.filing)["OP_VISITS"] == 8000 and len(stored(w.filing)) == 21
    assert set(ValueAudit.objects.values_list("source", flat=True)) == {"import"}
    assert ImportMapping.objects.get(register="filing", scope=w.yn.pk).mapping["本月上报"] == "value"

    second = client.post(url, {"file": SimpleUploadedFile("自制.xlsx", own_filing_sheet({**CENTRE_VALUES,
                                                                                       "OP_VISITS": 9000}))})
    columns = {c["title"]: c for c in second.context["columns"]["columns"]}
    assert columns["本月上报"]["source"] == FROM_SAVED and second.context["token"]
    assert second.context["plan"].counts["changed"] == 1


def test_a_sheet_by_element_names_and_an_unknown_name_is_an_error(w):
    client = client_for(w.filer)
    names = dict(DataElement.objects.values_list("code", "name"))
    # Codes on the first row only: the others are found by their names.
    rows = [["月报"], ["单位：平台镇卫生院"], ["数据项", "编码", "说明", "数值"], ["一、医疗服务", None, None, None]]
    rows += [[names[code], code if n == 0 else None, "", value] for n, (code, value) in enumerate(CENTRE_VALUES.items())]
    response = client.post(upload_url(w.filing), {"file": SimpleUploadedFile("a.xlsx", book(rows))})
    assert response.context["plan"].ok and response.context["token"], response.context["errors"]
    rows[5][0] = "不存在的数据项"
    refused = client.post(upload_url(w.filing), {"file": SimpleUploadedFile("a.xlsx", book(rows))})
    assert any("不存在的数据项" in i.text and i.cell == "A6" for i in refused.context["errors"])
    assert refused.context["token"] is None and not DataValue.objects.exists()


def own_alliance_sheet() -> bytes:
    return book([
        ["第一医共体运行监测月报（2026年10月）"], ["填报单位：第一医共体"],
        ["序号", "单位", "出院人数", "门急诊人次（诊疗人次）", "全科医师人数", "备注"],
        [1, "县人民医院", 1500, 80000, 60, ""],
        [2, "平台镇卫生院", 150, 8000, 6, "无"],
        ["合计", None, None, None, None, None],
    ])


def alliance_api(client, county, content: bytes, **extra):
    return client.post(API, {"register": "alliance_filing", "county": county.pk, "alliance": extra.pop(
        "alliance", None), "form": "MONTHLY_OPS", "period": "2026-10",
        "file": SimpleUploadedFile("汇总.xlsx", content), **extra})


def test_the_alliances_own_sheet_on_the_page_then_the_api(w):
    client = client_for(w.bureau)
    page = reverse("indicators:excel_alliance_upload", kwargs={"form_pk": w.monthly.pk,
                                                              "alliance_pk": w.alliance_a.pk}) + "?period=2026-10"
    first = client.post(page, {"file": SimpleUploadedFile("汇总.xlsx", own_alliance_sheet())})
    assert first.status_code == 200
    columns = {c["title"]: c for c in first.context["columns"]["columns"]}
    assert columns["全科医师人数"]["field"] is None and columns["出院人数"]["field"] == "DISCHARGES"
    assert columns["单位"]["field"] == "institution" and first.context["mapping_open"]
    mapped = client.post(page, {"remap": first.context["remap_token"], "map_1": "institution", "map_2": "DISCHARGES",
                                "map_3": "OP_VISITS", "map_4": "GPS"})
    plan = mapped.context["plan"]
    assert plan.ok and mapped.context["token"] and plan.counts["filings"] == 2 and plan.counts["new"] == 6
    assert client.post(page, {"token": mapped.context["token"], "confirm": "1"}).status_code == 302
    assert stored(w.filing) == {"DISCHARGES": 150, "OP_VISITS": 8000, "GPS": 6}
    assert stored(Filing.objects.get(institution=w.hospital))["GPS"] == 60

    # The API: the saved mapping applies; preview, confirm once.
    answer = alliance_api(client, w.yn, own_alliance_sheet(), alliance=w.alliance_a.pk)
    body = answer.json()
    assert answer.status_code == 200 and body["mapping"]["全科医师人数"]["source"] == FROM_SAVED
    assert body["token"] is None and body["counts"]["total"] == 0  # nothing changes
    no_unit = alliance_api(client, w.yn, own_alliance_sheet(), alliance=w.alliance_a.pk,
                           mapping=json.dumps({"单位": None, "出院人数": "DISCHARGES"})).json()
    assert no_unit["token"] is None and any(either(e, "机构", "Institution") for e in no_unit["errors"])
    mapping = json.dumps({"全科医师人数": None, "出院人数": "DISCHARGES", "单位": "institution"})
    answer = alliance_api(client, w.yn, book([["单位", "出院人数"], ["平台镇卫生院", 151]]), alliance=w.alliance_a.pk,
                          mapping=mapping)
    body = answer.json()
    assert body["token"] and body["mapping"]["出院人数"]["source"] == FROM_USER, body
    assert [(r["name"], r["status"]) for r in body["rows"]] == [("平台镇卫生院", "changed")]
    confirm = reverse("api-import-confirm", kwargs={"token": body["token"]})
    assert client.post(confirm).status_code == 201 and stored(w.filing)["DISCHARGES"] == 151
    again = client.post(confirm)
    assert again.status_code == 200 and again.json()["confirmed"] is False


def test_the_filing_api_previews_confirms_once_and_scopes(w):
    client = client_for(w.filer)
    options = {"register": "filing", "county": w.yn.pk, "form": "MONTHLY_OPS", "period": "2026-10",
               "institution": w.centre.pk}
    content = own_filing_sheet(CENTRE_VALUES)
    answer = client.post(API, {**options, "file": SimpleUploadedFile("自制.xlsx", content),
                               "mapping": json.dumps({"本月上报": "value", "编码": "code", "数据项名称": "name"})})
    body = answer.json()
    assert answer.status_code == 200 and body["token"], body
    assert body["header_row"] == 3 and body["mapping"]["编码"] == {"field": "code", "source": FROM_USER, "column": "A"}
    assert body["mapping"]["备注"]["field"] is None and body["counts"]["new"] == 21
    assert {(r["code"], r["row"], r["status"]) for r in body["rows"]} >= {("OP_VISITS", 4, "new")}
    assert not DataValue.objects.exists()
    confirm = reverse("api-import-confirm", kwargs={"token": body["token"]})
    done = client.post(confirm)
    assert done.status_code == 201 and done.json()["created"] == 21 and len(stored(w.filing)) == 21
    assert client.post(confirm).json()["confirmed"] is False
    assert SecurityEvent.objects.filter(event="import.confirm").count() == 1

    # Saved now: the next file maps by itself; the filing by its id.
    by_id = client.post(API, {"register": "filing", "county": w.yn.pk, "filing": w.filing.pk,
                              "file": SimpleUploadedFile("自制.xlsx", content)}).json()
    assert by_id["mapping"]["本月上报"]["source"] == FROM_SAVED and by_id["token"] is None  # nothing changes
    assert by_id["mapping"]["编码"]["source"] in (FROM_SAVED, FROM_WORDS)

    def status(user, county, **extra):
        data = {**options, "county": county.pk, "file": SimpleUploadedFile("自制.xlsx", content), **extra}
        return client_for(user).post(API, data).status_code

    assert status(w.outsider, w.yn) == 404  # another county's user
    assert status(w.outsider, w.wy) == 404  # their own county, not the filing's
    admin = UserFactory(username="platform_root", is_superuser=True)
    assert status(admin, w.wy) == 404  # a county that is not the filing's
    assert status(admin, w.wy, register="alliance_filing", alliance=w.alliance_a.pk) == 404
    assert status(w.filer, w.yn, period="2026-09") == 404  # no such filing
    assert status(w.supervisor, w.yn) == 403  # sees the filing, does not file it
    assert status(w.outsider, w.wy, register="alliance_filing", alliance=w.alliance_a.pk) == 404
    assert status(w.supervisor, w.yn, register="alliance_filing", alliance=w.alliance_a.pk) == 403
