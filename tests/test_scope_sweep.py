"""A sweep over the URL resolver: every route that names an object answers a user of
another county exactly as it answers for an object that does not exist (404), and no
list route shows that user anything of the other county.

New routes are covered without new test code. A route whose keyword the sweep does not
know fails here: name URL keywords after their model (``alliance_pk``…) or give DRF
viewsets a ``queryset``."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import ApiToken, Grant, Role, User
from alliances.models import Alliance, AllianceMembership, Institution, JointOffice, Region
from alliances.services import joint_office_create
from core.models import SecurityEvent
from finance.models import Budget, CalendarDay, InsuranceBudget
from indicators.models import DataElement, EvaluationRun, Filing, Indicator, ReportForm
from reports.models import Alert, AlertRule, Delivery, Report, ReportVersion
from staffing.models import RecruitmentPlan, Staff, TrainingRecord
from tasks.models import Assignment as TaskAssignment
from tasks.models import (
    Evidence,
    Inspection,
    InspectionFinding,
    Ledger,
    Notification,
    ProgressReport,
    SupervisionOrder,
    TaskItem,
)
from tests.conftest import client_for
from tests.factories import UserFactory, grant

KWARG_MODELS = {
    "region_pk": Region,
    "alliance_pk": Alliance,
    "institution_pk": Institution,
    "membership_pk": AllianceMembership,
    "joint_office_pk": JointOffice,
    "ledger_pk": Ledger,
    "item_pk": TaskItem,
    "assignment_pk": TaskAssignment,
    "report_pk": ProgressReport,
    "evidence_pk": Evidence,
    "order_pk": SupervisionOrder,
    "inspection_pk": Inspection,
    "finding_pk": InspectionFinding,
    "notification_pk": Notification,
    "filing_pk": Filing,
    "form_pk": ReportForm,
    "element_pk": DataElement,
    "indicator_pk": Indicator,
    "run_pk": EvaluationRun,
    "scheduled_report_pk": Report,
    "version_pk": ReportVersion,
    "delivery_pk": Delivery,
    "alert_rule_pk": AlertRule,
    "alert_pk": Alert,
    "insurance_budget_pk": InsuranceBudget,
    "budget_pk": Budget,
    "calendar_day_pk": CalendarDay,
    "staff_pk": Staff,
    "recruitment_plan_pk": RecruitmentPlan,
    "training_record_pk": TrainingRecord,
    "user_pk": User,
    "grant_pk": Grant,
    "token_pk": ApiToken,
    "event_pk": SecurityEvent,
    "token": "import preview",  # a preview of the import API (POST /api/imports/), by its token
}
MISSING_PK = 987_654_321
# Routes that are not the portal's own pages or data.
SKIP_PREFIXES = ("admin:", "i18n", "set_language", "api-schema", "api-docs", "api-redoc", "logout", "api-token")
# Names of 郁南县 objects in the world fixture that the outsider must never see.
FOREIGN_NAMES = ["郁南县", "yn_security_sweep", "第一医共体", "第三医共体", "县人民医院", "平台镇卫生院", "桂圩镇卫生院", "通门镇卫生院",
                 "郁南县2026年医共体建设重点任务", "推进医共体人员统筹使用", "台账更新不及时", "督办〔2026〕"]


@dataclass
class Route:
    name: str
    kwargs: list[str]
    callback: object


def _kwarg_names(pattern) -> list[str]:
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def iter_routes(resolver=None, namespace: list[str] | None = None, prefix_kwargs: list[str] | None = None):
    resolver = resolver or get_resolver()
    namespace = namespace or []
    prefix_kwargs = prefix_kwargs or []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace + [entry.namespace] if entry.namespace else namespace
            yield from iter_routes(entry, ns, prefix_kwargs + _kwarg_names(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            yield Route(":".join(namespace + [entry.name]), prefix_kwargs + _kwarg_names(entry.pattern), entry.callback)


def _model_for(route: Route, kwarg: str):
    if kwarg in KWARG_MODELS:
        return KWARG_MODELS[kwarg]
    if kwarg == "pk":
        view_class = getattr(route.callback, "cls", None)
        if getattr(view_class, "scoped_model", None) is not None:
            return view_class.scoped_model
        queryset = getattr(view_class, "queryset", None)
        if queryset is not None:
            return queryset.model
        serializer = getattr(view_class, "serializer_class", None)
        if serializer is not None:
            return serializer.Meta.model
    raise AssertionError(f"route {route.name!r}: the sweep does not know what keyword {kwarg!r} names")


def _portal_routes():
    return [r for r in iter_routes() if not r.name.startswith(SKIP_PREFIXES)]


@pytest.fixture
def foreign_objects(ledger_world):
    """One 郁南县 object of every model a route names: the organisation tree, and the task ledger with a
    report carrying evidence, an order, an inspection with a finding, and a digest."""
    from datetime import date

    from django.core.files.uploadedfile import SimpleUploadedFile

    from tasks.services.progress import progress_report_submit
    from tasks.services.supervision import finding_add, inspection_record, order_issue

    world = ledger_world
    office = joint_office_create(first=world.hospital, second=world.centre2, note="两个牌子一套人马")
    report = progress_report_submit(
        assignment=world.assignment_hospital, user=world.filer_hospital, text="已完成", percent=100,
        marks_complete=True, files=[SimpleUploadedFile("佐证.pdf", b"%PDF-1.4 test")], now=world.now)
    order = order_issue(assignment=world.assignment_a, user=world.supervisor, colour="yellow", text="请加快进度",
                        reply_due=date(2026, 6, 10), now=world.now)
    inspection = inspection_record(county=world.yn, user=world.supervisor, title="2026年上半年督查",
                                   half_year="2026H1", held_on=date(2026, 6, 1))
    finding = finding_add(inspection=inspection, text="台账更新不及时", severity="minor", unit=world.health)
    notification = Notification.objects.create(user=world.bureau, day=date(2026, 6, 1), title="郁南县任务提醒")
    filing_objects = _filing_objects(world)
    return {
        **filing_objects,
        **_report_objects(world),
        **_security_objects(world),
        InsuranceBudget: InsuranceBudget.objects.create(alliance=world.alliance_a, year=2026, amount=1000000),
        Budget: Budget.objects.create(alliance=world.alliance_a, year=2026, number=1, created_at=world.now,
                                      note="郁南县预算"),
        CalendarDay: CalendarDay.objects.create(county=world.yn, day=date(2026, 6, 2), kind="holiday",
                                                name="郁南县自定义假日"),
        **_staffing_objects(world),
        Region: world.yn,
        Alliance: world.alliance_a,
        Institution: world.centre,
        AllianceMembership: world.centre.memberships.get(),
        JointOffice: office,
        Ledger: world.ledger,
        TaskItem: world.item_fanout,
        TaskAssignment: world.assignment_a,
        ProgressReport: report,
        Evidence: report.evidence.get(),
        SupervisionOrder: order,
        Inspection: inspection,
        InspectionFinding: finding,
        Notification: notification,
        "import preview": _import_preview(world),
    }


def _import_preview(world):
    """A 郁南县 ledger previewed through the import API by its bureau: the confirmation route's token."""
    from types import SimpleNamespace

    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.test_import_mapping import LEAD_AND_RESPONSIBLE, sheet

    answer = client_for(world.bureau).post(reverse("api-imports"), {
        "register": "ledger", "county": world.yn.pk, "year": "2026",
        "file": SimpleUploadedFile("郁南县台账.xlsx", sheet(LEAD_AND_RESPONSIBLE))})
    assert answer.status_code == 200 and answer.json()["token"], answer.content
    return SimpleNamespace(pk=answer.json()["token"])


