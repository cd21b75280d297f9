"""Synthetic task ledgers and the measurements of ``manage.py bench_ledgers``.

The benchmark builds counties with their alliances, departments, one ledger each, items with
fan-out (各医共体 → one assignment per alliance), assignments with their cached status computed
beforehand, and monthly progress reports; it measures the supervision pages at two sizes ("1×"
and "100×" the assignments) and the import of a large ledger file against openpyxl reading the
same file. Everything runs in one transaction that is rolled back at the end, so the database is
left as it was found (sequences aside, and PostgreSQL's row estimates until autovacuum).

The synthetic regions use codes no real region has (GB/T 2260 has no province 99): province
990000, cities 99cc00, counties 99ccnn, and the county of the import benchmark 999999.

Costs: rows are written with ``bulk_create`` in batches of ``BATCH``; the progress reports, by far
the most rows, with PostgreSQL's COPY (psycopg 3), or ``bulk_create`` elsewhere. The rows bypass the
services that keep the task roll-ups (``tasks.services.rollups``), so the roll-ups of the synthetic
counties are rebuilt after each size, as ``manage.py rebuild_task_rollups`` would (the time is printed).
"""

from __future__ import annotations

import cProfile
import io
import logging
import os
import platform
import pstats
import random
import re
import statistics
import sysconfig
import time
import tracemalloc
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from accounts.models import Grant, Role, User
from alliances.models import Alliance, AllianceMembership, Institution, Region
from core.bench import analyze_tables, database_description, table
from tasks import selectors
from tasks.deadlines import DeadlineKind, Recurrence
from tasks.imports.applying import apply_plan
from tasks.imports.planning import LedgerPlan, plan_import
from tasks.imports.reading import read_ledger_upload
from tasks.models import (
    Assignment,
    CountyMonthRollup,
    Department,
    Ledger,
    LedgerSection,
    ProgressReport,
    TaskItem,
    UnitRollup,
)
from tasks.services.ledgers import item_key
from tasks.services.rollups import rollups_recompute
from tasks.status import DEFAULT_RULES, first_of_month, local_date, start_of_day

Write = Callable[[str], None]

PROVINCE_CODE = "990000"
IMPORT_CITY_CODE, IMPORT_COUNTY_CODE = "999900", "999999"
SYNTHETIC_PREFIX = "99"
COUNTIES_PER_CITY = 20
MAX_COUNTIES = 98 * COUNTIES_PER_CITY  # cities 9901..9998; 9999 is the import's
BATCH = 5000
RUNS = 3  # timed runs, after one warm-up; the median is reported
SLOW_PAGE_SECONDS = 2.0
IMPORT_RATIO_AIM = 3.0
SECTION_ITEMS, KEY_TASK_ITEMS = 50, 10  # items under one action, under one key task
SQLITE_CAPS = {"counties": 5, "items": 60, "reports": 3, "import_rows": 2000}

DEPARTMENTS = ["县卫生健康局", "县财政局", "县医保局", "县委编办", "县人力资源社会保障局"]
K = Institution.Kind
LEAD_HOSPITALS = [("县人民医院", K.COUNTY_GENERAL_HOSPITAL), ("县中医院", K.TCM_HOSPITAL),
                  ("县妇幼保健院", K.MCH_HOSPITAL)]
TOWNS = ["城东", "城西", "河口", "青山", "白石", "龙泉", "桂圩", "平台", "通门", "东坝", "宝珠", "大方", "千官",
         "南江", "历洞"]
ALLIANCES = ["第一医共体", "第二医共体", "第三医共体"]
ACTIONS = ["“深化改革”行动", "“能力提升”行动", "“医防融合”行动", "“数字赋能”行动", "“人才强基”行动",
           "“服务提质”行动"]
KEY_TASKS = ["夯实管理责任", "统筹人员使用", "推进资源共享", "完善医保支付", "强化绩效考核"]
VERBS = ["推进", "落实", "完善", "健全", "建立", "深化", "加强", "开展"]
TOPICS = ["医共体人员统筹使用", "县域医学影像中心建设", "慢病一体化管理", "医保基金打包付费", "家庭医生签约服务",
          "基层首诊和双向转诊", "药品耗材统一采购配送", "乡镇卫生院服务能力提升", "公共卫生与医疗服务融合",
          "绩效考核与薪酬分配改革", "信息系统互联互通", "急诊急救网络建设"]
DETAILS = ["，形成可复制的经验做法", "，确保县域就诊率达到90%", "，基层诊疗量占比同比提升2个百分点",
           "，每季度通报一次进展", "，年底前实现全覆盖", ""]
PHRASES = ["已召开专题会议部署", "已完成方案制定并印发", "正在组织实施", "已完成阶段性任务", "已开展督导检查",
           "已建立工作台账并按月调度"]
RETURN_REASON = "佐证材料不全，请补充后重新提交。"
CN_DIGITS = "零一二三四五六七八九"

LEAD, COOPERATING = Assignment.Role.LEAD, Assignment.Role.COOPERATING
DATED = (DeadlineKind.FIXED, DeadlineKind.ONGOING, DeadlineKind.MILESTONE)


