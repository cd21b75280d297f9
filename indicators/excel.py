"""Excel both ways for filing: templates to download, filled templates to upload.

Two workbooks, both in the official layout of ``core.workbook`` (title row, 填报单位 and 报告期
line, merged header, borders, the 填报人 / 审核人 / 日期 footer) and in Chinese whatever the user's
language:

- the template of one filing (form × filer × period): one row per data element the filer fills
  (序号, 指标（数据项）名称, 计量单位, 数值, 上年同期, 上期), the current values filled in, the
  element codes in a hidden column and the form, filer and period in a hidden cell, so that an
  upload is checked against the filing it is uploaded to;
- the alliance-wide workbook of a form and period: one row per member institution that files the
  form (members in force at the period's end), one column per element (element name and unit in
  two header rows, the codes in a hidden row, the institutions' ids in a hidden column).

An upload is read (type by content, size, macros) and its columns found by its header through
``core.imports.columns`` (register ``filing``: 数据项 / 编码 / 数值, notes columns ignored; register
``alliance_filing``: 机构 and one column per element, by the element's name or code): the portal's
own workbooks are identified by their hidden cell and codes, and a sheet of the filer's or the
alliance's own layout (title lines above, columns in any order) is read by its titles, a column
no word names being mapped by the user on the preview (remembered per county). Figures are then
checked cell by cell (numbers: integers or decimals, "1,234", full-width digits; empty or "-" is
missing; text, negatives and too many decimals are errors naming the cell) and turned into a plan: per element the stored value and the new one.
Nothing is written unless the whole file is valid; writing goes through
``indicators.services.filings.save_values`` (audit rows with source "import", optimistic locking
with the version read at preview time), all filings of one upload in one transaction.

Reads are a constant number of queries whatever the number of rows and institutions; writing
costs a constant per filing written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from alliances.models import Alliance, AllianceMembership, Institution
from core import uploads, xlsx
from core import workbook as book
from core.imports import columns as engine
from core.imports.columns import ColumnPlan, Field
from core.issues import ImportFailed, Issue
from core.periods import Period, PeriodError
from core.workbook import FONT_NAME, HEADER_FILL, LEFT, OFFICIAL_LANGUAGE, RIGHT, page_setup
from core.workbook import cell as _cell
from core.workbook import footer_row as _footer_row
from core.workbook import merge as _merge
from core.workbook import save as _save
from indicators import permissions, selectors
from indicators.models import (
    DataElement,
    DataValue,
    Filing,
    FilingEvent,
    FormElement,
    ReportForm,
    ValidationRule,
)
from indicators.services import filings as service
from indicators.validation import Finding, run_checks

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000
BLANK_RUN_LIMIT = 200  # this many empty rows in a row end the sheet
MAX_COLUMNS = 200
TOO_LARGE = Decimal("1e15")

# Row 1 title, row 2 填报单位 / 报告期, rows 3–4 the merged header (both workbooks).
TITLE_ROW, INFO_ROW, HEADER_ROW_1, HEADER_ROW_2 = 1, 2, 3, 4

# The template of one filing: columns, the hidden code column and the hidden identification cell.
COL_SEQ, COL_NAME, COL_UNIT, COL_VALUE, COL_LAST_YEAR, COL_PREVIOUS, COL_CODE = 1, 2, 3, 4, 5, 6, 7
FILING_COLUMNS = COL_CODE
FILING_FIRST_ROW = 5
VALUE_LETTER = get_column_letter(COL_VALUE)
CODE_LETTER = get_column_letter(COL_CODE)

# The alliance-wide workbook: 序号, 单位名称, the hidden id column, then one column per element;
# row 5 (hidden) holds the identification cell and the element codes.
A_COL_SEQ, A_COL_NAME, A_COL_ID, A_FIRST_ELEMENT_COL = 1, 2, 3, 4
A_CODE_ROW, A_FIRST_ROW = 5, 6
ID_LETTER = get_column_letter(A_COL_ID)

TEMPLATE_FILING, TEMPLATE_ALLIANCE = "filing", "alliance"
META_PREFIX = "template="
COUNTY_FILER = "county"

# Official texts of the workbooks (msgids in Chinese, as in ``alliances.exports``).
T_SEQ = gettext_noop("序号")
T_NAME = gettext_noop("指标（数据项）名称")
T_UNIT = gettext_noop("计量单位")
T_CURRENT = gettext_noop("本期")
T_VALUE = gettext_noop("数值")
T_REFERENCE = gettext_noop("参考数据（只读）")
T_LAST_YEAR = gettext_noop("上年同期")
T_PREVIOUS = gettext_noop("上期")
T_CODE = gettext_noop("代码")
T_INSTITUTION = gettext_noop("单位名称")
T_INSTITUTION_ID = gettext_noop("机构ID")
T_NOTE = gettext_noop("说明：数值填不小于0的数，整数项不填小数，金额保留两位小数；无数据的留空或填“-”。灰色单元格无需填写，"
                      "请勿增删行列或修改隐藏的代码。")
MISSING_META = gettext_noop("This workbook is not a filing template of the portal: its hidden identification cell "
                             "is missing. Download the template again, fill it in and upload it.")
FOOTER_PREFIXES = ("填报人", "审核人", "说明", "注：", "注:", "备注")
SECTION_NUMBERS = "一二三四五六七八九十"

# Missing-value marks: empty, "-" and dashes as Chinese forms write them.
MISSING_MARKS = {"-", "--", "—", "——", "–", "/", "－"}
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_GROUPED_NUMBER = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_FILENAME_UNSAFE = re.compile(r'[\\/:*?"<>|\r\n\t]+')

VALUE_FILL = PatternFill("solid", fgColor="FFF9E5")
READ_ONLY_FILL = PatternFill("solid", fgColor="F2F2F2")
GREY = "7F7F7F"

# What a change does to one value.
UNCHANGED, ADDED, CHANGED, CLEARED, ERROR = "unchanged", "new", "changed", "cleared", "error"


class CellError(Exception):
    """A cell that is not a figure; the message is for the user."""


# Numbers ---------------------------------------------------------------------------------------

def _decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def parse_figure(raw: Any, element: DataElement) -> Decimal | None:
    """A cell as the element's figure: None when empty or "-"; a Decimal otherwise (never a float:
    a numeric cell is read through its 15 significant digits, as Excel shows it). Raises
    ``CellError`` for text, a negative figure, too many decimals or a figure too large."""
    if raw is None:
        return None
    shown = uploads.cell_text(raw)
    if isinstance(raw, bool):
        raise CellError(_("“%(value)s” is not a number.") % {"value": shown})
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        if not math.isfinite(raw):
            raise CellError(_("“%(value)s” is not a number.") % {"value": shown})
        value = Decimal(format(raw, ".15g"))
    elif isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw))
        if not text or text in MISSING_MARKS:
            return None
        if _GROUPED_NUMBER.match(text):
            text = text.replace(",", "")
        if not _PLAIN_NUMBER.match(text):
            raise CellError(_("“%(value)s” is not a number.") % {"value": shown})
        value = Decimal(text)
    else:  # dates, times
        raise CellError(_("“%(value)s” is not a number.") % {"value": shown})
    if value == 0:
        value = Decimal(0)  # no "-0"
    if value < 0:
        raise CellError(_("%(value)s is negative; enter 0 or more.") % {"value": shown})
    if abs(value) >= TOO_LARGE:
        raise CellError(_("%(value)s is too large.") % {"value": shown})
    places = element.decimal_places
    if _decimal_places(value) > places:
        if places == 0:
            raise CellError(_("“%(value)s” is not a whole number.") % {"value": shown})
        raise CellError(_("“%(value)s” has more than %(places)s decimal places.") % {"value": shown, "places": places})
    return value


def figure_text(value: Decimal | None, element: DataElement) -> str:
    """A figure as the preview shows it: thousands separators, the element's decimals."""
    if value is None:
        return ""
    value = service.quantize(element, value)
    if element.value_type == DataElement.ValueType.DECIMAL:
        value = value.normalize()
    return format(value, ",f")


