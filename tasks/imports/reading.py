"""Reading a ledger file (.xlsx or .csv) as clerks keep it, in either seed layout:

- "tree" (seed 000, seed 001 附件4): action or category / key task / item text (with its number,
  1.1 or （12）) / responsible units / deadline. Actions may be a column (类别) or section rows
  (一、“深化改革”行动) above their items.
- "numbered" (seed 004): 序号 / 重点工作 / 责任部门 / 配合部门 / 时限要求, with section rows
  (一 推进公立医院高质量发展).

Merged cells are expanded (the top-left value fills the range). In the tree layout a blank cell
means "same as the row above", as merged Word cells come out when pasted: the action and key task
carry down, the responsible units carry down within an action, the deadline within a key task.
Rows above the header give the source document: the title, 文号, 发文机关 and 年度. The reading
resolves nothing against the database (``tasks.imports.planning`` does).
"""

from __future__ import annotations

import csv
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import uploads
from core.imports import columns
from core.imports.columns import Field
from core.issues import Issue
from tasks.units import is_none_text

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_DATA_ROWS = 20_000
MAX_COLUMNS = 30
HEADER_SEARCH_ROWS = columns.HEADER_SEARCH_ROWS
BLANK_RUN_LIMIT = 500
MAX_MERGED_CELLS = 2_000_000
MAX_TEXT = 5000

# Column titles by field; the first is the title our export writes.
TITLES: dict[str, tuple[str, ...]] = {
    "action": ("行动", "类别", "大类", "专项行动", "重点领域", "任务类别"),
    "key_task": ("重点任务", "重点工作", "工作任务"),
    "content": ("主要内容", "任务清单", "任务内容", "工作内容", "具体任务", "具体内容", "主要任务", "任务条目"),
    "number": ("序号", "编号", "任务编号", "条目编号"),
    "lead": ("责任单位", "责任部门", "牵头单位", "牵头部门", "责任主体", "牵头责任单位"),
    "coop": ("配合单位", "配合部门", "协同单位", "协办单位", "参与单位"),
    "deadline": ("完成时限", "时限要求", "完成时间", "时限", "完成期限", "截止时间", "完成时限要求"),
    "target": ("量化目标", "目标值", "目标要求"),
}
REQUIRED = ("content", "lead", "deadline")
_LEAD_WORDS = ("牵头单位", "牵头部门", "牵头责任单位")
_RESPONSIBLE_WORDS = ("责任单位", "责任部门", "责任主体")
# The register's fields for ``core.imports.columns``. 责任单位 is the lead unit, unless a 牵头单位
# column is there too: then it names the units that share the work (cooperating units).
FIELDS = (
    Field("action", gettext_lazy("Action or category"), TITLES["action"]),
    Field("key_task", gettext_lazy("Key task"), TITLES["key_task"]),
    Field("content", gettext_lazy("Task text"), TITLES["content"]),
    Field("number", gettext_lazy("Item number"), TITLES["number"]),
    Field("lead", gettext_lazy("Responsible (lead) units"), _LEAD_WORDS, also=_RESPONSIBLE_WORDS, required=True),
    Field("coop", gettext_lazy("Cooperating units"), TITLES["coop"], also=_RESPONSIBLE_WORDS),
    Field("deadline", gettext_lazy("Deadline"), TITLES["deadline"], required=True),
    Field("target", gettext_lazy("Quantitative target"), TITLES["target"]),
)
FOOTER_PREFIXES = ("填报人", "审核人", "填表人", "制表人", "负责人", "注：", "注:", "说明：", "说明:", "备注：", "备注:")
_META_RE = {
    "doc_number": re.compile(r"^(?:文号|发文字号|文件编号)[:：]\s*(.*)$"),
    "issuer": re.compile(r"^(?:发文机关|印发机关|发文单位|制发机关|发文部门)[:：]\s*(.*)$"),
    "year": re.compile(r"^(?:年度|年份)[:：]\s*(.*)$"),
}
_DOC_NUMBER_RE = re.compile(r"[\u4e00-\u9fff]{1,12}[〔\[（(【]\s*\d{4}\s*[〕\]）)】]\s*\d+\s*号")
# Lines above a table that are not its title: 填报单位：…, 导出日期：…, a bare date.
_LABEL_RE = re.compile(r"^(?:[\u4e00-\u9fff]{1,6}[:：]|\d{4}[-/.年]\d{1,2}([-/.月]\d{1,2}日?)?$)")
_YEAR_IN_TITLE_RE = re.compile(r"(20\d{2})\s*年")
# The number at the start of an item's text: 1.1, （12）, (3), 4、 — not a year or a percentage.
_ITEM_NUMBER_RE = re.compile(
    r"^\s*(（\s*\d{1,4}\s*）|\(\s*\d{1,4}\s*\)"  # （12） (12): the brackets end it, a figure may follow
    r"|\d{1,3}(?:\s*[.．]\s*\d{1,3})+(?![\d%％])"  # 1.1, 12.2
    r"|\d{1,4}(?![\d年月日%％个.．]))"  # 4 — not 2021年, 90%, or the start of 1.1
    r"\s*[、.．:：]?\s*")
