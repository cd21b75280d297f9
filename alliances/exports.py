"""Excel exports of the organisation tree, in the official layout: a title row merged across
the table, the reporting unit and date, merged header rows, the data, and the
填报人 / 审核人 / 日期 footer.

The texts of the title, the header and the footer belong to the official Chinese
layout; they are marked for translation but written in Chinese.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from alliances.models import Alliance, Institution, Region

OFFICIAL_LANGUAGE = "zh-hans"
FONT_NAME = "宋体"
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")

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


def _date_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def county_structure_title(county: Region) -> str:
    return _("%(county)s紧密型县域医共体组成情况表") % {"county": county.name}


def county_structure_filename(county: Region, on: date) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return f"{county_structure_title(county)}_{on:%Y%m%d}.xlsx"


def _cell(ws, row: int, column: int, value=None, *, bold=False, align=CENTER, border=True, size=11, fill=None):
    cell = ws.cell(row=row, column=column, value=value)
    cell.font = Font(name=FONT_NAME, bold=bold, size=size)
    cell.alignment = align
    if border:
        cell.border = BORDER
    if fill is not None:
        cell.fill = fill
    return cell


def _merge(ws, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
    if (first_row, first_col) != (last_row, last_col):
        ws.merge_cells(start_row=first_row, start_column=first_col, end_row=last_row, end_column=last_col)


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
    last_col = get_column_letter(ncols)

    # Title, reporting unit and date.
    _cell(ws, TITLE_ROW, 1, county_structure_title(county), bold=True, size=16, border=False)
    _merge(ws, TITLE_ROW, 1, TITLE_ROW, ncols)
    ws.row_dimensions[TITLE_ROW].height = 32
    _cell(ws, INFO_ROW, 1, _("填报单位：%(unit)s卫生健康局") % {"unit": county.name}, align=LEFT, border=False)
    _merge(ws, INFO_ROW, 1, INFO_ROW, 4)
    _cell(ws, INFO_ROW, 5, _("统计日期：%(date)s") % {"date": _date_zh(on)}, align=RIGHT, border=False)
    _merge(ws, INFO_ROW, 5, INFO_ROW, ncols)

    # Two header rows: 序号 / 医共体 / 牵头单位 span both; the member columns sit under 成员单位情况.
    for col, (header, width) in enumerate(STRUCTURE_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
        if col <= 3:
            _cell(ws, HEADER_ROW_1, col, _(header), bold=True, fill=HEADER_FILL)
            _cell(ws, HEADER_ROW_2, col, None, bold=True, fill=HEADER_FILL)
            _merge(ws, HEADER_ROW_1, col, HEADER_ROW_2, col)
        else:
            _cell(ws, HEADER_ROW_1, col, _("成员单位情况") if col == 4 else None, bold=True, fill=HEADER_FILL)
            _cell(ws, HEADER_ROW_2, col, _(header), bold=True, fill=HEADER_FILL)
    _merge(ws, HEADER_ROW_1, 4, HEADER_ROW_1, ncols)
    ws.row_dimensions[HEADER_ROW_1].height = 22
    ws.row_dimensions[HEADER_ROW_2].height = 22

    # Data: one row per member institution; 序号, 医共体 and 牵头单位 are merged over the alliance's rows.
    row = FIRST_DATA_ROW
    totals = {"members": 0, "beds": 0, "population": 0, "clinics": 0}

    def write_group(number, group_name: str, lead_name: str, institutions: list[tuple[Institution, str, int]]):
        nonlocal row
        first = row
        rows = institutions or [(None, "", 0)]
        for institution, kind_label, clinic_count in rows:
            _cell(ws, row, 1, number)
            _cell(ws, row, 2, group_name)
            _cell(ws, row, 3, lead_name)
            _cell(ws, row, 4, institution.name if institution else "", align=LEFT)
            _cell(ws, row, 5, kind_label)
            _cell(ws, row, 6, institution.beds if institution else None, align=RIGHT)
            _cell(ws, row, 7, institution.service_population if institution else None, align=RIGHT)
            _cell(ws, row, 8, clinic_count if institution else None, align=RIGHT)
            if institution:
                totals["members"] += 1
                totals["beds"] += institution.beds
                totals["population"] += institution.service_population
                totals["clinics"] += clinic_count
            row += 1
        for col in (1, 2, 3):
            _merge(ws, first, col, row - 1, col)

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
    _cell(ws, row, 1, _("合计"), bold=True)
    _merge(ws, row, 1, row, 3)
    for col in (2, 3):
        ws.cell(row=row, column=col).border = BORDER
    _cell(ws, row, 4, _("%(n)s家") % {"n": totals["members"]}, bold=True, align=LEFT)
    _cell(ws, row, 5, None)
    _cell(ws, row, 6, totals["beds"], bold=True, align=RIGHT)
    _cell(ws, row, 7, totals["population"], bold=True, align=RIGHT)
    _cell(ws, row, 8, totals["clinics"], bold=True, align=RIGHT)
    last_data_row = row

    # Footer: 填报人 / 审核人 / 日期.
    footer_row = last_data_row + 2
    _cell(ws, footer_row, 1, _("填报人："), align=LEFT, border=False)
    _merge(ws, footer_row, 1, footer_row, 3)
    _cell(ws, footer_row, 4, _("审核人："), align=LEFT, border=False)
    _merge(ws, footer_row, 4, footer_row, 5)
    _cell(ws, footer_row, 6, _("日期：%(date)s") % {"date": _date_zh(on)}, align=LEFT, border=False)
    _merge(ws, footer_row, 6, footer_row, ncols)

    # Printing: landscape A4, one page wide, header rows repeated on every page.
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=1)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{HEADER_ROW_1}:{HEADER_ROW_2}"
    ws.print_area = f"A1:{last_col}{footer_row}"
    ws.print_options.horizontalCentered = True

    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
