"""Reading an upload: size and real type by content, .xlsx or .csv (UTF-8, UTF-16 or GB18030),
the header row found by its column titles, and the data rows up to the footer."""

from __future__ import annotations

import csv
import logging
import re
import unicodedata
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from openpyxl.utils import get_column_letter

from alliances.exports import REGISTER_COLUMN_BY_KEY
from alliances.imports.cells import _is_blank
from alliances.imports.results import Issue, RawTable
from core import uploads
from core.uploads import OLE_SIGNATURE, ZIP_SIGNATURE

logger = logging.getLogger(__package__)  # "alliances.imports"

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_DATA_ROWS = 5000
MAX_COLUMNS = 60
HEADER_SEARCH_ROWS = 6
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
# Columns read but not imported.
IGNORED_KEYS = ("seq", "status")
# Footer rows of the official layout (and notes below a table) end the data.
TOTAL_TEXTS = ("合计", "总计", "小计")
FOOTER_PREFIXES = ("填报人", "审核人", "填表人", "制表人", "负责人", "说明", "注：", "注:", "备注：", "备注:")


def _normalise_title(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value or ""))
    text = re.sub(r"\s+", "", text).replace("*", "")
    return re.sub(r"\([^()]*\)$", "", text)  # 床位数(张) → 床位数 (NFKC made the brackets ASCII)


def _title_lookup() -> dict[str, str]:
    lookup = {}
    for key, aliases in TITLE_ALIASES.items():
        for title in (REGISTER_COLUMN_BY_KEY[key].title, *aliases):
            lookup[_normalise_title(title)] = key
    return lookup


def read_upload(upload) -> tuple[RawTable | None, list[Issue]]:
    """Check and read an uploaded file (a Django ``UploadedFile``). Returns the table, or None and
    the reasons the file cannot be read."""
    name = Path(upload.name or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        return None, [Issue(_("“%(name)s” is neither an .xlsx workbook nor a .csv file. Upload the register "
                              "as .xlsx (Excel) or .csv.") % {"name": name})]
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        return None, [_too_large(name, upload.size)]
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return None, [_too_large(name, len(data))]
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
        return _read_xlsx(data, name)
    if is_xlsx or data.startswith((ZIP_SIGNATURE, OLE_SIGNATURE)):
        return None, [Issue(_("“%(name)s” is named .csv but is an Excel workbook, not a text file. Upload it "
                              "with the .xlsx extension, or save it from Excel as “CSV UTF-8”.") % {"name": name})]
    text = uploads.decode_text(data)
    if text is None:
        return None, [Issue(_("“%(name)s” is not a text CSV file (it is not UTF-8 or GB18030 text).")
                            % {"name": name})]
    return _read_csv(text, name)


def _too_large(name: str, size: int) -> Issue:
    return Issue(_("“%(name)s” is %(size).1f MB; the limit is %(limit)s MB. Upload only the register sheet.")
                 % {"name": name, "size": size / (1024 * 1024), "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})


def _read_xlsx(data: bytes, name: str) -> tuple[RawTable | None, list[Issue]]:
    try:
        workbook = uploads.Workbook(data)
    except Exception:  # openpyxl raises many kinds of errors on damaged files
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in "
                              "Excel, save it again and upload it.") % {"name": name})]
    try:
        return _read_rows(workbook.rows(MAX_COLUMNS), name=name, file_format="xlsx")
    except Exception:
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in "
                              "Excel, save it again and upload it.") % {"name": name})]
    finally:
        workbook.close()


def _read_csv(text: str, name: str) -> tuple[RawTable | None, list[Issue]]:
    try:
        return _read_rows(uploads.csv_rows(text, max_col=MAX_COLUMNS), name=name, file_format="csv")
    except csv.Error as exc:
        return None, [Issue(_("“%(name)s” is not a well-formed CSV file (%(error)s).")
                            % {"name": name, "error": exc})]


def _read_rows(rows, *, name: str, file_format: str) -> tuple[RawTable | None, list[Issue]]:
    """Find the header among the first rows, then read the data rows up to the footer."""
    lookup = _title_lookup()
    head: list[tuple[int, list]] = []
    rows = iter(rows)
    for number, values in rows:
        head.append((number, values))
        if number >= HEADER_SEARCH_ROWS + 1:
            break

    # The header block: the first row with known titles, and the rows right below it whose every
    # filled cell is a known title in a column not titled yet (two header rows under merged cells).
    recognised = [(n, {i: lookup.get(_normalise_title(v)) for i, v in enumerate(vals) if not _is_blank(v)})
                  for n, vals in head]
    start = next((pos for pos, (n, cells) in enumerate(recognised)
                  if n <= HEADER_SEARCH_ROWS and any(cells.values())), None)
    if start is None:
        titles = "、".join(REGISTER_COLUMN_BY_KEY[k].title for k in REQUIRED_KEYS)
        return None, [Issue(_("No header row was found in the first %(n)s rows of “%(name)s”: the register needs "
                              "a row with the column titles %(titles)s.")
                            % {"n": HEADER_SEARCH_ROWS, "name": name, "titles": titles})]
    columns: dict[str, tuple[str, str]] = {}
    ignored: list[tuple[str, str]] = []
    issues: list[Issue] = []
    titled: set[int] = set()
    header_end = start
    for pos in range(start, len(recognised)):
        number, cells = recognised[pos]
        if pos > start and not (cells and all(cells.values()) and not titled & set(cells)):
            break
        header_end = pos
        values = head[pos][1]
        for index, key in cells.items():
            letter, title = get_column_letter(index + 1), str(values[index]).strip()
            if key is None:
                continue
            titled.add(index)
            if key in columns:
                issues.append(Issue(_("the column “%(title)s” appears twice (columns %(first)s and %(second)s); "
                                      "keep one.") % {"title": title, "first": columns[key][0], "second": letter},
                                    row=number, column=letter, title=title))
                continue
            columns[key] = (letter, title)
    first_header, last_header = recognised[start][0], recognised[header_end][0]
    # Titles we do not know, in the header rows (group titles above known columns are not reported).
    for pos in range(start, header_end + 1):
        number, cells = recognised[pos]
        for index, key in cells.items():
            letter = get_column_letter(index + 1)
            if key is None and not any(letter == c[0] for c in columns.values()) and pos == header_end:
                ignored.append((letter, str(head[pos][1][index]).strip()))
    for key in REQUIRED_KEYS:
        if key not in columns:
            title = REGISTER_COLUMN_BY_KEY[key].title
            issues.append(Issue(_("the header has no column “%(title)s”; it is required.") % {"title": title},
                                row=last_header, title=title))
    if issues:
        return None, issues

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
            return None, [Issue(_("“%(name)s” has more than %(n)s rows; import the register in parts.")
                                % {"name": name, "n": MAX_DATA_ROWS})]
        data_rows.append((number, {k: v for k, v in cells.items() if k not in IGNORED_KEYS}))
    if not data_rows:
        return None, [Issue(_("“%(name)s” has a header (row %(row)s) but no data rows below it.")
                            % {"name": name, "row": last_header})]
    return RawTable(filename=name, file_format=file_format, header_rows=(first_header, last_header),
                    columns=columns, ignored_columns=ignored, rows=data_rows), []


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
