from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    """Task ledgers (台账), assignments, progress and supervision — built in a later issue."""

    name = "tasks"
    verbose_name = _("Task ledgers")
