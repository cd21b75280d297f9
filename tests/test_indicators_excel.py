"""Excel both ways for filing: the template of one filing and the alliance-wide workbook, their
uploads through preview and confirmation, every bad input (named by its cell, nothing saved), the
all-or-nothing rule, conflicts, permissions and query counts.

New messages are checked in Chinese or in English (whichever the catalogue has when the test runs);
messages already in the catalogue, and the cell addresses, are checked in Chinese."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from accounts.models import Role
from alliances.models import AllianceMembership, Institution
from core.periods import Period
from indicators import excel
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataElement, DataValue, Filing, FilingEvent, ValueAudit
from indicators.services import filings as svc
from tests.conftest import client_for
from tests.factories import InstitutionFactory, MembershipFactory, UserFactory, grant

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCTOBER = Period.parse("2026-10")
SEPTEMBER = Period.parse("2026-09")
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI)
K = Institution.Kind

# Rows of the township centres' template of MONTHLY_OPS: section 医疗服务 in row 5, then its six rows,
# section 收入与支出 in row 12, its twelve rows, section 人员 in row 25, its two rows, section 双向转诊 in
# row 28, its one row (the centre's up-referrals; the hospitals' rows of 双向转诊 and 病例组合 are not
# in a centre's template).
ROW = {"OP_VISITS": 6, "DISCHARGES": 7, "DISCHARGE_BED_DAYS": 8, "OPEN_BED_DAYS": 9, "OCCUPIED_BED_DAYS": 10,
       "REHAB_PATIENTS": 11, "TOTAL_REVENUE": 13, "BUSINESS_REVENUE": 14, "MED_REVENUE": 15, "DRUG_REVENUE": 16,
       "CONSUMABLE_REVENUE": 17, "EXAM_REVENUE": 18, "LAB_REVENUE": 19, "FISCAL_REVENUE": 20,
       "INSURANCE_REVENUE": 21, "BUSINESS_EXPENSE": 22, "PERSONNEL_EXPENSE": 23, "SALARY_TOTAL": 24,
       "STAFF_ON_DUTY": 26, "GPS": 27, "REFERRALS_UP": 29}
CENTRE_VALUES = dict(OP_VISITS=8000, DISCHARGES=150, DISCHARGE_BED_DAYS=900, OPEN_BED_DAYS=1800,
                     OCCUPIED_BED_DAYS=1200, REHAB_PATIENTS=40, TOTAL_REVENUE=2_000_000, BUSINESS_REVENUE=1_500_000,
                     MED_REVENUE=1_400_000, DRUG_REVENUE=500_000, CONSUMABLE_REVENUE=100_000, EXAM_REVENUE=90_000,
                     LAB_REVENUE=80_000, FISCAL_REVENUE=500_000, INSURANCE_REVENUE=700_000,
                     BUSINESS_EXPENSE=1_400_000, PERSONNEL_EXPENSE=700_000, SALARY_TOTAL=600_000, STAFF_ON_DUTY=90,
                     GPS=6, REFERRALS_UP=30)
HOSPITAL_VALUES = {**{k: v * 10 for k, v in CENTRE_VALUES.items() if k not in ("REHAB_PATIENTS", "REFERRALS_UP")},
                   "SURGERIES": 900, "SURGERIES_L34": 300, "REHAB_REFERRED_DOWN": 25, "REFERRALS_DOWN": 120,
                   "CHRONIC_REFERRED_DOWN": 30, "DRG_WEIGHT": 1200, "DRG_CASES": 1300}


def either(text: str, zh: str, en: str) -> bool:
    return zh in text or en in text


@pytest.fixture(autouse=True)
def _november():
    """The October 2026 filings are open: due 5 November, locked after 20 November."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def w(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn)}
    world.monthly = world.forms["MONTHLY_OPS"]
    world.ids = dict(DataElement.objects.filter(county=None).values_list("code", "pk"))
    world.filing = svc.open_filing(world.monthly, world.centre, OCTOBER, user=world.filer)
    world.filer2 = UserFactory(username="yn_centre2_filer")
    grant(world.filer2, Role.INSTITUTION_FILER, world.centre2)
    return world


def decimals(w, values: dict) -> dict[int, Decimal | None]:
    return {w.ids[code]: None if v is None else Decimal(str(v)) for code, v in values.items()}


def stored(filing) -> dict[str, Decimal | None]:
    return {code: value for code, value in DataValue.objects.filter(filing=filing).values_list("element__code", "value")}


def template_url(filing) -> str:
    return reverse("indicators:excel_filing_template", kwargs={"filing_pk": filing.pk})


def upload_url(filing) -> str:
    return reverse("indicators:excel_filing_upload", kwargs={"filing_pk": filing.pk})


def workbook_url(w, alliance=None, period="2026-10") -> str:
    url = reverse("indicators:excel_alliance_workbook",
                  kwargs={"form_pk": w.monthly.pk, "alliance_pk": (alliance or w.alliance_a).pk})
    return f"{url}?period={period}" if period else url


def alliance_upload_url(w, alliance=None, period="2026-10") -> str:
    url = reverse("indicators:excel_alliance_upload",
                  kwargs={"form_pk": w.monthly.pk, "alliance_pk": (alliance or w.alliance_a).pk})
    return f"{url}?period={period}" if period else url


