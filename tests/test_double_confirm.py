"""A confirmation applies once (issue 16, item 5). Two clicks on 确认导入 — at the same moment (two
threads, two clients sharing one session cookie, released by a barrier) or one after the other —
never answer 500 and never import twice: one applies, the other is sent to the result page (or the
list) with "this import has been confirmed already".

The tests are transactional (the threads use their own connections and must see the committed
world). On PostgreSQL the two requests truly overlap. On SQLite the write lock taken when each
request's transaction begins (``transaction_mode="IMMEDIATE"``, ``ATOMIC_REQUESTS``) serialises
them, so the second request finds the first one's work committed: still the case a double click
on the embedded default meets, and the case the old code answered with a 400 page (SQLite) or a
500 ``IntegrityError`` (PostgreSQL).
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext

from core import pending
from core.models import SecurityEvent
from tests.conftest import client_for
from tests.test_reports_pages import pages  # noqa: F401 (the ``pages`` fixture)
from tests.test_security_users import sec_fixture  # noqa: F401 (the ``sec`` fixture)

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def twin(client: Client) -> Client:
    """Another browser tab of the same session: a client with the same cookies that answers a
    server error as a 500 response (instead of raising), so that the test can count them."""
    other = Client(raise_request_exception=False)
    for key, morsel in client.cookies.items():
        other.cookies[key] = morsel.value
    return other


def _fresh(data):
    """``data``, or a new copy of it from a callable (an upload is read once)."""
    return data() if callable(data) else data


def concurrently(client: Client, url: str, data) -> list:
    """Two POSTs of ``data`` to ``url`` from two tabs of ``client``'s session, released at once."""
    tabs = [twin(client), twin(client)]
    barrier = threading.Barrier(2)
    responses: list = [None, None]
    failures: list[BaseException] = []

    def click(n: int) -> None:
        try:
            payload = _fresh(data)
            barrier.wait(timeout=30)
            responses[n] = tabs[n].post(url, payload)
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return responses


def sequentially(client: Client, url: str, data) -> list:
    """The same two POSTs, the second after the first has finished."""
    first = twin(client).post(url, _fresh(data))
    second = twin(client).post(url, _fresh(data))
    return [first, second]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def one_applied_one_told(responses, *, winner_status: int = 302) -> tuple:
    """Neither answer is a server error; exactly one says "confirmed already" (with a 302), the
    other is the first result. Returns (winner, loser)."""
    statuses = [r.status_code for r in responses]
    assert 500 not in statuses, statuses
    already = str(pending.ALREADY_CONFIRMED)
    told = [r for r in responses if already in messages_of(r)]
    assert len(told) == 1, (statuses, [messages_of(r) for r in responses])
    loser = told[0]
    winner = next(r for r in responses if r is not loser)
    assert loser.status_code == 302, loser.status_code
    assert winner.status_code == winner_status, (winner.status_code, winner.content[:500])
    return winner, loser


def confirmations(register: str) -> int:
    """Confirmations in the security log (append-only: it outlives the flush between transactional
    tests, so the tests compare counts before and after)."""
    return SecurityEvent.objects.filter(event="import.confirm", details__register=register).count()


CLICKS = [pytest.param(concurrently, id="concurrent"), pytest.param(sequentially, id="sequential")]


# The ledger import (tasks) ------------------------------------------------------------------------

@pytest.mark.parametrize("clicks", CLICKS)
def test_ledger_import_confirmed_twice_imports_once(ledger_world, clicks):
    from tasks.models import Ledger, TaskItem
    from tests.test_tasks_import import SEED_000_LIKE, SEED_000_MERGES, upload, workbook

    w = ledger_world
    client = client_for(w.bureau)
    url = reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk})
    page = client.post(url, {"file": upload(workbook(SEED_000_LIKE, merges=SEED_000_MERGES))})
    token = page.context["token"]
    assert token
    items_before = TaskItem.objects.count()
    logged = confirmations("ledger")
    responses = clicks(client, url, {"token": token, "confirm": "1", "unit_name": ["各医共体管委会办公室"],
                                     "unit_decision": ["create_other"]})
    winner, loser = one_applied_one_told(responses)
    ledger = Ledger.objects.get(year=2021)
    detail = reverse("tasks:ledger_detail", kwargs={"ledger_pk": ledger.pk})
    assert winner["Location"] == detail
    assert loser["Location"] in (detail, reverse("tasks:ledger_list"))
    if clicks is sequentially:
        assert loser["Location"] == detail  # the first result's page
    assert TaskItem.objects.count() == items_before + 6
    assert confirmations("ledger") == logged + 1


