"""The home page's cockpit (reports.cockpit): which home each role gets, what each shows on hand-made
data (indicator values against target and last year, the alliances side by side, red and yellow tasks
and the worst, filing completeness with returns, the orders awaiting a reply, 我的填报 returned
first, the city's counties ranked on their scores), that nothing of another county shows, and that
each home reads the same number of queries with ten times the data."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from alliances.models import Institution
from core.periods import Period
from finance.models import Budget, BudgetAmount
from indicators.models import Filing
from reports import cockpit
from tasks.models import Assignment, SupervisionOrder
from tasks.services.ledgers import item_save
from tasks.services.supervision import order_issue
from tests import test_city_rollup, test_indicators_engine
from tests.conftest import _make_ledger, client_for
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory, UserFactory, grant
from tests.test_indicators_engine import file_values

# Fixtures of other modules: the small county with its hand-worked figures; four counties with scores.
county = test_indicators_engine.county
cities = test_city_rollup.cities

SH = ZoneInfo("Asia/Shanghai")
# 10 October 2026: September's filings were due on the 5th, so the key indicators are September's.
OCT_10 = datetime(2026, 10, 10, 9, tzinfo=SH)
# 20 July 2026: task 1.1 (due 30 June) is 20 days late for both alliances.
JUL_20 = datetime(2026, 7, 20, 9, tzinfo=SH)
SEP = Period.parse("2026-09")
HOME = "/"


def home(user, moment: datetime):
    with time_machine.travel(moment, tick=False):
        response = client_for(user).get(HOME)
    assert response.status_code == 200, response.status_code
    return response


def with_ledger(w) -> None:
    w.now = datetime(2026, 6, 1, 8, 0, tzinfo=SH)
    with time_machine.travel(w.now, tick=False):
        _make_ledger(w)


# Which home ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "kind"), [
    ("bureau", "county"), ("bureau_admin", "county"), ("supervisor", "supervisor"), ("alliance_admin", "alliance"),
    ("filer", "filer"), ("city", "region"), ("province", "region"), ("outsider", "county"),
])
def test_each_role_gets_its_cockpit(world, who, kind):
    response = home(getattr(world, who), OCT_10)
    assert response.context["cockpit_kind"] == kind
    assert f"reports/cockpit/{kind}.html" in [t.name for t in response.templates]


def test_a_county_viewer_is_a_leader_and_a_supervisor_who_also_has_bureau_staff_gets_the_county(world):
    leader = UserFactory(username="yn_leader")
    grant(leader, Role.VIEWER, world.yn)
    assert cockpit.home_for(leader).kind == cockpit.COUNTY
    both = UserFactory(username="yn_both")
    grant(both, Role.SUPERVISOR, world.yn)
    grant(both, Role.BUREAU_STAFF, world.yn)
    assert cockpit.home_for(both).kind == cockpit.COUNTY


def test_security_roles_keep_their_pages_and_nobody_sees_no_access(world):
    security = UserFactory(username="yn_sec")
    grant(security, Role.SECURITY_ADMIN, world.yn)
    auditor = UserFactory(username="yn_aud")
    grant(auditor, Role.AUDITOR, world.yn)
    with time_machine.travel(OCT_10, tick=False):
        assert client_for(security).get(HOME)["Location"] == reverse("security:user_list")
        assert client_for(auditor).get(HOME)["Location"] == reverse("security:event_list")
        response = client_for(world.nobody).get(HOME)
    assert "core/no_access.html" in [t.name for t in response.templates]


def test_an_institution_viewer_keeps_the_structure_page(world):
    viewer = UserFactory(username="yn_inst_viewer")
    grant(viewer, Role.VIEWER, world.hospital)
    response = home(viewer, OCT_10)
    assert "alliances/institution_detail.html" in [t.name for t in response.templates]


def test_the_structure_page_stays_at_its_own_url_and_the_cockpit_links_it(world):
    structure = reverse("alliances:region_detail", kwargs={"region_pk": world.yn.pk})
    assert structure in home(world.bureau, OCT_10).content.decode()
    with time_machine.travel(OCT_10, tick=False):
        response = client_for(world.bureau).get(structure)
    assert "alliances/region_detail.html" in [t.name for t in response.templates]
    assert [a.name for a in response.context["alliances"]] == ["第一医共体", "第三医共体"]


# The county ------------------------------------------------------------------------------------

def _file_last_september(w) -> None:
    """September 2025: 县人民医院 1,000 and 平台镇卫生院 200 outpatient visits (基层 200 / 1,200 = 16.67%)."""
    file_values(w.forms["MONTHLY_OPS"], w.hospital, Period.parse("2025-09"), dict(OP_VISITS=1000))
    file_values(w.forms["MONTHLY_OPS"], w.centre, Period.parse("2025-09"), dict(OP_VISITS=200))


def test_county_key_indicators_against_target_last_year_and_alliances(county):
    w = county
    _file_last_september(w)
    response = home(w.bureau, OCT_10)
    assert response.context["key_period"] == SEP
    rows = {row.indicator.code: row for row in response.context["key_rows"]}
    assert set(rows) == {"A4_18", "VISIT_RATE", "A4_24", "A4_32", "A4_36"}  # the catalogue's key indicators
    # 基层就诊率 in September: 基层 300 + 200 + 100 of 1,000 + 300 + 200 + 500 + 100 visits = 28.57%; a year
    # earlier 16.67%: up 11.90 points, at least the 2 asked, so met (≥65% or up 2 points).
    primary = rows["A4_32"]
    assert primary.value_text == "28.57" and primary.baseline_text == "16.67"
    assert (primary.trend, primary.change_text, primary.met) == ("up", "+11.90", "met")
    # Side by side in September (平台 in 第一; 桂圩 moved to 第三 on 1 August): 300 / 1,300 and 300 / 800.
    assert [(a.alliance.name, a.text) for a in primary.alliances] == [("第一医共体", "23.08"), ("第三医共体", "37.50")]
    # 县域内住院率: 850 / 1,000 insured inpatients = 85.00%, target ≥ 85%: met; a county-only indicator.
    stay = rows["A4_18"]
    assert (stay.value_text, stay.met, stay.trend, stay.alliances) == ("85.00", "met", "", [])
    assert rows["VISIT_RATE"].met == "no_data"
    page = response.content.decode()
    assert 'data-indicator="A4_32"' in page and "28.57" in page and "+11.90" in page and "37.50" in page


def test_county_filing_completeness_counts_filed_and_returned(county):
    w = county
    Filing.objects.filter(form=w.forms["MONTHLY_OPS"], institution=w.centre_b, period=str(SEP)).update(
        status=Filing.Status.RETURNED, return_reason="门诊人次有误")
    response = home(w.bureau, OCT_10)
    by_code = {c.form.code: c for c in response.context["completeness"]}
    monthly = by_code["MONTHLY_OPS"]
    # The five hospitals and centres file it; four stand, 通门镇卫生院's was returned.
    assert (monthly.period, monthly.expected, monthly.filed, monthly.returned) == (SEP, 5, 4, 1)
    assert monthly.rate == Decimal("80.0")
    insurance = by_code["COUNTY_INSURANCE"]  # filed by the county itself
    assert (insurance.period, insurance.expected, insurance.filed, insurance.returned) == (SEP, 1, 1, 0)
    assert 'data-returned="1"' in response.content.decode()


def test_county_tasks_red_yellow_and_the_worst(ledger_world):
    w = ledger_world
    with time_machine.travel(w.now, tick=False):
        order_issue(assignment=w.assignment_a, user=w.supervisor, colour="red", text="督办", reply_due=date(2026, 7, 10),
                    now=w.now)
    response = home(w.bureau, JUL_20)
    tasks = response.context["tasks"]
    # 1.1's two alliances are overdue since 30 June: red; 1.2 (December) and 2.1 (continuous) are not.
    assert (tasks.counts.total, tasks.counts.red, tasks.counts.overdue) == (5, 2, 2)
    assert [a.pk for a in tasks.worst] == sorted([w.assignment_a.pk, w.assignment_b.pk])
    assert tasks.worst[0].result.days_late == 20
    assert response.context["open_orders"] == 1
    page = response.content.decode()
    assert 'data-figure="red">2<' in page and "推进医共体人员统筹使用" in page


def test_county_next_reports_and_signoff(world):
    # On 10 October the September progress table has gone (5 October): next is October's, on 5 November;
    # the 2026Q3 evaluation table is due by the end of 5 October, so next is 2026Q4's, drafted 1 January.
    got = [(r.period, r.due_at) for r in cockpit.next_reports(OCT_10)]
    assert got == [(Period.parse("2026-10"), datetime(2026, 11, 5, 8, tzinfo=SH)),
                   (Period.parse("2026Q4"), datetime(2027, 1, 1, 8, tzinfo=SH))]
    # On 3 October the 2026Q3 table is still being signed off (deadline 5 October).
    got = [(str(r.period), r.due_at) for r in cockpit.next_reports(datetime(2026, 10, 3, 9, tzinfo=SH))]
    assert got == [("2026Q3", datetime(2026, 10, 1, 8, tzinfo=SH)), ("2026-09", datetime(2026, 10, 5, 8, tzinfo=SH))]


def test_signoff_waits_for_the_bureau_not_the_viewer(cities):
    w = cities
    from reports.models import Report

    Report.objects.filter(county=w.yn).update(state=Report.State.READY, signed_off_at=None)
    report = Report.objects.get(county=w.yn)
    response = home(w.bureau, OCT_10)
    assert (response.context["signoff_count"], response.context["signoff"]) == (1, [report])
    assert reverse("reports:detail", kwargs={"scheduled_report_pk": report.pk}) in response.content.decode()
    viewer = UserFactory(username="yn_leader")
    grant(viewer, Role.VIEWER, w.yn)
    assert home(viewer, OCT_10).context["signoff_count"] == 0


def test_county_budget_execution_from_the_newest_approved_budget(county):
    w = county
    now = datetime(2026, 1, 5, tzinfo=SH)
    old = Budget.objects.create(alliance=w.alliance_a, county=w.yn, year=2026, number=1, state=Budget.State.APPROVED,
                                created_at=now)
    new = Budget.objects.create(alliance=w.alliance_a, county=w.yn, year=2026, number=2, state=Budget.State.APPROVED,
                                created_at=now)
    Budget.objects.create(alliance=w.alliance_b, county=w.yn, year=2026, number=1, state=Budget.State.DRAFT,
                          created_at=now)
    BudgetAmount.objects.create(budget=old, line="PERSONNEL", amount=Decimal("1"))
    # The total column of the newest version: 人员经费 2,000,000 + 其他支出 500,000 (a member's own line
    # does not add to it).
    BudgetAmount.objects.create(budget=new, line="PERSONNEL", amount=Decimal("2000000"))
    BudgetAmount.objects.create(budget=new, line="OTHER_EXPENSE", amount=Decimal("500000"))
    BudgetAmount.objects.create(budget=new, institution=w.hospital, line="PERSONNEL", amount=Decimal("1500000"))
    # Filed this year: 人员经费 of 县人民医院 400,000 + 平台镇卫生院 100,000; 其他支出 of 县人民医院 250,000.
    finance_form = w.forms["FINANCE_EXPENSE"]
    file_values(w.forms["MONTHLY_OPS"], w.hospital, Period.parse("2026-03"), dict(PERSONNEL_EXPENSE=400000))
    file_values(w.forms["MONTHLY_OPS"], w.centre, Period.parse("2026-03"), dict(PERSONNEL_EXPENSE=100000))
    file_values(finance_form, w.hospital, Period.parse("2026-03"), dict(EXP_OTHER=250000))
    rows = {b.alliance.pk: b for b in home(w.bureau, OCT_10).context["budgets"]}
    first = rows[w.alliance_a.pk]
    assert first.budget == new and first.expense_budget == Decimal("2500000.00")
    assert first.expense_actual == Decimal("750000.00") and first.rate == Decimal("30.00")  # 750,000 / 2,500,000
    assert rows[w.alliance_b.pk].budget is None and rows[w.alliance_b.pk].rate is None  # a draft does not count


# The supervisor ----------------------------------------------------------------------------------

def test_supervisor_home_is_the_dashboard_with_orders_awaiting_reply(ledger_world):
    w = ledger_world
    with time_machine.travel(w.now, tick=False):
        late = order_issue(assignment=w.assignment_b, user=w.supervisor, colour="red", text="督办",
                           reply_due=date(2026, 7, 10), now=w.now)
        later = order_issue(assignment=w.assignment_a, user=w.supervisor, colour="yellow", text="督办",
                            reply_due=date(2026, 7, 25), now=w.now)
    response = home(w.supervisor, JUL_20)
    context = response.context
    assert (context["tasks"].counts.red, context["open_orders"]) == (2, 2)
    assert [o.pk for o in context["orders"]] == [late.pk, later.pk]  # the reply due first comes first
    assert {row["alliance"].pk: row["red"] for row in context["by_alliance"] if row["alliance"]} == {
        w.alliance_a.pk: 1, w.alliance_b.pk: 1}
    assert {b["low"]: b["count"] for b in context["aging"]} == {1: 0, 8: 2, 31: 0, 91: 0}  # 20 days late
    page = response.content.decode()
    assert reverse("tasks:order_detail", kwargs={"order_pk": late.pk}) in page
    assert reverse("tasks:dashboard") in page


# The filer and the alliance office ----------------------------------------------------------------

def test_filer_home_puts_returned_filings_first_and_the_worst_task_first(county):
    w = county
    with_ledger(w)
    Filing.objects.filter(form=w.forms["MONTHLY_OPS"], institution=w.hospital, period="2026-08").update(
        status=Filing.Status.RETURNED, return_reason="出院人数有误")
    response = home(w.filer_hospital, OCT_10)
    context = response.context
    first = context["filings"][0]
    assert (first.form.code, str(first.period), first.status) == ("MONTHLY_OPS", "2026-08", "returned")
    assert context["returned"] == 1
    assert all(r.institution in (w.hospital, None) for r in context["filings"])
    assert all(not r.is_filed for r in context["filings"])  # what needs the filer's hand only
    # September's monthly figures are in (submitted): listed apart, as filed.
    assert ("MONTHLY_OPS", "2026-09", "submitted") in {(r.form.code, str(r.period), r.status) for r in context["current"]}
    # 县人民医院's one task: 1.2, due 31 December.
    assert [a.pk for a in context["tasks"]] == [w.assignment_hospital.pk]
    page = response.content.decode()
    assert "出院人数有误" in page and reverse("tasks:report_create", kwargs={"assignment_pk": w.assignment_hospital.pk}) in page


def test_filer_tasks_worst_first(ledger_world):
    w = ledger_world
    # 平台镇卫生院's filer of the alliance: the alliance's 1.1 (late since 30 June) before anything else.
    filer = UserFactory(username="yn_a_filer")
    grant(filer, Role.INSTITUTION_FILER, w.alliance_a)
    with time_machine.travel(w.now, tick=False):
        item_save(ledger=w.ledger, user=w.bureau, number="1.3", text="平台镇卫生院年底前完成改造",
                  lead_units_text="平台镇卫生院", deadline_text="12月底", section_labels=["一、深化改革"], now=w.now)
    context = home(filer, JUL_20).context
    tasks = context["tasks"]
    assert tasks[0].pk == w.assignment_a.pk and tasks[0].result.light == "red"
    assert {a.item.number for a in tasks} == {"1.1", "1.2", "1.3"}
    assert context["task_counts"].red == 1


def test_alliance_office_sees_its_members_filings_and_returns(county):
    w = county
    returned = Filing.objects.get(form=w.forms["MONTHLY_OPS"], institution=w.centre, period=str(SEP))
    Filing.objects.filter(pk=returned.pk).update(status=Filing.Status.RETURNED, return_reason="请补充")
    Filing.objects.filter(form=w.forms["MONTHLY_OPS"], institution=w.centre_b, period=str(SEP)).update(
        status=Filing.Status.RETURNED)  # another alliance's
    response = home(w.alliance_admin, OCT_10)
    context = response.context
    monthly = {c.form.code: c for c in context["completeness"]}["MONTHLY_OPS"]
    # 第一医共体 on 30 September: 县人民医院 and 平台镇卫生院 (桂圩 moved to 第三 in August).
    assert (monthly.expected, monthly.filed, monthly.returned) == (2, 1, 1)
    assert "COUNTY_INSURANCE" not in {c.form.code for c in context["completeness"]}
    assert (context["returned_count"], [f.pk for f in context["returned"]]) == (1, [returned.pk])
    assert context["execution"] is None
    page = response.content.decode()
    assert "通门镇卫生院" not in page and "请补充" in page


# The city --------------------------------------------------------------------------------------------

def test_city_ranks_its_counties_on_the_scores_ties_share_a_rank(cities):
    w = cities
    response = home(w.city, datetime(2026, 10, 8, 9, tzinfo=SH))
    context = response.context
    assert context["quarter"] == Period.parse("2026Q3")
    [block] = context["blocks"]
    assert block.region == w.yf
    got = [(c.row.county.name, c.row.score, c.row.rank) for c in block.counties]
    assert got == [("新兴县", Decimal("85.00"), 1), ("郁南县", Decimal("85.00"), 1), ("罗定市", Decimal("70.50"), 3),
                   ("=1+1区", None, None)]
    page = response.content.decode()
    assert "万源市" not in page
    for region in (w.yn, w.xx, w.ld):
        assert reverse("alliances:region_detail", kwargs={"region_pk": region.pk}) in page
    assert reverse("reports:city_summary", kwargs={"region_pk": w.yf.pk}) in page
    # The province: the same counties, in one block for 广东省.
    blocks = home(w.province, datetime(2026, 10, 8, 9, tzinfo=SH)).context["blocks"]
    assert [b.region for b in blocks] == [w.gd] and len(blocks[0].counties) == 4


def test_city_shows_red_tasks_and_key_indicators_of_each_county(county):
    w = county
    with_ledger(w)
    context = home(w.city, datetime(2026, 10, 10, 9, tzinfo=SH)).context
    [block] = context["blocks"]
    [row] = block.counties
    assert row.row.county == w.yn and row.red == 2  # 1.1 of both alliances, late since 30 June
    values = {indicator.code: text for indicator, _result, text in row.indicators}
    assert values["A4_18"] == "85.00"


# Scoping ------------------------------------------------------------------------------------------

def test_nothing_of_another_county_shows(county):
    w = county
    with_ledger(w)
    for user, foreign in ((w.bureau, ["万源市", "市人民医院", "白沙镇分院"]),
                          (w.outsider, ["郁南县", "第一医共体", "县人民医院", "平台镇卫生院", "推进医共体人员统筹使用"]),
                          (w.supervisor, ["万源市", "白沙镇分院"]),
                          (w.city, ["万源市"])):
        page = home(user, OCT_10).content.decode()
        for name in foreign:
            assert name not in page, (user.username, name)
    outsider = home(w.outsider, OCT_10).context
    assert outsider["county"] == w.wy and outsider["tasks"].counts.total == 0
    assert {c.form.county_id for c in outsider["completeness"]} == {w.wy.pk}


# Queries -------------------------------------------------------------------------------------------

def grow(w, n: int, tag: str) -> None:
    """``n`` more alliances of 郁南县, each with a lead hospital and a centre that file September, a
    task for each alliance and an order on it, and a returned filing."""
    with time_machine.travel(w.now, tick=False):
        for k in range(n):
            alliance = AllianceFactory(county=w.yn, name=f"第{tag}{k}医共体")
            lead = InstitutionFactory(county=w.yn, name=f"{tag}{k}县医院", kind=Institution.Kind.COUNTY_GENERAL_HOSPITAL)
            centre = InstitutionFactory(county=w.yn, name=f"{tag}{k}镇卫生院", kind=Institution.Kind.TOWNSHIP_HEALTH_CENTRE)
            MembershipFactory(institution=lead, alliance=alliance, role="lead", valid_from=date(2020, 1, 1))
            MembershipFactory(institution=centre, alliance=alliance, valid_from=date(2020, 1, 1))
            for institution in (lead, centre):
                file_values(w.forms["MONTHLY_OPS"], institution, SEP, dict(OP_VISITS=100 + k))
            filing = file_values(w.forms["MONTHLY_OPS"], centre, Period.parse("2026-08"), dict(OP_VISITS=1))
            Filing.objects.filter(pk=filing.pk).update(status=Filing.Status.RETURNED)
            item = item_save(ledger=w.ledger, user=w.bureau, number=f"9.{tag}{k}", text=f"任务{tag}{k}",
                             lead_units_text="各医共体", deadline_text="6月底", section_labels=["九、其他"], now=w.now)
            order_issue(assignment=item.assignments.filter(role=Assignment.Role.LEAD).first(), user=w.supervisor,
                        colour="red", text="督办", reply_due=date(2026, 7, 10), now=w.now)


def count_queries(user, moment) -> int:
    client = client_for(user)
    with time_machine.travel(moment, tick=False):
        assert client.get(HOME).status_code == 200  # warm-up: due statuses and roll-ups brought up to date
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(HOME).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("who", ["bureau", "supervisor", "alliance_admin", "filer_hospital", "city"])
def test_each_home_reads_the_same_number_of_queries_with_ten_times_the_data(county, who):
    w = county
    with_ledger(w)
    user = getattr(w, who)
    grow(w, 2, "a")
    small = count_queries(user, OCT_10)
    grow(w, 20, "b")
    assert SupervisionOrder.objects.filter(county=w.yn).count() == 22
    large = count_queries(user, OCT_10)
    assert small == large, f"{who}: {small} queries with little data, {large} with ten times more"
    # measured: 53 county (with the 预警 summary and the quarter of quarterly indicators), 32 alliance, 19
    # supervisor, 19 city, 16 filer
    assert large <= 60, f"{who}: {large} queries"


# The 预警 slot ---------------------------------------------------------------------------------------

def test_the_warnings_slot_renders_only_when_the_context_has_alerts(world):
    from django.template.loader import render_to_string

    assert render_to_string("reports/cockpit/_alerts.html", {}).strip() == ""
    html = render_to_string("reports/cockpit/_alerts.html", {"alerts": {"count": 3, "url": "/warnings/"}})
    assert 'id="panel-alerts"' in html and ">3<" in html and 'href="/warnings/"' in html
    # Wired: every cockpit but a filer's shows the open warnings the user may see, none yet.
    for who in ("bureau", "supervisor", "alliance_admin", "city"):
        page = home(getattr(world, who), OCT_10).content.decode()
        assert 'id="panel-alerts"' in page and "暂无未处理的预警" in page, who
    assert 'id="panel-alerts"' not in home(world.filer, OCT_10).content.decode()


def test_an_open_warning_shows_on_the_homes_of_its_county_only(world):
    from reports.models import Alert, AlertRule

    w = world
    rule = AlertRule.objects.create(county=w.yn, name="县域就诊率低于90%", kind=AlertRule.Kind.THRESHOLD, level="county",
                                    operator="below", value=90, created_at=OCT_10, updated_at=OCT_10)
    alert = Alert.objects.create(rule=rule, county=w.yn, level="county", unit_id=w.yn.pk, unit_name=w.yn.name,
                                 period="2026-09", value=88, reference=90, text="郁南县县域就诊率88.00%，低于90%",
                                 batch="t", raised_at=OCT_10)
    page = home(w.bureau, OCT_10).content.decode()
    assert 'id="panel-alerts"' in page and "郁南县县域就诊率88.00%，低于90%" in page
    assert f'href="/reports/alerts/{alert.pk}/"' in page
    assert "郁南县县域就诊率88.00%" not in home(w.outsider, OCT_10).content.decode()


# Links ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["bureau", "supervisor", "alliance_admin", "filer_hospital", "city"])
def test_every_link_of_a_home_opens_for_its_user(county, who):
    import html
    import re

    w = county
    with_ledger(w)
    user = getattr(w, who)
    page = home(user, OCT_10).content.decode()
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    hrefs = sorted({html.unescape(h) for h in re.findall(r'href="(/[^"]*)"', main)})
    assert len(hrefs) >= 5, hrefs
    client = client_for(user)
    with time_machine.travel(OCT_10, tick=False):
        for href in hrefs:
            assert client.get(href).status_code == 200, (who, href)


def test_the_home_only_reads(world):
    client = client_for(world.bureau)
    assert client.post(HOME, {"x": "1"}).status_code == 405
    assert client.head(HOME).status_code == 200
