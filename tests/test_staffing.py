"""Unified staffing: the pooled establishment across a transfer (编制不随人走), the 派驻 rule (title,
six months, the calendar-year cut), each talent target on a hand-counted roster, identity numbers
masked in pages, API and export with every full view logged, moves and their checks, the monthly
snapshot through the filing pipeline into the indicator engine, scope and query counts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from staffing import rules, services, targets
from staffing.models import Establishment, IdentityView, Move, Population, PostQuota, Staff
from tests.conftest import IDS

D = Decimal
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
def valid_id(seventeen: str) -> str:
    from staffing.identity import check_digit

    return seventeen + check_digit(seventeen)


def move(staff, kind, start, end=None, to=None, frm=None, pk=None):
    """An unsaved move for the pure rules."""
    return Move(staff=staff, kind=kind, start=start, end=end, to_institution_id=to, from_institution_id=frm, pk=pk)


# The 派驻 rule ------------------------------------------------------------------------------------

def test_paizhu_needs_an_intermediate_title_and_six_months_inside_the_year():
    mid = Staff(title=Staff.Title.INTERMEDIATE)
    junior = Staff(title=Staff.Title.JUNIOR)
    senior = Staff(title=Staff.Title.ASSOCIATE)
    six = move(mid, Move.Kind.SECONDMENT, date(2026, 1, 1), date(2026, 6, 30))  # exactly six months
    short = move(mid, Move.Kind.SECONDMENT, date(2026, 1, 1), date(2026, 6, 29))  # a day short
    assert rules.secondment_days(six, 2026) == 181 and rules.counts_for_paizhu(six, mid, 2026)
    assert rules.secondment_days(short, 2026) == 180 and not rules.counts_for_paizhu(short, mid, 2026)
    assert not rules.counts_for_paizhu(six, junior, 2026)  # 初级: never
    assert rules.counts_for_paizhu(six, senior, 2026)
    # Across New Year: 1 Sep 2025 – 31 May 2026 is nine months, but four in 2025 (122 days) and five in
    # 2026 (151 days): it counts in neither year.
    across = move(mid, Move.Kind.SECONDMENT, date(2025, 9, 1), date(2026, 5, 31))
    assert (rules.secondment_days(across, 2025), rules.secondment_days(across, 2026)) == (122, 151)
    assert not rules.counts_for_paizhu(across, mid, 2025) and not rules.counts_for_paizhu(across, mid, 2026)
    # 1 Jul 2025 – 31 Mar 2026: six months in 2025 (counts), three in 2026 (does not); nothing in 2027.
    late = move(mid, Move.Kind.SECONDMENT, date(2025, 7, 1), date(2026, 3, 31))
    assert rules.counts_for_paizhu(late, mid, 2025) and not rules.counts_for_paizhu(late, mid, 2026)
    assert rules.secondment_days(late, 2027) == 0 and not rules.counts_for_paizhu(late, mid, 2027)
    # 31 Aug – 28 Feb: the month-end start runs to the 28th of February in a short month.
    assert rules.add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    transfer = move(mid, Move.Kind.TRANSFER, date(2026, 1, 1))
    assert not rules.counts_for_paizhu(transfer, mid, 2026)


def test_where_a_person_works_follows_transfers_and_secondments():
    person = Staff(pk=1, institution_id=10, hired_on=date(2010, 1, 1))
    moves = [move(person, Move.Kind.TRANSFER, date(2026, 3, 1), to=20, frm=10, pk=1),
             move(person, Move.Kind.SECONDMENT, date(2026, 5, 1), date(2026, 5, 31), to=30, frm=20, pk=2)]
    person.institution_id = 20  # the transfer has begun: the roster shows where they work now
    assert rules.place_on(person, moves, date(2026, 2, 28)) == 10
    assert rules.place_on(person, moves, date(2026, 3, 1)) == 20
    assert rules.place_on(person, moves, date(2026, 5, 15)) == 30
    assert rules.place_on(person, moves, date(2026, 6, 1)) == 20


# The pooled establishment ----------------------------------------------------------------------

@pytest.mark.django_db
def test_pooled_establishment_across_a_transfer(staffing_world, as_user):
    """县人民医院: 编制 100 (公益一类 80 + 二类 20), 员额 10; 平台镇卫生院 30; 桂圩镇卫生院 20. 在编 people:
    李医生 (县人民医院) and 陈全科, 王护士 (平台镇卫生院); 赵村医 is a village doctor (not 在编).
    李医生 is transferred to 桂圩镇卫生院 on 1 Oct 2026: 县人民医院 still has him (filled 1, lent 1),
    桂圩镇卫生院 borrows him (filled 0, borrowed 1, working 1); pooled: approved 150, filled 3, vacant 147,
    nothing lent or borrowed across the alliance's boundary. A 员额备案 nurse of the hospital fills 1 of 10."""
    w = staffing_world
    for institution, class1, class2 in ((w.hospital, 80, 20), (w.centre, 30, None), (w.centre2, 20, None)):
        Establishment.objects.create(institution=institution, approved=class1)
        if class2:
            Establishment.objects.create(institution=institution, nature="class2", approved=class2)
    Establishment.objects.create(institution=w.hospital, kind="quota", nature="class2", approved=10)
    services.upsert(w.yn.pk, valid_id("44532219930303123"), {
        "name": "员额护士", "institution": w.hospital, "employment": "quota", "profession": "nurse",
        "education": "bachelor", "hired_on": date(2024, 1, 1)})
    services.record_move(w.doctor, kind=Move.Kind.TRANSFER, to=w.centre2, start=date(2026, 10, 1), end=None,
                         note="", user=w.bureau, now=NOW)
    w.doctor.refresh_from_db()
    assert (w.doctor.institution, w.doctor.home) == (w.centre2, w.hospital)  # 编制不随人走

    members = [w.hospital.pk, w.centre.pk, w.centre2.pk]
    staff = list(Staff.objects.filter(county=w.yn))
    moves = {w.doctor.pk: list(w.doctor.moves.all())}
    rows, pooled = rules.establishment(members, list(Establishment.objects.all()), staff, moves, date(2026, 11, 20))
    by = {r.institution_id: r for r in rows}
    hospital, centre, centre2 = by[w.hospital.pk], by[w.centre.pk], by[w.centre2.pk]
    assert (hospital.approved, hospital.filled, hospital.vacant, hospital.lent, hospital.borrowed,
            hospital.on_site) == (100, 1, 99, 1, 0, 0)
    assert (hospital.quota_approved, hospital.quota_filled, hospital.quota_vacant) == (10, 1, 9)
    assert hospital.by_nature == {"class1": 80, "class2": 20}
    assert (centre.filled, centre.vacant, centre.on_site) == (2, 28, 2)
    assert (centre2.filled, centre2.borrowed, centre2.on_site, centre2.vacant) == (0, 1, 1, 20)
    assert (pooled.approved, pooled.filled, pooled.vacant, pooled.lent, pooled.borrowed) == (150, 3, 147, 0, 0)
    # Before the transfer he worked at home.
    rows, _pooled = rules.establishment(members, list(Establishment.objects.all()), staff, moves, date(2026, 9, 30))
    assert {r.institution_id: (r.lent, r.borrowed) for r in rows}[w.hospital.pk] == (0, 0)

    page = as_user(w.bureau).get("/staffing/", {"county": w.yn.pk})
    text = page.content.decode()
    assert page.status_code == 200 and "第一医共体" in text and "编制不随人走" in text
    # 编制 of county-level and primary institutions, approved separately: 100 and 50.
    assert "县级医疗卫生机构小计" in text and "基层医疗卫生机构小计" in text
    subtotal = rules.subtotal([r for r in rows if r.institution_id != w.hospital.pk])
    assert (subtotal.approved, subtotal.filled, subtotal.borrowed) == (50, 2, 0)
    export = as_user(w.bureau).get("/staffing/", {"county": w.yn.pk, "alliance": w.alliance_a.pk, "format": "xlsx"})
    ws = load_workbook(BytesIO(export.content)).active
    assert ws["A1"].value == "第一医共体编制使用情况表"
    table = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=5) if r[0].value}
    assert table["县人民医院"][1:7] == [100, 1, 99, 1, 0, 0] and table["桂圩镇卫生院"][1:7] == [20, 0, 20, 0, 1, 1]
    assert table["医共体统筹合计"][1:4] == [150, 3, 147]