def download(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return load_workbook(io.BytesIO(response.content))


def xlsx(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def fill(book, values: dict):
    """Write ``values`` ({code: cell value}) into the 数值 column of a filing template, by the hidden codes."""
    ws = book.active
    rows = {ws.cell(row=r, column=7).value: r for r in range(5, ws.max_row + 1)}
    for code, value in values.items():
        ws.cell(row=rows[code], column=4).value = value
    return book


def upload(client, url, content: bytes, name: str = "填报.xlsx", **extra):
    return client.post(url, {"file": SimpleUploadedFile(name, content), **extra})


def issues(response) -> list[str]:
    context = response.context
    if "errors" in context and context["errors"]:
        return [i.text for i in context["errors"]]
    form = context.get("form")
    return list(form.errors.get("file", [])) if form is not None else []


def confirm(client, url, response):
    token = response.context["token"]
    assert token, issues(response)
    return client.post(url, {"token": token, "confirm": "1"})


def filled_template(w, client, values=None):
    return xlsx(fill(download(client, template_url(w.filing)), values or CENTRE_VALUES))


# The template of one filing --------------------------------------------------------------------

def test_template_is_the_official_layout_with_values_references_and_hidden_codes(w, django_assert_num_queries):
    svc.save_values(w.filing, decimals(w, {"OP_VISITS": 8000, "TOTAL_REVENUE": "1234.5"}), user=w.filer,
                    expected_version=1)
    for period, visits in ((SEPTEMBER, 7600), (Period.parse("2025-10"), 7000)):
        earlier = svc.open_filing(w.monthly, w.centre, period)
        svc.save_values(earlier, decimals(w, {"OP_VISITS": visits}), user=w.filer, expected_version=1,
                        check_edit=False)
    client = client_for(w.filer)
    # Savepoint, session, user, grants, the filing, rows, values, reference values, release.
    with django_assert_num_queries(9):
        response = client.get(template_url(w.filing))
    assert "医共体成员单位运行监测月报_平台镇卫生院_2026年10月.xlsx" in response["Content-Disposition"].encode(
        "latin-1").decode("utf-8") or "filename*=" in response["Content-Disposition"]
    ws = load_workbook(io.BytesIO(response.content)).active
    assert ws["A1"].value == "医共体成员单位运行监测月报（2026年10月）"
    assert ws["A2"].value == "填报单位：平台镇卫生院" and ws["D2"].value == "报告期：2026年10月"
    assert [ws.cell(row=3, column=c).value for c in range(1, 8)] == [
        "序号", "指标（数据项）名称", "计量单位", "本期", "参考数据（只读）", None, "代码"]
    assert [ws.cell(row=4, column=c).value for c in range(4, 7)] == ["数值", "上年同期", "上期"]
    assert {"A3:A4", "B3:B4", "C3:C4", "E3:F3", "A1:F1"} <= {str(r) for r in ws.merged_cells.ranges}
    assert ws["A5"].value == "一、医疗服务" and ws["A12"].value == "二、收入与支出" and ws["A25"].value == "三、人员"
    assert [ws.cell(row=6, column=c).value for c in range(1, 8)] == [
        1, "门急诊人次（诊疗人次）", "人次", 8000, 7000, 7600, "OP_VISITS"]
    assert ws["D13"].value == Decimal("1234.5") or ws["D13"].value == 1234.5
    assert ws["D13"].number_format == "#,##0.00" and ws["D6"].number_format == "#,##0"
    assert ws["D7"].value is None and ws["B11"].value == "康复护理患者总人数"  # township rows only
    assert "SURGERIES" not in [ws.cell(row=r, column=7).value for r in range(5, 30)]
    # The codes, the form, filer and period are hidden; only the value cells are editable.
    assert ws.column_dimensions["G"].hidden
    assert ws["G1"].value == (f"template=filing;form=MONTHLY_OPS;institution={w.centre.pk};period=2026-10")
    assert ws.protection.sheet and not ws["D6"].protection.locked and ws["E6"].protection.locked
    validations = {str(v.sqref): (v.type, v.operator, v.formula1) for v in ws.data_validations.dataValidation}
    assert any("D6" in ref and kind == ("whole", "greaterThanOrEqual", "0") for ref, kind in validations.items())
    assert any("D13" in ref and kind[0] == "decimal" for ref, kind in validations.items())
    assert ws["A28"].value == "四、双向转诊" and ws["G29"].value == "REFERRALS_UP"
    footer = [ws.cell(row=r, column=c).value for r in range(30, 35) for c in range(1, 7)]
    assert "填报人：" in footer and "审核人：" in footer and "日期：2026年11月3日" in footer


def test_county_filing_template_names_the_bureau(w):
    filing = svc.open_filing(w.forms["COUNTY_INSURANCE"], None, OCTOBER)
    ws = download(client_for(w.bureau), template_url(filing)).active
    assert ws["A2"].value == "填报单位：郁南县卫生健康局"
    assert ws["G1"].value.endswith(";institution=county;period=2026-10")


# Round trip ------------------------------------------------------------------------------------

def test_round_trip_download_fill_upload_preview_confirm(w):
    client = client_for(w.filer)
    page = client.get(upload_url(w.filing))
    assert page.status_code == 200 and template_url(w.filing) in page.content.decode()
    content = filled_template(w, client, {**CENTRE_VALUES, "TOTAL_REVENUE": 2_000_000.5,
                                          "OCCUPIED_BED_DAYS": 2000})
    response = upload(client, upload_url(w.filing), content)
    assert response.status_code == 200 and response.templates[0].name == "indicators/excel_preview.html"
    plan = response.context["plan"]
    assert plan.ok and plan.counts == {"unchanged": 0, "new": 21, "changed": 0, "cleared": 0, "total": 21}
    by_code = {c.element.code: c for c in plan.changes}
    assert (by_code["OP_VISITS"].row, by_code["OP_VISITS"].old, by_code["OP_VISITS"].new) == (6, None, Decimal(8000))
    assert by_code["TOTAL_REVENUE"].new == Decimal("2000000.5")
    # The checks on the would-be values are shown but do not block: 实际占用 > 实际开放 is a warning.
    assert [f.code for f in response.context["findings"]] == ["R_BED_DAYS"]
    assert "实际占用总床日数大于实际开放总床日数" in response.content.decode()
    assert not DataValue.objects.filter(filing=w.filing).exists()  # nothing before the confirmation

    done = confirm(client, upload_url(w.filing), response)
    assert done.status_code == 302 and done["Location"] == reverse("indicators:filing_detail",
                                                                   kwargs={"filing_pk": w.filing.pk})
    values = stored(w.filing)
    assert values["OP_VISITS"] == 8000 and values["TOTAL_REVENUE"] == Decimal("2000000.50") and len(values) == 21
    audits = ValueAudit.objects.filter(filing=w.filing)
    assert audits.count() == 21 and set(audits.values_list("source", flat=True)) == {"import"}
    assert set(audits.values_list("user", flat=True)) == {w.filer.pk} and all(a.created for a in audits)
    assert list(FilingEvent.objects.filter(filing=w.filing).values_list("action", flat=True)) == ["import"]
    w.filing.refresh_from_db()
    assert w.filing.version == 2 and w.filing.status == Filing.Status.DRAFT  # saved, not submitted

    # Second round: the template carries the saved values; change one, clear one.
    book = download(client, template_url(w.filing))
    assert book.active["D6"].value == 8000
    fill(book, {"OP_VISITS": "8,100", "GPS": "-"})
    response = upload(client, upload_url(w.filing), xlsx(book))
    plan = response.context["plan"]
    assert plan.counts == {"unchanged": 19, "new": 0, "changed": 1, "cleared": 1, "total": 2}
    assert {(c.element.code, c.status, c.old_text, c.new_text) for c in plan.changes if c.is_change} == {
        ("OP_VISITS", "changed", "8,000", "8,100"), ("GPS", "cleared", "6", "")}
    confirm(client, upload_url(w.filing), response)
    changes = ValueAudit.objects.filter(filing=w.filing, created=False).order_by("element__code")
    assert [(a.element.code, a.old_value, a.new_value, a.source) for a in changes] == [
        ("GPS", Decimal(6), None, "import"), ("OP_VISITS", Decimal(8000), Decimal(8100), "import")]

    # Uploading the same file again changes nothing and offers no confirmation.
    response = upload(client, upload_url(w.filing), xlsx(download(client, template_url(w.filing))))
    assert response.context["token"] is None and response.context["plan"].ok
    assert "excel-nothing" in response.content.decode()


def test_cancel_discards_the_preview(w):
    client = client_for(w.filer)
    response = upload(client, upload_url(w.filing), filled_template(w, client))
    token = response.context["token"]
    assert client.post(upload_url(w.filing), {"token": token, "cancel": "1"}).status_code == 302
    again = client.post(upload_url(w.filing), {"token": token, "confirm": "1"})
    assert again.status_code == 400 and "此预览已失效" in again.content.decode()
    assert not DataValue.objects.filter(filing=w.filing).exists()


@pytest.mark.parametrize("code,raw,expected", [
    ("OP_VISITS", "1,234", Decimal(1234)),
    ("OP_VISITS", "１２", Decimal(12)),
    ("OP_VISITS", "  12  ", Decimal(12)),
    ("OP_VISITS", 12.0, Decimal(12)),
    ("OP_VISITS", "-", None),
    ("OP_VISITS", "—", None),
    ("OP_VISITS", None, None),
    ("TOTAL_REVENUE", " 12.5 ", Decimal("12.5")),
    ("TOTAL_REVENUE", 0.1 + 0.2, Decimal("0.3")),  # a formula's float noise is not a third decimal
    ("TOTAL_REVENUE", "1,234,567.89", Decimal("1234567.89")),
])
def test_accepted_ways_of_writing_a_figure(w, code, raw, expected):
    client = client_for(w.filer)
    response = upload(client, upload_url(w.filing), filled_template(w, client, {**CENTRE_VALUES, code: raw}))
    plan = response.context["plan"]
    assert plan.ok, issues(response)
    change = next(c for c in plan.changes if c.element.code == code)
    assert change.new == expected and (change.new is None or isinstance(change.new, Decimal))


@pytest.mark.parametrize("code,raw,zh,en", [
    ("DISCHARGE_BED_DAYS", "九百", "第8行 D列（数值）：“九百”不是数字。", None),
    ("DISCHARGE_BED_DAYS", "900床日", "第8行 D列（数值）：“900床日”不是数字。", None),
    ("DISCHARGE_BED_DAYS", "1234,5", "第8行 D列（数值）：“1234,5”不是数字。", None),
    ("DISCHARGE_BED_DAYS", date(2026, 10, 1), "第8行 D列（数值）：“2026-10-01”不是数字。", None),
    ("OP_VISITS", -5, "第6行 D列（数值）：-5 为负数，请填写 0 或以上的数。", None),
    ("OP_VISITS", "-5", "第6行 D列（数值）：-5 为负数", None),
    ("OP_VISITS", 12.5, "第6行 D列（数值）：“12.5”不是整数。", None),
    ("OP_VISITS", 1e16, "第6行 D列（数值）：10000000000000000 过大。", None),
    ("TOTAL_REVENUE", "12.345", "第13行 D列（数值）：“12.345”", "has more than 2 decimal places"),
])
def test_bad_figures_are_named_by_their_cell_and_nothing_is_saved(w, code, raw, zh, en):
    client = client_for(w.filer)
    response = upload(client, upload_url(w.filing), filled_template(w, client, {**CENTRE_VALUES, code: raw}))
    assert response.status_code == 200
    texts = issues(response)
    assert len(texts) == 1, texts
    assert zh in texts[0]
    if en:
        assert either(texts[0], "超过2位小数", en)
    assert response.context["token"] is None and "confirm-form" not in response.content.decode()
    wrong = [c for c in response.context["plan"].changes if c.status == "error"]
    assert [c.element.code for c in wrong] == [code]  # the row is shown, marked, with what the cell says
    assert 'class="row-error"' in response.content.decode()
    assert not DataValue.objects.filter(filing=w.filing).exists()


def _rows_edit(w, client, edit):
    book = download(client, template_url(w.filing))
    fill(book, CENTRE_VALUES)
    edit(book.active)
    return upload(client, upload_url(w.filing), xlsx(book))


@pytest.mark.parametrize("edit,zh,en,cell", [
    (lambda ws: ws.cell(row=6, column=7, value="NO_SUCH"), "“NO_SUCH”不是本表", "“NO_SUCH” is not a data item",
     "G6"),
    (lambda ws: ws.cell(row=7, column=7, value="OP_VISITS"), "门急诊人次（诊疗人次）", "appears twice", "G7"),
    (lambda ws: setattr(ws.cell(row=27, column=7), "value", None), "全科医生数", "is missing", "D27"),
    (lambda ws: ws.cell(row=30, column=4, value=5), "隐藏的G列", "no data-item code", "D30"),
])
def test_rows_that_do_not_match_the_form_are_errors(w, edit, zh, en, cell):
    client = client_for(w.filer)
    response = _rows_edit(w, client, edit)
    found = response.context["errors"]
    assert found and any(either(i.text, zh, en) for i in found), [i.text for i in found]
    if cell:
        assert cell in [i.cell for i in found]
    assert response.context["token"] is None
    assert not DataValue.objects.filter(filing=w.filing).exists()


def test_a_missing_row_names_the_element(w):
    def drop_gps(ws):
        for column in range(1, 8):
            ws.cell(row=27, column=column).value = None

    response = _rows_edit(w, client_for(w.filer), drop_gps)
    texts = [i.text for i in response.context["errors"]]
    assert len(texts) == 1 and either(texts[0], "缺少“全科医生数”", "The row of 全科医生数 is missing")


def test_a_template_of_another_form_institution_or_period_is_refused(w):
    client = client_for(w.filer)
    other_form = svc.open_filing(w.forms["QUARTERLY_PH"], w.centre, Period.parse("2026Q3"))
    september = svc.open_filing(w.monthly, w.centre, SEPTEMBER)
    centre2 = svc.open_filing(w.monthly, w.centre2, OCTOBER)
    bureau = client_for(w.bureau)
    cases = [
        (xlsx(download(client, template_url(other_form))), "另一张报表（QUARTERLY_PH）", "another form (QUARTERLY_PH)"),
        (xlsx(download(client, template_url(september))), "2026年9月", "This file is for 2026年9月"),
        (xlsx(download(bureau, template_url(centre2))), "桂圩镇卫生院", "another filer (桂圩镇卫生院)"),
        (xlsx(download(bureau, workbook_url(w))), "医共体汇总", "alliance-wide workbook"),
    ]
    for content, zh, en in cases:
        response = upload(client, upload_url(w.filing), content)
        texts = issues(response)
        assert texts and either(texts[0], zh, en), texts
        assert response.context["token"] is None
    plain = Workbook()
    plain.active["A1"] = "门急诊人次"
    texts = issues(upload(client, upload_url(w.filing), xlsx(plain)))
    assert either(texts[0], "隐藏的识别单元格", "hidden identification cell")
    assert not DataValue.objects.exists()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("name,content,zh,en", [
    ("填报.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "旧版 Excel 文件（.xls）", ".xls"),
    ("填报.xlsm", b"PK\x03\x04", "含有宏", "macros"),
    ("填报.csv", "门急诊人次,8000\n".encode(), "不是 .xlsx 工作簿", "is not an .xlsx workbook"),
    ("填报.xlsx", b"", "是空文件", "is empty"),
    ("填报.xlsx", "门急诊人次,8000\n".encode(), "不是 Excel 工作簿", "is not an Excel workbook"),
    ("填报.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "改名为 .xlsx", "renamed .xlsx"),
    ("填报.xlsx", _zip({"[Content_Types].xml": b"spreadsheetml macroEnabled", "xl/vbaProject.bin": b"x"}), "宏",
     "macros"),
    ("填报.xlsx", _zip({"[Content_Types].xml": b"spreadsheetml", "xl/workbook.xml": b"<broken"}), "损坏",
     "damaged"),
    ("填报.xlsx", _zip({"[Content_Types].xml": b"wordprocessingml", "word/document.xml": b"<w/>"}),
     "不是 Excel 工作簿", "is not an Excel workbook"),
])
def test_files_that_are_not_xlsx_get_a_message_on_the_form_not_a_500(w, name, content, zh, en):
    response = upload(client_for(w.filer), upload_url(w.filing), content, name=name)
    assert response.status_code == 200 and response.templates[0].name == "indicators/excel_upload.html"
    texts = issues(response)
    assert texts and either(texts[0], zh, en), texts


def test_a_file_too_large_is_refused_before_it_is_read(w, monkeypatch):
    monkeypatch.setattr(excel, "MAX_UPLOAD_BYTES", 1000)
    response = upload(client_for(w.filer), upload_url(w.filing), b"PK\x03\x04" + b"\0" * 2000)
    texts = issues(response)
    assert texts and either(texts[0], "超过 0 MB", "is larger than 0 MB"), texts


def test_no_file_is_a_form_error(w):
    response = client_for(w.filer).post(upload_url(w.filing), {})
    assert response.status_code == 200 and response.context["form"].errors["file"]


# Conflicts and locks ---------------------------------------------------------------------------

def test_a_filing_changed_since_the_preview_is_a_conflict_and_nothing_is_saved(w):
    client = client_for(w.filer)
    response = upload(client, upload_url(w.filing), filled_template(w, client))
    assert response.context["plan"].version == 1
    svc.save_values(w.filing, decimals(w, {"OP_VISITS": 7777}), user=w.bureau, expected_version=1)
    done = confirm(client, upload_url(w.filing), response)
    assert done.status_code == 409
    assert "其他人" in done.content.decode()  # the service's conflict message
    assert stored(w.filing) == {"OP_VISITS": Decimal(7777)}
    assert not ValueAudit.objects.filter(source="import").exists()


def test_a_filing_submitted_after_the_preview_is_not_written(w):
    client = client_for(w.filer)
    svc.save_values(w.filing, decimals(w, CENTRE_VALUES), user=w.filer, expected_version=1)
    response = upload(client, upload_url(w.filing), filled_template(w, client, {**CENTRE_VALUES, "GPS": 7}))
    token = response.context["token"]
    svc.submit(w.filing, user=w.filer, expected_version=2)
    done = client.post(upload_url(w.filing), {"token": token, "confirm": "1"})
    assert done.status_code == 403 and "已上报" in done.content.decode()
    assert stored(w.filing)["GPS"] == 6


def test_after_the_lock_day_the_upload_answers_403_with_the_reason(w):
    with time_machine.travel(datetime(2026, 11, 21, 9, 0, tzinfo=SHANGHAI), tick=False):
        response = client_for(w.filer).get(upload_url(w.filing))
    assert response.status_code == 403 and "2026-11-20" in response.content.decode()


# Permissions -----------------------------------------------------------------------------------

def test_who_may_download_and_upload_a_filing_template(w):
    urls = [template_url(w.filing), upload_url(w.filing)]
    for user in (w.outsider, w.nobody, w.filer2):  # another county, no grant, another centre of the county
        for url in urls:
            assert client_for(user).get(url).status_code == 404, (user, url)
            assert client_for(user).post(url, {}).status_code == 404, (user, url)
    supervisor = client_for(w.supervisor)  # sees the filing, does not file it
    assert supervisor.get(template_url(w.filing)).status_code == 200
    denied = supervisor.get(upload_url(w.filing))
    assert denied.status_code == 403 and "填报" in denied.content.decode()
    for user in (w.filer, w.alliance_admin, w.bureau):
        assert client_for(user).get(upload_url(w.filing)).status_code == 200, user


def test_a_preview_belongs_to_its_user_and_filing(w):
    client = client_for(w.filer)
    token = upload(client, upload_url(w.filing), filled_template(w, client)).context["token"]
    other = client_for(w.bureau)
    assert other.post(upload_url(w.filing), {"token": token, "confirm": "1"}).status_code == 400
    centre2 = svc.open_filing(w.monthly, w.centre2, OCTOBER)
    assert client_for(w.bureau).post(upload_url(centre2), {"token": token}).status_code == 400
    assert not DataValue.objects.exists()


# Query counts ----------------------------------------------------------------------------------

def test_filing_preview_and_confirm_cost_a_constant_number_of_queries(w, django_assert_num_queries):
    client = client_for(w.filer)
    content = filled_template(w, client)
    # Savepoint, session, user, grants, filing (may file: from the grants), rows, values, checks (rows,
    # rules, history), release; the session saved (savepoint, update, release).
    with django_assert_num_queries(14):
        response = upload(client, upload_url(w.filing), content)
    # Savepoint, session, user, grants, filing, rows; a savepoint around save_values (its 6 queries);
    # the security event (savepoint, chain head, insert, head moved, release); release; the session
    # saved (3).
    with django_assert_num_queries(23):
        confirm(client, upload_url(w.filing), response)
    assert len(stored(w.filing)) == 21


# The alliance-wide workbook --------------------------------------------------------------------

def fill_grid(book, values: dict):
    """Write ``values`` ({institution id: {code: cell value}}) into an alliance workbook."""
    ws = book.active
    columns = {ws.cell(row=5, column=c).value: c for c in range(4, ws.max_column + 1)}
    rows = {ws.cell(row=r, column=3).value: r for r in range(6, ws.max_row + 1)}
    for institution_id, row_values in values.items():
        for code, value in row_values.items():
            ws.cell(row=rows[institution_id], column=columns[code]).value = value
    return book


def test_alliance_workbook_layout(w, django_assert_num_queries):
    svc.save_values(w.filing, decimals(w, {"OP_VISITS": 8000}), user=w.filer, expected_version=1)
    client = client_for(w.alliance_admin)
    # Savepoint, session, user, grants, alliance, form, rows, the form's listed institutions, the
    # members that file it, filings, values, release.
    with django_assert_num_queries(12):
        response = client.get(workbook_url(w))
    ws = load_workbook(io.BytesIO(response.content)).active
    assert ws["A1"].value == "医共体成员单位运行监测月报（2026年10月）"
    assert ws["A2"].value == "填报单位：第一医共体"
    assert [ws.cell(row=r, column=2).value for r in (6, 7, 8)] == ["县人民医院", "平台镇卫生院", "桂圩镇卫生院"]
    assert [ws.cell(row=r, column=3).value for r in (6, 7, 8)] == [w.hospital.pk, w.centre.pk, w.centre2.pk]
    assert ws.cell(row=9, column=2).value is None or ws.cell(row=9, column=2).value.startswith("说明")
    codes = [ws.cell(row=5, column=c).value for c in range(4, ws.max_column + 1)]
    # 23 rows, and 5 of seed 000 10.1 and 10.3 (referrals and DRG, issue 18) at the end.
    assert codes[:3] == ["OP_VISITS", "DISCHARGES", "DISCHARGE_BED_DAYS"] and len(codes) == 28
    assert codes[-5:] == ["REFERRALS_UP", "REFERRALS_DOWN", "CHRONIC_REFERRED_DOWN", "DRG_WEIGHT", "DRG_CASES"]
    assert ws["D3"].value == "门急诊人次（诊疗人次）" and ws["D4"].value == "（人次）"
    assert ws.row_dimensions[5].hidden and ws.column_dimensions["C"].hidden
    assert ws["A5"].value == f"template=alliance;form=MONTHLY_OPS;alliance={w.alliance_a.pk};period=2026-10"
    assert ws["D7"].value == 8000 and ws["D6"].value is None
    surgeries = codes.index("SURGERIES") + 4
    assert not ws.cell(row=6, column=surgeries).protection.locked  # the hospital does surgery
    assert ws.cell(row=7, column=surgeries).protection.locked  # a township centre does not
    assert ws.cell(row=7, column=surgeries).fill.fgColor.rgb.endswith("F2F2F2")


def test_alliance_round_trip_files_for_several_institutions_at_once(w):
    client = client_for(w.alliance_admin)
    svc.save_values(w.filing, decimals(w, {"OP_VISITS": 7000}), user=w.filer, expected_version=1)
    page = client.get(alliance_upload_url(w))
    assert page.status_code == 200 and workbook_url(w) in page.content.decode()
    book = fill_grid(download(client, workbook_url(w)),
                     {w.hospital.pk: HOSPITAL_VALUES, w.centre.pk: CENTRE_VALUES})
    response = upload(client, alliance_upload_url(w), xlsx(book))
    assert response.status_code == 200 and response.templates[0].name == "indicators/excel_alliance_preview.html"
    plan = response.context["plan"]
    assert plan.ok, [i.text for i in plan.issues]
    assert [(u.institution.name, u.has_changes) for u in plan.units] == [
        ("县人民医院", True), ("平台镇卫生院", True), ("桂圩镇卫生院", False)]
    hospital, centre, _centre2 = plan.units
    assert hospital.filing is None and hospital.counts["new"] == 26
    assert centre.counts == {"unchanged": 0, "new": 20, "changed": 1, "cleared": 0, "total": 21}
    assert plan.counts["filings"] == 2 and plan.counts["total"] == 47
    visits = next(c for c in centre.changes if c.element.code == "OP_VISITS")
    assert (visits.column, visits.row, visits.old, visits.new) == ("D", 7, Decimal(7000), Decimal(8000))
    assert not Filing.objects.filter(institution=w.hospital).exists()

    done = confirm(client, alliance_upload_url(w), response)
    assert done.status_code == 302 and "completeness" in done["Location"]
    hospital_filing = Filing.objects.get(form=w.monthly, institution=w.hospital, period="2026-10")
    assert stored(hospital_filing)["SURGERIES"] == 900 and len(stored(hospital_filing)) == 26
    assert stored(w.filing)["OP_VISITS"] == 8000 and len(stored(w.filing)) == 21
    assert not Filing.objects.filter(institution=w.centre2).exists()  # an empty row opens no filing
    audits = ValueAudit.objects.filter(source="import")
    assert audits.count() == 47 and set(audits.values_list("user", flat=True)) == {w.alliance_admin.pk}
    assert set(FilingEvent.objects.filter(action="import").values_list("filing__institution", flat=True)) == {
        w.hospital.pk, w.centre.pk}


def test_alliance_bad_cells_rows_and_columns(w):
    client = client_for(w.bureau)
    book = download(client, workbook_url(w))
    ws = book.active
    codes = {ws.cell(row=5, column=c).value: c for c in range(4, ws.max_column + 1)}
    ws.cell(row=7, column=codes["OP_VISITS"], value="八千")  # text
    ws.cell(row=7, column=codes["SURGERIES"], value=3)  # not filed by a township centre
    ws.cell(row=6, column=codes["DISCHARGES"], value=-1)  # negative
    ws.cell(row=8, column=3, value=w.centre_b.pk)  # a member of the other alliance
    response = upload(client, alliance_upload_url(w), xlsx(book))
    texts = [i.text for i in response.context["errors"]]
    letter = {code: ws.cell(row=5, column=c).column_letter for code, c in codes.items()}
    assert f"第7行 {letter['OP_VISITS']}列（平台镇卫生院 · 门急诊人次（诊疗人次））：“八千”不是数字。" in texts
    assert any(t.startswith(f"第7行 {letter['SURGERIES']}列（平台镇卫生院 · 出院患者手术台次数）")
               and either(t, "不填报", "do not file") for t in texts)
    assert f"第6行 {letter['DISCHARGES']}列（县人民医院 · 出院人数）：-1 为负数，请填写 0 或以上的数。" in texts
    assert any(t.startswith("第8行 C列（机构ID）") and "桂圩镇卫生院" in t for t in texts)
    assert any(either(t, "缺少“桂圩镇卫生院”", "The row of 桂圩镇卫生院 is missing") for t in texts)
    assert response.context["token"] is None and not DataValue.objects.exists()


def test_alliance_workbook_columns_must_match_the_form(w):
    client = client_for(w.bureau)
    book = download(client, workbook_url(w))
    ws = book.active
    ws.cell(row=5, column=4, value="NO_SUCH")
    ws.cell(row=5, column=5, value="DISCHARGE_BED_DAYS")
    texts = [i.text for i in upload(client, alliance_upload_url(w), xlsx(book)).context["errors"]]
    assert any(t.startswith("第5行 D列") and "NO_SUCH" in t for t in texts), texts
    assert any(t.startswith("第5行 F列") and either(t, "E列", "column E") for t in texts), texts  # twice
    assert any("门急诊人次" in t for t in texts) and any("出院人数" in t for t in texts)  # columns missing


def _lock(filing):
    Filing.objects.filter(pk=filing.pk).update(status=Filing.Status.LOCKED, version=filing.version + 1)


def test_alliance_upload_is_all_or_nothing_when_a_filing_is_locked(w):
    client = client_for(w.bureau)
    _lock(w.filing)
    book = fill_grid(download(client, workbook_url(w)), {w.hospital.pk: HOSPITAL_VALUES, w.centre.pk: CENTRE_VALUES})
    response = upload(client, alliance_upload_url(w), xlsx(book))
    texts = [i.text for i in response.context["errors"]]
    assert len(texts) == 1 and texts[0].startswith("第7行（平台镇卫生院）：") and "已锁定" in texts[0]
    assert response.context["token"] is None
    assert not Filing.objects.filter(institution=w.hospital).exists() and not DataValue.objects.exists()

    # A locked filing whose row is unchanged is no obstacle.
    book = fill_grid(download(client, workbook_url(w)), {w.hospital.pk: HOSPITAL_VALUES})
    response = upload(client, alliance_upload_url(w), xlsx(book))
    assert response.context["plan"].ok and response.context["token"]


def test_alliance_upload_is_all_or_nothing_when_a_filing_locks_after_the_preview(w):
    client = client_for(w.bureau)
    book = fill_grid(download(client, workbook_url(w)), {w.hospital.pk: HOSPITAL_VALUES, w.centre.pk: CENTRE_VALUES})
    response = upload(client, alliance_upload_url(w), xlsx(book))
    _lock(w.filing)
    done = confirm(client, alliance_upload_url(w), response)
    assert done.status_code == 200 and "已锁定" in done.content.decode()
    assert done.context["notice"] and either(done.context["notice"], "预览之后", "changed since the preview")
    assert not Filing.objects.filter(institution=w.hospital).exists() and not DataValue.objects.exists()


def test_alliance_conflict_on_one_filing_rolls_back_the_others(w):
    client = client_for(w.bureau)
    centre2_filing = svc.open_filing(w.monthly, w.centre2, OCTOBER)
    book = fill_grid(download(client, workbook_url(w)), {w.hospital.pk: HOSPITAL_VALUES, w.centre.pk: CENTRE_VALUES,
                                                         w.centre2.pk: CENTRE_VALUES})
    response = upload(client, alliance_upload_url(w), xlsx(book))
    assert response.context["plan"].counts["filings"] == 3
    # Someone saves 桂圩镇卫生院 (the last row written) between the preview and the confirmation.
    svc.save_values(centre2_filing, decimals(w, {"GPS": 1}), user=w.filer2, expected_version=1)
    done = confirm(client, alliance_upload_url(w), response)
    assert done.status_code == 200
    apply_issues = [i.text for i in done.context["apply_issues"]]
    assert len(apply_issues) == 1 and apply_issues[0].startswith("第8行（桂圩镇卫生院）：") and "其他人" in apply_issues[0]
    # The hospital's and 平台镇's filings, written before, were rolled back with it.
    assert not Filing.objects.filter(institution=w.hospital).exists()
    assert not DataValue.objects.filter(filing=w.filing).exists()
    assert stored(centre2_filing) == {"GPS": Decimal(1)}
    assert not ValueAudit.objects.filter(source="import").exists()


def test_alliance_confirmation_shows_the_preview_again_when_the_plan_changed(w):
    # Someone files 桂圩镇卫生院's figures as the workbook has them between the preview and the
    # confirmation: its row changes nothing any more, so the preview is shown again to be confirmed.
    client = client_for(w.bureau)
    centre2_filing = svc.open_filing(w.monthly, w.centre2, OCTOBER)
    book = fill_grid(download(client, workbook_url(w)), {w.hospital.pk: HOSPITAL_VALUES, w.centre.pk: CENTRE_VALUES,
                                                         w.centre2.pk: CENTRE_VALUES})
    response = upload(client, alliance_upload_url(w), xlsx(book))
    svc.save_values(centre2_filing, decimals(w, CENTRE_VALUES), user=w.filer2, expected_version=1)
    again = confirm(client, alliance_upload_url(w), response)
    assert again.status_code == 200 and again.context["token"] == response.context["token"]
    assert either(again.context["notice"], "预览之后", "changed since the preview")
    assert again.context["counts"]["filings"] == 2 and not Filing.objects.filter(institution=w.hospital).exists()
    done = confirm(client, alliance_upload_url(w), again)
    assert done.status_code == 302 and Filing.objects.filter(institution=w.hospital).exists()


def test_alliance_rows_the_user_does_not_file_for_are_errors_when_they_change(w):
    # 桂圩镇卫生院 left the alliance after October: it is in the October workbook, but the alliance
    # office files only for today's members.
    membership = AllianceMembership.objects.get(institution=w.centre2)
    membership.valid_to = date(2026, 10, 31)
    membership.save()
    client = client_for(w.alliance_admin)
    book = download(client, workbook_url(w))
    assert w.centre2.pk in [book.active.cell(row=r, column=3).value for r in range(6, 9)]
    response = upload(client, alliance_upload_url(w), xlsx(fill_grid(book, {w.centre2.pk: CENTRE_VALUES})))
    texts = [i.text for i in response.context["errors"]]
    assert len(texts) == 1 and texts[0].startswith("第8行（桂圩镇卫生院）") and either(
        texts[0], "您不负责", "You do not file for")


def test_alliance_workbook_period_must_be_filable(w):
    client = client_for(w.bureau)
    for period, zh, en in (("2026Q3", "按月", "filed per"), ("2026-12", "尚未结束", "has not ended yet"),
                           ("2026-13", "2026-13", "2026-13"), ("x", "“x”", "“x”")):
        response = client.get(workbook_url(w, period=period))
        assert response.status_code == 400, period
        assert either(response.content.decode(), zh, en), (period, response.content.decode())
        page = client.get(alliance_upload_url(w, period=period))
        assert page.status_code == 400 and either(page.context["error"], zh, en)
    # Without a period: the latest due one (October on 3 November).
    ws = download(client, workbook_url(w, period=None)).active
    assert ws["A5"].value.endswith("period=2026-10")


def test_who_may_use_the_alliance_workbook(w):
    urls = [workbook_url(w), alliance_upload_url(w)]
    for user in (w.outsider, w.nobody, w.filer):  # the centre's filer does not see the alliance
        for url in urls:
            assert client_for(user).get(url).status_code == 404, (user, url)
            assert client_for(user).post(url, {}).status_code == 404, (user, url)
    for url in urls:
        assert client_for(w.supervisor).get(url).status_code == 403
        assert client_for(w.alliance_admin).get(url).status_code == 200
        assert client_for(w.bureau).get(url).status_code == 200
    # Alliance A's office does not see alliance B; a form of another county does not go with an alliance.
    assert client_for(w.alliance_admin).get(workbook_url(w, alliance=w.alliance_b)).status_code == 404
    foreign_form = install_forms(w.wy)[0]
    url = reverse("indicators:excel_alliance_workbook", kwargs={"form_pk": foreign_form.pk,
                                                                "alliance_pk": w.alliance_a.pk})
    assert client_for(w.bureau).get(url + "?period=2026-10").status_code == 404


def test_a_filing_template_is_refused_on_the_alliance_page(w):
    client = client_for(w.bureau)
    response = upload(client, alliance_upload_url(w), xlsx(download(client, template_url(w.filing))))
    texts = [i.text for i in response.context["errors"]]
    assert len(texts) == 1 and either(texts[0], "单份填报的模板", "template of one filing")


def _add_members(w, count: int):
    for n in range(count):
        centre = InstitutionFactory(county=w.yn, name=f"加测{n}镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
        MembershipFactory(institution=centre, alliance=w.alliance_a, valid_from=date(2020, 1, 1))


def test_alliance_preview_queries_do_not_grow_with_institutions(w):
    client = client_for(w.bureau)

    def preview_queries() -> int:
        book = download(client, workbook_url(w))
        ids = [book.active.cell(row=r, column=3).value for r in range(6, book.active.max_row + 1)]
        values = {pk: CENTRE_VALUES for pk in ids if isinstance(pk, int) and pk != w.hospital.pk}
        content = xlsx(fill_grid(book, values))
        with CaptureQueriesContext(connection) as ctx:
            response = upload(client, alliance_upload_url(w), content)
        assert response.context["plan"].ok and response.context["token"]
        return len(ctx.captured_queries)

    small = preview_queries()
    _add_members(w, 5)
    assert preview_queries() == small


def test_alliance_confirm_costs_a_constant_per_filing(w):
    client = client_for(w.bureau)
    _add_members(w, 2)

    def confirm_queries(rows: int) -> int:
        DataValue.objects.all().delete()
        ValueAudit.objects.all().delete()
        FilingEvent.objects.all().delete()
        Filing.objects.all().delete()
        book = download(client, workbook_url(w))
        ids = [book.active.cell(row=r, column=3).value for r in range(6, book.active.max_row + 1)]
        centres = [pk for pk in ids if isinstance(pk, int) and pk != w.hospital.pk][:rows]
        response = upload(client, alliance_upload_url(w), xlsx(fill_grid(book, {pk: CENTRE_VALUES
                                                                                 for pk in centres})))
        with CaptureQueriesContext(connection) as ctx:
            assert confirm(client, alliance_upload_url(w), response).status_code == 302
        assert Filing.objects.filter(values__isnull=False).distinct().count() == rows
        return len(ctx.captured_queries)

    one, two, three = confirm_queries(1), confirm_queries(2), confirm_queries(3)
    # Every filing is opened by the import: each costs the same.
    # open_filing: select, savepoint, insert, release; save_values: elements, version, values, insert
    # values, insert audits, event.
    assert three - two == two - one == 10
