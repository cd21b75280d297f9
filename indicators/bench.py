"""A synthetic province and the measurements of ``manage.py bench_indicators``.

The benchmark builds a province (by default 80 counties, 200 alliances, 4,000 institutions, the
catalogue's 58 data elements plus filler elements up to 60, 36 months of approved filings, a few
institutions moving alliance in the quarters measured) and prints, side by side in one run:

1. the full quarterly evaluation: every catalogue indicator × every unit of the last quarter at
   institution, alliance and county level, with one ``Engine`` (which also reads the same quarter
   last year for the direction targets);
2. the floor: one grouped SQL read (institution × element, SUM and COUNT) of the same counted values
   the evaluation needs, fetched into Python — for the quarter alone and for both quarters;
3. a naive ORM loop (one aggregate query per unit per element per period) on a sample of units,
   scaled to every unit;
4. the evaluation's query count for one county and for all of them (they must be equal);
5. saving 60 values into a filing: queries and time;

with peak memory, row counts and the ratios. Everything runs in one transaction rolled back at the
end (as ``tasks.bench`` does) unless ``--keep`` commits the data — meant for a throwaway database,
where ``--reuse`` then measures it again without building it.

The synthetic regions use codes no real region has (GB/T 2260 has no province 98): province
980000, cities 98cc00, counties 98ccnn. Rows go in with ``core.bulk.insert_rows`` (COPY on
PostgreSQL, ``bulk_create`` elsewhere), the values month by month as filings arrive.
"""

from __future__ import annotations

import platform
import random
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from accounts.models import User
from alliances.models import Alliance, AllianceMembership, Institution, Region
from core.bench import analyze_tables, database_description, table
from core.bulk import can_copy, insert_rows
from core.periods import Period, PeriodKind
from indicators.catalog import ELEMENTS, FORMS, install_catalog, install_forms
from indicators.engine import Engine, _period_keys
from indicators.models import DataElement, DataValue, Filing, FormElement, Indicator, ReportForm
from indicators.services.filings import open_filing, save_values
from indicators.signals import touch_forms

Write = Callable[[str], None]

PROVINCE_CODE = "980000"
SYNTHETIC_PREFIX = "98"
COUNTIES_PER_CITY = 20
MAX_COUNTIES = 99 * COUNTIES_PER_CITY
RUNS = 5  # timed runs after one warm-up, interleaved; the median is reported
RATIO_AIM = 2.0
SAVE_VALUES = 60
FILLER_PREFIX = "BENCH_FILLER_"
SAVE_FORM = "BENCH_SIXTY"
BENCH_USER = "bench_indicators_filer"
MEMBERSHIPS_FROM = date(2020, 1, 1)

K = Institution.Kind
LEAD_HOSPITALS = [("县人民医院", K.COUNTY_GENERAL_HOSPITAL), ("县中医院", K.TCM_HOSPITAL),
                  ("县妇幼保健院", K.MCH_HOSPITAL)]
MEMBER_KINDS = [K.TOWNSHIP_HEALTH_CENTRE, K.TOWNSHIP_HEALTH_CENTRE, K.CENTRAL_HEALTH_CENTRE,
                K.TOWNSHIP_HEALTH_CENTRE, K.COMMUNITY_HEALTH_CENTRE]
ALLIANCE_NAMES = ["第一医共体", "第二医共体", "第三医共体"]
CATALOGUE_ELEMENTS = len(ELEMENTS)

# Typical monthly (or quarterly, for stocks) figure of a township health centre; lead hospitals
# file about five times as much. Flags (0/1) and scores are drawn apart.
MAGNITUDE = {
    "OP_VISITS": 3000, "DISCHARGES": 120, "DISCHARGE_BED_DAYS": 900, "OPEN_BED_DAYS": 1500,
    "OCCUPIED_BED_DAYS": 1100, "SURGERIES": 60, "SURGERIES_L34": 20, "REHAB_REFERRED_DOWN": 15,
    "REHAB_PATIENTS": 40, "STAFF_ON_DUTY": 60, "GPS": 6, "SERVICE_POP": 30000, "KEY_POP": 9000,
    "KEY_POP_SIGNED": 6000, "HTN_DM_SIGNED": 3000, "HTN_DM_CONTROLLED": 2000, "CHRONIC_MANAGED": 3500,
    "ELDERLY_65_74": 2500, "ELDERLY_DISABLED": 80, "NEW_TECH_PROJECTS": 3, "INS_VISITS_TOTAL": 400000,
    "INS_VISITS_IN_COUNTY": 360000, "INS_INPATIENTS_TOTAL": 30000, "INS_INPATIENTS_IN_COUNTY": 26000,
    "FUND_TOTAL": 90_000_000, "FUND_IN_COUNTY": 70_000_000, "ST_STAFF": 90, "ST_DOCTORS": 30, "ST_NURSES": 32,
    "ST_GPS": 8, "ST_TCM": 4, "ST_DOC_COLLEGE": 12, "ST_DOC_BACHELOR": 8, "ST_DOC_MID": 5, "ST_DOC_SENIOR": 2,
    "ST_PAIZHU": 1, "RESIDENT_POP": 450_000, "REFERRALS_UP": 40, "REFERRALS_DOWN": 30, "CHRONIC_REFERRED_DOWN": 8,
    "DRG_WEIGHT": 100, "DRG_CASES": 110, "OP_DISEASE_TYPES": 110, "IP_DISEASE_TYPES": 65, "VILLAGE_CLINICS": 10,
    "VILLAGE_CLINICS_STANDARD": 7, "CHRONIC_STD_MANAGED": 2500, "EHR_RECORDS": 25000, "EHR_OPENED": 15000,
    "FUND_PRIMARY": 20_000_000,
}
FLAGS = {"QSG_QUALIFIED", "LEAD_STANDARD_MET"}
SCORES = {"PH_SCORE"}
MONEY_MAGNITUDE = 1_500_000


