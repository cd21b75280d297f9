"""Accounts as a county runs them, in headless Chromium: 郁南县's security administrator creates a filer
for 都城镇卫生院 and reads the one-time password off the page; the filer signs in with it, is held on
the password change until a new one is set, then finds 都城镇卫生院's filings in 我的填报; the county's
auditor finds these events in 安全审计. The user list and the log are also looked at on a phone.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.test_browser import artifacts_dir, body_text, browser, log_in, log_out, page  # noqa: F401

pytestmark = pytest.mark.browser

NEW_USERNAME = "yn_dc_zhang"
NEW_PASSWORD = "Ducheng-Filer-88"


@pytest.fixture
def demo_filings(transactional_db):
    """The demo's structure, users and filings (no ledgers), committed for the live server."""
    call_command("load_demo", quiet=True, without_ledgers=True)


def _sign_in(page, base_url: str, username: str, password: str) -> None:  # noqa: F811
    page.goto(f"{base_url}/login/")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    with page.expect_navigation():
        page.locator('form:has(input[name="password"]) [type="submit"]').first.click()


def test_security_admin_creates_a_filer_who_changes_the_password_and_files_and_the_auditor_sees_it(
        live_server, demo_filings, page):  # noqa: F811
    from accounts.models import Grant, User
    from core.models import SecurityEvent

    shots = artifacts_dir()
    base = live_server.url
    first_event = SecurityEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    # The security administrator creates the account.
    log_in(page, base, "yn_security")
    assert "/security/users/" in page.url  # a security role's home is user management
    page.goto(f"{base}/security/users/new/")
    page.fill("#id_full_name", "张晓梅")
    page.fill("#id_username", NEW_USERNAME)
    page.fill("#id_phone", "13800138000")
    page.fill("#id_email", "zhangxm@dc.example.cn")
    page.select_option("#id_role", "institution_filer")
    unit = page.locator("#id_unit option", has_text="都城镇卫生院").first.get_attribute("value")
    page.select_option("#id_unit", unit)
    with page.expect_navigation():
        page.locator("#user-create-form [type=submit]").click()
    assert "账号已创建" in body_text(page), body_text(page)[:1500]
    one_time = page.locator("[data-one-time-password]").inner_text().strip()
    assert len(one_time) >= 10
    page.screenshot(path=str(shots / "security-1-account-created.png"), full_page=True)
    account = User.objects.get(username=NEW_USERNAME)
    assert account.must_change_password and account.county.name == "郁南县"
    assert Grant.objects.get(user=account).institution.name == "郁南县都城镇卫生院"
    log_out(page, base)

    # The filer signs in with the one-time password and can do nothing but set a new one.
    _sign_in(page, base, NEW_USERNAME, one_time)
    assert "/account/password/" in page.url, page.url
    assert "初始密码" in body_text(page)
    page.goto(f"{base}/filings/")
    assert "/account/password/" in page.url  # still held
    page.screenshot(path=str(shots / "security-2-forced-change.png"), full_page=True)
    # A weak password is refused with the rules it breaks, in Chinese.
    page.fill("#id_old_password", one_time)
    page.fill("#id_new_password1", "abcdefgh")
    page.fill("#id_new_password2", "abcdefgh")
    with page.expect_navigation():
        page.locator("#password-form [type=submit]").click()
    refused = body_text(page)
    assert "密码长度至少为 10 个字符" in refused and "四类字符中的 3 类" in refused, refused[:1500]
    page.fill("#id_old_password", one_time)
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    with page.expect_navigation():
        page.locator("#password-form [type=submit]").click()
    assert "/account/password/" not in page.url
    page.goto(f"{base}/filings/")
    filings = body_text(page)
    assert "我的填报" in filings and "都城镇卫生院" in filings, filings[:1500]
    assert "县人民医院" not in filings  # only its own institution
    page.screenshot(path=str(shots / "security-3-filer-my-filings.png"), full_page=True)
    log_out(page, base)

    # The auditor finds what happened.
    log_in(page, base, "yn_auditor")
    assert "/security/events/" in page.url
    page.fill("#id_user", NEW_USERNAME)
    with page.expect_navigation():
        page.locator("#event-filters [type=submit]").click()
    log = body_text(page)
    for label in ("创建用户", "授予角色", "登录", "修改密码"):
        assert label in log, (label, log[:2000])
    page.screenshot(path=str(shots / "security-4-auditor-log.png"), full_page=True)
    written = set(SecurityEvent.objects.filter(seq__gt=first_event).values_list("event", flat=True))
    assert {"user.create", "grant.add", "auth.login", "password.change", "auth.logout"} <= written

    # On a phone: the log and (for the administrator) the user list stay readable.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/security/events/")
    page.screenshot(path=str(shots / "security-5-log-phone.png"), full_page=True)
    log_out(page, base)
    log_in(page, base, "yn_security")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/security/users/?q={NEW_USERNAME}")
    assert NEW_USERNAME in body_text(page)
    page.screenshot(path=str(shots / "security-6-users-phone.png"), full_page=True)
