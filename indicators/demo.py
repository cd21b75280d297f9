"""Demo filings: the shipped catalogue, each demo county's report forms, and every month from
January 2024 to the last month due (and every quarter) filed by every filing institution, with
figures shaped like a real county's: seasonal visits, a slowly rising primary-care share, a
falling average stay, a rising share of service revenue, and per-institution noise.

The figures are sample data (``random.Random`` seeded by institution and period: the same on
every machine). The history is written without audit rows (nobody typed it); the most recent
month is left partly open so that 我的填报, review and completeness have something to show:
most filings approved, a few submitted, one returned with a reason, one draft, one missing.
Running it again adds only what is missing.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from alliances.models import AllianceMembership, Institution, Region
from core.bulk import insert_rows
from core.demo import DemoReport
from core.periods import Period, PeriodKind
from indicators.catalog import ELEMENTS, install_catalog, install_forms
from indicators.models import DataElement, DataValue, Filing, FilingEvent, ReportForm

SH = ZoneInfo("Asia/Shanghai")
FIRST_MONTH = Period.month(2024, 1)
DEMO_COUNTIES = ("445322", "511781")
MONEY_CODES = frozenset(code for code, _name, _unit, value_type, _agg in ELEMENTS if value_type == "money")
RETURN_REASON = "门急诊人次较上月下降明显，与医保结算数据不符，请核实后重新上报。"


def last_due_month(today) -> Period:
    """The latest month whose filing is already due (due on the 5th of the next month)."""
    month = Period.containing_date(PeriodKind.MONTH, today).previous
    return month if today.day > 5 else month.previous


def _moment(day, hour=10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SH)


def _season(month: int) -> float:
    """Winter peaks (respiratory season), a summer dip."""
    return 1 + 0.10 * math.cos((month - 1) / 12 * 2 * math.pi)


def _monthly_figures(inst: Institution, role: str | None, period: Period, rng: random.Random) -> dict[str, Decimal]:
    """One institution's monthly figures."""
    t = (period.year - 2024) * 12 + period.index - 1  # months since Jan 2024
    season = _season(period.index)
    # The institution's own character: the same every month, different between institutions.
    own = random.Random(f"character|{inst.pk}|{inst.name}")
    drift = own.uniform(-0.004, 0.006)  # how fast it improves
    tilt = own.uniform(-0.06, 0.06)  # structural shares a little above or below the county's
    days = period.days
    noise = lambda spread=0.04: 1 + rng.uniform(-spread, spread)  # noqa: E731
    is_hospital = inst.kind in Institution.LEAD_KINDS
    is_lead = role == AllianceMembership.Role.LEAD
    if is_hospital:
        size = 1.0 if is_lead else 0.35
        beds = inst.beds or int(600 * size)
        visits = 38000 * size * season * (1 - 0.003 * t) * noise()
        discharges = 2300 * size * season * (1 - 0.003 * t) * noise()
        stay = 8.6 - 0.025 * t + rng.uniform(-0.2, 0.2)
        occupancy = 0.9 * season * noise(0.03)
        med = 46_000_000 * size * season * (1 + 0.003 * t) * noise()
        drug, consumable = 0.29 + tilt / 2 - (0.0015 + drift / 3) * t, 0.18 - 0.001 * t
        exam, lab = 0.12 + tilt / 3, 0.10
        fiscal_share = 0.05
        staff = int((980 if is_lead else 340) * (1 + 0.002 * t))
        gps = int((12 if is_lead else 4) + t // 12)
        personnel_share = 0.37 + tilt / 2 + (0.0012 + drift / 4) * t
    else:
        pop = inst.service_population or 30000
        size = pop / 30000
        beds = inst.beds or int(60 * size)
        visits = 9400 * size * season * (1 + 0.006 * t + drift * t / 2) * noise()
        discharges = 160 * size * season * (1 + 0.005 * t) * noise()
        stay = 6.2 + rng.uniform(-0.3, 0.3)
        occupancy = (0.62 + 0.004 * t) * season * noise(0.05)
        med = 1_500_000 * size * season * (1 + 0.006 * t) * noise()
        drug, consumable, exam, lab = 0.40 + tilt - (0.002 + drift / 2) * t, 0.10, 0.08, 0.07
        fiscal_share = 0.33 + tilt + (0.002 + drift / 3) * t
        staff = int(95 * size * (1 + 0.004 * t))
        gps = max(2, int(5 * size + t // 10))
        personnel_share = 0.55 + tilt / 2 + 0.002 * t
    open_days = beds * days
    occupied = min(open_days * occupancy, open_days * 1.05)
    business = med * 1.04
    fiscal = business * fiscal_share / (1 - fiscal_share)
    total = business + fiscal
    expense = business * 0.96 * noise(0.02)
    personnel = expense * personnel_share
    figures = {
        "OP_VISITS": visits, "DISCHARGES": discharges, "DISCHARGE_BED_DAYS": discharges * stay,
        "OPEN_BED_DAYS": open_days, "OCCUPIED_BED_DAYS": occupied,
        "TOTAL_REVENUE": total, "BUSINESS_REVENUE": business, "MED_REVENUE": med,
        "DRUG_REVENUE": med * drug, "CONSUMABLE_REVENUE": med * consumable, "EXAM_REVENUE": med * exam,
        "LAB_REVENUE": med * lab, "FISCAL_REVENUE": fiscal, "INSURANCE_REVENUE": med * (0.58 if is_hospital else 0.52),
        "BUSINESS_EXPENSE": expense, "PERSONNEL_EXPENSE": personnel, "SALARY_TOTAL": personnel * 0.86,
        "STAFF_ON_DUTY": staff, "GPS": gps,
    }
    if is_hospital:
        surgeries = discharges * 0.32 * noise()
        figures.update({"SURGERIES": surgeries, "SURGERIES_L34": surgeries * (0.36 + 0.003 * t) * noise(0.03),
                        "REHAB_REFERRED_DOWN": (18 + 0.8 * t) * size * noise(0.15)})
    else:
        figures["REHAB_PATIENTS"] = 45 * size * (1 + 0.01 * t) * noise(0.1)
    return {code: Decimal(str(round(value, 2))) if code in MONEY_CODES else Decimal(int(round(value)))
            for code, value in figures.items()}


def _expense_figures(inst: Institution, monthly: dict[str, Decimal], period: Period,
                     rng: random.Random) -> dict[str, Decimal]:
    """The 财务支出月报 of the month, in proportion to the month's revenue: drugs and materials
    bought close to what was sold, equipment and building in lumps (a few months a year)."""
    med = float(monthly["MED_REVENUE"])
    is_hospital = inst.kind in Institution.LEAD_KINDS
    noise = lambda spread=0.06: 1 + rng.uniform(-spread, spread)  # noqa: E731
    sold = float(monthly["DRUG_REVENUE"] + monthly["CONSUMABLE_REVENUE"])
    lump = rng.random() < 0.15
    figures = {
        "EXP_DRUGS_MATERIALS": sold * 0.93 * noise(),
        "EXP_EQUIPMENT": med * (0.12 if lump else 0.015) * noise(0.3),
        "EXP_CONSTRUCTION": med * (0.25 if lump and period.index in (4, 5, 9, 10) else 0.004) * noise(0.3),
        "EXP_IT": med * 0.01 * noise(0.3),
        "EXP_PUBLIC_HEALTH": med * (0.012 if is_hospital else 0.2) * noise(0.1),
        "EXP_OTHER": med * 0.035 * noise(0.2),
    }
    return {code: Decimal(str(round(value, 2))) for code, value in figures.items()}


def _quarterly_figures(inst: Institution, role: str | None, period: Period, rng: random.Random) -> dict[str, Decimal]:
    t = (period.year - 2024) * 4 + period.index - 1  # quarters since 2024Q1
    if inst.kind in Institution.LEAD_KINDS:
        is_lead = role == AllianceMembership.Role.LEAD
        return {
            "CHRONIC_MANAGED": Decimal(int((2600 if is_lead else 700) * (1 - 0.01 * t) * rng.uniform(0.95, 1.05))),
            "LEAD_STANDARD_MET": Decimal(1 if is_lead and period.year >= 2025 else 0),
            "NEW_TECH_PROJECTS": Decimal(rng.randint(2, 4) + t // 4),
        }
    pop = inst.service_population or 30000
    key = pop * 0.34
    signed = key * min(0.9, 0.55 + 0.012 * t + rng.uniform(-0.02, 0.02))
    htn_dm = pop * 0.085
    elderly = pop * 0.078
    return {
        "SERVICE_POP": Decimal(pop), "KEY_POP": Decimal(int(key)), "KEY_POP_SIGNED": Decimal(int(signed)),
        "HTN_DM_SIGNED": Decimal(int(htn_dm)),
        "HTN_DM_CONTROLLED": Decimal(int(htn_dm * min(0.85, 0.6 + 0.008 * t + rng.uniform(-0.02, 0.02)))),
        "CHRONIC_MANAGED": Decimal(int(htn_dm * 1.15 * (1 + 0.01 * t))),
        "ELDERLY_65_74": Decimal(int(elderly)),
        "ELDERLY_DISABLED": Decimal(int(elderly * (0.036 - 0.0004 * t + rng.uniform(-0.002, 0.002)))),
        "PH_SCORE": Decimal(str(round(min(98, 80 + 0.7 * t + rng.uniform(-3, 3)), 1))),
        "QSG_QUALIFIED": Decimal(1 if rng.random() < 0.3 + 0.08 * t else 0),
    }


# How fast an alliance's referrals grow a year (up, down), by the alliance's place in its county:
# the first and third alliances send more patients down than up (下转增幅高于上转增幅, as seed 000
# 10.3 asks), the second the other way round, so that the cockpit shows both.
REFERRAL_PACES = ((0.05, 0.18), (0.12, 0.04), (0.06, 0.15))


def _measure_figures(inst: Institution, role: str | None, pace: tuple[float, float], period: Period,
                     monthly: dict[str, Decimal]) -> dict[str, Decimal]:
    """The 运行监测月报 rows of seed 000's 能力提升 measures (referrals, DRG): their own random
    stream, so that the figures above stay the same as before they were added."""
    t = (period.year - 2024) * 12 + period.index - 1
    rng = random.Random(f"measures|{inst.pk}|{inst.name}|{period}")
    noise = lambda spread=0.04: 1 + rng.uniform(-spread, spread)  # noqa: E731
    up_pace, down_pace = pace
    if inst.kind in Institution.LEAD_KINDS:
        size = 1.0 if role == AllianceMembership.Role.LEAD else 0.35
        down = 260 * size * (1 + down_pace) ** (t / 12) * noise()
        cases = float(monthly["DISCHARGES"]) * 0.86 * noise(0.02)
        cmi = (0.86 if role == AllianceMembership.Role.LEAD else 0.74) + 0.0025 * t + rng.uniform(-0.01, 0.01)
        return {"REFERRALS_DOWN": Decimal(int(round(down))),
                "CHRONIC_REFERRED_DOWN": Decimal(int(round(down * (0.22 + 0.0008 * t) * noise(0.03)))),
                "DRG_WEIGHT": Decimal(str(round(cases * cmi, 2))), "DRG_CASES": Decimal(int(round(cases)))}
    size = (inst.service_population or 30000) / 30000
    up = 55 * size * _season(period.index) * (1 + up_pace) ** (t / 12) * noise()
    return {"REFERRALS_UP": Decimal(int(round(up)))}


def _quarterly_measures(inst: Institution, period: Period, quarterly: dict[str, Decimal],
                        villages: int) -> dict[str, Decimal]:
    """The 公共卫生季报 rows of seed 000's 11.1, 11.2 and 12.2 (primary care only), from their own
    random stream. Disease types are counted since January, so they rise through the year."""
    if inst.kind in Institution.LEAD_KINDS:
        return {}
    t = (period.year - 2024) * 4 + period.index - 1
    rng = random.Random(f"measures|{inst.pk}|{inst.name}|{period}")
    own = random.Random(f"measures-character|{inst.pk}|{inst.name}")
    so_far = 0.7 + 0.1 * period.index  # share of the year's disease types seen by the quarter's end
    op_year = 82 + 9 * (period.year - 2024) + own.uniform(-15, 25)
    ip_year = 48 + 6 * (period.year - 2024) + own.uniform(-10, 15)
    managed = quarterly["CHRONIC_MANAGED"]
    records = (inst.service_population or 30000) * (0.86 + 0.004 * t)
    figures = {
        "OP_DISEASE_TYPES": Decimal(int(op_year * so_far)), "IP_DISEASE_TYPES": Decimal(int(ip_year * so_far)),
        "CHRONIC_STD_MANAGED": Decimal(int(managed * Decimal(str(min(0.9, 0.64 + 0.01 * t
                                                                       + rng.uniform(-0.02, 0.02)))))),
        "EHR_RECORDS": Decimal(int(records)),
        "EHR_OPENED": Decimal(int(records * min(0.9, 0.45 + 0.025 * t + rng.uniform(-0.03, 0.03)))),
    }
    if inst.kind in (Institution.Kind.CENTRAL_HEALTH_CENTRE, Institution.Kind.TOWNSHIP_HEALTH_CENTRE):
        clinics = villages or own.randint(6, 14)
        share = min(1.0, 0.52 + 0.03 * t + own.uniform(-0.08, 0.08))
        figures.update({"VILLAGE_CLINICS": Decimal(clinics),
                        "VILLAGE_CLINICS_STANDARD": Decimal(int(clinics * share))})
    return figures


def _county_figures(totals: dict[str, Decimal], period: Period, rng: random.Random) -> dict[str, Decimal]:
    """The 医保 settlement figures of the county, consistent with what its institutions filed."""
    t = (period.year - 2024) * 12 + period.index - 1
    visits_in = totals["OP_VISITS"] * Decimal("0.97")
    inpatients_in = totals["DISCHARGES"] * Decimal("0.96")
    visit_rate = Decimal(str(min(0.95, 0.86 + 0.0018 * t + rng.uniform(-0.004, 0.004))))
    inpatient_rate = Decimal(str(min(0.92, 0.79 + 0.0022 * t + rng.uniform(-0.005, 0.005))))
    fund_in = totals["INSURANCE_REVENUE"] * Decimal("0.9")
    fund_rate = Decimal(str(min(0.9, 0.72 + 0.002 * t + rng.uniform(-0.005, 0.005))))
    return {
        "INS_VISITS_IN_COUNTY": visits_in.quantize(Decimal(1)),
        "INS_VISITS_TOTAL": (visits_in / visit_rate).quantize(Decimal(1)),
        "INS_INPATIENTS_IN_COUNTY": inpatients_in.quantize(Decimal(1)),
        "INS_INPATIENTS_TOTAL": (inpatients_in / inpatient_rate).quantize(Decimal(1)),
        "FUND_IN_COUNTY": fund_in.quantize(Decimal("0.01")),
        "FUND_TOTAL": (fund_in / fund_rate).quantize(Decimal("0.01")),
    }


def _county_measures(county_figures: dict[str, Decimal], period: Period, rng: random.Random) -> dict[str, Decimal]:
    """医保基金县域内基层机构支出 (seed 001 §四(三)): a slowly rising share of the in-county fund."""
    t = (period.year - 2024) * 12 + period.index - 1
    share = Decimal(str(round(0.19 + 0.0015 * t + rng.uniform(-0.004, 0.004), 4)))
    return {"FUND_PRIMARY": (county_figures["FUND_IN_COUNTY"] * share).quantize(Decimal("0.01"))}


def load_demo_filings(*, today) -> Counter:
    """Catalogue, forms and filings of the demo counties up to the last month due."""
    stats: Counter = Counter()
    install_catalog()
    users = {u.username: u for u in get_user_model().objects.filter(
        username__in=["yn_staff", "wy_staff", "yn_rmyy", "yn_gt1_filer", "yn_rmyy_reviewer"])}
    last_month = last_due_month(today)
    with transaction.atomic():
        for code in DEMO_COUNTIES:
            county = Region.objects.filter(code=code).first()
            if county is None:
                continue
            forms = {form.code: form for form in install_forms(county, first_period=str(FIRST_MONTH))}
            stats.update(_fill_county(county, forms, last_month, today, users))
            stats.update(_evaluate(county, last_month, users.get("yn_staff" if code == "445322" else "wy_staff")))
    return stats


def _evaluate(county: Region, last_month: Period, user) -> Counter:
    """The 附件6 evaluation of the last two quarters filed, so the evaluation pages have runs."""
    from indicators.catalog import SCHEME_CODE
    from indicators.models import EvaluationScheme
    from indicators.services.evaluation import evaluation_run, latest_run

    scheme = EvaluationScheme.objects.filter(county=None, code=SCHEME_CODE).first()
    quarter = Period.containing_date(PeriodKind.QUARTER, last_month.end)
    if quarter.end != last_month.end:
        quarter = quarter.previous
    stats: Counter = Counter()
    for period in (quarter.previous, quarter):
        if scheme and latest_run(scheme=scheme, county=county, period=period) is None:
            evaluation_run(scheme=scheme, county=county, period=period, user=user)
            stats["evaluation runs"] += 1
    return stats


def _fill_county(county: Region, forms: dict[str, ReportForm], last_month: Period, today, users) -> Counter:
    stats: Counter = Counter()
    elements = {e.code: e.pk for e in DataElement.objects.filter(county=None)}
    institutions = list(Institution.objects.filter(county=county, is_active=True).exclude(
        kind=Institution.Kind.VILLAGE_CLINIC).order_by("pk"))
    memberships = list(AllianceMembership.objects.filter(institution__county=county))
    existing = set(Filing.objects.filter(county=county).values_list("form_id", "institution_id", "period"))
    months = [FIRST_MONTH.shift(i) for i in range((last_month.year - 2024) * 12 + last_month.index)]
    last_quarter = Period.containing_date(PeriodKind.QUARTER, last_month.end)
    if last_quarter.end != last_month.end:
        last_quarter = last_quarter.previous
    quarters = [Period.quarter(2024, 1).shift(i) for i in range((last_quarter.year - 2024) * 4 + last_quarter.index)]

    def role_on(inst, day):
        for m in memberships:
            if m.institution_id == inst.pk and m.valid_from <= day and (m.valid_to is None or m.valid_to >= day):
                return m.role
        return None

    alliance_order = sorted({m.alliance_id for m in memberships})

    def pace_on(inst, day):
        for m in memberships:
            if m.institution_id == inst.pk and m.valid_from <= day and (m.valid_to is None or m.valid_to >= day):
                return REFERRAL_PACES[alliance_order.index(m.alliance_id) % len(REFERRAL_PACES)]
        return REFERRAL_PACES[0]

    villages = Counter(Institution.objects.filter(county=county, kind=Institution.Kind.VILLAGE_CLINIC)
                       .values_list("parent_id", flat=True))

    monthly, quarterly, county_form = forms["MONTHLY_OPS"], forms["QUARTERLY_PH"], forms["COUNTY_INSURANCE"]
    finance = forms["FINANCE_EXPENSE"]
    filers = [i for i in institutions if i.kind in monthly.institution_kinds]
    plan = []  # (form, institution or None, period, figures)
    county_totals: dict[Period, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for period in months:
        for inst in filers:
            rng = random.Random(f"{inst.pk}|{inst.name}|{period}")
            role = role_on(inst, period.end)
            figures = _monthly_figures(inst, role, period, rng)
            for code in ("OP_VISITS", "DISCHARGES", "INSURANCE_REVENUE"):
                county_totals[period][code] += figures[code]
            expenses = _expense_figures(inst, figures, period, rng)
            figures.update(_measure_figures(inst, role, pace_on(inst, period.end), period, figures))
            plan.append((monthly, inst, period, figures))
            plan.append((finance, inst, period, expenses))
        rng = random.Random(f"{county.code}|{period}")
        county_figures = _county_figures(county_totals[period], period, rng)
        county_figures.update(_county_measures(county_figures, period, rng))
        plan.append((county_form, None, period, county_figures))
    for period in quarters:
        for inst in filers:
            rng = random.Random(f"{inst.pk}|{inst.name}|{period}")
            figures = _quarterly_figures(inst, role_on(inst, period.end), period, rng)
            figures.update(_quarterly_measures(inst, period, figures, villages.get(inst.pk, 0)))
            plan.append((quarterly, inst, period, figures))

    # The latest month: one filer missing, one draft, one returned, two submitted, the rest approved.
    latest = [(f, i) for f, i, p, _fig in plan if p == last_month and f is monthly]
    special = {}
    if len(latest) >= 6:
        special = {latest[-1][1].pk: "missing", latest[-2][1].pk: "draft", latest[1][1].pk: "returned",
                   latest[2][1].pk: "submitted", latest[3][1].pk: "submitted"}
    staff = users.get("yn_staff") if county.code == "445322" else users.get("wy_staff")

    filing_rows, value_plan = [], []
    for form, inst, period, figures in plan:
        key = (form.pk, inst.pk if inst else None, str(period))
        if key in existing:
            continue
        state = (special.get(inst.pk) if (inst is not None and form in (monthly, finance) and period == last_month)
                 else None)
        if state == "missing":
            continue
        due = form.due_date(period)
        lock = form.lock_date(period)
        if state in ("draft", "returned", "submitted"):
            status = Filing.Status(state) if state != "draft" else Filing.Status.DRAFT
        elif lock < today:
            status = Filing.Status.LOCKED
        else:
            status = Filing.Status.APPROVED
        rng = random.Random(f"late|{key}")
        # Most filers are on time (up to four days early); about one in ten is a few days late.
        shift = rng.randint(1, 6) if rng.random() < 0.1 else -rng.randint(0, 4)
        submitted_day = min(due + timedelta(days=shift), today)
        submitted = _moment(submitted_day) if status != Filing.Status.DRAFT else None
        reviewed = (_moment(min(submitted_day + timedelta(days=2), today), 15)
                    if status in (Filing.Status.APPROVED, Filing.Status.LOCKED, Filing.Status.RETURNED) else None)
        filing_rows.append((
            form.pk, county.pk, inst.pk if inst else None, str(period), period.start, period.end, status, 1, due,
            submitted, staff.pk if (submitted and staff and inst is None) else None, submitted, reviewed,
            staff.pk if (reviewed and staff) else None, RETURN_REASON if status == Filing.Status.RETURNED else "",
            {}, _moment(period.end, 9), _moment(period.end, 9),
        ))
        value_plan.append((figures, status in Filing.COUNTED))
    if not filing_rows:
        return stats
    fields = ["form_id", "county_id", "institution_id", "period", "period_start", "period_end", "status", "version",
              "due_date", "submitted_at", "submitted_by_id", "first_submitted_at", "reviewed_at", "reviewed_by_id",
              "return_reason", "warning_comments", "created_at", "updated_at"]
    ids = insert_rows(Filing, fields, filing_rows)
    value_rows, events = [], []
    for filing_id, row, (figures, counted) in zip(ids, filing_rows, value_plan, strict=True):
        for code, value in figures.items():
            value_rows.append((elements[code], filing_id, county.pk, row[2], row[3], row[4], row[5], value, counted))
        if row[6] == Filing.Status.RETURNED:
            events.append((filing_id, FilingEvent.Action.RETURN, row[13], row[12], RETURN_REASON))
        if row[9]:
            events.append((filing_id, FilingEvent.Action.SUBMIT, row[10], row[9], ""))
    insert_rows(DataValue, ["element_id", "filing_id", "county_id", "institution_id", "period", "period_start",
                            "period_end", "value", "counted"], value_rows, returning_ids=False)
    insert_rows(FilingEvent, ["filing_id", "action", "user_id", "at", "reason"], events, returning_ids=False)
    stats["filings"] += len(filing_rows)
    stats["values"] += len(value_rows)
    return stats


def load_demo_part(*, now: datetime, today) -> DemoReport:
    """The catalogue, report forms and demo filings, as ``load_demo`` reports them (``core.demo``)."""
    stats = load_demo_filings(today=today)
    return DemoReport(summary=_("Demo filings: %(filings)d filings with %(values)d values created.")
                      % {key: stats.get(key, 0) for key in ("filings", "values")})
