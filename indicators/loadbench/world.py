"""The synthetic county ``bench_load`` files into: one lead hospital and one township health
centre per client in one alliance, the shipped catalogue and forms, one filer per centre (signed
in with a known password), and for each filer a run of monthly filings of ``MONTHLY_OPS``, drafts
reopened by the bureau so that past months stay editable during the run.

Region codes start with 97 (GB/T 2260 has no province 97); each run makes its own county, so a
kept database (``--database``) can be measured again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import Grant, Role, User
from alliances.models import Alliance, AllianceMembership, Institution, Region
from core.periods import Period, PeriodKind
from indicators.catalog import install_catalog, install_forms
from indicators.models import Filing
from indicators.services.filings import form_rows

PASSWORD = "Bench-load-2026"
FORM = "MONTHLY_OPS"
MEMBERSHIPS_FROM = date(2020, 1, 1)
K = Institution.Kind

# Every row a township centre fills on the monthly form, consistent with the form's checks.
BASE_VALUES = {
    "OP_VISITS": 8000, "DISCHARGES": 150, "DISCHARGE_BED_DAYS": 900, "OPEN_BED_DAYS": 1800,
    "OCCUPIED_BED_DAYS": 1200, "REHAB_PATIENTS": 40, "TOTAL_REVENUE": 2_000_000, "BUSINESS_REVENUE": 1_500_000,
    "MED_REVENUE": 1_400_000, "DRUG_REVENUE": 500_000, "CONSUMABLE_REVENUE": 100_000, "EXAM_REVENUE": 90_000,
    "LAB_REVENUE": 80_000, "FISCAL_REVENUE": 500_000, "INSURANCE_REVENUE": 700_000,
    "BUSINESS_EXPENSE": 1_400_000, "PERSONNEL_EXPENSE": 700_000, "SALARY_TOTAL": 600_000, "STAFF_ON_DUTY": 90,
    "GPS": 6, "REFERRALS_UP": 35,
}


def values_for(seq: int) -> dict[str, int]:
    """The figures of the ``seq``-th save of a filer: two of them move with every save (so every
    save writes and audits something), the rest stay as they are."""
    values = dict(BASE_VALUES)
    values["OP_VISITS"] = BASE_VALUES["OP_VISITS"] + seq % 1000
    values["REHAB_PATIENTS"] = BASE_VALUES["REHAB_PATIENTS"] + seq % 7
    return values


@dataclass
class Filer:
    username: str
    institution_id: int
    filings: list[int]  # editable filing ids, newest period first
    periods: dict[int, str]  # filing id → period
    elements: dict[str, int] = field(default_factory=dict)  # element code → id (the rows it fills)


@transaction.atomic
def build(clients: int, filings_per_client: int, tag: int, today: date | None = None) -> list[Filer]:
    today = today or timezone.localdate()
    province, _created = Region.objects.get_or_create(
        code="970000", defaults={"name": "负载基准省", "level": Region.Level.PROVINCE})
    city, _created = Region.objects.get_or_create(
        code="979900", defaults={"name": "负载基准市", "level": Region.Level.CITY, "parent": province})
    county = Region.objects.create(code=f"97{tag % 10000:04d}", name=f"负载基准县{tag}", level=Region.Level.COUNTY,
                                   parent=city)
    alliance = Alliance.objects.create(county=county, name="负载基准医共体", established_on=MEMBERSHIPS_FROM)
    lead = Institution.objects.create(county=county, name="负载基准县人民医院", kind=K.COUNTY_GENERAL_HOSPITAL, beds=400)
    centres = Institution.objects.bulk_create([
        Institution(county=county, name=f"负载基准第{n + 1:03d}卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE, beds=40)
        for n in range(clients)])
    AllianceMembership.objects.bulk_create(
        [AllianceMembership(institution=lead, alliance=alliance, role=AllianceMembership.Role.LEAD,
                            valid_from=MEMBERSHIPS_FROM)]
        + [AllianceMembership(institution=c, alliance=alliance, valid_from=MEMBERSHIPS_FROM) for c in centres])
    install_catalog()
    form = next(f for f in install_forms(county) if f.code == FORM)
    elements = {row.element.code: row.element_id for row in form_rows(form, K.TOWNSHIP_HEALTH_CENTRE)}
    missing = set(BASE_VALUES) - set(elements)
    if missing:
        raise RuntimeError(f"{FORM} has no rows {sorted(missing)} for a township health centre")

    password = make_password(PASSWORD)  # one hash for every filer: hashing is not what is measured
    now = timezone.now()
    users = User.objects.bulk_create([
        User(username=f"bench_load_{tag}_{n + 1:03d}", full_name=f"负载基准填报员{n + 1:03d}", password=password,
             password_changed_at=now, email=f"bench_load_{tag}_{n + 1:03d}@bench.invalid")
        for n in range(clients)])
    Grant.objects.bulk_create([Grant(user=u, role=Role.INSTITUTION_FILER, institution=c)
                               for u, c in zip(users, centres, strict=True)])

    # Past months, newest first, each reopened by the bureau for the run.
    periods, period = [], Period.containing_date(PeriodKind.MONTH, today).previous
    for _n in range(filings_per_client):
        periods.append(period)
        period = period.previous
    reopened = today + timedelta(days=7)
    filings = Filing.objects.bulk_create([
        Filing(form=form, county=county, institution=c, period=str(p), period_start=p.start, period_end=p.end,
               due_date=form.due_date(p), reopened_until=reopened)
        for c in centres for p in periods])
    filers = []
    for user, centre in zip(users, centres, strict=True):
        own = [f for f in filings if f.institution_id == centre.pk]
        filers.append(Filer(user.username, centre.pk, [f.pk for f in own], {f.pk: f.period for f in own},
                            elements))
    return filers
