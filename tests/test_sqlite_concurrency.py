"""The embedded default under concurrency (issue 16, fault 1): a live portal on SQLite with its
Celery worker (``manage.py runportal``, as ``make run`` starts it), and a handful of clients signing
in and saving filing grids at once for a bounded time. No request may answer 500 ("database is
locked"), and every save the portal acknowledged must be in the database afterwards.

It builds its own database in a temporary PORTAL_VAR_DIR (migrate + the demo without staffing and
reports), so it is skipped when the test run uses PostgreSQL: it is about the embedded default.
``SQLITE_CONCURRENCY_OLD_DEFAULTS=1`` runs the same load against Django's own SQLite defaults
(tests/sqlite_old_defaults_settings.py), where it fails. The figures are printed (``-s``).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from django.conf import settings

from indicators.loadbench.server import free_port

pytestmark = pytest.mark.celery_worker

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "Yigongti-2026"
CLIENTS = int(os.environ.get("SQLITE_CONCURRENCY_CLIENTS", "6"))
SECONDS = float(os.environ.get("SQLITE_CONCURRENCY_SECONDS", "25"))
OLD_DEFAULTS = os.environ.get("SQLITE_CONCURRENCY_OLD_DEFAULTS", "").strip() in ("1", "true", "yes")
FILERS = ("yn_rmyy", "yn_dc", "yn_gt1_filer")

# Run inside the portal's database (manage.py shell): per filer, a few filings it may file, made
# editable (draft, reopened until 2099) so the test does not depend on today's lock days.
PICK_FILINGS = r"""
import json
from datetime import date
from django.contrib.auth import get_user_model
from indicators import permissions
from indicators.models import Filing

wanted, picked, taken = %(wanted)d, [], set()
users = [get_user_model().objects.get(username=name) for name in %(filers)r]
candidates = list(Filing.objects.filter(county__name="郁南县").select_related("form").order_by("-period_start", "pk")[:400])
i = 0
while len(picked) < wanted and i < 50:
    for user in users:
        for filing in candidates:
            if filing.pk not in taken and permissions.can_file_filing(user, filing):
                taken.add(filing.pk)
                picked.append({"username": user.username, "filing": filing.pk})
                break
    i += 1
picked = picked[:wanted]
Filing.objects.filter(pk__in=taken).update(status=Filing.Status.DRAFT, reopened_until=date(2099, 12, 31))
print("PICKED " + json.dumps(picked))
"""

READ_VALUES = r"""
import json
from indicators.models import DataValue
rows = DataValue.objects.filter(filing_id__in=%(filings)r).values_list("filing_id", "element_id", "value")
print("VALUES " + json.dumps([[f, e, None if v is None else str(v)] for f, e, v in rows]))
"""


def portal_env(var_dir: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "RUN_MAIN")}
    env["PORTAL_VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env["DJANGO_SETTINGS_MODULE"] = "tests.sqlite_old_defaults_settings" if OLD_DEFAULTS else "config.settings"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")]))
    return env


def manage(env: dict, *args: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def shell(env: dict, code: str, marker: str):
    out = manage(env, "shell", "--no-imports", "-v", "0", "-c", code)
    line = next(line for line in out.splitlines() if line.startswith(marker + " "))
    return json.loads(line[len(marker) + 1:])


def error_summary(text: str) -> str:
    """The exception of a debug page ("OperationalError: database is locked"), or the text's start."""
    kind = re.search(r"<title>\s*(\w+)", text)
    value = re.search(r'<pre class="exception_value">(.*?)</pre>', text, re.S)
    if kind and value:
        return f"{kind.group(1)}: {html.unescape(value.group(1)).strip()[:100]}"
    return re.sub(r"\s+", " ", text)[:100]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Client:
    """One browser: its own cookies; redirects are followed by hand so a save's 302 is seen."""

    def __init__(self, base: str, stats: Counter, lock: threading.Lock):
        self.base, self.stats, self.lock = base, stats, lock
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body)
        started = time.monotonic()
        try:
            with self.opener.open(req, timeout=60) as response:
                status, text, location = response.status, response.read().decode("utf-8", "replace"), ""
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode("utf-8", "replace")
            location = error.headers.get("Location", "")
        except OSError as error:  # refused, reset, timed out: as bad as a 500
            status, text, location = 0, str(error), ""
        with self.lock:
            self.stats["requests"] += 1
            self.stats[f"status {status}"] += 1
            self.stats["seconds"] += time.monotonic() - started
            if status >= 500 or status == 0:
                self.stats["errors"] += 1
                self.stats[f"error: {error_summary(text)}"] += 1
        return status, text, location

    def follow(self, status: int, text: str, location: str) -> tuple[int, str]:
        while status in (301, 302, 303) and location:
            status, text, location = self.request(urllib.parse.urlsplit(location).path or "/")
        return status, text

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def log_in(self, username: str) -> bool:
        self.jar.clear()
        status, _, _ = self.request("/login/")
        if status != 200:
            return False
        status, text = self.follow(*self.request("/login/", {
            "csrfmiddlewaretoken": self.csrf(), "username": username, "password": PASSWORD}))
        return status == 200 and 'name="password"' not in text

    def save(self, filing: int, value: str) -> tuple[bool, int | None]:
        """Open the grid and save it with its first figure set to ``value``: (acknowledged, element)."""
        status, text, _ = self.request(f"/filings/{filing}/")
        if status != 200:
            return False, None
        version = re.search(r'name="version" value="(\d+)"', text)
        cells = re.findall(r'name="v_(\d+)" value="([^"]*)"', text)
        if not version or not cells:
            return False, None
        data = {"csrfmiddlewaretoken": self.csrf(), "version": version.group(1), "action": "save"}
        data.update({f"v_{element}": html.unescape(shown) for element, shown in cells})
        element = int(cells[0][0])
        data[f"v_{element}"] = value
        status, _, location = self.request(f"/filings/{filing}/", data)
        saved = status == 302 and f"/filings/{filing}/" in location
        if saved:
            self.follow(status, "", location)
        return saved, element


