"""The monthly staffing snapshot through the filing pipeline (one place where a number is filed,
reviewed, locked and audited): at the end of each month the roster's counts per institution
(``staffing.targets.counts``) are written into the 人员配置月报 filings and the county's resident
population into its 常住人口 filing, approved as derived from the roster (a ``derive`` event, the
values audited like any other). Running it again for the same month writes only what changed — a
correction of the roster made later shows in the audit.

A village clinic's people are filed by the centre that manages it (clinics do not file)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from alliances.models import Institution, Region
from core.clock import local_date
from core.periods import Period, PeriodKind
from indicators.models import DataElement, DataValue, Filing, FilingEvent, ReportForm
from indicators.services.filings import open_filing, save_values
from staffing import targets

FORM, COUNTY_FORM = "STAFFING", "STAFFING_COUNTY"


def snapshot(county: Region, month: Period, *, today: date | None = None) -> dict[str, int]:
    """File ``month``'s staffing figures of ``county`` (counted on the month's last day, or ``today`` for
    the running month). Returns how many filings and values were written."""
    forms = {f.code: f for f in ReportForm.objects.filter(county=county, code__in=[FORM, COUNTY_FORM])}
    if FORM not in forms:
        return {"filings": 0, "values": 0}
    day = min(month.end, today) if today else month.end
    by_institution = targets.counts(county, day)
    institutions = {i.pk: i for i in Institution.objects.filter(county=county)}
    filed: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(targets.CODES, 0))
    for institution_id, values in by_institution.items():
        institution = institutions.get(institution_id)
        if institution is None:
            continue
        filer = institution.parent_id if institution.kind == Institution.Kind.VILLAGE_CLINIC and institution.parent_id \
            else institution_id
        for code, value in values.items():
            filed[filer][code] += value
    elements = dict(DataElement.objects.filter(county=None, code__in=[*targets.CODES, "RESIDENT_POP"])
                    .values_list("code", "pk"))
    form = forms[FORM]
    filers = [i for i in institutions.values() if i.is_active and i.kind in form.institution_kinds]
    stats = {"filings": 0, "values": 0}
    with transaction.atomic():
        for institution in filers:
            values = filed.get(institution.pk, dict.fromkeys(targets.CODES, 0))
            stats["values"] += _file(form, institution, month, {elements[c]: Decimal(v) for c, v in values.items()})
            stats["filings"] += 1
        residents = targets.population(county, month.year)
        if COUNTY_FORM in forms and residents:
            stats["values"] += _file(forms[COUNTY_FORM], None, month, {elements["RESIDENT_POP"]: Decimal(residents)})
            stats["filings"] += 1
    return stats


def _file(form: ReportForm, institution: Institution | None, month: Period, values: dict[int, Decimal]) -> int:
    filing = open_filing(form, institution, month)
    result = save_values(filing, values, user=None, expected_version=filing.version, check_edit=False,
                         source=FilingEvent.Action.DERIVE)
    if filing.status not in (Filing.Status.APPROVED, Filing.Status.LOCKED):
        now = timezone.now()
        Filing.objects.filter(pk=filing.pk).update(
            status=Filing.Status.APPROVED, submitted_at=now, first_submitted_at=filing.first_submitted_at or now,
            reviewed_at=now)
        DataValue.objects.filter(filing=filing).update(counted=True)
    return result.changed + result.created


def snapshot_due(now) -> dict[str, int]:
    """The nightly run: last month's snapshot of every county with the staffing form, while today is
    not past the form's due day for that month."""
    today = local_date(now)
    month = Period.containing_date(PeriodKind.MONTH, today).previous
    totals = {"counties": 0, "filings": 0, "values": 0}
    for form in ReportForm.objects.filter(code=FORM).select_related("county"):
        if today > form.due_date(month) or (form.first_period and str(month) < form.first_period):
            continue
        stats = snapshot(form.county, month, today=today)
        totals["counties"] += 1
        totals["filings"] += stats["filings"]
        totals["values"] += stats["values"]
    return totals
