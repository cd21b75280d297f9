"""Formula injection (issue 16, item 2): text a person typed never leaves the portal as a spreadsheet
formula, whatever it begins with (= + - @, a TAB, a CR).

The policy (``core/xlsx.py``): every export writes every text as a text cell; every importer keeps
text exactly as typed (a phone "+86…", a "-" are data, not attacks) and never evaluates a formula of
an uploaded file. So one world holds such texts in every register a person fills in, then every
export of the portal is downloaded through its page and opened with openpyxl: no cell is a formula
(``data_type`` "f") or an error value ("e"), and each export does carry the texts (else the check
would prove nothing). A sweep of the URL resolver makes sure no export is forgotten: every view that
answers .xlsx is in ``EXPORTS``.
"""

from __future__ import annotations

import inspect
import re
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from accounts.models import Role
from alliances.models import Alliance
from tests.conftest import client_for
from tests.factories import UserFactory, grant

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 7, 20, 10, 0, tzinfo=SH)


def eq(tag: str) -> str:
    """The probe's favourite: a live link when it becomes a formula."""
    return f'=HYPERLINK("http://evil.example","{tag}")'


AT = "@SUM(1+1)*cmd|' /C calc'!A0"
PLUS = "+1+cmd|' /C calc'!A0"
MINUS = "-2+3"
TAB = "\t=2+5"
CR = "\r=3+4"
DDE = "=cmd|'calc'!A0审计局"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what Excel reads as a formula when the cell is edited  # a department: no space, comma or slash (they separate units in a ledger cell)

# What each name of the world is.
NAMES = {
    "alliance_a": eq("第一医共体"), "alliance_b": AT + "第三医共体",
    "hospital": eq("县人民医院"), "tcm": PLUS + "县中医院", "centre": MINUS + "平台镇卫生院",
    "centre2": TAB + "桂圩镇卫生院", "centre_b": CR + "通门镇卫生院", "clinic": eq("大村卫生站"),
}
LEDGER_TITLE, NUMBERED_TITLE = eq("重点任务台账"), eq("编号台账")
ITEM_TEXT, PROGRESS_TEXT = eq("任务内容"), eq("本月进展")
SECTION = eq("深化改革行动")
FORM_NAME, ELEMENT_NAME, INDICATOR_NAME = eq("运行监测月报"), eq("自定义数据项"), eq("自定义指标")
STAFF_NAME, POST, PROVIDER = eq("员工"), eq("临床医师"), eq("培训基地")
FULL_NAME, COMMENTARY = eq("卫健局管理员"), eq("审核意见")
ACCOUNT_NAME = eq("统一采购账户")


def _rename(w) -> None:
    for attr, name in NAMES.items():
        obj = getattr(w, attr)
        type(obj).objects.filter(pk=obj.pk).update(name=name)
        obj.refresh_from_db()


