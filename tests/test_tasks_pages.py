"""The task-ledger pages as their users meet them: the number of queries of each page does not grow
with the data; a hospital reports with evidence, the bureau returns the report with a reason and the
hospital sees it; who may do what; exports open."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from tasks.models import EscalationRule, Notification, ProgressReport
from tasks.services.ledgers import item_save
from tasks.services.progress import progress_report_submit
from tasks.services.supervision import order_issue
from tests.conftest import client_for

SH = ZoneInfo("Asia/Shanghai")
PDF = b"%PDF-1.4 evidence"


def grow(w, n: int, start: int = 10) -> None:
    """``n`` more items (fan-out to both alliances and the hospital) with a report each."""
    with time_machine.travel(w.now, tick=False):
        for k in range(start, start + n):
            item = item_save(ledger=w.ledger, user=w.bureau, number=f"3.{k}", text=f"任务{k}",
                             lead_units_text="各医共体、县人民医院", coop_units_text="县财政局",
                             deadline_text="9月底", section_labels=["三、能力提升", f"{k}．重点任务"], now=w.now)
            for assignment in item.assignments.all()[:2]:
                progress_report_submit(assignment=assignment, user=w.bureau, text="进展", percent=20,
                                       marks_complete=False, files=[SimpleUploadedFile("a.pdf", PDF)], now=w.now)
            order_issue(assignment=item.assignments.first(), user=w.supervisor, colour="red", text="督办",
                        reply_due=date(2026, 6, 20), now=w.now)


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx)


PAGES = [
    ("bureau", lambda w: reverse("tasks:ledger_list")),
    ("bureau", lambda w: reverse("tasks:ledger_detail", kwargs={"ledger_pk": w.ledger.pk})),
    ("bureau", lambda w: reverse("tasks:item_detail", kwargs={"item_pk": w.item_fanout.pk})),
    ("bureau", lambda w: reverse("tasks:dashboard")),
    ("bureau", lambda w: reverse("tasks:assignment_list")),
    ("bureau", lambda w: reverse("tasks:assignment_list") + "?status=overdue&q=任务"),
    ("bureau", lambda w: reverse("tasks:review_queue")),
    ("bureau", lambda w: reverse("tasks:order_list")),
    ("supervisor", lambda w: reverse("tasks:dashboard")),
    ("province", lambda w: reverse("tasks:dashboard")),
    ("filer_hospital", lambda w: reverse("tasks:my_tasks")),
    ("alliance_admin", lambda w: reverse("tasks:my_tasks")),
]


@pytest.mark.parametrize(("who", "url_of"), PAGES)
def test_query_count_does_not_grow_with_the_data(ledger_world, who, url_of):
    w = ledger_world
    client = client_for(getattr(w, who))
    with time_machine.travel(datetime(2026, 7, 15, 9, tzinfo=SH), tick=False):
        grow(w, 3)
        url = url_of(w)
        queries(client, url)  # warm-up: the refresh of due statuses runs once
        small = queries(client, url)
        grow(w, 12, start=40)
        queries(client, url)
        large = queries(client, url)
    assert small == large, f"{url}: {small} queries with little data, {large} with more"


def test_hospital_reports_bureau_returns_with_reason_hospital_sees_it(ledger_world):
    w = ledger_world
    hospital, bureau = client_for(w.filer_hospital), client_for(w.bureau)
    url = reverse("tasks:report_create", kwargs={"assignment_pk": w.assignment_hospital.pk})
    with time_machine.travel(datetime(2026, 6, 10, 9, tzinfo=SH), tick=False):
        # Marking complete without evidence: refused, nothing saved, the field says why.
        page = hospital.post(url, {"period": "2026-06", "percent": 100, "text": "已完成", "marks_complete": "on"})
        assert page.status_code == 200 and not ProgressReport.objects.exists()
        assert page.context["form"].errors["files"]
        done = hospital.post(url, {"period": "2026-06", "percent": 100, "text": "县域就诊率已达到90.3%",
                                   "marks_complete": "on",
                                   "files": [SimpleUploadedFile("县域就诊率统计.pdf", PDF)]})
        assert done.status_code == 302
        report = ProgressReport.objects.get()
        assert report.evidence.get().original_name == "县域就诊率统计.pdf"
        # The bureau returns it with a reason.
        back = bureau.post(reverse("tasks:report_review", kwargs={"report_pk": report.pk}),
                           {"decision": "return", "reason": "请附上统计报表原件"})
        assert back.status_code == 302
        report.refresh_from_db()
        assert report.state == "returned"
        # The hospital sees the reason on its list and on the item.
        mine = hospital.get(reverse("tasks:my_tasks")).content.decode()
        assert "请附上统计报表原件" in mine
        item = hospital.get(reverse("tasks:item_detail", kwargs={"item_pk": w.item_hospital.pk})).content.decode()
        assert "请附上统计报表原件" in item
        # The evidence downloads under its name for the hospital and the bureau.
        evidence = reverse("tasks:evidence_download", kwargs={"evidence_pk": report.evidence.get().pk})
        for client in (hospital, bureau):
            response = client.get(evidence)
            assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
            assert b"".join(response.streaming_content) == PDF


def test_returning_without_a_reason_is_refused_on_the_page(ledger_world):
    w = ledger_world
    report = progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="进展",
                                    percent=30, marks_complete=False, now=w.now)
    client = client_for(w.bureau)
    response = client.post(reverse("tasks:report_review", kwargs={"report_pk": report.pk}),
                           {"decision": "return", "reason": ""}, follow=True)
    report.refresh_from_db()
    assert report.state == "submitted"
    assert any("reason" in str(m) or "原因" in str(m) for m in response.context["messages"])


@pytest.mark.parametrize(("who", "name", "kwargs_of", "status"), [
    ("filer_hospital", "tasks:report_review", lambda w, r: {"report_pk": r.pk}, 403),
    ("supervisor", "tasks:report_review", lambda w, r: {"report_pk": r.pk}, 403),
    ("filer_hospital", "tasks:report_create", lambda w, r: {"assignment_pk": w.assignment_a.pk}, 404),
    ("city", "tasks:report_create", lambda w, r: {"assignment_pk": w.assignment_hospital.pk}, 403),
    ("bureau", "tasks:report_create", lambda w, r: {"assignment_pk": w.assignment_hospital.pk}, 403),
    ("bureau", "tasks:report_create", lambda w, r: {"assignment_pk": w.assignment_bureau.pk}, 200),
    ("filer_hospital", "tasks:order_create", lambda w, r: {"assignment_pk": w.assignment_hospital.pk}, 403),
    ("bureau", "tasks:order_create", lambda w, r: {"assignment_pk": w.assignment_hospital.pk}, 403),
    ("supervisor", "tasks:order_create", lambda w, r: {"assignment_pk": w.assignment_hospital.pk}, 200),
    ("filer_hospital", "tasks:item_edit", lambda w, r: {"item_pk": w.item_hospital.pk}, 403),
    ("supervisor", "tasks:item_deadline", lambda w, r: {"item_pk": w.item_hospital.pk}, 403),
    ("province", "tasks:ledger_detail", lambda w, r: {"ledger_pk": w.ledger.pk}, 200),
    ("province", "tasks:ledger_edit", lambda w, r: {"ledger_pk": w.ledger.pk}, 403),
])
def test_who_may_do_what(ledger_world, who, name, kwargs_of, status):
    w = ledger_world
    report = progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="进展",
                                    percent=30, marks_complete=False, now=w.now)
    url = reverse(name, kwargs=kwargs_of(w, report))
    response = client_for(getattr(w, who)).get(url) if name != "tasks:report_review" else \
        client_for(getattr(w, who)).post(url, {"decision": "accept"})
    assert response.status_code == status


def test_a_hospital_sees_only_its_own_assignments(ledger_world):
    w = ledger_world
    client = client_for(w.filer_hospital)
    ledger = client.get(reverse("tasks:ledger_detail", kwargs={"ledger_pk": w.ledger.pk})).content.decode()
    assert "县域就诊率" in ledger and "推进医共体人员统筹使用" not in ledger
    assert client.get(reverse("tasks:item_detail", kwargs={"item_pk": w.item_fanout.pk})).status_code == 404
    mine = client.get(reverse("tasks:my_tasks"))
    assert [a.pk for a in mine.context["rows"]] == [w.assignment_hospital.pk]


def test_the_alliance_office_reports_for_its_member_hospital(ledger_world):
    w = ledger_world
    client = client_for(w.alliance_admin)
    rows = client.get(reverse("tasks:my_tasks")).context["rows"]
    assert {a.pk for a in rows} == {w.assignment_a.pk, w.assignment_hospital.pk}
    url = reverse("tasks:report_create", kwargs={"assignment_pk": w.assignment_hospital.pk})
    assert client.get(url).status_code == 200


def test_setting_a_deadline_by_hand_is_kept_and_shown(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    url = reverse("tasks:item_deadline", kwargs={"item_pk": w.item_bureau.pk})
    response = client.post(url, {"deadline_kind": "fixed", "due_date": "2026-12-15", "recurrence": ""})
    assert response.status_code == 302
    w.item_bureau.refresh_from_db()
    assert (w.item_bureau.due_date, w.item_bureau.deadline_corrected_by) == (date(2026, 12, 15), w.bureau)
    missing = client.post(url, {"deadline_kind": "fixed", "due_date": "", "recurrence": ""})
    assert missing.status_code == 200 and missing.context["form"].errors


def test_dashboard_counts_and_list_filters(ledger_world):
    w = ledger_world
    with time_machine.travel(datetime(2026, 7, 20, 9, tzinfo=SH), tick=False):
        client = client_for(w.supervisor)
        page = client.get(reverse("tasks:dashboard"))
        counts = page.context["counts"]
        assert (counts.total, counts.overdue, counts.red) == (5, 2, 2)  # 1.1's two alliances, since 30 June
        aging = {b["low"]: b["count"] for b in page.context["aging"]}
        assert aging == {1: 0, 8: 2, 31: 0, 91: 0}  # 20 days late
        rows = client.get(reverse("tasks:assignment_list") + "?light=red").context["rows"]
        assert {a.pk for a in rows} == {w.assignment_a.pk, w.assignment_b.pk}
        rows = client.get(reverse("tasks:assignment_list") + f"?alliance={w.alliance_a.pk}").context["rows"]
        assert {a.pk for a in rows} == {w.assignment_a.pk, w.assignment_hospital.pk}


def test_exports_open_in_the_official_layout(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    ledger = client.get(reverse("tasks:ledger_xlsx", kwargs={"ledger_pk": w.ledger.pk}))
    sheet = load_workbook(io.BytesIO(ledger.content)).active
    assert sheet["A1"].value == w.ledger.title
    listing = client.get(reverse("tasks:assignment_list_xlsx") + "?light=")
    sheet = load_workbook(io.BytesIO(listing.content)).active
    assert "任务督办清单" in sheet["A1"].value


def test_notifications_are_personal(ledger_world):
    w = ledger_world
    mine = Notification.objects.create(user=w.bureau, day=date(2026, 6, 2), title="任务提醒")
    client = client_for(w.bureau)
    assert client.post(reverse("tasks:notification_read", kwargs={"notification_pk": mine.pk})).status_code == 302
    mine.refresh_from_db()
    assert mine.read_at is not None
    other = client_for(w.supervisor)
    assert other.post(reverse("tasks:notification_read", kwargs={"notification_pk": mine.pk})).status_code == 404


def test_settings_change_recomputes_the_lights(ledger_world):
    w = ledger_world
    client = client_for(w.bureau)
    url = reverse("tasks:task_settings", kwargs={"region_pk": w.yn.pk})
    data = {"lights-due_soon_days": 30, "lights-behind_margin": 25,
            "rules-TOTAL_FORMS": 0, "rules-INITIAL_FORMS": 0, "rules-MIN_NUM_FORMS": 0, "rules-MAX_NUM_FORMS": 1000}
    page = client.get(url)
    rules = page.context["rules"]
    data.update({"rules-TOTAL_FORMS": len(rules.forms), "rules-INITIAL_FORMS": rules.initial_form_count()})
    for i, form in enumerate(rules.forms):  # as a browser posts the page: every row as shown
        for name in ("colour", "count", "window", "suggests"):
            value = form.initial.get(name)
            if value is not None:
                data[f"rules-{i}-{name}"] = value
        data[f"rules-{i}-is_active"] = "on"
        if form.instance.pk:
            data[f"rules-{i}-id"] = form.instance.pk
    with time_machine.travel(datetime(2026, 6, 2, 9, tzinfo=SH), tick=False):
        response = client.post(url, data)
        assert response.status_code == 302, (response.context["form"].errors, response.context["rules"].errors)
    w.assignment_a.refresh_from_db()
    assert w.assignment_a.status == "due_soon"  # 28 days before 30 June counts as due soon now
    # The default rules are the county's own now.
    assert EscalationRule.objects.filter(county=w.yn).count() == 3


def test_the_order_page_offers_only_steps_beyond_the_present_one(ledger_world):
    w = ledger_world
    order = order_issue(assignment=w.assignment_a, user=w.supervisor, colour="red", text="督办",
                        reply_due=date(2026, 6, 20), now=w.now)
    client = client_for(w.supervisor)
    url = reverse("tasks:order_detail", kwargs={"order_pk": order.pk})
    choices = [value for value, _label in client.get(url).context["forms"]["escalate"].fields["step"].choices]
    assert choices == ["letter", "notice", "interview", "accountability"]
    assert client.post(url, {"action": "escalate", "step": "accountability", "note": "问责"}).status_code == 302
    page = client.get(url)
    assert page.context["forms"]["escalate"].fields["step"].choices == []
    assert 'value="escalate"' not in page.content.decode()
    # The unit replies; a supervisor of another county sees nothing.
    reply = client_for(w.alliance_admin).post(url, {"action": "reply", "reply_text": "已整改完毕"})
    assert reply.status_code == 302
    assert client_for(w.outsider).get(url).status_code == 404
