"""Importing accounts from a workbook (issue 15): the template, every kind of bad cell reported by
row and column with nothing saved, the preview (new / changed / unchanged), the confirmation by a
token of this session (once), the one-time passwords downloaded once, and constant queries at 30 and
300 rows."""

from __future__ import annotations

import sqlite3
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from accounts.models import Grant, Role, User
from core.issues import Issue
from core.models import SecurityEvent
from security import user_import as importer
from tests.conftest import client_for
from tests.factories import UserFactory, grant
from tests.test_security_users import body, events, sec_fixture, zh  # noqa: F401 (a fixture)

HEADERS = ["姓名", "用户名", "手机", "邮箱", "单位", "角色"]


def role_zh(role: str) -> str:
    with translation.override("zh-hans"):
        return str(Role(role).label)


def workbook(rows, headers=HEADERS, *, sheet="用户") -> bytes:
    book = Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(headers)
    for row in rows:
        ws.append(list(row))
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, content: bytes, name="users.xlsx", county=None):
    data = {"file": SimpleUploadedFile(name, content)}
    if county is not None:
        data["county"] = county.pk
    return client.post(reverse("security:user_import"), data)


def cell_error(row: int, column: str, title: str, message: str, **values) -> str:
    with translation.override("zh-hans"):
        return Issue(zh(message, **values), row=row, column=column, title=title).text


def confirm(client, response):
    return client.post(reverse("security:user_import_confirm"),
                       {"token": response.context["token"], "county": response.context["county"].pk})


@pytest.fixture
def good_rows(sec):
    filer = role_zh(Role.INSTITUTION_FILER)
    return [
        ("李一", "li_yi", "13800000001", "li1@example.com", "平台镇卫生院", filer),
        ("李二", "li_er", "", "", "第一医共体", role_zh(Role.ALLIANCE_ADMIN)),
        ("李三", "li_san", "0766-7512345", "", "郁南县", role_zh(Role.VIEWER)),
        # An account of the county: a new phone and a new grant.
        ("测试用户", "yn_centre_filer", "13900000000", "", "桂圩镇卫生院", filer),
        # An account of the county exactly as it is.
        (sec.bureau.full_name, "yn_staff", "", "", "郁南县", role_zh(Role.BUREAU_STAFF)),
    ]


def test_template_lists_the_roles_the_importer_may_grant_and_the_units(sec):
    response = client_for(sec.sec).get(reverse("security:user_import_template"))
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.content))
    assert book.sheetnames == ["用户", "填写说明"]
    ws = book["用户"]
    assert [c.value for c in ws[1]] == HEADERS
    help_text = [c.value for row in book["填写说明"].iter_rows() for c in row if c.value]
    assert role_zh(Role.INSTITUTION_FILER) in help_text and role_zh(Role.PLATFORM_ADMIN) not in help_text
    assert "平台镇卫生院" in help_text and "第一医共体" in help_text and "市人民医院" not in help_text
    validations = {str(v.sqref).split(":")[0]: v.formula1 for v in ws.data_validations.dataValidation}
    assert "F2" in validations and "E2" in validations  # 角色 and 单位 are drop-down lists


