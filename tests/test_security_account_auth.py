"""Signing in and staying signed in (issue 15, built with the security foundation): the sign-in page
with its two-factor step and lockout, ``/api/token/`` and the API tokens it gives, the session clocks
(idle timeout, time limit), the forced password change, sign-out, the upgrade of old password hashes,
and the security log row each of these writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, PasswordHistory, User
from core.audit import Event
from tests.conftest import client_for
from tests.factories import TEST_PASSWORD
from tests.test_security_account import (
    ADDRESS,
    code_now,
    enrol,
    events_after,
    last_seq,
    one_event,
    page,
    wrong_code,
)

LOCKED_JSON = "失败次数过多：此账号在该地址已被锁定 30 分钟。"


@pytest.fixture
def frozen():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def browser(address: str = ADDRESS, **headers) -> Client:
    return Client(REMOTE_ADDR=address, **headers)


def sign_in(client: Client, username: str, password: str = TEST_PASSWORD, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def api_sign_in(username: str, password: str = TEST_PASSWORD, address: str = ADDRESS, **data):
    return APIClient(REMOTE_ADDR=address).post("/api/token/", {"username": username, "password": password, **data},
                                               format="json")


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# The sign-in page and its security log ----------------------------------------------------------

def test_sign_in_writes_one_login_row(world):
    user = world.filer
    client = browser()
    seq = last_seq()
    assert sign_in(client, user.username)["Location"] == "/"
    rows = events_after(seq)
    assert [(e.event, e.result, e.actor_id, e.actor_username, e.target_id, e.address) for e in rows] == [
        (Event.LOGIN, "success", user.pk, user.username, str(user.pk), ADDRESS)]
    assert rows[0].details == {"method": "password"}
    assert client.get("/").status_code == 200


def test_failed_sign_in_writes_one_row_with_the_name_tried(world):
    user = world.filer
    seq = last_seq()
    response = sign_in(browser(), user.username, "wrong-password")
    assert response.status_code == 200 and "/login/" in response.request["PATH_INFO"]
    rows = events_after(seq)
    assert [(e.event, e.result, e.actor_id, e.actor_username, e.target_id, e.address) for e in rows] == [
        (Event.LOGIN_FAILED, "failure", None, user.username, str(user.pk), ADDRESS)]
    seq = last_seq()
    sign_in(browser(), "nobody-by-this-name", "wrong-password")
    rows = events_after(seq)
    assert [(e.event, e.actor_id, e.actor_username, e.target_id, e.address) for e in rows] == [
        (Event.LOGIN_FAILED, None, "nobody-by-this-name", "", ADDRESS)]


def test_five_failures_lock_the_account_out_and_the_lockout_is_logged_once(world):
    user = world.filer
    client = browser()
    seq = last_seq()
    answers = [sign_in(client, user.username, f"wrong-{i}").status_code for i in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    lockouts = [e for e in events_after(seq) if e.event == Event.LOCKOUT]
    assert [(e.result, e.actor_id, e.actor_username, e.target_id, e.address) for e in lockouts] == [
        ("denied", None, user.username, str(user.pk), ADDRESS)]
    # The sixth attempt, with the right password, is refused with the lockout page and no new lockout row.
    locked = sign_in(client, user.username)
    assert locked.status_code == 429 and "账号已锁定" in page(locked)
    assert len([e for e in events_after(seq) if e.event == Event.LOCKOUT]) == 1
    refused = events_after(seq)[-1]
    assert (refused.event, refused.details) == (Event.LOGIN_FAILED, {"channel": "page", "locked_out": True})
    assert client.get("/")["Location"].startswith("/login/")


def test_sign_out_clears_the_session_and_writes_one_row(world):
    user = world.filer
    client = browser()
    sign_in(client, user.username)
    old_cookie = client.cookies["sessionid"].value
    seq = last_seq()
    assert client.post("/logout/")["Location"] == "/login/"
    rows = events_after(seq)
    assert [(e.event, e.actor_id, e.target_id, e.address) for e in rows] == [
        (Event.LOGOUT, user.pk, str(user.pk), ADDRESS)]
    replay = browser()
    replay.cookies["sessionid"] = old_cookie
    assert replay.get("/account/")["Location"].startswith("/login/")


# Session clocks ------------------------------------------------------------------------------

def test_idle_timeout_at_thirty_minutes(world, settings, frozen):
    settings.SESSION_IDLE_MINUTES = 30
    user = world.filer
    client = browser()
    sign_in(client, user.username)
    frozen.shift(timedelta(minutes=29, seconds=59))
    assert client.get("/account/").status_code == 200  # still in; the idle clock starts again
    frozen.shift(timedelta(minutes=29, seconds=59))
    assert client.get("/account/").status_code == 200
    seq = last_seq()
    frozen.shift(timedelta(minutes=30))
    ended = client.get("/account/")
    assert ended["Location"] == "/login/?reason=idle&next=%2Faccount%2F"
    assert "您已连续 30 分钟没有操作，系统已自动退出，请重新登录。" in page(client.get(ended["Location"]))
    rows = events_after(seq)
    assert [(e.event, e.actor_id, e.target_id, e.address) for e in rows] == [
        (Event.IDLE_TIMEOUT, user.pk, str(user.pk), ADDRESS)]
    assert client.get("/account/")["Location"].startswith("/login/?next=")  # signed out: no second row
    assert len(events_after(seq)) == 1


def test_idle_timeout_answers_htmx_and_the_api(world, settings, frozen):
    settings.SESSION_IDLE_MINUTES = 30
    htmx, api = browser(), APIClient(REMOTE_ADDR=ADDRESS)
    sign_in(htmx, world.filer.username)
    api.force_login(world.bureau)
    frozen.shift(timedelta(minutes=30))
    response = htmx.get("/tasks/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == "/login/?reason=idle"
    response = api.get("/api/me/")
    assert response.status_code == 401 and response.json()["detail"] == "会话已结束，请重新登录。"


def test_session_time_limit_at_twelve_hours(world, settings, frozen):
    settings.SESSION_IDLE_MINUTES = 600
    settings.SESSION_ABSOLUTE_HOURS = 12
    user = world.filer
    client = browser()
    sign_in(client, user.username)
    frozen.shift(timedelta(hours=6))
    assert client.get("/account/").status_code == 200
    frozen.shift(timedelta(hours=5, minutes=59, seconds=59))
    assert client.get("/account/").status_code == 200
    seq = last_seq()
    frozen.shift(timedelta(seconds=1))
    ended = client.get("/account/")
    assert ended["Location"] == "/login/?reason=expired&next=%2Faccount%2F"
    assert "您的会话已达到 12 小时的时限，请重新登录。" in page(client.get(ended["Location"]))
    assert [(e.event, e.actor_id, e.target_id) for e in events_after(seq)] == [
        (Event.SESSION_EXPIRED, user.pk, str(user.pk))]


# The forced password change ---------------------------------------------------------------------

def _assert_only_the_password_page(client: Client) -> None:
    for url in ("/", "/tasks/", "/account/", "/account/tokens/", "/account/two-factor/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/account/password/?next="), url
    htmx = client.get("/tasks/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == "/account/password/"
    api = client.get("/api/me/")
    assert api.status_code == 403 and api.json()["detail"] == "请先修改密码，然后才能进行其他操作。"
    assert client.post("/api/tokens/", {"name": "x"}, content_type="application/json").status_code == 403


def test_forced_change_after_an_admin_reset(world):
    user = world.filer
    earlier = client_for(user)
    one_time = services_password_reset(world.bureau_admin, user)
    assert earlier.get("/account/")["Location"].startswith("/login/")  # every session of the user ended
    assert api_sign_in(user.username, one_time).status_code == 403
    client = browser()
    assert sign_in(client, user.username, one_time)["Location"] == "/"
    _assert_only_the_password_page(client)
    form = client.get("/account/password/?next=/tasks/")
    assert form.status_code == 200 and "您使用的是初始密码或重置后的密码" in page(form)
    seq = last_seq()
    done = client.post("/account/password/", {"old_password": one_time, "new_password1": "Neu-Pass-2026",
                                               "new_password2": "Neu-Pass-2026", "next": "/tasks/"})
    assert done["Location"] == "/tasks/"
    assert one_event(seq, Event.PASSWORD_CHANGE).details == {"reason": "initial"}
    assert client.get("/tasks/").status_code == 200
    assert client.get("/api/me/").status_code == 200
    assert api_sign_in(user.username, "Neu-Pass-2026").status_code == 200


def services_password_reset(actor, user) -> str:
    from security import services

    return services.password_reset(actor=actor, user=user)


def test_forced_change_after_ninety_days_not_eighty_nine(world, settings):
    settings.PASSWORD_MAX_AGE_DAYS = 90
    user = world.filer
    set_at = timezone.now()
    User.objects.filter(pk=user.pk).update(password_changed_at=set_at)
    with time_machine.travel(set_at + timedelta(days=89, hours=23, minutes=59), tick=False):
        client = browser()
        assert sign_in(client, user.username)["Location"] == "/"
        assert client.get("/account/").status_code == 200
        assert api_sign_in(user.username).status_code == 200
    with time_machine.travel(set_at + timedelta(days=90), tick=False):
        client = browser()
        sign_in(client, user.username)
        _assert_only_the_password_page(client)
        assert "您的密码已使用超过 90 天" in page(client.get("/account/password/"))
        refused = api_sign_in(user.username)
        assert refused.status_code == 403 and refused.json()["detail"] == "请先修改密码，然后才能进行其他操作。"
        seq = last_seq()
        client.post("/account/password/", {"old_password": TEST_PASSWORD, "new_password1": "Neu-Pass-2026",
                                           "new_password2": "Neu-Pass-2026"})
        assert one_event(seq, Event.PASSWORD_CHANGE).details == {"reason": "expired"}
        assert client.get("/account/").status_code == 200
        assert client.get("/api/me/").status_code == 200


# Two-factor sign-in ----------------------------------------------------------------------------

def test_an_account_with_two_factor_needs_the_code_to_sign_in(world, frozen):
    user = world.filer
    enrol(user)
    client = browser()
    assert sign_in(client, user.username)["Location"] == "/login/verify/"
    assert client.get("/account/")["Location"].startswith("/login/")  # the password alone signs nobody in
    seq = last_seq()
    wrong = client.post("/login/verify/", {"code": wrong_code()})
    assert wrong.status_code == 400 and "验证码错误或已过期" in page(wrong)
    failed = one_event(seq, Event.OTP_FAILED)
    assert (failed.result, failed.actor_id, failed.actor_username, failed.target_id, failed.address) == (
        "failure", None, user.username, str(user.pk), ADDRESS)
    frozen.shift(31)
    seq = last_seq()
    assert client.post("/login/verify/", {"code": code_now()})["Location"] == "/"
    login = one_event(seq, Event.LOGIN)
    assert (login.actor_id, login.address, login.details) == (user.pk, ADDRESS, {"method": "totp"})
    assert client.get("/account/").status_code == 200


def test_wrong_codes_count_toward_the_lockout_with_wrong_passwords(world, frozen):
    user = world.filer
    enrol(user)
    client = browser()
    sign_in(client, user.username)
    assert [client.post("/login/verify/", {"code": wrong_code()}).status_code for _ in range(4)] == [400] * 4
    assert sign_in(browser(), user.username, "wrong-password").status_code == 429  # the fifth failure
    frozen.shift(31)
    refused = client.post("/login/verify/", {"code": code_now()})
    assert refused.status_code == 429 and "账号已锁定" in page(refused)
    assert client.get("/account/")["Location"].startswith("/login/")


def test_five_wrong_codes_lock_out_even_the_right_password(world, frozen):
    user = world.filer
    enrol(user)
    client = browser()
    sign_in(client, user.username)
    assert [client.post("/login/verify/", {"code": wrong_code()}).status_code for _ in range(5)] == [400] * 4 + [429]
    frozen.shift(31)
    assert sign_in(browser(), user.username).status_code == 429


def test_a_recovery_code_signs_in_once(world):
    user = world.filer
    codes = enrol(user)
    client = browser()
    sign_in(client, user.username)
    seq = last_seq()
    assert client.post("/login/verify/", {"code": codes[0].upper()})["Location"] == "/"
    used = one_event(seq, Event.OTP_RECOVERY_USED)
    assert (used.actor_id, used.target_id, used.address, used.details) == (user.pk, str(user.pk), ADDRESS,
                                                                          {"left": 9})
    assert one_event(seq, Event.LOGIN).details == {"method": "recovery_code"}
    again = browser()
    sign_in(again, user.username)
    assert again.post("/login/verify/", {"code": codes[0]}).status_code == 400
    assert again.get("/account/")["Location"].startswith("/login/")


# /api/token/ ------------------------------------------------------------------------------------

def test_api_token_lockout_matches_the_page(world):
    user = world.filer
    seq = last_seq()
    answers = [api_sign_in(user.username, f"wrong-{i}") for i in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]
    assert answers[0].json()["detail"] == "用户名或密码错误。"
    sixth = api_sign_in(user.username)
    assert sixth.status_code == 429 and sixth["Content-Type"] == "application/json"
    assert sixth.json()["detail"] == LOCKED_JSON
    assert not ApiToken.objects.filter(user=user).exists()
    failed = [e for e in events_after(seq) if e.event == Event.TOKEN_FAILED]
    assert len(failed) == 6
    assert (failed[0].result, failed[0].actor_id, failed[0].actor_username, failed[0].target_id,
            failed[0].address) == ("failure", None, user.username, str(user.pk), ADDRESS)
    assert failed[-1].details == {"channel": "api_token", "locked_out": True}  # the sixth, refused
    assert len([e for e in events_after(seq) if e.event == Event.LOCKOUT]) == 1
    # The page refuses the locked-out name from this address too.
    assert sign_in(browser(), user.username).status_code == 429


def test_one_failed_token_request_writes_one_row(world):
    seq = last_seq()
    api_sign_in(world.filer.username, "wrong")
    assert [e.event for e in events_after(seq)] == [Event.TOKEN_FAILED]


def test_lockout_is_per_user_name_and_address(world):
    for i in range(5):
        api_sign_in(world.filer.username, f"wrong-{i}", address="10.0.0.1")
    assert api_sign_in(world.filer.username, address="10.0.0.1").status_code == 429
    assert api_sign_in(world.filer.username, address="10.0.0.2").status_code == 200
    assert api_sign_in(world.bureau.username, address="10.0.0.1").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_counts(world, settings):
    settings.PORTAL_TRUSTED_PROXIES = ["127.0.0.1"]
    user = world.filer

    def through_proxy(client_address: str, password: str):
        return APIClient(REMOTE_ADDR="127.0.0.1").post(
            "/api/token/", {"username": user.username, "password": password}, format="json",
            HTTP_X_FORWARDED_FOR=client_address)

    seq = last_seq()
    for i in range(5):
        through_proxy("10.1.1.1", f"wrong-{i}")
    assert {e.address for e in events_after(seq)} == {"10.1.1.1"}
    assert through_proxy("10.1.1.1", TEST_PASSWORD).status_code == 429
    assert through_proxy("10.1.1.2", TEST_PASSWORD).status_code == 200  # another client behind the proxy


def test_without_a_trusted_proxy_forwarded_for_is_ignored(world, settings):
    settings.PORTAL_TRUSTED_PROXIES = []
    user = world.filer

    def spoofed(forwarded: str, password: str):
        return APIClient(REMOTE_ADDR="10.9.9.9").post(
            "/api/token/", {"username": user.username, "password": password}, format="json",
            HTTP_X_FORWARDED_FOR=forwarded)

    seq = last_seq()
    for i in range(5):
        spoofed(f"10.1.1.{i}", f"wrong-{i}")
    assert {e.address for e in events_after(seq)} == {"10.9.9.9"}
    assert spoofed("10.1.1.200", TEST_PASSWORD).status_code == 429


def test_a_sign_in_token_works_until_revoked(world):
    user = world.filer
    response = api_sign_in(user.username)
    assert response.status_code == 200
    key = response.json()["token"]
    token = ApiToken.objects.get(user=user)
    assert token.last_used_at is None
    assert token_client(key).get("/api/me/").json()["username"] == user.username
    token.refresh_from_db()
    assert token.last_used_at is not None
    from security import services

    services.api_token_revoke(user=user, token=token)
    refused = token_client(key).get("/api/me/")
    assert refused.status_code == 401 and refused.json()["detail"] == "认证令牌无效。"


def test_a_sign_in_token_expires_after_twelve_hours(world, settings):
    settings.API_SIGN_IN_TOKEN_HOURS = 12
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        key = api_sign_in(world.filer.username).json()["token"]
    with time_machine.travel(start + timedelta(hours=11, minutes=59), tick=False):
        assert token_client(key).get("/api/me/").status_code == 200
    with time_machine.travel(start + timedelta(hours=12), tick=False):
        assert token_client(key).get("/api/me/").status_code == 401


def test_api_sign_in_of_an_account_with_two_factor_needs_otp(world, frozen):
    user = world.filer
    enrol(user)
    seq = last_seq()
    without = api_sign_in(user.username)
    assert without.status_code == 400 and "otp" in without.json()["detail"] and "双因素认证" in without.json()["detail"]
    assert [e.event for e in events_after(seq)] == [Event.TOKEN_FAILED]
    frozen.shift(31)
    with_code = api_sign_in(user.username, otp=code_now())
    assert with_code.status_code == 200 and token_client(with_code.json()["token"]).get("/api/me/").status_code == 200


def test_api_sign_in_of_a_role_that_requires_two_factor_needs_enrolment(world, settings):
    settings.PORTAL_REQUIRE_2FA = True
    refused = api_sign_in(world.bureau_admin.username)
    assert refused.status_code == 403 and refused.json()["detail"] == "您的角色要求使用双因素认证，请先完成设置。"
    assert api_sign_in(world.filer.username).status_code == 200


def test_a_deactivated_users_token_is_refused(world):
    from security import services

    user = world.filer
    _token, key = services.api_token_create(user=user, name="脚本")
    assert token_client(key).get("/api/me/").status_code == 200
    services.user_deactivate(actor=world.bureau_admin, user=user, reason="离职")
    refused = token_client(key).get("/api/me/")
    assert refused.status_code == 401 and refused.json()["detail"] == "用户未激活或者已删除。"
    assert api_sign_in(user.username).status_code == 400


# Password hashes -------------------------------------------------------------------------------

def test_an_old_pbkdf2_hash_becomes_argon2_at_sign_in_without_a_change(world, settings):
    import importlib
    import os

    # The production list of config/settings.py (the tests' own is MD5 only, for speed).
    production = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"]).PASSWORD_HASHERS
    assert production[0].endswith("Argon2PasswordHasher")
    settings.PASSWORD_HASHERS = production
    user = world.filer
    # A PBKDF2 hash as an older installation kept it (few iterations keep the test fast).
    old = PBKDF2PasswordHasher().encode(TEST_PASSWORD, "oldsalt1234", iterations=1000)
    User.objects.filter(pk=user.pk).update(password=old)
    history = PasswordHistory.objects.filter(user=user).count()
    seq = last_seq()
    assert sign_in(browser(), user.username)["Location"] == "/"
    user.refresh_from_db()
    assert user.password.startswith("argon2$") and user.check_password(TEST_PASSWORD)
    assert PasswordHistory.objects.filter(user=user).count() == history
    assert [e.event for e in events_after(seq)] == [Event.LOGIN]
    # An Argon2 hash of Django's heavier parameters is brought to the portal's at the next sign-in too.
    from django.contrib.auth.hashers import Argon2PasswordHasher

    User.objects.filter(pk=user.pk).update(password=Argon2PasswordHasher().encode(TEST_PASSWORD, "othersalt123"))
    assert sign_in(browser(), user.username)["Location"] == "/"
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_fragments_of_the_page_a_user_is_held_on_do_not_reload_it(world, settings):
    """The navigation's unread badge (an HTMX request) on the password or two-factor page answers
    without HX-Redirect to that same page: the browser would reload it for ever."""
    settings.PORTAL_REQUIRE_2FA = True
    held = {"/account/password/": client_for(world.filer), "/account/two-factor/": client_for(world.bureau_admin)}
    User.objects.filter(pk=world.filer.pk).update(must_change_password=True)
    for target, client in held.items():
        page_html = page(client.get(target))
        assert 'hx-get="/reports/inbox/unread/"' in page_html
        on_it = client.get("/reports/inbox/unread/", HTTP_HX_REQUEST="true",
                           HTTP_HX_CURRENT_URL=f"http://testserver{target}")
        assert on_it.status_code == 204 and "HX-Redirect" not in on_it
        elsewhere = client.get("/reports/inbox/unread/", HTTP_HX_REQUEST="true",
                               HTTP_HX_CURRENT_URL="http://testserver/tasks/")
        assert elsewhere.status_code == 204 and elsewhere["HX-Redirect"] == target
