"""The REST API under /api/: scoping per role, uniform 404, writes through the services,
model rules, query counts, schema, offline docs and token authentication."""

from __future__ import annotations

import re
from datetime import date

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Role
from alliances.models import Alliance, AllianceMembership, Institution, JointOffice
from alliances.validators import uscc_check_character
from tests.factories import (
    TEST_PASSWORD,
    AllianceFactory,
    InstitutionFactory,
    MembershipFactory,
    UserFactory,
    grant,
)

K = Institution.Kind
LEAD = AllianceMembership.Role.LEAD
MISSING_ID = 987654


def api(user=None, **headers) -> APIClient:
    client = APIClient(**headers)
    if user is not None:
        client.force_login(user)
    return client


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()["results"]}


def valid_uscc(first17: str = "12445322MB0123456") -> str:
    return first17 + uscc_check_character(first17)


# Scoping of lists ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("bureau", {"第一医共体", "第三医共体"}),
        ("bureau_admin", {"第一医共体", "第三医共体"}),
        ("supervisor", {"第一医共体", "第三医共体"}),
        ("city", {"第一医共体", "第三医共体"}),
        ("province", {"第一医共体", "第三医共体"}),
        ("alliance_admin", {"第一医共体"}),
        ("outsider", {"万源市医共体"}),
        ("filer", set()),
        ("nobody", set()),
    ],
)
def test_alliance_list_is_scoped_per_role(world, who, expected):
    assert names(api(getattr(world, who)).get("/api/alliances/")) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("bureau", {"县人民医院", "县中医院", "平台镇卫生院", "桂圩镇卫生院", "通门镇卫生院", "平台镇大村卫生站"}),
        ("alliance_admin", {"县人民医院", "平台镇卫生院", "桂圩镇卫生院", "平台镇大村卫生站"}),
        ("filer", {"平台镇卫生院", "平台镇大村卫生站"}),
        ("outsider", {"市人民医院", "白沙镇分院"}),
        ("nobody", set()),
    ],
)
def test_institution_list_is_scoped_per_role(world, who, expected):
    assert names(api(getattr(world, who)).get("/api/institutions/")) == expected


def test_region_and_membership_lists_are_scoped(world):
    assert names(api(world.outsider).get("/api/regions/")) == {"万源市", "达州市", "四川省"}
    assert names(api(world.bureau).get("/api/regions/")) == {"郁南县", "云浮市", "广东省"}
    assert names(api(world.bureau).get("/api/regions/", {"level": "county"})) == {"郁南县"}
    assert names(api(world.city).get("/api/regions/", {"parent": world.yf.pk})) == {"郁南县"}

    rows = api(world.filer).get("/api/memberships/").json()["results"]
    assert [(r["institution_name"], r["alliance_name"]) for r in rows] == [("平台镇卫生院", "第一医共体")]
    rows = api(world.outsider).get("/api/memberships/").json()["results"]
    assert {r["alliance_name"] for r in rows} == {"万源市医共体"} and len(rows) == 2


def test_alliance_shows_lead_and_member_count(world):
    rows = {r["name"]: r for r in api(world.bureau).get("/api/alliances/").json()["results"]}
    assert rows["第一医共体"]["lead"] == {"institution": world.hospital.pk, "name": "县人民医院",
                                         "since": "2020-01-01"}
    assert rows["第一医共体"]["member_count"] == 3
    assert rows["第三医共体"]["lead"]["name"] == "县中医院"
    assert rows["第三医共体"]["member_count"] == 2
    assert rows["第一医共体"]["county_name"] == "郁南县"


def test_institution_shows_current_alliance_village_clinic_through_its_centre(world):
    client = api(world.bureau)
    centre = client.get(f"/api/institutions/{world.centre.pk}/").json()
    assert centre["current_alliance"]["name"] == "第一医共体"
    assert centre["current_alliance"]["via_parent"] is False
    clinic = client.get(f"/api/institutions/{world.clinic.pk}/").json()
    assert clinic["current_alliance"]["id"] == world.alliance_a.pk
    assert clinic["current_alliance"]["via_parent"] is True
    assert clinic["parent_name"] == "平台镇卫生院"


