"""The reports' tables (进度监测表, 逾期未报名单, the half-year's financial analysis) as
``core.workbook.Table`` lists; ``core.workbook.workbook`` writes them in the official layout.
``Column``, ``Heading``, ``Chart``, ``Table``, ``workbook`` and ``plain_workbook`` are the core
writer's, named here too for the callers that import them from this module."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from core.workbook import (  # noqa: F401  (re-exported)
    CHART_DATA_SHEET,
    Chart,
    Column,
    Heading,
    Table,
    plain_workbook,
    workbook,
)

# The 进度监测表 --------------------------------------------------------------------------------

STATUS_KEYS = ("done", "on_track", "due_soon", "overdue", "not_started", "continuous")
LIGHT_KEYS = ("red", "yellow", "blue")


def monthly_tables(data: dict) -> list[Table]:
    status_group, light_group = _("完成情况（责任单位数）"), _("预警灯")
    status_titles = [_("已完成"), _("推进中"), _("临期"), _("逾期"), _("未启动"), _("持续推进")]
    light_titles = [_("红灯"), _("黄灯"), _("蓝灯")]
    columns = ([Column(_("行动"), 26, text=True), Column(_("重点任务"), 30, text=True), Column(_("任务数"), 8),
                Column(_("责任单位数"), 10)]
               + [Column(t, 8, group=status_group) for t in status_titles]
               + [Column(t, 7, group=light_group) for t in light_titles])

    def counts(row: dict) -> list:
        return [row["items"], row["assignments"], *(row[k] for k in STATUS_KEYS), *(row[k] for k in LIGHT_KEYS)]

    summary = data["summary"]
    rows: list = []
    ledger = None
    for s in data["sections"]:
        if s.get("ledger") and s["ledger"] != ledger:  # each ledger's title above its sections
            ledger = s["ledger"]
            rows.append(Heading(ledger))
        rows.append([s["action"] or _("（未分行动）"), s["key_task"], *counts(s)])
    progress = Table(
        sheet=_("进度监测表"), title=data["title"], columns=columns, rows=rows,
        total=[_("合计"), "", *counts(summary)], group_columns=(0,),
        note=_("统计截至%(date)s；完成情况按责任单位计。") % {"date": data["as_of"]})

    overdue = Table(
        sheet=_("逾期任务"), title=_("%(title)s——逾期任务") % {"title": data["title"]},
        columns=[Column(_("序号"), 6), Column(_("编号"), 8), Column(_("任务"), 40, text=True),
                 Column(_("责任单位"), 20, text=True), Column(_("完成时限"), 12), Column(_("逾期天数"), 9),
                 Column(_("完成进度"), 9), Column(_("最新进展"), 50, text=True)],
        rows=[[n, r["number"], r["task"], r["unit"], r["due"], r["days_late"], f"{r['percent']}%",
               (f"{r['latest']}（{r['latest_period']}）" if r["latest"] else _("未报送进展"))]
              for n, r in enumerate(data["overdue"], start=1)])

    items = Table(
        sheet=_("任务进展明细"), title=_("%(title)s——任务进展明细") % {"title": data["title"]},
        columns=[Column(_("行动"), 20, text=True), Column(_("重点任务"), 22, text=True), Column(_("编号"), 8),
                 Column(_("任务"), 40, text=True), Column(_("责任单位"), 18, text=True),
                 Column(_("完成时限"), 12), Column(_("完成情况"), 10), Column(_("最新进展"), 50, text=True)],
        rows=[[r["action"], r["key_task"], r["number"], r["task"], r["units"], r["deadline"] or r["due"],
               f"{r['status']}（{r['done']}/{r['total']}）", r["latest"] or _("未报送进展"), r["light"]]
              for r in data["items"]],
        light_column=6, group_columns=(0, 1))

    filing = Table(
        sheet=_("填报完整性"), title=_("%(title)s——数据填报完整性") % {"title": data["title"]},
        columns=[Column(_("报表"), 24, text=True), Column(_("截止日期"), 12), Column(_("应报"), 7),
                 Column(_("已报"), 7), Column(_("按时"), 7), Column(_("逾期报送"), 9), Column(_("未报"), 7),
                 Column(_("上报率"), 9), Column(_("及时率"), 9), Column(_("未报单位"), 40, text=True)],
        rows=[[r["form"], r["due"], r["expected"], r["filed"], r["on_time"], r["late"], r["missing"], r["rate"],
               r["timely_rate"], r["missing_names"]] for r in data["completeness"]])

    indicators = Table(
        sheet=_("重点指标"), title=_("%(title)s——重点指标") % {"title": data["title"]},
        columns=[Column(_("类别"), 16, text=True), Column(_("指标"), 36, text=True), Column(_("本期值"), 12),
                 Column(_("目标值"), 20), Column(_("达标情况"), 10)],
        rows=[[r["category"], r["name"], r["value"], r["target"], r["met_label"],
               {"met": "", "not_met": "red"}.get(r["met"], "")] for r in data["indicators"]],
        light_column=4)
    return [progress, overdue, items, filing, indicators]


def late_tables(data: dict) -> list[Table]:
    return [Table(
        sheet=_("逾期未报名单"), title=data["title"],
        columns=[Column(_("序号"), 6), Column(_("医共体"), 22, text=True), Column(_("单位"), 26, text=True),
                 Column(_("报表"), 24, text=True), Column(_("截止日期"), 12), Column(_("逾期天数"), 9),
                 Column(_("状态"), 10)],
        rows=[[n, r["alliance"], r["institution"], r["form"], r["due"], r["days_late"], r["status"]]
              for n, r in enumerate(data["rows"], start=1)])]


def finance_half_tables(data: dict) -> list[Table]:
    """The half-year's financial analysis: budget execution, the 医保 global budget, the revenue
    structure."""
    execution = Table(
        sheet=_("预算执行"), title=data["title"],
        columns=[Column(_("预算项目"), 24, text=True), Column(_("全年预算（元）"), 18), Column(_("半年实际（元）"), 18),
                 Column(_("执行率"), 10)],
        rows=[[("　" if r["part"] else "") + r["line"], r["budget"], r["actual"], r["rate"],
               "yellow" if r["warning"] else ""] for r in data["execution"]],
        light_column=3,
        note=(_("预算：%(budget)s；已填报%(months)s个月。") % {"budget": data["budget"], "months": data["months"]}
              if data["budget"] else _("本年度尚无已批准的预算。")),
        chart=_execution_chart(data))
    insurance = data.get("insurance")
    medical = Table(
        sheet=_("医保总额"), title=_("%(title)s——医保总额预算") % {"title": data["title"]},
        columns=[Column(_("总额预算（元）"), 18), Column(_("已支付（元）"), 18), Column(_("占预算"), 10),
                 Column(_("已填报月数"), 10)],
        rows=[[insurance["budget"], insurance["actual"], insurance["rate"], insurance["months"]]] if insurance else [])
    indicators = Table(
        sheet=_("收入结构指标"), title=_("%(title)s——收入结构指标") % {"title": data["title"]},
        columns=[Column(_("指标"), 36, text=True), Column(_("本期值"), 12), Column(_("目标值"), 24),
                 Column(_("达标情况"), 10)],
        rows=[[r["name"], r["value"], r["target"], r["met_label"]] for r in data["indicators"]],
        chart=_indicator_chart(data))
    return [execution, medical, indicators]


def _number(text) -> Decimal | None:
    return Decimal(text) if text not in (None, "") else None


def _execution_chart(data: dict) -> Chart | None:
    """执行率 of each main line with a budget, beside the elapsed share of the year (时间进度)."""
    rows = [r for r in data["execution"] if not r["part"] and r.get("rate_value")]
    if not rows or not data.get("elapsed"):
        return None
    elapsed = Decimal(data["elapsed"])
    return Chart(title=_("预算执行率与时间进度"), categories=[r["line"] for r in rows], y_title="%",
                 series=[(_("执行率（%）"), [_number(r["rate_value"]) for r in rows]),
                         (_("时间进度（%）"), [elapsed] * len(rows))])


def _indicator_chart(data: dict) -> Chart | None:
    rows = [r for r in data["indicators"] if r.get("number") not in (None, "") and r.get("unit") == "%"]
    if not rows:
        return None
    return Chart(title=_("收入结构指标（%）"), categories=[r["name"] for r in rows], y_title="%", horizontal=True,
                 series=[(_("本期值"), [_number(r["number"]) for r in rows])])
