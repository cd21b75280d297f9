"""The 医保总额预算执行与结算表 of a county and year as .xlsx, in the official layout of the other
tables (``reports.xlsx``: title, 填报单位 / date, merged group headers, 填报单位 / 审核人 / 日期 footer):
one row per member under its alliance's row, the four prepayments, the payments, and the
settlement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from alliances.exports import OFFICIAL_LANGUAGE
from core import workbook as xlsx
from core.http import safe_filename
from finance.insurance import HUNDRED, AllianceSettlement, PrepaymentLine, fen


def settlement_title(county_name: str, year: int, final: bool) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        if final:
            return _("%(county)s%(year)s年医共体医保总额预算执行与结算表") % {"county": county_name, "year": year}
        return _("%(county)s%(year)s年医共体医保总额预算执行与结算测算表") % {"county": county_name, "year": year}


def settlement_filename(title: str, on: date) -> str:
    return f"{safe_filename(title)}_{on:%Y%m%d}.xlsx"


def _prepaid(line: PrepaymentLine | None) -> str:
    if line is None or line.amount is None:
        return ""
    return f"{line.amount:,.2f}（{line.received_on:%m-%d}）" if line.received_on else f"{line.amount:,.2f}"


def settlement_xlsx(*, county_name: str, year: int, final: bool, rows: list[tuple[AllianceSettlement, list]],
                    on: date) -> bytes:
    """``rows``: each alliance's settlement with its four prepayment lines."""
    with translation.override(OFFICIAL_LANGUAGE):
        prepay = _("季度预拨款（到账日期）")
        settle_group = _("结算")
        columns = [xlsx.Column(_("医共体"), 22, text=True), xlsx.Column(_("成员单位"), 24, text=True),
                   xlsx.Column(_("总额预算（元）"), 16)]
        columns += [xlsx.Column(f"Q{q}", 18, group=prepay) for q in range(1, 5)]
        columns += [xlsx.Column(_("已支付（元）"), 16), xlsx.Column(_("占预算%"), 9),
                    xlsx.Column(_("结余（+）/超支（−）"), 16, group=settle_group),
                    xlsx.Column(_("留用/基金分担"), 16, group=settle_group),
                    xlsx.Column(_("医共体承担/返还基金"), 16, group=settle_group),
                    xlsx.Column(_("成员分摊"), 14, group=settle_group)]
        table_rows: list = []
        for found, lines in rows:
            s = found.settlement
            by_quarter = {line.quarter: line for line in lines}
            difference = s.surplus if s.surplus else -s.overspend
            kept_or_fund = s.retained if s.surplus else s.fund_share
            other = s.returned if s.surplus else s.alliance_share
            table_rows.append([found.budget.alliance.name, _("（医共体合计）"), f"{s.budget:,.2f}",
                               *(_prepaid(by_quarter.get(q)) for q in range(1, 5)), f"{s.actual:,.2f}",
                               f"{s.rate}%" if s.rate is not None else "", f"{difference:,.2f}",
                               f"{kept_or_fund:,.2f}", f"{other:,.2f}", ""])
            for member in found.members:
                rate = fen(member.actual / s.actual * HUNDRED) if s.actual else None
                table_rows.append(["", member.institution.name, "", "", "", "", "", f"{member.actual:,.2f}",
                                   f"{rate}%" if rate is not None else "", "", "", "", f"{member.share:,.2f}"])
        table = xlsx.Table(sheet=_("医保总额"), title=settlement_title(county_name, year, final), columns=columns,
                           rows=table_rows,
                           note=_("占预算%：医共体行为已支付占总额预算，成员行为占医共体已支付。成员分摊：结余为留用部分、"
                                  "超支为医共体承担部分（负数）按已支付比例分摊。"))
        return xlsx.workbook([table], unit=_("%(county)s卫生健康局") % {"county": county_name}, on=on)


def budget_title(budget) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return _("%(alliance)s%(year)s年预算表（%(kind)s第%(n)s版，%(state)s）") % {
            "alliance": budget.alliance.name, "year": budget.year, "kind": budget.get_kind_display(),
            "n": budget.number, "state": budget.get_state_display()}


def budget_filename(budget, on: date) -> str:
    return f"{safe_filename(budget_title(budget))}_{on:%Y%m%d}.xlsx"


def _yuan(value) -> str:
    return "" if value is None else f"{value:,.2f}"


