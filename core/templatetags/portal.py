"""Template helpers of the portal: Bootstrap form fields, the navigation context, small filters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms, template
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Role
from alliances import scoping

register = template.Library()


def _widget_class(widget: forms.Widget) -> str:
    if isinstance(widget, forms.CheckboxInput):
        return "form-check-input"
    if isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
        return "form-check-input"
    if isinstance(widget, forms.Select | forms.SelectMultiple):
        return "form-select"
    return "form-control"


@register.inclusion_tag("includes/field.html")
def bs_field(field, size: str = ""):
    """One form field as a Bootstrap form group: label, widget, help text and its errors next to it."""
    widget = field.field.widget
    css = _widget_class(widget)
    if size and css in ("form-control", "form-select"):
        css += f" {css}-{size}"
    if field.errors:
        css += " is-invalid"
    existing = widget.attrs.get("class", "")
    attrs = {"class": f"{existing} {css}".strip()}
    if field.errors:
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{field.auto_id}_errors"
    return {
        "field": field,
        "widget_html": field.as_widget(attrs=attrs),
        "is_checkbox": isinstance(widget, forms.CheckboxInput),
        "is_choice_list": isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple),
        "size": size,
    }


@register.simple_tag(takes_context=True)
def portal_nav(context):
    """What the navigation bar needs about the signed-in user: role labels and the structure link."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
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


@register.filter
def minutes(value) -> int:
    """A timedelta as whole minutes (for the lockout page)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds() // 60)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def money(value) -> str:
    """An amount in yuan as Chinese finance tables write it: 1,200,000.00 ("—" when empty)."""
    if value is None or value == "":
        return "—"
    try:
        return f"{Decimal(value):,.2f}"
    except (ArithmeticError, ValueError, TypeError):
        return str(value)
