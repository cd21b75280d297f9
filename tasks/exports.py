"""Excel exports of the task ledgers, in the official layout (``core.workbook``): a title row
merged across the table, a row of particulars, the header, the data and the 填报人 / 审核人 / 日期
footer.

Two tables:

- the whole ledger (任务台账) in the layout of its source: "tree" and "manual" as seed 000/001
  (行动 | 重点任务 | 主要内容 | 责任单位 | 配合单位 | 完成时限), "numbered" as seed 004 (序号 | 重点工作 |
  责任部门 | 配合部门 | 时限要求, with a row per section). It doubles as the import template of
  ``tasks.imports``: the header titles are ones ``tasks.imports.reading.TITLES`` knows, the row above
  the header gives 文号 / 发文机关 / 年度, the item number starts the 主要内容 cell, and the columns the
  importer does not know (完成情况, 最新进展) are ignored by it;
- the supervisor's filtered list of assignments (任务督办清单).

Neither writer queries the database: ``ledger_export_data`` loads a ledger in three queries, and the
list's rows come from ``tasks.selectors.with_list_data`` with their latest report attached.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl import Workbook
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter

from core import workbook as book
from core.http import safe_filename
from core.workbook import CENTER, LEFT, OFFICIAL_LANGUAGE, RIGHT, SECTION_FILL_COLOR, cell, date_zh
from tasks.models import Assignment, Ledger, ProgressReport, TaskItem
from tasks.selectors import latest_reports
from tasks.status import Light, Status, local_date

TITLE_ROW, INFO_ROW, HEADER_ROW, FIRST_DATA_ROW = 1, 2, 3, 4

LIGHT_FILLS = {
    Light.RED: PatternFill("solid", fgColor="FFC7CE"),
    Light.YELLOW: PatternFill("solid", fgColor="FFEB9C"),
    Light.BLUE: PatternFill("solid", fgColor="DDEBF7"),
}
SECTION_FILL = PatternFill("solid", fgColor=SECTION_FILL_COLOR)
LIGHT_TEXTS = {Light.RED: gettext_noop("红"), Light.YELLOW: gettext_noop("黄"), Light.BLUE: gettext_noop("蓝")}
STATUS_TEXTS = {
    Status.NOT_STARTED: gettext_noop("未启动"),
    Status.ON_TRACK: gettext_noop("推进中"),
    Status.DUE_SOON: gettext_noop("临期"),
    Status.OVERDUE: gettext_noop("逾期"),
    Status.DONE: gettext_noop("已完成"),
    Status.CONTINUOUS: gettext_noop("持续推进"),
}
ROLE_TEXTS = {Assignment.Role.LEAD: gettext_noop("责任"), Assignment.Role.COOPERATING: gettext_noop("配合")}

ROW_MIN_HEIGHT = 20
PROGRESS_CHARS = 120  # each unit's latest progress is cut to this many characters
# Characters that, right after the item number, would stop the importer from reading it (2021年…).
_NUMBER_GLUE = "年月日%％个.．"

# The ledger (任务台账) ----------------------------------------------------------------------------

# (key, header, width); the headers of the known fields are titles the importer reads (the first
# of ``tasks.imports.reading.TITLES``, or one of the others where the seed layout says so).
TREE_COLUMNS = [
    ("action", gettext_noop("行动"), 14),
    ("key_task", gettext_noop("重点任务"), 16),
    ("content", gettext_noop("主要内容"), 46),
    ("lead", gettext_noop("责任单位"), 18),
    ("coop", gettext_noop("配合单位"), 14),
    ("deadline", gettext_noop("完成时限"), 14),
    ("status", gettext_noop("完成情况"), 16),
    ("progress", gettext_noop("最新进展"), 40),
]
# Seed 001 names its first column 类别: its level-1 headings are categories, not actions.
TREE_CATEGORY_TITLE = gettext_noop("类别")
NUMBERED_COLUMNS = [
    ("number", gettext_noop("序号"), 6),
    ("content", gettext_noop("重点工作"), 50),
    ("lead", gettext_noop("责任部门"), 18),
    ("coop", gettext_noop("配合部门"), 16),
    ("deadline", gettext_noop("时限要求"), 14),
    ("status", gettext_noop("完成情况"), 16),
    ("progress", gettext_noop("最新进展"), 40),
]
# The particulars above the header, at columns A, C and E as the seed files have them; the export
# date takes the columns from F to the last.
DOC_NUMBER_COLS, ISSUER_COLS, YEAR_COLS, DATE_FIRST_COL = (1, 2), (3, 4), (5, 5), 6
_CHINESE_NUMERAL = re.compile(r"^[（(]?[一二三四五六七八九十百]+[)）]?[、.．]?$")


def ledger_export_data(ledger: Ledger) -> tuple[list[TaskItem], dict[int, list[Assignment]],
                                                 dict[int, ProgressReport]]:
    """The active items of ``ledger`` (with their sections and the sections' parents), their active
    assignments by item (responsible units first, with their units) and the latest report of each
    assignment. Three queries whatever the size of the ledger."""
    items = list(ledger.items.filter(is_active=True).select_related("section", "section__parent")
                 .order_by("order", "pk"))
    item_of = {item.pk: item for item in items}
    for item in items:
        item.ledger = ledger
    assignments = list(Assignment.objects.filter(item__ledger=ledger, item__is_active=True, is_active=True)
                       .select_related("department", "institution", "alliance").order_by("item_id", "pk"))
    by_item: dict[int, list[Assignment]] = {}
    for assignment in assignments:
        assignment.item = item_of[assignment.item_id]
        by_item.setdefault(assignment.item_id, []).append(assignment)
    for rows in by_item.values():
        rows.sort(key=lambda a: not a.is_lead)  # stable: responsible units first, then by pk
    latest = latest_reports([a.pk for a in assignments]) if assignments else {}
    return items, by_item, latest


def ledger_filename(ledger: Ledger, on: date) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        return f"{safe_filename(ledger.title)}_{on:%Y%m%d}.xlsx"


def ledger_workbook(*, ledger: Ledger, items: list[TaskItem], assignments_by_item: dict[int, list[Assignment]],
                    latest_by_assignment: dict[int, ProgressReport], now: datetime) -> bytes:
    """The whole ledger as an .xlsx file (bytes), in Chinese whatever the user's language: an
    official table, and the import template. The arguments come from ``ledger_export_data``; the
    statuses are the cached ones (refresh them first). No query."""
    with translation.override(OFFICIAL_LANGUAGE):
        return _ledger_workbook(ledger=ledger, items=items, assignments_by_item=assignments_by_item,
                                latest_by_assignment=latest_by_assignment, today=local_date(now))


def _ledger_workbook(*, ledger, items, assignments_by_item, latest_by_assignment, today: date) -> bytes:
    numbered = ledger.layout == Ledger.Layout.NUMBERED
    columns = NUMBERED_COLUMNS if numbered else TREE_COLUMNS
    ncols = len(columns)
    wb = Workbook()
    ws = wb.active
    ws.title = _("任务台账")

    _ledger_title_rows(ws, ledger=ledger, today=today, ncols=ncols)
    titles = [_(title) for _key, title, _width in columns]
    if not numbered and not _headed_by_actions(items):
        titles[0] = _(TREE_CATEGORY_TITLE)
    book.header(ws, [(title, width) for title, (_key, _title, width) in zip(titles, columns, strict=True)],
                row=HEADER_ROW)

    writer = _numbered_rows if numbered else _tree_rows
    last_data_row = writer(ws, items, assignments_by_item, latest_by_assignment)

    return _finish(ws, wb, ncols=ncols, last_data_row=last_data_row, on=today,
                   splits=(3, 5) if numbered else (4, 6))


def _ledger_title_rows(ws, *, ledger: Ledger, today: date, ncols: int) -> None:
    """Row 1: the ledger's title; row 2: 文号, 发文机关 and 年度 (the importer reads them back), and the
    export date on the right."""
    book.title_row(ws, ledger.title, ncols, row=TITLE_ROW)
    # The export date is a date cell shown as 导出日期：…: the importer takes the longest text above
    # the header for the title, and a date reads as 10 characters where "导出日期：2026年12月31日"
    # would be 16.
    *_particulars, day = book.info_row(ws, [
        (*DOC_NUMBER_COLS, _("文号：%(value)s") % {"value": ledger.doc_number}),
        (*ISSUER_COLS, _("发文机关：%(value)s") % {"value": ledger.issuer}),
        (*YEAR_COLS, _("年度：%(value)s") % {"value": ledger.year}),
        (DATE_FIRST_COL, ncols, today),
    ], row=INFO_ROW)
    day.number_format = '"{}"yyyy"年"m"月"d"日"'.format(_("导出日期："))


def _headed_by_actions(items: list[TaskItem]) -> bool:
    """Whether the level-1 headings are actions (一、“深化改革”行动), as in seed 000."""
    labels = {l1 for l1, _l2 in (_section_labels(item) for item in items) if l1}
    return not labels or all(label.rstrip("”\"’'").endswith("行动") for label in labels)


def _section_labels(item: TaskItem) -> tuple[str, str]:
    """The item's level-1 and level-2 headings ("" where there is none)."""
    section = item.section
    if section is None:
        return "", ""
    if section.parent_id is None:
        return (section.label, "") if section.level == 1 else ("", section.label)
    return section.parent.label, section.label


def item_content(item: TaskItem) -> str:
    """The 主要内容 cell: the number, then the text ("1.1制定…"), as the seed ledgers write it and the
    importer splits it. A space keeps a text that starts with a figure (12 + 2021年…) apart, and
    follows a number with a prefix (督1, made from an inspection finding), which the importer reads
    only when a space ends it."""
    text = item.text or ""
    prefixed = bool(item.number) and not item.number[:1].isdigit() and item.number[:1] not in "（("
    glue = " " if prefixed or text[:1].isdigit() or text[:1] in _NUMBER_GLUE else ""
    return f"{item.number}{glue}{text}"


def deadline_display(item: TaskItem) -> str:
    """The deadline as the ledger writes it; a date a person set shows in 完成情况 (``corrected_note``),
    so the exported file still imports as it is."""
    return item.deadline_text


def corrected_note(item: TaskItem) -> str:
    """"时限已人工设定为2026-12-31" when a person set the deadline, else ""."""
    if not item.deadline_corrected:
        return ""
    if item.due_date is not None:
        return _("时限已人工设定为%(date)s") % {"date": item.due_date.isoformat()}
    return _("时限已人工设定为持续推进")


def _item_cells(item, assignments, latest_by_assignment) -> tuple[str, PatternFill | None, str]:
    status, light = status_summary(assignments)
    note = corrected_note(item)
    if note:
        status = f"{status}；{note}"
    return status, LIGHT_FILLS.get(light), progress_lines(assignments, latest_by_assignment)


def status_summary(assignments: Iterable[Assignment]) -> tuple[str, str]:
    """A short Chinese summary of an item's assignments ("已完成1/3；逾期2") and its worst light,
    from their cached status. No query."""
    rows = list(assignments)
    if not rows:
        return _("未分配责任单位"), Light.NONE
    statuses = [a.status for a in rows]
    lights = {a.light for a in rows}
    light = next((lt for lt in (Light.RED, Light.YELLOW, Light.BLUE) if lt in lights), Light.NONE)
    if all(s == Status.CONTINUOUS for s in statuses):
        parts = [_("持续推进")]
    else:
        parts = [_("已完成%(done)s/%(total)s") % {"done": statuses.count(Status.DONE), "total": len(rows)}]
    counts = [
        (statuses.count(Status.OVERDUE), gettext_noop("逾期%(n)s")),
        (statuses.count(Status.DUE_SOON), gettext_noop("临期%(n)s")),
        (sum(1 for a in rows if a.light == Light.YELLOW), gettext_noop("滞后%(n)s")),
    ]
    parts += [_(text) % {"n": n} for n, text in counts if n]
    return "；".join(parts), light


def _report_text(report: ProgressReport) -> str:
    text = " ".join((report.text or "").split())
    if len(text) > PROGRESS_CHARS:
        text = text[:PROGRESS_CHARS - 1] + "…"
    if report.state == ProgressReport.State.RETURNED:
        text += _("（已退回）")
    return text


def progress_lines(assignments: Iterable[Assignment], latest_by_assignment: dict[int, ProgressReport]) -> str:
    """Each unit's latest progress, "单位：文本（2026-05）", one line each."""
    lines = []
    for assignment in assignments:
        report = latest_by_assignment.get(assignment.pk)
        if report is not None:
            lines.append(_("%(unit)s：%(text)s（%(period)s）") % {
                "unit": assignment.unit_name, "text": _report_text(report), "period": report.period})
    return "\n".join(lines)


class _CarryDown:
    """What the importer would put in a blank cell of the tree layout: it reads a blank as "same as
    above" (merged Word cells pasted), the units within an action, the deadline within a key task.
    An empty value below a filled one is written "——" (none), or a re-import would give the item
    the units or the deadline of the row above."""

    def __init__(self) -> None:
        self.state = {"l1": "", "l2": "", "lead": "", "coop": "", "deadline": ""}

    def cells(self, l1: str, l2: str, values: dict[str, str]) -> dict[str, str]:
        state = self.state
        if l1 and l1 != state["l1"]:
            state.update(l1=l1, l2="", lead="", coop="", deadline="")
        if l2 and l2 != state["l2"]:
            state.update(l2=l2, deadline="")
        cells = {}
        for key, value in values.items():
            if not value and state[key]:
                value = NONE_TEXT
            state[key] = value or state[key]
            cells[key] = value
        return cells


NONE_TEXT = "——"  # the seed ledgers' "none" in a unit or deadline cell


def _tree_rows(ws, items, assignments_by_item, latest_by_assignment) -> int:
    """One row per item; the headings in the first two columns, merged down over their items (the
    level-2 heading only under the same level-1 heading)."""
    row = FIRST_DATA_ROW
    carry = _CarryDown()
    for item in items:
        assignments = assignments_by_item.get(item.pk, [])
        status, fill, progress = _item_cells(item, assignments, latest_by_assignment)
        l1, l2 = _section_labels(item)
        cells = carry.cells(l1, l2, {"lead": item.lead_units_text, "coop": item.coop_units_text,
                                     "deadline": deadline_display(item)})
        values = [l1 or None, l2 or None, item_content(item), cells["lead"] or None, cells["coop"] or None,
                  cells["deadline"] or None, status, progress or None]
        aligns = [CENTER, CENTER, LEFT, LEFT, LEFT, CENTER, CENTER, LEFT]
        for col, (value, align) in enumerate(zip(values, aligns, strict=True), start=1):
            cell(ws, row, col, value, align=align, fill=fill if col == 7 else None)
        row += 1
    if row > FIRST_DATA_ROW:
        book.merge_repeated(ws, [1, 2], FIRST_DATA_ROW, row - 1)
    return row - 1


def _numbered_heading(label: str) -> tuple[str, str]:
    """A level-1 heading as the seed's section row writes it: "一 推进公立医院高质量发展" →
    ("一", "推进公立医院高质量发展"); a heading without a numeral stays whole in 重点工作."""
    numeral, _sep, rest = label.partition(" ")
    if rest.strip() and _CHINESE_NUMERAL.match(numeral):
        return numeral, rest.strip()
    return "", label


def _numbered_rows(ws, items, assignments_by_item, latest_by_assignment) -> int:
    """A section row (序号 = the numeral, 重点工作 = the heading) before each section's items, then one
    row per item. Only level-1 headings: the seed layout has no others."""
    row = FIRST_DATA_ROW
    current = None
    ncols = len(NUMBERED_COLUMNS)
    for item in items:
        l1, l2 = _section_labels(item)
        heading = l1 or l2
        if heading and heading != current:
            numeral, text = _numbered_heading(heading)
            for col in range(1, ncols + 1):
                value = (numeral or None) if col == 1 else (text if col == 2 else None)
                cell(ws, row, col, value, bold=True, align=LEFT if col == 2 else CENTER, fill=SECTION_FILL)
            row += 1
        current = heading or current
        assignments = assignments_by_item.get(item.pk, [])
        status, fill, progress = _item_cells(item, assignments, latest_by_assignment)
        values = [item.number, item.text, item.lead_units_text or None, item.coop_units_text or None,
                  deadline_display(item) or None, status, progress or None]
        aligns = [CENTER, LEFT, LEFT, LEFT, CENTER, CENTER, LEFT]
        for col, (value, align) in enumerate(zip(values, aligns, strict=True), start=1):
            cell(ws, row, col, value, align=align, fill=fill if col == 6 else None)
        row += 1
    return row - 1


# The supervisor's list (任务督办清单) ---------------------------------------------------------------

LIST_COLUMNS = [
    ("seq", gettext_noop("序号"), 6),
    ("ledger", gettext_noop("台账"), 20),
    ("number", gettext_noop("编号"), 7),
    ("task", gettext_noop("任务"), 40),
    ("unit", gettext_noop("责任单位"), 16),
    ("role", gettext_noop("角色"), 7),
    ("deadline", gettext_noop("完成时限"), 13),
    ("status", gettext_noop("状态"), 9),
    ("light", gettext_noop("督办灯"), 7),
    ("days_late", gettext_noop("逾期天数"), 8),
    ("percent", gettext_noop("进度%"), 7),
    ("progress", gettext_noop("最新进展"), 36),
]


def assignment_list_filename(county_name: str, on: date) -> str:
    with translation.override(OFFICIAL_LANGUAGE):
        title = _("%(county)s任务督办清单") % {"county": county_name}
        return f"{safe_filename(title)}_{on:%Y%m%d}.xlsx"


def assignment_list_workbook(*, title: str, county_name: str, rows: list[Assignment], filters_text: str,
                             now: datetime) -> bytes:
    """The filtered list of assignments as an .xlsx file (bytes), in Chinese. ``rows`` come from
    ``tasks.selectors.with_list_data``, each with its newest report as ``latest`` (or None). No query."""
    with translation.override(OFFICIAL_LANGUAGE):
        return _assignment_list_workbook(title=title, county_name=county_name, rows=rows,
                                         filters_text=filters_text, today=local_date(now))


def _assignment_list_workbook(*, title, county_name, rows, filters_text, today: date) -> bytes:
    ncols = len(LIST_COLUMNS)
    wb = Workbook()
    ws = wb.active
    ws.title = _("督办清单")

    book.title_row(ws, title, ncols, row=TITLE_ROW)
    book.info_row(ws, [
        (1, 4, _("填报单位：%(unit)s卫生健康局") % {"unit": county_name} if county_name else ""),
        (5, 9, _("筛选条件：%(filters)s") % {"filters": filters_text or _("全部")}),
        (10, ncols, _("导出日期：%(date)s") % {"date": date_zh(today)}),
    ], row=INFO_ROW)
    book.header(ws, [(_(t), w) for _k, t, w in LIST_COLUMNS], row=HEADER_ROW)

    row = FIRST_DATA_ROW
    for number, assignment in enumerate(rows, start=1):
        item = assignment.item
        report = getattr(assignment, "latest", None)
        days_late = None
        if assignment.status == Status.OVERDUE and item.due_date is not None:
            days_late = (today - item.due_date).days
        values = {
            "seq": number,
            "ledger": item.ledger.title,
            "number": item.number,
            "task": item.text,
            "unit": assignment.unit_name,
            "role": _(ROLE_TEXTS[assignment.role]) if assignment.role in ROLE_TEXTS else assignment.role,
            "deadline": deadline_display(item) or None,
            "status": _(STATUS_TEXTS[assignment.status]) if assignment.status in STATUS_TEXTS else assignment.status,
            "light": _(LIGHT_TEXTS[assignment.light]) if assignment.light in LIGHT_TEXTS else None,
            "days_late": days_late,
            "percent": assignment.percent,
            "progress": _("%(text)s（%(period)s）") % {"text": _report_text(report), "period": report.period}
            if report is not None else None,
        }
        aligns = {"ledger": LEFT, "task": LEFT, "unit": LEFT, "progress": LEFT, "days_late": RIGHT,
                  "percent": RIGHT}
        for col, (key, _title, _width) in enumerate(LIST_COLUMNS, start=1):
            cell(ws, row, col, values[key], align=aligns.get(key, CENTER),
                  fill=LIGHT_FILLS.get(assignment.light) if key == "light" else None)
        row += 1

    return _finish(ws, wb, ncols=ncols, last_data_row=row - 1, on=today, splits=(5, 9))


# The end of both tables ----------------------------------------------------------------------------

def _finish(ws, wb, *, ncols: int, last_data_row: int, on: date, splits: tuple[int, int]) -> bytes:
    """Rows as tall as their wrapped text, the footer two rows under the data, the print setup (the
    header repeated on every page); the file."""
    last_data_row = max(last_data_row, HEADER_ROW)
    book.fit_row_heights(ws, FIRST_DATA_ROW, last_data_row, min_height=ROW_MIN_HEIGHT)
    footer_row = last_data_row + 2
    book.footer_row(ws, footer_row, on=on, ncols=ncols, splits=splits)
    book.page_setup(ws, header_rows=(HEADER_ROW, HEADER_ROW), last_col=get_column_letter(ncols), last_row=footer_row)
    return book.save(wb)
