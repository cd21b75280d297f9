"""Import of a county's institution register (机构名册) from .xlsx or .csv.

The file is the register as ``alliances.exports`` writes it (or any sheet with the same
column titles): the header row is found among the first rows by its Chinese column
titles, title and footer rows are ignored. Three steps:

1. ``read_upload`` checks the file (size, real type by content, encoding) and reads the
   header and the data rows into a ``RawTable`` (cell values only, nothing resolved);
2. ``validate`` resolves every row against the county as it is now (a constant number of
   queries whatever the number of rows) and says what each row will do: 新建 / 更新 (with the
   changed fields) / 不变, or which cells are wrong;
3. ``apply_import`` writes a valid result in one transaction through the model rules
   (``Institution.full_clean``) and the membership services; if anything fails, nothing is
   saved and ``ImportFailed`` carries the errors.

Between the preview and the confirmation the ``RawTable`` is kept server-side
(``store_pending`` / ``load_pending``: a JSON file under ``MEDIA_ROOT/imports`` named by a
random token that only the uploading session knows); the confirmation validates it again
against the database of that moment. Rows are keyed by county and 机构名称, so importing the
same file twice changes nothing. 状态 is not imported: deactivating an institution is a
separate action.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import re
import secrets
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel

from alliances import scoping, services
from alliances.exports import OFFICIAL_LANGUAGE, REGISTER_COLUMN_BY_KEY, ROLE_TITLES
from alliances.forms import DATE_MAX, DATE_MIN
from alliances.models import Alliance, AllianceMembership, Institution, Region
from alliances.validators import validate_uscc

logger = logging.getLogger(__name__)

K = Institution.Kind
Role = AllianceMembership.Role

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # a 5 MB workbook that inflates beyond this is not a register
MAX_DATA_ROWS = 5000
MAX_COLUMNS = 60
HEADER_SEARCH_ROWS = 6
BLANK_RUN_LIMIT = 500  # this many empty rows in a row end the sheet (formatted but empty rows)
PENDING_MAX_AGE = timedelta(hours=12)
SESSION_KEY = "alliances_institution_imports"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
MAX_INT = 2147483647  # PositiveIntegerField on PostgreSQL

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls and other legacy Office files
ZIP_SIGNATURE = b"PK\x03\x04"

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

# Kind names accepted besides the labels the export writes (see ``_kind_lookup``). Names of
# institutions such as 县人民医院 are not kinds.
KIND_SYNONYMS = {
    "综合医院": K.COUNTY_GENERAL_HOSPITAL,
    "县级综合性医院": K.COUNTY_GENERAL_HOSPITAL,
    "县综合医院": K.COUNTY_GENERAL_HOSPITAL,
    "中医院": K.TCM_HOSPITAL,
    "中医类医院": K.TCM_HOSPITAL,
    "妇幼保健机构": K.MCH_HOSPITAL,
    "妇幼保健计划生育服务中心": K.MCH_HOSPITAL,
    "乡镇卫生院": K.TOWNSHIP_HEALTH_CENTRE,
    "镇卫生院": K.TOWNSHIP_HEALTH_CENTRE,
    "乡卫生院": K.TOWNSHIP_HEALTH_CENTRE,
    "社区卫生服务中心": K.COMMUNITY_HEALTH_CENTRE,
    "村卫生室": K.VILLAGE_CLINIC,
    "村卫生站": K.VILLAGE_CLINIC,
    "疾控中心": K.CDC,
    "其它": K.OTHER,
}
ROLE_SYNONYMS = {
    "牵头": Role.LEAD, "牵头医院": Role.LEAD, "总医院": Role.LEAD,
    "成员": Role.MEMBER, "分院": Role.MEMBER,
}
FIELD_KEYS = ("name", "short_name", "kind", "parent", "credit_code", "beds", "service_population")
MEMBERSHIP_KEYS = ("alliance", "role", "joined")


# Results ------------------------------------------------------------------------------------

@dataclass
class Issue:
    """One problem, with where it is: the row as Excel numbers it, the column letter and its title."""

    message: str
    row: int | None = None
    column: str | None = None
    title: str | None = None

    @property
    def cell(self) -> str:
        return f"{self.column}{self.row}" if self.column and self.row else ""

    @property
    def text(self) -> str:
        values = {"row": self.row, "column": self.column, "title": self.title, "message": self.message}
        if self.row and self.column:
            return _("Row %(row)s, column %(column)s (%(title)s): %(message)s") % values
        if self.row and self.title:
            return _("Row %(row)s (%(title)s): %(message)s") % values
        if self.row:
            return _("Row %(row)s: %(message)s") % values
        return self.message

    def __str__(self) -> str:
        return self.text


class ImportFailed(Exception):
    """Applying an import failed; nothing was saved."""

    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(i.text for i in issues))
        self.issues = issues


@dataclass
class RawTable:
    """The cells of an upload: where the header is, which column holds which field, and each data
    row's raw values (str, int, float, bool, date or None) by field key."""

    filename: str
    file_format: str  # "xlsx" or "csv"
    header_rows: tuple[int, int]
    columns: dict[str, tuple[str, str]]  # key -> (column letter, title as written in the file)
    ignored_columns: list[tuple[str, str]]  # (letter, title) of columns with titles we do not know
    rows: list[tuple[int, dict[str, Any]]]

    def to_json(self) -> str:
        def encode(value):
            return {"date": value.isoformat()} if isinstance(value, date) else value

        return json.dumps({
            "filename": self.filename, "file_format": self.file_format, "header_rows": list(self.header_rows),
            "columns": self.columns, "ignored_columns": self.ignored_columns,
            "rows": [[number, {k: encode(v) for k, v in values.items()}] for number, values in self.rows],
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RawTable:
        data = json.loads(text)

        def decode(value):
            return date.fromisoformat(value["date"]) if isinstance(value, dict) else value

        return cls(
            filename=data["filename"], file_format=data["file_format"], header_rows=tuple(data["header_rows"]),
            columns={k: tuple(v) for k, v in data["columns"].items()},
            ignored_columns=[tuple(c) for c in data["ignored_columns"]],
            rows=[(number, {k: decode(v) for k, v in values.items()}) for number, values in data["rows"]],
        )


@dataclass
class Change:
    """A changed field: its key, the column title, and the old and new values as shown. ``plain``
    holds the values independent of the interface language (kind and role codes)."""

    key: str
    title: str
    old: str
    new: str
    plain: tuple = ()


@dataclass
class RowResult:
    row: int
    name: str = ""
    action: str = ""  # "create", "update" or "unchanged"
    display: dict[str, str] = field(default_factory=dict)  # parsed values for the preview, by field key
    raw: dict[str, str] = field(default_factory=dict)  # the cells as written, by field key
    changes: list[Change] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    # What apply_import needs.
    institution: Institution | None = None
    data: dict[str, Any] = field(default_factory=dict)  # cleaned values of the columns present
    parent_name: str | None = None  # resolved full name of the managing institution, or None
    parent_existing: Institution | None = None  # the managing institution when it exists already
    membership: dict[str, Any] | None = None  # {"alliance": Alliance, "role": str, "on": date}

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def field_changes(self) -> bool:
        """Whether the institution itself is written (not only its membership)."""
        return self.action == "create" or any(c.key in FIELD_KEYS for c in self.changes)


@dataclass
class ImportResult:
    county: Region
    table: RawTable | None
    rows: list[RowResult] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)

    @property
    def issues(self) -> list[Issue]:
        row_issues = [i for r in self.rows for i in r.issues]
        return self.file_issues + sorted(row_issues, key=lambda i: (i.row or 0, i.column or ""))

    @property
    def ok(self) -> bool:
        return not self.file_issues and all(r.ok for r in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
        for r in self.rows:
            counts[r.action if r.ok else "error"] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return any(r.action in ("create", "update") for r in self.rows)

    def fingerprint(self) -> str:
        """What the import would do, as a hash: the confirmation applies only what was previewed."""
        plan = [[r.row, r.name, r.action, r.ok, [[c.key, *(c.plain or (c.old, c.new))] for c in r.changes]]
                for r in self.rows]
        return hashlib.sha256(json.dumps(plan, ensure_ascii=False).encode()).hexdigest()


# Reading the file ---------------------------------------------------------------------------

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


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int | float | bool | date) or value is None:
        return value
    return str(value)  # times, timedeltas: shown as text and refused where a number or date is due


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
    is_xlsx = _looks_like_xlsx(data)
    if suffix == ".xlsx":
        if is_xlsx is None:
            return None, [Issue(_("“%(name)s” unpacks to more than %(limit)s MB; it is not a register.")
                                % {"name": name, "limit": MAX_UNZIPPED_BYTES // (1024 * 1024)})]
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
    text = _decode_text(data)
    if text is None:
        return None, [Issue(_("“%(name)s” is not a text CSV file (it is not UTF-8 or GB18030 text).")
                            % {"name": name})]
    return _read_csv(text, name)


def _too_large(name: str, size: int) -> Issue:
    return Issue(_("“%(name)s” is %(size).1f MB; the limit is %(limit)s MB. Upload only the register sheet.")
                 % {"name": name, "size": size / (1024 * 1024), "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})


def _looks_like_xlsx(data: bytes) -> bool | None:
    """True for a zip with ``[Content_Types].xml`` (an Office Open XML file), False otherwise,
    None for a zip that would unpack to too much."""
    if not data.startswith(ZIP_SIGNATURE):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False
    if not any(e.filename == "[Content_Types].xml" for e in entries):
        return False
    if sum(e.file_size for e in entries) > MAX_UNZIPPED_BYTES:
        return None
    return True


def _decode_text(data: bytes) -> str | None:
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


def _read_xlsx(data: bytes, name: str) -> tuple[RawTable | None, list[Issue]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of errors on damaged files
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in "
                              "Excel, save it again and upload it.") % {"name": name})]
    try:
        sheet = workbook.active or workbook.worksheets[0]
        rows = _numbered_rows(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True))
        return _read_rows(rows, name=name, file_format="xlsx")
    except Exception:
        logger.info("unreadable workbook %r", name, exc_info=True)
        return None, [Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in "
                              "Excel, save it again and upload it.") % {"name": name})]
    finally:
        workbook.close()


def _numbered_rows(rows):
    for number, values in enumerate(rows, start=1):
        yield number, [_cell_value(v) for v in values]


def _read_csv(text: str, name: str) -> tuple[RawTable | None, list[Issue]]:
    head = text.splitlines()[:HEADER_SEARCH_ROWS + 2]
    delimiter = max([",", "\t", ";"], key=lambda d: sum(line.count(d) for line in head))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def rows():
        for number, values in enumerate(reader, start=1):
            yield number, [_cell_value(v) for v in values[:MAX_COLUMNS]]

    try:
        return _read_rows(rows(), name=name, file_format="csv")
    except csv.Error as exc:
        return None, [Issue(_("“%(name)s” is not a well-formed CSV file (line %(line)s: %(error)s).")
                            % {"name": name, "line": reader.line_num, "error": exc})]


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

    index_of = {key: _column_index(letter) for key, (letter, _t) in columns.items()}
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


def _column_index(letter: str) -> int:
    index = 0
    for ch in letter:
        index = index * 26 + (ord(ch) - 64)
    return index - 1


# Cleaning cell values -----------------------------------------------------------------------

class CellError(Exception):
    pass


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return unicodedata.normalize("NFC", str(value)).strip()


def _key(name: str) -> str:
    """How names are compared: NFKC (full-width letters and digits), no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


_INT_RE = re.compile(r"^[+-]?[0-9]+(\.0*)?$")
_DECIMAL_RE = re.compile(r"^[+-]?[0-9]*\.[0-9]+$")


def _count(value: Any) -> int:
    """A non-negative whole number: 12, 12.0 and "1,200" are accepted; 12.5, text and -1 are not."""
    if _is_blank(value):
        return 0
    if isinstance(value, bool):
        raise CellError(_("“%(value)s” is not a number.") % {"value": value})
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CellError(_("“%(value)s” is not a whole number.") % {"value": _text(value)})
        number = int(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
        if _INT_RE.match(text):
            number = int(text.split(".")[0])
        elif _DECIMAL_RE.match(text):
            raise CellError(_("“%(value)s” is not a whole number.") % {"value": value})
        else:
            raise CellError(_("“%(value)s” is not a number.") % {"value": value})
    if number < 0:
        raise CellError(_("%(value)s is negative; enter 0 or more.") % {"value": number})
    if number > MAX_INT:
        raise CellError(_("%(value)s is too large.") % {"value": number})
    return number


_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
)


def _date(value: Any) -> date | None:
    """An Excel date cell, an Excel serial number, or text such as 2026-01-01, 2026/1/1, 2026年1月1日."""
    if _is_blank(value):
        return None
    day = None
    if isinstance(value, date):
        day = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:
            day = from_excel(value)
            day = day.date() if isinstance(day, datetime) else day
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        match = _DATE_RE.match(text)
        if not match and re.fullmatch(r"\d{8}", text):
            match = re.match(r"(\d{4})(\d{2})(\d{2})", text)
        if match:
            try:
                day = date(*(int(g) for g in match.groups()[:3]))
            except ValueError:
                day = None
    if not isinstance(day, date):
        raise CellError(_("“%(value)s” is not a date; write it as 2026-01-01, 2026/1/1 or 2026年1月1日.")
                        % {"value": _text(value)})
    if not DATE_MIN <= day <= DATE_MAX:
        raise CellError(_("%(value)s is outside %(min)s to %(max)s.")
                        % {"value": day.isoformat(), "min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()})
    return day


def _kind_lookup() -> dict[str, str]:
    lookup = {}
    with translation.override(OFFICIAL_LANGUAGE):
        for kind in K:
            lookup[_key(str(kind.label))] = kind.value
    with translation.override("en"):
        for kind in K:
            lookup[_key(str(kind.label)).lower()] = kind.value
    for kind in K:
        lookup[kind.value] = kind.value
    for text, kind in KIND_SYNONYMS.items():
        lookup[_key(text)] = kind
    return lookup


def _kind_labels_zh() -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return "、".join(str(kind.label) for kind in K)


def _role_lookup() -> dict[str, str]:
    lookup = {_key(title): role for role, title in ROLE_TITLES.items()}
    for role in Role:
        lookup[role.value] = role.value
        with translation.override("en"):
            lookup[_key(str(role.label)).lower()] = role.value
    for text, role in ROLE_SYNONYMS.items():
        lookup[_key(text)] = role
    return lookup


# Validation ---------------------------------------------------------------------------------

@dataclass
class _County:
    """The county as it is now, read once (a constant number of queries)."""

    institutions: dict[str, Institution]  # by name key
    by_pk: dict[int, Institution]
    children: dict[int, list[int]]
    memberships: dict[int, list[AllianceMembership]]  # by institution, oldest first
    alliances: list[Alliance]
    alliance_by_pk: dict[int, Alliance]

    @classmethod
    def load(cls, user, county: Region) -> _County:
        institutions = list(scoping.queryset_for(user, Institution, scoping.CHANGE).filter(county=county))
        alliances = list(scoping.queryset_for(user, Alliance, scoping.CHANGE).filter(county=county))
        memberships: dict[int, list[AllianceMembership]] = {}
        for m in (scoping.queryset_for(user, AllianceMembership, scoping.CHANGE)
                  .filter(alliance__county=county).order_by("valid_from", "pk")):
            memberships.setdefault(m.institution_id, []).append(m)
        children: dict[int, list[int]] = {}
        for i in institutions:
            if i.parent_id:
                children.setdefault(i.parent_id, []).append(i.pk)
        return cls(
            institutions={_key(i.name): i for i in institutions},
            by_pk={i.pk: i for i in institutions},
            children=children,
            memberships=memberships,
            alliances=alliances,
            alliance_by_pk={a.pk: a for a in alliances},
        )

    def membership_on(self, institution_id: int | None, day: date) -> AllianceMembership | None:
        return next((m for m in self.memberships.get(institution_id, []) if m.in_force_on(day)), None)

    def lead_on(self, alliance_id: int, day: date) -> AllianceMembership | None:
        return next((m for ms in self.memberships.values() for m in ms
                     if m.alliance_id == alliance_id and m.role == Role.LEAD and m.in_force_on(day)), None)


def validate(table: RawTable, *, county: Region, user, today: date | None = None) -> ImportResult:
    """What importing ``table`` into ``county`` would do, row by row, checked against the database as
    it is now. A constant number of queries whatever the number of rows."""
    today = today or timezone.localdate()
    state = _County.load(user, county)
    result = ImportResult(county=county, table=table)
    kinds, roles = _kind_lookup(), _role_lookup()
    present = set(table.columns)

    def issue(row: RowResult, key: str | None, message: str) -> None:
        letter, title = table.columns.get(key, (None, REGISTER_COLUMN_BY_KEY[key].title if key else None))
        row.issues.append(Issue(message, row=row.row, column=letter, title=title))

    # 1. Each row on its own.
    seen: dict[str, int] = {}
    for number, values in table.rows:
        row = RowResult(row=number, raw={key: _text(value) for key, value in values.items()})
        result.rows.append(row)
        data = row.data
        name = _text(values.get("name"))
        row.name = name
        if not name:
            issue(row, "name", _("the name of the institution is missing."))
        elif len(name) > 100:
            issue(row, "name", _("the name is longer than %(n)s characters.") % {"n": 100})
        elif _key(name) in seen:
            issue(row, "name", _("“%(name)s” is already in row %(row)s; each institution appears once.")
                  % {"name": name, "row": seen[_key(name)]})
        else:
            seen[_key(name)] = number
        data["name"] = name
        if "short_name" in present:
            data["short_name"] = _text(values.get("short_name"))
            if len(data["short_name"]) > 50:
                issue(row, "short_name", _("the short name is longer than %(n)s characters.") % {"n": 50})
        kind_text = _text(values.get("kind"))
        if not kind_text:
            issue(row, "kind", _("the kind of institution is missing. Use one of: %(kinds)s.")
                  % {"kinds": _kind_labels_zh()})
        elif (kind := kinds.get(_key(kind_text)) or kinds.get(_key(kind_text).lower())) is None:
            issue(row, "kind", _("“%(value)s” is not a valid kind of institution. Use one of: %(kinds)s.")
                  % {"value": kind_text, "kinds": _kind_labels_zh()})
        else:
            data["kind"] = kind
        if "credit_code" in present:
            raw = values.get("credit_code")
            if isinstance(raw, float):
                issue(row, "credit_code", _("the code is stored as a number and has lost digits; format the "
                                            "column as text and type the code again."))
            else:
                code = unicodedata.normalize("NFKC", _text(raw)).replace(" ", "").upper()
                try:
                    if code:
                        validate_uscc(code)
                except ValidationError as exc:
                    issue(row, "credit_code", " ".join(exc.messages))
                else:
                    data["credit_code"] = code
        for key in ("beds", "service_population"):
            if key in present:
                try:
                    data[key] = _count(values.get(key))
                except CellError as exc:
                    issue(row, key, str(exc))
        if "parent" in present:
            data["parent"] = _text(values.get("parent"))
        if "alliance" in present:
            data["alliance"] = _text(values.get("alliance"))
        if "role" in present:
            role_text = _text(values.get("role"))
            if role_text:
                role = roles.get(_key(role_text)) or roles.get(_key(role_text).lower())
                if role is None:
                    issue(row, "role", _("“%(value)s” is not a role; write 牵头单位 or 成员单位.") % {"value": role_text})
                else:
                    data["role"] = role
        if "joined" in present:
            try:
                data["joined"] = _date(values.get("joined"))
            except CellError as exc:
                issue(row, "joined", str(exc))
        row.institution = state.institutions.get(_key(name)) if name else None

    # 2. Across rows: managing institutions, codes, kinds and memberships.
    in_file = {_key(r.name): r for r in result.rows if r.name and seen.get(_key(r.name)) == r.row}
    _check_parents(result, state, in_file, issue, today)
    _check_credit_codes(result, issue)
    for row in result.rows:
        _check_existing(row, state, issue)
    planned = _plan_memberships(result, state, in_file, issue, today)
    for row in result.rows:
        _describe(row, state, present, planned, today)
    return result


def _kind_of(name_key: str, state: _County, in_file: dict[str, RowResult]) -> str | None:
    if name_key in in_file:
        return in_file[name_key].data.get("kind")
    institution = state.institutions.get(name_key)
    return institution.kind if institution else None


def _check_parents(result: ImportResult, state: _County, in_file: dict[str, RowResult], issue, today) -> None:
    by_short: dict[str, list[str]] = {}
    for key, institution in state.institutions.items():
        if institution.short_name:
            by_short.setdefault(_key(institution.short_name), []).append(key)
    for key, row in in_file.items():
        short = row.data.get("short_name")
        if short and key not in state.institutions:
            by_short.setdefault(_key(short), []).append(key)
    county_name = result.county.name
    for row in result.rows:
        kind = row.data.get("kind")
        parent_text = row.data.get("parent")
        if parent_text is None:  # no 所属卫生院 column: keep the current managing institution
            current = row.institution.parent_id if row.institution else None
            parent_text = state.by_pk[current].name if current in state.by_pk else ""
            if kind == K.VILLAGE_CLINIC and not parent_text:
                issue(row, None, _("a village clinic needs its township health centre: add the column 所属卫生院."))
            row.parent_name = parent_text or None
            row.parent_existing = state.by_pk.get(current)
            continue
        if not parent_text:
            if kind == K.VILLAGE_CLINIC:
                issue(row, "parent", _("a village clinic needs the township health centre that manages it."))
            row.parent_name = None
            continue
        key = _key(parent_text)
        if key not in in_file and key not in state.institutions:
            matches = by_short.get(key, [])
            if len(matches) == 1:
                key = matches[0]
        if key not in in_file and key not in state.institutions:
            issue(row, "parent", _("“%(name)s” is not an institution of %(county)s (neither in the portal nor "
                                   "in this file).") % {"name": parent_text, "county": county_name})
            continue
        if key == _key(row.name):
            issue(row, "parent", _("an institution cannot manage itself."))
            continue
        parent_name = in_file[key].name if key in in_file else state.institutions[key].name
        if _kind_of(key, state, in_file) not in Institution.PARENT_KINDS:
            issue(row, "parent", _("“%(name)s” is not a township, central or community health centre; only these "
                                   "manage village clinics.") % {"name": parent_name})
            continue
        existing_parent = state.institutions.get(key)
        changed = not row.institution or row.institution.parent_id != getattr(existing_parent, "pk", None)
        if changed and existing_parent is not None and not existing_parent.is_active:
            issue(row, "parent", _("“%(name)s” is inactive; it cannot take on village clinics.") % {"name": parent_name})
            continue
        row.parent_name = parent_name
        row.parent_existing = existing_parent
    # A circle of managing institutions (A manages B, B manages A) is refused.
    parent_of = {_key(r.name): _key(r.parent_name) for r in result.rows if r.name and r.parent_name}
    for key, institution in state.institutions.items():
        if key not in in_file and institution.parent_id in state.by_pk:
            parent_of[key] = _key(state.by_pk[institution.parent_id].name)
    for row in result.rows:
        if not row.name or not row.parent_name:
            continue
        key, steps = parent_of.get(_key(row.name)), 0
        while key is not None and steps < len(parent_of) + 1:
            if key == _key(row.name):
                issue(row, "parent", _("the managing institutions form a circle; an institution cannot be managed "
                                       "through itself."))
                break
            key, steps = parent_of.get(key), steps + 1


def _check_credit_codes(result: ImportResult, issue) -> None:
    codes: dict[str, int] = {}
    for row in result.rows:
        code = row.data.get("credit_code")
        if not code:
            continue
        if code in codes:
            issue(row, "credit_code", _("the code %(code)s is also in row %(row)s; each institution has its own.")
                  % {"code": code, "row": codes[code]})
        else:
            codes[code] = row.row
    if not codes:
        return
    # The code is unique across all counties (a database constraint): ask whether another institution
    # holds it, without reading which (the answer shows no other county's data).
    owners = dict(Institution.objects.filter(credit_code__in=list(codes)).values_list("credit_code", "pk"))
    for row in result.rows:
        code = row.data.get("credit_code")
        if code and code in owners and codes.get(code) == row.row:
            if not row.institution or owners[code] != row.institution.pk:
                issue(row, "credit_code", _("another institution already has the code %(code)s.") % {"code": code})


def _check_existing(row: RowResult, state: _County, issue) -> None:
    """Rules for changing the kind of an institution that exists (as ``Institution.clean`` has them)."""
    institution, kind = row.institution, row.data.get("kind")
    if institution is None or kind is None or kind == institution.kind:
        return
    memberships = state.memberships.get(institution.pk, [])
    if kind == K.VILLAGE_CLINIC and memberships:
        issue(row, "kind", _("“%(name)s” has alliance memberships; it cannot become a village clinic.")
              % {"name": institution.name})
    elif kind not in Institution.LEAD_KINDS and any(m.role == Role.LEAD for m in memberships):
        issue(row, "kind", _("“%(name)s” leads or has led an alliance; only a county general, TCM or maternal and "
                             "child health hospital can lead.") % {"name": institution.name})
    elif kind not in Institution.PARENT_KINDS and state.children.get(institution.pk):
        issue(row, "kind", _("“%(name)s” manages village clinics; only a township, central or community health "
                             "centre manages village clinics.") % {"name": institution.name})


def _plan_memberships(result: ImportResult, state: _County, in_file, issue, today: date) -> dict[str, Alliance]:
    """Decide each row's membership change; returns the alliance each institution will belong to
    (by name key), for the village clinics' check."""
    by_name: dict[str, list[Alliance]] = {}
    for alliance in state.alliances:
        for text in {alliance.name, alliance.short_name}:
            if text:
                by_name.setdefault(_key(text), []).append(alliance)
    planned: dict[str, Alliance] = {}
    leads_in_file: dict[int, int] = {}
    replaced_leads: dict[int, tuple[RowResult, Alliance, date]] = {}
    county_name = result.county.name
    clinic_rows = []
    for row in result.rows:
        data = row.data
        text = data.get("alliance")
        if not text:
            if data.get("role") or data.get("joined"):
                if data.get("kind") != K.VILLAGE_CLINIC:
                    issue(row, "alliance", _("角色 or 加入日期 is filled in but 所属医共体 is empty; leave all three empty "
                                             "to keep the membership as it is."))
            continue
        matches = {a.pk: a for a in by_name.get(_key(text), [])}
        if not matches:
            issue(row, "alliance", _("“%(name)s” is not an alliance of %(county)s.") % {"name": text, "county": county_name})
            continue
        if len(matches) > 1:
            issue(row, "alliance", _("“%(name)s” names more than one alliance; write the full name.") % {"name": text})
            continue
        alliance = next(iter(matches.values()))
        if data.get("kind") is None:
            continue  # the kind is wrong or missing (reported): what the membership may be is unknown
        if data.get("kind") == K.VILLAGE_CLINIC:
            clinic_rows.append((row, alliance))
            continue
        role = data.get("role") or Role.MEMBER
        planned[_key(row.name)] = alliance
        if role == Role.LEAD:
            if alliance.pk in leads_in_file:
                issue(row, "role", _("row %(row)s already names the lead of “%(alliance)s”; an alliance has one lead.")
                      % {"row": leads_in_file[alliance.pk], "alliance": alliance.name})
                continue
            leads_in_file[alliance.pk] = row.row
        day = data.get("joined")
        institution = row.institution
        current = state.membership_on(institution.pk, day or today) if institution else None
        if current and current.alliance_id == alliance.pk and current.role == role:
            if day and current.valid_from != day:
                issue(row, "joined", _("“%(name)s” has been in “%(alliance)s” since %(start)s; the import does not move "
                                       "the start of a membership. Write %(start)s or leave the cell empty.")
                      % {"name": row.name, "alliance": alliance.name, "start": current.valid_from.isoformat()})
            continue
        # A change of alliance or role, from ``day``.
        if not alliance.is_active:
            issue(row, "alliance", _("“%(name)s” is inactive; institutions cannot join it.") % {"name": alliance.name})
            continue
        if day is None:
            issue(row, "joined", _("enter the date from which “%(name)s” belongs to “%(alliance)s”.")
                  % {"name": row.name, "alliance": alliance.name})
            continue
        if role == Role.LEAD and data.get("kind") not in Institution.LEAD_KINDS:
            issue(row, "role", _("only a county general, TCM or maternal and child health hospital can lead an "
                                 "alliance."))
            continue
        if institution:
            later = next((m for m in state.memberships.get(institution.pk, []) if m.valid_from > day), None)
            if later:
                issue(row, "joined", _("“%(name)s” already has a membership of “%(alliance)s” from %(start)s, after "
                                       "%(day)s.") % {"name": row.name, "alliance": state.alliance_by_pk.get(
                                           later.alliance_id, later.alliance_id), "start": later.valid_from.isoformat(),
                                           "day": day.isoformat()})
                continue
            if current and current.valid_from >= day:
                issue(row, "joined", _("the date must be after %(start)s, when the current membership began.")
                      % {"start": current.valid_from.isoformat()})
                continue
        operation = "move" if current else "create"
        if role == Role.LEAD:
            lead = state.lead_on(alliance.pk, day)
            if lead and (institution is None or lead.institution_id != institution.pk):
                if lead.valid_from >= day:
                    issue(row, "joined", _("the date must be after %(start)s, when the current lead began.")
                          % {"start": lead.valid_from.isoformat()})
                    continue
                operation = "change_lead"
                replaced_leads[lead.institution_id] = (row, alliance, day)
        row.membership = {"alliance": alliance, "role": role, "on": day, "operation": operation}
    # The lead that a new lead replaces stays in its alliance as a member from that day.
    for row in result.rows:
        institution = row.institution
        if institution is None or institution.pk not in replaced_leads or not row.membership:
            continue
        new_lead_row, alliance, day = replaced_leads[institution.pk]
        if row.membership["alliance"].pk != alliance.pk:
            issue(row, "alliance", _("“%(new)s” (row %(row)s) takes over the lead of “%(alliance)s” on %(day)s and "
                                     "“%(name)s” stays in it as a member; move it to another alliance in a later "
                                     "import.") % {"new": new_lead_row.name, "row": new_lead_row.row,
                                                   "alliance": alliance.name, "day": day.isoformat(), "name": row.name})
    # A village clinic follows its centre: the alliance named must be the centre's.
    for row, alliance in clinic_rows:
        if row.data.get("role") == Role.LEAD:
            issue(row, "role", _("a village clinic does not join an alliance itself; it follows its township health "
                                 "centre."))
            continue
        parent_key = _key(row.parent_name) if row.parent_name else None
        parent = state.institutions.get(parent_key) if parent_key else None
        current = state.membership_on(parent.pk, today) if parent else None
        allowed = {a.pk for a in (planned.get(parent_key), current and state.alliance_by_pk.get(current.alliance_id))
                   if a is not None}
        if parent_key and alliance.pk not in allowed:
            issue(row, "alliance", _("a village clinic follows the alliance of its township health centre "
                                     "“%(parent)s”; leave 所属医共体 empty or write that alliance.")
                  % {"parent": row.parent_name})
    return planned


def _describe(row: RowResult, state: _County, present: set[str], planned, today: date) -> None:
    """The row's action, its changed fields (old → new) and its values for the preview."""
    data, institution = row.data, row.institution
    kind = data.get("kind")
    display = {
        "name": row.name,
        "short_name": data.get("short_name", ""),
        "kind": str(K(kind).label) if kind else "",
        "parent": row.parent_name or "",
        "credit_code": data.get("credit_code", ""),
        "beds": str(data["beds"]) if "beds" in data else "",
        "service_population": str(data["service_population"]) if "service_population" in data else "",
        "alliance": data.get("alliance", ""),
        "role": str(Role(data["role"]).label) if data.get("role") else "",
        "joined": data["joined"].isoformat() if data.get("joined") else "",
    }
    if row.membership:
        display["alliance"] = row.membership["alliance"].name
    row.display = display
    if institution is None:
        row.action = "create"
        return
    title = {k: REGISTER_COLUMN_BY_KEY[k].title for k in REGISTER_COLUMN_BY_KEY}
    old_parent = state.by_pk[institution.parent_id].name if institution.parent_id in state.by_pk else ""
    comparisons = [
        ("short_name", institution.short_name, data.get("short_name")),
        ("kind", institution.kind, kind),
        ("parent", old_parent, (row.parent_name or "") if "parent" in present else None),
        ("credit_code", institution.credit_code, data.get("credit_code")),
        ("beds", str(institution.beds), display["beds"] if "beds" in data else None),
        ("service_population", str(institution.service_population),
         display["service_population"] if "service_population" in data else None),
    ]
    for key, old, new in comparisons:
        if new is not None and new != old:
            if key == "kind":
                row.changes.append(Change(key, title[key], str(K(old).label), str(K(new).label), plain=(old, new)))
            else:
                row.changes.append(Change(key, title[key], old, new))
    if row.membership:
        membership = row.membership
        current = state.membership_on(institution.pk, membership["on"]) or state.membership_on(institution.pk, today)
        old_alliance = state.alliance_by_pk[current.alliance_id].name if current else ""
        old_role = str(Role(current.role).label) if current else ""
        if old_alliance != membership["alliance"].name:
            row.changes.append(Change("alliance", title["alliance"], old_alliance, membership["alliance"].name))
        if old_role != str(Role(membership["role"]).label):
            row.changes.append(Change("role", title["role"], old_role, str(Role(membership["role"]).label),
                                      plain=(current.role if current else "", membership["role"])))
        row.changes.append(Change("joined", title["joined"], current.valid_from.isoformat() if current else "",
                                  membership["on"].isoformat()))
    row.action = "update" if row.changes else "unchanged"
    if row.changes and not institution.is_active:
        row.issues.append(Issue(_("“%(name)s” is inactive (停用); the import does not change inactive "
                                  "institutions.") % {"name": institution.name}, row=row.row))


# Applying -----------------------------------------------------------------------------------

FIELD_BY_MODEL_FIELD = {"name": "name", "short_name": "short_name", "kind": "kind", "parent": "parent",
                        "credit_code": "credit_code", "beds": "beds", "service_population": "service_population"}


def apply_import(result: ImportResult, *, county: Region, user) -> dict[str, int]:
    """Write a valid ``result``: institutions first (each managing institution before its village
    clinics), then memberships (leads first). One transaction: on any error nothing is saved and
    ``ImportFailed`` lists the errors by row."""
    if not result.ok:
        raise ImportFailed(result.issues)
    table = result.table
    issues: list[Issue] = []

    def row_issues(row: RowResult, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                key = FIELD_BY_MODEL_FIELD.get(name)
                letter, title = table.columns.get(key, (None, REGISTER_COLUMN_BY_KEY[key].title if key else None))
                for message in ValidationError(errors).messages:
                    issues.append(Issue(message, row=row.row, column=letter if name != NON_FIELD_ERRORS else None,
                                        title=title))
        else:
            key = "alliance"
            letter, title = table.columns.get(key, (None, None))
            for message in exc.messages:
                issues.append(Issue(message, row=row.row, column=letter, title=title))

    with transaction.atomic():
        saved: dict[str, Institution] = {}
        failed: set[str] = set()
        pending = [r for r in result.rows if r.field_changes]
        done_keys = {_key(r.name) for r in result.rows if not r.field_changes}
        # Institutions, each managing institution before the clinics it manages.
        while pending:
            ready = [r for r in pending if not r.parent_name or _key(r.parent_name) in done_keys
                     or _key(r.parent_name) not in {_key(p.name) for p in pending}]
            if not ready:  # a circle; validate() refuses these
                issues.append(Issue(_("the managing institutions form a circle."), row=pending[0].row))
                break
            for row in ready:
                pending.remove(row)
                done_keys.add(_key(row.name))
                if row.parent_name and _key(row.parent_name) in failed:
                    failed.add(_key(row.name))  # its managing institution failed: reported there
                    continue
                try:
                    with transaction.atomic():
                        saved[_key(row.name)] = _save_institution(row, county, saved)
                except ValidationError as exc:
                    failed.add(_key(row.name))
                    row_issues(row, exc)
                except IntegrityError:
                    failed.add(_key(row.name))
                    issues.append(Issue(_("the data changed while the file was being imported; please upload it "
                                          "again."), row=row.row))
        if issues:
            raise ImportFailed(issues)
        # Memberships: leads first, so that members join an alliance that has its lead.
        rows = sorted((r for r in result.rows if r.membership), key=lambda r: r.membership["role"] != Role.LEAD)
        for row in rows:
            institution = saved.get(_key(row.name)) or row.institution
            membership = row.membership
            alliance, role, day = membership["alliance"], membership["role"], membership["on"]
            current = institution.memberships.on(day).first()
            if current and current.alliance_id == alliance.pk and current.role == role and current.valid_from == day:
                continue  # already so (a lead change earlier in this import made the old lead a member)
            try:
                with transaction.atomic():
                    if membership["operation"] == "change_lead":
                        services.alliance_change_lead(alliance=alliance, new_lead=institution, on=day)
                    elif current is None and not institution.memberships.filter(valid_from__gt=day).exists():
                        services.membership_create(institution=institution, alliance=alliance, role=role,
                                                   valid_from=day)
                    else:
                        services.institution_move(institution=institution, to_alliance=alliance, on=day, role=role)
            except ValidationError as exc:
                row_issues(row, exc)
            except IntegrityError:
                issues.append(Issue(_("the data changed while the file was being imported; please upload it "
                                      "again."), row=row.row))
        if issues:
            raise ImportFailed(issues)
    counts = result.counts
    return {"create": counts["create"], "update": counts["update"], "unchanged": counts["unchanged"]}


def _save_institution(row: RowResult, county: Region, saved: dict[str, Institution]) -> Institution:
    institution = row.institution or Institution(county=county, name=row.data["name"])
    data = row.data  # an existing institution keeps its name as stored (the file's may differ in spacing)
    institution.kind = data["kind"]
    for key in ("short_name", "credit_code", "beds", "service_population"):
        if key in data:
            setattr(institution, key, data[key])
    if "parent" in data or institution.pk is None:
        parent = None
        if row.parent_name:
            parent = saved.get(_key(row.parent_name)) or row.parent_existing
        institution.parent = parent
    institution.full_clean()
    institution.save()
    return institution


# Keeping an upload between the preview and the confirmation ----------------------------------

def _pending_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def store_pending(session, *, table: RawTable, county: Region, user, fingerprint: str) -> str:
    """Keep ``table`` server-side for the confirmation; returns the token only this session knows."""
    directory = _pending_dir()
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)
    token = secrets.token_urlsafe(32)
    payload = {"user": user.pk, "county": county.pk, "table": table.to_json()}
    (directory / f"{token}.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    entries = dict(session.get(SESSION_KEY, {}))
    entries[token] = {"county": county.pk, "user": user.pk, "fingerprint": fingerprint, "created": time.time()}
    # Keep the latest few previews of this session.
    session[SESSION_KEY] = dict(sorted(entries.items(), key=lambda kv: kv[1]["created"])[-5:])
    return token


def load_pending(session, token: str, *, county: Region, user) -> tuple[RawTable, str] | None:
    """The table and fingerprint stored under ``token`` by this session for this user and county, or None."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    entry = session.get(SESSION_KEY, {}).get(token)
    if not entry or entry.get("user") != user.pk or entry.get("county") != county.pk:
        return None
    if time.time() - entry.get("created", 0) > PENDING_MAX_AGE.total_seconds():
        discard_pending(session, token)
        return None
    path = _pending_dir() / f"{token}.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if payload.get("user") != user.pk or payload.get("county") != county.pk:
        return None
    return RawTable.from_json(payload["table"]), entry["fingerprint"]


def update_pending(session, token: str, fingerprint: str) -> None:
    entries = dict(session.get(SESSION_KEY, {}))
    if token in entries:
        entries[token] = {**entries[token], "fingerprint": fingerprint}
        session[SESSION_KEY] = entries


def discard_pending(session, token: str) -> None:
    entries = dict(session.get(SESSION_KEY, {}))
    entries.pop(token, None)
    session[SESSION_KEY] = entries
    if isinstance(token, str) and TOKEN_RE.match(token):
        (_pending_dir() / f"{token}.json").unlink(missing_ok=True)


def _sweep(directory: Path) -> None:
    """Delete previews nobody confirmed."""
    limit = time.time() - PENDING_MAX_AGE.total_seconds()
    for path in directory.glob("*.json"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue
