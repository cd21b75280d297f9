"""Checking an evidence file (佐证材料) by its content: PDF, images, Word and Excel, within a size
limit, without macros. The name is not trusted; the stored file gets the extension of what it
really is. A .docx or .xlsx passes the container checks every importer makes (``core.uploads``:
zip bombs, macros, XML entity declarations), refused in the same words."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from core import uploads

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024
MAX_FILES_PER_REPORT = 10

_OLE_WORD = "WordDocument".encode("utf-16-le")
_OLE_EXCEL = "Workbook".encode("utf-16-le")
_OLE_EXCEL_OLD = "Book".encode("utf-16-le")
_OLE_MACROS = "_VBA_PROJECT".encode("utf-16-le")


@dataclass(frozen=True)
class CheckedFile:
    name: str
    data: bytes
    kind: str  # Evidence.Kind value
    content_type: str
    extension: str
    sha256: str


class EvidenceRefused(Exception):
    """The file cannot be evidence; the message says why, naming the file."""


OFFICE_KINDS = {
    uploads.DOCX: ("word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    uploads.XLSX: ("excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}


def sniff(data: bytes, office: str | None = None) -> tuple[str, str, str] | None:
    """``(kind, content type, extension)`` of what ``data`` is, or None when it is none of the
    accepted kinds. ``office``: what ``uploads.sniff_office`` said of it, when known."""
    if data.startswith(b"%PDF-"):
        return "pdf", "application/pdf", ".pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png", ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg", ".jpg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image", "image/gif", ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image", "image/webp", ".webp"
    if data.startswith(uploads.ZIP_SIGNATURE):
        return OFFICE_KINDS.get(office or uploads.sniff_office(data))
    if data.startswith(uploads.OLE_SIGNATURE):
        if _OLE_WORD in data:
            return "word", "application/msword", ".doc"
        if _OLE_EXCEL in data or _OLE_EXCEL_OLD in data:
            return "excel", "application/vnd.ms-excel", ".xls"
    return None


def check_evidence(upload) -> CheckedFile:
    """Read and check one uploaded file; raises ``EvidenceRefused`` with a message naming it."""
    name = Path(upload.name or "").name or _("(unnamed file)")
    data = uploads.read_limited(upload, MAX_EVIDENCE_BYTES)
    if data is None:
        raise EvidenceRefused(_("“%(name)s” is larger than %(limit)s MB; evidence files may be at most %(limit)s MB "
                                "each.") % {"name": name, "limit": MAX_EVIDENCE_BYTES // (1024 * 1024)})
    if not data:
        raise EvidenceRefused(_("“%(name)s” is empty.") % {"name": name})
    office = uploads.sniff_office(data) if data.startswith(uploads.ZIP_SIGNATURE) else None
    refused = uploads.refusal(office, name) if office else None
    if refused:  # a zip bomb, macros, XML entity declarations: as every importer says it
        raise EvidenceRefused(refused)
    if data.startswith(uploads.OLE_SIGNATURE) and _OLE_MACROS in data:
        raise EvidenceRefused(uploads.refusal(uploads.MACROS, name))
    found = sniff(data, office)
    if found is None:
        raise EvidenceRefused(_("“%(name)s” is not a PDF, an image (PNG, JPEG, GIF, WebP), a Word document or an "
                                "Excel workbook, judging by its content (whatever its name says).") % {"name": name})
    kind, content_type, extension = found
    return CheckedFile(name=name[:200], data=data, kind=kind, content_type=content_type, extension=extension,
                       sha256=hashlib.sha256(data).hexdigest())
