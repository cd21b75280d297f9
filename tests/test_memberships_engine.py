"""The alliance membership register (医共体成员名册, register "memberships") on the import engine, and the
institution register as the import API's register "institutions": one file of alliances and their
members, found by full name, short name or credit code; joins, moves and changes of lead by the
institution register's rules; the export as the template (re-imported, it changes nothing); the
column mapping of an unseen layout, remembered; the API; the scoping of the new routes."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from alliances.models import AllianceMembership, Institution
from core.imports.columns import FROM_SAVED, FROM_USER, UNMAPPED
from core.models import ImportMapping, SecurityEvent
from tests.conftest import client_for
from tests.factories import InstitutionFactory
from tests.test_import_mapping import REGISTER_UNSEEN, sheet

K = Institution.Kind
LEAD, MEMBER = AllianceMembership.Role.LEAD, AllianceMembership.Role.MEMBER
API = "/api/imports/"
DAY = date(2026, 7, 1)
HEADER = ["医共体", "单位名称", "医共体角色", "起始日期"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def county(world):
    """The world plus 县妇幼保健院 (short name 县妇幼, with a credit code) and 宝珠镇卫生院 (short name 宝珠院),
    in no alliance."""
    w = world
    w.mch = InstitutionFactory(county=w.yn, name="县妇幼保健院", short_name="县妇幼", kind=K.MCH_HOSPITAL,
                               credit_code="12445322MB2C98760"[:17] + _check("12445322MB2C98760"[:17]))
    w.baozhu = InstitutionFactory(county=w.yn, name="宝珠镇卫生院", short_name="宝珠院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    return w


def _check(first17: str) -> str:
    from alliances.validators import uscc_check_character

    return uscc_check_character(first17)


def english(user):
    client = client_for(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def import_url(w):
    return reverse("alliances:region_memberships_import", kwargs={"region_pk": w.yn.pk})


def export_url(w):
    return reverse("alliances:region_memberships_xlsx", kwargs={"region_pk": w.yn.pk})


def post(client, w, content: bytes, name="医共体成员.xlsx"):
    return client.post(import_url(w), {"file": SimpleUploadedFile(name, content)})


def memberships():
    return sorted(AllianceMembership.objects.values_list("institution__name", "alliance__name", "role", "valid_from",
                                                         "valid_to"))


CHANGES = [
    HEADER,
    ["第一医共体", "县人民医院", "牵头医院", "2020-01-01"],
    ["第一医共体", "平台镇卫生院", "成员单位", "2020/1/1"],
    ["第一医共体", "通门镇卫生院", "成员单位", "2026-07-01"],  # moves from 第三医共体
    ["第三医共体", "宝珠院", "", "2026年7月1日"],  # joins, by its short name
    ["第三医共体", None, "牵头医院", DAY],  # the lead changes, by credit code (filled in below)
    ["第三医共体", "县中医院", "成员单位", DAY],  # the lead it replaces stays as a member
]


def changes(w):
    rows = [list(r) for r in CHANGES]
    rows[5][1] = w.mch.credit_code
    return sheet(rows)


def test_joins_moves_and_a_change_of_lead_then_the_same_file_changes_nothing(county):
    w = county
    client = english(w.bureau)
    page = post(client, w, changes(w))
    assert page.status_code == 200 and not page.context["issues"], [i.text for i in page.context["issues"]]
    status = {item["result"].name: item["status"] for item in page.context["rows"]}
    assert status == {"县人民医院": "unchanged", "平台镇卫生院": "unchanged", "通门镇卫生院": "changed",
                      "宝珠镇卫生院": "new", "县妇幼保健院": "new", "县中医院": "changed"}
    assert page.context["counts"] == {"new": 2, "changed": 2, "unchanged": 2, "error": 0}
    before = memberships()
    done = client.post(import_url(w), {"token": page.context["token"]})
    assert done.status_code == 302 and done.url == reverse("alliances:alliance_list") + f"?county={w.yn.pk}"
    end = DAY - timedelta(days=1)
    after = memberships()
    assert set(after) - set(before) == {
        ("通门镇卫生院", "第三医共体", MEMBER, date(2020, 1, 1), end), ("通门镇卫生院", "第一医共体", MEMBER, DAY, None),
        ("宝珠镇卫生院", "第三医共体", MEMBER, DAY, None), ("县妇幼保健院", "第三医共体", LEAD, DAY, None),
        ("县中医院", "第三医共体", LEAD, date(2020, 1, 1), end), ("县中医院", "第三医共体", MEMBER, DAY, None)}
    event = SecurityEvent.objects.get(event="import.confirm")
    assert event.details["register"] == "memberships" and event.details["created"] == 2
    again = post(client, w, changes(w))
    assert again.context["token"] is None and again.context["counts"]["unchanged"] == 6
    assert memberships() == after


def test_the_export_is_the_template_and_reimports_unchanged(county):
    w = county
    client = english(w.bureau)
    response = client.get(export_url(w))
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"]
    ws = load_workbook(io.BytesIO(response.content)).active
    assert ws["A1"].value == "郁南县医共体成员名册"
    assert [ws.cell(row=3, column=c).value for c in range(1, 6)] == ["序号", *HEADER]
    assert [ws.cell(row=4, column=c).value for c in range(2, 5)] == ["第一医共体", "县人民医院", "牵头单位"]
    assert any(str(r).startswith("B4:B") for r in ws.merged_cells.ranges)  # 第一医共体 over its members
    before = memberships()
    page = post(client, w, response.content)
    assert page.status_code == 200 and not page.context["issues"], [i.text for i in page.context["issues"]]
    assert page.context["counts"] == {"new": 0, "changed": 0, "unchanged": 5, "error": 0}
    assert page.context["token"] is None and not page.context["mapping_open"]
    api = client.post(API, {"register": "memberships", "county": w.yn.pk,
                            "file": SimpleUploadedFile("成员.xlsx", response.content)}).json()
    assert api["token"] is None and {r["status"] for r in api["rows"]} == {"unchanged"}
    assert memberships() == before


BAD = {
    "unknown institution": (["第一医共体", "不存在卫生院", "成员单位", "2026-07-01"], "B2", "不存在卫生院"),
    "unknown alliance": (["第九医共体", "宝珠镇卫生院", "成员单位", "2026-07-01"], "A2", "第九医共体"),
    "alliance of another county": (["万源市医共体", "宝珠镇卫生院", "成员单位", "2026-07-01"], "A2", "万源市医共体"),
    "institution of another county": (["第一医共体", "白沙镇分院", "成员单位", "2026-07-01"], "B2", "白沙镇分院"),
    "no alliance": ([None, "宝珠镇卫生院", "成员单位", "2026-07-01"], "A2", "alliance is missing"),
    "bad role": (["第一医共体", "宝珠镇卫生院", "主任", "2026-07-01"], "C2", "主任"),
    "bad date": (["第一医共体", "宝珠镇卫生院", "成员单位", "2026-13-01"], "D2", "2026-13-01"),
    "a centre cannot lead": (["第一医共体", "宝珠镇卫生院", "牵头医院", "2026-07-01"], "C2", "lead an alliance"),
    "a join needs its date": (["第一医共体", "宝珠镇卫生院", "成员单位", None], "D2", "宝珠镇卫生院"),
    "the start is not moved": (["第一医共体", "平台镇卫生院", "成员单位", "2021-01-01"], "D2", "2020-01-01"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_row_names_its_row_and_cell_and_nothing_is_saved(county, case):
    w = county
    cells, cell, quoted = BAD[case]
    before = memberships()
    page = post(english(w.bureau), w, sheet([HEADER, cells]))
    issues = page.context["issues"]
    assert len(issues) == 1 and issues[0].cell == cell and quoted in issues[0].text, [i.text for i in issues]
    assert page.context["token"] is None and memberships() == before


def test_an_ambiguous_short_name_and_a_repeated_institution_are_refused(county):
    w = county
    InstitutionFactory(county=w.yn, name="宝珠镇第二卫生院", short_name="宝珠院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    page = post(english(w.bureau), w, sheet([HEADER, ["第一医共体", "宝珠院", "", "2026-07-01"],
                                             ["第一医共体", "平台镇卫生院", "", ""], ["第一医共体", "平台镇卫生院", "", ""]]))
    texts = {i.cell: i.text for i in page.context["issues"]}
    assert "more than one institution" in texts["B2"] and "row 3" in texts["B4"]


UNSEEN = [
    ["郁南县紧密型县域医共体成员单位名单"],
    ["制表单位：县卫生健康局", None, None, "2026年7月"],
    ["成员机构", "所在集团", "备注", "身份", "加入日期"],
    ["宝珠镇卫生院", "第三医共体", "新加入", "成员单位", "2026-07-01"],
    ["平台镇卫生院", "第一医共体", "", "成员单位", "2020-01-01"],
]


def test_an_unseen_layout_is_mapped_once_and_the_next_file_needs_no_mapping(county):
    w = county
    client = client_for(w.bureau)
    page = post(client, w, sheet(UNSEEN), "名单.xlsx")
    plan = page.context["mapping_columns"]
    # 成员机构 and 所在集团 are no known words: the required fields are named, nothing is read.
    assert plan["header_row"] == 3 and page.context["mapping_open"]
    assert any("医共体" in e for e in plan["errors"]) and any("单位名称" in e for e in plan["errors"])
    by_title = {c["title"]: c for c in plan["columns"]}
    assert by_title["所在集团"]["source"] == UNMAPPED and by_title["备注"]["field"] is None
    assert by_title["身份"]["field"] == "role" and by_title["加入日期"]["field"] == "joined"
    answer = {"remap": page.context["remap_token"], f"map_{by_title['成员机构']['index']}": "institution",
              f"map_{by_title['所在集团']['index']}": "alliance", f"map_{by_title['身份']['index']}": "role",
              f"map_{by_title['加入日期']['index']}": "joined"}
    preview = client.post(import_url(w), answer)
    assert preview.status_code == 200 and preview.context["token"], [i.text for i in preview.context["issues"]]
    assert {c["title"]: c["source"] for c in preview.context["mapping_columns"]["columns"]}["所在集团"] == FROM_USER
    assert preview.context["counts"]["new"] == 1 and not ImportMapping.objects.exists()
    assert client.post(import_url(w), {"token": preview.context["token"]}).status_code == 302
    assert w.baozhu.memberships.get().alliance == w.alliance_b
    saved = ImportMapping.objects.get(register="memberships", scope=w.yn.pk)
    assert saved.mapping["所在集团"] == "alliance" and saved.mapping["备注"] is None
    second = post(client, w, sheet(UNSEEN[:3] + [["县妇幼", "第三医共体", "", "成员单位", "2026-08-01"]]), "名单二.xlsx")
    assert second.context["token"] and not second.context["mapping_columns"]["errors"]
    assert {c["source"] for c in second.context["mapping_columns"]["columns"] if c["field"]} == {FROM_SAVED}


def test_api_preview_confirm_once_and_the_pages_scoping(county):
    w = county
    client = client_for(w.bureau)
    body = client.post(API, {"register": "memberships", "county": w.yn.pk,
                             "file": SimpleUploadedFile("成员.xlsx", changes(w))}).json()
    assert body["token"] and body["header_row"] == 1 and body["counts"]["new"] == 2
    assert body["mapping"]["医共体"] == {"field": "alliance", "source": "words", "column": "A"}
    assert {f["name"] for f in body["fields"] if f["required"]} == {"alliance", "institution"}
    assert [r["status"] for r in body["rows"]] == ["unchanged", "unchanged", "changed", "new", "new", "changed"]
    confirm = reverse("api-import-confirm", kwargs={"token": body["token"]})
    assert client_for(w.outsider).post(confirm).status_code == 404
    done = client.post(confirm)
    assert done.status_code == 201 and done.json()["new"] == 2
    assert w.mch.memberships.get().role == LEAD
    assert client.post(confirm).json()["confirmed"] is False
    assert SecurityEvent.objects.filter(event="import.confirm").count() == 1
    file = {"register": "memberships", "county": w.yn.pk}
    assert client_for(w.outsider).post(API, file | {"file": SimpleUploadedFile("a.xlsx", changes(w))}).status_code == 404
    assert client_for(w.supervisor).post(API, file | {"file": SimpleUploadedFile("a.xlsx", changes(w))}).status_code == 403


def test_institution_register_through_the_api(world):
    w = world
    client = client_for(w.bureau)
    mapping = '{"机构全称": "name", "机构性质": "kind", "开放床位": "beds"}'
    body = client.post(API, {"register": "institutions", "county": w.yn.pk, "mapping": mapping,
                             "file": SimpleUploadedFile("机构.xlsx", sheet(REGISTER_UNSEEN))}).json()
    assert body["token"] and body["counts"]["new"] == 2 and body["mapping"]["机构全称"]["source"] == FROM_USER
    assert [r["status"] for r in body["rows"]] == ["new", "new"]
    done = client.post(reverse("api-import-confirm", kwargs={"token": body["token"]}))
    assert done.status_code == 201 and done.json()["new"] == 2
    assert Institution.objects.get(county=w.yn, name="大湾镇卫生院").beds == 20
    assert ImportMapping.objects.get(register="institutions", scope=w.yn.pk).mapping["机构全称"] == "name"
    assert SecurityEvent.objects.get(event="import.confirm").details["register"] == "institutions"
    file = {"register": "institutions", "county": w.yn.pk}
    assert client_for(w.outsider).post(API, file | {"file": SimpleUploadedFile("a.xlsx", b"x")}).status_code == 404
    assert client_for(w.supervisor).post(API, file | {"file": SimpleUploadedFile("a.xlsx", b"x")}).status_code == 403


def test_links_and_the_new_routes_scoping(county):
    from tests.test_scope_sweep import _portal_routes

    w = county
    routes = {r.name: r.kwargs for r in _portal_routes()}
    assert routes["alliances:region_memberships_import"] == ["region_pk"]
    assert routes["alliances:region_memberships_xlsx"] == ["region_pk"]
    link = import_url(w)
    assert link in client_for(w.bureau).get(reverse("alliances:alliance_list")).content.decode()
    assert link in client_for(w.bureau).get(reverse("alliances:region_detail", kwargs={"region_pk": w.yn.pk})
                                            ).content.decode()
    assert link not in client_for(w.supervisor).get(reverse("alliances:alliance_list")).content.decode()
    outsider, supervisor = client_for(w.outsider), client_for(w.supervisor)
    for url in (link, export_url(w)):
        assert outsider.get(url).status_code == 404 and outsider.post(url, {}).status_code == 404
    assert supervisor.get(export_url(w)).status_code == 200
    assert supervisor.get(link).status_code == 403 and supervisor.post(link, {}).status_code == 403
    assert client_for(w.bureau).get(link).status_code == 200


def test_preview_query_count_does_not_grow_with_rows(county):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    w = county
    client = client_for(w.bureau)
    rows = [["第一医共体", "县人民医院", "牵头单位", "2020-01-01"], ["第一医共体", "平台镇卫生院", "", "2020-01-01"],
            ["第一医共体", "桂圩镇卫生院", "", "2020-01-01"], ["第三医共体", "县中医院", "牵头单位", "2020-01-01"],
            ["第三医共体", "宝珠院", "", "2026-07-01"]]
    counts = []
    for size in (2, 5):
        with CaptureQueriesContext(connection) as ctx:
            assert post(client, w, sheet([HEADER, *rows[:size]])).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_a_confirmation_after_the_data_changed_is_refused(county):
    from alliances import services

    w = county
    client = client_for(w.bureau)
    body = client.post(API, {"register": "memberships", "county": w.yn.pk,
                             "file": SimpleUploadedFile("成员.xlsx", changes(w))}).json()
    services.institution_move(institution=w.baozhu, to_alliance=w.alliance_a, on=date(2026, 3, 1))
    before = memberships()
    stale = client.post(reverse("api-import-confirm", kwargs={"token": body["token"]}))
    assert stale.status_code == 409 and stale.json()["rows"], stale.content
    assert memberships() == before and not SecurityEvent.objects.filter(event="import.confirm").exists()
    page = post(client, w, changes(w))
    assert page.context["counts"]["changed"] == 3  # 宝珠镇卫生院 now moves from 第一医共体
