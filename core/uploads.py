"""Uploaded files, before anything is understood of their content: the real type by content (not by
name), the container checks of Office files (zip bombs, macros, XML entity declarations), text
encodings, and the rows of an .xlsx or .csv file with their numbers.

Every importer of the portal (institution register, memberships, task ledgers, filing templates,
budgets, purchases, roster, accounts) and the evidence upload of task progress check their files
through ``sniff_office`` / ``sniff_zip`` and ``refusal``, so a renamed binary, an .xlsm with macros,
a zip bomb or an XXE document are refused the same way, in the same words, everywhere; a CSV saved
by Chinese Excel is read the same way too.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and other legacy Office files
ZIP_SIGNATURE = b"PK\x03\x04"

# The container checks of every Office Open XML file the portal takes (.xlsx, .docx, .pptx): the
# registers of the importers and the evidence (佐证材料) of task progress alike.
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # a few MB of document that inflates beyond this is not a document
MAX_ENTRIES = 10_000  # parts of the package; Office writes tens, a large workbook a few hundred
MAX_RATIO = 100  # a part inflating more than this many times its packed size …
RATIO_FLOOR_BYTES = 1024 * 1024  # … and to more than this is a zip bomb (small parts may pack as they like)
XML_PROLOG_LIMIT = 64 * 1024  # Office writes an XML declaration and the root element: no more before it

# What ``sniff_office`` (and ``sniff_zip``) say of bytes that start like a zip.
XLSX, DOCX, PPTX = "xlsx", "docx", "pptx"
XLSM = "xlsm"  # macros: a VBA project or a macro-enabled content type, in a workbook, document or deck
MACROS = XLSM
TOO_BIG = "too_big"  # unpacks to more than MAX_UNZIPPED_BYTES
ZIP_BOMB = "zip_bomb"  # a part packed beyond any real document, or too many parts
UNSAFE_XML = "unsafe_xml"  # an XML part with a DOCTYPE (entity declarations, external entities: XXE)
NOT_XLSX = NOT_OFFICE = "not_xlsx"
REFUSED_KINDS = (XLSM, TOO_BIG, ZIP_BOMB, UNSAFE_XML)

# The main part's content type says what the package is (a document may embed a workbook, whose
# type then appears among its defaults too).
_MAIN_TYPES = (
    (b"spreadsheetml.sheet.main+xml", XLSX), (b"spreadsheetml.template.main+xml", XLSX),
    (b"wordprocessingml.document.main+xml", DOCX), (b"wordprocessingml.template.main+xml", DOCX),
    (b"presentationml.presentation.main+xml", PPTX), (b"presentationml.slideshow.main+xml", PPTX),
    (b"presentationml.template.main+xml", PPTX),
)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, KeyError, RuntimeError,
               NotImplementedError, zlib.error)
_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')


def read_limited(upload, max_bytes: int) -> bytes | None:
    """The upload's bytes, or None when it is larger than ``max_bytes`` (read no further)."""
    if upload.size is not None and upload.size > max_bytes:
        return None
    data = upload.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def sniff_office(data: bytes) -> str:
    """What an Office Open XML package (.xlsx, .docx, .pptx) really is, whatever its name says:
    ``XLSX``, ``DOCX`` or ``PPTX``; or why it is refused: ``TOO_BIG`` (it would unpack to more than
    ``MAX_UNZIPPED_BYTES``), ``ZIP_BOMB`` (more than ``MAX_ENTRIES`` parts, or a part inflating more
    than ``MAX_RATIO`` times to over ``RATIO_FLOOR_BYTES``), ``XLSM`` (macros: a VBA project or a
    macro-enabled content type) or ``UNSAFE_XML`` (an XML part declaring a DOCTYPE: entities, external
    entities); ``NOT_OFFICE`` for anything else (not a zip, no content types, damaged, encrypted).

    The sizes are the ones the archive declares, which bound what unpacking it can ever produce
    (Python's zipfile stops at the declared size). Only the beginning of each part is inflated, to read
    its XML prolog: the check costs milliseconds, not the unpacking of the file."""
    if not data.startswith(ZIP_SIGNATURE):
        return NOT_OFFICE
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = {e.filename for e in entries}
            if "[Content_Types].xml" not in names:
                return NOT_OFFICE
            if sum(e.file_size for e in entries) > MAX_UNZIPPED_BYTES:
                return TOO_BIG
            if len(entries) > MAX_ENTRIES or any(
                    e.file_size > RATIO_FLOOR_BYTES and e.file_size > MAX_RATIO * max(e.compress_size, 1)
                    for e in entries):
                return ZIP_BOMB
            content_types = archive.read("[Content_Types].xml")
            if any(name.lower().endswith("vbaproject.bin") for name in names) or b"macroEnabled" in content_types:
                return XLSM
            if any(_declares_doctype(archive, entry) for entry in entries if not entry.is_dir()):
                return UNSAFE_XML
    except _ZIP_ERRORS:
        return NOT_OFFICE
    for main_type, kind in _MAIN_TYPES:
        if main_type in content_types:
            return kind
    if b"spreadsheetml" in content_types:
        return XLSX  # a workbook written without its main part's override (some generators)
    return NOT_OFFICE


