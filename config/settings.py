"""Settings of the portal, read from the environment.

With no environment at all the portal runs as the embedded default: SQLite in
``var/``, an embedded Celery broker on the file system, a development secret
generated on first run. ``DATABASE_URL`` and ``REDIS_URL`` switch it to
PostgreSQL and Redis; ``DJANGO_ENV=production`` turns on the production rules
(secret from the environment, secure cookies, HTTPS, no debug).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import (
    development_secret_key,
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_redis_url,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR") or BASE_DIR / "var")

DJANGO_ENV = env_choice("DJANGO_ENV", "development", ("development", "production"))
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when DJANGO_ENV=production")

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_ENV=production")
    SECRET_KEY = development_secret_key(VAR_DIR / "secret_key")
elif len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters long")

# Staff identity numbers are encrypted with this key (Fernet); derived from SECRET_KEY when unset. Keep
# it apart from SECRET_KEY in production, so rotating one does not make the roster unreadable.
STAFF_IDENTITY_KEY = env_str("STAFF_IDENTITY_KEY") or ""

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required when DJANGO_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "core",
    "accounts",
    "alliances",
    "tasks",
    "indicators",
    "finance",
    "staffing",
    "security",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle timeout and absolute session limit, then the forced password change and the required
    # two-factor enrolment: until they are done the user reaches nothing else.
    "accounts.middleware.SessionSecurityMiddleware",
    "accounts.middleware.PasswordChangeRequiredMiddleware",
    "accounts.middleware.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # AxesMiddleware turns a locked-out login into the lockout page; it must come last.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp): the portal's own, vendored files only. No inline script, no
# on*="" handler, no javascript: URL, no eval (HTMX's allowEval is off in base.html), no inline
# <style> or style="" in the markup (ECharts and Bootstrap set styles from script, which CSP allows).
# Page behaviour lives in static/js (data- attributes), chart data in json_script blocks. The API
# docs pages (Swagger UI, Redoc) loosen style-src for themselves only (config/api_urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Flash messages in the cookie (then the session), bounded: unread duplicates are not stacked.
MESSAGE_STORAGE = "core.messages.BoundedFallbackStorage"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "core.context_processors.portal",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file-backed test database lets a Celery worker process share it with the tests.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    # WAL lets readers go on while one writes; IMMEDIATE takes the write lock when a transaction
    # begins, so two writers queue (busy timeout) instead of one failing with "database is locked"
    # when it upgrades a read transaction. (Every request is a transaction: ATOMIC_REQUESTS.)
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
    VAR_DIR.mkdir(parents=True, exist_ok=True)
else:
    # Server-side parameter binding: psycopg then prepares a statement it has run a few times on a
    # connection (prepare_threshold) and PostgreSQL stops parsing and planning it again on every
    # request; with kept connections (CONN_MAX_AGE) a grid save's reads and writes are all prepared.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "server_side_binding": env_bool("DATABASE_SERVER_SIDE_BINDING", True),
    })

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Password policy (等保 身份鉴别): each rule says in Chinese what it wants (accounts/passwords.py).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "accounts.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "accounts.passwords.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "accounts.passwords.UsernameNotContainedValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.passwords.PasswordHistoryValidator", "OPTIONS": {"remember": 5}},
]
# Argon2id first, with OWASP's parameters (accounts/hashers.py): memory-hard (dear to crack on GPUs)
# at a fraction of the CPU of a PBKDF2 check per sign-in (manage.py bench_signin); older hashes, and
# Argon2 hashes of other parameters, are upgraded at the next sign-in.
PASSWORD_HASHERS = [
    "accounts.hashers.PortalArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# A password older than this must be changed before anything else (0 = never).
PASSWORD_MAX_AGE_DAYS = env_int("PASSWORD_MAX_AGE_DAYS", 90, minimum=0)
# Sessions end after this many minutes without a request, and in any case after the absolute limit.
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30, minimum=0)
SESSION_ABSOLUTE_HOURS = env_int("SESSION_ABSOLUTE_HOURS", 12, minimum=1)
# The cookie outlives the absolute limit by an hour, so the limit is what ends a session (and says so).
SESSION_COOKIE_AGE = (SESSION_ABSOLUTE_HOURS + 1) * 3600
# Accounts without a sign-in for this many days are deactivated by the nightly job (0 = never).
ACCOUNT_DORMANT_DAYS = env_int("ACCOUNT_DORMANT_DAYS", 180, minimum=0)
# Two-factor sign-in (TOTP) required of bureau_admin, security_admin, hr_officer and superusers.
PORTAL_REQUIRE_2FA = env_bool("PORTAL_REQUIRE_2FA", PRODUCTION)
# 三员分立: only security administrators run accounts, and the auditor holds no other role.
PORTAL_SEPARATE_DUTIES = env_bool("PORTAL_SEPARATE_DUTIES", PRODUCTION)
# Reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated).
PORTAL_TRUSTED_PROXIES = env_list("PORTAL_TRUSTED_PROXIES", [])
try:
    import ipaddress as _ipaddress

    for _proxy in PORTAL_TRUSTED_PROXIES:
        _ipaddress.ip_network(_proxy, strict=False)
except ValueError as _error:
    raise ImproperlyConfigured(f"PORTAL_TRUSTED_PROXIES: {_error}") from None
# The security log's rows are chained with an HMAC of this key (derived from SECRET_KEY when unset). Keep it
# apart from the database and its backups; changing it makes the rows written before fail audit_verify.
AUDIT_CHAIN_KEY = env_str("AUDIT_CHAIN_KEY") or ""
# The security log is kept this long; never less than 180 days (网络安全法 第二十一条).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=180)
# Tokens from /api/token/ (a script signing in) expire; named tokens made on the page do not.
API_SIGN_IN_TOKEN_HOURS = env_int("API_SIGN_IN_TOKEN_HOURS", 12, minimum=1)
OTP_TOTP_ISSUER = "医共体治理门户"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login lockout (django-axes): after AXES_FAILURE_LIMIT failures for one user
# name from one address, further attempts are refused for AXES_COOLOFF_TIME.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The lockout answer: the lockout page, or JSON for the API (429 either way).
AXES_LOCKOUT_CALLABLE = "security.views.login.lockout_response"
AXES_RESET_ON_SUCCESS = True
# An attempt while locked out is refused and logged (a failed sign-in with "locked_out"), but neither
# counted nor extending the lock: the lockout lasts AXES_COOLOFF_TIME from the failure that reached
# the limit, and that moment alone is an auth.lockout event (accounts/signals.py).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False
# The client's address as the security log reads it (PORTAL_TRUSTED_PROXIES).
AXES_CLIENT_IP_CALLABLE = "core.audit.client_ip"
AXES_USERNAME_FORM_FIELD = "username"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env_str("PORTAL_MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"  # never routed: stored files leave only through scoped views (core.files)
# How a scoped view hands a stored file over: Django streams it, or the web server sends it after
# Django has checked access (nginx X-Accel-Redirect to an internal location; Apache/lighttpd X-Sendfile).
PORTAL_FILE_SERVING = env_choice("PORTAL_FILE_SERVING", "stream", ("stream", "x-accel-redirect", "x-sendfile"))
PORTAL_FILE_INTERNAL_PREFIX = env_str("PORTAL_FILE_INTERNAL_PREFIX") or "/protected-media/"
if not (PORTAL_FILE_INTERNAL_PREFIX.startswith("/") and PORTAL_FILE_INTERNAL_PREFIX.endswith("/")):
    raise ImproperlyConfigured(
        f"PORTAL_FILE_INTERNAL_PREFIX={PORTAL_FILE_INTERNAL_PREFIX!r} must begin and end with '/'")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so that a request without credentials gets 401 with a challenge.
        "accounts.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The browsable API allows inline styles on its own pages (core/renderers.py: the CSP).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "core.renderers.BrowsableAPIRenderer"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "医共体治理门户 API",
    "DESCRIPTION": "Regions, alliances, institutions and memberships; task ledgers with their items, "
                   "assignments, progress reports (with evidence) and supervision orders; scheduled reports with their "
                   "versions, deliveries and sign-off. Everything is scoped "
                   "to the signed-in user.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
}

# Celery. Job modules are named jobs.py (see config/celery.py).
REDIS_URL = env_redis_url("REDIS_URL")
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # Embedded broker: messages are files under var/broker, so no server is needed.
    BROKER_DIR = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
# Backups (core/backup/, manage.py backup / restore): archives go to BACKUP_DIR; the nightly job runs
# at BACKUP_HOUR:BACKUP_MINUTE (Asia/Shanghai) and keeps the newest BACKUP_KEEP archives. With
# BACKUP_PASSPHRASE the keys go into the archive, encrypted. BACKUP_QUEUE sends the job to a worker of
# its own (docker-compose.yml: the backup service, which has pg_dump and the backup volume).
BACKUP_DIR = Path(env_str("BACKUP_DIR") or VAR_DIR / "backups")
BACKUP_KEEP = env_int("BACKUP_KEEP", 14, minimum=1)
BACKUP_HOUR = env_int("BACKUP_HOUR", 2, minimum=0)
BACKUP_MINUTE = env_int("BACKUP_MINUTE", 30, minimum=0)
if BACKUP_HOUR > 23 or BACKUP_MINUTE > 59:
    raise ImproperlyConfigured(f"BACKUP_HOUR={BACKUP_HOUR}, BACKUP_MINUTE={BACKUP_MINUTE}: not a time of day "
                               "(hour 0–23, minute 0–59)")
BACKUP_PASSPHRASE = env_str("BACKUP_PASSPHRASE") or ""
if BACKUP_PASSPHRASE and len(BACKUP_PASSPHRASE) < 12:
    raise ImproperlyConfigured("BACKUP_PASSPHRASE must have at least 12 characters")
BACKUP_QUEUE = env_str("BACKUP_QUEUE") or ""
if BACKUP_QUEUE:
    CELERY_TASK_ROUTES = {"core.jobs.nightly_backup": {"queue": BACKUP_QUEUE}}
# The sweep of scheduled reports runs every five minutes; a number of seconds here instead (tests).
REPORTS_SWEEP_SECONDS = env_int("REPORTS_SWEEP_SECONDS", 0, minimum=0)
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "core.jobs.heartbeat", "schedule": timedelta(minutes=1)},
    # Task reminders: one digest a day per person, at 07:30 in CELERY_TIMEZONE (Asia/Shanghai).
    "tasks-daily-digest": {"task": "tasks.jobs.daily_digest", "schedule": crontab(hour=7, minute=30)},
    # Task roll-ups of cities and provinces: recounted as of the new day, differences logged and repaired.
    "tasks-verify-rollups": {"task": "tasks.jobs.verify_rollups", "schedule": crontab(hour=0, minute=5)},
    # Approved filings past their form's lock day become locked, just after midnight.
    "indicators-lock-filings": {"task": "indicators.jobs.lock_filings", "schedule": crontab(hour=0, minute=10)},
    # Scheduled reports: every few minutes make and send whatever is due and not yet sent (the
    # 进度监测表 on the 5th at 08:00, the 季度评价指标表 after sign-off, reminders, late lists).
    # Staffing: last month's figures from the roster into the 人员配置月报, nightly until they are due.
    # Indicator-backed task items judged against the last complete period, nightly for every county
    # (after a filing's review they are judged at once).
    "reports-judge-targets": {"task": "reports.jobs.judge_targets", "schedule": crontab(hour=0, minute=30)},
    "staffing-snapshot": {"task": "staffing.jobs.snapshot", "schedule": crontab(hour=1, minute=20)},
    "staffing-contract-reminders": {"task": "staffing.jobs.contract_reminders",
                                    "schedule": crontab(hour=7, minute=40)},
    # Security: accounts without a sign-in for ACCOUNT_DORMANT_DAYS are deactivated; the security log
    # older than AUDIT_RETENTION_DAYS is purged.
    "security-dormant-accounts": {"task": "security.jobs.deactivate_dormant", "schedule": crontab(hour=2, minute=10)},
    "core-audit-purge": {"task": "core.jobs.audit_purge", "schedule": crontab(hour=2, minute=40)},
    # The nightly backup (core/backup/): one archive a day at BACKUP_HOUR:BACKUP_MINUTE.
    "core-backup": {"task": "core.jobs.nightly_backup", "schedule": crontab(hour=BACKUP_HOUR, minute=BACKUP_MINUTE)},
    "reports-sweep": {"task": "reports.jobs.sweep",
                      "schedule": timedelta(seconds=REPORTS_SWEEP_SECONDS) if REPORTS_SWEEP_SECONDS
                      else crontab(minute="*/5")},
    # Alerts (预警): every county's rules judged nightly (and after each review), new alerts sent.
    "reports-evaluate-alerts": {"task": "reports.jobs.evaluate_alerts", "schedule": crontab(hour=1, minute=40)},
}
# How far back the sweep makes reports missed while the scheduler was down.
REPORTS_CATCH_UP_DAYS = env_int("REPORTS_CATCH_UP_DAYS", 40, minimum=1)
# Links in e-mails point here.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL") or "http://127.0.0.1:8000"

# SMTP in production (EMAIL_HOST, EMAIL_PORT, … from the environment); otherwise each message is
# written as a file under var/mail, where a clerk can open it.
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
EMAIL_HOST = env_str("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "portal@localhost"

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))},
}
