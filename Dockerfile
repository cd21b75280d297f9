# Production image of the portal: gunicorn for the web, the same image runs the
# Celery worker, beat and the backup worker (see docker-compose.yml).
# Debian bookworm: its postgresql-client (pg_dump, pg_restore) is 15, the major version of the
# postgres:15 service; a newer client's dumps may not restore into the older server.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
# ([tool.setuptools] packages = [] : installing the project installs its dependencies only.)
COPY pyproject.toml ./
RUN pip install .

COPY . .

# Translations (.mo) and static files are built into the image. Settings need a secret and
# hosts to load in production mode; these build-time values (and the scratch var/ they
# create) are not kept in the image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && export PORTAL_VAR_DIR=/tmp/build-var \
    && python manage.py compilemessages --ignore=.venv --ignore=var --ignore=staticfiles \
    && DJANGO_ENV=production \
       DJANGO_SECRET_KEY=build-time-only-not-a-secret-build-time-only-not-a-secret-0123456789 \
       DJANGO_ALLOWED_HOSTS=localhost \
       python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var \
    && apt-get purge -y --auto-remove gettext \
    && rm -rf /var/lib/apt/lists/*

# pg_dump and pg_restore for manage.py backup / restore (the backup service).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

# Run as an unprivileged user; var/ (beat schedule, media, backups) is the only writable place.
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --no-create-home portal \
    && mkdir -p /app/var/media /app/var/backups \
    && chown -R portal:portal /app/var

USER portal

ENV DJANGO_ENV=production \
    PORTAL_VAR_DIR=/app/var

EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--no-control-socket"]
