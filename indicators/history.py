"""历史数据导入: a county's past figures of one report form, loaded by the bureau when the county
goes live, so that year-on-year (同比) targets judge from the first live quarter.

The long layout: one row a value — 机构 | 报告期 | 数据项 (name or code) | 数值 — with the header
anywhere in the first rows and the columns mapped by ``core.imports.columns`` (the user maps
columns the words do not name). Only periods before the form's first live period
(``ReportForm.first_period``) are accepted; each value lands in a filing of its institution and
period that is locked (approved and closed) and counted, with a value audit row whose source is
``history`` and whose reason names the file. Re-importing the same file changes nothing; a
corrected file changes only what differs, each change audited.

Reading and checking are pure Python over a handful of queries; applying is set-based (a constant
number of queries whatever the number of values: ``manage.py bench_history``)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances.models import Institution
from core import uploads
from core.bulk import insert_rows, update_column
from core.imports import columns
from core.imports.columns import Field
from core.imports.reading import read_data
from core.issues import ImportFailed, Issue
from core.periods import Period, PeriodError, PeriodKind
from indicators.excel import CellError, parse_figure
from indicators.models import DataValue, Filing, FilingEvent, ReportForm, ValueAudit
from indicators.services.filings import quantize

REGISTER = "history"
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 20

FIELDS = (
    Field("institution", gettext_lazy("Institution"),
          ("机构", "机构名称", "单位", "单位名称", "填报单位", "医疗机构", "医疗机构名称", "统一社会信用代码", "机构代码"),
          required=True),
    Field("period", gettext_lazy("Period"), ("报告期", "报告期间", "统计期", "统计期间", "期间", "月份", "年月", "时间",
                                             "统计月份", "季度"), required=True),
    Field("element", gettext_lazy("Data element"), ("数据项", "数据项名称", "数据项代码", "指标", "指标名称", "项目",
                                                    "统计项目", "代码", "编码", "数据元"), required=True),
    Field("value", gettext_lazy("Value"), ("数值", "值", "数据", "本期数", "本期值", "数量", "金额"), required=True),
)

_MONTH_RE = re.compile(r"^(\d{4})\s*(?:年|[-./])\s*(\d{1,2})\s*月?(?:份)?$")
_COMPACT_MONTH_RE = re.compile(r"^(\d{4})(\d{2})$")
_QUARTER_RE = re.compile(r"^(\d{4})\s*(?:年)?\s*(?:第)?\s*([1-4一二三四])\s*季度?$|^(\d{4})\s*Q([1-4])$", re.I)
_HALF_RE = re.compile(r"^(\d{4})\s*年?\s*(上半年|下半年)$|^(\d{4})\s*H([12])$", re.I)
_YEAR_RE = re.compile(r"^(\d{4})\s*年?(?:度)?$")
_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4}


def parse_period(raw, kind: PeriodKind) -> Period:
    """A period cell as written by people: 2025-03, 2025年3月, 2025.3, 202503, a date (its month),
    2025Q1, 2025年第一季度, 2025年上半年, 2025年. ``PeriodError`` (Chinese) otherwise."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        period = Period.containing_date(kind, raw)
        return period
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    text = re.sub(r"\s+", "", text)
    if isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    found = None
    if m := _MONTH_RE.match(text) or _COMPACT_MONTH_RE.match(text):
        found = Period(int(m.group(1)), PeriodKind.MONTH, int(m.group(2))) if 1 <= int(m.group(2)) <= 12 else None
    elif m := _QUARTER_RE.match(text):
        year, quarter = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        found = Period(int(year), PeriodKind.QUARTER, _CN_DIGIT.get(quarter) or int(quarter))
    elif m := _HALF_RE.match(text):
        if m.group(1):
            found = Period(int(m.group(1)), PeriodKind.HALF_YEAR, 1 if m.group(2) == "上半年" else 2)
        else:
            found = Period(int(m.group(3)), PeriodKind.HALF_YEAR, int(m.group(4)))
    elif m := _YEAR_RE.match(text):
        found = Period(int(m.group(1)), PeriodKind.YEAR, 1)
    else:
        try:
            found = Period.parse(text)
        except PeriodError:
            found = None
    if found is None:
        raise PeriodError(_("“%(text)s” is not a period; write a month as 2025-03 or 2025年3月, a quarter as 2025Q1 "
                            "or 2025年第一季度.") % {"text": text or "—"})
    if found.kind != kind:
        raise PeriodError(_("“%(text)s” is a %(found)s, but the form is filed per %(kind)s.")
                          % {"text": text, "found": found.kind_label, "kind": Period(2000, kind, 1).kind_label})
    return found