def _cell_figure(value: Decimal | None, element: DataElement):
    """A figure as written into a workbook: an int when whole, a Decimal otherwise."""
    if value is None:
        return None
    value = service.quantize(element, value)
    if value == value.to_integral_value():
        return int(value)
    return Decimal(format(value.normalize(), "f"))


def _number_format(element: DataElement) -> str:
    if element.decimal_places == 0:
        return "#,##0"
    if element.value_type == DataElement.ValueType.MONEY:
        return "#,##0.00"
    return "#,##0.####"


# Reading an upload -----------------------------------------------------------------------------

@dataclass
class Sheet:
    """The cells of the uploaded sheet, by row number (1-based) and column number (1-based)."""

    name: str
    rows: dict[int, list]
    data: bytes = b""  # the file itself, kept for a new column mapping

    def cell(self, row: int, column: int) -> Any:
        values = self.rows.get(row)
        if values is None or len(values) < column:
            return None
        return values[column - 1]

    def text(self, row: int, column: int) -> str:
        return uploads.cell_text(self.cell(row, column))

    def row_numbers(self, first: int) -> list[int]:
        return sorted(number for number in self.rows if number >= first)

    def is_footer(self, row: int) -> bool:
        for value in self.rows.get(row, []):
            text = uploads.cell_text(value)
            if text:
                return text.startswith(FOOTER_PREFIXES)
        return False

    def meta(self) -> dict[str, str] | None:
        """The hidden identification cell ("template=…;form=…;…") among the first rows."""
        for number in sorted(self.rows)[:8]:
            for value in self.rows[number]:
                if isinstance(value, str) and value.startswith(META_PREFIX):
                    pairs = (part.partition("=") for part in value.split(";"))
                    return {key.strip(): text.strip() for key, _sep, text in pairs if key.strip()}
        return None


