"""Excel exports of indicators, in the official layout of ``core.workbook``: a title row merged
across the table, the reporting unit and date, two merged header rows, the data, the 填报人 / 审核人 /
日期 footer, frozen panes, column widths and an A4 landscape print setup. Written in Chinese whatever
the user's language: they are official forms.

Two tables:

- the quarterly evaluation (季度评价指标表, seed 001 附件6) of a run: the scheme's indicators down
  (序号, 指标项目, 指标名称, 指标导向, 权重（分值）), a value and a score column per alliance across,
  合计 and 排名 rows; a second sheet with each member institution's scores;
- an indicator table (指标表) as the indicator pages show it: one row per indicator (and unit).

Values are written as numbers (never as text) with the indicator's decimals as number format. The
writers query nothing once they have their data (``evaluation_xlsx`` reads the run through
``evaluation_table`` unless given the table).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl import Workbook
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter

from core import workbook as book
from core.http import safe_filename
from core.periods import Period
from core.workbook import (
    HEADER_FILL,
    LEFT,
    OFFICIAL_LANGUAGE,
    RIGHT,
    SECTION_FILL_COLOR,
    cell,
    date_zh,
    merge,
)
from indicators.models import EvaluationRun, Indicator, SchemeItem
from indicators.services.evaluation import EvaluationTable, UnitScores, evaluation_table

TITLE_ROW, INFO_ROW, HEADER_ROW_1, HEADER_ROW_2, FIRST_DATA_ROW = 1, 2, 3, 4, 5
UNMET_FILL = PatternFill("solid", fgColor="FFC7CE")
MET_FILL = PatternFill("solid", fgColor="C6EFCE")
FLAGGED_FILL = PatternFill("solid", fgColor=SECTION_FILL_COLOR)
TOTAL_FILL = book.TOTAL_FILL
SCORE_FORMAT = "0.00"
NOT_APPLICABLE = "—"

MET_TEXTS = {True: gettext_noop("达标"), False: gettext_noop("未达标")}


def value_format(decimals: int) -> str:
    """The number format showing ``decimals`` places, with thousands separators."""
    return "#,##0" if decimals <= 0 else "#,##0." + "0" * decimals


def _plain_number(value: Decimal) -> str:
    """85.0000 → "85", 0.5000 → "0.5"."""
    return format(value.normalize(), "f")


def orientation_text(indicator: Indicator) -> str:
    """The 指标导向 cell: "≥85%", "↑", "↓", "≥90%或↑1个百分点", "≥60%且↑", "—" without a target.
    The arrows compare with the same period last year."""
    with translation.override(OFFICIAL_LANGUAGE):
        unit = indicator.unit_label or ""
        threshold = direction = ""
        if indicator.has_threshold and indicator.target_value is not None:
            operator = indicator.threshold_symbol
            threshold = f"{operator}{_plain_number(indicator.target_value)}{unit}"
        if indicator.has_direction and indicator.direction:
            direction = "↓" if indicator.direction == Indicator.Direction.DOWN else "↑"
            points = indicator.direction_points or Decimal(0)
            if points:
                suffix = _("个百分点") if unit == "%" else unit
                direction += f"{_plain_number(points)}{suffix}"
        kind = indicator.target_kind
        if kind == Indicator.TargetKind.ANY and threshold and direction:
            return _("%(threshold)s或%(direction)s") % {"threshold": threshold, "direction": direction}
        if kind == Indicator.TargetKind.ALL and threshold and direction:
            return _("%(threshold)s且%(direction)s") % {"threshold": threshold, "direction": direction}
        return threshold or direction or NOT_APPLICABLE


def _indicator_label(indicator: Indicator) -> str:
    return f"{indicator.name}（{indicator.unit_label}）" if indicator.unit_label else indicator.name


def _info_row(ws, parts: list[tuple[int, int, str]]) -> None:
    """Row 2: texts over column ranges, the last one right-aligned."""
    book.info_row(ws, parts, row=INFO_ROW)


def _title(ws, title: str, ncols: int) -> None:
    book.title_row(ws, title, ncols, row=TITLE_ROW)


def _header_spanning(ws, col: int, title: str, width: float) -> None:
    """A header cell spanning both header rows."""
    ws.column_dimensions[get_column_letter(col)].width = width
    cell(ws, HEADER_ROW_1, col, title, bold=True, fill=HEADER_FILL)
    cell(ws, HEADER_ROW_2, col, None, bold=True, fill=HEADER_FILL)
    merge(ws, HEADER_ROW_1, col, HEADER_ROW_2, col)


def _header_group(ws, first: int, title: str, subtitles: list[tuple[str, float]]) -> None:
    """A group title over ``subtitles`` (row 3 merged across, the subtitles in row 4)."""
    book.header(ws, [(subtitle, width, title) for subtitle, width in subtitles], row=HEADER_ROW_1, first_col=first)


def _print_setup(ws, *, ncols: int, footer_row: int, frozen_cols: int) -> None:
    book.page_setup(ws, header_rows=(HEADER_ROW_1, HEADER_ROW_2), last_col=get_column_letter(ncols),
                    last_row=footer_row, frozen_cols=frozen_cols)


def _number_cell(ws, row: int, col: int, value, number_format: str, *, fill=None, bold=False):
    written = cell(ws, row, col, value, align=RIGHT, fill=fill, bold=bold)
    written.number_format = number_format
    return written


def _note_row(ws, row: int, ncols: int, text: str) -> None:
    """The note under a table, merged across it, as tall as its wrapped lines."""
    cell(ws, row, 1, text, align=LEFT, border=False, size=10)
    merge(ws, row, 1, row, ncols)
    book.fit_row_heights(ws, row, row, min_height=18)


def _finish(ws, *, first_row: int, last_row: int, ncols: int, footer_row: int, on: date, frozen_cols: int) -> None:
    """The body's rows as tall as their wrapped text, the footer and the print setup."""
    book.fit_row_heights(ws, first_row, last_row, min_height=20)
    book.footer_row(ws, footer_row, on=on, ncols=ncols, splits=_footer_splits(ncols))
    _print_setup(ws, ncols=ncols, footer_row=footer_row, frozen_cols=frozen_cols)


