"""Checks run on a filing's values: rules over its elements (left operator right), each element's
minimum and maximum, and an outlier check against the filer's own history.

Errors block submission; warnings need a comment. Reads: the rules (one query) and, for outlier
checks, the filer's history of the form's elements (one query) — whatever the number of values.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from indicators.formula import FormulaError, check
from indicators.models import DataElement, DataValue, Filing, ValidationRule

OPERATORS = {
    "le": lambda a, b: a <= b, "lt": lambda a, b: a < b, "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b, "ge": lambda a, b: a >= b, "gt": lambda a, b: a > b,
}
# How many earlier values of the same element an outlier check looks at, and how many it needs.
HISTORY = 24
MIN_HISTORY = 6


@dataclass
class Finding:
    code: str
    message: str
    severity: str  # "error" or "warning"
    element_codes: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == ValidationRule.Severity.ERROR


def rules_for(filing: Filing):
    return ValidationRule.objects.filter(is_active=True).filter(Q(county=None) | Q(county_id=filing.county_id))


def run_checks(filing: Filing, values: dict[str, Decimal | None], elements: dict[str, DataElement],
               *, with_history: bool = True, rules=None) -> list[Finding]:
    """Findings for ``values`` ({code: value}) of ``filing``; ``elements`` are the form's rows.
    ``rules``: the rules already read (checking many filings of one county with one query)."""
    findings: list[Finding] = []
    for element in elements.values():
        value = values.get(element.code)
        if value is None:
            continue
        if element.min_value is not None and value < element.min_value:
            findings.append(Finding(f"MIN_{element.code}", _("%(name)s is below the minimum %(min)s.")
                                    % {"name": element.name, "min": element.min_value}, "error", (element.code,)))
        if element.max_value is not None and value > element.max_value:
            findings.append(Finding(f"MAX_{element.code}", _("%(name)s is above the maximum %(max)s.")
                                    % {"name": element.name, "max": element.max_value}, "error", (element.code,)))
        if value < 0:
            findings.append(Finding(f"NEG_{element.code}", _("%(name)s cannot be negative.") % {"name": element.name},
                                    "error", (element.code,)))
    for rule in (rules_for(filing) if rules is None else rules):
        try:
            left = check(rule.left, elements, plain=True)
            right = check(rule.right, elements, plain=True)
        except FormulaError:
            continue  # the rule is about elements this form does not carry
        codes = tuple(dict.fromkeys(left.codes + right.codes))
        if any(values.get(code) is None for code in codes):
            continue
        a = left.evaluate(lambda ref: values.get(ref.code))
        b = right.evaluate(lambda ref: values.get(ref.code))
        if a is None or b is None:
            continue
        if not OPERATORS[rule.operator](a, b):
            findings.append(Finding(rule.code, rule.message, rule.severity, codes))
    if with_history:
        findings.extend(_outliers(filing, values, elements))
    return findings


def _outliers(filing: Filing, values: dict[str, Decimal | None], elements: dict[str, DataElement]) -> list[Finding]:
    checked = {code: e for code, e in elements.items()
               if e.outlier != DataElement.Outlier.NONE and values.get(code) is not None}
    if not checked:
        return []
    history: dict[int, list[Decimal]] = defaultdict(list)
    rows = (
        DataValue.objects.filter(element_id__in=[e.pk for e in checked.values()], period_start__lt=filing.period_start,
                                 value__isnull=False, counted=True)
        .filter(Q(institution_id=filing.institution_id) if filing.institution_id
                else Q(institution__isnull=True, county_id=filing.county_id))
        .order_by("element_id", "-period_start")
        .values_list("element_id", "value")
    )
    for element_id, value in rows:
        if len(history[element_id]) < HISTORY:
            history[element_id].append(value)
    findings = []
    for code, element in checked.items():
        past = history.get(element.pk, [])
        if len(past) < MIN_HISTORY:
            continue
        value = values[code]
        threshold = element.outlier_threshold
        if element.outlier == DataElement.Outlier.ZSCORE:
            mean = statistics.fmean(float(v) for v in past)
            spread = statistics.pstdev(float(v) for v in past)
            if spread and abs(float(value) - mean) / spread > float(threshold):
                findings.append(Finding(
                    f"OUTLIER_{code}",
                    _("%(name)s = %(value)s is far from this unit's usual %(mean)s (more than %(k)s standard "
                      "deviations); please check or explain.")
                    % {"name": element.name, "value": value, "mean": f"{mean:,.0f}", "k": threshold},
                    "warning", (code,)))
        else:
            low, high = min(past), max(past)
            margin = (high - low) * threshold
            if value < low - margin or value > high + margin:
                findings.append(Finding(
                    f"OUTLIER_{code}",
                    _("%(name)s = %(value)s is outside this unit's usual range %(low)s–%(high)s; please check or "
                      "explain.") % {"name": element.name, "value": value, "low": low, "high": high},
                    "warning", (code,)))
    return findings
