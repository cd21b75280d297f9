"""The load benchmark's run: a throwaway PostgreSQL database (or the one given), the synthetic
county, gunicorn with N workers on loopback, then three timed phases with M client threads:

1. ``health``: every client reads ``/health/`` (the trivial view: one ``SELECT 1``, one row);
2. ``save``: every client saves its own filing's grid over and over (the page's POST);
3. ``month-end``: every client goes through a filer's month end, two filings per round:
   我的填报, the grid, save, submit on the page, then save and submit through
   ``POST /api/filings/bulk/``.

It reports requests/s, p50 and p95 of each step, the ratio of the grid save's throughput to the
health check's under the same concurrency, the errors, and afterwards checks every value the
server accepted is in the database with its audit row (lost writes)."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from indicators.loadbench import world
from indicators.loadbench.client import Recorder, Session, version_in

Write = Callable[[str], None]
PHASES = (("health", 0.2), ("save", 0.3), ("month-end", 0.5))  # share of --seconds
# The health and save phases alternate in slices, so that both see the same machine (other work on
# it comes and goes; measured one after the other, their ratio moved by half).
ROUNDS = 6
MIN_SLICE = 0.5
STEPS = ["health", "grid save", "my filings", "grid", "grid save+submit", "API save", "API submit"]
HOST = "127.0.0.1"


@dataclass
class Options:
    workers: int = 2
    clients: int = 8
    seconds: float = 60.0
    database: str | None = None
    port: int = 0


@dataclass
class Sent:
    """Every value the server accepted: (filing id, element code, value), in order."""

    values: list[tuple[int, str, Decimal]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, filing: int, values: dict[str, int]) -> None:
        with self.lock:
            self.values.extend((filing, code, Decimal(value)) for code, value in values.items())


def validate(options: Options) -> None:
    if connections["default"].vendor != "postgresql":
        raise CommandError("bench_load measures the production stack and needs PostgreSQL: set DATABASE_URL="
                           "postgres://… (it creates, and afterwards drops, a database on that server).")
    if not 1 <= options.workers <= 64:
        raise CommandError("--workers must be 1 to 64.")
    if not 1 <= options.clients <= 200:
        raise CommandError("--clients must be 1 to 200.")
    if not 1 <= options.seconds <= 240:
        raise CommandError("--seconds must be 1 to 240 (the whole command stays under 5 minutes).")


# Database ------------------------------------------------------------------------------------

def _switch(name: str) -> None:
    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = name


def _execute(sql: str) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(sql)


def _exists(name: str) -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def database_url(name: str) -> str:
    s = connections["default"].settings_dict
    user = quote(s.get("USER") or "", safe="")
    password = quote(s.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{s.get('HOST') or 'localhost'}{port}/{quote(name, safe='')}"


# Server --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_settings() -> dict[str, str]:
    """What the server runs with, as in production (docker-compose.yml) unless the environment
    says otherwise: DEBUG off, database connections kept for 60 s (a new connection per request
    costs more than a whole /health/)."""
    return {"DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "false"),
            "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60")}


def start_server(options: Options, url: str, log) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=url, **server_settings())
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", str(options.workers),
               "--bind", f"{HOST}:{options.port}", "--timeout", "120", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_ready(server: subprocess.Popen, port: int, log_path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if Session(HOST, port).request("GET", "/health/").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    with open(log_path, encoding="utf-8", errors="replace") as log:
        tail = log.read()[-2000:]
    raise CommandError(f"gunicorn did not answer /health/ within a minute:\n{tail}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# Phases --------------------------------------------------------------------------------------

class Filer:
    """One client thread's filer: its signed-in session, filings and running save counter."""

    def __init__(self, spec: world.Filer, port: int, recorder: Recorder, sent: Sent):
        self.spec, self.recorder, self.sent = spec, recorder, sent
        self.session = Session(HOST, port)
        self.seq = 0
        self.next_filing = 1  # filings[0] is the save phase's
        self.save_version: int | None = None

    def timed(self, step: str, method: str, path: str, expect: tuple[int, ...], **kwargs):
        try:
            reply = self.session.request(method, path, **kwargs)
        except OSError as exc:
            self.recorder.error(step, 0.0, f"{method} {path}: {exc}")
            return None
        if reply.status in expect:
            self.recorder.ok(step, reply.seconds)
            return reply
        self.recorder.error(step, reply.seconds, f"{method} {path} → {reply.status} {reply.body[:300]!r}")
        return None

    def grid_form(self, values: dict[str, int], version: int, action: str) -> dict:
        form = {f"v_{self.spec.elements[code]}": str(value) for code, value in values.items()}
        form.update(version=str(version), action=action)
        return form

    def health(self, until: float) -> None:
        while time.monotonic() < until:
            self.timed("health", "GET", "/health/", (200,))

    def save_loop(self, until: float) -> None:
        filing = self.spec.filings[0]
        version = self.save_version
        if version is None:
            version = version_in(self.session.request("GET", f"/filings/{filing}/").body)
        while version is not None and time.monotonic() < until:
            self.seq += 1
            values = world.values_for(self.seq)
            reply = self.timed("grid save", "POST", f"/filings/{filing}/", (302,),
                               form=self.grid_form(values, version, "save"))
            if reply is None:
                version = version_in(self.session.request("GET", f"/filings/{filing}/").body)
                continue
            self.sent.add(filing, values)
            version += 1
        self.save_version = version

    def month_end(self, until: float) -> None:
        while time.monotonic() < until and self.next_filing + 1 < len(self.spec.filings):
            on_page = self.spec.filings[self.next_filing]
            by_api = self.spec.filings[self.next_filing + 1]
            self.next_filing += 2
            self.timed("my filings", "GET", "/filings/", (200,))
            page = self.timed("grid", "GET", f"/filings/{on_page}/", (200,))
            version = version_in(page.body) if page else None
            if version is None:
                continue
            self.seq += 1
            values = world.values_for(self.seq)
            if self.timed("grid save", "POST", f"/filings/{on_page}/", (302,),
                          form=self.grid_form(values, version, "save")):
                self.sent.add(on_page, values)
                version += 1
            self.seq += 1
            values = world.values_for(self.seq)
            if self.timed("grid save+submit", "POST", f"/filings/{on_page}/", (302,),
                          form=self.grid_form(values, version, "submit")):
                self.sent.add(on_page, values)
            for step, submit in (("API save", False), ("API submit", True)):
                self.seq += 1
                values = world.values_for(self.seq)
                reply = self.timed(step, "POST", "/api/filings/bulk/", (200, 201), data={
                    "form": world.FORM, "institution": self.spec.institution_id,
                    "period": self.spec.periods[by_api], "values": values, "submit": submit})
                if reply is not None:
                    if submit and not reply.json().get("submitted"):
                        self.recorder.error(step, 0.0, f"not submitted: {reply.body[:300]!r}")
                    self.sent.add(by_api, values)


