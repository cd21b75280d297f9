"""Importing accounts from a workbook (.xlsx) or a .csv file: a county's security administrator
creates hundreds of accounts at once (姓名, 用户名, 手机, 邮箱, 单位, 角色; one account and its grant a
row).

Read (``core.uploads``: the real type by content, macros, zip bombs, UTF-8/GB18030 text) → check
every cell (``check``: errors by row and column, in Chinese) → preview (new / changed / unchanged)
→ confirm (``confirm``: the same check again against the database of that moment, under a lock
of the county; applied only if the plan is still the one previewed) → apply in one transaction
(``bulk_create``, one security-log write for all events) → the one-time passwords, once, as an
.xlsx (kept encrypted in the session until then: ``passwords_seal`` / ``passwords_open``).

Checking and applying cost the same number of queries for 30 rows as for 3000: the units of the
county, the accounts already named in the file, which of them the importer may change and the
grants they hold are each read once; the grant rules run in memory
(``check_grant(held=…, changeable=…)``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from accounts.models import Grant, PasswordHistory, Role, User
from alliances import scoping
from alliances.exports import OFFICIAL_LANGUAGE
from alliances.models import Region
from alliances.scoping import Scope
from core import audit, uploads
from core import workbook as xlsx
from core import xlsx as core_xlsx
from core.audit import Event
from core.imports import columns, mappings, reading
from core.imports.columns import ColumnPlan, Field
from core.issues import Issue, cap
from security.forms import email_problem, phone_problem, username_problem
from security.grants import GrantRefused, check_grant, grant_words
from security.services import one_time_password
from security.user_selectors import Unit, Units, grantable_roles, units_of

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 3000
MAX_COLUMNS = 30
HEADER_ROWS = 10  # the header is looked for in the sheet's first rows
SAMPLE_ROWS = 3  # rows below them read for the mapping panel's first values
SHEET = "用户"
HELP_SHEET = "填写说明"
EXAMPLE_PREFIX = "示例"  # the template's example row (姓名 starting with 示例) is skipped
REGISTER = "users"

NEW, CHANGED, UNCHANGED = "new", "changed", "unchanged"


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # the register's own title (data, not UI text)
    required: bool
    synonyms: tuple[str, ...] = ()
    label: str = ""  # the field's name in the mapping panel (UI text)


# Every header word the importer took before the engine, and the words clerks commonly write.
COLUMNS = (
    Column("full_name", "姓名", True, ("真实姓名", "人员姓名", "用户姓名", "职工姓名", "名字"),
           gettext_lazy("Full name")),
    Column("username", "用户名", True, ("账号", "登录名", "用户账号", "帐号", "用户帐号", "登录账号", "登录帐号",
                                     "登录用户名", "账户", "帐户", "用户名称"), gettext_lazy("User name")),
    Column("phone", "手机", False, ("手机号", "手机号码", "电话", "联系电话", "移动电话", "手机电话", "联系方式",
                                  "电话号码"), gettext_lazy("Mobile phone")),
    Column("email", "邮箱", False, ("电子邮箱", "邮件", "电子邮件", "邮箱地址", "电子邮箱地址", "email", "Email",
                                  "EMAIL", "e-mail", "E-mail", "E-Mail", "E-MAIL", "mail"), gettext_lazy("E-mail address")),
    Column("unit", "单位", True, ("单位名称", "所在单位", "机构", "所属单位", "工作单位", "机构名称", "所属机构",
                                "所在机构"), gettext_lazy("Unit")),
    Column("role", "角色", True, ("用户角色", "角色名称", "系统角色", "权限角色"), gettext_lazy("Role")),
)
BY_KEY = {c.key: c for c in COLUMNS}
# The register's fields for ``core.imports.columns``.
FIELDS = tuple(Field(c.key, c.label, (c.title, *c.synonyms), required=c.required) for c in COLUMNS)


def _key(text) -> str:
    """Text as looked up: full-width forms folded, no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", uploads.cell_text(text))).lower()


# Reading -----------------------------------------------------------------------------------------