def read_upload(upload, *, max_col: int = MAX_COLUMNS) -> tuple[Sheet | None, list[Issue]]:
    """Check and read an uploaded template (a Django ``UploadedFile``): its name and real type, its
    size, macros, and the cells of its sheet. Returns the sheet, or None and why it cannot be read."""
    name = Path(upload.name or "").name
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        return None, [Issue(_("“%(name)s” is an old-style Excel file (.xls). Open it in Excel and save it as "
                              "“Excel workbook (*.xlsx)”.") % {"name": name})]
    if suffix == ".xlsm":
        return None, [Issue(_("“%(name)s” is a workbook with macros (.xlsm). Save it in Excel as “Excel workbook "
                              "(*.xlsx)”, without macros, and upload that.") % {"name": name})]
    if suffix != ".xlsx":
        return None, [Issue(_("“%(name)s” is not an .xlsx workbook. Upload the template downloaded from the portal, "
                              "filled in and saved as .xlsx.") % {"name": name})]
    data = uploads.read_limited(upload, MAX_UPLOAD_BYTES)
    if data is None:
        return None, [Issue(_("“%(name)s” is larger than %(limit)s MB; a filled template is far smaller. Upload the "
                              "template downloaded from the portal.")
                            % {"name": name, "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})]
    if not data.strip():
        return None, [Issue(_("“%(name)s” is empty.") % {"name": name})]
    kind = uploads.sniff_zip(data)
    refused = uploads.refusal(kind, name)  # zip bomb, macros, XML entities: as every upload says it
    if refused:
        return None, [Issue(refused)]
    if kind != uploads.XLSX:
        if data.startswith(uploads.OLE_SIGNATURE):
            return None, [Issue(_("“%(name)s” is an old-style Excel file (.xls) renamed .xlsx. Open it in "
                                  "Excel and save it as “Excel workbook (*.xlsx)”.") % {"name": name})]
        return None, [Issue(_("“%(name)s” is not an Excel workbook: its content is not in the .xlsx format, "
                              "whatever its name says.") % {"name": name})]
    damaged = Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in Excel, "
                      "save it again and upload it.") % {"name": name})
    try:
        workbook = uploads.Workbook(data)
    except Exception:  # openpyxl raises many kinds of errors on damaged files
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [damaged]
    rows: dict[int, list] = {}
    try:
        blank_run = 0
        for number, values in workbook.rows(max_col):
            if all(v is None for v in values):
                blank_run += 1
                if blank_run > BLANK_RUN_LIMIT:
                    break
                continue
            if number > MAX_ROWS:
                return None, [Issue(_("“%(name)s” has more than %(n)s rows; it is not a filing template.")
                                    % {"name": name, "n": MAX_ROWS})]
            blank_run = 0
            rows[number] = values
    except Exception:
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [damaged]
    finally:
        workbook.close()
    return Sheet(name=name, rows=rows, data=data), []


def read_data(data: bytes, name: str, *, max_col: int = MAX_COLUMNS) -> tuple[Sheet | None, list[Issue]]:
    """``read_upload`` of a kept file's bytes."""
    return read_upload(SimpleUploadedFile(name, data), max_col=max_col)


# Finding the columns (``core.imports.columns``) --------------------------------------------------

REGISTER_FILING, REGISTER_ALLIANCE = "filing", "alliance_filing"
FILING_READ_COLUMNS = 30  # a clerk's own layout may have a few more columns than the template's seven

FILING_FIELDS = (
    Field("seq", gettext_lazy("No."), ("序号", "编号", "行次", "行号")),
    Field("name", gettext_lazy("Data element"), ("指标（数据项）名称", "数据项", "数据项名称", "指标", "指标名称", "项目",
                                                 "项目名称", "统计项目", "统计指标", "名称")),
    Field("unit", gettext_lazy("Unit"), ("计量单位", "单位", "计算单位")),
    Field("value", gettext_lazy("Value"), ("数值", "本期", "本期数", "本期值", "本期数值", "本月数", "本月", "填报数",
                                           "填报值", "数据", "值", "实际值", "完成数"), required=True),
    Field("last_year", gettext_lazy("Last year (reference, not imported)"), ("上年同期", "去年同期", "上年同期数")),
    Field("previous", gettext_lazy("Previous period (reference, not imported)"), ("上期", "上期数", "上月数")),
    Field("code", gettext_lazy("Code"), ("代码", "编码", "数据项代码", "数据项编码", "指标代码", "指标编码")),
)

ALLIANCE_BASE_FIELDS = (
    Field("seq", gettext_lazy("No."), ("序号", "编号")),
    Field("institution", gettext_lazy("Institution"), ("单位名称", "机构", "机构名称", "单位", "填报单位", "医疗机构",
                                                       "医疗机构名称", "成员单位", "成员单位名称"), required=True),
    Field("institution_id", gettext_lazy("Institution ID"), ("机构ID", "机构编号")),
)


def alliance_fields(rows: list[FormElement]) -> tuple[Field, ...]:
    """The alliance-wide workbook's fields: the institution, then one per element of the form
    (the element's code as its name; its name, with or without its unit, and its code as titles)."""
    fields = list(ALLIANCE_BASE_FIELDS)
    for row in rows:
        element = row.element
        words = (element.name, element.code) + ((f"{element.name}（{element.unit}）",) if element.unit else ())
        fields.append(Field(element.code, element.name, words))
    return tuple(fields)


def _head(sheet: Sheet) -> list[tuple[int, list]]:
    return [(number, sheet.rows[number]) for number in sorted(sheet.rows)[:engine.HEADER_SEARCH_ROWS]]


def locate_columns(sheet: Sheet, fields, *, given: dict | None = None, saved_for=None) -> ColumnPlan | None:
    """The header and the mapping of its columns: the user's mapping; else the header words, and
    the mapping saved for these headers only when the words leave a column unmapped (a template as
    the portal wrote it costs no query)."""
    head = _head(sheet)
    if given:
        return engine.locate(head, fields, given=given)
    plan = engine.locate(head, fields)
    if plan is not None and plan.needs_user and saved_for is not None:
        plan = engine.locate(head, fields, saved_for=saved_for)
    return plan


def _header_title(sheet: Sheet, plan: ColumnPlan, column) -> str:
    """A column's title as an error names it: the lower header row's text (数值), else the upper one."""
    col = column.index + 1
    text = sheet.text(plan.header_row, col)
    if not text and plan.header_rows == 2:
        text = sheet.text(plan.header_row - 1, col)
    return text or column.title


def _name_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


# What an upload changes ------------------------------------------------------------------------

@dataclass
class Change:
    """One element of one filer: the stored value and the one in the file."""

    element: DataElement
    number: int
    section: str
    row: int
    column: str
    old: Decimal | None
    new: Decimal | None
    # A cell that could not be read: what it says, and why (the change is then no change).
    raw: str = ""
    error: str = ""

    @property
    def status(self) -> str:
        if self.error:
            return ERROR
        if self.old is None and self.new is None:
            return UNCHANGED
        if self.old is None:
            return ADDED
        if self.new is None:
            return CLEARED
        return UNCHANGED if self.old == self.new else CHANGED

    @property
    def is_change(self) -> bool:
        return self.status in (ADDED, CHANGED, CLEARED)

    @property
    def old_text(self) -> str:
        return figure_text(self.old, self.element)

    @property
    def new_text(self) -> str:
        return figure_text(self.new, self.element)


def _counts(changes: list[Change]) -> dict[str, int]:
    counts = {UNCHANGED: 0, ADDED: 0, CHANGED: 0, CLEARED: 0}
    for change in changes:
        if change.status in counts:
            counts[change.status] += 1
    counts["total"] = counts[ADDED] + counts[CHANGED] + counts[CLEARED]
    return counts


def _values_json(changes: list[Change]) -> dict[str, str | None]:
    return {str(c.element.pk): None if c.new is None else str(c.new) for c in changes}


def _values_from_json(data: dict[str, str | None]) -> dict[int, Decimal | None]:
    return {int(key): None if value is None else Decimal(value) for key, value in data.items()}


def _fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def _period_label(text: str) -> str:
    try:
        return Period.parse(text).label
    except PeriodError:
        return text or "—"


def _info_text(sheet: Sheet) -> str:
    """What the file's 填报单位 line says (for a message about a file of another filer)."""
    text = sheet.text(INFO_ROW, 1)
    for prefix in ("填报单位：", "填报单位:"):
        if text.startswith(prefix):
            return text[len(prefix):].strip()
    return text


def _required_finding(rows: list[FormElement], values: dict[str, Decimal | None]) -> list[Finding]:
    """The same "required figures are empty" finding as ``check_filing``, without a query."""
    missing = [row.element for row in rows if row.required and values.get(row.element.code) is None]
    if not missing:
        return []
    return [Finding(
        "REQUIRED",
        _("%(count)d required figures are empty: %(names)s. Enter 0 where the figure is zero.")
        % {"count": len(missing), "names": "、".join(e.name for e in missing[:5]) + ("…" if len(missing) > 5 else "")},
        "error", tuple(e.code for e in missing))]


# One filing ------------------------------------------------------------------------------------

def filer_label(filing: Filing) -> str:
    if filing.institution_id:
        return filing.institution.name
    return _("%(unit)s卫生健康局") % {"unit": filing.county.name}


def filing_meta(filing: Filing) -> str:
    filer = str(filing.institution_id) if filing.institution_id else COUNTY_FILER
    return f"{META_PREFIX}{TEMPLATE_FILING};form={filing.form.code};institution={filer};period={filing.period}"


def filing_template_filename(filing: Filing) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        name = f"{filing.form.name}_{filer_label(filing)}_{Period.parse(filing.period).label}.xlsx"
    return _FILENAME_UNSAFE.sub("_", name)


def filing_template(filing: Filing, *, today: date) -> bytes:
    """The template of ``filing`` as .xlsx bytes: its rows with the current values, last year's and
    the previous period's values beside them. Four queries (rows, values, reference values)."""
    rows = service.form_rows(filing.form, service.filing_kind(filing))
    values = dict(DataValue.objects.filter(filing=filing).values_list("element_id", "value"))
    refs = selectors.reference_values(filing)
    with translation.override(OFFICIAL_LANGUAGE):
        return _filing_template(filing, rows, values, refs, today)


def _protect(ws) -> None:
    """Protect the sheet (no password) so the layout and the hidden codes stay as they are; the
    value cells are unlocked, and columns and rows may still be resized."""
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.formatCells = False


def _validations(ws, cells: dict[str, list[str]]) -> None:
    """Data validation on the value cells (whole or decimal number ≥ 0), as a warning: "-" for a
    missing figure stays possible."""
    prompt = _("请填写不小于0的数；无数据的留空或填“-”。")
    for kind, refs in cells.items():
        if not refs:
            continue
        validation = DataValidation(type=kind, operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                                    errorStyle="warning", showErrorMessage=True, showInputMessage=True,
                                    promptTitle=_("数值"), prompt=prompt, errorTitle=_("数值"), error=prompt)
        for ref in refs:
            validation.add(ref)
        ws.add_data_validation(validation)


def _page_setup(ws, *, last_col: str, last_row: int, freeze: str, landscape: bool) -> None:
    book.fit_row_heights(ws, HEADER_ROW_1, last_row)  # element names and the note, wrapped
    page_setup(ws, header_rows=(HEADER_ROW_1, HEADER_ROW_2), last_col=last_col, last_row=last_row, freeze=freeze,
               landscape=landscape)


def _note_and_footer(ws, row: int, *, ncols: int, on: date, splits: tuple[int, int]) -> int:
    cell = _cell(ws, row, 1, _(T_NOTE), align=LEFT, border=False, size=9)
    cell.font = Font(name=FONT_NAME, size=9, color=GREY)
    _merge(ws, row, 1, row, ncols)
    ws.row_dimensions[row].height = 30
    footer = row + 2
    _footer_row(ws, footer, on=on, ncols=ncols, splits=splits)
    return footer


def _filing_template(filing: Filing, rows: list[FormElement], values: dict[int, Decimal | None],
                     refs: dict[str, dict[int, Decimal | None]], today: date) -> bytes:
    form, period = filing.form, Period.parse(filing.period)
    wb = Workbook()
    ws = wb.active
    ws.title = xlsx.sheet_title(form.name)
    ncols = COL_PREVIOUS  # the visible columns
    for col, width in ((COL_SEQ, 6), (COL_NAME, 40), (COL_UNIT, 10), (COL_VALUE, 18), (COL_LAST_YEAR, 15),
                       (COL_PREVIOUS, 15), (COL_CODE, 22)):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.column_dimensions[CODE_LETTER].hidden = True

    _cell(ws, TITLE_ROW, 1, _("%(form)s（%(period)s）") % {"form": form.name, "period": period.label},
          bold=True, size=16, border=False)
    _merge(ws, TITLE_ROW, 1, TITLE_ROW, ncols)
    ws.row_dimensions[TITLE_ROW].height = 32
    _cell(ws, INFO_ROW, 1, _("填报单位：%(unit)s") % {"unit": filer_label(filing)}, align=LEFT, border=False)
    _merge(ws, INFO_ROW, 1, INFO_ROW, COL_UNIT)
    _cell(ws, INFO_ROW, COL_VALUE, _("报告期：%(period)s") % {"period": period.label}, align=RIGHT, border=False)
    _merge(ws, INFO_ROW, COL_VALUE, INFO_ROW, ncols)
    meta = xlsx.put(ws, TITLE_ROW, COL_CODE, filing_meta(filing))
    meta.font = Font(name=FONT_NAME, size=9, color=GREY)

    for col, title in ((COL_SEQ, T_SEQ), (COL_NAME, T_NAME), (COL_UNIT, T_UNIT), (COL_CODE, T_CODE)):
        _cell(ws, HEADER_ROW_1, col, _(title), bold=True, fill=HEADER_FILL)
        _cell(ws, HEADER_ROW_2, col, None, bold=True, fill=HEADER_FILL)
        _merge(ws, HEADER_ROW_1, col, HEADER_ROW_2, col)
    _cell(ws, HEADER_ROW_1, COL_VALUE, _(T_CURRENT), bold=True, fill=HEADER_FILL)
    _cell(ws, HEADER_ROW_2, COL_VALUE, _(T_VALUE), bold=True, fill=HEADER_FILL)
    _cell(ws, HEADER_ROW_1, COL_LAST_YEAR, _(T_REFERENCE), bold=True, fill=HEADER_FILL)
    _cell(ws, HEADER_ROW_1, COL_PREVIOUS, None, bold=True, fill=HEADER_FILL)
    _merge(ws, HEADER_ROW_1, COL_LAST_YEAR, HEADER_ROW_1, COL_PREVIOUS)
    _cell(ws, HEADER_ROW_2, COL_LAST_YEAR, _(T_LAST_YEAR), bold=True, fill=HEADER_FILL)
    _cell(ws, HEADER_ROW_2, COL_PREVIOUS, _(T_PREVIOUS), bold=True, fill=HEADER_FILL)
    for header_row in (HEADER_ROW_1, HEADER_ROW_2):
        ws.row_dimensions[header_row].height = 22

    row, section, sections = FILING_FIRST_ROW, None, 0
    validations: dict[str, list[str]] = {"whole": [], "decimal": []}
    unlocked = Protection(locked=False)
    for number, form_row in enumerate(rows, start=1):
        element = form_row.element
        if form_row.section and form_row.section != section:
            label = SECTION_NUMBERS[sections] if sections < len(SECTION_NUMBERS) else str(sections + 1)
            _cell(ws, row, 1, f"{label}、{form_row.section}", bold=True, align=LEFT)
            for col in range(2, ncols + 1):
                _cell(ws, row, col, None)
            _merge(ws, row, 1, row, ncols)
            sections += 1
            row += 1
        section = form_row.section
        _cell(ws, row, COL_SEQ, number)
        _cell(ws, row, COL_NAME, element.name, align=LEFT)
        _cell(ws, row, COL_UNIT, element.unit or None)
        value = _cell(ws, row, COL_VALUE, _cell_figure(values.get(element.pk), element), align=RIGHT,
                      fill=VALUE_FILL)
        value.number_format = _number_format(element)
        value.protection = unlocked
        validations["whole" if element.decimal_places == 0 else "decimal"].append(f"{VALUE_LETTER}{row}")
        for col, key in ((COL_LAST_YEAR, "last_year"), (COL_PREVIOUS, "previous")):
            ref = _cell(ws, row, col, _cell_figure(refs.get(key, {}).get(element.pk), element), align=RIGHT,
                        fill=READ_ONLY_FILL)
            ref.font = Font(name=FONT_NAME, size=11, color=GREY)
            ref.number_format = _number_format(element)
        code = _cell(ws, row, COL_CODE, element.code, align=LEFT)
        code.font = Font(name=FONT_NAME, size=9, color=GREY)
        row += 1
    _validations(ws, validations)
    footer = _note_and_footer(ws, row + 1, ncols=ncols, on=today, splits=(COL_UNIT, COL_LAST_YEAR))
    _page_setup(ws, last_col=get_column_letter(ncols), last_row=footer, freeze=f"A{FILING_FIRST_ROW}",
                landscape=False)
    _protect(ws)
    return _save(wb)


@dataclass
class FilingPlan:
    """What an upload would do to one filing."""

    filing: Filing
    version: int
    changes: list[Change] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    header: ColumnPlan | None = None  # the header found and how its columns map
    filename: str = ""  # the file read (empty for a plan checked again from a kept payload)

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.changes)

    @property
    def counts(self) -> dict[str, int]:
        return _counts(self.changes)

    def payload(self) -> dict:
        return {"filing": self.filing.pk, "version": self.version, "values": _values_json(self.changes)}

    def fingerprint(self) -> str:
        return _fingerprint(self.payload())


