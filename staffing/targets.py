"""The talent targets of seed 001 附件3 (郁南县基层卫生人才队伍增量提质实施方案 2019–2022), counted from
the roster and the county's resident population:

- 基层卫生人员数 1887 → 2107; 每千人口基层卫生人员数 1.93 → 2.34;
- 每万人口全科医生数 1.96 → 3 (the county's GPs, wherever they work);
- 医护比 not below 1 : 1.25 (基层: nurses per doctor ≥ 1.25);
- 基层医师 with 大专 or above 31.2 % → 38 %, 本科 or above 20.1 % → 26.1 %, 中级 or above title
  10.01 % → 15 %, 高级 title 6.26 % → 9 % (the seed names 基层医师 for the education shares; we count the
  title shares over the same doctors — ours, marked as derived).

基层 (primary care) = central, township and community health centres and village clinics; people are
counted where they work on the day (a doctor seconded from the lead hospital to a township centre
counts there while the secondment lasts: 技术人员下沉). 医师 = physicians, GPs and TCM physicians.

``counts`` reads the county in three queries; the same per-institution counts are what the monthly
snapshot files into the filing pipeline (``staffing.snapshot``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from alliances.models import Institution, Region
from staffing import rules
from staffing.models import Move, Population, Staff

PRIMARY_KINDS = (Institution.Kind.CENTRAL_HEALTH_CENTRE, Institution.Kind.TOWNSHIP_HEALTH_CENTRE,
                 Institution.Kind.COMMUNITY_HEALTH_CENTRE, Institution.Kind.VILLAGE_CLINIC)

# The counts per institution, as data elements of the 人员配置月报 (code, name).
COUNT_ELEMENTS = [
    ("ST_STAFF", "卫生人员数（花名册）"),
    ("ST_DOCTORS", "医师数（含全科、中医）"),
    ("ST_NURSES", "护士数"),
    ("ST_GPS", "全科医生数（花名册）"),
    ("ST_TCM", "中医类别医师数"),
    ("ST_DOC_COLLEGE", "大专及以上学历医师数"),
    ("ST_DOC_BACHELOR", "本科及以上学历医师数"),
    ("ST_DOC_MID", "中级及以上职称医师数"),
    ("ST_DOC_SENIOR", "高级职称医师数"),
    ("ST_PAIZHU", "派驻人员数（中级以上、本年满六个月）"),
]
CODES = [code for code, _name in COUNT_ELEMENTS]


@dataclass(frozen=True)
class Target:
    code: str
    label: str
    unit: str
    baseline: Decimal | None
    goal: Decimal
    decimals: int
    note: str = ""


TARGETS = [
    Target("PRIMARY_STAFF", "基层卫生人员数", "人", Decimal(1887), Decimal(2107), 0),
    Target("PRIMARY_PER_1000", "每千人口基层卫生人员数", "人", Decimal("1.93"), Decimal("2.34"), 2),
    Target("GP_PER_10000", "每万人口全科医生数", "人", Decimal("1.96"), Decimal(3), 2),
    Target("NURSES_PER_DOCTOR", "基层医护比（每名医师对应护士数）", "", None, Decimal("1.25"), 2,
           "医护比不低于1：1.25"),
    Target("DOC_COLLEGE", "基层医师大专及以上学历占比", "%", Decimal("31.2"), Decimal(38), 2),
    Target("DOC_BACHELOR", "基层医师本科及以上学历占比", "%", Decimal("20.1"), Decimal("26.1"), 2),
    Target("DOC_MID", "基层医师中级及以上职称占比", "%", Decimal("10.01"), Decimal(15), 2, "口径：基层医师（派生）"),
    Target("DOC_SENIOR", "基层医师高级职称占比", "%", Decimal("6.26"), Decimal(9), 2, "口径：基层医师（派生）"),
]


class Person(NamedTuple):
    """The fields of a staff member the counts read (cheaper than model instances, same attributes)."""

    pk: int
    institution_id: int
    profession: str
    education: str
    title: str


def _add(bucket: dict[str, int], person: Person, paizhu: bool) -> None:
    bucket["ST_STAFF"] += 1
    if paizhu:
        bucket["ST_PAIZHU"] += 1
    if person.profession == Staff.Profession.NURSE:
        bucket["ST_NURSES"] += 1
    if person.profession == Staff.Profession.GP:
        bucket["ST_GPS"] += 1
    if person.profession not in Staff.DOCTORS:
        return
    bucket["ST_DOCTORS"] += 1
    if person.profession == Staff.Profession.TCM:
        bucket["ST_TCM"] += 1
    if person.education in Staff.COLLEGE_OR_ABOVE:
        bucket["ST_DOC_COLLEGE"] += 1
    if person.education in Staff.BACHELOR_OR_ABOVE:
        bucket["ST_DOC_BACHELOR"] += 1
    if person.title in Staff.MID_OR_ABOVE:
        bucket["ST_DOC_MID"] += 1
    if person.title in Staff.SENIOR_TITLES:
        bucket["ST_DOC_SENIOR"] += 1


def counts(county: Region, day: date) -> dict[int, dict[str, int]]:
    """{institution id: {element code: count}} of the people working at each institution of ``county``
    on ``day`` (village clinics' people under their own id). Three queries."""
    staff = [Person(*row) for row in Staff.objects.filter(county=county, hired_on__lte=day).exclude(left_on__lte=day)
             .values_list("pk", "institution_id", "profession", "education", "title")]
    moves: dict[int, list[Move]] = defaultdict(list)
    for move in Move.objects.filter(county=county, start__lte=day):
        moves[move.staff_id].append(move)
    result: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CODES, 0))
    for person in staff:
        own = moves.get(person.pk, [])
        where = rules.place_on(person, own, day)
        paizhu = any(m.kind == Move.Kind.SECONDMENT and m.start <= day <= m.end and m.to_institution_id == where
                     and rules.counts_for_paizhu(m, person, day.year) for m in own)
        _add(result[where], person, paizhu)
    return dict(result)


