"""The task ledger API under /api/: scoping (the outsider gets the 404 of a missing row on every
route), what a unit's user sees, progress reports with evidence checked by content, review,
supervision orders, item deadlines, and list query counts that do not grow with the data.

Time is frozen where it matters: the ledger of ``ledger_world`` is made at 2026-06-01 08:00
Asia/Shanghai; item 1.1 is due 2026-06-30, 1.2 on 2026-12-31, 2.1 is continuous."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from config.api_urls import router
from tasks.models import (
    Assignment,
    Evidence,
    Ledger,
    ProgressReport,
    Step,
    SupervisionOrder,
    TaskItem,
)
from tasks.services.ledgers import item_save
from tasks.services.progress import progress_report_review, progress_report_submit
from tasks.services.supervision import order_issue
from tests.factories import Role, UserFactory, grant

MISSING_ID = 987_654_321
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(32)
# Names of 郁南县 objects that the outsider must never read.
FOREIGN_NAMES = ["郁南县", "第一医共体", "第三医共体", "县人民医院", "县财政局", "县卫生健康局", "推进医共体人员统筹使用",
                 "郁医共〔2026〕1号"]
TASK_MODELS = (Ledger, TaskItem, Assignment, ProgressReport, Evidence, SupervisionOrder)
LIST_URLS = ["/api/task-ledgers/", "/api/task-items/", "/api/task-assignments/", "/api/task-reports/",
             "/api/task-evidence/", "/api/supervision-orders/"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def at(w, days: int = 1, hours: int = 0):
    """Travel to ``days`` after the ledger was made (frozen)."""
    return time_machine.travel(w.now + timedelta(days=days, hours=hours), tick=False)


def pdf(name: str = "进展说明.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response) -> set[int]:
    return {row["id"] for row in rows(response)}


def report(client, assignment, **fields):
    data = {"assignment": assignment.pk, "text": "已完成人员统筹方案", "percent": 50, **fields}
    return client.post("/api/task-reports/", data, format="multipart")


@pytest.fixture
def activity(ledger_world):
    """A report with a PDF by the hospital's filer, and an order about alliance A's assignment."""
    w = ledger_world
    with at(w, days=2):
        w.report = progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="方案已起草",
                                          percent=40, marks_complete=False, files=[pdf()], now=w.now + timedelta(days=2))
        w.evidence = w.report.evidence.get()
        w.order = order_issue(assignment=w.assignment_a, user=w.supervisor, colour="blue", text="请加快人员统筹",
                              reply_due=date(2026, 6, 20), now=w.now + timedelta(days=2))
    return w


# The outsider ------------------------------------------------------------------------------

def _task_routes() -> list[tuple[str, type]]:
    """Every named route of the task viewsets that takes a pk, with its model."""
    found = {}
    for pattern in router.urls:
        view_class = getattr(pattern.callback, "cls", None)
        model = getattr(view_class, "scoped_model", None)
        if model in TASK_MODELS and pattern.name and "pk" in pattern.pattern.regex.groupindex:
            found[pattern.name] = model
    return sorted(found.items())


def test_every_task_viewset_names_its_model_for_the_sweep():
    names = dict(_task_routes())
    for name in ["task-ledger-detail", "task-item-detail", "task-item-deadline", "task-assignment-detail",
                 "task-report-detail", "task-report-review", "task-evidence-detail", "task-evidence-download",
                 "supervision-order-detail", "supervision-order-reply", "supervision-order-escalate",
                 "supervision-order-close"]:
        assert name in names, sorted(names)


def test_outsider_gets_404_on_every_task_route_like_a_missing_id(activity):
    w = activity
    objects = {Ledger: w.ledger, TaskItem: w.item_fanout, Assignment: w.assignment_a, ProgressReport: w.report,
               Evidence: w.evidence, SupervisionOrder: w.order}
    outsider, insider = api(w.outsider), api(w.bureau)
    checked = []
    with at(w, days=3):
        for name, model in _task_routes():
            foreign = reverse(name, kwargs={"pk": objects[model].pk})
            missing = reverse(name, kwargs={"pk": MISSING_ID})
            insider_get = insider.get(foreign).status_code
            assert insider_get in (200, 405), (name, insider_get)
            for method in ("get", "post", "put", "patch", "delete"):
                call = getattr(outsider, method)
                a = call(foreign, {}, format="json") if method != "get" else call(foreign)
                b = call(missing, {}, format="json") if method != "get" else call(missing)
                assert a.status_code == b.status_code, (name, method, a.status_code, b.status_code)
                assert a.status_code in (404, 405), (name, method, a.status_code)
                if method == "get" and insider_get == 200:
                    assert a.status_code == 404, (name, a.status_code)
                if a.status_code == 404:
                    assert a.json() == b.json(), (name, method)
                body = a.content.decode(errors="ignore")
                assert not [n for n in FOREIGN_NAMES if n in body], (name, method)
            checked.append(name)
    assert len(checked) >= 12


def test_outsider_actions_with_valid_input_change_nothing(activity):
    w = activity
    client = api(w.outsider)
    cases = [
        (f"/api/task-items/{w.item_fanout.pk}/deadline/", {"deadline_kind": "fixed", "due_date": "2026-09-30"}),
        (f"/api/task-reports/{w.report.pk}/review/", {"accept": True}),
        (f"/api/supervision-orders/{w.order.pk}/reply/", {"text": "已整改"}),
        (f"/api/supervision-orders/{w.order.pk}/escalate/", {"step": "letter"}),
        (f"/api/supervision-orders/{w.order.pk}/close/", {"note": "x"}),
    ]
    with at(w, days=3):
        for url, data in cases:
            assert client.post(url, data, format="json").status_code == 404, url
        # Creating on a foreign assignment: the id is not one he may pick, like a missing one.
        for url, data in [("/api/task-reports/", {"assignment": w.assignment_a.pk, "text": "x", "percent": 1}),
                          ("/api/supervision-orders/", {"assignment": w.assignment_b.pk, "colour": "red",
                                                        "reply_due": "2026-06-30", "text": "x"})]:
            foreign = client.post(url, data, format="json")
            missing = client.post(url, {**data, "assignment": MISSING_ID}, format="json")
            assert foreign.status_code in (400, 403), (url, foreign.content)
            if foreign.status_code == 400:
                assert list(foreign.json()) == list(missing.json()) == ["assignment"]
    w.report.refresh_from_db()
    w.order.refresh_from_db()
    w.item_fanout.refresh_from_db()
    assert w.report.state == ProgressReport.State.SUBMITTED
    assert (w.order.state, w.order.step) == (SupervisionOrder.State.OPEN, Step.REMINDER)
    assert not w.item_fanout.deadline_corrected
    assert SupervisionOrder.objects.count() == 1 and ProgressReport.objects.count() == 1


def test_outsider_lists_show_nothing_of_the_county(activity):
    w = activity
    client = api(w.outsider)
    with at(w, days=3):
        for url in LIST_URLS:
            response = client.get(url)
            assert rows(response) == [], url
            assert not [n for n in FOREIGN_NAMES if n in response.content.decode()], url
        # A foreign id in a filter answers like a missing one.
        for url, field, pk in [("/api/task-items/", "ledger", w.ledger.pk),
                               ("/api/task-assignments/", "county", w.yn.pk),
                               ("/api/task-reports/", "assignment", w.assignment_hospital.pk)]:
            a, b = client.get(url, {field: pk}), client.get(url, {field: MISSING_ID})
            assert a.status_code == b.status_code == 400 and list(a.json()) == list(b.json()) == [field]


# What a unit's user sees -------------------------------------------------------------------

def test_institution_filer_sees_only_his_assignments_items_and_ledger(activity):
    w = activity
    client = api(w.filer_hospital)
    with at(w, days=3):
        assignments = rows(client.get("/api/task-assignments/"))
        assert [a["id"] for a in assignments] == [w.assignment_hospital.pk]
        row = assignments[0]
        assert row["item"] == {"id": w.item_hospital.pk, "number": "1.2", "text": w.item_hospital.text}
        assert row["unit"] == {"kind": "institution", "id": w.hospital.pk, "name": "县人民医院"}
        assert row["ledger"] == w.ledger.pk and row["can_report"] is True and row["percent"] == 40
        assert row["latest_report"]["id"] == w.report.pk

        assert ids(client.get("/api/task-items/")) == {w.item_hospital.pk}
        ledgers = rows(client.get("/api/task-ledgers/"))
        assert [ledger["id"] for ledger in ledgers] == [w.ledger.pk]
        assert ledgers[0]["item_count"] == 1
        assert ledgers[0]["progress"]["assignments"] == 1  # only what he sees is counted
        assert ids(client.get("/api/task-reports/")) == {w.report.pk}
        assert rows(client.get("/api/supervision-orders/")) == []  # the order is about alliance A's matter

        for url in [f"/api/task-items/{w.item_fanout.pk}/", f"/api/task-assignments/{w.assignment_a.pk}/",
                    f"/api/task-assignments/{w.assignment_b.pk}/", f"/api/supervision-orders/{w.order.pk}/"]:
            assert client.get(url).status_code == 404, url


def test_alliance_office_sees_its_alliance_and_its_members(activity):
    w = activity
    client = api(w.alliance_admin)
    with at(w, days=3):
        assignments = {a["id"]: a for a in rows(client.get("/api/task-assignments/"))}
        assert set(assignments) == {w.assignment_a.pk, w.assignment_hospital.pk}
        assert all(a["can_report"] for a in assignments.values())
        assert ids(client.get("/api/task-assignments/", {"mine": "true"})) == {w.assignment_a.pk,
                                                                              w.assignment_hospital.pk}
        assert ids(client.get("/api/task-items/")) == {w.item_fanout.pk, w.item_hospital.pk}
        assert ids(client.get("/api/supervision-orders/")) == {w.order.pk}
        assert ids(client.get("/api/task-reports/")) == {w.report.pk}
        ledger = rows(client.get("/api/task-ledgers/"))[0]
        assert (ledger["item_count"], ledger["progress"]["assignments"]) == (2, 2)


def test_bureau_sees_the_whole_ledger(activity):
    w = activity
    client = api(w.bureau)
    with at(w, days=3):
        ledger = rows(client.get("/api/task-ledgers/", {"year": 2026, "search": "郁医共"}))[0]
        assert ledger["item_count"] == 3
        assert ledger["progress"]["assignments"] == 5  # A, B, 县财政局 (cooperating), 县人民医院, 县卫生健康局
        assert ledger["progress"]["continuous"] == 1
        assert rows(client.get("/api/task-ledgers/", {"year": 2025})) == []
        mine = {a["unit"]["name"] for a in rows(client.get("/api/task-assignments/", {"mine": 1}))}
        assert mine == {"县财政局", "县卫生健康局"}  # the bureau reports for departments
        items = {i["number"]: i for i in rows(client.get("/api/task-items/", {"ledger": w.ledger.pk}))}
        assert items["1.1"]["sections"] == ["一、深化改革", "1．夯实管理责任"]
        assert items["1.1"]["deadline_kind"] == "fixed" and items["1.1"]["due_date"] == "2026-06-30"
        assert items["2.1"]["deadline_kind"] == "continuous"


def test_assignment_status_days_and_filters_follow_the_clock(ledger_world):
    w = ledger_world
    client = api(w.bureau)
    with at(w, days=25):  # 2026-06-26: 1.1 due in four days
        row = client.get(f"/api/task-assignments/{w.assignment_a.pk}/").json()
        # Nothing reported while most of the time went by: behind (yellow) outshines due soon (blue).
        assert (row["status"], row["light"], row["behind"]) == ("due_soon", "yellow", "slow")
        assert (row["days_left"], row["days_late"]) == (4, None)
    with at(w, days=33):  # 2026-07-04: four days late
        row = client.get(f"/api/task-assignments/{w.assignment_a.pk}/").json()
        assert (row["status"], row["light"], row["days_left"], row["days_late"]) == ("overdue", "red", None, 4)
        overdue = ids(client.get("/api/task-assignments/", {"status": "overdue"}))
        assert overdue == {w.assignment_a.pk, w.assignment_b.pk}  # the cached status was brought up to date
        assert ids(client.get("/api/task-assignments/", {"aging": "1-7"})) == overdue
        assert ids(client.get("/api/task-assignments/", {"aging": "8-30"})) == set()
        assert ids(client.get("/api/task-assignments/", {"light": "red", "unit": f"alliance:{w.alliance_b.pk}"})) \
            == {w.assignment_b.pk}
        assert ids(client.get("/api/task-assignments/", {"alliance": w.alliance_a.pk})) == {
            w.assignment_a.pk, w.assignment_hospital.pk}
        assert ids(client.get("/api/task-assignments/", {"role": "cooperating"})) == set(
            Assignment.objects.filter(department=w.finance).values_list("pk", flat=True))
        assert ids(client.get("/api/task-assignments/", {"q": "县人民医院"})) == {w.assignment_hospital.pk}
        bad = client.get("/api/task-assignments/", {"unit": "hospital:1"})
        assert bad.status_code == 400 and list(bad.json()) == ["unit"]


# Progress reports and evidence -------------------------------------------------------------

def test_filer_reports_with_a_pdf_and_downloads_it(ledger_world):
    w = ledger_world
    client = api(w.filer_hospital)
    with at(w, days=3):
        response = report(client, w.assignment_hospital, percent=30, files=[pdf(), pdf("第二份.pdf")])
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["state"], body["percent"], body["period"]) == ("submitted", 30, "2026-06")
        assert body["assignment"]["id"] == w.assignment_hospital.pk
        assert body["can_review"] is False
        assert [e["original_name"] for e in body["evidence"]] == ["进展说明.pdf", "第二份.pdf"]
        evidence = body["evidence"][0]
        assert (evidence["kind"], evidence["content_type"], evidence["size"]) == ("pdf", "application/pdf", len(PDF))
        assert evidence["download_url"].endswith(f"/api/task-evidence/{evidence['id']}/download/")

        download = client.get(evidence["download_url"])
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == PDF
        assert download["Content-Type"] == "application/pdf"
        assert download["Content-Disposition"].startswith("attachment;")
        assert "%E8%BF%9B%E5%B1%95%E8%AF%B4%E6%98%8E.pdf" in download["Content-Disposition"]  # 进展说明.pdf
        # Asked for with any Accept header.
        assert client.get(evidence["download_url"], HTTP_ACCEPT="application/pdf").status_code == 200

        assert api(w.bureau).get(evidence["download_url"]).status_code == 200
        assert api(w.alliance_admin).get(evidence["download_url"]).status_code == 200  # the hospital is in A
        assert api(w.filer).get(evidence["download_url"]).status_code == 404  # another institution's filer
        assert api(w.outsider).get(evidence["download_url"]).status_code == 404

    w.assignment_hospital.refresh_from_db()
    assert w.assignment_hospital.percent == 30 and w.assignment_hospital.last_report_at is not None


def test_marking_complete_without_a_file_names_files(ledger_world):
    w = ledger_world
    with at(w, days=3):
        response = report(api(w.filer_hospital), w.assignment_hospital, percent=100, marks_complete=True)
    assert response.status_code == 400
    assert list(response.json()) == ["files"]
    assert not ProgressReport.objects.exists()


@pytest.mark.parametrize(("name", "content"), [
    ("佐证.pdf", os.urandom(256)),
    ("scan.png", b"MZ\x90\x00" + os.urandom(100)),
    ("data.bin", os.urandom(64)),
])
def test_a_file_that_is_not_what_evidence_may_be_is_refused_by_name(ledger_world, name, content):
    w = ledger_world
    with at(w, days=3):
        response = report(api(w.filer_hospital), w.assignment_hospital,
                          files=[pdf(), SimpleUploadedFile(name, content)])
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["files"] and len(errors["files"]) == 1 and name in errors["files"][0]
    assert not ProgressReport.objects.exists() and not Evidence.objects.exists()


def test_a_png_named_pdf_is_kept_as_the_image_it_is(ledger_world):
    """The name is not trusted (tasks.evidence): a real image under a .pdf name is accepted as an
    image, and served with the content type of what it is."""
    w = ledger_world
    with at(w, days=3):
        response = report(api(w.filer_hospital), w.assignment_hospital,
                          files=[SimpleUploadedFile("照片.pdf", PNG, content_type="application/pdf")])
    assert response.status_code == 201, response.content
    evidence = response.json()["evidence"][0]
    assert (evidence["kind"], evidence["content_type"]) == ("image", "image/png")
    assert Evidence.objects.get().file.name.endswith(".png")


def test_report_needs_an_assignment_the_user_reports_for(ledger_world):
    w = ledger_world
    with at(w, days=3):
        # Visible but not his to report: the supervisor sees everything and reports nothing.
        assert report(api(w.supervisor), w.assignment_hospital).status_code == 403
        # The bureau reports for departments, not for institutions.
        assert report(api(w.bureau), w.assignment_hospital).status_code == 403
        assert report(api(w.bureau), w.assignment_bureau, percent=10).status_code == 201
        # Not visible: like a missing id, in the field.
        hidden = report(api(w.filer_hospital), w.assignment_a)
        missing = api(w.filer_hospital).post("/api/task-reports/", {"assignment": MISSING_ID, "text": "x",
                                                                    "percent": 1}, format="multipart")
        assert hidden.status_code == missing.status_code == 400
        assert list(hidden.json()) == ["assignment"]
        bad = report(api(w.filer_hospital), w.assignment_hospital, text="  ", percent=120, period="2027-01")
        assert bad.status_code == 400 and set(bad.json()) == {"text", "percent", "period"}


def test_review_return_needs_a_reason_and_the_percent_falls_back(ledger_world):
    w = ledger_world
    filer, bureau = api(w.filer_hospital), api(w.bureau)
    with at(w, days=3):
        first = report(filer, w.assignment_hospital, percent=30).json()
    with at(w, days=10):
        second = report(filer, w.assignment_hospital, percent=60).json()
        assert bureau.get(f"/api/task-reports/{second['id']}/").json()["can_review"] is True
        url = f"/api/task-reports/{second['id']}/review/"
        for user in (w.filer_hospital, w.supervisor, w.alliance_admin):
            assert api(user).post(url, {"accept": True}, format="json").status_code == 403
        no_reason = bureau.post(url, {"accept": False, "reason": "  "}, format="json")
        assert no_reason.status_code == 400 and list(no_reason.json()) == ["reason"]
        assert api(w.filer_hospital).get(f"/api/task-assignments/{w.assignment_hospital.pk}/").json()["percent"] == 60

        returned = bureau.post(url, {"accept": False, "reason": "佐证材料不全"}, format="json")
        assert returned.status_code == 200, returned.content
        body = returned.json()
        assert (body["state"], body["review_reason"], body["reviewed_by"]["id"]) == ("returned", "佐证材料不全",
                                                                                      w.bureau.pk)
        assignment = bureau.get(f"/api/task-assignments/{w.assignment_hospital.pk}/").json()
        assert assignment["percent"] == 30 and assignment["latest_report"]["state"] == "returned"
        again = bureau.post(url, {"accept": True}, format="json")
        assert again.status_code == 400 and "non_field_errors" in again.json()
        assert ids(bureau.get("/api/task-reports/", {"state": "returned"})) == {second["id"]}
        assert ids(bureau.get("/api/task-reports/", {"assignment": w.assignment_hospital.pk})) == {
            first["id"], second["id"]}


def test_accepting_a_completion_completes_the_assignment(ledger_world):
    w = ledger_world
    with at(w, days=5):
        done = report(api(w.filer_hospital), w.assignment_hospital, percent=100, marks_complete=True, files=[pdf()])
        assert done.status_code == 201, done.content
        before = api(w.bureau).get(f"/api/task-assignments/{w.assignment_hospital.pk}/").json()
        assert before["completed_at"] is None and before["status"] != "done"
    with at(w, days=6):
        accepted = api(w.bureau).post(f"/api/task-reports/{done.json()['id']}/review/", {"accept": True},
                                      format="json")
        assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
        after = api(w.filer_hospital).get(f"/api/task-assignments/{w.assignment_hospital.pk}/").json()
        assert after["completed_at"] is not None
        assert (after["status"], after["light"], after["percent"], after["can_report"]) == ("done", "", 100, True)
        late = report(api(w.filer_hospital), w.assignment_hospital, percent=100)
        assert late.status_code == 400 and "non_field_errors" in late.json()
    assert Assignment.objects.get(pk=w.assignment_hospital.pk).status == "done"


# Supervision orders ------------------------------------------------------------------------

def test_supervision_order_issue_reply_escalate_close(ledger_world):
    w = ledger_world
    supervisor = api(w.supervisor)
    payload = {"assignment": w.assignment_a.pk, "colour": "yellow", "reply_due": "2026-06-15",
               "text": "人员统筹进度滞后，请说明"}
    with at(w, days=3):
        assert api(w.filer_hospital).post("/api/supervision-orders/", {
            **payload, "assignment": w.assignment_hospital.pk}, format="json").status_code == 403
        assert api(w.alliance_admin).post("/api/supervision-orders/", payload, format="json").status_code == 403
        assert api(w.bureau).post("/api/supervision-orders/", payload, format="json").status_code == 403

        issued = supervisor.post("/api/supervision-orders/", payload, format="json")
        assert issued.status_code == 201, issued.content
        order = issued.json()
        assert (order["state"], order["step"], order["colour"]) == ("open", "reminder", "yellow")
        assert order["number"] == "督办〔2026〕1号" and order["issued_by"]["id"] == w.supervisor.pk
        assert [s["step"] for s in order["steps"]] == ["reminder"]

        second = supervisor.post("/api/supervision-orders/", {**payload, "text": "再次督办"}, format="json")
        assert second.status_code == 400 and list(second.json()) == ["assignment"]
        past = supervisor.post("/api/supervision-orders/", {**payload, "assignment": w.assignment_b.pk,
                                                            "reply_due": "2026-05-01"}, format="json")
        assert past.status_code == 400 and list(past.json()) == ["reply_due"]

    url = f"/api/supervision-orders/{order['id']}/"
    with at(w, days=4):
        assert api(w.alliance_admin).get(url).json()["can_reply"] is True
        assert api(w.filer_hospital).get(url).status_code == 404  # not his matter
        assert api(w.supervisor).post(url + "reply/", {"text": "x"}, format="json").status_code == 403
        empty = api(w.alliance_admin).post(url + "reply/", {"text": " "}, format="json")
        assert empty.status_code == 400 and list(empty.json()) == ["text"]
        replied = api(w.alliance_admin).post(url + "reply/", {"text": "已制定统筹方案"}, format="json")
        assert replied.status_code == 200, replied.content
        assert (replied.json()["state"], replied.json()["replied_by"]["id"]) == ("replied", w.alliance_admin.pk)
        again = api(w.alliance_admin).post(url + "reply/", {"text": "再答"}, format="json")
        assert again.status_code == 400

    with at(w, days=5):
        assert api(w.alliance_admin).post(url + "escalate/", {"step": "letter"}, format="json").status_code == 403
        escalated = supervisor.post(url + "escalate/", {"step": "letter", "note": "专函督办"}, format="json")
        assert escalated.status_code == 200, escalated.content
        body = escalated.json()
        assert body["step"] == "letter"
        letter = body["steps"][-1]
        assert (letter["step"], letter["note"], letter["taken_by"]["id"]) == ("letter", "专函督办", w.supervisor.pk)
        assert letter["taken_at"].startswith("2026-06-06")
        back = supervisor.post(url + "escalate/", {"step": "reminder"}, format="json")
        assert back.status_code == 400 and list(back.json()) == ["step"]
        assert "suggested_step" in supervisor.get(url).json()

        assert api(w.bureau).post(url + "close/", {}, format="json").status_code == 403
        closed = supervisor.post(url + "close/", {"note": "已整改"}, format="json")
        assert closed.status_code == 200 and closed.json()["state"] == "closed"
        assert closed.json()["closed_by"]["id"] == w.supervisor.pk
        assert supervisor.post(url + "close/", {}, format="json").status_code == 400
    assert ids(supervisor.get("/api/supervision-orders/", {"state": "closed"})) == {order["id"]}


def test_escalation_rules_suggest_the_next_step(ledger_world):
    w = ledger_world
    supervisor = api(w.supervisor)
    with at(w, days=3):
        first = supervisor.post("/api/supervision-orders/", {"assignment": w.assignment_a.pk, "colour": "yellow",
                                                             "reply_due": "2026-06-10", "text": "一督"}, format="json")
        supervisor.post(f"/api/supervision-orders/{first.json()['id']}/close/", {}, format="json")
        second = supervisor.post("/api/supervision-orders/", {"assignment": w.assignment_a.pk, "colour": "yellow",
                                                              "reply_due": "2026-06-10", "text": "二督"},
                                 format="json")
        assert second.status_code == 201, second.content
        suggested = second.json()["suggested_step"]
        assert suggested["step"] == "letter" and suggested["count"] == 2


# Deadlines ---------------------------------------------------------------------------------

def test_bureau_sets_a_deadline_and_the_filer_may_not(ledger_world):
    w = ledger_world
    with at(w, days=3):
        denied = api(w.filer_hospital).post(f"/api/task-items/{w.item_hospital.pk}/deadline/",
                                            {"deadline_kind": "fixed", "due_date": "2026-09-30"}, format="json")
        assert denied.status_code == 403
        assert api(w.supervisor).post(f"/api/task-items/{w.item_hospital.pk}/deadline/",
                                      {"deadline_kind": "fixed", "due_date": "2026-09-30"},
                                      format="json").status_code == 403
        bureau = api(w.bureau)
        no_date = bureau.post(f"/api/task-items/{w.item_fanout.pk}/deadline/", {"deadline_kind": "milestone"},
                              format="json")
        assert no_date.status_code == 400 and list(no_date.json()) == ["due_date"]
        response = bureau.post(f"/api/task-items/{w.item_fanout.pk}/deadline/",
                               {"deadline_kind": "fixed", "due_date": "2026-06-05"}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["deadline_kind"], body["due_date"], body["deadline_corrected"]) == ("fixed", "2026-06-05", True)
        assert body["deadline_corrected_by"]["id"] == w.bureau.pk and body["needs_deadline"] is False
        # The statuses of the item's assignments follow at once.
        row = bureau.get(f"/api/task-assignments/{w.assignment_a.pk}/").json()
        assert (row["status"], row["days_left"]) == ("due_soon", 1)
        assert Assignment.objects.get(pk=w.assignment_a.pk).status == "due_soon"
    w.item_hospital.refresh_from_db()
    assert w.item_hospital.due_date == date(2026, 12, 31) and not w.item_hospital.deadline_corrected


def test_items_needing_a_deadline_are_filtered(ledger_world):
    w = ledger_world
    with at(w, days=1):
        unread = item_save(ledger=w.ledger, user=w.bureau, number="3.1", text="建立督办台账",
                           lead_units_text="县卫生健康局", deadline_text="视情况而定", now=w.now + timedelta(days=1))
        client = api(w.bureau)
        assert ids(client.get("/api/task-items/", {"needs_deadline": "true"})) == {unread.pk}
        assert unread.pk not in ids(client.get("/api/task-items/", {"needs_deadline": "false"}))
        assert ids(client.get("/api/task-items/", {"deadline_kind": "continuous"})) == {w.item_bureau.pk}
        client.post(f"/api/task-items/{unread.pk}/deadline/", {"deadline_kind": "continuous"}, format="json")
        assert ids(client.get("/api/task-items/", {"needs_deadline": "true"})) == set()


# Query counts ------------------------------------------------------------------------------

def _query_counts(client) -> dict[str, int]:
    counts = {}
    for url in LIST_URLS:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        counts[url] = len(ctx.captured_queries)
    return counts


def _grow(w, n: int) -> None:
    now = w.now + timedelta(days=2)
    for i in range(n):
        item = item_save(ledger=w.ledger, user=w.bureau, number=f"9.{i + 1}", text=f"扩展任务{i}",
                         lead_units_text="县人民医院", coop_units_text="县财政局", deadline_text="9月底",
                         section_labels=["九、扩展"], now=now)
        assignment = item.assignments.get(institution=w.hospital)
        progress_report_submit(assignment=assignment, user=w.filer_hospital, text=f"进展{i}", percent=10,
                               marks_complete=False, files=[pdf(f"扩展{i}.pdf")], now=now)
        order_issue(assignment=assignment, user=w.supervisor, colour="blue", text=f"督办{i}",
                    reply_due=date(2026, 6, 30), now=now)
        Ledger.objects.create(county=w.yn, title=f"扩展台账{i}", year=2026)


@pytest.mark.parametrize("who", ["bureau", "alliance_admin", "filer_hospital", "supervisor"])
def test_list_query_counts_do_not_grow_with_the_data(activity, who):
    w = activity
    with at(w, days=2):
        progress_report_review(report=w.report, user=w.bureau, accept=False, reason="补充材料",
                               now=w.now + timedelta(days=2))
        # Every list starts non-empty for every user (an empty page skips reading rows).
        order_issue(assignment=w.assignment_hospital, user=w.supervisor, colour="blue", text="请报进展",
                    reply_due=date(2026, 6, 30), now=w.now + timedelta(days=2))
        client = api(getattr(w, who))
    with at(w, days=3):
        client.get("/api/task-assignments/")  # statuses due by now are refreshed once
        small = _query_counts(client)
    with at(w, days=2):
        _grow(w, 20)
    with at(w, days=3):
        client.get("/api/task-assignments/")
        large = _query_counts(client)
        assert len(rows(client.get("/api/task-assignments/"))) >= 20 or who == "supervisor"
    assert large == small
    # Savepoint and release (ATOMIC_REQUESTS), session, user, grants, refresh, count, rows and
    # at most three reads for the whole page.
    assert max(small.values()) <= 12, small


def test_an_alliance_office_list_does_not_ask_per_row_whether_it_may_report(ledger_world):
    """can_report of an institution's assignment for an alliance office depends on membership
    today; the list answers it in its one query."""
    w = ledger_world
    client = api(w.alliance_admin)
    with at(w, days=3):
        with CaptureQueriesContext(connection) as ctx:
            client.get("/api/task-assignments/")
        small = len(ctx.captured_queries)
    with at(w, days=2):
        for i in range(10):
            item_save(ledger=w.ledger, user=w.bureau, number=f"8.{i + 1}", text=f"成员任务{i}",
                      lead_units_text="县人民医院", deadline_text="12月底", now=w.now + timedelta(days=2))
    with at(w, days=3):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/task-assignments/")
    assert len(ctx.captured_queries) == small
    assert all(row["can_report"] for row in rows(response))


# Schema ------------------------------------------------------------------------------------

def test_schema_lists_the_task_endpoints(ledger_world):
    import yaml

    schema = yaml.safe_load(api(ledger_world.bureau).get("/api/schema/").content)
    for path in ["/api/task-ledgers/", "/api/task-items/{id}/deadline/", "/api/task-assignments/",
                 "/api/task-reports/", "/api/task-reports/{id}/review/", "/api/task-evidence/{id}/download/",
                 "/api/supervision-orders/{id}/escalate/", "/api/supervision-orders/{id}/reply/",
                 "/api/supervision-orders/{id}/close/"]:
        assert path in schema["paths"], path
    create = schema["paths"]["/api/task-reports/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in create


def test_another_counties_supervisor_cannot_order_here(ledger_world):
    w = ledger_world
    wy_supervisor = UserFactory(username="wy_supervisor")
    grant(wy_supervisor, Role.SUPERVISOR, w.wy)
    with at(w, days=3):
        response = api(wy_supervisor).post("/api/supervision-orders/", {
            "assignment": w.assignment_a.pk, "colour": "red", "reply_due": "2026-06-30", "text": "x"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["assignment"]
    assert not SupervisionOrder.objects.exists()
