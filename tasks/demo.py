"""Demo task ledgers: the three seed ledgers, imported through the same pipeline a clerk uses, and
a sample history of progress so the pages have something to show.

- seed 000 (the provincial 2021 key-task list) and seed 001 附件4 (郁南县's own 2020 list) into
  郁南县; seed 004 (同仁市's 2021 ledger, whose 市… departments and 市人民医院 fit a county-level
  city) into 万源市. The .xlsx files are in ``tasks/seed_ledgers`` (built by its ``build.py``).
  Units the counties do not know yet are created as departments, as the import's confirmation
  would; 万源市 knows beforehand that the ledger's "市保障局" is its 市医疗保障局 (an alias).
- SAMPLE (invented): the progress history. For each assignment a pseudo-random but fixed share
  of work, monthly reports in the ledger's year, most tasks completed and accepted, some left
  overdue; continuous items reported month by month up to a month or two ago; one report awaiting
  review and one returned with a reason in each county; supervision orders on the longest
  overdue matters; a half-year inspection of 郁南县 whose findings became rectification tasks (one
  of 县人民医院, due within the week of loading: a blue light).

``load_demo_ledgers(now=...)`` is idempotent: ledgers re-import unchanged, and the history is
added only to assignments that have no report yet.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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
    # (file, county code, username of the bureau clerk who imports it)
    ("ledger_000_key_tasks_2021.xlsx", YUNAN, "yn_staff"),
    ("ledger_001_yunan_2020.xlsx", YUNAN, "yn_staff"),
    ("ledger_004_tongren_2021.xlsx", WANYUAN, "wy_staff"),
]
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
        for filename, code, username in SEED_LEDGERS:
            county = Region.objects.get(code=code)
            data = (SEED_DIR / filename).read_bytes()
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


def _history(ledger_pk: int, *, clerk, now: datetime) -> Counter:
    """Monthly reports for assignments without any: the sample history of the ledger."""
    stats: Counter = Counter()
    today = local_date(now)
    assignments = list(Assignment.objects.filter(item__ledger_id=ledger_pk, is_active=True, reports__isnull=True)
                       .select_related("item__ledger", "department", "institution", "alliance"))
    reports, touched = [], []
    for a in assignments:
        item, ledger = a.item, a.item.ledger
        share = _share(ledger.title, item.key, a.unit_kind, a.unit.pk)
        start = ledger.start_date
        if item.deadline_kind == DeadlineKind.CONTINUOUS or item.deadline_kind == DeadlineKind.UNKNOWN:
            # Reported every few months since the start, last one a month or two ago.
            last = first_of_month(today, -(1 + share % 2))
            months = sorted(m for m in (first_of_month(last, -k) for k in range(0, 24, 3))
                            if m >= first_of_month(start))
            done_at = None
        else:
            due = item.due_date
            finishes = share < 85  # most tasks were done on time or a little late
            end = due + timedelta(days=(share % 40) - 20) if finishes else min(due, today)
            end = min(max(end, start + timedelta(days=20)), today - timedelta(days=1))
            span = max((end - start).days, 30)
            months = sorted({first_of_month(start + timedelta(days=span * k // 4)) for k in range(1, 5)})
            months = [m for m in months if m <= end]
            done_at = _moment(end) if finishes else None
        percent = 0
        for n, month in enumerate(months, start=1):
            day = min(month + timedelta(days=24), today - timedelta(days=1))
            final = done_at is not None and n == len(months)
            percent = 100 if final else min(95, max(percent + 10, (share % 50) + n * 12 if done_at else 10 + n * 8))
            reports.append(ProgressReport(
                assignment=a, county_id=a.county_id, period=f"{month:%Y-%m}", percent=percent, marks_complete=final,
                text=PROGRESS_TEXTS[4 if final else (share + n) % 4], state=ProgressReport.State.ACCEPTED,
                submitted_by=clerk, submitted_at=_moment(day), reviewed_by=clerk,
                reviewed_at=_moment(day) + timedelta(hours=20)))
        if reports and reports[-1].assignment is a:
            a.percent = reports[-1].percent
            a.last_report_at = reports[-1].submitted_at
            a.completed_at = reports[-1].submitted_at if done_at else None
            touched.append(a)
    ProgressReport.objects.bulk_create(reports, batch_size=1000)
    Assignment.objects.bulk_update(touched, ["percent", "last_report_at", "completed_at"], batch_size=1000)
    assignments_refresh(touched, now=now)
    stats["reports"] += len(reports)
    return stats


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