# The evaluation (季度评价指标表) ----------------------------------------------------------------------

# (header, width) of the label columns of the evaluation sheet.
EVALUATION_COLUMNS = [
    (gettext_noop("序号"), 6),
    (gettext_noop("指标项目"), 14),
    (gettext_noop("指标名称"), 32),
    (gettext_noop("指标导向"), 14),
    (gettext_noop("权重（分值）"), 9),
]
ALLIANCE_SUBCOLUMNS = [(gettext_noop("指标值"), 11), (gettext_noop("得分"), 8)]
# (header, width) of the member sheet: labels, then one column per item, then the totals.
MEMBER_COLUMNS = [
    (gettext_noop("序号"), 6),
    (gettext_noop("所属医共体"), 14),
    (gettext_noop("成员单位"), 18),
    (gettext_noop("角色"), 8),
]
MEMBER_TOTAL_COLUMNS = [
    (gettext_noop("合计得分"), 9),
    (gettext_noop("应得满分"), 9),
    (gettext_noop("得分率（%）"), 9),
    (gettext_noop("排名"), 7),
]
ITEM_COLUMN_WIDTH = 10
RULE_TEXTS = {
    SchemeItem.Rule.MET: gettext_noop("达标得分：达到目标得满分，未达到不得分"),
    SchemeItem.Rule.PROPORTIONAL: gettext_noop(
        "按比例得分：达到目标得满分，未达到按“指标值÷目标值”（≤类指标为“目标值÷指标值”）折算，"
        "仅有升降导向的指标达到得满分、未达到不得分"),
    SchemeItem.Rule.RANK: gettext_noop(
        "按排名得分：按指标值排名，第1名得满分，第n名（共n个单位）得“权重÷n”，其余按名次线性递减，并列同分"),
}


def evaluation_title(run: EvaluationRun) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return _("%(county)s紧密型县域医共体%(period)s评价指标表") % {
            "county": run.county.name, "period": Period.parse(run.period).label}


def evaluation_filename(run: EvaluationRun, on: date) -> str:
    return f"{safe_filename(evaluation_title(run))}_{on:%Y%m%d}.xlsx"


def evaluation_xlsx(run: EvaluationRun, *, table: EvaluationTable | None = None, on: date | None = None) -> bytes:
    """The run as the 季度评价指标表 (.xlsx bytes): sheet 1 the alliances, sheet 2 the member
    institutions. ``table`` (from ``evaluation_table(run)``) saves its three queries; ``on`` is the
    date of the file (today). The run's scheme and county are read if not loaded."""
    table = table or evaluation_table(run)
    on = on or timezone.localdate()
    with translation.override(OFFICIAL_LANGUAGE):
        wb = Workbook()
        _alliance_sheet(wb.active, run, table, on)
        _member_sheet(wb.create_sheet(), run, table, on)
        return book.save(wb)


def _particulars(run: EvaluationRun, on: date) -> tuple[str, str]:
    unit = _("填报单位：%(unit)s卫生健康局") % {"unit": run.county.name}
    day = _("导出日期：%(date)s") % {"date": date_zh(on)}
    return unit, day