@pytest.mark.django_db
def test_establishment_and_posts_are_set_by_the_right_people_with_checked_input(staffing_world, as_user):
    w = staffing_world
    url = f"/staffing/institutions/{w.centre.pk}/establishment/"
    assert as_user(w.alliance_admin).post(url, {"class1": "30"}).status_code == 403  # the bureau approves 编制
    assert as_user(w.outsider).post(url, {"class1": "30"}).status_code == 404
    bad = as_user(w.bureau).post(url, {"class1": "三十"}, follow=True).content.decode()
    assert "平台镇卫生院：未保存" in bad and not Establishment.objects.exists()
    as_user(w.bureau).post(url, {"class1": "30", "quota": "5", "document": "郁编〔2026〕3号"})
    assert {(e.kind, e.nature, e.approved) for e in Establishment.objects.all()} == {
        ("establishment", "class1", 30), ("quota", "class2", 5)}
    posts = f"/staffing/institutions/{w.centre.pk}/posts/"
    assert as_user(w.filer).post(posts, {"post_professional_senior": "2"}).status_code == 403
    bad = as_user(w.alliance_admin).post(posts, {"post_professional_senior": "-1"}, follow=True).content.decode()
    assert "不是整数" in bad and not PostQuota.objects.exists()
    as_user(w.alliance_admin).post(posts, {"post_professional_senior": "2", "post_professional_intermediate": "6"})
    assert {(q.grade, q.quota) for q in PostQuota.objects.all()} == {("senior", 2), ("intermediate", 6)}
    text = as_user(w.alliance_admin).get("/staffing/").content.decode()
    assert "1 / 2" in text  # 陈全科 (副高级) fills one of two senior posts


