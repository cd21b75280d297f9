"""The Celery app. Job modules are named ``jobs.py`` so the domain app
``tasks/`` never holds a confusing ``tasks/tasks.py``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="jobs")