def _rules_note(run: EvaluationRun, table: EvaluationTable) -> str:
    computed = timezone.localtime(run.created_at)
    lines = [_("说明：1. 评价方案：%(scheme)s；计算时间：%(time)s。") % {
        "scheme": run.scheme.name, "time": f"{computed:%Y-%m-%d %H:%M}"}]
    rules = list(dict.fromkeys(item.rule for item in table.items))
    texts = "；".join(_(RULE_TEXTS[rule]) for rule in rules if rule in RULE_TEXTS)
    if texts:
        lines.append(_("2. 评分规则：%(rules)s。") % {"rules": texts})
    lines.append(_("3. ↑/↓ 指与上年同期相比上升/下降；“—”表示该指标不适用于该单位，不计入满分；"
                   "指标值空白表示无数据，该项计0分；排名按合计得分（成员单位按得分率）由高到低，得分相同名次并列。"))
    return "\n".join(lines)


def _alliance_sheet(ws, run: EvaluationRun, table: EvaluationTable, on: date) -> None:
    ws.title = _("评价指标表")
    labels = len(EVALUATION_COLUMNS)
    ncols = labels + 2 * len(table.alliances)
    _title(ws, evaluation_title(run), ncols)
    unit, day = _particulars(run, on)
    split = min(3, ncols - 1)
    _info_row(ws, [(1, split, unit), (split + 1, ncols, day)])

    for col, (title, width) in enumerate(EVALUATION_COLUMNS, start=1):
        _header_spanning(ws, col, _(title), width)
    for n, column in enumerate(table.alliances):
        _header_group(ws, labels + 1 + 2 * n, column.unit.name,
                      [(_(title), width) for title, width in ALLIANCE_SUBCOLUMNS])
    ws.row_dimensions[HEADER_ROW_1].height = 30
    ws.row_dimensions[HEADER_ROW_2].height = 20

    row = FIRST_DATA_ROW
    for number, item in enumerate(table.items, start=1):
        indicator = item.indicator
        name = _indicator_label(indicator)
        cell(ws, row, 1, number)
        cell(ws, row, 2, indicator.category or None)
        cell(ws, row, 3, name, align=LEFT)
        cell(ws, row, 4, orientation_text(indicator))
        _number_cell(ws, row, 5, item.weight, "General")
        for n, column in enumerate(table.alliances):
            _write_value_and_score(ws, row, labels + 1 + 2 * n, column, item)
        row += 1
    if row > FIRST_DATA_ROW:
        book.merge_repeated(ws, [2], FIRST_DATA_ROW, row - 1)  # 指标项目 merged over its indicators
    last_item_row = row - 1

    # 合计 and 排名: one merged cell per alliance over its value and score columns.
    for label, key in ((_("合计"), "total"), (_("排名"), "rank")):
        cell(ws, row, 1, label, bold=True, fill=TOTAL_FILL)
        for col in range(2, labels):
            cell(ws, row, col, None, fill=TOTAL_FILL)
        merge(ws, row, 1, row, labels - 1)
        if key == "total":
            _number_cell(ws, row, labels, table.full_marks, "General", bold=True, fill=TOTAL_FILL)
        else:
            cell(ws, row, labels, None, fill=TOTAL_FILL)
        for n, column in enumerate(table.alliances):
            col = labels + 1 + 2 * n
            if key == "total":
                _number_cell(ws, row, col, column.total, SCORE_FORMAT, bold=True, fill=TOTAL_FILL)
            else:
                _number_cell(ws, row, col, column.rank, "0", bold=True, fill=TOTAL_FILL)
            cell(ws, row, col + 1, None, fill=TOTAL_FILL)
            merge(ws, row, col, row, col + 1)
        ws.row_dimensions[row].height = 22
        row += 1

    _note_row(ws, row + 1, ncols, _rules_note(run, table))
    _finish(ws, first_row=FIRST_DATA_ROW, last_row=last_item_row, ncols=ncols, footer_row=row + 3, on=on,
            frozen_cols=labels)