# The institution register (alliances) ---------------------------------------------------------------

@pytest.mark.parametrize("clicks", CLICKS)
def test_institution_register_confirmed_twice_imports_once(world, clicks):
    from alliances.models import Institution
    from tests.test_imports import import_url, row, upload, xlsx_bytes

    client = client_for(world.bureau)
    content = xlsx_bytes([row("河口中心卫生院", "中心卫生院", beds=40, population=25000, alliance="第一医共体",
                              role="成员单位", joined="2026-01-01")])
    token = upload(client, world.yn, content).context["token"]
    assert token
    before = Institution.objects.count()
    logged = confirmations("institutions")
    responses = clicks(client, import_url(world.yn), {"token": token})
    winner, loser = one_applied_one_told(responses)
    assert winner["Location"] == loser["Location"] or loser["Location"].startswith(
        reverse("alliances:institution_list"))
    assert Institution.objects.count() == before + 1
    assert Institution.objects.filter(name="河口中心卫生院").count() == 1
    assert confirmations("institutions") == logged + 1


# The user import (security) ---------------------------------------------------------------------------

@pytest.mark.parametrize("clicks", CLICKS)
def test_user_import_confirmed_twice_creates_the_accounts_once(sec, clicks):
    from accounts.models import Role, User
    from tests.test_security_users_import import role_zh, upload, workbook

    client = client_for(sec.sec)
    rows = [("李一", "li_yi", "13800000001", "", "平台镇卫生院", role_zh(Role.INSTITUTION_FILER)),
            ("李二", "li_er", "", "", "郁南县", role_zh(Role.VIEWER))]
    response = upload(client, workbook(rows))
    token, county = response.context["token"], response.context["county"]
    assert token
    logged = confirmations("users")
    responses = clicks(client, reverse("security:user_import_confirm"), {"token": token, "county": county.pk})
    winner, loser = one_applied_one_told(responses, winner_status=200)  # the page with the passwords' download
    assert loser["Location"] == reverse("security:user_list")
    assert User.objects.filter(username__in=["li_yi", "li_er"]).count() == 2
    assert confirmations("users") == logged + 1


# The roster import (staffing) -------------------------------------------------------------------------

@pytest.mark.parametrize("clicks", CLICKS)
def test_roster_import_confirmed_twice_imports_once(staffing_world, clicks):
    from staffing.models import Staff
    from tests.test_staffing_import import CONFIRM, make_id, person, post, xlsx

    w = staffing_world
    client = client_for(w.hr_alliance)
    response = post(client, xlsx([person("黄新医", make_id(11, "19880215"), "县人民医院", 职称="主治医师")]))
    assert response.status_code == 200
    before = Staff.objects.count()
    logged = confirmations("roster")
    responses = clicks(client, CONFIRM, {})
    winner, loser = one_applied_one_told(responses)
    assert winner["Location"] == loser["Location"] == reverse("staffing:roster")
    assert Staff.objects.count() == before + 1
    assert confirmations("roster") == logged + 1


# The procurement register and the budget import (finance) -------------------------------------------

@pytest.mark.parametrize("clicks", CLICKS)
def test_procurement_import_confirmed_twice_imports_once(world, clicks):
    from finance.models import AmountChange, Purchase
    from tests.test_finance_procurement import NOV_2026, _register

    client = client_for(world.alliance_admin)
    url = f"/finance/alliances/{world.alliance_a.pk}/procurement/import/"
    with time_machine.travel(NOV_2026, tick=True):
        preview = client.post(url, {"file": _register([("2026年4月", "县人民医院", 1000, "2,000.50", None, None)])})
        assert preview.status_code == 200
        logged = confirmations("procurement")
        responses = clicks(client, url + "confirm/", {})
    winner, loser = one_applied_one_told(responses)
    assert winner["Location"] == loser["Location"]
    assert Purchase.objects.count() == 2 and AmountChange.objects.count() in (0, 2)
    assert confirmations("procurement") == logged + 1


@pytest.mark.parametrize("clicks", CLICKS)
def test_budget_import_confirmed_twice_imports_once(world, clicks):
    from finance.models import AmountChange, Budget, BudgetAmount
    from tests.test_finance_budgets import _filled, _upload

    client = client_for(world.bureau)
    client.post(f"/finance/alliances/{world.alliance_a.pk}/budgets/new/", {"year": 2026})
    world.budget = Budget.objects.get(alliance=world.alliance_a, year=2026)
    world.client = client
    content = _filled(world, {"医疗收入|医共体合计（元）": 1000000, "医疗收入|县人民医院": 600000.5})
    assert client.post(f"/finance/budgets/{world.budget.pk}/import/", {"file": _upload(content)}).status_code == 200
    changes_before = AmountChange.objects.count()
    logged = confirmations("budget")
    responses = clicks(client, f"/finance/budgets/{world.budget.pk}/import/confirm/", {})
    winner, loser = one_applied_one_told(responses)
    assert winner["Location"] == loser["Location"] == f"/finance/budgets/{world.budget.pk}/"
    assert BudgetAmount.objects.count() == 2
    assert AmountChange.objects.count() - changes_before <= 2  # one audit row per amount, not two
    assert confirmations("budget") == logged + 1


