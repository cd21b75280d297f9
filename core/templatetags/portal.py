"""Template helpers of the portal: Bootstrap form fields, the navigation context, small filters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms, template

from core import navigation

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
    """What the navigation bar needs about the signed-in user (``core.navigation``)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return navigation.context_for(user)


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
