"""Reports that go out by themselves: when they are due (Asia/Shanghai), exactly once, catch-up,
recovery from a dead worker, SMTP retries, the quarterly sign-off, the workbook's layout.

The world is ``ledger_world`` (郁南县: alliances 第一 and 第三, a ledger of three items made 1 June
2026) with the shipped forms from 2026-01 and e-mail addresses for the bureau, the supervisor, the
alliance office, the centre's filer and the city. At 2026-12-05 08:00 the ledger stands:

- 1.1 (fan-out to both alliances, due 30 June; 县财政局 cooperating): overdue 158 days for each alliance;
- 1.2 县人民医院, due 31 December: on track (26 days left, more than the 7 of "due soon");
- 2.1 县卫生健康局, continuous.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal as D
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from openpyxl import load_workbook

from core import workbook as book
from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from reports import jobs, services
from reports.models import Delivery, Kind, RecipientList, Report, ReportLog, ReportVersion
from tests.mail import FlakyBackend
from tests.test_indicators_engine import file_values

SH = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
DEC_5_0800 = datetime(2026, 12, 5, 8, 0, tzinfo=SH)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def sweep_at(moment: datetime) -> dict:
    """The beat's job, run with the clock at ``moment``."""
    with time_machine.travel(moment, tick=False):
        return jobs.sweep()


@pytest.fixture
def rworld(ledger_world, settings):
    w = ledger_world
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    install_catalog()
    w.forms = {form.code: form for form in install_forms(w.yn, first_period="2026-01")}
    w.monthly_form = w.forms["MONTHLY_OPS"]
    for user, address in ((w.bureau_admin, "admin@yn.example.org"), (w.bureau, "staff@yn.example.org"),
                          (w.supervisor, "supervisor@yn.example.org"), (w.alliance_admin, "gt1@yn.example.org"),
                          (w.city, "city@yf.example.org"), (w.filer, "centre@yn.example.org")):
        user.email = address
        user.save(update_fields=["email"])
    return w


def reports(kind=Kind.MONTHLY, period=None, county="445322"):
    """郁南县's reports (万源市 of the world has its own)."""
    qs = Report.objects.filter(kind=kind, county__code=county)
    if period:
        qs = qs.filter(period=period)
    return qs


def outbox_to(address: str, subject: str = "") -> list:
    return [m for m in mail.outbox if address in m.to and subject in m.subject]


NOV_TABLE = "郁南县紧密型县域医共体进度监测表（2026年11月）"


# When ---------------------------------------------------------------------------------------

def test_0759_on_the_5th_nothing_at_0800_the_tables_go_out(rworld):
    w = rworld
    assert DEC_5_0800.astimezone(UTC) == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai is 00:00 UTC
    sweep_at(at("2026-12-05T07:59:59"))
    assert not reports(period="2026-11").exists()
    assert mail.outbox == [] or all("2026年11月" not in m.subject for m in mail.outbox)

    result = sweep_at(datetime(2026, 12, 5, 0, 0, tzinfo=UTC))
    monthly = {r.scope_key: r for r in reports(period="2026-11")}
    assert set(monthly) == {f"county:{w.yn.pk}", f"alliance:{w.alliance_a.pk}", f"alliance:{w.alliance_b.pk}"}
    assert {r.state for r in monthly.values()} == {Report.State.SENT}
    assert not any(r.late for r in monthly.values())
    assert result["sent"] >= 4
    county = monthly[f"county:{w.yn.pk}"]
    assert county.title == "郁南县紧密型县域医共体进度监测表（2026年11月）"
    # The county's table to the bureau and the supervisor; the alliance's to its office.
    to = {d.email for d in county.deliveries.all()}
    assert to == {"admin@yn.example.org", "staff@yn.example.org", "supervisor@yn.example.org"}
    assert {d.email for d in monthly[f"alliance:{w.alliance_a.pk}"].deliveries.all()} == {"gt1@yn.example.org"}
    message = outbox_to("supervisor@yn.example.org")[0]
    assert message.subject == "【医共体治理门户】郁南县紧密型县域医共体进度监测表（2026年11月）"
    (name, content, mimetype), = message.attachments
    assert name.endswith(".xlsx") and content == bytes(county.versions.get().xlsx)
    # 万源市 has its own tables, to its own bureau: 郁南县's people get none of them.
    wanyuan = reports(period="2026-11", county="511781").get(alliance=None)
    assert wanyuan.title == "万源市紧密型县域医共体进度监测表（2026年11月）"
    assert not wanyuan.deliveries.filter(email__endswith="yn.example.org").exists()