# The Excel filings (indicators): one filing, and the alliance-wide workbook ------------------------

@pytest.fixture
def excel_world(world):
    from tests.test_indicators_excel import NOW

    with time_machine.travel(NOW, tick=True):
        from accounts.models import Role
        from indicators.catalog import install_catalog, install_forms
        from indicators.models import DataElement
        from indicators.services import filings as svc
        from tests.factories import UserFactory, grant
        from tests.test_indicators_excel import OCTOBER

        install_catalog()
        world.forms = {form.code: form for form in install_forms(world.yn)}
        world.monthly = world.forms["MONTHLY_OPS"]
        world.ids = dict(DataElement.objects.filter(county=None).values_list("code", "pk"))
        world.filing = svc.open_filing(world.monthly, world.centre, OCTOBER, user=world.filer)
        world.filer2 = UserFactory(username="yn_centre2_filer")
        grant(world.filer2, Role.INSTITUTION_FILER, world.centre2)
        yield world


@pytest.mark.parametrize("clicks", CLICKS)
def test_excel_filing_confirmed_twice_saves_once(excel_world, clicks):
    from indicators.models import DataValue, FilingEvent, ValueAudit
    from tests.test_indicators_excel import NOW, filled_template, upload, upload_url

    w = excel_world
    client = client_for(w.filer)
    with time_machine.travel(NOW, tick=True):
        response = upload(client, upload_url(w.filing), filled_template(w, client))
        token = response.context["token"]
        assert token
        logged = confirmations("filing")
        responses = clicks(client, upload_url(w.filing), {"token": token, "confirm": "1"})
    winner, loser = one_applied_one_told(responses)
    assert winner["Location"] == loser["Location"] == reverse("indicators:filing_detail",
                                                              kwargs={"filing_pk": w.filing.pk})
    assert DataValue.objects.filter(filing=w.filing).count() == 21
    assert ValueAudit.objects.filter(filing=w.filing, source="import").count() == 21
    assert FilingEvent.objects.filter(filing=w.filing, action="import").count() == 1
    assert confirmations("filing") == logged + 1


@pytest.mark.parametrize("clicks", CLICKS)
def test_alliance_workbook_confirmed_twice_saves_once(excel_world, clicks):
    from indicators.models import FilingEvent, ValueAudit
    from tests.test_indicators_excel import (
        CENTRE_VALUES,
        HOSPITAL_VALUES,
        NOW,
        alliance_upload_url,
        download,
        fill_grid,
        upload,
        workbook_url,
        xlsx,
    )

    w = excel_world
    client = client_for(w.alliance_admin)
    with time_machine.travel(NOW, tick=True):
        book = fill_grid(download(client, workbook_url(w)), {w.hospital.pk: HOSPITAL_VALUES, w.centre.pk: CENTRE_VALUES})
        response = upload(client, alliance_upload_url(w), xlsx(book))
        token = response.context["token"]
        assert token
        logged = confirmations("alliance_workbook")
        responses = clicks(client, alliance_upload_url(w), {"token": token, "confirm": "1"})
    winner, loser = one_applied_one_told(responses)
    assert winner["Location"] == loser["Location"] and "completeness" in winner["Location"]
    assert ValueAudit.objects.filter(source="import").count() == 47  # the hospital's 26 and the centre's 21
    assert FilingEvent.objects.filter(action="import").count() == 2
    assert confirmations("alliance_workbook") == logged + 1


# One-shot transitions: a second click is refused with a message, the change happens once ----------

def done_once(responses, success: str) -> None:
    """No server error; exactly one answer carries ``success``; the other was told something else."""
    statuses = [r.status_code for r in responses]
    assert 500 not in statuses and set(statuses) <= {200, 302}, statuses
    told = [messages_of(r) for r in responses]
    assert sum(success in m for m in told) == 1, told
    assert all(told), told  # the second click is answered with a message, not silently


