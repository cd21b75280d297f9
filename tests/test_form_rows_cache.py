"""The per-process cache of a form's rows on the grid save path (issue 16): served without a query
while the form's rows are unchanged, and never stale: a changed, added or removed row, a changed
data element, or rows changed through the form's many-to-many move the form's rows version."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from alliances.models import Institution
from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataElement, DataValue, FormElement, ReportForm
from indicators.services import filings as svc
from tests.conftest import client_for
from tests.test_filing_pages import VALUES, grid_post

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOV_3 = datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI)
KIND = Institution.Kind.TOWNSHIP_HEALTH_CENTRE


@pytest.fixture
def setup(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn, first_period="2026-01")}
    world.monthly = world.forms["MONTHLY_OPS"]
    world.ids = dict(DataElement.objects.filter(county=None).values_list("code", "pk"))
    return world


def fresh(form: ReportForm) -> ReportForm:
    return ReportForm.objects.get(pk=form.pk)


def codes(rows) -> list[str]:
    return [row.element.code for row in rows]


def test_rows_come_from_the_cache_while_the_form_is_unchanged(setup, django_assert_num_queries):
    form = fresh(setup.monthly)
    rows = svc.cached_form_rows(form, KIND)
    assert codes(rows) == codes(svc.form_rows(form, KIND))
    with django_assert_num_queries(0):
        assert svc.cached_form_rows(form, KIND) is rows
    other = svc.cached_form_rows(form, None)  # another filer kind: its own entry
    assert other is not rows


def test_a_changed_data_element_moves_the_version_of_its_forms(setup):
    form = fresh(setup.monthly)
    rows = svc.cached_form_rows(form, KIND)
    element = DataElement.objects.get(code="STAFF_ON_DUTY", county=None)
    element.value_type, element.name = DataElement.ValueType.DECIMAL, "在岗职工数（改）"
    element.save()
    form = fresh(form)
    assert form.rows_version > setup.monthly.rows_version
    again = svc.cached_form_rows(form, KIND)
    assert again is not rows
    changed = next(row.element for row in again if row.element.code == "STAFF_ON_DUTY")
    assert (changed.decimal_places, changed.name) == (4, "在岗职工数（改）")


def test_added_changed_and_removed_rows_move_the_version(setup):
    form = fresh(setup.monthly)
    versions = [form.rows_version]
    row = FormElement.objects.filter(form=form).order_by("order", "pk").first()
    row.required = not row.required
    row.save()
    versions.append(fresh(form).rows_version)
    row.delete()
    versions.append(fresh(form).rows_version)
    assert row.element.code not in codes(svc.cached_form_rows(fresh(form), KIND))
    FormElement.objects.create(form=form, element=row.element, order=0)
    versions.append(fresh(form).rows_version)
    assert codes(svc.cached_form_rows(fresh(form), KIND))[0] == row.element.code
    form.elements.remove(row.element)
    versions.append(fresh(form).rows_version)
    form.elements.add(row.element, through_defaults={"order": 0})
    versions.append(fresh(form).rows_version)
    row.element.forms.remove(form)
    versions.append(fresh(form).rows_version)
    row.element.forms.add(form, through_defaults={"order": 0})
    versions.append(fresh(form).rows_version)
    row.element.forms.clear()
    versions.append(fresh(form).rows_version)
    form.elements.add(row.element, through_defaults={"order": 0})
    form.elements.clear()
    versions.append(fresh(form).rows_version)
    assert versions == sorted(set(versions)), versions
    assert svc.cached_form_rows(fresh(form), KIND) == []


@time_machine.travel(NOV_3, tick=False)
def test_the_grid_save_sees_a_row_changed_by_another_request(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, Period.parse("2026-10"), user=w.filer)
    client = client_for(w.filer)
    url = reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    assert client.post(url, grid_post(w, filing)).status_code == 302
    filing.refresh_from_db()
    # Whole numbers only: 90.5 is refused; once the element takes decimals, it is saved.
    assert client.post(url, grid_post(w, filing, STAFF_ON_DUTY="90.5")).status_code == 200
    element = DataElement.objects.get(pk=w.ids["STAFF_ON_DUTY"])
    element.value_type = DataElement.ValueType.DECIMAL
    element.save()
    assert client.post(url, grid_post(w, filing, STAFF_ON_DUTY="90.5")).status_code == 302
    assert str(DataValue.objects.get(filing=filing, element=element).value.normalize()) == "90.5"
    # A row taken off the form is no longer read from the post.
    FormElement.objects.filter(form=w.monthly, element_id=w.ids["GPS"]).get().delete()
    filing.refresh_from_db()
    assert client.post(url, grid_post(w, filing, GPS=9)).status_code == 302
    assert DataValue.objects.get(filing=filing, element_id=w.ids["GPS"]).value == VALUES["GPS"]


@time_machine.travel(NOV_3, tick=False)
def test_a_draft_save_costs_a_fixed_number_of_queries(setup, django_assert_num_queries):
    """Session, user, savepoint (the request's transaction), grants, the filing (only the columns a
    save reads: no deferred column loaded afterwards), version bump, values, their update, audits,
    event, release. The form's rows come from the cache after the first save."""
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, Period.parse("2026-10"), user=w.filer)
    client = client_for(w.filer)
    url = reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    assert client.post(url, grid_post(w, filing)).status_code == 302
    filing.refresh_from_db()
    with django_assert_num_queries(11):
        assert client.post(url, grid_post(w, filing, OP_VISITS=8001)).status_code == 302
    filing.refresh_from_db()
    # A refused save (someone else was quicker) shows the page with the filing as it is now.
    page = client.post(url, grid_post(w, filing, version=filing.version - 1, OP_VISITS=8002), follow=True)
    assert page.status_code == 200 and "其他人已保存了修改" in page.content.decode()
    assert page.context["filing"].version == filing.version
