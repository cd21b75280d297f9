"""The user account import on the import engine (register ``users``): a file in a layout never
seen maps once on the page and the next file with the same headers needs no mapping; an unmapped
required column is an error naming the field; the import API previews and confirms once, with the
page's county rule, and never answers a password (the new accounts' one-time passwords come once,
as the page gives them, to the importer only)."""

from __future__ import annotations

import json
from io import BytesIO

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from accounts.models import Role, User
from core.imports.columns import FROM_SAVED, FROM_USER, FROM_WORDS, IGNORED, UNMAPPED
from core.models import ImportMapping, SecurityEvent
from tests.conftest import client_for
from tests.test_security_users import events, sec_fixture, zh  # noqa: F401 (a fixture)
from tests.test_security_users_import import role_zh

API = "/api/imports/"
PASSWORDS = "/api/users/import-passwords/"
# Two title lines above; columns in another order, under other words; a notes column; 岗位角色 and
# 联系手机 are no synonym of any field.
TITLE = [["郁南县医共体信息平台账号开通申请表"], ["填报单位：县卫生健康局", None, None, "2026年6月"]]
HEADER = ["所属单位", "登录账号", "人员姓名", "岗位角色", "备注", "联系手机"]


def sheet(rows, header=HEADER) -> bytes:
    book = Workbook()
    ws = book.active
    for row in [*TITLE, header, *rows]:
        ws.append(list(row))
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def people(*names: str) -> list[list]:
    filer = role_zh(Role.INSTITUTION_FILER)
    return [["平台镇卫生院", name, f"用户{name}", filer, "新入职", "13800000001"] for name in names]


def page_upload(client, content: bytes, county, name="开通申请.xlsx"):
    return client.post(reverse("security:user_import"), {"file": SimpleUploadedFile(name, content),
                                                         "county": county.pk})


def test_an_unseen_layout_maps_once_and_the_next_file_needs_no_mapping(sec):
    client = client_for(sec.sec)
    first = page_upload(client, sheet(people("zhao_yi", "zhao_er")), sec.yn)
    assert first.status_code == 400
    plan = first.context["mapping_columns"]
    assert plan["header_row"] == 3 and first.context["mapping_open"]
    sources = {c["title"]: (c["field"], c["source"]) for c in plan["columns"]}
    assert sources["登录账号"] == ("username", FROM_WORDS) and sources["所属单位"] == ("unit", FROM_WORDS)
    assert sources["岗位角色"] == (None, UNMAPPED) and sources["联系手机"] == (None, UNMAPPED)
    assert sources["备注"] == (None, IGNORED)
    # The required field no column fills is an error naming it; nothing is read or saved.
    assert len(plan["errors"]) == 1 and f"“{zh('Role')}”" in plan["errors"][0]
    assert plan["errors"][0] in first.content.decode() and first.context.get("token") is None

    index = {c["title"]: c["index"] for c in plan["columns"]}
    answer = {"remap": first.context["remap_token"], f"map_{index['所属单位']}": "unit",
              f"map_{index['登录账号']}": "username", f"map_{index['人员姓名']}": "full_name",
              f"map_{index['岗位角色']}": "role", f"map_{index['联系手机']}": "phone"}
    remap_url = f"{reverse('security:user_import')}?county={sec.yn.pk}"
    assert client_for(sec.sec).post(remap_url, answer).status_code == 400  # another session's kept file
    preview = client.post(remap_url, answer)
    assert preview.status_code == 200 and preview.context["token"], preview.context["plan"].errors
    assert [(r.username, r.phone, r.status) for r in preview.context["plan"].rows] == [
        ("zhao_yi", "13800000001", "new"), ("zhao_er", "13800000001", "new")]
    assert not ImportMapping.objects.exists()  # remembered when the import is confirmed
    done = client.post(reverse("security:user_import_confirm"), {"token": preview.context["token"],
                                                                 "county": sec.yn.pk})
    assert done.status_code == 200 and User.objects.filter(username__in=["zhao_yi", "zhao_er"]).count() == 2
    saved = ImportMapping.objects.get(register="users", scope=sec.yn.pk)
    assert saved.mapping["岗位角色"] == "role" and saved.updated_by == sec.sec

    second = page_upload(client, sheet(people("zhao_san")), sec.yn, name="开通申请-二.xlsx")
    assert second.status_code == 200 and second.context["token"]
    assert {c["source"] for c in second.context["mapping_columns"]["columns"] if c["field"]} == {FROM_SAVED}