def _footer_splits(ncols: int) -> tuple[int, int]:
    """Where 审核人 and 日期 start: about a third and two thirds across (at least columns 2 and 3)."""
    reviewer = max(2, ncols // 3 + 1)
    day = max(reviewer + 1, 2 * ncols // 3 + 1)
    return reviewer, day


def _write_value_and_score(ws, row: int, col: int, column: UnitScores, item: SchemeItem) -> None:
    scored = column.cell(item)
    if scored is None:
        cell(ws, row, col, NOT_APPLICABLE)
        cell(ws, row, col + 1, NOT_APPLICABLE)
        return
    fill = UNMET_FILL if scored.met is False else None
    _number_cell(ws, row, col, scored.value, value_format(item.indicator.decimals), fill=fill)
    _number_cell(ws, row, col + 1, scored.score, SCORE_FORMAT, fill=FLAGGED_FILL if scored.flagged else None)


def _member_sheet(ws, run: EvaluationRun, table: EvaluationTable, on: date) -> None:
    ws.title = _("成员单位得分")
    # Only the items that apply to at least one member; the 序号 stays the scheme's.
    numbered = [(n, item) for n, item in enumerate(table.items, start=1)
                if any(member.cell(item) is not None for member in table.members)]
    labels = len(MEMBER_COLUMNS)
    first_total = labels + len(numbered) + 1
    ncols = first_total + len(MEMBER_TOTAL_COLUMNS) - 1
    _title(ws, _("%(county)s医共体成员单位%(period)s评价得分表") % {
        "county": run.county.name, "period": table.period.label}, ncols)
    unit, day = _particulars(run, on)
    split = min(3, ncols - 1)
    _info_row(ws, [(1, split, unit), (split + 1, ncols, day)])

    for col, (title, width) in enumerate(MEMBER_COLUMNS, start=1):
        _header_spanning(ws, col, _(title), width)
    if numbered:
        _header_group(ws, labels + 1, _("各指标得分"), [
            (_("%(number)s. %(name)s（%(weight)s分）") % {
                "number": n, "name": item.indicator.name, "weight": _plain_number(item.weight)},
             ITEM_COLUMN_WIDTH)
            for n, item in numbered])
    for offset, (title, width) in enumerate(MEMBER_TOTAL_COLUMNS):
        _header_spanning(ws, first_total + offset, _(title), width)
    ws.row_dimensions[HEADER_ROW_1].height = 22
    ws.row_dimensions[HEADER_ROW_2].height = None
    book.fit_row_heights(ws, HEADER_ROW_2, HEADER_ROW_2, min_height=20)  # the items' names, wrapped

    row = FIRST_DATA_ROW
    lead, member = _("牵头单位"), _("成员单位")
    for number, column in enumerate(table.members, start=1):
        cell(ws, row, 1, number)
        cell(ws, row, 2, column.alliance.name, align=LEFT)
        cell(ws, row, 3, column.unit.name, align=LEFT)
        cell(ws, row, 4, lead if column.is_lead else member)
        for offset, (_n, item) in enumerate(numbered):
            scored = column.cell(item)
            col = labels + 1 + offset
            if scored is None:
                cell(ws, row, col, NOT_APPLICABLE)
            else:
                _number_cell(ws, row, col, scored.score, SCORE_FORMAT,
                             fill=FLAGGED_FILL if scored.flagged else (UNMET_FILL if scored.met is False else None))
        _number_cell(ws, row, first_total, column.total, SCORE_FORMAT, bold=True)
        _number_cell(ws, row, first_total + 1, column.full_marks, "General")
        _number_cell(ws, row, first_total + 2, column.rate, SCORE_FORMAT)
        _number_cell(ws, row, first_total + 3, column.rank, "0")
        ws.row_dimensions[row].height = 20
        row += 1

    note = _("说明：得分率 = 合计得分 ÷ 应得满分 × 100%，应得满分为适用于该单位的指标权重之和；"
             "“—”表示该指标不适用于该单位（如牵头医院类指标之于镇卫生院）；灰底表示无数据或无法判断，计0分。")
    _note_row(ws, row + 1, ncols, note)
    _finish(ws, first_row=FIRST_DATA_ROW, last_row=row - 1, ncols=ncols, footer_row=row + 3, on=on, frozen_cols=3)


# The indicator table (指标表) --------------------------------------------------------------------------

INDICATOR_TABLE_COLUMNS = {
    # key: (header, width)
    "seq": (gettext_noop("序号"), 6),
    "name": (gettext_noop("指标名称"), 34),
    "unit_name": (gettext_noop("统计单位"), 16),
    "unit_label": (gettext_noop("计量单位"), 9),
    "value": (gettext_noop("指标值"), 12),
    "baseline": (gettext_noop("去年同期"), 12),
    "numerator": (gettext_noop("分子"), 14),
    "denominator": (gettext_noop("分母"), 14),
    "target": (gettext_noop("目标值"), 18),
    "met": (gettext_noop("是否达标"), 9),
}
CALCULATION_GROUP = gettext_noop("计算数据")


def indicator_table_filename(title: str, on: date) -> str:
    return f"{safe_filename(title)}_{on:%Y%m%d}.xlsx"


def _raw_number_format(value) -> str:
    """Whole numbers without decimals (2,400 人次), others with two (a ratio of sums)."""
    if isinstance(value, int) or (isinstance(value, Decimal) and value == value.to_integral_value()):
        return "#,##0"
    return "#,##0.00"


def indicator_table_xlsx(*, title: str, scope_label: str, period: Period | str, rows: list[dict],
                         on: date | None = None) -> bytes:
    """An indicator table (.xlsx bytes) in the official layout.

    ``rows`` are dicts with the keys ``name`` (指标名称), ``unit_label`` (%, 天…), ``value``,
    ``numerator``, ``denominator`` (Decimals or None), ``target`` (the target as text, e.g. from
    ``orientation_text``), ``met`` (True, False or None) and ``decimals`` (the indicator's, default
    2); optional ``unit_name`` (the alliance or institution the row is for: adds a 统计单位 column)
    and ``baseline`` (the same period last year: adds a 去年同期 column). ``scope_label`` names
    the scope (郁南县, 第一医共体…); ``on`` is the date of the file (today). No query."""
    period = period if isinstance(period, Period) else Period.parse(period)
    on = on or timezone.localdate()
    with translation.override(OFFICIAL_LANGUAGE):
        return _indicator_table(title=title, scope_label=scope_label, period=period, rows=rows, on=on)


def _indicator_table(*, title: str, scope_label: str, period: Period, rows: list[dict], on: date) -> bytes:
    keys = ["seq", "name"]
    if any(row.get("unit_name") for row in rows):
        keys.append("unit_name")
    keys += ["unit_label", "value"]
    if any("baseline" in row for row in rows):
        keys.append("baseline")
    keys += ["numerator", "denominator", "target", "met"]
    col_of = {key: n for n, key in enumerate(keys, start=1)}
    ncols = len(keys)

    wb = Workbook()
    ws = wb.active
    ws.title = _("指标表")
    _title(ws, title, ncols)
    third = max(1, ncols // 3)
    _info_row(ws, [
        (1, third, _("统计范围：%(scope)s") % {"scope": scope_label}),
        (third + 1, 2 * third, _("统计期：%(period)s") % {"period": period.label}),
        (2 * third + 1, ncols, _("导出日期：%(date)s") % {"date": date_zh(on)}),
    ])
    for key in keys:
        header, width = INDICATOR_TABLE_COLUMNS[key]
        if key == "numerator":
            _header_group(ws, col_of[key], _(CALCULATION_GROUP), [
                (_(INDICATOR_TABLE_COLUMNS["numerator"][0]), INDICATOR_TABLE_COLUMNS["numerator"][1]),
                (_(INDICATOR_TABLE_COLUMNS["denominator"][0]), INDICATOR_TABLE_COLUMNS["denominator"][1]),
            ])
        elif key != "denominator":
            _header_spanning(ws, col_of[key], _(header), width)
    ws.row_dimensions[HEADER_ROW_1].height = 22
    ws.row_dimensions[HEADER_ROW_2].height = 20

    row = FIRST_DATA_ROW
    for number, data in enumerate(rows, start=1):
        decimals = data.get("decimals", 2)
        met = data.get("met")
        fill = UNMET_FILL if met is False else (MET_FILL if met is True else None)
        cell(ws, row, col_of["seq"], number)
        cell(ws, row, col_of["name"], data.get("name") or None, align=LEFT)
        if "unit_name" in col_of:
            cell(ws, row, col_of["unit_name"], data.get("unit_name") or None, align=LEFT)
        cell(ws, row, col_of["unit_label"], data.get("unit_label") or None)
        _number_cell(ws, row, col_of["value"], data.get("value"), value_format(decimals),
                     fill=UNMET_FILL if met is False else None)
        if "baseline" in col_of:
            _number_cell(ws, row, col_of["baseline"], data.get("baseline"), value_format(decimals))
        for key in ("numerator", "denominator"):
            raw = data.get(key)
            _number_cell(ws, row, col_of[key], raw, _raw_number_format(raw))
        cell(ws, row, col_of["target"], data.get("target") or None)
        cell(ws, row, col_of["met"], _(MET_TEXTS[met]) if met in MET_TEXTS else NOT_APPLICABLE, fill=fill)
        row += 1

    _finish(ws, first_row=FIRST_DATA_ROW, last_row=row - 1, ncols=ncols, footer_row=max(row - 1, HEADER_ROW_2) + 2,
            on=on, frozen_cols=col_of.get("unit_name", col_of["name"]))
    return book.save(wb)
