"""Importing the roster (花名册) from .xlsx: the register HR keeps, a header row (found in the first ten
rows by its title 姓名) and a person a row, columns known by their titles in any order. Read → checked
cell by cell (errors name the row and the column: 第5行C列：…) → previewed (new, updated, unchanged) →
saved on confirmation through ``services.upsert`` (all or nothing; the views do that). This module
reads and checks; it saves nothing.

Institutions are named as they are in the portal and must be ones whose roster the user keeps
(``staffing.scoping.roster_institutions(scope, CHANGE)``), all of one county. Identity numbers are
normalised and checked (``identity.problem``); a person already on the county's roster (same
digest) is updated, provided the user keeps the roster that person is on."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _
from openpyxl.utils import get_column_letter

from alliances.models import Institution
from core import uploads
from core.imports import columns as columns_
from core.imports.columns import FROM_SAVED, IGNORED, ColumnPlan, Field
from core.issues import cap
from staffing import identity
from staffing.models import Establishment, PostType, Staff

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 40
HEADER_ROWS = 10
SHEET = "花名册"
HELP_SHEET = "填写说明"
EXAMPLE_PREFIX = "示例"  # the template's example row (姓名 starting with 示例) is skipped
IGNORED_TITLES = {"序号"}  # the ordinal column of registers (and of the roster's export)
# The footer of the portal's tables (``core.workbook``: 填报单位（盖章）：/ 审核人：/ 日期：…), below the roster's
# export, and the like of registers kept by hand: not people.
FOOTER_PREFIXES = ("填报单位", "填报人", "填表人", "制表人", "审核人", "日期")

NEW, UPDATED, UNCHANGED = "new", "updated", "unchanged"


@dataclass(frozen=True)
class Column:
    key: str  # the Staff field ("number" for the identity number)
    title: str  # the header title in the workbook (data, not UI text: the register's own titles)
    required: bool


COLUMNS = (
    Column("name", "姓名", True),
    Column("number", "身份证号", True),
    Column("institution", "工作单位", True),
    Column("home", "编制所在单位", False),
    Column("employment", "人员类别", True),
    Column("nature", "编制性质", False),
    Column("profession", "专业类别", True),
    Column("post_type", "岗位类别", False),
    Column("title", "职称", False),
    Column("education", "学历", True),
    Column("hired_on", "入职日期", True),
    Column("contract_end", "合同到期日", False),
    Column("left_on", "离职日期", False),
)
# The header words of each column beyond its title: what clerks commonly write (core.imports.columns).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("人员姓名", "职工姓名", "员工姓名"),
    "number": ("身份证号码", "身份证", "公民身份号码", "身份证件号码", "证件号码"),
    "institution": ("所在单位", "现工作单位", "单位名称", "工作机构", "所在机构", "单位"),
    "home": ("编制单位", "编制所属单位", "编制所在机构"),
    "employment": ("人员类型", "用工类型", "用工性质", "用工形式", "身份类别"),
    "nature": ("编制类别", "编制类型"),
    "profession": ("专业", "专业分类", "执业类别", "人员专业"),
    "post_type": ("岗位类型", "岗位性质"),
    "title": ("专业技术职称", "技术职称", "职称等级", "职称级别", "专业技术资格"),
    "education": ("最高学历", "文化程度"),
    "hired_on": ("入职时间", "到岗日期", "到岗时间", "来院日期", "来院时间", "进院时间"),
    "contract_end": ("合同到期日期", "合同到期时间", "合同截止日期", "合同终止日期"),
    "left_on": ("离职时间", "离岗日期", "离岗时间"),
}
# The register's fields for the import engine: the title (also the label) and its synonyms.
FIELDS = tuple(Field(c.key, c.title, (c.title, *SYNONYMS[c.key]), required=c.required) for c in COLUMNS)
BY_TITLE = {c.title: c for c in COLUMNS}
BY_KEY = {c.key: c for c in COLUMNS}

# Accepted cell values of the choice columns (the first of each value is the one the template shows).
CHOICES: dict[str, dict[str, str]] = {
    "employment": {"在编": Staff.Employment.ESTABLISHED, "编外": Staff.Employment.CONTRACT,
                   "员额备案": Staff.Employment.QUOTA, "乡村医生": Staff.Employment.VILLAGE_DOCTOR,
                   "劳务派遣": Staff.Employment.AGENCY},
    "nature": {"公益一类": Establishment.Nature.CLASS_ONE, "公益二类": Establishment.Nature.CLASS_TWO},
    "profession": {"医师": Staff.Profession.DOCTOR, "全科医生": Staff.Profession.GP, "中医": Staff.Profession.TCM,
                   "护士": Staff.Profession.NURSE, "药师": Staff.Profession.PHARMACIST,
                   "技师": Staff.Profession.TECHNICIAN, "管理": Staff.Profession.MANAGEMENT,
                   "其他": Staff.Profession.OTHER},
    "post_type": {"专业技术": PostType.PROFESSIONAL, "管理": PostType.MANAGEMENT, "工勤技能": PostType.SUPPORT},
    "title": {
        "正高级": Staff.Title.CHIEF, "副高级": Staff.Title.ASSOCIATE, "中级": Staff.Title.INTERMEDIATE,
        "初级(师级)": Staff.Title.JUNIOR, "师级": Staff.Title.JUNIOR, "初级": Staff.Title.JUNIOR,
        "士级": Staff.Title.ASSISTANT, "无": Staff.Title.NONE,
        # The titles' own names (in this column only: 护士 here is a title, under 专业类别 a profession).
        "主任医师": Staff.Title.CHIEF, "主任护师": Staff.Title.CHIEF, "主任药师": Staff.Title.CHIEF,
        "主任技师": Staff.Title.CHIEF, "副主任医师": Staff.Title.ASSOCIATE, "副主任护师": Staff.Title.ASSOCIATE,
        "副主任药师": Staff.Title.ASSOCIATE, "副主任技师": Staff.Title.ASSOCIATE,
        "主治医师": Staff.Title.INTERMEDIATE, "主管护师": Staff.Title.INTERMEDIATE,
        "主管药师": Staff.Title.INTERMEDIATE, "主管技师": Staff.Title.INTERMEDIATE,
        "医师": Staff.Title.JUNIOR, "护师": Staff.Title.JUNIOR, "药师": Staff.Title.JUNIOR, "技师": Staff.Title.JUNIOR,
        "医士": Staff.Title.ASSISTANT, "护士": Staff.Title.ASSISTANT, "药士": Staff.Title.ASSISTANT,
        "技士": Staff.Title.ASSISTANT,
    },
    "education": {"研究生": Staff.Education.POSTGRADUATE, "硕士": Staff.Education.POSTGRADUATE,
                  "博士": Staff.Education.POSTGRADUATE, "本科": Staff.Education.BACHELOR,
                  "大专": Staff.Education.COLLEGE, "中专": Staff.Education.SECONDARY,
                  "高中及以下": Staff.Education.HIGH_SCHOOL, "高中": Staff.Education.HIGH_SCHOOL,
                  "初中": Staff.Education.HIGH_SCHOOL},
}
# What the template and the error messages offer (one name per value; 职称 also by the titles' names).
SHOWN_CHOICES: dict[str, list[str]] = {
    "employment": ["在编", "编外", "员额备案", "乡村医生", "劳务派遣"],
    "nature": ["公益一类", "公益二类"],
    "profession": ["医师", "全科医生", "中医", "护士", "药师", "技师", "管理", "其他"],
    "post_type": ["专业技术", "管理", "工勤技能"],
    "title": ["正高级", "副高级", "中级", "初级（师级）", "士级", "无"],
    "education": ["研究生", "本科", "大专", "中专", "高中及以下"],
}
# An optional column left blank (or missing) gives this; a blank 编制所在单位 keeps a person's home
# (a new person's home is where they work).
DEFAULTS = {"nature": "", "post_type": PostType.PROFESSIONAL, "title": Staff.Title.NONE, "contract_end": None,
            "left_on": None}
CHOICE_FIELDS = ("employment", "nature", "profession", "post_type", "title", "education")
DATE_FIELDS = ("hired_on", "contract_end", "left_on")
# The fields compared with a person already on the roster (new / updated / unchanged).
COMPARED = ("name", "institution", "home", *CHOICE_FIELDS, *DATE_FIELDS)

_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


@dataclass
class Row:
    line: int  # the row number in the workbook
    number: str  # normalised and valid
    fields: dict  # Staff field → value (Institution objects for institution and home)
    status: str = NEW
    changes: list[str] = field(default_factory=list)  # the titles of the columns an update changes
    shown: dict = field(default_factory=dict)  # what the preview shows (labels)

    @property
    def masked(self) -> str:
        return identity.mask(self.number)

    @property
    def digest(self) -> str:
        return identity.digest(self.number)


@dataclass
class Parsed:
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    county_id: int | None = None
    filename: str = ""
    plan: ColumnPlan | None = None  # the header as found and its columns' mapping (None: no header)
    data: bytes = b""  # the file's bytes (kept for a new mapping of the same file)
    row_errors: dict[int, list[str]] = field(default_factory=dict)  # the errors of each row, by row number
    decided: bool = False  # the columns are mapped as the user said (now or in a saved mapping)

    @property
    def needs_mapping(self) -> bool:
        """Whether the user should map the columns: a required field has no column, or (until the
        user has said) a column has a title no field knows."""
        plan = self.plan
        if plan is None:
            return False
        return bool(plan.errors) or (not self.decided and any(c.title and not c.field and c.source != IGNORED
                                                              for c in plan.columns))

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


def _key(text: str) -> str:
    """A cell's text as looked up: full-width forms folded (（）→ ()), no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


