"""The city roll-up of the quarterly evaluation (reports.city): ranks on hand-made scores (a tie, a
missing county), the 10th rule, the 季度汇总表's contents, constant queries, and who sees it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import Role
from alliances.models import Region
from core.periods import Period
from indicators.models import EvaluationRun, EvaluationScheme, EvaluationScore
from reports import city
from reports.models import Kind, Report, ReportVersion, scope_key
from tests.factories import AllianceFactory, RegionFactory, UserFactory, grant

SH = ZoneInfo("Asia/Shanghai")
OCT_8 = datetime(2026, 10, 8, 9, tzinfo=SH)
OCT_10 = datetime(2026, 10, 10, 9, tzinfo=SH)
Q3 = "2026Q3"


def county(w, code, name):
    region = RegionFactory(code=code, name=name, level=Region.Level.COUNTY, parent=w.yf)
    return region, AllianceFactory(county=region, name=f"{name}医共体")


def evaluated(w, region, scores, *, signed=True):
    """A quarterly table of ``region`` for 2026Q3 whose newest version names a run with the
    alliances' ``scores`` ({alliance: total})."""
    now = datetime(2026, 10, 3, 9, tzinfo=SH)
    run = EvaluationRun.objects.create(scheme=w.scheme, county=region, period=Q3, created_at=now)
    EvaluationScore.objects.bulk_create(EvaluationScore(run=run, alliance=a, score=Decimal(s))
                                        for a, s in scores.items())
    report = Report.objects.create(
        kind=Kind.QUARTERLY, county=region, scope_key=scope_key(region.pk, None), period=Q3,
        title=f"{region.name}季度评价指标表", state=Report.State.SIGNED if signed else Report.State.READY,
        state_changed_at=now, due_at=now, deadline=now, created_at=now, signed_off_at=now if signed else None)
    ReportVersion.objects.create(report=report, number=1, created_at=now, data={"run_id": run.pk})
    return run


@pytest.fixture
def cities(world):
    w = world
    w.scheme = EvaluationScheme.objects.create(code="T6", name="测试方案")
    w.xx, w.xx_alliance = county(w, "445321", "新兴县")
    w.ld, w.ld_alliance = county(w, "445381", "罗定市")
    w.ya, w.ya_alliance = county(w, "445303", "=1+1区")  # a name that looks like a formula
    w.yn_run = evaluated(w, w.yn, {w.alliance_a: "90", w.alliance_b: "80"})  # mean 85
    w.xx_run = evaluated(w, w.xx, {w.xx_alliance: "85"})  # tie with 郁南县
    w.ld_run = evaluated(w, w.ld, {w.ld_alliance: "70.5"})
    evaluated(w, w.ya, {w.ya_alliance: "99"}, signed=False)  # drafted, not signed off: missing
    evaluated(w, w.wy, {w.other_alliance: "100"})  # another city's county
    w.url = reverse("reports:city_summary", kwargs={"region_pk": w.yf.pk})
    w.xlsx_url = reverse("reports:city_summary_xlsx", kwargs={"region_pk": w.yf.pk})
    return w


def test_ranks_ties_and_missing(cities):
    w = cities
    data = city.summary(w.city, w.yf, Period.parse(Q3), OCT_8.date())
    got = [(r.county.name, r.score, r.rank) for r in data.rows]
    # The tie shares rank 1 (listed by region code), the next is 3rd; the missing county last, unranked.
    assert got == [("新兴县", Decimal("85.00"), 1), ("郁南县", Decimal("85.00"), 1), ("罗定市", Decimal("70.50"), 3),
                   ("=1+1区", None, None)]
    assert [r.county.name for r in data.missing] == ["=1+1区"]
    assert data.rows[1].alliances == 2 and data.rows[1].run_id == w.yn_run.pk
    # The province ranks the counties of all its cities (only 云浮市 here); 万源市 is elsewhere.
    province = city.summary(w.province, w.gd, Period.parse(Q3), OCT_8.date())
    assert [r.rank for r in province.rows] == [1, 1, 3, None]
    cities = [(c.city.name, c.counties, c.signed, c.score, c.rank) for c in province.cities]
    assert cities == [("云浮市", 4, 3, Decimal("80.17"), 1)]  # (85 + 85 + 70.5) / 3


def test_the_page_ranks_and_links_to_each_evaluation(cities, as_user):
    w = cities
    with time_machine.travel(OCT_8, tick=False):
        page = as_user(w.city).get(w.url).content.decode()
    assert "郁南县" in page and "罗定市" in page and "万源市" not in page
    assert reverse("indicators:evaluation_detail", kwargs={"run_pk": w.yn_run.pk}) in page
    assert reverse("indicators:evaluation_detail", kwargs={"run_pk": w.ld_run.pk}) in page
    with time_machine.travel(OCT_8, tick=False):
        detail = as_user(w.city).get(reverse("indicators:evaluation_detail", kwargs={"run_pk": w.yn_run.pk}))
    assert detail.status_code == 200