# Moves -----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_moves_are_checked_and_recorded(staffing_world, as_user):
    w = staffing_world
    hr = as_user(w.hr_hospital)
    url = f"/staffing/staff/{w.doctor.pk}/moves/new/"
    outside = hr.post(url, {"kind": "secondment", "to_institution": w.centre_b.pk, "start": "2026-01-01",
                            "end": "2026-12-31"}, follow=True).content.decode()
    assert "通门镇卫生院在2026-01-01不是县人民医院所在医共体的成员单位" in outside and not Move.objects.exists()
    no_end = hr.post(url, {"kind": "secondment", "to_institution": w.centre.pk, "start": "2026-01-01"},
                     follow=True).content.decode()
    assert "派驻须填写结束日期" in no_end and not Move.objects.exists()
    assert hr.post(url, {"kind": "secondment", "to_institution": w.centre.pk, "start": "2026-01-01",
                         "end": "2026-07-31", "note": "对口帮扶"}).status_code == 302
    clash = hr.post(url, {"kind": "secondment", "to_institution": w.centre2.pk, "start": "2026-07-01",
                          "end": "2026-09-30"}, follow=True).content.decode()
    assert "与派驻到平台镇卫生院（2026-01-01至2026-07-31）重叠" in clash and Move.objects.count() == 1
    assert as_user(w.hr_alliance).post(f"/staffing/staff/{w.nurse.pk}/moves/new/", {
        "kind": "county_hire", "to_institution": w.centre2.pk, "start": "2026-02-01"}, follow=True).status_code == 200
    assert not Move.objects.filter(kind="county_hire").exists()  # 县聘乡用 starts at a county hospital
    # Who: HR of the hospital cannot move a centre's nurse; the outsider sees nothing.
    assert hr.post(f"/staffing/staff/{w.nurse.pk}/moves/new/", {}).status_code == 404
    assert as_user(w.outsider).post(url, {}).status_code == 404
    assert as_user(w.filer).post(f"/staffing/staff/{w.nurse.pk}/moves/new/", {}).status_code == 403
    detail = hr.get(f"/staffing/staff/{w.doctor.pk}/").content.decode()
    assert "对口帮扶" in detail and "212" in detail  # 1 Jan – 31 Jul 2026: 212 days, counts (中级, 7 months)
    listing = hr.get("/staffing/moves/", {"year": 2026}).content.decode()
    assert "李医生" in listing and "1项派驻计入派驻指标" in listing