@dataclass
class Options:
    counties: int = 80
    alliances: int = 200
    institutions: int = 4000
    elements: int = CATALOGUE_ELEMENTS + 2  # the catalogue's and two filler elements (60 before issue 18)
    months: int = 36
    scale: float = 1.0  # scales counties, alliances and institutions (not elements nor months)
    sample: int = 10  # units per level of the naive ORM loop
    keep: bool = False
    reuse: bool = False

    def scaled(self) -> Options:
        if self.scale == 1.0:
            return self
        counties = max(1, round(self.counties * self.scale))
        alliances = max(counties, round(self.alliances * self.scale))
        institutions = max(alliances + counties, round(self.institutions * self.scale))
        return replace(self, counties=counties, alliances=alliances, institutions=institutions, scale=1.0)


def spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` whole numbers differing by at most one, larger ones first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def last_complete_quarter(today: date) -> Period:
    return Period.containing_date(PeriodKind.QUARTER, today).previous


def month_range(last: Period, months: int) -> list[Period]:
    """The ``months`` months ending with the last month of quarter ``last``."""
    final = last.subperiods(PeriodKind.MONTH)[-1]
    return [final.shift(-k) for k in range(months - 1, -1, -1)]


def validate(options: Options) -> None:
    if not 1 <= options.counties <= MAX_COUNTIES:
        raise CommandError(f"--counties must be 1 to {MAX_COUNTIES}.")
    if not options.counties <= options.alliances <= len(LEAD_HOSPITALS) * options.counties:
        raise CommandError(f"--alliances must be between the counties and {len(LEAD_HOSPITALS)} per county.")
    per_county_alliances = spread(options.alliances, options.counties)
    per_county_institutions = spread(options.institutions, options.counties)
    if any(i < a + 1 for i, a in zip(per_county_institutions, per_county_alliances, strict=True)):
        raise CommandError("--institutions must give every county its lead hospitals and at least one member.")
    if options.elements < CATALOGUE_ELEMENTS:
        raise CommandError(f"--elements must be at least the catalogue's {CATALOGUE_ELEMENTS}.")
    if not 3 <= options.months <= 120:
        raise CommandError("--months must be 3 to 120.")
    if options.sample < 1:
        raise CommandError("--sample must be at least 1.")
    if options.scale <= 0:
        raise CommandError("--scale must be above 0.")


# The synthetic province ----------------------------------------------------------------------


@dataclass
class County:
    region_id: int
    alliances: list[int]
    institutions: list[tuple[int, str, float]]  # id, kind, size (lead hospitals about 5)
    forms: dict[str, ReportForm] = field(default_factory=dict)


@dataclass
class Province:
    counties: list[County]
    months: list[Period]
    quarter: Period  # the quarter evaluated
    elements: dict[str, DataElement]  # by code: the catalogue's and the fillers
    moves: int = 0
    filings: int = 0
    values: int = 0

    @property
    def county_ids(self) -> list[int]:
        return [c.region_id for c in self.counties]


def _aware(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, dtime(hour)))


class Builder:
    def __init__(self, options: Options, write: Write, today: date):
        self.options = options
        self.write = write
        self.quarter = last_complete_quarter(today)
        self.months = month_range(self.quarter, options.months)
        self.rng = random.Random("bench_indicators")

    def build(self) -> Province:
        started = time.perf_counter()
        elements = self._elements()
        counties = self._organisation()
        province = Province(counties, self.months, self.quarter, elements)
        province.moves = self._memberships(counties)
        self._forms(province)
        self.write(f"  organisation, memberships and forms: {time.perf_counter() - started:.1f} s")
        self._filings_and_values(province)
        return province

    def _elements(self) -> dict[str, DataElement]:
        install_catalog()
        fillers = [f"{FILLER_PREFIX}{n:02d}" for n in range(1, self.options.elements - CATALOGUE_ELEMENTS + 1)]
        existing = set(DataElement.objects.filter(county=None, code__in=fillers).values_list("code", flat=True))
        DataElement.objects.bulk_create([
            DataElement(code=code, name=f"基准填充数据项{code[-2:]}", unit="个", aggregation="sum")
            for code in fillers if code not in existing])
        codes = [code for code, *_rest in ELEMENTS] + fillers
        return {e.code: e for e in DataElement.objects.filter(county=None, code__in=codes)}

    def _organisation(self) -> list[County]:
        options = self.options
        province = Region.objects.create(code=PROVINCE_CODE, name="指标基准省", level=Region.Level.PROVINCE)
        cities = Region.objects.bulk_create([
            Region(code=f"{SYNTHETIC_PREFIX}{c + 1:02d}00", name=f"指标基准市{c + 1:02d}", level=Region.Level.CITY,
                   parent=province)
            for c in range((options.counties - 1) // COUNTIES_PER_CITY + 1)])
        regions = Region.objects.bulk_create([
            Region(code=f"{SYNTHETIC_PREFIX}{n // COUNTIES_PER_CITY + 1:02d}{n % COUNTIES_PER_CITY + 1:02d}",
                   name=f"指标基准县{n + 1:03d}", level=Region.Level.COUNTY, parent=cities[n // COUNTIES_PER_CITY])
            for n in range(options.counties)])
        alliance_counts = spread(options.alliances, options.counties)
        institution_counts = spread(options.institutions, options.counties)
        rows, kinds = [], []
        for region, alliances, institutions in zip(regions, alliance_counts, institution_counts, strict=True):
            for k in range(institutions):
                if k < alliances:
                    name, kind = LEAD_HOSPITALS[k]
                    beds, size = 400, 5.0
                else:
                    kind = MEMBER_KINDS[k % len(MEMBER_KINDS)]
                    name, beds, size = f"基准第{k - alliances + 1:03d}卫生院", 40, 0.5 + self.rng.random()
                rows.append((region.pk, name, kind, beds))
                kinds.append((kind, size))
        ids = insert_rows(Institution, ["county_id", "name", "kind", "beds"], rows)
        alliance_rows = [(region.pk, ALLIANCE_NAMES[a], MEMBERSHIPS_FROM)
                         for region, count in zip(regions, alliance_counts, strict=True) for a in range(count)]
        alliance_ids = insert_rows(Alliance, ["county_id", "name", "established_on"], alliance_rows)
        counties, at, at_alliance = [], 0, 0
        for region, alliances, institutions in zip(regions, alliance_counts, institution_counts, strict=True):
            counties.append(County(
                region.pk, alliance_ids[at_alliance:at_alliance + alliances],
                [(pk, kind, size) for pk, (kind, size) in zip(ids[at:at + institutions], kinds[at:at + institutions],
                                                             strict=True)]))
            at += institutions
            at_alliance += alliances
        return counties

    def _memberships(self, counties: list[County]) -> int:
        """Lead k leads alliance k; member j belongs to alliance j mod A. Where a county has two
        alliances or more, its first member moves from the first alliance to the second on the
        first day of the middle month of the quarter measured, and its second member from the
        second to the first in the middle of the same quarter a year before: the evaluation then
        has to follow the membership of each month."""
        middle = self.quarter.subperiods(PeriodKind.MONTH)[1].start
        middle_last_year = self.quarter.same_period_last_year.subperiods(PeriodKind.MONTH)[1].start
        lead, member = AllianceMembership.Role.LEAD, AllianceMembership.Role.MEMBER
        rows, moves = [], 0
        for county in counties:
            count = len(county.alliances)
            members = county.institutions[count:]
            for k, (pk, _kind, _size) in enumerate(county.institutions[:count]):
                rows.append((pk, county.alliances[k], lead, MEMBERSHIPS_FROM, None))
            for j, (pk, _kind, _size) in enumerate(members):
                home = county.alliances[j % count]
                moving = count >= 2 and j < 2 and len(members) >= 2
                if not moving:
                    rows.append((pk, home, member, MEMBERSHIPS_FROM, None))
                    continue
                day = middle if j == 0 else middle_last_year
                other = county.alliances[1 - j]
                rows.append((pk, home, member, MEMBERSHIPS_FROM, day - timedelta(days=1)))
                rows.append((pk, other, member, day, None))
                moves += 1
        insert_rows(AllianceMembership, ["institution_id", "alliance_id", "role", "valid_from", "valid_to"], rows,
                    returning_ids=False)
        return moves

    def _forms(self, province: Province) -> None:
        """The shipped forms in every county, the filler elements as extra rows of the monthly form,
        and in the first county a form of all the elements (for the save of 60 values)."""
        first = str(self.months[0])
        fillers = [e for code, e in province.elements.items() if code.startswith(FILLER_PREFIX)]
        extra = []
        for county in province.counties:
            region = Region(pk=county.region_id)
            county.forms = {form.code: form for form in install_forms(region, first_period=first)}
            extra += [FormElement(form=county.forms["MONTHLY_OPS"], element=e, section="其他", order=100 + n)
                      for n, e in enumerate(fillers)]
        FormElement.objects.bulk_create(extra, batch_size=2000)
        touch_forms({row.form_id for row in extra})
        first_county = province.counties[0]
        form = ReportForm.objects.create(county_id=first_county.region_id, code=SAVE_FORM, name="基准全项月报",
                                         period_kind="month", institution_kinds=[])
        FormElement.objects.bulk_create([FormElement(form=form, element=e, order=n)
                                         for n, e in enumerate(province.elements.values())])
        touch_forms([form.pk])
        first_county.forms[SAVE_FORM] = form

    @staticmethod
    def _rows_for(form_code: str, kind: str | None, elements: dict[str, DataElement]) -> list[DataElement]:
        for code, _name, _period_kind, _level, _kinds, rows in FORMS:
            if code == form_code:
                found = [elements[element] for _section, element, kinds in rows
                         if not kinds or kind in [str(k) for k in kinds]]
                if form_code == "MONTHLY_OPS":
                    found += [e for c, e in elements.items() if c.startswith(FILLER_PREFIX)]
                return found
        raise KeyError(form_code)

    def _filings_and_values(self, province: Province) -> None:
        """Approved filings for every filer and period, then their values month by month (the
        order filings arrive in), the quarterly form after the quarter's last month."""
        started = time.perf_counter()
        elements = province.elements
        kinds = {kind for county in province.counties for _pk, kind, _size in county.institutions}
        per_kind = {(form, kind): self._rows_for(form, kind, elements)
                    for form in ("MONTHLY_OPS", "FINANCE_EXPENSE", "STAFFING", "QUARTERLY_PH") for kind in kinds}
        county_rows = {form: self._rows_for(form, None, elements) for form in ("COUNTY_INSURANCE", "STAFFING_COUNTY")}
        quarters = [q for q in dict.fromkeys(m.containing(PeriodKind.QUARTER) for m in self.months)
                    if q.subperiods(PeriodKind.MONTH)[0] in self.months]
        # Each institution's typical figure per element, then ±20% every period.
        base: dict[tuple[int, int], float] = {}
        for county in province.counties:
            for pk, _kind, size in county.institutions:
                for element in elements.values():
                    if element.code in FLAGS or element.code in SCORES:
                        continue
                    magnitude = MAGNITUDE.get(element.code, MONEY_MAGNITUDE if element.value_type == "money" else 500)
                    base[(pk, element.pk)] = magnitude * size * (0.8 + 0.4 * self.rng.random())
        filing_fields = ["form_id", "county_id", "institution_id", "period", "period_start", "period_end", "status",
                         "version", "due_date", "submitted_at", "first_submitted_at"]
        value_fields = ["element_id", "filing_id", "county_id", "institution_id", "period", "period_start",
                        "period_end", "value", "counted"]
        approved = Filing.Status.APPROVED
        quarter_ends = {q.subperiods(PeriodKind.MONTH)[-1]: q for q in quarters}
        rng = self.rng
        for n, month in enumerate(self.months):
            batches = [("MONTHLY_OPS", month, False), ("FINANCE_EXPENSE", month, False), ("STAFFING", month, False)]
            if month in quarter_ends:
                batches.append(("QUARTERLY_PH", quarter_ends[month], False))
            batches += [("COUNTY_INSURANCE", month, True), ("STAFFING_COUNTY", month, True)]
            for form_code, period, by_county in batches:
                key, start, end = str(period), period.start, period.end
                filings, plans = [], []
                for county in province.counties:
                    form = county.forms[form_code]
                    due = form.due_date(period)
                    submitted = _aware(due - timedelta(days=2), 10)
                    filers = [(None, None, 0.0)] if by_county else county.institutions
                    for pk, kind, _size in filers:
                        filings.append((form.pk, county.region_id, pk, key, start, end, approved, 3, due, submitted,
                                        submitted))
                        plans.append((county.region_id, pk, county_rows[form_code] if by_county
                                      else per_kind[(form_code, kind)]))
                ids = insert_rows(Filing, filing_fields, filings)
                values = []
                for filing_id, (county_id, pk, rows) in zip(ids, plans, strict=True):
                    for element in rows:
                        code = element.code
                        if code in FLAGS:
                            value = 1 if rng.random() < 0.7 else 0
                        elif code in SCORES:
                            value = 60 + rng.randint(0, 35)
                        elif pk is None:
                            value = int(MAGNITUDE[code] * len(province.counties[0].institutions) / 50
                                        * (0.9 + 0.2 * rng.random()))
                        else:
                            value = int(base[(pk, element.pk)] * (0.8 + 0.4 * rng.random())) + 1
                        values.append((element.pk, filing_id, county_id, pk, key, start, end, value, True))
                insert_rows(DataValue, value_fields, values, returning_ids=False)
                province.filings += len(ids)
                province.values += len(values)
            if (n + 1) % 6 == 0 or n + 1 == len(self.months):
                self.write(f"    … {n + 1}/{len(self.months)} months: {province.filings:,} filings, "
                           f"{province.values:,} values ({time.perf_counter() - started:.1f} s)")


def find_province() -> Province:
    """The synthetic province kept by an earlier ``--keep`` run (for ``--reuse``)."""
    regions = list(Region.objects.filter(level=Region.Level.COUNTY, code__startswith=SYNTHETIC_PREFIX)
                   .order_by("code").values_list("pk", flat=True))
    if not regions:
        raise CommandError("--reuse: no synthetic province (regions 98xxxx) in this database; run with --keep first.")
    counties = {pk: County(pk, [], []) for pk in regions}
    for pk, county_id in Alliance.objects.filter(county_id__in=regions).order_by("pk").values_list("pk", "county_id"):
        counties[county_id].alliances.append(pk)
    for pk, county_id, kind in (Institution.objects.filter(county_id__in=regions).order_by("pk")
                                .values_list("pk", "county_id", "kind")):
        counties[county_id].institutions.append((pk, kind, 1.0))
    for form in ReportForm.objects.filter(county_id__in=regions):
        counties[form.county_id].forms[form.code] = form
    filed = Filing.objects.filter(county_id__in=regions)
    last = filed.order_by("-period_end").values_list("period_end", flat=True).first()
    first = filed.order_by("period_start").values_list("period_start", flat=True).first()
    if last is None or first is None:
        raise CommandError("--reuse: the synthetic province has no filings.")
    quarter = Period.containing_date(PeriodKind.QUARTER, last)
    months = month_range(quarter, (quarter.end.year - first.year) * 12 + quarter.end.month - first.month + 1)
    fillers = DataElement.objects.filter(county=None, code__startswith=FILLER_PREFIX)
    codes = [code for code, *_rest in ELEMENTS]
    elements = {e.code: e for e in DataElement.objects.filter(Q(code__in=codes) | Q(pk__in=fillers), county=None)}
    province = Province(list(counties.values()), months, quarter, elements)
    province.filings = Filing.objects.filter(county_id__in=regions).count()
    province.values = DataValue.objects.filter(county_id__in=regions).count()
    province.moves = (AllianceMembership.objects.filter(alliance__county_id__in=regions)
                      .values("institution_id").annotate(n=Count("pk")).filter(n__gt=1).count())
    return province


def analyze() -> float:
    """ANALYZE the tables filled (see ``tasks.bench.analyze_tables``). Returns the seconds it took."""
    return analyze_tables([Region, Institution, Alliance, AllianceMembership, DataElement, ReportForm, FormElement,
                           Filing, DataValue])


# Measurements -------------------------------------------------------------------------------


@dataclass
class Timing:
    seconds: float  # median of the timed runs
    runs: list[float]
    queries: int  # of the warm-up run


def timed(funcs: dict[str, Callable[[], object]], runs: int = RUNS) -> dict[str, tuple[Timing, object]]:
    """One warm-up call of each function (its queries counted, its result kept), then ``runs``
    rounds calling each in turn — interleaved, so that the others on a shared machine weigh on
    all of them alike. The median of each."""
    warm = {}
    for name, func in funcs.items():
        with CaptureQueriesContext(connection) as ctx:
            result = func()
        warm[name] = (len(ctx.captured_queries), result)
    seconds: dict[str, list[float]] = {name: [] for name in funcs}
    for _run in range(runs):
        for name, func in funcs.items():
            started = time.perf_counter()
            func()
            seconds[name].append(time.perf_counter() - started)
    return {name: (Timing(statistics.median(seconds[name]), seconds[name], warm[name][0]), warm[name][1])
            for name in funcs}


@dataclass
class Evaluation:
    results: dict[str, dict]  # level -> {(indicator id, unit id): Result}
    rows_read: int

    @property
    def count(self) -> int:
        return sum(len(r) for r in self.results.values())


def evaluate(indicators: list[Indicator], counties: list[int], quarter: Period) -> Evaluation:
    """The full evaluation: one engine, every indicator at every level."""
    engine = Engine(indicators, counties)
    results = {level: engine.compute(quarter, level) for level in ("institution", "alliance", "county")}
    rows = sum(len(rows) for by_element in engine._rows.values() for rows in by_element.values())
    return Evaluation(results, rows)


def needed(indicators: list[Indicator], counties: list[int], quarter: Period) -> dict[Period, dict[int, str]]:
    """{period: {element id: aggregation}} the evaluation reads (the quarter and, for direction
    targets, the same quarter last year)."""
    return dict(Engine(indicators, counties).needs_for(quarter, indicators))


def _placeholders(values) -> str:
    return ", ".join(["%s"] * len(values))


def floor_read(period: Period, elements: dict[int, str], counties: list[int]) -> int:
    """One grouped read of the counted values of ``period`` for ``elements``: SUM and COUNT per
    filer × element, fetched into Python. Returns the rows."""
    keys = _period_keys(period, with_containing=False)
    ids = sorted(elements)
    sql = f"""
        SELECT v.county_id, v.institution_id, v.element_id, SUM(v.value), COUNT(v.value)
        FROM {DataValue._meta.db_table} v
        WHERE v.period IN ({_placeholders(keys)}) AND v.element_id IN ({_placeholders(ids)})
          AND v.county_id IN ({_placeholders(counties)}) AND v.counted AND v.value IS NOT NULL
        GROUP BY v.county_id, v.institution_id, v.element_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*keys, *ids, *counties])
        return len(cursor.fetchall())


@dataclass
class Naive:
    seconds: float  # the sample's
    scaled: float  # estimated for every unit
    queries: int  # the sample's
    scaled_queries: int
    units: dict[str, int]  # sampled per level
    sums: dict[tuple[str, int, Period, int], Decimal | None]


def naive_loop(province: Province, needs: dict[Period, dict[int, str]], sample: int) -> Naive:
    """Per sampled unit, per element, per period: one ORM aggregate (what a loop over units would
    do). Reads only, no arithmetic: a lower bound of a naive evaluation."""
    counties = province.county_ids
    all_units = {
        "institution": list(Institution.objects.filter(county_id__in=counties).exclude(kind=K.VILLAGE_CLINIC)
                            .order_by("pk").values_list("pk", flat=True)),
        "alliance": list(Alliance.objects.filter(county_id__in=counties).order_by("pk").values_list("pk", flat=True)),
        "county": list(counties),
    }
    counted = DataValue.objects.filter(counted=True, value__isnull=False)
    sums: dict[tuple[str, int, Period, int], Decimal | None] = {}
    seconds = scaled = 0.0
    queries = scaled_queries = 0
    sampled = {}
    per_unit = sum(len(elements) for elements in needs.values())
    for level, units in all_units.items():
        chosen = units[:sample]
        sampled[level] = len(chosen)
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            for unit in chosen:
                for period, elements in needs.items():
                    keys = _period_keys(period, with_containing=False)
                    for element_id in elements:
                        qs = counted.filter(period__in=keys, element_id=element_id)
                        if level == "institution":
                            qs = qs.filter(institution_id=unit)
                        elif level == "alliance":
                            qs = qs.filter(Q(institution__memberships__alliance_id=unit)
                                           & Q(institution__memberships__valid_from__lte=F("period_end"))
                                           & (Q(institution__memberships__valid_to__isnull=True)
                                              | Q(institution__memberships__valid_to__gte=F("period_end"))))
                        else:
                            qs = qs.filter(county_id=unit, institution__isnull=False)
                        sums[(level, unit, period, element_id)] = qs.aggregate(total=Sum("value"),
                                                                               n=Count("value"))["total"]
            elapsed = time.perf_counter() - started
        seconds += elapsed
        queries += len(ctx.captured_queries)
        if chosen:
            scaled += elapsed / len(chosen) * len(units)
        scaled_queries += per_unit * len(units)
    return Naive(seconds, scaled, queries, scaled_queries, sampled, sums)


def cross_check(evaluation: Evaluation, naive: Naive, province: Province, indicators: list[Indicator]) -> tuple[int, int]:
    """Compare the evaluation's pooled numerator and denominator of 医保资金占业务收入比例 (A4_16:
    two flows summed over every unit) with the naive sums of the sampled units. Returns (checked,
    equal)."""
    indicator = next((i for i in indicators if i.code == "A4_16"), None)
    if indicator is None:
        return 0, 0
    numerator = province.elements["INSURANCE_REVENUE"].pk
    denominator = province.elements["BUSINESS_REVENUE"].pk
    checked = equal = 0
    for (level, unit, period, element_id), total in naive.sums.items():
        if period != province.quarter or element_id != numerator:
            continue
        result = evaluation.results[level].get((indicator.pk, unit))
        if result is None:
            continue
        checked += 1
        if (result.numerator == total
                and result.denominator == naive.sums.get((level, unit, period, denominator))):
            equal += 1
    return checked, equal


def query_counts(indicators: list[Indicator], counties: list[int], quarter: Period) -> list[tuple[int, int, int]]:
    """(counties, results, queries) of the full evaluation for one county, half of them and all."""
    sizes = sorted({1, max(1, len(counties) // 2), len(counties)})
    out = []
    for size in sizes:
        with CaptureQueriesContext(connection) as ctx:
            evaluation = evaluate(indicators, counties[:size], quarter)
        out.append((size, evaluation.count, len(ctx.captured_queries)))
    return out


@dataclass
class Save:
    elements: int
    insert: tuple[float, int]  # seconds, queries
    update: tuple[float, int]
    small: tuple[float, int]  # 2 values into a fresh filing


def filing_save(province: Province, user: User) -> Save:
    """Save 60 values into a fresh filing of the all-elements form (inserts), then change all 60
    (updates), and save 2 values into another fresh filing — in a savepoint rolled back."""
    county = province.counties[0]
    form = county.forms[SAVE_FORM]
    period = Period.containing_date(PeriodKind.MONTH, timezone.localdate())
    elements = list(form.elements.order_by("pk")[:SAVE_VALUES])
    first, second = (Institution.objects.get(pk=pk) for pk, _kind, _size in county.institutions[-2:])

    def measure(func):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            func()
            elapsed = time.perf_counter() - started
        return elapsed, len(ctx.captured_queries)

    with transaction.atomic():
        filing = open_filing(form, first, period, user=user)
        values = {e.pk: Decimal(100 + n) for n, e in enumerate(elements)}
        insert = measure(lambda: save_values(filing, values, user=user, expected_version=filing.version))
        changed = {pk: value + 1 for pk, value in values.items()}
        update = measure(lambda: save_values(filing, changed, user=user, expected_version=filing.version))
        other = open_filing(form, second, period, user=user)
        two = dict(list(values.items())[:2])
        small = measure(lambda: save_values(other, two, user=user, expected_version=other.version))
        transaction.set_rollback(True)
    return Save(len(elements), insert, update, small)


def peak_memory(func: Callable[[], object]) -> float:
    """Peak Python allocation (MB, tracemalloc) while ``func`` runs."""
    tracemalloc.start()
    try:
        func()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024 / 1024


# The run ------------------------------------------------------------------------------------


def run(options: Options, write: Write) -> None:
    options = options.scaled()
    validate(options)
    if not options.reuse and Region.objects.filter(code__startswith=SYNTHETIC_PREFIX).exists():
        raise CommandError("Regions with codes 98xxxx exist already: the synthetic province would clash "
                           "(pass --reuse to measure a province kept by --keep).")
    write("bench_indicators: the quarterly indicator evaluation against the floor and a naive loop")
    write(f"machine: {_cpus()} CPUs, {platform.machine()} {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}")
    write(f"database: {database_description()}")
    if connection.vendor != "postgresql":
        write(f"WARNING: this database is {connection.vendor}; the figures that matter are PostgreSQL's "
              "(set DATABASE_URL=postgres://…).")
    if options.keep:
        write("--keep: the synthetic province is committed (use a throwaway database).")
    else:
        write("Everything runs in one transaction that is rolled back at the end: no data is left in the database.")
    with override_settings(DEBUG=False), transaction.atomic():
        _run(options, write)
        if not options.keep:
            transaction.set_rollback(True)
    write("")
    write("Kept: the synthetic province stays in the database." if options.keep
          else "Rolled back: the synthetic province is gone.")


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _s(seconds: float) -> str:
    return f"{seconds:,.3f}"


def _run(options: Options, write: Write) -> None:
    today = timezone.localdate()
    user = User.objects.filter(username=BENCH_USER).first()
    if user is None:
        user = User(username=BENCH_USER, full_name="指标基准填报员")
        user.set_unusable_password()
        user.save()
    if options.reuse:
        write("")
        write("Reusing the kept synthetic province …")
        province = find_province()
    else:
        write("")
        write(f"Building {options.counties:,} counties, {options.alliances:,} alliances, {options.institutions:,} "
              f"institutions, {options.elements} elements ({CATALOGUE_ELEMENTS} of the catalogue), {options.months} "
              f"months via {'COPY' if can_copy() else 'bulk_create'} …")
        started = time.perf_counter()
        province = Builder(options, write, today).build()
        built = time.perf_counter() - started
        analysed = analyze()
        write(f"  built in {built:.1f} s" + (f", then ANALYZE {analysed:.1f} s" if analysed else ""))
    counties = province.county_ids
    quarter = province.quarter
    last_year = quarter.same_period_last_year
    units = {"institution": sum(len(c.institutions) for c in province.counties),
             "alliance": sum(len(c.alliances) for c in province.counties), "county": len(counties)}
    write(f"  province: {units['county']:,} counties, {units['alliance']:,} alliances, {units['institution']:,} "
          f"institutions, {len(province.elements)} elements, months {province.months[0]}–{province.months[-1]}, "
          f"{province.filings:,} filings, {province.values:,} values; {province.moves} institutions move alliance "
          f"within the quarters measured")
    indicators = list(Indicator.objects.filter(county=None, is_active=True).order_by("order", "code"))
    needs = needed(indicators, counties, quarter)
    write(f"  evaluating {quarter} (and {last_year} for the direction targets): {len(indicators)} catalogue "
          f"indicators; elements read: " + ", ".join(f"{p} {len(e)}" for p, e in needs.items()))
    write("")

    write(f"Measuring (median of {RUNS} interleaved runs after 1 warm-up) …")
    funcs = {"evaluation": lambda: evaluate(indicators, counties, quarter),
             "floor": lambda: floor_read(quarter, needs[quarter], counties)}
    if last_year in needs:
        funcs["floor_ly"] = lambda: floor_read(last_year, needs[last_year], counties)
    measured = timed(funcs)
    evaluation_timing, evaluation = measured["evaluation"]
    floor_timing, floor_rows = measured["floor"]
    floor_ly_timing, floor_ly_rows = measured.get("floor_ly", (Timing(0.0, [0.0], 0), 0))
    both = floor_timing.seconds + floor_ly_timing.seconds
    write(f"  (1) full evaluation {_s(evaluation_timing.seconds)} s (runs "
          f"{', '.join(_s(s) for s in evaluation_timing.runs)}); {evaluation.count:,} results")
    write(f"  (2) floor, {quarter} {_s(floor_timing.seconds)} s (runs {', '.join(_s(s) for s in floor_timing.runs)}); "
          f"{floor_rows:,} rows")
    write(f"      floor, {last_year} {_s(floor_ly_timing.seconds)} s (runs "
          f"{', '.join(_s(s) for s in floor_ly_timing.runs)}); {floor_ly_rows:,} rows")
    naive = naive_loop(province, needs, options.sample)
    sampled = sum(naive.units.values())
    write(f"  (3) naive ORM loop on {sampled} units: {_s(naive.seconds)} s, {naive.queries:,} queries; scaled to "
          f"{sum(units.values()):,} units {_s(naive.scaled)} s")
    checked, equal = cross_check(evaluation, naive, province, indicators)
    sizes = query_counts(indicators, counties, quarter)
    save = filing_save(province, user)
    peak = peak_memory(lambda: evaluate(indicators, counties, quarter))
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    write("")
    write(f"Results: quarter {quarter}, {units['county']:,} counties / {units['alliance']:,} alliances / "
          f"{units['institution']:,} institutions, {province.values:,} values")
    evaluation_seconds = evaluation_timing.seconds
    rows = [
        ["(1) full evaluation", f"{len(indicators)} indicators × 3 levels, {quarter} + {last_year}",
         _s(evaluation_seconds), "1.00×", str(evaluation_timing.queries),
         f"{evaluation.rows_read:,} read, {evaluation.count:,} results"],
        ["(2a) floor, one quarter", f"1 grouped read of {quarter}", _s(floor_timing.seconds),
         _ratio(floor_timing.seconds, evaluation_seconds), str(floor_timing.queries), f"{floor_rows:,}"],
        ["(2b) floor, both quarters", f"{quarter} + {last_year}", _s(both), _ratio(both, evaluation_seconds),
         str(floor_timing.queries + floor_ly_timing.queries), f"{floor_rows + floor_ly_rows:,}"],
        ["(3) naive ORM loop, scaled", f"{sampled} units sampled, reads only", _s(naive.scaled),
         _ratio(naive.scaled, evaluation_seconds), f"{naive.scaled_queries:,}", f"{naive.queries:,} in the sample"],
    ]
    for line in table(["measurement", "what", "time s", "vs (1)", "queries", "rows"], rows):
        write(f"  {line}")
    write("")
    ratio_one = evaluation_seconds / floor_timing.seconds if floor_timing.seconds else 0.0
    ratio_both = evaluation_seconds / both if both else 0.0
    write(f"  evaluation / floor ({quarter}): {ratio_one:.2f}×   evaluation / floor (both quarters): "
          f"{ratio_both:.2f}×   (aim: ≤ {RATIO_AIM:g}×) — {'within' if ratio_both <= RATIO_AIM else 'ABOVE'} the "
          f"aim against the floor of the quarters it reads")
    write(f"  naive loop / evaluation: {naive.scaled / evaluation_seconds:,.0f}×" if evaluation_seconds else "")
    write(f"  cross-check: A4_16 numerator and denominator equal the naive sums for {equal} of {checked} "
          f"sampled units")
    write("")
    write("  (4) evaluation query count by size:")
    for line in table(["counties", "results", "queries"],
                      [[f"{size:,}", f"{count:,}", str(queries)] for size, count, queries in sizes], left=0):
        write(f"    {line}")
    counts = {queries for _size, _count, queries in sizes}
    write(f"    query count independent of the number of units: {'yes' if len(counts) == 1 else 'NO'} "
          f"({', '.join(str(q) for _s_, _c, q in sizes)})")
    write("")
    write(f"  (5) filing save ({save.elements} elements form):")
    write(f"    save {save.elements} new values: {save.insert[1]} queries, {save.insert[0] * 1000:,.1f} ms")
    write(f"    change all {save.elements} values: {save.update[1]} queries, {save.update[0] * 1000:,.1f} ms")
    write(f"    save 2 new values: {save.small[1]} queries, {save.small[0] * 1000:,.1f} ms")
    constant = save.insert[1] == save.small[1]
    write(f"    constant number of queries (60 values as 2): {'yes' if constant else 'NO'}")
    write("")
    write(f"  peak Python memory of one evaluation: {peak:,.1f} MB (tracemalloc); process peak RSS "
          f"{maxrss:,.0f} MB (getrusage, includes the build)")


def _ratio(seconds: float, reference: float) -> str:
    return f"{seconds / reference:,.2f}×" if reference else "—"

