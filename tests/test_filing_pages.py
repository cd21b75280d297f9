"""The filing pages: 我的填报 with deadlines and statuses, the grid (draft, submit, errors by row,
comments on warnings, conflict), review with a reason, unlock, the history of a cell, the review
queue and completeness; permissions and query counts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Role
from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataElement, DataValue, Filing, FilingEvent, ValueAudit
from indicators.services import filings as svc
from tests.conftest import client_for
from tests.factories import InstitutionFactory, MembershipFactory, UserFactory, grant

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCTOBER = Period.parse("2026-10")
NOV_3 = datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI)
VALUES = dict(OP_VISITS=8000, DISCHARGES=150, DISCHARGE_BED_DAYS=900, OPEN_BED_DAYS=1800, OCCUPIED_BED_DAYS=1200,
              REHAB_PATIENTS=40, TOTAL_REVENUE=2_000_000, BUSINESS_REVENUE=1_500_000, MED_REVENUE=1_400_000,
              DRUG_REVENUE=500_000, CONSUMABLE_REVENUE=100_000, EXAM_REVENUE=90_000, LAB_REVENUE=80_000,
              FISCAL_REVENUE=500_000, INSURANCE_REVENUE=700_000, BUSINESS_EXPENSE=1_400_000,
              PERSONNEL_EXPENSE=700_000, SALARY_TOTAL=600_000, STAFF_ON_DUTY=90, GPS=6,
              REFERRALS_UP=30)


@pytest.fixture
def setup(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn, first_period="2026-01")}
    world.monthly = world.forms["MONTHLY_OPS"]
    world.ids = dict(DataElement.objects.filter(county=None).values_list("code", "pk"))
    return world


def count_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def grid_post(w, filing, action="save", version=None, **overrides):
    values = {**VALUES, **overrides}
    data = {f"v_{w.ids[code]}": "" if v is None else str(v) for code, v in values.items()}
    data.update(action=action, version=str(filing.version if version is None else version))
    return data


@time_machine.travel(NOV_3, tick=False)
def test_my_filings_lists_every_form_and_period_due_with_status_and_days(setup):
    w = setup
    september = svc.open_filing(w.monthly, w.centre, Period.parse("2026-09"), user=w.filer)
    september.status, september.return_reason = Filing.Status.RETURNED, "门诊人次与上月差异过大，请核实"
    september.save()
    response = client_for(w.filer).get(reverse("indicators:my_filings"))
    assert response.status_code == 200
    rows = response.context["rows"]
    monthly = [r for r in rows if r.form == w.monthly]
    # Six months back from October, for the township centre only.
    assert [str(r.period) for r in sorted(monthly, key=lambda r: r.period.start)] == [
        "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    assert {r.institution for r in rows} == {w.centre}
    # The returned one first, with its reason; October not started, due 5 Nov: two days left.
    assert rows[0].status == "returned"
    body = response.content.decode()
    assert "门诊人次与上月差异过大，请核实" in body
    october = next(r for r in monthly if r.period == OCTOBER)
    assert october.status == "not_started" and october.days_left == 2 and october.due_date == date(2026, 11, 5)
    august = next(r for r in monthly if str(r.period) == "2026-08")
    assert august.days_late == (date(2026, 11, 3) - date(2026, 9, 5)).days
    # The quarterly public-health form: 2026Q3 due 5 Oct.
    assert any(str(r.period) == "2026Q3" for r in rows)


@time_machine.travel(NOV_3, tick=False)
def test_my_filings_queries_do_not_grow_with_institutions(setup, django_assert_num_queries):
    w = setup
    client = client_for(w.alliance_admin)
    client.get(reverse("indicators:my_filings"))
    first = count_queries(client, reverse("indicators:my_filings"))
    for n in range(4):
        centre = InstitutionFactory(county=w.yn, name=f"新增{n}镇卫生院", kind="township_hc")
        MembershipFactory(institution=centre, alliance=w.alliance_a, valid_from=date(2020, 1, 1))
        svc.open_filing(w.monthly, centre, OCTOBER)
    with django_assert_num_queries(first):
        response = client.get(reverse("indicators:my_filings"))
    assert len({r.institution for r in response.context["page"].paginator.object_list}) == 7


@time_machine.travel(NOV_3, tick=False)
def test_the_filer_saves_a_draft_then_submits(setup):
    w = setup
    client = client_for(w.filer)
    response = client.post(reverse("indicators:filing_open"), {"form": w.monthly.pk, "institution": w.centre.pk,
                                                              "period": "2026-10"})
    filing = Filing.objects.get(form=w.monthly, institution=w.centre, period="2026-10")
    assert response.url == reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    url = response.url
    assert client.post(url, grid_post(w, filing, OP_VISITS="8,000")).status_code == 302
    filing.refresh_from_db()
    assert filing.status == Filing.Status.DRAFT and filing.version == 2
    assert DataValue.objects.get(filing=filing, element_id=w.ids["OP_VISITS"]).value == Decimal(8000)
    assert ValueAudit.objects.filter(filing=filing).count() == len(VALUES)
    page = client.get(url)
    assert page.context["editable"] and page.context["filled"] == len(VALUES)
    response = client.post(url, grid_post(w, filing, action="submit"))
    assert response.status_code == 302
    filing.refresh_from_db()
    assert filing.status == Filing.Status.SUBMITTED and filing.submitted_by == w.filer
    # Unchanged values were not audited again.
    assert ValueAudit.objects.filter(filing=filing).count() == len(VALUES)


@time_machine.travel(NOV_3, tick=False)
def test_bad_cells_are_named_by_row_and_nothing_is_saved(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, OCTOBER, user=w.filer)
    response = client_for(w.filer).post(
        reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk}),
        grid_post(w, filing, OP_VISITS="八千", DISCHARGES="-3", STAFF_ON_DUTY="90.5"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "第1行（门急诊人次（诊疗人次））：“八千”不是数字。" in body
    assert "不能为负数" in body
    assert "应为整数" in body
    assert not DataValue.objects.filter(filing=filing).exists()
    filing.refresh_from_db()
    assert filing.version == 1


@time_machine.travel(NOV_3, tick=False)
def test_submit_blocks_on_errors_and_needs_an_explanation_for_warnings(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, OCTOBER, user=w.filer)
    client = client_for(w.filer)
    url = reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    # More general practitioners than staff: an error that blocks; the figures are kept as a draft.
    response = client.post(url, grid_post(w, filing, action="submit", GPS=100), follow=True)
    filing.refresh_from_db()
    body = response.content.decode()
    assert filing.status == Filing.Status.DRAFT and "未提交" in body and "全科医生数不能大于在岗职工数" in body
    assert DataValue.objects.get(filing=filing, element_id=w.ids["GPS"]).value == 100
    # Occupied bed days above open bed days: a warning that needs an explanation.
    response = client.post(url, grid_post(w, filing, action="submit", OCCUPIED_BED_DAYS=2000), follow=True)
    filing.refresh_from_db()
    assert filing.status == Filing.Status.DRAFT
    assert "实际占用总床日数大于实际开放总床日数" in response.content.decode()
    data = grid_post(w, filing, action="submit", OCCUPIED_BED_DAYS=2000)
    data["c_R_BED_DAYS"] = "冬季呼吸道疾病高发，走廊加床"
    client.post(url, data)
    filing.refresh_from_db()
    assert filing.status == Filing.Status.SUBMITTED
    assert filing.warning_comments == {"R_BED_DAYS": "冬季呼吸道疾病高发，走廊加床"}


@time_machine.travel(NOV_3, tick=False)
def test_a_second_editor_gets_the_conflict_message(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, OCTOBER, user=w.filer)
    stale = filing.version
    client_for(w.alliance_admin).post(reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk}),
                                      grid_post(w, filing, OP_VISITS=7000))
    response = client_for(w.filer).post(reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk}),
                                        grid_post(w, filing, version=stale, OP_VISITS=9000), follow=True)
    assert "其他人已保存了修改" in response.content.decode()
    assert DataValue.objects.get(filing=filing, element_id=w.ids["OP_VISITS"]).value == Decimal(7000)


@time_machine.travel(NOV_3, tick=False)
def test_review_returns_with_a_reason_the_filer_sees_then_approves(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, OCTOBER, user=w.filer)
    svc.save_values(filing, {w.ids[c]: Decimal(v) for c, v in VALUES.items()}, user=w.filer,
                    expected_version=filing.version)
    svc.submit(filing, user=w.filer, expected_version=filing.version,
               comments={f.code: "说明" for f in svc.check_filing(filing)})
    reviewer = client_for(w.alliance_admin)
    queue = reviewer.get(reverse("indicators:review_queue"))
    assert [f.pk for f in queue.context["rows"]] == [filing.pk]
    review_url = reverse("indicators:filing_review", kwargs={"filing_pk": filing.pk})
    # A filer may not review; a return without a reason is refused.
    assert client_for(w.filer).post(review_url, {"action": "approve", "version": filing.version}).status_code == 403
    response = reviewer.post(review_url, {"action": "return", "reason": " ", "version": filing.version}, follow=True)
    assert "请填写退回原因" in response.content.decode()
    filing.refresh_from_db()
    assert filing.status == Filing.Status.SUBMITTED
    reviewer.post(review_url, {"action": "return", "reason": "出院人数与床日数不符，请核对", "version": filing.version})
    filing.refresh_from_db()
    assert filing.status == Filing.Status.RETURNED
    page = client_for(w.filer).get(reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk}))
    assert "出院人数与床日数不符，请核对" in page.content.decode() and page.context["editable"]
    mine = client_for(w.filer).get(reverse("indicators:my_filings"))
    assert "出院人数与床日数不符，请核对" in mine.content.decode()
    # Fixed and resubmitted; approved.
    client_for(w.filer).post(reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk}),
                             {**grid_post(w, filing, action="submit", DISCHARGES=151),
                              **{f"c_{f.code}": "说明" for f in svc.check_filing(filing)}})
    filing.refresh_from_db()
    assert filing.status == Filing.Status.SUBMITTED
    reviewer.post(review_url, {"action": "approve", "version": filing.version})
    filing.refresh_from_db()
    assert filing.status == Filing.Status.APPROVED
    assert list(filing.events.order_by("pk").values_list("action", flat=True))[-4:] == [
        FilingEvent.Action.RETURN, FilingEvent.Action.SAVE, FilingEvent.Action.SUBMIT, FilingEvent.Action.APPROVE]


@time_machine.travel(NOV_3, tick=False)
def test_only_the_bureau_unlocks_and_must_say_why(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, OCTOBER, user=w.filer)
    Filing.objects.filter(pk=filing.pk).update(status=Filing.Status.LOCKED)
    url = reverse("indicators:filing_unlock", kwargs={"filing_pk": filing.pk})
    assert client_for(w.alliance_admin).post(url, {"reason": "x", "version": 1}).status_code == 403
    client_for(w.bureau).post(url, {"reason": "", "version": 1})
    assert Filing.objects.get(pk=filing.pk).status == Filing.Status.LOCKED
    client_for(w.bureau).post(url, {"reason": "医保数据口径调整，需更正", "version": 1})
    filing.refresh_from_db()
    assert filing.status == Filing.Status.RETURNED and filing.reopened_until == date(2026, 11, 10)


@time_machine.travel(NOV_3, tick=False)
def test_each_cell_has_its_history(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, OCTOBER, user=w.filer)
    client = client_for(w.filer)
    url = reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    client.post(url, grid_post(w, filing, OP_VISITS=8000))
    filing.refresh_from_db()
    client.post(url, grid_post(w, filing, OP_VISITS=8100))
    history = client.get(reverse("indicators:filing_history", kwargs={"filing_pk": filing.pk}) + "?element=OP_VISITS")
    audits = list(history.context["audits"])
    assert [(a.old_value, a.new_value, a.user) for a in audits] == [
        (Decimal(8000), Decimal(8100), w.filer), (None, Decimal(8000), w.filer)]
    assert client.get(reverse("indicators:filing_history", kwargs={"filing_pk": filing.pk})
                      + "?element=NOPE").status_code == 404


@time_machine.travel(NOV_3, tick=False)
def test_who_may_file(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, OCTOBER)
    url = reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    other_filer = UserFactory(username="tcm_filer")
    grant(other_filer, Role.INSTITUTION_FILER, w.tcm)
    # A filer of another institution of the county does not see it; a viewer sees it read-only.
    assert client_for(other_filer).get(url).status_code == 404
    viewer = client_for(w.supervisor).get(url)
    assert viewer.status_code == 200 and not viewer.context["editable"]
    assert client_for(w.supervisor).post(url, grid_post(w, filing)).status_code == 403
    # The alliance office files for its member.
    assert client_for(w.alliance_admin).get(url).context["editable"]
    # Opening a period that has not ended is refused.
    response = client_for(w.filer).post(reverse("indicators:filing_open"), {
        "form": w.monthly.pk, "institution": w.centre.pk, "period": "2026-11"}, follow=True)
    assert "尚未结束" in response.content.decode()
    assert not Filing.objects.filter(period="2026-11").exists()


@time_machine.travel(NOV_3, tick=False)
def test_grid_queries_do_not_grow_with_history(setup, django_assert_num_queries):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, OCTOBER, user=w.filer)
    client = client_for(w.filer)
    url = reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    client.post(url, grid_post(w, filing, OP_VISITS=7990))
    filing.refresh_from_db()
    before = count_queries(client, url)
    for month in ("2026-09", "2025-10"):
        past = svc.open_filing(w.monthly, w.centre, Period.parse(month))
        svc.save_values(past, {w.ids[c]: Decimal(v) for c, v in VALUES.items()}, user=w.filer,
                        expected_version=past.version, check_edit=False)
    for _ in range(3):
        client.post(url, grid_post(w, filing, OP_VISITS=8000 + _))
        filing.refresh_from_db()
    with django_assert_num_queries(before):
        page = client.get(url)
    row = next(r for r in page.context["grid"] if r["element"].code == "OP_VISITS")
    assert row["previous"] == Decimal(8000) and row["last_year"] == Decimal(8000)


@time_machine.travel(datetime(2026, 11, 8, 9, 0, tzinfo=SHANGHAI), tick=False)
def test_completeness_counts_expected_filed_on_time_late_and_missing(setup, django_assert_num_queries):
    w = setup
    monthly = w.monthly
    # The hospital filed on the 4th (on time), 桂圩 on the 7th (late), 平台 has a draft, 通门 nothing.
    for inst, day, status in ((w.hospital, 4, "submitted"), (w.centre2, 7, "approved"), (w.centre, None, "draft")):
        filing = svc.open_filing(monthly, inst, OCTOBER)
        if day:
            moment = datetime(2026, 11, day, 10, tzinfo=SHANGHAI)
            Filing.objects.filter(pk=filing.pk).update(status=status, submitted_at=moment, first_submitted_at=moment)
    client = client_for(w.bureau)
    url = reverse("indicators:completeness") + f"?form={monthly.pk}&period=2026-10"
    client.get(url)
    before = count_queries(client, url)
    response = client.get(url)
    report = response.context["report"]
    total = report.total
    expected = {w.hospital, w.tcm, w.centre, w.centre2, w.centre_b}
    assert total.expected == len(expected) and total.filed == 2 and total.on_time == 1 and total.late == 1
    assert {inst for inst, _s in total.missing} == {w.tcm, w.centre, w.centre_b}
    by_alliance = {g.label: g for g in report.groups}
    assert by_alliance["第一医共体"].expected == 3 and by_alliance["第一医共体"].filed == 2
    assert [inst for inst, _s in by_alliance["第三医共体"].missing] == [w.tcm, w.centre_b]
    assert total.rate == Decimal("40.0")
    # More institutions, same queries.
    for n in range(3):
        centre = InstitutionFactory(county=w.yn, name=f"新增{n}镇卫生院", kind="township_hc")
        MembershipFactory(institution=centre, alliance=w.alliance_b, valid_from=date(2020, 1, 1))
        svc.open_filing(monthly, centre, OCTOBER)
    with django_assert_num_queries(before):
        response = client.get(url)
    assert response.context["report"].total.expected == 8
    # The alliance office sees its alliance only.
    mine = client_for(w.alliance_admin).get(url)
    assert [g.label for g in mine.context["report"].groups] == ["第一医共体"]
    # An institution filer does not follow completeness.
    assert client_for(w.filer).get(url).status_code == 403


def test_own_filing_read_by_key_is_always_in_the_scope(setup):
    """The grid reads a filer's own filing by its key (``permissions.files_as_own``) and skips the
    scoped query: that shortcut must never admit a filing the scoped read would refuse. Every user
    kind × every institution's filing (the clinic, the other county, an inactive centre)."""
    from alliances import scoping
    from indicators import permissions

    w = setup
    clinic_filer = UserFactory(username="clinic_filer")
    grant(clinic_filer, Role.INSTITUTION_FILER, w.clinic)
    other_filer = UserFactory(username="wy_filer")
    grant(other_filer, Role.INSTITUTION_FILER, w.other_centre)
    w.centre2.is_active = False
    w.centre2.save()
    gone_filer = UserFactory(username="gone_filer")
    grant(gone_filer, Role.INSTITUTION_FILER, w.centre2)
    institutions = [w.hospital, w.tcm, w.centre, w.centre2, w.centre_b, w.clinic, w.other_hospital, w.other_centre]
    wy_monthly = {f.code: f for f in install_forms(w.wy, first_period="2026-01")}["MONTHLY_OPS"]
    filings = [svc.open_filing(w.monthly if i.county_id == w.yn.pk else wy_monthly, i, OCTOBER)
               for i in institutions]
    users = [w.bureau_admin, w.bureau, w.supervisor, w.alliance_admin, w.filer, w.city, w.province, w.outsider,
             w.nobody, clinic_filer, other_filer, gone_filer]
    admitted = []
    for user in users:
        visible = set(scoping.queryset_for(user, Filing).values_list("pk", flat=True))
        for filing in filings:
            read = Filing.objects.select_related("institution").get(pk=filing.pk)
            user._portal_scope = None
            if permissions.files_as_own(user, read):
                admitted.append((user.username, read.institution.name))
                assert read.pk in visible, (user.username, read.institution.name)
    # The shortcut is taken where it should be (and only there): centre and its clinic for the
    # centre's filer, the clinic for its own filer, the other county's centre for its filer; never
    # for an inactive institution.
    assert sorted(admitted) == sorted([("yn_centre_filer", "平台镇卫生院"), ("yn_centre_filer", "平台镇大村卫生站"),
                                       ("clinic_filer", "平台镇大村卫生站"), ("wy_filer", "白沙镇分院")])
    # And through the page: the other county's filer gets the same 404 as for a missing filing.
    client = client_for(other_filer)
    assert client.get(reverse("indicators:filing_detail", kwargs={"filing_pk": filings[2].pk})).status_code == 404
    assert client.get(reverse("indicators:filing_detail", kwargs={"filing_pk": 10 ** 9})).status_code == 404
    assert client.get(reverse("indicators:filing_detail", kwargs={"filing_pk": filings[-1].pk})).status_code == 200