@dataclass
class HistoryValue:
    row: int
    institution_id: int | None
    period: str
    element_id: int
    value: Decimal


@dataclass
class HistoryPlan:
    """What importing the file would do: the values read, what exists, and the problems."""

    form: ReportForm
    filename: str
    columns: columns.ColumnPlan | None
    values: list[HistoryValue] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0  # rows without a value
    new_filings: int = 0
    groups: dict[tuple[int | None, str], dict[str, int]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if not i.warning]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def has_changes(self) -> bool:
        return bool(self.new or self.changed)

    def fingerprint(self) -> str:
        data = [self.form.pk, [(v.institution_id, v.period, v.element_id, str(v.value)) for v in self.values],
                self.new, self.changed]
        return hashlib.sha256(repr(data).encode()).hexdigest()

    def payload(self) -> dict:
        return {"form": self.form.pk, "filename": self.filename, "columns": self.columns.to_json() if self.columns else {},
                "values": [[v.row, v.institution_id, v.period, v.element_id, str(v.value)] for v in self.values]}


def _norm(text) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text if text is not None else ""))).strip()


def _institution_names(form: ReportForm) -> dict[str, tuple[int, str]]:
    """The county's institutions by every name a clerk writes: the full name (郁南县人民医院), the
    short name (县人民医院), the name with the county written as 县 or left out, the credit code. A
    name two institutions could have is not used (never guessed)."""
    county = _norm(form.county.name)
    found: dict[str, set[tuple[int, str]]] = {}
    exact: dict[str, tuple[int, str]] = {}
    for pk, name, short, credit, kind in Institution.objects.filter(county_id=form.county_id).values_list(
            "pk", "name", "short_name", "credit_code", "kind"):
        name = _norm(name)
        exact[name] = (pk, kind)
        keys = {name, _norm(short), _norm(credit).upper()}
        if county and name.startswith(county):
            keys |= {"县" + name[len(county):], name[len(county):]}
        for key in keys - {""}:
            found.setdefault(key, set()).add((pk, kind))
    names = {key: next(iter(units)) for key, units in found.items() if len(units) == 1}
    return names | exact