def test_the_api_previews_confirms_once_and_answers_no_password(sec):
    client = client_for(sec.sec)
    mapping = json.dumps({"所属单位": "unit", "登录账号": "username", "人员姓名": "full_name", "岗位角色": "role",
                          "联系手机": "phone", "备注": None})

    def post(rows, **extra):
        return client.post(API, {"register": "users", "county": sec.yn.pk,
                                 "file": SimpleUploadedFile("开通申请.xlsx", sheet(rows)), **extra})

    refused = post(people("qian_yi")).json()
    assert refused["token"] is None and len(refused["errors"]) == 1 and zh("Role") in refused["errors"][0]
    answer = post(people("qian_yi", "qian_er") + [["平台镇卫生院", "bad name!", "某", "院长", "", ""]],
                  mapping=mapping).json()
    assert answer["token"] is None and answer["counts"] == {"new": 2, "changed": 0, "unchanged": 0, "error": 1}
    assert answer["rows"][2]["status"] == "error" and len(answer["rows"][2]["errors"]) == 2
    body = post(people("qian_yi", "qian_er"), mapping=mapping).json()
    assert body["token"] and body["header_row"] == 3 and body["counts"]["new"] == 2
    assert body["mapping"]["岗位角色"] == {"field": "role", "source": FROM_USER, "column": "D"}
    assert [(r["row"], r["status"], r["username"]) for r in body["rows"]] == [(4, "new", "qian_yi"),
                                                                              (5, "new", "qian_er")]
    assert not User.objects.filter(username="qian_yi").exists()

    confirm = reverse("api-import-confirm", kwargs={"token": body["token"]})
    assert client_for(sec.wy_sec).post(confirm).status_code == 404  # another user's preview
    done = client.post(confirm)
    assert done.status_code == 201, done.content
    result = done.json()
    assert (result["created"], result["changed"], result["unchanged"]) == (2, 0, 0)
    assert User.objects.filter(username__in=["qian_yi", "qian_er"], must_change_password=True).count() == 2
    assert events("import.confirm").get().details["register"] == "users"
    again = client.post(confirm)
    assert again.status_code == 200 and again.json()["confirmed"] is False
    assert events("import.confirm").count() == 1 and ImportMapping.objects.filter(register="users").exists()

    # The one-time passwords: not in any answer or event; once, as a workbook, to the importer only.
    batch = result["passwords"]["batch"]
    assert result["passwords"]["url"] == PASSWORDS and result["passwords"]["count"] == 2
    assert client_for(sec.wy_sec).post(PASSWORDS, {"batch": batch}).status_code == 410
    assert client_for(sec.filer).post(PASSWORDS, {"batch": batch}).status_code == 403
    download = client.post(PASSWORDS, {"batch": batch})
    assert download.status_code == 200 and "no-store" in download["Cache-Control"]
    cells = [[c.value for c in row] for row in load_workbook(BytesIO(download.content)).active.iter_rows()]
    found = {row[1]: row[5] for row in cells if row and row[1] in {"qian_yi", "qian_er"}}
    assert set(found) == {"qian_yi", "qian_er"}
    assert all(User.objects.get(username=name).check_password(password) for name, password in found.items())
    said = " ".join([body.__repr__(), done.content.decode(), again.content.decode()] +
                    [json.dumps(e.details, ensure_ascii=False) for e in SecurityEvent.objects.all()])
    assert not any(password in said for password in found.values())
    assert "pbkdf2" not in said and "argon2" not in said
    assert client.post(PASSWORDS, {"batch": batch}).status_code == 410
    assert events("export.personal", details__register="users_initial_passwords").count() == 1

    # Data changed between the preview and the confirmation: 409, nothing saved.
    stale = post([["平台镇卫生院", "qian_san", "钱三", role_zh(Role.INSTITUTION_FILER), "", ""]],
                 mapping=mapping).json()
    User.objects.create(username="qian_san", county=sec.wy)
    answer = client.post(reverse("api-import-confirm", kwargs={"token": stale["token"]}))
    assert answer.status_code == 409 and answer.json()["counts"]["error"] == 1


def test_the_api_keeps_the_page_rule_of_who_imports_accounts_of_a_county(sec):
    def post(user, county_pk):
        return client_for(user).post(API, {"register": "users", "county": county_pk,
                                           "file": SimpleUploadedFile("a.xlsx", sheet(people("sun_yi")))})

    assert post(sec.wy_sec, sec.yn.pk).status_code == 404  # another county's security administrator
    assert post(sec.outsider, sec.yn.pk).status_code == 404
    assert post(sec.wy_sec, 987654321).status_code == 404
    assert post(sec.auditor, sec.yn.pk).status_code == 403  # sees 郁南县, runs none of its accounts
    assert post(sec.bureau, sec.yn.pk).status_code == 403
    assert post(sec.platform, sec.yn.pk).status_code == 200  # the province's platform administrator
    assert not User.objects.filter(username="sun_yi").exists()


def test_a_field_on_two_columns_is_refused_unless_a_mapping_says_which():
    from security import user_import as importer

    content = sheet([["李四", "li_si", "13800000001", "13900000002", "平台镇卫生院", "机构填报员"]],
                    header=["姓名", "用户名", "手机", "手机号", "单位", "角色"])
    read = importer.read_data(content, "a.xlsx")
    assert read.table is None and [(p.row, p.column) for p in read.problems] == [(3, "D")]
    given = {"姓名": "full_name", "用户名": "username", "手机": None, "手机号": "phone", "单位": "unit", "角色": "role"}
    for read in (importer.read_data(content, "a.xlsx", mapping=given),
                 importer.read_data(content, "a.xlsx", saved_for=lambda signature: given)):
        assert read.table is not None and read.table.rows[0]["phone"] == "13900000002", read.problems