_CHOICE_KEYS = {name: {_key(label): value for label, value in labels.items()} for name, labels in CHOICES.items()}


def at(line: int, index: int, message: str) -> str:
    """An error of one cell: 第5行C列：… (``index`` 0-based)."""
    return _("Row %(row)s, column %(col)s: %(problem)s") % {"row": line, "col": get_column_letter(index + 1),
                                                           "problem": message}


def parse_date(value) -> date | None:
    """An Excel date, or text 2020-07-01 / 2020/7/1 / 2020.7.1 / 2020年7月1日 / 20200701. Raises ValueError."""
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _key(uploads.cell_text(value))
    match = _DATE_RE.match(text) or _COMPACT_DATE_RE.match(text)
    if not match:
        raise ValueError(text)
    return date(int(match[1]), int(match[2]), int(match[3]))


def _file_rows(upload, parsed: Parsed):
    """The sheet's rows that are not blank, with their numbers, or None with the reason in ``parsed.errors``."""
    data = uploads.read_limited(upload, MAX_BYTES)
    if data is None:
        parsed.errors.append(_("The file is larger than 2 MB; split the roster into several files."))
        return None
    return _data_rows(data, parsed)


def _data_rows(data: bytes, parsed: Parsed):
    if not data:
        parsed.errors.append(_("“%(name)s” is empty.") % {"name": parsed.filename})
        return None
    kind = uploads.sniff_zip(data)
    refused = uploads.refusal(kind, parsed.filename)  # zip bomb, macros, XML entities: as every upload says it
    if refused:
        parsed.errors.append(refused)
        return None
    if kind != uploads.XLSX:
        parsed.errors.append(_("“%(name)s” is not an .xlsx workbook: only .xlsx files are accepted (not .xls, "
                               ".xlsm with macros, .csv or other files); save it as an Excel workbook (.xlsx) "
                               "or start from the template.") % {"name": parsed.filename})
        return None
    parsed.data = data
    try:
        workbook = uploads.Workbook(data, sheet=SHEET)
        merged = _merged(workbook)
        rows = []
        data_rows = 0
        kept: dict[tuple[int, int], object] = {}  # the top-left values of merged ranges
        for number, values in workbook.rows(MAX_COLUMNS):
            if merged:  # a merged cell (a two-row header's parent, one 工作单位 over several people) fills its range
                values = list(values)
                for col in range(1, len(values) + 1):
                    origin = merged.get((number, col))
                    if origin is None:
                        continue
                    if origin == (number, col):
                        kept[origin] = values[col - 1]
                    else:
                        values[col - 1] = kept.get(origin)
            if any(v is not None for v in values):  # blank rows (a sheet formatted to its end) are not kept
                rows.append((number, values))
                data_rows += 1
            if data_rows > MAX_ROWS + HEADER_ROWS:
                break
        workbook.close()
    except Exception:  # a damaged workbook: openpyxl's errors are many
        parsed.errors.append(_("“%(name)s” cannot be read as a workbook.") % {"name": parsed.filename})
        return None
    return rows


