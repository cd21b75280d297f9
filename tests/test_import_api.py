"""The import API (``POST /api/imports/`` and ``/api/imports/<token>/confirm/``): the preview as
JSON with the header row, fields, the mapping and where each column's field came from, the rows;
a confirmation applied once; the pages' scoping and permissions."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.imports.columns import FROM_SAVED, FROM_USER, FROM_WORDS
from core.models import ImportMapping, SecurityEvent
from tasks.models import Ledger
from tests.conftest import client_for
from tests.test_import_mapping import LEAD_AND_RESPONSIBLE, UNSEEN, sheet

URL = "/api/imports/"


def post_file(client, county, rows, *, name="台账.xlsx", **extra):
    return client.post(URL, {"register": "ledger", "county": county.pk,
                             "file": SimpleUploadedFile(name, sheet(rows)), **extra})


def test_preview_then_confirm_once(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    answer = post_file(client, w.yn, LEAD_AND_RESPONSIBLE, year="2026")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["header_row"] == 2 and body["token"]
    assert body["mapping"]["牵头单位"] == {"field": "lead", "source": FROM_WORDS, "column": "C"}
    assert body["mapping"]["责任单位"]["field"] == "coop" and body["mapping"]["备注"]["field"] is None
    assert {f["name"] for f in body["fields"] if f["required"]} == {"lead", "deadline"}
    assert [(r["row"], r["status"]) for r in body["rows"]] == [(3, "create"), (4, "create")]
    assert not Ledger.objects.filter(title="郁南县2026年医共体建设重点任务分工表").exists()
    confirm = reverse("api-import-confirm", kwargs={"token": body["token"]})
    done = client.post(confirm)
    assert done.status_code == 201 and done.json()["create"] == 2
    ledger = Ledger.objects.get(title="郁南县2026年医共体建设重点任务分工表")
    assert done.json()["url"] == reverse("tasks:ledger_detail", kwargs={"ledger_pk": ledger.pk})
    again = client.post(confirm)
    assert again.status_code == 200 and again.json()["confirmed"] is False
    assert Ledger.objects.filter(title=ledger.title).count() == 1 and ledger.items.count() == 2
    assert SecurityEvent.objects.filter(event="import.confirm").exists()


def test_a_mapping_given_as_json_is_used_and_remembered(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    refused = post_file(client, w.yn, UNSEEN, year="2026", title="推进表")
    assert refused.status_code == 200 and refused.json()["token"] is None and refused.json()["errors"]
    mapping = {"事项名称": "content", "承办单位": "lead", "办结时间": "deadline", "编号": "number", "备注": None}
    answer = post_file(client, w.yn, UNSEEN, year="2026", title="推进表", mapping=json.dumps(mapping))
    body = answer.json()
    assert answer.status_code == 200 and body["token"], body
    assert body["mapping"]["事项名称"]["source"] == FROM_USER
    assert client.post(reverse("api-import-confirm", kwargs={"token": body["token"]})).status_code == 201
    assert ImportMapping.objects.get(register="ledger", scope=w.yn.pk).mapping["承办单位"] == "lead"
    rows = UNSEEN[:2] + [["开展县域巡回医疗", "县卫生健康局", "9月底", "", "3"]]
    next_file = post_file(client, w.yn, rows, year="2026", title="推进表").json()
    assert next_file["token"] and next_file["mapping"]["事项名称"]["source"] == FROM_SAVED


def test_bad_requests_say_what_is_wrong(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    unknown = client.post(URL, {"register": "nonsense", "county": w.yn.pk})
    assert unknown.status_code == 400 and "ledger" in unknown.json()["errors"][0]
    no_file = client.post(URL, {"register": "ledger", "county": w.yn.pk})
    assert no_file.status_code == 400
    bad_json = post_file(client, w.yn, UNSEEN, mapping="{not json")
    assert bad_json.status_code == 400
    bad_field = post_file(client, w.yn, UNSEEN, mapping=json.dumps({"事项名称": "salary"}))
    assert bad_field.status_code == 400 and "salary" in bad_field.json()["errors"][0]
    bad_year = post_file(client, w.yn, LEAD_AND_RESPONSIBLE, year="1066")
    assert bad_year.status_code == 200 and bad_year.json()["token"] is None and bad_year.json()["errors"]


def test_same_scoping_and_permissions_as_the_pages(ledger_world):
    w = ledger_world
    assert post_file(client_for(w.outsider), w.yn, LEAD_AND_RESPONSIBLE).status_code == 404
    missing = client_for(w.outsider).post(URL, {"register": "ledger", "county": 987654321,
                                                "file": SimpleUploadedFile("a.xlsx", sheet(LEAD_AND_RESPONSIBLE))})
    assert missing.status_code == 404
    assert post_file(client_for(w.supervisor), w.yn, LEAD_AND_RESPONSIBLE).status_code == 403
    assert client_for(w.outsider).post(URL, {}).status_code == 400  # no register: nothing of 郁南县 named
    token = post_file(client_for(w.bureau), w.yn, LEAD_AND_RESPONSIBLE, year="2026").json()["token"]
    confirm = reverse("api-import-confirm", kwargs={"token": token})
    assert client_for(w.outsider).post(confirm).status_code == 404  # another user's preview
    assert client_for(w.bureau_admin).post(confirm).status_code == 404
    assert client_for(w.bureau).get(confirm).status_code == 405
    assert not Ledger.objects.filter(title="郁南县2026年医共体建设重点任务分工表").exists()
