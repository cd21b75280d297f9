"""User management by a county's security administrator (issue 15): who may use it, the list with
its filters and export, a new account, the account's actions, every escalation refused (with its
message, nothing written but one ``grant.denied``), separation of duties, new counties and the
nightly deactivation of dormant accounts."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from openpyxl import load_workbook

from accounts.models import Grant, Role, User
from alliances.models import Region
from core.models import SecurityEvent
from security import services
from security.dormant import dormant_deactivate
from tests.conftest import client_for
from tests.factories import TEST_PASSWORD, UserFactory, grant

SHANGHAI = ZoneInfo("Asia/Shanghai")


def zh(message: str, **values) -> str:
    """A message as the (Chinese) pages show it."""
    with translation.override("zh-hans"):
        text = translation.gettext(message)
    return text % values if values else text


def events(code: str | None = None, **filters):
    qs = SecurityEvent.objects.all()
    if code:
        qs = qs.filter(event=code)
    return qs.filter(**filters)


def body(response) -> str:
    """The page's text, entities decoded (a message with an apostrophe reads as written)."""
    return html.unescape(response.content.decode())


def verified_client(user) -> Client:
    """A client signed in with a second factor (for PORTAL_REQUIRE_2FA)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client = client_for(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture(name="sec")
def sec_fixture(world):
    """The world plus 郁南县's security administrator (``w.sec``), 万源市's (``w.wy_sec``), an auditor of
    郁南县 and a platform administrator of 广东省."""
    w = world
    w.sec = UserFactory(username="yn_sec", full_name="郁南安全员", county=w.yn)
    grant(w.sec, Role.SECURITY_ADMIN, w.yn)
    w.wy_sec = UserFactory(username="wy_sec", full_name="万源安全员", county=w.wy)
    grant(w.wy_sec, Role.SECURITY_ADMIN, w.wy)
    w.auditor = UserFactory(username="yn_auditor", county=w.yn)
    grant(w.auditor, Role.AUDITOR, w.yn)
    w.platform = UserFactory(username="gd_platform")
    grant(w.platform, Role.PLATFORM_ADMIN, w.gd)
    return w


@pytest.fixture(name="separate")
def separate_fixture(settings):
    settings.PORTAL_SEPARATE_DUTIES = True


def _urls(w) -> dict[str, str]:
    pk = w.filer.pk
    return {
        "list": reverse("security:user_list"), "export": reverse("security:user_export"),
        "create": reverse("security:user_create"), "import": reverse("security:user_import"),
        "template": reverse("security:user_import_template"),
        "passwords": reverse("security:user_import_passwords"),
        "detail": reverse("security:user_detail", kwargs={"user_pk": pk}),
        "county": reverse("security:county_create"),
    }


# Who ------------------------------------------------------------------------------------------------

def test_filer_gets_403_on_every_user_management_page(sec):
    client = client_for(sec.filer)
    for name, url in _urls(sec).items():
        assert client.get(url).status_code == 403, name
    for name in ("create", "import", "passwords", "county"):
        assert client.post(_urls(sec)[name], {}).status_code == 403, name
    assert client.post(reverse("security:user_import_confirm"), {}).status_code == 403
    # A write to one account: the account cannot be found (404), as for a missing one.
    for name in ("user_edit", "user_deactivate", "user_reset_password", "user_unlock", "grant_add"):
        assert client.post(reverse(f"security:{name}", kwargs={"user_pk": sec.bureau.pk}), {}).status_code == 404
    assert sec.bureau.grants.count() == 1 and not events("password.reset").exists()


def test_auditor_and_bureau_staff_run_no_accounts(sec):
    for user in (sec.auditor, sec.bureau, sec.city):
        assert client_for(user).get(reverse("security:user_list")).status_code == 403


def test_outsider_security_admin_gets_404_for_our_users(sec):
    client = client_for(sec.wy_sec)
    for name in ("user_detail",):
        assert client.get(reverse(f"security:{name}", kwargs={"user_pk": sec.filer.pk})).status_code == 404
    for name in ("user_edit", "user_deactivate", "user_reactivate", "user_reset_password", "user_unlock",
                 "user_reset_two_factor", "grant_add"):
        response = client.post(reverse(f"security:{name}", kwargs={"user_pk": sec.filer.pk}),
                               {"full_name": "改名", "reason": "x"})
        assert response.status_code == 404, name
    held = sec.filer.grants.get()
    assert client.post(reverse("security:grant_revoke", kwargs={"user_pk": sec.filer.pk, "grant_pk": held.pk})
                       ).status_code == 404
    sec.filer.refresh_from_db()
    assert sec.filer.full_name != "改名" and sec.filer.is_active and sec.filer.grants.count() == 1
    page = body(client.get(reverse("security:user_list")))
    assert "wy_staff" in page and "yn_centre_filer" not in page and "郁南县" not in page


# The list ---------------------------------------------------------------------------------------------

def test_list_shows_the_county_accounts_with_grants_and_states(sec, settings):
    settings.PORTAL_REQUIRE_2FA = True
    locked = UserFactory(username="yn_locked", full_name="锁定者", county=sec.yn)
    grant(locked, Role.INSTITUTION_FILER, sec.centre)
    AccessAttempt.objects.create(username="yn_locked", ip_address="10.0.0.1", user_agent="x",
                                 failures_since_start=django_settings.AXES_FAILURE_LIMIT, attempt_time=timezone.now())
    User.objects.filter(pk=sec.filer.pk).update(must_change_password=True)
    response = verified_client(sec.sec).get(reverse("security:user_list"))
    assert response.status_code == 200
    page = body(response)
    for username in ("yn_admin", "yn_staff", "yn_centre_filer", "yn_alliance_a", "yn_locked", "yn_auditor"):
        assert username in page, username
    assert "wy_staff" not in page and "wy_sec" not in page and "yf_city" not in page
    assert zh("Locked out") in page and zh("Must change password") in page
    # bureau_admin must use two-factor sign-in and has not enrolled.
    assert zh("Two-factor not enrolled") in page
    assert "平台镇卫生院" in page  # the filer's grant in words


@pytest.mark.parametrize(("query", "expected", "absent"), [
    ("role=institution_filer", {"yn_centre_filer"}, {"yn_staff", "yn_admin"}),
    ("unit=institution:{centre}", {"yn_centre_filer"}, {"yn_staff", "yn_alliance_a"}),
    ("unit=alliance:{alliance_a}", {"yn_alliance_a"}, {"yn_centre_filer"}),
    ("active=0", {"yn_gone"}, {"yn_staff"}),
    ("must_change=1", {"yn_new"}, {"yn_staff"}),
    ("q=郁南安全", {"yn_sec"}, {"yn_staff"}),
    ("q=1390000", {"yn_new"}, {"yn_staff"}),
    ("signin=never", {"yn_new", "yn_staff"}, {"yn_recent"}),
    ("signin=dormant", {"yn_old"}, {"yn_recent", "yn_new"}),
])
def test_list_filters(sec, query, expected, absent):
    now = timezone.now()
    gone = UserFactory(username="yn_gone", county=sec.yn, is_active=False)
    grant(gone, Role.VIEWER, sec.yn)
    new = UserFactory(username="yn_new", county=sec.yn, must_change_password=True, phone="13900001111")
    grant(new, Role.VIEWER, sec.yn)
    old = UserFactory(username="yn_old", county=sec.yn)
    grant(old, Role.VIEWER, sec.yn)
    User.objects.filter(pk=old.pk).update(last_login=now - timedelta(days=91), date_joined=now - timedelta(days=400))
    recent = UserFactory(username="yn_recent", county=sec.yn)
    grant(recent, Role.VIEWER, sec.yn)
    User.objects.filter(pk=recent.pk).update(last_login=now - timedelta(days=1), date_joined=now - timedelta(days=400))
    url = reverse("security:user_list") + "?" + query.format(centre=sec.centre.pk, alliance_a=sec.alliance_a.pk)
    response = client_for(sec.sec).get(url)
    assert response.status_code == 200
    shown = {a.username for a in response.context["page"]}
    assert expected <= shown, shown
    assert not (absent & shown), shown


def test_dormant_filter_counts_from_the_reactivation(sec):
    now = timezone.now()
    back = UserFactory(username="yn_back", county=sec.yn)
    grant(back, Role.VIEWER, sec.yn)
    User.objects.filter(pk=back.pk).update(last_login=now - timedelta(days=200), date_joined=now - timedelta(days=400),
                                           reactivated_at=now - timedelta(days=5))
    shown = {a.username for a in client_for(sec.sec).get(reverse("security:user_list") + "?signin=dormant")
             .context["page"]}
    assert "yn_back" not in shown


def _more_users(w, start: int, stop: int) -> None:
    for i in range(start, stop):
        account = UserFactory(username=f"yn_extra_{i}", county=w.yn)
        grant(account, Role.INSTITUTION_FILER if i % 2 else Role.VIEWER, w.centre if i % 2 else w.alliance_a)


def _count_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_list_and_export_query_counts_do_not_grow_with_the_users(sec):
    client = client_for(sec.sec)
    list_url = reverse("security:user_list") + "?active=1"
    export_url = reverse("security:user_export")
    _more_users(sec, 0, 5)
    small = (_count_queries(client, list_url), _count_queries(client, export_url))
    _more_users(sec, 5, 50)
    large = (_count_queries(client, list_url), _count_queries(client, export_url))
    assert small == large
    assert User.objects.filter(username__startswith="yn_extra_").count() == 50


def test_export_has_no_formula_and_no_password_material(sec):
    evil = UserFactory(username="yn_evil", full_name='=HYPERLINK("http://evil.example","x")', county=sec.yn,
                       phone="13800000000", email="e@example.com")
    grant(evil, Role.VIEWER, sec.yn)
    response = client_for(sec.sec).get(reverse("security:user_export"))
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.content))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c for c in cells if c.data_type == "f"]
    assert any(c.value == '=HYPERLINK("http://evil.example","x")' and c.data_type == "s" for c in cells)
    text = " ".join(str(c.value) for c in cells)
    hashes = User.objects.values_list("password", flat=True)
    assert "yn_evil" in text and "md5$" not in text and not any(h in text for h in hashes)
    logged = events("export.personal").get()
    assert logged.details["register"] == "users" and logged.details["rows"] == len(_visible_ids(sec))
    assert logged.actor_id == sec.sec.pk


def _visible_ids(w) -> list[int]:
    from alliances import scoping

    return list(scoping.queryset_for(w.sec, User).values_list("pk", flat=True))


# A new account --------------------------------------------------------------------------------------

def _create(client, **overrides):
    data = {"full_name": "张三", "username": "zhangsan", "phone": "13800138000", "email": "zs@example.com",
            "role": Role.INSTITUTION_FILER, "unit": "", "nonce": "n-1"}
    data.update(overrides)
    return client.post(reverse("security:user_create"), data)


def test_create_shows_the_one_time_password_once_and_it_forces_the_change(sec):
    client = client_for(sec.sec)
    response = _create(client, unit=f"institution:{sec.centre.pk}")
    assert response.status_code == 200, response.content.decode()[:2000]
    password = response.context["password"]
    assert password in body(response) and "no-store" in response["Cache-Control"]
    account = User.objects.get(username="zhangsan")
    assert account.must_change_password and account.county_id == sec.yn.pk and account.password != password
    assert account.check_password(password)
    assert list(account.grants.values_list("role", "institution_id")) == [(Role.INSTITUTION_FILER, sec.centre.pk)]
    assert events("user.create", target_id=str(account.pk)).count() == 1
    assert events("grant.add", target_id=str(account.pk)).count() == 1
    # The same form again (a second click, a reload): no second account, no password.
    again = _create(client, unit=f"institution:{sec.centre.pk}")
    assert again.status_code == 302 and again["Location"] == reverse("security:user_detail",
                                                                      kwargs={"user_pk": account.pk})
    assert password not in body(client.get(again["Location"]))
    assert User.objects.filter(username="zhangsan").count() == 1
    # The new user signs in with it and can do nothing but change it.
    person = Client()
    signed_in = person.post(reverse("login"), {"username": "zhangsan", "password": password})
    assert signed_in.status_code == 302
    assert person.get("/").url.startswith(reverse("security:password_change"))
    services.password_change(user=account, new_password="Another-pass-2026")
    again_in = Client().post(reverse("login"), {"username": "zhangsan", "password": password})
    assert again_in.status_code == 200 and "_auth_user_id" not in again_in.wsgi_request.session


def test_create_refused_grant_writes_nothing_but_the_denial(sec):
    client = client_for(sec.sec)
    before = SecurityEvent.objects.count()
    response = _create(client, role=Role.PLATFORM_ADMIN, unit=f"region:{sec.yn.pk}")
    assert response.status_code == 400
    assert zh("The role %(role)s is granted on a city or province.", role=zh("Platform administrator")) \
        in body(response)
    assert not User.objects.filter(username="zhangsan").exists()
    assert SecurityEvent.objects.count() == before + 1 and events("grant.denied").count() == 1


def test_create_checks_each_field(sec):
    UserFactory(username="Taken")
    response = _create(client_for(sec.sec), username="taken", phone="12345", email="not-an-email",
                       unit=f"institution:{sec.centre.pk}")
    assert response.status_code == 400
    page = body(response)
    assert zh("The user name %(name)s is taken.", name="taken") in page
    assert zh("“%(value)s” is not a phone number: a mobile number has 11 digits (13800138000), a landline number "
              "begins with its area code (0766-7512345).", value="12345") in page
    assert zh("“%(value)s” is not an e-mail address.", value="not-an-email") in page
    assert not User.objects.filter(username="taken").exists()


# Actions on an account --------------------------------------------------------------------------------

def _post(client, name, account, data=None):
    return client.post(reverse(f"security:{name}", kwargs={"user_pk": account.pk}), data or {})


def test_edit_deactivate_reactivate_each_write_one_event_and_are_safe_twice(sec):
    client = client_for(sec.sec)
    target = sec.filer
    for _ in range(2):
        assert _post(client, "user_edit", target, {"full_name": "新名字", "phone": "0766-7512345",
                                                   "email": ""}).status_code == 302
    target.refresh_from_db()
    assert (target.full_name, target.phone) == ("新名字", "0766-7512345")
    assert events("user.edit", target_id=str(target.pk)).count() == 1
    for _ in range(2):
        assert _post(client, "user_deactivate", target, {"reason": "调离"}).status_code == 302
    target.refresh_from_db()
    assert not target.is_active and target.deactivation_reason == "调离"
    assert events("user.deactivate", target_id=str(target.pk)).count() == 1
    assert User.objects.filter(pk=target.pk).exists()  # never deleted
    for _ in range(2):
        assert _post(client, "user_reactivate", target).status_code == 302
    target.refresh_from_db()
    assert target.is_active and target.reactivated_at is not None
    assert events("user.reactivate", target_id=str(target.pk)).count() == 1


def test_deactivation_needs_a_reason(sec):
    response = _post(client_for(sec.sec), "user_deactivate", sec.filer, {"reason": "  "})
    assert response.status_code == 400
    sec.filer.refresh_from_db()
    assert sec.filer.is_active


def test_reset_password_shows_a_new_one_time_password_once(sec):
    client = client_for(sec.sec)
    response = _post(client, "user_reset_password", sec.filer, {"nonce": "r-1"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    password = response.context["password"]
    sec.filer.refresh_from_db()
    assert sec.filer.check_password(password) and sec.filer.must_change_password
    assert not sec.filer.check_password(TEST_PASSWORD)
    again = _post(client, "user_reset_password", sec.filer, {"nonce": "r-1"})
    assert again.status_code == 302
    sec.filer.refresh_from_db()
    assert sec.filer.check_password(password)
    assert events("password.reset", target_id=str(sec.filer.pk)).count() == 1


def test_unlock_only_when_locked(sec):
    client = client_for(sec.sec)
    _post(client, "user_unlock", sec.filer)
    assert not events("user.unlock").exists()
    AccessAttempt.objects.create(username=sec.filer.username, ip_address="10.0.0.2", user_agent="x",
                                 failures_since_start=django_settings.AXES_FAILURE_LIMIT, attempt_time=timezone.now())
    assert sec.filer.username in services.locked_usernames()
    assert zh("Locked out") in body(client.get(reverse("security:user_detail", kwargs={"user_pk": sec.filer.pk})))
    _post(client, "user_unlock", sec.filer)
    _post(client, "user_unlock", sec.filer)
    assert sec.filer.username not in services.locked_usernames()
    assert events("user.unlock", target_id=str(sec.filer.pk)).count() == 1


def test_reset_two_factor_removes_the_devices_once(sec):
    client = client_for(sec.sec)
    TOTPDevice.objects.create(user=sec.bureau_admin, name="app", confirmed=True)
    services.recovery_codes_new(sec.bureau_admin)
    for _ in range(2):
        _post(client, "user_reset_two_factor", sec.bureau_admin)
    assert not TOTPDevice.objects.filter(user=sec.bureau_admin).exists()
    assert not StaticDevice.objects.filter(user=sec.bureau_admin).exists()
    assert events("otp.reset", target_id=str(sec.bureau_admin.pk)).count() == 1


def test_grant_add_and_revoke_from_the_page(sec):
    client = client_for(sec.sec)
    data = {"role": Role.INSTITUTION_REVIEWER, "unit": f"institution:{sec.centre.pk}"}
    for _ in range(2):
        assert _post(client, "grant_add", sec.filer, data).status_code == 302
    added = sec.filer.grants.get(role=Role.INSTITUTION_REVIEWER)
    assert events("grant.add").count() == 1 and not events("grant.denied").exists()
    url = reverse("security:grant_revoke", kwargs={"user_pk": sec.filer.pk, "grant_pk": added.pk})
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302  # revoked already: a message, not an error
    assert not Grant.objects.filter(pk=added.pk).exists()
    assert events("grant.remove").count() == 1


def test_no_admin_action_on_ones_own_account(sec):
    client = client_for(sec.sec)
    page = body(client.get(reverse("security:user_detail", kwargs={"user_pk": sec.sec.pk})))
    assert reverse("security:user_reset_password", kwargs={"user_pk": sec.sec.pk}) not in page
    for name in ("user_edit", "user_reset_password", "user_unlock", "user_reset_two_factor", "user_reactivate"):
        assert _post(client, name, sec.sec, {"full_name": "x"}).status_code == 403, name
    _post(client, "user_deactivate", sec.sec, {"reason": "x"})
    sec.sec.refresh_from_db()
    assert sec.sec.is_active and sec.sec.full_name == "郁南安全员"
    assert events("grant.denied").count() == 1


# Escalations: each refused with its message, nothing written but one grant.denied --------------------

def _snapshot():
    return (list(Grant.objects.order_by("pk").values_list("pk", "user_id", "role", "region_id", "alliance_id",
                                                          "institution_id")),
            list(User.objects.order_by("pk").values_list("pk", "is_active", "is_superuser", "full_name",
                                                         "password")))


def _refused(client, url, data, message):
    before, count = _snapshot(), SecurityEvent.objects.count()
    response = client.post(url, data, follow=True)
    assert message in body(response), message
    assert _snapshot() == before
    assert SecurityEvent.objects.count() == count + 1
    assert SecurityEvent.objects.order_by("-seq").first().event == "grant.denied"


def _grant_url(account):
    return reverse("security:grant_add", kwargs={"user_pk": account.pk})


def test_grant_outside_own_county_is_refused(sec):
    _refused(client_for(sec.sec), _grant_url(sec.filer),
             {"role": Role.INSTITUTION_FILER, "unit": f"institution:{sec.other_centre.pk}"},
             zh("This scope does not exist or is outside the counties whose accounts you run."))


def test_city_grant_by_a_county_admin_is_refused(sec):
    _refused(client_for(sec.sec), _grant_url(sec.filer), {"role": Role.VIEWER, "unit": f"region:{sec.yf.pk}"},
             zh("Only a superuser grants roles on a city or province."))


def test_platform_admin_by_a_county_admin_is_refused(sec):
    _refused(client_for(sec.sec), _grant_url(sec.filer), {"role": Role.PLATFORM_ADMIN, "unit": f"region:{sec.yn.pk}"},
             zh("The role %(role)s is granted on a city or province.", role=zh("Platform administrator")))


def test_granting_oneself_is_refused(sec):
    _refused(client_for(sec.sec), _grant_url(sec.sec), {"role": Role.BUREAU_ADMIN, "unit": f"region:{sec.yn.pk}"},
             zh("You cannot change your own grants; ask another administrator."))


def test_no_way_to_make_a_superuser(sec):
    client = client_for(sec.sec)
    _create(client, unit=f"institution:{sec.centre.pk}", is_superuser="on", is_staff="on")
    _post(client, "user_edit", sec.filer, {"full_name": "x", "is_superuser": "on", "is_staff": "on"})
    assert not User.objects.filter(is_superuser=True).exists()
    assert not User.objects.filter(is_staff=True).exists()


def test_revoking_the_last_security_grant_is_refused(sec, separate):
    held = sec.sec.grants.get(role=Role.SECURITY_ADMIN)
    url = reverse("security:grant_revoke", kwargs={"user_pk": sec.sec.pk, "grant_pk": held.pk})
    _refused(client_for(sec.platform), url, {}, zh(
        "This is the county's last account able to run its accounts; grant the role to someone else first."))


def test_deactivating_the_last_security_account_is_refused(sec, separate):
    _refused(client_for(sec.platform), reverse("security:user_deactivate", kwargs={"user_pk": sec.sec.pk}),
             {"reason": "离职"}, zh("This is the county's last account able to run its accounts; grant the role to "
                                   "someone else first."))


def test_separation_of_duties_auditor_holds_no_other_role(sec, separate):
    _refused(client_for(sec.sec), _grant_url(sec.auditor), {"role": Role.VIEWER, "unit": f"region:{sec.yn.pk}"},
             zh("Separation of duties (三员分立): an auditor holds no other role."))
    _refused(client_for(sec.sec), _grant_url(sec.filer), {"role": Role.AUDITOR, "unit": f"region:{sec.yn.pk}"},
             zh("Separation of duties (三员分立): an auditor holds no other role."))


def test_separation_of_duties_security_admin_holds_no_business_role(sec, separate):
    other = UserFactory(username="yn_sec2", county=sec.yn)
    grant(other, Role.SECURITY_ADMIN, sec.yn)
    _refused(client_for(sec.sec), _grant_url(other), {"role": Role.BUREAU_STAFF, "unit": f"region:{sec.yn.pk}"},
             zh("Separation of duties (三员分立): a security administrator holds no business role."))
    _refused(client_for(sec.sec), _grant_url(sec.bureau),
             {"role": Role.SECURITY_ADMIN, "unit": f"region:{sec.yn.pk}"},
             zh("Separation of duties (三员分立): a security administrator holds no business role."))


def test_bureau_admin_manages_users_only_without_separation_of_duties(sec, settings):
    settings.PORTAL_SEPARATE_DUTIES = True
    client = client_for(sec.bureau_admin)
    assert client.get(reverse("security:user_list")).status_code == 403
    assert _post(client, "grant_add", sec.bureau, {"role": Role.BUREAU_ADMIN,
                                                   "unit": f"region:{sec.yn.pk}"}).status_code == 404
    settings.PORTAL_SEPARATE_DUTIES = False
    client = client_for(User.objects.get(pk=sec.bureau_admin.pk))
    assert client.get(reverse("security:user_list")).status_code == 200
    assert _post(client, "grant_add", sec.bureau, {"role": Role.BUREAU_ADMIN,
                                                   "unit": f"region:{sec.yn.pk}"}).status_code == 302
    assert sec.bureau.grants.filter(role=Role.BUREAU_ADMIN, region=sec.yn).exists()


def test_only_the_countys_own_administrators_grant_bureau_admin_there(sec):
    data = {"role": Role.BUREAU_ADMIN, "unit": f"region:{sec.yn.pk}"}
    # Another county's security administrator does not even find the account.
    assert _post(client_for(sec.wy_sec), "grant_add", sec.bureau, data).status_code == 404
    # Nor can it make one of its own users 郁南县's bureau administrator.
    _refused(client_for(sec.wy_sec), _grant_url(sec.outsider), data,
             zh("This scope does not exist or is outside the counties whose accounts you run."))
    assert client_for(sec.supervisor).post(_grant_url(sec.bureau), data).status_code == 404
    assert _post(client_for(sec.sec), "grant_add", sec.bureau, data).status_code == 302
    assert sec.bureau.grants.filter(role=Role.BUREAU_ADMIN).exists()


def test_a_city_account_is_not_changed_by_a_county_admin(sec):
    client = client_for(sec.sec)
    # Only a grant on the city: not one of the county's accounts at all.
    assert _post(client, "user_reset_password", sec.city).status_code == 404
    # A grant in the county too: seen, not changed.
    grant(sec.city, Role.VIEWER, sec.yn)
    assert client.get(reverse("security:user_detail", kwargs={"user_pk": sec.city.pk})).status_code == 200
    for name in ("user_edit", "user_reset_password", "user_deactivate"):
        assert _post(client, name, sec.city, {"full_name": "x", "reason": "x"}).status_code == 403, name
    _refused(client, _grant_url(sec.city), {"role": Role.INSTITUTION_FILER, "unit": f"institution:{sec.centre.pk}"},
             zh("This account is outside the counties whose accounts you run."))
    sec.city.refresh_from_db()
    assert sec.city.is_active and sec.city.check_password(TEST_PASSWORD)


# New counties -----------------------------------------------------------------------------------------

def _county_data(**overrides):
    data = {"city": "", "code": "445323", "name": "云安区", "security_username": "ya_sec",
            "security_full_name": "云安安全员", "security_phone": "13800000001", "security_email": "",
            "bureau_username": "ya_admin", "bureau_full_name": "云安卫健局", "bureau_phone": "",
            "bureau_email": "ya@example.com"}
    data.update(overrides)
    return data


@pytest.mark.parametrize(("code", "message"), [
    ("4453", "A county code has six digits (GB/T 2260), e.g. 445322."),
    ("44532x", "A county code has six digits (GB/T 2260), e.g. 445322."),
    ("511799", "A county of %(city)s has a code beginning with %(prefix)s."),
    ("445300", "A code ending in 00 is the city itself, not a county."),
    ("445322", "The region code %(code)s is taken."),
])
def test_county_code_checks(sec, code, message):
    response = client_for(sec.platform).post(reverse("security:county_create"),
                                             _county_data(city=sec.yf.pk, code=code))
    assert response.status_code == 400
    assert zh(message, city="云浮市", prefix="4453", code=code) in body(response)
    assert not Region.objects.filter(name="云安区").exists() and not User.objects.filter(username="ya_sec").exists()


def test_county_create_gives_two_one_time_passwords_and_the_grants(sec):
    response = client_for(sec.platform).post(reverse("security:county_create"), _county_data(city=sec.yf.pk))
    assert response.status_code == 200, body(response)[:3000]
    county = Region.objects.get(code="445323")
    assert county.parent_id == sec.yf.pk and county.level == Region.Level.COUNTY
    accounts = response.context["accounts"]
    assert len(accounts) == 2
    for made in accounts:
        assert made.password in body(response) and made.user.check_password(made.password)
        assert made.user.must_change_password and made.user.county_id == county.pk
    assert set(Grant.objects.filter(region=county).values_list("user__username", "role")) == {
        ("ya_sec", Role.SECURITY_ADMIN), ("ya_admin", Role.BUREAU_ADMIN)}
    assert events("county.create").count() == 1


def test_county_create_names_each_bad_field_and_saves_nothing(sec):
    UserFactory(username="ya_sec")
    response = client_for(sec.platform).post(reverse("security:county_create"), _county_data(
        city=sec.yf.pk, bureau_username="YA_SEC", bureau_full_name=" ", security_phone="123"))
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) >= {"security_username", "bureau_full_name", "security_phone"}
    assert not Region.objects.filter(code="445323").exists()


def test_platform_admin_opens_counties_only_under_its_own_cities(sec):
    sichuan = UserFactory(username="sc_platform")
    grant(sichuan, Role.PLATFORM_ADMIN, sec.sc)
    client = client_for(sichuan)
    page = body(client.get(reverse("security:county_create")))
    assert "达州市" in page and "云浮市" not in page
    response = client.post(reverse("security:county_create"), _county_data(city=sec.yf.pk))
    assert response.status_code == 400 and "city" in response.context["form"].errors
    assert not Region.objects.filter(code="445323").exists()
    assert client_for(sec.sec).get(reverse("security:county_create")).status_code == 403


# Dormant accounts -------------------------------------------------------------------------------------

@pytest.fixture
def dormant(sec, settings):
    """郁南县 accounts last active at a known moment: ``w.idle`` (a viewer, signed in once), and the
    start of the clock ``w.t0`` (2026-01-05 09:00); every other account signed in at t0 too."""
    settings.ACCOUNT_DORMANT_DAYS = 180
    w = sec
    w.t0 = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
    User.objects.update(date_joined=w.t0 - timedelta(days=30), last_login=w.t0)
    w.idle = UserFactory(username="yn_idle", county=w.yn)
    grant(w.idle, Role.VIEWER, w.yn)
    User.objects.filter(pk=w.idle.pk).update(date_joined=w.t0 - timedelta(days=30), last_login=w.t0)
    return w


def test_dormant_179_days_stays_180_days_deactivated_once(dormant):
    w = dormant
    User.objects.exclude(pk=w.idle.pk).update(last_login=w.t0 + timedelta(days=100))
    result = dormant_deactivate(now=w.t0 + timedelta(days=179, hours=23))
    assert result.deactivated == [] and User.objects.get(pk=w.idle.pk).is_active
    with time_machine.travel(w.t0 + timedelta(days=180), tick=False):
        result = dormant_deactivate()
    idle = User.objects.get(pk=w.idle.pk)
    assert result.deactivated == ["yn_idle"] and not idle.is_active and idle.deactivated_at is not None
    logged = events("user.deactivate").get()
    assert logged.target_id == str(idle.pk) and logged.details["reason"] == "dormant" and logged.details["days"] == 180
    assert logged.county_id == w.yn.pk
    with time_machine.travel(w.t0 + timedelta(days=181), tick=False):
        again = dormant_deactivate()
    assert again.deactivated == [] and events("user.deactivate").count() == 1


def test_dormant_never_signed_in_counts_from_creation_and_reactivation(dormant):
    w = dormant
    fresh = UserFactory(username="yn_fresh", county=w.yn)
    grant(fresh, Role.VIEWER, w.yn)
    User.objects.filter(pk=fresh.pk).update(date_joined=w.t0 - timedelta(days=200), last_login=None,
                                            reactivated_at=w.t0)
    User.objects.exclude(pk__in=[w.idle.pk, fresh.pk]).update(last_login=w.t0 + timedelta(days=150))
    result = dormant_deactivate(now=w.t0 + timedelta(days=179))
    assert "yn_fresh" not in result.deactivated
    result = dormant_deactivate(now=w.t0 + timedelta(days=180))
    assert set(result.deactivated) == {"yn_fresh", "yn_idle"}


def test_dormant_keeps_superusers_and_the_last_account_running_a_county(dormant, settings):
    settings.PORTAL_SEPARATE_DUTIES = True
    w = dormant
    root = UserFactory(username="root", is_superuser=True)
    User.objects.filter(pk=root.pk).update(date_joined=w.t0 - timedelta(days=30), last_login=w.t0)
    # Everyone dormant: 郁南县's and 万源市's only security administrators are kept, and said so.
    result = dormant_deactivate(now=w.t0 + timedelta(days=200))
    assert set(result.skipped) == {"yn_sec", "wy_sec"}
    assert User.objects.get(pk=root.pk).is_active
    assert User.objects.get(pk=w.sec.pk).is_active and User.objects.get(pk=w.wy_sec.pk).is_active
    assert not User.objects.get(pk=w.idle.pk).is_active and not User.objects.get(pk=w.bureau_admin.pk).is_active
    assert not events("user.deactivate", target_id=str(w.sec.pk)).exists()
    assert events("user.deactivate").count() == len(result.deactivated)


def test_dormant_off_with_zero_days(dormant, settings):
    settings.ACCOUNT_DORMANT_DAYS = 0
    assert dormant_deactivate(now=dormant.t0 + timedelta(days=1000)).deactivated == []
    assert User.objects.filter(is_active=False).count() == 0


def test_dormant_job_runs_the_service(dormant):
    from security.jobs import deactivate_dormant

    with time_machine.travel(dormant.t0 + timedelta(days=365), tick=False):
        result = deactivate_dormant.apply().get()
    assert "yn_idle" in result["deactivated"]
    # Without separation of duties 郁南县's security and bureau administrators both run its accounts:
    # one of them is kept.
    assert len({"yn_sec", "yn_admin"} & set(result["skipped"])) == 1
    assert not User.objects.get(pk=dormant.idle.pk).is_active


def test_platform_admin_and_superuser_see_the_counties_below_them(sec):
    page = {a.username for a in client_for(sec.platform).get(reverse("security:user_list")).context["page"]}
    assert {"yn_sec", "yn_staff"} <= page and "wy_sec" not in page and "yf_city" not in page
    root = UserFactory(username="root", is_superuser=True)
    response = client_for(root).get(reverse("security:user_list") + "?q=_s")
    shown = {a.username for a in response.context["page"]}
    assert {"yn_sec", "wy_sec", "wy_staff"} <= shown
    # A superuser grants on a city.
    assert _post(client_for(root), "grant_add", sec.filer, {"role": Role.VIEWER,
                                                            "unit": f"region:{sec.yf.pk}"}).status_code == 302
    assert sec.filer.grants.filter(region=sec.yf).exists()