def test_december_goes_out_in_january(rworld):
    sweep_at(at("2027-01-05T08:00"))
    report = reports(period="2026-12").get(alliance=None)
    assert report.title == "郁南县紧密型县域医共体进度监测表（2026年12月）"
    assert report.due_at == at("2027-01-05T08:00") and report.state == Report.State.SENT
    assert not reports(period="2027-01").exists()


def test_the_quarter_boundary_drafts_the_quarterly_table_which_waits_for_sign_off(rworld):
    sweep_at(at("2026-09-30T23:59"))
    assert not reports(Kind.QUARTERLY).exists()
    sweep_at(at("2026-10-01T08:00"))
    quarterly = reports(Kind.QUARTERLY).get()
    assert quarterly.period == "2026Q3" and quarterly.title == "郁南县紧密型县域医共体季度评价指标表（2026年第三季度）"
    assert quarterly.state == Report.State.READY  # a draft: not sent before the bureau signs it off
    assert quarterly.deadline == at("2026-10-06T00:00")
    assert not quarterly.deliveries.exists()
    assert not reports(period="2026-09").exists()  # September's 进度监测表 waits for 5 October
    sweep_at(at("2026-10-02T12:00"))
    quarterly.refresh_from_db()
    assert quarterly.state == Report.State.READY and not quarterly.deliveries.exists()


def test_quarterly_goes_to_the_city_and_configured_addresses_only_after_sign_off(rworld, as_user):
    w = rworld
    RecipientList.objects.create(county=w.yn, kind=Kind.QUARTERLY, roles=["city", "bureau_admin"],
                                 emails="sxwjj@yf.example.org\nadmin@yn.example.org")
    sweep_at(at("2026-10-01T08:00"))
    quarterly = reports(Kind.QUARTERLY).get()
    assert mail.outbox == [] or not any("季度评价" in m.subject for m in mail.outbox)

    client = as_user(w.bureau)
    with time_machine.travel(at("2026-10-02T09:30"), tick=False):
        response = client.post(f"/reports/{quarterly.pk}/sign-off/", {"commentary": "同意上报，请第三医共体加强签约服务。"})
    assert response.status_code == 302
    quarterly.refresh_from_db()
    assert quarterly.signed_off_by == w.bureau
    assert quarterly.commentary == "同意上报，请第三医共体加强签约服务。"
    # The sign-off kicked a job; without a worker here the next sweep sends it.
    sweep_at(at("2026-10-02T09:35"))
    quarterly.refresh_from_db()
    assert quarterly.state == Report.State.SENT and not quarterly.late
    got = {d.email for d in quarterly.deliveries.all()}
    assert got == {"city@yf.example.org", "admin@yn.example.org", "sxwjj@yf.example.org"}
    # The city's user once, the configured address that is the admin's own address once.
    assert len(outbox_to("admin@yn.example.org")) == 1
    message = outbox_to("sxwjj@yf.example.org")[0]
    assert "同意上报，请第三医共体加强签约服务。" in message.body
    workbook = load_workbook(BytesIO(message.attachments[0][1]))
    review = workbook["审核意见"]
    assert review["B1"].value == "同意上报，请第三医共体加强签约服务。"
    assert review["B2"].value == w.bureau.display_name
    assert quarterly.versions.count() == 2  # the draft and the signed version


