"""The indicator pages on the small county of ``tests.test_indicators_engine`` (figures worked out by
hand there and below): the table shows each value with the numerator and denominator behind it,
the target and whether it is met; drill-down goes county → alliance → institution with the
membership of the period's last day; every page is scoped; a bad period is a message, not a 500;
the number of queries does not grow with institutions; the .xlsx export carries the numbers; and
the two pages in Chromium with the demo data (screenshots in test-artifacts/)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from alliances.models import AllianceMembership
from core.periods import Period
from indicators import indicator_tables as tables
from indicators.models import Indicator
from tests import test_browser, test_indicators_engine
from tests.conftest import client_for
from tests.factories import InstitutionFactory, MembershipFactory
from tests.test_browser import artifacts_dir, body_text, log_in, log_out
from tests.test_indicators_engine import MONTHS, Q3, file_values

# Fixtures of other modules: the small county with its hand-worked figures, and headless Chromium.
county = test_indicators_engine.county
browser = test_browser.browser
page = test_browser.page

SH = ZoneInfo("Asia/Shanghai")
# 23 November 2026: the latest quarter whose filings are due (on 5 October) is 2026Q3.
TODAY = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
TABLE = reverse("indicators:indicator_table")
EXPORT = reverse("indicators:indicator_export")


def detail_url(indicator: Indicator) -> str:
    return reverse("indicators:indicator_detail", kwargs={"indicator_pk": indicator.pk})


def units_url(indicator: Indicator) -> str:
    return reverse("indicators:indicator_units", kwargs={"indicator_pk": indicator.pk})


def indicator(code: str) -> Indicator:
    return Indicator.objects.get(code=code, county=None)


def row_html(html: str, code: str) -> str:
    """The table row of one indicator (``<tr id="indicator-<pk>">`` … ``</tr>``)."""
    pk = indicator(code).pk
    match = re.search(rf'<tr id="indicator-{pk}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row for {code}"
    return match.group(1)


def unit_row_html(html: str, unit_pk: int) -> str:
    match = re.search(rf'<tr data-unit="{unit_pk}">(.*?)</tr>', html, re.S)
    assert match, f"no row for unit {unit_pk}"
    return match.group(1)


def cells(row: str) -> list[str]:
    """The visible text of each cell, tags stripped."""
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def get(client, url: str, status: int = 200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response


# The table -----------------------------------------------------------------------------------------

def test_county_table_shows_value_numerator_denominator_target_and_met(county):
    html = get(client_for(county.bureau), f"{TABLE}?county={county.yn.pk}&period=2026Q3").content.decode()
    # 县域内住院率: 3 × 850 of 3 × 1,000 insured inpatients stayed in the county: 85.00%, target ≥ 85% met.
    row = row_html(html, "A4_18")
    value, numerator, denominator = cells(row)[1:4]
    assert (value, numerator, denominator) == ("85.00 %", "2,550", "3,000")
    assert "met-met" in row and "≥85%" in row
    # The numerator's and denominator's formulas are the cells' tooltips, with the elements' names.
    assert 'title="' in row and "参保人县域内住院人次" in row
    # 基层就诊率: 1,800 primary visits of 6,300: 28.57%, below 65%, and no figure a year earlier
    # to judge "or up 2 points" by: cannot judge (never "met").
    row = row_html(html, "A4_32")
    assert cells(row)[1:4] == ["28.57 %", "1,800", "6,300"]
    assert "met-undetermined" in row
    # 65～74岁老年人失能发生率: 90 of 3,000 = 3.00%, 3.50% a year earlier: it fell, as it should.
    row = row_html(html, "A4_22")
    assert cells(row)[1:4] == ["3.00 %", "90", "3,000"]
    assert cells(row)[6] == "3.50"
    assert "met-met" in row
    # 人均薪酬比: (195,000 / 23) / (480,000 / 80) — the numerator and denominator are per-head pay.
    row = row_html(html, "A4_12")
    assert cells(row)[1:4] == ["141.30 %", "8,478.26", "6,000"]
    # 县域就诊率: nothing filed: no data.
    assert "met-no_data" in row_html(html, "VISIT_RATE")
    # A county-only indicator of the shared catalogue shows; an alliance-only one does not.
    assert f'id="indicator-{indicator("ALLIANCE_INPATIENT_SHARE").pk}"' not in html


def test_alliance_table_and_the_sparkline(county):
    client = client_for(county.bureau)
    html = get(client, f"{TABLE}?alliance={county.alliance_a.pk}&period=2026Q3").content.decode()
    # 平均住院日 of the lead hospital: (800 + 900 + 700) bed days of 300 discharges = 8.00 days.
    row = row_html(html, "A4_24")
    assert cells(row)[1:4] == ["8.00 天", "2,400", "300"]
    # 三四级手术比例: 120 of 300 = 40.00%, 30.00% a year earlier: up, met.
    row = row_html(html, "A4_25")
    assert cells(row)[1:4] == ["40.00 %", "120", "300"]
    assert cells(row)[6] == "30.00" and "met-met" in row
    # The sparkline has the last eight quarters; only 2025Q3 and 2026Q3 have figures.
    assert "2026年第三季度：40.00" in row and "2025年第三季度：30.00" in row and "2024年第四季度：—" in row
    assert row.count("<circle") == 3  # two dots and the last one marked
    # 基层就诊率 of 第一医共体: 平台 900 + 桂圩 July 200 of 3,000 + 900 + 200.
    assert cells(row_html(html, "A4_32"))[1:4] == ["26.83 %", "1,100", "4,100"]


def test_mean_indicator_shows_how_many_units_were_averaged(county):
    html = get(client_for(county.bureau), f"{TABLE}?alliance={county.alliance_b.pk}&period=2026Q3").content.decode()
    row = row_html(html, "A4_39")
    # 第三医共体 on 30 September: 桂圩 (90) and 通门 (60) → 75.0 points, a mean of two units.
    assert cells(row)[1] == "75.0 分"
    assert "mean of units: 2" in row or "2个单位" in row


def test_drill_down_county_to_alliance_to_institution(county):
    client = client_for(county.bureau)
    html = get(client, f"{TABLE}?county={county.yn.pk}&period=2026Q3").content.decode()
    for alliance in (county.alliance_a, county.alliance_b):
        assert f"?alliance={alliance.pk}&amp;period=2026Q3" in html
    assert f"?alliance={county.other_alliance.pk}" not in html and "万源" not in html
    a432 = indicator("A4_32")
    assert f"{units_url(a432)}?county={county.yn.pk}&amp;period=2026Q3" in html  # the row's drill button

    # The alliances of the county on 基层就诊率 (the HTMX sub-table).
    fragment = get(client, f"{units_url(a432)}?county={county.yn.pk}&period=2026Q3").content.decode()
    first, third = unit_row_html(fragment, county.alliance_a.pk), unit_row_html(fragment, county.alliance_b.pk)
    assert cells(first)[:3] == ["第一医共体", "26.83 %", "1,100"] and cells(first)[3] == "4,100"
    assert cells(third)[:4] == ["第三医共体", "31.82 %", "700", "2,200"]
    assert f"{detail_url(a432)}?alliance={county.alliance_a.pk}&amp;period=2026Q3" in fragment
    assert "<html" not in fragment

    # One level further, on 65～74岁老年人失能发生率 (computed for institutions too): the members of
    # 第一医共体 on 30 September 2026 — 桂圩 left on 31 July.
    a422 = indicator("A4_22")
    html = get(client, f"{TABLE}?alliance={county.alliance_a.pk}&period=2026Q3").content.decode()
    assert f"{units_url(a422)}?alliance={county.alliance_a.pk}&amp;period=2026Q3" in html
    assert f"{units_url(a432)}?alliance=" not in html  # 基层就诊率 is not computed per institution
    fragment = get(client, f"{units_url(a422)}?alliance={county.alliance_a.pk}&period=2026Q3").content.decode()
    assert "县人民医院" in fragment and "平台镇卫生院" in fragment and "桂圩镇卫生院" not in fragment
    hospital = unit_row_html(fragment, county.hospital.pk)
    assert cells(hospital)[1:5] == ["—", "—", "—", "—"] and "met-no_data" in hospital
    centre = unit_row_html(fragment, county.centre.pk)
    assert cells(centre)[1:5] == ["3.00 %", "30", "1,000", "3.50"] and "met-met" in centre
    assert f"?institution={county.centre.pk}&amp;period=2026Q3" in fragment
    # In July 桂圩 was still a member.
    fragment = get(client, f"{units_url(a422)}?alliance={county.alliance_a.pk}&period=2026-07").content.decode()
    assert "桂圩镇卫生院" in fragment
    # 基层就诊率 has no figures per institution: the sub-table says so.
    fragment = get(client, f"{units_url(a432)}?alliance={county.alliance_a.pk}&period=2026Q3").content.decode()
    assert "平台镇卫生院" not in fragment and "alert" not in fragment

    # The institution page has no level below; its path leads back to the alliance.
    html = get(client, f"{TABLE}?institution={county.centre.pk}&period=2026Q3").content.decode()
    assert f"?alliance={county.alliance_a.pk}&amp;period=2026Q3" in html
    # 平台镇卫生院: 30 disabled of 1,000 (35 a year earlier): fell, met.
    row = row_html(html, "A4_22")
    assert cells(row)[1:4] == ["3.00 %", "30", "1,000"] and "met-met" in row


def test_institution_table(county):
    html = get(client_for(county.bureau), f"{TABLE}?institution={county.centre_b.pk}&period=2026Q3").content.decode()
    # 通门镇卫生院: 3 × 35 disabled of 3 × 1,000 a year ago … this year 40 of 1,000 = 4.00%, 3.50% before: rose.
    row = row_html(html, "A4_22")
    assert cells(row)[1:4] == ["4.00 %", "40", "1,000"]
    assert cells(row)[6] == "3.50" and "met-not_met" in row
    # 床位使用率: 3 × 500 of 3 × 1,000 bed days.
    assert cells(row_html(html, "A4_33"))[1:4] == ["50.00 %", "1,500", "3,000"]
    assert "data-units-toggle" not in html  # nothing to drill into


def test_detail_page_trend_and_alliance_comparison(county):
    client = client_for(county.bureau)
    a425 = indicator("A4_25")
    response = get(client, f"{detail_url(a425)}?alliance={county.alliance_a.pk}&period=2026Q3")
    charts = response.context["charts"]
    assert charts["trend"]["periods"][-1] == "2026年第三季度" and len(charts["trend"]["periods"]) == 12
    assert charts["trend"]["values"][-1] == 40.0 and charts["trend"]["lastYear"][-1] == 30.0
    assert charts["trend"]["values"][-5] == 30.0  # 2025Q3
    assert charts["target"] is None  # a direction target has no line
    assert response.context["row"].value == Decimal(40)
    html = response.content.decode()
    assert 'id="trend-chart"' in html and "vendor/echarts/echarts.min.js" in html and "indicator-charts" in html

    # 县域内住院率 for the county: a target line at 85; 基层就诊率 compares the alliances.
    response = get(client, f"{detail_url(indicator('A4_18'))}?county={county.yn.pk}&period=2026Q3")
    assert response.context["charts"]["target"] == 85.0
    assert response.context["unit_rows"] == []  # a county-only indicator: no alliance figures
    response = get(client, f"{detail_url(indicator('A4_32'))}?county={county.yn.pk}&period=2026Q3")
    charts = response.context["charts"]
    assert charts["units"]["names"] == ["第一医共体", "第三医共体"]
    assert charts["units"]["values"] == [26.83, 31.82]
    assert charts["target"] == 65.0
    html = response.content.decode()
    assert 'id="units-chart"' in html
    assert cells(unit_row_html(html, county.alliance_b.pk))[:4] == ["第三医共体", "31.82 %", "700", "2,200"]


def test_a_lead_hospital_indicator_is_not_shown_for_a_township_centre(county):
    client = client_for(county.bureau)
    a424 = indicator("A4_24")  # 平均住院日 of the lead hospital
    fragment = get(client, f"{units_url(a424)}?alliance={county.alliance_a.pk}&period=2026Q3").content.decode()
    assert cells(unit_row_html(fragment, county.hospital.pk))[1:4] == ["8.00 天", "2,400", "300"]
    assert f'data-unit="{county.centre.pk}"' not in fragment
    html = get(client, f"{TABLE}?institution={county.centre.pk}&period=2026Q3").content.decode()
    assert f'id="indicator-{a424.pk}"' not in html
    assert f'id="indicator-{indicator("A4_33").pk}"' in html  # a primary-care indicator is
    response = get(client, f"{detail_url(a424)}?institution={county.centre.pk}&period=2026Q3")
    assert response.context["applies"] is False
    response = get(client, f"{detail_url(a424)}?institution={county.hospital.pk}&period=2026Q3")
    assert response.context["row"].value == Decimal(8)


def test_detail_of_an_indicator_that_does_not_apply_at_the_level(county):
    response = get(client_for(county.bureau),
                   f"{detail_url(indicator('A4_18'))}?alliance={county.alliance_a.pk}&period=2026Q3")
    assert response.context["applies"] is False and "row" not in response.context


# Scope ---------------------------------------------------------------------------------------------

def test_alliance_user_sees_only_their_alliance(county):
    client = client_for(county.alliance_admin)  # the office of 第一医共体
    with time_machine.travel(TODAY, tick=False):
        response = get(client, TABLE)
    assert response.context["unit_scope"].alliance == county.alliance_a
    assert response.context["period"] == Q3
    html = response.content.decode()
    assert "第三医共体" not in html and "县中医院" not in html
    get(client, f"{TABLE}?alliance={county.alliance_b.pk}", 404)
    get(client, f"{TABLE}?county={county.yn.pk}", 404)  # county-wide figures are the county's
    get(client, f"{TABLE}?institution={county.centre_b.pk}", 404)  # a member of 第三医共体
    get(client, f"{TABLE}?institution={county.hospital.pk}&period=2026Q3")
    a432 = indicator("A4_32")
    get(client, f"{detail_url(a432)}?alliance={county.alliance_b.pk}", 404)
    get(client, f"{units_url(a432)}?alliance={county.alliance_b.pk}", 404)
    get(client, f"{EXPORT}?alliance={county.alliance_b.pk}", 404)
    # The alliance's own drill-down: its members today and in the period.
    fragment = get(client, f"{units_url(indicator('A4_22'))}?alliance={county.alliance_a.pk}&period=2026Q3")
    assert "平台镇卫生院" in fragment.content.decode()


def test_institution_user_lands_on_their_institution(county):
    response = get(client_for(county.filer), f"{TABLE}?period=2026Q3")
    assert response.context["unit_scope"].institution == county.centre
    get(client_for(county.filer), f"{TABLE}?institution={county.centre2.pk}", 404)


def test_outsider_gets_404_on_the_other_countys_scope_and_indicator(county):
    own = Indicator.objects.create(county=county.yn, code="YN_VISITS", name="郁南县门急诊人次",
                                   numerator="OP_VISITS", factor=1, unit_label="人次", decimals=0)
    outsider = client_for(county.outsider)
    for url in (detail_url(own), units_url(own), f"{TABLE}?county={county.yn.pk}",
                f"{TABLE}?alliance={county.alliance_a.pk}", f"{TABLE}?institution={county.centre.pk}",
                f"{EXPORT}?county={county.yn.pk}", f"{detail_url(indicator('A4_32'))}?county={county.yn.pk}"):
        get(outsider, url, 404)
    # Their own county: the shared catalogue, their figures, not 郁南县's own indicator.
    html = get(outsider, f"{TABLE}?period=2026Q3").content.decode()
    assert "万源市" in html and "郁南县" not in html and "YN_VISITS" not in html
    assert cells(row_html(html, "A4_32"))[2:4] == ["300,000", "300,000"]  # 白沙镇分院 alone
    # The county's own indicator works for the county: 6,300 visits in the quarter.
    html = get(client_for(county.bureau), f"{TABLE}?county={county.yn.pk}&period=2026Q3").content.decode()
    assert cells(row_html_any(html, own))[1] == "6,300 人次"
    response = get(client_for(county.bureau), f"{detail_url(own)}?period=2026Q3")
    assert response.context["unit_scope"].county == county.yn


def row_html_any(html: str, ind: Indicator) -> str:
    match = re.search(rf'<tr id="indicator-{ind.pk}"[^>]*>(.*?)</tr>', html, re.S)
    assert match
    return match.group(1)


def test_a_city_user_picks_among_the_counties_below(county):
    client = client_for(county.city)
    with time_machine.travel(TODAY, tick=False):
        response = get(client, TABLE)
    assert response.context["unit_scope"].county == county.yn
    get(client, f"{TABLE}?county={county.wy.pk}", 404)  # 万源市 is in another province
    get(client, f"{TABLE}?county={county.yf.pk}", 404)  # a city is not a county


def test_nobody_sees_a_message_not_an_error(county):
    html = get(client_for(county.nobody), TABLE).content.decode()
    assert "alert-info" in html
    get(client_for(county.nobody), detail_url(indicator("A4_32")), 404)


# Bad input -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("period", ["2026Q9", "abc", "0001Q1", "9999", "2026-13", "2026Q3%00", "x" * 500, "1999"])
def test_bad_period_gives_a_message_and_the_default_period(county, period):
    client = client_for(county.bureau)
    a432 = indicator("A4_32")
    with time_machine.travel(TODAY, tick=False):
        for url in (TABLE, detail_url(a432), units_url(a432)):
            response = get(client, f"{url}?county={county.yn.pk}&period={period}")
            assert response.context["period"] == Q3
            assert response.context["period_error"]
        response = get(client, f"{EXPORT}?county={county.yn.pk}&period={period}")
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    html = get(client, f"{TABLE}?county={county.yn.pk}&period=2026Q9").content.decode()
    assert "alert-warning" in html and "2026Q9" in html


@pytest.mark.parametrize("query", ["county=abc", "alliance=1.5", "institution=-1", "county=99999999999999999999"])
def test_bad_scope_is_a_404(county, query):
    get(client_for(county.bureau), f"{TABLE}?{query}", 404)


def test_post_is_not_allowed(county):
    assert client_for(county.bureau).post(TABLE).status_code == 405


def test_default_period_is_the_latest_quarter_due():
    assert tables.default_period(date(2026, 11, 23)) == Period.parse("2026Q3")
    assert tables.default_period(date(2026, 10, 5)) == Period.parse("2026Q2")  # due on the 5th: not yet
    assert tables.default_period(date(2026, 10, 6)) == Period.parse("2026Q3")
    assert tables.default_period(date(2027, 1, 3)) == Period.parse("2026Q3")
    assert tables.default_period(date(2027, 1, 6)) == Period.parse("2026Q4")


def test_target_texts(county):
    assert tables.target_text(indicator("A4_18")).startswith("≥85%")
    text = tables.target_text(indicator("A4_32"))
    assert text.startswith("≥65%") and "2" in text
    assert tables.target_text(indicator("A4_25")).startswith("↑")
    assert tables.target_text(indicator("A4_22")).startswith("↓")
    assert tables.target_text(indicator("A4_23")) == "≥1个"


def test_formula_text_names_the_elements(county):
    names = tables.element_names([indicator("A4_32")], county.yn)
    text = tables.formula_text("OP_VISITS@primary / OP_VISITS[ly] * 100", names)
    assert text.startswith("门急诊人次（诊疗人次）（") and "×" in text and "OP_VISITS" not in text


# Queries -------------------------------------------------------------------------------------------

def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx)


def grow(w, n: int) -> None:
    """``n`` more township centres in 第一医共体, filing every month of the quarter."""
    for k in range(n):
        institution = InstitutionFactory(county=w.yn, name=f"新增镇卫生院{k}",
                                         kind=w.centre.kind)
        MembershipFactory(institution=institution, alliance=w.alliance_a, valid_from=date(2020, 1, 1))
        for month in MONTHS:
            file_values(w.forms["MONTHLY_OPS"], institution, month, dict(OP_VISITS=100 + k, DISCHARGES=3,
                                                                         OCCUPIED_BED_DAYS=50, OPEN_BED_DAYS=90))


def test_queries_do_not_grow_with_institutions(county, django_assert_num_queries):
    """The pages with 2 members in 第一医共体 and with 6: the same number of queries."""
    alliance_a, centre = county.alliance_a, county.centre
    a432, a439 = indicator("A4_32"), indicator("A4_39")
    pages = [
        (county.bureau, f"{TABLE}?county={county.yn.pk}&period=2026Q3"),
        (county.bureau, f"{TABLE}?alliance={alliance_a.pk}&period=2026Q3"),
        (county.bureau, f"{TABLE}?institution={centre.pk}&period=2026-08"),
        (county.bureau, f"{detail_url(a432)}?county={county.yn.pk}&period=2026Q3"),
        (county.bureau, f"{detail_url(a432)}?alliance={alliance_a.pk}&period=2026Q3"),
        (county.bureau, f"{detail_url(a439)}?alliance={alliance_a.pk}&period=2026-09"),
        (county.bureau, f"{units_url(a432)}?alliance={alliance_a.pk}&period=2026Q3"),
        (county.bureau, f"{EXPORT}?county={county.yn.pk}&period=2026Q3"),
        (county.alliance_admin, f"{TABLE}?period=2026Q3"),
    ]
    clients = {user: client_for(user) for user, _url in pages}
    before = [queries(clients[user], url) for user, url in pages]
    members = AllianceMembership.objects.on(Q3.end).filter(alliance=alliance_a).count()
    assert members == 2
    grow(county, 4)
    assert AllianceMembership.objects.on(Q3.end).filter(alliance=alliance_a).count() == 6
    after = [queries(clients[user], url) for user, url in pages]
    assert after == before, (before, after)
    # And the numbers themselves: the county table reads one grouped query per period it needs
    # (8 quarters of the sparkline and the 4 quarters a year before them for the direction targets).
    with django_assert_num_queries(before[0]):
        clients[county.bureau].get(pages[0][1])
    assert max(before) <= 60, before


# Export --------------------------------------------------------------------------------------------

def test_export_opens_and_has_the_numbers(county):
    response = get(client_for(county.bureau), f"{EXPORT}?county={county.yn.pk}&period=2026Q3")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert ".xlsx" in response["Content-Disposition"]
    ws = load_workbook(io.BytesIO(response.content)).active
    assert "郁南县2026年第三季度" in ws["A1"].value
    header = [c.value for c in ws[3]]
    header_row2 = [c.value for c in ws[4]]
    numerator_col = header_row2.index("分子")
    denominator_col = header_row2.index("分母")
    by_name = {r[1]: r for r in ws.iter_rows(min_row=5, values_only=True) if r[1]}
    inpatient = by_name["县域内住院率"]
    assert inpatient[header.index("指标值")] == 85
    assert inpatient[numerator_col] == 2550 and inpatient[denominator_col] == 3000
    assert inpatient[header.index("是否达标")] == "达标"
    primary = by_name["基层就诊率（基层门急诊人次占比）"]
    assert round(primary[header.index("指标值")], 2) == 28.57
    assert (primary[numerator_col], primary[denominator_col]) == (1800, 6300)
    disability = by_name["65～74岁老年人失能发生率"]
    assert disability[header.index("指标值")] == 3 and disability[header.index("去年同期")] == 3.5
    assert disability[header.index("是否达标")] == "达标"


def test_export_for_an_alliance_user(county):
    response = get(client_for(county.alliance_admin), f"{EXPORT}?period=2026Q3")
    ws = load_workbook(io.BytesIO(response.content)).active
    assert "第一医共体" in ws["A1"].value
    header = [c.value for c in ws[3]]
    by_name = {r[1]: r for r in ws.iter_rows(min_row=5, values_only=True) if r[1]}
    stay = by_name["牵头医院出院患者平均住院日"]
    assert stay[header.index("指标值")] == 8 and stay[header.index("计量单位")] == "天"


# In the browser ------------------------------------------------------------------------------------

@pytest.fixture
def demo_filings(transactional_db):
    """The demo organisation, logins and filings (2024-01 to the last month due), committed for the
    live server; loaded before Playwright starts."""
    call_command("load_demo", quiet=True, without_ledgers=True)


@pytest.mark.browser
def test_pages_in_chromium_with_the_demo_data(live_server, demo_filings, page):
    shots = artifacts_dir()
    base = live_server.url
    log_in(page, base, "yn_staff")
    page.goto(f"{base}{TABLE}")
    text = body_text(page)
    assert "县域内住院率" in text and "郁南县" in text and "第一医共体" in text
    page.screenshot(path=str(shots / "indicators_table.png"), full_page=True)

    # Drill into 基层就诊率 by alliance (HTMX) and open its page.
    a432 = Indicator.objects.get(code="A4_32", county=None)
    page.locator(f"[data-units-toggle='units-row-{a432.pk}']").click()
    page.wait_for_selector(f"#units-{a432.pk} table")
    assert "第三医共体" in page.inner_text(f"#units-{a432.pk}")
    page.screenshot(path=str(shots / "indicators_table_drill.png"), full_page=False)
    page.goto(f"{base}{detail_url(a432)}")
    page.wait_for_selector("#trend-chart canvas")
    page.wait_for_selector("#units-chart canvas")
    text = body_text(page)
    assert "基层就诊率" in text and "第二医共体" in text
    page.screenshot(path=str(shots / "indicators_detail.png"), full_page=True)

    # An alliance office: its alliance, its members.
    log_out(page, base)
    log_in(page, base, "yn_gt1")
    page.goto(f"{base}{detail_url(Indicator.objects.get(code='A4_24', county=None))}")
    page.wait_for_selector("#trend-chart canvas")
    text = body_text(page)
    assert "第一医共体" in text and "第二医共体" not in text
    page.screenshot(path=str(shots / "indicators_detail_alliance.png"), full_page=True)
