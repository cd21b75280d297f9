"""The security log's events from the existing apps: every confirmed import (institution register with
its memberships, task ledger, filing template, alliance-wide workbook, budget, purchases, roster), a
filing unlocked, a quarterly table signed off, a whole identity number seen (page, API) and the
roster exported each write exactly one event, with the actor, the county, the target and details.

The log is not emptied between tests (its table is unmanaged): each test reads only the rows written
after its own mark, and sign-ins of the test clients are left out by event code."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook
from rest_framework.test import APIClient

from core import audit
from core.models import AuditChain, SecurityEvent
from tests.conftest import IDS, client_for

SH = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
E = audit.Event


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


class Log:
    """The events written after the mark (the chain's head when the mark was set)."""

    def __init__(self):
        self.mark()

    def mark(self) -> None:
        head = AuditChain.objects.filter(pk=1).first()
        self.seq = head.last_seq if head else 0

    def new(self, event: str | None = None) -> list[SecurityEvent]:
        qs = SecurityEvent.objects.filter(seq__gt=self.seq).order_by("seq")
        if event is not None:
            qs = qs.filter(event=event)
        return list(qs)

    def one(self, event: str) -> SecurityEvent:
        rows = self.new(event)
        assert len(rows) == 1, [(r.event, r.details) for r in rows]
        assert [r.event for r in self.new() if r.event != E.LOGIN] == [event], "one event per action"
        return rows[0]


@pytest.fixture
def log(db) -> Log:
    return Log()


def workbook(*rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=XLSX)


def assert_event(row: SecurityEvent, *, actor, county, target=None, **details) -> None:
    assert row.result == audit.SUCCESS
    assert (row.actor_id, row.actor_username) == (actor.pk, actor.username)
    assert row.county_id == county.pk
    assert row.address == "127.0.0.1"  # the request's, through the service
    if target is not None:
        assert (row.target_type, row.target_id) == (target._meta.label_lower, str(target.pk))
    for key, value in details.items():
        assert row.details.get(key) == value, (key, row.details)


# Imports -------------------------------------------------------------------------------------------

REGISTER_HEADER = ["序号", "机构名称", "简称", "机构类别", "所属卫生院", "统一社会信用代码", "床位数", "服务人口", "所属医共体",
                   "角色", "加入日期", "状态"]


def test_institution_register_import_confirmed_is_one_event(world, log):
    client = client_for(world.bureau)
    url = reverse("alliances:region_institutions_import", kwargs={"region_pk": world.yn.pk})
    content = workbook(["郁南县医疗卫生机构名册"], ["填报单位：郁南县卫生健康局"], REGISTER_HEADER,
                       [1, "河口中心卫生院", None, "中心卫生院", None, None, 40, 25000, "第一医共体", "成员单位", "2026-01-01"],
                       [2, "新建村卫生室", None, "村卫生站", "河口中心卫生院", None, None, 800])
    preview = client.post(url, {"file": upload(content, "名册.xlsx")})
    token = preview.context["token"]
    assert token and not log.new(E.IMPORT_CONFIRM)  # the preview is no event
    assert client.post(url, {"token": token}).status_code == 302
    row = log.one(E.IMPORT_CONFIRM)
    assert_event(row, actor=world.bureau, county=world.yn, target=world.yn, register="institutions",
                 file="名册.xlsx", rows=2, created=2, memberships=1)
    assert client.post(url, {"token": token}).status_code == 302  # a double click: told, no second event
    assert len(log.new(E.IMPORT_CONFIRM)) == 1


def test_ledger_import_confirmed_is_one_event(world, log):
    from tasks.models import Ledger

    client = client_for(world.bureau)
    url = reverse("tasks:ledger_import", kwargs={"region_pk": world.yn.pk})
    content = workbook(["郁南县2027年医共体重点任务清单"], ["文号：郁卫〔2027〕1号", None, "发文机关：郁南县卫生健康局", None, "年度：2027"],
                       ["重点任务", "主要内容", "责任单位", "完成时限"], ["一、深化改革"],
                       ["1．夯实管理责任", "1.1完善章程", "县人民医院", "12月底"], [None, "1.2建立例会制度", "县人民医院", "6月底"])
    preview = client.post(url, {"file": upload(content, "台账.xlsx")})
    assert preview.status_code == 200 and preview.context["token"], preview.context["errors"]
    assert client.post(url, {"token": preview.context["token"], "confirm": "1"}).status_code == 302
    ledger = Ledger.objects.get(county=world.yn, year=2027)
    assert_event(log.one(E.IMPORT_CONFIRM), actor=world.bureau, county=world.yn, target=ledger, register="ledger",
                 file="台账.xlsx", rows=2, created=2)


@pytest.fixture
def filing_world(world):
    from indicators.catalog import install_catalog, install_forms

    install_catalog()
    world.monthly = {form.code: form for form in install_forms(world.yn)}["MONTHLY_OPS"]
    return world


NOV_3 = datetime(2026, 11, 3, 9, 0, tzinfo=SH)


@time_machine.travel(NOV_3, tick=False)
def test_filing_template_upload_confirmed_is_one_event(filing_world, log):
    from core.periods import Period
    from indicators.services import filings

    w = filing_world
    filing = filings.open_filing(w.monthly, w.centre, Period.parse("2026-10"), user=w.filer)
    client = client_for(w.filer)
    book = load_workbook(io.BytesIO(client.get(reverse("indicators:excel_filing_template",
                                                       kwargs={"filing_pk": filing.pk})).content))
    ws = book.active
    rows = {ws.cell(row=r, column=7).value: r for r in range(5, ws.max_row + 1)}
    ws.cell(row=rows["OP_VISITS"], column=4).value = 8000
    ws.cell(row=rows["DISCHARGES"], column=4).value = 150
    buffer = io.BytesIO()
    book.save(buffer)
    url = reverse("indicators:excel_filing_upload", kwargs={"filing_pk": filing.pk})
    preview = client.post(url, {"file": upload(buffer.getvalue(), "平台镇卫生院10月.xlsx")})
    assert preview.context["token"], preview.context["errors"]
    assert client.post(url, {"token": preview.context["token"], "confirm": "1"}).status_code == 302
    assert_event(log.one(E.IMPORT_CONFIRM), actor=w.filer, county=w.yn, target=filing, register="filing",
                 file="平台镇卫生院10月.xlsx", rows=2)


@time_machine.travel(NOV_3, tick=False)
def test_alliance_workbook_upload_confirmed_is_one_event(filing_world, log):
    w = filing_world
    client = client_for(w.alliance_admin)
    kwargs = {"form_pk": w.monthly.pk, "alliance_pk": w.alliance_a.pk}
    template = reverse("indicators:excel_alliance_workbook", kwargs=kwargs) + "?period=2026-10"
    book = load_workbook(io.BytesIO(client.get(template).content))
    ws = book.active
    columns = {ws.cell(row=5, column=c).value: c for c in range(4, ws.max_column + 1)}
    rows = {ws.cell(row=r, column=3).value: r for r in range(6, ws.max_row + 1)}
    for institution in (w.hospital, w.centre):
        ws.cell(row=rows[institution.pk], column=columns["OP_VISITS"]).value = 8000
    buffer = io.BytesIO()
    book.save(buffer)
    url = reverse("indicators:excel_alliance_upload", kwargs=kwargs) + "?period=2026-10"
    preview = client.post(url, {"file": upload(buffer.getvalue(), "第一医共体10月.xlsx")})
    assert preview.context["token"], [i.text for i in preview.context["errors"]]
    assert client.post(url, {"token": preview.context["token"], "confirm": "1"}).status_code == 302
    assert_event(log.one(E.IMPORT_CONFIRM), actor=w.alliance_admin, county=w.yn, target=w.alliance_a,
                 register="alliance_workbook", file="第一医共体10月.xlsx", rows=2, figures=2, period="2026-10")


def test_budget_import_confirmed_is_one_event(world, log):
    from finance.models import Budget

    client = client_for(world.bureau)
    client.post(f"/finance/alliances/{world.alliance_a.pk}/budgets/new/", {"year": 2026})
    budget = Budget.objects.get(alliance=world.alliance_a, year=2026)
    book = load_workbook(io.BytesIO(client.get(f"/finance/budgets/{budget.pk}/export.xlsx").content))
    ws = book.active
    titles = {ws.cell(row=4, column=c).value: c for c in range(1, ws.max_column + 1)}
    lines = {ws.cell(row=r, column=1).value: r for r in range(5, ws.max_row + 1)}
    ws.cell(row=lines["医疗收入"], column=2, value=1000000)
    ws.cell(row=lines["医疗收入"], column=titles["县人民医院"], value=600000)
    ws.cell(row=lines["人员经费"], column=2, value=400000)
    buffer = io.BytesIO()
    book.save(buffer)
    assert client.post(f"/finance/budgets/{budget.pk}/import/",
                       {"file": upload(buffer.getvalue(), "预算.xlsx")}).status_code == 200
    assert client.post(f"/finance/budgets/{budget.pk}/import/confirm/").status_code == 302
    assert_event(log.one(E.IMPORT_CONFIRM), actor=world.bureau, county=world.yn, target=budget, register="budget",
                 file="预算.xlsx", rows=2, amounts=3)


def test_procurement_import_confirmed_is_one_event(world, log):
    client = client_for(world.alliance_admin)
    url = f"/finance/alliances/{world.alliance_a.pk}/procurement/import/"
    content = workbook(["第一医共体统一采购明细"], ["月份", "成员单位", "药品", "医用耗材", "设备", "其他货物和服务"],
                       ["2026年4月", "县人民医院", 1000, "2,000.50", None, None],
                       ["2026-05", "平台镇卫生院", None, None, 300000, None],
                       ["2026-05", "县人民医院", 10, None, None, None])
    assert client.post(url, {"file": upload(content, "采购明细.xlsx")}).status_code == 200
    assert client.post(url + "confirm/").status_code == 302
    assert_event(log.one(E.IMPORT_CONFIRM), actor=world.alliance_admin, county=world.yn, target=world.alliance_a,
                 register="procurement", file="采购明细.xlsx", rows=3, months=["2026-04", "2026-05"])
    client.post(url + "confirm/")  # nothing pending any more: no event
    assert len(log.new(E.IMPORT_CONFIRM)) == 1


def test_roster_import_confirmed_is_one_event(staffing_world, log):
    from staffing import identity

    w = staffing_world
    client = client_for(w.hr_county)
    body = "445322199001010" + "11"
    number = body + identity.check_digit(body)
    content = workbook(["姓名", "身份证号", "工作单位", "人员类别", "专业类别", "学历", "入职日期"],
                       ["黄新医", number, "县人民医院", "在编", "医师", "本科", "2021-08-01"],
                       ["李医生", IDS["doctor"], "县人民医院", "在编", "医师", "本科", "2010-07-01"])
    preview = client.post("/staffing/roster/import/", {"file": upload(content, "花名册.xlsx")})
    assert preview.status_code == 200, preview.context.get("errors")
    assert client.post("/staffing/roster/import/confirm/").status_code == 302
    row = log.one(E.IMPORT_CONFIRM)
    assert_event(row, actor=w.hr_county, county=w.yn, target=w.yn, register="roster", file="花名册.xlsx", created=1)
    assert row.details["rows"] == row.details["created"] + row.details["updated"]
    assert number not in str(row.details) and number not in row.target_repr


# Unlock, sign-off ----------------------------------------------------------------------------------

@time_machine.travel(NOV_3, tick=False)
def test_filing_unlock_on_the_page_and_through_the_api_are_one_event_each(filing_world, log):
    from core.periods import Period
    from indicators.models import Filing
    from indicators.services import filings

    w = filing_world
    filing = filings.open_filing(w.monthly, w.centre, Period.parse("2026-10"), user=w.filer)
    Filing.objects.filter(pk=filing.pk).update(status=Filing.Status.LOCKED)
    url = reverse("indicators:filing_unlock", kwargs={"filing_pk": filing.pk})
    client = client_for(w.bureau)
    client.post(url, {"reason": "", "version": 1})  # refused: no reason, no event
    client.post(url, {"reason": "医保数据口径调整，需更正", "version": 1})
    assert_event(log.one(E.FILING_UNLOCK), actor=w.bureau, county=w.yn, target=filing,
                 reason="医保数据口径调整，需更正", status_before="locked")
    client.post(url, {"reason": "再点一次", "version": 1})  # a stale version (double click): no event
    assert len(log.new(E.FILING_UNLOCK)) == 1

    Filing.objects.filter(pk=filing.pk).update(status=Filing.Status.APPROVED)
    log.mark()
    api = APIClient()
    api.force_authenticate(w.bureau)
    response = api.post(f"/api/filings/{filing.pk}/unlock/", {"version": 2, "reason": "更正床日数"}, format="json")
    assert response.status_code == 200, response.content
    assert_event(log.one(E.FILING_UNLOCK), actor=w.bureau, county=w.yn, target=filing, reason="更正床日数",
                 status_before="approved")


def test_quarterly_sign_off_is_one_event(ledger_world, log):
    from core.periods import Period
    from indicators.catalog import install_catalog, install_forms
    from reports import services
    from reports.models import Kind

    w = ledger_world
    install_catalog()
    install_forms(w.yn, first_period="2026-01")
    moment = datetime(2026, 10, 1, 8, 0, tzinfo=SH)
    quarterly, _created = services.create_report(Kind.QUARTERLY, w.yn, Period.parse("2026Q3"), now=moment)
    services.process(quarterly.pk, moment)
    log.mark()
    client = client_for(w.bureau)
    assert client.post(f"/reports/{quarterly.pk}/sign-off/", {"commentary": "同意报送"}).status_code == 302
    assert_event(log.one(E.REPORT_SIGNOFF), actor=w.bureau, county=w.yn, target=quarterly, version=2,
                 commentary="同意报送")
    client.post(f"/reports/{quarterly.pk}/sign-off/", {"commentary": "再签"})  # not a draft any more
    assert len(log.new(E.REPORT_SIGNOFF)) == 1


# Personal data -------------------------------------------------------------------------------------

def test_whole_identity_number_on_the_page_and_through_the_api_is_one_event_each(staffing_world, log):
    from staffing.models import IdentityView

    w = staffing_world
    client = client_for(w.hr_county)
    response = client.post(reverse("staffing:staff_identity", kwargs={"staff_pk": w.doctor.pk}))
    assert IDS["doctor"] in response.content.decode()
    assert_event(log.one(E.IDENTITY_VIEW), actor=w.hr_county, county=w.yn, target=w.doctor, channel="page")
    assert IDS["doctor"] not in str(log.one(E.IDENTITY_VIEW).details)

    log.mark()
    api = APIClient()
    api.force_authenticate(w.hr_county)
    assert api.get(f"/api/staff/{w.nurse.pk}/identity/").json()["identity_number"] == IDS["nurse"]
    assert_event(log.one(E.IDENTITY_VIEW), actor=w.hr_county, county=w.yn, target=w.nurse, channel="api")
    # The staffing log of views is kept as it was.
    assert IdentityView.objects.filter(staff=w.doctor, channel="page").count() == 1
    assert IdentityView.objects.filter(staff=w.nurse, channel="api").count() == 1

    # Who may not see the number gets 403 and writes nothing.
    log.mark()
    other = APIClient()
    other.force_authenticate(w.bureau)
    assert other.get(f"/api/staff/{w.nurse.pk}/identity/").status_code == 403
    assert not log.new(E.IDENTITY_VIEW)


def test_roster_export_is_one_personal_data_event(staffing_world, log):
    from staffing.models import IdentityView

    w = staffing_world
    response = client_for(w.hr_alliance).get(reverse("staffing:roster_export"))
    assert response.status_code == 200
    # 第一医共体's HR officer: its four people, all numbers whole (the hospital, the centre, the clinic).
    row = log.one(E.EXPORT_PERSONAL)
    assert_event(row, actor=w.hr_alliance, county=w.yn, register="roster", rows=4, full_identity_numbers=4)
    assert IdentityView.objects.filter(channel="export", user=w.hr_alliance).count() == 4

    log.mark()
    assert client_for(w.bureau).get(reverse("staffing:roster_export")).status_code == 200  # masked numbers
    row = log.one(E.EXPORT_PERSONAL)
    assert_event(row, actor=w.bureau, county=w.yn, register="roster", rows=4, full_identity_numbers=0)