@pytest.fixture
def evil(world, settings):
    """The test world with every name a person types made of formula-looking text, and one of
    everything the exports show: two ledgers with a progress report, a county form, element and
    indicator with a filing, an evaluation run, the scheduled reports of June 2026 / 2026Q2 / 2026H1
    (the quarterly one signed off), the 医保 budget, a budget, purchases, staff with a plan and a
    training, accounts, and an event of the security log."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    w = world
    _rename(w)
    Alliance.objects.filter(pk=w.alliance_a.pk).update(short_name=eq("一体"))
    w.bureau_admin.full_name = FULL_NAME
    w.bureau_admin.save(update_fields=["full_name"])
    w.security = UserFactory(username="yn_security", full_name=PLUS + "安全员", county=w.yn, phone="+8613800138000")
    grant(w.security, Role.SECURITY_ADMIN, w.yn)
    w.auditor = UserFactory(username="yn_auditor", full_name=MINUS + "审计员", county=w.yn)
    grant(w.auditor, Role.AUDITOR, w.yn)
    w.hr = UserFactory(username="yn_hr", full_name=AT, county=w.yn)
    grant(w.hr, Role.HR_OFFICER, w.yn)
    w.filer_hospital = UserFactory(username="yn_rmyy", full_name=CR + "填报员")
    grant(w.filer_hospital, Role.INSTITUTION_FILER, w.hospital)
    with time_machine.travel(NOW, tick=False):
        _ledgers(w)
        _filings(w)
        _finance(w)
        _staffing(w)
        _reports(w)
        _security_events(w)
    return w


def _ledgers(w) -> None:
    from tasks.models import Department, Ledger
    from tasks.services.ledgers import item_save, ledger_create
    from tasks.services.progress import progress_report_submit

    Department.objects.create(county=w.yn, name=DDE)
    w.ledger = ledger_create(county=w.yn, user=w.bureau, title=LEDGER_TITLE, year=2026, doc_number=PLUS,
                             issuer=AT, layout=Ledger.Layout.MANUAL)
    w.item = item_save(ledger=w.ledger, user=w.bureau, number="1.1", text=ITEM_TEXT, lead_units_text="各医共体",
                       coop_units_text=DDE, deadline_text="6月底", section_labels=[SECTION, eq("夯实管理责任")],
                       now=NOW)
    item_save(ledger=w.ledger, user=w.bureau, number="1.2", text=MINUS, lead_units_text=DDE,
              deadline_text=eq("时限"), section_labels=[SECTION], now=NOW)
    numbered = ledger_create(county=w.yn, user=w.bureau, title=NUMBERED_TITLE, year=2026,
                             layout=Ledger.Layout.NUMBERED)
    item_save(ledger=numbered, user=w.bureau, number="1", text=eq("编号任务"), lead_units_text=DDE,
              deadline_text="12月底", section_labels=["一 " + eq("章节")], now=NOW)
    # A control character (pasted from another program) cannot be held by an .xlsx: dropped, not a 500.
    item_save(ledger=numbered, user=w.bureau, number="2", text="响铃\x07任务", lead_units_text=DDE,
              deadline_text="12月底", now=NOW)
    assignment = w.item.assignments.get(alliance=w.alliance_a)
    progress_report_submit(assignment=assignment, user=w.alliance_admin, text=PROGRESS_TEXT, percent=40,
                           marks_complete=False, files=[SimpleUploadedFile("佐证.pdf", b"%PDF-1.4 test")],
                           period="2026-06", now=NOW)


def _filings(w) -> None:
    from indicators.catalog import install_catalog, install_forms
    from indicators.models import DataElement, FormElement, Indicator
    from tests.test_indicators_engine import file_values

    install_catalog()
    w.forms = {form.code: form for form in install_forms(w.yn, first_period="2026-01")}
    form = w.forms["MONTHLY_OPS"]
    type(form).objects.filter(pk=form.pk).update(name=FORM_NAME)
    form.refresh_from_db()
    w.form = form
    w.element = DataElement.objects.create(county=w.yn, code="YN_EVIL", name=ELEMENT_NAME, unit=PLUS)
    FormElement.objects.create(form=form, element=w.element, section=eq("自定义分组"), order=999, required=False)
    Indicator.objects.create(county=w.yn, code="YN_EVIL_RATE", name=INDICATOR_NAME, category=AT,
                             numerator="YN_EVIL", denominator="OP_VISITS", factor=100, unit_label="%")
    for month in range(1, 7):
        for institution in (w.hospital, w.centre):
            file_values(form, institution, _month(month), {"OP_VISITS": 1000})
    w.filing = file_values(form, w.centre, _month(6), {"OP_VISITS": 1200})


def _month(month: int):
    from core.periods import Period

    return Period.month(2026, month)


def _finance(w) -> None:
    from finance.models import (
        Budget,
        BudgetAmount,
        InsuranceBudget,
        Prepayment,
        ProcurementAccount,
        Purchase,
        SettlementRule,
    )

    insurance = InsuranceBudget.objects.create(alliance=w.alliance_a, year=2026, amount=Decimal("1200000"),
                                               note=eq("医保说明"))
    Prepayment.objects.create(budget=insurance, quarter=1, amount=Decimal("300000"), received_on=date(2026, 1, 10),
                              note=MINUS)
    SettlementRule.objects.create(county=w.yn, year=2026, surplus_retained=Decimal(80), bands=[["5", "70"]],
                                  warning_points=Decimal(5))
    w.budget = Budget.objects.create(alliance=w.alliance_a, year=2026, number=1, state=Budget.State.APPROVED,
                                     created_at=NOW, note=eq("预算调整原因"))
    BudgetAmount.objects.create(budget=w.budget, line="MED", amount=Decimal("1200000"))
    BudgetAmount.objects.create(budget=w.budget, institution=w.hospital, line="MED", amount=Decimal("1000000"))
    ProcurementAccount.objects.create(alliance=w.alliance_a, name=ACCOUNT_NAME, bank=AT, number="6228480012345678")
    Purchase.objects.create(alliance=w.alliance_a, county=w.yn, institution=w.hospital, month="2026-03",
                            category="drugs", amount=Decimal("1000.00"))


def _staffing(w) -> None:
    from staffing import services
    from staffing.models import Establishment, Population, RecruitmentPlan, TrainingRecord

    w.staff = services.upsert(w.yn.pk, "445322198503152012", {
        "name": STAFF_NAME, "institution": w.hospital, "employment": "established", "profession": "doctor",
        "education": "bachelor", "title": "intermediate", "hired_on": date(2010, 7, 1)})[0]
    services.upsert(w.yn.pk, "445322199206203324", {
        "name": PLUS + "护士", "institution": w.centre, "employment": "established", "profession": "nurse",
        "education": "college", "hired_on": date(2016, 8, 1), "contract_end": date(2026, 9, 1)})
    for institution in (w.hospital, w.centre, w.centre2):
        Establishment.objects.create(institution=institution, approved=10, document=eq("编制文件"))
    Population.objects.create(county=w.yn, year=2026, residents=10000)
    RecruitmentPlan.objects.create(alliance=w.alliance_a, institution=w.centre, year=2026, post=POST,
                                   profession="gp", planned=2, note=eq("招聘备注"))
    TrainingRecord.objects.create(staff=w.staff, kind="gp_conversion", provider=PROVIDER, start=date(2026, 3, 1))


def _reports(w) -> None:
    from core.periods import Period
    from indicators.models import EvaluationScheme
    from indicators.services.evaluation import evaluation_run
    from reports import services
    from reports.models import Report

    scheme = EvaluationScheme.objects.get(code="ANNEX6_QUARTERLY", county=None)
    w.run = evaluation_run(scheme=scheme, county=w.yn, period="2026Q2")
    made = [
        services.create_report("monthly", w.yn, Period.parse("2026-06"), now=NOW)[0],
        services.create_report("monthly", w.yn, Period.parse("2026-06"), alliance=w.alliance_a, now=NOW)[0],
        services.create_report("late", w.yn, Period.parse("2026-06"), now=NOW)[0],
        services.create_report("quarterly", w.yn, Period.parse("2026Q2"), now=NOW)[0],
        services.create_report("finance_half", w.yn, Period.parse("2026H1"), alliance=w.alliance_a, now=NOW)[0],
    ]
    for report in made:
        services.process(report.pk, NOW)
    quarterly = Report.objects.get(pk=made[3].pk)
    assert services.sign_off(quarterly, user=w.bureau_admin, commentary=COMMENTARY, now=NOW)
    services.process(quarterly.pk, NOW)
    w.reports = {r.kind + ("_alliance" if r.alliance_id else ""): r for r in Report.objects.filter(pk__in=[
        r.pk for r in made])}


def _security_events(w) -> None:
    from core import audit

    audit.record(audit.Event.USER_EDIT, actor=w.security, target=w.bureau_admin,
                 details={"before": {"full_name": "张三"}, "after": {"full_name": FULL_NAME}})


# Every export of the portal: (what, user attribute, URL or URL maker, expected texts) ------------------

def _url_kw(name: str, **kwargs) -> str:
    from django.urls import reverse

    return reverse(name, kwargs=kwargs)


def _exports(w) -> list[tuple[str, object, str, list[str]]]:
    from reports.models import ReportVersion

    yn, a = w.yn.pk, w.alliance_a.pk
    exports = [
        ("county structure", w.bureau, _url_kw("alliances:region_structure_xlsx", region_pk=yn),
         [NAMES["alliance_a"], NAMES["hospital"], NAMES["centre_b"]]),
        ("institution register (机构名册)", w.bureau, _url_kw("alliances:region_institutions_xlsx", region_pk=yn),
         [NAMES["hospital"], NAMES["clinic"], NAMES["alliance_a"], NAMES["centre2"]]),
        ("alliance members (医共体成员名册)", w.bureau, _url_kw("alliances:region_memberships_xlsx", region_pk=yn),
         [NAMES["alliance_a"], NAMES["hospital"], NAMES["centre2"]]),
        ("ledger, manual layout", w.bureau, _url_kw("tasks:ledger_xlsx", ledger_pk=w.ledger.pk),
         [LEDGER_TITLE, SECTION, ITEM_TEXT, DDE, PROGRESS_TEXT, eq("时限")]),
        ("ledger, numbered layout", w.bureau,
         _url_kw("tasks:ledger_xlsx", ledger_pk=w.ledger.county.ledgers.get(title=NUMBERED_TITLE).pk),
         [NUMBERED_TITLE, eq("编号任务"), DDE, "响铃任务"]),
        ("督办 list", w.supervisor, _url_kw("tasks:assignment_list_xlsx"), [LEDGER_TITLE, ITEM_TEXT, eq("一体"), DDE]),
        ("filing template", w.filer, _url_kw("indicators:excel_filing_template", filing_pk=w.filing.pk),
         [FORM_NAME, ELEMENT_NAME, PLUS]),
        ("alliance workbook", w.alliance_admin,
         _url_kw("indicators:excel_alliance_workbook", form_pk=w.form.pk, alliance_pk=a) + "?period=2026-06",
         [NAMES["hospital"], ELEMENT_NAME]),
        ("indicator table", w.bureau, _url_kw("indicators:indicator_export") + f"?county={yn}&period=2026-06",
         [INDICATOR_NAME]),
        ("indicator table of an alliance's members", w.bureau,
         _url_kw("indicators:indicator_export") + f"?alliance={a}&period=2026-06", [INDICATOR_NAME]),
        ("评价表", w.bureau, _url_kw("indicators:evaluation_xlsx", run_pk=w.run.pk),
         [NAMES["alliance_a"], NAMES["hospital"]]),
        ("医保 settlement", w.bureau, _url_kw("finance:insurance_xlsx") + f"?county={yn}&year=2026",
         [NAMES["alliance_a"], NAMES["hospital"]]),
        ("budget", w.alliance_admin, _url_kw("finance:budget_export", budget_pk=w.budget.pk), [NAMES["hospital"]]),
        ("procurement", w.alliance_admin, _url_kw("finance:procurement_export") + f"?alliance={a}&year=2026",
         [NAMES["hospital"], ACCOUNT_NAME]),
        ("roster", w.hr, _url_kw("staffing:roster_export") + f"?county={yn}", [STAFF_NAME, NAMES["hospital"]]),
        ("roster import template", w.hr, _url_kw("staffing:roster_import") + "?template=1", [NAMES["hospital"]]),
        ("establishment", w.bureau, _url_kw("staffing:overview") + f"?county={yn}&alliance={a}&format=xlsx",
         [NAMES["hospital"]]),
        ("talent targets", w.bureau, _url_kw("staffing:targets") + f"?county={yn}&format=xlsx", []),
        ("recruitment plans", w.bureau, _url_kw("staffing:plans") + "?year=2026&format=xlsx", [POST]),
        ("trainings", w.bureau, _url_kw("staffing:trainings") + "?year=2026&format=xlsx", [PROVIDER, STAFF_NAME]),
        ("user accounts", w.security, _url_kw("security:user_export"), [FULL_NAME, PLUS + "安全员"]),
        ("user import template", w.security, _url_kw("security:user_import_template"),
         [NAMES["hospital"], NAMES["alliance_a"]]),
        ("security log", w.auditor, _url_kw("security:event_export"), [FULL_NAME, COMMENTARY]),
    ]
    expected_by_kind = {
        "monthly": [LEDGER_TITLE, SECTION, ITEM_TEXT, PROGRESS_TEXT, FORM_NAME, NAMES["centre2"]],
        "monthly_alliance": [LEDGER_TITLE, ITEM_TEXT, PROGRESS_TEXT],
        "late": [NAMES["centre2"], FORM_NAME],
        "quarterly": [NAMES["alliance_a"], NAMES["hospital"]],
        "finance_half_alliance": [],
    }
    for key, report in w.reports.items():
        for version in ReportVersion.objects.filter(report=report).exclude(xlsx=None).order_by("number"):
            expected = list(expected_by_kind[key])
            if version.number > 1:
                expected += [COMMENTARY, FULL_NAME]  # the signed version's 审核意见 sheet
            exports.append((f"scheduled report {key} v{version.number}", w.bureau,
                            _url_kw("reports:download", version_pk=version.pk), expected))
    return exports


def _text_cells(content: bytes):
    book = load_workbook(BytesIO(content))
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    yield ws.title, cell


def _formula_problems(label: str, content: bytes, expected: list[str]) -> list[str]:
    problems, values = [], []
    for sheet, cell in _text_cells(content):
        where = f"{label}: {sheet}!{cell.coordinate}"
        if cell.data_type in ("f", "e"):
            problems.append(f"{where} is a {'formula' if cell.data_type == 'f' else 'error'} cell: {cell.value!r}")
        if isinstance(cell.value, str):
            values.append(cell.value)
            if cell.value.startswith(FORMULA_STARTS) and not cell.quotePrefix:
                # Excel would make it a formula when the cell is edited (F2, Enter).
                problems.append(f"{where} is text that begins like a formula without the quote prefix: "
                                f"{cell.value!r}")
    for text in expected:
        if not any(text.strip() in value for value in values):
            problems.append(f"{label}: the export does not carry {text!r} (the check would prove nothing)")
    return problems


def test_no_export_turns_typed_text_into_a_formula(evil):
    w = evil
    problems, seen = [], 0
    with time_machine.travel(NOW, tick=False):
        for label, user, url, expected in _exports(w):
            response = client_for(user).get(url)
            if response.status_code != 200 or "spreadsheetml" not in response.get("Content-Type", ""):
                problems.append(f"{label}: {url} answered {response.status_code} {response.get('Content-Type')}")
                continue
            seen += 1
            problems += _formula_problems(label, response.content, expected)
    assert not problems, "\n".join(problems)
    assert seen >= 27


# Every view that answers .xlsx is among the exports above ---------------------------------------------

XLSX_MARKERS = re.compile(r'xlsx_response\(|XLSX_CONTENT_TYPE|spreadsheetml|== "xlsx"')
# Routes that answer .xlsx but are not exports of stored text: the one-time passwords are walked in
# tests/test_formula_injection.py::test_importers_keep_typed_text_and_exports_give_it_back_as_text.
# The city's 季度汇总表 needs signed-off quarterly tables of several counties of a city: a county
# named "=1+1区" is walked in tests/test_city_rollup.py::test_the_summary_workbook.
NOT_WALKED_HERE = {"security:user_import_passwords", "reports:city_summary_xlsx"}


def test_every_xlsx_view_is_walked():
    from tests.test_scope_sweep import _portal_routes

    walked = {
        "alliances:region_structure_xlsx", "alliances:region_institutions_xlsx", "alliances:region_memberships_xlsx",
        "tasks:ledger_xlsx",
        "tasks:assignment_list_xlsx", "indicators:excel_filing_template", "indicators:excel_alliance_workbook",
        "indicators:indicator_export", "indicators:evaluation_xlsx", "finance:insurance_xlsx", "finance:budget_export",
        "finance:procurement_export", "staffing:roster_export", "staffing:roster_import", "staffing:overview",
        "staffing:targets", "staffing:plans", "staffing:trainings", "security:user_export",
        "security:user_import_template", "security:event_export", "reports:download",
    }
    answering = set()
    for route in _portal_routes():
        callback = inspect.unwrap(route.callback)
        try:
            source = inspect.getsource(callback)
        except (OSError, TypeError):
            continue
        if XLSX_MARKERS.search(source) or route.name.endswith(("xlsx", "_export")):
            answering.add(route.name)
    assert answering - NOT_WALKED_HERE <= walked, sorted(answering - NOT_WALKED_HERE - walked)
    assert walked <= answering | {"reports:download"}, sorted(walked - answering)


# Imports: text kept as typed, numbers refused by their cell, exported back as text ----------------------

def _text_book(rows: list[list], *, title: str = "Sheet") -> bytes:
    """An .xlsx whose str values are text cells (as Excel keeps "'=…" or a cell formatted as text)."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = title
    for values in rows:
        ws.append(values)
    _as_text(book)
    return _bytes(book)


