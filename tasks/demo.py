"""Demo task ledgers: the three seed ledgers, imported through the same pipeline a clerk uses, and
a sample history of progress so the pages have something to show.

- seed 000 (the provincial 2021 key-task list) and seed 001 附件4 (郁南县's own 2020 list) into
  郁南县; seed 004 (同仁市's 2021 ledger, whose 市… departments and 市人民医院 fit a county-level
  city) into 万源市. The .xlsx files are in ``tasks/seed_ledgers`` (built by its ``build.py``).
  Units the counties do not know yet are created as departments, as the import's confirmation
  would; 万源市 knows beforehand that the ledger's "市保障局" is its 市医疗保障局 (an alias).
- This year (SAMPLE): seed 000 and seed 004 are loaded as this year's ledgers of their counties,
  seed 001 as 郁南县's ledger of last year: the same content with every year in their cells shifted
  by the same number of years (the 文号 of the source document kept), and the title saying so
  (…（演示：据2021年清单顺延）).
- SAMPLE (invented): the progress history, a fixed pseudo-random share per assignment (the same
  every year). Of the tasks already due most were done around their deadlines and a few are
  overdue (last year's only within about half a year of their deadline); of those still to come some were done
  early, most report progress in step with the time elapsed (on track) and a few lag behind (黄);
  continuous items report every month or two. One report awaits review and one was returned with a
  reason in each county; supervision orders on the longest overdue matters; a half-year inspection
  of 郁南县 whose findings became rectification tasks (one of 县人民医院, due within the week of
  loading: a blue light).

``load_demo_ledgers(now=...)`` is idempotent: ledgers re-import unchanged, and the history is
added only to assignments that have no report yet.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import date, datetime, time, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from alliances.models import Region
from core.demo import DemoReport
from tasks.deadlines import DeadlineKind
from tasks.imports.applying import apply_plan
from tasks.imports.planning import plan_import
from tasks.imports.reading import read_ledger_upload
from tasks.models import Assignment, Inspection, ProgressReport, SupervisionOrder
from tasks.permissions import reportable_assignments
from tasks.services.ledgers import department_get_or_create, finding_to_task
from tasks.services.progress import progress_report_review, progress_report_submit
from tasks.services.rollups import rollups_deferred
from tasks.services.status import assignments_refresh
from tasks.services.supervision import finding_add, inspection_record, order_issue
from tasks.status import Status, first_of_month, local_date

SEED_DIR = Path(__file__).resolve().parent / "seed_ledgers"
SH = ZoneInfo("Asia/Shanghai")
YUNAN, WANYUAN = "445322", "511781"

SEED_LEDGERS = [
    # (file, county code, username of the bureau clerk who imports it, loaded as this year's ledger)
    ("ledger_000_key_tasks_2021.xlsx", YUNAN, "yn_staff", True),
    ("ledger_001_yunan_2020.xlsx", YUNAN, "yn_staff", False),  # moved to last year
    ("ledger_004_tongren_2021.xlsx", WANYUAN, "wy_staff", True),
]
# A year written in a cell: 2021年, 年度：2021, 2020.03 (not the 〔2021〕 of a document number, whose line is kept).
_YEAR = re.compile(r"(?<![\d〔])((?:19|20)\d{2})(?=年|$|[.\-/．]\d)")
_DOC_LINE = re.compile(r"^\s*(?:文号|发文字号)")
# Departments a county knows before its first import, with other spellings of theirs.
KNOWN_DEPARTMENTS = {WANYUAN: [("市医疗保障局", ["市保障局"])]}
SUPERVISOR = {YUNAN: "yn_supervisor", WANYUAN: "wy_admin"}
# Who reports the sample reports awaiting review: the alliance office, for the alliance and its members.
REPORTER = {YUNAN: "yn_gt1", WANYUAN: "wy_zyy"}

PROGRESS_TEXTS = [
    "已召开专题会议研究部署，明确责任分工和时间节点。",
    "已制定工作方案并印发，正在组织实施。",
    "已完成阶段性任务，相关制度已出台，正在督促各单位落实。",
    "按计划推进，已完成调研摸底，形成问题清单。",
    "已按要求完成，相关佐证材料已整理归档。",
]


def _share(*parts: object) -> int:
    """A fixed pseudo-random number 0–99 from the parts (the demo is the same on every machine)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return int(digest[:8], 16) % 100