def read_history(data: bytes, name: str, form: ReportForm, *, mapping: dict | None = None,
                 saved_for=None) -> HistoryPlan:
    """Read and check a history file against the form and its county (nothing is written)."""
    plan = HistoryPlan(form=form, filename=name, columns=None)
    sheet, problems = read_data(data, name, max_columns=MAX_COLUMNS, max_rows=MAX_ROWS)
    if sheet is None:
        plan.issues = problems
        return plan
    head = sheet.rows[: columns.HEADER_SEARCH_ROWS]
    located = columns.locate(head, FIELDS, given=mapping, saved_for=saved_for)
    plan.columns = located
    if located is None:
        plan.issues = [Issue(_("No header row was found in “%(name)s”: the file needs the columns 机构, 报告期, "
                               "数据项 and 数值.") % {"name": name})]
        return plan
    if located.errors:
        plan.issues = [Issue(text, row=located.header_row) for text in located.errors]
        return plan
    if not form.first_period:
        plan.issues = [Issue(_("The form “%(form)s” has no first live period: set it (the first period the county "
                               "files in the portal) before loading the history before it.") % {"form": form.name})]
        return plan
    first_live = Period.parse(form.first_period)
    by_field = located.by_field
    index = {name: column.index for name, column in by_field.items()}
    letter = {name: column.letter for name, column in by_field.items()}
    label = {f.name: str(f.label) for f in FIELDS}
    institutions = {}
    county_names = set()
    if form.filer_level == ReportForm.FilerLevel.COUNTY:
        county_names = {_norm(form.county.name)}
    else:
        institutions = _institution_names(form)
    rows = list(form.form_elements.select_related("element").order_by("order", "pk"))
    elements = {}
    for row in rows:
        elements.setdefault(_norm(row.element.code).upper(), row.element)
        elements.setdefault(_norm(row.element.name), row.element)
    applies = {row.element_id: row for row in rows}
    seen: dict[tuple, int] = {}

    def issue(number: int, key: str, message: str) -> None:
        plan.issues.append(Issue(message, row=number, column=letter[key], title=label[key]))

    for number, cells in sheet.rows[located.position + 1:]:
        def cell(key, cells=cells):
            i = index[key]
            return cells[i] if i < len(cells) else None

        raw_value = cell("value")
        texts = [cell(k) for k in ("institution", "period", "element")]
        if all(v in (None, "") for v in texts) and raw_value in (None, ""):
            continue
        if _norm(cell("institution")) == _norm(by_field["institution"].title) and \
                _norm(raw_value) == _norm(by_field["value"].title):
            continue  # the header repeated (a table per year pasted one under the other)
        ok = True
        institution_id, kind = None, None
        if form.filer_level == ReportForm.FilerLevel.COUNTY:
            if _norm(cell("institution")) not in county_names | {""}:
                issue(number, "institution", _("“%(name)s” is not the county; this form is filed by the county "
                                               "itself.") % {"name": cell("institution")})
                ok = False
        else:
            written = _norm(cell("institution"))
            found = institutions.get(written) or institutions.get(written.upper())
            if found is None:
                issue(number, "institution", _("“%(name)s” is not an institution of %(county)s (by its name or its "
                                               "credit code).") % {"name": cell("institution") or "—",
                                                                   "county": form.county.name})
                ok = False
            else:
                institution_id, kind = found
        try:
            period = parse_period(cell("period"), form.kind)
            if period >= first_live:
                issue(number, "period", _("%(period)s is not history: the form is filed live from %(first)s; only "
                                          "earlier periods are loaded here.")
                      % {"period": period.label, "first": first_live.label})
                ok = False
        except PeriodError as exc:
            issue(number, "period", str(exc))
            ok = False
        raw_element = cell("element")
        element = elements.get(_norm(raw_element).upper()) or elements.get(_norm(raw_element))
        if element is None:
            issue(number, "element", _("“%(name)s” is not a data element of the form “%(form)s” (by its name or its "
                                       "code).") % {"name": raw_element or "—", "form": form.name})
            ok = False
        elif kind is not None and not applies[element.pk].applies_to(kind):
            issue(number, "element", _("“%(name)s” is not filed by this kind of institution.")
                  % {"name": element.name})
            ok = False
        value = None
        if element is not None:
            try:
                value = parse_figure(raw_value, element)
            except CellError as exc:
                issue(number, "value", str(exc))
                ok = False
        if not ok:
            continue
        if value is None:
            plan.skipped += 1
            continue
        key = (institution_id, str(period), element.pk)
        if key in seen:
            issue(number, "value", _("the same value (institution, period, data element) is already in row %(row)s.")
                  % {"row": seen[key]})
            continue
        seen[key] = number
        plan.values.append(HistoryValue(number, institution_id, str(period), element.pk, quantize(element, value)))
    if not plan.values and plan.ok:
        plan.issues.append(Issue(_("“%(name)s” has no values below its header.") % {"name": name}))
    if plan.ok:
        _compare(plan)
    return plan


def _compare(plan: HistoryPlan) -> None:
    """New / changed / unchanged against the database (three queries), and filings in progress."""
    form = plan.form
    periods = sorted({v.period for v in plan.values})
    filings = {(f["institution_id"], f["period"]): f for f in Filing.objects.filter(
        form=form, period__in=periods).order_by().values("pk", "institution_id", "period", "status")}
    existing = {}
    if filings:
        existing = {(f, e): value for f, e, value in DataValue.objects.filter(
            filing_id__in=[f["pk"] for f in filings.values()]).values_list("filing_id", "element_id", "value")}
    new_filings = set()
    for v in plan.values:
        group = plan.groups.setdefault((v.institution_id, v.period), {"new": 0, "changed": 0, "unchanged": 0})
        filing = filings.get((v.institution_id, v.period))
        if filing is None:
            new_filings.add((v.institution_id, v.period))
            plan.new += 1
            group["new"] += 1
            continue
        if filing["status"] not in (Filing.Status.LOCKED, Filing.Status.APPROVED):
            plan.issues.append(Issue(_("%(period)s of this institution has a filing in progress (%(status)s); "
                                       "history does not overwrite it.")
                                     % {"period": Period.parse(v.period).label,
                                        "status": Filing.Status(filing["status"]).label}, row=v.row))
            continue
        old = existing.get((filing["pk"], v.element_id), "missing")
        if old == "missing" or old is None:
            plan.new += 1
            group["new"] += 1
        elif old != v.value:
            plan.changed += 1
            group["changed"] += 1
        else:
            plan.unchanged += 1
            group["unchanged"] += 1
    plan.new_filings = len(new_filings)