def _is_footer(values: list) -> bool:
    """A footer or note line of the official layout, not a person: every filled cell is a footer
    text (填报单位（盖章）：, 审核人：, 日期：2026年11月3日), or one text fills the whole row (a note
    merged across the table, its cells filled by the merge)."""
    filled = [text for text in (uploads.cell_text(v) for v in values) if text]
    if not filled:
        return False
    if all(text.startswith(FOOTER_PREFIXES) for text in filled):
        return True
    return len(filled) >= 3 and len(set(filled)) == 1


def _merged(workbook) -> dict[tuple[int, int], tuple[int, int]]:
    """Each cell of a merged range (row, column; 1-based) → the range's top-left cell."""
    cells = {}
    for min_col, min_row, max_col, max_row in workbook.merged_ranges():
        for row in range(min_row, max_row + 1):
            for col in range(min_col, min(max_col, MAX_COLUMNS) + 1):
                cells[(row, col)] = (min_row, min_col)
    return cells


def _header(rows, parsed: Parsed, *, mapping: dict | None, saved_for) -> tuple[int, dict[str, int]] | None:
    """The header row's number and the column index of each field, found by ``core.imports.columns``
    among the first rows (the user's mapping, else the one saved for these headers, else the header
    words). Until the user (or a saved mapping) has said what the file's columns are, a column of no
    known title is an error naming it, as are two columns of one title; the mapping panel lets the
    user map them or leave them ignored."""
    head = [(number, values) for number, values in rows if number <= HEADER_ROWS]
    plan = parsed.plan = columns_.locate(head, FIELDS, given=mapping, saved_for=saved_for)
    if plan is None or (not plan.by_field and mapping is None):
        parsed.errors.append(_("No header row with “姓名” in the first %(n)s rows: start from the template.")
                             % {"n": HEADER_ROWS})
        return None
    line = plan.header_row
    decided = parsed.decided = mapping is not None or any(c.source == FROM_SAVED for c in plan.columns)
    repeated: set[str] = set()
    if not decided:
        first_of: dict[str, int] = {}  # a field → the first column whose title names it
        for column in plan.columns:
            text, base = column.title, column.key.split("#")[0]
            if not text:
                continue
            if base in IGNORED_TITLES:
                column.source = IGNORED  # the ordinal column: never a question
                continue
            known = column.field or next((f.name for f in FIELDS if f.rank_of(base)), None)
            if known is None:
                if column.source == IGNORED:  # a notes column (备注): the roster names it, the user decides
                    column.source = columns_.UNMAPPED
                parsed.errors.append(at(line, column.index, _(
                    "“%(title)s” is not a column of the roster (the columns are: %(titles)s).") % {
                    "title": text, "titles": "、".join(c.title for c in COLUMNS)}))
            elif known in first_of:
                repeated.add(known)
                parsed.errors.append(at(line, column.index, _(
                    "a second “%(title)s” column (the first is column %(first)s).") % {
                    "title": BY_KEY[known].title, "first": get_column_letter(first_of[known] + 1)}))
            else:
                first_of[known] = column.index
    columns = {key: column.index for key, column in plan.by_field.items()}
    for column in COLUMNS:
        if column.required and column.key not in columns and column.key not in repeated:
            parsed.errors.append(_("Row %(row)s: there is no “%(title)s” column.") % {"row": line,
                                                                                     "title": column.title})
    return None if parsed.errors else (line, columns)


