"""The county's alliance membership register (医共体成员名册): one file listing each alliance and its
member institutions, with their role and the date from which it holds. The export
(``alliances.exports.membership_register_workbook``) doubles as the template.

Reading is the institution register's (``alliances.imports.reading`` over ``core.imports``) with
its own fields; each row's institution is found by full name, short name or credit code
(``alliances.imports.finding``); the joins, moves and changes of lead are planned by the institution
register's own rules (``alliances.imports.memberships``: same effective dates, same messages) and
written by ``alliances.imports.apply_import`` through the membership services. An institution not
in the file keeps its membership; re-importing the same file changes nothing. Alliances are not
created here (the institution register does not create them either): an unknown name is an error.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from alliances.imports.cells import CellError, _date, _key, _role_lookup, _text
from alliances.imports.finding import AMBIGUOUS, InstitutionNames
from alliances.imports.memberships import _plan_memberships
from alliances.imports.reading import Layout, RegisterRead, read_register, read_register_data
from alliances.imports.results import ImportResult, Issue, RawTable, RowResult
from alliances.imports.state import _County
from alliances.imports.validation import _describe
from alliances.models import Region
from core.imports.columns import Field

REGISTER = "memberships"

# The official titles (a msgid each, written in Chinese whatever the language) and the words clerks write.
TITLES = {
    "seq": gettext_noop("序号"),
    "alliance": gettext_noop("医共体"),
    "institution": gettext_noop("单位名称"),
    "role": gettext_noop("医共体角色"),
    "joined": gettext_noop("起始日期"),
}
FIELDS = (
    Field("seq", TITLES["seq"], ("序号", "编号")),
    Field("alliance", TITLES["alliance"], ("医共体", "医共体名称", "所属医共体", "医疗共同体", "县域医共体",
                                           "医共体（集团）", "医疗集团"), required=True),
    Field("institution", TITLES["institution"], ("单位名称", "机构名称", "医疗机构名称", "成员单位名称", "名称",
                                                 "机构全称", "单位全称"), also=("单位", "机构"),
          required=True),
    Field("role", TITLES["role"], ("医共体角色", "角色", "成员角色", "单位角色", "身份")),
    Field("joined", TITLES["joined"], ("起始日期", "加入时间", "加入日期", "起始时间", "生效日期", "开始日期",
                                       "加入医共体时间", "加入医共体日期")),
)
LAYOUT = Layout(FIELDS, ("seq",), (TITLES["alliance"], TITLES["institution"]))
MEMBERSHIP_PRESENT = {"alliance", "role", "joined"}
# A row's status in the preview and the API.
NEW, CHANGED, UNCHANGED, ERROR = "new", "changed", "unchanged", "error"


def read_upload(upload, *, mapping=None, saved_for=None) -> RegisterRead:
    return read_register(upload, mapping=mapping, saved_for=saved_for, layout=LAYOUT)


def read_data(data: bytes, name: str, *, mapping=None, saved_for=None) -> RegisterRead:
    return read_register_data(data, name, mapping=mapping, saved_for=saved_for, layout=LAYOUT)


def status_of(row: RowResult) -> str:
    if row.issues:
        return ERROR
    if row.membership:
        return NEW if row.membership.get("joins") else CHANGED
    return UNCHANGED


def counts_of(result: ImportResult) -> dict[str, int]:
    counts = {NEW: 0, CHANGED: 0, UNCHANGED: 0, ERROR: 0}
    for row in result.rows:
        counts[status_of(row)] += 1
    return counts


def validate(table: RawTable, *, county: Region, user, today: date | None = None) -> ImportResult:
    """What importing ``table`` into ``county`` would do, row by row, against the database as it is
    now (a constant number of queries). Rows keep the institution register's vocabulary (``action``
    update/unchanged, ``membership``) so that ``apply_import`` writes them."""
    today = today or timezone.localdate()
    state = _County.load(user, county)
    result = ImportResult(county=county, table=table)
    names = InstitutionNames(state.institutions.values(), county.name)
    roles = _role_lookup()

    def issue(row: RowResult, key: str | None, message: str) -> None:
        letter, title = table.columns.get(key, (None, _(TITLES[key]) if key else None))
        row.issues.append(Issue(message, row=row.row, column=letter, title=title))

    seen: dict[int, int] = {}
    for number, values in table.rows:
        row = RowResult(row=number, raw={key: _text(value) for key, value in values.items()})
        result.rows.append(row)
        text = _text(values.get("institution"))
        row.name = text
        if not text:
            issue(row, "institution", _("the name of the institution is missing."))
        else:
            found = names.find(text)
            if found is AMBIGUOUS:
                issue(row, "institution", _("“%(name)s” names more than one institution of %(county)s; write the "
                                            "full name.") % {"name": text, "county": county.name})
            elif found is None:
                issue(row, "institution", _("“%(name)s” is not an institution of %(county)s; add it to the "
                                            "institution register first.") % {"name": text, "county": county.name})
            elif found.pk in seen:
                issue(row, "institution", _("“%(name)s” is already in row %(row)s; each institution appears once.")
                      % {"name": found.name, "row": seen[found.pk]})
            else:
                seen[found.pk] = number
                row.institution, row.name = found, found.name
                row.data.update(name=found.name, kind=found.kind)
                parent = state.by_pk.get(found.parent_id)
                row.parent_name = parent.name if parent else None
        row.data["alliance"] = _text(values.get("alliance"))
        if not row.data["alliance"]:
            issue(row, "alliance", _("the alliance is missing."))
        role_text = _text(values.get("role"))
        if role_text:
            role = roles.get(_key(role_text)) or roles.get(_key(role_text).lower())
            if role is None:
                issue(row, "role", _("“%(value)s” is not a role; write 牵头单位 or 成员单位.") % {"value": role_text})
            else:
                row.data["role"] = role
        try:
            row.data["joined"] = _date(values.get("joined"))
        except CellError as exc:
            issue(row, "joined", str(exc))
    # The rows read well are planned together (one lead an alliance, leads replaced, clinics following
    # their centre), by the institution register's rules.
    readable = ImportResult(county=county, table=table, rows=[r for r in result.rows if r.ok])
    planned = _plan_memberships(readable, state, {}, issue, today)
    for row in readable.rows:
        _describe(row, state, MEMBERSHIP_PRESENT, planned, today)
        if row.membership:  # a join: no membership in force on its day (a new lead too)
            row.membership["joins"] = state.membership_on(row.institution.pk, row.membership["on"]) is None
    described = {id(row) for row in readable.rows}
    for row in result.rows:
        if id(row) not in described:
            row.action = "unchanged"
            row.display = {"name": row.name, "alliance": row.raw.get("alliance", ""),
                           "role": row.raw.get("role", ""), "joined": row.raw.get("joined", "")}
    return result