def _check_meta(sheet: Sheet, expected: str) -> tuple[dict[str, str] | None, list[Issue]]:
    meta = sheet.meta()
    if meta is None:
        return None, [Issue(_(MISSING_META))]
    kind = meta.get("template")
    if kind != expected:
        if kind == TEMPLATE_ALLIANCE:
            return None, [Issue(_("This is an alliance-wide workbook; upload it on the alliance-wide upload page, not "
                                  "on one filing."))]
        if kind == TEMPLATE_FILING:
            return None, [Issue(_("This is the template of one filing; upload it on that filing's page, not as an "
                                  "alliance-wide workbook."))]
        return None, [Issue(_(MISSING_META))]
    return meta, []


def _check_form_and_period(meta: dict[str, str], form: ReportForm, period: Period) -> list[Issue]:
    issues = []
    if meta.get("form") != form.code:
        issues.append(Issue(_("This file is the template of another form (%(code)s); this page takes “%(form)s”. "
                              "Download the template of this form.") % {"code": meta.get("form") or "—",
                                                                        "form": form.name}))
    if meta.get("period") != str(period):
        issues.append(Issue(_("This file is for %(file)s; this page is for %(expected)s. Download the template of "
                              "this period.") % {"file": _period_label(meta.get("period", "")),
                                                 "expected": period.label}))
    return issues