def sniff_zip(data: bytes) -> str:
    """``sniff_office`` for the importers, which take workbooks only: ``XLSX``, one of the refusals
    (``TOO_BIG``, ``ZIP_BOMB``, ``XLSM``, ``UNSAFE_XML``), or ``NOT_XLSX`` (a Word or PowerPoint file
    renamed .xlsx too)."""
    kind = sniff_office(data)
    return NOT_XLSX if kind in (DOCX, PPTX) else kind


def refusal(kind: str, name: str) -> str | None:
    """Why a package of ``kind`` (from ``sniff_office`` / ``sniff_zip``) named ``name`` is refused, in
    the words every importer and the evidence upload use; None when it is not refused for its
    container."""
    if kind == TOO_BIG:
        return _("“%(name)s” unpacks to more than %(limit)s MB; no document the portal takes is that large, "
                 "so it is refused.") % {"name": name, "limit": MAX_UNZIPPED_BYTES // (1024 * 1024)}
    if kind == ZIP_BOMB:
        return _("“%(name)s” is packed far more tightly than any real document (a “zip bomb”), so it is "
                 "refused.") % {"name": name}
    if kind == XLSM:
        return _("“%(name)s” contains macros; save it without macros (as .docx or .xlsx) and upload it again.") % {
            "name": name}
    if kind == UNSAFE_XML:
        return _("“%(name)s” contains XML declarations (DOCTYPE or ENTITY) that Office never writes; they can "
                 "make a program read other files, so it is refused. Open it in Office, save it again and upload "
                 "that.") % {"name": name}
    return None


def _declares_doctype(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bool:
    """Whether the part is XML with a DOCTYPE (or anything but comments and processing instructions)
    before its root element. Parts that do not begin with "<" (images, binaries) are not XML."""
    with archive.open(entry) as stream:
        head = stream.read(4096)
        encoding = _xml_encoding(head)
        if encoding is None:
            return False
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        text, read = decoder.decode(head), len(head)
        while True:
            verdict = _prolog_verdict(text)
            if verdict is not None:
                return verdict
            chunk = stream.read(4096)
            read += len(chunk)
            if not chunk:
                return False  # no root element: not XML after all (a parser would refuse it)
            if read > XML_PROLOG_LIMIT:
                return True  # a prolog no Office program writes
            text += decoder.decode(chunk)


def _xml_encoding(head: bytes) -> str | None:
    """The encoding of a part that starts like XML (UTF-8 or UTF-16, as the XML specification detects
    it), or None when it does not begin with "<"."""
    if head.startswith((codecs.BOM_UTF16_LE, b"<\x00")):
        return "utf-16-le"
    if head.startswith((codecs.BOM_UTF16_BE, b"\x00<")):
        return "utf-16-be"
    if head.lstrip(codecs.BOM_UTF8).lstrip(b" \t\r\n").startswith(b"<"):
        return "utf-8-sig"
    return None


def _prolog_verdict(text: str) -> bool | None:
    """True: a DOCTYPE or other markup declaration before the root element; False: the root element
    comes first (after the XML declaration, processing instructions, comments, white space); None: not
    decided yet (read more)."""
    position = 0
    text = text.lstrip("\ufeff")
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        rest = text[position:]
        if len(rest) < 4:
            return None
        if rest.startswith("<?"):
            end, closing = rest.find("?>", 2), 2
        elif rest.startswith("<!--"):
            end, closing = rest.find("-->", 4), 3
        elif rest.startswith("<!"):
            return True  # <!DOCTYPE …> (and the <!ENTITY …> it holds)
        elif rest.startswith("<") and (rest[1].isalpha() or rest[1] in "_:" or ord(rest[1]) > 127):
            return False  # the root element
        else:
            return True  # not markup an Office part starts with
        if end < 0:
            return None
        position += end + closing


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

    @property
    def sheet_names(self) -> list[str]:
        """The workbook's worksheets, in its order (chart sheets left out)."""
        return [ws.title for ws in self._book.worksheets]

    def select(self, name: str) -> None:
        """Read the sheet named ``name`` from now on (``rows``, ``merged_ranges``)."""
        self.sheet = self._book[name]

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
