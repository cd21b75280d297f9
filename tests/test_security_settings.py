"""The security settings: read strictly from the environment, with go-live defaults in production
(two-factor sign-in and 三员分立 on) and the development defaults of the demo (both off)."""

from __future__ import annotations

import json

import pytest

from tests.test_settings import SETUP, production_env, run_python

SHOW = SETUP + ("; from django.conf import settings as s; import json; print(json.dumps({k: getattr(s, k) for k in "
                "('PORTAL_REQUIRE_2FA', 'PORTAL_SEPARATE_DUTIES', 'PASSWORD_MAX_AGE_DAYS', 'SESSION_IDLE_MINUTES', "
                "'SESSION_ABSOLUTE_HOURS', 'SESSION_COOKIE_AGE', 'ACCOUNT_DORMANT_DAYS', 'AUDIT_RETENTION_DAYS', "
                "'PORTAL_TRUSTED_PROXIES')}))")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PORTAL_TRUSTED_PROXIES": "10.0.0.1,not-an-address"}, "PORTAL_TRUSTED_PROXIES"),
        ({"AUDIT_RETENTION_DAYS": "90"}, "AUDIT_RETENTION_DAYS"),
        ({"SESSION_IDLE_MINUTES": "half an hour"}, "SESSION_IDLE_MINUTES"),
        ({"PASSWORD_MAX_AGE_DAYS": "-1"}, "PASSWORD_MAX_AGE_DAYS"),
        ({"PORTAL_REQUIRE_2FA": "perhaps"}, "PORTAL_REQUIRE_2FA"),
    ],
    ids=["proxy-not-an-address", "retention-below-legal-minimum", "idle-not-integer", "age-negative",
         "2fa-not-boolean"],
)
def test_bad_security_settings_stop_start_up(env, named, tmp_path):
    result = run_python(SETUP, env, tmp_path)
    assert result.returncode != 0, f"start-up succeeded with {env}"
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr


def test_go_live_defaults_in_production_and_demo_defaults_in_development(tmp_path):
    development = run_python(SHOW, {}, tmp_path)
    production = run_python(SHOW, production_env(PORTAL_TRUSTED_PROXIES="10.0.0.0/8, 192.168.1.5"), tmp_path)
    assert development.returncode == 0 and production.returncode == 0, development.stderr + production.stderr
    dev, prod = json.loads(development.stdout), json.loads(production.stdout)
    assert dev["PORTAL_REQUIRE_2FA"] is False and dev["PORTAL_SEPARATE_DUTIES"] is False
    assert prod["PORTAL_REQUIRE_2FA"] is True and prod["PORTAL_SEPARATE_DUTIES"] is True
    for values in (dev, prod):
        assert values["PASSWORD_MAX_AGE_DAYS"] == 90 and values["SESSION_IDLE_MINUTES"] == 30
        assert values["SESSION_ABSOLUTE_HOURS"] == 12 and values["SESSION_COOKIE_AGE"] == 13 * 3600
        assert values["ACCOUNT_DORMANT_DAYS"] == 180 and values["AUDIT_RETENTION_DAYS"] == 365
    assert prod["PORTAL_TRUSTED_PROXIES"] == ["10.0.0.0/8", "192.168.1.5"]
