"""Filed monthly figures as finance reads them: counted values of shared data elements summed per
institution and element over a year (up to a day), with the number of months filed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Sum

from indicators.models import DataValue

FEN = Decimal("0.01")
MONTH_PERIOD = r"^\d{4}-\d{2}$"


def monthly_sums(codes: Iterable[str], year: int, *, county=None, institution_ids: Iterable[int] | None = None,
                 through: date | None = None) -> tuple[dict[tuple[int, str], Decimal], int]:
    """{(institution id, element code): sum in fen} of the counted monthly values of ``year`` (up to
    ``through``) of the institutions of ``county`` or ``institution_ids``, and the most months any
    (institution, element) has filed. One query."""
    qs = DataValue.objects.filter(counted=True, institution__isnull=False, element__county__isnull=True,
                                  element__code__in=list(codes), period_start__year=year, period__regex=MONTH_PERIOD)
    if county is not None:
        qs = qs.filter(county=county)
    if institution_ids is not None:
        qs = qs.filter(institution_id__in=list(institution_ids))
    if through is not None:
        qs = qs.filter(period_end__lte=through)
    sums, months = {}, 0
    for row in qs.values("institution_id", "element__code").annotate(total=Sum("value"),
                                                                      months=Count("period", distinct=True)):
        sums[(row["institution_id"], row["element__code"])] = (row["total"] or Decimal(0)).quantize(
            FEN, rounding=ROUND_HALF_UP)
        months = max(months, row["months"])
    return sums, months