def read(upload, institutions: list[Institution], *, mapping: dict | None = None, saved_for=None) -> Parsed:
    """The people of an uploaded roster, every problem named. ``institutions`` are those whose roster
    the user keeps (with ``county`` loaded); ``mapping`` the user's mapping of the file's columns
    (``{column key: field}``), ``saved_for`` the saved mappings (``core.imports.mappings.saver``).
    Reads only; saves nothing. Queries: one (the people already on the county's roster) and those
    of ``saved_for``, whatever the number of rows."""
    parsed = Parsed(filename=upload.name)
    return _read(_file_rows(upload, parsed), parsed, institutions, mapping, saved_for)


def read_data(data: bytes, name: str, institutions: list[Institution], *, mapping: dict | None = None,
              saved_for=None) -> Parsed:
    """``read`` of a file kept from an earlier upload (a new mapping of its columns)."""
    parsed = Parsed(filename=name)
    return _read(_data_rows(data, parsed), parsed, institutions, mapping, saved_for)


def _read(rows, parsed: Parsed, institutions: list[Institution], mapping, saved_for) -> Parsed:
    if rows is None:
        return parsed
    header = _header(rows, parsed, mapping=mapping, saved_for=saved_for)
    if header is None:
        return parsed
    header_line, columns = header
    by_name: dict[str, list[Institution]] = {}
    for institution in institutions:
        by_name.setdefault(_key(institution.name), []).append(institution)

    errors = parsed.errors
    pending: list[tuple[int, str, dict, dict[str, list[Institution]]]] = []
    first_row_of: dict[str, int] = {}
    data_rows = 0
    for line, values in rows:
        if line <= header_line or _is_footer(values):
            continue
        cells = {key: (values[index] if index < len(values) else None) for key, index in columns.items()}
        if all(v is None for v in cells.values()):
            continue
        name = " ".join(uploads.cell_text(cells["name"]).split())
        if name.startswith(EXAMPLE_PREFIX):
            continue
        data_rows += 1
        if data_rows > MAX_ROWS:
            parsed.errors[:] = [_("The file has more than %(max)s people; split it into several files.")
                                % {"max": f"{MAX_ROWS:,}"}]
            return parsed

        def error(key: str, message: str, line=line) -> None:
            errors.append(at(line, columns[key], message))
            parsed.row_errors.setdefault(line, []).append(errors[-1])

        row_errors = len(errors)
        for column in COLUMNS:
            if column.required and column.key in columns and cells[column.key] is None:
                error(column.key, _("%(title)s is empty.") % {"title": column.title})
        fields: dict = {}
        if name:
            if len(name) > Staff._meta.get_field("name").max_length:
                error("name", _("“%(name)s” is longer than %(max)s characters.") % {
                    "name": name, "max": Staff._meta.get_field("name").max_length})
            fields["name"] = name

        number = ""
        raw = cells["number"]
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            error("number", _("the identity number is stored as a number, and Excel keeps only 15 digits of a "
                              "number: format the column as text and type the numbers again."))
        elif raw is not None:
            number = identity.normalise(unicodedata.normalize("NFKC", uploads.cell_text(raw)))
            why = identity.problem(number)
            if why:
                error("number", _("identity number “%(number)s”: %(problem)s.") % {"number": number, "problem": why})
                number = ""
            elif number in first_row_of:
                error("number", _("identity number %(masked)s is also on row %(first)s.") % {
                    "masked": identity.mask(number), "first": first_row_of[number]})
                number = ""
            else:
                first_row_of[number] = line

        places: dict[str, list[Institution]] = {}
        for key in ("institution", "home"):
            if key not in columns or cells[key] is None:
                continue
            text = uploads.cell_text(cells[key])
            found = by_name.get(_key(text))
            if not found:
                error(key, _("“%(name)s” is not an institution whose roster you keep.") % {"name": text})
            else:
                places[key] = found

        for key in CHOICE_FIELDS:
            if key not in columns:
                continue
            if cells[key] is None:
                if key in DEFAULTS:
                    fields[key] = DEFAULTS[key]
                continue
            text = uploads.cell_text(cells[key])
            value = _CHOICE_KEYS[key].get(_key(text))
            if value is None:
                error(key, _("“%(value)s” is not a value of %(title)s (use one of: %(choices)s).") % {
                    "value": text, "title": BY_KEY[key].title, "choices": "、".join(SHOWN_CHOICES[key])})
            else:
                fields[key] = value

        for key in DATE_FIELDS:
            if key not in columns:
                continue
            try:
                fields[key] = parse_date(cells[key])
            except (ValueError, TypeError, OverflowError):
                error(key, _("“%(value)s” is not a date (write it as 2020-07-01, 2020/7/1 or 2020年7月1日).")
                      % {"value": uploads.cell_text(cells[key])})
        hired = fields.get("hired_on")
        if hired:
            for key in ("contract_end", "left_on"):
                day = fields.get(key)
                if day and day < hired:
                    error(key, _("%(title)s %(day)s is before 入职日期 %(hired)s.") % {
                        "title": BY_KEY[key].title, "day": day.isoformat(), "hired": hired.isoformat()})
        if len(errors) == row_errors:
            pending.append((line, number, fields, places))

    if not pending and not errors:
        errors.append(_("There is nobody to import below the header row (row %(row)s).") % {"row": header_line})
    if errors:
        parsed.errors = cap(errors)
        return parsed

    # One county: the one every row's institutions are in.
    counties = {i.county_id for i in institutions}
    if len(counties) > 1:
        common = set(counties)
        for _line, _number, _fields, places in pending:
            for found in places.values():
                common &= {i.county_id for i in found}
        if len(common) != 1:
            named = {i.county_id: i.county.name for _l, _n, _f, p in pending for found in p.values() for i in found}
            parsed.errors.append(_("The rows are not all of one county (%(counties)s): import one county's roster "
                                   "at a time.") % {"counties": "、".join(sorted(named.values()))})
            return parsed
        counties = common
    parsed.county_id = county_id = next(iter(counties))
    for line, number, fields, places in pending:
        for key, found in places.items():
            fields[key] = next(i for i in found if i.county_id == county_id)
        parsed.rows.append(Row(line=line, number=number, fields=fields))

    existing = existing_staff(county_id, [r.digest for r in parsed.rows])
    kept = {i.pk for i in institutions}
    for row in parsed.rows:
        before = existing.get(row.digest)
        if before and not (before["institution_id"] in kept or before["home_id"] in kept):
            parsed.errors.append(at(row.line, columns["number"], _(
                "%(masked)s is on the roster of an institution you do not keep; a move between institutions is "
                "recorded on the person's page.") % {"masked": row.masked}))
            parsed.row_errors.setdefault(row.line, []).append(parsed.errors[-1])
            continue
        row.status = status_of(before, row.fields)
        row.changes = changed(before, row.fields) if before else []
        row.shown = shown(before, row.fields)
    parsed.errors = cap(parsed.errors)
    return parsed


