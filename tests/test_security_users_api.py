"""``/api/users/``: the shapes of the issue, the same scoping and rules as the pages, refusals that
answer 400 and keep only their ``grant.denied`` event, and list query counts that do not grow."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Grant, Role, User
from core.models import SecurityEvent
from tests.factories import UserFactory, grant
from tests.test_security_users import events, sec_fixture, separate_fixture, zh  # noqa: F401 (fixtures)


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def snapshot():
    return (list(Grant.objects.order_by("pk").values_list("pk", "user_id", "role")),
            list(User.objects.order_by("pk").values_list("pk", "is_active", "is_superuser", "full_name", "password")))


def refused(client, method: str, url: str, data, message: str):
    before, count = snapshot(), SecurityEvent.objects.count()
    response = getattr(client, method)(url, data, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": message}
    assert snapshot() == before
    assert SecurityEvent.objects.count() == count + 1
    assert SecurityEvent.objects.order_by("-seq").first().event == "grant.denied"


def test_filer_gets_403_and_a_write_to_an_account_404(sec):
    client = api(sec.filer)
    pk = sec.bureau.pk
    assert client.get("/api/users/").status_code == 403
    assert client.post("/api/users/", {"username": "x", "name": "x", "grants": [{"role": "viewer",
                                                                                 "region": sec.yn.pk}]},
                       format="json").status_code == 403
    assert client.get(f"/api/users/{pk}/").status_code == 403
    assert client.get(f"/api/users/{pk}/grants/").status_code == 403
    assert client.patch(f"/api/users/{pk}/", {"name": "x"}, format="json").status_code == 404
    for action in ("deactivate", "reactivate", "reset-password", "grants"):
        assert client.post(f"/api/users/{pk}/{action}/", {}, format="json").status_code == 404, action
    assert not User.objects.filter(username="x").exists()


def test_outsider_security_admin_gets_404_for_our_users(sec):
    client = api(sec.wy_sec)
    pk = sec.filer.pk
    held = sec.filer.grants.get()
    assert client.get(f"/api/users/{pk}/").status_code == 404
    assert client.patch(f"/api/users/{pk}/", {"name": "x"}, format="json").status_code == 404
    for action in ("deactivate", "reactivate", "reset-password", "grants"):
        assert client.post(f"/api/users/{pk}/{action}/", {"reason": "x", "role": "viewer", "region": sec.wy.pk},
                           format="json").status_code == 404, action
    assert client.delete(f"/api/users/{pk}/grants/{held.pk}/").status_code == 404
    names = {u["username"] for u in client.get("/api/users/").json()["results"]}
    assert "wy_staff" in names and "yn_centre_filer" not in names


def test_list_shape_filters_and_paging(sec):
    client = api(sec.sec)
    response = client.get("/api/users/", {"role": Role.INSTITUTION_FILER})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    row = data["results"][0]
    assert {k: row[k] for k in ("username", "is_active", "must_change_password", "locked_out")} == {
        "username": "yn_centre_filer", "is_active": True, "must_change_password": False, "locked_out": False}
    assert row["grants"] == [{"id": sec.filer.grants.get().pk, "role": "institution_filer",
                              "institution": sec.centre.pk, "words": row["grants"][0]["words"]}]
    assert "password" not in row
    assert {u["username"] for u in client.get("/api/users/", {"unit": f"alliance:{sec.alliance_a.pk}"})
            .json()["results"]} == {"yn_alliance_a"}
    assert client.get("/api/users/", {"q": "no-such"}).json()["count"] == 0


def _list_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/users/", {"active": "true"}).status_code == 200
    return len(captured)


def test_list_queries_do_not_grow_with_ten_times_the_users(sec):
    client = api(sec.sec)
    for i in range(5):
        grant(UserFactory(username=f"yn_few_{i}", county=sec.yn), Role.VIEWER, sec.alliance_b)
    small = _list_queries(client)
    for i in range(45):
        grant(UserFactory(username=f"yn_many_{i}", county=sec.yn), Role.INSTITUTION_FILER, sec.centre_b)
    assert _list_queries(client) == small


def test_create_returns_the_user_and_a_one_time_password(sec):
    client = api(sec.sec)
    response = client.post("/api/users/", {
        "username": "api_user", "name": "接口用户", "phone": "13800138000", "email": "a@example.com",
        "is_superuser": True, "is_staff": True,
        "grants": [{"role": "institution_filer", "institution": sec.centre.pk},
                   {"role": "institution_reviewer", "institution": sec.centre2.pk}]}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    account = User.objects.get(username="api_user")
    assert data["id"] == account.pk and data["name"] == "接口用户" and data["is_active"]
    assert {(g["role"], g["institution"]) for g in data["grants"]} == {
        ("institution_filer", sec.centre.pk), ("institution_reviewer", sec.centre2.pk)}
    assert account.check_password(data["password"]) and account.must_change_password
    assert not account.is_superuser and not account.is_staff and account.county_id == sec.yn.pk
    assert events("user.create").count() == 1 and events("grant.add").count() == 2
    assert client.post("/api/users/", {"username": "API_USER", "name": "x", "grants": [
        {"role": "viewer", "region": sec.yn.pk}]}, format="json").status_code == 400


def test_create_checks_every_grant_before_writing(sec):
    client = api(sec.sec)
    refused(client, "post", "/api/users/", {
        "username": "api_user", "name": "接口用户",
        "grants": [{"role": "institution_filer", "institution": sec.centre.pk},
                   {"role": "platform_admin", "region": sec.yn.pk}]},
        zh("The role %(role)s is granted on a city or province.", role=zh("Platform administrator")))
    refused(client, "post", "/api/users/", {
        "username": "api_user", "name": "接口用户", "grants": [{"role": "viewer", "region": sec.yf.pk}]},
        zh("Only a superuser grants roles on a city or province."))
    refused(client, "post", "/api/users/", {
        "username": "api_user", "name": "接口用户",
        "grants": [{"role": "institution_filer", "institution": sec.other_centre.pk}]},
        zh("This scope does not exist or is outside the counties whose accounts you run."))
    assert not User.objects.filter(username="api_user").exists()


def test_create_with_separated_duties_refuses_a_second_role_for_an_auditor(sec, separate):
    refused(api(sec.sec), "post", "/api/users/", {
        "username": "api_aud", "name": "审计", "grants": [{"role": "auditor", "region": sec.yn.pk},
                                                          {"role": "viewer", "region": sec.yn.pk}]},
        zh("Separation of duties (三员分立): an auditor holds no other role."))


def test_patch_changes_name_phone_email_only(sec):
    client = api(sec.sec)
    response = client.patch(f"/api/users/{sec.filer.pk}/", {"name": "新名", "phone": "0766-7512345",
                                                             "is_superuser": True, "username": "hijack"},
                            format="json")
    assert response.status_code == 200, response.content
    sec.filer.refresh_from_db()
    assert (sec.filer.full_name, sec.filer.phone, sec.filer.username, sec.filer.is_superuser) == (
        "新名", "0766-7512345", "yn_centre_filer", False)
    assert client.patch(f"/api/users/{sec.filer.pk}/", {"phone": "123"}, format="json").status_code == 400
    assert client.put(f"/api/users/{sec.filer.pk}/", {"name": "x"}, format="json").status_code == 405
    assert client.patch(f"/api/users/{sec.sec.pk}/", {"name": "x"}, format="json").status_code == 403
    assert events("user.edit").count() == 1


def test_deactivate_reactivate_and_reset_password(sec):
    client = api(sec.sec)
    url = f"/api/users/{sec.filer.pk}/"
    assert client.post(url + "deactivate/", {}, format="json").status_code == 400  # a reason is required
    for _ in range(2):
        response = client.post(url + "deactivate/", {"reason": "调离"}, format="json")
        assert response.status_code == 200 and response.json()["is_active"] is False
    assert response.json()["deactivation_reason"] == "调离"
    assert events("user.deactivate").count() == 1
    assert client.post(url + "reactivate/", format="json").json()["is_active"] is True
    password = client.post(url + "reset-password/", format="json").json()["password"]
    sec.filer.refresh_from_db()
    assert sec.filer.check_password(password) and sec.filer.must_change_password
    assert events("password.reset").count() == 1


def test_deactivating_the_last_security_account_answers_400(sec, separate):
    refused(api(sec.platform), "post", f"/api/users/{sec.sec.pk}/deactivate/", {"reason": "离职"},
            zh("This is the county's last account able to run its accounts; grant the role to someone else first."))


def test_grants_list_add_and_revoke(sec):
    client = api(sec.sec)
    url = f"/api/users/{sec.filer.pk}/grants/"
    assert [g["role"] for g in client.get(url).json()] == ["institution_filer"]
    response = client.post(url, {"role": "viewer", "alliance": sec.alliance_a.pk}, format="json")
    assert response.status_code == 201 and response.json()["alliance"] == sec.alliance_a.pk
    refused(client, "post", url, {"role": "viewer", "region": sec.yf.pk},
            zh("Only a superuser grants roles on a city or province."))
    refused(client, "post", f"/api/users/{sec.sec.pk}/grants/", {"role": "viewer", "region": sec.yn.pk},
            zh("You cannot change your own grants; ask another administrator."))
    added = response.json()["id"]
    assert client.delete(f"{url}{added}/").status_code == 204
    assert client.delete(f"{url}{added}/").status_code == 404
    assert [g["role"] for g in client.get(url).json()] == ["institution_filer"]


def test_revoking_the_last_security_grant_answers_400(sec, separate):
    held = sec.sec.grants.get()
    refused(api(sec.platform), "delete", f"/api/users/{sec.sec.pk}/grants/{held.pk}/", None,
            zh("This is the county's last account able to run its accounts; grant the role to someone else first."))


@pytest.mark.parametrize("who", ["bureau_admin"])
def test_bureau_admin_runs_accounts_only_without_separated_duties(sec, settings, who):
    settings.PORTAL_SEPARATE_DUTIES = True
    assert api(getattr(sec, who)).get("/api/users/").status_code == 403
    settings.PORTAL_SEPARATE_DUTIES = False
    client = api(User.objects.get(pk=getattr(sec, who).pk))
    response = client.post(f"/api/users/{sec.bureau.pk}/grants/", {"role": "bureau_admin", "region": sec.yn.pk},
                           format="json")
    assert response.status_code == 201, response.content