@dataclass
class Table:
    """The rows of an uploaded file: cell texts by column key, with their row numbers, the column
    letters (for the messages) and the column plan (``ColumnPlan.to_json``, remembered at the
    confirmation)."""

    filename: str
    columns: dict[str, str] = field(default_factory=dict)  # key → column letter
    rows: list[dict] = field(default_factory=list)  # {"line": n, key: text, …}
    mapping: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"filename": self.filename, "columns": self.columns, "rows": self.rows, "mapping": self.mapping}

    @classmethod
    def from_json(cls, data: dict) -> Table:
        return cls(filename=str(data["filename"]), columns={str(k): str(v) for k, v in data["columns"].items()},
                   rows=[dict(r) for r in data["rows"]], mapping=dict(data.get("mapping") or {}))


@dataclass
class Read:
    """A file read: its table, or why not (``problems``); the column plan (for the mapping panel,
    also when the table could not be read) and the bytes (kept for a new mapping)."""

    table: Table | None
    problems: list[Issue]
    columns: ColumnPlan | None = None
    data: bytes | None = None
    name: str = ""


def read_upload(upload) -> tuple[Table | None, list[Issue]]:
    """The rows of an uploaded .xlsx or .csv (columns by their titles, or the saved mapping), or
    None and why the file cannot be read."""
    read = read_file(upload)
    return read.table, read.problems