def test_the_tenth_rule(cities, as_user):
    w = cities
    client = as_user(w.city)
    with time_machine.travel(OCT_8, tick=False):
        page = client.get(w.url).content.decode()
        assert 'id="summary-missing"' in page and "=1+1区" in page
        assert 'id="summary-xlsx"' not in page and "2026-10-10" in page
        assert client.get(w.xlsx_url).status_code == 404
    with time_machine.travel(OCT_10, tick=False):
        page = client.get(w.url).content.decode()
        assert 'id="summary-xlsx"' in page
        assert client.get(w.xlsx_url).status_code == 200
    # Before the 10th, once every county has signed off.
    Report.objects.filter(county=w.ya).update(state=Report.State.SIGNED, signed_off_at=OCT_8)
    with time_machine.travel(OCT_8, tick=False):
        page = client.get(w.url).content.decode()
        assert 'id="summary-xlsx"' in page and 'id="summary-missing"' not in page
        assert client.get(w.xlsx_url).status_code == 200


def test_the_summary_workbook(cities, as_user):
    w = cities
    with time_machine.travel(OCT_10, tick=False):
        response = as_user(w.city).get(w.xlsx_url)
    assert response.status_code == 200
    ws = load_workbook(BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
                       ).worksheets[0]
    assert ws["A1"].value == "云浮市2026年第三季度紧密型县域医共体评价汇总表"
    assert "填报单位：云浮市卫生健康局" in ws["A2"].value
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=4, max_row=7)]
    assert [v[1] for v in values] == ["新兴县", "郁南县", "罗定市", "=1+1区"]
    assert [v[5] for v in values][:3] == [1, 1, 3] and values[3][5] in ("", None)
    assert Decimal(str(values[2][2])) == Decimal("70.5")
    assert values[3][7] == "未签发季度评价指标表"
    formula_cells = [c for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formula_cells == []
    assert any("未签发的县（市、区）：=1+1区" in str(c.value) for row in ws.iter_rows() for c in row if c.value)


def test_queries_do_not_grow_with_the_counties(cities, as_user):
    w = cities
    client = as_user(w.city)

    def count() -> int:
        with time_machine.travel(OCT_10, tick=False), CaptureQueriesContext(connection) as captured:
            assert client.get(w.url).status_code == 200
        return len(captured.captured_queries)

    before = count()
    for n in range(3):
        region, alliance = county(w, f"44539{n}", f"新县{n}")
        evaluated(w, region, {alliance: str(60 + n)})
    assert count() == before


def test_who_sees_the_roll_up(cities, as_user):
    w = cities
    dz_city = UserFactory(username="dz_city")
    grant(dz_city, Role.VIEWER, w.dz)
    with time_machine.travel(OCT_10, tick=False):
        assert as_user(dz_city).get(w.url).status_code == 404
        assert as_user(dz_city).get(w.xlsx_url).status_code == 404
        assert as_user(w.outsider).get(w.url).status_code == 404
        assert as_user(w.bureau).get(w.url).status_code == 403  # a county user sees the city's name only
        assert as_user(w.bureau).get(w.xlsx_url).status_code == 403
        assert as_user(w.province).get(w.url).status_code == 200
        province_page = as_user(w.province).get(
            reverse("reports:city_summary", kwargs={"region_pk": w.gd.pk})).content.decode()
        assert "云浮市" in province_page and "郁南县" in province_page and 'id="city-ranking"' in province_page
        province_xlsx = as_user(w.province).get(
            reverse("reports:city_summary_xlsx", kwargs={"region_pk": w.gd.pk}))
        assert province_xlsx.status_code == 200
        sheets = load_workbook(BytesIO(province_xlsx.content)).worksheets
        assert sheets[0]["C4"].value == "云浮市" and sheets[1]["B4"].value == "云浮市"
        county_page = reverse("reports:city_summary", kwargs={"region_pk": w.yn.pk})
        assert as_user(w.city).get(county_page).status_code == 404
        # Links: the city's home and region page; none for the county user.
        assert w.url in as_user(w.city).get("/").content.decode()
        region_url = reverse("alliances:region_detail", kwargs={"region_pk": w.yf.pk})
        assert w.url in as_user(w.city).get(region_url).content.decode()
        assert w.url not in as_user(w.bureau).get(region_url).content.decode()