def _as_text(book) -> None:
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"


def _bytes(book) -> bytes:
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def _exported_as_text(response, expected: list[str]) -> None:
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"], response.status_code
    problems = _formula_problems(response.wsgi_request.path, response.content, expected)
    assert not problems, "\n".join(problems)


@pytest.fixture
def named(world):
    """The test world with the names of ``NAMES``, trimmed as every form, import and the API store them
    (the TAB and CR before "=" gone)."""
    _rename(world)
    for attr in NAMES:
        obj = getattr(world, attr)
        type(obj).objects.filter(pk=obj.pk).update(name=obj.name.strip())
        obj.refresh_from_db()
    return world


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_the_register_import_keeps_names_as_typed_and_exports_them_as_text(named, file_format):
    from django.urls import reverse

    from alliances.models import AllianceMembership, Institution

    w = named
    header = ["序号", "机构名称", "简称", "机构类别", "所属卫生院", "统一社会信用代码", "床位数", "服务人口", "所属医共体", "角色",
              "加入日期", "状态"]
    rows = [["郁南县医疗卫生机构名册"], header,
            [1, eq("新卫生院"), PLUS, "乡镇卫生院", None, None, 20, 8000, NAMES["alliance_a"], "成员单位", "2026-07-01",
             "在用"],
            [2, MINUS + "新卫生室", AT, "村卫生室", eq("新卫生院"), None, None, None, None, None, None, "在用"]]
    if file_format == "xlsx":
        content = _text_book(rows)
    else:
        import csv
        import io

        text = io.StringIO()
        csv.writer(text).writerows(rows)
        content = text.getvalue().encode("utf-8")
    url = reverse("alliances:region_institutions_import", kwargs={"region_pk": w.yn.pk})
    client = client_for(w.bureau)
    with time_machine.travel(NOW, tick=False):
        preview = client.post(url, {"file": _upload(content, f"名册.{file_format}")})
        assert preview.status_code == 200 and preview.context["token"], preview.context.get("issues")
        assert client.post(url, {"token": preview.context["token"]}).status_code == 302
        centre = Institution.objects.get(county=w.yn, name=eq("新卫生院"))
        assert centre.short_name == PLUS
        clinic = Institution.objects.get(county=w.yn, name=MINUS + "新卫生室")
        assert clinic.short_name == AT and clinic.parent == centre
        assert AllianceMembership.objects.get(institution=centre).alliance == w.alliance_a
        export = client.get(reverse("alliances:region_institutions_xlsx", kwargs={"region_pk": w.yn.pk}))
    _exported_as_text(export, [eq("新卫生院"), MINUS + "新卫生室", PLUS, AT, NAMES["alliance_a"]])