def test_unauthenticated_requests_are_refused(world):
    response = APIClient().get("/api/alliances/")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token")
    assert APIClient().post("/api/alliances/", {"county": world.yn.pk, "name": "x"}).status_code == 401
    assert APIClient().get("/api/schema/").status_code == 401


# Read-only users ---------------------------------------------------------------------------

def test_city_viewer_reads_the_county_but_gets_403_on_writes(world):
    client = api(world.city)
    assert client.get(f"/api/alliances/{world.alliance_a.pk}/").status_code == 200
    assert client.get(f"/api/institutions/{world.centre.pk}/").status_code == 200

    refused = [
        client.post("/api/alliances/", {"county": world.yn.pk, "name": "第九医共体"}, format="json"),
        client.patch(f"/api/alliances/{world.alliance_a.pk}/", {"note": "x"}, format="json"),
        client.post("/api/institutions/", {"county": world.yn.pk, "name": "新卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE},
                    format="json"),
        client.patch(f"/api/institutions/{world.centre.pk}/", {"beds": 1}, format="json"),
        client.post(f"/api/alliances/{world.alliance_a.pk}/deactivate/", {}, format="json"),
        client.post(f"/api/institutions/{world.centre2.pk}/move/",
                    {"to_alliance": world.alliance_b.pk, "on": "2024-07-01"}, format="json"),
        client.post("/api/joint-offices/", {"first": world.tcm.pk, "second": world.centre_b.pk}, format="json"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert Alliance.objects.count() == 3
    assert not Alliance.objects.filter(note="x").exists()
    assert Institution.objects.get(pk=world.centre.pk).beds == world.centre.beds
    assert AllianceMembership.objects.count() == 7
    assert not JointOffice.objects.exists()


def test_filer_cannot_change_its_own_institution(world):
    response = api(world.filer).patch(f"/api/institutions/{world.centre.pk}/", {"beds": 1}, format="json")
    assert response.status_code == 403
    assert Institution.objects.get(pk=world.centre.pk).beds == world.centre.beds


def test_alliance_admin_edits_its_alliance_but_not_membership(world):
    client = api(world.alliance_admin)
    response = client.patch(f"/api/alliances/{world.alliance_a.pk}/", {"short_name": "一体"}, format="json")
    assert response.status_code == 200, response.content
    assert Alliance.objects.get(pk=world.alliance_a.pk).short_name == "一体"
    # Another alliance of the county is not visible to it at all.
    assert client.patch(f"/api/alliances/{world.alliance_b.pk}/", {"short_name": "x"}, format="json").status_code == 404
    # Membership is the bureau's decision.
    assert client.post(f"/api/alliances/{world.alliance_a.pk}/deactivate/", {}, format="json").status_code == 403
    response = client.post(f"/api/institutions/{world.centre2.pk}/move/", {"to_alliance": None, "on": "2024-07-01"},
                           format="json")
    assert response.status_code == 403
    assert client.post("/api/alliances/", {"county": world.yn.pk, "name": "新医共体"}, format="json").status_code == 403
    assert Alliance.objects.get(pk=world.alliance_a.pk).is_active
    assert AllianceMembership.objects.filter(institution=world.centre2, valid_to__isnull=True).exists()


# The outsider: 404 like a missing row -----------------------------------------------------

def test_outsider_gets_the_same_404_as_for_a_missing_row(world):
    first, second = sorted([world.hospital, world.centre], key=lambda i: i.pk)
    office = JointOffice.objects.create(first=first, second=second)
    membership = AllianceMembership.objects.get(institution=world.centre)
    move = {"to_alliance": None, "on": "2024-07-01"}
    cases = [
        ("get", "/api/alliances/{}/", None, world.alliance_a.pk),
        ("patch", "/api/alliances/{}/", {"note": "mine"}, world.alliance_a.pk),
        ("put", "/api/alliances/{}/", {"county": world.wy.pk, "name": "mine"}, world.alliance_a.pk),
        ("post", "/api/alliances/{}/deactivate/", {}, world.alliance_a.pk),
        ("get", "/api/alliances/{}/members/", None, world.alliance_a.pk),
        ("get", "/api/institutions/{}/", None, world.centre.pk),
        ("patch", "/api/institutions/{}/", {"beds": 1}, world.centre.pk),
        ("post", "/api/institutions/{}/move/", move, world.centre2.pk),
        ("post", "/api/institutions/{}/deactivate/", {}, world.centre2.pk),
        ("get", "/api/institutions/{}/memberships/", None, world.centre.pk),
        ("get", "/api/memberships/{}/", None, membership.pk),
        ("get", "/api/regions/{}/", None, world.yn.pk),
        ("get", "/api/joint-offices/{}/", None, office.pk),
        ("delete", "/api/joint-offices/{}/", None, office.pk),
    ]
    client = api(world.outsider)
    for method, url, data, pk in cases:
        call = getattr(client, method)
        foreign = call(url.format(pk), data, format="json") if data is not None else call(url.format(pk))
        missing = call(url.format(MISSING_ID), data, format="json") if data is not None else call(url.format(MISSING_ID))
        assert foreign.status_code == 404, (method, url, foreign.content)
        assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json()), (method, url)
    # Nothing of 郁南县 changed.
    assert Alliance.objects.get(pk=world.alliance_a.pk).is_active
    assert Alliance.objects.get(pk=world.alliance_a.pk).note == ""
    assert Institution.objects.get(pk=world.centre.pk).beds == world.centre.beds
    assert AllianceMembership.objects.filter(valid_to__isnull=False).count() == 0
    assert JointOffice.objects.filter(pk=office.pk).exists()


def test_filters_with_a_foreign_id_answer_like_a_missing_id(world):
    client = api(world.outsider)
    for url, field, foreign in [
        ("/api/institutions/", "alliance", world.alliance_a.pk),
        ("/api/institutions/", "county", world.yn.pk),
        ("/api/memberships/", "institution", world.centre.pk),
    ]:
        a = client.get(url, {field: foreign})
        b = client.get(url, {field: MISSING_ID})
        assert a.status_code == b.status_code == 400
        assert list(a.json()) == list(b.json()) == [field]


# Creating and changing ---------------------------------------------------------------------

def test_create_institution_with_a_foreign_county_is_refused(world):
    before = Institution.objects.count()
    response = api(world.outsider).post(
        "/api/institutions/", {"county": world.yn.pk, "name": "偷渡卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE},
        format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["county"]
    assert Institution.objects.count() == before
    # The same for an alliance.
    response = api(world.outsider).post("/api/alliances/", {"county": world.yn.pk, "name": "偷渡医共体"}, format="json")
    assert response.status_code == 400 and "county" in response.json()
    assert not Alliance.objects.filter(name="偷渡医共体").exists()


def test_bureau_creates_an_institution_and_an_alliance(world):
    client = api(world.bureau)
    code = valid_uscc()
    response = client.post("/api/institutions/", {
        "county": world.yn.pk, "name": "河口镇卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE,
        "credit_code": code.lower(), "beds": 40}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credit_code"] == code  # normalised by Model.clean()
    assert body["current_alliance"] is None and body["is_active"] is True
    assert Institution.objects.get(pk=body["id"]).county == world.yn

    response = client.post("/api/alliances/", {"county": world.yn.pk, "name": "第五医共体"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["lead"] is None and response.json()["member_count"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "新村卫生站", "kind": K.VILLAGE_CLINIC}, "parent"),
        ({"name": "新村卫生站", "kind": K.VILLAGE_CLINIC, "parent": "hospital"}, "parent"),
        ({"name": "新村卫生站", "kind": K.VILLAGE_CLINIC, "parent": "other_centre"}, "parent"),
        ({"name": "新卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "credit_code": "12445322MB01234560"}, "credit_code"),
        ({"name": "新卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "credit_code": "short"}, "credit_code"),
        ({"name": "新卫生院", "kind": K.TOWNSHIP_HEALTH_CENTRE, "county": "yf"}, "county"),
        ({"name": "新卫生院", "kind": "hospital"}, "kind"),
    ],
)
def test_model_rules_are_enforced_by_the_api(world, payload, field):
    data = {"county": world.yn.pk, **payload}
    for key in ("parent", "county"):
        if isinstance(data.get(key), str):
            data[key] = getattr(world, data[key]).pk
    if data.get("credit_code") == "12445322MB01234560":
        # A well-formed code whose check character is wrong.
        good = valid_uscc("12445322MB0123456")
        data["credit_code"] = good[:17] + ("0" if good[17] != "0" else "1")
    before = Institution.objects.count()
    response = api(world.bureau).post("/api/institutions/", data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert Institution.objects.count() == before


def test_village_clinic_under_a_centre_is_accepted(world):
    response = api(world.bureau).post("/api/institutions/", {
        "county": world.yn.pk, "name": "平台镇新村卫生站", "kind": K.VILLAGE_CLINIC, "parent": world.centre.pk},
        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["current_alliance"]["name"] == "第一医共体"


def test_duplicate_names_answer_with_the_model_message(world):
    response = api(world.bureau).post(
        "/api/institutions/", {"county": world.yn.pk, "name": "县中医院", "kind": K.TCM_HOSPITAL}, format="json")
    assert response.status_code == 400
    assert "本县已有同名机构" in " ".join(response.json()["non_field_errors"])
    response = api(world.bureau).patch(f"/api/alliances/{world.alliance_b.pk}/", {"name": "第一医共体"}, format="json")
    assert response.status_code == 400
    assert Alliance.objects.get(pk=world.alliance_b.pk).name == "第三医共体"


def test_county_of_an_institution_cannot_change(world):
    both = UserFactory(username="two_counties")
    grant(both, Role.BUREAU_ADMIN, world.yn)
    grant(both, Role.BUREAU_ADMIN, world.wy)
    client = api(both)
    response = client.patch(f"/api/institutions/{world.centre_b.pk}/", {"county": world.wy.pk}, format="json")
    assert response.status_code == 400 and "county" in response.json()
    assert Institution.objects.get(pk=world.centre_b.pk).county == world.yn
    # Sending the unchanged county back (PUT) is fine.
    body = client.get(f"/api/institutions/{world.centre_b.pk}/").json()
    body.update(beds=77)
    response = client.put(f"/api/institutions/{world.centre_b.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    assert Institution.objects.get(pk=world.centre_b.pk).beds == 77


def test_kind_change_may_not_break_membership_rules(world):
    client = api(world.bureau)
    response = client.patch(f"/api/institutions/{world.hospital.pk}/", {"kind": K.TOWNSHIP_HEALTH_CENTRE}, format="json")
    assert response.status_code == 400 and "kind" in response.json()
    response = client.patch(f"/api/institutions/{world.centre.pk}/", {"kind": K.CDC}, format="json")
    assert response.status_code == 400 and "kind" in response.json()  # it manages a village clinic
    assert Institution.objects.get(pk=world.hospital.pk).kind == K.COUNTY_GENERAL_HOSPITAL


def test_no_hard_delete_of_alliances_and_institutions(world):
    client = api(world.bureau_admin)
    assert client.delete(f"/api/alliances/{world.alliance_a.pk}/").status_code == 405
    assert client.delete(f"/api/institutions/{world.centre.pk}/").status_code == 405
    assert Alliance.objects.filter(pk=world.alliance_a.pk).exists()


# Moves, members on a day, deactivation ---------------------------------------------------

def test_move_creates_history_and_members_on_a_day_follow_it(world):
    client = api(world.bureau)
    response = client.post(f"/api/institutions/{world.centre2.pk}/move/",
                           {"to_alliance": world.alliance_b.pk, "on": "2024-07-01"}, format="json")
    assert response.status_code == 200, response.content
    history = [(r["alliance_name"], r["valid_from"], r["valid_to"]) for r in response.json()]
    assert history == [("第三医共体", "2024-07-01", None), ("第一医共体", "2020-01-01", "2024-06-30")]
    assert client.get(f"/api/institutions/{world.centre2.pk}/memberships/").json() == response.json()

    def members(alliance, day):
        r = client.get(f"/api/alliances/{alliance.pk}/members/", {"on": day})
        assert r.status_code == 200, r.content
        return [(m["institution_name"], m["role"]) for m in r.json()]

    assert members(world.alliance_a, "2024-06-30") == [("县人民医院", "lead"), ("平台镇卫生院", "member"),
                                                       ("桂圩镇卫生院", "member")]
    assert members(world.alliance_a, "2024-07-01") == [("县人民医院", "lead"), ("平台镇卫生院", "member")]
    assert ("桂圩镇卫生院", "member") not in members(world.alliance_b, "2024-06-30")
    assert ("桂圩镇卫生院", "member") in members(world.alliance_b, "2024-07-01")
    assert members(world.alliance_a, "2019-12-31") == []
    # Today's members without `on`, and the memberships list filtered by day.
    assert len(client.get(f"/api/alliances/{world.alliance_b.pk}/members/").json()) == 3
    rows = client.get("/api/memberships/", {"on": "2024-06-30", "alliance": world.alliance_b.pk}).json()["results"]
    assert {r["institution_name"] for r in rows} == {"县中医院", "通门镇卫生院"}
    # The institutions filter by alliance, today and on a past day.
    assert names(client.get("/api/institutions/", {"alliance": world.alliance_b.pk})) == {
        "县中医院", "通门镇卫生院", "桂圩镇卫生院"}
    assert names(client.get("/api/institutions/", {"alliance": world.alliance_b.pk, "alliance_on": "2024-06-30"})) == {
        "县中医院", "通门镇卫生院"}


def test_moving_the_lead_out_while_members_remain_is_refused(world):
    client = api(world.bureau)
    before = list(AllianceMembership.objects.order_by("pk").values_list("pk", "alliance_id", "valid_from", "valid_to"))
    response = client.post(f"/api/institutions/{world.hospital.pk}/move/",
                           {"to_alliance": None, "on": "2024-07-01"}, format="json")
    assert response.status_code == 400
    message = " ".join(response.json()["non_field_errors"])
    assert "第一医共体" in message and "没有牵头单位" in message
    after = list(AllianceMembership.objects.order_by("pk").values_list("pk", "alliance_id", "valid_from", "valid_to"))
    assert after == before


def test_move_validates_its_input(world):
    client = api(world.bureau)
    url = f"/api/institutions/{world.centre2.pk}/move/"
    foreign = client.post(url, {"to_alliance": world.other_alliance.pk, "on": "2024-07-01"}, format="json")
    assert foreign.status_code == 400 and list(foreign.json()) == ["to_alliance"]
    assert client.post(url, {"on": "2024-07-01"}, format="json").json().keys() == {"to_alliance"}
    assert "on" in client.post(url, {"to_alliance": None, "on": "July"}, format="json").json()
    # A township centre cannot lead (service rule, message passed through).
    response = client.post(url, {"to_alliance": world.alliance_b.pk, "on": "2024-07-01", "role": "lead"},
                           format="json")
    assert response.status_code == 400 and response.json()["non_field_errors"]
    # A village clinic follows its centre.
    response = client.post(f"/api/institutions/{world.clinic.pk}/move/",
                           {"to_alliance": world.alliance_b.pk, "on": "2024-07-01"}, format="json")
    assert response.status_code == 400
    assert AllianceMembership.objects.filter(valid_to__isnull=False).count() == 0
    assert AllianceMembership.objects.count() == 7


def test_actions_answer_on_format_suffix_routes(world):
    client = api(world.bureau)
    response = client.get(f"/api/alliances/{world.alliance_a.pk}/members.json", {"on": "2024-01-01"})
    assert response.status_code == 200 and len(response.json()) == 3
    response = client.get(f"/api/institutions/{world.centre.pk}/memberships.json")
    assert response.status_code == 200 and response.json()[0]["alliance_name"] == "第一医共体"
    response = client.post(f"/api/institutions/{world.centre2.pk}/move.json",
                           {"to_alliance": None, "on": "2024-07-01"}, format="json")
    assert response.status_code == 200 and response.json()[0]["valid_to"] == "2024-06-30"


def test_members_with_a_bad_date_is_a_400(world):
    response = api(world.bureau).get(f"/api/alliances/{world.alliance_a.pk}/members/", {"on": "2024-13-01"})
    assert response.status_code == 400 and "on" in response.json()


def test_deactivate_alliance_ends_its_memberships(world):
    client = api(world.bureau)
    response = client.post(f"/api/alliances/{world.alliance_b.pk}/deactivate/", {"last_day": "2024-06-30"},
                           format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False and response.json()["member_count"] == 0
    assert set(world.alliance_b.memberships.values_list("valid_to", flat=True)) == {date(2024, 6, 30)}
    again = client.post(f"/api/alliances/{world.alliance_b.pk}/deactivate/", {}, format="json")
    assert again.status_code == 400
    # Nobody moves into an inactive alliance.
    response = client.post(f"/api/institutions/{world.centre2.pk}/move/",
                           {"to_alliance": world.alliance_b.pk, "on": "2024-07-01"}, format="json")
    assert response.status_code == 400 and "to_alliance" in response.json()


def test_deactivate_alliance_does_not_erase_history(world):
    before = AllianceMembership.objects.count()
    response = api(world.bureau).post(f"/api/alliances/{world.alliance_b.pk}/deactivate/",
                                      {"last_day": "2019-12-31"}, format="json")
    assert response.status_code == 400 and "last_day" in response.json()
    assert AllianceMembership.objects.count() == before
    assert Alliance.objects.get(pk=world.alliance_b.pk).is_active


def test_deactivate_institution(world):
    client = api(world.bureau)
    lead = client.post(f"/api/institutions/{world.hospital.pk}/deactivate/", {}, format="json")
    assert lead.status_code == 400 and "县人民医院" in lead.json()["non_field_errors"][0]
    assert Institution.objects.get(pk=world.hospital.pk).is_active
    response = client.post(f"/api/institutions/{world.centre2.pk}/deactivate/", {"last_day": "2024-06-30"},
                           format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False and response.json()["current_alliance"] is None
    assert AllianceMembership.objects.get(institution=world.centre2).valid_to == date(2024, 6, 30)
    # is_active is read-only: a PATCH cannot bring it back around the services.
    client.patch(f"/api/institutions/{world.centre2.pk}/", {"is_active": True}, format="json")
    assert not Institution.objects.get(pk=world.centre2.pk).is_active
    # An inactive institution joins no alliance.
    response = client.post(f"/api/institutions/{world.centre2.pk}/move/",
                           {"to_alliance": world.alliance_b.pk, "on": "2024-08-01"}, format="json")
    assert response.status_code == 400 and "to_alliance" in response.json()
    assert AllianceMembership.objects.filter(institution=world.centre2).count() == 1


@pytest.mark.django_db(transaction=True)
def test_moves_commit_and_refusals_roll_back(world):
    """Through real commits: on PostgreSQL the deferred lead-coverage trigger runs at commit."""
    client = api(world.bureau)
    ok = client.post(f"/api/institutions/{world.centre2.pk}/move/",
                     {"to_alliance": world.alliance_b.pk, "on": "2024-07-01"}, format="json")
    assert ok.status_code == 200, ok.content
    refused = client.post(f"/api/institutions/{world.tcm.pk}/move/",
                          {"to_alliance": None, "on": "2024-08-01"}, format="json")
    assert refused.status_code == 400
    rows = set(AllianceMembership.objects.filter(alliance=world.alliance_b)
               .values_list("institution__name", "valid_from", "valid_to"))
    assert rows == {("县中医院", date(2020, 1, 1), None), ("通门镇卫生院", date(2020, 1, 1), None),
                    ("桂圩镇卫生院", date(2024, 7, 1), None)}


# Joint offices ---------------------------------------------------------------------------

def test_joint_offices(world):
    client = api(world.bureau)
    response = client.post("/api/joint-offices/", {"first": world.centre_b.pk, "second": world.tcm.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["first"], body["second"]) == tuple(sorted([world.centre_b.pk, world.tcm.pk]))
    again = client.post("/api/joint-offices/", {"first": world.tcm.pk, "second": world.centre_b.pk}, format="json")
    assert again.status_code == 400 and again.json()["non_field_errors"]
    foreign = client.post("/api/joint-offices/", {"first": world.tcm.pk, "second": world.other_centre.pk},
                          format="json")
    assert foreign.status_code == 400 and list(foreign.json()) == ["second"]
    rows = client.get("/api/joint-offices/", {"institution": world.tcm.pk}).json()["results"]
    assert [r["id"] for r in rows] == [body["id"]]
    assert api(world.outsider).get("/api/joint-offices/").json()["results"] == []
    assert api(world.city).delete(f"/api/joint-offices/{body['id']}/").status_code == 403
    assert client.delete(f"/api/joint-offices/{body['id']}/").status_code == 204
    assert not JointOffice.objects.exists()


# Query counts ----------------------------------------------------------------------------

LIST_URLS = ["/api/regions/", "/api/alliances/", "/api/institutions/", "/api/memberships/", "/api/joint-offices/"]


def _query_counts(client) -> dict[str, int]:
    counts = {}
    for url in LIST_URLS:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        counts[url] = len(ctx.captured_queries)
    return counts


def _grow(world, n: int) -> None:
    for i in range(n):
        alliance = AllianceFactory(county=world.yn, name=f"扩展医共体{i}")
        lead = InstitutionFactory(county=world.yn, name=f"扩展医院{i}", kind=K.COUNTY_GENERAL_HOSPITAL)
        MembershipFactory(institution=lead, alliance=alliance, role=LEAD)
        for j in range(2):
            centre = InstitutionFactory(county=world.yn, name=f"扩展卫生院{i}-{j}")
            MembershipFactory(institution=centre, alliance=alliance, valid_from=date(2021, 1, 1))
            InstitutionFactory(county=world.yn, name=f"扩展卫生站{i}-{j}", kind=K.VILLAGE_CLINIC, parent=centre)
            JointOffice.objects.create(first=lead, second=centre)


@pytest.mark.parametrize("who", ["bureau", "alliance_admin", "city"])
def test_list_query_counts_do_not_grow_with_the_data(world, who):
    first, second = sorted([world.tcm, world.centre_b], key=lambda i: i.pk)
    JointOffice.objects.create(first=first, second=second)  # every list starts non-empty
    client = api(getattr(world, who))
    small = _query_counts(client)
    _grow(world, 4)
    large = _query_counts(client)
    assert large == small
    # Savepoint and release (ATOMIC_REQUESTS), session, user, grants (+ counties below a city),
    # count, rows, at most two prefetches.
    assert max(small.values()) <= 10


# Schema, docs, token -------------------------------------------------------------------

def test_schema_endpoint_serves_openapi_3(world):
    response = api(world.bureau).get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    for path in ["/api/alliances/{id}/members/", "/api/alliances/{id}/deactivate/", "/api/institutions/{id}/move/",
                 "/api/institutions/{id}/memberships/", "/api/memberships/", "/api/joint-offices/{id}/",
                 "/api/regions/"]:
        assert path in schema["paths"], path
    on = [p for p in schema["paths"]["/api/alliances/{id}/members/"]["get"]["parameters"] if p["name"] == "on"]
    assert on and on[0]["schema"]["format"] == "date"


def test_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/institutions/{id}/move/" in out.read_text(encoding="utf-8")


ASSET_RE = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def _assert_local_assets(html: str, own: tuple[str, ...] = ()) -> None:
    assets = [a for a in ASSET_RE.findall(html) if a not in own]
    assert assets, "no script or stylesheet found"
    external = [a for a in assets if re.match(r"^(?:[a-z]+:)?//", a, re.IGNORECASE)]
    assert external == [], f"assets from another host: {external}"
    for asset in assets:
        assert asset.startswith(settings.STATIC_URL), asset
        assert finders.find(asset.removeprefix(settings.STATIC_URL)), f"missing static file {asset}"


def test_swagger_ui_loads_only_local_assets(world):
    response = api(world.bureau).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    # Swagger UI's set-up script is served by the docs view itself (no inline script: the CSP).
    assert 'src="/api/docs/?script="' in html
    _assert_local_assets(html, own=("/api/docs/?script=",))


def test_redoc_loads_only_local_assets(world):
    response = api(world.bureau).get("/api/redoc/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "redoc.standalone.js" in html
    _assert_local_assets(html)


def test_token_authentication(world):
    response = APIClient().post("/api/token/", {"username": "wy_staff", "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert names(client.get("/api/alliances/")) == {"万源市医共体"}
    assert client.get(f"/api/alliances/{world.alliance_a.pk}/").status_code == 404
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    # 401 with a challenge: TokenAuthentication comes first.
    assert wrong.get("/api/alliances/").status_code == 401
    bad = APIClient().post("/api/token/", {"username": "wy_staff", "password": "wrong"}, format="json")
    assert bad.status_code == 400 and "token" not in bad.json()