@dataclass
class Options:
    counties: int = 50
    items: int = 300
    reports: int = 10  # per assignment, on average
    import_rows: int = 10_000
    skip_pages: bool = False
    skip_import: bool = False
    force: bool = False


def cn_number(n: int) -> str:
    """1 → 一, 15 → 十五, 42 → 四十二, 105 → 一百零五 (1..999)."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 100:
        tens, units = divmod(n, 10)
        return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[units] if units else "")
    hundreds, rest = divmod(n, 100)
    text = CN_DIGITS[hundreds] + "百"
    if rest == 0:
        return text
    if rest < 10:
        return text + "零" + CN_DIGITS[rest]
    return text + CN_DIGITS[rest // 10] + "十" + (CN_DIGITS[rest % 10] if rest % 10 else "")


def _month_end(day: date, months_ahead: int = 0) -> date:
    return first_of_month(day, months_ahead + 1) - timedelta(days=1)


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


@contextmanager
def _given_dates(model, *names: str):
    """Let ``bulk_create`` keep the dates the generator gives (``auto_now_add`` would stamp the
    moment of the insert, and the cached status was computed from the given date)."""
    fields = [model._meta.get_field(name) for name in names]
    saved = [(f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, (auto_now, auto_now_add) in zip(fields, saved, strict=True):
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


@contextmanager
def _quiet():
    """Without the log lines of django-axes on each login, nor whitenoise's warning that
    collectstatic has not run (the test client loads the middleware)."""
    axes = logging.getLogger("axes")
    level = axes.level
    axes.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
            yield
    finally:
        axes.setLevel(level)


def _can_copy() -> bool:
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


# The synthetic counties ---------------------------------------------------------------------


@dataclass
class County:
    index: int
    region: Region
    staff: User  # bureau staff: the county user of the page measurements, and the reviewer
    filer: User  # files the progress reports
    departments: list[tuple[str, int]]
    institutions: list[tuple[str, int]]  # lead hospitals first, then township centres
    alliances: list[int]
    ledger: Ledger | None = None
    sections: dict[str, LedgerSection] = field(default_factory=dict)
    items: int = 0


class Generator:
    """Builds the synthetic counties and their items at ``now``; every status is computed with
    ``Assignment.status_at(now)`` before the rows are written."""

    def __init__(self, *, now: datetime, reports: int, province: Region | None = None):
        self.now = now
        self.today = local_date(now)
        # Ledgers were issued on the first of the month a year before this one; the assignments
        # were made that morning, and the reports spread over the twelve months since.
        self.start = first_of_month(self.today, -12)
        self.made_at = start_of_day(self.start) + timedelta(hours=9)
        self.reports = reports
        self.copy = _can_copy()
        self.province = province or Region.objects.create(code=PROVINCE_CODE, name="基准省",
                                                          level=Region.Level.PROVINCE)
        self.cities: dict[str, Region] = {}
        self.counties: list[County] = []
        self.viewer = self._user("bench_province_viewer", "基准省只读", Role.VIEWER, region=self.province)

    # Organisation ------------------------------------------------------------------------

    def _city(self, code: str, name: str) -> Region:
        if code not in self.cities:
            self.cities[code] = Region.objects.create(code=code, name=name, level=Region.Level.CITY,
                                                      parent=self.province)
        return self.cities[code]

    @staticmethod
    def _user(username: str, full_name: str, role: str, **scope) -> User:
        user = User(username=username, full_name=full_name)
        user.set_unusable_password()
        user.save()
        Grant.objects.create(user=user, role=role, **scope)
        return user

    def make_county(self, code: str, name: str, city: Region, index: int) -> County:
        """A county with 3 alliances (a lead hospital and 5 township centres each), the 5
        departments and two users. A dozen queries."""
        region = Region.objects.create(code=code, name=name, level=Region.Level.COUNTY, parent=city)
        institutions = [Institution(county=region, name=n, kind=kind, beds=300) for n, kind in LEAD_HOSPITALS]
        institutions += [Institution(county=region, name=f"{town}镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE, beds=40)
                         for town in TOWNS]
        Institution.objects.bulk_create(institutions)
        alliances = Alliance.objects.bulk_create([Alliance(county=region, name=n, established_on=date(2020, 1, 1))
                                                  for n in ALLIANCES])
        memberships = []
        for n, alliance in enumerate(alliances):
            memberships.append(AllianceMembership(institution=institutions[n], alliance=alliance,
                                                  role=AllianceMembership.Role.LEAD, valid_from=date(2020, 1, 1)))
            memberships += [AllianceMembership(institution=institution, alliance=alliance,
                                               valid_from=date(2020, 1, 1))
                            for institution in institutions[3 + 5 * n: 8 + 5 * n]]
        AllianceMembership.objects.bulk_create(memberships)
        departments = Department.objects.bulk_create([Department(county=region, name=n) for n in DEPARTMENTS])
        staff = self._user(f"bench_{code}_staff", f"{name}卫健局", Role.BUREAU_STAFF, region=region)
        filer = self._user(f"bench_{code}_filer", f"{name}人民医院", Role.INSTITUTION_FILER,
                           institution=institutions[0])
        return County(index=index, region=region, staff=staff, filer=filer,
                      departments=[(d.name, d.pk) for d in departments],
                      institutions=[(i.name, i.pk) for i in institutions], alliances=[a.pk for a in alliances])

    def county(self, index: int) -> County:
        """The ``index``-th synthetic county (基准县01 is 0), made with its ledger on first use."""
        while len(self.counties) <= index:
            n = len(self.counties)
            city_number, county_number = divmod(n, COUNTIES_PER_CITY)
            city = self._city(f"{SYNTHETIC_PREFIX}{city_number + 1:02d}00", f"基准市{city_number + 1:02d}")
            county = self.make_county(f"{SYNTHETIC_PREFIX}{city_number + 1:02d}{county_number + 1:02d}",
                                      f"基准县{n + 1:02d}", city, n)
            self.make_ledger(county)
            self.counties.append(county)
        return self.counties[index]

    def make_ledger(self, county: County) -> None:
        """The county's ledger, issued on the first of the month a year ago."""
        county.ledger = Ledger.objects.create(
            county=county.region, title=f"{county.region.name}{self.start.year}年医共体建设重点任务台账",
            doc_number=f"基准医共〔{self.start.year}〕{county.index + 1}号", issuer=f"{county.region.name}卫生健康局",
            year=self.start.year, issued_on=self.start, layout=Ledger.Layout.NUMBERED, created_by=county.staff)

    # Items, assignments, reports -----------------------------------------------------------

    @staticmethod
    def _section_labels(i: int) -> list[str]:
        action = i // SECTION_ITEMS
        key_task = i % SECTION_ITEMS // KEY_TASK_ITEMS
        return [f"{cn_number(action + 1)}、{ACTIONS[action % len(ACTIONS)]}",
                f"{key_task + 1}．{KEY_TASKS[key_task % len(KEY_TASKS)]}"]

    def _sections(self, county: County, indices: range) -> None:
        """The sections items ``indices`` hang under, made where missing (two bulk inserts)."""
        order = len(county.sections)
        for level in (1, 2):
            missing: dict[str, LedgerSection] = {}
            for i in indices:
                labels = self._section_labels(i)[:level]
                path = "|".join(labels)
                if path in county.sections or path in missing:
                    continue
                order += 1
                parent = county.sections[labels[0]] if level == 2 else None
                missing[path] = LedgerSection(ledger=county.ledger, parent=parent, level=level, label=labels[-1],
                                              path=path, order=order)
            LedgerSection.objects.bulk_create(list(missing.values()), batch_size=BATCH)
            county.sections.update(missing)

    def _deadline(self, rng: random.Random) -> tuple[str, str, date | None, str, str]:
        """(text, kind, due date, recurrence, note): past dates, dates within the next weeks, later
        dates, fixed-then-ongoing, milestones, continuous and a few unreadable."""
        today, r = self.today, rng.random()
        if r < 0.58:
            if r < 0.22:
                due = today - timedelta(days=rng.randint(3, 240))
            elif r < 0.35:
                due = today + timedelta(days=rng.randint(0, 28))
            else:
                due = today + timedelta(days=rng.randint(29, 270))
            return f"{due.year}年{due.month}月{due.day}日前", DeadlineKind.FIXED, due, "", ""
        if r < 0.66:
            due = _month_end(today, rng.randint(-4, 6))
            return f"{due.year}年{due.month}月底完成并持续推进", DeadlineKind.ONGOING, due, "", ""
        if r < 0.70:
            due = _month_end(today, rng.randint(-2, 8))
            return f"{due.year}年{due.month}月底前完成阶段性目标", DeadlineKind.MILESTONE, due, "", ""
        if r < 0.96:
            text, recurrence = rng.choice([("持续实施", ""), ("长期坚持", ""), ("每季度", Recurrence.QUARTERLY),
                                           ("每月", Recurrence.MONTHLY), ("每半年", Recurrence.HALF_YEARLY)])
            return text, DeadlineKind.CONTINUOUS, None, recurrence, ""
        return "视工作进展确定", DeadlineKind.UNKNOWN, None, "", "The phrase gives no date."

    def _units(self, rng: random.Random, county: County, i: int) -> tuple[str, str, list[tuple]]:
        """(responsible units as written, cooperating as written, [(role, kind, pk, source text)]).
        A third 各医共体 with cooperating departments, a third a department with institutions, a
        third departments with cooperating departments (and the alliances, half of the time)."""
        departments = county.departments
        units: list[tuple] = []
        shape = (i + county.index) % 3
        lead_names: list[str] = []
        coop_names: list[str] = []
        if shape == 0:
            lead_names = ["各医共体"]
            units += [(LEAD, "alliance", pk, "各医共体") for pk in county.alliances]
            coop = rng.sample(departments, rng.choice((3, 4, 4, 5)))
        elif shape == 1:
            department = departments[0] if rng.random() < 0.5 else rng.choice(departments)
            institutions = rng.sample(county.institutions, rng.randint(3, 7))
            lead_names = [department[0]] + [name for name, _pk in institutions]
            units.append((LEAD, "department", department[1], department[0]))
            units += [(LEAD, "institution", pk, name) for name, pk in institutions]
            coop = rng.sample([d for d in departments if d != department], rng.choice((0, 1)))
        else:
            leads = rng.sample(departments, 2 if rng.random() < 0.3 else 1)
            lead_names = [name for name, _pk in leads]
            units += [(LEAD, "department", pk, name) for name, pk in leads]
            rest = [d for d in departments if d not in leads]
            coop = rng.sample(rest, min(len(rest), rng.randint(2, 4)))
            if rng.random() < 0.5:
                coop_names.append("各医共体")
                units += [(COOPERATING, "alliance", pk, "各医共体") for pk in county.alliances]
        coop_names = [name for name, _pk in coop] + coop_names
        units += [(COOPERATING, "department", pk, name) for name, pk in coop]
        return "、".join(lead_names), "、".join(coop_names), units

    def _moment(self, rng: random.Random, months_back: int) -> datetime:
        """A working-hours moment in the month ``months_back`` before this one, before now."""
        first = first_of_month(self.today, -months_back)
        if months_back == 0:
            begin = start_of_day(first)
            return begin + (self.now - begin) * rng.random()
        day = first + timedelta(days=rng.randint(0, 27))
        return start_of_day(day) + timedelta(hours=rng.randint(8, 17), minutes=rng.randint(0, 59))

    def _final_percent(self, rng: random.Random, item: TaskItem) -> int:
        if item.deadline_kind in DATED and item.due_date:
            total = (item.due_date - self.start).days
            share = 1.0 if total <= 0 else min(1.0, max(0.0, (self.today - self.start).days / total))
            return max(5, min(95, round(share * 100 + rng.gauss(-5, 20))))
        return rng.randint(20, 90)

    def _progress(self, rng: random.Random, county: County, assignment: Assignment) -> list[tuple]:
        """The reports of ``assignment`` as COPY rows without the ids (newest first), and the
        assignment's percent, last report and completion set from the newest: 6% never reported,
        8% stopped reporting months ago, the rest report about monthly; about 15% are done (an
        accepted completion report is their newest). The newest is never a returned report."""
        r = rng.random()
        if self.reports <= 0 or r < 0.06:
            return []
        if r < 0.14:
            count, lag = rng.randint(1, max(1, self.reports // 3)), rng.randint(2, 5)
        else:
            count = max(1, self.reports + rng.randint(-1, 3)) if self.reports >= 2 else self.reports
            lag = 0 if rng.random() < 0.65 else 1
        moments = sorted((self._moment(rng, lag + k * (12 - lag) // count) for k in range(count)), reverse=True)
        completed = rng.random() < 0.16
        final = 100 if completed else self._final_percent(rng, assignment.item)
        rows = []
        for k, at in enumerate(moments):
            percent = final if k == 0 else round(final * (count - k) / count)
            marks = completed and k == 0
            if marks:
                state = ProgressReport.State.ACCEPTED
            elif k == 0:
                state = ProgressReport.State.SUBMITTED if rng.random() < 0.45 else ProgressReport.State.ACCEPTED
            else:
                x = rng.random()
                state = (ProgressReport.State.ACCEPTED if x < 0.85 else ProgressReport.State.RETURNED if x < 0.97
                         else ProgressReport.State.SUBMITTED)
            reviewed = state != ProgressReport.State.SUBMITTED
            month = local_date(at)
            rows.append((
                f"{month:%Y-%m}", f"{month.month}月：{rng.choice(PHRASES)}，完成进度{percent}%。", percent, marks,
                state.value, county.filer.pk, at, county.staff.pk if reviewed else None,
                min(at + timedelta(days=rng.randint(1, 5)), self.now) if reviewed else None,
                RETURN_REASON if state == ProgressReport.State.RETURNED else "",
            ))
        assignment.percent = final
        assignment.last_report_at = moments[0]
        assignment.completed_at = moments[0] if completed else None
        return rows

    def add_items(self, county: County, start: int, stop: int) -> None:
        """Items ``start``..``stop - 1`` of ``county``'s ledger with their assignments and reports."""
        rng = random.Random(f"{county.index}:{start}")
        indices = range(start, stop)
        self._sections(county, indices)
        items: list[tuple[TaskItem, list[tuple]]] = []
        for i in indices:
            labels = self._section_labels(i)
            lead_text, coop_text, units = self._units(rng, county, i)
            text, kind, due, recurrence, note = self._deadline(rng)
            number = f"{i // SECTION_ITEMS + 1}.{i % SECTION_ITEMS + 1}"
            item = TaskItem(
                ledger=county.ledger, section=county.sections["|".join(labels)], number=number,
                key=item_key(number), text=f"{rng.choice(VERBS)}{rng.choice(TOPICS)}{rng.choice(DETAILS)}",
                lead_units_text=lead_text, coop_units_text=coop_text, deadline_text=text, deadline_kind=kind,
                due_date=due, recurrence=recurrence, deadline_note=note, source_row=i + 4, order=i + 1,
                created_by=county.staff)
            items.append((item, units))
        TaskItem.objects.bulk_create([item for item, _units in items], batch_size=BATCH)
        assignments: list[Assignment] = []
        planned: list[list[tuple]] = []
        for item, units in items:
            for role, kind, pk, source in units:
                assignment = Assignment(item=item, county_id=county.region.pk, role=role, source_text=source,
                                        created_at=self.made_at, **{f"{kind}_id": pk})
                planned.append(self._progress(rng, county, assignment))
                assignment.set_status(assignment.status_at(self.now, DEFAULT_RULES))
                assignments.append(assignment)
        with _given_dates(Assignment, "created_at"):
            Assignment.objects.bulk_create(assignments, batch_size=BATCH)
        self._write_reports(county, assignments, planned)
        county.items = max(county.items, stop)

    REPORT_COLUMNS = ("assignment", "county", "period", "text", "percent", "marks_complete", "state",
                      "submitted_by", "submitted_at", "reviewed_by", "reviewed_at", "review_reason")

    def _write_reports(self, county: County, assignments: list[Assignment], planned: list[list[tuple]]) -> None:
        if self.copy:
            columns = ", ".join(connection.ops.quote_name(ProgressReport._meta.get_field(name).column)
                                for name in self.REPORT_COLUMNS)
            table = connection.ops.quote_name(ProgressReport._meta.db_table)
            with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for assignment, rows in zip(assignments, planned, strict=True):
                    for row in rows:
                        copy.write_row((assignment.pk, assignment.county_id, *row))
            return
        names = [f"{name}_id" if name in ("assignment", "county", "submitted_by", "reviewed_by") else name
                 for name in self.REPORT_COLUMNS]
        reports = [ProgressReport(**dict(zip(names, (assignment.pk, assignment.county_id, *row), strict=True)))
                   for assignment, rows in zip(assignments, planned, strict=True) for row in rows]
        ProgressReport.objects.bulk_create(reports, batch_size=BATCH)


def build_range(generator: Generator, items_per_county: int, lo: int, hi: int, write: Write | None = None) -> None:
    """Make the items of global index ``lo``..``hi - 1``: county ``i // items_per_county``, its item
    ``i % items_per_county``."""
    first, last = lo // items_per_county, (hi - 1) // items_per_county
    started = time.perf_counter()
    for index in range(first, last + 1):
        county = generator.county(index)
        start = max(lo, index * items_per_county) - index * items_per_county
        stop = min(hi, (index + 1) * items_per_county) - index * items_per_county
        generator.add_items(county, start, stop)
        done = index - first + 1
        if write and last > first and (done % 10 == 0 or index == last):
            write(f"    … {done}/{last - first + 1} counties ({time.perf_counter() - started:.1f} s)")


def synthetic_counts() -> dict[str, int]:
    """Rows of the synthetic counties: counties, ledgers, items, assignments, reports, and the
    assignments by light. Six queries."""
    county = {"county__code__startswith": SYNTHETIC_PREFIX}
    counts = {
        "counties": Region.objects.filter(level=Region.Level.COUNTY, code__startswith=SYNTHETIC_PREFIX).count(),
        "ledgers": Ledger.objects.filter(**county).count(),
        "items": TaskItem.objects.filter(ledger__county__code__startswith=SYNTHETIC_PREFIX).count(),
        "reports": ProgressReport.objects.filter(**county).count(),
    }
    counts.update(Assignment.objects.filter(**county).aggregate(**selectors.count_fields()))
    counts["assignments"] = counts.pop("total")
    return counts


def rollup_synthetic(generator: Generator) -> float:
    """Rebuild the roll-ups of the synthetic counties (their rows were written directly, past the
    services that keep the roll-ups), as ``manage.py rebuild_task_rollups`` would. Returns seconds."""
    started = time.perf_counter()
    rollups_recompute([county.region.pk for county in generator.counties], today=generator.today)
    return time.perf_counter() - started


def analyze() -> float:
    """ANALYZE the tables the generator filled. Returns the seconds it took."""
    return analyze_tables([Region, Institution, Alliance, AllianceMembership, Department, Ledger, LedgerSection,
                           TaskItem, Assignment, ProgressReport, User, Grant, UnitRollup, CountyMonthRollup])


# Measurements -------------------------------------------------------------------------------


@dataclass
class Timing:
    seconds: float  # the median of the timed runs
    runs: list[float]
    queries: int
    slowest: tuple[float, str]  # the slowest query of the median run: seconds, SQL


def _slowest(captured: list[dict]) -> tuple[float, str]:
    if not captured:
        return 0.0, ""
    query = max(captured, key=lambda q: float(q.get("time") or 0))
    return float(query.get("time") or 0), query["sql"]


def time_page(client: Client, url: str) -> Timing:
    """One warm-up request, then ``RUNS`` timed ones; the median run's time and queries."""
    response = client.get(url)
    if response.status_code != 200:
        raise CommandError(f"GET {url} answered {response.status_code}")
    samples = []
    for _run in range(RUNS):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise CommandError(f"GET {url} answered {response.status_code}")
        samples.append((elapsed, ctx.captured_queries))
    ordered = sorted(samples, key=lambda s: s[0])
    elapsed, captured = ordered[len(ordered) // 2]
    return Timing(elapsed, [s[0] for s in samples], len(captured), _slowest(captured))


def time_call(func: Callable[[], object]) -> Timing:
    """One warm-up call (its queries are counted), then ``RUNS`` timed calls; the median."""
    with CaptureQueriesContext(connection) as ctx:
        func()
    runs = []
    for _run in range(RUNS):
        started = time.perf_counter()
        func()
        runs.append(time.perf_counter() - started)
    return Timing(statistics.median(runs), runs, len(ctx.captured_queries), _slowest(ctx.captured_queries))


PAGES = ["dashboard", "assignment_list", "assignment_list?light=red", "ledger_detail", "ledger_list"]


def page_url(page: str, ledger: Ledger) -> str:
    if page == "ledger_detail":
        return reverse("tasks:ledger_detail", kwargs={"ledger_pk": ledger.pk})
    name, _sep, query = page.partition("?")
    return reverse(f"tasks:{name}") + (f"?{query}" if query else "")


def measure_pages(clients: dict[str, Client], ledger: Ledger, scale: str, write: Write) -> dict[tuple, Timing]:
    results = {}
    for page in PAGES:
        url = page_url(page, ledger)
        for label, client in clients.items():
            timing = time_page(client, url)
            results[(page, label)] = timing
            write(f"  {scale:>4}  {page:<26} {label:<9} {_ms(timing.seconds):>9} ms  {timing.queries:>3} queries"
                  f"  (runs {', '.join(_ms(s) for s in timing.runs)} ms; slowest query {_ms(timing.slowest[0])} ms)")
    return results


_ID_LIST_RE = re.compile(r"\((?:\d+, ){3,}\d+\)")


def _sql_head(sql: str) -> str:
    """The first 200 characters of ``sql`` on one line, long id lists shortened to ``(66, …50 ids)``."""
    flat = _ID_LIST_RE.sub(lambda m: f"({m.group(0)[1:].split(',')[0]}, …{m.group(0).count(',') + 1} ids)",
                           " ".join(sql.split()))
    return flat[:200]


# The import of a large ledger -----------------------------------------------------------------

IMPORT_YEAR = 2026
IMPORT_LEADS = ["各医共体", "县卫生健康局", "县卫生健康局、县医保局", "县人民医院", "各医共体牵头医院", "县财政局",
                "县人社局", "县委编办", "县数据局", "县乡村振兴局", "市直相关医疗机构", "县疾病预防控制中心",
                "县中医院、城东镇卫生院", "各医共体"]
IMPORT_COOPS = ["", "县财政局", "县医保局、县财政局", "县人社局", "——", "县委编办、县人力资源和社会保障局",
                "各医共体", ""]
IMPORT_DEADLINES = ["12月底", "6月底完成并持续推进", "持续实施", "2026.09", "9月底前", "每季度", "2026年6月30日",
                    "第三季度", "长期坚持", "10月底前出台文件", "12月底前完成阶段性目标", "视情况而定"]
IMPORT_HEADER = ["序号", "重点工作", "责任部门", "配合部门", "时限要求"]


def ledger_xlsx(rows: int) -> bytes:
    """A ledger .xlsx of ``rows`` items in the numbered layout (seed 004): a title row, the 文号 /
    发文机关 / 年度 row, the header, a section row every 50 items."""
    rng = random.Random(f"import:{rows}")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("重点任务")
    sheet.append([f"基准县{IMPORT_YEAR}年医共体建设重点工作任务台账"])
    sheet.append(["文号：基准医共〔2026〕9号", "发文机关：基准县卫生健康局", f"年度：{IMPORT_YEAR}"])
    sheet.append(IMPORT_HEADER)
    for i in range(rows):
        if i % SECTION_ITEMS == 0:
            section = i // SECTION_ITEMS + 1
            heading = f"{rng.choice(VERBS)}{rng.choice(TOPICS)}"
            # 一 … 九十九 in the 序号 column as seed 004 writes them; past 99 the numeral heads the text.
            sheet.append([cn_number(section), heading] if section < 100 else [None, f"{cn_number(section)}、{heading}"])
        sheet.append([i + 1, f"{rng.choice(VERBS)}{rng.choice(TOPICS)}{rng.choice(DETAILS)}",
                      rng.choice(IMPORT_LEADS), rng.choice(IMPORT_COOPS) or None, rng.choice(IMPORT_DEADLINES)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def bench_import(generator: Generator, rows: int, write: Write) -> None:
    now = generator.now
    city = generator._city(IMPORT_CITY_CODE, "基准市导入")
    county = generator.make_county(IMPORT_COUNTY_CODE, "基准县导入", city, -1)
    user = county.staff
    started = time.perf_counter()
    data = ledger_xlsx(rows)
    write(f"  built a {rows:,}-row ledger .xlsx in memory: {len(data) / 1024:,.0f} KB "
          f"({time.perf_counter() - started:.1f} s)")
    name = "基准县重点工作任务台账.xlsx"

    def openpyxl_only():
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        for _row in book.active.iter_rows(values_only=True):
            pass
        book.close()

    def read():
        table, issues = read_ledger_upload(SimpleUploadedFile(name, data))
        if table is None:
            raise CommandError(f"the synthetic ledger could not be read: {[str(i) for i in issues]}")
        return table

    def preview() -> LedgerPlan:
        return plan_import(read(), county=county.region, user=user, now=now)

    def full():
        with transaction.atomic():
            plan = preview()
            result = apply_plan(plan, user=user, now=now)
            transaction.set_rollback(True)
        return result

    plan = preview()
    if not plan.ok:
        raise CommandError(f"the synthetic ledger has errors: {[str(e) for e in plan.errors[:5]]}")
    counts = plan.counts
    write(f"  the file: {counts['create']:,} items under {plan.table.section_rows} sections, "
          f"{counts['assignments']:,} assignments to make, {counts['unknown_units']} unknown units, "
          f"{len(plan.warnings):,} warnings (unreadable deadlines, units named twice)")
    results = {}
    for key, label, func in (("a", "(a) openpyxl alone reads every cell", openpyxl_only),
                             ("b", "(b) read_ledger_upload", read),
                             ("c", "(c) read + plan_import (the preview)", preview),
                             ("d", "(d) read + plan + apply_plan (rolled back)", full)):
        results[key] = timing = time_call(func)
        write(f"  {label:<44} {_ms(timing.seconds):>10} ms  {timing.queries:>4} queries"
              f"  (runs {', '.join(_ms(s) for s in timing.runs)} ms)")
    a = results["a"].seconds
    ratios = {key: results[key].seconds / a for key in "bcd"}
    tracemalloc.start()
    full()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    b, c, d = (results[k].seconds for k in "bcd")
    write("")
    write(f"  ratios to openpyxl alone: (b)/(a) {ratios['b']:.2f}×   (c)/(a) {ratios['c']:.2f}×   "
          f"(d)/(a) {ratios['d']:.2f}×   (aim: (d)/(a) ≤ {IMPORT_RATIO_AIM:g}×)")
    write(f"  where (d) goes: read {_ms(b)} ms, plan {_ms(c - b)} ms, apply {_ms(d - c)} ms; "
          f"{results['d'].queries} queries (slowest {_ms(results['d'].slowest[0])} ms); "
          f"peak Python memory {peak / 1024 / 1024:,.1f} MB (tracemalloc)")
    verdict = "within" if ratios["d"] <= IMPORT_RATIO_AIM else "ABOVE"
    write(f"  import {rows:,} rows: {_ms(d)} ms vs openpyxl {_ms(a)} ms = {ratios['d']:.2f}× — {verdict} the "
          f"{IMPORT_RATIO_AIM:g}× aim")
    if ratios["d"] > IMPORT_RATIO_AIM:
        profile = cProfile.Profile()
        profile.runcall(full)
        stream = io.StringIO()
        pstats.Stats(profile, stream=stream).sort_stats("cumulative").print_stats(15)
        write("")
        write("  cProfile of one run of (d), top 15 by cumulative time:")
        lines = stream.getvalue().splitlines()
        start = next((n for n, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        prefixes = sorted({sysconfig.get_paths()["purelib"] + "/", os.getcwd() + "/"}, key=len, reverse=True)
        for line in lines[start:]:
            for prefix in prefixes:
                line = line.replace(prefix, "")
            if line.strip():
                write(f"    {line.rstrip()}")


# The run ------------------------------------------------------------------------------------


def _capped(options: Options, write: Write) -> Options:
    if connection.vendor == "postgresql":
        return options
    write(f"WARNING: this database is {connection.vendor}; the figures that matter are PostgreSQL's "
          "(set DATABASE_URL=postgres://…).")
    if options.force:
        return options
    capped = {key: min(getattr(options, key), limit) for key, limit in SQLITE_CAPS.items()}
    if any(capped[key] != getattr(options, key) for key in capped):
        write("         Capped to " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in capped.items())
              + " (pass --force for the sizes asked).")
    return Options(**{**options.__dict__, **capped})


def run(options: Options, write: Write) -> None:
    """The whole benchmark, in one transaction rolled back at the end."""
    if not 1 <= options.counties <= MAX_COUNTIES:
        raise CommandError(f"--counties must be 1 to {MAX_COUNTIES}.")
    if options.items < 1 or options.reports < 0 or options.import_rows < 1:
        raise CommandError("--items and --import-rows must be at least 1, --reports at least 0.")
    if Region.objects.filter(code__startswith=SYNTHETIC_PREFIX).exists():
        raise CommandError("Regions with codes 99xxxx exist already: the synthetic regions would clash.")
    write("bench_ledgers: task ledgers at two sizes, and the import of a large ledger")
    write(f"machine: {os.cpu_count()} CPUs, {platform.machine()} {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}")
    write(f"database: {database_description()}")
    options = _capped(options, write)
    write("Everything runs in one transaction that is rolled back at the end: no data is left in the database.")
    write("Times are medians of 3 runs after 1 warm-up, DEBUG off; queries per request include session and user.")
    with override_settings(DEBUG=False), _quiet(), transaction.atomic():
        _run(options, write)
        transaction.set_rollback(True)
    write("")
    write("Rolled back: the synthetic regions, ledgers, assignments and reports are gone.")


def _run(options: Options, write: Write) -> None:
    now = timezone.now()
    generator = Generator(now=now, reports=options.reports)
    write(f"now: {timezone.localtime(now):%Y-%m-%d %H:%M %Z}; ledgers issued {generator.start}; reports via "
          f"{'COPY' if generator.copy else 'bulk_create'}")
    write("")
    total_items = options.counties * options.items
    small = max(1, round(total_items / 100))
    generation = 0.0
    results: dict[str, dict[tuple, Timing]] = {}
    sizes: dict[str, dict[str, int]] = {}
    clients: dict[str, Client] = {}
    if not options.skip_pages:
        for scale, lo, hi in (("1×", 0, small), ("100×", small, total_items)):
            if hi <= lo:
                raise CommandError("Too little data for two scales: raise --counties or --items.")
            write(f"Generating {scale}: items {lo + 1:,}–{hi:,} of {total_items:,} "
                  f"({options.items} per county) …")
            started = time.perf_counter()
            build_range(generator, options.items, lo, hi, write)
            elapsed = time.perf_counter() - started
            generation += elapsed
            rolled = rollup_synthetic(generator)
            analysed = analyze()
            sizes[scale] = counts = synthetic_counts()
            assignments = counts["assignments"] or 1
            write(f"  {scale}: counties {counts['counties']:,}, ledgers {counts['ledgers']:,}, items "
                  f"{counts['items']:,}, assignments {counts['assignments']:,}, progress reports "
                  f"{counts['reports']:,} — generated in {elapsed:.1f} s"
                  + f"; roll-ups rebuilt in {rolled:.1f} s" + (f", then ANALYZE {analysed:.1f} s" if analysed else ""))
            write("  lights: " + ", ".join(f"{key} {counts[key]:,} ({counts[key] * 100 / assignments:.0f}%)"
                                          for key in ("red", "yellow", "blue", "done")))
            if not clients:
                clients = {"province": Client(), "county": Client()}
                clients["province"].force_login(generator.viewer)
                clients["county"].force_login(generator.counties[0].staff)
            ledger = generator.counties[0].ledger
            write(f"  measuring pages (province viewer of 基准省; county = bureau staff of 基准县01; ledger_detail of "
                  f"基准县01's ledger, {generator.counties[0].items} items) …")
            results[scale] = measure_pages(clients, ledger, scale, write)
            write("")
        write(f"Generation: {generation:.1f} s in all.")
        _page_table(results, sizes, write)
    else:
        write("Pages skipped (--skip-pages): no synthetic ledgers generated.")
    if options.skip_import:
        write("")
        write("Import skipped (--skip-import).")
        return
    write("")
    write(f"Import of a {options.import_rows:,}-row ledger .xlsx into a fresh county (each run rolled back) …")
    bench_import(generator, options.import_rows, write)


def _page_table(results: dict[str, dict[tuple, Timing]], sizes: dict[str, dict[str, int]], write: Write) -> None:
    small, large = results["1×"], results["100×"]
    rows = []
    for page in PAGES:
        for label in ("province", "county"):
            one, hundred = small[(page, label)], large[(page, label)]
            rows.append([page, label, _ms(one.seconds), str(one.queries), _ms(hundred.seconds), str(hundred.queries),
                         f"{hundred.seconds / one.seconds:.1f}×" if one.seconds else "—"])
    write("")
    write(f"Pages: 1× = {sizes['1×']['assignments']:,} assignments / {sizes['1×']['reports']:,} reports; "
          f"100× = {sizes['100×']['assignments']:,} assignments / {sizes['100×']['reports']:,} reports")
    for line in table(["page", "user", "1× ms", "1× queries", "100× ms", "100× queries", "time ratio"], rows):
        write(f"  {line}")
    slow = [(key, timing) for key, timing in large.items() if timing.seconds > SLOW_PAGE_SECONDS]
    if not slow:
        write(f"  No page takes more than {SLOW_PAGE_SECONDS:g} s at 100×.")
    for (page, label), timing in slow:
        seconds, sql = timing.slowest
        write(f"  SLOW at 100×: {page} ({label}) {_ms(timing.seconds)} ms; its slowest query {_ms(seconds)} ms: "
              f"{_sql_head(sql)}")
    if not slow:
        (page, label), timing = max(large.items(), key=lambda kv: kv[1].seconds)
        seconds, sql = timing.slowest
        write(f"  Slowest page at 100×: {page} ({label}) {_ms(timing.seconds)} ms, {timing.queries} queries; its "
              f"slowest query {_ms(seconds)} ms: {_sql_head(sql)}")