def _filing_objects(world):
    """A 郁南县 form, filing, county-owned data element and indicator, and an evaluation run."""
    from django.utils import timezone

    from core.periods import Period
    from indicators.catalog import install_catalog, install_forms
    from indicators.models import EvaluationScheme
    from indicators.services.filings import open_filing

    install_catalog()
    forms = {form.code: form for form in install_forms(world.yn, first_period="2026-01")}
    form = forms["MONTHLY_OPS"]
    filing = open_filing(form, world.centre, Period.parse("2026-05"), user=world.bureau)
    element = DataElement.objects.create(county=world.yn, code="YN_LOCAL", name="郁南县自定义数据项", unit="人次")
    indicator = Indicator.objects.create(county=world.yn, code="YN_LOCAL_RATE", name="郁南县自定义指标",
                                         numerator="YN_LOCAL", denominator="OP_VISITS", factor=100)
    scheme = EvaluationScheme.objects.get(code="ANNEX6_QUARTERLY", county=None)
    run = EvaluationRun.objects.create(scheme=scheme, county=world.yn, period="2026Q1", created_at=timezone.now())
    return {Filing: filing, ReportForm: form, DataElement: element, Indicator: indicator, EvaluationRun: run}


def _security_objects(world):
    """A 郁南县 account with a grant and an API token, and a security event of 郁南县."""
    from core import audit
    from security import services

    account = UserFactory(username="yn_security_sweep", full_name="郁南县安全员", county=world.yn)
    held = grant(account, Role.SECURITY_ADMIN, world.yn)
    token, _key = services.api_token_create(user=account, name="郁南县脚本")
    event = audit.record(audit.Event.USER_EDIT, actor=account, target=account, details={"note": "郁南县"})
    return {User: account, Grant: held, ApiToken: token, SecurityEvent: event}


