"""The indicator engine on a small county whose figures are worked out by hand below, including an
alliance reorganisation in the middle of a quarter and "same period last year"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from alliances.models import AllianceMembership
from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from indicators.engine import Engine, compute
from indicators.models import DataElement, DataValue, Filing, Indicator, ReportForm
from indicators.services.filings import open_filing, save_values
from tests.factories import InstitutionFactory, MembershipFactory

Q3 = Period.parse("2026Q3")
MONTHS = Q3.subperiods(Period.parse("2026-07").kind)


def file_values(form: ReportForm, institution, period: Period, values: dict[str, int | str], *, user=None,
                status: str = Filing.Status.SUBMITTED) -> Filing:
    """A filing with ``values`` in the given status (values count when submitted)."""
    filing = open_filing(form, institution, period)
    ids = dict(DataElement.objects.filter(county=None, code__in=values).values_list("code", "pk"))
    save_values(filing, {ids[code]: Decimal(str(v)) for code, v in values.items()}, user=user,
                expected_version=filing.version, check_edit=False)
    Filing.objects.filter(pk=filing.pk).update(status=status)
    DataValue.objects.filter(filing=filing).update(counted=status in Filing.COUNTED)
    filing.refresh_from_db()
    return filing


@pytest.fixture
def county(world):
    """郁南县 of the test world: 第一医共体 (县人民医院 lead; 平台镇卫生院, 桂圩镇卫生院) and 第三医共体
    (县中医院 lead; 通门镇卫生院). 桂圩镇卫生院 moves to 第三医共体 on 1 August 2026."""
    install_catalog()
    forms = {form.code: form for form in install_forms(world.yn)}
    install_forms(world.wy)
    membership = AllianceMembership.objects.get(institution=world.centre2)
    membership.valid_to = date(2026, 7, 31)
    membership.save()
    MembershipFactory(institution=world.centre2, alliance=world.alliance_b, valid_from=date(2026, 8, 1))

    monthly = {
        # institution: visits, discharges, bed days of discharged, surgeries, L3/4 surgeries,
        # medical revenue, drugs, consumables, exams, lab, salary, staff, GPs, occupied, open
        world.hospital: dict(OP_VISITS=1000, DISCHARGES=100, SURGERIES=100, SURGERIES_L34=40, MED_REVENUE=1000,
                             DRUG_REVENUE=300, CONSUMABLE_REVENUE=100, EXAM_REVENUE=100, LAB_REVENUE=100,
                             SALARY_TOTAL=100000, STAFF_ON_DUTY=50, GPS=5),
        world.centre: dict(OP_VISITS=300, DISCHARGES=10, SALARY_TOTAL=30000, STAFF_ON_DUTY=10, GPS=2,
                           OCCUPIED_BED_DAYS=600, OPEN_BED_DAYS=1000),
        world.centre2: dict(OP_VISITS=200, DISCHARGES=5, SALARY_TOTAL=20000, STAFF_ON_DUTY=8, GPS=2,
                            OCCUPIED_BED_DAYS=300, OPEN_BED_DAYS=1000),
        world.tcm: dict(OP_VISITS=500, DISCHARGES=40, SALARY_TOTAL=60000, STAFF_ON_DUTY=30, GPS=3),
        world.centre_b: dict(OP_VISITS=100, DISCHARGES=4, SALARY_TOTAL=15000, STAFF_ON_DUTY=5, GPS=1,
                             OCCUPIED_BED_DAYS=500, OPEN_BED_DAYS=1000),
    }
    bed_days = {"2026-07": 800, "2026-08": 900, "2026-09": 700}
    for month in MONTHS:
        for institution, values in monthly.items():
            values = dict(values)
            if institution == world.hospital:
                values["DISCHARGE_BED_DAYS"] = bed_days[str(month)]
            if month == MONTHS[0]:
                # Stocks: earlier months of the quarter carry other numbers; only September counts.
                values["STAFF_ON_DUTY"] = 999
            file_values(forms["MONTHLY_OPS"], institution, month, values)
        file_values(forms["COUNTY_INSURANCE"], None, month, dict(INS_INPATIENTS_IN_COUNTY=850,
                                                                 INS_INPATIENTS_TOTAL=1000))
    # The same quarter a year earlier: 30 of 100 surgeries were level 3/4.
    for month in Period.parse("2025Q3").subperiods(MONTHS[0].kind):
        file_values(forms["MONTHLY_OPS"], world.hospital, month, dict(SURGERIES=100, SURGERIES_L34=30))
    quarterly = {
        world.centre: dict(SERVICE_POP=30000, PH_SCORE=80, ELDERLY_65_74=1000, ELDERLY_DISABLED=30),
        world.centre2: dict(SERVICE_POP=20000, PH_SCORE=90, ELDERLY_65_74=1000, ELDERLY_DISABLED=20),
        world.centre_b: dict(SERVICE_POP=15000, PH_SCORE=60, ELDERLY_65_74=1000, ELDERLY_DISABLED=40),
    }
    for institution, values in quarterly.items():
        file_values(forms["QUARTERLY_PH"], institution, Q3, values)
        file_values(forms["QUARTERLY_PH"], institution, Q3.same_period_last_year,
                    dict(ELDERLY_65_74=1000, ELDERLY_DISABLED=35))
    # A draft does not count.
    file_values(forms["MONTHLY_OPS"], world.centre_b, Period.parse("2026-10"), dict(OP_VISITS=99999),
                status=Filing.Status.DRAFT)
    # The other county files too; it must never leak into 郁南县.
    other = {form.code: form for form in ReportForm.objects.filter(county=world.wy)}
    for month in MONTHS:
        file_values(other["MONTHLY_OPS"], world.other_centre, month, dict(OP_VISITS=100000))
    world.forms = forms
    return world


def results(level: str, counties, *codes: str):
    indicators = Indicator.objects.filter(code__in=codes)
    computed = compute(indicators, Q3, level, counties)
    return {(r.indicator.code, unit): r for (_pk, unit), r in computed.items()}


def test_average_stay_of_the_lead_hospital_pools_the_quarter(county):
    r = results("alliance", [county.yn.pk], "A4_24")[("A4_24", county.alliance_a.pk)]
    # (800 + 900 + 700) bed days / (3 × 100) discharges; the factor is 1, not 100.
    assert r.numerator == 2400 and r.denominator == 300
    assert r.value == Decimal(8)


def test_primary_visit_share_follows_the_membership_of_each_month(county):
    r = results("alliance", [county.yn.pk], "A4_32")
    first, third = r[("A4_32", county.alliance_a.pk)], r[("A4_32", county.alliance_b.pk)]
    # 第一医共体: 平台 3×300 + 桂圩 July 200 = 1,100 of 3×1,000 + 900 + 200 = 4,100.
    assert (first.numerator, first.denominator) == (1100, 4100)
    assert round(first.value, 2) == Decimal("26.83")
    # 第三医共体: 通门 3×100 + 桂圩 August and September 400 = 700 of 3×500 + 700 = 2,200.
    assert (third.numerator, third.denominator) == (700, 2200)
    assert round(third.value, 2) == Decimal("31.82")
    county_value = results("county", [county.yn.pk], "A4_32")[("A4_32", county.yn.pk)]
    # The county: 1,800 of 6,300; 万源's figures and the draft do not count.
    assert (county_value.numerator, county_value.denominator) == (1800, 6300)
    assert county_value.met_threshold is False  # target ≥ 65%


def test_level_three_and_four_surgery_share_rises_against_the_same_quarter_last_year(county):
    r = results("alliance", [county.yn.pk], "A4_25")[("A4_25", county.alliance_a.pk)]
    assert r.value == Decimal(40) and r.baseline == Decimal(30)
    assert r.met_direction is True and r.met is True


def test_service_revenue_share_subtracts_drugs_consumables_exams_and_tests(county):
    r = results("institution", [county.yn.pk], "A4_26")[("A4_26", county.hospital.pk)]
    assert (r.numerator, r.denominator) == (1200, 3000)
    assert r.value == Decimal(40)


def test_salary_ratio_uses_the_last_month_of_staff_and_the_sum_of_salaries(county):
    r = results("county", [county.yn.pk], "A4_12")[("A4_12", county.yn.pk)]
    # Primary: (90,000 + 60,000 + 45,000) / (10 + 8 + 5) September staff; leads: 480,000 / 80.
    expected = (Decimal(195000) / 23) / (Decimal(480000) / 80) * 100
    assert r.value == expected
    assert round(r.value, 2) == Decimal("141.30")


def test_gps_per_thousand_takes_stocks_from_the_last_month_and_the_quarterly_population(county):
    r = results("county", [county.yn.pk], "A4_17")[("A4_17", county.yn.pk)]
    assert (r.numerator, r.denominator) == (13, 65000)
    assert r.value == Decimal("0.2")


def test_county_level_figures_reach_the_county(county):
    r = results("county", [county.yn.pk], "A4_18")[("A4_18", county.yn.pk)]
    assert (r.numerator, r.denominator, r.value) == (2550, 3000, Decimal(85))
    assert r.met_threshold is True and r.met is True  # ≥ 85% or rising: the threshold is enough


def test_public_health_score_is_a_mean_of_units_not_pooled(county):
    r = results("alliance", [county.yn.pk], "A4_39")
    # At the end of the quarter 桂圩 (90) is in 第三医共体 with 通门 (60); 第一医共体 has 平台 (80).
    assert r[("A4_39", county.alliance_a.pk)].value == Decimal(80)
    assert r[("A4_39", county.alliance_b.pk)].value == Decimal(75)
    assert r[("A4_39", county.alliance_b.pk)].units_averaged == 2
    assert r[("A4_39", county.alliance_b.pk)].numerator is None


def test_disability_rate_should_fall(county):
    r = results("county", [county.yn.pk], "A4_22")[("A4_22", county.yn.pk)]
    # 90 of 3,000 now; 3 × 35 of 3,000 a year earlier.
    assert r.value == Decimal(3) and r.baseline == Decimal("3.5")
    assert r.met is True


def test_bed_use_of_primary_institutions(county):
    r = results("county", [county.yn.pk], "A4_33")[("A4_33", county.yn.pk)]
    assert (r.numerator, r.denominator) == (4200, 9000)


def test_quarter_of_a_flow_is_the_sum_and_of_a_stock_the_last_month(county):
    indicators = [
        Indicator(pk=-1, code="T_VISITS", name="visits", numerator="OP_VISITS", factor=1),
        Indicator(pk=-2, code="T_STAFF", name="staff", numerator="STAFF_ON_DUTY", factor=1),
        Indicator(pk=-3, code="T_PREVIOUS", name="previous", numerator="OP_VISITS[pp]", factor=1),
    ]
    r = Engine(indicators, [county.yn.pk]).compute(Q3, "institution", [county.hospital.pk])
    assert r[(-1, county.hospital.pk)].value == 3000
    assert r[(-2, county.hospital.pk)].value == 50  # not 999 + 50 + 50
    assert r[(-3, county.hospital.pk)].value is None  # nothing filed for 2026Q2
    month = Engine(indicators, [county.yn.pk]).compute(Period.parse("2026-08"), "institution", [county.hospital.pk])
    assert month[(-3, county.hospital.pk)].value == 1000  # July


def test_queries_do_not_grow_with_units(county, django_assert_num_queries):
    indicators = list(Indicator.objects.all())
    # Elements, the alliances, the institutions with their memberships (joined to the rows, and
    # the units of the indicator that takes a mean of unit values), one grouped read per period
    # (the quarter and the same quarter last year).
    with django_assert_num_queries(5):
        Engine(indicators, [county.yn.pk]).compute(Q3, "alliance")
    for n in range(12):
        institution = InstitutionFactory(county=county.yn, name=f"新增镇卫生院{n}")
        MembershipFactory(institution=institution, alliance=county.alliance_a, valid_from=date(2020, 1, 1))
        for month in MONTHS:
            file_values(county.forms["MONTHLY_OPS"], institution, month, dict(OP_VISITS=10, DISCHARGES=1))
    with django_assert_num_queries(5):
        Engine(indicators, [county.yn.pk]).compute(Q3, "alliance")
    with django_assert_num_queries(4):  # the institutions are the units
        Engine(indicators, [county.yn.pk]).compute(Q3, "institution")


def test_one_engine_computes_different_unit_sets_one_after_the_other(county):
    engine = Engine(Indicator.objects.filter(code="A4_26"), [county.yn.pk])
    first = engine.compute(Q3, "institution", [county.centre.pk])
    second = engine.compute(Q3, "institution", [county.hospital.pk])
    assert list(first) == [(Indicator.objects.get(code="A4_26").pk, county.centre.pk)]
    assert second[(Indicator.objects.get(code="A4_26").pk, county.hospital.pk)].value == Decimal(40)
