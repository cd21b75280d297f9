"""The navigation bar of the signed-in user, from their scope; registered with ``core.navigation``
at start (``AlliancesConfig.ready``), which the ``portal_nav`` template tag asks."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Role
from alliances import scoping


def nav_context(user) -> dict:
    """What the navigation bar needs about the signed-in ``user``: role labels, the structure link,
    which menus they get (from the request's scope, read once)."""
    scope = scoping.scope_of(user)
    labels = dict(Role.choices)
    roles = [str(labels.get(role, role)) for role in sorted(scope.roles)]
    if user.is_superuser:
        roles.insert(0, _("Superuser"))
    # The structure link opens the user's county; users of several counties find them on the home page.
    structure_url = reverse("home")
    if not scope.everything and len(scope.view_counties) == 1:
        structure_url = reverse("alliances:region_detail", kwargs={"region_pk": next(iter(scope.view_counties))})
    elif not scope.everything and not scope.view_counties and len(scope.context_counties) == 1 and scope.view_alliances:
        structure_url = reverse("alliances:region_detail", kwargs={"region_pk": next(iter(scope.context_counties))})
    return {
        "roles": roles,
        "structure_url": structure_url,
        "read_only": scope.read_only,
        "no_access": scope.is_empty,
        # Users of one institution have no alliance or county structure to browse.
        "org_nav": bool(scope.everything or scope.view_counties or scope.view_alliances),
        # A member institution's own books (its sub-budget, execution and purchases).
        "member_books": bool(scope.view_institutions) and not (scope.everything or scope.view_counties
                                                              or scope.view_alliances),
        # Task ledgers: units report ("my tasks"); county-level users supervise; the bureau reviews.
        "tasks_mine": bool(scope.everything or scope.report_institutions or scope.report_alliances
                           or scope.change_counties),
        "tasks_dashboard": bool(scope.everything or scope.view_counties),
        "tasks_review": bool(scope.everything or scope.change_counties),
        # Filing: units file; the bureau and alliance offices review and follow completeness.
        "filings_mine": bool(scope.everything or scope.report_institutions or scope.report_alliances
                             or scope.change_counties),
        "filings_review": bool(scope.everything or scope.change_counties or scope.change_alliances),
        "filings_completeness": bool(scope.everything or scope.view_counties or scope.view_alliances),
        "indicators": not scope.is_empty,
        # Staffing: everyone sees the staff of what they see; the targets are county figures.
        "staffing": not scope.is_empty,
        "staffing_targets": bool(scope.everything or scope.view_counties or scope.context_counties),
        # Scheduled reports: the archive for county and alliance users; everyone has an inbox.
        "reports_archive": bool(scope.everything or scope.view_counties or scope.view_alliances),
        # The definitions of the user's county (forms, elements, indicators, rules).
        "definitions_url": _definitions_url(scope),
        # The security side: user management, new counties, the security log.
        "accounts_admin": scope.runs_accounts,
        "new_county": bool(scope.everything or scope.platform_regions),
        "security_log": scope.audits,
    }


def _definitions_url(scope) -> str | None:
    counties = scope.view_counties or scope.context_counties
    if scope.everything or len(counties) != 1:
        return None
    return reverse("indicators:report_form_list", kwargs={"region_pk": next(iter(counties))})
