"""Staffing tables as .xlsx in the official layout (``reports.xlsx``): the roster (花名册), the pooled
establishment (编制使用情况表) and the talent targets (人才队伍建设目标监测表)."""

from __future__ import annotations

from datetime import date

from django.utils import translation
from django.utils.translation import gettext as _

from alliances.exports import OFFICIAL_LANGUAGE
from core import workbook as xlsx
from core.http import safe_filename


def roster_filename(on: date) -> str:
    return f"{safe_filename('医共体人员花名册')}_{on:%Y%m%d}.xlsx"


def roster_xlsx(people, numbers: dict[int, str], *, on: date, unit: str) -> bytes:
    """``numbers``: the whole identity numbers the user may see, by staff id; the others are masked."""
    with translation.override(OFFICIAL_LANGUAGE):
        columns = [xlsx.Column(_("序号"), 6), xlsx.Column(_("姓名"), 10, text=True), xlsx.Column(_("身份证号"), 22, text=True),
                   xlsx.Column(_("工作单位"), 24, text=True), xlsx.Column(_("编制所在单位"), 24, text=True),
                   xlsx.Column(_("人员类别"), 12, text=True), xlsx.Column(_("专业类别"), 10, text=True),
                   xlsx.Column(_("职称"), 12, text=True), xlsx.Column(_("学历"), 10, text=True),
                   xlsx.Column(_("入职日期"), 12), xlsx.Column(_("合同到期日"), 12), xlsx.Column(_("离职日期"), 12)]
        rows = [[n, p.name, numbers.get(p.pk, p.id_masked), p.institution.name, p.home.name,
                 p.get_employment_display(), p.get_profession_display(), p.get_title_display(),
                 p.get_education_display(), p.hired_on.isoformat(),
                 p.contract_end.isoformat() if p.contract_end else "", p.left_on.isoformat() if p.left_on else ""]
                for n, p in enumerate(people, start=1)]
        table = xlsx.Table(sheet=_("花名册"), title=_("医共体人员花名册"), columns=columns, rows=rows,
                           note=_("身份证号除有权限的人事管理员外均脱敏显示。"))
        return xlsx.workbook([table], unit=unit, on=on)


def establishment_filename(alliance, on: date) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return f"{safe_filename(_('%(alliance)s编制使用情况表') % {'alliance': alliance.name})}_{on:%Y%m%d}.xlsx"


def establishment_xlsx(alliance, rows, pooled, names: dict[int, str], *, on: date) -> bytes:
    with translation.override(OFFICIAL_LANGUAGE):
        group, quota = _("编制（人）"), _("员额（人）")
        columns = [xlsx.Column(_("成员单位"), 26, text=True),
                   *[xlsx.Column(t, 9, group=group) for t in (_("核定"), _("实有"), _("空编"), _("借出"), _("借入"),
                                                               _("在岗"))],
                   *[xlsx.Column(t, 9, group=quota) for t in (_("核定"), _("实有"), _("空余"))]]

        def line(label, r):
            return [label, r.approved, r.filled, r.vacant, r.lent, r.borrowed, r.on_site, r.quota_approved,
                    r.quota_filled, r.quota_vacant]

        table = xlsx.Table(sheet=_("编制使用情况"), title=_("%(alliance)s编制使用情况表") % {"alliance": alliance.name},
                           columns=columns, rows=[line(names[r.institution_id], r) for r in rows],
                           total=line(_("医共体统筹合计"), pooled),
                           note=_("编制由医共体统筹使用，编制不随人走：人员在成员单位间调动，编制仍计在原单位（借出），"
                                  "现工作单位计借入。合计行的借出、借入为医共体以外的部分。"))
        return xlsx.workbook([table], unit=alliance.name, on=on)


def targets_filename(county, on: date) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return f"{safe_filename(_('%(county)s基层卫生人才队伍目标监测表') % {'county': county.name})}_{on:%Y%m%d}.xlsx"


def targets_xlsx(county, rows: list[dict], *, on: date) -> bytes:
    with translation.override(OFFICIAL_LANGUAGE):
        columns = [xlsx.Column(_("指标"), 30, text=True), xlsx.Column(_("基线（2019年）"), 12),
                   xlsx.Column(_("目标（2022年）"), 12), xlsx.Column(_("当前值"), 12), xlsx.Column(_("达标情况"), 10),
                   xlsx.Column(_("计算依据"), 40, text=True)]
        table = xlsx.Table(sheet=_("人才目标"), title=_("%(county)s基层卫生人才队伍目标监测表") % {"county": county.name},
                           columns=columns, rows=[[r["label"], r["baseline"], r["goal"], r["value"], r["met_label"],
                                                   r["basis"], "" if r["met"] is None else ("blue" if r["met"] else "red")]
                                                  for r in rows],
                           light_column=4, note=_("来源：附件3 郁南县基层卫生人才队伍增量提质实施方案（2019-2022年）。"))
        return xlsx.workbook([table], unit=_("%(county)s卫生健康局") % {"county": county.name}, on=on)
