"""Excel exports of indicators: the 季度评价指标表 of an evaluation run (the county of
``test_indicators_evaluation``, scores worked out there) and the indicator table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from openpyxl import load_workbook

from core.periods import Period
from indicators.exports import (
    evaluation_filename,
    evaluation_title,
    evaluation_xlsx,
    indicator_table_filename,
    indicator_table_xlsx,
    orientation_text,
    value_format,
)
from indicators.models import EvaluationRun, Indicator
from indicators.services.evaluation import evaluation_run, evaluation_table
from tests.test_indicators_evaluation import Q3, build_county

ON = date(2026, 10, 5)
TITLE = "郁南县紧密型县域医共体2026年第三季度评价指标表"


@pytest.fixture
def evaluated(world):
    w = build_county(world)
    w.run = evaluation_run(scheme=w.scheme, county=w.yn, period=Q3, user=w.bureau)
    return w


def workbook(data: bytes):
    return load_workbook(BytesIO(data))


def merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def row_of(ws, column: int, text: str) -> int:
    for row in range(1, ws.max_row + 1):
        if ws.cell(row=row, column=column).value == text:
            return row
    raise AssertionError(f"{text!r} not in column {column}")


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# The evaluation -----------------------------------------------------------------------------------

def test_evaluation_sheet_has_the_official_title_header_and_merges(evaluated):
    w = evaluated
    ws = workbook(evaluation_xlsx(w.run, on=ON))["评价指标表"]
    # 5 label columns + (value, score) for each of the three alliances = 11 columns (A..K).
    assert ws["A1"].value == TITLE and ws["A1"].font.bold
    assert ws["A2"].value == "填报单位：郁南县卫生健康局"
    assert ws["D2"].value == "导出日期：2026年10月5日"
    assert [ws.cell(row=3, column=c).value for c in range(1, 6)] == ["序号", "指标项目", "指标名称", "指标导向",
                                                                   "权重（分值）"]
    # Alliances in their natural order: 第一, 第二, 第三; value and score under each.
    assert [ws.cell(row=3, column=c).value for c in (6, 8, 10)] == ["第一医共体", "第二医共体", "第三医共体"]
    assert [ws.cell(row=4, column=c).value for c in range(6, 12)] == ["指标值", "得分"] * 3
    ranges = merged(ws)
    assert {"A1:K1", "A2:C2", "D2:K2", "A3:A4", "C3:C4", "E3:E4", "F3:G3", "H3:I3", "J3:K3"} <= ranges
    assert ws.freeze_panes == "F5"
    assert ws.print_title_rows == "$3:$4" and ws.page_setup.orientation == "landscape"
    assert ws["A3"].border.left.style == "thin"


def test_evaluation_sheet_values_and_scores_are_numbers(evaluated):
    w = evaluated
    ws = workbook(evaluation_xlsx(w.run, on=ON))["评价指标表"]
    # Row 5 is item 1, 基层就诊率 (≥65% or +2 points): 第一 40% scores 3.08.
    assert [ws.cell(row=5, column=c).value for c in range(1, 6)] == [
        1, "落实分级诊疗制度", "基层就诊率（基层门急诊人次占比）（%）", "≥65%或↑2个百分点", 5]
    value, score = ws["F5"], ws["G5"]
    assert is_number(value.value) and value.value == 40 and value.number_format == "#,##0.00"
    assert is_number(score.value) and score.value == pytest.approx(3.08) and score.number_format == "0.00"
    assert value.fill.fgColor.rgb.endswith("FFC7CE")  # not met
    # Item 3, the county's ≤ 7 天 (one decimal): 第一 8.0 → 3.5.
    assert ws["D7"].value == "≤7天" and ws["F7"].value == 8 and ws["F7"].number_format == "#,##0.0"
    assert ws["G7"].value == pytest.approx(3.5)
    # Item 2 for 第二医共体: nothing filed, an empty value and 0 on grey.
    assert ws["H6"].value is None and ws["I6"].value == 0 and ws["I6"].fill.fgColor.rgb.endswith("F2F2F2")
    # Item 7, the county-only indicator: "—" for every alliance.
    assert [ws.cell(row=11, column=c).value for c in range(6, 12)] == ["—"] * 6
    # Consecutive items of one category share a merged 指标项目 cell: items 1–3 and 6–7 are
    # 落实分级诊疗制度, 4 and 5 are of other categories.
    assert {"B5:B7", "B10:B11"} <= merged(ws) and not any(r.startswith(("B8", "B9")) for r in merged(ws))


def test_evaluation_sheet_total_and_rank_rows(evaluated):
    w = evaluated
    ws = workbook(evaluation_xlsx(w.run, on=ON))["评价指标表"]
    total, rank = row_of(ws, 1, "合计"), row_of(ws, 1, "排名")
    assert (total, rank) == (12, 13)
    assert ws.cell(row=total, column=5).value == 33  # the scheme's weights
    assert [ws.cell(row=total, column=c).value for c in (6, 8, 10)] == [
        pytest.approx(25.58), pytest.approx(8.33), pytest.approx(25.42)]
    assert [ws.cell(row=rank, column=c).value for c in (6, 8, 10)] == [1, 3, 2]
    assert {f"A{total}:D{total}", f"F{total}:G{total}", f"J{rank}:K{rank}"} <= merged(ws)
    footer = ws.max_row
    assert ws.cell(row=footer, column=1).value == "填报人："
    assert any(ws.cell(row=footer, column=c).value == "审核人：" for c in range(2, 12))
    assert any(ws.cell(row=footer, column=c).value == "日期：2026年10月5日" for c in range(2, 12))
    note = ws.cell(row=footer - 2, column=1).value
    assert note.startswith("说明：1. 评价方案：郁南县医共体季度评价（测试）") and "按排名得分" in note


def test_member_sheet_lists_each_member_with_its_scores(evaluated):
    w = evaluated
    ws = workbook(evaluation_xlsx(w.run, on=ON))["成员单位得分"]
    assert ws["A1"].value == "郁南县医共体成员单位2026年第三季度评价得分表"
    # Items that reach some member: 2, 3, 4, 5, 6 (1 and 7 reach none).
    assert [ws.cell(row=3, column=c).value for c in range(1, 6)] == ["序号", "所属医共体", "成员单位", "角色",
                                                                   "各指标得分"]
    assert [ws.cell(row=4, column=c).value for c in range(5, 10)] == [
        "2. 牵头医院出院患者平均住院日（4分）", "3. 牵头医院平均住院日（目标值）（4分）",
        "4. 牵头医院出院患者三四级手术比例（6分）", "5. 重点人群家庭医生签约率（5分）", "6. 基层医疗卫生机构床位使用率（4分）"]
    assert [ws.cell(row=3, column=c).value for c in range(10, 14)] == ["合计得分", "应得满分", "得分率（%）", "排名"]
    assert {"E3:I3", "J3:J4", "A3:A4"} <= merged(ws)
    hospital = [ws.cell(row=5, column=c).value for c in range(1, 14)]
    assert hospital[:4] == [1, "第一医共体", "县人民医院", "牵头单位"]
    assert hospital[4:9] == [4, pytest.approx(3.5), 6, 0, "—"]
    assert hospital[9:] == [pytest.approx(13.5), 19, pytest.approx(71.05), 3]
    centre = [ws.cell(row=6, column=c).value for c in range(2, 14)]
    assert centre == ["第一医共体", "平台镇卫生院", "成员单位", "—", "—", "—", 5, 4, 9, 9, 100, 1]
    assert ws.max_row - 2 == 5 + 7 + 1  # seven members, a blank row, the note, a blank row, the footer
    assert ws.freeze_panes == "D5"


def test_evaluation_export_queries_nothing_with_the_table(evaluated):
    w = evaluated
    run = EvaluationRun.objects.select_related("scheme", "county").get(pk=w.run.pk)
    table = evaluation_table(run)
    with CaptureQueriesContext(connection) as ctx:
        data = evaluation_xlsx(run, table=table, on=ON)
    assert len(ctx.captured_queries) == 0
    assert workbook(data).sheetnames == ["评价指标表", "成员单位得分"]


def test_evaluation_export_is_in_chinese_whatever_the_language(evaluated):
    w = evaluated
    with translation.override("en"):
        ws = workbook(evaluation_xlsx(w.run, on=ON)).active
        assert evaluation_filename(w.run, ON) == f"{TITLE}_20261005.xlsx"
    assert ws["A1"].value == evaluation_title(w.run) == TITLE
    assert ws["C3"].value == "指标名称"


# The indicator table --------------------------------------------------------------------------------

ROWS = [
    dict(name="牵头医院出院患者平均住院日", unit_label="天", value=Decimal(8), numerator=Decimal(2400),
         denominator=Decimal(300), target="↓", met=True, decimals=2, unit_name="第一医共体", baseline=Decimal(9)),
    dict(name="基层就诊率（基层门急诊人次占比）", unit_label="%", value=Decimal("26.829268"), numerator=Decimal(1100),
         denominator=Decimal(4100), target="≥65%或↑2个百分点", met=False, decimals=1, unit_name="第一医共体"),
    dict(name="镇卫生院与牵头医院人均薪酬比", unit_label="%", value=None, numerator=Decimal("8478.260870"),
         denominator=None, target="↑", met=None, decimals=2),
]


def test_indicator_table_layout_and_numbers(db):
    with CaptureQueriesContext(connection) as ctx:
        data = indicator_table_xlsx(title="郁南县医共体监测指标表", scope_label="郁南县", period="2026Q3",
                                    rows=ROWS, on=ON)
    assert len(ctx.captured_queries) == 0
    ws = workbook(data).active
    assert ws.title == "指标表" and ws["A1"].value == "郁南县医共体监测指标表"
    # 序号, 指标名称, 统计单位, 计量单位, 指标值, 去年同期, 分子, 分母, 目标值, 是否达标: 10 columns (A..J).
    assert ws["A2"].value == "统计范围：郁南县" and ws["D2"].value == "统计期：2026年第三季度"
    assert ws["G2"].value == "导出日期：2026年10月5日"
    assert [ws.cell(row=3, column=c).value for c in range(1, 11)] == [
        "序号", "指标名称", "统计单位", "计量单位", "指标值", "去年同期", "计算数据", None, "目标值", "是否达标"]
    assert (ws["G4"].value, ws["H4"].value) == ("分子", "分母")
    assert {"A1:J1", "G3:H3", "A3:A4", "E3:E4", "J3:J4"} <= merged(ws)
    stay = [ws.cell(row=5, column=c).value for c in range(1, 11)]
    assert stay == [1, "牵头医院出院患者平均住院日", "第一医共体", "天", 8, 9, 2400, 300, "↓", "达标"]
    share = ws["E6"]
    assert is_number(share.value) and share.value == pytest.approx(26.829268) and share.number_format == "#,##0.0"
    assert ws["J6"].value == "未达标" and ws["J6"].fill.fgColor.rgb.endswith("FFC7CE")
    assert ws["G5"].number_format == "#,##0" and ws["G7"].number_format == "#,##0.00"
    assert is_number(ws["G7"].value)
    assert ws["E7"].value is None and ws["H7"].value is None and ws["J7"].value == "—"
    assert ws.freeze_panes == "D5" and ws.print_title_rows == "$3:$4"
    assert ws.cell(row=ws.max_row, column=1).value == "填报人："


def test_indicator_table_without_units_or_baselines_has_no_such_columns():
    rows = [{k: v for k, v in row.items() if k not in ("unit_name", "baseline")} for row in ROWS]
    ws = workbook(indicator_table_xlsx(title="第一医共体指标表", scope_label="第一医共体",
                                       period=Period.parse("2026-09"), rows=rows, on=ON)).active
    assert [ws.cell(row=3, column=c).value for c in range(1, 9)] == [
        "序号", "指标名称", "计量单位", "指标值", "计算数据", None, "目标值", "是否达标"]
    assert ws["D5"].value == 8 and ws["D5"].number_format == "#,##0.00"
    assert "统计期：2026年9月" in [ws.cell(row=2, column=c).value for c in range(1, 9)]
    assert indicator_table_filename("第一医共体/指标表", ON) == "第一医共体_指标表_20261005.xlsx"


def test_value_format_follows_the_decimals():
    assert [value_format(d) for d in (0, 1, 2)] == ["#,##0", "#,##0.0", "#,##0.00"]


def test_orientation_texts_of_the_catalogue(evaluated):
    texts = {i.code: orientation_text(i) for i in Indicator.objects.filter(
        code__in=["A4_18", "VISIT_RATE", "A4_36", "A4_24", "A4_25", "A4_23", "T_STAY_LE"])}
    assert texts == {"A4_18": "≥85%或↑", "VISIT_RATE": "≥90%或↑1个百分点", "A4_36": "≥60%且↑", "A4_24": "↓",
                     "A4_25": "↑", "A4_23": "≥1个", "T_STAY_LE": "≤7天"}
    assert orientation_text(Indicator(name="x", target_kind="none")) == "—"
