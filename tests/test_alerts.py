"""Threshold alerts (预警): each rule kind fires once per unit and period, not again on re-evaluation,
again the next period; acknowledged alerts stay closed; recipients get the inbox, e-mail and the
group robot; the pages and the API are scoped; an evaluation costs the same queries with 10× the
units; the review of a filing re-judges the rules.

郁南县 of the test world: 第一医共体 (县人民医院 lead; 平台镇卫生院, 桂圩镇卫生院) and 第三医共体 (县中医院 lead;
通门镇卫生院). The watched indicator ``AL_VISITS`` is 门急诊人次 (OP_VISITS) itself, so every figure
below is a sum of filed visits worked out by hand."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import SecurityEvent
from core.periods import Period
from finance.models import Budget, BudgetAmount, InsuranceBudget
from indicators.catalog import install_catalog, install_forms
from indicators.models import Filing, Indicator
from indicators.services import filings as svc
from reports import alerts
from reports.models import Alert, AlertDelivery, AlertRule, Webhook
from tasks.models import Assignment
from tests.conftest import client_for
from tests.factories import InstitutionFactory, MembershipFactory
from tests.test_indicators_engine import file_values
from tests.test_webhooks import KEY, Robot

SH = ZoneInfo("Asia/Shanghai")
NOV_3 = datetime(2026, 11, 3, 9, 0, tzinfo=SH)  # judges October
DEC_3 = datetime(2026, 12, 3, 9, 0, tzinfo=SH)  # judges November
OCT, NOV = Period.parse("2026-10"), Period.parse("2026-11")


@pytest.fixture
def aworld(ledger_world, settings):
    w = ledger_world
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    install_catalog()
    w.forms = {form.code: form for form in install_forms(w.yn, first_period="2026-01")}
    w.form = w.forms["MONTHLY_OPS"]
    for user, address in ((w.bureau_admin, "admin@yn.example.org"), (w.bureau, "staff@yn.example.org"),
                          (w.supervisor, "supervisor@yn.example.org"), (w.alliance_admin, "gt1@yn.example.org")):
        user.email = address
        user.save(update_fields=["email"])
    w.visits = Indicator.objects.create(county=w.yn, code="AL_VISITS", name="门急诊人次", numerator="OP_VISITS",
                                        denominator="", factor=1, unit_label="人次")
    return w


def visits(w, period: Period, by_institution: dict, status=Filing.Status.APPROVED) -> None:
    for institution, number in by_institution.items():
        file_values(w.form, institution, period, {"OP_VISITS": number}, status=status)


def rule(w, kind, **fields) -> AlertRule:
    fields.setdefault("roles", ["bureau_admin", "bureau_staff"])
    webhooks = fields.pop("webhooks", [])
    made = AlertRule.objects.create(county=w.yn, name=fields.pop("name", f"{kind} rule"), kind=kind,
                                    created_at=NOV_3, updated_at=NOV_3, **fields)
    made.webhooks.set(webhooks)
    return made


def evaluate(w, now, **kwargs):
    with time_machine.travel(now, tick=False):
        return alerts.evaluate_county(w.yn, now, **kwargs)


def opened(rule_: AlertRule) -> dict:
    return {(a.unit_name, a.period): a.value for a in Alert.objects.filter(rule=rule_, state=Alert.State.OPEN)}


# Each kind fires once per unit and period -------------------------------------------------------

def test_threshold_fires_once_per_unit_resolves_and_fires_again_next_month(aworld):
    w = aworld
    watch = rule(w, "threshold", indicator=w.visits, level="institution", operator="below", value=Decimal(100))
    visits(w, OCT, {w.hospital: 500, w.centre: 50, w.centre2: 150, w.tcm: 80, w.centre_b: 300})

    stats = evaluate(w, NOV_3)
    assert stats.raised == 2
    assert opened(watch) == {("平台镇卫生院", "2026-10"): Decimal(50), ("县中医院", "2026-10"): Decimal(80)}
    centre = Alert.objects.get(rule=watch, unit_id=w.centre.pk)
    assert centre.alliance_id == w.alliance_a.pk and centre.reference == Decimal(100)
    assert "平台镇卫生院" in centre.text and "50" in centre.text

    assert evaluate(w, NOV_3).raised == 0  # re-evaluation raises nothing
    assert Alert.objects.filter(rule=watch).count() == 2

    # 平台镇卫生院's October figure is corrected to 120: its alert is resolved, not deleted nor re-raised.
    visits(w, OCT, {w.centre: 120})
    stats = evaluate(w, NOV_3)
    assert (stats.raised, stats.resolved) == (0, 1)
    centre.refresh_from_db()
    assert centre.state == Alert.State.RESOLVED and centre.resolved_at == NOV_3
    visits(w, OCT, {w.centre: 60})
    assert evaluate(w, NOV_3).raised == 0  # same period: not raised again
    assert Alert.objects.get(pk=centre.pk).state == Alert.State.RESOLVED

    # November: the same units below 100 again → new alerts for the new period.
    visits(w, NOV, {w.hospital: 500, w.centre: 40, w.centre2: 150, w.tcm: 90, w.centre_b: 300})
    assert evaluate(w, DEC_3).raised == 2
    assert set(opened(watch)) == {("县中医院", "2026-10"), ("平台镇卫生院", "2026-11"), ("县中医院", "2026-11")}


def test_threshold_above_at_the_alliance_and_county_levels(aworld):
    w = aworld
    # alliance A = 500 + 50 + 150 = 700, B = 80 + 300 = 380; county = 1080
    alliance_rule = rule(w, "threshold", indicator=w.visits, level="alliance", operator="above", value=Decimal(500))
    county_rule = rule(w, "threshold", indicator=w.visits, level="county", operator="below", value=Decimal(1081))
    visits(w, OCT, {w.hospital: 500, w.centre: 50, w.centre2: 150, w.tcm: 80, w.centre_b: 300})
    assert evaluate(w, NOV_3).raised == 2
    assert opened(alliance_rule) == {("第一医共体", "2026-10"): Decimal(700)}
    assert opened(county_rule) == {("郁南县", "2026-10"): Decimal(1080)}


def test_falling_n_consecutive_periods(aworld):
    w = aworld
    falling = rule(w, "falling", indicator=w.visits, level="county", count=2)
    visits(w, Period.parse("2026-08"), {w.hospital: 1200})
    visits(w, Period.parse("2026-09"), {w.hospital: 1300})
    visits(w, OCT, {w.hospital: 1250})
    assert evaluate(w, NOV_3).raised == 0  # fell once only (1300 → 1250)

    visits(w, NOV, {w.hospital: 1100})
    assert evaluate(w, DEC_3).raised == 1  # 1300 → 1250 → 1100
    alert = Alert.objects.get(rule=falling)
    assert (alert.period, alert.value, alert.reference) == ("2026-11", Decimal(1100), Decimal(1300))
    assert "1300 → 1250 → 1100" in alert.text
    assert evaluate(w, DEC_3).raised == 0


def test_quarter_to_date_against_the_rules_value_or_the_indicators_threshold(aworld):
    w = aworld
    own = Indicator.objects.create(county=w.yn, code="AL_VISITS_T", name="门急诊人次（目标）", numerator="OP_VISITS",
                                   factor=1, target_kind="threshold", target_operator="ge", target_value=Decimal(1500))
    given = rule(w, "quarter", indicator=w.visits, level="alliance", value=Decimal(600))
    target = rule(w, "quarter", indicator=own, level="county")
    visits(w, OCT, {w.hospital: 500, w.centre: 50, w.centre2: 150, w.tcm: 80, w.centre_b: 300})
    assert evaluate(w, NOV_3).raised == 2
    assert opened(given) == {("第三医共体", "2026Q4"): Decimal(380)}  # 380 < 600; A's 700 meets it
    assert opened(target) == {("郁南县", "2026Q4"): Decimal(1080)}  # 1080 < 1500

    # November adds to the quarter: county 1080 + 600 = 1680 ≥ 1500 → resolved; B 380 + 100 = 480 < 600 → still open,
    # once for the quarter.
    visits(w, NOV, {w.hospital: 500, w.centre_b: 100})
    stats = evaluate(w, DEC_3)
    assert (stats.raised, stats.resolved) == (0, 1)
    assert opened(target) == {}
    assert Alert.objects.get(rule=given).value == Decimal(380)  # as raised


def test_insurance_run_rate_ahead_of_the_budget_share(aworld):
    w = aworld
    InsuranceBudget.objects.create(alliance=w.alliance_a, county=w.yn, year=2026, amount=Decimal(1_200_000))
    pace = rule(w, "insurance", level="alliance", value=Decimal(5))
    for month in ("2026-01", "2026-02", "2026-03"):
        file_values(w.form, w.hospital, Period.parse(month), {"INSURANCE_REVENUE": 100_000},
                    status=Filing.Status.APPROVED)
    # 300,000 of 1,200,000 = 25% after 3 months (25% of the year): on pace.
    assert evaluate(w, datetime(2026, 4, 3, 9, 0, tzinfo=SH)).raised == 0
    file_values(w.form, w.centre, Period.parse("2026-03"), {"INSURANCE_REVENUE": 120_000},
                status=Filing.Status.APPROVED)
    # 420,000 = 35% vs 25%: 10 points ahead > 5.
    assert evaluate(w, datetime(2026, 4, 3, 9, 0, tzinfo=SH)).raised == 1
    alert = Alert.objects.get(rule=pace)
    assert (alert.unit_name, alert.period, alert.value, alert.reference) == ("第一医共体", "2026-03", Decimal(35),
                                                                             Decimal(25))
    assert evaluate(w, datetime(2026, 4, 3, 9, 0, tzinfo=SH)).raised == 0
    # April: 520,000 = 43.33% after 4 months (33.33%): still 10 points ahead → April's alert.
    file_values(w.form, w.hospital, Period.parse("2026-04"), {"INSURANCE_REVENUE": 100_000},
                status=Filing.Status.APPROVED)
    assert evaluate(w, datetime(2026, 5, 3, 9, 0, tzinfo=SH)).raised == 1
    assert Alert.objects.get(rule=pace, period="2026-04").value == Decimal("43.33")


def test_insurance_rule_without_a_value_uses_the_countys_run_rate_warning(aworld):
    from finance.models import SettlementRule

    w = aworld
    InsuranceBudget.objects.create(alliance=w.alliance_a, county=w.yn, year=2026, amount=Decimal(600_000))
    InsuranceBudget.objects.create(alliance=w.alliance_b, county=w.yn, year=2026, amount=Decimal(600_000))
    SettlementRule.objects.create(county=w.yn, year=2026, warning_points=Decimal(8))
    county_pace = rule(w, "insurance", level="county")
    file_values(w.form, w.hospital, Period.parse("2026-03"), {"INSURANCE_REVENUE": 300_000},
                status=Filing.Status.APPROVED)
    file_values(w.form, w.tcm, Period.parse("2026-03"), {"INSURANCE_REVENUE": 120_000},
                status=Filing.Status.APPROVED)
    # County: 420,000 of 1,200,000 = 35% against the months filed (one, March: 8.33% of the year, as the 医保
    # page counts the elapsed share): 26.67 points ahead > 8.
    assert evaluate(w, datetime(2026, 4, 3, 9, 0, tzinfo=SH)).raised == 1
    assert opened(county_pace) == {("郁南县", "2026-03"): Decimal(35)}
    assert Alert.objects.get(rule=county_pace).reference == Decimal("8.33")


def test_budget_pacing_of_the_alliance_and_its_members(aworld):
    w = aworld
    budget = Budget.objects.create(alliance=w.alliance_a, year=2026, number=1, created_at=NOV_3,
                                   state=Budget.State.APPROVED)
    BudgetAmount.objects.create(budget=budget, line="MED", amount=Decimal(1_200_000))
    BudgetAmount.objects.create(budget=budget, institution=w.hospital, line="MED", amount=Decimal(1_000_000))
    BudgetAmount.objects.create(budget=budget, institution=w.centre, line="MED", amount=Decimal(200_000))
    alliance_rule = rule(w, "budget", level="alliance", value=Decimal(10))
    member_rule = rule(w, "budget", level="institution", operator="above", value=Decimal(10))
    for month in ("2026-01", "2026-02", "2026-03"):
        file_values(w.form, w.hospital, Period.parse(month), {"MED_REVENUE": 80_000}, status=Filing.Status.APPROVED)
        file_values(w.form, w.centre, Period.parse(month), {"MED_REVENUE": 30_000}, status=Filing.Status.APPROVED)
    # Elapsed 25%. Alliance 330,000 / 1,200,000 = 27.5% (2.5 points: on pace); 县人民医院 240,000 / 1,000,000 = 24%;
    # 平台镇卫生院 90,000 / 200,000 = 45% (20 points ahead).
    assert evaluate(w, datetime(2026, 4, 3, 9, 0, tzinfo=SH)).raised == 1
    assert opened(alliance_rule) == {}
    assert opened(member_rule) == {("平台镇卫生院", "2026-03"): Decimal(20)}
    assert evaluate(w, datetime(2026, 4, 3, 9, 0, tzinfo=SH)).raised == 0
    # April: 平台镇卫生院 120,000 / 200,000 = 60% vs 33.33% elapsed → April's alert; 县人民医院 still on pace.
    file_values(w.form, w.centre, Period.parse("2026-04"), {"MED_REVENUE": 30_000}, status=Filing.Status.APPROVED)
    assert evaluate(w, datetime(2026, 5, 3, 9, 0, tzinfo=SH)).raised == 1
    assert Alert.objects.get(rule=member_rule, period="2026-04").value == Decimal("26.67")


def test_red_tasks_of_an_alliance(aworld):
    w = aworld
    red = rule(w, "red_tasks", level="alliance", count=1)
    Assignment.objects.filter(pk__in=[w.assignment_a.pk, w.assignment_b.pk]).update(light="")
    assert evaluate(w, NOV_3).raised == 0
    Assignment.objects.filter(pk=w.assignment_a.pk).update(light="red", status="overdue")
    assert evaluate(w, NOV_3).raised == 1
    assert opened(red) == {("第一医共体", "2026-11"): Decimal(1)}
    assert evaluate(w, NOV_3).raised == 0
    assert evaluate(w, DEC_3).raised == 1  # still red in December: the December alert
    rule(w, "red_tasks", level="alliance", count=2, name="two red")
    assert evaluate(w, DEC_3).raised == 0


def test_a_disabled_rule_raises_nothing(aworld):
    w = aworld
    rule(w, "threshold", indicator=w.visits, level="county", operator="below", value=Decimal(10**6), is_active=False)
    visits(w, OCT, {w.hospital: 500})
    assert evaluate(w, NOV_3).rules == 0
    assert not Alert.objects.exists()


# Acknowledging ----------------------------------------------------------------------------------

def test_an_acknowledged_alert_stays_closed(aworld):
    w = aworld
    watch = rule(w, "threshold", indicator=w.visits, level="county", operator="below", value=Decimal(1000))
    visits(w, OCT, {w.hospital: 500})
    evaluate(w, NOV_3)
    alert = Alert.objects.get(rule=watch)
    page = client_for(w.bureau_admin)
    url = reverse("reports:alert_acknowledge", kwargs={"alert_pk": alert.pk})
    refused = page.post(url, {"note": "  "})
    assert refused.status_code == 400 and Alert.objects.get(pk=alert.pk).state == "open"
    assert page.post(url, {"note": "已约谈县人民医院，11月整改"}).status_code == 302
    assert page.post(url, {"note": "again"}).status_code == 302  # a double submit changes nothing
    alert.refresh_from_db()
    assert (alert.state, alert.note, alert.acknowledged_by) == ("acknowledged", "已约谈县人民医院，11月整改",
                                                                w.bureau_admin)
    assert SecurityEvent.objects.filter(event="alert.acknowledge").count() == 1

    visits(w, OCT, {w.hospital: 2000})  # the condition stops holding: stays acknowledged
    evaluate(w, NOV_3)
    visits(w, OCT, {w.hospital: 400})  # and holds again: not re-opened, not re-raised
    assert evaluate(w, NOV_3).raised == 0
    alert.refresh_from_db()
    assert alert.state == "acknowledged"


# Delivery ---------------------------------------------------------------------------------------

@pytest.fixture
def robot(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = Robot()
    yield server
    server.close()


def test_recipients_get_the_inbox_an_email_and_the_robot_once(aworld, robot):
    w = aworld
    county_robot = Webhook.objects.create(county=w.yn, name="县卫健局群", kind="wecom", url=f"{robot.base}/wecom?key={KEY}",
                                          created_at=NOV_3)
    b_robot = Webhook.objects.create(county=w.yn, alliance=w.alliance_b, name="第三医共体群", kind="generic",
                                     url=f"{robot.base}/b?key={KEY}", created_at=NOV_3)
    rule(w, "threshold", indicator=w.visits, level="alliance", operator="above", value=Decimal(500),
         roles=["bureau_admin", "alliance_admin"], webhooks=[county_robot, b_robot], name="门急诊偏高")
    visits(w, OCT, {w.hospital: 700, w.tcm: 100})
    assert evaluate(w, NOV_3).raised == 1  # alliance A: 700 > 500
    alert = Alert.objects.get()
    keys = set(AlertDelivery.objects.filter(alert=alert).values_list("address_key", "state"))
    # bureau_admin and alliance A's office; the county's robot (B's robot hears only of B)
    assert keys == {(f"user:{w.bureau_admin.pk}", "sent"), (f"user:{w.alliance_admin.pk}", "sent"),
                    (f"webhook:{county_robot.pk}", "sent")}
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@yn.example.org", "gt1@yn.example.org"]
    assert mail.outbox[0].subject.startswith("【医共体治理门户】") and "门急诊偏高" in mail.outbox[0].subject
    assert f"/reports/alerts/{alert.pk}/" in mail.outbox[0].body
    assert len(robot.posts) == 1
    path, _query, body = robot.posts[0]
    assert path == "/wecom" and "第一医共体" in body["text"]["content"] and f"/reports/alerts/{alert.pk}/" in body[
        "text"]["content"]

    evaluate(w, NOV_3)
    alerts.deliver_due(NOV_3)
    assert len(mail.outbox) == 2 and len(robot.posts) == 1  # nothing twice

    # The inbox: unread badge, the list, opening marks read.
    page = client_for(w.alliance_admin)
    assert ">1<" in page.get(reverse("reports:alert_unread")).content.decode()
    listing = page.get(reverse("reports:alert_list")).content.decode()
    assert "门急诊偏高" in listing and "第一医共体" in listing
    assert page.get(reverse("reports:alert_detail", kwargs={"alert_pk": alert.pk})).status_code == 200
    assert page.get(reverse("reports:alert_unread")).content.decode().strip() == ""


def test_a_failing_robot_is_retried_with_backoff(aworld, robot):
    w = aworld
    hook = Webhook.objects.create(county=w.yn, name="群", kind="dingtalk", url=f"{robot.base}/d?key={KEY}",
                                  created_at=NOV_3)
    rule(w, "threshold", indicator=w.visits, level="county", operator="below", value=Decimal(1000), roles=[],
         webhooks=[hook])
    visits(w, OCT, {w.hospital: 500})
    robot.answers.append((500, {}))
    evaluate(w, NOV_3)
    delivery = AlertDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("queued", 1, "HTTP 500")
    assert alerts.deliver_due(NOV_3) == 0  # not before its time
    later = datetime(2026, 11, 3, 9, 1, tzinfo=SH)
    assert alerts.deliver_due(later) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 2)


# The receiver ----------------------------------------------------------------------------------

def test_approving_a_filing_judges_the_rules_fed_by_its_form(aworld, django_capture_on_commit_callbacks,
                                                             monkeypatch):
    from reports import jobs

    w = aworld
    enqueued = []
    monkeypatch.setattr(jobs.evaluate_alerts, "delay", lambda **kwargs: enqueued.append(kwargs) or jobs.evaluate_alerts(
        **kwargs))
    watch = rule(w, "threshold", indicator=w.visits, level="institution", operator="below", value=Decimal(100))
    other_form_rule = rule(w, "red_tasks", level="alliance", count=1, name="red")
    Assignment.objects.filter(pk=w.assignment_a.pk).update(light="red")
    filing = file_values(w.form, w.centre, OCT, {"OP_VISITS": 40}, status=Filing.Status.SUBMITTED)
    with time_machine.travel(NOV_3, tick=False), django_capture_on_commit_callbacks(execute=True):
        svc.approve(filing, user=w.bureau, expected_version=filing.version)
    assert opened(watch) == {("平台镇卫生院", "2026-10"): Decimal(40)}
    assert enqueued == [{"alert_ids": [Alert.objects.get(rule=watch).pk]}]  # the worker sends them
    assert not Alert.objects.filter(rule=other_form_rule).exists()  # not fed by the form: the nightly run's
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@yn.example.org", "staff@yn.example.org"]
    assert all("threshold rule" in m.subject for m in mail.outbox)


def test_the_nightly_job_judges_every_county(aworld):
    from reports import jobs

    w = aworld
    rule(w, "threshold", indicator=w.visits, level="county", operator="below", value=Decimal(1000))
    visits(w, OCT, {w.hospital: 500})
    with time_machine.travel(NOV_3, tick=False):
        result = jobs.evaluate_alerts()
    assert (result["rules"], result["raised"], result["errors"]) == (1, 1, [])
    assert AlertDelivery.objects.filter(state="sent").count() == 2  # bureau_admin, bureau_staff by e-mail


# Query counts ---------------------------------------------------------------------------------

def _every_kind(w):
    InsuranceBudget.objects.create(alliance=w.alliance_a, county=w.yn, year=2026, amount=Decimal(1000))
    rule(w, "threshold", indicator=w.visits, level="institution", operator="below", value=Decimal(10**6))
    rule(w, "falling", indicator=w.visits, level="alliance", count=1)
    rule(w, "quarter", indicator=w.visits, level="county", value=Decimal(10**7))
    rule(w, "insurance", level="alliance", value=Decimal(0))
    rule(w, "red_tasks", level="alliance", count=1)
    Assignment.objects.filter(pk=w.assignment_a.pk).update(light="red")
    budget = Budget.objects.create(alliance=w.alliance_a, year=2026, number=1, created_at=NOV_3,
                                   state=Budget.State.APPROVED)
    BudgetAmount.objects.create(budget=budget, line="MED", amount=Decimal(100))
    rule(w, "budget", level="institution", value=Decimal(10))


def _queries(w, now) -> tuple[int, int, int]:
    """(queries other than inserts, inserts, alerts raised) of one evaluation. SQLite splits a bulk insert
    into batches of 999 variables: the inserts are counted apart and bounded."""
    with CaptureQueriesContext(connection) as captured:
        stats = evaluate(w, now, send=False)
    inserts = sum(1 for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("INSERT"))
    return len(captured) - inserts, inserts, stats.raised


def test_evaluation_costs_the_same_queries_with_ten_times_the_units(aworld):
    w = aworld
    _every_kind(w)
    visits(w, Period.parse("2026-09"), {w.hospital: 900, w.centre: 90})
    visits(w, OCT, {w.hospital: 500, w.centre: 50})
    small, small_inserts, raised_small = _queries(w, NOV_3)
    for number in range(45):
        centre = InstitutionFactory(county=w.yn, name=f"测试镇卫生院{number}")
        MembershipFactory(institution=centre, alliance=w.alliance_a if number % 2 else w.alliance_b,
                          valid_from=date(2020, 1, 1))
        visits(w, Period.parse("2026-09"), {centre: 200})
        visits(w, OCT, {centre: 100})
    large, large_inserts, raised_large = _queries(w, datetime(2026, 11, 4, 9, 0, tzinfo=SH))
    # small: 县人民医院, 平台镇卫生院 below 10⁶ (2), alliance A falling (990 → 550), county below the quarter's
    # 10⁷, A's 医保 budget of 1,000 with nothing paid (0 points: not ahead), A with a red task → 5 alerts.
    assert raised_small == 5
    # large: 45 more institutions below 10⁶, and alliance B falling (4,600 → 2,300) too.
    assert raised_large == 45 + 1
    assert large == small, (small, large)
    assert small_inserts <= large_inserts <= 4


# Pages, scoping, API --------------------------------------------------------------------------

def test_bureau_adds_edits_and_disables_a_rule_with_audit_events(aworld):
    w = aworld
    page = client_for(w.bureau)
    url = reverse("reports:alert_rule_add", kwargs={"region_pk": w.yn.pk})
    assert page.get(url).status_code == 200
    bad = page.post(url, {"name": "缺参数", "kind": "threshold", "level": "county", "roles": ["bureau_admin"]})
    assert bad.status_code == 200
    body = bad.content.decode()
    assert "Indicator: choose" in body or "指标" in body
    assert not AlertRule.objects.exists()
    form = {"name": "门急诊过低", "kind": "threshold", "indicator": w.visits.pk, "level": "alliance",
            "operator": "below", "value": "300", "roles": ["bureau_admin", "alliance_admin"], "is_active": "on"}
    assert page.post(url, form).status_code == 302
    assert page.post(url, form).status_code == 200  # a double submit adds no second rule
    saved = AlertRule.objects.get()
    assert (saved.kind, saved.level, saved.value, saved.roles) == ("threshold", "alliance", Decimal(300),
                                                                   ["bureau_admin", "alliance_admin"])
    edit = reverse("reports:alert_rule_edit", kwargs={"region_pk": w.yn.pk, "alert_rule_pk": saved.pk})
    assert page.post(edit, {**form, "value": "250"}).status_code == 302
    disable = reverse("reports:alert_rule_disable", kwargs={"region_pk": w.yn.pk, "alert_rule_pk": saved.pk})
    assert page.post(disable).status_code == 302
    assert page.post(disable).status_code == 302  # twice: one event
    saved.refresh_from_db()
    assert saved.value == Decimal(250) and not saved.is_active
    events = list(SecurityEvent.objects.filter(event__startswith="alert_rule.").order_by("seq")
                  .values_list("event", flat=True))
    assert events == ["alert_rule.add", "alert_rule.change", "alert_rule.disable"]
    listing = page.get(reverse("reports:alert_rules", kwargs={"region_pk": w.yn.pk})).content.decode()
    assert "门急诊过低" in listing
    # A reader of the county who is not the bureau: 403; the outsider: 404.
    assert client_for(w.alliance_admin).get(url).status_code in (403, 404)
    assert client_for(w.outsider).get(edit).status_code == 404
    assert client_for(w.outsider).post(disable).status_code == 404


def test_outsider_gets_404_on_alerts_and_the_api(aworld):
    w = aworld
    watch = rule(w, "threshold", indicator=w.visits, level="county", operator="below", value=Decimal(1000))
    visits(w, OCT, {w.hospital: 500})
    evaluate(w, NOV_3)
    alert = Alert.objects.get(rule=watch)
    outsider = client_for(w.outsider)
    assert outsider.get(reverse("reports:alert_detail", kwargs={"alert_pk": alert.pk})).status_code == 404
    assert outsider.post(reverse("reports:alert_acknowledge", kwargs={"alert_pk": alert.pk}),
                         {"note": "x"}).status_code == 404
    assert outsider.get(f"/api/alerts/{alert.pk}/").status_code == 404
    assert outsider.post(f"/api/alerts/{alert.pk}/acknowledge/", {"note": "x"}).status_code == 404
    assert outsider.get("/api/alerts/").json()["count"] == 0
    assert "郁南县" not in outsider.get(reverse("reports:alert_list")).content.decode()

    # The city reads the alert but neither receives nor may acknowledge it.
    city = client_for(w.city)
    assert city.get("/api/alerts/?state=open").json()["count"] == 1
    assert city.post(f"/api/alerts/{alert.pk}/acknowledge/", {"note": "x"}).status_code == 403
    staff = client_for(w.bureau)
    answer = staff.post(f"/api/alerts/{alert.pk}/acknowledge/", {"note": "已处理"}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["state"] == "acknowledged"
    assert staff.get("/api/alerts/?state=open").json()["count"] == 0
    assert staff.get(f"/api/alerts/?state=acknowledged&rule={watch.pk}&period=2026-10").json()["count"] == 1


def test_alert_list_filters_and_costs_the_same_queries(aworld, django_assert_max_num_queries):
    w = aworld
    watch = rule(w, "threshold", indicator=w.visits, level="institution", operator="below", value=Decimal(10**6))
    visits(w, OCT, {w.hospital: 500, w.centre: 50, w.centre2: 150, w.tcm: 80, w.centre_b: 300})
    evaluate(w, NOV_3)
    page = client_for(w.bureau_admin)
    url = reverse("reports:alert_list")
    body = page.get(url, {"alliance": w.alliance_b.pk}).content.decode()
    assert "县中医院" in body and "平台镇卫生院" not in body
    with CaptureQueriesContext(connection) as small:
        assert page.get(url).status_code == 200
    visits(w, NOV, {w.hospital: 500, w.centre: 50, w.centre2: 150, w.tcm: 80, w.centre_b: 300})
    evaluate(w, DEC_3)
    assert Alert.objects.filter(rule=watch).count() == 10
    with django_assert_max_num_queries(len(small)):
        assert page.get(url).status_code == 200


def test_open_alerts_summary_for_the_cockpit(aworld, django_assert_max_num_queries):
    w = aworld
    rule(w, "threshold", indicator=w.visits, level="institution", operator="below", value=Decimal(10**6))
    visits(w, OCT, {w.hospital: 500, w.centre: 50, w.centre2: 150, w.tcm: 80, w.centre_b: 300})
    visits(w, NOV, {w.hospital: 500, w.centre: 50})
    evaluate(w, NOV_3)
    evaluate(w, DEC_3)
    with django_assert_max_num_queries(4):
        summary = alerts.open_alerts_summary(w.bureau_admin)
    assert summary["count"] == 7 and len(summary["newest"]) == 5
    assert summary["newest"][0]["period"] == "2026-11"
    assert alerts.open_alerts_summary(w.outsider)["count"] == 0


def test_with_the_broker_down_the_review_sends_the_alert_itself(aworld, django_capture_on_commit_callbacks,
                                                                monkeypatch):
    from reports import jobs

    w = aworld

    def down(**kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(jobs.evaluate_alerts, "delay", down)
    rule(w, "threshold", indicator=w.visits, level="county", operator="below", value=Decimal(1000))
    filing = file_values(w.form, w.centre, OCT, {"OP_VISITS": 40}, status=Filing.Status.SUBMITTED)
    with time_machine.travel(NOV_3, tick=False), django_capture_on_commit_callbacks(execute=True):
        svc.approve(filing, user=w.bureau, expected_version=filing.version)
    assert Alert.objects.get().value == Decimal(40)
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@yn.example.org", "staff@yn.example.org"]


def test_demo_rules_of_yunan_are_judged_once(aworld):
    from reports.alert_demo import load_demo_alerts

    w = aworld
    Assignment.objects.filter(pk__in=[w.assignment_a.pk, w.assignment_b.pk]).update(light="red")
    with time_machine.travel(NOV_3, tick=False):
        first = load_demo_alerts(now=NOV_3)
        again = load_demo_alerts(now=NOV_3)
    assert set(AlertRule.objects.values_list("name", flat=True)) == {
        "县域就诊率低于90%", "基层就诊率低于65%", "基层就诊率连续2个月下降", "医共体红灯任务≥3项", "医保基金支出进度超前"}
    assert first == again and AlertRule.objects.count() == 5
    assert not Alert.objects.exists()  # two red tasks in all, no figures filed: nothing to raise
