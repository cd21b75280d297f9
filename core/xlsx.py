"""Writing cells of the workbooks the portal hands out, so that text a person typed stays text.

openpyxl decides a cell's type from its value: a str that starts with "=" becomes a formula (a name
typed as ``=HYPERLINK("http://evil.example","点")`` turns into a live link in 机构名册.xlsx), "#N/A"
becomes an error value, and control characters other than TAB, LF and CR make it raise (a 500 on
export). ``put`` / ``set_value`` / ``append`` write a value the portal's way, and ``save`` is the last
guard before the bytes leave.

The portal's one policy on formula injection (issue 16), for every export and every import:

- **Exports**: every str is written as a text cell (``data_type`` "s"), whatever it begins with
  (``= + - @``, TAB, CR); text that begins with one of those is also marked "quote prefix" (the
  apostrophe Excel shows in the formula bar), so that editing the cell in Excel keeps it text.
  Numbers, dates and Decimals stay numbers and dates. The portal writes no formula of its own: ``save``
  turns any formula cell that reached it into text (a writer that went around ``put``).
- **Imports**: text is kept exactly as typed (trimmed like any cell) and never refused for its first
  character: "+86 138…", "-", "=" inside a name are data, and a value can no longer become a formula
  on the way out, since every export writes text as text. A formula in an uploaded workbook is never
  evaluated nor kept: importers read the value Excel saved with it (``core.uploads.Workbook``,
  ``data_only``), as the clerk saw it. Numeric columns keep refusing what is not a number ("-2+3",
  "=1+1") with their usual message naming the cell.

Refusing such text at import instead would have to be repeated in every importer, every form and
the API, would refuse legitimate data (phones, "-", negative-looking codes) and would still leave
the exports open to what is already stored; writing text as text closes the one door there is.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

# What makes Excel (or LibreOffice, or a CSV saved from the sheet) read text as a formula when it is
# typed or pasted: the probe's =, +, -, @ and the TAB or CR that hides them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SHEET_TITLE_UNSAFE = re.compile(r"[\[\]:*?/\\]")


def clean_text(value: str) -> str:
    """``value`` without the characters an .xlsx cannot hold (control characters other than TAB, LF
    and CR): dropped rather than failing the whole export."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def set_value(cell: Cell, value: Any) -> Cell:
    """Give ``cell`` its value the portal's way: a str is a text cell (never a formula or an error
    value), quote-prefixed when it begins like a formula; anything else as openpyxl writes it. Call it
    after styling the cell when the style replaces the whole style array (``cell._style = …``)."""
    if isinstance(value, str):
        value = clean_text(value)
        cell.value = value
        cell.data_type = "s"
        if value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True
    else:
        cell.value = value
    return cell


def put(ws: Worksheet, row: int, column: int, value: Any = None) -> Cell:
    """Write ``value`` at (``row``, ``column``) of ``ws`` (see ``set_value``); the cell. None leaves
    the cell's value as it is (as ``ws.cell(…, value=None)`` does)."""
    cell = ws.cell(row=row, column=column)
    return cell if value is None else set_value(cell, value)


def append(ws: Worksheet, values: list | tuple) -> None:
    """``ws.append(values)`` with every value written by ``set_value``: the row under the last one
    written, an empty ``values`` leaving an empty row."""
    row = ws._current_row + 1  # where ws.append writes
    for column, value in enumerate(values, start=1):
        put(ws, row, column, value)
    ws._current_row = row


def sheet_title(text: str) -> str:
    """A sheet name made of ``text`` that Excel accepts: none of [ ] : * ? / \\, no apostrophe at
    either end, at most 31 characters."""
    return _SHEET_TITLE_UNSAFE.sub("_", clean_text(text)).strip("'")[:31].strip("'") or "Sheet1"


def neutralise(wb: Workbook) -> int:
    """Turn every formula or error cell of ``wb`` into text (the portal writes neither); how many
    there were. Costs one pass over the cells in memory (no parsing)."""
    changed = 0
    for ws in wb.worksheets:
        for cell in ws._cells.values():
            if cell.data_type in ("f", "e"):
                set_value(cell, str(cell.value))
                changed += 1
    return changed


def save(wb: Workbook) -> bytes:
    """The workbook as .xlsx bytes, after ``neutralise``."""
    neutralise(wb)
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
