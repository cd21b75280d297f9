"""Demo staffing for the demo counties: a roster shaped like the seed's (郁南县's primary care around
two thousand people between 附件3's baseline and its goals: about a third of the doctors with 大专 or
more, few senior titles, fewer nurses than 1.25 per doctor), the establishment and post quotas
approved a little above what is filled, secondments from the lead hospitals to township centres,
a transfer, a 县聘乡用, this year's recruitment plans and training, the resident population, and
this year's monthly snapshots through the filing pipeline.

Names and identity numbers are invented (sample data); the numbers pass the GB 11643 check. Running
it again changes nothing."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from alliances.models import Alliance, AllianceMembership, Institution, Region
from core.demo import DemoReport
from core.periods import Period, PeriodKind
from indicators.models import ReportForm
from staffing import identity
from staffing.models import (
    Establishment,
    Move,
    Population,
    PostQuota,
    PostType,
    RecruitmentPlan,
    Staff,
    TrainingRecord,
)
from staffing.snapshot import COUNTY_FORM, FORM, snapshot

COUNTIES = {"郁南县": [(2024, 962000), (2025, 958000), (2026, 955000)],
            "万源市": [(2024, 468000), (2025, 463000), (2026, 459000)]}
SURNAMES = "陈李黄张梁林何罗郑谢邓冯叶刘吴莫蔡区苏潘朱卢胡钟曾"
GIVEN = "志伟秀玲建华晓敏国强丽娟海燕少芬家辉雪梅永康美华立新文杰慧兰振东丽珍伟明嘉欣"
FIRST_SNAPSHOT = Period.month(2026, 1)

P = Staff.Profession
HOSPITAL_MIX = [(P.DOCTOR, 30), (P.GP, 2), (P.TCM, 4), (P.NURSE, 44), (P.PHARMACIST, 5), (P.TECHNICIAN, 8),
                (P.MANAGEMENT, 4), (P.OTHER, 3)]
CENTRE_MIX = [(P.DOCTOR, 20), (P.GP, 10), (P.TCM, 5), (P.NURSE, 38), (P.PHARMACIST, 6), (P.TECHNICIAN, 9),
              (P.MANAGEMENT, 6), (P.OTHER, 6)]
E, T = Staff.Education, Staff.Title
CENTRE_EDUCATION = [(E.POSTGRADUATE, 1), (E.BACHELOR, 23), (E.COLLEGE, 14), (E.SECONDARY, 56), (E.HIGH_SCHOOL, 6)]
HOSPITAL_EDUCATION = [(E.POSTGRADUATE, 8), (E.BACHELOR, 62), (E.COLLEGE, 22), (E.SECONDARY, 8)]
CENTRE_TITLES = [(T.CHIEF, 1), (T.ASSOCIATE, 5), (T.INTERMEDIATE, 6), (T.JUNIOR, 50), (T.ASSISTANT, 20), (T.NONE, 16)]
HOSPITAL_TITLES = [(T.CHIEF, 5), (T.ASSOCIATE, 14), (T.INTERMEDIATE, 30), (T.JUNIOR, 38), (T.ASSISTANT, 5),
                   (T.NONE, 8)]


def _pick(rng: random.Random, table):
    return rng.choices([v for v, _w in table], weights=[w for _v, w in table])[0]


def _identity(rng: random.Random, county: Region, born: date, used: set[str]) -> str:
    while True:
        body = f"{county.code}{born:%Y%m%d}{rng.randint(0, 999):03d}"
        number = body + identity.check_digit(body)
        if number not in used:
            used.add(number)
            return number


def _size(institution: Institution, is_lead: bool) -> int:
    if institution.kind == Institution.Kind.VILLAGE_CLINIC:
        return 1
    if institution.kind in Institution.LEAD_KINDS:
        return 620 if is_lead else 260
    population = institution.service_population or 30000
    return max(25, int(population / 30000 * 155))


def load_demo_staffing(*, today: date, now: datetime) -> dict[str, int]:
    stats = {"staff": 0, "moves": 0, "filings": 0}
    for county in Region.objects.filter(name__in=list(COUNTIES), level=Region.Level.COUNTY):
        for year, residents in COUNTIES[county.name]:
            Population.objects.get_or_create(county=county, year=year, defaults={"residents": residents})
        # The staffing forms start with the roster (this January), whatever install_forms gave them.
        ReportForm.objects.filter(county=county, code__in=[FORM, COUNTY_FORM]).update(first_period=str(FIRST_SNAPSHOT))
        if Staff.objects.filter(county=county).exists():
            continue
        rng = random.Random(f"staffing|{county.code}")
        institutions = list(Institution.objects.filter(county=county, is_active=True).order_by("pk"))
        leads = set(AllianceMembership.objects.on(today).filter(institution__county=county, role="lead")
                    .values_list("institution_id", flat=True))
        people = _roster(rng, county, institutions, leads, today)
        Staff.objects.bulk_create(people, batch_size=500)
        stats["staff"] += len(people)
        _establishment(county, institutions, today)
        stats["moves"] += _moves(rng, county, institutions, leads, today, now)
        _plans_and_training(rng, county, today)
        stats["filings"] += _snapshots(county, today)
    return stats


def _roster(rng, county, institutions, leads, today) -> list[Staff]:
    used: set[str] = set()
    people = []
    for institution in institutions:
        if institution.kind in (Institution.Kind.CDC, Institution.Kind.OTHER):
            continue
        hospital = institution.kind in Institution.LEAD_KINDS
        village = institution.kind == Institution.Kind.VILLAGE_CLINIC
        for _n in range(_size(institution, institution.pk in leads)):
            profession = P.OTHER if village else _pick(rng, HOSPITAL_MIX if hospital else CENTRE_MIX)
            born = date(rng.randint(1962, 2001), rng.randint(1, 12), rng.randint(1, 28))
            # Most were hired long ago; a few this year (the trend rises month by month), a few left.
            if rng.random() < 0.06:
                hired = today - timedelta(days=rng.randint(0, today.timetuple().tm_yday - 1))
            else:
                hired = date(max(born.year + 20, rng.randint(1985, today.year - 1)), rng.randint(1, 12), 1)
            left = None
            if rng.random() < 0.02:
                left = today - timedelta(days=rng.randint(1, 300))
                left = max(left, hired + timedelta(days=30))
            if village:
                employment, education, title = Staff.Employment.VILLAGE_DOCTOR, E.SECONDARY, T.NONE
            else:
                employment = rng.choices([Staff.Employment.ESTABLISHED, Staff.Employment.CONTRACT,
                                          Staff.Employment.QUOTA, Staff.Employment.AGENCY],
                                         weights=[66, 24, 6 if hospital else 0, 4])[0]
                education = _pick(rng, HOSPITAL_EDUCATION if hospital else CENTRE_EDUCATION)
                title = _pick(rng, HOSPITAL_TITLES if hospital else CENTRE_TITLES)
            contract_end = None
            if employment != Staff.Employment.ESTABLISHED:
                contract_end = today + timedelta(days=rng.randint(10, 1000))  # a few end within 90 days
            number = _identity(rng, county, born, used)
            name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
            people.append(Staff(
                county=county, name=name, gender=identity.gender_of(number), **identity.protect(number),
                institution=institution, home=institution, employment=employment,
                nature=("class2" if hospital else "class1") if employment == Staff.Employment.ESTABLISHED else "",
                profession=profession,
                post_type=PostType.MANAGEMENT if profession == P.MANAGEMENT else
                PostType.SUPPORT if profession == P.OTHER and not village else PostType.PROFESSIONAL,
                title=title, education=education, hired_on=hired, contract_end=contract_end, left_on=left))
    return people


def _establishment(county, institutions, today) -> None:
    counts: dict[int, dict] = {}
    for person in Staff.objects.filter(county=county).exclude(left_on__lte=today):
        row = counts.setdefault(person.home_id, {"established": 0, "quota": 0, "posts": {}})
        if person.employment == Staff.Employment.ESTABLISHED:
            row["established"] += 1
        if person.employment == Staff.Employment.QUOTA:
            row["quota"] += 1
        key = (person.post_type, person.grade)
        row["posts"][key] = row["posts"].get(key, 0) + 1
    approvals, quotas = [], []
    for institution in institutions:
        row = counts.get(institution.pk)
        if not row or institution.kind == Institution.Kind.VILLAGE_CLINIC:
            continue
        hospital = institution.kind in Institution.LEAD_KINDS
        approvals.append(Establishment(county=county, institution=institution, approved=int(row["established"] * 1.08) + 2,
                                       nature="class2" if hospital else "class1", document="郁编〔2024〕12号"))
        if row["quota"]:
            approvals.append(Establishment(county=county, institution=institution, kind="quota", nature="class2",
                                           approved=row["quota"] + 5, document="郁编〔2024〕12号"))
        for (post_type, grade), filled in row["posts"].items():
            quotas.append(PostQuota(county=county, institution=institution, post_type=post_type, grade=grade,
                                    quota=int(filled * 1.1) + 1))
    Establishment.objects.bulk_create(approvals)
    PostQuota.objects.bulk_create(quotas)


def _moves(rng, county, institutions, leads, today, now) -> int:
    by_pk = {i.pk: i for i in institutions}
    moves = []
    for alliance in Alliance.objects.filter(county=county, is_active=True):
        members = list(AllianceMembership.objects.on(today).filter(alliance=alliance).values_list("institution_id",
                                                                                               flat=True))
        lead = next((pk for pk in members if pk in leads), None)
        centres = [pk for pk in members if by_pk.get(pk) and by_pk[pk].kind in Institution.PARENT_KINDS]
        if lead is None or not centres:
            continue
        doctors = list(Staff.objects.filter(institution_id=lead, profession__in=Staff.DOCTORS,
                                            title__in=[T.ASSOCIATE, T.INTERMEDIATE, T.JUNIOR],
                                            left_on__isnull=True).order_by("pk")[:6])
        for n, doctor in enumerate(doctors[:4]):
            start = date(today.year, 1 + 2 * n, 1)
            end = start + timedelta(days=[365, 200, 150, 240][n])
            moves.append(Move(county=county, staff=doctor, kind=Move.Kind.SECONDMENT, from_institution_id=lead,
                              to_institution_id=centres[n % len(centres)], start=start, end=end,
                              note="组团式帮扶，派驻基层", created_at=now))
        if len(doctors) > 4:
            transfer = doctors[4]
            moves.append(Move(county=county, staff=transfer, kind=Move.Kind.TRANSFER, from_institution_id=lead,
                              to_institution_id=centres[0], start=date(today.year, 3, 1), note="医共体内调动",
                              created_at=now))
            Staff.objects.filter(pk=transfer.pk).update(institution_id=centres[0])
        if len(doctors) > 5 and by_pk[lead].kind in Institution.LEAD_KINDS:
            hire = doctors[5]
            moves.append(Move(county=county, staff=hire, kind=Move.Kind.COUNTY_HIRE, from_institution_id=lead,
                              to_institution_id=centres[-1], start=date(today.year, 5, 1), note="县聘乡用",
                              created_at=now))
            Staff.objects.filter(pk=hire.pk).update(institution_id=centres[-1])
    Move.objects.bulk_create(moves)
    return len(moves)


def _plans_and_training(rng, county, today) -> None:
    plans, trainings = [], []
    for alliance in Alliance.objects.filter(county=county, is_active=True):
        members = list(AllianceMembership.objects.on(today).filter(alliance=alliance).select_related("institution"))
        for membership in members[:4]:
            institution = membership.institution
            hospital = institution.kind in Institution.LEAD_KINDS
            planned = rng.randint(2, 6) if hospital else rng.randint(1, 3)
            status = rng.choice([RecruitmentPlan.Status.DONE, RecruitmentPlan.Status.ADVERTISED,
                                 RecruitmentPlan.Status.APPROVED])
            plans.append(RecruitmentPlan(
                county=county, alliance=alliance, institution=institution, year=today.year,
                post="临床医师" if hospital else "临床医师（全科）", profession=P.DOCTOR if hospital else P.GP,
                planned=planned, hired=planned if status == RecruitmentPlan.Status.DONE else 0, status=status,
                note="统一招聘，县聘乡用" if not hospital else "统一招聘"))
    candidates = list(Staff.objects.filter(county=county, profession=P.DOCTOR, left_on__isnull=True)
                      .exclude(institution__kind__in=Institution.LEAD_KINDS).order_by("pk")[:40])
    for n, person in enumerate(candidates):
        kind = [TrainingRecord.Kind.GP_CONVERSION, TrainingRecord.Kind.ADVANCED, TrainingRecord.Kind.OTHER][n % 3]
        start = date(today.year, 1 + n % 9, 1)
        trainings.append(TrainingRecord(county=county, staff=person, kind=kind, provider="市级基层卫生人员实训基地",
                                        start=start, end=start + timedelta(days=90 if kind != "other" else 5),
                                        completed=start + timedelta(days=90) < today))
    RecruitmentPlan.objects.bulk_create(plans)
    TrainingRecord.objects.bulk_create(trainings)


def _snapshots(county, today) -> int:
    """This year's monthly snapshots up to last month (the forms start in January)."""
    last = Period.containing_date(PeriodKind.MONTH, today).previous
    filings = 0
    month = FIRST_SNAPSHOT
    while month.start <= last.start:
        filings += snapshot(county, month)["filings"]
        month = month.shift(1)
    return filings


def load_demo_part(*, now: datetime, today: date) -> DemoReport:
    """The demo roster and its monthly snapshots (``core.demo``); nothing to report."""
    load_demo_staffing(today=today, now=now)
    return DemoReport()