def _staffing_objects(world):
    """A 郁南县 staff member (named so a leak shows), a recruitment plan and a training record."""
    from datetime import date

    from staffing import services

    staff, _created = services.upsert(world.yn.pk, "445322199001011230", {
        "name": "郁南县员工", "institution": world.centre, "employment": "established", "profession": "doctor",
        "education": "bachelor", "hired_on": date(2015, 7, 1)})
    plan = RecruitmentPlan.objects.create(alliance=world.alliance_a, institution=world.centre, year=2026,
                                          post="郁南县临床医师", profession="gp", planned=2)
    training = TrainingRecord.objects.create(staff=staff, kind="gp_conversion", provider="郁南县培训基地",
                                             start=date(2026, 3, 1))
    return {Staff: staff, RecruitmentPlan: plan, TrainingRecord: training}


def _report_objects(world):
    """郁南县's 进度监测表 of May 2026, generated and delivered (to its bureau)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from core.periods import Period
    from reports import services

    now = datetime(2026, 6, 5, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    report, _created = services.create_report("monthly", world.yn, Period.parse("2026-05"), now=now)
    services.process(report.pk, now)
    return {Report: report, ReportVersion: report.versions.get(), Delivery: report.deliveries.first(),
            **_alert_objects(world, now)}


def _alert_objects(world, now):
    """A 郁南县 alert rule and one of its alerts (raised by hand: the sweep needs the rows, not the rule)."""
    rule = AlertRule.objects.create(county=world.yn, name="郁南县预警规则", kind="red_tasks", level="alliance", count=1,
                                    roles=["bureau_admin"], created_at=now, updated_at=now)
    alert = Alert.objects.create(rule=rule, county=world.yn, alliance=world.alliance_a, level="alliance",
                                 unit_id=world.alliance_a.pk, unit_name="第一医共体", period="2026-05",
                                 text="第一医共体：1项红灯任务", batch="sweep", raised_at=now)
    return {AlertRule: rule, Alert: alert}


def _url(route: Route, pk_for):
    kwargs = {}
    for kwarg in route.kwargs:
        if kwarg == "format":
            kwargs[kwarg] = "json"
        else:
            kwargs[kwarg] = pk_for(_model_for(route, kwarg))
    return reverse(route.name, kwargs=kwargs)


def test_sweep_finds_the_routes_it_should():
    names = {r.name for r in _portal_routes()}
    assert "home" in names
    object_routes = [r for r in _portal_routes() if r.kwargs]
    # The sweep is only worth something if it sees object routes of pages and API alike.
    assert len(object_routes) >= 10, sorted(names)
    assert any(r.name.endswith("-detail") for r in object_routes), sorted(names)
    assert any(r.name.startswith("alliances:") for r in object_routes), sorted(names)


SECURITY_ROUTE_MARKERS = ("security:", "user", "grant", "token", "security-event", "api-me")


def _outsider(world, kind: str):
    """The 万源市 outsider: bureau staff; or its security administrator or auditor, who must see none
    of 郁南县's accounts or security log either."""
    if kind == "bureau":
        return world.outsider, world.bureau
    role = {"security": Role.SECURITY_ADMIN, "auditor": Role.AUDITOR}[kind]
    outsider = UserFactory(username=f"wy_{kind}", county=world.wy)
    grant(outsider, role, world.wy)
    insider = UserFactory(username=f"yn_{kind}", county=world.yn)
    grant(insider, role, world.yn)
    return outsider, insider