_PREFIXED_NUMBER_RE = re.compile(r"^\s*([\u4e00-\u9fff]{1,2}\d{1,4})\s+")
_CHINESE_NUMERAL_RE = re.compile(r"^[（(]?[一二三四五六七八九十百]+[)）]?[、.．]?$")


_text = uploads.cell_text


def _deadline_cell(value: Any) -> list:
    """The deadline cell as JSON: ``["date", iso]``, ``["number", float]`` or ``["text", str]`` — the
    parser must know an Excel number (2020.1 may have been 2020.10) from text."""
    if isinstance(value, date):
        return ["date", value.isoformat()]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ["number", value]
    return ["text", _text(value)]


def deadline_value(cell: list) -> Any:
    kind, value = cell
    if kind == "date":
        return date.fromisoformat(value)
    return value


@dataclass
class RawItem:
    """One item row as read, before it is resolved: texts, the deadline cell, the headings above it,
    and which cells were carried down from the row above."""

    row: int
    number: str
    text: str
    lead: str
    coop: str
    deadline: list
    target: str
    sections: list[str]
    filled: list[str] = field(default_factory=list)

    def to_json(self) -> list:
        return [self.row, self.number, self.text, self.lead, self.coop, self.deadline, self.target, self.sections,
                self.filled]

    @classmethod
    def from_json(cls, data: list) -> RawItem:
        return cls(*data)


@dataclass
class LedgerTable:
    filename: str
    file_format: str
    layout: str
    header_row: int
    columns: dict[str, tuple[str, str]]  # field → (letter, title as written)
    meta: dict[str, str]
    items: list[RawItem]
    issues: list[Issue] = field(default_factory=list)
    # Fields whose blank cells carry the value above down (how merged Word cells come out). Not the
    # columns with vertically merged cells: there the merges say what spans rows, so a blank is blank.
    carry: set[str] = field(default_factory=set)
    ignored: list[tuple[int, str]] = field(default_factory=list)  # rows after the table (notes)
    section_rows: int = 0
    mapping: dict = field(default_factory=dict)  # the column plan (``ColumnPlan.to_json``), for the preview

    def to_json(self) -> dict:
        return {"filename": self.filename, "file_format": self.file_format, "layout": self.layout,
                "header_row": self.header_row, "columns": self.columns, "meta": self.meta,
                "items": [i.to_json() for i in self.items], "issues": [i.to_json() for i in self.issues],
                "ignored": self.ignored, "section_rows": self.section_rows, "mapping": self.mapping}

    @classmethod
    def from_json(cls, data: dict) -> LedgerTable:
        return cls(filename=data["filename"], file_format=data["file_format"], layout=data["layout"],
                   header_row=data["header_row"], columns={k: tuple(v) for k, v in data["columns"].items()},
                   meta=data["meta"], items=[RawItem.from_json(i) for i in data["items"]],
                   issues=[Issue.from_json(i) for i in data["issues"]],
                   ignored=[tuple(i) for i in data["ignored"]], section_rows=data["section_rows"],
                   mapping=data.get("mapping", {}))

    def column(self, key: str) -> tuple[str | None, str | None]:
        letter, title = self.columns.get(key, (None, None))
        return letter, title


@dataclass
class LedgerRead:
    """What reading a file gave: the table, or the problems; the column plan when a header was found
    (the preview's mapping panel); the file's bytes, kept for a new mapping of the same file."""

    table: LedgerTable | None
    problems: list[Issue]
    columns: columns.ColumnPlan | None = None
    data: bytes | None = None
    name: str = ""