def plan_filing_upload(filing: Filing, sheet: Sheet, *, mapping: dict | None = None, saved_for=None) -> FilingPlan:
    """Check the uploaded template against ``filing`` and compare its figures with the stored ones.
    Six queries (rows, values, and the checks on the would-be values).

    The template as the portal wrote it carries a hidden identification cell (checked against the
    filing) and the element codes; a clerk's own sheet (数据项 | 编码 | 数值 | 说明, in any order,
    under title lines) is read by its header (``core.imports.columns``): its rows are found by code
    when a code column is mapped, else by the element's name. ``mapping`` is the user's column
    mapping; ``saved_for`` gives the one saved for these headers."""
    plan = FilingPlan(filing=filing, version=filing.version)
    meta = sheet.meta()
    if meta is not None:
        meta, plan.issues = _check_meta(sheet, TEMPLATE_FILING)
        if meta is None:
            return plan
        period = Period.parse(filing.period)
        plan.issues += _check_form_and_period(meta, filing.form, period)
        expected_filer = str(filing.institution_id) if filing.institution_id else COUNTY_FILER
        if meta.get("institution") != expected_filer:
            plan.issues.append(Issue(_("This file was downloaded for another filer (%(unit)s); this filing is "
                                       "%(expected)s's. Download the template of this filing.")
                                     % {"unit": _info_text(sheet) or meta.get("institution") or "—",
                                        "expected": filer_label(filing)}))
        if plan.issues:
            return plan
    columns = plan.header = locate_columns(sheet, FILING_FIELDS, given=mapping, saved_for=saved_for)
    if columns is None:
        plan.issues.append(Issue(_(MISSING_META)))
        return plan
    by_field = columns.by_field
    if "code" not in by_field and "name" not in by_field:
        columns.errors.append(_("No column is mapped to the data element: map a column to “%(name)s” or to "
                                "“%(code)s”.") % {"name": FILING_FIELDS[1].label, "code": FILING_FIELDS[-1].label})
    if columns.errors:
        if meta is None and not by_field:
            plan.issues.append(Issue(_(MISSING_META)))
        plan.issues += [Issue(text) for text in columns.errors]
        return plan

    value_column, code_column, name_column = by_field["value"], by_field.get("code"), by_field.get("name")
    value_col, value_letter = value_column.index + 1, value_column.letter
    value_title = _header_title(sheet, columns, value_column)
    rows = service.form_rows(filing.form, service.filing_kind(filing))
    by_code = {row.element.code: (number, row) for number, row in enumerate(rows, start=1)}
    by_name: dict[str, str | None] = {}
    for row in rows:
        for key in {_name_key(row.element.name), engine.normalise_title(row.element.name)}:
            by_name[key] = None if key in by_name and by_name[key] != row.element.code else row.element.code
    stored = dict(DataValue.objects.filter(filing=filing).values_list("element_id", "value"))
    seen: dict[str, int] = {}
    for number in sheet.row_numbers(columns.header_row + 1):
        if sheet.is_footer(number):
            break
        raw = sheet.cell(number, value_col)
        # The code decides where there is one; a sheet of one's own may give only the name on a row.
        key_column = code_column
        if code_column is None or (meta is None and name_column is not None
                                   and not sheet.text(number, code_column.index + 1)):
            key_column = name_column
        key_letter, key_title = key_column.letter, _header_title(sheet, columns, key_column)
        text = sheet.text(number, key_column.index + 1)
        if not text:
            if raw is not None:
                if meta is not None and key_column is code_column:
                    message = _("This row has a figure but no data-item code (hidden column %(column)s); add no rows "
                                "to the template.") % {"column": key_letter}
                else:
                    message = _("This row has a figure but no data item (column %(column)s).") % {"column": key_letter}
                plan.issues.append(Issue(message, row=number, column=value_letter, title=value_title))
            continue
        if key_column is code_column:
            code = text
            if code not in by_code:
                plan.issues.append(Issue(_("“%(code)s” is not a data item of this form for this filer.")
                                         % {"code": code}, row=number, column=key_letter, title=key_title))
                continue
        else:
            code = by_name.get(_name_key(text)) or by_name.get(engine.normalise_title(text))
            if code is None:
                if raw is None or uploads.cell_text(raw) in MISSING_MARKS:
                    continue  # a section heading, a line of text
                plan.issues.append(Issue(_("“%(code)s” is not a data item of this form for this filer.")
                                         % {"code": text}, row=number, column=key_letter, title=key_title))
                continue
        seq, form_row = by_code[code]
        if code in seen:
            plan.issues.append(Issue(_("%(name)s appears twice (also in row %(row)s).")
                                     % {"name": form_row.element.name, "row": seen[code]},
                                     row=number, column=key_letter, title=key_title))
            continue
        seen[code] = number
        change = Change(element=form_row.element, number=seq, section=form_row.section, row=number,
                        column=value_letter, old=stored.get(form_row.element_id), new=None)
        try:
            change.new = parse_figure(raw, form_row.element)
        except CellError as exc:
            change.raw, change.error = uploads.cell_text(raw), str(exc)
            plan.issues.append(Issue(str(exc), row=number, column=value_letter, title=value_title))
        plan.changes.append(change)
    for code, (_seq, form_row) in by_code.items():
        if code not in seen:
            if meta is not None:
                message = _("The row of %(name)s is missing; download the template again.")
            else:
                message = _("The row of %(name)s is missing; add it to the file (empty or “-” when there is no "
                            "figure).")
            plan.issues.append(Issue(message % {"name": form_row.element.name}))
    if plan.ok:
        values = {c.element.code: c.new for c in plan.changes}
        plan.findings = service.check_filing(filing, values)
    return plan


def apply_filing_payload(filing: Filing, payload: dict, *, user) -> service.SaveResult:
    """Write a previewed upload: one ``save_values`` with the version read at preview time. Raises
    ``ImportFailed`` (nothing saved) when the filing changed since, is locked or the form changed."""
    values = _values_from_json(payload["values"])
    rows = service.form_rows(filing.form, service.filing_kind(filing))
    if payload.get("filing") != filing.pk or set(values) - {row.element_id for row in rows}:
        raise ImportFailed([Issue(_("The data in the portal changed since the preview and the file no longer fits "
                                    "it. Nothing was saved."))])
    try:
        with transaction.atomic():
            return service.save_values(filing, values, user=user, expected_version=payload["version"],
                                       source=FilingEvent.Action.IMPORT)
    except ValidationError as exc:
        raise ImportFailed([Issue(" ".join(exc.messages))]) from None


# The alliance-wide workbook --------------------------------------------------------------------

def alliance_filers(form: ReportForm, alliance: Alliance, period: Period) -> list[Institution]:
    """The active institutions that file ``form`` among the alliance's members in force at the
    period's end (and the village clinics they manage): the lead hospital first, then by name.
    Two queries."""
    members = (AllianceMembership.objects.on(period.end).filter(alliance=alliance).values("institution_id"))
    candidates = Institution.objects.filter(Q(pk__in=members) | Q(parent_id__in=members))
    filers = selectors.filers_by_form([form], candidates).get(form.pk, [])
    return sorted(filers, key=lambda i: (i.kind not in Institution.LEAD_KINDS, i.parent_id is not None, i.name))


