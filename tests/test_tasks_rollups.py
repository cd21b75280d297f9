"""The task roll-ups of cities and provinces: after every kind of write they equal a recount of
the assignments and reports; the province's dashboard and ledger list read them and show the same
figures as the live computation; they follow the day; the rebuild command and the nightly check
put right what a write past the services left wrong."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from tasks import selectors
from tasks.deadlines import DeadlineKind
from tasks.imports.applying import apply_plan
from tasks.jobs import verify_rollups
from tasks.models import Assignment, CountyMonthRollup, LedgerRollup, ProgressReport, UnitRollup
from tasks.models.rollups import MONTH_COUNTS, UNIT_COUNTS
from tasks.rollup_reads import dashboard_figures, rollup_counties
from tasks.services.ledgers import item_save, item_set_deadline, ledger_create
from tasks.services.progress import progress_report_review, progress_report_submit
from tasks.services.rollups import recount_ledgers, recount_months, recount_units
from tasks.services.status import assignments_refresh_due
from tasks.status import local_date
from tests.conftest import client_for
from tests.test_tasks_import import SEED_000_LIKE, SEED_000_MERGES, plan_of, workbook

SH = ZoneInfo("Asia/Shanghai")
PDF = b"%PDF-1.4 evidence"


def stored(county_ids) -> tuple[dict, dict, dict]:
    units = {(r.county_id, r.ledger_id, r.role, r.department_id, r.institution_id, r.alliance_id):
             {n: getattr(r, n) for n in UNIT_COUNTS} for r in UnitRollup.objects.filter(county_id__in=county_ids)}
    months = {(r.county_id, r.month): {n: getattr(r, n) for n in MONTH_COUNTS}
              for r in CountyMonthRollup.objects.filter(county_id__in=county_ids)}
    ledgers = {r.ledger_id: r.items for r in LedgerRollup.objects.filter(county_id__in=county_ids)}
    return units, months, ledgers


def assert_equal_to_recount(w, now: datetime) -> None:
    today = local_date(now)
    ids = [w.yn.pk, w.wy.pk]
    units, months, _ledgers = stored(ids)
    assert units == recount_units(ids, today)
    assert months == {k: v for k, v in recount_months(ids, today).items() if k[0] in {m[0] for m in months}}
    assert set(CountyMonthRollup.objects.filter(county=w.yn).values_list("as_of", flat=True)) == {today}
    assert {r.ledger_id: (r.county_id, r.items) for r in LedgerRollup.objects.all()} == recount_ledgers(ids)


def live(user, today: date) -> dict:
    """The dashboard's figures for ``user`` counted from the assignments, as a county's page does."""
    qs = selectors.visible_assignments(user)
    lead = qs.filter(role=Assignment.Role.LEAD)
    reports = ProgressReport.objects.filter(county_id__in=rollup_counties(user))
    by_county = {r["county_id"]: r for r in qs.values("county_id").annotate(**selectors.count_fields())}
    return {
        "counts": selectors.status_counts(qs),
        "by_county": {pk: {k: row[k] for k in selectors.count_fields()} for pk, row in by_county.items()},
        "by_unit": selectors.counts_by_unit(qs),
        "by_alliance": selectors.counts_by_alliance(qs, today),
        "aging": selectors.overdue_aging(lead, today),
        "trend": selectors.monthly_trend(lead, today, reports=reports),
        "awaiting": ProgressReport.objects.filter(state="submitted", assignment__in=qs.values("pk")).count(),
    }


def assert_dashboard_as_live(user, today: date) -> None:
    rolled = dashboard_figures(rollup_counties(user), today)
    counted = live(user, today)
    assert rolled["counts"] == counted["counts"]
    assert {row["county"].pk: {k: row[k] for k in selectors.count_fields()} for row in rolled["by_county"]} == \
        counted["by_county"]
    keys = ("kind", "pk", "name", *selectors.count_fields())
    assert len(counted["by_unit"]) <= 20  # else the worst 20 may differ among ties
    assert sorted(tuple(r[k] for k in keys) for r in rolled["by_unit"]) == \
        sorted(tuple(r[k] for k in keys) for r in counted["by_unit"])
    assert [{k: r[k] for k in ("name", *selectors.count_fields())} for r in rolled["by_alliance"]] == \
        [{k: r[k] for k in ("name", *selectors.count_fields())} for r in counted["by_alliance"]]
    assert rolled["aging"] == counted["aging"]
    assert [(t["label"], t["overdue"], t["done"], t["reports"]) for t in rolled["trend"]] == \
        [(t["label"], t["overdue"], t["done"], t["reports"]) for t in counted["trend"]]
    assert rolled["awaiting"] == counted["awaiting"]


def pdf():
    return SimpleUploadedFile("佐证材料.pdf", PDF)


def test_the_rollups_equal_a_recount_after_every_kind_of_write(ledger_world):
    w = ledger_world
    now = w.now
    with time_machine.travel(now, tick=False):
        # Made by item_save in the fixture.
        assert UnitRollup.objects.filter(county=w.yn).exists()
        assert_equal_to_recount(w, now)
        assert_dashboard_as_live(w.province, local_date(now))

        # A report, then its return, then a completion report accepted.
        report = progress_report_submit(assignment=w.assignment_hospital, user=w.filer_hospital, text="进展",
                                        percent=40, marks_complete=False, now=now)
        assert_equal_to_recount(w, now)
        assert UnitRollup.objects.get(institution=w.hospital).awaiting == 1
        progress_report_review(report=report, user=w.bureau, accept=False, reason="材料不全", now=now)
        assert_equal_to_recount(w, now)
        done = progress_report_submit(assignment=w.assignment_a, user=w.alliance_filer, text="完成", percent=100,
                                      marks_complete=True, files=[pdf()], now=now)
        progress_report_review(report=done, user=w.bureau, accept=True, now=now)
        assert_equal_to_recount(w, now)
        assert UnitRollup.objects.get(alliance=w.alliance_a, role="lead").done == 1

        # A deadline set by a person makes an item overdue.
        item_set_deadline(item=w.item_hospital, user=w.bureau, kind=DeadlineKind.FIXED, due_date=date(2026, 5, 10),
                          now=now)
        assert_equal_to_recount(w, now)
        assert UnitRollup.objects.get(institution=w.hospital).overdue == 1

        # Units changed: alliance B withdrawn (it has no report: deleted), 县财政局 becomes responsible.
        item_save(ledger=w.ledger, user=w.bureau, number="1.1", text=w.item_fanout.text,
                  lead_units_text="第一医共体、县财政局", deadline_text="6月底", item=w.item_fanout, now=now)
        assert not UnitRollup.objects.filter(alliance=w.alliance_b).exists()
        assert_equal_to_recount(w, now)
        # A unit withdrawn and nothing else changed.
        item_save(ledger=w.ledger, user=w.bureau, number="1.1", text=w.item_fanout.text,
                  lead_units_text="第一医共体", deadline_text="6月底", item=w.item_fanout, now=now)
        assert not UnitRollup.objects.filter(department=w.finance, ledger=w.ledger).exists()
        assert_equal_to_recount(w, now)

        # A new item, due in early July.
        item_save(ledger=w.ledger, user=w.bureau, number="3.1", text="开展专项检查", lead_units_text="县人民医院",
                  deadline_text="7月5日前", now=now)
        assert_equal_to_recount(w, now)

        # An import of a whole ledger.
        apply_plan(plan_of(workbook(SEED_000_LIKE, merges=SEED_000_MERGES), w), user=w.bureau, now=now)
        assert_equal_to_recount(w, now)
        assert_dashboard_as_live(w.province, local_date(now))

    # Time passes: statuses fall due; the refresh recomputes the county.
    later = now + timedelta(days=40)
    with time_machine.travel(later, tick=False):
        assert assignments_refresh_due(now=later, county_ids=[w.yn.pk]) > 0
        assert_equal_to_recount(w, later)
        assert_dashboard_as_live(w.province, local_date(later))


def test_province_and_city_pages_read_the_rollups_and_show_the_live_figures(ledger_world):
    w = ledger_world
    now = datetime(2026, 7, 15, 9, tzinfo=SH)
    with time_machine.travel(now, tick=False):
        progress_report_submit(assignment=w.assignment_b, user=w.bureau, text="进展", percent=30,
                               marks_complete=False, now=now)
        assert rollup_counties(w.province) == [w.yn.pk] and rollup_counties(w.city) == [w.yn.pk]
        assert rollup_counties(w.bureau) is None and rollup_counties(w.filer_hospital) is None
        for user in (w.province, w.city):
            response = client_for(user).get(reverse("tasks:dashboard"))
            assert response.status_code == 200
            counted = live(user, local_date(now))
            context = response.context
            assert context["counts"] == counted["counts"] and context["awaiting"] == counted["awaiting"] == 1
            assert [t["overdue"] for t in context["trend"]] == [t["overdue"] for t in counted["trend"]]
            assert context["aging"] == counted["aging"]
            lists = client_for(user).get(reverse("tasks:ledger_list"))
            expected = selectors.ledger_progress(selectors.visible_assignments(user), [w.ledger.pk])[w.ledger.pk]
            shown = {ledger.pk: ledger.progress for ledger in lists.context["ledgers"]}[w.ledger.pk]
            assert {k: shown[k] for k in selectors.count_fields()} == {k: expected[k] for k in selectors.count_fields()}
            assert {ledger.pk: ledger.item_count for ledger in lists.context["ledgers"]} == {w.ledger.pk: 3}
        # Tampered roll-ups show on the province's page (it reads them), not on the county's.
        UnitRollup.objects.filter(county=w.yn).update(red=99)
        province = client_for(w.province).get(reverse("tasks:dashboard")).context["counts"]
        county = client_for(w.bureau).get(reverse("tasks:dashboard")).context["counts"]
        assert province.red > 99 and county.red < 99


def test_a_new_day_makes_the_rollups_stale_and_the_page_recomputes_them(ledger_world):
    w = ledger_world
    with time_machine.travel(w.now, tick=False):
        client_for(w.province).get(reverse("tasks:dashboard"))
    # 1.1 is due 6月底: overdue by 1–7 days on 3 July, nothing written since 1 June.
    later = datetime(2026, 7, 3, 9, tzinfo=SH)
    with time_machine.travel(later, tick=False):
        response = client_for(w.province).get(reverse("tasks:dashboard"))
        assert set(CountyMonthRollup.objects.filter(county=w.yn).values_list("as_of", flat=True)) == {date(2026, 7, 3)}
        assert response.context["aging"][0]["count"] == 2
        assert_dashboard_as_live(w.province, date(2026, 7, 3))
    # Nine days on, no status changes (overdue stays overdue) but the days late do.
    later = datetime(2026, 7, 12, 9, tzinfo=SH)
    with time_machine.travel(later, tick=False):
        assert assignments_refresh_due(now=later) == 0
        response = client_for(w.province).get(reverse("tasks:dashboard"))
        assert [b["count"] for b in response.context["aging"]] == [0, 2, 0, 0]
        assert_dashboard_as_live(w.province, date(2026, 7, 12))


def test_rebuild_command_makes_the_rollups_and_is_idempotent(ledger_world, capsys):
    w = ledger_world
    with time_machine.travel(w.now, tick=False):
        expected = stored([w.yn.pk])
        UnitRollup.objects.all().delete()
        CountyMonthRollup.objects.all().delete()
        LedgerRollup.objects.all().delete()
        call_command("rebuild_task_rollups")
        assert stored([w.yn.pk]) == expected
        call_command("rebuild_task_rollups", w.yn.code)
        assert stored([w.yn.pk]) == expected
        call_command("rebuild_task_rollups", "--verify")
        assert "0 differed" in capsys.readouterr().out
        assert CountyMonthRollup.objects.filter(county=w.wy).count() == 12  # a county without tasks: zeros


def test_the_nightly_check_repairs_and_logs_a_tampered_rollup(ledger_world, caplog):
    w = ledger_world
    with time_machine.travel(w.now, tick=False):
        expected = stored([w.yn.pk])
        row = UnitRollup.objects.get(alliance=w.alliance_a, role="lead")
        row.red += 5
        row.save()
        CountyMonthRollup.objects.filter(county=w.yn, month="2026-06").update(reports=7)
        LedgerRollup.objects.filter(ledger=w.ledger).update(items=1)
        with caplog.at_level(logging.WARNING, logger="tasks"):
            result = verify_rollups()
        assert result["repaired"] == [w.yn.pk]
        assert stored([w.yn.pk]) == expected
        assert any("differed from the recount" in r.getMessage() and "red stored" in r.getMessage()
                   for r in caplog.records)
        assert verify_rollups()["repaired"] == []


@pytest.mark.parametrize("who", ["province", "city"])
def test_the_province_dashboard_reads_a_constant_number_of_queries(ledger_world, who):
    from tests.test_tasks_pages import grow, queries

    w = ledger_world
    client = client_for(getattr(w, who))
    with time_machine.travel(datetime(2026, 7, 15, 9, tzinfo=SH), tick=False):
        grow(w, 2)
        for name in ("tasks:dashboard", "tasks:ledger_list"):
            queries(client, reverse(name))
        small = [queries(client, reverse(name)) for name in ("tasks:dashboard", "tasks:ledger_list")]
        grow(w, 8, start=40)
        for name in ("tasks:dashboard", "tasks:ledger_list"):
            queries(client, reverse(name))
        large = [queries(client, reverse(name)) for name in ("tasks:dashboard", "tasks:ledger_list")]
    assert small == large


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_in_one_county_leave_the_rollups_equal_to_a_recount(ledger_world, monkeypatch):
    """Each writer recomputes its county under the county's lock, so the last to commit counts the
    others' rows too (PostgreSQL: without the lock a writer would miss the other's uncommitted report,
    or collide on the month rows)."""
    import threading
    import time

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    w = ledger_world
    now = datetime(2026, 6, 10, 9, tzinfo=SH)
    # One assignment in each of four ledgers of the county (a report locks its assignment's item and
    # ledger rows, which would put writers of one ledger in line by themselves).
    assignments = [w.assignment_a]
    for n in range(3):
        ledger = ledger_create(county=w.yn, user=w.bureau, title=f"郁南县专项任务{n}", year=2026)
        item = item_save(ledger=ledger, user=w.bureau, number="1", text="专项任务", lead_units_text="县人民医院",
                         deadline_text="12月底", now=now)
        assignments.append(item.assignments.get())
    barrier = threading.Barrier(len(assignments))
    errors: list[BaseException] = []
    # A slow recount, so that the writers' transactions overlap.
    from tasks.services import rollups

    real_recount = rollups.recount_units

    def slow_recount(*args, **kwargs):
        time.sleep(0.3)
        return real_recount(*args, **kwargs)

    monkeypatch.setattr(rollups, "recount_units", slow_recount)

    def submit(assignment):
        try:
            barrier.wait()
            progress_report_submit(assignment=assignment, user=w.bureau, text="并发进展", percent=30,
                                   marks_complete=False, now=now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(a,)) for a in assignments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ProgressReport.objects.filter(text="并发进展").count() == 4
    assert_equal_to_recount(w, now)
    assert sum(UnitRollup.objects.filter(county=w.yn).values_list("awaiting", flat=True)) == 4


def test_the_filter_bars_quick_select_writes_the_options_django_writes(ledger_world):
    from django import forms

    from alliances.models import Alliance
    from core.widgets import QuickSelect

    class Plain(forms.Form):
        alliance = forms.ModelChoiceField(queryset=Alliance.objects.order_by("pk"), required=False)

    class Quick(forms.Form):
        alliance = forms.ModelChoiceField(queryset=Alliance.objects.order_by("pk"), required=False,
                                          widget=QuickSelect)

    Alliance.objects.filter(pk=ledger_world.alliance_b.pk).update(name='第三医共体 <"&>')
    for data in ({}, {"alliance": str(ledger_world.alliance_b.pk)}):
        attrs = {"class": "form-select form-select-sm"}
        plain = Plain(data or None)["alliance"].as_widget(attrs=attrs)
        quick = Quick(data or None)["alliance"].as_widget(attrs=attrs)
        assert quick == re.sub(r">\s+<", "><", plain.strip())