def test_the_ledger_import_keeps_texts_as_typed_and_exports_them_as_text(named):
    from django.urls import reverse

    from tasks.models import Department, Ledger

    w = named
    rows = [[LEDGER_TITLE], ["文号：" + PLUS, None, "发文机关：" + AT, None, "年度：2026"],
            ["序号", "重点工作", "责任部门", "配合部门", "时限要求"],
            ["一", SECTION],
            [1, ITEM_TEXT, DDE, None, "12月底"],
            [2, MINUS, DDE, None, eq("时限")]]
    url = reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk})
    client = client_for(w.bureau)
    with time_machine.travel(NOW, tick=False):
        preview = client.post(url, {"file": _upload(_text_book(rows), "台账.xlsx")})
        assert preview.status_code == 200 and preview.context["token"]
        unknown = list(preview.context["plan"].unknown)
        done = client.post(url, {"token": preview.context["token"], "confirm": "1", "unit_name": unknown,
                                 "unit_decision": ["create_other"] * len(unknown)})
        assert done.status_code == 302, done.content.decode()[:2000]
        ledger = Ledger.objects.get(county=w.yn, title=LEDGER_TITLE)
        items = {item.number: item for item in ledger.items.all()}
        assert items["1"].text == ITEM_TEXT and items["2"].text == MINUS
        assert items["2"].deadline_text == eq("时限")
        assert unknown == [DDE]
        assert Department.objects.filter(county=w.yn, name__endswith=DDE).exists()  # created with the 县 prefix
        assert {a.unit_name for a in items["1"].assignments.all()} == {"县" + DDE}
        export = client.get(reverse("tasks:ledger_xlsx", kwargs={"ledger_pk": ledger.pk}))
    _exported_as_text(export, [LEDGER_TITLE, ITEM_TEXT, DDE, eq("时限")])


