"""One's own account (issue 15): 我的账号, the password policy and change, two-factor sign-in on the
account page, the user's API tokens (page and ``/api/tokens/``), ``/api/me/``, and the sign-in
benchmark. The sign-in itself, sessions and ``/api/token/`` are in test_security_account_auth.py."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import ApiToken, PasswordHistory, Role, User
from core import audit
from core.audit import Event
from core.models import SecurityEvent
from security import services
from tests.conftest import client_for
from tests.factories import TEST_PASSWORD, UserFactory, grant

ADDRESS = "10.20.30.40"
# RFC 6238's test secret ("12345678901234567890"), so that codes can be computed in the tests.
KEY = "3132333435363738393031323334353637383930"


# Helpers -----------------------------------------------------------------------------------------

def code_now(key: str = KEY) -> str:
    return f"{totp(bytes.fromhex(key)):06d}"


def enrol(user: User, key: str = KEY) -> list[str]:
    """A confirmed authenticator of ``key`` and ten recovery codes for ``user``."""
    TOTPDevice.objects.create(user=user, name="app", key=key, confirmed=True)
    return services.recovery_codes_new(user)


def last_seq() -> int:
    return SecurityEvent.objects.aggregate(m=Max("seq"))["m"] or 0


def events_after(seq: int) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(seq__gt=seq).order_by("seq"))


def one_event(seq: int, event: str) -> SecurityEvent:
    rows = [e for e in events_after(seq) if e.event == event]
    assert len(rows) == 1, [(e.event, e.result) for e in events_after(seq)]
    return rows[0]


def page(response) -> str:
    return response.content.decode()


def client_at(user, address: str = ADDRESS):
    client = client_for(user)
    client.defaults["REMOTE_ADDR"] = address
    return client


# 我的账号 -------------------------------------------------------------------------------------

def test_profile_shows_details_grants_password_clock_and_two_factor_state(world, settings):
    settings.PASSWORD_MAX_AGE_DAYS = 90
    user = world.filer
    User.objects.filter(pk=user.pk).update(full_name="陈填报", phone="0766-7512345")
    grant(user, Role.VIEWER, world.alliance_a)
    body = page(client_for(user).get("/account/"))
    assert "陈填报" in body and "0766-7512345" in body
    grants = re.search(r'id="my-grants">(.*?)</ul>', body, re.S).group(1)
    assert "机构填报员 · 平台镇卫生院" in grants and "查阅人员 · 第一医共体" in grants
    user.refresh_from_db()
    due = re.search(r'id="password-due">(.*?)</dd>', body, re.S).group(1)
    # The page's date is Asia/Shanghai's: after 16:00 UTC it is a day ahead of UTC's.
    expires = timezone.localtime(user.password_changed_at + timedelta(days=90))
    assert f"{expires:%Y-%m-%d}" in due
    assert "密码须每 90 天更换一次" in due
    assert "未启用" in re.search(r'id="two-factor-state">(.*?)</dd>', body, re.S).group(1)
    enrol(user)
    assert "已启用" in re.search(r'id="two-factor-state">(.*?)</dd>',
                                 page(client_for(user).get("/account/")), re.S).group(1)


def test_profile_edit_saves_and_logs_one_profile_edit(world):
    user = world.filer
    client = client_at(user)
    seq = last_seq()
    response = client.post("/account/", {"full_name": " 陈填报 ", "phone": "13800138000", "email": "chen@example.cn"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.full_name, user.phone, user.email) == ("陈填报", "13800138000", "chen@example.cn")
    event = one_event(seq, Event.PROFILE_EDIT)
    assert (event.actor_id, event.target_type, event.target_id, event.result, event.address) == (
        user.pk, "accounts.user", str(user.pk), "success", ADDRESS)
    assert event.details["changed"]["phone"] == ["", "13800138000"]
    assert len(events_after(seq)) == 1
    # The same again changes nothing and logs nothing.
    client.post("/account/", {"full_name": "陈填报", "phone": "13800138000", "email": "chen@example.cn"})
    assert len(events_after(seq)) == 1


def test_profile_edit_refuses_bad_input_in_chinese_and_saves_nothing(world):
    user = world.filer
    before = (user.full_name, user.phone, user.email)
    client = client_for(user)
    seq = last_seq()
    response = client.post("/account/", {"full_name": "", "phone": "call me", "email": "not-an-email"})
    assert response.status_code == 400
    body = page(response)
    assert "该字段是必填项" in body
    assert "请输入由数字组成的电话号码" in body
    assert "请输入合法的邮件地址" in body
    user.refresh_from_db()
    assert (user.full_name, user.phone, user.email) == before
    assert events_after(seq) == []


def test_profile_shows_previous_sign_in_and_own_recent_failures_only(world):
    user, other = world.filer, world.bureau
    audit.record(Event.LOGIN, actor=user, target=user, address="10.0.0.1")
    audit.record(Event.LOGIN_FAILED, username=user.username, target=user, result=audit.FAILURE, address="10.0.0.66")
    audit.record(Event.TOKEN_FAILED, username=user.username, target=user, result=audit.FAILURE, address="10.0.0.67")
    audit.record(Event.LOGIN_FAILED, username=other.username, target=other, result=audit.FAILURE, address="10.0.0.77")
    client = client_for(user)  # this session's own sign-in is now the latest auth.login, without an address
    body = page(client.get("/account/"))
    previous = re.search(r'id="previous-sign-in">(.*?)</dd>', body, re.S).group(1)
    assert "10.0.0.1" in previous
    table = re.search(r'id="recent-sign-ins">(.*?)</table>', body, re.S).group(1)
    assert "10.0.0.66" in table and "登录失败" in table and "10.0.0.67" in table and "API令牌申请失败" in table
    assert "10.0.0.77" not in table


def test_profile_lists_the_last_twenty_events(world):
    user = world.filer
    for i in range(25):
        audit.record(Event.LOGIN_FAILED, username=user.username, target=user, result=audit.FAILURE,
                     address=f"10.2.0.{i}")
    table = re.search(r'id="recent-sign-ins">(.*?)</table>', page(client_for(user).get("/account/")), re.S).group(1)
    assert table.count("<tr>") == 21  # the head and twenty rows
    assert "10.2.0.24" in table and "10.2.0.4<" not in table


def test_profile_query_count_does_not_grow_with_history(world, django_assert_num_queries):
    user = world.filer
    client = client_for(user)

    def history(n: int) -> None:
        for i in range(n):
            audit.record(Event.LOGIN_FAILED, username=user.username, target=user, result=audit.FAILURE,
                         address=f"10.1.0.{i}")
            audit.record(Event.LOGIN, actor=user, target=user, address=f"10.1.1.{i}")

    history(3)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/account/").status_code == 200
    history(30)
    grant(user, Role.VIEWER, world.alliance_a)
    grant(user, Role.VIEWER, world.yn)
    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get("/account/").status_code == 200


# The password policy --------------------------------------------------------------------------

POLICY = {
    # rule: (new password, the rule's own Chinese message)
    "length": ("Ab-12345", "密码长度至少为 10 个字符。"),
    "kinds": ("zhongguo-yiliao", "密码须至少包含大写字母、小写字母、数字和符号这四类字符中的 3 类。"),
    "user_name": ("X9-Yn_Centre_Filer", "密码不得包含用户名。"),
    "common": ("Password123", "这个密码太常见了。"),
    "history": (TEST_PASSWORD, "新密码不得与最近 5 次使用过的密码相同。"),
}


@pytest.mark.parametrize("rule", list(POLICY))
def test_each_password_rule_shows_its_own_chinese_message(world, rule):
    user = world.filer  # yn_centre_filer
    new, message = POLICY[rule]
    client = client_for(user)
    seq = last_seq()
    response = client.post("/account/password/", {"old_password": TEST_PASSWORD, "new_password1": new,
                                                            "new_password2": new})
    assert response.status_code == 400
    errors = re.search(r'id="id_new_password2_errors">(.*?)</div>', page(response), re.S).group(1)
    assert message in errors
    assert [m for r, (_p, m) in POLICY.items() if r != rule and m in errors] == []
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    assert events_after(seq) == []


def test_one_of_the_last_five_passwords_is_refused_and_the_sixth_oldest_allowed(world):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    user = world.filer  # history: the factory's TEST_PASSWORD
    recent = [f"Hist-{i}-pass-Q" for i in range(1, 6)]
    for password in recent:
        services.password_change(user=user, new_password=password)
    assert PasswordHistory.objects.filter(user=user).count() == 5
    for password in recent:
        with pytest.raises(ValidationError) as refused:
            validate_password(password, user)
        assert refused.value.messages == ["新密码不得与最近 5 次使用过的密码相同。"]
    validate_password(TEST_PASSWORD, user)  # the sixth-oldest: forgotten
    services.password_change(user=user, new_password="Hist-6-pass-Q")
    assert PasswordHistory.objects.filter(user=user).count() == 5
    validate_password("Hist-1-pass-Q", user)


def test_password_change_page_changes_it_and_logs_one_event(world):
    user = world.filer
    client = client_at(user)
    seq = last_seq()
    response = client.post("/account/password/?next=/account/", {
        "old_password": TEST_PASSWORD, "new_password1": "Neu-Pass-2026", "new_password2": "Neu-Pass-2026",
        "next": "/account/"})
    assert response.status_code == 302 and response["Location"] == "/account/"
    user.refresh_from_db()
    assert user.check_password("Neu-Pass-2026") and not user.must_change_password
    event = one_event(seq, Event.PASSWORD_CHANGE)
    assert (event.actor_id, event.target_id, event.result, event.address, event.details) == (
        user.pk, str(user.pk), "success", ADDRESS, {"reason": "voluntary"})
    assert len(events_after(seq)) == 1
    # This session stays signed in; the message says it worked.
    follow = client.get("/account/")
    assert follow.status_code == 200 and "密码已修改" in page(follow)


def test_password_change_goes_back_to_a_safe_next_only(world):
    client = client_for(world.filer)
    response = client.post("/account/password/", {"old_password": TEST_PASSWORD, "new_password1": "Neu-Pass-2026",
                                                  "new_password2": "Neu-Pass-2026", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_wrong_old_password_is_refused_and_logged_once(world):
    user = world.filer
    client = client_at(user)
    seq = last_seq()
    response = client.post("/account/password/", {
        "old_password": "not-my-password", "new_password1": "Neu-Pass-2026", "new_password2": "Neu-Pass-2026"})
    assert response.status_code == 400
    assert "你的旧密码不正确" in page(response)
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    rows = events_after(seq)
    assert [(e.event, e.result, e.actor_id, e.target_id, e.address) for e in rows] == [
        (Event.PASSWORD_CHANGE, "failure", user.pk, str(user.pk), ADDRESS)]


def test_password_change_lists_the_rules_in_chinese(world):
    body = page(client_for(world.filer).get("/account/password/"))
    assert "密码须至少包含大写字母、小写字母、数字和符号这四类字符中的 3 类。" in body
    assert "密码不得包含用户名。" in body
    assert "新密码不得与最近 5 次使用过的密码相同。" in body
    assert 'id="forced-change"' not in body


# Two-factor sign-in on the account page --------------------------------------------------------

@pytest.fixture
def frozen():
    """The clock stands still (TOTP codes, throttling and the lockout read it); ``frozen.shift(31)``
    moves to the next code."""
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def wrong_code() -> str:
    return f"{(int(code_now()) + 1) % 1_000_000:06d}"


def test_enrolment_through_the_page_shows_an_inline_qr_and_ten_recovery_codes_once(world, settings, frozen):
    settings.PORTAL_REQUIRE_2FA = True
    user = world.bureau_admin
    client = client_at(user)
    assert client.get("/")["Location"] == "/account/two-factor/"
    assert client.post("/account/two-factor/", {"action": "start"}).status_code == 302
    TOTPDevice.objects.filter(user=user, confirmed=False).update(key=KEY)
    body = page(client.get("/account/two-factor/"))
    qr = re.search(r'id="enrol-qr">(.*?)</div>', body, re.S).group(1).strip()
    assert qr.startswith("<svg") and "<path" in qr and "<img" not in body.split('id="enrol-qr"')[1][:200]
    assert "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ" in body  # the secret, in groups, for typing by hand

    seq = last_seq()
    wrong = client.post("/account/two-factor/", {"action": "confirm", "code": wrong_code()})
    assert wrong.status_code == 400 and "验证码错误或已过期" in page(wrong)
    assert one_event(seq, Event.OTP_FAILED).result == "failure"
    assert not services.has_two_factor(user)

    frozen.shift(31)
    seq = last_seq()
    done = client.post("/account/two-factor/", {"action": "confirm", "code": code_now()})
    assert done.status_code == 200
    codes = re.findall(r'<li class="col">([0-9a-f]{4}-[0-9a-f]{4})</li>', page(done))
    assert len(codes) == 10
    assert set(codes) == set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    event = one_event(seq, Event.OTP_ENROL)
    assert (event.actor_id, event.target_id, event.address) == (user.pk, str(user.pk), ADDRESS)
    assert services.has_two_factor(user)
    assert client.get("/").status_code == 200  # this session is verified now
    again = page(client.get("/account/two-factor/"))
    assert not [code for code in codes if code in again]
    # A second click of "confirm" answers without an error, and shows no codes.
    frozen.shift(31)
    second = client.post("/account/two-factor/", {"action": "confirm", "code": code_now()})
    assert second.status_code == 302
    assert set(codes) == set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))


def test_roles_that_require_two_factor_reach_only_its_page_until_enrolled(world, settings):
    settings.PORTAL_REQUIRE_2FA = True
    security_admin = UserFactory(username="yn_sec", county=world.yn)
    grant(security_admin, Role.SECURITY_ADMIN, world.yn)
    hr_officer = UserFactory(username="yn_hr2")
    grant(hr_officer, Role.HR_OFFICER, world.yn)
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    for user in (world.bureau_admin, security_admin, hr_officer, superuser):
        client = client_for(user)
        for url in ("/", "/account/", "/account/tokens/", "/tasks/", "/security/users/", "/admin/"):
            response = client.get(url)
            assert (response.status_code, response["Location"]) == (302, "/account/two-factor/"), (user, url)
        htmx = client.get("/tasks/", HTTP_HX_REQUEST="true")
        assert htmx["HX-Redirect"] == "/account/two-factor/"
        api = client.get("/api/me/")
        assert api.status_code == 403 and "双因素认证" in api.json()["detail"]
        assert client.get("/account/two-factor/").status_code == 200
        assert client.get("/account/password/").status_code == 200
        assert client.post("/logout/")["Location"] == "/login/"
    filer = client_for(world.filer)
    assert filer.get("/").status_code == 200 and filer.get("/api/me/").status_code == 200


def test_a_session_without_the_second_factor_verifies_it_and_wrong_codes_count(world, settings, frozen):
    from axes.models import AccessAttempt

    settings.PORTAL_REQUIRE_2FA = True
    user = world.bureau_admin
    enrol(user)
    client = client_at(user)  # signed in before the account had two-factor sign-in
    assert client.get("/")["Location"] == "/account/two-factor/"
    assert 'id="two-factor-verify"' in page(client.get("/account/two-factor/"))
    seq = last_seq()
    wrong = client.post("/account/two-factor/", {"action": "verify", "code": wrong_code()})
    assert wrong.status_code == 400
    event = one_event(seq, Event.OTP_FAILED)
    assert (event.actor_id, event.target_id, event.result, event.address) == (user.pk, str(user.pk), "failure",
                                                                              ADDRESS)
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == 1
    # Nothing but the verification before it: no enrolment of another phone, no turning off.
    assert client.post("/account/two-factor/", {"action": "start"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    frozen.shift(31)
    assert client.post("/account/two-factor/", {"action": "verify", "code": code_now()}).status_code == 302
    assert client.get("/").status_code == 200
    assert not AccessAttempt.objects.filter(username=user.username).exists()  # failures cleared


def test_five_wrong_codes_on_the_page_lock_the_account_out(world, settings, frozen):
    settings.PORTAL_REQUIRE_2FA = True
    user = world.bureau_admin
    enrol(user)
    client = client_at(user)
    answers = [client.post("/account/two-factor/", {"action": "verify", "code": wrong_code()}).status_code
               for _ in range(5)]
    assert answers == [400, 400, 400, 400, 429]
    frozen.shift(31)
    locked = client.post("/account/two-factor/", {"action": "verify", "code": code_now()})
    assert locked.status_code == 429 and "账号已锁定" in page(locked)
    assert client.get("/")["Location"] == "/account/two-factor/"


def _verified_client(user, frozen):
    client = client_at(user)
    assert client.post("/account/two-factor/", {"action": "verify", "code": code_now()}).status_code == 302
    frozen.shift(31)
    return client


def test_two_factor_is_turned_off_with_a_code_unless_the_role_requires_it(world, settings, frozen):
    settings.PORTAL_REQUIRE_2FA = True
    filer = world.filer
    enrol(filer)
    client = _verified_client(filer, frozen)
    seq = last_seq()
    wrong = client.post("/account/two-factor/", {"action": "disable", "code": wrong_code()})
    assert wrong.status_code == 400 and services.has_two_factor(filer)
    assert one_event(seq, Event.OTP_FAILED).details == {"channel": "disable"}
    frozen.shift(31)
    seq = last_seq()
    assert client.post("/account/two-factor/", {"action": "disable", "code": code_now()}).status_code == 302
    assert not services.has_two_factor(filer)
    assert not StaticToken.objects.filter(device__user=filer).exists()
    event = one_event(seq, Event.OTP_RESET)
    assert (event.actor_id, event.target_id) == (filer.pk, str(filer.pk))

    admin = world.bureau_admin
    enrol(admin)
    client = _verified_client(admin, frozen)
    assert "关闭双因素认证" not in page(client.get("/account/two-factor/"))
    refused = client.post("/account/two-factor/", {"action": "disable", "code": code_now()}, follow=True)
    assert "您的角色要求使用双因素认证，不能关闭。" in page(refused)
    assert services.has_two_factor(admin)


def test_new_recovery_codes_need_a_current_code_and_replace_the_old_ones(world, frozen):
    user = world.filer
    old = enrol(user)
    client = _verified_client(user, frozen)
    assert client.get("/account/two-factor/recovery-codes/").status_code == 405
    wrong = client.post("/account/two-factor/recovery-codes/", {"code": wrong_code()})
    assert wrong.status_code == 400
    assert set(old) == set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    frozen.shift(31)
    seq = last_seq()
    response = client.post("/account/two-factor/recovery-codes/", {"code": code_now()})
    assert response.status_code == 200
    new = re.findall(r'<li class="col">([0-9a-f]{4}-[0-9a-f]{4})</li>', page(response))
    assert len(new) == 10 and not set(new) & set(old)
    assert set(new) == set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert one_event(seq, Event.OTP_RECOVERY_NEW).actor_id == user.pk
    assert len(events_after(seq)) == 1


# My API tokens (page) ----------------------------------------------------------------------------

def test_token_is_made_with_its_key_shown_once_and_logged(world):
    user = world.filer
    client = client_at(user)
    seq = last_seq()
    response = client.post("/account/tokens/", {"name": "夜间导出脚本"})
    assert response.status_code == 200
    key = re.search(r'id="token-key" value="([0-9a-f]{40})"', page(response)).group(1)
    token = ApiToken.objects.get(user=user)
    assert (token.name, token.prefix, token.expires_at) == ("夜间导出脚本", key[:8], None)
    assert key not in token.digest
    event = one_event(seq, Event.TOKEN_CREATE)
    assert (event.actor_id, event.target_id, event.address, event.details["prefix"]) == (
        user.pk, str(user.pk), ADDRESS, key[:8])
    listing = page(client.get("/account/tokens/"))
    assert key not in listing and f"{key[:8]}…" in listing and "夜间导出脚本" in listing
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/me/").json()["username"] == user.username


def test_token_name_is_checked_and_a_double_click_makes_one_token(world):
    client = client_for(world.filer)
    too_long = client.post("/account/tokens/", {"name": "长" * 61})
    assert too_long.status_code == 400 and "60" in page(too_long) and "字符" in page(too_long)
    assert client.post("/account/tokens/", {"name": "  "}).status_code == 400
    assert client.post("/account/tokens/", {"name": "导出"}).status_code == 200
    again = client.post("/account/tokens/", {"name": "导出"})
    assert again.status_code == 400 and "您已有一个名为 导出 的有效令牌" in page(again)
    assert ApiToken.objects.filter(user=world.filer).count() == 1


def test_token_list_shows_only_own_tokens_with_their_state(world):
    from datetime import timedelta

    from django.utils import timezone

    user = world.filer
    now = timezone.now()
    services.api_token_create(user=user, name="在用的")
    revoked, _key = services.api_token_create(user=user, name="吊销的")
    services.api_token_revoke(user=user, token=revoked)
    expired, _key = services.api_token_create(user=user, name="过期的", hours=1)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(minutes=1))
    services.api_token_create(user=world.bureau, name="别人的令牌")
    rows = re.findall(r"<tr>(.*?)</tr>", re.search(r'id="token-table">(.*?)</table>',
                                                   page(client_for(user).get("/account/tokens/")), re.S).group(1),
                      re.S)
    states = {re.search(r"<td[^>]*>(.*?)</td>", row).group(1): row for row in rows[1:]}
    assert set(states) == {"在用的", "吊销的", "过期的"}
    assert "有效" in states["在用的"] and "撤销</button>" in states["在用的"]
    assert "已吊销" in states["吊销的"] and "<button" not in states["吊销的"]
    assert "已过期" in states["过期的"] and "<button" not in states["过期的"]


def test_token_revoke_is_idempotent_and_logged_once(world):
    user = world.filer
    token, key = services.api_token_create(user=user, name="脚本")
    client = client_at(user)
    seq = last_seq()
    assert client.post(f"/account/tokens/{token.pk}/revoke/")["Location"] == "/account/tokens/"
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = one_event(seq, Event.TOKEN_REVOKE)
    assert (event.actor_id, event.target_id, event.address, event.details["prefix"]) == (
        user.pk, str(user.pk), ADDRESS, key[:8])
    second = client.post(f"/account/tokens/{token.pk}/revoke/", follow=True)
    assert second.status_code == 200 and "此前已吊销" in page(second)
    assert len(events_after(seq)) == 1
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/me/").status_code == 401


def test_another_users_token_answers_404(world):
    token, _key = services.api_token_create(user=world.bureau, name="别人的")
    client = client_for(world.filer)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post("/account/tokens/987654321/revoke/").status_code == 404
    assert client.get(f"/account/tokens/{token.pk}/revoke/").status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_page_query_count_does_not_grow(world, django_assert_num_queries):
    user = world.filer
    client = client_for(user)
    for i in range(3):
        services.api_token_create(user=user, name=f"t{i}")
    with CaptureQueriesContext(connection) as small:
        assert client.get("/account/tokens/").status_code == 200
    for i in range(3, 30):
        services.api_token_create(user=user, name=f"t{i}")
    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get("/account/tokens/").status_code == 200


# /api/tokens/ and /api/me/ ---------------------------------------------------------------------

def api_for(user, address: str = ADDRESS) -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.force_login(user)
    return client


def test_api_needs_credentials(world):
    anonymous = APIClient()
    for url in ("/api/tokens/", "/api/me/"):
        assert anonymous.get(url).status_code == 401
    assert anonymous.post("/api/tokens/", {"name": "x"}, format="json").status_code == 401
    assert not ApiToken.objects.exists()


def test_api_me_has_the_documented_shape(world):
    grant(world.filer, Role.VIEWER, world.alliance_a)
    grant(world.filer, Role.VIEWER, world.yn)
    response = api_for(world.filer).get("/api/me/")
    assert response.json() == {
        "username": "yn_centre_filer", "name": world.filer.full_name,
        "grants": [{"role": "institution_filer", "institution": world.centre.pk},
                   {"role": "viewer", "alliance": world.alliance_a.pk},
                   {"role": "viewer", "region": world.yn.pk}]}


def test_api_tokens_make_list_and_revoke_own_tokens(world):
    user = world.filer
    client = api_for(user)
    seq = last_seq()
    made = client.post("/api/tokens/", {"name": "ETL"}, format="json")
    assert made.status_code == 201
    body = made.json()
    key = body["key"]
    assert (body["name"], body["prefix"], body["state"], body["revoked_at"]) == ("ETL", key[:8], "active", None)
    assert one_event(seq, Event.TOKEN_CREATE).details["channel"] == "api"
    services.api_token_create(user=world.bureau, name="别人的")
    listing = client.get("/api/tokens/").json()
    assert [t["name"] for t in listing["results"]] == ["ETL"]
    assert "key" not in listing["results"][0] and key not in str(listing)
    assert client.post("/api/tokens/", {"name": "ETL"}, format="json").status_code == 400
    assert client.post("/api/tokens/", {"name": "x" * 61}, format="json").status_code == 400

    scripted = APIClient()
    scripted.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    refused = scripted.post("/api/tokens/", {"name": "永久令牌"}, format="json")
    assert refused.status_code == 403 and "登录会话" in refused.json()["detail"]
    assert ApiToken.objects.filter(user=user).count() == 1

    token_id = body["id"]
    seq = last_seq()
    first = client.post(f"/api/tokens/{token_id}/revoke/")
    second = client.post(f"/api/tokens/{token_id}/revoke/")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["state"] == "revoked" and second.json()["revoked_at"] == first.json()["revoked_at"]
    assert [e.event for e in events_after(seq)] == [Event.TOKEN_REVOKE]
    assert scripted.get("/api/me/").status_code == 401


def test_api_another_users_token_answers_404(world):
    token, _key = services.api_token_create(user=world.bureau, name="别人的")
    client = api_for(world.filer)
    assert client.get(f"/api/tokens/{token.pk}/").status_code == 404
    assert client.post(f"/api/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_api_token_list_query_count_does_not_grow(world, django_assert_num_queries):
    user = world.filer
    client = api_for(user)
    for i in range(3):
        services.api_token_create(user=user, name=f"t{i}")
    with CaptureQueriesContext(connection) as small:
        assert len(client.get("/api/tokens/").json()["results"]) == 3
    for i in range(3, 30):
        services.api_token_create(user=user, name=f"t{i}")
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(client.get("/api/tokens/").json()["results"]) == 30


# The sign-in benchmark -----------------------------------------------------------------------

def test_bench_signin_prints_positive_figures_for_each_hasher():
    out = StringIO()
    call_command("bench_signin", "--runs", "1", stdout=out)
    text = out.getvalue()
    per_check = {name: float(ms) for name, ms in re.findall(
        r"^  (PBKDF2 before|Argon2 with Django's defaults|Argon2 now \(the portal's\)) \(.*?\): ([\d.]+) ms CPU",
        text, re.M)}
    assert len(per_check) == 3 and all(v > 0 for v in per_check.values()), text
    assert "memory 19,456 KiB, parallelism 1" in text  # the portal's parameters are what is measured
    assert float(re.search(r"Ratio of CPU time PBKDF2 / Argon2: ([\d.]+)", text).group(1)) > 0
    burst = dict(re.findall(r"^  (PBKDF2|Argon2): ([\d.]+) s until the last one", text, re.M))
    assert set(burst) == {"PBKDF2", "Argon2"} and all(float(v) > 0 for v in burst.values())
    assert "100 sign-ins at once on 2 cores" in text