def existing_staff(county_id: int, digests: list[str]) -> dict[str, dict]:
    """The people of the county with these digests, as the values compared (one query)."""
    names = ["id_digest", "institution_id", "home_id", *[n for n in COMPARED if n not in ("institution", "home")]]
    return {s["id_digest"]: s for s in Staff.objects.filter(county_id=county_id, id_digest__in=digests).values(*names)}


def _value(fields: dict, key: str):
    value = fields[key]
    return value.pk if isinstance(value, Institution) else value


def changed(before: dict, fields: dict) -> list[str]:
    """The columns (titles) whose value the row changes for a person already on the roster."""
    return [BY_KEY[key].title for key in COMPARED
            if key in fields and before[f"{key}_id" if key in ("institution", "home") else key] != _value(fields, key)]


def status_of(before: dict | None, fields: dict) -> str:
    if before is None:
        return NEW
    return UPDATED if changed(before, fields) else UNCHANGED


def shown(before: dict | None, fields: dict) -> dict:
    """The person as saved (labels): the row's values over the person's current ones (or the defaults)."""
    values = {**DEFAULTS, "post_type": PostType.PROFESSIONAL, **(before or {}), **fields}
    labels = {"employment": Staff.Employment, "profession": Staff.Profession, "title": Staff.Title,
              "education": Staff.Education}
    result = {key: choices(values[key]).label if values.get(key) else "" for key, choices in labels.items()}
    result["institution"] = fields["institution"].name
    result["hired_on"] = values.get("hired_on")
    return result


