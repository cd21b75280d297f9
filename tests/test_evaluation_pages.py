"""The evaluation pages (评价): the bureau runs a scheme for an ended quarter from the list page and
lands on the run; the run's page is the 季度评价指标表 with the hand-checked totals and ranks of
tests/test_indicators_evaluation.py; the export is the official workbook; who may run, who may see;
bad input gives a message and no run; query counts stay constant as alliances and runs grow.

The county (``build_county``): 第一医共体 25.58 (rank 1), 第三医共体 25.42 (2), 第二医共体 8.33 (3) on
the seven-item test scheme for 2026Q3; the members' totals 县人民医院 13.5 of 19 (71.05%, rank 3),
平台镇卫生院 9 of 9 (100%, rank 1)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import Role
from alliances.models import AllianceMembership, Institution
from indicators.models import EvaluationRun, EvaluationScheme
from indicators.services.evaluation import evaluation_run
from tests.conftest import client_for
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory, UserFactory, grant
from tests.test_browser import browser, page  # noqa: F401
from tests.test_indicators_evaluation import Q3, build_county, file_quarter

SH = ZoneInfo("Asia/Shanghai")
OCT_10 = datetime(2026, 10, 10, 9, 0, tzinfo=SH)
D = Decimal
LIST = reverse("indicators:evaluation_list")
TITLE = "郁南县紧密型县域医共体2026年第三季度评价指标表"


@pytest.fixture
def county(world):
    with time_machine.travel(OCT_10, tick=False):
        return build_county(world)


@pytest.fixture
def clock():
    with time_machine.travel(OCT_10, tick=False):
        yield


def detail_url(run) -> str:
    return reverse("indicators:evaluation_detail", kwargs={"run_pk": run.pk})


def export_url(run) -> str:
    return reverse("indicators:evaluation_xlsx", kwargs={"run_pk": run.pk})


def cell_text(html: str, attribute: str, pk: int) -> str:
    """The text of the table cell marked ``data-<attribute>="<pk>"`` (tags stripped)."""
    match = re.search(rf'data-{attribute}="{pk}"[^>]*>(.*?)</td>', html, re.S)
    assert match, (attribute, pk)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


# The list page and running ----------------------------------------------------------------------------

def test_bureau_sees_the_run_form_with_the_shared_scheme_and_the_ended_quarters(county, clock):
    w = county
    response = client_for(w.bureau).get(LIST)
    assert response.status_code == 200
    ctx = response.context
    assert ctx["county"] == w.yn and ctx["can_run"] is True
    # The shared 附件6 scheme first (the default), then the county's own quarterly scheme.
    assert [s.code for s in ctx["schemes"]] == ["ANNEX6_QUARTERLY", "TEST_Q"]
    # On 10 October 2026 the last quarter that has ended is 2026Q3; eight of them, newest first.
    assert [str(q) for q in ctx["quarters"]] == ["2026Q3", "2026Q2", "2026Q1", "2025Q4", "2025Q3", "2025Q2",
                                                 "2025Q1", "2024Q4"]
    body = response.content.decode()
    assert 'id="evaluation-run-form"' in body and '<option value="2026Q3" selected>2026年第三季度</option>' in body


def test_bureau_runs_the_scheme_and_the_run_page_shows_the_hand_checked_scores(county, clock):
    w = county
    bureau = client_for(w.bureau)
    response = bureau.post(LIST, {"county": w.yn.pk, "scheme": w.scheme.pk, "period": "2026Q3"})
    run = EvaluationRun.objects.get()
    assert (run.scheme, run.county, run.period, run.created_by) == (w.scheme, w.yn, "2026Q3", w.bureau)
    assert run.created_at == OCT_10
    assert response.status_code == 302 and response["Location"] == detail_url(run)

    response = bureau.get(detail_url(run))
    assert response.status_code == 200
    html = response.content.decode()
    assert TITLE in html
    # The alliances' totals and ranks (see tests/test_indicators_evaluation.py):
    # 第一 3.08 + 4 + 3.5 + 6 + 5 + 4 = 25.58 (1st); 第三 25.42 (2nd); 第二 5 + 0 + 0 + 2 + 0 + 1.33 = 8.33 (3rd).
    assert cell_text(html, "total", w.alliance_a.pk) == "25.58"
    assert cell_text(html, "rank", w.alliance_a.pk) == "1"
    assert cell_text(html, "total", w.alliance_b.pk) == "25.42"
    assert cell_text(html, "rank", w.alliance_b.pk) == "2"
    assert cell_text(html, "total", w.alliance_c.pk) == "8.33"
    assert cell_text(html, "rank", w.alliance_c.pk) == "3"
    # The 基层就诊率 row: orientation, weight, 第一 40% not met (red) scoring 5 × 40/65 = 3.08; 第三 50%
    # (met by rising) full 5.
    row = re.search(rf'<tr data-item="{w.items["A4_32"].pk}">(.*?)</tr>', html, re.S).group(1)
    assert "A4_32" in row and "基层就诊率" in row and "≥65%或↑2个百分点" in row
    cells = re.findall(r'<td class="([^"]*)"[^>]*>([^<]*)', row)
    values = [(cls, text.strip()) for cls, text in cells if "col-alliance" in cls]
    assert values == [("col-alliance num value-unmet", "40.00%"), ("col-alliance num", "70.00%"),
                      ("col-alliance num", "50.00%")]
    scores = [text.strip() for cls, text in cells if "score" in cls]
    assert scores == ["3.08", "5.00", "5.00"]
    # The county-only item (县域内住院率) applies to no alliance: dashes, not zeros.
    county_row = re.search(rf'<tr data-item="{w.items["A4_18"].pk}">(.*?)</tr>', html, re.S).group(1)
    assert county_row.count("not-applicable") == 6
    # 第二医共体 filed no lengths of stay: "no data", scored 0.
    table = response.context["table"]
    assert [c.unit.name for c in table.alliances] == ["第一医共体", "第二医共体", "第三医共体"]
    stay = response.context["rows"][1]
    assert stay["indicator"].code == "A4_24"
    assert [(c.value_text, c.score, c.flagged) for c in stay["cells"]] == [
        ("8.00天", D(4), False), ("", D(0), True), ("7.00天", D(4), False)]
    # Full marks that apply: 33 − 5 (the county-only item) = 28; 第一 25.58 / 28 = 91.36%.
    assert [(c.full_marks, c.rate) for c in table.alliances][0] == (D(28), D("91.36"))
    assert "91.36%" in html
    # Members under their alliance: 县人民医院 13.5 of 19 = 71.05%, rank 3 among the seven members.
    member = re.search(rf'<tr data-member="{w.hospital.pk}">(.*?)</tr>', html, re.S).group(1)
    texts = [t.strip() for t in re.findall(r">([^<>]+)<", member) if t.strip()]
    assert texts[-4:] == ["13.50", "19", "71.05%", "3"]
    assert [m.unit.name for m in response.context["groups"][0].members] == ["县人民医院", "平台镇卫生院",
                                                                          "桂圩镇卫生院"]
    # The chart's data: the totals in the alliances' order.
    assert response.context["chart"]["totals"] == [25.58, 8.33, 25.42]
    assert response.context["newest"] is None


def test_export_is_the_official_workbook(county, clock):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau)
    response = client_for(w.supervisor).get(export_url(run))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f"{TITLE}_20261010.xlsx" in unquote(response["Content-Disposition"])
    wb = load_workbook(io.BytesIO(response.content))
    ws = wb.worksheets[0]
    assert ws["A1"].value == TITLE
    # Header row 3: the first alliance's columns after the five label columns; its total on the 合计 row.
    assert ws.cell(row=3, column=6).value == "第一医共体"
    total_row = next(r for r in range(5, ws.max_row + 1) if ws.cell(row=r, column=1).value == "合计")
    assert D(str(ws.cell(row=total_row, column=6).value)) == D("25.58")
    assert wb.worksheets[1].title == "成员单位得分"


def test_rerunning_keeps_the_old_run_and_marks_it_superseded(county):
    w = county
    with time_machine.travel(datetime(2026, 10, 6, 9, 0, tzinfo=SH), tick=False):
        first = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau)
    with time_machine.travel(OCT_10, tick=False):
        response = client_for(w.bureau).post(LIST, {"county": w.yn.pk, "scheme": w.scheme.pk, "period": "2026Q3"})
        second = EvaluationRun.objects.exclude(pk=first.pk).get()
        assert response["Location"] == detail_url(second)
        old = client_for(w.bureau).get(detail_url(first))
        assert old.context["newest"] == second
        assert "2026-10-10 09:00" in old.content.decode()
        listing = client_for(w.bureau).get(LIST)
    rows = listing.context["rows"]
    assert [(r["run"], r["is_latest"]) for r in rows] == [(second, True), (first, False)]


def test_bad_input_gives_a_message_and_no_run(county, clock):
    w = county
    bureau = client_for(w.bureau)
    back = f"{LIST}?county={w.yn.pk}"
    cases = [
        ({"period": "2026Q5"}, "2026Q5"),  # not a period
        ({"period": "2026Q4"}, "2026年第四季度"),  # not ended on 10 October
        ({"period": "2027Q1"}, "2027年第一季度"),
        ({"period": "2026-09"}, "2026年9月"),  # a month, for a quarterly scheme (the service's message)
        ({"period": ""}, ""),
        ({"scheme": "999999"}, ""),  # not a scheme of the list
        ({"scheme": "abc"}, ""),
    ]
    for data, quoted in cases:
        post = {"county": w.yn.pk, "scheme": w.scheme.pk, "period": "2026Q3", **data}
        response = bureau.post(LIST, post, follow=True)
        assert response.redirect_chain == [(back, 302)], data
        shown = [str(m) for m in response.context["messages"]]
        assert len(shown) == 1 and quoted in shown[0], (data, shown)
        assert 'class="alert alert-danger' in response.content.decode()
        if "scheme" in data:
            shown_for_scheme = shown[0]
    # An inactive scheme, or one of another county, is not offered and not run.
    other = EvaluationScheme.objects.create(county=w.wy, code="WY_Q", name="万源市季度评价", period_kind="quarter")
    w.scheme.is_active = False
    w.scheme.save()
    for scheme in (other, w.scheme):
        response = bureau.post(LIST, {"county": w.yn.pk, "scheme": scheme.pk, "period": "2026Q3"}, follow=True)
        assert [str(m) for m in response.context["messages"]] == [str(shown_for_scheme)]
    assert not EvaluationRun.objects.exists()


# Who may run and who may see --------------------------------------------------------------------------

def test_only_the_bureau_runs_an_evaluation(county, clock):
    w = county
    data = {"county": w.yn.pk, "scheme": w.scheme.pk, "period": "2026Q3"}
    for user in (w.filer, w.alliance_admin, w.supervisor, w.city):
        response = client_for(user).post(LIST, data)
        assert response.status_code == 403, user
        assert "Only the county health bureau runs the evaluation." in response.content.decode() or \
            "卫生健康局" in response.content.decode()
        listing = client_for(user).get(LIST)
        assert listing.status_code == 200 and listing.context["can_run"] is False
        assert 'id="evaluation-run-form"' not in listing.content.decode()
    assert not EvaluationRun.objects.exists()
    # The bureau administrator runs it too.
    assert client_for(w.bureau_admin).post(LIST, data).status_code == 302
    assert EvaluationRun.objects.get().created_by == w.bureau_admin


def test_everyone_of_the_county_sees_every_alliance_and_outsiders_get_404(county, clock):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau)
    # An evaluation is a county-wide ranking: the filer of a centre of 第一医共体 and the office of
    # 第一医共体 see 第三 and 第二 as well.
    for user in (w.filer, w.alliance_admin, w.city):
        response = client_for(user).get(detail_url(run))
        assert response.status_code == 200, user
        html = response.content.decode()
        assert cell_text(html, "total", w.alliance_b.pk) == "25.42"
        assert "Run again" not in html and "重新计算" not in html
        listing = client_for(user).get(LIST)
        assert [r["run"] for r in listing.context["rows"]] == [run]
        assert client_for(user).get(export_url(run)).status_code == 200
    outsider = client_for(w.outsider)
    for url in (detail_url(run), export_url(run)):
        assert outsider.get(url).status_code == 404
    missing = reverse("indicators:evaluation_detail", kwargs={"run_pk": run.pk + 1000})
    assert outsider.get(missing).status_code == 404
    # The outsider cannot name 郁南县 in the form: a county it does not see is a 404, not a run.
    assert outsider.post(LIST, {"county": w.yn.pk, "scheme": w.scheme.pk, "period": "2026Q3"}).status_code == 404
    body = outsider.get(LIST).content.decode()
    assert "郁南县" not in body and "第一医共体" not in body
    assert client_for(w.bureau).get(f"{LIST}?county={w.wy.pk}").status_code == 404
    assert client_for(w.bureau).get(f"{LIST}?county=abc").status_code == 404
    assert EvaluationRun.objects.count() == 1


def test_a_user_without_a_county_gets_an_empty_page(world, clock):
    nobody = client_for(world.nobody)
    response = nobody.get(LIST)
    assert response.status_code == 200 and response.context["county"] is None
    assert nobody.post(LIST, {"period": "2026Q3"}).status_code == 403


def test_the_users_own_county_is_the_default(county, clock):
    w = county
    # A provincial viewer of 广东省 sees 郁南县 only (万源市 is in 四川省).
    assert client_for(w.province).get(LIST).context["county"] == w.yn
    # A user granted both counties lands on the one they run.
    both = UserFactory(username="both_counties")
    grant(both, Role.VIEWER, w.yn)
    grant(both, Role.BUREAU_STAFF, w.wy)
    AllianceFactory(county=w.wy, name="万源市第二医共体")
    response = client_for(both).get(LIST)
    assert response.context["county"] == w.wy and response.context["can_run"] is True
    assert {c.pk for c in response.context["counties"]} == {w.yn.pk, w.wy.pk}
    response = client_for(both).get(f"{LIST}?county={w.yn.pk}")
    assert response.context["county"] == w.yn and response.context["can_run"] is False


# Query counts -----------------------------------------------------------------------------------------

def add_alliance(w, name: str, centres: int) -> None:
    hospital = InstitutionFactory(county=w.yn, name=f"{name}牵头医院", kind=Institution.Kind.COUNTY_GENERAL_HOSPITAL)
    alliance = AllianceFactory(county=w.yn, name=name)
    MembershipFactory(institution=hospital, alliance=alliance, role=AllianceMembership.Role.LEAD,
                      valid_from=date(2020, 1, 1))
    file_quarter(w, hospital, Q3, dict(OP_VISITS=500, SURGERIES=10, SURGERIES_L34=5, DISCHARGES=20,
                                       DISCHARGE_BED_DAYS=150))
    for n in range(centres):
        centre = InstitutionFactory(county=w.yn, name=f"{name}镇卫生院{n}")
        MembershipFactory(institution=centre, alliance=alliance, valid_from=date(2020, 1, 1))
        file_quarter(w, centre, Q3, dict(OP_VISITS=100, OCCUPIED_BED_DAYS=100 * (n + 1), OPEN_BED_DAYS=1000))


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_query_counts_do_not_grow_with_alliances_members_and_runs(county, clock, django_assert_num_queries):
    w = county
    first = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau)
    bureau, office = client_for(w.bureau), client_for(w.alliance_admin)
    detail = count_queries(bureau, detail_url(first))
    listing = count_queries(bureau, LIST)
    office_listing = count_queries(office, LIST)
    export = count_queries(bureau, export_url(first))

    # Two more alliances with seven more members, and five more runs (of two schemes and periods).
    add_alliance(w, "第四医共体", 3)
    add_alliance(w, "第五医共体", 2)
    annex6 = EvaluationScheme.objects.get(code="ANNEX6_QUARTERLY", county=None)
    for period in ("2026Q3", "2026Q2"):
        evaluation_run(scheme=w.scheme, county=w.yn, period=period, user=w.bureau)
        evaluation_run(scheme=annex6, county=w.yn, period=period, user=w.bureau_admin)
    big = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau)
    assert len(big.scores.filter(item=None, institution=None)) == 5

    with django_assert_num_queries(detail):
        response = bureau.get(detail_url(big))
    assert len(response.context["table"].alliances) == 5 and len(response.context["table"].members) == 14
    with django_assert_num_queries(detail):  # an older run: the newest one is read all the same
        response = bureau.get(detail_url(first))
    assert response.context["newest"] == big
    with django_assert_num_queries(listing):
        response = bureau.get(LIST)
    assert len(response.context["rows"]) == 6
    with django_assert_num_queries(office_listing):
        office.get(LIST)
    with django_assert_num_queries(export):
        bureau.get(export_url(big))


def test_the_pages_render_in_english_too(county, clock):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau)
    client = client_for(w.bureau)
    client.cookies["django_language"] = "en"
    html = client.get(detail_url(run)).content.decode()
    assert "Export the evaluation table (.xlsx)" in html and TITLE in html
    assert timezone.localtime(run.created_at).strftime("%Y-%m-%d %H:%M") in html


# In a browser -------------------------------------------------------------------------------------------

@pytest.fixture
def committed_county(transactional_db, world):
    """The county committed (the live server's threads read it), built before Playwright starts."""
    w = build_county(world)
    for user in (w.bureau, w.filer):
        user.set_password("Yigongti-2026")
        user.save()
    return w


@pytest.mark.browser
@time_machine.travel(OCT_10, tick=True)  # 2026Q3 has just ended, whenever the test runs
def test_bureau_runs_the_evaluation_in_a_browser(live_server, committed_county, page):  # noqa: F811
    from tests.test_browser import artifacts_dir, body_text, log_in, log_out

    w = committed_county
    base = live_server.url
    log_in(page, base, w.bureau.username)
    page.goto(f"{base}{LIST}")
    page.select_option("#r-scheme", str(w.scheme.pk))
    page.select_option("#r-period", "2026Q3")
    with page.expect_navigation():
        page.locator("#evaluation-run-form [type=submit]").click()
    # No ORM from here on: inside Playwright's sync API it would open a connection of its own.
    match = re.search(r"/indicators/evaluation/(\d+)/$", page.url)
    assert match, page.url
    run = EvaluationRun(pk=int(match.group(1)))
    text = body_text(page)
    assert TITLE in text and "25.58" in text and "8.33" in text
    # The chart is drawn (ECharts, vendored) and the first alliance's members are open.
    assert page.locator("#evaluation-chart canvas").count() == 1
    assert page.locator(f'tr[data-member="{w.centre.pk}"]').is_visible()
    assert not page.locator(f'tr[data-member="{w.tcm.pk}"]').is_visible()
    page.screenshot(path=str(artifacts_dir() / "evaluation_detail_small_county.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("#evaluation-export").click()
    assert download.value.suggested_filename.startswith(TITLE)
    log_out(page, base)
    log_in(page, base, w.filer.username)
    page.goto(f"{base}{detail_url(run)}")
    assert "25.42" in body_text(page) and page.locator("#evaluation-export").is_visible()