def run_phase(filers: list[Filer], name: str, seconds: float) -> float:
    """Every filer runs the phase in its own thread until the deadline; returns the wall time."""
    method = {"health": Filer.health, "save": Filer.save_loop, "month-end": Filer.month_end}[name]
    started = time.monotonic()
    until = started + seconds
    threads = [threading.Thread(target=method, args=(f, until), daemon=True) for f in filers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def measure(filers: list[Filer], recorder: Recorder, options: Options, server: subprocess.Popen) -> list[Line]:
    """The phases; health and save alternate in ``ROUNDS`` slices each, the month end runs last."""
    shares = dict(PHASES)
    rounds = max(1, min(ROUNDS, int(options.seconds * shares["health"] / MIN_SLICE)))
    walls = {"health": 0.0, "save": 0.0}
    cpu = {"health": 0.0, "save": 0.0}
    recorder.durations.clear()
    recorder.errors.clear()
    for _round in range(rounds):
        for phase in ("health", "save"):
            before = server_cpu(server)
            walls[phase] += run_phase(filers, phase, options.seconds * shares[phase] / rounds)
            cpu[phase] += server_cpu(server) - before
    lines = []
    for phase, step in (("health", "health"), ("save", "grid save")):
        lines += [line for line in lines_of(phase, recorder, walls[phase]) if line.step == step]
        count = len(recorder.durations.get(step, []))
        if count:
            lines[-1].cpu_ms = cpu[phase] / count * 1000
    recorder.durations.clear()
    recorder.errors.clear()
    wall = run_phase(filers, "month-end", options.seconds * shares["month-end"])
    return lines + lines_of("month-end", recorder, wall)


def _cpu_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def server_cpu(server: subprocess.Popen) -> float:
    """CPU seconds used so far by gunicorn (master and workers) and by the PostgreSQL backends
    serving the benchmark's database, when /proc shows them (Linux, same machine, same user):
    a measure of a request's cost that other work on the machine does not move."""
    total = _cpu_of(server.pid)
    name = connections["default"].settings_dict["NAME"]
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return total
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            if parent == server.pid:
                total += _cpu_of(pid)
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                title = cmdline.read().decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            continue
        if title.startswith("postgres:") and f" {name} " in title:
            total += _cpu_of(pid)
    return total


# Report --------------------------------------------------------------------------------------

@dataclass
class Line:
    phase: str
    step: str
    count: int
    errors: int
    rps: float
    p50: float
    p95: float
    cpu_ms: float | None = None  # server CPU per request (health and save phases)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def lines_of(phase: str, recorder: Recorder, wall: float) -> list[Line]:
    return [Line(phase, step, len(recorder.durations[step]), recorder.errors.get(step, 0),
                 len(recorder.durations[step]) / wall if wall else 0.0,
                 statistics.median(recorder.durations[step]) * 1000, percentile(recorder.durations[step], 0.95) * 1000)
            for step in STEPS if recorder.durations.get(step)]


def verify(sent: Sent, filers: list[world.Filer]) -> tuple[int, int, int]:
    """(values accepted, values missing their audit row, cells whose stored value is not the last
    one sent). Two queries."""
    from indicators.models import DataValue, ValueAudit

    ids = [pk for f in filers for pk in f.filings]
    audited = set(ValueAudit.objects.filter(filing_id__in=ids).values_list("filing_id", "element__code", "new_value"))
    stored = {(f, c): v for f, c, v in DataValue.objects.filter(filing_id__in=ids)
              .values_list("filing_id", "element__code", "value")}
    last = {}
    for filing, code, value in sent.values:
        last[(filing, code)] = value
    unaudited = sum(1 for row in sent.values if row not in audited)
    wrong = sum(1 for cell, value in last.items() if stored.get(cell) != value)
    return len(sent.values), unaudited, wrong


def run(options: Options, write: Write) -> dict:
    validate(options)
    original = connections["default"].settings_dict["NAME"]
    name = options.database or f"bench_load_{os.getpid()}"
    created = False
    if not _exists(name):
        _execute(f'CREATE DATABASE "{name}"')
        created = True
    try:
        return _run_in(name, options, write)
    finally:
        _switch(original)
        if created and not options.database:
            _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            write(f"Dropped the database {name}.")


def _run_in(name: str, options: Options, write: Write) -> dict:
    started = time.monotonic()
    _switch(name)
    call_command("migrate", verbosity=0)
    per_client = 2 + 2 * int(options.seconds * 3)  # more than a client can file in the month-end phase
    specs = world.build(options.clients, per_client, tag=os.getpid())
    write(f"Database {name}: migrated, synthetic county with {options.clients} filers and "
          f"{options.clients * per_client} filings ({time.monotonic() - started:.1f} s).")
    options.port = options.port or free_port()
    with tempfile.NamedTemporaryFile("w+", prefix="bench_load_gunicorn_", suffix=".log", delete=False) as log:
        server = start_server(options, database_url(name), log)
    try:
        wait_ready(server, options.port, log.name)
        recorder, sent = Recorder(), Sent()
        filers = [Filer(spec, options.port, recorder, sent) for spec in specs]
        for filer in filers:
            if not filer.session.login(filer.spec.username, world.PASSWORD):
                raise CommandError(f"{filer.spec.username} could not sign in")
        env = server_settings()
        write(f"gunicorn: {options.workers} sync workers on {HOST}:{options.port} (DJANGO_DEBUG="
              f"{env['DJANGO_DEBUG']}, DATABASE_CONN_MAX_AGE={env['DATABASE_CONN_MAX_AGE']}); {options.clients} "
              f"clients signed in; {options.seconds:g} s of load.")
        lines = measure(filers, recorder, options, server)
        samples = recorder.samples
    finally:
        stop_server(server)
        os.unlink(log.name)
    accepted, unaudited, wrong = verify(sent, specs)
    result = report(lines, accepted, unaudited, wrong, samples, options, write)
    write(f"Whole run: {time.monotonic() - started:.1f} s.")
    return result


def report(lines: list[Line], accepted: int, unaudited: int, wrong: int, samples: list[str], options: Options,
           write: Write) -> dict:
    write("")
    write(f"{'phase':<10} {'step':<17} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'CPU ms':>7}")
    for line in lines:
        cpu = f"{line.cpu_ms:>7.1f}" if line.cpu_ms is not None else f"{'':>7}"
        write(f"{line.phase:<10} {line.step:<17} {line.count:>8} {line.errors:>6} {line.rps:>8.1f} "
              f"{line.p50:>8.0f} {line.p95:>8.0f} {cpu}")
    health = next((li for li in lines if li.phase == "health"), None)
    save = next((li for li in lines if li.phase == "save"), None)
    ratio = save.rps / health.rps if save and health and health.rps else 0.0
    errors = sum(li.errors for li in lines)
    lost = unaudited + wrong
    write("")
    write(f"Grid save {save.rps if save else 0:.1f} req/s vs /health/ {health.rps if health else 0:.1f} req/s "
          f"with {options.clients} clients on {options.workers} workers: ratio {ratio:.2f}")
    if save and health and save.cpu_ms and health.cpu_ms:
        write(f"Server CPU per request (gunicorn and PostgreSQL): grid save {save.cpu_ms:.1f} ms, /health/ "
              f"{health.cpu_ms:.1f} ms: ratio {health.cpu_ms / save.cpu_ms:.2f}")
    write(f"Errors: {errors}")
    for sample in samples:
        write(f"  {sample}")
    write(f"Values accepted: {accepted}; lost writes: {lost} ({unaudited} without their audit row, "
          f"{wrong} cells not holding the last value sent)")
    return {"lines": lines, "ratio": ratio, "errors": errors, "lost": lost, "accepted": accepted}
