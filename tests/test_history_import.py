"""历史数据导入: past figures of a report form loaded by the bureau as locked filings, each value
audited as history; only periods before the form's first live period; re-import a no-op, a
corrected file changes only what differs; the imported year judges the first live quarter's
direction target (同比); constant queries; scoping."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from core.models import ImportMapping
from core.periods import Period
from indicators import history
from indicators.catalog import install_catalog, install_forms
from indicators.engine import compute
from indicators.models import DataValue, Filing, FilingEvent, Indicator, ValueAudit
from tests.conftest import client_for
from tests.test_indicator_pages import cells, row_html
from tests.test_indicators_engine import file_values


def sheet(rows, title="郁南县2025年卫生统计月报（历史）") -> bytes:
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    for row in rows:
        ws.append(list(row))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def county(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn, first_period="2026-01")}
    world.monthly = world.forms["MONTHLY_OPS"]
    return world


def long_rows(w, months=("2025-01", "2025-02", "2025-03"), hospital=8000, centre=2000):
    rows = [["机构名称", "报告期", "数据项", "数值"]]
    for month in months:
        rows.append([w.hospital.name, month, "门急诊人次（诊疗人次）", hospital])
        rows.append([w.centre.name, month.replace("-", "年") + "月", "OP_VISITS", centre])
        rows.append([w.centre.name, month, "DISCHARGES", ""])  # no value: skipped, not an error
    return rows


def upload(client, form, data, name="历史数据.xlsx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("indicators:history_import", kwargs={"form_pk": form.pk}),
                       {"file": SimpleUploadedFile(name, data)})


def confirm(client, form, token):
    return client.post(reverse("indicators:history_import", kwargs={"form_pk": form.pk}),
                       {"token": token, "confirm": "1"})


def test_history_loads_as_locked_audited_filings_and_judges_the_first_live_quarter(county):
    w = county
    client = client_for(w.bureau_admin)
    page = upload(client, w.monthly, sheet(long_rows(w)))
    assert page.status_code == 200, page.content.decode()[:2000]
    plan = page.context["plan"]
    assert plan.ok, [i.text for i in plan.errors]
    assert (plan.new, plan.changed, plan.unchanged, plan.skipped, plan.new_filings) == (6, 0, 0, 3, 6)
    assert not Filing.objects.filter(period="2025-01").exists()  # nothing before the confirmation
    done = confirm(client, w.monthly, page.context["token"])
    assert done.status_code == 302
    filings = Filing.objects.filter(form=w.monthly, period__startswith="2025")
    assert filings.count() == 6 and set(filings.values_list("status", flat=True)) == {Filing.Status.LOCKED}
    values = DataValue.objects.filter(filing__in=filings)
    assert values.count() == 6 and set(values.values_list("counted", flat=True)) == {True}
    audits = ValueAudit.objects.filter(filing__in=filings)
    assert audits.count() == 6 and set(audits.values_list("source", flat=True)) == {"history"}
    assert all("历史数据.xlsx" in reason for reason in audits.values_list("reason", flat=True))
    assert FilingEvent.objects.filter(filing__in=filings, action="history").count() == 6
    # The indicator of 2025Q1: 基层就诊率 = 3 × 2,000 of 3 × 10,000 = 20%.
    rate = Indicator.objects.get(code="A4_32", county=None)
    q1_2025 = compute([rate], Period.parse("2025Q1"), "county", [w.yn.pk])[(rate.pk, w.yn.pk)]
    assert q1_2025.value.quantize(1) == 20
    # The first live quarter, filed live: 3 × 3,000 of 3 × 10,000 = 30%, up 10 points on the imported
    # year (the target: 同比提升2个百分点) — judged, no longer "cannot judge".
    for month in ("2026-01", "2026-02", "2026-03"):
        file_values(w.monthly, w.hospital, Period.parse(month), {"OP_VISITS": 7000})
        file_values(w.monthly, w.centre, Period.parse(month), {"OP_VISITS": 3000})
    q1_2026 = compute([rate], Period.parse("2026Q1"), "county", [w.yn.pk])[(rate.pk, w.yn.pk)]
    assert q1_2026.value.quantize(1) == 30 and q1_2026.baseline.quantize(1) == 20
    assert q1_2026.met_direction is True
    # And on the indicator table page of 2025Q1.
    html = client.get(reverse("indicators:indicator_table") + f"?county={w.yn.pk}&period=2025Q1").content.decode()
    assert cells(row_html(html, "A4_32"))[1:4] == ["20.00 %", "6,000", "30,000"]


def test_reimport_changes_nothing_and_a_correction_only_what_differs(county):
    w = county
    client = client_for(w.bureau_admin)
    assert confirm(client, w.monthly, upload(client, w.monthly, sheet(long_rows(w))).context["token"]).status_code == 302
    again = upload(client, w.monthly, sheet(long_rows(w)))
    assert again.context["token"] is None and again.context["plan"].unchanged == 6
    assert again.context["plan"].ok and not again.context["plan"].has_changes
    before = ValueAudit.objects.count()
    corrected = long_rows(w)
    corrected[1][3] = 8100  # 县人民医院 2025-01
    page = upload(client, w.monthly, sheet(corrected), name="历史数据-更正.xlsx")
    plan = page.context["plan"]
    assert (plan.new, plan.changed, plan.unchanged) == (0, 1, 5)
    assert confirm(client, w.monthly, page.context["token"]).status_code == 302
    assert ValueAudit.objects.count() == before + 1
    change = ValueAudit.objects.latest("pk")
    assert (change.old_value, change.new_value, change.source) == (8000, 8100, "history")
    assert "历史数据-更正.xlsx" in change.reason


def test_live_periods_and_unknown_names_are_refused_by_row_and_column(county):
    w = county
    rows = long_rows(w) + [[w.hospital.name, "2026-01", "OP_VISITS", 1], ["不存在的卫生院", "2025-04", "OP_VISITS", 1],
                           [w.hospital.name, "2025-13", "OP_VISITS", 1], [w.hospital.name, "2025-05", "床位数X", 1],
                           [w.hospital.name, "2025-06", "OP_VISITS", "很多"]]
    page = upload(client_for(w.bureau_admin), w.monthly, sheet(rows))
    plan = page.context["plan"]
    texts = [i.text for i in plan.errors]
    assert len(texts) == 5 and page.context["token"] is None
    assert texts[0].startswith("第12行 B列") and "2026年1月" in texts[0]  # named: the live period
    assert texts[1].startswith("第13行 A列") and "不存在的卫生院" in texts[1]
    assert texts[2].startswith("第14行 B列")
    assert texts[3].startswith("第15行 C列") and "床位数X" in texts[3]
    assert texts[4].startswith("第16行 D列") and "很多" in texts[4]
    assert not Filing.objects.filter(period__startswith="2025").exists()


def test_unknown_headers_are_mapped_once_and_remembered(county):
    w = county
    client = client_for(w.bureau_admin)
    rows = [["单位全称", "月度", "统计指标代码", "本月数"], [w.hospital.name, "2025-01", "OP_VISITS", 100]]
    page = upload(client, w.monthly, sheet(rows))
    columns = page.context["columns"]
    assert page.context["token"] is None and len(columns["errors"]) >= 2
    answer = {"remap": page.context["remap_token"], "map_0": "institution", "map_1": "period", "map_2": "element",
              "map_3": "value"}
    url = reverse("indicators:history_import", kwargs={"form_pk": w.monthly.pk})
    preview = client.post(url, answer)
    assert preview.context["token"], [i.text for i in preview.context["plan"].errors]
    assert confirm(client, w.monthly, preview.context["token"]).status_code == 302
    assert ImportMapping.objects.get(register="history", scope=w.yn.pk).mapping["单位全称"] == "institution"
    rows[1][3] = 120
    second = upload(client, w.monthly, sheet(rows))
    assert second.context["token"] and second.context["plan"].changed == 1


def test_history_is_the_bureau_s_and_other_counties_get_404(county):
    w = county
    url = reverse("indicators:history_import", kwargs={"form_pk": w.monthly.pk})
    assert client_for(w.outsider).get(url).status_code == 404
    assert client_for(w.filer).get(url).status_code in (403, 404)
    assert client_for(w.supervisor).get(url).status_code == 403
    assert client_for(w.bureau_admin).get(url).status_code == 200


def test_without_a_first_live_period_nothing_is_loaded(county):
    w = county
    w.monthly.first_period = ""
    w.monthly.save()
    page = upload(client_for(w.bureau_admin), w.monthly, sheet(long_rows(w)))
    errors = page.context["plan"].errors
    assert page.context["token"] is None and len(errors) == 1 and w.monthly.name in errors[0].text
    assert not Filing.objects.filter(period__startswith="2025").exists()


def test_apply_runs_a_constant_number_of_queries(county):
    w = county
    small = history.read_history(sheet(long_rows(w, months=("2025-01",))), "a.xlsx", w.monthly)
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    large = history.read_history(sheet(long_rows(w, months=months)), "b.xlsx", w.monthly)
    assert small.ok and large.ok and len(large.values) == 12 * len(small.values)
    counts = []
    for plan in (small, large):
        with CaptureQueriesContext(connection) as captured:
            history.apply_history(plan.payload(), user=w.bureau_admin, now=w.monthly.created_at, reason="r")
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize(("raw", "expected"), [
    ("2025-03", "2025-03"), ("2025年3月", "2025-03"), ("2025.3", "2025-03"), ("202503", "2025-03"),
    (date(2025, 3, 15), "2025-03"), ("2025年03月份", "2025-03"), (" 2025 - 3 ", "2025-03"),
])
def test_period_cells_as_people_write_them(raw, expected):
    from core.periods import PeriodKind

    assert str(history.parse_period(raw, PeriodKind.MONTH)) == expected


def test_period_of_the_wrong_kind_is_refused():
    from core.periods import PeriodError, PeriodKind

    with pytest.raises(PeriodError):
        history.parse_period("2025Q1", PeriodKind.MONTH)
    assert str(history.parse_period("2025年第一季度", PeriodKind.QUARTER)) == "2025Q1"
    with pytest.raises(PeriodError):
        history.parse_period("2025-13", PeriodKind.MONTH)



def test_institutions_are_found_by_the_names_clerks_write(county):
    """郁南县宝珠镇卫生院 is 宝珠镇卫生院 and 县宝珠镇卫生院 in a clerk's file, and its short name; a
    name two institutions could have is refused, not guessed."""
    from tests.factories import InstitutionFactory

    w = county
    from alliances.models import Institution

    InstitutionFactory(county=w.yn, name="郁南县宝珠镇卫生院", short_name="宝珠卫生院",
                       kind=Institution.Kind.TOWNSHIP_HEALTH_CENTRE)
    rows = [["机构", "报告期", "数据项", "数值"]] + [[name, "2025-01", "OP_VISITS", 10 + n] for n, name in enumerate(
        ["宝珠镇卫生院", "县宝珠镇卫生院", "宝珠卫生院"])]
    plan = history.read_history(sheet(rows), "a.xlsx", w.monthly)
    # All three names are the same centre (below the title and header rows): rows 4 and 5 repeat row 3.
    assert [(i.row, i.column) for i in plan.errors] == [(4, "D"), (5, "D")]
    assert all("第3行" in i.message for i in plan.errors)
    assert len(plan.values) == 1


def test_the_preview_names_periods_as_people_write_them(county):
    w = county
    page = upload(client_for(w.bureau_admin), w.monthly, sheet(long_rows(w, months=("2025-03",))))
    text = page.content.decode()
    assert page.status_code == 200 and "2025年3月" in text and "<td>2025-03</td>" not in text
