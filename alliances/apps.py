from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlliancesConfig(AppConfig):
    """Regions, institutions, alliances, effective-dated membership and who sees what."""

    name = "alliances"
    verbose_name = _("Organisation")