@pytest.fixture
def live_portal(tmp_path):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("about the embedded default (SQLite); this run uses another database")
    var_dir = tmp_path / "var"
    env = portal_env(var_dir)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "load_demo", "--quiet", "--without-staffing", "--without-reports")
    picked = shell(env, PICK_FILINGS % {"wanted": CLIENTS, "filers": FILERS}, "PICKED")
    assert len(picked) == CLIENTS, picked

    port = free_port()
    log_path = tmp_path / "runportal.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runportal", "--noreload", "--addrport", f"127.0.0.1:{port}"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:  # the web server answers, and the worker has said it is ready
            assert server.poll() is None, log_path.read_text()[-4000:]
            try:
                with urllib.request.urlopen(base + "/login/", timeout=5) as response:
                    up = response.status == 200
            except OSError:
                up = False
            if up and " ready." in log_path.read_text():
                break
            assert time.monotonic() < deadline, "the portal or its worker did not start:\n" + log_path.read_text()[-4000:]
            time.sleep(0.5)
        yield {"base": base, "env": env, "picked": picked, "log": log_path}
    finally:
        os.killpg(server.pid, 15)  # runportal stops its worker on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait(timeout=10)


def test_concurrent_logins_and_saves_never_answer_500(live_portal):
    base, picked = live_portal["base"], live_portal["picked"]
    stats, lock = Counter(), threading.Lock()
    acknowledged: dict[tuple[int, int], str] = {}
    stop_at = time.monotonic() + SECONDS

    def client(number: int, username: str, filing: int):
        browser = Client(base, stats, lock)
        round_ = 0
        while time.monotonic() < stop_at:
            round_ += 1
            ok = browser.log_in(username)
            with lock:
                stats["logins ok" if ok else "logins failed"] += 1
            if not ok:
                continue
            for _ in range(2):
                value = f"{number * 10000 + round_ * 10 + _}"
                saved, element = browser.save(filing, value)
                with lock:
                    stats["saves acknowledged" if saved else "saves not acknowledged"] += 1
                    if saved:
                        acknowledged[(filing, element)] = value

    threads = [threading.Thread(target=client, args=(n, p["username"], p["filing"])) for n, p in enumerate(picked)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    elapsed = time.monotonic() - started

    stored = {(f, e): v for f, e, v in shell(live_portal["env"], READ_VALUES % {"filings": [p["filing"] for p in picked]}, "VALUES")}
    missing = {key: value for key, value in acknowledged.items()
               if stored.get(key) is None or float(stored[key]) != float(value)}
    figures = (f"{'old Django defaults' if OLD_DEFAULTS else 'portal settings (WAL, IMMEDIATE, timeout)'}: "
               f"{CLIENTS} clients, {elapsed:.1f} s, {stats['requests']} requests, "
               f"{stats['requests'] / elapsed:.1f} req/s, {stats['errors']} errors (500 or no answer), "
               f"{stats['logins ok']} logins ok / {stats['logins failed']} failed, "
               f"{stats['saves acknowledged']} saves acknowledged / {stats['saves not acknowledged']} not")
    print("\n" + figures + "\n" + "\n".join(f"  {key}: {value}" for key, value in sorted(stats.items())
                                             if key.startswith(("status", "error:"))))
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert stats["errors"] == 0, figures + "\n" + "\n".join(k for k in stats if k.startswith("error:"))
    assert stats["logins failed"] == 0, figures
    assert stats["saves acknowledged"] >= CLIENTS, figures
    assert not missing, f"acknowledged saves missing from the database: {missing}"
    assert " ready." in live_portal["log"].read_text(), "the Celery worker never started"
