"""The quarterly evaluation on a county of three alliances whose scores are worked out by hand below:
each scoring rule, ranks with ties, totals, member scores, history of runs and query counts.

The county (2026Q3, every month the same figures; the same quarter of 2025 where a baseline is needed):

=================  ==========  =====  =========  ========  ==========  ==========
institution        alliance    OP     bed days   surgery   beds used   signed
                               visits / discharg. L3/4     occ / open  / key pop
=================  ==========  =====  =========  ========  ==========  ==========
县人民医院 (lead)   第一医共体    600    800/100    40/100
平台镇卫生院         第一医共体    300                        600/1000    600/1000
桂圩镇卫生院         第一医共体    100                        600/1000
县中医院 (lead)     第三医共体    500    350/50     20/50
通门镇卫生院         第三医共体    500                        500/1000    450/1000
县妇幼保健院 (lead) 第二医共体    300               3/10
东坝镇卫生院         第二医共体    700                        300/1000
=================  ==========  =====  =========  ========  ==========  ==========

2025Q3: 县人民医院 600 visits, 900/100 bed days; 平台 300, 桂圩 100 visits; 县中医院 600 visits, 400/50
bed days; 通门 400 visits; signed 平台 500/1000, 通门 400/1000.

The scheme (weights 5, 4, 4, 6, 5, 4, 5):

1. 基层就诊率 A4_32 (≥65% or +2 points), proportional;  2. 平均住院日 A4_24 (falls), met;
3. 平均住院日 ≤ 7 天 (a county indicator), proportional;  4. 三四级手术比例 A4_25, rank;
5. 签约率 A4_36 (≥60% and rising), proportional;  6. 基层床位使用率 A4_33, rank;
7. 县域内住院率 A4_18 (county only), met — applies to no alliance and no institution.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alliances.models import AllianceMembership, Institution
from core.periods import Period, PeriodKind
from indicators.catalog import install_catalog, install_forms
from indicators.engine import Result
from indicators.models import EvaluationRun, EvaluationScheme, EvaluationScore, Indicator, SchemeItem
from indicators.services.evaluation import (
    competition_ranks,
    evaluation_run,
    evaluation_table,
    latest_run,
    rank_score,
    reaches_institution,
    score_item,
    score_ratio,
    threshold_ratio,
)
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory
from tests.test_indicators_engine import file_values

SH = ZoneInfo("Asia/Shanghai")
Q3 = Period.parse("2026Q3")
LAST_Q3 = Period.parse("2025Q3")
K = Institution.Kind
LEAD = AllianceMembership.Role.LEAD
D = Decimal

# (order, indicator code, weight, rule)
SCHEME = [
    ("A4_32", 5, SchemeItem.Rule.PROPORTIONAL),
    ("A4_24", 4, SchemeItem.Rule.MET),
    ("T_STAY_LE", 4, SchemeItem.Rule.PROPORTIONAL),
    ("A4_25", 6, SchemeItem.Rule.RANK),
    ("A4_36", 5, SchemeItem.Rule.PROPORTIONAL),
    ("A4_33", 4, SchemeItem.Rule.RANK),
    ("A4_18", 5, SchemeItem.Rule.MET),
]


def file_quarter(w, institution, period: Period, values: dict) -> None:
    for month in period.subperiods(PeriodKind.MONTH):
        file_values(w.forms["MONTHLY_OPS"], institution, month, values)


def build_county(world):
    """The county of the module docstring, with the scheme ``w.scheme``."""
    w = world
    install_catalog()
    w.forms = {form.code: form for form in install_forms(w.yn)}
    w.mch = InstitutionFactory(county=w.yn, name="县妇幼保健院", kind=K.MCH_HOSPITAL)
    w.centre_c = InstitutionFactory(county=w.yn, name="东坝镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    w.alliance_c = AllianceFactory(county=w.yn, name="第二医共体")
    MembershipFactory(institution=w.mch, alliance=w.alliance_c, role=LEAD, valid_from=date(2020, 1, 1))
    MembershipFactory(institution=w.centre_c, alliance=w.alliance_c, valid_from=date(2020, 1, 1))
    # Joins after the quarter: not evaluated for it.
    w.late = InstitutionFactory(county=w.yn, name="宝珠镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    MembershipFactory(institution=w.late, alliance=w.alliance_a, valid_from=date(2026, 10, 1))

    file_quarter(w, w.hospital, Q3, dict(OP_VISITS=600, DISCHARGES=100, DISCHARGE_BED_DAYS=800, SURGERIES=100,
                                         SURGERIES_L34=40))
    file_quarter(w, w.centre, Q3, dict(OP_VISITS=300, OCCUPIED_BED_DAYS=600, OPEN_BED_DAYS=1000))
    file_quarter(w, w.centre2, Q3, dict(OP_VISITS=100, OCCUPIED_BED_DAYS=600, OPEN_BED_DAYS=1000))
    file_quarter(w, w.tcm, Q3, dict(OP_VISITS=500, DISCHARGES=50, DISCHARGE_BED_DAYS=350, SURGERIES=50,
                                    SURGERIES_L34=20))
    file_quarter(w, w.centre_b, Q3, dict(OP_VISITS=500, OCCUPIED_BED_DAYS=500, OPEN_BED_DAYS=1000))
    file_quarter(w, w.mch, Q3, dict(OP_VISITS=300, SURGERIES=10, SURGERIES_L34=3))
    file_quarter(w, w.centre_c, Q3, dict(OP_VISITS=700, OCCUPIED_BED_DAYS=300, OPEN_BED_DAYS=1000))

    file_quarter(w, w.hospital, LAST_Q3, dict(OP_VISITS=600, DISCHARGES=100, DISCHARGE_BED_DAYS=900))
    file_quarter(w, w.centre, LAST_Q3, dict(OP_VISITS=300))
    file_quarter(w, w.centre2, LAST_Q3, dict(OP_VISITS=100))
    file_quarter(w, w.tcm, LAST_Q3, dict(OP_VISITS=600, DISCHARGES=50, DISCHARGE_BED_DAYS=400))
    file_quarter(w, w.centre_b, LAST_Q3, dict(OP_VISITS=400))

    quarterly = w.forms["QUARTERLY_PH"]
    file_values(quarterly, w.centre, Q3, dict(KEY_POP=1000, KEY_POP_SIGNED=600))
    file_values(quarterly, w.centre, LAST_Q3, dict(KEY_POP=1000, KEY_POP_SIGNED=500))
    file_values(quarterly, w.centre_b, Q3, dict(KEY_POP=1000, KEY_POP_SIGNED=450))
    file_values(quarterly, w.centre_b, LAST_Q3, dict(KEY_POP=1000, KEY_POP_SIGNED=400))

    Indicator.objects.create(
        county=w.yn, code="T_STAY_LE", name="牵头医院平均住院日（目标值）", category="落实分级诊疗制度",
        numerator="DISCHARGE_BED_DAYS@lead", denominator="DISCHARGES@lead", factor=1, unit_label="天", decimals=1,
        target_kind=Indicator.TargetKind.THRESHOLD, target_operator=Indicator.Operator.LE, target_value=7)
    w.scheme = EvaluationScheme.objects.create(county=w.yn, code="TEST_Q", name="郁南县医共体季度评价（测试）",
                                               period_kind="quarter")
    indicators = {i.code: i for i in Indicator.objects.filter(code__in=[c for c, _w, _r in SCHEME])}
    w.items = {}
    for order, (code, weight, rule) in enumerate(SCHEME, start=1):
        w.items[code] = SchemeItem.objects.create(scheme=w.scheme, indicator=indicators[code], weight=weight,
                                                  rule=rule, order=order)
    return w


@pytest.fixture
def county(world):
    return build_county(world)


def scores_of(run: EvaluationRun, unit) -> dict[str | None, EvaluationScore]:
    """``{indicator code or None (total): score row}`` of an alliance or an institution."""
    field = "institution" if isinstance(unit, Institution) else "alliance"
    qs = EvaluationScore.objects.filter(run=run, **{field: unit}).select_related("item__indicator")
    if field == "alliance":
        qs = qs.filter(institution__isnull=True)
    return {(row.item.indicator.code if row.item_id else None): row for row in qs}


def summary(run, unit) -> dict:
    return {code: (row.score, row.rank) for code, row in scores_of(run, unit).items()}


# The run on the county ---------------------------------------------------------------------------

def test_alliance_scores_follow_each_rule(county):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau)
    a, b, c = (scores_of(run, x) for x in (w.alliance_a, w.alliance_b, w.alliance_c))

    # 1. 基层就诊率, proportional against ≥65%: 第一 (300+100)/1000 = 40%, flat on last year (not +2) →
    # 5 × 40/65 = 3.08; 第三 50%, up from 40% → met by rising, full; 第二 70% ≥ 65% → full.
    assert (a["A4_32"].value, a["A4_32"].baseline, a["A4_32"].met) == (D(40), D(40), False)
    assert (a["A4_32"].score, b["A4_32"].score, c["A4_32"].score) == (D("3.08"), D(5), D(5))
    assert b["A4_32"].met is True and c["A4_32"].met is True and c["A4_32"].baseline is None
    # 2. 平均住院日 should fall, met rule: 第一 8 (9 last year) → 4; 第三 7 (8) → 4; 第二 nothing filed → 0,
    # flagged (no judgement).
    assert (a["A4_24"].value, a["A4_24"].baseline, a["A4_24"].score) == (D(8), D(9), D(4))
    assert (b["A4_24"].value, b["A4_24"].score) == (D(7), D(4))
    assert (c["A4_24"].value, c["A4_24"].met, c["A4_24"].score, c["A4_24"].rank) == (None, None, D(0), None)
    # 3. ≤ 7 天, proportional: 第一 8 → 4 × 7/8 = 3.50; 第三 7 → 4; 第二 no value → 0.
    assert (a["T_STAY_LE"].score, b["T_STAY_LE"].score, c["T_STAY_LE"].score) == (D("3.5"), D(4), D(0))
    assert (a["T_STAY_LE"].rank, b["T_STAY_LE"].rank) == (2, 1)
    # 4. 三四级手术比例, rank: 40%, 40%, 30% → ranks 1, 1, 3 of 3 → 6, 6, 6 × 1/3 = 2.
    assert (a["A4_25"].value, b["A4_25"].value, c["A4_25"].value) == (D(40), D(40), D(30))
    assert summary(run, w.alliance_a)["A4_25"] == (D(6), 1)
    assert summary(run, w.alliance_b)["A4_25"] == (D(6), 1)
    assert summary(run, w.alliance_c)["A4_25"] == (D(2), 3)
    # 5. 签约率 ≥60% and rising, proportional: 第一 60% up from 50% → 5; 第三 45% up from 40%: the rise
    # is there, 5 × 45/60 = 3.75; 第二 nothing → 0.
    assert (a["A4_36"].value, a["A4_36"].met, a["A4_36"].score) == (D(60), True, D(5))
    assert (b["A4_36"].value, b["A4_36"].met, b["A4_36"].score) == (D(45), False, D("3.75"))
    assert (c["A4_36"].score, c["A4_36"].met) == (D(0), None)
    # 6. 基层床位使用率, rank: 60%, 50%, 30% → 4, 4 × 2/3 = 2.67, 4 × 1/3 = 1.33.
    assert [summary(run, x)["A4_33"] for x in (w.alliance_a, w.alliance_b, w.alliance_c)] == [
        (D(4), 1), (D("2.67"), 2), (D("1.33"), 3)]
    # 7. The county-only indicator gives no row at all.
    assert "A4_18" not in a and "A4_18" not in b and "A4_18" not in c


def test_alliance_totals_and_ranks(county):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3)
    # 第一 3.08 + 4 + 3.5 + 6 + 5 + 4 = 25.58; 第三 5 + 4 + 4 + 6 + 3.75 + 2.67 = 25.42;
    # 第二 5 + 0 + 0 + 2 + 0 + 1.33 = 8.33.
    assert summary(run, w.alliance_a)[None] == (D("25.58"), 1)
    assert summary(run, w.alliance_b)[None] == (D("25.42"), 2)
    assert summary(run, w.alliance_c)[None] == (D("8.33"), 3)
    total = EvaluationScore.objects.get(run=run, alliance=w.alliance_a, institution=None, item=None)
    assert (total.value, total.baseline, total.met) == (None, None, None)


def test_member_scores_apply_only_the_items_that_reach_the_member(county):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3)
    hospital, centre = scores_of(run, w.hospital), scores_of(run, w.centre)
    # Lead-hospital indicators (@lead) are not scored for a township centre; @primary ones not for a
    # hospital; alliance- and county-level ones (A4_32, A4_18) for nobody.
    assert set(hospital) == {"A4_24", "T_STAY_LE", "A4_25", "A4_36", None}
    assert set(centre) == {"A4_36", "A4_33", None}
    # A member's rows carry its alliance at the end of the quarter.
    assert {row.alliance_id for row in centre.values()} == {w.alliance_a.pk}

    # Leads: A4_24 4 / 4 / 0 (no data); ≤7天 3.5 / 4 / 0; A4_25 ranked among the three leads 6 / 6 / 2;
    # 签约率 none filed by hospitals → 0. Full marks 4 + 4 + 6 + 5 = 19.
    assert {code: row.score for code, row in hospital.items()} == {
        "A4_24": D(4), "T_STAY_LE": D("3.5"), "A4_25": D(6), "A4_36": D(0), None: D("13.5")}
    assert summary(run, w.tcm)[None][0] == D(14)
    assert {code: row.score for code, row in scores_of(run, w.mch).items()} == {
        "A4_24": D(0), "T_STAY_LE": D(0), "A4_25": D(2), "A4_36": D(0), None: D(2)}
    # Centres: 签约率 平台 60% rising → 5, 通门 3.75, others nothing → 0; 床位使用率 ranked among the four
    # centres: 60%, 60% (tie), 50%, 30% → ranks 1, 1, 3, 4 → 4, 4, 4 × 2/4 = 2, 4 × 1/4 = 1.
    assert summary(run, w.centre)["A4_33"] == (D(4), 1)
    assert summary(run, w.centre2)["A4_33"] == (D(4), 1)
    assert summary(run, w.centre_b)["A4_33"] == (D(2), 3)
    assert summary(run, w.centre_c)["A4_33"] == (D(1), 4)
    # 签约率 among all seven members: 平台 5 (rank 1), 通门 3.75 (rank 2), no value → no rank.
    assert summary(run, w.centre)["A4_36"] == (D(5), 1)
    assert summary(run, w.centre_b)["A4_36"] == (D("3.75"), 2)
    assert summary(run, w.hospital)["A4_36"] == (D(0), None)
    # Totals ranked by their share of the full marks: 平台 9/9, 中医院 14/19, 人民医院 13.5/19,
    # 通门 5.75/9, 桂圩 4/9, 东坝 1/9, 妇幼 2/19.
    expected = [(w.centre, "9", 1), (w.tcm, "14", 2), (w.hospital, "13.5", 3), (w.centre_b, "5.75", 4),
                (w.centre2, "4", 5), (w.centre_c, "1", 6), (w.mch, "2", 7)]
    for institution, total, rank in expected:
        assert summary(run, institution)[None] == (D(total), rank), institution.name


def test_members_are_those_in_force_at_the_end_of_the_quarter(county):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3)
    institutions = set(EvaluationScore.objects.filter(run=run, institution__isnull=False)
                       .values_list("institution_id", flat=True))
    assert institutions == {w.hospital.pk, w.centre.pk, w.centre2.pk, w.tcm.pk, w.centre_b.pk, w.mch.pk,
                            w.centre_c.pk}
    # Neither the centre that joins in October, nor the village clinic, nor 万源市.
    assert w.late.pk not in institutions and w.clinic.pk not in institutions
    alliances = set(EvaluationScore.objects.filter(run=run).values_list("alliance_id", flat=True))
    assert alliances == {w.alliance_a.pk, w.alliance_b.pk, w.alliance_c.pk}


def test_every_row_is_one_item_or_a_total_per_unit(county):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3)
    # Alliances: 3 × (6 items + total) = 21; leads 3 × 5, centres 4 × 3 → 27.
    assert EvaluationScore.objects.filter(run=run, institution__isnull=True).count() == 21
    assert EvaluationScore.objects.filter(run=run, institution__isnull=False).count() == 27


def test_query_count_does_not_grow_with_alliances_and_members(county, django_assert_num_queries):
    w = county
    # Items, memberships, elements, the institutions with their memberships (the engine's), the
    # quarter and the same quarter last year (one grouped read each), savepoint, run, scores (one
    # bulk insert), release.
    with django_assert_num_queries(10):
        evaluation_run(scheme=w.scheme, county=w.yn, period=Q3)
    second_hospital = InstitutionFactory(county=w.yn, name="县第二人民医院", kind=K.COUNTY_GENERAL_HOSPITAL)
    fourth = AllianceFactory(county=w.yn, name="第四医共体")
    MembershipFactory(institution=second_hospital, alliance=fourth, role=LEAD)
    for n in range(3):
        centre = InstitutionFactory(county=w.yn, name=f"新增镇卫生院{n}")
        MembershipFactory(institution=centre, alliance=fourth)
        file_quarter(w, centre, Q3, dict(OP_VISITS=100, OCCUPIED_BED_DAYS=100, OPEN_BED_DAYS=1000))
    file_quarter(w, second_hospital, Q3, dict(OP_VISITS=500, SURGERIES=10, SURGERIES_L34=5))
    with django_assert_num_queries(10):
        run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3)
    # The fourth alliance: (3 × 100) / (300 + 500) = 37.5% visits in primary care.
    assert scores_of(run, fourth)["A4_32"].value == D("37.5")
    assert EvaluationScore.objects.filter(run=run, institution__isnull=True, item=None).count() == 4


def test_rerunning_keeps_history_and_latest_run_picks_the_newest(county):
    w = county
    with time_machine.travel(datetime(2026, 10, 5, 9, 0, tzinfo=SH), tick=False):
        first = evaluation_run(scheme=w.scheme, county=w.yn, period="2026Q3", user=w.bureau)
    # A late filing changes 通门's September visits; the second run sees it, the first is kept.
    file_values(w.forms["MONTHLY_OPS"], w.centre_b, Period.parse("2026-09"), dict(OP_VISITS=2000))
    with time_machine.travel(datetime(2026, 10, 6, 9, 0, tzinfo=SH), tick=False):
        second = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau_admin)
    assert EvaluationRun.objects.filter(scheme=w.scheme, county=w.yn, period="2026Q3").count() == 2
    assert latest_run(scheme=w.scheme, county=w.yn, period=Q3) == second
    assert latest_run(scheme=w.scheme, county=w.yn, period="2026Q2") is None
    assert (first.created_by, second.created_by) == (w.bureau, w.bureau_admin)
    assert first.created_at == datetime(2026, 10, 5, 9, 0, tzinfo=SH)
    # 第三: (3 × 500 + 1500 more) / (3 × 1000 + 1500) = 3000 / 4500 = 66.67% now.
    assert scores_of(first, w.alliance_b)["A4_32"].value == D(50)
    assert scores_of(second, w.alliance_b)["A4_32"].value.quantize(D("0.01")) == D("66.67")


def test_run_refuses_a_wrong_period_kind_a_foreign_scheme_and_a_non_county(county):
    w = county
    with pytest.raises(ValidationError, match="2026年10月"):
        evaluation_run(scheme=w.scheme, county=w.yn, period=Period.parse("2026-10"))
    with pytest.raises(ValidationError):
        evaluation_run(scheme=w.scheme, county=w.wy, period=Q3)
    with pytest.raises(ValidationError):
        evaluation_run(scheme=w.scheme, county=w.yf, period=Q3)
    with pytest.raises(ValidationError, match="2026Q5"):
        evaluation_run(scheme=w.scheme, county=w.yn, period="2026Q5")
    assert not EvaluationRun.objects.exists()


def test_the_shipped_annex6_scheme_runs_with_every_indicator(county):
    """The catalogue's 24-indicator scheme: one more query for the indicator that averages unit
    values; the scores go in by one INSERT on PostgreSQL, in batches of 111 rows on SQLite (Django
    keeps to SQLite's 999 parameters)."""
    w = county
    scheme = EvaluationScheme.objects.get(code="ANNEX6_QUARTERLY", county=None)
    with CaptureQueriesContext(connection) as ctx:
        run = evaluation_run(scheme=scheme, county=w.yn, period=Q3)
    rows = EvaluationScore.objects.filter(run=run).count()
    fields = [f for f in EvaluationScore._meta.concrete_fields if not f.primary_key]
    batches = math.ceil(rows / connection.ops.bulk_batch_size(fields, [None] * rows))
    assert len(ctx.captured_queries) == 9 + batches
    assert batches == (1 if connection.vendor == "postgresql" else 2)
    table = evaluation_table(run)
    assert len(table.items) == 24 and table.full_marks == D(100)
    # The county-only 医保基金县域内支出率 (A4_19, weight 4) does not apply to alliances: 100 − 4 = 96.
    assert {column.full_marks for column in table.alliances} == {D(96)}
    a = scores_of(run, w.alliance_a)
    assert (a["A4_25"].value, a["A4_25"].score) == (D(40), D(0))  # no baseline: not judged
    assert a["A4_33"].value == D(60)


# Reading a run -------------------------------------------------------------------------------------

def test_table_reads_a_run_in_three_queries(county, django_assert_num_queries):
    w = county
    run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3)
    with django_assert_num_queries(3):
        table = evaluation_table(run)
    assert [item.indicator.code for item in table.items] == [code for code, _w, _r in SCHEME]
    assert table.full_marks == D(33) and table.period == Q3
    assert [c.unit.name for c in table.alliances] == ["第一医共体", "第二医共体", "第三医共体"]
    first = table.alliances[0]
    assert (first.total, first.full_marks, first.rank, first.rate) == (D("25.58"), D(28), 1, D("91.36"))
    cell = first.cell(w.items["A4_32"])
    assert (cell.value, cell.baseline, cell.met, cell.score, cell.rank, cell.flagged) == (
        D(40), D(40), False, D("3.08"), 3, False)
    assert first.cell(w.items["A4_18"]) is None  # does not apply
    assert table.alliances[1].cell(w.items["A4_24"]).flagged is True  # 第二医共体
    # Members under their alliance in the alliances' order, the lead first.
    assert [(m.alliance.name, m.unit.name, m.is_lead) for m in table.members] == [
        ("第一医共体", "县人民医院", True), ("第一医共体", "平台镇卫生院", False), ("第一医共体", "桂圩镇卫生院", False),
        ("第二医共体", "县妇幼保健院", True), ("第二医共体", "东坝镇卫生院", False),
        ("第三医共体", "县中医院", True), ("第三医共体", "通门镇卫生院", False),
    ]
    hospital = table.members[0]
    assert (hospital.total, hospital.full_marks, hospital.rate, hospital.rank) == (D("13.5"), D(19), D("71.05"), 3)
    assert [m.unit.name for m in table.members_of(w.alliance_b)] == ["县中医院", "通门镇卫生院"]


