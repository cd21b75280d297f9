"""The test world (after healthchecks' BaseTestCase): two counties in two provinces.

County 郁南县 (in 云浮市, 广东省) has alliances A and B; the outsider is bureau staff
of 万源市 (in 达州市, 四川省) and must see nothing of 郁南县.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import translation

from accounts.models import Role
from alliances.models import AllianceMembership, Institution, Region
from tests.factories import (
    AllianceFactory,
    InstitutionFactory,
    MembershipFactory,
    RegionFactory,
    UserFactory,
    grant,
)

LEAD = AllianceMembership.Role.LEAD
K = Institution.Kind
FAKE_NOW_VARIABLE = "PORTAL_TEST_NOW"


def pytest_configure(config):
    """Opt-in, off by default: ``PORTAL_TEST_NOW=2027-01-01T00:30 pytest -m "not celery_worker"`` runs the
    session on a clock that starts at that moment (Asia/Shanghai unless the text has an offset) and
    ticks, to find tests that depend on the day they run (every test should pass on any date). Only this
    process moves — the live server's threads too, not the database's NOW() nor the Celery worker's
    subprocess, hence ``-m "not celery_worker"``. Tests that pin the clock with time_machine still do."""
    import os

    text = os.environ.get(FAKE_NOW_VARIABLE, "").strip()
    if not text:
        return
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    config._portal_fake_clock = time_machine.travel(moment, tick=True)
    config._portal_fake_clock.start()


def pytest_unconfigure(config):
    traveller = getattr(config, "_portal_fake_clock", None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config):
    if getattr(config, "_portal_fake_clock", None) is not None:
        import os

        return f"{FAKE_NOW_VARIABLE}: the clock starts at {os.environ[FAKE_NOW_VARIABLE]} (time_machine, ticking)"
    return None


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and before they are dropped, the end of any session a
    live-server thread or a worker process left open: PostgreSQL refuses to drop a database in
    use, which would leave ``test_*`` databases behind."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor != "postgresql":
                continue
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            connection.close()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _session_clocks_off(settings):
    """Tests travel in time between requests of one signed-in client (to a deadline, a lock day, a
    quarter's end); the idle timeout, the session's time limit and the password's age would sign
    them out. The tests of those rules (tests/test_security_*.py) turn them back on."""
    settings.SESSION_IDLE_MINUTES = 0
    settings.SESSION_ABSOLUTE_HOURS = 0
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600  # Django's default; the portal's is the 12-hour limit
    settings.PASSWORD_MAX_AGE_DAYS = 0


@pytest.fixture(autouse=True)
def _form_rows_cache():
    """The per-process cache of form rows is keyed by form id and rows version; a test's rolled-back
    form may leave its id (SQLite reuses it) and version 0 to the next test's form."""
    from indicators.services.filings import _ROWS_CACHE

    _ROWS_CACHE.clear()
    yield
    _ROWS_CACHE.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the portal's language: a request that switched the thread's
    language (the language cookie) must not leak into the next test."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture
def world(db):
    w = SimpleNamespace()
    w.gd = RegionFactory(code="440000", name="广东省", level=Region.Level.PROVINCE)
    w.yf = RegionFactory(code="445300", name="云浮市", level=Region.Level.CITY, parent=w.gd)
    w.yn = RegionFactory(code="445322", name="郁南县", level=Region.Level.COUNTY, parent=w.yf)
    w.sc = RegionFactory(code="510000", name="四川省", level=Region.Level.PROVINCE)
    w.dz = RegionFactory(code="511700", name="达州市", level=Region.Level.CITY, parent=w.sc)
    w.wy = RegionFactory(code="511781", name="万源市", level=Region.Level.COUNTY, parent=w.dz)

    w.hospital = InstitutionFactory(county=w.yn, name="县人民医院", kind=K.COUNTY_GENERAL_HOSPITAL, beds=500)
    w.tcm = InstitutionFactory(county=w.yn, name="县中医院", kind=K.TCM_HOSPITAL, beds=300)
    w.centre = InstitutionFactory(county=w.yn, name="平台镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    w.centre2 = InstitutionFactory(county=w.yn, name="桂圩镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    w.centre_b = InstitutionFactory(county=w.yn, name="通门镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    w.clinic = InstitutionFactory(county=w.yn, name="平台镇大村卫生站", kind=K.VILLAGE_CLINIC, parent=w.centre)

    w.alliance_a = AllianceFactory(county=w.yn, name="第一医共体")
    w.alliance_b = AllianceFactory(county=w.yn, name="第三医共体")
    start = date(2020, 1, 1)
    MembershipFactory(institution=w.hospital, alliance=w.alliance_a, role=LEAD, valid_from=start)
    MembershipFactory(institution=w.centre, alliance=w.alliance_a, valid_from=start)
    MembershipFactory(institution=w.centre2, alliance=w.alliance_a, valid_from=start)
    MembershipFactory(institution=w.tcm, alliance=w.alliance_b, role=LEAD, valid_from=start)
    MembershipFactory(institution=w.centre_b, alliance=w.alliance_b, valid_from=start)

    w.other_hospital = InstitutionFactory(county=w.wy, name="市人民医院", kind=K.COUNTY_GENERAL_HOSPITAL)
    w.other_centre = InstitutionFactory(county=w.wy, name="白沙镇分院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    w.other_alliance = AllianceFactory(county=w.wy, name="万源市医共体")
    MembershipFactory(institution=w.other_hospital, alliance=w.other_alliance, role=LEAD, valid_from=start)
    MembershipFactory(institution=w.other_centre, alliance=w.other_alliance, valid_from=start)

    def user(username, role, scope):
        u = UserFactory(username=username)
        grant(u, role, scope)
        return u

    w.bureau_admin = user("yn_admin", Role.BUREAU_ADMIN, w.yn)
    w.bureau = user("yn_staff", Role.BUREAU_STAFF, w.yn)
    w.supervisor = user("yn_supervisor", Role.SUPERVISOR, w.yn)
    w.alliance_admin = user("yn_alliance_a", Role.ALLIANCE_ADMIN, w.alliance_a)
    w.filer = user("yn_centre_filer", Role.INSTITUTION_FILER, w.centre)
    w.city = user("yf_city", Role.VIEWER, w.yf)
    w.province = user("gd_province", Role.VIEWER, w.gd)
    w.outsider = user("wy_staff", Role.BUREAU_STAFF, w.wy)
    w.nobody = UserFactory(username="no_grants")
    return w


@pytest.fixture
def ledger_world(world):
    """The world plus a ledger of 郁南县 (year 2026) with three items, made through the services at
    2026-06-01 08:00 Asia/Shanghai:

    - 1.1 "各医共体" (fan-out: alliances A and B), due 2026-06-30, cooperating 县财政局;
    - 1.2 县人民医院 (the hospital of alliance A), due 2026-12-31;
    - 2.1 县卫生健康局, continuous (持续实施).

    ``w.now`` is that moment; departments 县卫生健康局 and 县财政局 exist; ``w.filer_hospital``
    files for 县人民医院; ``w.alliance_filer`` files for alliance A."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine


    w = world
    w.now = datetime(2026, 6, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(w.now, tick=False):
        _make_ledger(w)
    return w


def _make_ledger(w) -> None:
    from tasks.models import Department, Ledger
    from tasks.services.ledgers import item_save, ledger_create

    w.health = Department.objects.create(county=w.yn, name="县卫生健康局")
    w.finance = Department.objects.create(county=w.yn, name="县财政局", aliases=["财政局"])
    w.ledger = ledger_create(county=w.yn, user=w.bureau, title="郁南县2026年医共体建设重点任务", year=2026,
                             doc_number="郁医共〔2026〕1号", issuer="郁南县卫生健康局", layout=Ledger.Layout.MANUAL)
    w.item_fanout = item_save(ledger=w.ledger, user=w.bureau, number="1.1", text="推进医共体人员统筹使用",
                              lead_units_text="各医共体", coop_units_text="县财政局", deadline_text="6月底",
                              section_labels=["一、深化改革", "1．夯实管理责任"], now=w.now)
    w.item_hospital = item_save(ledger=w.ledger, user=w.bureau, number="1.2",
                                text="县域就诊率同比提升1个百分点或达到90%", lead_units_text="县人民医院",
                                deadline_text="12月底", section_labels=["一、深化改革", "1．夯实管理责任"], now=w.now)
    w.item_bureau = item_save(ledger=w.ledger, user=w.bureau, number="2.1", text="每半年开展一次督查",
                              lead_units_text="县卫生健康局", deadline_text="持续实施",
                              section_labels=["二、医防融合"], now=w.now)
    w.assignment_a = w.item_fanout.assignments.get(alliance=w.alliance_a)
    w.assignment_b = w.item_fanout.assignments.get(alliance=w.alliance_b)
    w.assignment_hospital = w.item_hospital.assignments.get()
    w.assignment_bureau = w.item_bureau.assignments.get()
    w.filer_hospital = UserFactory(username="yn_rmyy")
    grant(w.filer_hospital, Role.INSTITUTION_FILER, w.hospital)
    w.alliance_filer = w.alliance_admin


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def as_user():
    return client_for


# Identity numbers with valid check digits (GB 11643), for the staffing tests.
IDS = {
    "doctor": "445322198503152012",  # 县人民医院, 主治医师 (intermediate), 本科
    "nurse": "445322199206203324",  # 平台镇卫生院, 护士, 大专
    "gp": "445322197809094412",  # 平台镇卫生院, 全科医生, 副主任医师 (associate), 本科
    "village": "445322199505055560",  # 平台镇大村卫生站, 乡村医生, 中专
}


@pytest.fixture
def staffing_world(world):
    """The world plus HR officers and a small roster of 郁南县 (through ``staffing.services``):

    - ``w.hr_hospital``: HR officer of 县人民医院; ``w.hr_alliance``: of 第一医共体; ``w.hr_county``: of 郁南县;
    - ``w.doctor`` 李医生 (县人民医院, 在编, physician, intermediate title, bachelor, hired 2010-07-01);
    - ``w.nurse`` 王护士 (平台镇卫生院, 在编, nurse, junior, college, hired 2016-08-01, contract to 2027-01-15);
    - ``w.gp`` 陈全科 (平台镇卫生院, 在编, GP, associate chief, bachelor, hired 2001-09-01);
    - ``w.village_doctor`` 赵村医 (平台镇大村卫生站, 乡村医生, other, secondary, hired 2018-03-01);
    - ``w.other_staff`` in 万源市 (市人民医院), for the outsider checks."""
    from staffing import services

    w = world
    w.hr_hospital = UserFactory(username="yn_rmyy_hr")
    grant(w.hr_hospital, Role.HR_OFFICER, w.hospital)
    w.hr_alliance = UserFactory(username="yn_gt1_hr")
    grant(w.hr_alliance, Role.HR_OFFICER, w.alliance_a)
    w.hr_county = UserFactory(username="yn_hr")
    grant(w.hr_county, Role.HR_OFFICER, w.yn)

    def person(key, name, institution, **fields):
        values = {"name": name, "institution": institution, "employment": "established", "profession": "doctor",
                  "education": "bachelor", "title": "none", "hired_on": date(2010, 7, 1)}
        values.update(fields)
        return services.upsert(institution.county_id, IDS[key], values)[0]

    w.doctor = person("doctor", "李医生", w.hospital, title="intermediate")
    w.nurse = person("nurse", "王护士", w.centre, profession="nurse", title="junior", education="college",
                     hired_on=date(2016, 8, 1), contract_end=date(2027, 1, 15))
    w.gp = person("gp", "陈全科", w.centre, profession="gp", title="associate", hired_on=date(2001, 9, 1))
    w.village_doctor = person("village", "赵村医", w.clinic, employment="village_doctor", profession="other",
                              education="secondary", hired_on=date(2018, 3, 1))
    w.other_staff = services.upsert(w.wy.pk, "511781199001011237", {
        "name": "万源员工", "institution": w.other_hospital, "employment": "established", "profession": "nurse",
        "education": "college", "hired_on": date(2012, 1, 1)})[0]
    return w
