"""The filing pipeline: drafts, audit of every change, conflicts, validation on submit, return with a
reason, approval, lock and unlock."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataElement, DataValue, Filing, FilingEvent, ValueAudit
from indicators.services import filings as svc

OCTOBER = Period.parse("2026-10")


@pytest.fixture
def setup(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn)}
    world.ids = dict(DataElement.objects.filter(county=None).values_list("code", "pk"))
    return world


def full_values(w, **overrides) -> dict[int, Decimal]:
    """Every row a township centre fills on the monthly form, consistent with the rules."""
    values = dict(OP_VISITS=8000, DISCHARGES=150, DISCHARGE_BED_DAYS=900, OPEN_BED_DAYS=1800,
                  OCCUPIED_BED_DAYS=1200, REHAB_PATIENTS=40, TOTAL_REVENUE=2_000_000, BUSINESS_REVENUE=1_500_000,
                  MED_REVENUE=1_400_000, DRUG_REVENUE=500_000, CONSUMABLE_REVENUE=100_000, EXAM_REVENUE=90_000,
                  LAB_REVENUE=80_000, FISCAL_REVENUE=500_000, INSURANCE_REVENUE=700_000,
                  BUSINESS_EXPENSE=1_400_000, PERSONNEL_EXPENSE=700_000, SALARY_TOTAL=600_000, STAFF_ON_DUTY=90,
                  GPS=6, REFERRALS_UP=30)
    values.update(overrides)
    return {w.ids[code]: None if v is None else Decimal(str(v)) for code, v in values.items()}


@time_machine.travel(date(2026, 11, 3))
def test_save_audits_each_change_and_only_changes(setup, django_assert_num_queries):
    w = setup
    filing = svc.open_filing(w.forms["MONTHLY_OPS"], w.centre, OCTOBER, user=w.filer)
    assert filing.status == Filing.Status.DRAFT and filing.due_date == date(2026, 11, 5)
    values = full_values(w)
    # Elements, version bump, existing values, insert values, insert audits, event (no savepoint).
    with django_assert_num_queries(6):
        result = svc.save_values(filing, values, user=w.filer, expected_version=1)
    assert result.created == 21
    assert ValueAudit.objects.filter(filing=filing, created=True).count() == 21
    svc.save_values(filing, full_values(w, OP_VISITS=8100, GPS=None), user=w.filer, expected_version=2,
                    reason="更正")
    changes = ValueAudit.objects.filter(filing=filing, created=False).order_by("element__code")
    assert [(a.element.code, a.old_value, a.new_value, a.user, a.reason) for a in changes] == [
        ("GPS", Decimal(6), None, w.filer, "更正"),
        ("OP_VISITS", Decimal(8000), Decimal(8100), w.filer, "更正"),
    ]
    # Saving the same values again writes nothing and audits nothing.
    before = ValueAudit.objects.count()
    svc.save_values(filing, full_values(w, OP_VISITS=8100, GPS=None), user=w.filer, expected_version=3)
    assert ValueAudit.objects.count() == before


@time_machine.travel(date(2026, 11, 3))
def test_saving_sixty_values_costs_the_same_as_saving_two(setup, django_assert_num_queries):
    w = setup
    filing = svc.open_filing(w.forms["MONTHLY_OPS"], w.centre, OCTOBER)
    svc.save_values(filing, full_values(w), user=w.filer, expected_version=1)
    with django_assert_num_queries(6):  # the bulk update instead of the insert
        svc.save_values(filing, full_values(w, OP_VISITS=1, GPS=2), user=w.filer, expected_version=2)
    with django_assert_num_queries(6):
        svc.save_values(filing, {pk: v + 1 for pk, v in full_values(w).items()}, user=w.filer,
                        expected_version=3)


@time_machine.travel(date(2026, 11, 3))
def test_a_second_editor_gets_a_conflict_not_an_overwrite(setup):
    w = setup
    filing = svc.open_filing(w.forms["MONTHLY_OPS"], w.centre, OCTOBER)
    svc.save_values(filing, full_values(w), user=w.filer, expected_version=1)
    stale = Filing.objects.get(pk=filing.pk)
    svc.save_values(filing, full_values(w, OP_VISITS=9000), user=w.filer, expected_version=2)
    with pytest.raises(svc.FilingConflict) as caught:
        svc.save_values(stale, full_values(w, OP_VISITS=7000), user=w.bureau, expected_version=2)
    assert "其他人" in str(caught.value.messages[0])
    assert DataValue.objects.get(filing=filing, element__code="OP_VISITS").value == 9000


@time_machine.travel(date(2026, 11, 3))
def test_submit_blocks_on_errors_and_needs_comments_for_warnings(setup):
    w = setup
    filing = svc.open_filing(w.forms["MONTHLY_OPS"], w.centre, OCTOBER)
    svc.save_values(filing, full_values(w, GPS=None, MED_REVENUE=10), user=w.filer, expected_version=1)
    with pytest.raises(ValidationError) as caught:
        svc.submit(filing, user=w.filer, expected_version=2)
    text = " ".join(caught.value.messages)
    assert "全科医生数" in text  # required and empty
    assert "药品、卫生材料、检查、化验收入之和不能大于医疗收入" in text
    svc.save_values(filing, full_values(w, OCCUPIED_BED_DAYS=2000), user=w.filer, expected_version=2)
    with pytest.raises(ValidationError) as caught:
        svc.submit(filing, user=w.filer, expected_version=3)
    assert caught.value.error_list[0].code == "comment"
    warnings = svc.submit(filing, user=w.filer, expected_version=3, comments={"R_BED_DAYS": "冬季加床"})
    filing.refresh_from_db()
    assert [f.code for f in warnings] == ["R_BED_DAYS"]
    assert filing.status == Filing.Status.SUBMITTED and filing.warning_comments == {"R_BED_DAYS": "冬季加床"}
    assert DataValue.objects.filter(filing=filing, counted=False).count() == 0


@time_machine.travel(date(2026, 11, 3))
def test_return_needs_a_reason_the_filer_sees_then_approve_and_lock(setup):
    w = setup
    filing = svc.open_filing(w.forms["MONTHLY_OPS"], w.centre, OCTOBER)
    svc.save_values(filing, full_values(w), user=w.filer, expected_version=1)
    svc.submit(filing, user=w.filer, expected_version=2)
    with pytest.raises(ValidationError):
        svc.return_filing(filing, user=w.bureau, reason="  ", expected_version=3)
    svc.return_filing(filing, user=w.bureau, reason="门急诊人次偏高，请核实", expected_version=3)
    filing.refresh_from_db()
    assert filing.status == Filing.Status.RETURNED and filing.return_reason == "门急诊人次偏高，请核实"
    assert not DataValue.objects.filter(filing=filing, counted=True).exists()
    assert svc.may_edit_on(filing)
    svc.save_values(filing, full_values(w, OP_VISITS=7000), user=w.filer, expected_version=4)
    svc.submit(filing, user=w.filer, expected_version=5)
    svc.approve(filing, user=w.bureau, expected_version=6)
    filing.refresh_from_db()
    assert filing.status == Filing.Status.APPROVED and filing.return_reason == ""
    with pytest.raises(ValidationError):
        svc.save_values(filing, full_values(w), user=w.filer, expected_version=7)
    assert svc.lock_due(date(2026, 11, 20)) == 0  # the lock day is the 20th
    assert svc.lock_due(date(2026, 11, 21)) == 1
    filing.refresh_from_db()
    assert filing.status == Filing.Status.LOCKED
    with pytest.raises(ValidationError):
        svc.unlock(filing, user=w.bureau, reason="", expected_version=filing.version)
    svc.unlock(filing, user=w.bureau, reason="医保对账后更正", expected_version=filing.version)
    filing.refresh_from_db()
    assert filing.status == Filing.Status.RETURNED and filing.reopened_until == date(2026, 11, 10)
    actions = list(FilingEvent.objects.filter(filing=filing).values_list("action", flat=True))
    assert actions == ["save", "submit", "return", "save", "submit", "approve", "lock", "unlock"]


def test_after_the_lock_day_a_draft_cannot_be_changed(setup):
    w = setup
    with time_machine.travel(date(2026, 11, 3)):
        filing = svc.open_filing(w.forms["MONTHLY_OPS"], w.centre, OCTOBER)
    with time_machine.travel(date(2026, 11, 21)):
        with pytest.raises(ValidationError) as caught:
            svc.save_values(filing, full_values(w), user=w.filer, expected_version=1)
    assert "2026-11-20" in caught.value.messages[0]


def test_a_form_is_filed_for_its_own_period_kind(setup):
    with pytest.raises(ValidationError):
        svc.open_filing(setup.forms["MONTHLY_OPS"], setup.centre, Period.parse("2026Q3"))
    with pytest.raises(ValidationError):
        svc.open_filing(setup.forms["MONTHLY_OPS"], setup.other_centre, OCTOBER)


def test_the_nightly_job_locks_approved_filings_once(setup):
    from indicators.jobs import lock_filings

    w = setup
    with time_machine.travel(date(2026, 11, 3)):
        filing = svc.open_filing(w.forms["MONTHLY_OPS"], w.centre, OCTOBER)
        svc.save_values(filing, full_values(w), user=w.filer, expected_version=1)
        svc.submit(filing, user=w.filer, expected_version=2)
        svc.approve(filing, user=w.bureau, expected_version=3)
        assert lock_filings.apply().get() == {"locked": 0}
    with time_machine.travel(datetime(2026, 11, 21, 0, 10, tzinfo=ZoneInfo("Asia/Shanghai"))):
        assert lock_filings.apply().get() == {"locked": 1}
        assert lock_filings.apply().get() == {"locked": 0}