# The rules on their own (no database) ----------------------------------------------------------------

def indicator(**fields) -> Indicator:
    defaults = dict(pk=1, code="X", name="x", numerator="OP_VISITS", factor=1)
    defaults.update(fields)
    return Indicator(**defaults)


def result(ind: Indicator, value, baseline=None, unit=1) -> Result:
    from indicators.engine import _judge

    r = Result(ind, "alliance", unit, Q3, value=None if value is None else D(value),
               baseline=None if baseline is None else D(baseline))
    _judge(r)
    return r


GE65 = dict(target_kind="threshold", target_operator="ge", target_value=D(65))
LE7 = dict(target_kind="threshold", target_operator="le", target_value=D(7))


def test_competition_ranks_share_the_best_place():
    assert competition_ranks({"a": D(3), "b": D(5), "c": D(5), "d": D(1)}) == {"b": 1, "c": 1, "a": 3, "d": 4}
    assert competition_ranks({"a": D(3), "b": D(5), "c": D(3)}, descending=False) == {"a": 1, "c": 1, "b": 3}
    assert competition_ranks({}) == {}


def test_rank_score_is_linear_from_full_weight_to_weight_over_n():
    assert [rank_score(D(6), r, 4) for r in (1, 2, 3, 4)] == [D(6), D("4.5"), D(3), D("1.5")]
    assert rank_score(D(5), 1, 1) == D(5)


