"""The purchase register's import on the import engine: an office's own table (title lines above,
columns reordered, other header words, a 备注 and a 合计 column, a category under a word nobody
knows) is named column by column until mapped once on the page; the mapping is remembered for the
next file with the same headers; the import API previews and confirms once, with the pages' rules."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from core.imports.columns import FROM_SAVED, UNMAPPED
from core.models import ImportMapping
from finance.models import Purchase
from tests.conftest import client_for
from tests.test_finance_procurement import NOV_2026

D = Decimal
API = "/api/imports/"
HEADER = ["单位名称", "备注", "药品金额", "采购月份", "器械", "耗材", "合计"]  # 器械: no word knows it


def xlsx(rows, header=HEADER) -> SimpleUploadedFile:
    book = Workbook()
    ws = book.active
    ws.append(["第一医共体统一采购登记表"])
    ws.append(["填报单位：第一医共体办公室"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return SimpleUploadedFile("采购登记.xlsx", buffer.getvalue())


FIRST = [["县人民医院", "", 1000, "2026-04", 50000, "2,000.50", 53000.5],
         ["平台镇卫生院", "月中补录", None, "2026年4月", None, 30, 30]]


def purchases():
    return {(p.institution_id, p.month, p.category): p.amount for p in Purchase.objects.all()}


@time_machine.travel(NOV_2026, tick=False)
def test_a_new_layout_is_mapped_once_then_remembered(world):
    w = world
    office = client_for(w.alliance_admin)
    url = f"/finance/alliances/{w.alliance_a.pk}/procurement/import/"
    first = office.post(url, {"file": xlsx(FIRST)})
    assert first.status_code == 400 and "第3行E列：“器械”不是采购类别" in first.content.decode()
    columns = {c["title"]: c for c in first.context["columns"]["columns"]}
    assert {t: c["field"] for t, c in columns.items()} == {
        "单位名称": "member", "备注": None, "药品金额": "drugs", "采购月份": "month", "器械": None,
        "耗材": "consumables", "合计": None}
    assert columns["器械"]["source"] == UNMAPPED and first.context["mapping_open"]
    post = {f"map_{c['index']}": c["field"] or "" for c in columns.values()}
    post[f"map_{columns['器械']['index']}"] = "equipment"
    mapped = office.post(url, {"remap": first.context["remap_token"], **post})
    assert mapped.status_code == 200 and mapped.context["preview"], mapped.context.get("errors")
    assert office.post(url + "confirm/").status_code == 302
    assert purchases() == {(w.hospital.pk, "2026-04", "drugs"): D("1000.00"),
                           (w.hospital.pk, "2026-04", "equipment"): D("50000.00"),
                           (w.hospital.pk, "2026-04", "consumables"): D("2000.50"),
                           (w.centre.pk, "2026-04", "consumables"): D("30.00")}
    assert ImportMapping.objects.get(register="procurement", scope=w.yn.pk).mapping["器械"] == "equipment"
    # The next file with the same headers, saved from Excel as CSV (GB18030): no mapping step.
    text = "\n".join(["第一医共体统一采购登记表", "填报单位：第一医共体办公室", ",".join(HEADER),
                      "县人民医院,,5,2026-05,6,,11"])
    again = office.post(url, {"file": SimpleUploadedFile("采购登记.csv", text.encode("gb18030"))})
    assert again.status_code == 200 and not again.context["mapping_open"]
    assert {c["title"]: c["source"] for c in again.context["columns"]["columns"]}["器械"] == FROM_SAVED
    assert office.post(url + "confirm/").status_code == 302
    assert purchases()[(w.hospital.pk, "2026-05", "equipment")] == D("6.00")
    # Without a month column: the field is named, nothing is read.
    from finance.procurement_import import FIELDS

    missing = office.post(url, {"file": xlsx([["县人民医院", 1]], header=["成员单位", "药品"])})
    month = f"“{FIELDS[0].label}”"
    assert missing.status_code == 400 and any(month in e for e in missing.context["errors"]), missing.context["errors"]
    assert len(purchases()) == 6


@time_machine.travel(NOV_2026, tick=True)
def test_api_preview_confirm_once_and_rules(world):
    w = world
    client = client_for(w.alliance_admin)
    mapping = {"单位名称": "member", "药品金额": "drugs", "采购月份": "month", "器械": "equipment", "耗材": "consumables"}
    import json

    def post(user, county, **extra):
        return client_for(user).post(API, {"register": "procurement", "county": county.pk,
                                           "alliance": w.alliance_a.pk, "file": xlsx(FIRST), **extra})

    answer = client.post(API, {"register": "procurement", "county": w.yn.pk, "alliance": w.alliance_a.pk,
                               "file": xlsx(FIRST), "mapping": json.dumps(mapping)})
    body = answer.json()
    assert answer.status_code == 200 and body["token"], body
    assert body["header_row"] == 3 and body["mapping"]["器械"]["field"] == "equipment"
    assert [(r["row"], r["status"]) for r in body["rows"]] == [(4, "new"), (5, "new")]
    assert not Purchase.objects.exists()
    confirm = f"{API}{body['token']}/confirm/"
    done = client.post(confirm)
    assert done.status_code == 201 and done.json()["months"] == ["2026-04"] and len(purchases()) == 4
    assert client.post(confirm).json()["confirmed"] is False
    same = post(w.alliance_admin, w.yn)
    assert [r["status"] for r in same.json()["rows"]] == ["unchanged", "unchanged"] and not same.json()["token"]
    assert post(w.outsider, w.yn).status_code == 404
    assert post(w.city, w.yn).status_code == 403
    assert post(w.outsider, w.wy).status_code == 404  # another county's alliance, from one's own county
    assert len(purchases()) == 4
