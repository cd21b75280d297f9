"""Progress reports with evidence and their review; supervision orders, replies and escalation with
the suggested next step; inspections whose findings become tasks. Through the services, on the
database, under time travel where the day matters."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.evidence import MAX_EVIDENCE_BYTES
from tasks.models import (
    Assignment,
    EscalationRule,
    Evidence,
    ProgressReport,
    Step,
    SupervisionOrder,
    TaskItem,
    TaskSettings,
)
from tasks.services.ledgers import finding_to_task
from tasks.services.progress import progress_report_review, progress_report_submit
from tasks.services.supervision import (
    finding_add,
    inspection_record,
    order_close,
    order_escalate,
    order_issue,
    order_reply,
    suggest_next_step,
)
from tasks.status import Light, Status

SH = ZoneInfo("Asia/Shanghai")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def pdf(name="佐证材料.pdf", data=PDF):
    return SimpleUploadedFile(name, data)


def fresh(assignment) -> Assignment:
    return Assignment.objects.select_related("item__ledger").get(pk=assignment.pk)


# Progress and review --------------------------------------------------------------------------

def test_a_report_updates_percent_and_clears_the_behind_light(ledger_world):
    w = ledger_world
    now = at("2026-06-20T10:00")  # 0% on 20 June of a task due 30 June: behind (yellow)
    with time_machine.travel(now, tick=False):
        from tasks.services.status import assignments_refresh_due

        assignments_refresh_due(now=now)
        assert fresh(w.assignment_hospital).light == Light.NONE  # due 31 Dec: fine
        assert fresh(w.assignment_a).light == Light.YELLOW
        progress_report_submit(assignment=w.assignment_a, user=w.alliance_admin, text="已制定方案", percent=80,
                               marks_complete=False, now=now)
    a = fresh(w.assignment_a)
    assert (a.percent, a.last_report_at, a.status, a.light) == (80, now, Status.ON_TRACK, Light.NONE)


def test_marking_complete_needs_evidence_and_100_percent(ledger_world):
    w = ledger_world
    with pytest.raises(ValidationError) as caught:
        progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="完成", percent=90,
                               marks_complete=True, now=w.now)
    assert set(caught.value.message_dict) == {"files", "percent"}
    assert not ProgressReport.objects.exists()


@pytest.mark.parametrize(("name", "data", "fragment"), [
    ("报告.pdf", b"\x00\x01\x02garbage" * 10, "不是"),       # a renamed binary, judged by content
    ("报告.pdf", b"MZ\x90\x00" + b"\x00" * 50, "不是"),        # an executable named .pdf
    ("大文件.pdf", b"%PDF-" + b"0" * (MAX_EVIDENCE_BYTES + 1), "MB"),
    ("空.pdf", b"", "空"),
])
def test_evidence_of_a_forbidden_type_or_size_is_refused_and_nothing_saved(ledger_world, name, data, fragment):
    w = ledger_world
    with pytest.raises(ValidationError) as caught:
        progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="进展", percent=50,
                               marks_complete=False, files=[pdf(name, data)], now=w.now)
    message = " ".join(caught.value.message_dict["files"])
    assert name in message and fragment in message
    assert not ProgressReport.objects.exists() and not Evidence.objects.exists()


def test_evidence_type_comes_from_the_content_not_the_name(ledger_world):
    w = ledger_world
    report = progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="进展", percent=50,
                                    marks_complete=False, files=[pdf("照片.pdf", PNG)], now=w.now)
    evidence = report.evidence.get()
    assert (evidence.kind, evidence.content_type, evidence.extension) == ("image", "image/png", ".png")
    assert evidence.original_name == "照片.pdf" and evidence.file.read() == PNG


def test_an_xlsm_workbook_with_macros_is_refused_as_evidence(ledger_world):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types>application/vnd.ms-excel.sheet.macroEnabled</Types>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/vbaProject.bin", b"\x00")
    with pytest.raises(ValidationError) as caught:
        progress_report_submit(assignment=ledger_world.assignment_hospital, user=ledger_world.filer_hospital,
                               text="进展", percent=50, marks_complete=False,
                               files=[pdf("数据.xlsx", buffer.getvalue())], now=ledger_world.now)
    assert "macros" in str(caught.value) or "宏" in str(caught.value)


def test_returning_needs_a_reason_and_the_unit_sees_it(ledger_world):
    w = ledger_world
    first = progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="一月进展",
                                   percent=30, marks_complete=False, now=w.now)
    later = w.now + timedelta(days=3)
    second = progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="虚报进展",
                                    percent=90, marks_complete=False, now=later)
    with pytest.raises(ValidationError) as caught:
        progress_report_review(report=second, user=w.bureau, accept=False, reason=" ", now=later)
    assert "reason" in caught.value.message_dict
    progress_report_review(report=second, user=w.bureau, accept=False, reason="数据与报表不符，请核实", now=later)
    second.refresh_from_db()
    assert (second.state, second.review_reason, second.reviewed_by) == ("returned", "数据与报表不符，请核实", w.bureau)
    a = fresh(w.assignment_hospital)
    assert (a.percent, a.last_report_at) == (30, first.submitted_at)  # the returned report no longer counts
    event = a.events.get(kind="returned")
    assert event.key == f"report:{second.pk}"
    # A report is reviewed once.
    with pytest.raises(ValidationError):
        progress_report_review(report=second, user=w.bureau, accept=True, now=later)


def test_accepting_a_completion_report_completes_the_task_and_it_is_never_overdue(ledger_world):
    w = ledger_world
    report = progress_report_submit(assignment=w.assignment_a, user=w.alliance_admin, text="全部完成", percent=100,
                                    marks_complete=True, files=[pdf()], now=w.now)
    assert fresh(w.assignment_a).status != Status.DONE  # not before the review
    progress_report_review(report=report, user=w.bureau, accept=True, now=w.now + timedelta(days=1))
    a = fresh(w.assignment_a)
    assert (a.status, a.completed_at) == (Status.DONE, w.now)
    assert a.status_at(at("2027-03-01T09:00")).status == Status.DONE
    with pytest.raises(ValidationError):
        progress_report_submit(assignment=a, user=w.alliance_admin, text="又一次", percent=100,
                               marks_complete=False, now=w.now + timedelta(days=2))


def test_a_future_month_cannot_be_reported(ledger_world):
    w = ledger_world
    with pytest.raises(ValidationError) as caught:
        progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="进展", percent=10,
                               marks_complete=False, period="2026-08", now=w.now)
    assert "period" in caught.value.message_dict


# Supervision --------------------------------------------------------------------------------

def test_order_reply_escalate_close_with_who_and_when(ledger_world):
    w = ledger_world
    order = order_issue(assignment=w.assignment_a, user=w.supervisor, colour="yellow", text="请于本周内报送进展",
                        reply_due=date(2026, 6, 8), now=w.now)
    assert order.number == "督办〔2026〕1号" and order.step == Step.REMINDER
    assert order.steps.get().taken_by == w.supervisor
    with pytest.raises(ValidationError):
        order_issue(assignment=w.assignment_a, user=w.supervisor, colour="red", text="再次督办",
                    reply_due=date(2026, 6, 9), now=w.now)  # one open order per matter
    order_reply(order=order, user=w.alliance_admin, text="已落实", now=w.now + timedelta(hours=3))
    step = order_escalate(order=order, user=w.supervisor, step=Step.LETTER, note="进度仍滞后",
                          now=w.now + timedelta(days=1))
    assert (step.step, step.taken_by, step.taken_at) == (Step.LETTER, w.supervisor, w.now + timedelta(days=1))
    with pytest.raises(ValidationError):  # no step back
        order_escalate(order=order, user=w.supervisor, step=Step.REMINDER, note="", now=w.now)
    order_close(order=order, user=w.supervisor, note="已办结", now=w.now + timedelta(days=2))
    order.refresh_from_db()
    assert order.state == SupervisionOrder.State.CLOSED and order.reply_text == "已落实"
    # Closed: a new order about the same matter may be issued.
    second = order_issue(assignment=w.assignment_a, user=w.supervisor, colour="red", text="逾期督办",
                         reply_due=date(2026, 7, 3), now=w.now + timedelta(days=30))
    assert second.number == "督办〔2026〕2号"


def test_a_second_yellow_in_a_quarter_suggests_a_formal_letter(ledger_world):
    w = ledger_world
    first = order_issue(assignment=w.assignment_hospital, user=w.supervisor, colour="yellow", text="一",
                        reply_due=date(2026, 4, 20), now=at("2026-04-10T09:00"))
    assert suggest_next_step(first) is None
    order_close(order=first, user=w.supervisor, note="", now=at("2026-04-21T09:00"))
    second = order_issue(assignment=w.assignment_hospital, user=w.supervisor, colour="yellow", text="二",
                         reply_due=date(2026, 6, 20), now=at("2026-06-10T09:00"))
    suggestion = suggest_next_step(second)
    assert suggestion.step == Step.LETTER and suggestion.count == 2
    # Another quarter starts the count again.
    order_close(order=second, user=w.supervisor, note="", now=at("2026-06-21T09:00"))
    third = order_issue(assignment=w.assignment_hospital, user=w.supervisor, colour="yellow", text="三",
                        reply_due=date(2026, 7, 20), now=at("2026-07-10T09:00"))
    assert suggest_next_step(third) is None


def test_three_reds_in_a_row_suggest_an_interview_and_the_step_records_it(ledger_world):
    w = ledger_world
    moments = ["2026-01-10", "2026-04-10", "2026-07-10"]
    orders = []
    for day in moments:
        order = order_issue(assignment=w.assignment_bureau, user=w.supervisor, colour="red", text="逾期",
                            reply_due=date.fromisoformat(day) + timedelta(days=5), now=at(f"{day}T09:00"))
        orders.append(order)
        order_close(order=order, user=w.supervisor, note="", now=at(f"{day}T10:00"))
    # The third order's history: red, red, red in a row (across quarters).
    orders[2].state = "open"
    suggestion = suggest_next_step(orders[2])
    assert suggestion.step == Step.INTERVIEW
    SupervisionOrder.objects.filter(pk=orders[2].pk).update(state="open")
    step = order_escalate(order=orders[2], user=w.supervisor, step=Step.INTERVIEW, note="约谈单位负责人",
                          now=at("2026-07-11T09:00"))
    assert step.was_suggested


def test_the_county_can_change_its_escalation_rules(ledger_world):
    w = ledger_world
    order = order_issue(assignment=w.assignment_bureau, user=w.supervisor, colour="blue", text="提醒",
                        reply_due=date(2026, 6, 5), now=w.now)
    assert suggest_next_step(order) is None  # the defaults say nothing of a first blue order
    EscalationRule.objects.create(county=w.yn, colour="blue", count=1, window="quarter", suggests=Step.NOTICE)
    assert suggest_next_step(order) is None  # stored rules count once the county has set its own …
    TaskSettings.objects.create(county=w.yn, escalation_configured=True)
    assert suggest_next_step(order).step == Step.NOTICE  # … on the settings page


# Inspections --------------------------------------------------------------------------------

def test_an_inspection_finding_becomes_a_task_of_the_rectification_ledger(ledger_world):
    w = ledger_world
    inspection = inspection_record(county=w.yn, user=w.supervisor, title="2026年上半年医共体建设督查",
                                   half_year="2026h1", held_on=date(2026, 6, 15))
    assert inspection.half_year == "2026H1"
    finding = finding_add(inspection=inspection, text="第三医共体未按月报送进展", severity="serious",
                          unit=w.alliance_b)
    with time_machine.travel(at("2026-06-16T09:00"), tick=False):
        item = finding_to_task(finding=finding, user=w.supervisor, deadline_text="9月底", now=at("2026-06-16T09:00"))
    assert item.ledger.title == "郁南县督查整改任务" and item.number == "督1"
    assert item.due_date == date(2026, 9, 30)
    assert [a.alliance for a in item.assignments.all()] == [w.alliance_b]
    with pytest.raises(ValidationError):
        finding_to_task(finding=finding, user=w.supervisor, deadline_text="9月底", now=at("2026-06-16T09:00"))
    assert TaskItem.objects.filter(finding=finding).count() == 1


def test_a_finding_names_a_unit_of_its_own_county(ledger_world):
    w = ledger_world
    inspection = inspection_record(county=w.yn, user=w.supervisor, title="督查", half_year="2026H1",
                                   held_on=date(2026, 6, 15))
    with pytest.raises(ValidationError):
        finding_add(inspection=inspection, text="问题", severity="minor", unit=w.other_alliance)
    with pytest.raises(ValidationError) as caught:
        inspection_record(county=w.yn, user=w.supervisor, title="督查", half_year="2026Q2",
                          held_on=date(2026, 6, 15))
    assert "half_year" in caught.value.message_dict