def test_import_previews_then_confirms_once_and_passwords_come_once(sec, good_rows):
    sec.filer.full_name = "测试用户"
    sec.filer.save(update_fields=["full_name"])
    client = client_for(sec.sec)
    before = SecurityEvent.objects.count()
    response = upload(client, workbook(good_rows))
    assert response.status_code == 200, body(response)[:3000]
    plan = response.context["plan"]
    assert plan.ok and [r.status for r in plan.rows] == ["new", "new", "new", "changed", "unchanged"]
    changed = plan.rows[3]
    assert ("phone", "", "13900000000") in changed.changes and changed.new_grant
    assert "13900000000" in body(response) and "桂圩镇卫生院" in body(response)
    # Nothing is saved by the preview.
    assert not User.objects.filter(username="li_yi").exists() and SecurityEvent.objects.count() == before

    done = confirm(client, response)
    assert done.status_code == 200, body(done)[:3000]
    made = User.objects.filter(username__in=["li_yi", "li_er", "li_san"])
    assert made.count() == 3 and all(u.must_change_password and u.county_id == sec.yn.pk for u in made)
    assert Grant.objects.get(user__username="li_er").alliance_id == sec.alliance_a.pk
    sec.filer.refresh_from_db()
    assert sec.filer.phone == "13900000000" and sec.filer.grants.filter(institution=sec.centre2).exists()
    assert events("user.create").count() == 3 and events("user.edit").count() == 1
    assert events("grant.add").count() == 4  # three new accounts, one new grant of an existing account
    confirmed = events("import.confirm").get()
    assert confirmed.details == {"register": "users", "file": "users.xlsx", "rows": 5, "created": 3, "changed": 1,
                                 "unchanged": 1}
    # A second click: a message, nothing more (issue 16: the user list, "confirmed already").
    again = confirm(client, response)
    assert again.status_code == 302 and again["Location"] == reverse("security:user_list")
    assert "这次导入已经确认过了。" in [str(m) for m in again.wsgi_request._messages]
    assert User.objects.filter(username__in=["li_yi", "li_er", "li_san"]).count() == 3
    assert events("import.confirm").count() == 1

    passwords = [c.password for c in done.context["result"].created]
    # Kept only encrypted in the session until the download; not on the page.
    assert passwords and not any(p in str(dict(client.session)) or p in body(done) for p in passwords)
    batch = done.context["batch"]
    download = client.post(reverse("security:user_import_passwords"), {"batch": batch})
    assert download.status_code == 200 and "no-store" in download["Cache-Control"]
    sheet = load_workbook(BytesIO(download.content)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    found = {row[1]: row[5] for row in cells if row and row[1] in {"li_yi", "li_er", "li_san"}}
    assert set(found) == {"li_yi", "li_er", "li_san"}
    for username, password in found.items():
        assert User.objects.get(username=username).check_password(password)
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    gone = client.post(reverse("security:user_import_passwords"), {"batch": batch})
    assert gone.status_code == 410 and "passwords-gone" in body(gone)
    assert "security_user_import_passwords" not in client.session or not client.session[
        "security_user_import_passwords"]


def test_passwords_belong_to_the_session_that_imported(sec, good_rows):
    client = client_for(sec.sec)
    done = confirm(client, upload(client, workbook(good_rows[:1])))
    other = client_for(sec.sec)
    assert other.post(reverse("security:user_import_passwords"), {"batch": done.context["batch"]}).status_code == 410
    assert client.post(reverse("security:user_import_passwords"), {"batch": done.context["batch"]}).status_code == 200


def test_the_token_is_bound_to_the_session_and_the_county(sec, good_rows):
    client = client_for(sec.sec)
    response = upload(client, workbook(good_rows[:1]))
    other = client_for(sec.sec)
    assert confirm(other, response).status_code == 409
    assert client.post(reverse("security:user_import_confirm"),
                       {"token": response.context["token"], "county": sec.wy.pk}).status_code == 409
    assert not User.objects.filter(username="li_yi").exists()
    assert confirm(client, response).status_code == 200


def test_two_confirmations_of_one_preview_create_each_account_once(sec, good_rows):
    """Two confirmations that both read the preview before either wrote (two tabs, a double click on a
    slow line): the county's lock orders them; the second finds the accounts made and saves nothing."""
    table, _issues = importer.read_upload(SimpleUploadedFile("users.xlsx", workbook(good_rows[:3])))
    plan = importer.check(table, actor=sec.sec, county=sec.yn)
    importer.confirm(table, actor=sec.sec, county=sec.yn, fingerprint=plan.fingerprint())
    with pytest.raises(importer.Stale):
        importer.confirm(table, actor=sec.sec, county=sec.yn, fingerprint=plan.fingerprint())
    assert User.objects.filter(username__in=["li_yi", "li_er", "li_san"]).count() == 3
    assert events("user.create").count() == 3 and events("import.confirm").count() == 1


def test_every_bad_cell_is_named_by_row_and_column_and_nothing_is_saved(sec):
    filer = role_zh(Role.INSTITUTION_FILER)
    rows = [
        ("", "a_1", "", "", "平台镇卫生院", filer),  # row 2: no name
        ("甲", "a_2", "12345", "", "平台镇卫生院", filer),  # row 3: bad phone
        ("乙", "a_3", "", "not-mail", "平台镇卫生院", filer),  # row 4: bad e-mail
        ("丙", "dup", "", "", "平台镇卫生院", filer),  # row 5: same user name as row 6
        ("丁", "DUP", "", "", "平台镇卫生院", filer),  # row 6
        ("戊", "wy_staff", "", "", "平台镇卫生院", filer),  # row 7: an account of 万源市
        ("己", "a_7", "", "", "不存在卫生院", filer),  # row 8: unknown unit
        ("庚", "a_8", "", "", "市人民医院", filer),  # row 9: a unit of 万源市
        ("辛", "a_9", "", "", "平台镇卫生院", "院长"),  # row 10: unknown role
        ("壬", "a_10", "", "", "郁南县", role_zh(Role.PLATFORM_ADMIN)),  # row 11: not grantable by a county
        ("癸", "a_11", "", "", "平台镇卫生院", role_zh(Role.ALLIANCE_ADMIN)),  # row 12: not on an institution
        ("子", "bad name!", "", "", "平台镇卫生院", filer),  # row 13: not a user name
    ]
    client = client_for(sec.sec)
    before = (User.objects.count(), Grant.objects.count(), SecurityEvent.objects.count())
    response = upload(client, workbook(rows))
    assert response.status_code == 400
    assert response.context["token"] is None
    errors = response.context["plan"].errors
    expected = [
        cell_error(2, "A", "姓名", "the cell is empty; it is required."),
        cell_error(3, "C", "手机", "“%(value)s” is not a phone number: a mobile number has 11 digits (13800138000), a "
                                  "landline number begins with its area code (0766-7512345).", value="12345"),
        cell_error(4, "D", "邮箱", "“%(value)s” is not an e-mail address.", value="not-mail"),
        cell_error(5, "B", "用户名", "the user name %(name)s is on rows %(rows)s; each account takes one row.",
                   name="dup", rows="5、6"),
        cell_error(7, "B", "用户名", "The user name %(name)s is taken.", name="wy_staff"),
        cell_error(8, "E", "单位", "“%(value)s” is not a unit of %(county)s: write the county, an alliance or an "
                                  "institution as the portal names it (the list is on the template's 填写说明 sheet).",
                   value="不存在卫生院", county="郁南县"),
        cell_error(9, "E", "单位", "“%(value)s” is not a unit of %(county)s: write the county, an alliance or an "
                                  "institution as the portal names it (the list is on the template's 填写说明 sheet).",
                   value="市人民医院", county="郁南县"),
        cell_error(11, "F", "角色", "The role %(role)s is granted on a city or province.",
                   role=zh("Platform administrator")),
        cell_error(12, "F", "角色", "The role %(role)s cannot be granted on a %(scope)s.",
                   role=role_zh(Role.ALLIANCE_ADMIN), scope=zh("institution")),
    ]
    for message in expected:
        assert message in errors, (message, errors)
    from alliances.scoping import scope_of

    roles = "、".join(importer.official_role_labels(scope_of(sec.sec)))
    assert cell_error(10, "F", "角色", "“%(value)s” is not a role; the roles are: %(roles)s.", value="院长",
                      roles=roles) in errors
    assert any(e.startswith(cell_error(13, "B", "用户名", "")) for e in errors), errors
    page = body(response)
    assert "第一医共体" not in page or "市人民医院" in page  # the unit of 万源市 is only echoed, never described
    assert (User.objects.count(), Grant.objects.count(), SecurityEvent.objects.count()) == before


def test_a_file_that_is_not_a_workbook_is_refused(sec):
    client = client_for(sec.sec)
    response = upload(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, name="users.xls")
    assert response.status_code == 400 and ".xls" in body(response)
    response = upload(client, workbook([], headers=["序号", "备注"]))
    assert response.status_code == 400
    assert zh("No header row with “用户名” was found in the first %(n)s rows of “%(name)s”: start from the "
              "template.", n=10, name="users.xlsx") in body(response)


def test_a_csv_file_in_gb18030_is_read(sec):
    filer = role_zh(Role.INSTITUTION_FILER)
    text = f"姓名,用户名,手机,邮箱,单位,角色\n王五,wang_wu,13800000009,,平台镇卫生院,{filer}\n"
    response = upload(client_for(sec.sec), text.encode("gb18030"), name="users.csv")
    assert response.status_code == 200, body(response)[:2000]
    assert [r.username for r in response.context["plan"].rows] == ["wang_wu"]


def _rows(n: int, offset: int = 0):
    filer = role_zh(Role.INSTITUTION_FILER)
    units = ["平台镇卫生院", "桂圩镇卫生院", "第一医共体", "县人民医院"]
    return [(f"用户{i}", f"bulk_{offset + i}", f"138{i:08d}", "", units[i % 4],
             filer if units[i % 4] != "第一医共体" else role_zh(Role.ALLIANCE_ADMIN)) for i in range(n)]


def _existing(w, n: int, offset: int) -> None:
    """Accounts of the county the file will change (a new phone)."""
    for i in range(n):
        account = UserFactory(username=f"bulk_{offset + i}", county=w.yn, full_name=f"用户{i}")
        grant(account, Role.VIEWER, w.yn)


@pytest.fixture
def unbatched_sqlite(monkeypatch):
    """Django assumes SQLite's old limit of 999 variables a statement and splits a bulk insert into
    batches of 999 / (fields) rows; SQLite ≥ 3.32 takes 32766. With the real limit the count below
    measures what it should: no query per row (on PostgreSQL nothing is split)."""
    if connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 32):
        monkeypatch.setattr(connection.features, "max_query_params", 32766)