def test_the_roster_import_keeps_names_as_typed_and_exports_them_as_text(named):
    from django.urls import reverse

    from staffing.models import Staff

    w = named
    hr = UserFactory(username="yn_hr_import")
    grant(hr, Role.HR_OFFICER, w.yn)
    header = ["姓名", "身份证号", "工作单位", "编制所在单位", "人员类别", "编制性质", "专业类别", "岗位类别", "职称", "学历",
              "入职日期", "合同到期日", "离职日期"]
    people = [[STAFF_NAME, "445322198503152012", NAMES["hospital"], None, "在编", None, "医师", None, None, "本科",
               "2020-07-01", None, None],
              [TAB + "护士", "445322199206203324", NAMES["centre2"].strip(), None, "在编", None, "护士", None, None, "大专",
               "2020-07-01", None, None]]
    client = client_for(hr)
    with time_machine.travel(NOW, tick=False):
        preview = client.post(reverse("staffing:roster_import"),
                              {"file": _upload(_text_book([header, *people], title="花名册"), "花名册.xlsx")})
        assert preview.status_code == 200, preview.content.decode()[:3000]
        assert client.post(reverse("staffing:roster_import_confirm")).status_code == 302
        # Kept as typed; a cell is trimmed at its ends like any other (the TAB before "=2+5").
        assert set(Staff.objects.filter(county=w.yn).values_list("name", flat=True)) == {STAFF_NAME, TAB.strip() + "护士"}
        export = client.get(reverse("staffing:roster_export") + f"?county={w.yn.pk}")
    _exported_as_text(export, [STAFF_NAME, TAB.strip() + "护士", NAMES["hospital"], NAMES["centre2"].strip()])