def apply_history(payload: dict, *, user, now: datetime, reason: str) -> dict[str, int]:
    """Write the previewed values (all or nothing): missing filings created locked, new values
    inserted, changed ones updated, each change audited with the source ``history``. A constant
    number of queries whatever the number of values."""
    form = ReportForm.objects.select_related("county").get(pk=payload["form"])
    values = [(row, inst, period, element, Decimal(value)) for row, inst, period, element, value in payload["values"]]
    periods = sorted({v[2] for v in values})
    with transaction.atomic():
        filings = {(f["institution_id"], f["period"]): f for f in Filing.objects.select_for_update(of=("self",)).filter(
            form=form, period__in=periods).order_by().values("pk", "institution_id", "period", "status")}
        busy = [f for f in filings.values() if f["status"] not in (Filing.Status.LOCKED, Filing.Status.APPROVED)]
        if busy:
            raise ImportFailed([Issue(_("A filing of %(period)s was started in the meantime; preview again.")
                                      % {"period": busy[0]["period"]})])
        missing = sorted({(v[1], v[2]) for v in values} - set(filings))
        if missing:
            rows = []
            for institution_id, period_text in missing:
                period = Period.parse(period_text)
                rows.append((form.pk, form.county_id, institution_id, period_text, period.start, period.end,
                             Filing.Status.LOCKED, form.due_date(period), now, user.pk, now, now, user.pk, user.pk))
            ids = insert_rows(Filing, ("form_id", "county_id", "institution_id", "period", "period_start", "period_end",
                                       "status", "due_date", "submitted_at", "submitted_by_id", "first_submitted_at",
                                       "reviewed_at", "reviewed_by_id", "updated_by_id"), rows)
            for (institution_id, period_text), pk in zip(missing, ids, strict=True):
                filings[(institution_id, period_text)] = {"pk": pk, "institution_id": institution_id,
                                                          "period": period_text, "status": Filing.Status.LOCKED}
        filing_ids = [f["pk"] for f in filings.values()]
        existing = {(f, e): (pk, value) for pk, f, e, value in DataValue.objects.filter(
            filing_id__in=filing_ids).values_list("pk", "filing_id", "element_id", "value")}
        new_rows, changed, audits, touched = [], {}, [], set()
        for _row, institution_id, period_text, element_id, value in values:
            filing_id = filings[(institution_id, period_text)]["pk"]
            current = existing.get((filing_id, element_id))
            if current is not None and current[1] == value:
                continue
            touched.add(filing_id)
            if current is None:
                period = Period.parse(period_text)
                new_rows.append((element_id, filing_id, form.county_id, institution_id, period_text, period.start,
                                 period.end, value, True))
                audits.append((filing_id, element_id, None, value, True, user.pk, now, FilingEvent.Action.HISTORY,
                               reason))
            else:
                changed[current[0]] = value
                audits.append((filing_id, element_id, current[1], value, False, user.pk, now,
                               FilingEvent.Action.HISTORY, reason))
        insert_rows(DataValue, ("element_id", "filing_id", "county_id", "institution_id", "period", "period_start",
                                "period_end", "value", "counted"), new_rows, returning_ids=False)
        update_column(DataValue, "value", changed, updated_at=now)
        insert_rows(ValueAudit, ("filing_id", "element_id", "old_value", "new_value", "created", "user_id", "at",
                                 "source", "reason"), audits, returning_ids=False)
        insert_rows(FilingEvent, ("filing_id", "action", "user_id", "at", "reason"),
                    [(pk, FilingEvent.Action.HISTORY, user.pk, now, reason) for pk in sorted(touched)],
                    returning_ids=False)
        if touched:
            Filing.objects.filter(pk__in=touched).update(version=F("version") + 1, updated_at=now, updated_by=user)
    return {"filings": len(missing), "created": len(new_rows), "changed": len(changed),
            "unchanged": len(values) - len(new_rows) - len(changed)}


def read_upload(upload, form: ReportForm, *, mapping=None, saved_for=None) -> tuple[HistoryPlan, bytes]:
    data = uploads.read_limited(upload, MAX_UPLOAD_BYTES)
    name = getattr(upload, "name", "") or ""
    if data is None:
        plan = HistoryPlan(form=form, filename=name, columns=None, issues=[Issue(
            _("“%(name)s” is larger than %(limit)s MB; split it by year and import the parts.")
            % {"name": name, "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})])
        return plan, b""
    return read_history(data, name, form, mapping=mapping, saved_for=saved_for), data