def read_ledger_upload(upload, *, mapping: dict | None = None, saved_for=None) -> tuple[LedgerTable | None, list[Issue]]:
    """Check and read an uploaded ledger. Returns the table (with the row-level issues found while
    reading), or None and the reasons the file cannot be read at all."""
    result = read_ledger(upload, mapping=mapping, saved_for=saved_for)
    return result.table, result.problems


def read_ledger(upload, *, mapping: dict | None = None, saved_for=None) -> LedgerRead:
    """``read_ledger_upload`` with what a mapping step needs. ``mapping`` ({column key: field or
    None}) is the user's for this file; ``saved_for(signature)`` the county's saved mapping."""
    name = Path(upload.name or "").name
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        return LedgerRead(None, [Issue(_("“%(name)s” is an old-style Excel file (.xls). Open it in Excel and save "
                                         "it as “Excel workbook (*.xlsx)”.") % {"name": name})])
    if suffix == ".xlsm":
        return LedgerRead(None, [Issue(_("“%(name)s” is a workbook with macros (.xlsm). Save it in Excel as “Excel "
                                         "workbook (*.xlsx)”, without macros, and upload that.") % {"name": name})])
    if suffix not in (".xlsx", ".csv"):
        return LedgerRead(None, [Issue(_("“%(name)s” is neither an .xlsx workbook nor a .csv file. Upload the "
                                         "ledger as .xlsx (Excel) or .csv.") % {"name": name})])
    data = uploads.read_limited(upload, MAX_UPLOAD_BYTES)
    if data is None:
        return LedgerRead(None, [Issue(_("“%(name)s” is larger than %(limit)s MB. Upload the ledger sheet only, or "
                                         "split it.") % {"name": name, "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})])
    return read_ledger_data(data, name, mapping=mapping, saved_for=saved_for)


def read_ledger_data(data: bytes, name: str, *, mapping: dict | None = None, saved_for=None) -> LedgerRead:
    """Read a ledger file's bytes (checked as every upload is)."""
    suffix = Path(name).suffix.lower()
    if not data.strip():
        return LedgerRead(None, [Issue(_("“%(name)s” is empty.") % {"name": name})])
    kind = uploads.sniff_zip(data)
    options = {"mapping": mapping, "saved_for": saved_for}
    if suffix == ".xlsx":
        refused = uploads.refusal(kind, name)  # zip bomb, macros, XML entities: as every upload says it
        if refused:
            return LedgerRead(None, [Issue(refused)])
        if kind != uploads.XLSX:
            if data.startswith(uploads.OLE_SIGNATURE):
                return LedgerRead(None, [Issue(_("“%(name)s” is an old-style Excel file (.xls) renamed .xlsx. Open "
                                                 "it in Excel and save it as “Excel workbook (*.xlsx)”.")
                                               % {"name": name})])
            return LedgerRead(None, [Issue(_("“%(name)s” is not an Excel workbook: its content is not in the .xlsx "
                                             "format, whatever its name says.") % {"name": name})])
        return _kept(_read_xlsx(data, name, options), data, name)
    if kind == uploads.XLSX or kind in uploads.REFUSED_KINDS or data.startswith((uploads.ZIP_SIGNATURE, uploads.OLE_SIGNATURE)):
        return LedgerRead(None, [Issue(_("“%(name)s” is named .csv but is an Excel workbook, not a text file. "
                                         "Upload it with the .xlsx extension, or save it from Excel as “CSV "
                                         "UTF-8”.") % {"name": name})])
    text = uploads.decode_text(data)
    if text is None:
        return LedgerRead(None, [Issue(_("“%(name)s” is not a text CSV file (it is not UTF-8 or GB18030 text).")
                                       % {"name": name})])
    try:
        return _kept(_read_rows(uploads.csv_rows(text, max_col=MAX_COLUMNS), {}, name=name, file_format="csv",
                                **options), data, name)
    except csv.Error as exc:
        return LedgerRead(None, [Issue(_("“%(name)s” is not a well-formed CSV file (%(error)s).")
                                       % {"name": name, "error": exc})])


def _kept(result: LedgerRead, data: bytes, name: str) -> LedgerRead:
    result.data, result.name = data, name
    return result


def _read_xlsx(data: bytes, name: str, options: dict) -> LedgerRead:
    damaged = Issue(_("“%(name)s” could not be read as an Excel workbook; it may be damaged. Open it in Excel, "
                      "save it again and upload it.") % {"name": name})
    try:
        workbook = uploads.Workbook(data)
    except Exception:  # openpyxl raises many kinds of errors on damaged files
        logger.info("unreadable workbook %r", name, exc_info=True)
        return LedgerRead(None, [damaged])
    try:
        merged: dict[tuple[int, int], tuple[int, int]] = {}
        for min_col, min_row, max_col, max_row in workbook.merged_ranges():
            if min_col > MAX_COLUMNS:
                continue
            max_col = min(max_col, MAX_COLUMNS)
            if len(merged) + (max_col - min_col + 1) * (max_row - min_row + 1) > MAX_MERGED_CELLS:
                return LedgerRead(None, [Issue(_("“%(name)s” has merged cells over more than %(n)s cells; unmerge "
                                                 "them and upload it again.") % {"name": name, "n": MAX_MERGED_CELLS})])
            for row in range(min_row, max_row + 1):
                for col in range(min_col, max_col + 1):
                    if (row, col) != (min_row, min_col):
                        merged[(row, col)] = (min_row, min_col)
        merged_columns = {col - 1 for (row, col), (origin_row, _c) in merged.items() if row != origin_row}
        return _read_rows(workbook.rows(MAX_COLUMNS), merged, name=name, file_format="xlsx",
                          merged_columns=merged_columns, **options)
    except Exception:
        logger.info("unreadable workbook %r", name, exc_info=True)
        return LedgerRead(None, [damaged])
    finally:
        workbook.close()


def _expand(rows, merged: dict[tuple[int, int], tuple[int, int]]):
    """Rows with every merged cell given its range's top-left value (only the values of cells that
    start a range are remembered)."""
    if not merged:
        yield from rows
        return
    origins = set(merged.values())
    width_of: dict[int, int] = {}
    for (row, col) in merged:
        width_of[row] = max(width_of.get(row, 0), col)
    values: dict[tuple[int, int], Any] = {}
    for number, cells in rows:
        width = max(len(cells), width_of.get(number, 0))
        if all(v is None for v in cells):
            # Nothing of its own: an empty row inside merged ranges, or the lower part of a tall
            # merged cell. Blank either way (the merged values belong to the row they start in).
            yield number, [None] * width
            continue
        cells = list(cells) + [None] * (width - len(cells))
        for col in range(1, width + 1):
            origin = merged.get((number, col))
            if origin is not None:
                cells[col - 1] = values.get(origin)
            elif (number, col) in origins:
                values[(number, col)] = cells[col - 1]
        yield number, cells


def _read_meta(head: list[tuple[int, list]]) -> dict[str, str]:
    meta = {"title": "", "doc_number": "", "issuer": "", "year": ""}
    texts = []
    for _number, cells in head:
        for value in cells:
            text = _text(value)
            if not text:
                continue
            flat = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
            for key, pattern in _META_RE.items():
                match = pattern.match(flat)
                if match:
                    meta[key] = meta[key] or match.group(1).strip()
                    break
            else:
                texts.append(text)
    titles = [t for t in texts if not _LABEL_RE.match(re.sub(r"\s+", "", t))]
    if titles:
        meta["title"] = titles[0][:200]
    if not meta["doc_number"]:
        for text in texts:
            match = _DOC_NUMBER_RE.search(text)
            if match:
                meta["doc_number"] = re.sub(r"\s+", "", match.group(0))
                break
    if not meta["year"] and meta["title"]:
        match = _YEAR_IN_TITLE_RE.search(meta["title"])
        if match:
            meta["year"] = match.group(1)
    return meta


def split_item_number(text: str) -> tuple[str, str]:
    """``("1.1", "制定…")`` from "1.1制定…", ``("（12）", "县域医共体…")`` from "（12）县域医共体…",
    ``("督3", "…")`` from "督3 …" (a short prefix needs the space); ``("", text)`` when the text starts
    with no item number."""
    prefixed = _PREFIXED_NUMBER_RE.match(text)
    if prefixed and prefixed.end() < len(text):
        return prefixed.group(1), text[prefixed.end():].strip()
    match = _ITEM_NUMBER_RE.match(text)
    if not match or match.end() >= len(text):
        return "", text
    return re.sub(r"\s+", "", match.group(1)).replace("．", "."), text[match.end():].strip()


def _read_rows(rows, merged, *, name: str, file_format: str, merged_columns: set[int] | None = None,
               mapping: dict | None = None, saved_for=None) -> LedgerRead:
    rows = _expand(iter(rows), merged)
    head: list[tuple[int, list]] = []
    for number, cells in rows:
        head.append((number, cells))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    plan = columns.locate(head, FIELDS, given=mapping, saved_for=saved_for)
    if plan is None or not plan.by_field:
        # No column title the ledger knows (the plan, if any, lets the user map the columns).
        return LedgerRead(None, [Issue(_("No header row was found in the first %(n)s rows of “%(name)s”: a ledger "
                                         "needs a row with the column titles 主要内容 (or 重点工作), 责任单位 and "
                                         "完成时限.") % {"n": HEADER_SEARCH_ROWS, "name": name})], plan)
    position = plan.position
    header_number, header_values = head[position]
    found = plan.by_field
    # 重点工作 is the key task beside a separate item column (seed 001), the item itself otherwise (seed 004).
    layout = "tree" if "content" in found else "numbered"
    table_columns: dict[str, tuple[str, str]] = {}
    for key, column in found.items():
        if layout == "numbered" and key == "key_task":
            key = "content"
        table_columns[key] = (column.letter, column.title)
    if "content" not in table_columns:  # the item text: 主要内容, or 重点工作 in the numbered layout
        plan.errors.append(_("No column is mapped to the required field “%(field)s” (a column titled %(words)s): "
                             "map one of the file's columns to it.")
                           % {"field": _("Task text"), "words": "、".join((*TITLES["content"][:2], "重点工作"))})
    issues = [Issue(text, row=header_number) for text in plan.errors]
    if issues:
        return LedgerRead(None, issues, plan)
    meta = _read_meta(head[:position + 1 - plan.header_rows])
    table = LedgerTable(filename=name, file_format=file_format, layout=layout, header_row=header_number,
                        columns=table_columns, meta=meta, items=[], mapping=plan.to_json())
    index_of = {key: uploads.column_index(letter) for key, (letter, _t) in table_columns.items()}
    table.carry = {key for key, index in index_of.items() if index not in (merged_columns or set())}
    header_titles = {columns.normalise_title(v) for v in header_values if v is not None}

    def remaining():
        yield from head[position + 1:]
        yield from rows

    state = {"l1": "", "l2": "", "lead": "", "coop": "", "deadline": None}
    blank_run = 0
    pending_text: list[tuple[int, str]] = []  # section-like rows not yet followed by an item
    for number, values in remaining():
        filled = [t for t in map(_text, values) if t]
        if not filled:
            blank_run += 1
            if blank_run >= BLANK_RUN_LIMIT:
                break
            continue
        blank_run = 0
        if filled[0].startswith(FOOTER_PREFIXES):
            table.ignored.append((number, " ".join(filled)[:200]))
            break
        if columns.normalise_title(filled[0]) in header_titles and {columns.normalise_title(t) for t in filled} <= header_titles:
            continue  # the header repeated (a table per section, or a page break)
        cell = {key: (values[i] if i < len(values) else None) for key, i in index_of.items()}
        if len(table.items) >= MAX_DATA_ROWS:
            return LedgerRead(None, [Issue(_("“%(name)s” has more than %(n)s rows; import the ledger in parts.")
                                           % {"name": name, "n": MAX_DATA_ROWS})], plan)
        if layout == "tree":
            _tree_row(table, state, number, cell, filled, pending_text)
        else:
            _numbered_row(table, state, number, cell, filled, pending_text)
    table.ignored += pending_text
    if not table.items:
        return LedgerRead(None, [Issue(_("“%(name)s” has a header (row %(row)s) but no task rows below it.")
                                       % {"name": name, "row": header_number})], plan)
    return LedgerRead(table, [], plan)


def _issue(table: LedgerTable, row: int, key: str | None, message: str) -> None:
    letter, title = table.column(key) if key else (None, None)
    table.issues.append(Issue(message, row=row, column=letter, title=title))


def _long(table: LedgerTable, row: int, key: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        _issue(table, row, key, _("the text is longer than %(n)s characters.") % {"n": MAX_TEXT})
        return value[:MAX_TEXT]
    return value


def _tree_row(table, state, number, cell, filled, pending_text) -> None:
    content = _text(cell.get("content"))
    action = _text(cell.get("action"))
    key_task = _text(cell.get("key_task"))
    # A section row (一、“深化改革”行动): one text merged across the table, or standing alone outside
    # the task column. A row whose only text is in the task column is an item (the rest carries down).
    if len(set(filled)) == 1 and (len(filled) > 1 or not content):
        pending_text.append((number, filled[0][:300]))
        return
    if not content:
        _issue(table, number, "content", _("the task text is empty while other cells of the row are filled."))
        return
    for row_number, text in pending_text:
        if "action" not in table.columns:
            state["l1"], state["l2"], state["lead"], state["coop"], state["deadline"] = text, "", "", "", None
            table.section_rows += 1
        else:
            table.ignored.append((row_number, text))
    pending_text.clear()
    marks: list[str] = []
    carry = table.carry
    if action and action != state["l1"]:
        state["l1"], state["l2"], state["lead"], state["coop"], state["deadline"] = action, "", "", "", None
    elif not action and "action" in table.columns and "action" not in carry:
        state["l1"] = ""
    if key_task and key_task != state["l2"]:
        state["l2"], state["deadline"] = key_task, None
    elif not key_task and "key_task" not in carry:
        state["l2"] = ""
    item_number = _text(cell.get("number"))
    if item_number:
        text = content
    else:
        item_number, text = split_item_number(content)
    if not item_number:
        _issue(table, number, "content", _("the task has no item number (such as 1.1 or （12）) at the start of its "
                                           "text, and there is no 序号 column."))
    lead = _carried(cell, state, "lead", carry, marks)
    coop = _carried(cell, state, "coop", carry, marks)
    raw_deadline = cell.get("deadline")
    if _text(raw_deadline):
        deadline = _deadline_cell(raw_deadline)
        state["deadline"] = None if is_none_text(_text(raw_deadline)) else deadline
    elif state["deadline"] is not None and "deadline" in carry:
        deadline = state["deadline"]
        marks.append("deadline")
    else:
        deadline = ["text", ""]
    table.items.append(RawItem(
        row=number, number=item_number[:30], text=_long(table, number, "content", text), lead=lead[:500],
        coop=coop[:500], deadline=deadline, target=_text(cell.get("target"))[:1000],
        sections=[s for s in (state["l1"][:300], state["l2"][:300]) if s], filled=marks))


def _carried(cell, state, key: str, carry: set[str], marks: list[str]) -> str:
    """The cell's units, or the units above carried down into a blank cell (not past "——", which
    says there are none, nor in a column whose merged cells say what spans rows)."""
    value = _text(cell.get(key))
    if value:
        state[key] = "" if is_none_text(value) else value
        return value
    if state[key] and key in carry:
        marks.append(key)
        return state[key]
    return ""


def _numbered_row(table, state, number, cell, filled, pending_text) -> None:
    item_number = _text(cell.get("number"))
    content = _text(cell.get("content"))
    others = [_text(cell.get(k)) for k in ("lead", "coop", "deadline")]
    if _CHINESE_NUMERAL_RE.match(item_number) or (not item_number and content and not any(others)):
        heading = f"{item_number} {content}".strip() if content else item_number
        state["l1"] = heading[:300]
        table.section_rows += 1
        pending_text.clear()
        return
    if not content:
        if len(set(filled)) == 1 and not item_number:
            pending_text.append((number, filled[0][:200]))
            return
        _issue(table, number, "content", _("the task text is empty while other cells of the row are filled."))
        return
    if not item_number:
        item_number, content = split_item_number(content)
        if not item_number:
            _issue(table, number, "number", _("the task has no item number (序号)."))
    table.items.append(RawItem(
        row=number, number=item_number[:30], text=_long(table, number, "content", content),
        lead=_text(cell.get("lead"))[:500], coop=_text(cell.get("coop"))[:500],
        deadline=_deadline_cell(cell.get("deadline")), target=_text(cell.get("target"))[:1000],
        sections=[state["l1"]] if state["l1"] else []))