def test_the_user_import_keeps_names_as_typed_and_exports_them_as_text(named):
    from django.urls import reverse
    from django.utils import translation

    from accounts.models import User

    w = named
    security = UserFactory(username="yn_security_import", county=w.yn)
    grant(security, Role.SECURITY_ADMIN, w.yn)
    with translation.override("zh-hans"):
        filer, viewer = str(Role.INSTITUTION_FILER.label), str(Role.ALLIANCE_ADMIN.label)
    rows = [["姓名", "用户名", "手机", "邮箱", "单位", "角色"],
            [eq("李一"), "li_yi", "+8613800000001", "li1@example.com", NAMES["hospital"], filer],
            [AT, "li_er", "", "", NAMES["alliance_a"], viewer]]
    client = client_for(security)
    with time_machine.travel(NOW, tick=False):
        preview = client.post(reverse("security:user_import"),
                              {"file": _upload(_text_book(rows, title="用户"), "users.xlsx"), "county": w.yn.pk})
        assert preview.status_code == 200 and preview.context["token"], preview.content.decode()[:3000]
        done = client.post(reverse("security:user_import_confirm"),
                           {"token": preview.context["token"], "county": w.yn.pk})
        assert done.status_code in (200, 302)
        assert User.objects.get(username="li_yi").full_name == eq("李一")
        assert User.objects.get(username="li_er").full_name == AT
        batch = done.context["batch"] if done.status_code == 200 else None
        passwords = client.post(reverse("security:user_import_passwords"), {"batch": batch} if batch else {})
        export = client.get(reverse("security:user_export"))
    _exported_as_text(passwords, [eq("李一"), AT, NAMES["hospital"]])
    _exported_as_text(export, [eq("李一"), AT])