@pytest.mark.parametrize("kind", ["bureau", "security", "auditor"])
def test_outsider_gets_404_on_every_object_route(world, foreign_objects, kind):
    outsider_user, insider_user = _outsider(world, kind)
    outsider = client_for(outsider_user)
    insider = client_for(insider_user)
    checked = []
    for route in _portal_routes():
        if not [k for k in route.kwargs if k != "format"]:
            continue
        if kind != "bureau" and not any(marker in route.name for marker in SECURITY_ROUTE_MARKERS):
            continue
        foreign_url = _url(route, lambda model: foreign_objects[model].pk)
        missing_url = _url(route, lambda model: MISSING_PK)

        insider_status = insider.get(foreign_url).status_code
        foreign_get = outsider.get(foreign_url)
        missing_get = outsider.get(missing_url)
        assert foreign_get.status_code == missing_get.status_code, (route.name, foreign_url)
        if insider_status == 200:
            assert foreign_get.status_code == 404, (route.name, foreign_url, foreign_get.status_code)
        for name in FOREIGN_NAMES:
            assert name not in foreign_get.content.decode(errors="ignore"), (route.name, name)

        foreign_post = outsider.post(foreign_url, {})
        missing_post = outsider.post(missing_url, {})
        assert foreign_post.status_code == missing_post.status_code, (route.name, "POST")
        assert foreign_post.status_code in (404, 405), (route.name, "POST", foreign_post.status_code)
        if foreign_post.status_code == 405:
            for method in ("put", "patch", "delete"):
                response = getattr(outsider, method)(foreign_url, {}, content_type="application/json")
                assert response.status_code in (404, 405), (route.name, method, response.status_code)
        checked.append(route.name)
    assert checked, "no object route was checked"


@pytest.mark.parametrize("kind", ["bureau", "security", "auditor"])
def test_outsider_sees_nothing_foreign_on_list_routes(world, foreign_objects, kind):
    outsider = client_for(_outsider(world, kind)[0])
    checked = []
    for route in _portal_routes():
        if [k for k in route.kwargs if k != "format"]:
            continue
        if kind != "bureau" and not any(marker in route.name for marker in SECURITY_ROUTE_MARKERS):
            continue
        url = _url(route, lambda model: None)
        response = outsider.get(url, HTTP_ACCEPT="text/html,application/json")
        if response.status_code != 200 or "xlsx" in response.get("Content-Type", ""):
            continue
        body = response.content.decode(errors="ignore")
        for name in FOREIGN_NAMES:
            assert name not in body, (route.name, name)
        checked.append(route.name)
    assert "home" in checked or kind != "bureau"
    assert checked