def alliance_meta(form: ReportForm, alliance: Alliance, period: Period) -> str:
    return f"{META_PREFIX}{TEMPLATE_ALLIANCE};form={form.code};alliance={alliance.pk};period={period}"


def alliance_workbook_filename(form: ReportForm, alliance: Alliance, period: Period) -> str:
    return _FILENAME_UNSAFE.sub("_", f"{alliance.name}_{form.name}_{period.label}.xlsx")


def _all_rows(form: ReportForm) -> list[FormElement]:
    return list(form.form_elements.select_related("element").order_by("order", "pk"))


def _filings_and_values(form: ReportForm, period: Period, institutions: list[Institution]
                        ) -> tuple[dict[int, Filing], dict[int, dict[int, Decimal | None]]]:
    """{institution id: filing} and {institution id: {element id: value}} (two queries)."""
    filings = {f.institution_id: f for f in Filing.objects.filter(
        form=form, period=str(period), institution_id__in=[i.pk for i in institutions])}
    for filing in filings.values():
        filing.form = form
    values: dict[int, dict[int, Decimal | None]] = {pk: {} for pk in filings}
    if filings:
        by_filing = {f.pk: f.institution_id for f in filings.values()}
        for filing_id, element_id, value in DataValue.objects.filter(filing_id__in=list(by_filing)).values_list(
                "filing_id", "element_id", "value"):
            values[by_filing[filing_id]][element_id] = value
    return filings, values


def alliance_workbook(form: ReportForm, alliance: Alliance, period: Period, *, today: date) -> bytes:
    """The alliance-wide workbook as .xlsx bytes, the stored values filled in. Five queries."""
    rows = _all_rows(form)
    institutions = alliance_filers(form, alliance, period)
    _filings, values = _filings_and_values(form, period, institutions)
    with translation.override(OFFICIAL_LANGUAGE):
        return _alliance_workbook(form, alliance, period, rows, institutions, values, today)


def _alliance_workbook(form: ReportForm, alliance: Alliance, period: Period, rows: list[FormElement],
                       institutions: list[Institution], values: dict[int, dict[int, Decimal | None]],
                       today: date) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = xlsx.sheet_title(alliance.display_name)
    ncols = A_FIRST_ELEMENT_COL + len(rows) - 1
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions[ID_LETTER].width = 8
    ws.column_dimensions[ID_LETTER].hidden = True
    for offset in range(len(rows)):
        ws.column_dimensions[get_column_letter(A_FIRST_ELEMENT_COL + offset)].width = 14

    _cell(ws, TITLE_ROW, 1, _("%(form)s（%(period)s）") % {"form": form.name, "period": period.label},
          bold=True, size=16, border=False)
    _merge(ws, TITLE_ROW, 1, TITLE_ROW, max(ncols, A_FIRST_ELEMENT_COL))
    ws.row_dimensions[TITLE_ROW].height = 32
    split = max(A_FIRST_ELEMENT_COL, ncols - 2)
    _cell(ws, INFO_ROW, 1, _("填报单位：%(unit)s") % {"unit": alliance.name}, align=LEFT, border=False)
    _merge(ws, INFO_ROW, 1, INFO_ROW, split - 1)
    _cell(ws, INFO_ROW, split, _("报告期：%(period)s") % {"period": period.label}, align=RIGHT, border=False)
    _merge(ws, INFO_ROW, split, INFO_ROW, max(ncols, split))

    for col, title in ((A_COL_SEQ, T_SEQ), (A_COL_NAME, T_INSTITUTION), (A_COL_ID, T_INSTITUTION_ID)):
        _cell(ws, HEADER_ROW_1, col, _(title), bold=True, fill=HEADER_FILL)
        _cell(ws, HEADER_ROW_2, col, None, bold=True, fill=HEADER_FILL)
        _merge(ws, HEADER_ROW_1, col, HEADER_ROW_2, col)
    for offset, form_row in enumerate(rows):
        col = A_FIRST_ELEMENT_COL + offset
        _cell(ws, HEADER_ROW_1, col, form_row.element.name, bold=True, fill=HEADER_FILL)
        _cell(ws, HEADER_ROW_2, col, f"（{form_row.element.unit}）" if form_row.element.unit else None, fill=HEADER_FILL,
              size=10)
    ws.row_dimensions[HEADER_ROW_1].height = 64
    ws.row_dimensions[HEADER_ROW_2].height = 18

    meta = xlsx.put(ws, A_CODE_ROW, 1, alliance_meta(form, alliance, period))
    meta.font = Font(name=FONT_NAME, size=9, color=GREY)
    xlsx.put(ws, A_CODE_ROW, A_COL_ID, _(T_CODE))
    for offset, form_row in enumerate(rows):
        xlsx.put(ws, A_CODE_ROW, A_FIRST_ELEMENT_COL + offset, form_row.element.code)
    ws.row_dimensions[A_CODE_ROW].hidden = True

    row = A_FIRST_ROW
    validations: dict[str, list[str]] = {"whole": [], "decimal": []}
    unlocked = Protection(locked=False)
    for number, institution in enumerate(institutions, start=1):
        own = values.get(institution.pk, {})
        _cell(ws, row, A_COL_SEQ, number)
        _cell(ws, row, A_COL_NAME, institution.name, align=LEFT)
        _cell(ws, row, A_COL_ID, institution.pk)
        for offset, form_row in enumerate(rows):
            col = A_FIRST_ELEMENT_COL + offset
            element = form_row.element
            if not form_row.applies_to(institution.kind):
                _cell(ws, row, col, None, fill=READ_ONLY_FILL)
                continue
            cell = _cell(ws, row, col, _cell_figure(own.get(element.pk), element), align=RIGHT, fill=VALUE_FILL)
            cell.number_format = _number_format(element)
            cell.protection = unlocked
            validations["whole" if element.decimal_places == 0 else "decimal"].append(
                f"{get_column_letter(col)}{row}")
        row += 1
    _validations(ws, validations)
    footer_cols = max(ncols, 6)
    footer = _note_and_footer(ws, row + 1, ncols=footer_cols, on=today,
                              splits=(max(3, footer_cols // 3), max(5, 2 * footer_cols // 3)))
    _page_setup(ws, last_col=get_column_letter(footer_cols), last_row=footer,
                freeze=f"{get_column_letter(A_FIRST_ELEMENT_COL)}{A_FIRST_ROW}", landscape=True)
    _protect(ws)
    return _save(wb)


@dataclass
class UnitPlan:
    """What an alliance-wide upload would do to one institution's filing."""

    institution: Institution
    row: int
    filing: Filing | None
    expected_version: int | None
    changes: list[Change] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.changes)

    @property
    def counts(self) -> dict[str, int]:
        return _counts(self.changes)

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.is_change]

    @property
    def status_label(self) -> str:
        return self.filing.get_status_display() if self.filing else _("Not started")

    def values(self) -> dict[int, Decimal | None]:
        return {c.element.pk: c.new for c in self.changes}


@dataclass
class AlliancePlan:
    form: ReportForm
    alliance: Alliance
    period: Period
    columns: list[FormElement] = field(default_factory=list)
    units: list[UnitPlan] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)
    header: ColumnPlan | None = None  # the header found and how its columns map
    own_layout: bool = False  # a sheet of the alliance's own (no hidden codes): read by its header
    filename: str = ""  # the file read (empty for a plan checked again from a kept payload)

    @property
    def issues(self) -> list[Issue]:
        return self.file_issues + [issue for unit in self.units for issue in unit.issues]

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def has_changes(self) -> bool:
        return any(unit.has_changes for unit in self.units)

    @property
    def changed_units(self) -> list[UnitPlan]:
        return [unit for unit in self.units if unit.has_changes]

    @property
    def counts(self) -> dict[str, int]:
        counts = _counts([c for unit in self.units for c in unit.changes])
        counts["filings"] = len(self.changed_units)
        counts["institutions"] = len(self.units)
        return counts

    @property
    def findings_count(self) -> int:
        return sum(len(unit.findings) for unit in self.units)

    def payload(self) -> dict:
        return {
            "form": self.form.pk, "alliance": self.alliance.pk, "period": str(self.period),
            "units": [{"institution": unit.institution.pk, "row": unit.row, "version": unit.expected_version,
                       "values": _values_json(unit.changes)} for unit in self.changed_units],
        }

    def fingerprint(self) -> str:
        return _fingerprint(self.payload())


