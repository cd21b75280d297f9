"""The security log for auditors: the page (filters, scoping, actor names, summaries), one event with
its hashes, the .xlsx export (text stays text; the export is itself an event) and
``/api/security-events/`` (shape, filters, scoping); 403 for everyone but auditors and superusers,
404 for an event of another county; query counts that do not grow with the log.

The log is not emptied between tests (its table is unmanaged): tests look for the rows they wrote,
by their unique names and addresses, never at the whole log."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.models import Role, User
from core import audit
from core.models import AuditChain, SecurityEvent
from tests.conftest import client_for
from tests.factories import UserFactory, grant

SH = ZoneInfo("Asia/Shanghai")
E = audit.Event
LIST = reverse("security:event_list")
EXPORT = reverse("security:event_export")
API = "/api/security-events/"


def detail_url(row) -> str:
    return reverse("security:event_detail", kwargs={"event_pk": row.pk})


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def account(username, role=None, scope=None, **fields):
    user = UserFactory(username=username, **fields)
    if role:
        grant(user, role, scope)
    return user


@pytest.fixture
def w(world):
    """Auditors of 郁南县, of its city 云浮市 and of 万源市; 郁南县's security administrator; a
    superuser; an event of each county (a grant in 郁南县, a failed sign-in in 万源市)."""
    w = world
    w.auditor = account("yn_auditor", Role.AUDITOR, w.yn, county=w.yn, full_name="郁南审计员")
    w.city_auditor = account("yf_auditor", Role.AUDITOR, w.yf)
    w.wy_auditor = account("wy_auditor", Role.AUDITOR, w.wy, county=w.wy)
    w.security = account("yn_security", Role.SECURITY_ADMIN, w.yn, county=w.yn, full_name="郁南安全员")
    w.root = account("root_audit", is_superuser=True)
    w.yn_event = audit.record(E.GRANT_ADD, actor=w.security, target=w.bureau, county_id=w.yn.pk,
                              address="10.2.3.4", details={"grant": "业务人员 · 郁南县", "role": "bureau_staff",
                                                           "before": [], "after": ["业务人员 · 郁南县"]})
    w.wy_event = audit.record(E.LOGIN_FAILED, username="wy_typo_user", county_id=w.wy.pk, result=audit.FAILURE,
                              address="192.168.77.1", details={"channel": "page"})
    return w


# Who reads what ------------------------------------------------------------------------------------

def test_county_auditor_reads_its_county_only(w):
    client = client_for(w.auditor)
    page = client.get(LIST).content.decode()
    assert "yn_security" in page and "郁南安全员" in page and "10.2.3.4" in page
    assert "业务人员 · 郁南县" in page  # the grant's before → after, in short
    assert "wy_typo_user" not in page and "192.168.77.1" not in page
    assert client.get(detail_url(w.yn_event)).status_code == 200
    foreign, missing = client.get(detail_url(w.wy_event)), client.get(reverse("security:event_detail",
                                                                              kwargs={"event_pk": 987654321}))
    assert foreign.status_code == missing.status_code == 404
    assert "wy_typo_user" not in foreign.content.decode()


def test_city_auditor_reads_the_counties_below_and_the_superuser_all(w):
    page = client_for(w.city_auditor).get(LIST).content.decode()
    assert "yn_security" in page and "wy_typo_user" not in page
    assert client_for(w.city_auditor).get(detail_url(w.wy_event)).status_code == 404
    everything = client_for(w.root).get(LIST).content.decode()
    assert "yn_security" in everything and "wy_typo_user" in everything


def test_another_countys_auditor_reads_its_own_events_and_gets_404_on_ours(w):
    client = client_for(w.wy_auditor)
    page = client.get(LIST).content.decode()
    assert "wy_typo_user" in page and "yn_security" not in page and "郁南" not in page
    assert client.get(detail_url(w.wy_event)).status_code == 200
    assert client.get(detail_url(w.yn_event)).status_code == 404
    assert api(w.wy_auditor).get(f"{API}{w.yn_event.pk}/").status_code == 404
    assert [r["id"] for r in api(w.wy_auditor).get(API, {"user": "yn_security"}).json()["results"]] == []


@pytest.mark.parametrize("who", ["security", "bureau", "bureau_admin", "nobody"])
def test_everyone_but_auditors_gets_403(w, who):
    user = {"security": w.security, "bureau": w.bureau, "bureau_admin": w.bureau_admin, "nobody": w.nobody}[who]
    client = client_for(user)
    before = AuditChain.objects.get(pk=1).last_seq
    for url in (LIST, EXPORT, detail_url(w.yn_event), detail_url(w.wy_event)):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "10.2.3.4" not in response.content.decode()
    assert api(user).get(API).status_code == 403
    assert api(user).get(f"{API}{w.yn_event.pk}/").status_code == 403
    assert not SecurityEvent.objects.filter(seq__gt=before, event=E.EXPORT_PERSONAL).exists()


def test_the_log_cannot_be_written_through_its_pages_or_api(w):
    client = client_for(w.auditor)
    assert client.post(LIST).status_code == 405
    assert client.post(detail_url(w.yn_event)).status_code == 405
    for method in ("post", "put", "patch", "delete"):
        url = API if method == "post" else f"{API}{w.yn_event.pk}/"
        assert getattr(api(w.auditor), method)(url, {}, format="json").status_code == 405, method
    assert SecurityEvent.objects.filter(pk=w.yn_event.pk).exists()


# The page ------------------------------------------------------------------------------------------

def test_detail_shows_every_field_the_details_and_the_hashes(w):
    page = client_for(w.auditor).get(detail_url(w.yn_event)).content.decode()
    for text in (str(w.yn_event.seq), "yn_security", "郁南安全员", "10.2.3.4", w.yn_event.hash,
                 w.yn_event.prev_hash, "grant.add", str(w.bureau), "&quot;after&quot;",
                 '<dd class="col-8">郁南县</dd>'):
        assert text in page, text


def test_filters_of_the_page(w):
    client = client_for(w.auditor)
    other = audit.record(E.PASSWORD_RESET, actor=w.security, target=w.auditor, address="10.9.0.1")
    by_event = client.get(LIST, {"event": E.PASSWORD_RESET}).content.decode()
    assert "10.9.0.1" in by_event and "10.2.3.4" not in by_event
    by_address = client.get(LIST, {"address": "10.2."}).content.decode()
    assert "10.2.3.4" in by_address and "10.9.0.1" not in by_address
    # A user name finds the events the account acted in and those done to it.
    as_target = client.get(LIST, {"user": "yn_auditor"}).content.decode()
    assert "10.9.0.1" in as_target and "10.2.3.4" not in as_target
    as_actor = client.get(LIST, {"user": "yn_security"}).content.decode()
    assert "10.9.0.1" in as_actor and "10.2.3.4" in as_actor
    assert detail_url(other) in as_actor
    # Bad input: the field is named, the rest still filters, no 500.
    bad = client.get(LIST, {"since": "2026-06-02", "until": "2026-06-01", "event": "no.such", "page": "x"})
    assert bad.status_code == 200
    assert set(bad.context["form"].errors) == {"until", "event"}


def _api_ids(who, **params) -> list[int]:
    response = api(who).get(API, params)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_days_are_whole_days_in_shanghai(w):
    actor = account("yn_clock_user", county=w.yn)
    rows = [audit.record(E.LOGIN, actor=actor, target=actor, now=datetime(*moment, tzinfo=SH))
            for moment in ((2026, 4, 30, 23, 59, 59), (2026, 5, 1, 0, 0), (2026, 5, 1, 23, 59, 59), (2026, 5, 2, 0, 0))]
    ids = _api_ids(w.auditor, user="yn_clock_user", since="2026-05-01", until="2026-05-01")
    assert ids == [rows[2].pk, rows[1].pk]  # newest first
    assert _api_ids(w.auditor, user="yn_clock_user", since="2026-05-02") == [rows[3].pk]
    assert _api_ids(w.auditor, user="yn_clock_user", until="2026-04-30") == [rows[0].pk]
    page = client_for(w.auditor).get(LIST, {"user": "yn_clock_user", "since": "2026-05-01", "until": "2026-05-01"})
    assert [r["event"].pk for r in page.context["rows"]] == [rows[2].pk, rows[1].pk]
    assert "2026-05-01 23:59:59" in page.content.decode()  # shown in Asia/Shanghai


def test_list_queries_do_not_grow_with_the_log(w, django_assert_max_num_queries):
    """20 and 200 events by 20 and 200 different actors: the same queries (names in one)."""
    actors = User.objects.bulk_create([User(username=f"yn_bulk_{n}", full_name=f"批量{n}", county=w.yn)
                                       for n in range(200)])
    client = client_for(w.auditor)

    def counts(n: int) -> tuple[int, int]:
        api_client = api(User.objects.get(pk=w.auditor.pk))  # a fresh user object: its scope not cached
        audit.record_many([audit.Pending(E.LOGIN, actor=actors[i], county_id=w.yn.pk) for i in range(n)])
        with CaptureQueriesContext(connection) as page:
            response = client.get(LIST)
        assert response.status_code == 200 and len(response.context["rows"]) >= min(n, 50)
        with CaptureQueriesContext(connection) as endpoint:
            assert api_client.get(API).status_code == 200
        return len(page.captured_queries), len(endpoint.captured_queries)

    assert counts(20) == counts(180)
    with django_assert_max_num_queries(10):
        page = client.get(LIST).content.decode()
    assert "批量179" in page and "批量130" in page  # the newest actors, with their real names


def test_summaries_say_what_happened_in_a_few_words(w):
    from security.events import summary

    def said(event, **details) -> str:
        return summary(SecurityEvent(event=event, details=details))

    assert said(E.GRANT_ADD, grant="填报员 · 平台镇卫生院", before=["查看 · 郁南县"],
                after=["查看 · 郁南县", "填报员 · 平台镇卫生院"]).count("填报员 · 平台镇卫生院") == 2
    assert "“名册.xlsx”" in said(E.IMPORT_CONFIRM, register="institutions", file="名册.xlsx", rows=12)
    assert "12" in said(E.IMPORT_CONFIRM, register="institutions", file="名册.xlsx", rows=12)
    assert "口径调整" in said(E.FILING_UNLOCK, reason="口径调整")
    assert "7" in said(E.EXPORT_PERSONAL, register="roster", rows=9, full_identity_numbers=7)
    assert said(E.LOGIN, method="totp") != said(E.LOGIN, method="password")
    assert said(E.LOGIN_FAILED, channel="page") != said(E.LOGIN_FAILED, channel="page", locked_out=True)
    assert len(said(E.USER_EDIT, changed=["x" * 50] * 10)) <= 160


# The export ----------------------------------------------------------------------------------------

def test_export_is_the_filtered_log_as_text_and_is_itself_an_event(w):
    sly = account("=HYPERLINK(\"http://x\",\"y\")", county=w.yn, full_name="=1+2")
    audit.record(E.USER_EDIT, actor=sly, target=sly, address="10.4.4.4", details={"changed": ["=cmd|' /C calc'!A0"]})
    client = client_for(w.auditor)
    before = AuditChain.objects.get(pk=1).last_seq
    response = client.get(EXPORT, {"address": "10."})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert ".xlsx" in response["Content-Disposition"]
    ws = load_workbook(io.BytesIO(response.content)).active
    values = [cell.value for row in ws.iter_rows() for cell in row if cell.value is not None]
    assert "10.2.3.4" in values and "10.4.4.4" in values and "192.168.77.1" not in values
    formulas = [cell.coordinate for row in ws.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []
    assert "=HYPERLINK(\"http://x\",\"y\")" in values and "=1+2" in values
    assert any(isinstance(v, str) and "=cmd|" in v for v in values)
    assert ws["A1"].value and "郁南县" in ws["A2"].value  # the official layout: title, 填报单位
    exported = SecurityEvent.objects.get(seq__gt=before, event=E.EXPORT_PERSONAL)
    assert (exported.actor_id, exported.county_id) == (w.auditor.pk, w.yn.pk)
    assert exported.details["register"] == "security_log" and exported.details["rows"] >= 2
    assert exported.details["filters"] == {"address": "10."}


# The API ---------------------------------------------------------------------------------------------

def test_api_shape_and_filters(w):
    response = api(w.auditor).get(API, {"user": "yn_security"})
    assert response.status_code == 200
    row = next(r for r in response.json()["results"] if r["id"] == w.yn_event.pk)
    assert set(row) == {"id", "seq", "event", "label", "actor", "target", "time", "address", "result", "details"}
    assert row["event"] == "grant.add" and row["label"] == audit.label("grant.add")
    assert row["actor"] == {"id": w.security.pk, "username": "yn_security", "name": "郁南安全员"}
    assert row["target"] == {"type": "accounts.user", "id": str(w.bureau.pk), "name": str(w.bureau)}
    assert (row["address"], row["result"]) == ("10.2.3.4", "success")
    assert row["details"]["after"] == ["业务人员 · 郁南县"]
    assert datetime.fromisoformat(row["time"]) == w.yn_event.time
    assert api(w.auditor).get(f"{API}{w.yn_event.pk}/").json() == row

    failed = api(w.wy_auditor).get(API, {"result": "failure", "address": "192.168.77"}).json()["results"]
    assert [r["id"] for r in failed] == [w.wy_event.pk]
    assert failed[0]["actor"] == {"id": None, "username": "wy_typo_user", "name": ""}
    assert _api_ids(w.wy_auditor, result="success", address="192.168.77") == []
    assert _api_ids(w.auditor, event="grant.add", user="yn_security") == [w.yn_event.pk]
    bad = api(w.auditor).get(API, {"since": "yesterday", "result": "maybe"})
    assert bad.status_code == 400 and set(bad.json()) == {"since", "result"}
