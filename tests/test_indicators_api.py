"""The filing and indicator API under /api/: bulk filing (idempotent, all or nothing, errors in
Chinese keyed by element code), review through the API (submit, return with a reason, approve,
unlock) with 403 for those who may not and 409 for stale versions, the outsider's 404 on every
route, indicator values with hand-computed numerators and denominators, token authentication,
and query counts that do not grow with the data.

Filing tests run on 3 November 2026: October 2026 is due on the 5th and locks after the 20th."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.exceptions import ParseError
from rest_framework.test import APIClient

from alliances.models import Institution
from config.api_urls import router
from core.periods import Period
from indicators.api import DecimalJSONParser
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataElement, DataValue, Filing, FilingEvent, Indicator, ReportForm, ValueAudit
from indicators.services import filings as svc
from tests import test_indicators_engine as engine_tests
from tests.factories import TEST_PASSWORD, InstitutionFactory, MembershipFactory, UserFactory, grant
from tests.test_indicators_engine import Q3, file_values

K = Institution.Kind
# 郁南县 with the hand-computed figures of 2026Q3 (tests/test_indicators_engine.py).
county = engine_tests.county
MISSING_ID = 987_654_321
BULK = "/api/filings/bulk/"
TODAY = date(2026, 11, 3)
# Names of 郁南县 objects the outsider must never read.
FOREIGN_NAMES = ["郁南县", "第一医共体", "第三医共体", "县人民医院", "平台镇卫生院", "桂圩镇卫生院", "通门镇卫生院",
                 "郁南县自定义指标", "郁南县自定义数据项"]
INDICATOR_MODELS = (ReportForm, DataElement, Indicator, Filing)


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def centre_values(**overrides) -> dict:
    """Every row a township centre fills on the monthly form, consistent with the rules."""
    values = dict(OP_VISITS=8000, DISCHARGES=150, DISCHARGE_BED_DAYS=900, OPEN_BED_DAYS=1800,
                  OCCUPIED_BED_DAYS=1200, REHAB_PATIENTS=40, TOTAL_REVENUE=2_000_000, BUSINESS_REVENUE=1_500_000,
                  MED_REVENUE=1_400_000, DRUG_REVENUE=500_000, CONSUMABLE_REVENUE=100_000, EXAM_REVENUE=90_000,
                  LAB_REVENUE=80_000, FISCAL_REVENUE=500_000, INSURANCE_REVENUE=700_000,
                  BUSINESS_EXPENSE=1_400_000, PERSONNEL_EXPENSE=700_000, SALARY_TOTAL=600_000, STAFF_ON_DUTY=90,
                  GPS=6, REFERRALS_UP=30)
    values.update(overrides)
    return values


def payload(w, institution=None, *, period="2026-10", form="MONTHLY_OPS", **fields) -> dict:
    return {"form": form, "institution": (institution or w.centre).pk, "period": period,
            "values": centre_values(), **fields}


def post(client, data, path=BULK):
    return client.post(path, data, format="json")


@pytest.fixture
def setup(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn)}
    install_forms(world.wy)
    return world


@pytest.fixture
def today():
    with time_machine.travel(TODAY):
        yield


def the_filing(w, institution=None) -> Filing:
    return Filing.objects.get(form=w.forms["MONTHLY_OPS"], institution=institution or w.centre, period="2026-10")


# Bulk filing -------------------------------------------------------------------------------

def test_bulk_filing_is_idempotent_by_form_filer_and_period(setup, today):
    w = setup
    client = api(w.filer)
    first = post(client, payload(w))
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["created"], body["changed"], body["submitted"]) == (True, 21, False)
    filing = body["filing"]
    assert (filing["status"], filing["version"], filing["form_code"], filing["period"]) == (
        "draft", 2, "MONTHLY_OPS", "2026-10")
    # Whole-number elements without decimals, amounts with two.
    assert filing["values"]["OP_VISITS"] == "8000" and filing["values"]["TOTAL_REVENUE"] == "2000000.00"
    assert ValueAudit.objects.count() == 21 and FilingEvent.objects.get().action == FilingEvent.Action.API
    events, audits = FilingEvent.objects.count(), ValueAudit.objects.count()

    # The same payload again (also as text, and with the version it was based on): nothing happens.
    again = centre_values(OP_VISITS="8000", GPS=" 6 ")
    for data in (payload(w), payload(w, values=again), payload(w, version=1)):
        second = post(client, data)
        assert second.status_code == 200, second.content
        assert (second.json()["created"], second.json()["changed"]) == (False, 0)
        assert second.json()["filing"]["version"] == 2
    assert (FilingEvent.objects.count(), ValueAudit.objects.count()) == (events, audits)
    assert Filing.objects.count() == 1

    # One value changed and one emptied: two audit rows, one new version.
    third = post(client, payload(w, values={"OP_VISITS": 8100, "REHAB_PATIENTS": None}, reason="更正"))
    assert third.status_code == 200 and third.json()["changed"] == 2
    assert third.json()["filing"]["version"] == 3
    assert third.json()["filing"]["values"]["REHAB_PATIENTS"] is None
    changes = ValueAudit.objects.filter(created=False).order_by("element__code")
    assert [(a.element.code, a.old_value, a.new_value, a.reason, a.source) for a in changes] == [
        ("OP_VISITS", Decimal(8000), Decimal(8100), "更正", "api"),
        ("REHAB_PATIENTS", Decimal(40), None, "更正", "api"),
    ]


def test_a_stale_version_with_changes_is_a_conflict_and_saves_nothing(setup, today):
    w = setup
    client = api(w.filer)
    post(client, payload(w))
    post(api(w.alliance_admin), payload(w, values={"OP_VISITS": 9000}, version=2))  # now version 3
    stale = post(client, payload(w, values={"OP_VISITS": 7000}, version=2))
    assert stale.status_code == 409
    assert stale.json()["detail"] == ("您打开此填报后，其他人已保存了修改（当前版本3，您的版本2）。"
                                      "请重新打开查看最新数值；您这次的修改未保存。")
    assert DataValue.objects.get(element__code="OP_VISITS").value == 9000


def test_numbers_are_read_as_decimals_not_floats(setup, today):
    w = setup
    parsed = DecimalJSONParser().parse(io.BytesIO(b'{"a": 0.1, "b": 5, "c": 1e3}'))
    assert parsed == {"a": Decimal("0.1"), "b": 5, "c": Decimal("1E+3")}
    assert type(parsed["a"]) is Decimal
    with pytest.raises(ParseError):
        DecimalJSONParser().parse(io.BytesIO(b'{"a": NaN}'))
    # As a float, 6.0000000000000000001 would be 6.0 and pass for a whole number; as a decimal it is not.
    text = json.dumps(payload(w, values={"GPS": 6})).replace('"GPS": 6', '"GPS": 6.0000000000000000001')
    refused = api(w.filer).post(BULK, text, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json() == {"values": {"GPS": ["全科医生数须为整数，不能为6.0000000000000000001。"]}}
    text = json.dumps(payload(w, values={"GPS": 6})).replace('"GPS": 6', '"GPS": 6, "FISCAL_REVENUE": 0.10')
    response = api(w.filer).post(BULK, text, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["filing"]["values"] == {"FISCAL_REVENUE": "0.10", "GPS": "6"}
    assert DataValue.objects.get(element__code="FISCAL_REVENUE").value == Decimal("0.1")


def test_an_invalid_payload_saves_nothing_and_names_each_element_in_chinese(setup, today):
    w = setup
    values = centre_values(NO_SUCH=1, SURGERIES=10, OP_VISITS="八千", DISCHARGES=-5, GPS=1.5,
                           TOTAL_REVENUE="12.345", STAFF_ON_DUTY=True, OPEN_BED_DAYS=10 ** 17)
    response = post(api(w.filer), payload(w, values=values))
    assert response.status_code == 400, response.content
    assert response.json() == {"values": {
        "NO_SUCH": ["“NO_SUCH”不是医共体成员单位运行监测月报的数据项。"],
        "SURGERIES": ["医共体成员单位运行监测月报中的出院患者手术台次数（SURGERIES）不由乡镇卫生院填报。"],
        "OP_VISITS": ["门急诊人次（诊疗人次）：“八千”不是数字。"],
        "DISCHARGES": ["出院人数不能为负数。"],
        "GPS": ["全科医生数须为整数，不能为1.5。"],
        "TOTAL_REVENUE": ["总收入最多保留2位小数，12.345不符合要求。"],
        "STAFF_ON_DUTY": ["在岗职工数：“True”不是数字。"],
        "OPEN_BED_DAYS": ["实际开放总床日数：100000000000000000过大。"],
    }}
    assert not Filing.objects.exists() and not DataValue.objects.exists() and not ValueAudit.objects.exists()


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"form": "NO_FORM"}, "form", "本县没有代码为“NO_FORM”的报表。"),
    ({"period": "2026-13"}, "period", "“2026-13”不是有效的期间："),
    ({"period": "2026Q3"}, "period", "医共体成员单位运行监测月报按月填报，不能填报2026年第三季度。"),
    ({"period": "2026-12"}, "period", "2026年12月尚未开始。"),
    ({"institution": None}, "institution", "请填写填报机构；县级填报的报表请填写县。"),
    ({"form": "COUNTY_INSURANCE"}, "institution", "县域医保结算月报由县填报；机构请留空，并填写县。"),
    ({"institution": None, "county": "yn"}, "institution", "医共体成员单位运行监测月报由机构填报，请填写填报机构。"),
    ({"values": ["OP_VISITS", 1]}, "values", "期望是包含类目的字典"),
])
def test_the_filing_itself_is_checked_with_chinese_messages(setup, today, change, field, message):
    w = setup
    if change.get("county") == "yn":
        change = {**change, "county": w.yn.pk}
    response = post(api(w.bureau), {**payload(w), **change})
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert response.json()[field][0].startswith(message), response.json()
    assert not Filing.objects.exists()


def test_a_form_is_filed_only_by_the_kinds_it_names_and_from_its_first_period(setup, today):
    w = setup
    cdc = InstitutionFactory(county=w.yn, name="县疾控中心", kind=K.CDC)
    response = post(api(w.bureau), payload(w, cdc))
    assert response.status_code == 400
    assert response.json() == {"institution": ["县疾控中心不填报医共体成员单位运行监测月报。"]}
    w.forms["MONTHLY_OPS"].institutions.add(cdc)  # named one by one, it files the form
    assert post(api(w.bureau), payload(w, cdc, values={"OP_VISITS": 10})).status_code == 201
    ReportForm.objects.filter(pk=w.forms["MONTHLY_OPS"].pk).update(first_period="2026-11")
    response = post(api(w.bureau), payload(w))
    assert response.json() == {"period": ["医共体成员单位运行监测月报自2026年11月起填报。"]}


def test_the_county_files_its_own_forms(setup, today):
    w = setup
    data = {"form": "COUNTY_INSURANCE", "county": w.yn.pk, "period": "2026-10",
            "values": {"INS_INPATIENTS_TOTAL": 1000, "INS_INPATIENTS_IN_COUNTY": 850}}
    response = post(api(w.bureau), data)
    assert response.status_code == 201, response.content
    assert response.json()["filing"]["institution"] is None
    assert response.json()["filing"]["filer_name"] == "郁南县"
    assert post(api(w.bureau), data).json()["changed"] == 0
    # An alliance office sees the county but does not file for it.
    refused = post(api(w.alliance_admin), data)
    assert refused.status_code == 403 and refused.json()["detail"] == "您不负责郁南县的填报。"


def test_who_may_file_for_whom(setup, today):
    w = setup
    # The centre's filer does not see 桂圩镇卫生院: like an id that does not exist.
    foreign = post(api(w.filer), payload(w, w.centre2))
    missing = post(api(w.filer), {**payload(w), "institution": MISSING_ID})
    assert foreign.status_code == missing.status_code == 400
    assert list(foreign.json()) == list(missing.json()) == ["institution"]
    # The alliance office files for its members; a county viewer sees them but files for nobody.
    assert post(api(w.alliance_admin), payload(w, w.centre2)).status_code == 201
    refused = post(api(w.supervisor), payload(w))
    assert refused.status_code == 403 and refused.json()["detail"] == "您不负责平台镇卫生院的填报。"
    other_alliance = post(api(w.alliance_admin), payload(w, w.centre_b))  # not a member: not seen either
    assert other_alliance.status_code == 400 and list(other_alliance.json()) == ["institution"]
    # The outsider: the same answer as for a missing institution, and nothing of 郁南县 in it.
    outsider = post(api(w.outsider), payload(w))
    assert outsider.status_code == 400 and list(outsider.json()) == ["institution"]
    assert not [n for n in FOREIGN_NAMES if n in outsider.content.decode()]
    assert set(Filing.objects.values_list("institution__name", flat=True)) == {"桂圩镇卫生院"}


def test_token_authentication_files_without_a_session(setup, today):
    w = setup
    user = UserFactory(username="yn_centre_api")
    user.set_password(TEST_PASSWORD)
    user.save()
    from accounts.models import Role

    grant(user, Role.INSTITUTION_FILER, w.centre)
    token = APIClient().post("/api/token/", {"username": "yn_centre_api", "password": TEST_PASSWORD},
                             format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post(BULK, payload(w), format="json")
    assert response.status_code == 201, response.content
    assert [r["institution_name"] for r in rows(client.get("/api/filings/"))] == ["平台镇卫生院"]
    assert APIClient().post(BULK, payload(w), format="json").status_code == 401


# Submission and review ---------------------------------------------------------------------

def test_submission_errors_and_warnings_are_keyed_by_check_and_save_nothing(setup, today):
    w = setup
    client = api(w.filer)
    errors = post(client, payload(w, values=centre_values(GPS=None, MED_REVENUE=10), submit=True))
    assert errors.status_code == 400, errors.content
    assert errors.json() == {"submit": {
        "REQUIRED": ["有1个必填数据为空：全科医生数。数值为零请填0。"],
        "R_MED_PARTS": ["药品、卫生材料、检查、化验收入之和不能大于医疗收入"],
    }}
    assert not Filing.objects.exists() and not ValueAudit.objects.exists()

    warning = post(client, payload(w, values=centre_values(OCCUPIED_BED_DAYS=2000), submit=True))
    assert warning.status_code == 400
    assert warning.json() == {"comments": {"R_BED_DAYS": ["请说明：实际占用总床日数大于实际开放总床日数（加床？请说明）"]}}
    assert not Filing.objects.exists()

    done = post(client, payload(w, values=centre_values(OCCUPIED_BED_DAYS=2000), submit=True,
                                comments={"R_BED_DAYS": "冬季加床"}))
    assert done.status_code == 201, done.content
    body = done.json()
    assert (body["submitted"], body["filing"]["status"]) == (True, "submitted")
    assert body["warnings"] == [{"code": "R_BED_DAYS", "message": "实际占用总床日数大于实际开放总床日数（加床？请说明）"}]
    assert body["filing"]["warning_comments"] == {"R_BED_DAYS": "冬季加床"}
    assert not DataValue.objects.filter(counted=False).exists()
    # Sending it again: already submitted, nothing to do.
    again = post(client, payload(w, values=centre_values(OCCUPIED_BED_DAYS=2000), submit=True))
    assert again.status_code == 200 and (again.json()["changed"], again.json()["submitted"]) == (0, False)
    # A change to a submitted filing is refused with the service's message.
    changed = post(client, payload(w, values={"OP_VISITS": 1}))
    assert changed.status_code == 409
    assert changed.json()["detail"] == "此填报已上报，不能修改；请联系县卫生健康局解锁。"


def test_submit_return_resubmit_approve_through_the_api(setup, today):
    w = setup
    filer, office = api(w.filer), api(w.alliance_admin)
    pk = post(filer, payload(w)).json()["filing"]["id"]
    url = f"/api/filings/{pk}/"

    submitted = filer.post(url + "submit/", {"version": 2}, format="json")
    assert submitted.status_code == 200, submitted.content
    assert (submitted.json()["status"], submitted.json()["version"]) == ("submitted", 3)

    no_reason = office.post(url + "return/", {"version": 3, "reason": "  "}, format="json")
    assert no_reason.status_code == 400
    assert no_reason.json() == {"reason": ["请填写退回原因，填报人会看到。"]}
    returned = office.post(url + "return/", {"version": 3, "reason": "门急诊人次偏高，请核实"}, format="json")
    assert returned.status_code == 200, returned.content
    assert (returned.json()["status"], returned.json()["return_reason"]) == ("returned", "门急诊人次偏高，请核实")
    assert not DataValue.objects.filter(counted=True).exists()

    # The filer sees the reason, corrects and resubmits in one request.
    seen = filer.get(url).json()
    assert (seen["return_reason"], seen["editable"], seen["can_file"], seen["can_review"]) == (
        "门急诊人次偏高，请核实", True, True, False)
    fixed = post(filer, payload(w, values={"OP_VISITS": 7000}, version=4, submit=True))
    assert fixed.status_code == 200, fixed.content
    assert (fixed.json()["changed"], fixed.json()["submitted"], fixed.json()["filing"]["version"]) == (1, True, 6)

    stale = office.post(url + "approve/", {"version": 5}, format="json")
    assert stale.status_code == 409 and "其他人" in stale.json()["detail"]
    approved = office.post(url + "approve/", {"version": 6}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["reviewed_by"]["id"] == w.alliance_admin.pk
    again = office.post(url + "approve/", {"version": 7}, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == "只有已上报的填报才能审核通过；此填报当前为已通过。"

    events = [(e["action"], e["reason"]) for e in filer.get(url).json()["events"]]
    assert events == [("api", ""), ("submit", ""), ("return", "门急诊人次偏高，请核实"), ("api", ""),
                      ("submit", ""), ("approve", "")]
    assert DataValue.objects.get(element__code="OP_VISITS").value == 7000
    assert not DataValue.objects.filter(counted=False).exists()


def test_review_actions_refuse_those_who_may_not_with_403(setup, today):
    w = setup
    pk = post(api(w.filer), payload(w, submit=True)).json()["filing"]["id"]
    url = f"/api/filings/{pk}/"
    filer, office, viewer, bureau = api(w.filer), api(w.alliance_admin), api(w.supervisor), api(w.bureau)
    reviewers_only = "只有县卫生健康局或医共体办公室可以审核此填报。"
    for client in (filer, viewer):
        for path, data in [("approve/", {"version": 3}), ("return/", {"version": 3, "reason": "x"})]:
            response = client.post(url + path, data, format="json")
            assert response.status_code == 403 and response.json()["detail"] == reviewers_only
    for client in (filer, office, viewer):
        response = client.post(url + "unlock/", {"version": 3, "reason": "x"}, format="json")
        assert response.status_code == 403 and response.json()["detail"] == "只有县卫生健康局可以解锁填报。"
    response = viewer.post(url + "submit/", {"version": 3}, format="json")
    assert response.status_code == 403 and response.json()["detail"] == "您不负责平台镇卫生院的填报。"
    assert Filing.objects.get(pk=pk).status == Filing.Status.SUBMITTED

    # The bureau approves, and unlocks with a reason.
    assert bureau.post(url + "approve/", {"version": 3}, format="json").status_code == 200
    missing = bureau.post(url + "unlock/", {"version": 4}, format="json")
    assert missing.status_code == 400 and missing.json() == {"reason": ["请填写解锁原因。"]}
    assert bureau.post(url + "unlock/", {"reason": "x"}, format="json").json() == {"version": ["该字段是必填项。"]}
    unlocked = bureau.post(url + "unlock/", {"version": 4, "reason": "医保对账后更正"}, format="json")
    assert unlocked.status_code == 200
    assert (unlocked.json()["status"], unlocked.json()["reopened_until"]) == ("returned", "2026-11-10")


def test_after_the_lock_day_changes_are_409_until_the_bureau_unlocks(setup):
    w = setup
    with time_machine.travel(TODAY):
        post(api(w.filer), payload(w))
    with time_machine.travel(date(2026, 11, 21)):
        late = post(api(w.filer), payload(w, values={"OP_VISITS": 1}))
        assert late.status_code == 409
        assert late.json()["detail"] == "此填报的锁定日（2026-11-20）已过；请联系县卫生健康局解锁。"
        assert post(api(w.filer), payload(w)).status_code == 200  # nothing to change: no conflict
        pk = the_filing(w).pk
        assert api(w.bureau).post(f"/api/filings/{pk}/unlock/", {"version": 2, "reason": "补报"},
                                  format="json").status_code == 200
        assert post(api(w.filer), payload(w, values={"OP_VISITS": 1}, submit=True)).status_code == 200
    assert the_filing(w).status == Filing.Status.SUBMITTED


# Reading -----------------------------------------------------------------------------------

def test_report_form_detail_lists_its_rows_and_who_fills_them(setup):
    w = setup
    form = w.forms["MONTHLY_OPS"]
    listed = rows(api(w.filer).get("/api/report-forms/", {"code": "MONTHLY_OPS"}))
    assert [(f["id"], f["county_name"], f["element_count"]) for f in listed] == [(form.pk, "郁南县", 28)]  # 23 rows, and 5 of seed 000 10.1 and 10.3 (issue 18)
    detail = api(w.filer).get(f"/api/report-forms/{form.pk}/").json()
    assert (detail["period_kind"], detail["filer_level"], detail["due_day"], detail["lock_day"]) == (
        "month", "institution", 5, 20)
    assert set(detail["institution_kinds"]) == {"county_general", "tcm", "mch", "central_hc", "township_hc",
                                                "community_hc"}
    by_code = {row["code"]: row for row in detail["elements"]}
    assert [row["code"] for row in detail["elements"]][:3] == ["OP_VISITS", "DISCHARGES", "DISCHARGE_BED_DAYS"]
    assert by_code["SURGERIES"]["institution_kinds"] == ["county_general", "tcm", "mch"]
    assert by_code["OP_VISITS"] | {"element": 0} == {
        "element": 0, "code": "OP_VISITS", "name": "门急诊人次（诊疗人次）", "unit": "人次", "value_type": "integer",
        "decimal_places": 0, "section": "医疗服务", "order": 1, "required": True, "institution_kinds": []}
    assert by_code["TOTAL_REVENUE"]["decimal_places"] == 2


def test_definitions_are_the_shared_catalogue_and_the_own_countys(setup):
    w = setup
    DataElement.objects.create(county=w.yn, code="YN_LOCAL", name="郁南县自定义数据项", unit="人次")
    Indicator.objects.create(county=w.yn, code="YN_LOCAL_RATE", name="郁南县自定义指标", numerator="YN_LOCAL",
                             denominator="OP_VISITS", factor=100)
    local = rows(api(w.filer).get("/api/indicators/", {"shared": "false"}))
    assert [i["code"] for i in local] == ["YN_LOCAL_RATE"]
    a4_24 = rows(api(w.filer).get("/api/indicators/", {"code": "A4_24"}))[0]
    assert (a4_24["numerator"], a4_24["denominator"], a4_24["factor"], a4_24["target_kind"], a4_24["direction"]) == (
        "DISCHARGE_BED_DAYS@lead", "DISCHARGES@lead", "1.00", "direction", "down")
    assert api(w.bureau).get("/api/indicators/").json()["count"] == len(Indicator.objects.all())
    assert api(w.outsider).get("/api/indicators/").json()["count"] == Indicator.objects.filter(county=None).count()
    elements = rows(api(w.bureau).get("/api/data-elements/", {"code": "TOTAL_REVENUE"}))
    assert [(e["value_type"], e["decimal_places"], e["aggregation"]) for e in elements] == [("money", 2, "sum")]
    assert [e["code"] for e in rows(api(w.bureau).get("/api/data-elements/", {"shared": "false"}))] == ["YN_LOCAL"]
    assert rows(api(w.outsider).get("/api/data-elements/", {"shared": "false"})) == []


def test_filing_list_filters_and_flags(setup, today):
    w = setup
    for institution in (w.centre, w.centre2, w.hospital):
        post(api(w.bureau), payload(w, institution, values={"OP_VISITS": 100}))
    file_values(w.forms["MONTHLY_OPS"], w.centre, Period.parse("2026-09"), {"OP_VISITS": 90},
                status=Filing.Status.DRAFT)  # past its lock day: the bureau's correction
    post(api(w.bureau), {"form": "COUNTY_INSURANCE", "county": w.yn.pk, "period": "2026-10",
                         "values": {"INS_INPATIENTS_TOTAL": 10}})
    bureau = api(w.bureau)

    def names(**params):
        return [(r["filer_name"], r["period"]) for r in rows(bureau.get("/api/filings/", params))]

    assert len(names()) == 5
    assert names(period="2026-09") == [("平台镇卫生院", "2026-09")]
    assert sorted(names(form="MONTHLY_OPS", period="2026-10")) == [
        ("县人民医院", "2026-10"), ("平台镇卫生院", "2026-10"), ("桂圩镇卫生院", "2026-10")]
    assert names(county_level="true") == [("郁南县", "2026-10")]
    assert len(names(institution=w.centre.pk)) == 2
    assert names(status="submitted") == []
    bad = bureau.get("/api/filings/", {"period": "2026-13"})
    assert bad.status_code == 400 and bad.json()["period"][0].startswith("“2026-13”不是有效的期间")

    # The centre's filer sees his own; the alliance office reviews its members' filings.
    mine = rows(api(w.filer).get("/api/filings/"))
    assert {(r["filer_name"], r["can_file"], r["can_review"]) for r in mine} == {("平台镇卫生院", True, False)}
    office = {r["filer_name"]: (r["can_file"], r["can_review"]) for r in rows(api(w.alliance_admin).get(
        "/api/filings/", {"period": "2026-10"}))}
    assert office == {"县人民医院": (True, True), "平台镇卫生院": (True, True), "桂圩镇卫生院": (True, True)}
    viewer = {(r["can_file"], r["can_review"]) for r in rows(api(w.supervisor).get("/api/filings/"))}
    assert viewer == {(False, False)}


# The outsider ------------------------------------------------------------------------------

def _routes() -> list[tuple[str, type]]:
    found = {}
    for pattern in router.urls:
        view_class = getattr(pattern.callback, "cls", None)
        model = getattr(view_class, "scoped_model", None)
        if model in INDICATOR_MODELS and pattern.name and "pk" in pattern.pattern.regex.groupindex:
            found[pattern.name] = model
    return sorted(found.items())


def test_every_new_route_names_its_model_for_the_sweep():
    names = dict(_routes())
    for name in ["report-form-detail", "data-element-detail", "indicator-detail", "filing-detail", "filing-submit",
                 "filing-approve", "filing-return", "filing-unlock"]:
        assert name in names, sorted(names)


def test_outsider_gets_404_on_every_route_like_a_missing_id(setup, today):
    w = setup
    filing = Filing.objects.get(pk=post(api(w.filer), payload(w, submit=True)).json()["filing"]["id"])
    objects = {
        Filing: filing, ReportForm: w.forms["MONTHLY_OPS"],
        DataElement: DataElement.objects.create(county=w.yn, code="YN_LOCAL", name="郁南县自定义数据项"),
        Indicator: Indicator.objects.create(county=w.yn, code="YN_LOCAL_RATE", name="郁南县自定义指标",
                                            numerator="YN_LOCAL"),
    }
    outsider, insider = api(w.outsider), api(w.bureau)
    bodies = {"submit": {"version": 3}, "approve": {"version": 3}, "return": {"version": 3, "reason": "x"},
              "unlock": {"version": 3, "reason": "x"}}
    checked = []
    for name, model in _routes():
        foreign = reverse(name, kwargs={"pk": objects[model].pk})
        missing = reverse(name, kwargs={"pk": MISSING_ID})
        insider_get = insider.get(foreign).status_code
        assert insider_get in (200, 405), (name, insider_get)
        data = bodies.get(name.rsplit("-", 1)[-1], {})
        for method in ("get", "post", "put", "patch", "delete"):
            call = getattr(outsider, method)
            a = call(foreign, data, format="json") if method != "get" else call(foreign)
            b = call(missing, data, format="json") if method != "get" else call(missing)
            assert a.status_code == b.status_code, (name, method, a.status_code, b.status_code)
            assert a.status_code in (404, 405), (name, method, a.status_code)
            if method == "get" and insider_get == 200:
                assert a.status_code == 404, name
            if a.status_code == 404:
                assert a.json() == b.json(), (name, method)
            assert not [n for n in FOREIGN_NAMES if n in a.content.decode()], (name, method)
        checked.append(name)
    assert len(checked) == 8
    filing.refresh_from_db()
    assert (filing.status, filing.version) == (Filing.Status.SUBMITTED, 3)


def test_outsider_lists_and_filters_show_nothing_of_the_county(setup, today):
    w = setup
    post(api(w.filer), payload(w))
    client = api(w.outsider)
    for url in ["/api/filings/", "/api/report-forms/", "/api/data-elements/", "/api/indicators/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert not [n for n in FOREIGN_NAMES if n in response.content.decode()], url
    assert rows(client.get("/api/filings/")) == []
    assert {f["county_name"] for f in rows(client.get("/api/report-forms/"))} == {"万源市"}
    for url, field, pk in [("/api/filings/", "institution", w.centre.pk), ("/api/filings/", "county", w.yn.pk),
                           ("/api/report-forms/", "county", w.yn.pk)]:
        a, b = client.get(url, {field: pk}), client.get(url, {field: MISSING_ID})
        assert a.status_code == b.status_code == 400 and list(a.json()) == list(b.json()) == [field]


# Indicator values --------------------------------------------------------------------------

def values_of(client, **params) -> dict:
    response = client.get("/api/indicator-values/", {"period": "2026Q3", **params})
    return {(r["indicator"], r["unit_name"]): r for r in rows(response)}


def test_indicator_values_carry_hand_computed_numerators_and_denominators(county):
    w = county
    got = values_of(api(w.bureau), level="alliance", indicators="A4_24,A4_32,A4_25")
    assert set(got) == {(code, name) for code in ("A4_24", "A4_32", "A4_25") for name in ("第一医共体", "第三医共体")}
    stay = got[("A4_24", "第一医共体")]
    # (800 + 900 + 700) bed days of the lead hospital's discharges / (3 × 100) discharges.
    assert (stay["numerator"], stay["denominator"], stay["value"], stay["unit_label"]) == ("2400", "300", "8.00", "天")
    assert (stay["indicator_name"], stay["unit_id"], stay["period"], stay["level"]) == (
        "牵头医院出院患者平均住院日", w.alliance_a.pk, "2026Q3", "alliance")
    # Primary-care visits with the membership of each month: 桂圩 moved to 第三医共体 on 1 August.
    first, third = got[("A4_32", "第一医共体")], got[("A4_32", "第三医共体")]
    assert (first["numerator"], first["denominator"], first["value"]) == ("1100", "4100", "26.83")
    assert (third["numerator"], third["denominator"], third["value"]) == ("700", "2200", "31.82")
    assert (first["target_operator"], first["target"], first["direction"], first["met_threshold"]) == (
        "ge", "65", "up", False)
    # Level 3/4 surgeries: 40 of 100 against 30 of 100 a year earlier, a rise: met.
    surgery = got[("A4_25", "第一医共体")]
    assert (surgery["numerator"], surgery["denominator"], surgery["value"], surgery["baseline"]) == (
        "120", "300", "40.00", "30.00")
    assert (surgery["met"], surgery["target"], surgery["direction"]) == (True, None, "up")

    county_rows = values_of(api(w.bureau), indicators="A4_32,A4_18")
    assert set(county_rows) == {("A4_32", "郁南县"), ("A4_18", "郁南县")}
    assert (county_rows[("A4_32", "郁南县")]["numerator"], county_rows[("A4_32", "郁南县")]["denominator"]) == (
        "1800", "6300")
    inpatients = county_rows[("A4_18", "郁南县")]
    assert (inpatients["numerator"], inpatients["denominator"], inpatients["value"], inpatients["met"]) == (
        "2550", "3000", "85.00", True)
    mean = values_of(api(w.bureau), level="alliance", indicators="A4_39")[("A4_39", "第三医共体")]
    assert (mean["value"], mean["numerator"], mean["units_averaged"]) == ("75.0", None, 2)


def test_indicator_values_cover_only_the_units_the_user_sees(county):
    w = county
    office = api(w.alliance_admin)
    assert {unit for _code, unit in values_of(office, level="alliance", indicators="A4_24")} == {"第一医共体"}
    # Its members past and present (桂圩 left in August), not 第三医共体's.
    assert {unit for _code, unit in values_of(office, level="institution", indicators="A4_26")} == {
        "县人民医院", "平台镇卫生院", "桂圩镇卫生院"}
    assert values_of(office, level="county", indicators="A4_32") == {}
    hospital = values_of(office, level="institution", indicators="A4_26", units=str(w.hospital.pk))
    assert [(r["numerator"], r["denominator"], r["value"]) for r in hospital.values()] == [("1200", "3000", "40.00")]
    assert set(values_of(api(w.city), indicators="A4_32")) == {("A4_32", "郁南县")}
    # Another alliance's id, or another county's, answers like one that does not exist.
    foreign = office.get("/api/indicator-values/", {"period": "2026Q3", "level": "alliance",
                                                    "units": str(w.alliance_b.pk)})
    missing = office.get("/api/indicator-values/", {"period": "2026Q3", "level": "alliance",
                                                    "units": str(MISSING_ID)})
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json() == {"units": [f"未找到这些单位：{w.alliance_b.pk}。"]}
    outsider = api(w.outsider).get("/api/indicator-values/", {"period": "2026Q3", "level": "institution",
                                                             "indicators": "A4_26"})
    assert {r["unit_name"] for r in rows(outsider)} == {"市人民医院", "白沙镇分院"}
    assert not [n for n in FOREIGN_NAMES if n in outsider.content.decode()]
    # His own county: 万源's centre filed 100,000 visits a month, all primary care.
    own = values_of(api(w.outsider), indicators="A4_32")
    assert [(unit, r["numerator"], r["denominator"], r["value"]) for (_c, unit), r in own.items()] == [
        ("万源市", "300000", "300000", "100.00")]


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"period": "2026Q5"}, "period", "“2026Q5”不是有效的期间"),
    ({"period": ""}, "period", "该字段不能为空。"),
    ({"level": "city"}, "level", "“city” 不是合法选项。"),
    ({"indicators": "A4_24,NOPE"}, "indicators", "没有代码为NOPE的指标。"),
    ({"indicators": "A4_18", "level": "alliance"}, "indicators", "县域内住院率不在此层级计算。"),
    ({"units": "1,x"}, "units", "“x”不是编号；请用逗号分隔编号，例如 1,2,3。"),
])
def test_bad_indicator_value_queries_answer_400_in_chinese(county, params, field, message):
    response = api(county.bureau).get("/api/indicator-values/", {"period": "2026Q3", **params})
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert response.json()[field][0].startswith(message), response.json()


# Query counts ------------------------------------------------------------------------------

def _count(client, method: str, url: str, data=None) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        if method == "get":
            response = client.get(url, data or {})
        else:
            response = client.post(url, data, format="json")
    assert response.status_code in (200, 201), response.content
    return len(ctx.captured_queries), response


def test_filing_lists_cost_the_same_whatever_their_length(setup, today):
    w = setup
    post(api(w.bureau), payload(w, values={"OP_VISITS": 1}))
    client = api(w.alliance_admin)
    small = {url: _count(client, "get", url)[0] for url in ["/api/filings/", "/api/report-forms/",
                                                            "/api/data-elements/", "/api/indicators/"]}
    for n in range(6):
        institution = InstitutionFactory(county=w.yn, name=f"新增镇卫生院{n}")
        MembershipFactory(institution=institution, alliance=w.alliance_a)
        post(api(w.bureau), payload(w, institution, values={"OP_VISITS": 1}))
        file_values(w.forms["MONTHLY_OPS"], institution, Period.parse("2026-09"), {"OP_VISITS": 1})
    large = {url: _count(client, "get", url)[0] for url in small}
    assert len(rows(client.get("/api/filings/"))) == 13
    assert large == small
    assert small["/api/filings/"] <= 8
    detail_small = _count(client, "get", f"/api/filings/{the_filing(w).pk}/")[0]
    post(api(w.bureau), payload(w))  # twenty values and a second event
    assert _count(client, "get", f"/api/filings/{the_filing(w).pk}/")[0] == detail_small


def test_bulk_filing_costs_the_same_for_two_values_and_twenty(setup, today):
    w = setup
    client = api(w.alliance_admin)
    two, _ = _count(client, "post", BULK, payload(w, w.centre, values={"OP_VISITS": 1, "GPS": 1}, submit=False))
    twenty, response = _count(client, "post", BULK, payload(w, w.centre2))
    assert response.json()["changed"] == 21
    assert two == twenty
    # Changing two values of twenty, or all twenty: the same few queries.
    change_two, _ = _count(client, "post", BULK, payload(w, w.centre2, values={"OP_VISITS": 2, "GPS": 2}))
    change_all, response = _count(client, "post", BULK, payload(w, w.centre2, values={
        code: v + 1 for code, v in centre_values().items()}))
    assert response.json()["changed"] == 21
    assert change_two == change_all
    unchanged, response = _count(client, "post", BULK, payload(w, w.centre2, values={
        code: v + 1 for code, v in centre_values().items()}))
    assert response.json()["changed"] == 0 and unchanged < change_two
    assert twenty <= 40


def test_indicator_values_cost_the_same_for_two_institutions_and_six(county):
    w = county
    client = api(w.bureau)
    params = {"period": "2026Q3", "level": "institution", "indicators": "A4_26,A4_33,A4_39"}
    two, response = _count(client, "get", "/api/indicator-values/", {**params, "units": f"{w.hospital.pk},{w.centre.pk}"})
    assert len(rows(response)) == 6
    extra = InstitutionFactory(county=w.yn, name="新增镇卫生院")
    MembershipFactory(institution=extra, alliance=w.alliance_a, valid_from=date(2020, 1, 1))
    for month in Q3.subperiods(Period.parse("2026-07").kind):
        file_values(w.forms["MONTHLY_OPS"], extra, month, dict(OCCUPIED_BED_DAYS=10, OPEN_BED_DAYS=100))
    six = ",".join(str(i.pk) for i in (w.hospital, w.tcm, w.centre, w.centre2, w.centre_b, extra))
    counted, response = _count(client, "get", "/api/indicator-values/", {**params, "units": six})
    assert counted == two
    assert len(rows(response)) == 18
    added = {r["indicator"]: r for r in rows(response) if r["unit_id"] == extra.pk}
    assert (added["A4_33"]["numerator"], added["A4_33"]["denominator"], added["A4_33"]["value"]) == (
        "30", "300", "10.00")
    # Every unit the bureau sees, without naming them: the same count again.
    assert _count(client, "get", "/api/indicator-values/", params)[0] == two
    assert two <= 12


def test_schema_lists_the_new_endpoints(setup):
    import yaml

    schema = yaml.safe_load(api(setup.bureau).get("/api/schema/").content)
    for path in ["/api/report-forms/{id}/", "/api/data-elements/", "/api/indicators/", "/api/filings/bulk/",
                 "/api/filings/{id}/submit/", "/api/filings/{id}/return/", "/api/filings/{id}/approve/",
                 "/api/filings/{id}/unlock/", "/api/indicator-values/"]:
        assert path in schema["paths"], path
    params = {p["name"] for p in schema["paths"]["/api/indicator-values/"]["get"]["parameters"]}
    assert {"level", "period", "indicators", "units"} <= params


def test_the_service_filing_pipeline_is_what_the_api_uses(setup, today):
    """A filing opened by the service and one opened by the API are the same row."""
    w = setup
    filing = svc.open_filing(w.forms["MONTHLY_OPS"], w.centre, Period.parse("2026-10"))
    response = post(api(w.filer), payload(w))
    assert response.status_code == 200 and response.json()["filing"]["id"] == filing.pk
    assert response.json()["created"] is False and response.json()["changed"] == 21