class _AllianceContext:
    """What checking an alliance-wide upload reads, once (six queries whatever the number of
    institutions): the form's rows, the filers, those the user files for, their filings and values,
    the county's validation rules."""

    def __init__(self, form: ReportForm, alliance: Alliance, period: Period, user):
        self.columns = _all_rows(form)
        self.institutions = {i.pk: i for i in alliance_filers(form, alliance, period)}
        self.allowed = set(permissions.filer_institutions(user).filter(pk__in=list(self.institutions))
                           .values_list("pk", flat=True))
        self.filings, self.values = _filings_and_values(form, period, list(self.institutions.values()))
        self.rules = list(ValidationRule.objects.filter(is_active=True).filter(
            Q(county=None) | Q(county_id=form.county_id)))
        self.form, self.period = form, period

    def unit(self, institution: Institution, row: int, parsed: dict[int, Decimal | None],
             expected_version: int | None | str = "current") -> UnitPlan:
        """The plan of one institution: its changes against the stored values, and why it cannot be
        written (not the user's to file, not editable) when it changes anything."""
        filing = self.filings.get(institution.pk)
        if expected_version == "current":
            expected_version = filing.version if filing else None
        unit = UnitPlan(institution=institution, row=row, filing=filing, expected_version=expected_version)
        stored = self.values.get(institution.pk, {})
        number = 0
        for position, form_row in enumerate(self.columns):
            if not form_row.applies_to(institution.kind):
                continue
            number += 1
            element = form_row.element
            if element.pk not in parsed:
                continue
            unit.changes.append(Change(element=element, number=number, section=form_row.section, row=row,
                                       column=get_column_letter(A_FIRST_ELEMENT_COL + position),
                                       old=stored.get(element.pk), new=parsed[element.pk]))
        if not unit.has_changes:
            return unit
        if institution.pk not in self.allowed:
            unit.issues.append(Issue(_("You do not file for %(name)s.") % {"name": institution.name}, row=row,
                                     title=institution.name))
            return unit
        probe = filing or Filing(form=self.form, institution=institution, period=str(self.period),
                                 status=Filing.Status.DRAFT)
        if not service.may_edit_on(probe):
            try:
                service.raise_not_editable(probe)
            except ValidationError as exc:
                unit.issues.append(Issue(" ".join(exc.messages), row=row, title=institution.name))
            return unit
        rows = [r for r in self.columns if r.applies_to(institution.kind)]
        elements = {r.element.code: r.element for r in rows}
        values = {c.element.code: c.new for c in unit.changes}
        unit.findings = _required_finding(rows, values) + run_checks(probe, values, elements, with_history=False,
                                                                     rules=self.rules)
        return unit


def plan_alliance_upload(form: ReportForm, alliance: Alliance, period: Period, sheet: Sheet, *, user,
                         mapping: dict | None = None, saved_for=None) -> AlliancePlan:
    """Check an uploaded alliance-wide workbook and compare its figures with the stored ones. A
    constant number of queries whatever the number of institutions and elements.

    The workbook as the portal wrote it is read by its hidden identification cell, element codes
    and institution ids; a sheet of the alliance's own (机构 and one column per element, under title
    lines, in any order) is read by its header (``core.imports.columns``): institutions by name,
    elements by their titles or as the user maps them (``mapping``; ``saved_for`` gives the mapping
    saved for these headers)."""
    plan = AlliancePlan(form=form, alliance=alliance, period=period)
    if sheet.meta() is None:
        return _plan_own_layout(plan, sheet, user=user, mapping=mapping, saved_for=saved_for)
    meta, plan.file_issues = _check_meta(sheet, TEMPLATE_ALLIANCE)
    if meta is None:
        return plan
    plan.file_issues += _check_form_and_period(meta, form, period)
    if meta.get("alliance") != str(alliance.pk):
        plan.file_issues.append(Issue(_("This file was downloaded for another alliance (%(unit)s); this page is for "
                                        "%(expected)s.") % {"unit": _info_text(sheet) or "—", "expected": alliance.name}))
    if plan.file_issues:
        return plan
    context = _AllianceContext(form, alliance, period, user)
    plan.columns = context.columns
    plan.header = locate_columns(sheet, alliance_fields(context.columns))  # shown; the hidden codes decide
    by_code = {row.element.code: row for row in context.columns}

    # The hidden code row: which column holds which element.
    columns: dict[int, FormElement] = {}
    seen_codes: dict[str, str] = {}
    width = max((len(values) for values in sheet.rows.values()), default=0)
    for col in range(A_FIRST_ELEMENT_COL, width + 1):
        code = sheet.text(A_CODE_ROW, col)
        if not code:
            continue
        letter = get_column_letter(col)
        title = sheet.text(HEADER_ROW_1, col) or code
        form_row = by_code.get(code)
        if form_row is None:
            plan.file_issues.append(Issue(_("“%(code)s” is not a data item of this form.") % {"code": code},
                                          row=A_CODE_ROW, column=letter, title=title))
        elif code in seen_codes:
            plan.file_issues.append(Issue(_("%(name)s appears twice (also in column %(column)s).")
                                          % {"name": form_row.element.name, "column": seen_codes[code]},
                                          row=A_CODE_ROW, column=letter, title=title))
        else:
            seen_codes[code] = letter
            columns[col] = form_row
    for code, form_row in by_code.items():
        if code not in seen_codes:
            plan.file_issues.append(Issue(_("The column of %(name)s is missing; download the workbook again.")
                                          % {"name": form_row.element.name}))
    if plan.file_issues:
        return plan

    # One row per institution.
    seen_rows: dict[int, int] = {}
    id_title = sheet.text(HEADER_ROW_1, A_COL_ID) or T_INSTITUTION_ID
    for number in sheet.row_numbers(A_FIRST_ROW):
        if sheet.is_footer(number):
            break
        raw_id = sheet.cell(number, A_COL_ID)
        name = sheet.text(number, A_COL_NAME)
        if raw_id is None:
            if any(sheet.cell(number, col) is not None for col in columns):
                plan.file_issues.append(Issue(_("This row has figures but no institution (hidden column %(column)s); "
                                                "add no rows to the workbook.") % {"column": ID_LETTER},
                                              row=number, title=name or None))
            continue
        try:
            institution_id = int(uploads.cell_text(raw_id))
        except ValueError:
            institution_id = None
        institution = context.institutions.get(institution_id)
        if institution is None:
            plan.file_issues.append(Issue(_("%(name)s does not file this form in this alliance for %(period)s.")
                                          % {"name": name or uploads.cell_text(raw_id), "period": period.label},
                                          row=number, column=ID_LETTER, title=id_title))
            continue
        if institution.pk in seen_rows:
            plan.file_issues.append(Issue(_("%(name)s appears twice (also in row %(row)s).")
                                          % {"name": institution.name, "row": seen_rows[institution.pk]},
                                          row=number, title=institution.name))
            continue
        seen_rows[institution.pk] = number
        unit = _unit_row(context, sheet, number, institution, columns)
        plan.units.append(unit)
    for institution in context.institutions.values():
        if institution.pk not in seen_rows:
            plan.file_issues.append(Issue(_("The row of %(name)s is missing; download the workbook again.")
                                          % {"name": institution.name}))
    plan.units.sort(key=lambda u: u.row)
    return plan


