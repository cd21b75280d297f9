"""Figures as people read them: no trailing zeros, thousands grouped."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def figure(value, grouped: bool = True) -> str:
    """12500.5000 → "12,500.5"; None → "" (the template decides the placeholder)."""
    if value is None or value == "":
        return ""
    if not isinstance(value, Decimal):
        try:
            value = Decimal(str(value))
        except Exception:  # noqa: BLE001 - show what we were given
            return str(value)
    text = format(value.normalize() if value == value.to_integral() else value.normalize(), ",f" if grouped else "f")
    return text
