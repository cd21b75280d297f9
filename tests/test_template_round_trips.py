"""Every export that doubles as an import template re-imports unchanged: as the portal wrote it, and
after LibreOffice saved it again (other cell types, styles, shared strings, dates as numbers).

For each register: the portal's export of deterministic data is imported back and the preview says
nothing changes (nothing new, nothing changed, no errors) — (1) the bytes as exported, and the same
cells as other programs store them (``as_other_writers_store_it``: inline strings, 8000.0, empty
strings, dates as serial numbers); (2) the file
LibreOffice resaved from that export, committed under ``tests/fixtures/libreoffice/`` (always runs);
(3) a live resave with ``soffice`` when it is on PATH (skipped otherwise). ``regenerate.py`` beside
the fixtures writes them again from (3).

The data is the same on every run (names, amounts, dates; the alliance workbook's and the filing
template's hidden ids are fixed primary keys), so a fixture made once still describes it."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

from alliances.models import AllianceMembership, Institution
from core.periods import Period
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI)  # October's filings are open
TODAY = NOW.date()
OCTOBER = Period.parse("2026-10")
FIXTURES = Path(__file__).parent / "fixtures" / "libreoffice"
WRITE_FIXTURES = "PORTAL_WRITE_LIBREOFFICE_FIXTURES"  # set by regenerate.py: the live test writes its resave
K = Institution.Kind
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
# Fixed primary keys of the alliance the filing template and the alliance workbook are made for
# (they carry the alliance's and the institutions' ids), far above what tests reach.
FIXED = SimpleNamespace(alliance=970001, hospital=970011, centre=970012, centre2=970013)


def upload(data: bytes, name: str = "export.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# The registers: how the data is made, exported and checked --------------------------------------

def _ledger_setup(request):
    from tasks.services.ledgers import item_save

    w = request.getfixturevalue("ledger_world")
    # A level-2 item with a cooperating unit, a figure at the start of a text and a long deadline.
    item_save(ledger=w.ledger, user=w.bureau, number="3.1", text="90%以上的村卫生室纳入镇村一体化管理",
              lead_units_text="各医共体", coop_units_text="县财政局", deadline_text="2026年10月底前完成并持续推进",
              section_labels=["三、能力提升", "3．强化基层"], now=w.now)
    w.export_ledger = w.ledger
    return w


def _rectification_setup(request):
    from tasks.services.ledgers import finding_to_task
    from tasks.services.supervision import finding_add, inspection_record

    w = request.getfixturevalue("ledger_world")
    with time_machine.travel(w.now, tick=False):
        inspection = inspection_record(county=w.yn, user=w.supervisor, title="2026年上半年督查",
                                       half_year="2026H1", held_on=date(2026, 6, 1))
        items = [finding_to_task(finding=finding_add(inspection=inspection, text=text, severity="minor", unit=w.health),
                                 user=w.bureau, deadline_text="9月底", now=w.now)
                 for text in ("家庭医生签约服务台账不完整", "医共体财务统一管理未落实到位")]
    w.export_ledger = items[0].ledger
    return w


def _ledger_export(w) -> bytes:
    from tasks.exports import ledger_export_data, ledger_workbook

    items, by_item, latest = ledger_export_data(w.export_ledger)
    return ledger_workbook(ledger=w.export_ledger, items=items, assignments_by_item=by_item,
                           latest_by_assignment=latest, now=w.now)


def _ledger_check(w, data: bytes) -> None:
    from tasks.imports.planning import plan_import
    from tasks.imports.reading import read_ledger_upload

    table, issues = read_ledger_upload(upload(data))
    assert issues == [] and table is not None, [i.text for i in issues]
    plan = plan_import(table, county=w.yn, user=w.bureau, now=w.now)
    assert plan.ledger == w.export_ledger
    assert plan.errors == [] and plan.warnings == [], [i.text for i in plan.errors + plan.warnings]
    assert plan.items and {i.action for i in plan.items} == {"unchanged"}, [(i.key, i.action) for i in plan.items]
    assert not plan.has_changes


def _register_setup(request):
    from alliances import services
    from alliances.validators import uscc_check_character

    w = request.getfixturevalue("world")
    w.alliance_a.short_name = "一体"
    w.alliance_a.save()
    code = "12445322MB2C90012"
    Institution.objects.filter(pk=w.centre.pk).update(credit_code=code + uscc_check_character(code),
                                                      service_population=25000)
    Institution.objects.filter(pk=w.clinic.pk).update(short_name="大村站", service_population=800)
    AllianceMembership.objects.filter(institution=w.centre2).update(valid_from=date(2023, 7, 15))
    services.institution_deactivate(institution=w.centre_b, last_day=date(2026, 6, 30))
    return w


def _register_export(w) -> bytes:
    from alliances.exports import institution_register_entries, institution_register_workbook

    return institution_register_workbook(county=w.yn, entries=institution_register_entries(w.bureau, w.yn, TODAY),
                                         on=TODAY)


def _register_check(w, data: bytes) -> None:
    from alliances import imports

    read = imports.read_register(upload(data))
    assert read.problems == [] and read.table is not None, [i.text for i in read.problems]
    result = imports.validate(read.table, county=w.yn, user=w.bureau, today=TODAY)
    assert result.issues == [], [i.text for i in result.issues]
    assert result.counts == {"create": 0, "update": 0, "unchanged": 6, "error": 0}, [
        (r.name, r.action, [(c.key, c.old, c.new) for c in r.changes]) for r in result.rows]
    assert not result.has_changes


def _indicators_setup(request):
    """A county's forms and the fifth alliance (fixed ids): its hospital's and two centres' October
    filings, with whole and decimal figures, a blank and a zero."""
    from indicators.catalog import install_catalog, install_forms
    from indicators.models import DataElement
    from indicators.services import filings as svc

    w = request.getfixturevalue("world")
    install_catalog()
    w.monthly = next(f for f in install_forms(w.yn) if f.code == "MONTHLY_OPS")
    w.alliance_e = AllianceFactory(pk=FIXED.alliance, county=w.yn, name="第五医共体")
    w.hospital_e = InstitutionFactory(pk=FIXED.hospital, county=w.yn, name="县第二人民医院",
                                      kind=K.COUNTY_GENERAL_HOSPITAL, beds=200)
    w.centre_e = InstitutionFactory(pk=FIXED.centre, county=w.yn, name="河口镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    w.centre_e2 = InstitutionFactory(pk=FIXED.centre2, county=w.yn, name="宋桂镇卫生院", kind=K.TOWNSHIP_HEALTH_CENTRE)
    start = date(2020, 1, 1)
    MembershipFactory(institution=w.hospital_e, alliance=w.alliance_e, role=AllianceMembership.Role.LEAD,
                      valid_from=start)
    for centre in (w.centre_e, w.centre_e2):
        MembershipFactory(institution=centre, alliance=w.alliance_e, valid_from=start)
    ids = dict(DataElement.objects.filter(county=None).values_list("code", "pk"))
    figures = {
        w.hospital_e: {"OP_VISITS": 80000, "DISCHARGES": 1500, "SURGERIES": 900, "TOTAL_REVENUE": "20000000.5",
                       "MED_REVENUE": "14000000.25", "STAFF_ON_DUTY": 900, "GPS": 0},
        w.centre_e: {"OP_VISITS": 8000, "DISCHARGES": 150, "REHAB_PATIENTS": 40, "TOTAL_REVENUE": "2000000.75",
                     "DRUG_REVENUE": "500000", "STAFF_ON_DUTY": 90, "GPS": 6},
    }
    w.filing = None
    for institution, values in figures.items():
        filing = svc.open_filing(w.monthly, institution, OCTOBER)
        svc.save_values(filing, {ids[code]: Decimal(str(v)) for code, v in values.items()}, user=w.bureau_admin,
                        expected_version=filing.version)
        w.filing = w.filing or filing
    w.filing.refresh_from_db()
    return w


def _filing_export(w) -> bytes:
    from indicators import excel

    return excel.filing_template(w.filing, today=TODAY)


def _filing_check(w, data: bytes) -> None:
    from indicators import excel

    sheet, issues = excel.read_upload(upload(data))
    assert issues == [] and sheet is not None, [i.text for i in issues]
    plan = excel.plan_filing_upload(w.filing, sheet)
    assert plan.ok, [i.text for i in plan.issues]
    assert plan.counts["new"] == plan.counts["changed"] == plan.counts["cleared"] == 0, plan.counts
    # The hospital's 26 rows (22, and 4 of seed 000 10.1 and 10.3).
    assert plan.counts["unchanged"] == 26 and not plan.has_changes


def _alliance_export(w) -> bytes:
    from indicators import excel

    return excel.alliance_workbook(w.monthly, w.alliance_e, OCTOBER, today=TODAY)


def _alliance_check(w, data: bytes) -> None:
    from indicators import excel

    sheet, issues = excel.read_upload(upload(data))
    assert issues == [] and sheet is not None, [i.text for i in issues]
    plan = excel.plan_alliance_upload(w.monthly, w.alliance_e, OCTOBER, sheet, user=w.bureau)
    assert plan.ok, [i.text for i in plan.issues]
    assert [u.institution.name for u in plan.units] == ["县第二人民医院", "宋桂镇卫生院", "河口镇卫生院"]
    assert not plan.has_changes, [(u.institution.name, u.counts) for u in plan.units]
    # 26 rows of the hospital and 21 of each centre.
    assert plan.counts["unchanged"] == 68, plan.counts


def _budget_setup(request):
    from finance import budgets

    w = request.getfixturevalue("world")
    w.budget = budgets.new_version(w.alliance_a, 2026, user=w.bureau, now=NOW)
    entries = {("MED", budgets.TOTAL): "1000000", ("MED", w.hospital.pk): "600000.5",
               ("DRUG", w.hospital.pk): "200000", ("MED", w.centre.pk): "399999.50",
               ("PERSONNEL", budgets.TOTAL): "400000.25", ("PERSONNEL", w.centre2.pk): "0"}
    assert budgets.save_amounts(w.budget, entries, user=w.bureau, now=NOW) == []
    return w


def _budget_export(w) -> bytes:
    from finance import budgets
    from finance.exports import budget_xlsx

    return budget_xlsx(budgets.grid(w.budget), on=TODAY)


def _budget_check(w, data: bytes) -> None:
    from finance import budget_import, budgets

    parsed = budget_import.read(upload(data), w.budget)
    assert parsed.ok, parsed.errors
    current = budgets.grid(w.budget).cells
    read = {key: budgets.parse_amount(text) for key, text in parsed.entries.items() if text}
    assert read == current and parsed.cells == 6


def _procurement_setup(request):
    from finance import procurement
    from finance.models import Purchase

    w = request.getfixturevalue("world")
    c = Purchase.Category
    months = {Period.parse("2026-09"): {(w.hospital.pk, c.DRUGS.value): "120000.5", (w.centre.pk, c.OTHER.value): "800"},
              Period.parse("2026-10"): {(w.hospital.pk, c.EQUIPMENT.value): "35000",
                                        (w.centre2.pk, c.CONSUMABLES.value): "1234.56"}}
    assert procurement.save_months(w.alliance_a, months, user=w.bureau, now=NOW) == []
    return w


def _procurement_export(w) -> bytes:
    from finance import procurement
    from finance.budgets import members_of
    from finance.exports import procurement_xlsx

    return procurement_xlsx(alliance=w.alliance_a, year=2026, members=members_of(w.alliance_a, 2026),
                            summary=procurement.year_summary(w.alliance_a, 2026), account=None, on=TODAY)


def _procurement_check(w, data: bytes) -> None:
    from finance import procurement, procurement_import
    from finance.budgets import parse_amount

    parsed = procurement_import.read(upload(data), w.alliance_a, today=TODAY)
    assert parsed.ok, parsed.errors
    assert sorted(str(m) for m in parsed.months) == ["2026-09", "2026-10"]
    for month, entries in parsed.months.items():
        read = {key: parse_amount(text) for key, text in entries.items() if text}
        assert read == procurement.month_values(w.alliance_a, month), month


def _roster_setup(request):
    return request.getfixturevalue("staffing_world")


def _roster_people(w):
    from staffing.models import Staff

    return list(Staff.objects.filter(institution__county=w.yn).select_related("institution", "home")
                .order_by("institution__name", "name", "pk"))


def _roster_export(w) -> bytes:
    from staffing import identity
    from staffing.exports import roster_xlsx

    people = _roster_people(w)
    return roster_xlsx(people, {p.pk: identity.decrypt(p.id_cipher) for p in people}, on=TODAY, unit="郁南县")


def _roster_check(w, data: bytes) -> None:
    from staffing import roster_import

    parsed = roster_import.read(upload(data), list(Institution.objects.filter(county=w.yn)))
    assert parsed.ok, parsed.errors
    assert parsed.count(roster_import.UNCHANGED) == len(_roster_people(w)) == 4, [
        (r.line, r.status, r.changes) for r in parsed.rows]
    assert parsed.count(roster_import.NEW) == parsed.count(roster_import.UPDATED) == 0


REGISTERS = {
    "task_ledger": (_ledger_setup, _ledger_export, _ledger_check),
    "rectification_ledger": (_rectification_setup, _ledger_export, _ledger_check),
    "institution_register": (_register_setup, _register_export, _register_check),
    "filing_template": (_indicators_setup, _filing_export, _filing_check),
    "alliance_workbook": (_indicators_setup, _alliance_export, _alliance_check),
    "budget": (_budget_setup, _budget_export, _budget_check),
    "procurement": (_procurement_setup, _procurement_export, _procurement_check),
    "roster": (_roster_setup, _roster_export, _roster_check),
}


@pytest.fixture(params=sorted(REGISTERS))
def case(request, db):
    setup, export, check = REGISTERS[request.param]
    with time_machine.travel(NOW, tick=False):
        w = setup(request)
        yield SimpleNamespace(name=request.param, w=w, export=lambda: export(w), check=lambda data: check(w, data))


def as_other_writers_store_it(data: bytes) -> bytes:
    """``data`` with its cells stored as other programs write them: strings inline (``t="inlineStr"``,
    not shared), whole numbers as ``8000.0`` (Apache POI, hence many systems' exports), blank cells
    as empty strings, and dates as bare serial numbers (their date format lost: pasted as values)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    names = source.namelist()
    shared = []
    if "xl/sharedStrings.xml" in names:
        for item in ElementTree.fromstring(source.read("xl/sharedStrings.xml")).iter(f"{{{MAIN_NS}}}si"):
            shared.append("".join(t.text or "" for t in item.iter(f"{{{MAIN_NS}}}t")))
    styles = ElementTree.fromstring(source.read("xl/styles.xml"))
    custom = {int(f.get("numFmtId")): f.get("formatCode") for f in styles.iter(f"{{{MAIN_NS}}}numFmt")}
    xfs = styles.find(f"{{{MAIN_NS}}}cellXfs")
    dated = {str(n) for n, xf in enumerate(xfs) if is_date_format(
        custom.get(int(xf.get("numFmtId", 0))) or BUILTIN_FORMATS.get(int(xf.get("numFmtId", 0)), ""))}

    def cell(match: re.Match) -> str:
        attrs, inner = match.group(1), match.group(2) or ""
        style = re.search(r'\bs="(\d+)"', attrs)
        if style and style.group(1) in dated:
            attrs = attrs.replace(style.group(0), 's="0"')
        kind = re.search(r'\bt="(\w+)"', attrs)
        if kind and kind.group(1) == "s":
            text = escape(shared[int(re.search(r"<v>(\d+)</v>", inner).group(1))])
            attrs = attrs.replace(kind.group(0), 't="inlineStr"')
            return f'<c{attrs}><is><t xml:space="preserve">{text}</t></is></c>'
        if not inner and not kind:
            return f'<c{attrs} t="inlineStr"><is><t></t></is></c>'
        if not kind or kind.group(1) == "n":
            inner = re.sub(r"<v>(-?\d+)</v>", r"<v>\1.0</v>", inner)
        return f"<c{attrs}>{inner}</c>"

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", info.filename):
                body = re.sub(r"<c(\s[^>]*?)(?:/>|>(.*?)</c>)", cell, body.decode(), flags=re.S).encode()
            target.writestr(info, body)
    return out.getvalue()


def libreoffice_resave(data: bytes, work: Path) -> bytes:
    """``data`` opened and saved again as .xlsx by LibreOffice (``soffice --headless --convert-to xlsx``),
    with a profile of its own under ``work``."""
    source, out = work / "in" / "export.xlsx", work / "out"
    source.parent.mkdir(parents=True)
    source.write_bytes(data)
    subprocess.run([shutil.which("soffice"), f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=180)
    return (out / "export.xlsx").read_bytes()


# The tests ----------------------------------------------------------------------------------------

def test_the_export_reimports_unchanged(case):
    exported = case.export()
    case.check(exported)
    case.check(as_other_writers_store_it(exported))


def test_the_export_resaved_by_libreoffice_reimports_unchanged(case):
    """The committed resave (``tests/fixtures/libreoffice/<register>.xlsx``)."""
    case.check((FIXTURES / f"{case.name}.xlsx").read_bytes())


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_a_live_libreoffice_resave_reimports_unchanged(case, tmp_path):
    resaved = libreoffice_resave(case.export(), tmp_path)
    if os.environ.get(WRITE_FIXTURES):
        FIXTURES.mkdir(parents=True, exist_ok=True)
        (FIXTURES / f"{case.name}.xlsx").write_bytes(resaved)
    case.check(resaved)