def population(county: Region, year: int) -> int | None:
    """The newest resident population of ``year`` or before."""
    row = Population.objects.filter(county=county, year__lte=year).order_by("-year").first()
    return row.residents if row else None


def _ratio(numerator, denominator, factor: int, decimals: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * factor / Decimal(denominator)).quantize(Decimal(1).scaleb(-decimals),
                                                                         rounding=ROUND_HALF_UP)


def metrics(primary: dict[str, int], everyone: dict[str, int], residents: int | None) -> dict[str, Decimal | None]:
    """The target metrics from the totals of primary-care institutions and of the whole county."""
    doctors = primary.get("ST_DOCTORS", 0)
    return {
        "PRIMARY_STAFF": Decimal(primary.get("ST_STAFF", 0)),
        "PRIMARY_PER_1000": _ratio(primary.get("ST_STAFF", 0), residents, 1000, 2),
        "GP_PER_10000": _ratio(everyone.get("ST_GPS", 0), residents, 10000, 2),
        "NURSES_PER_DOCTOR": _ratio(primary.get("ST_NURSES", 0), doctors, 1, 2),
        "DOC_COLLEGE": _ratio(primary.get("ST_DOC_COLLEGE", 0), doctors, 100, 2),
        "DOC_BACHELOR": _ratio(primary.get("ST_DOC_BACHELOR", 0), doctors, 100, 2),
        "DOC_MID": _ratio(primary.get("ST_DOC_MID", 0), doctors, 100, 2),
        "DOC_SENIOR": _ratio(primary.get("ST_DOC_SENIOR", 0), doctors, 100, 2),
    }


def totals(by_institution: dict[int, dict[str, int]], kinds: dict[int, str]) -> tuple[dict[str, int], dict[str, int]]:
    """(primary-care totals, county totals) of per-institution counts."""
    primary, everyone = dict.fromkeys(CODES, 0), dict.fromkeys(CODES, 0)
    for institution_id, values in by_institution.items():
        for code, value in values.items():
            everyone[code] += value
            if kinds.get(institution_id) in PRIMARY_KINDS:
                primary[code] += value
    return primary, everyone


def county_metrics(county: Region, day: date) -> tuple[dict[str, Decimal | None], dict[str, int], dict[str, int],
                                                        int | None]:
    """The metrics of ``county`` on ``day`` with the totals they come from and the population. Five queries."""
    by_institution = counts(county, day)
    kinds = dict(Institution.objects.filter(county=county).values_list("pk", "kind"))
    primary, everyone = totals(by_institution, kinds)
    residents = population(county, day.year)
    return metrics(primary, everyone, residents), primary, everyone, residents


def met(target: Target, value: Decimal | None) -> bool | None:
    return None if value is None else value >= target.goal
