"""Filing and indicators: data elements and report forms, filings with their values, events and
audit, indicators, validation rules and evaluation. One module per concern."""

from indicators.models.definitions import (
    EvaluationRun,
    EvaluationScheme,
    EvaluationScore,
    Indicator,
    SchemeItem,
    ValidationRule,
)
from indicators.models.elements import PERIOD_KIND_CHOICES, DataElement, FormElement, ReportForm
from indicators.models.filings import DataValue, Filing, FilingEvent, ValueAudit

__all__ = [
    "PERIOD_KIND_CHOICES", "DataElement", "DataValue", "EvaluationRun", "EvaluationScheme", "EvaluationScore",
    "Filing", "FilingEvent", "FormElement", "Indicator", "ReportForm", "SchemeItem", "ValidationRule",
    "ValueAudit",
]
