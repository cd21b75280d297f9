"""Settings are read strictly from the environment and fail fast on bad values.

Each start-up case runs in a fresh interpreter, because settings are read once at import.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import TEST_PASSWORD, UserFactory

BASE_DIR = Path(__file__).resolve().parent.parent

# Everything the settings read, so the outer environment (a developer's DATABASE_URL,
# CI's REDIS_URL) never leaks into a start-up case.
SETTINGS_ENV_PREFIXES = ("DJANGO_", "DATABASE_", "REDIS_", "AXES_", "PORTAL_", "CELERY_", "LOG_LEVEL", "EMAIL_",
                          "PASSWORD_", "SESSION_", "ACCOUNT_", "AUDIT_", "API_SIGN_IN_", "BACKUP_")


def good_secret() -> str:
    return secrets.token_urlsafe(64)


def production_env(**extra: str) -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": good_secret(),
        "DJANGO_ALLOWED_HOSTS": "portal.example.org",
        **extra,
    }


def run_python(code: str, env: dict[str, str], var_dir: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_ENV_PREFIXES)}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", "PORTAL_VAR_DIR": str(var_dir), **env})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


SETUP = "import django; django.setup()"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"DJANGO_ENV": "production"}, "DJANGO_SECRET_KEY"),
        (production_env(DJANGO_DEBUG="1"), "DJANGO_DEBUG"),
        ({"AXES_FAILURE_LIMIT": "abc"}, "AXES_FAILURE_LIMIT"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV"),
        (production_env(DJANGO_SECRET_KEY="too-short"), "DJANGO_SECRET_KEY"),
        (production_env(DJANGO_ALLOWED_HOSTS=""), "DJANGO_ALLOWED_HOSTS"),
    ],
    ids=[
        "debug-not-boolean",
        "database-not-supported",
        "redis-not-redis",
        "production-without-secret",
        "production-with-debug",
        "axes-limit-not-integer",
        "unknown-env",
        "short-secret",
        "production-without-hosts",
    ],
)
def test_bad_environment_stops_start_up_naming_the_variable(env, named, tmp_path):
    result = run_python(SETUP, env, tmp_path)
    assert result.returncode != 0, f"start-up succeeded with {env}"
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


def test_good_environments_start(tmp_path):
    """The cases above fail for their own reason, not because start-up is broken anyway."""
    for env in ({}, production_env(), {"REDIS_URL": "redis://127.0.0.1:6379/9"}):
        result = run_python(SETUP, env, tmp_path)
        assert result.returncode == 0, result.stderr


def test_production_settings_pass_deploy_checks(tmp_path):
    code = (
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
    )
    result = run_python(code, production_env(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_secret_is_generated_once_and_reused(tmp_path):
    code = SETUP + "; from django.conf import settings; print(settings.SECRET_KEY)"
    first = run_python(code, {}, tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "secret_key"
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 50
    assert first.stdout.strip() == key

    second = run_python(code, {}, tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == key


CELERY_CONF = SETUP + """
import json
from config.celery import app
app.loader.import_default_modules()
conf = app.conf
print(json.dumps({
    "timezone": str(conf.timezone),
    "enable_utc": conf.enable_utc,
    "acks_late": conf.task_acks_late,
    "reject_on_worker_lost": conf.task_reject_on_worker_lost,
    "prefetch": conf.worker_prefetch_multiplier,
    "broker_url": conf.broker_url,
    "transport_options": conf.broker_transport_options,
    "beat": {name: entry["task"] for name, entry in conf.beat_schedule.items()},
    "registered": sorted(name for name in app.tasks if not name.startswith("celery.")),
}))
"""


def celery_conf(env: dict[str, str], var_dir: Path) -> dict:
    result = run_python(CELERY_CONF, env, var_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_celery_app_picks_up_our_settings_with_redis(tmp_path):
    conf = celery_conf({"REDIS_URL": "redis://127.0.0.1:6379/9"}, tmp_path)
    assert conf["timezone"] == "Asia/Shanghai"
    assert conf["enable_utc"] is True
    assert conf["acks_late"] is True
    assert conf["reject_on_worker_lost"] is True
    assert conf["prefetch"] == 1
    assert conf["broker_url"] == "redis://127.0.0.1:6379/9"
    assert "core.jobs.heartbeat" in conf["beat"].values()
    assert "core.jobs.heartbeat" in conf["registered"]


def test_celery_app_uses_embedded_broker_without_redis(tmp_path):
    conf = celery_conf({}, tmp_path)
    assert conf["broker_url"] == "filesystem://"
    queue = Path(conf["transport_options"]["data_folder_in"])
    assert queue.is_relative_to(tmp_path)
    assert queue.is_dir()
    assert conf["timezone"] == "Asia/Shanghai"


def test_celery_app_in_this_process_matches_settings():
    from config.celery import app

    assert app.conf.timezone == settings.TIME_ZONE == "Asia/Shanghai"
    assert app.conf.task_acks_late is True
    assert app.conf.broker_url == (settings.REDIS_URL or "filesystem://")
    assert any(entry["task"] == "core.jobs.heartbeat" for entry in app.conf.beat_schedule.values())


# Login lockout (django-axes) ----------------------------------------------------------------


@pytest.mark.django_db
def test_login_is_locked_after_five_wrong_passwords(client):
    UserFactory(username="locked_user")
    url = reverse("login")
    address = {"REMOTE_ADDR": "10.1.2.3"}
    assert settings.AXES_FAILURE_LIMIT == 5

    for _ in range(5):
        response = client.post(url, {"username": "locked_user", "password": "wrong-password"}, **address)
        assert "_auth_user_id" not in client.session
        assert response.status_code in (200, 429)

    response = client.post(url, {"username": "locked_user", "password": TEST_PASSWORD}, **address)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert "registration/lockout.html" in [t.name for t in response.templates]


@pytest.mark.django_db
def test_lockout_is_per_user_and_address(client):
    UserFactory(username="locked_user")
    UserFactory(username="other_user")
    url = reverse("login")
    for _ in range(5):
        client.post(url, {"username": "locked_user", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")

    # The same user from another address, and another user from the same address, may log in.
    response = client.post(url, {"username": "locked_user", "password": TEST_PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 302
    client.logout()
    response = client.post(url, {"username": "other_user", "password": TEST_PASSWORD}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