# The talent targets ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_each_target_metric_on_a_hand_counted_roster(staffing_world, as_user):
    """On 20 Nov 2026, 郁南县 with 10,000 residents. Primary care (平台镇卫生院 and its village clinic):
    陈全科 (GP, 副高, 本科), 王护士 (nurse, college), 赵村医 (village doctor: other), plus 3 more doctors of
    平台镇卫生院 — 中医 (中级, 大专), physician (no title, 中专), physician (初级, 本科) — and 2 nurses; 李医生
    (县人民医院, 中级, 本科) seconded to 平台镇卫生院 1 Jun – 31 Dec 2026 counts there. So primary: 9 people,
    doctors 5 (陈全科, 中医, 2 physicians, 李医生), nurses 3, GPs 1 (county-wide 1).
    per 1,000 = 9 / 10,000 × 1,000 = 0.90; GPs per 10,000 = 1.00; nurses per doctor = 3/5 = 0.60;
    大专+ doctors: 陈全科, 中医, 本科 physician, 李医生 = 4/5 = 80 %; 本科+: 陈全科, 本科 physician, 李医生
    = 60 %; 中级+: 陈全科, 中医, 李医生 = 60 %; 高级: 陈全科 = 20 %. A person who left is not counted."""
    w = staffing_world
    Population.objects.create(county=w.yn, year=2026, residents=10000)
    extra = [("44532219800101001", "tcm", "intermediate", "college", "doctor"),
             ("44532219800101002", "doctor", "none", "secondary", "doctor"),
             ("44532219800101003", "doctor", "junior", "bachelor", "doctor"),
             ("44532219800101004", "nurse", "junior", "college", "nurse"),
             ("44532219800101005", "nurse", "none", "secondary", "nurse")]
    for n, (seventeen, profession, title, education, _kind) in enumerate(extra):
        services.upsert(w.yn.pk, valid_id(seventeen), {
            "name": f"平台{n}", "institution": w.centre, "employment": "contract", "profession": profession,
            "title": title, "education": education, "hired_on": date(2020, 1, 1)})
    services.upsert(w.yn.pk, valid_id("44532219800101006"), {
        "name": "已离职", "institution": w.centre, "employment": "contract", "profession": "gp",
        "education": "bachelor", "hired_on": date(2015, 1, 1), "left_on": date(2026, 6, 30)})
    services.record_move(w.doctor, kind=Move.Kind.SECONDMENT, to=w.centre, start=date(2026, 6, 1),
                         end=date(2026, 12, 31), note="", user=w.hr_hospital, now=NOW)
    values, primary, everyone, residents = targets.county_metrics(w.yn, date(2026, 11, 20))
    assert (primary["ST_STAFF"], primary["ST_DOCTORS"], primary["ST_NURSES"], everyone["ST_GPS"]) == (9, 5, 3, 1)
    assert primary["ST_PAIZHU"] == 1 and residents == 10000
    assert values == {"PRIMARY_STAFF": D(9), "PRIMARY_PER_1000": D("0.90"), "GP_PER_10000": D("1.00"),
                      "NURSES_PER_DOCTOR": D("0.60"), "DOC_COLLEGE": D("80.00"), "DOC_BACHELOR": D("60.00"),
                      "DOC_MID": D("60.00"), "DOC_SENIOR": D("20.00")}
    # On 31 May the secondment had not begun (李医生 was the hospital's) and 已离职 (a GP, 本科, no title) was
    # still there: 9 people, 5 doctors, 中级+ 陈全科 and 中医 = 40 %; GPs 2 → 2.00 per 10,000.
    before, primary_before, _everyone, _res = targets.county_metrics(w.yn, date(2026, 5, 31))
    assert (primary_before["ST_STAFF"], primary_before["ST_DOCTORS"], primary_before["ST_PAIZHU"]) == (9, 5, 0)
    assert (before["DOC_MID"], before["GP_PER_10000"]) == (D("40.00"), D("2.00"))
    # The page and its export show the targets of today: 20 November 2026, as counted above.
    with time_machine.travel(NOW, tick=False):
        page = as_user(w.bureau).get("/staffing/targets/", {"county": w.yn.pk}).content.decode()
        export = as_user(w.bureau).get("/staffing/targets/", {"county": w.yn.pk, "format": "xlsx"})
    assert "每千人口基层卫生人员数" in page and "0.90" in page and "80.00%" in page and "未达标" in page
    rows = {r[0].value: [c.value for c in r] for r in load_workbook(BytesIO(export.content)).active.iter_rows(min_row=4)
            if r[0].value}
    assert rows["基层医护比（每名医师对应护士数）"][3] == 0.6 and rows["基层医师高级职称占比"][3] == 20


