"""The reports API under /api/: the archive's list with its filters and scoping, a report's detail
with versions and the delivery log (no addresses of users), downloads only for those who may (as
on the page), the bureau's sign-off (same rule and security-log event as the page), query counts
that do not grow with the reports, and the scope sweep covering the new routes.

The world is that of ``tests/test_reports_pages.py``: 郁南县's November tables sent on 5 December
2026, and its 2026Q3 quarterly draft waiting for the sign-off."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Role
from core.audit import Event
from core.models import SecurityEvent
from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from reports import services
from reports.models import Delivery, Kind, RecipientList, Report
from tests.factories import UserFactory, grant

SH = ZoneInfo("Asia/Shanghai")
DEC_5 = datetime(2026, 12, 5, 8, 0, tzinfo=SH)
OCT_1 = datetime(2026, 10, 1, 8, 0, tzinfo=SH)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def rapi(ledger_world, settings):
    w = ledger_world
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    install_catalog()
    install_forms(w.yn, first_period="2026-01")
    w.bureau_admin.email = "admin@yn.example.org"
    w.bureau_admin.save(update_fields=["email"])
    services.sweep(DEC_5)
    w.monthly = Report.objects.get(kind=Kind.MONTHLY, county=w.yn, alliance=None, period="2026-11")
    w.monthly_a = Report.objects.get(kind=Kind.MONTHLY, alliance=w.alliance_a, period="2026-11")
    w.quarterly, _ = services.create_report(Kind.QUARTERLY, w.yn, Period.parse("2026Q3"), now=OCT_1)
    services.process(w.quarterly.pk, OCT_1)
    w.quarterly.refresh_from_db()
    w.viewer = UserFactory(username="yn_viewer")
    grant(w.viewer, Role.VIEWER, w.yn)
    return w


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_list_is_the_archive_with_its_filters(rapi):
    w = rapi
    client = api(w.bureau)
    mine = ids(client.get("/api/reports/"))
    assert {w.monthly.pk, w.monthly_a.pk, w.quarterly.pk} <= mine
    assert not Report.objects.filter(pk__in=mine).exclude(county=w.yn).exists()  # 万源市's tables are not listed
    assert ids(client.get("/api/reports/", {"kind": "quarterly"})) == {w.quarterly.pk}
    sent = ids(client.get("/api/reports/", {"state": "sent", "period": "2026-11", "kind": "monthly"}))
    assert {w.monthly.pk, w.monthly_a.pk} <= sent and w.quarterly.pk not in sent
    assert ids(client.get("/api/reports/", {"alliance": w.alliance_a.pk, "kind": "monthly"})) == {w.monthly_a.pk}
    assert ids(client.get("/api/reports/", {"county": w.yn.pk, "period": "2026Q3"})) == {w.quarterly.pk}
    row = next(r for r in client.get("/api/reports/", {"kind": "quarterly"}).json()["results"])
    assert row["state"] == "ready" and row["can_sign_off"] is True and row["county_name"] == "郁南县"
    assert row["version_count"] == 1 and row["delivery_count"] == 0
    # Another county's id or a kind that does not exist: 400, as an id that does not exist.
    assert client.get("/api/reports/", {"county": w.wy.pk}).status_code == 400
    assert client.get("/api/reports/", {"kind": "<script>"}).status_code == 400
    # The alliance office sees its alliance's tables only; the outsider and the ungranted nothing.
    assert ids(api(w.alliance_admin).get("/api/reports/", {"period": "2026-11", "kind": "monthly"})) == {
        w.monthly_a.pk}
    outsider = api(w.outsider).get("/api/reports/")
    assert "郁南县" not in outsider.content.decode() and w.monthly.pk not in ids(outsider)
    assert ids(api(w.nobody).get("/api/reports/")) == set()
    assert api().get("/api/reports/").status_code in (401, 403)


def test_detail_with_versions_and_the_delivery_log(rapi):
    w = rapi
    response = api(w.city).get(f"/api/reports/{w.monthly.pk}/")
    assert response.status_code == 200
    data = response.json()
    assert data["title"] == "郁南县紧密型县域医共体进度监测表（2026年11月）" and data["state"] == "sent"
    assert data["can_sign_off"] is False
    version = w.monthly.versions.get()
    (v,) = data["versions"]
    assert v["number"] == 1 and v["download_url"].endswith(f"/api/report-versions/{version.pk}/download/")
    by_user = {d["user"]: d for d in data["deliveries"]}
    assert by_user[w.bureau_admin.pk]["recipient"] == w.bureau_admin.display_name
    assert by_user[w.bureau_admin.pk]["state"] == "sent" and by_user[w.bureau_admin.pk]["sent_at"]
    assert "admin@yn.example.org" not in response.content.decode()  # a user is named, not addressed
    # Another county's report, a missing one: the same 404.
    assert api(w.outsider).get(f"/api/reports/{w.monthly.pk}/").status_code == 404
    assert api(w.outsider).get("/api/reports/987654321/").status_code == 404
    assert api(w.alliance_admin).get(f"/api/reports/{w.monthly.pk}/").status_code == 404


def test_downloads_only_for_those_who_may(rapi):
    w = rapi
    version = w.monthly.versions.get()
    url = f"/api/report-versions/{version.pk}/download/"
    response = api(w.bureau_admin).get(url)
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert response.content == bytes(version.xlsx)
    assert Delivery.objects.get(report=w.monthly, user=w.bureau_admin).read_at is not None
    assert api(w.city).get(url).status_code == 200
    for user in (w.outsider, w.nobody, w.filer, w.alliance_admin):
        assert api(user).get(url).status_code == 404, user
        assert api(user).get(f"/api/report-versions/{version.pk}/").status_code == 404, user
    # The centre's filer opens the reminder delivered to it, though it sees no archive of the county.
    reminder, _ = services.create_report(Kind.REMINDER, w.yn, Period.parse("2026-11"), edition=1,
                                         now=datetime(2026, 12, 1, 8, 0, tzinfo=SH))
    services.process(reminder.pk, datetime(2026, 12, 1, 8, 0, tzinfo=SH))
    assert api(w.filer).get(f"/api/reports/{reminder.pk}/").status_code == 404
    reminder_version = reminder.versions.get()
    opened = api(w.filer).get(f"/api/report-versions/{reminder_version.pk}/")
    assert opened.status_code == 200 and opened.json()["report"] == reminder.pk


def test_the_bureau_signs_off_the_draft_others_cannot(rapi):
    w = rapi
    RecipientList.objects.create(county=w.yn, kind=Kind.QUARTERLY, roles=["bureau_admin"],
                                 emails="sxwjj@yf.example.org")
    url = f"/api/reports/{w.quarterly.pk}/sign-off/"
    for user in (w.viewer, w.supervisor, w.city):
        assert api(user).post(url, {"commentary": "x"}, format="json").status_code == 403, user
    assert api(w.alliance_admin).post(url, {}, format="json").status_code == 404
    assert api(w.outsider).post(url, {}, format="json").status_code == 404
    assert api(w.bureau).post(f"/api/reports/{w.monthly.pk}/sign-off/", {}, format="json").status_code == 404
    too_long = api(w.bureau).post(url, {"commentary": "长" * 2001}, format="json")
    assert too_long.status_code == 400 and "commentary" in too_long.json()
    w.quarterly.refresh_from_db()
    assert w.quarterly.state == Report.State.READY
    assert not SecurityEvent.objects.filter(event=Event.REPORT_SIGNOFF).exists()

    response = api(w.bureau).post(url, {"commentary": "同意"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["signed_off_by"]["id"] == w.bureau.pk and data["commentary"] == "同意"
    assert [v["number"] for v in data["versions"]] == [2, 1] and data["can_sign_off"] is False
    event = SecurityEvent.objects.get(event=Event.REPORT_SIGNOFF)
    assert event.actor_id == w.bureau.pk and event.target_id == str(w.quarterly.pk) and event.county_id == w.yn.pk
    again = api(w.bureau).post(url, {"commentary": "再签"}, format="json")
    assert again.status_code == 409 and "不能签发" in again.json()["detail"]
    # Sent: the extra address is the recipient the page shows; the users are named.
    services.process(w.quarterly.pk, OCT_1 + timedelta(days=1))
    deliveries = api(w.bureau).get(f"/api/reports/{w.quarterly.pk}/").json()["deliveries"]
    assert {d["recipient"] for d in deliveries} == {w.bureau_admin.display_name, "sxwjj@yf.example.org"}
    assert all("admin@yn.example.org" not in str(d) for d in deliveries)


def test_query_counts_do_not_grow_with_reports_or_deliveries(rapi):
    w = rapi
    client = api(w.bureau)
    listed = queries(client, "/api/reports/")
    detail = queries(client, f"/api/reports/{w.monthly.pk}/")
    for number in range(4):
        grant(UserFactory(username=f"yn_staff_{number}", email=f"s{number}@yn.example.org"), Role.BUREAU_STAFF, w.yn)
    later = datetime(2027, 1, 5, 8, 0, tzinfo=SH)
    services.sweep(later)  # December's tables, to more recipients
    december = Report.objects.get(kind=Kind.MONTHLY, county=w.yn, alliance=None, period="2026-12")
    assert december.deliveries.count() > w.monthly.deliveries.count()
    assert queries(client, "/api/reports/") == listed
    assert queries(client, f"/api/reports/{december.pk}/") == detail


def test_the_scope_sweep_covers_the_new_routes():
    from tests.test_scope_sweep import _model_for, _portal_routes

    routes = {route.name: route for route in _portal_routes()}
    for name in ("report-list", "report-detail", "report-sign-off", "report-version-detail",
                 "report-version-download"):
        assert name in routes, name
    assert _model_for(routes["report-sign-off"], "pk") is Report
    assert _model_for(routes["report-version-download"], "pk").__name__ == "ReportVersion"