def test_the_draft_is_made_again_when_the_quarters_filings_are_complete(rworld):
    from indicators.selectors import filers_by_form

    w = rworld
    sweep_at(at("2026-10-01T08:00"))
    quarterly = reports(Kind.QUARTERLY).get()
    draft = quarterly.versions.get().data
    assert draft["filings_filed"] < draft["filings_expected"]
    from indicators.catalog import DERIVED_FORMS

    # The staffing forms are filed by the portal itself: they do not hold the draft back.
    forms = [f for f in w.forms.values() if f.filer_level == "institution" and f.code not in DERIVED_FORMS]
    filers = filers_by_form(forms)
    expected = 0
    for form in forms:
        periods = Period.parse("2026Q3").subperiods(form.kind)
        for institution in filers[form.pk]:
            for period in periods:
                file_values(form, institution, period, {"OP_VISITS": 100} if form.code == "MONTHLY_OPS" else {})
        expected += len(filers[form.pk]) * len(periods)
    assert draft["filings_expected"] == expected
    sweep_at(at("2026-10-02T09:00"))
    quarterly.refresh_from_db()
    assert quarterly.state == Report.State.READY and quarterly.versions.count() == 2
    latest = quarterly.versions.order_by("-number").first().data
    assert latest["filings_filed"] == latest["filings_expected"] == expected
    assert quarterly.log.filter(event="regenerate").get().note == f"本季度填报已齐全（{expected}份）：已重新生成草稿"
    sweep_at(at("2026-10-02T09:05"))
    assert quarterly.versions.count() == 2  # complete now: not drafted again


def test_supervisors_are_alerted_once_when_not_signed_off_by_the_3rd(rworld):
    sweep_at(at("2026-10-01T08:00"))
    sweep_at(at("2026-10-03T07:59"))
    assert not reports(Kind.SIGNOFF_ALERT).exists()
    sweep_at(at("2026-10-03T08:00"))
    alert = reports(Kind.SIGNOFF_ALERT).get()
    assert alert.state == Report.State.SENT
    assert {d.email for d in alert.deliveries.all()} == {"supervisor@yn.example.org", "admin@yn.example.org"}
    assert "待签发" in outbox_to("supervisor@yn.example.org")[-1].subject
    sweep_at(at("2026-10-03T08:05"))
    sweep_at(at("2026-10-04T08:00"))
    assert reports(Kind.SIGNOFF_ALERT).count() == 1
    assert len([m for m in outbox_to("supervisor@yn.example.org") if "待签发" in m.subject]) == 1


def test_signed_off_before_the_3rd_no_alert(rworld):
    w = rworld
    sweep_at(at("2026-10-01T08:00"))
    quarterly = reports(Kind.QUARTERLY).get()
    assert services.sign_off(quarterly, user=w.bureau_admin, commentary="", now=at("2026-10-02T10:00"))
    sweep_at(at("2026-10-03T08:00"))
    assert not reports(Kind.SIGNOFF_ALERT).exists()


def test_signed_off_after_the_5th_is_sent_marked_late(rworld):
    w = rworld
    sweep_at(at("2026-10-01T08:00"))
    quarterly = reports(Kind.QUARTERLY).get()
    services.sign_off(quarterly, user=w.bureau_admin, commentary="", now=at("2026-10-06T09:00"))
    sweep_at(at("2026-10-06T09:05"))
    quarterly.refresh_from_db()
    assert quarterly.state == Report.State.SENT and quarterly.late
    assert quarterly.log.filter(delivery=None).get(event="sent").note == "全部接收人已送达；晚于截止时间2026-10-06 00:00"


# Catch-up and exactly once ------------------------------------------------------------------------

def test_a_5th_missed_while_the_scheduler_was_down_goes_out_on_return_marked_late(rworld):
    sweep_at(at("2026-12-04T08:00"))  # the last sweep before the scheduler went down
    assert not reports(period="2026-11").exists()
    sweep_at(at("2026-12-07T10:15"))  # back two days later
    county = reports(period="2026-11").get(alliance=None)
    assert county.state == Report.State.SENT and county.late
    created = county.log.get(event="created")
    assert created.at == at("2026-12-07T10:15")
    assert created.note == "应于2026-12-05 08:00发送；补发（应发时调度或后台任务未运行）"
    assert "本报表为补发（应于2026-12-05 08:00发送）。" in outbox_to("admin@yn.example.org", NOV_TABLE)[0].body