def _moment(day: date, hour: int = 16) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SH)


def load_demo_ledgers(*, now: datetime) -> Counter:
    """Import the seed ledgers and add the sample history. Returns counts of what was created."""
    stats: Counter = Counter()
    users = {u.username: u for u in get_user_model().objects.filter(
        username__in={"yn_staff", "wy_staff", "yn_supervisor", "wy_admin", "yn_rmyy", "yn_gt1", "wy_zyy"})}
    with transaction.atomic(), rollups_deferred(now=now):
        for code, departments in KNOWN_DEPARTMENTS.items():
            county = Region.objects.get(code=code)
            for name, aliases in departments:
                department_get_or_create(county=county, name=name, user=None, aliases=aliases)
        ledgers = []
        for filename, code, username, this_year in SEED_LEDGERS:
            county = Region.objects.get(code=code)
            year = local_date(now).year
            data = seed_ledger_bytes(filename, year=year if this_year else year - 1)
            table, problems = read_ledger_upload(SimpleUploadedFile(filename, data))
            if table is None:
                raise ValueError(f"{filename}: {[p.text for p in problems]}")
            plan = plan_import(table, county=county, user=users[username], now=now)
            if not plan.ok:
                raise ValueError(f"{filename}: {[e.text for e in plan.errors]}")
            if plan.has_changes:
                result = apply_plan(plan, user=users[username], now=now)
                stats["items"] += result["create"]
                stats["assignments"] += result["assignments"]
                stats["departments"] += result["departments"]
                ledger_pk = result["ledger"]
            else:
                ledger_pk = plan.ledger.pk
            ledgers.append((ledger_pk, users[username]))
        for ledger_pk, clerk in ledgers:
            stats.update(_history(ledger_pk, clerk=clerk, now=now))
        for code in (YUNAN, WANYUAN):
            stats.update(_supervision(code, users=users, now=now))
    return stats


