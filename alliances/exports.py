"""Excel exports of the organisation tree, in the official layout: a title row merged across
the table, the reporting unit and date, merged header rows, the data, and the
填报人 / 审核人 / 日期 footer.

The texts of the title, the header and the footer belong to the official Chinese
layout; they are marked for translation but written in Chinese.

Three tables: the county structure (医共体组成情况表), the institution register
(医疗卫生机构名册) and the alliance membership register (医共体成员名册). The two registers double
as the import templates of ``alliances.imports``: their column titles are what the importer looks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution, Region
from core import workbook as book
from core.workbook import (
    CENTER,
    LEFT,
    OFFICIAL_LANGUAGE,
    RIGHT,
    cell,
    date_zh,
    merge,
    page_setup,
)

# Column layout of the county structure table.
STRUCTURE_COLUMNS = [
    # (header, width)
    (gettext_noop("序号"), 6),
    (gettext_noop("医共体"), 22),
    (gettext_noop("牵头单位"), 22),
    (gettext_noop("成员单位"), 26),
    (gettext_noop("机构类别"), 16),
    (gettext_noop("床位数"), 9),
    (gettext_noop("服务人口"), 11),
    (gettext_noop("村卫生室数"), 11),
]
TITLE_ROW, INFO_ROW, HEADER_ROW_1, HEADER_ROW_2, FIRST_DATA_ROW = 1, 2, 3, 4, 5


def county_structure_title(county: Region) -> str:
    return _("%(county)s紧密型县域医共体组成情况表") % {"county": county.name}


def county_structure_filename(county: Region, on: date) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return f"{county_structure_title(county)}_{on:%Y%m%d}.xlsx"


def _title_rows(ws, *, title: str, county: Region, date_text: str, ncols: int, split: int) -> None:
    """Row 1: the title merged across the table; row 2: 填报单位 on the left (columns 1..``split``)
    and the date on the right."""
    book.title_row(ws, title, ncols, row=TITLE_ROW)
    book.info_row(ws, [(1, split, _("填报单位：%(unit)s卫生健康局") % {"unit": county.name}),
                       (split + 1, ncols, date_text)], row=INFO_ROW)


def _finish(ws, wb: Workbook, *, ncols: int, last_data_row: int, footer_row: int, splits: tuple[int, int],
            on: date) -> bytes:
    """Rows fitted to their text, the footer, the print setup; the file."""
    book.fit_row_heights(ws, FIRST_DATA_ROW, last_data_row, min_height=20)
    book.footer_row(ws, footer_row, on=on, ncols=ncols, splits=splits)
    page_setup(ws, header_rows=(HEADER_ROW_1, HEADER_ROW_2), last_col=get_column_letter(ncols), last_row=footer_row)
    return book.save(wb)


def county_structure_workbook(*, county: Region, alliances: list[Alliance], unaffiliated: list[Institution],
                              on: date) -> bytes:
    """The county's alliances and their members on ``on`` as an .xlsx file (bytes), in Chinese
    whatever the user's interface language: it is an official form.

    ``alliances`` come from ``selectors.alliances_with_structure`` (with ``current_memberships``,
    ``lead_membership`` and the members' ``village_clinics``), already limited to what the user sees;
    ``unaffiliated`` are institutions in no alliance on ``on``. No query.
    """
    with translation.override(OFFICIAL_LANGUAGE):
        return _county_structure_workbook(county=county, alliances=alliances, unaffiliated=unaffiliated, on=on)


def _county_structure_workbook(*, county: Region, alliances: list[Alliance], unaffiliated: list[Institution],
                               on: date) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = _("医共体组成情况")
    ncols = len(STRUCTURE_COLUMNS)

    # Title, reporting unit and date.
    _title_rows(ws, title=county_structure_title(county), county=county,
                date_text=_("统计日期：%(date)s") % {"date": date_zh(on)}, ncols=ncols, split=4)

    # Two header rows: 序号 / 医共体 / 牵头单位 span both; the member columns sit under 成员单位情况.
    book.header(ws, [(_(header), width, _("成员单位情况") if col > 3 else "")
                     for col, (header, width) in enumerate(STRUCTURE_COLUMNS, start=1)], row=HEADER_ROW_1)

    # Data: one row per member institution; 序号, 医共体 and 牵头单位 are merged over the alliance's rows.
    row = FIRST_DATA_ROW
    totals = {"members": 0, "beds": 0, "population": 0, "clinics": 0}

    def write_group(number, group_name: str, lead_name: str, institutions: list[tuple[Institution, str, int]]):
        nonlocal row
        first = row
        rows = institutions or [(None, "", 0)]
        for institution, kind_label, clinic_count in rows:
            cell(ws, row, 1, number)
            cell(ws, row, 2, group_name)
            cell(ws, row, 3, lead_name)
            cell(ws, row, 4, institution.name if institution else "", align=LEFT)
            cell(ws, row, 5, kind_label)
            cell(ws, row, 6, institution.beds if institution else None, align=RIGHT)
            cell(ws, row, 7, institution.service_population if institution else None, align=RIGHT)
            cell(ws, row, 8, clinic_count if institution else None, align=RIGHT)
            if institution:
                totals["members"] += 1
                totals["beds"] += institution.beds
                totals["population"] += institution.service_population
                totals["clinics"] += clinic_count
            row += 1
        for col in (1, 2, 3):
            merge(ws, first, col, row - 1, col)

    lead_label = _("牵头单位")
    for number, alliance in enumerate(alliances, start=1):
        lead = alliance.lead_membership.institution.name if alliance.lead_membership else ""
        members = []
        for membership in alliance.current_memberships:
            institution = membership.institution
            kind = institution.get_kind_display()
            if membership.role == "lead":
                kind = f"{kind}（{lead_label}）"
            members.append((institution, kind, sum(1 for c in institution.village_clinics if c.is_active)))
        write_group(number, alliance.name, lead, members)

    if unaffiliated:
        rows = [(i, i.get_kind_display(), getattr(i, "clinic_count", 0)) for i in unaffiliated]
        write_group(None, _("（未加入医共体）"), "", rows)

    # Totals.
    cell(ws, row, 1, _("合计"), bold=True)
    merge(ws, row, 1, row, 3)
    for col in (2, 3):
        ws.cell(row=row, column=col).border = book.BORDER
    cell(ws, row, 4, _("%(n)s家") % {"n": totals["members"]}, bold=True, align=LEFT)
    cell(ws, row, 5, None)
    cell(ws, row, 6, totals["beds"], bold=True, align=RIGHT)
    cell(ws, row, 7, totals["population"], bold=True, align=RIGHT)
    cell(ws, row, 8, totals["clinics"], bold=True, align=RIGHT)
    last_data_row = row

    # Footer: 填报人 / 审核人 / 日期.
    return _finish(ws, wb, ncols=ncols, last_data_row=last_data_row, footer_row=last_data_row + 2, splits=(4, 6),
                   on=on)


# The institution register (医疗卫生机构名册) --------------------------------------------------

@dataclass(frozen=True)
class RegisterColumn:
    key: str
    title: str  # official Chinese column title (a msgid)
    width: int


# Column layout of the institution register; ``alliances.imports`` reads files by these titles.
REGISTER_COLUMNS = [
    RegisterColumn("seq", gettext_noop("序号"), 6),
    RegisterColumn("name", gettext_noop("机构名称"), 28),
    RegisterColumn("short_name", gettext_noop("简称"), 14),
    RegisterColumn("kind", gettext_noop("机构类别"), 17),
    RegisterColumn("parent", gettext_noop("所属卫生院"), 20),
    RegisterColumn("credit_code", gettext_noop("统一社会信用代码"), 22),
    RegisterColumn("beds", gettext_noop("床位数"), 8),
    RegisterColumn("service_population", gettext_noop("服务人口"), 10),
    RegisterColumn("alliance", gettext_noop("所属医共体"), 20),
    RegisterColumn("role", gettext_noop("角色"), 10),
    RegisterColumn("joined", gettext_noop("加入日期"), 12),
    RegisterColumn("status", gettext_noop("状态"), 7),
]
REGISTER_COLUMN_BY_KEY = {c.key: c for c in REGISTER_COLUMNS}
# The membership columns sit under one merged header cell; the others span both header rows.
REGISTER_GROUP_TITLE = gettext_noop("医共体情况")
REGISTER_GROUP_KEYS = ("alliance", "role", "joined")
ROLE_TITLES = {
    AllianceMembership.Role.LEAD: gettext_noop("牵头单位"),
    AllianceMembership.Role.MEMBER: gettext_noop("成员单位"),
}
STATUS_ACTIVE, STATUS_INACTIVE = gettext_noop("在用"), gettext_noop("停用")
# Empty bordered rows of the blank template, for the clerk to fill in.
BLANK_TEMPLATE_ROWS = 10


@dataclass
class RegisterEntry:
    """One row of the register: the institution and the membership it shows (a village clinic
    shows its township centre's, without role or date)."""

    institution: Institution
    membership: AllianceMembership | None
    follows_parent: bool


def institution_register_title(county: Region) -> str:
    return _("%(county)s医疗卫生机构名册") % {"county": county.name}


def institution_register_filename(county: Region, on: date, *, blank: bool = False) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        suffix = _("导入模板") if blank else f"{on:%Y%m%d}"
        return f"{institution_register_title(county)}_{suffix}.xlsx"


def institution_register_entries(user, county: Region, on: date) -> list[RegisterEntry]:
    """The institutions of ``county`` the user sees, each township centre followed by its village
    clinics, with the membership in force on ``on``. Two queries whatever the size of the county."""
    institutions = list(
        scoping.queryset_for(user, Institution).filter(county=county).select_related("parent")
    )
    institutions.sort(key=lambda i: (i.parent.name if i.parent_id else i.name, i.parent_id is not None, i.name))
    follow = {i.pk: (i.parent_id if i.kind == Institution.Kind.VILLAGE_CLINIC else i.pk) for i in institutions}
    memberships = {
        m.institution_id: m
        for m in scoping.queryset_for(user, AllianceMembership).on(on)
        .filter(institution_id__in={pk for pk in follow.values() if pk})
        .select_related("alliance")
    }
    return [
        RegisterEntry(institution=i, membership=memberships.get(follow[i.pk]),
                      follows_parent=i.kind == Institution.Kind.VILLAGE_CLINIC)
        for i in institutions
    ]


def institution_register_workbook(*, county: Region, entries: list[RegisterEntry], on: date,
                                  blank: bool = False) -> bytes:
    """The register as an .xlsx file (bytes), in Chinese whatever the interface language. With
    ``blank`` the layout has empty rows instead of data: the import template. No query."""
    with translation.override(OFFICIAL_LANGUAGE):
        return _institution_register_workbook(county=county, entries=[] if blank else entries, on=on, blank=blank)


def _institution_register_workbook(*, county: Region, entries: list[RegisterEntry], on: date, blank: bool) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = _("机构名册")
    ncols = len(REGISTER_COLUMNS)
    col_of = {c.key: n for n, c in enumerate(REGISTER_COLUMNS, start=1)}

    _title_rows(ws, title=institution_register_title(county), county=county,
                date_text=_("导出日期：%(date)s") % {"date": date_zh(on)}, ncols=ncols, split=6)

    book.header(ws, [(_(column.title), column.width, _(REGISTER_GROUP_TITLE) if column.key in REGISTER_GROUP_KEYS
                      else "") for column in REGISTER_COLUMNS], row=HEADER_ROW_1)

    row = FIRST_DATA_ROW
    for number, entry in enumerate(entries, start=1):
        institution, membership = entry.institution, entry.membership
        values = {
            "seq": number,
            "name": institution.name,
            "short_name": institution.short_name,
            "kind": str(Institution.Kind(institution.kind).label),
            "parent": institution.parent.name if institution.parent_id else "",
            "credit_code": institution.credit_code,
            "beds": institution.beds,
            "service_population": institution.service_population,
            "alliance": membership.alliance.name if membership else "",
            "role": _(ROLE_TITLES[membership.role]) if membership and not entry.follows_parent else "",
            "joined": membership.valid_from if membership and not entry.follows_parent else None,
            "status": _(STATUS_ACTIVE) if institution.is_active else _(STATUS_INACTIVE),
        }
        for column in REGISTER_COLUMNS:
            align = {"name": LEFT, "parent": LEFT, "alliance": LEFT, "beds": RIGHT,
                     "service_population": RIGHT}.get(column.key, CENTER)
            written = cell(ws, row, col_of[column.key], values[column.key] if values[column.key] != "" else None,
                           align=align)
            if column.key == "credit_code":
                written.number_format = "@"  # an all-digit code must stay text
            elif column.key == "joined":
                written.number_format = "yyyy-mm-dd"
        row += 1
    if blank:
        for _n in range(BLANK_TEMPLATE_ROWS):
            for column in REGISTER_COLUMNS:
                written = cell(ws, row, col_of[column.key], None)
                if column.key == "credit_code":
                    written.number_format = "@"
                elif column.key == "joined":
                    written.number_format = "yyyy-mm-dd"
            row += 1
    last_data_row = row - 1

    # Drop-down lists for the kind and the role; other spellings are still accepted (a warning only).
    if last_data_row >= FIRST_DATA_ROW:
        lists = {
            "kind": [str(label) for label in Institution.Kind.labels],
            "role": [_(title) for title in ROLE_TITLES.values()],
        }
        for key, options in lists.items():
            letter = get_column_letter(col_of[key])
            validation = DataValidation(type="list", formula1='"{}"'.format(",".join(options)), allow_blank=True,
                                        errorStyle="warning", showErrorMessage=True)
            validation.add(f"{letter}{FIRST_DATA_ROW}:{letter}{last_data_row}")
            ws.add_data_validation(validation)

    return _finish(ws, wb, ncols=ncols, last_data_row=last_data_row,
                   footer_row=max(last_data_row, HEADER_ROW_2) + 2, splits=(5, 9), on=on)


# The alliance membership register (医共体成员名册) ------------------------------------------------

# Column layout; ``alliances.imports.membership_file`` reads files by these titles.
MEMBERSHIP_COLUMNS = [
    RegisterColumn("seq", gettext_noop("序号"), 6),
    RegisterColumn("alliance", gettext_noop("医共体"), 24),
    RegisterColumn("institution", gettext_noop("单位名称"), 30),
    RegisterColumn("role", gettext_noop("医共体角色"), 12),
    RegisterColumn("joined", gettext_noop("起始日期"), 13),
]


def membership_register_title(county: Region) -> str:
    return _("%(county)s医共体成员名册") % {"county": county.name}


def membership_register_filename(county: Region, on: date) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return f"{membership_register_title(county)}_{on:%Y%m%d}.xlsx"


def membership_register_entries(user, county: Region, on: date) -> list[AllianceMembership]:
    """The memberships in force on ``on`` in the county's alliances that the user sees: alliance by
    alliance in their numbered order, the lead first, then the members by name. One query."""
    from alliances.views.common import natural_key  # noqa: PLC0415  (the alliances' order of the pages)

    memberships = list(scoping.queryset_for(user, AllianceMembership).on(on)
                       .filter(alliance__county=county).select_related("alliance", "institution"))
    memberships.sort(key=lambda m: (natural_key(m.alliance.name), m.alliance_id,
                                    m.role != AllianceMembership.Role.LEAD, m.institution.name))
    return memberships


def membership_register_workbook(*, county: Region, memberships: list[AllianceMembership], on: date) -> bytes:
    """The memberships as an .xlsx file (bytes), in Chinese whatever the interface language; the
    alliance's cell merged over its members. No query."""
    with translation.override(OFFICIAL_LANGUAGE):
        wb = Workbook()
        ws = wb.active
        ws.title = _("医共体成员")
        ncols = len(MEMBERSHIP_COLUMNS)
        _title_rows(ws, title=membership_register_title(county), county=county,
                    date_text=_("导出日期：%(date)s") % {"date": date_zh(on)}, ncols=ncols, split=3)
        book.header(ws, [(_(column.title), column.width) for column in MEMBERSHIP_COLUMNS], row=HEADER_ROW_1)
        row = HEADER_ROW_1 + 1
        first = row
        for number, membership in enumerate(memberships, start=1):
            values = [number, membership.alliance.name, membership.institution.name,
                      _(ROLE_TITLES[membership.role]), membership.valid_from]
            for col, value in enumerate(values, start=1):
                written = cell(ws, row, col, value, align=LEFT if col in (2, 3) else CENTER)
                if col == 5:
                    written.number_format = "yyyy-mm-dd"
            row += 1
        last_data_row = row - 1
        if last_data_row >= first:
            book.merge_repeated(ws, [2], first, last_data_row)
            letter = get_column_letter(4)
            validation = DataValidation(type="list", formula1='"{}"'.format(",".join(
                _(title) for title in ROLE_TITLES.values())), allow_blank=True, errorStyle="warning",
                showErrorMessage=True)
            validation.add(f"{letter}{first}:{letter}{last_data_row}")
            ws.add_data_validation(validation)
        book.fit_row_heights(ws, first, max(last_data_row, first), min_height=20)
        footer = max(last_data_row, first) + 2
        book.footer_row(ws, footer, on=on, ncols=ncols, splits=(3, 4))
        page_setup(ws, header_rows=(HEADER_ROW_1, HEADER_ROW_1), last_col=get_column_letter(ncols), last_row=footer)
        return book.save(wb)