@pytest.mark.django_db
def test_the_monthly_snapshot_goes_through_the_filing_pipeline_into_the_indicators(staffing_world):
    """The snapshot of November 2026 files the roster's counts per institution (平台镇卫生院 with its village
    clinic's doctor: 3 people) and the population; the engine then computes the targets' indicators.
    A second run writes nothing; a change of the roster is written and audited."""
    from core.periods import Period
    from indicators.catalog import install_catalog, install_forms
    from indicators.engine import Engine, Units
    from indicators.models import DataValue, Filing, Indicator, ValueAudit
    from staffing.snapshot import snapshot

    w = staffing_world
    install_catalog()
    install_forms(w.yn, first_period="2026-01")
    Population.objects.create(county=w.yn, year=2026, residents=10000)
    month = Period.parse("2026-11")
    stats = snapshot(w.yn, month)
    assert stats["filings"] == 6  # 5 filing institutions + the county's population
    centre = {v.element.code: v.value for v in DataValue.objects.filter(institution=w.centre, period="2026-11")
              .select_related("element")}
    assert (centre["ST_STAFF"], centre["ST_DOCTORS"], centre["ST_NURSES"], centre["ST_GPS"]) == (3, 1, 1, 1)
    assert Filing.objects.filter(form__code="STAFFING", period="2026-11", status="approved").count() == 5
    assert snapshot(w.yn, month)["values"] == 0  # nothing changed
    services.upsert(w.yn.pk, IDS["nurse"], {"title": "intermediate"})  # no count changes
    services.upsert(w.yn.pk, valid_id("44532219910101007"), {
        "name": "新护士", "institution": w.centre, "employment": "contract", "profession": "nurse",
        "education": "bachelor", "hired_on": date(2026, 11, 1)})
    assert snapshot(w.yn, month)["values"] == 2  # ST_STAFF and ST_NURSES of 平台镇卫生院
    audit = ValueAudit.objects.filter(element__code="ST_NURSES", filing__institution=w.centre).order_by("-pk").first()
    assert (audit.old_value, audit.new_value, audit.source) == (D(1), D(2), "derive")
    indicators = list(Indicator.objects.filter(county=None, code__in=["T3_PRIMARY_PER_1000", "T3_NURSES_PER_DOCTOR",
                                                                       "T3_GP_PER_10000"]))
    result = Engine(indicators, [w.yn.pk]).compute(month, "county", units=Units("county", [w.yn.pk],
                                                                                 {w.yn.pk: w.yn.pk}))
    by_code = {i.code: result[(i.pk, w.yn.pk)].value for i in indicators}
    # primary: 平台镇卫生院 4 people (3 + 新护士), doctors 1, nurses 2; GPs 1; 10,000 residents
    assert by_code == {"T3_PRIMARY_PER_1000": D("0.4"), "T3_NURSES_PER_DOCTOR": D(2), "T3_GP_PER_10000": D(1)}