def seed_ledger_bytes(filename: str, *, year: int | None = None) -> bytes:
    """The seed ledger's workbook; with ``year``, the same content moved to that year: every year in
    its cells shifted by the same number of years (not the source's 文号), and the title saying so."""
    data = (SEED_DIR / filename).read_bytes()
    if year is None:
        return data
    book = openpyxl.load_workbook(BytesIO(data))
    sheet = book.active
    cells = [cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
    source = next(int(m.group(1)) for cell in cells if (m := re.search(r"年度[:：]\s*(\d{4})", cell.value)))
    shift = year - source
    for cell in cells:
        if not _DOC_LINE.match(cell.value):
            cell.value = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), cell.value)
    title = cells[0]
    if shift:
        title.value = f"{title.value}（演示：据{source}年清单顺延）"
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _history(ledger_pk: int, *, clerk, now: datetime) -> Counter:
    """Monthly reports for assignments without any: the sample history of the ledger."""
    stats: Counter = Counter()
    today = local_date(now)
    assignments = list(Assignment.objects.filter(item__ledger_id=ledger_pk, is_active=True, reports__isnull=True)
                       .select_related("item__ledger", "department", "institution", "alliance"))
    reports, touched = [], []
    for a in assignments:
        item, ledger = a.item, a.item.ledger
        # The same share every year (the title without its year).
        share = _share(re.sub(r"\d", "", ledger.title), item.key, a.unit_kind, a.unit.pk)
        months, final_percent, done = _sample_course(item, ledger.start_date, share, today)
        months = [m for m in months if _report_day(m, ledger.start_date, today) is not None]
        if not months:
            continue
        course = len(months)
        if done and item.deadline_kind == DeadlineKind.ONGOING:
            # 完成并持续推进: done, then reporting on as a continuous task.
            latest = first_of_month(today) if today.day > 10 else first_of_month(today, -1)
            months += [m for m in _months(first_of_month(months[-1], 1), latest, 1 + share % 2)
                       if _report_day(m, ledger.start_date, today) is not None]
        for n, month in enumerate(months, start=1):
            day = _report_day(month, ledger.start_date, today)
            final = done and n == course
            # Percent climbs evenly to the last report's (100 from the completing one on).
            percent = 100 if done and n >= course else max(5, final_percent * n // course)
            reports.append(ProgressReport(
                assignment=a, county_id=a.county_id, period=f"{month:%Y-%m}", percent=percent, marks_complete=final,
                text=PROGRESS_TEXTS[4 if final else (share + n) % 4], state=ProgressReport.State.ACCEPTED,
                submitted_by=clerk, submitted_at=_moment(day), reviewed_by=clerk,
                reviewed_at=_moment(day) + timedelta(hours=20)))
        last = reports[-1]
        a.percent = last.percent
        a.last_report_at = last.submitted_at
        a.completed_at = reports[len(reports) - len(months) + course - 1].submitted_at if done else None
        touched.append(a)
    ProgressReport.objects.bulk_create(reports, batch_size=1000)
    Assignment.objects.bulk_update(touched, ["percent", "last_report_at", "completed_at"], batch_size=1000)
    assignments_refresh(touched, now=now)
    stats["reports"] += len(reports)
    return stats


def _sample_course(item, start: date, share: int, today: date) -> tuple[list[date], int, bool]:
    """The months an assignment reported in, the percent of its last report and whether that report
    completed it: a believable course for its deadline as seen ``today`` (``share``: 0–99, fixed)."""
    this_month = first_of_month(today)
    # The newest report: this month once the month is under way, else last month.
    latest = this_month if today.day > 10 else first_of_month(today, -1)
    if item.deadline_kind in (DeadlineKind.CONTINUOUS, DeadlineKind.UNKNOWN) or item.due_date is None:
        # Every month or two; one in seven has let two months pass (behind: 黄).
        last = first_of_month(latest, -2) if share % 7 == 0 else latest
        return _months(start, last, 1 + share % 2), 30 + share % 60, False
    due = item.due_date
    if due < today:
        # Last year's leftovers are finished by the summer: only a recent deadline is still open.
        past_year = start.year < today.year
        if share < (70 if past_year else 65) or (past_year and (today - due).days > 200):
            # Done around the deadline (up to three weeks either side), never after yesterday.
            end = min(max(due + timedelta(days=share % 42 - 21), start + timedelta(days=20)),
                      today - timedelta(days=1))
            return _months(start, first_of_month(end), 1 + share % 3)[-4:] or [first_of_month(end)], 100, True
        # Overdue: still reporting, most of the way there.
        return _months(start, latest, 1 + share % 2)[-6:], 50 + share % 35, False
    elapsed = max(0, (today - start).days) * 100 // max((due - start).days, 1)
    if share < 15 and elapsed >= 40:
        # Done early.
        end = start + timedelta(days=(today - start).days * (60 + share) // 100)
        return _months(start, first_of_month(end), 2), 100, True
    if share >= 92:
        # Lagging: silent for two months, well behind the time elapsed (the assignments were made
        # on the day of loading, so the light comes from the silence).
        return _months(start, first_of_month(latest, -2), 1), max(5, elapsed // 2), False
    # In step with the time elapsed.
    return _months(start, latest, 1 + share % 2), min(95, max(10, elapsed + share % 15 - 5)), False


def _months(start: date, last: date, step: int) -> list[date]:
    """First days of the months from ``last`` back to ``start``'s month, every ``step`` months, in order."""
    first = first_of_month(start)
    months, month = [], first_of_month(last)
    while month >= first:
        months.append(month)
        month = first_of_month(month, -step)
    return months[::-1]


def _report_day(month: date, start: date, today: date) -> date | None:
    """The day a month's report was filed: the 25th, or yesterday in the current month; None when
    that day is not after the ledger's start and before today."""
    day = min(month + timedelta(days=24), today - timedelta(days=1))
    return day if start <= day < today else None


def _supervision(code: str, *, users, now: datetime) -> Counter:
    """A report awaiting review and one returned; orders on the longest overdue; for 郁南县 an
    inspection whose finding became a task. Only once per county."""
    stats: Counter = Counter()
    county = Region.objects.get(code=code)
    if SupervisionOrder.objects.filter(county=county).exists():
        return stats
    supervisor = users[SUPERVISOR[code]]
    clerk = users["yn_staff" if code == YUNAN else "wy_staff"]
    today = local_date(now)
    overdue = list(Assignment.objects.filter(county=county, is_active=True, status=Status.OVERDUE,
                                             role=Assignment.Role.LEAD)
                   .select_related("item__ledger").order_by("due_date", "item__order", "pk")[:4])
    for n, assignment in enumerate(overdue):
        order_issue(assignment=assignment, user=supervisor, colour="red" if n < 3 else "yellow",
                    text="该项任务已超过完成时限，请于回复期限前报送推进情况和整改措施。",
                    reply_due=today + timedelta(days=7 + n), now=now - timedelta(days=3 - n % 3))
        stats["orders"] += 1
    reporter = users[REPORTER[code]]
    open_ones = list(reportable_assignments(reporter).filter(county=county, completed_at__isnull=True,
                                                             role=Assignment.Role.LEAD)
                     .exclude(pk__in=[a.pk for a in overdue]).select_related("item__ledger")
                     .order_by("-item__ledger__year", "item__order", "pk")[:2])
    pdf = b"%PDF-1.4\n% demo evidence\n"
    for n, assignment in enumerate(open_ones):
        report = progress_report_submit(
            assignment=assignment, user=reporter, text="本月已完成主要工作，现报送进展和佐证材料。",
            percent=min(100, assignment.percent + 20), marks_complete=False, now=now - timedelta(days=2),
            files=[SimpleUploadedFile("工作进展佐证材料.pdf", pdf)])
        stats["reports"] += 1
        if n == 1:
            progress_report_review(report=report, user=clerk, accept=False, reason="佐证材料不完整，请补充会议纪要和印发文件。",
                                   now=now - timedelta(days=1))
    if code == YUNAN and not Inspection.objects.filter(county=county).exists():
        half = f"{today.year}H{1 if today.month <= 6 else 2}"
        inspection = inspection_record(county=county, user=supervisor, title=f"{today.year}年医共体建设工作督查",
                                       half_year=half, held_on=today - timedelta(days=10),
                                       inspectors="县政府督查组", summary="对各医共体台账落实情况进行了现场督查。")
        department = county.departments.filter(name="县卫生健康局").first()
        finding = finding_add(inspection=inspection, text="部分任务进展报送不及时，佐证材料不齐全。", severity="serious",
                              unit=department)
        finding_add(inspection=inspection, text="第三医共体双向转诊台账未按月更新。", severity="minor",
                    unit=county.alliances.filter(short_name="第三医共体").first())
        finding_to_task(finding=finding, user=supervisor, deadline_text="12月底", now=now)
        hospital = county.institutions.filter(short_name="县人民医院").first()
        urgent = finding_add(inspection=inspection, text="县人民医院胸痛中心建设进度滞后，需在一周内提交整改方案。",
                             severity="serious", unit=hospital)
        # Due within the week of loading: the hospital's filer finds a blue (due soon) task.
        finding_to_task(finding=urgent, user=supervisor, deadline_text=(today + timedelta(days=6)).isoformat(), now=now)
        stats["inspections"] += 1
    return stats


def load_demo_part(*, now: datetime, today: date) -> DemoReport:
    """The demo task ledgers, as ``load_demo`` reports them (``core.demo``)."""
    stats = load_demo_ledgers(now=now)
    return DemoReport(summary=_(
        "Demo task ledgers: %(items)d items, %(assignments)d assignments, %(departments)d departments and "
        "%(reports)d progress reports created.")
        % {key: stats.get(key, 0) for key in ("items", "assignments", "departments", "reports")})
