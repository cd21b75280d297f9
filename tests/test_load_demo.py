"""``manage.py load_demo``: the demo counties as the seeds describe them, idempotent, with logins."""

from __future__ import annotations

from collections import Counter
from datetime import date
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django.utils import timezone, translation

from accounts.models import Grant, Role, User
from alliances import demo, selectors
from alliances.models import Alliance, AllianceMembership, GovernanceMember, Institution, JointOffice, Region
from alliances.validators import validate_uscc
from indicators.models import DataElement, DataValue, Filing, FormElement, Indicator, ReportForm

K = Institution.Kind
PASSWORD = "Yigongti-2026"
DEMO_TABLES = [Region, Institution, Alliance, AllianceMembership, JointOffice, GovernanceMember, User, Grant,
               DataElement, ReportForm, FormElement, Indicator, Filing, DataValue]
# Columns that record when a row was written, not what it says.
# Write timestamps, and the counter of writes to a form's rows (the key of the rows cache: a rerun
# saves the same rows again and moves it, which changes no data).
AUTO_COLUMNS = {"created_at", "updated_at", "date_joined", "last_login", "rows_version"}

# Seed 001 §三(二)2, written out here independently of alliances/demo.py.
YUNAN_STRUCTURE = {
    "郁南县第一医共体": ("县人民医院", {"县妇幼保健院", "都城镇卫生院", "平台镇卫生院", "桂圩镇卫生院", "南江口镇卫生院"}),
    "郁南县第二医共体": ("县第二人民医院", {"大湾镇卫生院", "河口镇卫生院", "宋桂镇卫生院", "东坝镇卫生院",
                                            "连滩中心卫生院", "历洞镇卫生院"}),
    "郁南县第三医共体": ("县中医院", {"通门镇卫生院", "建城中心卫生院", "宝珠镇卫生院", "大方镇卫生院",
                                      "千官中心卫生院"}),
}

# username → (is_superuser, {(role, scope kind, scope name)})
EXPECTED_LOGINS = {
    "admin": (True, set()),
    "yn_admin": (False, {(Role.BUREAU_ADMIN, "region", "郁南县")}),
    "yn_staff": (False, {(Role.BUREAU_STAFF, "region", "郁南县")}),
    "yn_supervisor": (False, {(Role.SUPERVISOR, "region", "郁南县")}),
    "yn_viewer": (False, {(Role.VIEWER, "region", "郁南县")}),
    "yn_gt1": (False, {(Role.ALLIANCE_ADMIN, "alliance", "郁南县第一医共体")}),
    "yn_gt1_filer": (False, {(Role.INSTITUTION_FILER, "alliance", "郁南县第一医共体")}),
    "yn_rmyy": (False, {(Role.INSTITUTION_FILER, "institution", "郁南县人民医院")}),
    "yn_rmyy_reviewer": (False, {(Role.INSTITUTION_REVIEWER, "institution", "郁南县人民医院")}),
    "yn_dc": (False, {(Role.INSTITUTION_FILER, "institution", "郁南县都城镇卫生院")}),
    "yn_rmyy_hr": (False, {(Role.HR_OFFICER, "institution", "郁南县人民医院")}),
    "yn_hr": (False, {(Role.HR_OFFICER, "region", "郁南县")}),
    "yn_security": (False, {(Role.SECURITY_ADMIN, "region", "郁南县")}),
    "yn_auditor": (False, {(Role.AUDITOR, "region", "郁南县")}),
    "yf_city": (False, {(Role.VIEWER, "region", "云浮市")}),
    "gd_province": (False, {(Role.VIEWER, "region", "广东省")}),
    "wy_admin": (False, {(Role.BUREAU_ADMIN, "region", "万源市")}),
    "wy_staff": (False, {(Role.BUREAU_STAFF, "region", "万源市")}),
    "wy_zyy": (False, {(Role.ALLIANCE_ADMIN, "alliance", "万源市紧密型县域医疗卫生共同体")}),
    "dz_city": (False, {(Role.VIEWER, "region", "达州市")}),
    "sc_province": (False, {(Role.VIEWER, "region", "四川省")}),
    "gd_platform": (False, {(Role.PLATFORM_ADMIN, "region", "广东省")}),
}