def test_threshold_ratio_for_at_least_and_at_most_targets():
    ge, le = indicator(**GE65), indicator(**LE7)
    assert threshold_ratio(ge, D(13)) == D("0.2") and threshold_ratio(ge, D(70)) == 1
    assert threshold_ratio(ge, D(0)) == 0 and threshold_ratio(ge, D(-5)) == 0
    assert threshold_ratio(le, D(14)) == D("0.5") and threshold_ratio(le, D(6)) == 1 and threshold_ratio(le, D(0)) == 1
    assert threshold_ratio(indicator(target_kind="threshold", target_operator="le", target_value=D(0)), D(3)) == 0


def test_score_ratio_by_target_kind():
    proportional, met = SchemeItem.Rule.PROPORTIONAL, SchemeItem.Rule.MET
    up = dict(target_kind="direction", direction="up")
    # Direction only: all or nothing under both rules.
    assert score_ratio(proportional, result(indicator(**up), 10, 9)) == 1
    assert score_ratio(proportional, result(indicator(**up), 9, 10)) == 0
    # "≥65 or +2 points": met by rising, otherwise the share of 65.
    anyone = indicator(target_kind="any", target_operator="ge", target_value=D(65), direction="up",
                       direction_points=D(2))
    assert score_ratio(proportional, result(anyone, 52, 49)) == 1
    assert score_ratio(proportional, result(anyone, 52, 51)) == D("0.8")
    assert score_ratio(met, result(anyone, 52, 51)) == 0
    # "≥60 and rising": the share only once it rises; met needs both.
    both = indicator(target_kind="all", target_operator="ge", target_value=D(60), direction="up")
    assert score_ratio(proportional, result(both, 30, 20)) == D("0.5")
    assert score_ratio(proportional, result(both, 30, 40)) == 0
    assert score_ratio(proportional, result(both, 30)) == 0  # no baseline: not judged
    assert score_ratio(proportional, result(both, 70, 80)) == 0  # above 60 but falling
    assert score_ratio(proportional, result(both, 70, 60)) == 1
    # No value, no target.
    assert score_ratio(proportional, result(indicator(**GE65), None)) == 0
    assert score_ratio(proportional, result(indicator(), 50)) == 0


