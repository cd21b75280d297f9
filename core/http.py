"""HTTP helpers every app's downloads use: the .xlsx response and a file name safe to send."""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.utils.http import content_disposition_header

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Characters Windows refuses in a file name, and line breaks or tabs a header cannot carry.
_FILENAME_UNSAFE = re.compile(r'[\\/:*?"<>|\r\n\t]+')


def safe_filename(text: str) -> str:
    """``text`` usable as a download's file name (or "export" when nothing is left of it)."""
    return _FILENAME_UNSAFE.sub("_", text).strip() or "export"


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    """An .xlsx download named ``filename`` (any characters: the header encodes them)."""
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