# Identity numbers --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_identity_numbers_are_masked_everywhere_and_full_views_are_logged(staffing_world, as_user):
    w = staffing_world
    assert "445322198503152012" not in str(Staff.objects.filter(pk=w.doctor.pk).values().get())  # encrypted at rest
    for user in (w.bureau, w.alliance_admin, w.hr_hospital, w.city):
        text = as_user(user).get("/staffing/roster/").content.decode()
        assert "4453**********2012" in text and "445322198503152012" not in text
    # The page: HR of the hospital sees 李医生's number whole; the bureau (not HR) and HR of the hospital for
    # a centre's nurse do not.
    hr = as_user(w.hr_hospital)
    assert "显示完整号码" in hr.get(f"/staffing/staff/{w.doctor.pk}/").content.decode()
    full = hr.post(f"/staffing/staff/{w.doctor.pk}/identity/")
    assert full.status_code == 200 and "445322198503152012" in full.content.decode()
    assert as_user(w.bureau).post(f"/staffing/staff/{w.doctor.pk}/identity/").status_code == 403
    assert hr.post(f"/staffing/staff/{w.nurse.pk}/identity/").status_code == 404  # not the hospital's
    assert as_user(w.hr_alliance).post(f"/staffing/staff/{w.nurse.pk}/identity/").status_code == 200
    assert as_user(w.outsider).post(f"/staffing/staff/{w.doctor.pk}/identity/").status_code == 404
    # The API: masked in lists; the identity action for HR only, logged.
    listing = as_user(w.alliance_admin).get("/api/staff/").json()
    rows = listing["results"] if isinstance(listing, dict) else listing
    assert {r["identity_number"] for r in rows} >= {"4453**********2012"}
    assert all("445322" + "19" not in r["identity_number"] for r in rows)
    assert as_user(w.alliance_admin).get(f"/api/staff/{w.doctor.pk}/identity/").status_code == 403
    api = as_user(w.hr_county).get(f"/api/staff/{w.doctor.pk}/identity/")
    assert api.json() == {"id": w.doctor.pk, "identity_number": "445322198503152012"}
    assert as_user(w.outsider).get(f"/api/staff/{w.doctor.pk}/").status_code == 404
    # The export: masked for the alliance office, whole for HR of the hospital (its one person), each logged.
    office = load_workbook(BytesIO(as_user(w.alliance_admin).get("/staffing/roster/export.xlsx").content)).active
    numbers = [r[2].value for r in office.iter_rows(min_row=4) if r[1].value and r[0].value != "序号"]
    assert "4453**********2012" in numbers and "445322198503152012" not in numbers
    mine = load_workbook(BytesIO(hr.get("/staffing/roster/export.xlsx").content)).active
    numbers = [r[2].value for r in mine.iter_rows(min_row=4) if r[1].value]
    assert "445322198503152012" in numbers
    log = list(IdentityView.objects.order_by("pk").values_list("user__username", "staff__name", "channel"))
    assert log == [("yn_rmyy_hr", "李医生", "page"), ("yn_gt1_hr", "王护士", "page"), ("yn_hr", "李医生", "api"),
                   ("yn_rmyy_hr", "李医生", "export")]


@pytest.mark.django_db
def test_roster_scope_and_constant_queries(staffing_world, as_user):
    w = staffing_world
    filer = as_user(w.filer).get("/staffing/roster/").content.decode()  # 平台镇卫生院's filer: its own people
    assert "王护士" in filer and "赵村医" in filer and "李医生" not in filer
    assert "万源员工" not in as_user(w.bureau).get("/staffing/roster/").content.decode()
    assert "李医生" not in as_user(w.outsider).get("/staffing/roster/").content.decode()
    assert as_user(w.outsider).get(f"/staffing/staff/{w.doctor.pk}/").status_code == 404
    assert as_user(w.nobody).get("/staffing/roster/").status_code == 404
    client = as_user(w.bureau)

    def count(url, params=None):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, params or {}).status_code == 200
        return len(queries)

    urls = [("/staffing/roster/", None), ("/staffing/", {"county": w.yn.pk}), ("/staffing/moves/", None),
            ("/staffing/targets/", {"county": w.yn.pk})]
    before = [count(u, p) for u, p in urls]
    for n in range(12):
        person = services.upsert(w.yn.pk, valid_id(f"445322199201{n + 10:02d}456"), {
            "name": f"新人{n}", "institution": w.centre2 if n % 2 else w.hospital, "employment": "established",
            "profession": "nurse", "education": "college", "hired_on": date(2020, 1, 1)})[0]
        if n % 3 == 0:
            services.record_move(person, kind=Move.Kind.SECONDMENT, to=w.centre, start=date(2026, 1, 1),
                                 end=date(2026, 12, 31), note="", user=w.bureau, now=NOW)
    assert [count(u, p) for u, p in urls] == before


