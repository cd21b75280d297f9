"""The container checks of Office files (issue 16, item 3): one check (``core.uploads.sniff_office``)
for the importers and the evidence (佐证材料) of task progress — a package that unpacks to more than
100 MB (the probe's 400 MB of shared strings, a sheet of 109 MB), a part packed beyond any real
document, an XML part with a DOCTYPE (entities, external entities: XXE), macros — each refused in the
same words (``core.uploads.refusal``) by every importer and by the evidence upload on the page and
the API, with nothing stored; a normal PDF, image, .docx and .xlsx are still evidence.

The files are built small here: a declared size can be patched into the archive's directory (what
unpacking would produce is bounded by it), and a real 5 MB part of blanks packs into a few KB."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook
from rest_framework.test import APIClient

from core import uploads
from tasks.models import Evidence, ProgressReport
from tests.conftest import client_for

SH = ZoneInfo("Asia/Shanghai")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(32)
MB = 1024 * 1024
SHEET = "xl/worksheets/sheet1.xml"
XLSM_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


# Building the files ---------------------------------------------------------------------------------

def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info.filename) for info in archive.infolist()}


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def xlsx() -> bytes:
    book = Workbook()
    book.active.append(["县域就诊率", "90.3%"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def docx(body: bytes = b"<w:p><w:r><w:t>\xe4\xbd\x90\xe8\xaf\x81</w:t></w:r></w:p>") -> bytes:
    """A minimal Word document (what Word needs to open it)."""
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    return _zip({
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>').encode(),
        "_rels/.rels": (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'officeDocument" Target="word/document.xml"/></Relationships>'),
        "word/document.xml": (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            + body + b"</w:body></w:document>"),
    })


def declared(data: bytes, part: str, size: int) -> bytes:
    """``data`` with the archive's directory declaring ``size`` bytes unpacked for ``part`` (the probe's
    bombs: a few KB that say they hold hundreds of MB)."""
    buffer = bytearray(data)
    name = part.encode()
    position = buffer.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack_from("<H", buffer, position + 28)[0]
        if bytes(buffer[position + 46:position + 46 + name_length]) == name:
            struct.pack_into("<I", buffer, position + 24, size)
            return bytes(buffer)
        position = buffer.find(b"PK\x01\x02", position + 4)
    raise AssertionError(f"no {part} in the archive")


def shared_strings_400mb() -> bytes:
    entries = _entries(xlsx())
    entries["xl/sharedStrings.xml"] = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                       b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                                       b'count="1" uniqueCount="1"><si><t>x</t></si></sst>')
    return declared(_zip(entries), "xl/sharedStrings.xml", 400 * MB)


def sheet_109mb() -> bytes:
    return declared(xlsx(), SHEET, 109 * MB)


def packed_tight() -> bytes:
    """A real part of 5 MB of blanks: a few KB packed, far beyond what any document packs to."""
    entries = _entries(xlsx())
    head, _sep, tail = entries[SHEET].partition(b"<sheetData>")
    entries[SHEET] = head + b"<sheetData>" + b" " * (5 * MB) + tail
    return _zip(entries)


ENTITY_SHEET = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>')


def with_entity(sheet: bytes = ENTITY_SHEET) -> bytes:
    entries = _entries(xlsx())
    entries[SHEET] = sheet
    return _zip(entries)


def with_macros() -> bytes:
    entries = _entries(xlsx())
    entries["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0" + b"\0" * 60
    entries["[Content_Types].xml"] = entries["[Content_Types].xml"].replace(XLSX_TYPE.encode(), XLSM_TYPE.encode())
    return _zip(entries)


BAD = {
    "400 MB of shared strings": (shared_strings_400mb, uploads.TOO_BIG),
    "a sheet of 109 MB": (sheet_109mb, uploads.TOO_BIG),
    "a part packed 1000 times": (packed_tight, uploads.ZIP_BOMB),
    "an entity declaration (XXE)": (with_entity, uploads.UNSAFE_XML),
    "macros": (with_macros, uploads.XLSM),
}


def refusal(kind: str, name: str) -> str:
    with translation.override("zh-hans"):
        return uploads.refusal(kind, name)


# The check itself -----------------------------------------------------------------------------------

@pytest.mark.parametrize("label", BAD)
def test_the_check_refuses_each_bad_package(label):
    make, kind = BAD[label]
    assert uploads.sniff_office(make()) == kind
    assert uploads.sniff_zip(make()) == kind


def test_the_check_knows_real_packages_and_finds_declarations_however_written():
    assert uploads.sniff_office(xlsx()) == uploads.XLSX
    assert uploads.sniff_office(docx()) == uploads.DOCX
    assert uploads.sniff_zip(docx()) == uploads.NOT_XLSX  # a Word file is not a register
    pptx = _zip({"[Content_Types].xml": b"<Types><Override ContentType='application/vnd.openxmlformats-"
                                        b"officedocument.presentationml.presentation.main+xml'/></Types>"})
    assert uploads.sniff_office(pptx) == uploads.PPTX
    assert uploads.sniff_office(_zip({"a.txt": b"x"})) == uploads.NOT_OFFICE
    assert uploads.sniff_office(PDF) == uploads.NOT_OFFICE
    # A DOCTYPE after a comment, in UTF-16, or an external DTD in a Word document: refused alike.
    assert uploads.sniff_office(with_entity(b"<?xml version='1.0'?><!-- x --><!DOCTYPE a SYSTEM 'http://x/'><a/>")) \
        == uploads.UNSAFE_XML
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>').encode("utf-16")
    assert uploads.sniff_office(with_entity(utf16)) == uploads.UNSAFE_XML
    entries = _entries(docx())
    entries["word/document.xml"] = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d/>'
    assert uploads.sniff_office(_zip(entries)) == uploads.UNSAFE_XML
    docm = _entries(docx())
    docm["[Content_Types].xml"] = docm["[Content_Types].xml"].replace(
        b"officedocument.wordprocessingml.document.main+xml", b"ms-word.document.macroEnabled.main+xml")
    assert uploads.sniff_office(_zip(docm)) == uploads.XLSM
    # The words "<!DOCTYPE" typed into a cell are text, escaped in the XML: not a declaration.
    assert uploads.sniff_office(docx(b"<w:p><w:r><w:t>&lt;!DOCTYPE&gt;</w:t></w:r></w:p>")) == uploads.DOCX


# Evidence: the page and the API ------------------------------------------------------------------------

@pytest.fixture
def evidence_world(ledger_world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    ledger_world.media = tmp_path / "media"
    return ledger_world


def _stored_files(w) -> list[str]:
    return [str(p) for p in w.media.rglob("*") if p.is_file()] if w.media.exists() else []


def _page_post(w, files):
    url = reverse("tasks:report_create", kwargs={"assignment_pk": w.assignment_hospital.pk})
    with time_machine.travel(datetime(2026, 6, 10, 9, tzinfo=SH), tick=False):
        return client_for(w.filer_hospital).post(url, {"period": "2026-06", "percent": 50, "text": "方案已起草",
                                                       "files": files})


def _api_post(w, files):
    client = APIClient()
    client.force_login(w.filer_hospital)
    with time_machine.travel(datetime(2026, 6, 10, 9, tzinfo=SH), tick=False):
        return client.post("/api/task-reports/", {"assignment": w.assignment_hospital.pk, "text": "方案已起草",
                                                  "percent": 50, "files": files}, format="multipart")


@pytest.mark.parametrize("label", BAD)
def test_a_bad_office_file_is_refused_as_evidence_on_the_page_and_nothing_is_stored(evidence_world, label):
    w = evidence_world
    make, kind = BAD[label]
    name = "佐证材料.xlsx"
    page = _page_post(w, [SimpleUploadedFile("说明.pdf", PDF), SimpleUploadedFile(name, make())])
    assert page.status_code == 200
    assert page.context["form"].errors["files"] == [refusal(kind, name)]
    assert refusal(kind, name) in page.content.decode()
    assert not ProgressReport.objects.exists() and not Evidence.objects.exists()
    assert _stored_files(w) == []


@pytest.mark.parametrize("label", BAD)
def test_a_bad_office_file_is_refused_by_the_api_and_nothing_is_stored(evidence_world, label):
    w = evidence_world
    make, kind = BAD[label]
    name = "佐证材料.docx"
    response = _api_post(w, [SimpleUploadedFile(name, make())])
    assert response.status_code == 400
    assert response.json() == {"files": [refusal(kind, name)]}
    assert not ProgressReport.objects.exists() and not Evidence.objects.exists()
    assert _stored_files(w) == []


def test_macros_are_refused_in_chinese():
    assert "含有宏" in refusal(uploads.XLSM, "a.xlsx")


def test_a_pdf_an_image_a_word_document_and_a_workbook_are_still_evidence(evidence_world):
    w = evidence_world
    files = [SimpleUploadedFile("说明.pdf", PDF), SimpleUploadedFile("照片.png", PNG),
             SimpleUploadedFile("方案.docx", docx()), SimpleUploadedFile("统计.xlsx", xlsx())]
    page = _page_post(w, files)
    assert page.status_code == 302, page.context and page.context["form"].errors
    assert sorted(Evidence.objects.values_list("kind", "extension")) == [
        ("excel", ".xlsx"), ("image", ".png"), ("pdf", ".pdf"), ("word", ".docx")]
    response = _api_post(w, [SimpleUploadedFile("统计.xlsx", xlsx()), SimpleUploadedFile("方案.docx", docx())])
    assert response.status_code == 201, response.content
    assert Evidence.objects.count() == 6


# The importers: the same check, the same words --------------------------------------------------------

def _messages(result) -> list[str]:
    if isinstance(result, tuple):
        return [issue.message for issue in result[1]]
    return list(result.errors)


def _importers(w):
    from datetime import date

    from alliances.imports import read_upload as register
    from finance import budget_import, procurement_import
    from finance.models import Budget
    from indicators.excel import read_upload as filing_template
    from security.user_import import read_upload as accounts
    from staffing import roster_import
    from tasks.imports.reading import read_ledger_upload

    budget = Budget(alliance=w.alliance_a, year=2026, number=1)
    return {
        "institution register": register,
        "task ledger": read_ledger_upload,
        "filing template": filing_template,
        "budget": lambda upload: budget_import.read(upload, budget),
        "procurement": lambda upload: procurement_import.read(upload, w.alliance_a, today=date(2026, 6, 10)),
        "roster": lambda upload: roster_import.read(upload, [w.hospital]),
        "accounts": accounts,
    }


@pytest.mark.parametrize("label", BAD)
def test_every_importer_refuses_the_same_files_in_the_same_words(world, label):
    make, kind = BAD[label]
    content = make()
    for importer, read in _importers(world).items():
        with translation.override("zh-hans"):
            messages = _messages(read(SimpleUploadedFile("名册.xlsx", content)))
        assert messages == [refusal(kind, "名册.xlsx")], (importer, messages)
