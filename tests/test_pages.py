"""Server-rendered pages of the organisation tree: who sees what, the forms and their errors,
and query counts that do not grow with the data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from alliances.models import Alliance, AllianceMembership, Institution, JointOffice
from core.models import Heartbeat
from tests.factories import (
    TEST_PASSWORD,
    AllianceFactory,
    InstitutionFactory,
    MembershipFactory,
    UserFactory,
    grant,
)

LEAD = AllianceMembership.Role.LEAD
MEMBER = AllianceMembership.Role.MEMBER
K = Institution.Kind


def url(name, **kwargs):
    return reverse(name, kwargs=kwargs or None)


def html(response) -> str:
    return response.content.decode()


def history_of(institution):
    return list(
        AllianceMembership.objects.filter(institution=institution)
        .order_by("valid_from")
        .values_list("alliance__name", "role", "valid_from", "valid_to")
    )


# Sign-in, sign-out, lockout, health ---------------------------------------------------------

def test_anonymous_is_sent_to_login(client, world):
    response = client.get(url("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(url("login"))
    for name, kwargs in [("alliances:alliance_list", {}),
                         ("alliances:institution_detail", {"institution_pk": world.centre.pk})]:
        response = client.get(url(name, **kwargs))
        assert response.status_code == 302 and url("login") in response["Location"]


def test_login_page_and_sign_in_and_out(client, world):
    page = client.get(url("login"))
    assert page.status_code == 200
    assert "registration/login.html" in [t.name for t in page.templates]
    assert 'name="username"' in html(page) and 'name="password"' in html(page)
    assert "vendor/bootstrap/bootstrap.min.css" in html(page)

    response = client.post(url("login"), {"username": "yn_staff", "password": TEST_PASSWORD})
    assert response.status_code == 302 and response["Location"] == url("home")
    home = client.get(url("home"))
    assert home.status_code == 200 and "第一医共体" in html(home)

    assert client.get(url("logout")).status_code == 405  # logging out is a POST
    response = client.post(url("logout"))
    assert response.status_code == 302 and response["Location"] == url("login")
    assert client.get(url("home")).status_code == 302


def test_wrong_password_shows_error_without_lockout(client, world):
    response = client.post(url("login"), {"username": "yn_staff", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "registration/lockout.html" not in [t.name for t in response.templates]


def test_lockout_page_after_five_failures(client, world):
    for _ in range(5):
        client.post(url("login"), {"username": "yn_staff", "password": "wrong"})
    response = client.post(url("login"), {"username": "yn_staff", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert "registration/lockout.html" in [t.name for t in response.templates]
    assert "30" in html(response)  # locked for 30 minutes
    assert "_auth_user_id" not in client.session


def test_health_reports_database_and_worker(client, db):
    body = client.get(url("health")).json()
    assert body["database"] == "ok" and body["status"] == "ok"
    assert body["worker"] == {"alive": False, "last_beat": None}

    Heartbeat.objects.create(worker="old", beat_at=timezone.now() - timedelta(minutes=30))
    body = client.get(url("health")).json()
    assert body["worker"]["alive"] is False and body["worker"]["last_beat"]

    Heartbeat.objects.create(worker="w1", beat_at=timezone.now() - timedelta(minutes=1))
    body = client.get(url("health")).json()
    assert body["worker"]["alive"] is True


# Home page per role -----------------------------------------------------------------------

def test_home_for_bureau_is_its_county_cockpit_linking_the_structure(as_user, world):
    response = as_user(world.bureau).get(url("home"))
    assert response.status_code == 200
    assert "reports/cockpit/county.html" in [t.name for t in response.templates]
    assert response.context["county"] == world.yn
    page = html(response)
    structure_url = url("alliances:region_detail", region_pk=world.yn.pk)
    assert structure_url in page
    assert "万源市" not in page and "白沙镇分院" not in page
    # The county's structure stays at its own page.
    response = as_user(world.bureau).get(structure_url)
    page = html(response)
    assert "alliances/region_detail.html" in [t.name for t in response.templates]
    assert [a.name for a in response.context["alliances"]] == ["第一医共体", "第三医共体"]
    for name in ("第一医共体", "第三医共体", "县人民医院", "平台镇卫生院", "平台镇大村卫生站"):
        assert name in page
    assert "万源市" not in page and "白沙镇分院" not in page
    assert url("alliances:alliance_create") in page  # the bureau may create
    assert response.context["counts"] == {"alliances": 2, "institutions": 5, "village_clinics": 1, "unaffiliated": 0}


def test_home_for_city_and_province_ranks_their_counties(as_user, world):
    for user, region in ((world.city, world.yf), (world.province, world.gd)):
        response = as_user(user).get(url("home"))
        assert response.status_code == 200
        assert "reports/cockpit/region.html" in [t.name for t in response.templates]
        [block] = response.context["blocks"]
        assert block.region == region
        assert [c.row.county.name for c in block.counties] == ["郁南县"]
        page = html(response)
        assert url("alliances:region_detail", region_pk=world.yn.pk) in page
        assert url("alliances:region_detail", region_pk=region.pk) in page  # the structure roll-up
        assert "万源市" not in page
        assert url("alliances:alliance_create") not in page


def test_home_for_superuser_ranks_every_province(as_user, world):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    response = as_user(admin).get(url("home"))
    blocks = response.context["blocks"]
    assert [b.region.name for b in blocks] == ["广东省", "四川省"]
    assert [[c.row.county.name for c in b.counties] for b in blocks] == [["郁南县"], ["万源市"]]


def test_home_for_alliance_office_is_its_alliance_cockpit(as_user, world):
    response = as_user(world.alliance_admin).get(url("home"))
    assert response.status_code == 200
    assert response.context["alliance"] == world.alliance_a
    assert "reports/cockpit/alliance.html" in [t.name for t in response.templates]
    assert "第三医共体" not in html(response)
    assert url("alliances:alliance_detail", alliance_pk=world.alliance_a.pk) in html(response)
    page = html(as_user(world.alliance_admin).get(url("alliances:alliance_detail", alliance_pk=world.alliance_a.pk)))
    assert "县人民医院" in page and "第三医共体" not in page


def test_home_for_institution_filer_is_my_filings_and_tasks(as_user, world):
    response = as_user(world.filer).get(url("home"))
    assert response.status_code == 200
    assert "reports/cockpit/filer.html" in [t.name for t in response.templates]
    page = html(response)
    assert url("indicators:my_filings") in page and url("tasks:my_tasks") in page
    assert "县中医院" not in page and "第三医共体" not in page
    # The institution's page stays where it was.
    page = html(as_user(world.filer).get(url("alliances:institution_detail", institution_pk=world.centre.pk)))
    assert "平台镇卫生院" in page and "平台镇大村卫生站" in page
    assert "县中医院" not in page and "第三医共体" not in page
    assert url("alliances:institution_edit", institution_pk=world.centre.pk) not in page


def test_home_for_user_without_grant_says_so(as_user, world):
    response = as_user(world.nobody).get(url("home"))
    assert response.status_code == 200
    assert "core/no_access.html" in [t.name for t in response.templates]
    assert "no_grants" in html(response)


def test_navbar_shows_name_roles_and_links(as_user, world):
    response = as_user(world.bureau).get(url("alliances:alliance_list"))
    page = html(response)
    assert world.bureau.display_name in page
    assert str(Role.BUREAU_STAFF.label) in page
    for link in (url("home"), url("alliances:alliance_list"), url("alliances:institution_list"), "/api/docs/",
                 url("logout"), url("set_language")):
        assert f'"{link}"' in page
    assert url("alliances:region_detail", region_pk=world.yn.pk) in page  # the structure link
    assert 'hx-headers=\'{"X-CSRFToken"' in page


def test_language_switch_to_english(as_user, world):
    c = as_user(world.bureau)
    response = c.post(url("set_language"), {"language": "en", "next": url("home")})
    assert response.status_code == 302
    assert '<html lang="en">' in html(c.get(url("home")))


# County structure and roll-up pages -----------------------------------------------------------

def test_county_page_for_city_user_is_read_only(as_user, world):
    response = as_user(world.city).get(url("alliances:region_detail", region_pk=world.yn.pk))
    assert response.status_code == 200
    assert response.context["can_change"] is False
    page = html(response)
    assert "第一医共体" in page and "第三医共体" in page
    assert url("alliances:alliance_create") not in page
    assert url("alliances:institution_move", institution_pk=world.centre.pk) not in page


def test_city_region_page_rolls_up_its_counties(as_user, world):
    response = as_user(world.city).get(url("alliances:region_detail", region_pk=world.yf.pk))
    assert response.status_code == 200
    assert "alliances/region_rollup.html" in [t.name for t in response.templates]
    assert [r["county"].name for r in response.context["rows"]] == ["郁南县"]


def test_county_page_shows_joint_offices_and_unaffiliated(as_user, world):
    mch = InstitutionFactory(county=world.yn, name="县妇幼保健院", kind=K.MCH_HOSPITAL)
    JointOffice.objects.create(first=world.centre_b, second=mch, note="两个牌子一套人马")
    response = as_user(world.bureau).get(url("alliances:region_detail", region_pk=world.yn.pk))
    page = html(response)
    assert [i.name for i in response.context["unaffiliated"]] == ["县妇幼保健院"]
    assert response.context["counts"]["unaffiliated"] == 1
    assert "badge-joint" in page
    assert url("alliances:institution_detail", institution_pk=mch.pk) in page


def test_outsider_gets_404_on_foreign_pages(as_user, world):
    c = as_user(world.outsider)
    for name, kwargs in [
        ("alliances:region_detail", {"region_pk": world.yn.pk}),
        ("alliances:region_structure_xlsx", {"region_pk": world.yn.pk}),
        ("alliances:alliance_detail", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:alliance_members", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:alliance_edit", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:institution_detail", {"institution_pk": world.centre.pk}),
        ("alliances:institution_move", {"institution_pk": world.centre.pk}),
    ]:
        assert c.get(url(name, **kwargs)).status_code == 404, name
    assert c.get(url("alliances:alliance_detail", alliance_pk=999999)).status_code == 404


def test_filer_sees_own_institution_and_clinic_only(as_user, world):
    c = as_user(world.filer)
    assert c.get(url("alliances:institution_detail", institution_pk=world.centre.pk)).status_code == 200
    clinic = c.get(url("alliances:institution_detail", institution_pk=world.clinic.pk))
    assert clinic.status_code == 200 and "平台镇卫生院" in html(clinic)
    assert c.get(url("alliances:alliance_detail", alliance_pk=world.alliance_b.pk)).status_code == 404
    assert c.get(url("alliances:institution_detail", institution_pk=world.tcm.pk)).status_code == 404
    # Visible but not changeable: 403.
    assert c.get(url("alliances:institution_edit", institution_pk=world.centre.pk)).status_code == 403
    listing = c.get(url("alliances:institution_list"))
    assert {i.name for i in listing.context["institutions"]} == {"平台镇卫生院", "平台镇大村卫生站"}


def test_city_user_gets_403_on_every_form(as_user, world):
    c = as_user(world.city)
    for name, kwargs in [
        ("alliances:alliance_edit", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:alliance_deactivate", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:alliance_add_member", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:institution_edit", {"institution_pk": world.centre.pk}),
        ("alliances:institution_deactivate", {"institution_pk": world.centre.pk}),
        ("alliances:institution_move", {"institution_pk": world.centre.pk}),
        ("alliances:alliance_create", {}),
        ("alliances:institution_create", {}),
        ("alliances:joint_office_create", {}),
    ]:
        assert c.get(url(name, **kwargs)).status_code == 403, name
        assert c.post(url(name, **kwargs), {}).status_code == 403, name
    before = history_of(world.centre2)
    response = c.post(url("alliances:institution_move", institution_pk=world.centre2.pk),
                      {"target": world.alliance_b.pk, "on": "2025-03-01", "role": MEMBER})
    assert response.status_code == 403 and history_of(world.centre2) == before


def test_alliance_office_edits_its_alliance_but_not_memberships(as_user, world):
    c = as_user(world.alliance_admin)
    response = c.post(url("alliances:alliance_edit", alliance_pk=world.alliance_a.pk),
                      {"name": "第一医共体", "short_name": "一共体", "established_on": "2020-01-01", "note": "x"})
    assert response.status_code == 302
    world.alliance_a.refresh_from_db()
    assert world.alliance_a.short_name == "一共体"
    assert c.get(url("alliances:alliance_add_member", alliance_pk=world.alliance_a.pk)).status_code == 403
    assert c.get(url("alliances:institution_move", institution_pk=world.centre.pk)).status_code == 403
    assert c.get(url("alliances:alliance_edit", alliance_pk=world.alliance_b.pk)).status_code == 404


# Alliance pages -----------------------------------------------------------------------------

def test_alliance_list_for_bureau(as_user, world):
    response = as_user(world.bureau).get(url("alliances:alliance_list"))
    rows = {a.name: a for a in response.context["page"]}
    assert set(rows) == {"第一医共体", "第三医共体"}
    assert rows["第一医共体"].lead_name == "县人民医院"
    assert rows["第一医共体"].member_count == 3 and rows["第一医共体"].clinic_count == 1
    assert rows["第三医共体"].member_count == 2


def test_alliance_list_filters_and_bad_params(as_user, world):
    c = as_user(world.bureau)
    response = c.get(url("alliances:alliance_list"), {"county": "abc", "active": "zzz", "page": "x"})
    assert response.status_code == 200 and response.context["form"].errors
    services_deactivate = c.post(url("alliances:alliance_deactivate", alliance_pk=world.alliance_b.pk),
                                 {"last_day": "2025-06-30"})
    assert services_deactivate.status_code == 302
    active = [a.name for a in c.get(url("alliances:alliance_list")).context["page"]]
    inactive = [a.name for a in c.get(url("alliances:alliance_list"), {"active": "0"}).context["page"]]
    assert active == ["第一医共体"] and inactive == ["第三医共体"]


def test_alliance_page_shows_members_clinics_governance_and_history(as_user, world):
    world.alliance_a.governance_members.create(body="party", position="书记", person_name="张三", order=1)
    world.alliance_a.governance_members.create(body="board", position="理事长", person_name="李四", order=1)
    response = as_user(world.bureau).get(url("alliances:alliance_detail", alliance_pk=world.alliance_a.pk))
    assert response.status_code == 200
    ctx = response.context
    assert ctx["lead"].institution == world.hospital
    assert [m.institution.name for m in ctx["members"]] == ["县人民医院", "平台镇卫生院", "桂圩镇卫生院"]
    assert [c.name for c in ctx["clinics"]] == ["平台镇大村卫生站"]
    assert [len(b["seats"]) for b in ctx["bodies"]] == [1, 1]
    page = html(response)
    assert "张三" in page and "李四" in page and "2020-01-01" in page
    assert ctx["can_change"] and ctx["can_change_members"]
    assert url("alliances:alliance_add_member", alliance_pk=world.alliance_a.pk) in page


def test_alliance_members_on_date_via_htmx(as_user, world):
    c = as_user(world.bureau)
    c.post(url("alliances:institution_move", institution_pk=world.centre2.pk),
           {"target": world.alliance_b.pk, "on": "2025-03-01", "role": MEMBER})
    members_url = url("alliances:alliance_members", alliance_pk=world.alliance_a.pk)
    before = c.get(members_url, {"on": "2024-12-31"}, HTTP_HX_REQUEST="true")
    assert before.status_code == 200
    assert "<html" not in html(before)  # a fragment for HTMX
    assert "桂圩镇卫生院" in html(before)
    after = c.get(members_url, {"on": "2025-03-01"}, HTTP_HX_REQUEST="true")
    assert "桂圩镇卫生院" not in html(after) and "平台镇卫生院" in html(after)
    # The page itself carries the HTMX date picker, and takes ?on= without JavaScript.
    page = c.get(url("alliances:alliance_detail", alliance_pk=world.alliance_a.pk), {"on": "2024-12-31"})
    assert f'hx-get="{members_url}"' in html(page)
    assert [m.institution.name for m in page.context["members"]] == ["县人民医院", "平台镇卫生院", "桂圩镇卫生院"]


@pytest.mark.parametrize("bad", ["notadate", "2025-13-45", "0001-01-01", "99999-01-01", "2025-01-01\x00"])
def test_alliance_pages_survive_bad_dates(as_user, world, bad):
    c = as_user(world.bureau)
    page = c.get(url("alliances:alliance_detail", alliance_pk=world.alliance_a.pk), {"on": bad})
    assert page.status_code == 200 and page.context["on"] == timezone.localdate()
    part = c.get(url("alliances:alliance_members", alliance_pk=world.alliance_a.pk), {"on": bad})
    assert part.status_code == 200 and part.context["on_form"].errors


def test_create_alliance_with_lead(as_user, world):
    mch = InstitutionFactory(county=world.yn, name="县妇幼保健院", kind=K.MCH_HOSPITAL)
    c = as_user(world.bureau)
    assert c.get(url("alliances:alliance_create")).status_code == 200
    response = c.post(url("alliances:alliance_create"), {
        "county": world.yn.pk, "name": "第二医共体", "short_name": "", "established_on": "2021-01-01",
        "note": "", "lead": mch.pk, "lead_from": "2021-01-01"})
    alliance = Alliance.objects.get(name="第二医共体")
    assert response.status_code == 302
    assert response["Location"] == url("alliances:alliance_detail", alliance_pk=alliance.pk)
    assert history_of(mch) == [("第二医共体", LEAD, date(2021, 1, 1), None)]


def test_create_alliance_errors_save_nothing(as_user, world):
    c = as_user(world.bureau)
    count = Alliance.objects.count()
    # The TCM hospital already leads 第三医共体, which has members: moving it would leave them leaderless.
    response = c.post(url("alliances:alliance_create"), {
        "county": world.yn.pk, "name": "第二医共体", "lead": world.tcm.pk, "lead_from": "2024-01-01"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "第三医共体" in html(response)
    # Duplicate name, missing lead date, foreign county.
    response = c.post(url("alliances:alliance_create"), {"county": world.yn.pk, "name": "第一医共体"})
    assert "name" in response.context["form"].errors
    response = c.post(url("alliances:alliance_create"), {"county": world.yn.pk, "name": "新", "lead": world.hospital.pk})
    assert "lead_from" in response.context["form"].errors
    response = c.post(url("alliances:alliance_create"), {"county": world.wy.pk, "name": "外县医共体"})
    assert "county" in response.context["form"].errors
    response = c.post(url("alliances:alliance_create"), {
        "county": world.yn.pk, "name": "外县牵头", "lead": world.other_hospital.pk, "lead_from": "2024-01-01"})
    assert "lead" in response.context["form"].errors
    assert Alliance.objects.count() == count
    assert history_of(world.tcm) == [("第三医共体", LEAD, date(2020, 1, 1), None)]


def test_edit_alliance_rejects_duplicate_name(as_user, world):
    c = as_user(world.bureau)
    response = c.post(url("alliances:alliance_edit", alliance_pk=world.alliance_b.pk), {"name": "第一医共体"})
    assert response.status_code == 200 and "name" in response.context["form"].errors
    world.alliance_b.refresh_from_db()
    assert world.alliance_b.name == "第三医共体"
    response = c.post(url("alliances:alliance_edit", alliance_pk=world.alliance_b.pk),
                      {"name": "第三医共体（中医）", "established_on": "2019-12-01"})
    assert response.status_code == 302
    world.alliance_b.refresh_from_db()
    assert world.alliance_b.name == "第三医共体（中医）" and world.alliance_b.established_on == date(2019, 12, 1)


def test_deactivate_alliance_ends_memberships(as_user, world):
    c = as_user(world.bureau)
    assert c.get(url("alliances:alliance_deactivate", alliance_pk=world.alliance_b.pk)).status_code == 200
    bad = c.post(url("alliances:alliance_deactivate", alliance_pk=world.alliance_b.pk), {"last_day": "garbage"})
    assert bad.status_code == 200 and "last_day" in bad.context["form"].errors
    # A last day before a membership that has already begun would rewrite history: refused next to the date.
    c.post(url("alliances:institution_move", institution_pk=world.centre2.pk),
           {"target": world.alliance_b.pk, "on": "2025-03-01", "role": MEMBER})
    early = c.post(url("alliances:alliance_deactivate", alliance_pk=world.alliance_b.pk), {"last_day": "2025-01-31"})
    assert early.status_code == 200 and "桂圩镇卫生院" in " ".join(early.context["form"].errors["last_day"])
    world.alliance_b.refresh_from_db()
    assert world.alliance_b.is_active is True
    assert history_of(world.centre_b) == [("第三医共体", MEMBER, date(2020, 1, 1), None)]
    response = c.post(url("alliances:alliance_deactivate", alliance_pk=world.alliance_b.pk), {"last_day": "2025-06-30"})
    assert response.status_code == 302
    world.alliance_b.refresh_from_db()
    assert world.alliance_b.is_active is False
    assert history_of(world.centre_b) == [("第三医共体", MEMBER, date(2020, 1, 1), date(2025, 6, 30))]
    assert history_of(world.centre2)[-1] == ("第三医共体", MEMBER, date(2025, 3, 1), date(2025, 6, 30))
    page = html(c.get(url("alliances:alliance_detail", alliance_pk=world.alliance_b.pk)))
    assert url("alliances:alliance_edit", alliance_pk=world.alliance_b.pk) not in page


def test_add_member(as_user, world):
    new = InstitutionFactory(county=world.yn, name="东坝镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    c = as_user(world.bureau)
    page = c.get(url("alliances:alliance_add_member", alliance_pk=world.alliance_a.pk))
    assert page.status_code == 200
    choices = set(page.context["form"].fields["institution"].queryset.values_list("name", flat=True))
    assert "东坝镇卫生院" in choices and "白沙镇分院" not in choices and "平台镇大村卫生站" not in choices
    response = c.post(url("alliances:alliance_add_member", alliance_pk=world.alliance_a.pk),
                      {"institution": new.pk, "role": MEMBER, "valid_from": "2024-07-01"})
    assert response.status_code == 302
    assert history_of(new) == [("第一医共体", MEMBER, date(2024, 7, 1), None)]


def test_add_member_rejects_foreign_institution_and_bad_role(as_user, world):
    c = as_user(world.bureau)
    response = c.post(url("alliances:alliance_add_member", alliance_pk=world.alliance_a.pk),
                      {"institution": world.other_centre.pk, "role": MEMBER, "valid_from": "2024-07-01"})
    assert response.status_code == 200 and "institution" in response.context["form"].errors
    assert history_of(world.other_centre) == [("万源市医共体", MEMBER, date(2020, 1, 1), None)]
    # A second lead for the same alliance is refused by the service, shown in the form.
    new = InstitutionFactory(county=world.yn, name="县第二人民医院", kind=K.COUNTY_GENERAL_HOSPITAL)
    response = c.post(url("alliances:alliance_add_member", alliance_pk=world.alliance_a.pk),
                      {"institution": new.pk, "role": LEAD, "valid_from": "2024-07-01"})
    assert response.status_code == 200
    assert "县人民医院" in " ".join(response.context["form"].errors["role"])  # next to the role field
    assert history_of(new) == []


# Institution pages --------------------------------------------------------------------------

def test_institution_page(as_user, world):
    mch = InstitutionFactory(county=world.yn, name="县妇幼保健院", kind=K.MCH_HOSPITAL)
    JointOffice.objects.create(first=world.centre, second=mch)
    response = as_user(world.bureau).get(url("alliances:institution_detail", institution_pk=world.centre.pk))
    ctx = response.context
    assert ctx["current"].alliance == world.alliance_a
    assert [c.name for c in ctx["clinics"]] == ["平台镇大村卫生站"]
    assert [p["other"] for p in ctx["partners"]] == [mch]
    assert ctx["can_move"] and ctx["can_change"]
    clinic = as_user(world.bureau).get(url("alliances:institution_detail", institution_pk=world.clinic.pk))
    assert clinic.context["current"].alliance == world.alliance_a  # follows its township centre
    assert clinic.context["parent"] == world.centre
    assert clinic.context["can_move"] is False


def test_move_creates_membership_history(as_user, world):
    c = as_user(world.bureau)
    page = c.get(url("alliances:institution_move", institution_pk=world.centre2.pk))
    assert page.status_code == 200
    response = c.post(url("alliances:institution_move", institution_pk=world.centre2.pk),
                      {"target": world.alliance_b.pk, "on": "2025-03-01", "role": MEMBER, "note": "郁卫〔2025〕1号"})
    assert response.status_code == 302
    assert history_of(world.centre2) == [
        ("第一医共体", MEMBER, date(2020, 1, 1), date(2025, 2, 28)),
        ("第三医共体", MEMBER, date(2025, 3, 1), None),
    ]
    detail = c.get(url("alliances:institution_detail", institution_pk=world.centre2.pk))
    assert [(m.alliance.name, m.valid_from, m.valid_to) for m in detail.context["history"]] == [
        ("第三医共体", date(2025, 3, 1), None),
        ("第一医共体", date(2020, 1, 1), date(2025, 2, 28)),
    ]
    page = html(detail)
    assert "第一医共体" in page and "第三医共体" in page and "2025-02-28" in page and "2025-03-01" in page
    assert "郁卫〔2025〕1号" in page


def test_move_out_of_any_alliance(as_user, world):
    c = as_user(world.bureau)
    response = c.post(url("alliances:institution_move", institution_pk=world.centre_b.pk),
                      {"target": "leave", "on": "2025-01-01", "role": MEMBER})
    assert response.status_code == 302
    assert history_of(world.centre_b) == [("第三医共体", MEMBER, date(2020, 1, 1), date(2024, 12, 31))]
    county = c.get(url("alliances:region_detail", region_pk=world.yn.pk))
    assert [i.name for i in county.context["unaffiliated"]] == ["通门镇卫生院"]


def test_invalid_moves_show_errors_and_save_nothing(as_user, world):
    c = as_user(world.bureau)
    move_url = url("alliances:institution_move", institution_pk=world.centre2.pk)
    before = history_of(world.centre2)
    # Before the current membership began.
    response = c.post(move_url, {"target": world.alliance_b.pk, "on": "2019-06-01", "role": MEMBER})
    assert response.status_code == 200
    assert "2020-01-01" in " ".join(response.context["form"].errors["on"])  # next to the date field
    assert "2020-01-01" in html(response)
    assert history_of(world.centre2) == before
    # Not a date / out of range / missing target.
    for data in ({"target": world.alliance_b.pk, "on": "2025-02-30", "role": MEMBER},
                 {"target": world.alliance_b.pk, "on": "0001-01-01", "role": MEMBER},
                 {"target": "", "on": "2025-03-01", "role": MEMBER},
                 {"target": world.alliance_b.pk, "on": "2025-03-01", "role": "boss"}):
        response = c.post(move_url, data)
        assert response.status_code == 200 and response.context["form"].errors, data
    assert history_of(world.centre2) == before

    # Moving the lead away while members remain leaves the alliance without a lead.
    hospital_before = history_of(world.hospital)
    response = c.post(url("alliances:institution_move", institution_pk=world.hospital.pk),
                      {"target": "leave", "on": "2025-03-01", "role": MEMBER})
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert "第一医共体" in html(response)
    assert history_of(world.hospital) == hospital_before
    # A village clinic does not move by itself: sent back to its page with the reason.
    response = c.post(url("alliances:institution_move", institution_pk=world.clinic.pk),
                      {"target": world.alliance_b.pk, "on": "2025-03-01", "role": MEMBER}, follow=True)
    assert response.redirect_chain[-1][0] == url("alliances:institution_detail", institution_pk=world.clinic.pk)
    assert len(list(response.context["messages"])) == 1
    assert history_of(world.clinic) == []


def test_move_rejects_foreign_alliance(as_user, world):
    c = as_user(world.bureau)
    before = history_of(world.centre2)
    response = c.post(url("alliances:institution_move", institution_pk=world.centre2.pk),
                      {"target": world.other_alliance.pk, "on": "2025-03-01", "role": MEMBER})
    assert response.status_code == 200 and "target" in response.context["form"].errors
    assert history_of(world.centre2) == before
    # A foreign institution is 404 before any form.
    response = c.post(url("alliances:institution_move", institution_pk=world.other_centre.pk),
                      {"target": world.other_alliance.pk, "on": "2025-03-01", "role": MEMBER})
    assert response.status_code == 404


def test_create_and_edit_institution(as_user, world):
    c = as_user(world.bureau)
    assert c.get(url("alliances:institution_create")).status_code == 200
    response = c.post(url("alliances:institution_create"), {
        "county": world.yn.pk, "name": "东坝镇卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE,
        "beds": "40", "service_population": "25000", "credit_code": ""})
    assert response.status_code == 302
    centre = Institution.objects.get(name="东坝镇卫生院")
    assert centre.county == world.yn and centre.beds == 40
    # A village clinic under it, prefilled from the centre's page.
    form = c.get(url("alliances:institution_create"), {"parent": centre.pk}).context["form"]
    assert form.initial["parent"] == centre.pk
    response = c.post(url("alliances:institution_create"), {
        "county": world.yn.pk, "name": "东坝镇某村卫生站", "kind": K.VILLAGE_CLINIC, "parent": centre.pk,
        "beds": "0", "service_population": "800"})
    assert response.status_code == 302
    assert Institution.objects.get(name="东坝镇某村卫生站").parent == centre
    # Edit.
    response = c.post(url("alliances:institution_edit", institution_pk=centre.pk), {
        "name": "东坝镇中心卫生院", "kind": K.CENTRAL_HEALTH_CENTRE, "beds": "60", "service_population": "26000"})
    assert response.status_code == 302
    centre.refresh_from_db()
    assert centre.name == "东坝镇中心卫生院" and centre.kind == K.CENTRAL_HEALTH_CENTRE


def test_institution_form_errors(as_user, world):
    c = as_user(world.bureau)
    count = Institution.objects.count()
    cases = [
        # foreign county, foreign parent, clinic without parent, duplicate name, bad credit code, bad numbers
        {"county": world.wy.pk, "name": "外县卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "beds": 0,
         "service_population": 0},
        {"county": world.yn.pk, "name": "某村卫生站", "kind": K.VILLAGE_CLINIC, "parent": world.other_centre.pk,
         "beds": 0, "service_population": 0},
        {"county": world.yn.pk, "name": "某村卫生站", "kind": K.VILLAGE_CLINIC, "beds": 0, "service_population": 0},
        {"county": world.yn.pk, "name": "平台镇卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "beds": 0,
         "service_population": 0},
        {"county": world.yn.pk, "name": "新卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "credit_code": "123",
         "beds": 0, "service_population": 0},
        {"county": world.yn.pk, "name": "新卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "beds": "-1",
         "service_population": "99999999999999999999999"},
    ]
    for data in cases:
        response = c.post(url("alliances:institution_create"), data)
        assert response.status_code == 200 and response.context["form"].errors, data
        assert "is-invalid" in html(response) or response.context["form"].non_field_errors()
    assert Institution.objects.count() == count
    # Editing: a duplicate name, and a lead hospital turned into a township centre.
    response = c.post(url("alliances:institution_edit", institution_pk=world.centre2.pk),
                      {"name": "平台镇卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "beds": 0, "service_population": 0})
    assert "name" in response.context["form"].errors
    response = c.post(url("alliances:institution_edit", institution_pk=world.hospital.pk),
                      {"name": "县人民医院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "beds": 0, "service_population": 0})
    assert "kind" in response.context["form"].errors
    world.hospital.refresh_from_db()
    assert world.hospital.kind == K.COUNTY_GENERAL_HOSPITAL


def test_deactivate_institution(as_user, world):
    c = as_user(world.bureau)
    response = c.post(url("alliances:institution_deactivate", institution_pk=world.centre2.pk),
                      {"last_day": "2025-06-30"})
    assert response.status_code == 302
    world.centre2.refresh_from_db()
    assert world.centre2.is_active is False
    assert history_of(world.centre2) == [("第一医共体", MEMBER, date(2020, 1, 1), date(2025, 6, 30))]
    # The lead cannot be deactivated while it leads: the error is shown, nothing changes.
    response = c.post(url("alliances:institution_deactivate", institution_pk=world.hospital.pk),
                      {"last_day": "2025-06-30"})
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    world.hospital.refresh_from_db()
    assert world.hospital.is_active is True
    assert history_of(world.hospital) == [("第一医共体", LEAD, date(2020, 1, 1), None)]


def test_institution_list_filters_search_and_pagination(as_user, world):
    c = as_user(world.bureau)
    listing = c.get(url("alliances:institution_list"))
    names = [i.name for i in listing.context["institutions"]]
    assert set(names) == {"县人民医院", "县中医院", "平台镇卫生院", "桂圩镇卫生院", "通门镇卫生院", "平台镇大村卫生站"}
    by_name = {i.name: i for i in listing.context["institutions"]}
    assert by_name["平台镇大村卫生站"].membership_today.alliance == world.alliance_a

    def names_for(**params):
        return {i.name for i in c.get(url("alliances:institution_list"), params).context["institutions"]}

    assert names_for(q="平台") == {"平台镇卫生院", "平台镇大村卫生站"}
    assert names_for(alliance=world.alliance_b.pk) == {"县中医院", "通门镇卫生院"}
    assert names_for(alliance=world.alliance_a.pk, kind=K.VILLAGE_CLINIC) == {"平台镇大村卫生站"}
    assert names_for(county=world.yn.pk, kind=K.TCM_HOSPITAL) == {"县中医院"}
    # A foreign alliance or county in the filter is an error on the form, not a leak.
    response = c.get(url("alliances:institution_list"), {"alliance": world.other_alliance.pk, "county": world.wy.pk})
    assert response.status_code == 200 and {"alliance", "county"} <= set(response.context["form"].errors)
    assert "白沙镇分院" not in html(response)
    # Inactive institutions are hidden unless asked for.
    c.post(url("alliances:institution_deactivate", institution_pk=world.centre2.pk), {"last_day": "2025-06-30"})
    assert "桂圩镇卫生院" not in names_for()
    assert names_for(active="0") == {"桂圩镇卫生院"}
    assert "桂圩镇卫生院" in names_for(active="all")
    # Pagination.
    for n in range(60):
        InstitutionFactory(county=world.yn, name=f"分页卫生院{n:02d}")
    first = c.get(url("alliances:institution_list"), {"q": "分页"})
    assert len(first.context["institutions"]) == 50 and first.context["page"].paginator.num_pages == 2
    second = c.get(url("alliances:institution_list"), {"q": "分页", "page": "2"})
    assert len(second.context["institutions"]) == 10
    assert c.get(url("alliances:institution_list"), {"page": "abc", "q": "\x00"}).status_code == 200


# Joint offices ------------------------------------------------------------------------------

def test_joint_office_create_and_delete(as_user, world):
    mch = InstitutionFactory(county=world.yn, name="县妇幼保健院", kind=K.MCH_HOSPITAL)
    c = as_user(world.bureau)
    assert c.get(url("alliances:joint_office_create"), {"institution": world.centre_b.pk}).status_code == 200
    response = c.post(url("alliances:joint_office_create"),
                      {"first": world.centre_b.pk, "second": mch.pk, "note": "两个牌子一套人马"})
    assert response.status_code == 302
    office = JointOffice.objects.get()
    assert {office.first, office.second} == {world.centre_b, mch}
    # Twice is refused; foreign and identical institutions are refused.
    for data in ({"first": mch.pk, "second": world.centre_b.pk},
                 {"first": world.centre.pk, "second": world.other_centre.pk},
                 {"first": world.centre.pk, "second": world.centre.pk}):
        response = c.post(url("alliances:joint_office_create"), data)
        assert response.status_code == 200 and response.context["form"].errors, data
    assert JointOffice.objects.count() == 1
    # Other users cannot remove it.
    assert as_user(world.city).post(url("alliances:joint_office_delete", joint_office_pk=office.pk)).status_code == 403
    assert as_user(world.outsider).post(url("alliances:joint_office_delete", joint_office_pk=office.pk)).status_code == 404
    assert c.get(url("alliances:joint_office_delete", joint_office_pk=office.pk)).status_code == 200
    assert JointOffice.objects.count() == 1
    assert c.post(url("alliances:joint_office_delete", joint_office_pk=office.pk)).status_code == 302
    assert JointOffice.objects.count() == 0


# Every route, every kind of user: never a 500 -------------------------------------------------

def test_every_route_answers_without_server_error(as_user, world):
    from alliances.urls import urlpatterns

    office = JointOffice.objects.create(first=world.centre, second=world.centre_b)
    values = {"region_pk": world.yn.pk, "alliance_pk": world.alliance_a.pk, "institution_pk": world.centre.pk,
              "membership_pk": AllianceMembership.objects.first().pk, "joint_office_pk": office.pk}
    routes = [(p.name, {key: values[key] for key in p.pattern.converters}) for p in urlpatterns]
    assert len(routes) >= 17
    for user in (world.bureau, world.city, world.filer, world.alliance_admin, world.outsider, world.nobody):
        c = as_user(user)
        for name, kwargs in routes:
            target = reverse(f"alliances:{name}", kwargs=kwargs or None)
            for method in (c.get, c.post):
                response = method(target, {"on": "x", "last_day": "x", "target": "999999"})
                assert response.status_code < 500, (user.username, name, response.status_code)
    # Missing rows answer 404 on every route that takes an id.
    c = as_user(world.bureau)
    for name, kwargs in routes:
        if kwargs:
            target = reverse(f"alliances:{name}", kwargs={key: 987654321 for key in kwargs})
            assert c.get(target).status_code == 404, name


# Query counts -------------------------------------------------------------------------------

def _more_data(world, n_alliances=4, members=6, clinics=3):
    for a in range(n_alliances):
        lead = InstitutionFactory(county=world.yn, name=f"加测医院{a}", kind=K.COUNTY_GENERAL_HOSPITAL)
        alliance = AllianceFactory(county=world.yn, name=f"加测医共体{a}")
        MembershipFactory(institution=lead, alliance=alliance, role=LEAD, valid_from=date(2020, 1, 1))
        for m in range(members):
            centre = InstitutionFactory(county=world.yn, name=f"加测卫生院{a}-{m}")
            MembershipFactory(institution=centre, alliance=alliance, valid_from=date(2020, 1, 1))
            for k in range(clinics):
                InstitutionFactory(county=world.yn, name=f"加测卫生站{a}-{m}-{k}", kind=K.VILLAGE_CLINIC,
                                   parent=centre)
        other = InstitutionFactory(county=world.yn, name=f"加测游离{a}")
        JointOffice.objects.create(first=min(lead, other, key=lambda i: i.pk),
                                   second=max(lead, other, key=lambda i: i.pk))


def _count_queries(client, path, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name,kwargs", [
    ("alliances:region_detail", "county"),
    ("alliances:alliance_list", None),
    ("alliances:institution_list", None),
    ("alliances:alliance_detail", "alliance"),
    ("home", None),
])
def test_query_count_does_not_grow_with_data(as_user, world, name, kwargs):
    c = as_user(world.bureau)
    params = {"county": {"region_pk": world.yn.pk}, "alliance": {"alliance_pk": world.alliance_a.pk}}.get(kwargs, {})
    path = reverse(name, kwargs=params or None)
    before = _count_queries(c, path)
    _more_data(world)
    for n in range(5):
        MembershipFactory(institution=InstitutionFactory(county=world.yn, name=f"一体{n}"),
                          alliance=world.alliance_a, valid_from=date(2021, 1, 1))
    after = _count_queries(c, path)
    assert after == before, (name, before, after)
    assert after <= (40 if name == "home" else 20)  # the home is the county's cockpit: more panels


def test_rollup_query_count_is_constant(as_user, world):
    c = as_user(world.province)
    c.get(url("home"))  # warm-up: the home brings the tasks' daily roll-ups of its counties up to date once
    before = _count_queries(c, url("home"))
    yf = world.yf
    from tests.factories import RegionFactory

    for n in range(4):
        county = RegionFactory(code=f"4453{30 + n}", name=f"测试县{n}", level="county", parent=yf)
        hospital = InstitutionFactory(county=county, name="县医院", kind=K.COUNTY_GENERAL_HOSPITAL)
        alliance = AllianceFactory(county=county, name="医共体")
        MembershipFactory(institution=hospital, alliance=alliance, role=LEAD)
    c = as_user(world.province)
    c.get(url("home"))
    after = _count_queries(c, url("home"))
    assert after == before
    assert len(c.get(url("home")).context["blocks"][0].counties) == 5


# Admin --------------------------------------------------------------------------------------

def test_admin_for_superusers_only(as_user, world):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    c = as_user(root)
    for model in ("alliances/region", "alliances/institution", "alliances/alliance", "alliances/alliancemembership",
                  "alliances/jointoffice", "accounts/user", "accounts/grant", "core/heartbeat"):
        assert c.get(f"/admin/{model}/").status_code == 200, model
    assert c.get(f"/admin/alliances/alliance/{world.alliance_a.pk}/change/").status_code == 200
    assert c.get(f"/admin/accounts/user/{world.bureau.pk}/change/").status_code == 200
    # Accounts are read there, changed only in 用户管理 (rules and the security log).
    assert c.get("/admin/accounts/user/add/").status_code == 403
    assert c.post(f"/admin/accounts/user/{world.bureau.pk}/change/", {"username": "x"}).status_code == 403
    assert c.get("/admin/accounts/grant/add/").status_code == 403
    staff = UserFactory(username="staff_only", is_staff=True)
    grant(staff, Role.BUREAU_ADMIN, world.yn)
    response = as_user(staff).get("/admin/alliances/institution/")
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_move_commits_and_refused_move_leaves_database_consistent(as_user, world):
    """With real commits (the database checks some membership rules only at commit on PostgreSQL)."""
    c = as_user(world.bureau)
    response = c.post(url("alliances:institution_move", institution_pk=world.centre2.pk),
                      {"target": world.alliance_b.pk, "on": "2025-03-01", "role": MEMBER})
    assert response.status_code == 302
    assert history_of(world.centre2)[-1] == ("第三医共体", MEMBER, date(2025, 3, 1), None)
    response = c.post(url("alliances:institution_move", institution_pk=world.tcm.pk),
                      {"target": "leave", "on": "2025-03-01", "role": MEMBER})
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert history_of(world.tcm) == [("第三医共体", LEAD, date(2020, 1, 1), None)]
    response = c.post(url("alliances:alliance_deactivate", alliance_pk=world.alliance_b.pk), {"last_day": "2025-12-31"})
    assert response.status_code == 302
    assert history_of(world.tcm) == [("第三医共体", LEAD, date(2020, 1, 1), date(2025, 12, 31))]


@pytest.mark.parametrize("garbage", ["99999999999999999999999", "-1", "1e5", "\x00", "０１", "²", "", "<script>"])
def test_forms_answer_garbage_with_form_errors(as_user, world, garbage):
    c = as_user(world.bureau)
    counts = (Alliance.objects.count(), Institution.objects.count(), AllianceMembership.objects.count(),
              JointOffice.objects.count())
    fields = {"county": garbage, "name": "", "lead": garbage, "lead_from": garbage, "institution": garbage,
              "role": garbage, "valid_from": garbage, "target": garbage, "on": garbage, "last_day": garbage,
              "first": garbage, "second": garbage, "kind": garbage, "parent": garbage, "beds": garbage,
              "service_population": garbage, "established_on": garbage}
    for name, kwargs in [
        ("alliances:alliance_create", {}),
        ("alliances:alliance_edit", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:alliance_add_member", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:alliance_deactivate", {"alliance_pk": world.alliance_a.pk}),
        ("alliances:institution_create", {}),
        ("alliances:institution_edit", {"institution_pk": world.centre.pk}),
        ("alliances:institution_move", {"institution_pk": world.centre.pk}),
        ("alliances:institution_deactivate", {"institution_pk": world.centre.pk}),
        ("alliances:joint_office_create", {}),
    ]:
        response = c.post(url(name, **kwargs), fields)
        assert response.status_code == 200, (name, response.status_code)
        assert response.context["form"].errors, name
    for name in ("alliances:alliance_list", "alliances:institution_list"):
        assert c.get(url(name), {k: garbage for k in ("county", "alliance", "kind", "active", "q", "page")}).status_code == 200
    assert c.get(url("alliances:institution_create"), {"parent": garbage}).status_code == 200
    assert c.get(url("alliances:alliance_create"), {"county": garbage}).status_code == 200
    assert counts == (Alliance.objects.count(), Institution.objects.count(), AllianceMembership.objects.count(),
                      JointOffice.objects.count())