@pytest.mark.parametrize("clicks", CLICKS)
def test_a_progress_report_is_reviewed_once(ledger_world, clicks):
    from tasks.models import AssignmentEvent, ProgressReport
    from tasks.services.progress import progress_report_submit

    w = ledger_world
    with time_machine.travel(w.now, tick=True):
        report = progress_report_submit(assignment=w.assignment_bureau, user=w.bureau, period="2026-06",
                                        percent=50, text="按计划推进", marks_complete=False, files=[], now=w.now)
    client = client_for(w.bureau)
    url = reverse("tasks:report_review", kwargs={"report_pk": report.pk})
    responses = clicks(client, url, {"decision": "return", "reason": "请补充材料"})
    done_once(responses, gettext("The report was returned with your reason."))
    report.refresh_from_db()
    assert report.state == ProgressReport.State.RETURNED and report.review_reason == "请补充材料"
    assert AssignmentEvent.objects.filter(kind=AssignmentEvent.Kind.RETURNED).count() == 1


@pytest.fixture
def budget_world(world):
    from finance.models import Budget

    client = client_for(world.bureau)
    assert client.post(f"/finance/alliances/{world.alliance_a.pk}/budgets/new/", {"year": 2026}).status_code == 302
    world.budget = Budget.objects.get(alliance=world.alliance_a, year=2026)
    world.client = client
    return world


@pytest.mark.parametrize("clicks", CLICKS)
def test_a_budget_is_submitted_returned_and_approved_once_each(budget_world, clicks):
    from finance.models import Budget

    w = budget_world
    office = client_for(w.alliance_admin)
    base = f"/finance/budgets/{w.budget.pk}/"
    done_once(clicks(office, base + "submit/", {}),
              gettext("The budget is submitted to the county health bureau for approval."))
    done_once(clicks(w.client, base + "return/", {"reason": "请补充说明"}),
              gettext("The budget is returned to the alliance office."))
    assert Budget.objects.get(pk=w.budget.pk).state == Budget.State.DRAFT
    office.post(base + "submit/")
    done_once(clicks(w.client, base + "approve/", {}), gettext("The budget is approved."))
    assert Budget.objects.get(pk=w.budget.pk).state == Budget.State.APPROVED


@pytest.mark.parametrize("clicks", CLICKS)
def test_a_new_budget_is_drafted_once(world, clicks):
    from finance.models import Budget

    client = client_for(world.bureau)
    responses = clicks(client, f"/finance/alliances/{world.alliance_a.pk}/budgets/new/", {"year": 2026})
    assert [r.status_code for r in responses] == [302, 302]
    assert Budget.objects.filter(alliance=world.alliance_a, year=2026).count() == 1


@pytest.mark.parametrize("clicks", CLICKS)
def test_a_filing_is_approved_once(excel_world, clicks):
    from indicators.models import Filing, FilingEvent
    from indicators.services import filings as svc
    from tests.test_indicators_excel import CENTRE_VALUES, NOW

    w = excel_world
    with time_machine.travel(NOW, tick=True):
        values = {w.ids[code]: Decimal(str(v)) for code, v in CENTRE_VALUES.items()}
        svc.save_values(w.filing, values, user=w.filer, expected_version=1)
        w.filing.refresh_from_db()
        svc.submit(w.filing, user=w.filer, expected_version=w.filing.version)
        w.filing.refresh_from_db()
        url = reverse("indicators:filing_review", kwargs={"filing_pk": w.filing.pk})
        responses = clicks(client_for(w.bureau), url, {"action": "approve", "version": w.filing.version})
    done_once(responses, gettext("Approved."))
    assert Filing.objects.get(pk=w.filing.pk).status == Filing.Status.APPROVED
    assert FilingEvent.objects.filter(filing=w.filing, action="approve").count() == 1


@pytest.mark.parametrize("clicks", CLICKS)
def test_a_quarterly_table_is_signed_off_once(pages, clicks):  # noqa: F811 (the fixture)
    from reports.models import Report

    w = pages
    responses = clicks(client_for(w.bureau), f"/reports/{w.quarterly.pk}/sign-off/", {"commentary": "同意"})
    done_once(responses, gettext("Signed off. The table is being sent."))
    assert Report.objects.get(pk=w.quarterly.pk).signed_off_by == w.bureau
    assert w.quarterly.versions.count() == 2  # the draft and one signed version