def budget_xlsx(grid, *, on: date) -> bytes:
    """The grid as the official table: lines down; 医共体合计, each member, 成员合计 and 差额 across."""
    with translation.override(OFFICIAL_LANGUAGE):
        members_group = _("成员单位预算（元）")
        columns = [xlsx.Column(_("预算项目"), 22, text=True), xlsx.Column(_("医共体合计（元）"), 16)]
        columns += [xlsx.Column(m.name, 16, group=members_group) for m in grid.members]
        columns += [xlsx.Column(_("成员合计（元）"), 16), xlsx.Column(_("差额（元）"), 14)]
        rows = [[str(r["line"].label), _yuan(r["total"]), *(_yuan(v) for v in r["members"]), _yuan(r["sum"]),
                 _yuan(r["difference"])] for r in grid.rows()]
        rows += [[str(r["label"]), _yuan(r["total"]), *(_yuan(v) for v in r["members"]), "", ""]
                 for r in grid.side_rows()]
        table = xlsx.Table(sheet=_("预算表"), title=budget_title(grid.budget), columns=columns, rows=rows,
                           note=_("差额 = 医共体合计 − 成员合计；“其中”项为医疗收入的组成部分，不重复计入收入合计。"))
        return xlsx.workbook([table], unit=grid.budget.alliance.name, on=on)


def procurement_filename(alliance, year: int, on: date) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return f"{safe_filename(_('%(alliance)s%(year)s年统一采购汇总表') % {'alliance': alliance.name, 'year': year})}" \
               f"_{on:%Y%m%d}.xlsx"


DETAIL_SHEET, MONTH_TITLE, MEMBER_TITLE = "采购明细", "月份", "成员单位"


def procurement_xlsx(*, alliance, year: int, members, summary: dict, account, on: date) -> bytes:
    """The year's purchases through the unified account: by member and by month, categories across."""
    from finance.models import Purchase

    with translation.override(OFFICIAL_LANGUAGE):
        categories = list(Purchase.Category)
        group = _("采购金额（元）")
        title = _("%(alliance)s%(year)s年统一采购汇总表") % {"alliance": alliance.name, "year": year}
        note = (_("统一采购账户：%(name)s %(bank)s %(number)s") % {
            "name": account.name, "bank": account.bank, "number": account.masked_number}) if account else ""

        def columns(first: str) -> list:
            return ([xlsx.Column(first, 24, text=True)] + [xlsx.Column(str(c.label), 16, group=group) for c in categories]
                    + [xlsx.Column(_("合计（元）"), 16)])

        def line(label: str, values: dict) -> list:
            amounts = [values.get(c.value) for c in categories]
            return [label, *(_yuan(a) for a in amounts), _yuan(sum((a for a in amounts if a is not None), Decimal(0)))]

        totals = ["合计", *(_yuan(summary["totals"][c.value]) for c in categories), _yuan(summary["grand_total"])]
        by_member = xlsx.Table(sheet=_("按成员单位"), title=title, columns=columns(_("成员单位")),
                               rows=[line(m.name, summary["by_member"].get(m.pk, {})) for m in members],
                               total=totals, note=note)
        by_month = xlsx.Table(sheet=_("按月份"), title=_("%(title)s——按月份") % {"title": title}, columns=columns(_("月份")),
                              rows=[line(p.label, summary["by_month"].get(str(p), {})) for p in summary["months"]],
                              total=totals)
        # The register the office keeps (and imports back): a row per month and member.
        filled = [p for p in summary["months"] if any((str(p), m.pk) in summary["detail"] for m in members)]
        detail_rows = [[str(p), m.name, *(_yuan(summary["detail"].get((str(p), m.pk), {}).get(c.value))
                                          for c in categories)]
                       for p in (filled or summary["months"][:1]) for m in members]
        detail = xlsx.Table(sheet=DETAIL_SHEET, title=_("%(title)s——采购明细") % {"title": title},
                            columns=[xlsx.Column(MONTH_TITLE, 12, text=True), xlsx.Column(MEMBER_TITLE, 24, text=True)]
                            + [xlsx.Column(str(c.label), 16, group=group) for c in categories],
                            rows=detail_rows, note=_("导入时按月份整月替换：文件中出现的月份，以文件为准；空白单元格表示无采购。"))
        return xlsx.workbook([by_member, by_month, detail], unit=alliance.name, on=on)
