"""上线准备: the county's go-live checklist turns green line by line as the bureau registers,
imports and loads; constant queries; the bureau's only."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from alliances.models import Institution
from indicators.catalog import install_catalog, install_forms
from tests.conftest import client_for
from tests.factories import InstitutionFactory, UserFactory, grant


def lines_of(client, county) -> dict:
    page = client.get(reverse("reports:go_live", kwargs={"region_pk": county.pk}))
    assert page.status_code == 200
    return {line.key: line for line in page.context["lines"]}


def test_the_checklist_turns_green_line_by_line(ledger_world):
    w = ledger_world
    client = client_for(w.bureau_admin)
    lines = lines_of(client, w.yn)
    assert list(lines) == ["institutions", "alliances", "filers", "forms", "recipients", "history", "first_table"]
    # No report form yet, so nobody needs a filer; no form, no history; the ledger of the fixture exists.
    assert not lines["forms"].done and not lines["history"].done and lines["first_table"].done
    assert lines["institutions"].done and lines["alliances"].done
    # An institution in no alliance is named.
    InstitutionFactory(county=w.yn, name="大方镇卫生院", kind=Institution.Kind.TOWNSHIP_HEALTH_CENTRE)
    lines = lines_of(client, w.yn)
    assert not lines["institutions"].done and "大方镇卫生院" in lines["institutions"].missing
    # Forms without a first live period are named; with one, the line is green.
    install_catalog()
    forms = install_forms(w.yn)
    lines = lines_of(client, w.yn)
    assert not lines["forms"].done and len(lines["forms"].missing) + lines["forms"].more == len(forms)
    for form in forms:
        form.first_period = {"month": "2026-01", "quarter": "2026Q1", "half_year": "2026H1",
                             "year": "2026"}[form.period_kind]
        form.save()
    lines = lines_of(client, w.yn)
    assert lines["forms"].done
    # Institutions without a filer are listed until someone files for them (第一医共体's office files
    # for its members, the village clinic with its centre).
    assert not lines["filers"].done and sorted(lines["filers"].missing) == sorted(["县中医院", "通门镇卫生院",
                                                                                   "大方镇卫生院"])
    for institution in (w.hospital, w.tcm, w.centre, w.centre2, w.centre_b):
        filer = UserFactory(username=f"filer_{institution.pk}")
        grant(filer, Role.INSTITUTION_FILER, institution)
    lines = lines_of(client, w.yn)
    assert "县中医院" not in lines["filers"].missing and "平台镇大村卫生站" not in lines["filers"].missing
    assert lines["filers"].missing == ["大方镇卫生院"]
    # The history line counts the periods of the year before going live per form.
    assert not lines["history"].done and "（0/12）" in " ".join(lines["history"].missing)
    # Each form lacking history links to its own 历史数据导入.
    name, url = lines["history"].links[0]
    assert name in lines["history"].missing and url.endswith("/history/")
    assert client.get(url).status_code == 200


def test_constant_queries_and_the_bureau_s_only(ledger_world):
    w = ledger_world
    install_catalog()
    install_forms(w.yn, first_period="2026-01")
    client = client_for(w.bureau_admin)
    url = reverse("reports:go_live", kwargs={"region_pk": w.yn.pk})
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for n in range(15):
        InstitutionFactory(county=w.yn, name=f"新增卫生院{n}", kind=Institution.Kind.TOWNSHIP_HEALTH_CENTRE)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    assert client_for(w.outsider).get(url).status_code == 404
    assert client_for(w.supervisor).get(url).status_code == 403
    assert client_for(w.filer_hospital).get(url).status_code == 403


def test_the_county_page_links_to_it(ledger_world):
    w = ledger_world
    page = client_for(w.bureau_admin).get(reverse("alliances:region_detail", kwargs={"region_pk": w.yn.pk}))
    assert reverse("reports:go_live", kwargs={"region_pk": w.yn.pk}) in page.content.decode()


def test_every_line_links_to_a_page_the_bureau_opens(ledger_world):
    # The recipients' line linked to the recipients form without a report kind: a 404.
    w = ledger_world
    install_catalog()
    install_forms(w.yn)
    client = client_for(w.bureau_admin)
    for key, line in lines_of(client, w.yn).items():
        assert line.url and client.get(line.url).status_code == 200, key


def test_the_form_page_names_the_first_live_period_as_the_checklist_does(ledger_world):
    from django.utils import translation

    from indicators.forms import ReportFormForm

    field = ReportFormForm(county=ledger_world.yn).fields["first_period"]
    with translation.override("zh-hans"):
        assert str(field.label) == "首个上线报告期" and "历史" in str(field.help_text)


def test_first_live_periods_of_every_form_on_one_page_all_or_nothing(ledger_world):
    from indicators.models import ReportForm

    w = ledger_world
    install_catalog()
    forms = install_forms(w.yn)
    monthly = next(f for f in forms if f.period_kind == "month")
    quarterly = next(f for f in forms if f.period_kind == "quarter")
    url = reverse("indicators:report_form_first_periods", kwargs={"region_pk": w.yn.pk})
    client = client_for(w.bureau_admin)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    # One form wrong: refused by its row, nothing saved.
    from datetime import date

    from core.periods import Period

    # Each form's first period as clerks write it (2026年1月, 2026年第一季度, 2026年上半年, 2026年).
    data = {f"first_{f.pk}": Period.containing_date(f.kind, date(2026, 1, 15)).label for f in forms}
    data[f"first_{quarterly.pk}"] = "2026-01"
    page = client.post(url, data)
    assert page.status_code == 400
    row = next(r for r in page.context["rows"] if r["form"] == quarterly)
    assert "2026-01" in row["error"] and not ReportForm.objects.exclude(first_period="").filter(county=w.yn).exists()
    # All right: every form saved at once, in the canonical form.
    data[f"first_{quarterly.pk}"] = "2026Q1"
    assert client.post(url, data).status_code == 302
    monthly.refresh_from_db()
    quarterly.refresh_from_db()
    assert (monthly.first_period, quarterly.first_period) == ("2026-01", "2026Q1")
    assert lines_of(client, w.yn)["forms"].done
    # Queries do not grow with the forms; the page is the bureau's: a supervisor may not change it.
    for n in range(5):
        ReportForm.objects.create(county=w.yn, code=f"EXTRA_{n}", name=f"补充报表{n}", period_kind="month",
                                  filer_level=monthly.filer_level, institution_kinds=monthly.institution_kinds)
    with CaptureQueriesContext(connection) as more:
        assert client.get(url).status_code == 200
    assert len(more) == len(few)
    assert client_for(w.supervisor).get(url).status_code in (403, 404)


def test_forms_installed_with_one_first_period_get_it_in_their_own_kind(ledger_world):
    install_catalog()
    firsts = {f.period_kind: f.first_period for f in install_forms(ledger_world.yn, first_period="2024-02")}
    assert firsts["month"] == "2024-02" and firsts["quarter"] == "2024Q1"