# Session form ----------------------------------------------------------------------------------

def to_session(parsed: Parsed, user_pk: int) -> dict:
    """What the confirmation needs, JSON-safe: the identity numbers encrypted, institutions by key,
    dates as ISO text."""
    rows = []
    for row in parsed.rows:
        item = {"line": row.line, "cipher": identity.encrypt(row.number)}
        for key, value in row.fields.items():
            if isinstance(value, Institution):
                value = value.pk
            elif isinstance(value, date):
                value = value.isoformat()
            item[key] = value
        rows.append(item)
    return {"user": user_pk, "county": parsed.county_id, "rows": rows}


def from_session(pending, user_pk: int) -> tuple[int, list[tuple[str, dict]]] | None:
    """The county and the rows (number, fields with institution keys) of a stored preview; None when
    there is none for this user or it does not read back."""
    if not isinstance(pending, dict) or pending.get("user") != user_pk:
        return None
    try:
        county_id = int(pending["county"])
        rows = []
        for item in pending["rows"]:
            number = identity.decrypt(item["cipher"])
            if identity.problem(number):
                return None
            fields = {}
            for key in COMPARED:
                if key not in item:
                    continue
                value = item[key]
                if key in ("institution", "home"):
                    value = int(value)
                elif key in DATE_FIELDS and value is not None:
                    value = date.fromisoformat(value)
                elif key in CHOICE_FIELDS and value not in CHOICES[key].values() and value != "":
                    return None
                fields[key] = value
            if not {"name", "institution"} <= set(fields):
                return None
            rows.append((number, fields))
    except (KeyError, TypeError, ValueError):
        return None
    return (county_id, rows) if rows else None