def load(*args: str) -> str:
    """Run the command and return what it printed (in English, so the assertions do not depend
    on the catalogue)."""
    out = StringIO()
    with translation.override("en"):
        call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def dump() -> dict[str, list[tuple]]:
    """Every value of every demo table, row by row in key order, without the write timestamps."""
    result = {}
    for model in DEMO_TABLES:
        columns = [f.attname for f in model._meta.concrete_fields if f.name not in AUTO_COLUMNS]
        result[model._meta.label] = list(model.objects.order_by("pk").values_list(*columns))
    return result


@pytest.fixture
def loaded(db):
    # The organisation and logins only: the demo task ledgers have their own tests (test_tasks_demo).
    return load("--quiet", "--without-ledgers", "--without-filings")


def yunan() -> Region:
    return Region.objects.get(code="445322")


def institution(short_name: str, county: str = "445322") -> Institution:
    return Institution.objects.get(county__code=county, short_name=short_name)


def test_running_twice_gives_identical_data(db):
    # Both runs at one moment: a second run after midnight on the 5th (the last month due moves on)
    # would rightly add that month's filings.
    with time_machine.travel(timezone.now(), tick=False):
        first_output = load("--quiet")
        first = dump()
        second_output = load("--quiet")
        assert dump() == first
    assert "176 rows created" in first_output
    assert "0 rows created, 0 updated, 176 unchanged" in second_output
    assert "Demo filings: 0 filings with 0 values created." in second_output
    # Every demo county files its forms from January 2024 up to the last month due.
    assert Filing.objects.filter(county__code="445322", form__code="MONTHLY_OPS", period="2024-01").count() >= 15


def test_a_second_run_restores_demo_values_but_keeps_a_changed_password(loaded):
    hospital = institution("县人民医院")
    hospital.beds = 1
    hospital.save()
    user = User.objects.get(username="yn_admin")
    user.set_password("Changed-pass-2026")
    user.save()

    output = load("--quiet", "--without-ledgers", "--without-filings")

    hospital.refresh_from_db()
    user.refresh_from_db()
    assert hospital.beds == 650
    assert user.check_password("Changed-pass-2026")
    assert not user.check_password(PASSWORD)
    assert "1 updated" in output


def test_yunan_alliances_match_seed_001(loaded):
    today = timezone.localdate()
    alliances = Alliance.objects.filter(county=yunan())
    assert {a.name for a in alliances} == set(YUNAN_STRUCTURE)
    structure = {}
    for alliance in alliances:
        assert alliance.established_on == date(2020, 6, 1)
        assert alliance.short_name == alliance.name.removeprefix("郁南县")
        members = list(selectors.alliance_members_on(alliance=alliance, on=today))
        leads = [m.institution.short_name for m in members if m.role == AllianceMembership.Role.LEAD]
        assert len(leads) == 1
        structure[alliance.name] = (leads[0], {m.institution.short_name for m in members if m.role == "member"})
    assert structure == YUNAN_STRUCTURE


def test_yunan_joint_offices_are_the_two_of_the_seed(loaded):
    pairs = {frozenset((j.first.short_name, j.second.short_name)) for j in JointOffice.objects.all()}
    assert pairs == {frozenset({"县妇幼保健院", "都城镇卫生院"}), frozenset({"连滩中心卫生院", "县第二人民医院"})}


def test_yunan_institution_names_kinds_and_clinics(loaded):
    county = yunan()
    hospital = institution("县人民医院")
    assert hospital.name == "郁南县人民医院"
    assert institution("平台镇卫生院").name == "郁南县平台镇卫生院"
    kinds = {i.short_name: i.kind for i in Institution.objects.filter(county=county).exclude(kind=K.VILLAGE_CLINIC)}
    assert kinds["县人民医院"] == kinds["县第二人民医院"] == K.COUNTY_GENERAL_HOSPITAL
    assert kinds["县中医院"] == K.TCM_HOSPITAL
    assert kinds["县妇幼保健院"] == K.MCH_HOSPITAL
    assert kinds["县疾病预防控制中心"] == K.CDC
    centres = {name for name, kind in kinds.items() if kind in (K.TOWNSHIP_HEALTH_CENTRE, K.CENTRAL_HEALTH_CENTRE)}
    assert len(centres) == 15
    assert {name for name in centres if kinds[name] == K.CENTRAL_HEALTH_CENTRE} == {
        "连滩中心卫生院", "建城中心卫生院", "千官中心卫生院"}
    # The CDC belongs to no alliance.
    cdc = institution("县疾病预防控制中心")
    assert not cdc.memberships.exists()
    # Two or three invented village clinics under every township and central centre.
    for centre in Institution.objects.filter(county=county, short_name__in=centres):
        clinics = list(centre.children.all())
        assert 2 <= len(clinics) <= 3, centre.name
        assert all(c.kind == K.VILLAGE_CLINIC and c.is_sample and c.county_id == county.pk for c in clinics)
        assert not centre.is_sample  # named in the seed
        assert centre.beds > 0 and centre.service_population > 0


