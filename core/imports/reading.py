"""Reading any register's file: .xlsx (the container checks every upload gets) or .csv in UTF-8 or
GB18030, into numbered rows with merged cells filled from their top-left cell. Nothing here knows
a register; problems come back as ``core.issues.Issue`` with Chinese messages."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from core import uploads
from core.issues import Issue

logger = logging.getLogger(__name__)


@dataclass
class Sheet:
    name: str
    rows: list[tuple[int, list]] = field(default_factory=list)
    data: bytes = b""


def read_upload(upload, *, max_bytes: int, max_columns: int, max_rows: int,
                sheet_name: str | None = None) -> tuple[Sheet | None, list[Issue]]:
    name = Path(upload.name or "").name
    data = uploads.read_limited(upload, max_bytes)
    if data is None:
        return None, [Issue(_("“%(name)s” is larger than %(limit)s MB; split it and import the parts.")
                            % {"name": name, "limit": max_bytes // (1024 * 1024)})]
    return read_data(data, name, max_columns=max_columns, max_rows=max_rows, sheet_name=sheet_name)


def read_data(data: bytes, name: str, *, max_columns: int, max_rows: int,
              sheet_name: str | None = None) -> tuple[Sheet | None, list[Issue]]:
    """An .xlsx workbook's sheet called ``sheet_name`` where it has one (else its active sheet), or a .csv file."""
    suffix = Path(name).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        return None, [Issue(_("“%(name)s” is neither an .xlsx workbook nor a .csv file. Save it from Excel as "
                              "“Excel workbook (*.xlsx)” and upload that.") % {"name": name})]
    if not data.strip():
        return None, [Issue(_("“%(name)s” is empty.") % {"name": name})]
    kind = uploads.sniff_zip(data)
    sheet = Sheet(name=name, data=data)
    if suffix == ".xlsx":
        refused = uploads.refusal(kind, name)
        if refused:
            return None, [Issue(refused)]
        if kind != uploads.XLSX:
            return None, [Issue(_("“%(name)s” is not an Excel workbook: its content is not in the .xlsx format, "
                                  "whatever its name says.") % {"name": name})]
        try:
            workbook = uploads.Workbook(data, sheet=sheet_name)
        except Exception:  # openpyxl raises many kinds of errors on damaged files
            logger.info("unreadable workbook %r", name, exc_info=True)
            return None, [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it "
                                  "in Excel, save it again and upload it.") % {"name": name})]
        try:
            return _collect(sheet, workbook.rows(max_columns), _merged(workbook, max_columns), max_rows)
        finally:
            workbook.close()
    if kind == uploads.XLSX or data.startswith((uploads.ZIP_SIGNATURE, uploads.OLE_SIGNATURE)):
        return None, [Issue(_("“%(name)s” is named .csv but is an Excel workbook, not a text file. Upload it with "
                              "the .xlsx extension, or save it from Excel as “CSV UTF-8”.") % {"name": name})]
    text = uploads.decode_text(data)
    if text is None:
        return None, [Issue(_("“%(name)s” is not a text CSV file (it is not UTF-8 or GB18030 text).")
                            % {"name": name})]
    try:
        return _collect(sheet, uploads.csv_rows(text, max_col=max_columns), {}, max_rows)
    except csv.Error as exc:
        return None, [Issue(_("“%(name)s” is not a well-formed CSV file (%(error)s).") % {"name": name, "error": exc})]


def _merged(workbook: uploads.Workbook, max_columns: int) -> dict[tuple[int, int], tuple[int, int]]:
    """{(row, column) of a merged cell: (row, column) of its range's top-left cell}."""
    merged = {}
    for min_col, min_row, max_col, max_row in workbook.merged_ranges():
        for row in range(min_row, max_row + 1):
            for col in range(min_col, min(max_col, max_columns) + 1):
                if (row, col) != (min_row, min_col):
                    merged[(row, col)] = (min_row, min_col)
    return merged


def read_sheets(data: bytes, name: str, *, max_columns: int, max_rows: int
                ) -> tuple[list[tuple[str, Sheet]], list[Issue]]:
    """Every worksheet of an .xlsx workbook with its name, in the workbook's order, empty sheets left
    out (``max_rows`` counts the rows of all sheets); a .csv file is one sheet named by the file.
    The same checks as ``read_data`` (which reads whatever is not an .xlsx package)."""
    if Path(name).suffix.lower() != ".xlsx" or uploads.sniff_zip(data) != uploads.XLSX:
        sheet, problems = read_data(data, name, max_columns=max_columns, max_rows=max_rows)
        return ([(Path(name).stem, sheet)] if sheet is not None else []), problems
    try:
        workbook = uploads.Workbook(data)
    except Exception:  # openpyxl raises many kinds of errors on damaged files
        logger.info("unreadable workbook %r", name, exc_info=True)
        return [], [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it "
                            "in Excel, save it again and upload it.") % {"name": name})]
    sheets: list[tuple[str, Sheet]] = []
    left = max_rows
    try:
        for title in workbook.sheet_names:
            workbook.select(title)
            sheet = Sheet(name=name, data=data)
            found, problems = _collect(sheet, workbook.rows(max_columns), _merged(workbook, max_columns), left)
            if found is None and sheet.rows:
                return [], problems  # too many rows
            if found is not None:
                sheets.append((title, found))
                left -= len(found.rows)
    finally:
        workbook.close()
    if not sheets:
        return [], [Issue(_("“%(name)s” is empty.") % {"name": name})]
    return sheets, []


def _collect(sheet: Sheet, rows, merged: dict, max_rows: int) -> tuple[Sheet | None, list[Issue]]:
    values: dict[tuple[int, int], object] = {}
    origins = set(merged.values())
    for number, cells in rows:
        if merged:
            cells = list(cells)
            for col in range(1, len(cells) + 1):
                origin = merged.get((number, col))
                if origin is not None:
                    cells[col - 1] = values.get(origin)
                elif (number, col) in origins:
                    values[(number, col)] = cells[col - 1]
        if any(v not in (None, "") for v in cells):
            sheet.rows.append((number, cells))
            if len(sheet.rows) > max_rows:
                return None, [Issue(_("“%(name)s” has more than %(n)s rows; import it in parts.")
                                    % {"name": sheet.name, "n": max_rows})]
    if not sheet.rows:
        return None, [Issue(_("“%(name)s” is empty.") % {"name": sheet.name})]
    return sheet, []
