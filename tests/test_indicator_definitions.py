"""The definitions the county bureau keeps: data elements, report forms with their rows, indicators
and validation rules. The bureau creates and edits its county's own rows; everyone of the county
reads them with the shared catalogue; the shared catalogue is read-only (403); another county's
user gets 404 everywhere; formulas are parsed (never evaluated) and a bad one is refused naming the
unknown code or the position of the syntax error; list pages cost the same queries for 2 rows as for
many. Messages introduced by these pages are compared through ``gettext`` (the lead merges their
Chinese); messages of ``indicators.formula`` are already Chinese and compared literally."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.translation import gettext as _

from alliances.models import Institution
from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataElement, FormElement, Indicator, ReportForm, ValidationRule
from indicators.services.filings import open_filing
from tests.conftest import client_for
from tests.factories import TEST_PASSWORD
from tests.test_browser import artifacts_dir, body_text, browser, page  # noqa: F401

SH = ZoneInfo("Asia/Shanghai")
K = Institution.Kind
BUREAU_ONLY = ("Only the county health bureau changes the data elements, report forms, indicators and "
               "validation rules of the county.")
SHARED_ONLY = ("This row belongs to the shared catalogue: every county reads it, and only the system "
               "administrator changes it.")


@pytest.fixture
def catalogue(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn, first_period="2026-01")}
    world.shared = {e.code: e for e in DataElement.objects.filter(county=None)}
    world.local = DataElement.objects.create(county=world.yn, code="YN_HOME_VISITS", name="家庭医生上门服务人次",
                                             unit="人次")
    world.foreign_element = DataElement.objects.create(county=world.wy, code="WY_LOCAL", name="万源市自定义数据项")
    world.local_indicator = Indicator.objects.create(
        county=world.yn, code="YN_HOME_RATE", name="家庭医生上门服务占比", numerator="YN_HOME_VISITS",
        denominator="OP_VISITS@primary", factor=Decimal("100"), unit_label="%")
    world.local_rule = ValidationRule.objects.create(
        county=world.yn, code="YN_R_HOME", left="YN_HOME_VISITS", operator="le", right="OP_VISITS",
        severity="warning", message="上门服务人次不能大于门急诊人次")
    return world


def _page(response) -> str:
    return response.content.decode()


def form_post(*, rows, **header) -> dict:
    """POST data of the report form page: the header (prefix ``form``) and its rows (prefix ``rows``)."""
    data = {"form-code": "YN_PRIMARY", "form-name": "郁南县基层服务月报", "form-period_kind": "month",
            "form-filer_level": "institution", "form-institution_kinds": [K.TOWNSHIP_HEALTH_CENTRE],
            "form-due_day": "5", "form-lock_day": "20", "form-first_period": "2026-01", "form-description": "",
            "form-is_active": "on"}
    data.update({f"form-{key}": value for key, value in header.items()})
    data.update({"rows-TOTAL_FORMS": str(len(rows)), "rows-MIN_NUM_FORMS": "0", "rows-MAX_NUM_FORMS": "1000",
                 "rows-INITIAL_FORMS": str(sum(1 for row in rows if row.get("id")))})
    for index, row in enumerate(rows):
        for key, value in row.items():
            if value is True:
                value = "on"
            if value is False or value is None:
                continue
            data[f"rows-{index}-{key}"] = value
    return data


# Data elements ------------------------------------------------------------------------------

def test_bureau_creates_an_element_listed_with_the_shared_catalogue(catalogue):
    w = catalogue
    client = client_for(w.bureau)
    response = client.post(reverse("indicators:element_create", kwargs={"region_pk": w.yn.pk}), {
        "code": "yn_referrals_up", "name": "上转患者人次", "unit": "人次", "value_type": "integer",
        "aggregation": "sum", "outlier": "zscore", "outlier_threshold": "3", "is_active": "on"})
    assert response.status_code == 302
    element = DataElement.objects.get(code="YN_REFERRALS_UP")  # upper-cased
    assert (element.county, element.name, element.unit, element.outlier) == (w.yn, "上转患者人次", "人次", "zscore")

    html = _page(client.get(reverse("indicators:element_list", kwargs={"region_pk": w.yn.pk})))
    assert "上转患者人次" in html and "YN_REFERRALS_UP" in html
    # The shared catalogue is listed with its badge, and the forms of the county that carry an element.
    assert "门急诊人次（诊疗人次）" in html and _("Shared catalogue") in html
    assert "医共体成员单位运行监测月报" in html
    # Another county's element is not.
    assert "万源市自定义数据项" not in html

    search = _page(client.get(reverse("indicators:element_list", kwargs={"region_pk": w.yn.pk}),
                              {"q": "床日", "origin": "shared"}))
    assert "实际开放总床日数" in search and "门急诊人次（诊疗人次）" not in search and "上转患者人次" not in search


def test_element_code_must_be_new_in_the_county_and_well_formed(catalogue):
    w = catalogue
    client = client_for(w.bureau)
    url = reverse("indicators:element_create", kwargs={"region_pk": w.yn.pk})
    before = DataElement.objects.count()
    base = {"name": "重复", "value_type": "integer", "aggregation": "sum", "outlier": "none",
            "outlier_threshold": "3"}
    response = client.post(url, {**base, "code": "op_visits"})
    assert response.status_code == 200
    assert response.context["form"].errors["code"] == [
        _("The code %(code)s is already used in the county or the shared catalogue.") % {"code": "“OP_VISITS”"}]
    response = client.post(url, {**base, "code": "1ABC"})
    assert response.context["form"].errors["code"] == [
        _("Use letters, digits and underscores only, starting with a letter.")]
    response = client.post(url, {**base, "code": "YN_X", "min_value": "10", "max_value": "5"})
    assert response.context["form"].errors["max_value"] == [
        _("The maximum must not be below the minimum (%(min)s).") % {"min": Decimal("10")}]
    assert DataElement.objects.count() == before
    # Another county may use a code 郁南县 uses: codes are per county.
    assert not DataElement.objects.filter(county=w.yn, code="WY_LOCAL").exists()
    assert client.post(url, {**base, "code": "WY_LOCAL", "name": "郁南县同名代码"}).status_code == 302


def test_edit_keeps_the_code(catalogue):
    w = catalogue
    client = client_for(w.bureau_admin)
    url = reverse("indicators:element_edit", kwargs={"element_pk": w.local.pk})
    response = client.post(url, {"code": "CHANGED", "name": "家庭医生上门服务人次（含随访）", "unit": "人次",
                                 "value_type": "integer", "aggregation": "sum", "outlier": "range",
                                 "outlier_threshold": "0.5", "is_active": "on"})
    assert response.status_code == 302
    w.local.refresh_from_db()
    assert (w.local.code, w.local.name, w.local.outlier, w.local.outlier_threshold) == (
        "YN_HOME_VISITS", "家庭医生上门服务人次（含随访）", "range", Decimal("0.50"))


# Report forms -------------------------------------------------------------------------------

def test_a_form_with_rows_is_created_then_rows_removed_reordered_and_added(catalogue):
    w = catalogue
    client = client_for(w.bureau)
    s = w.shared
    response = client.post(reverse("indicators:report_form_create", kwargs={"region_pk": w.yn.pk}), form_post(
        rows=[
            {"element": s["OP_VISITS"].pk, "section": "医疗服务", "order": "", "required": True},
            {"element": s["DISCHARGES"].pk, "section": "医疗服务", "order": "5", "required": False,
             "institution_kinds": [K.CENTRAL_HEALTH_CENTRE]},
            {"element": w.local.pk, "section": "家庭医生", "order": "", "required": True},
            {"element": "", "section": "", "order": "", "required": True},  # a blank extra row is ignored
        ],
        institutions=[str(w.hospital.pk)]))
    assert response.status_code == 302, response.context and (response.context["form"].errors,
                                                              response.context["rows"].errors)
    form = ReportForm.objects.get(county=w.yn, code="YN_PRIMARY")
    assert response["Location"] == reverse("indicators:report_form_detail", kwargs={"form_pk": form.pk})
    assert (form.period_kind, form.institution_kinds, form.due_day, form.lock_day, form.first_period) == (
        "month", [K.TOWNSHIP_HEALTH_CENTRE], 5, 20, "2026-01")
    assert list(form.institutions.all()) == [w.hospital]
    rows = list(form.form_elements.order_by("order").values_list("element__code", "section", "order", "required",
                                                                 "institution_kinds"))
    # Rows without an order go after the last one, ten apart.
    assert rows == [("DISCHARGES", "医疗服务", 5, False, [K.CENTRAL_HEALTH_CENTRE]),
                    ("OP_VISITS", "医疗服务", 10, True, []),
                    ("YN_HOME_VISITS", "家庭医生", 20, True, [])]

    by_code = {row.element.code: row for row in form.form_elements.select_related("element")}
    response = client.post(reverse("indicators:report_form_edit", kwargs={"form_pk": form.pk}), form_post(
        rows=[
            {"id": by_code["DISCHARGES"].pk, "form": form.pk, "element": s["DISCHARGES"].pk, "section": "医疗服务",
             "order": "5", "DELETE": True},
            {"id": by_code["OP_VISITS"].pk, "form": form.pk, "element": s["OP_VISITS"].pk, "section": "医疗服务",
             "order": "30", "required": True},
            {"id": by_code["YN_HOME_VISITS"].pk, "form": form.pk, "element": w.local.pk, "section": "家庭医生",
             "order": "20", "required": True},
            {"element": s["DISCHARGES"].pk, "section": "住院", "order": "", "required": True},
        ],
        code="IGNORED", name="郁南县基层服务月报（修订）", institutions=[]))
    assert response.status_code == 302
    form.refresh_from_db()
    assert (form.code, form.name) == ("YN_PRIMARY", "郁南县基层服务月报（修订）")
    assert list(form.institutions.all()) == []
    rows = list(form.form_elements.order_by("order").values_list("element__code", "section", "order"))
    # DISCHARGES was removed and added again in the same post, at the end (after order 30).
    assert rows == [("YN_HOME_VISITS", "家庭医生", 20), ("OP_VISITS", "医疗服务", 30), ("DISCHARGES", "住院", 40)]


def test_detail_groups_rows_by_section_and_shows_an_example_of_the_deadlines(catalogue):
    w = catalogue
    form = w.forms["MONTHLY_OPS"]
    with time_machine.travel(datetime(2026, 6, 10, 9, 0, tzinfo=SH), tick=False):
        response = client_for(w.filer).get(reverse("indicators:report_form_detail", kwargs={"form_pk": form.pk}))
    assert response.status_code == 200
    html = _page(response)
    # June 2026: the last complete month is May; due on the 5th and locked on the 20th of June.
    example = _("%(period)s → due %(due)s, locked %(lock)s") % {
        "period": "2026年5月", "due": "2026-06-05", "lock": "2026-06-20"}
    assert example in html
    sections = [group["name"] for group in response.context["sections"]]
    assert sections == ["医疗服务", "收入与支出", "人员", "双向转诊", "病例组合"]  # the last two: issue 18
    assert [row.element.code for row in response.context["sections"][2]["rows"]] == ["STAFF_ON_DUTY", "GPS"]
    # Filed by the lead hospitals and primary centres of the county: every one of the world's institutions
    # but the village clinic.
    assert {i.name for i in response.context["filers"]} == {"县人民医院", "县中医院", "平台镇卫生院", "桂圩镇卫生院",
                                                            "通门镇卫生院"}
    # The bed-day rule applies (both elements are on the form); the insurance rule does not.
    codes = [rule.code for rule in response.context["rules"]]
    assert "R_BED_DAYS" in codes and "R_INS_VISITS" not in codes
    assert "实际占用总床日数大于实际开放总床日数" in html
    # A filer reads the form but has no edit button.
    assert reverse("indicators:report_form_edit", kwargs={"form_pk": form.pk}) not in html

    quarterly = w.forms["QUARTERLY_PH"]
    with time_machine.travel(datetime(2026, 6, 10, 9, 0, tzinfo=SH), tick=False):
        context = client_for(w.bureau).get(
            reverse("indicators:report_form_detail", kwargs={"form_pk": quarterly.pk})).context
    example = context["example"]
    assert (example["period"], str(example["due"]), str(example["lock"])) == (
        Period.parse("2026Q1"), "2026-04-05", "2026-04-20")


def test_lock_day_before_due_day_is_refused_on_the_field(catalogue):
    w = catalogue
    client = client_for(w.bureau)
    before = ReportForm.objects.count()
    response = client.post(reverse("indicators:report_form_create", kwargs={"region_pk": w.yn.pk}), form_post(
        rows=[{"element": w.shared["OP_VISITS"].pk, "section": "", "order": "", "required": True}],
        due_day="15", lock_day="10"))
    assert response.status_code == 200
    assert response.context["form"].errors["lock_day"] == [
        _("The lock day (%(lock)s) must not be before the due day (%(due)s).") % {"lock": 10, "due": 15}]
    assert ReportForm.objects.count() == before and not FormElement.objects.filter(form__code="YN_PRIMARY").exists()

    # The same on edit; the form keeps its days.
    form = w.forms["MONTHLY_OPS"]
    response = client.post(reverse("indicators:report_form_edit", kwargs={"form_pk": form.pk}), form_post(
        rows=[], code=form.code, name=form.name, due_day="10", lock_day="9",
        institution_kinds=form.institution_kinds))
    assert "lock_day" in response.context["form"].errors
    form.refresh_from_db()
    assert (form.due_day, form.lock_day) == (5, 20)


def test_row_and_header_mistakes_are_named(catalogue):
    w = catalogue
    client = client_for(w.bureau)
    url = reverse("indicators:report_form_create", kwargs={"region_pk": w.yn.pk})
    op = w.shared["OP_VISITS"]
    response = client.post(url, form_post(rows=[
        {"element": op.pk, "section": "", "order": "", "required": True},
        {"element": w.shared["DISCHARGES"].pk, "section": "", "order": "", "required": True},
        {"element": op.pk, "section": "", "order": "", "required": True},
    ]))
    assert response.status_code == 200
    assert response.context["rows"].forms[2].errors["element"] == [
        _("Row %(row)s: %(name)s is already on the form (row %(first)s).") % {"row": 3, "name": op, "first": 1}]
    # Another county's element cannot be put on the form.
    response = client.post(url, form_post(rows=[
        {"element": w.foreign_element.pk, "section": "", "order": "", "required": True}]))
    assert response.context["rows"].forms[0].errors["element"]
    # A first period of another type, and an institution form with no filers.
    response = client.post(url, form_post(rows=[], first_period="2026Q1", institution_kinds=[]))
    errors = response.context["form"].errors
    assert errors["first_period"] == [_("%(period)s is not a period of the form's type (%(kind)s).")
                                      % {"period": "2026Q1", "kind": _("Month")}]
    assert errors["institution_kinds"] == [
        _("Choose the kinds of institutions that file the form, or name the institutions.")]
    # Another county's institution is not a choice.
    response = client.post(url, form_post(rows=[], institutions=[str(w.other_hospital.pk)]))
    assert "institutions" in response.context["form"].errors
    assert not ReportForm.objects.filter(code="YN_PRIMARY").exists()


def test_a_write_that_fails_halfway_saves_nothing(catalogue, monkeypatch):
    """A row refused by the database (someone added the same row meanwhile) rolls the form back too."""
    from django.db import IntegrityError

    w = catalogue

    def refuse(*args, **kwargs):
        raise IntegrityError("formelement_unique")

    monkeypatch.setattr(FormElement, "save", refuse)
    response = client_for(w.bureau).post(
        reverse("indicators:report_form_create", kwargs={"region_pk": w.yn.pk}),
        form_post(rows=[{"element": w.shared["OP_VISITS"].pk, "section": "", "order": "", "required": True}]))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        _("The data changed while you were editing; please check and try again.")]
    assert not ReportForm.objects.filter(code="YN_PRIMARY").exists()
    assert response.context["form"].instance.pk is None


def test_period_type_of_a_form_with_filings_cannot_change(catalogue):
    w = catalogue
    form = w.forms["MONTHLY_OPS"]
    open_filing(form, w.centre, Period.parse("2026-05"), user=w.bureau)
    response = client_for(w.bureau).post(reverse("indicators:report_form_edit", kwargs={"form_pk": form.pk}),
                                         form_post(rows=[], code=form.code, name=form.name, period_kind="quarter",
                                                   first_period="", institution_kinds=form.institution_kinds))
    assert response.context["form"].errors["period_kind"] == [
        _("The form already has filings; its period type cannot change.")]
    form.refresh_from_db()
    assert form.period_kind == "month"


# Indicators ---------------------------------------------------------------------------------

def _indicator_post(**overrides) -> dict:
    data = {"code": "yn_referral_rate", "name": "上转率", "category": "分级诊疗", "numerator": "DISCHARGES@primary",
            "denominator": "DISCHARGES", "factor": "100", "unit_label": "%", "decimals": "2",
            "aggregation": "pooled", "target_kind": "threshold", "target_operator": "ge", "target_value": "65",
            "direction": "", "direction_points": "0", "levels": ["county", "alliance"], "order": "0",
            "is_active": "on"}
    data.update(overrides)
    return data


def test_bureau_creates_an_indicator(catalogue):
    w = catalogue
    client = client_for(w.bureau)
    response = client.post(reverse("indicators:indicator_create", kwargs={"region_pk": w.yn.pk}),
                           _indicator_post(numerator="YN_HOME_VISITS + DISCHARGES@primary[ly]"))
    assert response.status_code == 302
    indicator = Indicator.objects.get(county=w.yn, code="YN_REFERRAL_RATE")
    assert (indicator.numerator, indicator.denominator, indicator.factor, indicator.levels) == (
        "YN_HOME_VISITS + DISCHARGES@primary[ly]", "DISCHARGES", Decimal("100"), ["county", "alliance"])
    assert (indicator.target_kind, indicator.target_operator, indicator.target_value) == ("threshold", "ge",
                                                                                        Decimal("65"))
    html = _page(client.get(reverse("indicators:indicator_definitions", kwargs={"region_pk": w.yn.pk})))
    assert "上转率" in html and "基层就诊率（基层门急诊人次占比）" in html and _("Shared catalogue") in html


@pytest.mark.parametrize(("field", "text", "message"), [
    ("numerator", "OP_VISITS + NOPE", "未知的数据项代码“NOPE”。"),
    # Another county's element is unknown in 郁南县.
    ("denominator", "WY_LOCAL", "未知的数据项代码“WY_LOCAL”。"),
    ("numerator", "OP_VISITS / / 2", "第13个字符处不应出现“/”。"),
    ("numerator", "OP_VISITS +", "公式不完整，结尾处缺少内容。"),
    ("numerator", "OP_VISITS；", "第10个字符“；”不能用在公式中。"),
])
def test_a_bad_formula_is_refused_naming_the_code_or_the_position(catalogue, field, text, message):
    w = catalogue
    before = Indicator.objects.count()
    response = client_for(w.bureau).post(reverse("indicators:indicator_create", kwargs={"region_pk": w.yn.pk}),
                                         _indicator_post(**{field: text}))
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert message in _page(response)
    assert Indicator.objects.count() == before


def test_editing_an_indicator_checks_its_formulas_and_targets(catalogue):
    w = catalogue
    client = client_for(w.bureau)
    url = reverse("indicators:indicator_edit", kwargs={"indicator_pk": w.local_indicator.pk})
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["form"]["factor"].value() == Decimal("100")
    response = client.post(url, _indicator_post(numerator="YN_HOME_VISITS", denominator="OP_VISITS@primary",
                                                target_kind="any", target_operator="", target_value="",
                                                direction=""))
    errors = response.context["form"].errors
    assert set(errors) == {"target_operator", "target_value", "direction"}
    response = client.post(url, _indicator_post(numerator="YN_HOME_VISITS", denominator="OP_VISITS@primary",
                                                factor="1000", target_kind="direction", direction="up",
                                                target_operator="ge", target_value="5"))
    assert response.status_code == 302
    w.local_indicator.refresh_from_db()
    # The code is fixed; a target of direction only drops the threshold.
    assert (w.local_indicator.code, w.local_indicator.factor, w.local_indicator.direction) == (
        "YN_HOME_RATE", Decimal("1000"), "up")


def test_formula_check_endpoint(catalogue):
    w = catalogue
    client = client_for(w.filer)  # anyone of the county may check a formula
    url = reverse("indicators:formula_check", kwargs={"region_pk": w.yn.pk})
    html = _page(client.get(url, {"field": "numerator", "numerator": "OP_VISITS@primary / YN_HOME_VISITS"}))
    assert _("The formula is valid.") in html
    assert "门急诊人次（诊疗人次）（OP_VISITS，人次）" in html and "家庭医生上门服务人次（YN_HOME_VISITS，人次）" in html
    html = _page(client.get(url, {"field": "denominator", "denominator": "OP_VISITS * NOPE"}))
    assert "未知的数据项代码“NOPE”。" in html
    # Validation rule sides (prefixed inputs) allow no unit filters or offsets.
    html = _page(client.get(url, {"field": "left", "rule-left": "OCCUPIED_BED_DAYS@primary"}))
    assert "此处不能使用单位筛选或期间偏移：OCCUPIED_BED_DAYS@primary。" in html
    html = _page(client.get(url, {"field": "denominator", "denominator": ""}))
    assert _("Empty: the numerator alone.") in html
    assert client.post(url, {"field": "numerator"}).status_code == 405
    assert client_for(w.outsider).get(url, {"field": "numerator", "numerator": "OP_VISITS"}).status_code == 404


# Validation rules ---------------------------------------------------------------------------

def test_bureau_adds_and_edits_a_rule_on_the_list_page(catalogue):
    w = catalogue
    client = client_for(w.bureau)
    url = reverse("indicators:rule_list", kwargs={"region_pk": w.yn.pk})
    data = {"rule-code": "yn_r_staff", "rule-left": "GPS", "rule-operator": "lt", "rule-right": "STAFF_ON_DUTY",
            "rule-severity": "warning", "rule-message": "全科医生数应小于在岗职工数", "rule-is_active": "on"}
    response = client.post(url, {**data, "rule-left": "GPS@primary"})
    assert response.status_code == 200
    assert response.context["form"].errors["left"] == ["此处不能使用单位筛选或期间偏移：GPS@primary。"]
    response = client.post(url, {**data, "rule-right": "STAFF_ON_DUTY +"})
    assert response.context["form"].errors["right"] == ["公式不完整，结尾处缺少内容。"]
    assert not ValidationRule.objects.filter(code="YN_R_STAFF").exists()

    assert client.post(url, data).status_code == 302
    rule = ValidationRule.objects.get(county=w.yn, code="YN_R_STAFF")
    assert (rule.left, rule.operator, rule.right, rule.severity) == ("GPS", "lt", "STAFF_ON_DUTY", "warning")

    response = client.get(url)
    rows = {r.code: r for r in response.context["rules"]}
    # A rule applies to the forms that carry all its elements.
    assert [name for _pk, name in rows["YN_R_STAFF"].forms] == ["医共体成员单位运行监测月报"]
    assert [name for _pk, name in rows["R_INS_VISITS"].forms] == ["县域医保结算月报"]
    assert rows["YN_R_HOME"].forms == []  # YN_HOME_VISITS is on no form yet

    edit = f"{url}?rule={rule.pk}"
    assert client.get(edit).context["editing"] == rule
    assert client.post(edit, {**data, "rule-code": "OTHER", "rule-severity": "error"}).status_code == 302
    rule.refresh_from_db()
    assert (rule.code, rule.severity) == ("YN_R_STAFF", "error")


# Who may do what ------------------------------------------------------------------------------

def test_shared_catalogue_is_visible_but_not_editable_by_the_county(catalogue):
    w = catalogue
    client = client_for(w.bureau_admin)
    shared_element = w.shared["OP_VISITS"]
    shared_indicator = Indicator.objects.get(county=None, code="A4_32")
    shared_rule = ValidationRule.objects.get(county=None, code="R_BED_DAYS")
    for url in (reverse("indicators:element_edit", kwargs={"element_pk": shared_element.pk}),
                reverse("indicators:indicator_edit", kwargs={"indicator_pk": shared_indicator.pk}),
                reverse("indicators:rule_list", kwargs={"region_pk": w.yn.pk}) + f"?rule={shared_rule.pk}"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert _(SHARED_ONLY) in _page(response)
        assert client.post(url, {"name": "改名", "rule-code": "X"}).status_code == 403
    shared_element.refresh_from_db()
    assert shared_element.name == "门急诊人次（诊疗人次）"
    # Visible on the lists, with no edit link.
    html = _page(client.get(reverse("indicators:element_list", kwargs={"region_pk": w.yn.pk})))
    assert "门急诊人次（诊疗人次）" in html
    assert reverse("indicators:element_edit", kwargs={"element_pk": shared_element.pk}) not in html
    assert reverse("indicators:element_edit", kwargs={"element_pk": w.local.pk}) in html
    html = _page(client.get(reverse("indicators:indicator_definitions", kwargs={"region_pk": w.yn.pk})))
    assert "基层就诊率（基层门急诊人次占比）" in html
    assert reverse("indicators:indicator_edit", kwargs={"indicator_pk": shared_indicator.pk}) not in html


def test_readers_of_the_county_read_but_do_not_change(catalogue):
    w = catalogue
    lists = [reverse(name, kwargs={"region_pk": w.yn.pk}) for name in (
        "indicators:element_list", "indicators:report_form_list", "indicators:indicator_definitions",
        "indicators:rule_list")] + [reverse("indicators:report_form_detail",
                                            kwargs={"form_pk": w.forms["MONTHLY_OPS"].pk})]
    changes = [reverse(name, kwargs={"region_pk": w.yn.pk}) for name in (
        "indicators:element_create", "indicators:report_form_create", "indicators:indicator_create")] + [
        reverse("indicators:element_edit", kwargs={"element_pk": w.local.pk}),
        reverse("indicators:report_form_edit", kwargs={"form_pk": w.forms["MONTHLY_OPS"].pk}),
        reverse("indicators:indicator_edit", kwargs={"indicator_pk": w.local_indicator.pk}),
        reverse("indicators:rule_list", kwargs={"region_pk": w.yn.pk}) + f"?rule={w.local_rule.pk}"]
    for user in (w.supervisor, w.city, w.province, w.alliance_admin, w.filer):
        client = client_for(user)
        for url in lists:
            assert client.get(url).status_code == 200, (user.username, url)
        for url in changes:
            response = client.get(url)
            assert response.status_code == 403, (user.username, url)
            assert _(BUREAU_ONLY) in _page(response)
            assert client.post(url, {}).status_code == 403, (user.username, url)
        # No create form on the rules page, and a POST there is refused.
        assert client.get(lists[3]).context["form"] is None
        assert client.post(lists[3], {"rule-code": "X"}).status_code == 403
    assert not ValidationRule.objects.filter(code="X").exists()


def test_outsider_gets_404_on_every_route_of_the_county(catalogue):
    w = catalogue
    outsider = client_for(w.outsider)
    form = w.forms["MONTHLY_OPS"]
    routes = [
        ("indicators:element_list", {"region_pk": w.yn.pk}),
        ("indicators:element_create", {"region_pk": w.yn.pk}),
        ("indicators:element_edit", {"element_pk": w.local.pk}),
        ("indicators:report_form_list", {"region_pk": w.yn.pk}),
        ("indicators:report_form_create", {"region_pk": w.yn.pk}),
        ("indicators:report_form_detail", {"form_pk": form.pk}),
        ("indicators:report_form_edit", {"form_pk": form.pk}),
        ("indicators:indicator_definitions", {"region_pk": w.yn.pk}),
        ("indicators:indicator_create", {"region_pk": w.yn.pk}),
        ("indicators:indicator_edit", {"indicator_pk": w.local_indicator.pk}),
        ("indicators:rule_list", {"region_pk": w.yn.pk}),
    ]
    for name, kwargs in routes:
        url = reverse(name, kwargs=kwargs)
        missing = reverse(name, kwargs={key: 987_654_321 for key in kwargs})
        for method in ("get", "post"):
            response = getattr(outsider, method)(url)
            assert response.status_code == 404, (name, method)
            assert getattr(outsider, method)(missing).status_code == 404, (name, method)
            assert "郁南县" not in _page(response) and "医共体成员单位运行监测月报" not in _page(response)
    # A 郁南县 rule through the outsider's own county: 404, not 403.
    own = reverse("indicators:rule_list", kwargs={"region_pk": w.wy.pk})
    assert outsider.get(f"{own}?rule={w.local_rule.pk}").status_code == 404
    assert outsider.post(f"{own}?rule={w.local_rule.pk}", {"rule-code": "X"}).status_code == 404
    # …and the outsider's own pages show none of 郁南县's rows.
    html = _page(outsider.get(reverse("indicators:element_list", kwargs={"region_pk": w.wy.pk})))
    assert "万源市自定义数据项" in html and "家庭医生上门服务人次" not in html
    # A user with no grant sees nothing either.
    assert client_for(w.nobody).get(reverse(routes[0][0], kwargs=routes[0][1])).status_code == 404


# Query counts ---------------------------------------------------------------------------------

def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def _grow(w, n: int) -> None:
    """Many more county rows: elements on several forms, forms with rows and listed institutions,
    indicators and rules."""
    elements = [DataElement.objects.create(county=w.yn, code=f"YN_E{i}", name=f"郁南县数据项{i}", unit="人")
                for i in range(n)]
    for f in range(4):
        form = ReportForm.objects.create(county=w.yn, code=f"YN_F{f}", name=f"郁南县报表{f}",
                                         institution_kinds=[K.TOWNSHIP_HEALTH_CENTRE])
        form.institutions.set([w.hospital, w.tcm])
        FormElement.objects.bulk_create([FormElement(form=form, element=e, order=i, section=f"第{i % 3}部分",
                                                     institution_kinds=[K.TOWNSHIP_HEALTH_CENTRE])
                                         for i, e in enumerate(elements)])
    Indicator.objects.bulk_create([Indicator(county=w.yn, code=f"YN_I{i}", name=f"郁南县指标{i}",
                                             numerator=f"YN_E{i}", denominator="YN_E0", factor=100,
                                             levels=["county"]) for i in range(n)])
    ValidationRule.objects.bulk_create([ValidationRule(county=w.yn, code=f"YN_R{i}", left=f"YN_E{i}",
                                                       operator="le", right="YN_E0", message=f"规则{i}")
                                        for i in range(n)])


def test_list_pages_cost_the_same_queries_for_two_rows_as_for_many(world, django_assert_num_queries):
    w = world
    a = DataElement.objects.create(county=w.yn, code="A", name="甲", unit="人")
    b = DataElement.objects.create(county=None, code="B", name="乙", unit="人")
    form = ReportForm.objects.create(county=w.yn, code="F", name="报表", institution_kinds=[K.TOWNSHIP_HEALTH_CENTRE])
    form.institutions.set([w.hospital])
    FormElement.objects.create(form=form, element=a, order=1, section="一")
    FormElement.objects.create(form=form, element=b, order=2, section="二")
    Indicator.objects.create(county=w.yn, code="I", name="指标", numerator="A", denominator="B")
    Indicator.objects.create(county=None, code="J", name="共享指标", numerator="B")
    ValidationRule.objects.create(county=w.yn, code="R", left="A", operator="le", right="B", message="甲≤乙")
    ValidationRule.objects.create(county=None, code="S", left="B", operator="ge", right="0", message="乙≥0")
    client = client_for(w.bureau)
    urls = [reverse(name, kwargs={"region_pk": w.yn.pk}) for name in (
        "indicators:element_list", "indicators:report_form_list", "indicators:indicator_definitions",
        "indicators:rule_list")] + [
        reverse("indicators:report_form_detail", kwargs={"form_pk": form.pk}),
        reverse("indicators:report_form_edit", kwargs={"form_pk": form.pk})]
    few = {url: _count_queries(client, url) for url in urls}

    _grow(w, 40)
    FormElement.objects.bulk_create([FormElement(form=form, element=e, order=10 + i)
                                     for i, e in enumerate(DataElement.objects.filter(code__startswith="YN_E"))])
    for url in urls:
        with django_assert_num_queries(few[url]):
            response = client.get(url)
        assert response.status_code == 200
    # The pages did show the many rows.
    assert "郁南县数据项39" in _page(client.get(urls[0]))
    assert len(client.get(urls[4]).context["sections"][-1]["rows"]) > 10


# The pages in a browser -----------------------------------------------------------------------

@pytest.mark.browser
def test_form_detail_and_indicator_edit_in_chromium(transactional_db, live_server, catalogue, page):  # noqa: F811
    try:
        _browse(catalogue, live_server.url, page)
    finally:
        # The ORM calls made here, while Playwright's event loop runs, have a connection of their own:
        # close it, or PostgreSQL cannot drop the test database at the end.
        connections.close_all()


def _browse(w, base, page):  # noqa: F811 - the Playwright page, passed on
    shots = artifacts_dir()
    page.goto(f"{base}/login/")
    page.fill('input[name="username"]', w.bureau.username)
    page.fill('input[name="password"]', TEST_PASSWORD)
    with page.expect_navigation():
        page.locator('form:has(input[name="password"]) [type="submit"]').first.click()

    form = w.forms["MONTHLY_OPS"]
    page.goto(f"{base}{reverse('indicators:report_form_detail', kwargs={'form_pk': form.pk})}")
    text = body_text(page)
    assert "医共体成员单位运行监测月报" in text and "收入与支出" in text and "实际开放总床日数" in text
    assert "→" in page.inner_text('[data-testid="deadline-example"]')
    page.screenshot(path=str(shots / "definitions_form_detail.png"), full_page=True)

    page.goto(f"{base}{reverse('indicators:indicator_edit', kwargs={'indicator_pk': w.local_indicator.pk})}")
    # The live check confirms the saved formulas, then names an unknown code as it is typed.
    page.wait_for_selector("#check-numerator .text-success")
    page.fill("#id_numerator", "YN_HOME_VISITS + NOPE")
    page.wait_for_selector("#check-numerator .text-danger")
    assert "NOPE" in page.inner_text("#check-numerator")
    page.screenshot(path=str(shots / "definitions_indicator_edit.png"), full_page=True)
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    assert "NOPE" in body_text(page)
    w.local_indicator.refresh_from_db()
    assert w.local_indicator.numerator == "YN_HOME_VISITS"

    # The other pages, for a look: the form's rows editor, the elements and the rules.
    page.goto(f"{base}{reverse('indicators:report_form_edit', kwargs={'form_pk': form.pk})}")
    assert page.locator('select[name="rows-0-element"]').input_value() == str(form.form_elements.order_by(
        "order").first().element_id)
    page.screenshot(path=str(shots / "definitions_form_edit.png"), full_page=True)
    page.goto(f"{base}{reverse('indicators:element_list', kwargs={'region_pk': w.yn.pk})}")
    assert "家庭医生上门服务人次" in body_text(page)
    page.screenshot(path=str(shots / "definitions_elements.png"), full_page=True)
    page.goto(f"{base}{reverse('indicators:rule_list', kwargs={'region_pk': w.yn.pk})}?rule={w.local_rule.pk}")
    assert "YN_R_HOME" in body_text(page)
    page.screenshot(path=str(shots / "definitions_rules.png"), full_page=True)