def test_nanjiangkou_moved_from_the_second_to_the_first_alliance_on_2021_01_01(loaded):
    centre = institution("南江口镇卫生院")
    first, second = (Alliance.objects.get(county=yunan(), short_name=s) for s in ("第一医共体", "第二医共体"))
    before, after = date(2020, 12, 31), date(2021, 1, 1)

    assert selectors.institution_alliance_on(institution=centre, on=date(2020, 6, 1)) == second
    assert selectors.institution_alliance_on(institution=centre, on=before) == second
    assert selectors.institution_alliance_on(institution=centre, on=after) == first
    assert selectors.institution_alliance_on(institution=centre, on=date(2020, 5, 31)) is None

    def members(alliance, on):
        return {m.institution_id for m in selectors.alliance_members_on(alliance=alliance, on=on)}

    assert centre.pk in members(second, before) and centre.pk not in members(first, before)
    assert centre.pk in members(first, after) and centre.pk not in members(second, after)
    # A village clinic follows its township centre.
    clinic = centre.children.first()
    assert selectors.institution_alliance_on(institution=clinic, on=before) == second
    assert selectors.institution_alliance_on(institution=clinic, on=after) == first
    history = list(centre.memberships.order_by("valid_from").values_list("alliance_id", "valid_from", "valid_to"))
    assert history == [(second.pk, date(2020, 6, 1), before), (first.pk, after, None)]


def test_every_demo_user_logs_in_with_the_password_and_has_the_expected_grant(loaded):
    assert set(User.objects.values_list("username", flat=True)) == set(EXPECTED_LOGINS)
    factory = RequestFactory()
    for username, (superuser, expected_grants) in EXPECTED_LOGINS.items():
        user = authenticate(factory.post("/login/"), username=username, password=PASSWORD)
        assert user is not None and user.username == username
        assert Client().login(request=factory.post("/login/"), username=username, password=PASSWORD)
        assert user.is_superuser is superuser and user.is_staff is superuser
        assert user.full_name
        grants = {(g.role, g.scope_kind, g.scope.name) for g in user.grants.all()}
        assert grants == expected_grants, username
        assert authenticate(factory.post("/login/"), username=username, password="wrong-password") is None
    assert User.objects.get(username="admin").full_name == "系统管理员"
    # Demo users sign in with the published password without being made to change it; each is kept
    # by its county's security administrator (city and province users by nobody below the platform).
    assert not User.objects.filter(must_change_password=True).exists()
    assert User.objects.get(username="yn_dc").county.name == "郁南县"
    assert User.objects.get(username="yf_city").county is None


def test_demo_logins_lists_every_grant_without_the_database():
    rows = demo.demo_logins()
    assert {username for username, _, _ in rows} == set(EXPECTED_LOGINS)
    by_user = {username: (role, scope) for username, role, scope in rows}
    assert by_user["yn_gt1"] == (str(Role.ALLIANCE_ADMIN.label), "郁南县第一医共体")
    assert by_user["yn_dc"] == (str(Role.INSTITUTION_FILER.label), "郁南县都城镇卫生院")
    assert by_user["sc_province"] == (str(Role.VIEWER.label), "四川省")


def test_command_prints_the_logins_table_unless_quiet(db):
    output = load("--without-ledgers", "--without-filings")
    lines = output.splitlines()
    with translation.override("en"):  # the language load() printed in
        logins = demo.demo_logins()
    for username, _role, scope in logins:
        assert any(line.startswith(username + " ") and scope in line and PASSWORD in line for line in lines)
    assert "wy_zyy" not in load("--quiet", "--without-ledgers", "--without-filings")