def test_the_job_run_twice_sends_nothing_twice(rworld):
    sweep_at(DEC_5_0800)
    sent = len(mail.outbox)
    versions = ReportVersion.objects.count()
    second = sweep_at(DEC_5_0800 + timedelta(seconds=1))
    assert second["created"] == 0 and second["generated"] == 0 and second["sent"] == 0
    assert len(mail.outbox) == sent and ReportVersion.objects.count() == versions


def test_a_worker_killed_while_generating_is_recovered_after_the_timeout(rworld):
    sweep_at(at("2026-12-04T08:00"))
    services.ensure_due(DEC_5_0800, since=DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    # A worker claims the report, then dies before it has a version.
    assert services.claim_for_generation(county.pk, DEC_5_0800)
    county.refresh_from_db()
    assert county.state == Report.State.GENERATING
    sweep_at(DEC_5_0800 + timedelta(minutes=5))  # within the timeout: left alone
    county.refresh_from_db()
    assert county.state == Report.State.GENERATING and not county.deliveries.exists()
    sweep_at(DEC_5_0800 + timedelta(minutes=15))
    county.refresh_from_db()
    assert county.state == Report.State.SENT and county.versions.count() == 1
    assert county.log.filter(event="recovered").count() == 1
    assert len(outbox_to("admin@yn.example.org", NOV_TABLE)) == 1


def test_a_worker_killed_between_generating_and_sending_sends_once(rworld):
    services.ensure_due(DEC_5_0800, since=DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    assert services.generate(county.pk, DEC_5_0800)  # generated, then the worker died
    county.refresh_from_db()
    assert county.state == Report.State.READY and not county.deliveries.exists()
    sweep_at(DEC_5_0800 + timedelta(minutes=5))
    county.refresh_from_db()
    assert county.state == Report.State.SENT and county.versions.count() == 1
    assert len(outbox_to("admin@yn.example.org", NOV_TABLE)) == 1


def test_a_worker_killed_while_sending_one_delivery_is_requeued_after_the_timeout(rworld):
    services.ensure_due(DEC_5_0800, since=DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    services.generate(county.pk, DEC_5_0800)
    services.queue_ready(DEC_5_0800)
    delivery = county.deliveries.get(email="admin@yn.example.org")
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.SENDING, claimed_at=DEC_5_0800, attempts=1)
    sweep_at(DEC_5_0800 + timedelta(minutes=1))
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENDING  # still within the timeout
    county.refresh_from_db()
    assert county.state == Report.State.SENDING
    sweep_at(DEC_5_0800 + timedelta(minutes=10))
    delivery.refresh_from_db()
    county.refresh_from_db()
    assert delivery.state == Delivery.State.SENT and delivery.attempts == 2
    assert county.state == Report.State.SENT


def test_smtp_down_then_up_retries_with_backoff_per_recipient(rworld, settings):
    settings.EMAIL_BACKEND = "tests.mail.FlakyBackend"
    FlakyBackend.down = True
    try:
        sweep_at(DEC_5_0800)
        county = reports(period="2026-11").get(alliance=None)
        assert county.state == Report.State.SENDING
        admin = county.deliveries.get(email="admin@yn.example.org")
        assert admin.state == Delivery.State.QUEUED and admin.attempts == 1
        assert "SMTPServerDisconnected" in admin.last_error
        assert admin.next_attempt_at == DEC_5_0800 + timedelta(minutes=1)
        assert ReportLog.objects.filter(delivery=admin, event="retry").count() == 1
        sweep_at(DEC_5_0800 + timedelta(minutes=1))  # still down: second attempt, next in 5 minutes
        admin.refresh_from_db()
        assert admin.attempts == 2 and admin.next_attempt_at == DEC_5_0800 + timedelta(minutes=6)
        FlakyBackend.down = False
        sweep_at(DEC_5_0800 + timedelta(minutes=3))  # up, but the backoff has not elapsed
        admin.refresh_from_db()
        assert admin.state == Delivery.State.QUEUED and mail.outbox == []
        sweep_at(DEC_5_0800 + timedelta(minutes=6))
        admin.refresh_from_db()
        county.refresh_from_db()
        assert admin.state == Delivery.State.SENT and admin.attempts == 3 and admin.last_error == ""
        assert county.state == Report.State.SENT
        assert len(outbox_to("admin@yn.example.org")) == 1
        assert list(ReportLog.objects.filter(delivery=admin).values_list("event", flat=True)) == [
            "retry", "retry", "sent"]
    finally:
        FlakyBackend.down = False


def test_a_delivery_that_keeps_failing_fails_the_report_and_can_be_resent(rworld, settings, as_user):
    w = rworld
    settings.EMAIL_BACKEND = "tests.mail.FlakyBackend"
    FlakyBackend.down = True
    try:
        moment = DEC_5_0800
        for _attempt in range(services.MAX_SEND_ATTEMPTS):
            sweep_at(moment)
            moment += timedelta(hours=4)
        county = reports(period="2026-11").get(alliance=None)
        admin = county.deliveries.get(email="admin@yn.example.org")
        assert admin.state == Delivery.State.FAILED and admin.attempts == services.MAX_SEND_ATTEMPTS
        assert county.state == Report.State.FAILED
        assert mail.outbox == []
        FlakyBackend.down = False
        client = as_user(w.bureau)
        with time_machine.travel(moment, tick=False):
            assert client.post(f"/reports/{county.pk}/deliveries/{admin.pk}/resend/").status_code == 302
        sweep_at(moment + timedelta(seconds=30))
        admin.refresh_from_db()
        county.refresh_from_db()
        assert admin.state == Delivery.State.SENT
        assert [m.to for m in mail.outbox if m.subject.endswith(NOV_TABLE)] == [["admin@yn.example.org"]]
        assert county.state == Report.State.FAILED  # the staff's and the supervisor's still failed
        for other in county.deliveries.filter(state=Delivery.State.FAILED):
            services.resend(other, user=w.bureau, now=moment + timedelta(minutes=1))
        sweep_at(moment + timedelta(minutes=2))
        county.refresh_from_db()
        assert county.state == Report.State.SENT
        assert sorted(m.to[0] for m in mail.outbox if m.subject.endswith(NOV_TABLE)) == [
            "admin@yn.example.org", "staff@yn.example.org", "supervisor@yn.example.org"]
    finally:
        FlakyBackend.down = False


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_message_once(ledger_world, settings):
    w = ledger_world
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for user, address in ((w.bureau_admin, "admin@yn.example.org"), (w.bureau, "staff@yn.example.org"),
                          (w.supervisor, "supervisor@yn.example.org"), (w.alliance_admin, "gt1@yn.example.org")):
        user.email = address
        user.save(update_fields=["email"])
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            services.sweep(DEC_5_0800)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # On SQLite (one writer) the sweep that loses a race can stop with "database is locked", leaving a
    # report it had claimed: like a killed worker's, it is recovered after the timeout.
    services.sweep(DEC_5_0800 + timedelta(minutes=15))
    assert Report.objects.filter(kind=Kind.MONTHLY, period="2026-11", county=w.yn).count() == 3
    for address in ("admin@yn.example.org", "staff@yn.example.org", "supervisor@yn.example.org",
                    "gt1@yn.example.org"):
        assert len([m for m in mail.outbox if address in m.to and "2026年11月" in m.subject
                    and "进度监测表" in m.subject]) == 1, address
    assert ReportVersion.objects.filter(report__period="2026-11", report__kind=Kind.MONTHLY,
                                        report__county=w.yn).count() == 3
    if connection.vendor == "postgresql":
        assert errors == []


# Content ------------------------------------------------------------------------------------

def test_the_monthly_workbook_in_the_official_layout(rworld):
    w = rworld
    file_values(w.monthly_form, w.centre, Period.parse("2026-11"), {"OP_VISITS": 3000})
    sweep_at(DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    data = county.versions.get().data
    summary = data["summary"]
    assert summary["items"] == 3
    overdue = {(r["number"], r["unit"]): r["days_late"] for r in data["overdue"]}
    assert overdue[("1.1", "第一医共体")] == 158 and overdue[("1.1", "第三医共体")] == 158
    wb = load_workbook(BytesIO(bytes(county.versions.get().xlsx)))
    assert wb.sheetnames == ["进度监测表", "逾期任务", "任务进展明细", "填报完整性", "重点指标"]
    ws = wb["进度监测表"]
    assert ws["A1"].value == "郁南县紧密型县域医共体进度监测表（2026年11月）"
    assert "A1:M1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A2"].value == "填报单位：郁南县卫生健康局"
    assert ws["E3"].value == "完成情况（责任单位数）" and "E3:J3" in {str(r) for r in ws.merged_cells.ranges}
    assert [ws.cell(row=4, column=c).value for c in range(5, 14)] == [
        "已完成", "推进中", "临期", "逾期", "未启动", "持续推进", "红灯", "黄灯", "蓝灯"]
    total_row = next(r for r in range(5, ws.max_row + 1) if ws.cell(row=r, column=1).value == "合计")
    assert ws.cell(row=total_row, column=3).value == 3
    assert ws.cell(row=total_row, column=8).value == summary["overdue"] >= 2
    footer = [ws.cell(row=ws.max_row, column=c).value for c in range(1, 14)]
    assert "填报单位（盖章）：" in footer and "审核人：" in footer and any(
        str(v).startswith("日期：2026年12月5日") for v in footer if v)
    assert ws.print_title_rows == "$3:$4" or ws.print_title_rows == "3:4"
    # Filing completeness of November: 平台镇卫生院 filed, the other filers of the monthly form did not.
    filing = {r["form"]: r for r in data["completeness"]}[w.monthly_form.name]
    assert filing["filed"] == 1 and "平台镇卫生院" not in filing["missing_names"]
    assert "桂圩镇卫生院" in filing["missing_names"]
    # The alliance's table keeps to its units.
    alliance_b = reports(period="2026-11").get(alliance=w.alliance_b).versions.get().data
    assert {r["unit"] for r in alliance_b["overdue"]} == {"第三医共体"}
    assert all(r["number"] != "1.2" for r in alliance_b["items"])  # 县人民医院 is in 第一医共体


def test_the_monthly_workbook_merges_repeated_actions_and_fits_its_rows(rworld):
    """The 行动 and 重点任务 of consecutive items are one merged cell each (value on top), and every row
    of the tables is at least as tall as its wrapped text (issue 17: the printed 行动 column overlapped
    itself)."""
    sweep_at(DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    data = county.versions.get().data
    wb = load_workbook(BytesIO(bytes(county.versions.get().xlsx)))
    ws = wb["任务进展明细"]
    first = 4  # one header row
    actions = [r["action"] for r in data["items"]]
    assert actions[:2] == ["一、深化改革", "一、深化改革"] and actions[2] != actions[0]
    ranges = {str(r) for r in ws.merged_cells.ranges}
    assert f"A{first}:A{first + 1}" in ranges and f"B{first}:B{first + 1}" in ranges
    assert ws.cell(row=first, column=1).value == "一、深化改革" and ws.cell(row=first + 1, column=1).value is None
    assert ws.cell(row=first + 2, column=1).value == actions[2]
    for sheet in wb.worksheets:
        if sheet.title == "图表数据":
            continue
        widths = book.column_widths(sheet, sheet.max_column)
        spans = {(r.min_row, r.min_col): r for r in sheet.merged_cells.ranges}
        for row in sheet.iter_rows(min_row=3):
            for c in row:
                if not isinstance(c.value, str) or not c.alignment.wrap_text:
                    continue
                span = spans.get((c.row, c.column))
                width = (sum(widths[k] for k in range(span.min_col, span.max_col + 1)) if span
                         else widths[c.column])
                rows = range(c.row, (span.max_row if span else c.row) + 1)
                height = sum(sheet.row_dimensions[r].height or 15 for r in rows)
                needed = book.lines_height(book.wrapped_lines(c.value, width, size=c.font.sz))
                assert height >= needed - 0.5, (sheet.title, c.coordinate, c.value)


def test_regenerate_keeps_the_old_version_and_resend_reaches_one_recipient(rworld, as_user):
    w = rworld
    sweep_at(DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    client = as_user(w.bureau)
    later = DEC_5_0800 + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        assert client.post(f"/reports/{county.pk}/regenerate/").status_code == 302
    sweep_at(later + timedelta(minutes=1))
    county.refresh_from_db()
    assert list(county.versions.values_list("number", flat=True)) == [2, 1]
    assert county.state == Report.State.SENT  # a new version of a sent table is not sent by itself
    before = len(mail.outbox)
    first = county.versions.get(number=1)
    response = client.get(f"/reports/versions/{first.pk}.xlsx")
    assert response.status_code == 200 and response.content == bytes(first.xlsx)
    admin = county.deliveries.get(email="admin@yn.example.org")
    with time_machine.travel(later + timedelta(minutes=2), tick=False):
        client.post(f"/reports/{county.pk}/deliveries/{admin.pk}/resend/")
    sweep_at(later + timedelta(minutes=3))
    assert len(mail.outbox) == before + 1 and mail.outbox[-1].to == ["admin@yn.example.org"]
    admin.refresh_from_db()
    assert admin.version.number == 2 and admin.state == Delivery.State.SENT


def test_filing_reminders_on_the_1st_and_3rd_then_the_late_list(rworld):
    w = rworld
    file_values(w.monthly_form, w.centre, Period.parse("2026-11"), {"OP_VISITS": 3000})
    sweep_at(at("2026-12-01T08:00"))
    reminder = reports(Kind.REMINDER).get(edition=1)
    assert reminder.period == "2026-11" and reminder.state == Report.State.SENT
    missing = {r["institution"] for r in reminder.versions.get().data["rows"] if r["form"] == w.monthly_form.name}
    assert "平台镇卫生院" not in missing and {"桂圩镇卫生院", "通门镇卫生院"} <= missing
    # The alliance office files for its members: told of 桂圩镇卫生院, not of 通门镇卫生院 (第三医共体).
    office = reminder.deliveries.get(user=w.alliance_admin)
    assert "桂圩镇卫生院" in office.message and "通门镇卫生院" not in office.message
    # 平台镇卫生院 has filed its 运行监测月报, not its 财务支出月报: told of that one only.
    own = reminder.deliveries.get(user=w.filer)
    assert "医共体成员单位财务支出月报" in own.message and "运行监测月报" not in own.message
    file_values(w.forms["FINANCE_EXPENSE"], w.centre, Period.parse("2026-11"), {"EXP_IT": 0})
    sweep_at(at("2026-12-03T08:00"))
    assert set(reports(Kind.REMINDER).values_list("edition", flat=True)) == {1, 3}
    assert not reports(Kind.REMINDER).get(edition=3).deliveries.filter(user=w.filer).exists()  # filed both
    sweep_at(at("2026-12-05T08:00"))
    assert not reports(Kind.LATE).exists()  # due today: not late yet
    sweep_at(at("2026-12-06T08:00"))
    late = {r.scope_key: r for r in reports(Kind.LATE)}
    assert set(late) == {f"county:{w.yn.pk}", f"alliance:{w.alliance_a.pk}", f"alliance:{w.alliance_b.pk}"}
    rows = late[f"alliance:{w.alliance_a.pk}"].versions.get().data["rows"]
    assert {r["institution"] for r in rows if r["form"] == w.monthly_form.name} >= {"桂圩镇卫生院"}
    assert all(r["alliance"] == "第一医共体" for r in rows)
    assert {d.email for d in late[f"county:{w.yn.pk}"].deliveries.all()} == {"admin@yn.example.org",
                                                                               "staff@yn.example.org"}


def test_generate_now_command_and_due_list(rworld, capsys):
    from django.core.management import call_command

    with time_machine.travel(at("2026-12-04T09:00"), tick=False):
        jobs.sweep()  # the scheduler runs from here on
        call_command("reports_due")
        assert capsys.readouterr().out == "Nothing due is unsent.\n"
        call_command("report_generate", "monthly", "445322", "2026-11")  # before its day, on request
        assert capsys.readouterr().out.startswith(NOV_TABLE + ": 已发送 (v1)")
    county = reports(period="2026-11").get()
    assert county.state == Report.State.SENT and county.versions.count() == 1
    assert len(outbox_to("admin@yn.example.org", NOV_TABLE)) == 1
    with time_machine.travel(at("2026-12-05T08:00"), tick=False):
        call_command("reports_due")
        out = capsys.readouterr().out
        assert "(not made) 未生成 第一医共体进度监测表（2026年11月）" in out  # the alliances' are due, not made
        assert NOV_TABLE not in out
        call_command("reports_catch_up")
        capsys.readouterr()
        call_command("reports_due")
        assert "2026年11月" not in capsys.readouterr().out
    assert len(outbox_to("admin@yn.example.org", NOV_TABLE)) == 1  # made on request: not sent twice
    # Generating an existing report makes a new version.
    with time_machine.travel(at("2026-12-05T09:00"), tick=False):
        call_command("report_generate", "monthly", "445322", "2026-11")
    assert county.versions.count() == 2


def test_the_semi_annual_financial_analysis_goes_to_each_alliance_on_the_15th(rworld, as_user):
    """2026H1 of 第一医共体: an approved budget (医疗收入 1,200,000), 县人民医院 filed 100,000 a month for
    January–June (600,000 = 50 %; July's figure is not the half's), of it 30,000 drugs and 10,000 each
    materials, exams and tests: its technical labour share (A4_26) is 40 %. The charts: 医疗收入 50 % beside 时间进度 50 % (6 of 12 months);
    on the printable page a bar of 50/150 = 33 % of the width."""
    from finance.models import Budget, BudgetAmount

    w = rworld
    w.alliance_admin.email = "gt1@yn.example.org"
    budget = Budget.objects.create(alliance=w.alliance_a, year=2026, number=1, state=Budget.State.APPROVED,
                                   created_at=at("2026-01-10T09:00"))
    BudgetAmount.objects.create(budget=budget, line="MED", amount=D("1200000"))
    for month in range(1, 8):
        file_values(w.monthly_form, w.hospital, Period.month(2026, month), {"MED_REVENUE": 100000,
                                                                           "DRUG_REVENUE": 30000, "CONSUMABLE_REVENUE": 10000,
                                                                           "EXAM_REVENUE": 10000, "LAB_REVENUE": 10000})
    sweep_at(at("2026-07-15T07:59"))
    assert not reports(Kind.FINANCE_HALF).exists()
    sweep_at(at("2026-07-15T08:00"))
    half = reports(Kind.FINANCE_HALF).get(alliance=w.alliance_a)
    assert half.title == "第一医共体2026年上半年财务分析" and half.period == "2026H1"
    assert half.state == Report.State.SENT
    assert reports(Kind.FINANCE_HALF).count() == 2  # one per alliance of 郁南县
    data = half.versions.get().data
    med = next(r for r in data["execution"] if r["line"] == "医疗收入")
    assert (med["budget"], med["actual"], med["rate"], data["months"]) == ("1,200,000.00", "600,000.00", "50.00%", 6)
    assert {i["name"] for i in data["indicators"]} >= {"牵头医院技术劳务性收入占医疗收入比例"}
    assert {d.email for d in half.deliveries.all()} == {"gt1@yn.example.org", "admin@yn.example.org",
                                                         "staff@yn.example.org"}
    workbook = load_workbook(BytesIO(bytes(half.versions.get().xlsx)))
    assert workbook.sheetnames == ["预算执行", "医保总额", "收入结构指标", "图表数据"]
    assert workbook["预算执行"]["A1"].value == "第一医共体2026年上半年财务分析"
    assert len(workbook["预算执行"]._charts) == 1 and len(workbook["收入结构指标"]._charts) == 1
    chart_rows = [[c.value for c in row] for row in workbook["图表数据"].iter_rows()]
    assert chart_rows[0][0] == "预算执行率与时间进度" and chart_rows[1][:3] == ["项目", "执行率（%）", "时间进度（%）"]
    assert chart_rows[2][:3] == ["医疗收入", 50, 50]
    labour = next(row for row in chart_rows if row[0] == "牵头医院技术劳务性收入占医疗收入比例")
    assert labour[1] == 40
    page = as_user(w.bureau).get(f"/reports/versions/{half.versions.get().pk}/").content.decode()
    assert 'id="execution-chart"' in page and "时间进度 50.00%" in page and 'data-bar-width="33"' in page
