"""Reading an upload: size and real type by content, .xlsx or .csv (UTF-8, UTF-16 or GB18030),
the header row found by its column titles, and the data rows up to the footer."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from alliances.exports import REGISTER_COLUMN_BY_KEY
from alliances.imports.cells import _is_blank
from alliances.imports.results import Issue, RawTable
from core import uploads
from core.imports import columns as columns_
from core.imports.columns import ColumnPlan, Field
from core.uploads import OLE_SIGNATURE, ZIP_SIGNATURE

logger = logging.getLogger(__package__)  # "alliances.imports"

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_DATA_ROWS = 5000
MAX_COLUMNS = 60
HEADER_SEARCH_ROWS = columns_.HEADER_SEARCH_ROWS
BLANK_RUN_LIMIT = 500  # this many empty rows in a row end the sheet (formatted but empty rows)


# Column titles the importer recognises, by field; the first is the official title (exports.py).
TITLE_ALIASES: dict[str, tuple[str, ...]] = {
    "seq": ("编号",),
    "name": ("单位名称", "医疗机构名称", "名称"),
    "short_name": ("机构简称",),
    "kind": ("机构类型", "类别", "类型"),
    "parent": ("所属乡镇卫生院", "所属机构", "管理机构"),
    "credit_code": ("社会信用代码", "信用代码"),
    "beds": ("床位", "编制床位数", "实有床位数"),
    "service_population": ("服务人口数",),
    "alliance": ("医共体",),
    "role": ("医共体角色",),
    "joined": ("加入时间",),
    "status": (),
}
REQUIRED_KEYS = ("name", "kind")
# The register's fields for ``core.imports.columns``: the official title and its aliases.
FIELDS = tuple(
    Field(key, REGISTER_COLUMN_BY_KEY[key].title, (REGISTER_COLUMN_BY_KEY[key].title, *aliases),
          required=key in REQUIRED_KEYS)
    for key, aliases in TITLE_ALIASES.items())
# Columns read but not imported.
IGNORED_KEYS = ("seq", "status")
# Footer rows of the official layout (and notes below a table) end the data.
TOTAL_TEXTS = ("合计", "总计", "小计")
FOOTER_PREFIXES = ("填报人", "审核人", "填表人", "制表人", "负责人", "说明", "注：", "注:", "备注：", "备注:")


@dataclass
class RegisterRead:
    """What reading gave: the table or the problems; the column plan when a header was found (the
    preview's mapping panel) and the file's bytes (for a new mapping of the same file)."""

    table: RawTable | None
    problems: list[Issue]
    columns: ColumnPlan | None = None
    data: bytes = b""
    name: str = ""


def read_upload(upload, *, mapping: dict | None = None, saved_for=None) -> tuple[RawTable | None, list[Issue]]:
    """Check and read an uploaded file (a Django ``UploadedFile``). Returns the table, or None and
    the reasons the file cannot be read."""
    result = read_register(upload, mapping=mapping, saved_for=saved_for)
    return result.table, result.problems


def read_register(upload, *, mapping: dict | None = None, saved_for=None) -> RegisterRead:
    """``read_upload`` with what a mapping step needs (``core.imports.columns``)."""
    name = Path(upload.name or "").name
    options = {"mapping": mapping, "saved_for": saved_for}
    result = _read_file(upload, name, options)
    if isinstance(result, RegisterRead):
        return result
    table, issues = result
    return RegisterRead(table, issues)


def read_register_data(data: bytes, name: str, *, mapping: dict | None = None, saved_for=None) -> RegisterRead:
    result = _read_bytes(data, name, {"mapping": mapping, "saved_for": saved_for})
    if isinstance(result, RegisterRead):
        return result
    return RegisterRead(result[0], result[1])


def _read_file(upload, name: str, options: dict):
    suffix = Path(name).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        return None, [Issue(_("“%(name)s” is neither an .xlsx workbook nor a .csv file. Upload the register "
                              "as .xlsx (Excel) or .csv.") % {"name": name})]
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        return None, [_too_large(name, upload.size)]
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return None, [_too_large(name, len(data))]
    return _read_bytes(data, name, options)


def _read_bytes(data: bytes, name: str, options: dict):
    suffix = Path(name).suffix.lower()
    if not data.strip():
        return None, [Issue(_("“%(name)s” is empty.") % {"name": name})]
    kind = uploads.sniff_zip(data)
    is_xlsx = kind == uploads.XLSX or kind in uploads.REFUSED_KINDS
    if suffix == ".xlsx":
        refused = uploads.refusal(kind, name)  # zip bomb, macros, XML entities: as every upload says it
        if refused:
            return None, [Issue(refused)]
        if not is_xlsx:
            if data.startswith(OLE_SIGNATURE):
                return None, [Issue(_("“%(name)s” is an old-style Excel file (.xls) renamed .xlsx. Open it in "
                                      "Excel and save it as “Excel workbook (*.xlsx)”.") % {"name": name})]
            return None, [Issue(_("“%(name)s” is not an Excel workbook: its content is not in the .xlsx format, "
                                  "whatever its name says.") % {"name": name})]
        return _kept(_read_xlsx(data, name, options), data, name)
    if is_xlsx or data.startswith((ZIP_SIGNATURE, OLE_SIGNATURE)):
        return None, [Issue(_("“%(name)s” is named .csv but is an Excel workbook, not a text file. Upload it "
                              "with the .xlsx extension, or save it from Excel as “CSV UTF-8”.") % {"name": name})]
    text = uploads.decode_text(data)
    if text is None:
        return None, [Issue(_("“%(name)s” is not a text CSV file (it is not UTF-8 or GB18030 text).")
                            % {"name": name})]
    return _kept(_read_csv(text, name, options), data, name)


def _kept(result, data: bytes, name: str):
    if isinstance(result, RegisterRead):
        result.data, result.name = data, name
    return result


def _too_large(name: str, size: int) -> Issue:
    return Issue(_("“%(name)s” is %(size).1f MB; the limit is %(limit)s MB. Upload only the register sheet.")
                 % {"name": name, "size": size / (1024 * 1024), "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})


def _read_xlsx(data: bytes, name: str, options: dict):
    try:
        workbook = uploads.Workbook(data)
    except Exception:  # openpyxl raises many kinds of errors on damaged files
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in "
                              "Excel, save it again and upload it.") % {"name": name})]
    try:
        return _read_rows(workbook.rows(MAX_COLUMNS), name=name, file_format="xlsx", **options)
    except Exception:
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in "
                              "Excel, save it again and upload it.") % {"name": name})]
    finally:
        workbook.close()


def _read_csv(text: str, name: str, options: dict):
    try:
        return _read_rows(uploads.csv_rows(text, max_col=MAX_COLUMNS), name=name, file_format="csv", **options)
    except csv.Error as exc:
        return None, [Issue(_("“%(name)s” is not a well-formed CSV file (%(error)s).")
                            % {"name": name, "error": exc})]


def _read_rows(rows, *, name: str, file_format: str, mapping: dict | None = None, saved_for=None) -> RegisterRead:
    """Find the header among the first rows (``core.imports.columns``: known titles, a two-row
    header under merged cells, the user's or the county's saved mapping), then read the data rows
    up to the footer."""
    head: list[tuple[int, list]] = []
    rows = iter(rows)
    for number, values in rows:
        head.append((number, values))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    plan = columns_.locate(head, FIELDS, given=mapping, saved_for=saved_for)
    if plan is None or not plan.by_field:
        titles = "、".join(REGISTER_COLUMN_BY_KEY[k].title for k in REQUIRED_KEYS)
        return RegisterRead(None, [Issue(_("No header row was found in the first %(n)s rows of “%(name)s”: the "
                                           "register needs a row with the column titles %(titles)s.")
                                         % {"n": HEADER_SEARCH_ROWS, "name": name, "titles": titles})], plan)
    header_end = plan.position
    first_header, last_header = plan.header_row - plan.header_rows + 1, plan.header_row
    if plan.errors:
        return RegisterRead(None, [Issue(text, row=last_header) for text in plan.errors], plan)
    columns = {key: (column.letter, column.title) for key, column in plan.by_field.items()}
    ignored = [(c.letter, c.title) for c in plan.columns if c.title and not c.field]
    index_of = {key: uploads.column_index(letter) for key, (letter, _t) in columns.items()}
    data_rows: list[tuple[int, dict[str, Any]]] = []
    blank_run = 0

    def remaining():
        yield from head[header_end + 1:]
        yield from rows

    for number, values in remaining():
        if _is_footer(values):
            break
        cells = {key: (values[i] if i < len(values) else None) for key, i in index_of.items()}
        if all(_is_blank(v) for k, v in cells.items() if k not in IGNORED_KEYS):
            blank_run += 1
            if blank_run >= BLANK_RUN_LIMIT:
                break
            continue
        blank_run = 0
        if len(data_rows) >= MAX_DATA_ROWS:
            return RegisterRead(None, [Issue(_("“%(name)s” has more than %(n)s rows; import the register in parts.")
                                             % {"name": name, "n": MAX_DATA_ROWS})], plan)
        data_rows.append((number, {k: v for k, v in cells.items() if k not in IGNORED_KEYS}))
    if not data_rows:
        return RegisterRead(None, [Issue(_("“%(name)s” has a header (row %(row)s) but no data rows below it.")
                                         % {"name": name, "row": last_header})], plan)
    table = RawTable(filename=name, file_format=file_format, header_rows=(first_header, last_header),
                     columns=columns, ignored_columns=ignored, rows=data_rows, mapping=plan.to_json())
    return RegisterRead(table, [], plan)


def _is_footer(values: list) -> bool:
    """The 填报人 / 审核人 / 日期 footer (or a note below the table): the first filled cell starts with
    one of the footer words and every filled cell is a footer text. A 合计 row ends the data too."""
    filled = [v for v in values if not _is_blank(v)]
    if not filled or not isinstance(filled[0], str):
        return False
    if filled[0].replace(" ", "") in TOTAL_TEXTS:
        return True
    if not filled[0].startswith(FOOTER_PREFIXES):
        return False
    return all(isinstance(v, str) and v.startswith((*FOOTER_PREFIXES, "日期")) for v in filled)