def test_rank_rule_puts_the_lowest_first_for_an_at_most_target():
    item = SchemeItem(pk=9, indicator=indicator(**LE7), weight=D(4), rule=SchemeItem.Rule.RANK)
    rows = score_item(item, [result(item.indicator, v, unit=n) for n, v in enumerate(["9", "6", "7.5", None])])
    assert [(row.unit, row.score, row.rank) for row in rows] == [
        (0, D("1.33"), 3), (1, D(4), 1), (2, D("2.67"), 2), (3, D(0), None)]


def test_an_institution_is_reached_when_every_reference_can_count_it():
    lead_only = indicator(numerator="SURGERIES_L34@lead", denominator="SURGERIES@lead")
    assert reaches_institution(lead_only, K.COUNTY_GENERAL_HOSPITAL, LEAD)
    assert not reaches_institution(lead_only, K.TOWNSHIP_HEALTH_CENTRE, "member")
    mixed = indicator(numerator="OP_VISITS@primary", denominator="OP_VISITS")
    assert reaches_institution(mixed, K.TOWNSHIP_HEALTH_CENTRE, "member")
    assert not reaches_institution(mixed, K.TCM_HOSPITAL, LEAD)
    assert reaches_institution(indicator(numerator="KEY_POP_SIGNED", denominator="KEY_POP"), K.TCM_HOSPITAL, LEAD)
