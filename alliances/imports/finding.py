"""Finding a county's institution by what a clerk writes for it: the full name (郁南县人民医院), the
short name (县人民医院), the name with the county written as 县 or left out, or the unified social
credit code. A name that two institutions could have is never guessed between."""

from __future__ import annotations

from collections.abc import Iterable

from alliances.imports.cells import _key
from alliances.models import Institution

AMBIGUOUS = object()  # the text names more than one institution


class InstitutionNames:
    def __init__(self, institutions: Iterable[Institution], county_name: str):
        county = _key(county_name)
        self.exact: dict[str, Institution] = {}
        found: dict[str, dict[int, Institution]] = {}
        for institution in institutions:
            name = _key(institution.name)
            self.exact[name] = institution
            keys = {name, _key(institution.short_name), _key(institution.credit_code).upper()}
            if county and name.startswith(county) and len(name) > len(county):
                keys |= {"县" + name[len(county):], name[len(county):]}
            for key in keys - {""}:
                found.setdefault(key, {})[institution.pk] = institution
        self.others = found

    def find(self, text: str):
        """The institution ``text`` names, ``AMBIGUOUS``, or None."""
        key = _key(text)
        if not key:
            return None
        if key in self.exact:
            return self.exact[key]
        matches = self.others.get(key) or self.others.get(key.upper()) or {}
        if len(matches) > 1:
            return AMBIGUOUS
        return next(iter(matches.values()), None)