def _unit_row(context: _AllianceContext, sheet: Sheet, number: int, institution: Institution,
              columns: dict[int, FormElement]) -> UnitPlan:
    """The figures of one institution's row (``columns``: column number → form row) and its plan."""
    parsed: dict[int, Decimal | None] = {}
    cell_issues = []
    for col, form_row in columns.items():
        raw = sheet.cell(number, col)
        element = form_row.element
        title = f"{institution.name} · {element.name}"
        if not form_row.applies_to(institution.kind):
            if raw is not None and uploads.cell_text(raw) not in MISSING_MARKS:
                cell_issues.append(Issue(_("Institutions of this kind do not file %(name)s; leave the cell "
                                           "empty.") % {"name": element.name},
                                         row=number, column=get_column_letter(col), title=title))
            continue
        try:
            parsed[element.pk] = parse_figure(raw, element)
        except CellError as exc:
            cell_issues.append(Issue(str(exc), row=number, column=get_column_letter(col), title=title))
    unit = context.unit(institution, number, parsed)
    unit.issues = cell_issues + unit.issues
    return unit


def _institution_keys(institutions: list[Institution], county_name: str) -> dict[str, Institution]:
    """The filers by every name a clerk writes: the full name, the short name, the name with the
    county written as 县 or left out. A name two institutions could have is not used."""
    county = _name_key(county_name)
    found: dict[str, set[int]] = {}
    by_pk = {i.pk: i for i in institutions}
    for institution in institutions:
        name = _name_key(institution.name)
        keys = {name, _name_key(institution.short_name or "")}
        if county and name.startswith(county):
            keys |= {"县" + name[len(county):], name[len(county):]}
        for key in keys - {""}:
            found.setdefault(key, set()).add(institution.pk)
    names = {key: by_pk[next(iter(pks))] for key, pks in found.items() if len(pks) == 1}
    return names | {_name_key(i.name): i for i in institutions}


def _plan_own_layout(plan: AlliancePlan, sheet: Sheet, *, user, mapping: dict | None, saved_for) -> AlliancePlan:
    form, alliance, period = plan.form, plan.alliance, plan.period
    plan.own_layout = True
    context = _AllianceContext(form, alliance, period, user)
    plan.columns = context.columns
    header = plan.header = locate_columns(sheet, alliance_fields(context.columns), given=mapping, saved_for=saved_for)
    if header is None:
        plan.file_issues.append(Issue(_(MISSING_META)))
        return plan
    by_code = {row.element.code: row for row in context.columns}
    columns = {c.index + 1: by_code[c.field] for c in header.columns if c.field in by_code}
    if not columns:
        header.errors.append(_("No column is mapped to a data element of this form: map the columns of figures to "
                               "their data elements."))
    if header.errors:
        plan.file_issues += [Issue(text) for text in header.errors]
        return plan
    by_field = header.by_field
    id_column = by_field.get("institution_id")
    name_column = by_field["institution"]
    names = _institution_keys(list(context.institutions.values()), alliance.county.name)
    seen_rows: dict[int, int] = {}
    for number in sheet.row_numbers(header.header_row + 1):
        if sheet.is_footer(number):
            break
        name = sheet.text(number, name_column.index + 1)
        has_figures = any(sheet.cell(number, col) not in (None, "") for col in columns)
        institution = None
        if id_column is not None and sheet.cell(number, id_column.index + 1) is not None:
            try:
                institution = context.institutions.get(int(sheet.text(number, id_column.index + 1)))
            except ValueError:
                institution = None
        elif name:
            institution = names.get(_name_key(name)) or names.get(engine.normalise_title(name))
        if institution is None:
            if not name and not has_figures:
                continue
            if not name:
                plan.file_issues.append(Issue(_("This row has figures but no institution (column %(column)s).")
                                              % {"column": name_column.letter}, row=number))
            elif has_figures:
                plan.file_issues.append(Issue(_("%(name)s does not file this form in this alliance for %(period)s.")
                                              % {"name": name, "period": period.label}, row=number,
                                              column=name_column.letter,
                                              title=_header_title(sheet, header, name_column)))
            continue  # a line of text without figures (a subtotal title, a note)
        if institution.pk in seen_rows:
            plan.file_issues.append(Issue(_("%(name)s appears twice (also in row %(row)s).")
                                          % {"name": institution.name, "row": seen_rows[institution.pk]},
                                          row=number, title=institution.name))
            continue
        seen_rows[institution.pk] = number
        plan.units.append(_unit_row(context, sheet, number, institution, columns))
    return plan


def plan_alliance_payload(form: ReportForm, alliance: Alliance, period: Period, payload: dict, *,
                          user) -> AlliancePlan:
    """The plan of a previewed upload, checked again against the database of this moment (who
    files, membership, editability); the versions stay those read at preview time."""
    plan = AlliancePlan(form=form, alliance=alliance, period=period)
    context = _AllianceContext(form, alliance, period, user)
    plan.columns = context.columns
    known = {row.element_id for row in context.columns}
    for entry in payload["units"]:
        institution = context.institutions.get(entry["institution"])
        values = _values_from_json(entry["values"])
        if institution is None or set(values) - known:
            plan.file_issues.append(Issue(_("The data in the portal changed since the preview and the file no longer "
                                            "fits it. Nothing was saved.")))
            return plan
        plan.units.append(context.unit(institution, entry["row"], values, expected_version=entry["version"]))
    return plan


def apply_alliance_plan(plan: AlliancePlan, *, user) -> list[service.SaveResult]:
    """Write every changed filing of the plan in one transaction (opening the filings that do not
    exist yet): all or nothing. Raises ``ImportFailed`` naming the institution when one filing
    cannot be written (changed since the preview, locked)."""
    results = []
    with transaction.atomic():
        for unit in plan.changed_units:
            try:
                filing = unit.filing or service.open_filing(plan.form, unit.institution, plan.period, user=user)
                filing.form = plan.form
                expected = unit.expected_version if unit.expected_version is not None else 1
                results.append(service.save_values(filing, unit.values(), user=user, expected_version=expected,
                                                   source=FilingEvent.Action.IMPORT))
            except ValidationError as exc:
                raise ImportFailed([Issue(" ".join(exc.messages), row=unit.row, title=unit.institution.name)]) from None
    return results