def read_file(upload, *, mapping: dict | None = None, saved_for=None) -> Read:
    name = Path(upload.name or "").name
    data = uploads.read_limited(upload, MAX_BYTES)
    if data is None:
        return Read(None, [Issue(_("“%(name)s” is larger than %(limit)s MB; split the accounts into several files.")
                                 % {"name": name, "limit": MAX_BYTES // (1024 * 1024)})], name=name)
    return read_data(data, name, mapping=mapping, saved_for=saved_for)


def read_data(data: bytes, name: str, *, mapping: dict | None = None, saved_for=None) -> Read:
    """The file's rows (``core.imports.reading``: the sheet 用户 of a workbook, else its active sheet;
    .csv in UTF-8 or GB18030), its header found in the first rows and its columns mapped
    (``core.imports.columns.locate``: the user's ``mapping``, else the saved one, else the titles)."""
    if not data.strip():
        return Read(None, [Issue(_("“%(name)s” is empty.") % {"name": name})], name=name)
    if data.startswith(uploads.OLE_SIGNATURE):
        return Read(None, [Issue(_("“%(name)s” is an old-style Excel file (.xls). Open it in Excel and save it as "
                                   "“Excel workbook (*.xlsx)”.") % {"name": name})], name=name)
    refused = uploads.refusal(uploads.sniff_zip(data), name)  # zip bomb, macros, XML entities: as every upload
    if refused:
        return Read(None, [Issue(refused)], name=name)
    sheet, problems = reading.read_data(data, name, max_columns=MAX_COLUMNS, max_rows=MAX_ROWS + HEADER_ROWS,
                                        sheet_name=SHEET)
    if sheet is None:
        return Read(None, problems, name=name)
    head = [(number, cells) for number, cells in sheet.rows[:HEADER_ROWS + SAMPLE_ROWS]]
    plan = columns.locate(head, FIELDS, given=mapping, saved_for=saved_for)
    if plan is not None and plan.header_row > HEADER_ROWS:
        plan = None
    if plan is None or not (plan.by_field or mapping):  # no title the register knows (and no mapping)
        return Read(None, [Issue(_("No header row with “用户名” was found in the first %(n)s rows of “%(name)s”: "
                                   "start from the template.") % {"n": HEADER_ROWS, "name": name})],
                    plan, data, name)
    issues = [Issue(text, row=plan.header_row) for text in plan.errors]
    if mapping is None and not any(c.source == columns.FROM_SAVED for c in plan.columns):
        issues += _twice(plan)  # mapped by the titles alone (a mapping the user made or saved decides)
    if issues:
        return Read(None, issues, plan, data, name)
    table = Table(filename=name, columns={key: column.letter for key, column in plan.by_field.items()},
                  mapping=plan.to_json())
    indexes = {key: column.index for key, column in plan.by_field.items()}
    for number, values in sheet.rows[plan.position + 1:]:
        row = {"line": number}
        for key, index in indexes.items():
            text = uploads.cell_text(values[index]) if index < len(values) else ""
            row[key] = " ".join(text.split()) if key == "full_name" else text
        if not any(row.get(c.key) for c in COLUMNS):
            continue  # 序号 or 备注 alone
        if row.get("full_name", "").startswith(EXAMPLE_PREFIX):
            continue
        table.rows.append(row)
    if len(table.rows) > MAX_ROWS:
        return Read(None, [Issue(_("“%(name)s” has more than %(n)s accounts; split it into several files.")
                                 % {"name": name, "n": MAX_ROWS})], plan, data, name)
    if not table.rows:
        return Read(None, [Issue(_("“%(name)s” has a header (row %(row)s) but no account below it.")
                                 % {"name": name, "row": plan.header_row})], plan, data, name)
    return Read(table, [], plan, data, name)


def _twice(plan: ColumnPlan) -> list[Issue]:
    """A field's title on two columns (手机 and 手机号, or 手机 twice), mapped by the titles alone: the
    second is not ignored silently. A required field's repeated title is an error of the plan already."""
    first: dict[str, columns.Column] = {c.field: c for c in plan.columns if c.field}
    issues = []
    for column in plan.columns:
        if column.field or column.source != columns.UNMAPPED or not column.title:
            continue
        base = column.key.split("#")[0]
        found = next((f for f in FIELDS if f.rank_of(base)), None)
        if found is None:
            continue
        if found.name not in first:
            if not found.required:
                first[found.name] = column
            continue
        title = BY_KEY[found.name].title
        issues.append(Issue(_("the column “%(title)s” appears twice (columns %(first)s and %(second)s); keep "
                              "one.") % {"title": title, "first": first[found.name].letter, "second": column.letter},
                            row=plan.header_row, column=column.letter, title=title))
    return issues


# Checking ----------------------------------------------------------------------------------------

@dataclass
class Row:
    line: int
    full_name: str
    username: str
    phone: str
    email: str
    unit: Unit | None
    role: str
    status: str = NEW
    account: User | None = None  # the existing account a row changes
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field key, before, after)
    new_grant: bool = False
    clean: bool = True  # no error in the row's own cells

    @property
    def shown_changes(self) -> list[tuple[str, str, str]]:
        labels = change_labels()
        return [(labels[key], before, after) for key, before, after in self.changes]

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role in Role.values else ""

    @property
    def grant_text(self) -> str:
        return grant_words(self.role, self.unit.obj) if self.unit and self.role in Role.values else ""


@dataclass
class Plan:
    county: Region
    table: Table
    rows: list[Row] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def errors(self) -> list[str]:
        return cap([issue.text for issue in self.issues])

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def has_changes(self) -> bool:
        return any(r.status != UNCHANGED for r in self.rows)

    def fingerprint(self) -> str:
        """What the preview showed: each row's account, status, changes and grant."""
        content = [[r.line, r.username.lower(), r.status, r.account.pk if r.account else None, r.changes,
                    r.role, r.unit.key if r.unit else "", r.new_grant] for r in self.rows]
        text = json.dumps([self.county.pk, content], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def change_labels() -> dict[str, str]:
    return {"full_name": _("Full name"), "phone": _("Mobile phone"), "email": _("E-mail address"),
            "grant": _("New grant")}


def role_names() -> dict[str, str]:
    """Every accepted way of writing a role: its Chinese name, its English name and its code."""
    names = {}
    for value, _label in Role.choices:
        names[_key(value)] = value
        with translation.override("en"):
            names[_key(str(Role(value).label))] = value
        with translation.override(OFFICIAL_LANGUAGE):
            names[_key(str(Role(value).label))] = value
    return names


def official_role_labels(scope: Scope) -> list[str]:
    """The roles the importer may grant, in Chinese (the template's drop-down list)."""
    with translation.override(OFFICIAL_LANGUAGE):
        return [str(Role(value).label) for value, _label in grantable_roles(scope)]


def _units_by_name(units: Units) -> dict[str, list[Unit]]:
    found: dict[str, list[Unit]] = {}
    for unit in units.all():
        names = {_key(unit.obj.name)}
        short = getattr(unit.obj, "short_name", "")
        if short:
            names.add(_key(short))
        for name in names:
            found.setdefault(name, []).append(unit)
    return found


def check(table: Table, *, actor, county: Region) -> Plan:
    """Every cell checked, every row classified; saves nothing. ``county``: one of the counties whose
    accounts ``actor`` runs. Six queries or so, whatever the number of rows."""
    scope = scoping.scope_of(actor)
    plan = Plan(county=county, table=table)
    issues = plan.issues
    columns = table.columns
    units = units_of(scope, {county.pk})
    by_name = _units_by_name(units)
    roles = role_names()
    shown_roles = "、".join(official_role_labels(scope))

    def issue(row: dict, key: str, message: str) -> None:
        issues.append(Issue(message, row=row["line"], column=columns.get(key), title=BY_KEY[key].title))

    first_line: dict[str, list[int]] = {}
    parsed: list[tuple[dict, Row]] = []
    for raw in table.rows:
        errors_before = len(issues)
        for column in COLUMNS:
            if column.required and not raw.get(column.key):
                issue(raw, column.key, _("the cell is empty; it is required."))
        full_name = raw.get("full_name", "")
        if len(full_name) > User._meta.get_field("full_name").max_length:
            issue(raw, "full_name", _("“%(value)s” is longer than %(n)s characters.")
                  % {"value": full_name, "n": User._meta.get_field("full_name").max_length})
        username = raw.get("username", "")
        if username:
            problem = username_problem(username)
            if problem:
                issue(raw, "username", problem)
            else:
                first_line.setdefault(username.lower(), []).append(raw["line"])
        phone = raw.get("phone", "")
        problem = phone_problem(phone)
        if problem:
            issue(raw, "phone", problem)
        email = raw.get("email", "")
        problem = email_problem(email)
        if problem:
            issue(raw, "email", problem)
        unit = None
        if raw.get("unit"):
            found = by_name.get(_key(raw["unit"]), [])
            if len(found) == 1:
                unit = found[0]
            elif len(found) > 1:
                issue(raw, "unit", _("“%(value)s” names more than one unit of %(county)s (%(units)s); write the "
                                     "unit's full name.") % {
                    "value": raw["unit"], "county": county.name, "units": "、".join(u.obj.name for u in found)})
            else:
                # A unit of another county reads the same as one that does not exist.
                issue(raw, "unit", _("“%(value)s” is not a unit of %(county)s: write the county, an alliance or "
                                     "an institution as the portal names it (the list is on the template's 填写说明 "
                                     "sheet).") % {"value": raw["unit"], "county": county.name})
        role = ""
        if raw.get("role"):
            role = roles.get(_key(raw["role"]), "")
            if not role:
                issue(raw, "role", _("“%(value)s” is not a role; the roles are: %(roles)s.")
                      % {"value": raw["role"], "roles": shown_roles})
        row = Row(line=raw["line"], full_name=full_name, username=username, phone=phone, email=email, unit=unit,
                  role=role, clean=len(issues) == errors_before)
        parsed.append((raw, row))

    by_line = {raw["line"]: (raw, row) for raw, row in parsed}
    for lines in first_line.values():
        if len(lines) > 1:
            raw = by_line[lines[0]][0]
            issue(raw, "username", _("the user name %(name)s is on rows %(rows)s; each account takes one row.")
                  % {"name": raw["username"], "rows": "、".join(str(n) for n in lines)})
            for line in lines:
                by_line[line][1].clean = False

    # The accounts the file names (one query), which of them the importer may change (one) and the
    # grants they hold (one).
    existing = {}
    if first_line:
        for account in User.objects.annotate(lname=Lower("username")).filter(lname__in=list(first_line)):
            existing[account.username.lower()] = account
    ids = [a.pk for a in existing.values()]
    changeable = set(scoping.queryset_for(actor, User, scoping.CHANGE).filter(pk__in=ids)
                     .values_list("pk", flat=True)) if ids else set()
    held: dict[int, list[Grant]] = {}
    if ids:
        for grant in Grant.objects.filter(user_id__in=ids).select_related("region", "alliance", "institution"):
            held.setdefault(grant.user_id, []).append(grant)

    for raw, row in parsed:
        plan.rows.append(row)
        account = existing.get(row.username.lower()) if row.username else None
        if account is not None and account.pk not in changeable:
            # Say no more of an account outside the importer's counties than that its name is taken.
            issue(raw, "username", _("The user name %(name)s is taken.") % {"name": row.username})
            row.clean = False
            continue
        if not row.clean:
            continue
        if account is None:
            row.status = NEW
            candidate = User(username=row.username, county=county)
            _check_grant(actor, candidate, row, raw, issue, held=[], changeable=True)
            continue
        row.account = account
        changes = []
        if row.full_name != account.full_name:
            changes.append(("full_name", account.full_name, row.full_name))
        # Blank phone and e-mail cells keep what the account has.
        if row.phone and row.phone != account.phone:
            changes.append(("phone", account.phone, row.phone))
        if row.email and row.email != account.email:
            changes.append(("email", account.email, row.email))
        grants = held.get(account.pk, [])
        kind = row.unit.kind
        has_grant = any(g.role == row.role and g.scope_kind == kind and getattr(g, f"{kind}_id") == row.unit.obj.pk
                        for g in grants)
        if not has_grant:
            if not _check_grant(actor, account, row, raw, issue, held=grants, changeable=True):
                continue
            row.new_grant = True
            changes.append(("grant", "", row.grant_text))
        if changes and account.pk == actor.pk:
            issue(raw, "username", _("this is your own account: change your details under My account; another "
                                     "administrator changes your grants."))
            row.clean = False
            continue
        row.changes = changes
        row.status = CHANGED if changes else UNCHANGED
    issues.sort(key=lambda i: (i.row or 0, i.column or ""))
    return plan


def _check_grant(actor, user, row: Row, raw: dict, issue, *, held, changeable) -> bool:
    try:
        check_grant(actor=actor, user=user, role=row.role, scope_obj=row.unit.obj, held=held, changeable=changeable)
    except GrantRefused as refused:
        issue(raw, "role", refused.message)
        row.clean = False
        return False
    return True


# Applying ----------------------------------------------------------------------------------------

class Stale(Exception):
    """The accounts or the rules changed since the preview (or it was imported already)."""


@dataclass
class Created:
    username: str
    full_name: str
    unit: str
    role: str  # the role's code
    password: str


@dataclass
class Result:
    created: list[Created]
    changed: int
    unchanged: int


def confirm(table: Table, *, actor, county: Region, fingerprint: str, request=None) -> Result:
    """Apply a previewed file, all or nothing: the county is locked (two confirmations of one file
    run one after the other), the file is checked again against the accounts of this moment and
    applied only if the plan is still the one previewed; otherwise ``Stale`` and nothing is saved.
    The column mapping the user made is remembered for the county's next file with the same headers.
    A constant number of queries, whatever the number of rows."""
    with transaction.atomic():
        Region.objects.select_for_update().filter(pk=county.pk).first()
        plan = check(table, actor=actor, county=county)
        if not plan.ok or plan.fingerprint() != fingerprint or not plan.has_changes:
            raise Stale
        result = _apply(plan, actor=actor, request=request)
        mappings.remember(table.mapping, register=REGISTER, scope=county.pk, user=actor)
        return result


def _apply(plan: Plan, *, actor, request=None, now: datetime | None = None) -> Result:
    now = now or timezone.now()
    county = plan.county
    new_rows = [r for r in plan.rows if r.status == NEW]
    changed_rows = [r for r in plan.rows if r.status == CHANGED]
    passwords = [one_time_password() for _row in new_rows]
    # Argon2 in production: a few hundred hashes take a few seconds of CPU, once.
    users = [User(username=r.username, full_name=r.full_name, phone=r.phone, email=r.email, county=county,
                  must_change_password=True, password=make_password(password), password_changed_at=now,
                  date_joined=now) for r, password in zip(new_rows, passwords, strict=True)]
    User.objects.bulk_create(users)
    PasswordHistory.objects.bulk_create([PasswordHistory(user=u, password=u.password, created_at=now) for u in users])
    grants = [Grant(user=u, role=r.role, **{r.unit.kind: r.unit.obj}) for r, u in zip(new_rows, users, strict=True)]
    grants += [Grant(user=r.account, role=r.role, **{r.unit.kind: r.unit.obj}) for r in changed_rows if r.new_grant]
    Grant.objects.bulk_create(grants)
    edited = []
    for r in changed_rows:
        account = r.account
        before = (account.full_name, account.phone, account.email)
        account.full_name = r.full_name
        account.phone = r.phone or account.phone
        account.email = r.email or account.email
        if (account.full_name, account.phone, account.email) != before:
            edited.append(account)
    if edited:
        User.objects.bulk_update(edited, ["full_name", "phone", "email"])

    events = []
    for r, user in zip(new_rows, users, strict=True):
        events.append(audit.Pending(Event.USER_CREATE, actor=actor, target=user, county_id=county.pk, details={
            "username": user.username, "full_name": user.full_name, "phone": user.phone, "email": user.email,
            "county": county.name, "channel": "import"}))
        events.append(audit.Pending(Event.GRANT_ADD, actor=actor, target=user, county_id=county.pk, details={
            "grant": r.grant_text, "role": r.role, "scope_type": r.unit.kind, "scope_id": r.unit.obj.pk,
            "before": [], "after": [r.grant_text], "channel": "import"}))
    for r in changed_rows:
        fields = {key: [before, after] for key, before, after in r.changes if key != "grant"}
        details = {"changed": fields, "channel": "import"}
        if r.new_grant:
            details["grant"] = r.grant_text
        events.append(audit.Pending(Event.USER_EDIT, actor=actor, target=r.account, county_id=county.pk,
                                    details=details))
        if r.new_grant:
            events.append(audit.Pending(Event.GRANT_ADD, actor=actor, target=r.account, county_id=county.pk, details={
                "grant": r.grant_text, "role": r.role, "scope_type": r.unit.kind, "scope_id": r.unit.obj.pk,
                "channel": "import"}))
    result = Result(created=[Created(u.username, u.full_name, r.unit.obj.name, r.role, password)
                             for r, u, password in zip(new_rows, users, passwords, strict=True)],
                    changed=len(changed_rows), unchanged=plan.count(UNCHANGED))
    events.append(audit.Pending(Event.IMPORT_CONFIRM, actor=actor, target=county, county_id=county.pk, details={
        "register": REGISTER, "file": plan.table.filename, "rows": len(plan.rows), "created": len(new_rows),
        "changed": result.changed, "unchanged": result.unchanged}))
    audit.record_many(events, request=request, now=now)
    return result


# The one-time passwords: encrypted in the session until their single download ---------------------

@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    root = hashlib.sha256(f"user-import-passwords|{secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(hmac.new(root, b"encrypt", hashlib.sha256).digest()))


def passwords_seal(result: Result) -> str:
    rows = [[c.username, c.full_name, c.unit, c.role, c.password] for c in result.created]
    return _fernet(settings.SECRET_KEY).encrypt(json.dumps(rows, ensure_ascii=False).encode()).decode()


def passwords_open(cipher: str) -> list[Created] | None:
    try:
        rows = json.loads(_fernet(settings.SECRET_KEY).decrypt(cipher.encode()).decode())
        return [Created(*[str(v) for v in row]) for row in rows]
    except (InvalidToken, ValueError, TypeError, AttributeError):
        return None


def passwords_xlsx(created: list[Created], *, county: str, on: date) -> bytes:
    with translation.override(OFFICIAL_LANGUAGE):
        table = xlsx.Table(
            sheet=_("Initial passwords"), title=_("Initial passwords of the new accounts"),
            columns=[xlsx.Column(_("序号"), 6), xlsx.Column(_("User name"), 18, text=True),
                     xlsx.Column(_("Full name"), 12, text=True), xlsx.Column(_("Unit"), 28, text=True),
                     xlsx.Column(_("Role"), 16, text=True), xlsx.Column(_("Initial password"), 18, text=True)],
            rows=[[n, c.username, c.full_name, c.unit, str(Role(c.role).label) if c.role in Role.values else c.role,
                   c.password] for n, c in enumerate(created, start=1)],
            note=_("Each user must change the initial password at the first sign-in. Hand each password to its "
                   "user alone and destroy this list afterwards: it can be downloaded once only."))
        return xlsx.workbook([table], unit=county, on=on)


# The template ------------------------------------------------------------------------------------

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
GREY = "808080"
TEMPLATE_ROWS = 1000
WIDTHS = {"full_name": 12, "username": 18, "phone": 16, "email": 26, "unit": 28, "role": 16}


def template_xlsx(*, scope: Scope, county: Region) -> bytes:
    """The template: the header and a grey example row on 用户, a drop-down list of the roles the
    importer may grant and of the county's units, and 填写说明 with the columns, roles and units."""
    units = units_of(scope, {county.pk}).all()
    roles = official_role_labels(scope)
    with translation.override(OFFICIAL_LANGUAGE):
        wb = Workbook()
        ws = wb.active
        ws.title = SHEET
        example = {"full_name": "示例：张三（导入时忽略此行）", "username": "zhangsan", "phone": "13800138000",
                   "email": "zhangsan@example.com", "unit": units[-1].obj.name if units else county.name,
                   "role": str(Role.INSTITUTION_FILER.label)}
        for index, column in enumerate(COLUMNS, start=1):
            letter = get_column_letter(index)
            head = core_xlsx.put(ws, 1, index, column.title)
            head.font = Font(bold=True)
            head.fill = REQUIRED_FILL if column.required else HEADER_FILL
            head.alignment = Alignment(horizontal="center")
            cell = core_xlsx.put(ws, 2, index, example[column.key])
            cell.font = Font(italic=True, color=GREY)
            cell.number_format = "@"
            ws.column_dimensions[letter].width = WIDTHS[column.key]
            ws.column_dimensions[letter].number_format = "@"
        ws.freeze_panes = "A2"

        help_ws = wb.create_sheet(HELP_SHEET)
        core_xlsx.append(help_ws, [_("Column title"), _("Required"), _("Notes")])
        for cell in help_ws[1]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
        notes = {
            "full_name": _("The person's real name. Rows whose name starts with 示例 are skipped."),
            "username": _("Used to sign in: letters, digits and @ . + - _ only. An account that exists already "
                          "(same user name) is updated: its name, phone and e-mail, and the grant is added."),
            "phone": _("A mobile number (11 digits) or a landline with its area code. Blank: unchanged."),
            "email": _("Blank: unchanged."),
            "unit": _("The county, an alliance or an institution, by its name as the portal shows it (the list "
                      "is below)."),
            "role": _("One of the roles listed below; each role is granted on the kind of unit it is made for."),
        }
        for column in COLUMNS:
            core_xlsx.append(help_ws, [column.title, _("Required") if column.required else _("Optional"),
                                  notes[column.key]])
        core_xlsx.append(help_ws, [])
        core_xlsx.append(help_ws, [_("Each new account gets a one-time password, downloaded once after the import; the user "
                          "must change it at the first sign-in. Nothing is saved until every row is right and you "
                          "confirm the preview.")])
        core_xlsx.append(help_ws, [])
        core_xlsx.append(help_ws, [_("Roles"), _("Granted on")])
        help_ws.cell(row=help_ws.max_row, column=1).font = Font(bold=True)
        kinds = {"region": _("the county"), "alliance": _("an alliance"), "institution": _("an institution")}
        from accounts.models import ROLE_SCOPES

        role_first = help_ws.max_row + 1
        for label, (value, _l) in zip(roles, grantable_roles(scope), strict=True):
            core_xlsx.append(help_ws, [label, "、".join(str(kinds[k]) for k in ROLE_SCOPES.get(value, ()))])
        role_last = help_ws.max_row
        core_xlsx.append(help_ws, [])
        core_xlsx.append(help_ws, [_("Units of %(county)s") % {"county": county.name}])
        help_ws.cell(row=help_ws.max_row, column=1).font = Font(bold=True)
        unit_first = help_ws.max_row + 1
        for unit in units:
            core_xlsx.append(help_ws, [unit.obj.name])
        unit_last = help_ws.max_row
        for row in help_ws.iter_rows():
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        for letter, width in (("A", 30), ("B", 22), ("C", 70)):
            help_ws.column_dimensions[letter].width = width

        for key, first, last in (("role", role_first, role_last), ("unit", unit_first, unit_last)):
            if last < first:
                continue
            letter = get_column_letter([c.key for c in COLUMNS].index(key) + 1)
            validation = DataValidation(type="list", formula1=f"'{HELP_SHEET}'!$A${first}:$A${last}",
                                        allow_blank=True, showErrorMessage=True)
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
            ws.add_data_validation(validation)
        return core_xlsx.save(wb)
