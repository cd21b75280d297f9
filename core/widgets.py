"""Form widgets shared by the apps."""

from __future__ import annotations

from django import forms
from django.utils.html import format_html, format_html_join


class QuickSelect(forms.Select):
    """A single ``<select>`` whose options are written in Python instead of through one template
    each: the HTML of ``forms.Select`` (without option groups), for long lists such as a province's
    ledgers and alliances in a filter bar, where the templates cost more than the page's queries."""

    def render(self, name, value, attrs=None, renderer=None):
        final = {"name": name, **self.build_attrs(self.attrs, attrs)}
        # In the order given, as the template writes them (flatatt would sort them).
        html_attrs = format_html_join("", "{}", (
            (format_html(" {}", key) if val is True else format_html(' {}="{}"', key, val),)
            for key, val in final.items() if val is not False and val is not None))
        selected = set(self.format_value(value))
        options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (str(option_value), " selected" if str(option_value) in selected else "", label)
            for option_value, label in self.choices))
        return format_html("<select{}>{}</select>", html_attrs, options)
