"""The roster (花名册) on the import engine (``core.imports``): a file of a layout never seen is mapped
once in the preview's mapping panel, the mapping is remembered for the county and applied to the
next file with the same headers; an unmapped required column is named; the import API's register
"roster" (preview, confirmation once, the page's scoping), with no identity number in full."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from django.urls import reverse

from core.imports.columns import FROM_SAVED, FROM_USER, UNMAPPED
from core.models import ImportMapping, SecurityEvent
from staffing import identity, services
from staffing.models import Staff
from staffing.roster_import_views import SESSION_KEY
from tests.conftest import IDS, client_for
from tests.test_staffing_import import CONFIRM, URL, make_id, upload, xlsx

API = "/api/imports/"
ABOVE = [["郁南县第一医共体人员花名册"], ["填报单位：第一医共体", None, "填报日期：2026年3月1日"]]
# Reordered, other words (员工姓名, 公民身份号码, 所在单位, 专业, 最高学历, 入职时间), a 备注 column and
# 在岗类型, which no word of the roster names (it is 人员类别).
UNSEEN = ["序号", "员工姓名", "入职时间", "公民身份号码", "所在单位", "在岗类型", "专业", "最高学历", "备注"]


def unseen_row(n: int, name: str, number: str, **cells) -> dict:
    return {"序号": n, "员工姓名": name, "入职时间": "2024-03-01", "公民身份号码": number, "所在单位": "县人民医院",
            "在岗类型": "编外", "专业": "护士", "最高学历": "大专", "备注": "规培", **cells}


def remap(client, page, **chosen):
    """The mapping panel posted back: each column as shown, ``chosen`` (title → field or "") over it."""
    columns = page.context["columns"]["columns"]
    data = {"remap": page.context["remap_token"]}
    for column in columns:
        data[f"map_{column['index']}"] = chosen.get(column["title"], column["field"] or "")
    return client.post(URL, data)


def test_an_unseen_layout_is_mapped_once_then_remembered(staffing_world):
    w = staffing_world
    client = client_for(w.hr_alliance)
    one, two = make_id(301, "19920304"), make_id(302, "19930405")
    first = client.post(URL, {"file": upload(xlsx([unseen_row(1, "赵映射", one), unseen_row(2, "钱映射", two)],
                                                   header=UNSEEN, above=ABOVE))})
    text = first.content.decode()
    assert first.status_code == 400
    assert "第3行F列：“在岗类型”不是花名册的列" in text and "第3行I列：“备注”不是花名册的列" in text
    assert "第3行：缺少“人员类别”列。" in text and 'id="column-mapping"' in text
    sources = {c["title"]: (c["field"], c["source"]) for c in first.context["columns"]["columns"]}
    assert sources["在岗类型"] == (None, UNMAPPED) and sources["员工姓名"] == ("name", "words")
    assert sources["公民身份号码"][0] == "number" and sources["入职时间"][0] == "hired_on"
    assert one not in text and identity.mask(one) in text  # the panel's sample values are masked
    assert not Staff.objects.filter(name="赵映射").exists()

    mapped = remap(client, first, 在岗类型="employment", 备注="")
    assert mapped.status_code == 200, mapped.context.get("errors")
    assert "共2人，无错误——新增2人" in mapped.content.decode()
    assert {c["title"]: c["source"] for c in mapped.context["columns"]["columns"]}["在岗类型"] == FROM_USER
    assert one not in json.dumps(client.session[SESSION_KEY])
    assert client.post(CONFIRM).url == reverse("staffing:roster")
    staff = Staff.objects.get(name="赵映射")
    assert (staff.employment, staff.profession, staff.education, staff.institution) == (
        "contract", "nurse", "college", w.hospital)
    assert ImportMapping.objects.get(register="roster", scope=w.yn.pk).mapping["在岗类型"] == "employment"

    # The next file with the same headers: no mapping step.
    again = client.post(URL, {"file": upload(xlsx([unseen_row(1, "孙再导", make_id(303), 在岗类型="在编")],
                                                   header=UNSEEN, above=ABOVE))})
    assert again.status_code == 200, again.context.get("errors")
    sources = {c["title"]: c["source"] for c in again.context["columns"]["columns"]}
    assert sources["在岗类型"] == FROM_SAVED and "mapping-needed" not in again.content.decode()
    assert client.post(CONFIRM).status_code == 302
    assert Staff.objects.get(name="孙再导").employment == "established"


def test_an_unmapped_required_column_is_named_and_nothing_imported(staffing_world):
    w = staffing_world
    client = client_for(w.hr_alliance)
    header = [t for t in UNSEEN if t != "最高学历"]
    page = client.post(URL, {"file": upload(xlsx([unseen_row(1, "李缺列", make_id(304))], header=header))})
    assert page.status_code == 400
    # Ignoring the unknown columns leaves 人员类别 and 学历 without a column: named, nothing imported.
    ignored = remap(client, page, 在岗类型="", 备注="")
    text = ignored.content.decode()
    assert ignored.status_code == 400 and "第1行：缺少“学历”列。" in text and "第1行：缺少“人员类别”列。" in text
    assert not Staff.objects.filter(name="李缺列").exists()


def api_post(client, county, rows, **extra):
    return client.post(API, {"register": "roster", "county": county.pk,
                             "file": upload(xlsx(rows, header=UNSEEN, above=ABOVE)), **extra})


def test_the_api_previews_and_confirms_once_within_the_pages_rules(staffing_world):
    w = staffing_world
    client = client_for(w.hr_alliance)
    new = make_id(305, "19870609")
    rows = [unseen_row(1, "周接口", new), unseen_row(2, "李医生", IDS["doctor"], 在岗类型="在编", 专业="医师",
                                                    最高学历="本科", 入职时间="2010-07-01")]
    refused = api_post(client, w.yn, rows).json()
    assert refused["token"] is None and any("在岗类型" in e for e in refused["errors"])
    assert any("人员类别" in e for e in refused["errors"])  # the required field, named
    mapping = {title: column["field"] for title, column in refused["mapping"].items()}
    mapping.update({"在岗类型": "employment", "备注": None})
    answer = api_post(client, w.yn, rows, mapping=json.dumps(mapping))
    body = answer.json()
    assert answer.status_code == 200 and body["token"], body
    assert body["header_row"] == 3 and body["mapping"]["在岗类型"] == {"field": "employment", "source": FROM_USER,
                                                                       "column": "F"}
    assert [(r["row"], r["status"]) for r in body["rows"]] == [(4, "new"), (5, "unchanged")]
    assert body["counts"] == {"new": 1, "changed": 0, "unchanged": 1, "error": 0}
    assert body["rows"][0]["number"] == identity.mask(new)
    assert new not in answer.content.decode() and IDS["doctor"] not in answer.content.decode()
    assert not Staff.objects.filter(name="周接口").exists()

    confirm = reverse("api-import-confirm", kwargs={"token": body["token"]})
    done = client.post(confirm)
    assert done.status_code == 201 and done.json()["new"] == 1, done.content
    assert done.json()["url"] == reverse("staffing:roster")
    assert Staff.objects.get(name="周接口").county == w.yn and Staff.objects.filter(name="李医生").count() == 1
    again = client.post(confirm)
    assert again.status_code == 200 and again.json()["confirmed"] is False
    assert Staff.objects.filter(name="周接口").count() == 1
    event = SecurityEvent.objects.filter(event="import.confirm").latest("pk")
    assert event.details["register"] == "roster" and event.details["created"] == 1
    assert ImportMapping.objects.get(register="roster", scope=w.yn.pk).mapping["在岗类型"] == "employment"
    # The next file with the same headers: the saved mapping, no mapping given.
    saved = api_post(client, w.yn, [unseen_row(1, "吴再来", make_id(306))]).json()
    assert saved["token"] and saved["mapping"]["在岗类型"]["source"] == FROM_SAVED
    # The person added meanwhile (another import, by hand): the preview is stale, nothing written.
    services.upsert(w.yn.pk, make_id(306), {"name": "吴再来", "institution": w.centre, "employment": "established",
                                             "profession": "doctor", "education": "bachelor",
                                             "hired_on": date(2020, 1, 1)})
    stale = client.post(reverse("api-import-confirm", kwargs={"token": saved["token"]}))
    assert stale.status_code == 409 and Staff.objects.get(name="吴再来").institution == w.centre

    # Errors are per row, as the page names them.
    bad = api_post(client, w.yn, [unseen_row(1, "郑错", "123")]).json()
    assert bad["token"] is None and bad["rows"][0]["row"] == 4 and bad["rows"][0]["status"] == "error"
    assert bad["counts"]["error"] == 1 and "第4行D列" in bad["rows"][0]["errors"][0]

    # The page's rules: another county's user gets 404 (as a missing county), a viewer 403.
    assert api_post(client_for(w.outsider), w.yn, rows).status_code == 404
    assert api_post(client_for(w.city), w.yn, rows).status_code == 403
    assert api_post(client, w.wy, rows).status_code == 404


def test_the_kept_file_is_encrypted_and_one_that_does_not_open_is_refused(staffing_world, settings):
    w = staffing_world
    client = client_for(w.hr_alliance)
    one = make_id(307, "19940506")
    page = client.post(URL, {"file": upload(xlsx([unseen_row(1, "冯加密", one)], header=UNSEEN))})
    assert page.status_code == 400 and page.context["remap_token"]
    kept = Path(settings.MEDIA_ROOT) / "imports" / "roster-files" / f"{page.context['remap_token']}.bin"
    data = kept.read_bytes()
    assert not data.startswith(b"PK") and one.encode() not in data  # not the workbook in plain
    assert one not in kept.with_suffix(".json").read_text(encoding="utf-8")  # no sample values kept
    kept.write_bytes(b"not a sealed file")
    refused = remap(client, page, 在岗类型="employment", 备注="")
    assert refused.status_code == 400 and "此预览已失效" in refused.content.decode()
    assert not Staff.objects.filter(name="冯加密").exists()
