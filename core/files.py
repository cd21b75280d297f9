"""Handing a stored file to the user who may see it.

Stored files (佐证材料, import previews) are never reachable by URL: there is no ``/media/`` route,
in development or production. A scoped view decides who may see a file and then calls
``serve_file``, which, by ``PORTAL_FILE_SERVING``:

- ``stream`` (default): Django streams the file (``FileResponse``);
- ``x-accel-redirect``: an empty response whose ``X-Accel-Redirect`` names the file under the nginx
  ``internal`` location ``PORTAL_FILE_INTERNAL_PREFIX`` (which aliases ``PORTAL_MEDIA_ROOT``);
- ``x-sendfile``: an empty response whose ``X-Sendfile`` holds the absolute path (Apache
  mod_xsendfile, lighttpd).

Every answer names the file in ``Content-Disposition`` (RFC 5987 ``filename*`` for Chinese names)
and carries ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.files import File
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

STREAM = "stream"
X_ACCEL_REDIRECT = "x-accel-redirect"
X_SENDFILE = "x-sendfile"
MODES = (STREAM, X_ACCEL_REDIRECT, X_SENDFILE)


def _stored_path(file: File | str | Path) -> Path:
    """The absolute path of a stored file, refusing anything outside ``MEDIA_ROOT``."""
    if isinstance(file, (str, Path)):
        path = Path(file)
    else:
        try:
            path = Path(file.path)
        except (ValueError, NotImplementedError, AttributeError):
            raise Http404(_("The file is missing from the storage.")) from None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / path).resolve() if not path.is_absolute() else path.resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Http404(_("The file is missing from the storage."))
    return path


def serve_file(request, file: File | str | Path, *, filename: str, content_type: str,
               as_attachment: bool = True) -> HttpResponse:
    """The response that hands ``file`` (a stored FieldFile, or a path under ``MEDIA_ROOT``) to
    the client under ``filename``. The caller has already checked the user may see it; a missing
    file answers 404."""
    path = _stored_path(file)
    mode = settings.PORTAL_FILE_SERVING
    if mode == STREAM:
        try:
            handle = path.open("rb")
        except OSError:
            raise Http404(_("The file is missing from the storage.")) from None
        response = FileResponse(handle, content_type=content_type)
    else:
        # The web server sends the body; Django only says which file.
        response = HttpResponse(content_type=content_type)
        if mode == X_ACCEL_REDIRECT:
            relative = path.relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix()
            response["X-Accel-Redirect"] = quote(settings.PORTAL_FILE_INTERNAL_PREFIX + relative)
        else:
            response["X-Sendfile"] = str(path)
    response["Content-Disposition"] = content_disposition_header(as_attachment=as_attachment, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response
