"""Stored files are never public (issue 16, item 4): no ``/media/`` route answers, in development
(DEBUG) or production, to anyone; the scoped evidence downloads hand the file over in each
``PORTAL_FILE_SERVING`` mode — streamed byte-identical, or as an empty answer whose header tells
nginx (X-Accel-Redirect) or Apache (X-Sendfile) which file to send."""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import clear_url_caches, reverse

from tasks.models import Evidence
from tests.conftest import client_for
from tests.test_tasks_import import SEED_000_LIKE, SEED_000_MERGES, upload, workbook

SH = ZoneInfo("Asia/Shanghai")
PDF = b"%PDF-1.4 \xe4\xbd\x90\xe8\xaf\x81 evidence body"
NAME = "县域就诊率统计.pdf"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _reload_urls() -> None:
    import config.urls

    importlib.reload(config.urls)
    clear_url_caches()


@pytest.fixture
def debug_urls(settings):
    """The URLconf as ``make run`` builds it: DEBUG on when ``config.urls`` is imported."""
    settings.DEBUG = True
    _reload_urls()
    yield
    settings.DEBUG = False
    _reload_urls()


def _evidence(w) -> Evidence:
    hospital = client_for(w.filer_hospital)
    url = reverse("tasks:report_create", kwargs={"assignment_pk": w.assignment_hospital.pk})
    with time_machine.travel(datetime(2026, 6, 10, 9, tzinfo=SH), tick=False):
        done = hospital.post(url, {"period": "2026-06", "percent": 100, "text": "县域就诊率已达到90.3%",
                                   "marks_complete": "on", "files": [SimpleUploadedFile(NAME, PDF)]})
    assert done.status_code == 302
    return Evidence.objects.get()


def _import_preview(w) -> None:
    client = client_for(w.bureau)
    page = client.post(reverse("tasks:ledger_import", kwargs={"region_pk": w.yn.pk}),
                       {"file": upload(workbook(SEED_000_LIKE, merges=SEED_000_MERGES))})
    assert page.status_code == 200 and page.context["token"]


def test_every_stored_file_answers_404_by_its_direct_path_even_under_debug(ledger_world, settings, debug_urls):
    w = ledger_world
    _evidence(w)
    _import_preview(w)
    root = Path(settings.MEDIA_ROOT)
    stored = [p for p in root.rglob("*") if p.is_file()]
    kinds = {p.relative_to(root).parts[0] for p in stored}
    assert {"evidence", "imports"} <= kinds, stored  # an evidence file and a pending import preview
    clients = {"anonymous": Client(), "outsider": client_for(w.outsider), "owner": client_for(w.filer_hospital),
               "bureau": client_for(w.bureau)}
    for path in stored:
        relative = path.relative_to(root).as_posix()
        for url in (settings.MEDIA_URL + quote(relative), settings.MEDIA_URL + relative):
            for who, client in clients.items():
                response = client.get(url)
                assert response.status_code == 404, (who, url, response.status_code)


@pytest.mark.parametrize("mode", ["stream", "x-accel-redirect", "x-sendfile"])
def test_the_scoped_evidence_download_works_in_each_serving_mode(ledger_world, settings, mode):
    w = ledger_world
    settings.PORTAL_FILE_SERVING = mode
    settings.PORTAL_FILE_INTERNAL_PREFIX = "/protected-media/"
    evidence = _evidence(w)
    absolute = Path(evidence.file.path).resolve()
    relative = absolute.relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix()
    page_url = reverse("tasks:evidence_download", kwargs={"evidence_pk": evidence.pk})
    api_url = f"/api/task-evidence/{evidence.pk}/download/"
    for url in (page_url, api_url):
        for user in (w.filer_hospital, w.bureau):
            response = client_for(user).get(url)
            assert response.status_code == 200, (url, response.status_code)
            assert response["Content-Type"] == "application/pdf"
            assert response["X-Content-Type-Options"] == "nosniff"
            disposition = response["Content-Disposition"]
            assert f"filename*=utf-8''{quote(NAME)}" in disposition, disposition
            if mode == "stream":
                assert b"".join(response.streaming_content) == PDF
                assert "X-Accel-Redirect" not in response and "X-Sendfile" not in response
            else:
                assert not response.streaming and response.content == b""
                if mode == "x-accel-redirect":
                    assert response["X-Accel-Redirect"] == "/protected-media/" + quote(relative)
                    assert "X-Sendfile" not in response
                else:
                    assert response["X-Sendfile"] == str(absolute)
                    assert "X-Accel-Redirect" not in response
        # Whoever may not see the report gets the same 404 as for a missing file, in every mode.
        assert client_for(w.outsider).get(url).status_code == 404
        assert Client().get(url).status_code in (302, 401, 403)


def test_a_missing_file_answers_404_not_500(ledger_world, settings):
    w = ledger_world
    evidence = _evidence(w)
    Path(evidence.file.path).unlink()
    for mode in ("stream", "x-accel-redirect", "x-sendfile"):
        settings.PORTAL_FILE_SERVING = mode
        response = client_for(w.bureau).get(reverse("tasks:evidence_download", kwargs={"evidence_pk": evidence.pk}))
        assert response.status_code == 404
        assert client_for(w.bureau).get(f"/api/task-evidence/{evidence.pk}/download/").status_code == 404


@pytest.mark.parametrize(("env", "named"), [
    ({"PORTAL_FILE_SERVING": "nginx"}, "PORTAL_FILE_SERVING"),
    ({"PORTAL_FILE_SERVING": "x-accel-redirect", "PORTAL_FILE_INTERNAL_PREFIX": "protected"},
     "PORTAL_FILE_INTERNAL_PREFIX"),
])
def test_a_bad_serving_setting_stops_start_up(env, named, tmp_path):
    from tests.test_settings import SETUP, run_python

    result = run_python(SETUP, env, tmp_path)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and named in result.stderr
