"""The three seed ledgers imported for the demo counties: fan-out in 郁南县 (three alliances), the
departments found on first sight, 万源市's alias, a second run that changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone, translation

from tasks.demo import seed_ledger_bytes
from tasks.imports.planning import plan_import
from tasks.imports.reading import read_ledger_upload
from tasks.models import Assignment, Department, Ledger, ProgressReport, SupervisionOrder, TaskItem

# Seed 000 and seed 004 are loaded as this year's ledgers (their years shifted), seed 001 as last
# years' history.
SEED_000 = "县域医共体建设{year}年重点任务清单（演示：据2021年清单顺延）"
SEED_001 = "郁南县紧密型县域医疗卫生共同体建设任务清单（演示：据2020年清单顺延）"
SEED_004 = "同仁市{year}年综合医改重点工作台账（演示：据2021年清单顺延）"


def this_year() -> int:
    return timezone.localdate().year


@pytest.fixture
def demo(db):
    out = StringIO()
    with translation.override("en"):
        call_command("load_demo", "--quiet", "--without-filings", stdout=out)  # the ledgers only
    return out.getvalue()


def test_seed_000_fans_out_to_the_three_alliances_of_yunan(demo):
    year = this_year()
    ledger = Ledger.objects.get(title=SEED_000.format(year=year), county__code="445322")
    assert (ledger.year, ledger.items.count(), ledger.sections.filter(level=1).count()) == (year, 39, 5)
    assignments = Assignment.objects.filter(item__ledger=ledger)
    # 各医共体 in key tasks 2, 4, 5, 7 and 8–13: 28 items, one assignment per alliance each.
    per_alliance = Counter(assignments.filter(alliance__isnull=False).values_list("alliance__short_name", flat=True))
    assert per_alliance == {"第一医共体": 28, "第二医共体": 28, "第三医共体": 28}
    assert assignments.count() == 120
    # "各地卫生健康行政部门" is the county's health bureau; "各医共体管委会办公室" a new department.
    units = Counter(assignments.filter(department__isnull=False).values_list("department__name", flat=True))
    assert units == {"县卫生健康局": 20, "县医共体管委会办公室": 16}
    item = TaskItem.objects.get(ledger=ledger, key="10.1")
    assert "县域就诊率同比提升1个百分点或达到90%" in item.target_text


def test_seed_001_keeps_its_categories_and_reads_its_deadlines(demo):
    ledger = Ledger.objects.get(title=SEED_001)
    last_year = this_year() - 1  # loaded as last year's ledger; its 文号 is the source's
    assert (ledger.doc_number, ledger.issuer, ledger.year) == ("郁府办函〔2020〕78号", "郁南县人民政府办公室", last_year)
    assert ledger.items.count() == 39
    assert ledger.sections.filter(level=1).values("label").distinct().count() == 4
    first = ledger.items.get(key="1")
    assert (first.deadline_kind, str(first.due_date)) == ("fixed", f"{last_year}-03-31")  # 2020.03 moved
    # Nine departments share item （1）: the responsible units of the merged cell, line breaks and all.
    assert first.assignments.count() == 9
    wrapped = ledger.items.get(key="17")
    assert [a.unit_name for a in wrapped.assignments.all()] == ["县卫生健康局"]  # "县卫生\n健康局"
    assert wrapped.needs_deadline  # no deadline in the seed: flagged, not guessed


def test_seed_004_in_wanyuan_with_cooperating_units_and_the_alias(demo):
    ledger = Ledger.objects.get(title=SEED_004.format(year=this_year()), county__code="511781")
    assert ledger.items.count() == 48
    row_29 = ledger.items.get(key="29")
    names = {a.unit_name: a.role for a in row_29.assignments.all()}
    assert names["市医疗保障局"] == "lead"  # printed 市保障局, known as its alias
    assert names["市财政局"] == "cooperating"
    row_12 = ledger.items.get(key="12")
    assert {a.unit_name for a in row_12.assignments.all()} == {"市卫生健康局", "市人民医院"}  # an institution
    assert not Department.objects.filter(county__code="511781", name="市保障局").exists()


def test_a_second_load_changes_nothing_and_the_seed_file_reimports_unchanged(demo):
    before = (TaskItem.objects.count(), Assignment.objects.count(), ProgressReport.objects.count(),
              Department.objects.count())
    out = StringIO()
    with translation.override("en"):
        call_command("load_demo", "--quiet", "--without-filings", stdout=out)  # the ledgers only
    assert "0 items, 0 assignments, 0 departments and 0 progress reports created" in out.getvalue()
    assert (TaskItem.objects.count(), Assignment.objects.count(), ProgressReport.objects.count(),
            Department.objects.count()) == before
    ledger = Ledger.objects.get(title=SEED_000.format(year=this_year()))
    data = seed_ledger_bytes("ledger_000_key_tasks_2021.xlsx", year=this_year())
    table, _problems = read_ledger_upload(SimpleUploadedFile("seed000.xlsx", data))
    from accounts.models import User

    plan = plan_import(table, county=ledger.county, user=User.objects.get(username="yn_staff"), now=timezone.now())
    assert plan.ok and not plan.has_changes
    assert plan.counts["unchanged"] == 39


def test_the_demo_has_something_for_every_light_and_review(demo):
    lights = Counter(Assignment.objects.values_list("light", flat=True))
    assert lights["red"] > 0 and lights["yellow"] > 0
    assert ProgressReport.objects.filter(state="submitted").exists()
    returned = ProgressReport.objects.get(state="returned", county__code="445322")
    assert returned.review_reason


def test_the_demo_fills_the_task_rollups_equal_to_a_recount(demo):
    from tasks.models import CountyMonthRollup, LedgerRollup, UnitRollup
    from tasks.services.rollups import rollups_verify
    from tasks.status import local_date

    counties = set(Ledger.objects.values_list("county_id", flat=True))
    assert set(UnitRollup.objects.values_list("county_id", flat=True)) == counties
    assert set(LedgerRollup.objects.values_list("ledger_id", flat=True)) == set(Ledger.objects.values_list("pk", flat=True))
    assert CountyMonthRollup.objects.filter(county_id__in=counties).exists()
    assert sum(UnitRollup.objects.values_list("total", flat=True)) == Assignment.objects.filter(is_active=True).count()
    # A recount as of today finds nothing to repair.
    assert rollups_verify(today=local_date(timezone.now()), county_ids=counties).repaired == []


def test_this_years_ledgers_are_the_seeds_moved_to_this_year(demo):
    year = this_year()
    ledger = Ledger.objects.get(title=SEED_000.format(year=year))
    # Every year in the cells moved by the same number of years; the source's 文号 kept as issued.
    assert f"制定医共体{year}年重点工作任务清单" in ledger.items.get(key="1.1").text
    dated = ledger.items.filter(due_date__isnull=False)
    assert dated.count() == 36 and {d.year for d in dated.values_list("due_date", flat=True)} == {year}
    tongren = Ledger.objects.get(title=SEED_004.format(year=year))
    assert tongren.doc_number == "同政办〔2021〕14号"
    assert f"全面落实{year - 1}年医疗卫生综合监管国家督察反馈问题整改" in tongren.items.get(key="43").text
    # Seed 001 is the past year's ledger.
    assert Ledger.objects.get(title=SEED_001).year == year - 1


@pytest.fixture
def demo_on(db):
    """Load the ledgers as on a given day (Asia/Shanghai, 09:00)."""
    def load(day: str):
        moment = datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        with time_machine.travel(moment, tick=False), translation.override("en"):
            call_command("load_demo", "--quiet", "--without-filings", stdout=StringIO())
        return moment.year
    return load


def lead_statuses(**filters) -> Counter:
    return Counter(Assignment.objects.filter(role="lead", is_active=True, **filters).values_list("status", flat=True))


def test_the_dashboard_mix_is_believable_late_in_the_year(demo_on):
    """In December: most on track, a few overdue (this year's, not years late), some done; nothing
    of last year's ledger is still overdue."""
    year = demo_on("2026-12-06")
    statuses = lead_statuses(item__ledger__year=year)
    total = sum(statuses.values())
    assert statuses["on_track"] + statuses["continuous"] + statuses["due_soon"] > total / 2
    assert 0 < statuses["done"] < total / 2
    assert 0 < statuses["overdue"] <= total / 10
    overdue = Assignment.objects.filter(role="lead", status="overdue")
    assert {d.year for d in overdue.values_list("due_date", flat=True)} == {year}
    yellow = Assignment.objects.filter(role="lead", light="yellow", item__ledger__year=year).count()
    assert 0 < yellow <= total / 4
    assert lead_statuses(item__ledger__year=year - 1)["overdue"] == 0
    assert SupervisionOrder.objects.filter(county__code="445322").exists()


def test_early_in_the_year_the_red_is_last_years_leftovers(demo_on):
    """In February nothing of this year is late yet; a few of last year's tasks are, by weeks."""
    year = demo_on("2027-02-10")
    statuses = lead_statuses(item__ledger__year=year)
    assert statuses["overdue"] == statuses["done"] == 0 and statuses["on_track"] > 0
    overdue = Assignment.objects.filter(role="lead", status="overdue")
    assert overdue.exists()
    assert all(d.year == year - 1 and (date(year, 2, 10) - d).days <= 200
               for d in overdue.values_list("due_date", flat=True))
