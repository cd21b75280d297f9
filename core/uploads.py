"""Uploaded spreadsheets, before anything is understood of their content: the real type by content
(not by name), macros, zip bombs, text encodings, and the rows of an .xlsx or .csv file with
their numbers.

Every importer of the portal (institution register, task ledgers, later filings) reads its
files through these helpers, so a renamed binary, an .xlsm with macros or a CSV saved by
Chinese Excel are told apart the same way everywhere.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and other legacy Office files
ZIP_SIGNATURE = b"PK\x03\x04"
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # a few MB of workbook that inflates beyond this is not a table

# What ``sniff_zip`` says of bytes that start like a zip.
XLSX, XLSM, TOO_BIG, NOT_XLSX = "xlsx", "xlsm", "too_big", "not_xlsx"

_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


def read_limited(upload, max_bytes: int) -> bytes | None:
    """The upload's bytes, or None when it is larger than ``max_bytes`` (read no further)."""
    if upload.size is not None and upload.size > max_bytes:
        return None
    data = upload.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def sniff_zip(data: bytes) -> str:
    """What an Office Open XML file really is: ``XLSX``; ``XLSM`` when it carries macros (a VBA
    project, or a macro-enabled content type, whatever its name says); ``TOO_BIG`` when it would
    unpack to more than ``MAX_UNZIPPED_BYTES``; ``NOT_XLSX`` for anything else."""
    if not data.startswith(ZIP_SIGNATURE):
        return NOT_XLSX
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = {e.filename for e in entries}
            if "[Content_Types].xml" not in names:
                return NOT_XLSX
            if sum(e.file_size for e in entries) > MAX_UNZIPPED_BYTES:
                return TOO_BIG
            content_types = archive.read("[Content_Types].xml")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError):
        return NOT_XLSX
    if any(name.lower().endswith("vbaproject.bin") for name in names) or b"macroEnabled" in content_types:
        return XLSM
    if b"spreadsheetml" not in content_types:
        return NOT_XLSX  # a Word or PowerPoint file renamed .xlsx
    return XLSX


def decode_text(data: bytes) -> str | None:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel's “Unicode text”), or GB18030 (CSV saved by
    Chinese Excel). None when the bytes are not text."""
    candidates = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates.append("utf-16")
    candidates += ["utf-8-sig", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text):
            return None  # control characters: a binary file that happens to decode
        return text
    return None


def cell_value(value: Any) -> Any:
    """A cell as importers see it: text stripped (empty text is None), an Excel datetime as a date,
    numbers and dates as they are, anything else as text."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int | float | bool | date) or value is None:
        return value
    return str(value)  # times, timedeltas: shown as text and refused where a number or date is due


def cell_text(value: Any) -> str:
    """A cell as text: whole floats without ``.0``, dates as ISO, TRUE/FALSE, whitespace at the ends
    stripped, Unicode composed (NFC)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return unicodedata.normalize("NFC", str(value)).strip()


class Workbook:
    """One sheet of an .xlsx file (the one named ``sheet`` where it has one, else the active one),
    opened read-only: rows with their numbers, and its merged ranges (read from the sheet's XML, which
    read-only openpyxl does not expose)."""

    def __init__(self, data: bytes, sheet: str | None = None):
        self._data = data
        self._book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        if sheet is not None and sheet in self._book.sheetnames:
            self.sheet = self._book[sheet]
        else:
            self.sheet = self._book.active or self._book.worksheets[0]

    def rows(self, max_col: int) -> Iterator[tuple[int, list]]:
        """Rows of at most ``max_col`` cells. Without ``max_col`` read-only openpyxl gives each row up
        to its last cell; with it, it would pad every row to that width (and asking the sheet for its
        width parses the whole sheet when the file does not say)."""
        for number, values in enumerate(self.sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_value(v) for v in values[:max_col]]

    def merged_ranges(self) -> list[tuple[int, int, int, int]]:
        """``(min_col, min_row, max_col, max_row)`` of every merged range of the sheet, 1-based."""
        path = getattr(self.sheet, "_worksheet_path", None)
        if not path:
            return []
        with zipfile.ZipFile(io.BytesIO(self._data)) as archive:
            xml = archive.read(path.lstrip("/"))
        ranges = []
        for ref in _MERGE_RE.findall(xml):
            ref = ref.decode()
            ranges.append(range_boundaries(ref if ":" in ref else f"{ref}:{ref}"))
        return ranges

    def close(self) -> None:
        self._book.close()


def csv_rows(text: str, *, max_col: int, sniff_lines: int = 8) -> Iterator[tuple[int, list]]:
    """Rows of CSV text with their line numbers; the delimiter (comma, tab or semicolon) is the one
    the first lines use most. Raises ``csv.Error`` on a malformed file."""
    head = text.splitlines()[:sniff_lines]
    delimiter = max([",", "\t", ";"], key=lambda d: sum(line.count(d) for line in head))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for number, values in enumerate(reader, start=1):
        yield number, [cell_value(v) for v in values[:max_col]]


def column_index(letter: str) -> int:
    """A → 0, B → 1, AA → 26."""
    index = 0
    for ch in letter:
        index = index * 26 + (ord(ch) - 64)
    return index - 1
