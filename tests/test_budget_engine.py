"""The budget import on the import engine: a clerk's table in a layout never seen (title lines
above, columns reordered, other header words, a 备注 column, a member under a name no word knows)
is named column by column until mapped once on the page; the mapping is remembered for the next
file with the same headers; the import API previews and confirms once, with the pages' rules."""

from __future__ import annotations

import json
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from core.imports.columns import FROM_SAVED, FROM_USER, UNMAPPED
from core.models import ImportMapping
from finance.models import Budget, BudgetAmount
from tests.conftest import client_for

D = Decimal
API = "/api/imports/"
# Line in column C, members before the total, 人民医院 (the 县人民医院) by a name no word knows.
HEADER = ["备注", "平台镇卫生院", "收支项目", "人民医院", "合计", "差额"]


def xlsx(rows, header=HEADER, name="预算表.xlsx") -> SimpleUploadedFile:
    book = Workbook()
    ws = book.active
    ws.append(["第一医共体2026年预算表"])
    ws.append(["填报单位：第一医共体", None, None, "单位：元"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


FIRST = [["", 100, "医疗收入", 600, 1000, 300], ["说明", None, "人员经费", None, 400, None]]


@pytest.fixture
def drafted(world):
    client = client_for(world.bureau)
    client.post(f"/finance/alliances/{world.alliance_a.pk}/budgets/new/", {"year": 2026})
    world.budget = Budget.objects.get(alliance=world.alliance_a, year=2026)
    world.client = client
    world.url = f"/finance/budgets/{world.budget.pk}/import/"
    return world


def amounts():
    return {(a.line, a.institution_id): a.amount for a in BudgetAmount.objects.all()}


def test_a_new_layout_is_mapped_once_then_remembered(drafted):
    w = drafted
    first = w.client.post(w.url, {"file": xlsx(FIRST)})
    assert first.status_code == 400 and "第3行第D列：“人民医院”不是第一医共体2026年12月31日的成员单位。" in first.content.decode()
    columns = {c["title"]: c for c in first.context["columns"]["columns"]}
    assert columns["人民医院"]["source"] == UNMAPPED and columns["收支项目"]["field"] == "line"
    assert columns["合计"]["field"] == "total" and columns["平台镇卫生院"]["field"] == f"m{w.centre.pk}"
    assert columns["备注"]["field"] is None and columns["差额"]["field"] is None
    assert first.context["mapping_open"] and not BudgetAmount.objects.exists()
    post = {f"map_{c['index']}": c["field"] or "" for c in columns.values()}
    post[f"map_{columns['人民医院']['index']}"] = f"m{w.hospital.pk}"
    mapped = w.client.post(w.url, {"remap": first.context["remap_token"], **post})
    assert mapped.status_code == 200 and mapped.context["preview"], mapped.context.get("errors")
    assert w.client.post(w.url + "confirm/").status_code == 302
    assert amounts() == {("MED", None): D("1000.00"), ("MED", w.hospital.pk): D("600.00"),
                         ("MED", w.centre.pk): D("100.00"), ("PERSONNEL", None): D("400.00")}
    saved = ImportMapping.objects.get(register="budget", scope=w.yn.pk)
    assert saved.mapping["人民医院"] == f"m{w.hospital.pk}"
    # The next file with the same headers: no mapping step.
    again = w.client.post(w.url, {"file": xlsx([["", 1, "医疗收入", 2, 3, 0]])})
    assert again.status_code == 200 and again.context["preview"]
    sources = {c["title"]: c["source"] for c in again.context["columns"]["columns"]}
    assert sources["人民医院"] == FROM_SAVED and not again.context["mapping_open"]
    assert w.client.post(w.url + "confirm/").status_code == 302
    assert amounts() == {("MED", None): D("3.00"), ("MED", w.hospital.pk): D("2.00"), ("MED", w.centre.pk): D("1.00")}


def test_an_unmapped_required_field_is_named_and_nothing_is_read(drafted):
    from finance.budget_import import FIELDS

    w = drafted
    response = w.client.post(w.url, {"file": xlsx([["医疗收入", 600]], header=["预算项目", "县人民医院"])})
    total = str(FIELDS[1].label)
    assert response.status_code == 400
    assert any(f"“{total}”" in e for e in response.context["errors"]), response.context["errors"]
    assert not BudgetAmount.objects.exists()


def test_api_preview_confirm_once_and_rules(drafted):
    w = drafted
    client = w.client
    mapping = {"收支项目": "line", "合计": "total", "平台镇卫生院": f"m{w.centre.pk}", "人民医院": f"m{w.hospital.pk}"}
    answer = client.post(API, {"register": "budget", "county": w.yn.pk, "budget": w.budget.pk, "file": xlsx(FIRST),
                               "mapping": json.dumps(mapping)})
    body = answer.json()
    assert answer.status_code == 200 and body["token"], body
    assert body["header_row"] == 3 and body["mapping"]["人民医院"] == {"field": f"m{w.hospital.pk}",
                                                                      "source": FROM_USER, "column": "D"}
    assert [(r["row"], r["status"]) for r in body["rows"]] == [(4, "new"), (5, "new")]
    assert {f["name"] for f in body["fields"] if f["required"]} == {"line", "total"}
    assert not BudgetAmount.objects.exists()
    confirm = f"{API}{body['token']}/confirm/"
    done = client.post(confirm)
    assert done.status_code == 201 and done.json()["amounts"] == 4
    assert done.json()["url"] == f"/finance/budgets/{w.budget.pk}/"
    assert client.post(confirm).json()["confirmed"] is False
    assert len(amounts()) == 4
    # The same file again: every row unchanged, nothing to confirm.
    same = client.post(API, {"register": "budget", "county": w.yn.pk, "budget": w.budget.pk, "file": xlsx(FIRST)})
    assert [r["status"] for r in same.json()["rows"]] == ["unchanged", "unchanged"]
    assert same.json()["mapping"]["人民医院"]["source"] == FROM_SAVED
    # An outsider's county is not found; a viewer of the county may not import.
    outsider = client_for(w.outsider).post(API, {"register": "budget", "county": w.yn.pk, "budget": w.budget.pk,
                                                 "file": xlsx(FIRST)})
    assert outsider.status_code == 404
    viewer = client_for(w.city).post(API, {"register": "budget", "county": w.yn.pk, "budget": w.budget.pk,
                                           "file": xlsx(FIRST)})
    assert viewer.status_code == 403
    foreign = client_for(w.outsider).post(API, {"register": "budget", "county": w.wy.pk, "budget": w.budget.pk,
                                                "file": xlsx(FIRST)})
    assert foreign.status_code == 404  # another county's budget is not found from one's own county


def test_a_confirmation_the_portal_no_longer_fits_saves_nothing_and_says_why(drafted):
    """The page on the one import flow: the members changed between the preview and the
    confirmation, so nothing is saved, the reason is a message on the upload page and the preview is
    gone; a lost kept file (the mapping form re-posted too late) is named with a 400."""
    from alliances.models import AllianceMembership

    w = drafted
    header = ["收支项目", "平台镇卫生院", "县人民医院", "合计"]
    preview = w.client.post(w.url, {"file": xlsx([["医疗收入", 1, 2, 3]], header=header)})
    assert preview.status_code == 200 and preview.context["preview"], preview.context.get("errors")
    AllianceMembership.objects.filter(alliance=w.alliance_a, institution=w.centre).delete()
    failed = w.client.post(w.url + "confirm/", follow=True)
    assert failed.redirect_chain[-1][0] == w.url and not BudgetAmount.objects.exists()
    said = [str(m) for m in failed.context["messages"]]
    assert said and all(str(w.centre.pk) in m for m in said), said  # the member no longer there
    again = w.client.post(w.url + "confirm/", follow=True)
    assert again.redirect_chain[-1][0] == w.url
    assert [str(m) for m in again.context["messages"]] == ["没有待导入的内容，请重新上传文件。"]
    assert not BudgetAmount.objects.exists()
    lost = w.client.post(w.url, {"remap": "x" * 43, "map_0": "line"})
    assert lost.status_code == 400 and lost.context["errors"]
