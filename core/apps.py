from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Cross-cutting pieces: periods, the worker heartbeat, the embedded runner."""

    name = "core"
    verbose_name = _("Core")
