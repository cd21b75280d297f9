"""Seed 000 (湛江方案) items 10.1, 10.3, 11.1, 11.2, 12.2 and seed 001 §四(三): the measures added to
the catalogue (issue 18), computed by the engine on a small county whose figures are worked out by
hand below; the strict ">" target of 下转增幅高于上转增幅; the rows of the shipped forms; migration
0007 on a database whose catalogue was installed before; the pages and the API; the demo history.

The test county is 郁南县 of the test world: 第一医共体 (县人民医院 lead; 平台镇卫生院, 桂圩镇卫生院)
and 第三医共体 (县中医院 lead; 通门镇卫生院). 桂圩镇卫生院 moves to 第三医共体 on 1 January 2026, between
2025Q3 and 2026Q3: each quarter counts it where it was then.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.management import call_command
from django.urls import reverse

from alliances.models import Alliance, AllianceMembership, Institution, Region
from core.periods import Period, PeriodKind
from indicators import catalog
from indicators import indicator_tables as tables
from indicators.engine import Engine, compute
from indicators.exports import orientation_text
from indicators.models import DataElement, FormElement, Indicator, ReportForm, SchemeItem, ValidationRule
from indicators.services.evaluation import threshold_ratio
from indicators.services.filings import form_rows
from tests.conftest import client_for
from tests.factories import InstitutionFactory, MembershipFactory
from tests.test_indicators_engine import file_values

Q3 = Period.parse("2026Q3")
LAST_Q3 = Period.parse("2025Q3")
SH = ZoneInfo("Asia/Shanghai")

NEW_INDICATORS = (
    "REFERRALS", "REFERRAL_UP_GROWTH", "REFERRAL_DOWN_GROWTH", "REFERRAL_GROWTH_GAP", "CHRONIC_DOWN_GROWTH", "CMI",
    "OP_DISEASE_TYPES", "IP_DISEASE_TYPES", "VILLAGE_CLINIC_STANDARD_RATE", "CHRONIC_STANDARD_MGMT_RATE",
    "EHR_OPEN_RATE", "FUND_PRIMARY_RATE",
)


def months(quarter: Period) -> list[Period]:
    return quarter.subperiods(PeriodKind.MONTH)


@pytest.fixture
def measures(world):
    w = world
    catalog.install_catalog()
    forms = {form.code: form for form in catalog.install_forms(w.yn)}
    other = {form.code: form for form in catalog.install_forms(w.wy)}
    membership = AllianceMembership.objects.get(institution=w.centre2)
    membership.valid_to = date(2025, 12, 31)
    membership.save()
    MembershipFactory(institution=w.centre2, alliance=w.alliance_b, valid_from=date(2026, 1, 1))

    # Every month of the quarter (the same figures each month, except the lead hospital's DRG):
    # up-referrals of the centres, down-referrals and 两慢病 down-referrals of the hospitals.
    monthly = {
        LAST_Q3: {
            w.centre: dict(REFERRALS_UP=20), w.centre2: dict(REFERRALS_UP=10), w.centre_b: dict(REFERRALS_UP=30),
            w.hospital: dict(REFERRALS_DOWN=40, CHRONIC_REFERRED_DOWN=20, DRG_WEIGHT=100, DRG_CASES=100),
            w.tcm: dict(REFERRALS_DOWN=20, CHRONIC_REFERRED_DOWN=20, DRG_WEIGHT=45, DRG_CASES=50),
        },
        Q3: {
            w.centre: dict(REFERRALS_UP=22), w.centre2: dict(REFERRALS_UP=13), w.centre_b: dict(REFERRALS_UP=33),
            w.hospital: dict(REFERRALS_DOWN=45, CHRONIC_REFERRED_DOWN=23),
            w.tcm: dict(REFERRALS_DOWN=24, CHRONIC_REFERRED_DOWN=21, DRG_WEIGHT=40, DRG_CASES=50),
        },
    }
    # 县人民医院's DRG in 2026Q3 differs month by month: 90/100, 180/150, 50/50.
    drg = {"2026-07": (90, 100), "2026-08": (180, 150), "2026-09": (50, 50)}
    for quarter, per_institution in monthly.items():
        for month in months(quarter):
            for institution, values in per_institution.items():
                values = dict(values)
                if str(month) in drg and institution == w.hospital:
                    values["DRG_WEIGHT"], values["DRG_CASES"] = drg[str(month)]
                file_values(forms["MONTHLY_OPS"], institution, month, values)
            # The county's insurance settlement: 21% of the in-county fund went to primary care in
            # 2025, 23% in 2026.
            primary = 210_000 if quarter == LAST_Q3 else 230_000
            file_values(forms["COUNTY_INSURANCE"], None, month, dict(FUND_IN_COUNTY=1_000_000, FUND_TOTAL=1_200_000,
                                                                     FUND_PRIMARY=primary))
            # 万源市: up and down both grow by exactly 20% (10 → 12): the gap is 0, not above it.
            # Its fund share falls from 25% to 20%.
            up_down = 10 if quarter == LAST_Q3 else 12
            file_values(other["MONTHLY_OPS"], w.other_centre, month, dict(REFERRALS_UP=up_down))
            file_values(other["MONTHLY_OPS"], w.other_hospital, month, dict(REFERRALS_DOWN=up_down))
            file_values(other["COUNTY_INSURANCE"], None, month,
                        dict(FUND_IN_COUNTY=1_000_000, FUND_PRIMARY=250_000 if quarter == LAST_Q3 else 200_000))
    quarterly = {
        # disease types (outpatient, inpatient), village clinics (all, standard), 两慢病 (managed,
        # standard), health records (all, open to the resident)
        w.centre: dict(OP_DISEASE_TYPES=120, IP_DISEASE_TYPES=70, VILLAGE_CLINICS=10, VILLAGE_CLINICS_STANDARD=8,
                       CHRONIC_MANAGED=1000, CHRONIC_STD_MANAGED=750, EHR_RECORDS=30000, EHR_OPENED=18000),
        w.centre2: dict(OP_DISEASE_TYPES=90, IP_DISEASE_TYPES=50, VILLAGE_CLINICS=6, VILLAGE_CLINICS_STANDARD=3,
                        CHRONIC_MANAGED=500, CHRONIC_STD_MANAGED=300, EHR_RECORDS=20000, EHR_OPENED=10000),
        w.centre_b: dict(OP_DISEASE_TYPES=100, IP_DISEASE_TYPES=55, VILLAGE_CLINICS=4, VILLAGE_CLINICS_STANDARD=3,
                         CHRONIC_MANAGED=800, CHRONIC_STD_MANAGED=520, EHR_RECORDS=15000, EHR_OPENED=12000),
        # The lead hospital manages patients too; 规范管理率 counts primary care only.
        w.hospital: dict(CHRONIC_MANAGED=2000),
    }
    for institution, values in quarterly.items():
        file_values(forms["QUARTERLY_PH"], institution, Q3, values)
    # An earlier quarter of the year carries other stocks: only the quarter asked for counts.
    file_values(forms["QUARTERLY_PH"], w.centre, Period.parse("2026Q2"), dict(OP_DISEASE_TYPES=60,
                                                                               VILLAGE_CLINICS_STANDARD=1))
    w.forms = forms
    return w


def results(level: str, counties, *codes: str, period: Period = Q3):
    computed = compute(Indicator.objects.filter(county=None, code__in=codes), period, level, counties)
    return {(r.indicator.code, unit): r for (_pk, unit), r in computed.items()}


def rounded(value: Decimal | None, places: int = 4) -> Decimal | None:
    return None if value is None else round(value, places)


# Referrals (10.3) ----------------------------------------------------------------------------------

def test_referrals_rise_against_the_same_quarter_with_the_membership_of_each_year(measures):
    w = measures
    r = results("alliance", [w.yn.pk], "REFERRALS")
    first, third = r[("REFERRALS", w.alliance_a.pk)], r[("REFERRALS", w.alliance_b.pk)]
    # 第一医共体 2026Q3: 平台 3×22 up + 县人民医院 3×45 down = 66 + 135 = 201; 2025Q3 it still had
    # 桂圩: 3×(20 + 10) + 3×40 = 210. A fall: not met.
    assert (first.value, first.baseline, first.met) == (201, 210, False)
    # 第三医共体 2026Q3: 通门 3×33 + 桂圩 3×13 + 县中医院 3×24 = 99 + 39 + 72 = 210; 2025Q3:
    # 3×30 + 3×20 = 150. A rise: met.
    assert (third.value, third.baseline, third.met) == (210, 150, True)
    county = results("county", [w.yn.pk], "REFERRALS")[("REFERRALS", w.yn.pk)]
    # The county: 3×(22 + 13 + 33 + 45 + 24) = 411 against 3×(20 + 10 + 30 + 40 + 20) = 360.
    assert (county.value, county.baseline, county.met) == (411, 360, True)
    # A county and alliance measure: no institution results.
    assert results("institution", [w.yn.pk], "REFERRALS") == {}


def test_up_and_down_growth_count_each_year_with_the_membership_in_force_then(measures):
    w = measures
    r = results("alliance", [w.yn.pk], "REFERRAL_UP_GROWTH", "REFERRAL_DOWN_GROWTH")
    # 第一医共体 up: 3×22 = 66 against 2025's 3×(20 + 10) = 90 (桂圩 was a member then):
    # (66 − 90) / 90 = −26.6667%. Counted with today's membership it would be (66 − 60) / 60 = +10%.
    up_a = r[("REFERRAL_UP_GROWTH", w.alliance_a.pk)]
    assert (up_a.numerator, up_a.denominator, rounded(up_a.value)) == (-24, 90, Decimal("-26.6667"))
    # 第三医共体 up: 3×(33 + 13) = 138 against 3×30 = 90: 48 / 90 = 53.3333%.
    up_b = r[("REFERRAL_UP_GROWTH", w.alliance_b.pk)]
    assert (up_b.numerator, up_b.denominator, rounded(up_b.value)) == (48, 90, Decimal("53.3333"))
    # Down: 第一 3×45 = 135 against 120: 12.5%; 第三 3×24 = 72 against 60: 20%.
    down_a, down_b = r[("REFERRAL_DOWN_GROWTH", w.alliance_a.pk)], r[("REFERRAL_DOWN_GROWTH", w.alliance_b.pk)]
    assert (down_a.numerator, down_a.denominator, down_a.value) == (15, 120, Decimal("12.5"))
    assert (down_b.numerator, down_b.denominator, down_b.value) == (12, 60, Decimal(20))
    # Information only: no target to meet.
    assert up_a.met is None and down_b.met is None
    county = results("county", [w.yn.pk], "REFERRAL_UP_GROWTH", "REFERRAL_DOWN_GROWTH")
    # The county (no move matters there): up 3×68 = 204 against 180: 13.3333%; down 3×69 = 207
    # against 180: 15%.
    assert rounded(county[("REFERRAL_UP_GROWTH", w.yn.pk)].value) == Decimal("13.3333")
    assert county[("REFERRAL_DOWN_GROWTH", w.yn.pk)].value == Decimal(15)


def test_down_growth_above_up_growth_at_county_and_alliance_across_the_move(measures):
    w = measures
    r = results("alliance", [w.yn.pk], "REFERRAL_GROWTH_GAP")
    # 第一医共体: 12.5 − (−26.6667) = 39.1667 points > 0: met.
    first = r[("REFERRAL_GROWTH_GAP", w.alliance_a.pk)]
    assert (rounded(first.value), first.met_threshold, first.met) == (Decimal("39.1667"), True, True)
    # 第三医共体: 20 − 53.3333 = −33.3333 points: not met.
    third = r[("REFERRAL_GROWTH_GAP", w.alliance_b.pk)]
    assert (rounded(third.value), third.met) == (Decimal("-33.3333"), False)
    # The county: 15 − 13.3333 = 1.6667 points: met.
    county = results("county", [w.yn.pk], "REFERRAL_GROWTH_GAP")[("REFERRAL_GROWTH_GAP", w.yn.pk)]
    assert (rounded(county.value), county.met) == (Decimal("1.6667"), True)
    # 万源市: both grew by 20% (30 → 36 a quarter): the gap is exactly 0, which is not above 0.
    wanyuan = results("county", [w.wy.pk], "REFERRAL_GROWTH_GAP")[("REFERRAL_GROWTH_GAP", w.wy.pk)]
    assert (wanyuan.value, wanyuan.met_threshold, wanyuan.met) == (0, False, False)
    # A month works the same way: July 2026 against July 2025 (one month each): 第一医共体
    # (45 − 40) / 40 − (22 − 30) / 30 = 12.5% + 26.6667% = 39.1667 points.
    july = results("alliance", [w.yn.pk], "REFERRAL_GROWTH_GAP", period=Period.parse("2026-07"))
    assert rounded(july[("REFERRAL_GROWTH_GAP", w.alliance_a.pk)].value) == Decimal("39.1667")


def test_without_last_year_there_is_no_growth(measures):
    w = measures
    # 2024Q3 has no figures and 2025Q3's year before has none: no value, not a 0 or a division error.
    r = results("county", [w.yn.pk], "REFERRAL_UP_GROWTH", "REFERRAL_GROWTH_GAP", "CHRONIC_DOWN_GROWTH",
                period=LAST_Q3)
    assert all(result.value is None and result.met is None for result in r.values())


def test_lead_hospitals_chronic_down_referrals_grow_by_ten_percent(measures):
    w = measures
    r = results("alliance", [w.yn.pk], "CHRONIC_DOWN_GROWTH")
    # 第一医共体: 县人民医院 3×23 = 69 against 3×20 = 60: 15% ≥ 10%: met.
    first = r[("CHRONIC_DOWN_GROWTH", w.alliance_a.pk)]
    assert (first.numerator, first.denominator, first.value, first.met) == (9, 60, Decimal(15), True)
    # 第三医共体: 县中医院 3×21 = 63 against 60: 5%: not met.
    third = r[("CHRONIC_DOWN_GROWTH", w.alliance_b.pk)]
    assert (third.value, third.met) == (Decimal(5), False)
    # The county's two lead hospitals: 132 against 120: exactly 10%: met (≥).
    county = results("county", [w.yn.pk], "CHRONIC_DOWN_GROWTH")[("CHRONIC_DOWN_GROWTH", w.yn.pk)]
    assert (county.numerator, county.denominator, county.value, county.met) == (12, 120, Decimal(10), True)


# CMI (10.1) ----------------------------------------------------------------------------------------

def test_cmi_pools_weights_and_cases_over_months_hospitals_and_alliances(measures):
    w = measures
    r = results("institution", [w.yn.pk], "CMI")
    hospital = r[("CMI", w.hospital.pk)]
    # 县人民医院 2026Q3: (90 + 180 + 50) / (100 + 150 + 50) = 320 / 300 = 1.0667 (the mean of the
    # monthly values 0.9, 1.2, 1.0 would be 1.0333); 2025Q3: 300 / 300 = 1. A rise: met.
    assert (hospital.numerator, hospital.denominator, hospital.baseline) == (320, 300, 1)
    assert (rounded(hospital.value), hospital.met) == (Decimal("1.0667"), True)
    # 县中医院: 120 / 150 = 0.8 against 135 / 150 = 0.9: a fall.
    tcm = r[("CMI", w.tcm.pk)]
    assert (tcm.value, tcm.baseline, tcm.met) == (Decimal("0.8"), Decimal("0.9"), False)
    # A township centre is no lead hospital: no value.
    assert r[("CMI", w.centre.pk)].value is None
    alliances = results("alliance", [w.yn.pk], "CMI")
    assert rounded(alliances[("CMI", w.alliance_a.pk)].value) == Decimal("1.0667")
    assert alliances[("CMI", w.alliance_b.pk)].value == Decimal("0.8")
    # The county pools both lead hospitals: (320 + 120) / (300 + 150) = 440 / 450 = 0.9778 against
    # (300 + 135) / 450 = 0.9667: met.
    county = results("county", [w.yn.pk], "CMI")[("CMI", w.yn.pk)]
    assert (county.numerator, county.denominator, county.met) == (440, 450, True)
    assert (rounded(county.value), rounded(county.baseline)) == (Decimal("0.9778"), Decimal("0.9667"))


# Disease types (11.1) ------------------------------------------------------------------------------

def test_disease_types_are_judged_per_member_and_averaged_for_alliance_and_county(measures):
    w = measures
    r = results("institution", [w.yn.pk], "OP_DISEASE_TYPES", "IP_DISEASE_TYPES")
    # Each centre against 100 outpatient and 60 inpatient types; 2026Q3's stock, not 2026Q2's 60.
    assert [(r[("OP_DISEASE_TYPES", i.pk)].value, r[("OP_DISEASE_TYPES", i.pk)].met)
            for i in (w.centre, w.centre2, w.centre_b)] == [(120, True), (90, False), (100, True)]
    assert [(r[("IP_DISEASE_TYPES", i.pk)].value, r[("IP_DISEASE_TYPES", i.pk)].met)
            for i in (w.centre, w.centre2, w.centre_b)] == [(70, True), (50, False), (55, False)]
    assert r[("OP_DISEASE_TYPES", w.hospital.pk)].value is None  # hospitals are not counted
    alliances = results("alliance", [w.yn.pk], "OP_DISEASE_TYPES", "IP_DISEASE_TYPES")
    # 第一医共体: 平台 only (桂圩 left): 120 and 70, met. 第三医共体: (90 + 100) / 2 = 95 and
    # (50 + 55) / 2 = 52.5 from 2 members: not met.
    first = alliances[("OP_DISEASE_TYPES", w.alliance_a.pk)]
    assert (first.value, first.units_averaged, first.met) == (120, 1, True)
    third = alliances[("OP_DISEASE_TYPES", w.alliance_b.pk)]
    assert (third.value, third.units_averaged, third.met) == (95, 2, False)
    assert alliances[("IP_DISEASE_TYPES", w.alliance_b.pk)].value == Decimal("52.5")
    # The county: (120 + 90 + 100) / 3 = 103.3333, met; (70 + 50 + 55) / 3 = 58.3333, not met.
    county = results("county", [w.yn.pk], "OP_DISEASE_TYPES", "IP_DISEASE_TYPES")
    op, ip = county[("OP_DISEASE_TYPES", w.yn.pk)], county[("IP_DISEASE_TYPES", w.yn.pk)]
    assert (rounded(op.value), op.units_averaged, op.met) == (Decimal("103.3333"), 3, True)
    assert (rounded(ip.value), ip.met) == (Decimal("58.3333"), False)


# Village clinics (11.2), 两慢病 and health records (12.2) ------------------------------------------

def test_village_clinic_standard_rate(measures):
    w = measures
    r = results("institution", [w.yn.pk], "VILLAGE_CLINIC_STANDARD_RATE")
    # 平台 8 / 10 = 80%; 桂圩 3 / 6 = 50%; 通门 3 / 4 = 75%.
    assert [(r[("VILLAGE_CLINIC_STANDARD_RATE", i.pk)].value, r[("VILLAGE_CLINIC_STANDARD_RATE", i.pk)].met)
            for i in (w.centre, w.centre2, w.centre_b)] == [(80, True), (50, False), (75, True)]
    alliances = results("alliance", [w.yn.pk], "VILLAGE_CLINIC_STANDARD_RATE")
    # 第一医共体 8 / 10 = 80%: met; 第三医共体 (3 + 3) / (6 + 4) = 60%: not met.
    assert alliances[("VILLAGE_CLINIC_STANDARD_RATE", w.alliance_a.pk)].value == 80
    third = alliances[("VILLAGE_CLINIC_STANDARD_RATE", w.alliance_b.pk)]
    assert (third.numerator, third.denominator, third.value, third.met) == (6, 10, 60, False)
    # The county: 14 / 20 = 70%: met (≥ 70).
    county = results("county", [w.yn.pk], "VILLAGE_CLINIC_STANDARD_RATE")[("VILLAGE_CLINIC_STANDARD_RATE", w.yn.pk)]
    assert (county.numerator, county.denominator, county.value, county.met) == (14, 20, 70, True)


def test_chronic_standard_management_rate_counts_primary_care_only(measures):
    w = measures
    r = results("institution", [w.yn.pk], "CHRONIC_STANDARD_MGMT_RATE")
    # 平台 750 / 1000 = 75%; 桂圩 300 / 500 = 60%; 通门 520 / 800 = 65%; the hospital: none.
    assert [(r[("CHRONIC_STANDARD_MGMT_RATE", i.pk)].value, r[("CHRONIC_STANDARD_MGMT_RATE", i.pk)].met)
            for i in (w.centre, w.centre2, w.centre_b)] == [(75, True), (60, False), (65, False)]
    assert r[("CHRONIC_STANDARD_MGMT_RATE", w.hospital.pk)].value is None
    alliances = results("alliance", [w.yn.pk], "CHRONIC_STANDARD_MGMT_RATE")
    # 第三医共体: (300 + 520) / (500 + 800) = 820 / 1300 = 63.0769%.
    third = alliances[("CHRONIC_STANDARD_MGMT_RATE", w.alliance_b.pk)]
    assert (third.numerator, third.denominator, rounded(third.value), third.met) == (
        820, 1300, Decimal("63.0769"), False)
    # The county: 1570 / 2300 = 68.2609% (the hospital's 2000 managed patients are not in it).
    county = results("county", [w.yn.pk], "CHRONIC_STANDARD_MGMT_RATE")[("CHRONIC_STANDARD_MGMT_RATE", w.yn.pk)]
    assert (county.numerator, county.denominator, rounded(county.value), county.met) == (
        1570, 2300, Decimal("68.2609"), False)


def test_health_record_open_rate(measures):
    w = measures
    r = results("institution", [w.yn.pk], "EHR_OPEN_RATE")
    # 平台 18000 / 30000 = 60% (met, ≥ 60); 桂圩 10000 / 20000 = 50%; 通门 12000 / 15000 = 80%.
    assert [(r[("EHR_OPEN_RATE", i.pk)].value, r[("EHR_OPEN_RATE", i.pk)].met)
            for i in (w.centre, w.centre2, w.centre_b)] == [(60, True), (50, False), (80, True)]
    alliances = results("alliance", [w.yn.pk], "EHR_OPEN_RATE")
    # 第三医共体: 22000 / 35000 = 62.8571%.
    assert rounded(alliances[("EHR_OPEN_RATE", w.alliance_b.pk)].value) == Decimal("62.8571")
    # The county: 40000 / 65000 = 61.5385%.
    county = results("county", [w.yn.pk], "EHR_OPEN_RATE")[("EHR_OPEN_RATE", w.yn.pk)]
    assert (county.numerator, county.denominator, rounded(county.value), county.met) == (
        40000, 65000, Decimal("61.5385"), True)


def test_fund_primary_rate_is_a_county_figure_that_should_rise(measures):
    w = measures
    county = results("county", [w.yn.pk, w.wy.pk], "FUND_PRIMARY_RATE")
    # 郁南县: 3×230000 / 3×1000000 = 23% against 21%: met. 万源市: 20% against 25%: not met.
    yunan = county[("FUND_PRIMARY_RATE", w.yn.pk)]
    assert (yunan.numerator, yunan.denominator, yunan.value, yunan.baseline, yunan.met) == (
        690000, 3000000, 23, 21, True)
    wanyuan = county[("FUND_PRIMARY_RATE", w.wy.pk)]
    assert (wanyuan.value, wanyuan.baseline, wanyuan.met) == (20, 25, False)
    assert results("alliance", [w.yn.pk], "FUND_PRIMARY_RATE") == {}


def test_engine_queries_do_not_grow_with_institutions(measures, django_assert_num_queries):
    w = measures
    indicators = list(Indicator.objects.filter(county=None, code__in=NEW_INDICATORS))
    # Elements, alliances, institutions with memberships, one grouped read per period (2026Q3 and
    # 2025Q3, for the [ly] terms and the direction targets alike).
    with django_assert_num_queries(5):
        Engine(indicators, [w.yn.pk]).compute(Q3, "alliance")
    for n in range(10):
        centre = InstitutionFactory(county=w.yn, name=f"新增镇卫生院{n}", kind=Institution.Kind.TOWNSHIP_HEALTH_CENTRE)
        MembershipFactory(institution=centre, alliance=w.alliance_a, valid_from=date(2020, 1, 1))
        for quarter in (LAST_Q3, Q3):
            for month in months(quarter):
                file_values(w.forms["MONTHLY_OPS"], centre, month, dict(REFERRALS_UP=5))
        file_values(w.forms["QUARTERLY_PH"], centre, Q3, dict(OP_DISEASE_TYPES=100, EHR_RECORDS=10, EHR_OPENED=7))
    with django_assert_num_queries(5):
        r = {res.indicator.code: res for (_pk, unit), res in Engine(indicators, [w.yn.pk]).compute(Q3, "alliance")
             .items() if unit == w.alliance_a.pk}
    # 10 more centres sending 5 a month both years: up 66 + 150 = 216 against 90 + 150 = 240.
    assert (r["REFERRAL_UP_GROWTH"].numerator, r["REFERRAL_UP_GROWTH"].denominator) == (-24, 240)


# The ">" target -----------------------------------------------------------------------------------

def test_strictly_above_is_a_target_operator_shown_and_scored(measures):
    gap = Indicator.objects.get(county=None, code="REFERRAL_GROWTH_GAP")
    assert (gap.target_operator, gap.get_target_operator_display(), gap.threshold_symbol) == ("gt", ">", ">")
    assert (gap.threshold_met(Decimal("0.01")), gap.threshold_met(Decimal(0))) == (True, False)
    assert tables.target_text(gap) == ">0个百分点"
    assert orientation_text(gap) == ">0个百分点"
    # The proportional scoring rule: met is full marks; at or below 0 nothing (no division by 0).
    assert threshold_ratio(gap, Decimal(3)) == 1 and threshold_ratio(gap, Decimal(0)) == 0
    assert threshold_ratio(gap, Decimal(-5)) == 0
    # ≥ and ≤ read as before.
    assert tables.target_text(Indicator.objects.get(county=None, code="CHRONIC_DOWN_GROWTH")) == "≥10%"


def test_the_definition_form_accepts_the_strict_operator(measures):
    from indicators.forms import IndicatorForm

    gap = Indicator.objects.get(county=None, code="REFERRAL_GROWTH_GAP")
    field = IndicatorForm(county=measures.yn).fields["target_operator"]
    assert ("gt", ">") in list(field.choices)
    assert gap.get_target_operator_display() == ">"


# The catalogue ------------------------------------------------------------------------------------

def test_the_new_indicators_are_ours_name_their_seed_item_and_stay_out_of_the_scheme(measures):
    found = {i.code: i for i in Indicator.objects.filter(county=None, code__in=NEW_INDICATORS)}
    assert set(found) == set(NEW_INDICATORS)
    for code, indicator in found.items():
        assert indicator.derived_definition and indicator.definition, code
        assert indicator.source.startswith(("湛江方案 1", "方案 四（三）")), code
    assert found["REFERRAL_GROWTH_GAP"].source == "湛江方案 10.3（下转增幅高于上转增幅）"
    assert found["OP_DISEASE_TYPES"].aggregation == Indicator.Aggregation.MEAN
    assert "平均值" in found["OP_DISEASE_TYPES"].definition
    assert found["REFERRALS"].levels == ["county", "alliance"] and found["CMI"].levels == []
    assert found["FUND_PRIMARY_RATE"].levels == ["county"]
    assert not SchemeItem.objects.filter(indicator__code__in=NEW_INDICATORS).exists()
    # A4_36 keeps 附件6's 60% (seed 000's 70% is a task item's target).
    assert Indicator.objects.get(county=None, code="A4_36").target_value == 60
    # The old indicators keep their order; the new ones follow.
    assert Indicator.objects.get(county=None, code="A4_39").order < found["REFERRALS"].order


def _codes(form: ReportForm, kind: str | None) -> list[str]:
    return [row.element.code for row in form_rows(form, kind)]


def test_the_rows_are_in_the_forms_of_the_kinds_that_file_them(measures):
    forms = measures.forms
    K = Institution.Kind
    hospital = _codes(forms["MONTHLY_OPS"], K.COUNTY_GENERAL_HOSPITAL)
    centre = _codes(forms["MONTHLY_OPS"], K.TOWNSHIP_HEALTH_CENTRE)
    assert hospital[-4:] == ["REFERRALS_DOWN", "CHRONIC_REFERRED_DOWN", "DRG_WEIGHT", "DRG_CASES"]
    assert "REFERRALS_UP" not in hospital
    assert centre[-1] == "REFERRALS_UP" and "REFERRALS_DOWN" not in centre and "DRG_CASES" not in centre
    township = _codes(forms["QUARTERLY_PH"], K.TOWNSHIP_HEALTH_CENTRE)
    community = _codes(forms["QUARTERLY_PH"], K.COMMUNITY_HEALTH_CENTRE)
    tcm = _codes(forms["QUARTERLY_PH"], K.TCM_HOSPITAL)
    assert township[-7:] == ["OP_DISEASE_TYPES", "IP_DISEASE_TYPES", "VILLAGE_CLINICS", "VILLAGE_CLINICS_STANDARD",
                             "CHRONIC_STD_MANAGED", "EHR_RECORDS", "EHR_OPENED"]
    assert "VILLAGE_CLINICS" not in community and "OP_DISEASE_TYPES" in community
    assert not {"OP_DISEASE_TYPES", "EHR_OPENED", "CHRONIC_STD_MANAGED"} & set(tcm)
    assert _codes(forms["COUNTY_INSURANCE"], None)[-1] == "FUND_PRIMARY"
    sections = [row.section for row in form_rows(forms["QUARTERLY_PH"], K.TOWNSHIP_HEALTH_CENTRE)]
    assert sections[-3:] == ["医防融合"] * 3
    # Each section is one block (appended sections do not split an earlier one).
    blocks = [s for n, s in enumerate(sections) if n == 0 or sections[n - 1] != s]
    assert len(blocks) == len(set(blocks))


def test_rules_keep_the_parts_within_their_wholes(measures):
    rules = {r.code: (r.left, r.operator, r.right) for r in ValidationRule.objects.filter(county=None)}
    assert rules["R_VILLAGE_STANDARD"] == ("VILLAGE_CLINICS_STANDARD", "le", "VILLAGE_CLINICS")
    assert rules["R_CHRONIC_DOWN"] == ("CHRONIC_REFERRED_DOWN", "le", "REFERRALS_DOWN")
    from indicators.validation import run_checks

    w = measures
    filing = file_values(w.forms["QUARTERLY_PH"], w.centre, Period.parse("2026Q1"),
                         dict(VILLAGE_CLINICS=5, VILLAGE_CLINICS_STANDARD=6))
    elements = {e.code: e for e in DataElement.objects.filter(county=None)}
    findings = run_checks(filing, {"VILLAGE_CLINICS": Decimal(5), "VILLAGE_CLINICS_STANDARD": Decimal(6)}, elements,
                          with_history=False)
    assert [(f.code, f.message) for f in findings] == [("R_VILLAGE_STANDARD", "规范化村卫生室数不能大于村卫生室数")]


# Migration 0007 -----------------------------------------------------------------------------------

def _install_measures():
    from importlib import import_module

    return import_module("indicators.migrations.0007_seed_measures").install_measures(django_apps)


def test_migration_adds_the_measures_to_an_installed_catalogue_and_forms(measures):
    from importlib import import_module

    migration = import_module("indicators.migrations.0007_seed_measures")
    w = measures
    # A database installed before issue 18: no new rows, elements, rules or indicators.
    FormElement.objects.filter(element__code__in=migration.ELEMENT_CODES).delete()
    from indicators.models import DataValue, ValueAudit
    ValueAudit.objects.filter(element__code__in=migration.ELEMENT_CODES).delete()
    DataValue.objects.filter(element__code__in=migration.ELEMENT_CODES).delete()
    Indicator.objects.filter(code__in=migration.INDICATOR_CODES).delete()
    ValidationRule.objects.filter(code__in=migration.RULE_CODES).delete()
    DataElement.objects.filter(code__in=migration.ELEMENT_CODES).delete()
    # A county changed a shipped row's section; the migration leaves it as it is.
    FormElement.objects.filter(form=w.forms["MONTHLY_OPS"], element__code="GPS").update(section="人员情况")
    versions = dict(ReportForm.objects.values_list("pk", "rows_version"))

    written = _install_measures()
    # 13 elements, 5 rules, 12 indicators; 5 + 7 + 1 rows in each of the two counties' forms.
    assert written == {"elements": 13, "rules": 5, "indicators": 12, "rows": 26}
    for county in (w.yn, w.wy):
        forms = {f.code: f for f in ReportForm.objects.filter(county=county)}
        installed = {code: list(FormElement.objects.filter(form=forms[code]).order_by("order", "pk")
                                .values_list("element__code", "order", "section", "institution_kinds"))
                     for code in ("MONTHLY_OPS", "QUARTERLY_PH", "COUNTY_INSURANCE")}
        for code, rows in installed.items():
            # The same rows with the same order numbers as install_forms gives them.
            spec = next(r for c, _n, _p, _l, _k, r in catalog.FORMS if c == code)
            assert [(e, o) for e, o, _s, _k in rows] == [(e, n) for n, (_s, e, _k) in enumerate(spec, start=1)]
        up = next(row for row in installed["MONTHLY_OPS"] if row[0] == "REFERRALS_UP")
        assert up[2:] == ("双向转诊", ["central_hc", "township_hc", "community_hc"])
        moved = [f.pk for f in forms.values() if f.code in ("MONTHLY_OPS", "QUARTERLY_PH", "COUNTY_INSURANCE")]
        assert all(ReportForm.objects.get(pk=pk).rows_version > versions[pk] for pk in moved)
    assert FormElement.objects.get(form=w.forms["MONTHLY_OPS"], element__code="GPS").section == "人员情况"
    gap = Indicator.objects.get(county=None, code="REFERRAL_GROWTH_GAP")
    assert (gap.target_operator, gap.target_value, gap.order) == ("gt", 0, 1 + next(
        n for n, spec in enumerate(catalog.INDICATORS) if spec["code"] == "REFERRAL_GROWTH_GAP"))
    # Idempotent: a second run writes nothing, and install_catalog / install_forms agree with it.
    assert _install_measures() == {"elements": 0, "rules": 0, "indicators": 0, "rows": 0}
    before = FormElement.objects.count()
    catalog.install_catalog()
    catalog.install_forms(w.yn)
    assert FormElement.objects.count() == before


def test_migration_does_nothing_without_a_catalogue(db):
    assert _install_measures() == {"elements": 0, "rules": 0, "indicators": 0, "rows": 0}
    assert not DataElement.objects.exists() and not Indicator.objects.exists()


# Pages and API ------------------------------------------------------------------------------------

def test_indicator_table_detail_and_api_show_the_new_measures(measures):
    w = measures
    client = client_for(w.bureau)
    table = client.get(reverse("indicators:indicator_table"), {"county": w.yn.pk, "period": "2026Q3"})
    assert table.status_code == 200
    html = table.content.decode()
    for name in ("医共体内双向转诊人次", "下转增幅与上转增幅之差", "牵头医院病例组合指数（CMI值）", "村卫生室规范化率",
                 "电子健康档案向居民开放率", "医保基金县域内基层机构支出率"):
        assert name in html, name
    assert "&gt;0个百分点" in html
    gap = Indicator.objects.get(county=None, code="REFERRAL_GROWTH_GAP")
    detail = client.get(reverse("indicators:indicator_detail", kwargs={"indicator_pk": gap.pk}),
                        {"alliance": w.alliance_a.pk, "period": "2026Q3"})
    assert detail.status_code == 200
    assert rounded(detail.context["row"].value) == Decimal("39.1667")
    county_detail = client.get(reverse("indicators:indicator_detail", kwargs={"indicator_pk": gap.pk}),
                               {"county": w.yn.pk, "period": "2026Q3"})
    charts = county_detail.context["charts"]
    assert charts["target"] == 0.0
    # The alliances compared: 第一医共体 39.17, 第三医共体 −33.33.
    assert charts["units"]["values"] == [39.17, -33.33]
    # The outsider from 万源市: 404 on 郁南县's scope, like a missing one.
    outsider = client_for(w.outsider)
    assert outsider.get(reverse("indicators:indicator_detail", kwargs={"indicator_pk": gap.pk}),
                        {"alliance": w.alliance_a.pk, "period": "2026Q3"}).status_code == 404

    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(w.bureau)
    response = api.get("/api/indicator-values/", {"period": "2026Q3", "level": "alliance",
                                                   "indicators": "REFERRAL_GROWTH_GAP,CMI"})
    assert response.status_code == 200
    got = {(r["indicator"], r["unit_name"]): r for r in response.json()["results"]}
    first = got[("REFERRAL_GROWTH_GAP", "第一医共体")]
    assert (first["value"], first["target_operator"], first["target"], first["met"]) == ("39.17", "gt", "0", True)
    assert got[("REFERRAL_GROWTH_GAP", "第三医共体")]["met"] is False
    assert (got[("CMI", "第一医共体")]["numerator"], got[("CMI", "第一医共体")]["denominator"],
            got[("CMI", "第一医共体")]["value"]) == ("320", "300", "1.067")
    listed = api.get("/api/indicators/", {"page_size": 200})
    assert listed.status_code == 200
    body = listed.content.decode()
    assert "REFERRAL_GROWTH_GAP" in body and "VILLAGE_CLINIC_STANDARD_RATE" in body


# The demo ------------------------------------------------------------------------------------------

def test_demo_history_shows_both_sides_of_the_referral_target(db):
    with time_machine.travel(datetime(2026, 11, 23, 9, tzinfo=SH), tick=False):
        call_command("load_demo", quiet=True, without_ledgers=True)
    yunan = Region.objects.get(code="445322")
    indicators = list(Indicator.objects.filter(county=None, code__in=NEW_INDICATORS))
    engine = Engine(indicators, [yunan.pk])
    by_alliance = {}
    for (_pk, unit), r in engine.compute(Q3, "alliance").items():
        by_alliance.setdefault(unit, {})[r.indicator.code] = r
    gaps = {Alliance.objects.get(pk=unit).name: results["REFERRAL_GROWTH_GAP"].met
            for unit, results in by_alliance.items()}
    # 第一 and 第三 send more patients down than before faster than up; 第二 the other way round.
    assert gaps == {"郁南县第一医共体": True, "郁南县第二医共体": False, "郁南县第三医共体": True}
    # Every new measure has a value for the county this quarter and, where it has one, last year's.
    county = {r.indicator.code: r for r in engine.compute(Q3, "county").values()}
    assert all(county[code].value is not None for code in NEW_INDICATORS), [
        code for code in NEW_INDICATORS if county[code].value is None]
    assert county["REFERRALS"].baseline is not None and county["CMI"].baseline is not None
    last_year = {r.indicator.code: r for r in engine.compute(LAST_Q3, "county").values()}
    assert last_year["REFERRAL_GROWTH_GAP"].value is not None  # 2024Q3 is in the demo too


def test_detail_and_table_queries_do_not_grow_with_institutions(measures):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    w = measures
    client = client_for(w.bureau)
    gap = Indicator.objects.get(county=None, code="REFERRAL_GROWTH_GAP")
    urls = [
        (reverse("indicators:indicator_detail", kwargs={"indicator_pk": gap.pk}), {"county": w.yn.pk, "period": "2026Q3"}),
        (reverse("indicators:indicator_detail", kwargs={"indicator_pk": gap.pk}),
         {"alliance": w.alliance_a.pk, "period": "2026Q3"}),
        (reverse("indicators:indicator_table"), {"alliance": w.alliance_b.pk, "period": "2026Q3"}),
    ]

    def counts() -> list[int]:
        found = []
        for url, params in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url, params).status_code == 200
            found.append(len(ctx))
        return found

    before = counts()
    for n in range(10):
        centre = InstitutionFactory(county=w.yn, name=f"新增镇卫生院{n}", kind=Institution.Kind.TOWNSHIP_HEALTH_CENTRE)
        MembershipFactory(institution=centre, alliance=w.alliance_b if n % 2 else w.alliance_a,
                          valid_from=date(2020, 1, 1))
        for quarter in (LAST_Q3, Q3):
            for month in months(quarter):
                file_values(w.forms["MONTHLY_OPS"], centre, month, dict(REFERRALS_UP=5 + n))
    assert counts() == before, before