def _measure(sec, n: int, offset: int) -> tuple[int, int]:
    client = client_for(sec.sec)
    _existing(sec, n // 10, offset)  # a tenth of the rows change existing accounts
    content = workbook(_rows(n, offset))
    client.get(reverse("security:user_list"))  # the session exists before the measure
    with CaptureQueriesContext(connection) as preview_queries:
        response = upload(client, content)
    assert response.status_code == 200 and response.context["plan"].ok, response.context["plan"].errors[:3]
    with CaptureQueriesContext(connection) as confirm_queries:
        done = confirm(client, response)
    assert done.status_code == 200
    assert len(done.context["result"].created) == n - n // 10
    return len(preview_queries), len(confirm_queries)


def test_preview_and_confirm_cost_the_same_queries_for_30_and_300_rows(sec, unbatched_sqlite):
    small = _measure(sec, 30, 0)
    large = _measure(sec, 300, 1000)
    assert small == large, (small, large)
    assert User.objects.filter(username__startswith="bulk_").count() == 330
    assert events("import.confirm").count() == 2
    assert events("user.create").count() == 27 + 270 and events("user.edit").count() == 3 + 30


def test_rows_on_existing_accounts_meet_the_grant_rules_with_their_grants(sec, settings):
    settings.PORTAL_SEPARATE_DUTIES = True
    gone = UserFactory(username="yn_gone", county=sec.yn, is_active=False)
    grant(gone, Role.VIEWER, sec.yn)
    rows = [
        ("审计", "yn_auditor", "", "", "郁南县", role_zh(Role.VIEWER)),  # row 2: an auditor holds no other role
        ("停用者", "yn_gone", "", "", "平台镇卫生院", role_zh(Role.INSTITUTION_FILER)),  # row 3: deactivated
        ("本人", "yn_sec", "", "", "郁南县", role_zh(Role.SECURITY_ADMIN)),  # row 4: one's own account, renamed
    ]
    response = upload(client_for(sec.sec), workbook(rows))
    assert response.status_code == 400
    errors = response.context["plan"].errors
    assert cell_error(2, "F", "角色", "Separation of duties (三员分立): an auditor holds no other role.") in errors
    assert cell_error(3, "F", "角色", "This account is deactivated; reactivate it first.") in errors
    assert cell_error(4, "B", "用户名", "this is your own account: change your details under My account; another "
                                      "administrator changes your grants.") in errors
    assert [r.clean for r in response.context["plan"].rows] == [False, False, False]
    assert Grant.objects.filter(user__username__in=["yn_auditor", "yn_gone", "yn_sec"]).count() == 3


def test_a_confirmation_after_the_accounts_changed_or_a_cancel_saves_nothing(sec, good_rows):
    """The page on the shared flow (``core.imports.pages``): a preview the accounts no longer fit is
    refused at the confirmation (409, the reason on the upload page); a cancelled one is gone."""
    client = client_for(sec.sec)
    stale = upload(client, workbook(good_rows[:1]))
    User.objects.create(username="li_yi", county=sec.wy)
    refused = confirm(client, stale)
    assert refused.status_code == 409 and zh(
        "The accounts changed since the preview, or this file was imported already (a second click?). Nothing "
        "was saved by this confirmation. Look at the user list, and upload the file again if accounts are "
        "missing.") in refused.context["errors"]
    assert events("import.confirm").count() == 0 and confirm(client, stale).status_code == 409

    preview = upload(client, workbook(good_rows[1:2]))
    cancelled = client.post(reverse("security:user_import_confirm"),
                            {"token": preview.context["token"], "county": sec.yn.pk, "cancel": "1"})
    assert cancelled.status_code == 302 and cancelled["Location"].startswith(reverse("security:user_import"))
    assert confirm(client, preview).status_code == 409 and not User.objects.filter(username="li_er").exists()