@pytest.mark.parametrize("clicks", CLICKS)
def test_a_supervision_order_is_closed_once(ledger_world, clicks):
    from datetime import date

    from tasks.models import SupervisionOrder
    from tasks.services.supervision import order_issue

    w = ledger_world
    with time_machine.travel(w.now, tick=True):
        order = order_issue(assignment=w.assignment_a, user=w.supervisor, colour="red", text="督办",
                            reply_due=date(2026, 6, 20), now=w.now)
        responses = clicks(client_for(w.supervisor), reverse("tasks:order_detail", kwargs={"order_pk": order.pk}),
                           {"action": "close", "note": "已整改"})
    done_once(responses, gettext("The order was closed."))
    assert any(gettext("This order is closed already.") in messages_of(r) for r in responses)
    order.refresh_from_db()
    assert order.state == SupervisionOrder.State.CLOSED and order.closed_by == w.supervisor


@pytest.mark.parametrize("clicks", CLICKS)
def test_a_progress_report_sent_twice_is_recorded_once(ledger_world, clicks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tasks.models import Evidence, ProgressReport

    w = ledger_world
    url = reverse("tasks:report_create", kwargs={"assignment_pk": w.assignment_hospital.pk})

    def form() -> dict:
        return {"period": "2026-06", "percent": 100, "text": "县域就诊率已达到90.3%", "marks_complete": "on",
                "files": [SimpleUploadedFile("县域就诊率统计.pdf", b"%PDF-1.4 evidence")]}

    with time_machine.travel(w.now, tick=True):
        responses = clicks(client_for(w.filer_hospital), url, form)
    statuses = [r.status_code for r in responses]
    assert statuses == [302, 302], statuses  # both see the report sent: the same one
    assert ProgressReport.objects.count() == 1 and Evidence.objects.count() == 1
    # A different report a moment later is a new report, not a double click.
    with time_machine.travel(w.now, tick=True):
        other = client_for(w.filer_hospital).post(url, {"period": "2026-06", "percent": 60, "text": "推进中"})
    assert other.status_code == 302 and ProgressReport.objects.count() == 2


def test_exactly_one_of_many_simultaneous_claims_wins():
    token = pending.new_token()
    barrier = threading.Barrier(8)
    won: list[bool] = []

    def contend() -> None:
        barrier.wait(timeout=30)
        won.append(pending.claim("ledgers", token))

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(won) == [False] * 7 + [True]
    assert pending.was_claimed("ledgers", token) and not pending.claim("ledgers", token)
    pending.release("ledgers", token)  # applying failed: the user may confirm again
    assert pending.claim("ledgers", token)
    assert not pending.claim("ledgers", "../../etc/passwd")  # only tokens name files


@pytest.mark.parametrize("clicks", CLICKS)
def test_a_secondment_sent_twice_is_recorded_once(staffing_world, clicks):
    from staffing.models import Move

    w = staffing_world
    responses = clicks(client_for(w.hr_hospital), f"/staffing/staff/{w.doctor.pk}/moves/new/",
                       {"kind": "secondment", "to_institution": w.centre.pk, "start": "2026-01-01",
                        "end": "2026-07-31", "note": "对口帮扶"})
    done_once(responses, gettext("The move is recorded."))
    assert Move.objects.count() == 1


@pytest.mark.parametrize("clicks", CLICKS)
def test_a_password_reset_sent_twice_resets_once(sec, clicks):
    from django.contrib.auth import get_user_model

    responses = clicks(client_for(sec.sec), reverse("security:user_reset_password", kwargs={"user_pk": sec.filer.pk}),
                       {"nonce": "Nf3kq9ZbW2xYt7LmPq1sAa"})
    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200, 302], statuses
    shown = next(r for r in responses if r.status_code == 200).context["password"]
    # The password shown is the one that works: the other click reset nothing.
    assert get_user_model().objects.get(pk=sec.filer.pk).check_password(shown)
    assert SecurityEvent.objects.filter(event="password.reset", target_id=str(sec.filer.pk)).count() == 1


@pytest.mark.parametrize("clicks", CLICKS)
def test_an_account_created_twice_is_made_once(sec, clicks):
    from accounts.models import Role, User

    data = {"full_name": "张三", "username": "zhangsan", "phone": "13800138000", "email": "zs@example.com",
            "role": Role.INSTITUTION_FILER, "unit": f"institution:{sec.centre.pk}", "nonce": "Qm4vT8cXr2LpZ0aBn5Yw1e"}
    responses = clicks(client_for(sec.sec), reverse("security:user_create"), data)
    statuses = [r.status_code for r in responses]
    # The second click is sent to the account with a message, or (when it is checked after the first one
    # committed) its form says the user name is taken; never a second account, never a 500.
    assert 500 not in statuses and sorted(statuses) in ([200, 302], [200, 400]), statuses
    if clicks is sequentially:
        assert statuses == [200, 302]
    assert User.objects.filter(username="zhangsan").count() == 1
