from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlliancesConfig(AppConfig):
    """Regions, institutions, alliances, effective-dated membership and who sees what."""

    name = "alliances"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from accounts.middleware import register_roles_source
        from alliances import navigation, scoping
        from alliances.imports.registers import InstitutionRegister, MembershipRegister
        from alliances.models import Region
        from core import audit, demo
        from core import navigation as core_navigation
        from core.imports import registry

        # The institution and membership registers of the import API (POST /api/imports/).
        registry.add(InstitutionRegister())
        registry.add(MembershipRegister())
        # Two-factor sign-in asks the roles of the request's scope (its grants are read once).
        register_roles_source(lambda user: scoping.scope_of(user).roles)
        # The navigation bar's menus follow the user's scope.
        core_navigation.register(navigation.nav_context)

        # The demo: the organisation first, everything else is loaded into it; and the demo logins.
        from alliances.demo import DEMO_PASSWORD, demo_logins

        demo.register(demo.DemoPart(name="organisation", loader="alliances.demo.load_demo_part"))
        demo.register_logins(demo.DemoLogins(password=DEMO_PASSWORD, rows=demo_logins))

        # A county as the target of a security event belongs to itself (a city or province: to none).
        audit.register_county(Region, lambda region: region.pk if region.level == Region.Level.COUNTY else None)
