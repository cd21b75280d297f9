"""Reading an upload: its size, then ``core.imports.reading`` (real type by content, .xlsx or .csv in
UTF-8 or GB18030, merged cells filled from their top-left cell), the header row found by its column
titles (``core.imports.columns``), and the data rows up to the footer."""

from __future__ import annotations

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
from core.imports import reading
from core.imports.columns import ColumnPlan, Field
from core.uploads import OLE_SIGNATURE, ZIP_SIGNATURE  # noqa: F401  (re-exported by alliances.imports)

logger = logging.getLogger(__package__)  # "alliances.imports"

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_DATA_ROWS = 5000
MAX_COLUMNS = 60
HEADER_SEARCH_ROWS = columns_.HEADER_SEARCH_ROWS
BLANK_RUN_LIMIT = 500  # this many empty rows in a row end the sheet (formatted but empty rows)
# Rows with any text that ``core.imports.reading`` reads at most: the data rows, the header and title
# lines above them and what follows the footer (the data rows' own limit gives the message).
MAX_READ_ROWS = 2 * MAX_DATA_ROWS


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


@dataclass(frozen=True)
class Layout:
    """What a register of this package reads: its fields, the columns read but not kept, and the
    titles the message names when no header is found."""

    fields: tuple[Field, ...]
    ignored_keys: tuple[str, ...]
    required_titles: tuple[str, ...]


INSTITUTIONS = Layout(FIELDS, IGNORED_KEYS, tuple(REGISTER_COLUMN_BY_KEY[k].title for k in REQUIRED_KEYS))


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


def read_register(upload, *, mapping: dict | None = None, saved_for=None, layout: Layout = INSTITUTIONS) -> RegisterRead:
    """``read_upload`` with what a mapping step needs (``core.imports.columns``)."""
    name = Path(upload.name or "").name
    if Path(name).suffix.lower() not in (".xlsx", ".csv"):
        return RegisterRead(None, [_not_a_register(name)])
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        return RegisterRead(None, [_too_large(name, upload.size)])
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return RegisterRead(None, [_too_large(name, len(data))])
    return read_register_data(data, name, mapping=mapping, saved_for=saved_for, layout=layout)


def read_register_data(data: bytes, name: str, *, mapping: dict | None = None, saved_for=None,
                       layout: Layout = INSTITUTIONS) -> RegisterRead:
    """The register in ``data`` (an upload's bytes kept for a new mapping), read by
    ``core.imports.reading`` (type by content, encodings, merged cells filled), then its table."""
    suffix = Path(name).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        return RegisterRead(None, [_not_a_register(name)])
    if suffix == ".xlsx" and data.startswith(OLE_SIGNATURE):
        return RegisterRead(None, [Issue(_("“%(name)s” is an old-style Excel file (.xls) renamed .xlsx. Open it "
                                           "in Excel and save it as “Excel workbook (*.xlsx)”.") % {"name": name})])
    sheet, problems = read_sheet(data, name, max_columns=MAX_COLUMNS, max_rows=MAX_READ_ROWS)
    if sheet is None:
        return RegisterRead(None, problems)
    result = _read_rows(sheet.rows, name=name, file_format=suffix[1:], mapping=mapping, saved_for=saved_for,
                        layout=layout)
    result.data, result.name = data, name
    return result


def read_sheet(data: bytes, name: str, *, max_columns: int, max_rows: int):
    """``core.imports.reading.read_data``, with a workbook that breaks while its rows are read
    (openpyxl raises many kinds of errors on damaged files) answered as an unreadable file."""
    try:
        return reading.read_data(data, name, max_columns=max_columns, max_rows=max_rows)
    except Exception:
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in "
                              "Excel, save it again and upload it.") % {"name": name})]


def _not_a_register(name: str) -> Issue:
    return Issue(_("“%(name)s” is neither an .xlsx workbook nor a .csv file. Upload the register "
                   "as .xlsx (Excel) or .csv.") % {"name": name})


def _too_large(name: str, size: int) -> Issue:
    return Issue(_("“%(name)s” is %(size).1f MB; the limit is %(limit)s MB. Upload only the register sheet.")
                 % {"name": name, "size": size / (1024 * 1024), "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})


def first_header_row(head: list[tuple[int, list]], plan: ColumnPlan) -> int:
    """The sheet's first header row. Merged cells are read filled: a title merged down two header rows
    (序号 over 序号) makes the row above the found header part of it (a group's title sits there)."""
    first = plan.header_row - plan.header_rows + 1
    top = plan.position - plan.header_rows + 1
    if top > 0 and head[top - 1][0] == first - 1:
        above, below = head[top - 1][1], head[top][1]
        shared = [i for i, v in enumerate(below) if not _is_blank(v) and i < len(above) and above[i] == v]
        filled = [v for v in below if not _is_blank(v)]
        if filled and len(shared) * 2 >= len(filled):
            return first - 1
    return first


def _read_rows(rows, *, name: str, file_format: str, mapping: dict | None = None, saved_for=None,
               layout: Layout = INSTITUTIONS) -> RegisterRead:
    """Find the header among the first rows (``core.imports.columns``: known titles, a two-row
    header under merged cells, the user's or the county's saved mapping), then read the data rows
    up to the footer."""
    head: list[tuple[int, list]] = []
    rows = iter(rows)
    for number, values in rows:
        head.append((number, values))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    plan = columns_.locate(head, layout.fields, given=mapping, saved_for=saved_for)
    ignored_keys = layout.ignored_keys
    if plan is None or not plan.by_field:
        titles = "、".join(layout.required_titles)
        return RegisterRead(None, [Issue(_("No header row was found in the first %(n)s rows of “%(name)s”: the "
                                           "register needs a row with the column titles %(titles)s.")
                                         % {"n": HEADER_SEARCH_ROWS, "name": name, "titles": titles})], plan)
    header_end = plan.position
    first_header, last_header = first_header_row(head, plan), plan.header_row
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
        if all(_is_blank(v) for k, v in cells.items() if k not in ignored_keys):
            blank_run += 1
            if blank_run >= BLANK_RUN_LIMIT:
                break
            continue
        blank_run = 0
        if len(data_rows) >= MAX_DATA_ROWS:
            return RegisterRead(None, [Issue(_("“%(name)s” has more than %(n)s rows; import the register in parts.")
                                             % {"name": name, "n": MAX_DATA_ROWS})], plan)
        data_rows.append((number, {k: v for k, v in cells.items() if k not in ignored_keys}))
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