def test_every_credit_code_is_valid_and_distinct(loaded):
    codes = list(Institution.objects.exclude(credit_code="").values_list("county__code", "credit_code"))
    assert len(codes) == Institution.objects.exclude(kind=K.VILLAGE_CLINIC).count()
    assert len({code for _, code in codes}) == len(codes)
    for county_code, code in codes:
        validate_uscc(code)
        assert len(code) == 18 and code.startswith(f"12{county_code}")


def test_wanyuan_has_the_1_plus_1_plus_n_shape(loaded):
    wanyuan = Region.objects.get(code="511781")
    assert [(r.code, r.name) for r in (wanyuan.parent, wanyuan.parent.parent)] == [("511700", "达州市"), ("510000", "四川省")]
    (alliance,) = Alliance.objects.filter(county=wanyuan)
    assert (alliance.name, alliance.short_name, alliance.established_on) == (
        "万源市紧密型县域医疗卫生共同体", "万源市医共体", date(2024, 12, 31))
    members = list(selectors.alliance_members_on(alliance=alliance, on=timezone.localdate()))
    (lead,) = [m for m in members if m.role == AllianceMembership.Role.LEAD]
    assert (lead.institution.name, lead.institution.kind) == ("万源市人民医院", K.COUNTY_GENERAL_HOSPITAL)
    assert "总医院" in lead.note
    branches = [m for m in members if m.role == AllianceMembership.Role.MEMBER]
    assert all("分院" in m.note for m in branches)
    kinds = Counter(m.institution.kind for m in branches)
    assert kinds[K.TCM_HOSPITAL] == 1 and kinds[K.MCH_HOSPITAL] == 1
    townships = [m.institution for m in branches if m.institution.kind in Institution.PARENT_KINDS]
    assert len(townships) >= 5 and len(townships) == len(branches) - 2
    assert all(t.is_sample for t in townships)
    assert {m.institution.short_name for m in branches} >= {"市中医院", "市妇计中心"}
    with_clinics = [t for t in townships if t.children.exists()]
    assert len(with_clinics) == 2
    assert all(c.is_sample and c.kind == K.VILLAGE_CLINIC for t in with_clinics for c in t.children.all())


def test_wanyuan_governance_has_seven_seats_per_body(loaded):
    alliance = Alliance.objects.get(county__code="511781")
    seats = list(alliance.governance_members.all())
    assert len(seats) == 21
    positions = {body: Counter(s.position for s in seats if s.body == body) for body in GovernanceMember.Body}
    assert positions == {
        "party": Counter({"书记": 1, "常务副书记": 1, "副书记": 1, "纪委书记": 1, "委员": 3}),
        "board": Counter({"理事长": 1, "副理事长": 2, "理事": 4}),
        "supervisory": Counter({"监事长": 1, "监事": 6}),
    }
    chair = next(s for s in seats if s.position == "理事长")
    assert chair.institution.name == "万源市人民医院" and "院长" in chair.affiliation
    supervisors = {s.position: s for s in seats if s.body == "supervisory" and s.position == "监事长"}
    assert supervisors["监事长"].affiliation.startswith("市卫生健康局")
    affiliations = {s.affiliation for s in seats if s.body == "supervisory"}
    for department in ("市财政局", "市人力资源和社会保障局", "市医疗保障局", "市市场监督管理局"):
        assert any(a.startswith(department) for a in affiliations), department
    assert any(s.institution_id for s in seats if s.position == "监事")  # member representatives


@pytest.mark.django_db(transaction=True)
def test_loaded_data_commits_under_the_database_rules():
    # Committed for real, so PostgreSQL's deferred "a lead on every day" trigger runs too.
    load("--quiet")
    assert AllianceMembership.objects.filter(role=AllianceMembership.Role.LEAD).count() == 4
    assert AllianceMembership.objects.count() == 29


def test_command_refuses_a_production_site_unless_allowed(db, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError):
        load("--without-ledgers", "--without-filings")
    assert not Region.objects.exists()
    assert "Demo data loaded" in load("--quiet", "--allow-production", "--without-ledgers", "--without-filings")