def test_identity_numbers_are_checked():
    from staffing import identity

    assert identity.problem("445322198503152012") is None
    assert "校验位" in str(identity.problem("445322198503152013"))
    assert "出生日期" in str(identity.problem("445322198502302016"))
    assert "18" in str(identity.problem("4453221985"))
    assert identity.mask("445322198503152012") == "4453**********2012"


@pytest.mark.django_db
def test_a_move_needs_the_same_alliance(staffing_world):
    w = staffing_world
    with pytest.raises(ValidationError) as exc:
        services.record_move(w.doctor, kind=Move.Kind.TRANSFER, to=w.other_centre, start=date(2026, 1, 1), end=None,
                             note="", user=None, now=NOW)
    assert "to_institution" in exc.value.message_dict


@pytest.mark.django_db
def test_the_nightly_job_files_last_month_until_it_is_due(staffing_world):
    """On the night of 3 December November is filed; the night after its due day November stays as it was
    filed even though the roster changed."""

    from core.periods import Period
    from indicators.catalog import install_catalog, install_forms
    from indicators.models import DataValue, ReportForm
    from staffing import jobs

    w = staffing_world
    install_catalog()
    install_forms(w.yn, first_period="2026-01")
    due = ReportForm.objects.get(county=w.yn, code="STAFFING").due_date(Period.parse("2026-11"))
    with time_machine.travel(datetime(2026, 12, 3, 1, 20, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        result = jobs.snapshot()
    assert result["counties"] == 1 and result["filings"] == 5
    assert DataValue.objects.get(institution=w.centre, period="2026-11", element__code="ST_STAFF").value == 3
    services.upsert(w.yn.pk, valid_id("44532219910101008"), {
        "name": "后来者", "institution": w.centre, "employment": "contract", "profession": "nurse",
        "education": "college", "hired_on": date(2026, 11, 5)})
    after_due = datetime(due.year, due.month, due.day, 1, 20, tzinfo=ZoneInfo("Asia/Shanghai")) + timedelta(days=1)
    with time_machine.travel(after_due, tick=False):
        assert jobs.snapshot() == {"counties": 0, "filings": 0, "values": 0}
    assert DataValue.objects.get(institution=w.centre, period="2026-11", element__code="ST_STAFF").value == 3


@pytest.mark.django_db
def test_contract_reminders_go_to_the_hr_officers_60_and_30_days_before_once(staffing_world, mailoutbox):
    """王护士's contract (平台镇卫生院) ends on 15 January 2027: on 16 November 2026 (60 days before) the HR
    officers of 第一医共体 and of 郁南县 are told — not the hospital's; again from 16 December (30 days);
    each only once, and a missed night is caught up."""
    from staffing import jobs
    from staffing.models import ContractReminder

    w = staffing_world
    for user, address in ((w.hr_hospital, "rmyy@yn.example.org"), (w.hr_alliance, "gt1@yn.example.org"),
                          (w.hr_county, "hr@yn.example.org")):
        user.email = address
        user.save()

    def at(day):
        return time_machine.travel(datetime(2026, day[0], day[1], 7, 40, tzinfo=ZoneInfo("Asia/Shanghai")),
                                   tick=False)

    with at((11, 15)):
        assert jobs.contract_reminders() == {"people": 0, "emails": 0}
    with at((11, 17)):  # the 16th was missed: caught up
        assert jobs.contract_reminders() == {"people": 1, "emails": 2}
    assert sorted(m.to[0] for m in mailoutbox) == ["gt1@yn.example.org", "hr@yn.example.org"]
    assert "王护士（平台镇卫生院）：合同于2027年1月15日到期，还有59天" in mailoutbox[0].body
    assert mailoutbox[0].subject == "【医共体治理门户】劳动合同即将到期提醒（1人）"
    with at((11, 18)):
        assert jobs.contract_reminders() == {"people": 0, "emails": 0}
    with at((12, 16)):
        assert jobs.contract_reminders() == {"people": 1, "emails": 2}
    assert list(ContractReminder.objects.order_by("lead_days").values_list("lead_days", "recipients")) == [
        (30, 2), (60, 2)]