def test_figures_that_look_like_formulas_are_refused_by_their_cell_and_nothing_is_saved(named):
    """The numeric importers (filing template, alliance workbook, budget, procurement) take their own
    export back; a figure typed as "=1+1", "-2+3" or "@SUM(1)" is not a number: refused with the cell
    named, nothing saved. The names in the files (members as column titles or rows) still match."""
    from django.urls import reverse

    from finance.models import Budget, BudgetAmount, Purchase
    from indicators.catalog import install_catalog, install_forms
    from indicators.models import DataValue
    from indicators.services.filings import open_filing

    w = named
    install_catalog()
    form = {f.code: f for f in install_forms(w.yn, first_period="2026-01")}["MONTHLY_OPS"]
    with time_machine.travel(NOW, tick=False):
        filing = open_filing(form, w.centre, _month(6), user=w.filer)
        filer = client_for(w.filer)
        template = load_workbook(BytesIO(filer.get(
            reverse("indicators:excel_filing_template", kwargs={"filing_pk": filing.pk})).content))
        ws = template.active
        value_rows = [r for r in range(5, ws.max_row + 1) if ws.cell(row=r, column=7).value]
        for row, text in zip(value_rows, ("=1+1", MINUS, "@SUM(1)"), strict=False):
            ws.cell(row=row, column=4).value = text
        _as_text(template)
        refused = filer.post(reverse("indicators:excel_filing_upload", kwargs={"filing_pk": filing.pk}),
                             {"file": _upload(_bytes(template), "填报.xlsx")})
        messages = [i.text for i in refused.context["errors"]]
        assert refused.context["token"] is None and len(messages) >= 3, messages
        assert any("D" in m and "=1+1" in m for m in messages), messages
        assert not DataValue.objects.filter(filing=filing).exists()

        office = client_for(w.alliance_admin)
        kwargs = {"form_pk": form.pk, "alliance_pk": w.alliance_a.pk}
        book = load_workbook(BytesIO(office.get(
            reverse("indicators:excel_alliance_workbook", kwargs=kwargs) + "?period=2026-06").content))
        ws = book.active
        assert any(ws.cell(row=r, column=2).value == NAMES["hospital"] for r in range(6, ws.max_row + 1))
        ws.cell(row=6, column=4).value = "=1+1"
        _as_text(book)
        refused = office.post(reverse("indicators:excel_alliance_upload", kwargs=kwargs) + "?period=2026-06",
                              {"file": _upload(_bytes(book), "医共体.xlsx")})
        messages = [i.text for i in refused.context["errors"]]
        assert refused.context["token"] is None and any("D6" in m or "D列" in m for m in messages), messages
        assert not DataValue.objects.exists()

        budget = Budget.objects.create(alliance=w.alliance_a, year=2026, number=1, created_at=NOW)
        book = load_workbook(BytesIO(office.get(reverse("finance:budget_export", kwargs={"budget_pk": budget.pk}))
                                     .content))
        ws = book.active
        titles = {ws.cell(row=4, column=c).value: c for c in range(1, ws.max_column + 1)}
        assert NAMES["hospital"] in titles  # a member's name, "=…" and all, is a column title
        ws.cell(row=5, column=titles[NAMES["hospital"]]).value = "=1+1"
        _as_text(book)
        import_url = reverse("finance:budget_import", kwargs={"budget_pk": budget.pk})
        refused = office.post(import_url, {"file": _upload(_bytes(book), "预算.xlsx")})
        assert refused.status_code == 400 and "“=1+1”" in refused.content.decode()
        assert not BudgetAmount.objects.exists()
        ws.cell(row=5, column=titles[NAMES["hospital"]]).value = "1,000.00"
        preview = office.post(import_url, {"file": _upload(_bytes(book), "预算.xlsx")})
        assert preview.status_code == 200, re.findall(r"第\d+行[^<]*", preview.content.decode())
        assert office.post(reverse("finance:budget_import_confirm", kwargs={"budget_pk": budget.pk})).status_code == 302
        assert BudgetAmount.objects.get(institution=w.hospital).amount == Decimal("1000.00")

        export = office.get(reverse("finance:procurement_export") + f"?alliance={w.alliance_a.pk}&year=2026")
        book = load_workbook(BytesIO(export.content))
        ws = book["采购明细"]
        row = next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=2).value == NAMES["hospital"])
        ws.cell(row=row, column=3).value = "=1+1"
        _as_text(book)
        import_url = reverse("finance:procurement_import", kwargs={"alliance_pk": w.alliance_a.pk})
        refused = office.post(import_url, {"file": _upload(_bytes(book), "采购.xlsx")})
        assert "“=1+1”" in refused.content.decode() and not Purchase.objects.exists()
        ws.cell(row=row, column=3).value = "2,000.00"
        assert office.post(import_url, {"file": _upload(_bytes(book), "采购.xlsx")}).status_code == 200
        assert office.post(import_url + "confirm/").status_code == 302
        assert Purchase.objects.get(institution=w.hospital).amount == Decimal("2000.00")


def test_a_formula_in_an_uploaded_workbook_is_read_as_the_value_excel_saved(named):
    """Importers never evaluate or keep a formula of the file: they read the value Excel saved with it."""
    import zipfile

    from openpyxl import Workbook

    from core import uploads

    book = Workbook()
    book.active["A1"] = '=HYPERLINK("http://evil.example","点")'
    book.active["A2"] = "=1+1"
    raw = _bytes(book)
    with zipfile.ZipFile(BytesIO(raw)) as source:
        entries = {info.filename: source.read(info.filename) for info in source.infolist()}
    sheet = entries["xl/worksheets/sheet1.xml"].decode()
    # What Excel writes: the formula and its last value.
    sheet = re.sub(r'<c r="A1"([^>]*)><f>(.*?)</f><v\s*/?>(</v>)?', r'<c r="A1" t="str"><f>\2</f><v>点</v>', sheet)
    sheet = re.sub(r'<c r="A2"([^>]*)><f>(.*?)</f><v\s*/?>(</v>)?', r'<c r="A2"><f>\2</f><v>2</v>', sheet)
    entries["xl/worksheets/sheet1.xml"] = sheet.encode()
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries.items():
            target.writestr(name, data)
    workbook = uploads.Workbook(out.getvalue())
    assert [values for _number, values in workbook.rows(1)] == [["点"], [2]]
