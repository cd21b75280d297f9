"""The load benchmark's phases: each simulated filer in its own thread, for a bounded time, every
request timed under its step; the health and save phases alternate in slices, the month end runs
last. ``Sent`` keeps every value the server accepted, for the lost-write check."""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

from indicators.loadbench import world
from indicators.loadbench.client import Recorder, Session, version_in
from indicators.loadbench.server import HOST, server_cpu

PHASES = (("health", 0.2), ("save", 0.3), ("month-end", 0.5))  # share of --seconds
# The health and save phases alternate in slices, so that both see the same machine (other work on
# it comes and goes; measured one after the other, their ratio moved by half).
ROUNDS = 6
MIN_SLICE = 0.5
STEPS = ["health", "grid save", "my filings", "grid", "grid save+submit", "API save", "API submit"]


@dataclass
class Sent:
    """Every value the server accepted: (filing id, element code, value), in order."""

    values: list[tuple[int, str, Decimal]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, filing: int, values: dict[str, int]) -> None:
        with self.lock:
            self.values.extend((filing, code, Decimal(value)) for code, value in values.items())


# Figures --------------------------------------------------------------------------------------

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


def measure(filers: list[Filer], recorder: Recorder, seconds: float, server: subprocess.Popen, database: str
            ) -> list[Line]:
    """The phases; health and save alternate in ``ROUNDS`` slices each, the month end runs last."""
    shares = dict(PHASES)
    rounds = max(1, min(ROUNDS, int(seconds * shares["health"] / MIN_SLICE)))
    walls = {"health": 0.0, "save": 0.0}
    cpu = {"health": 0.0, "save": 0.0}
    recorder.durations.clear()
    recorder.errors.clear()
    for _round in range(rounds):
        for phase in ("health", "save"):
            before = server_cpu(server, database)
            walls[phase] += run_phase(filers, phase, seconds * shares[phase] / rounds)
            cpu[phase] += server_cpu(server, database) - before
    lines = []
    for phase, step in (("health", "health"), ("save", "grid save")):
        lines += [line for line in lines_of(phase, recorder, walls[phase]) if line.step == step]
        count = len(recorder.durations.get(step, []))
        if count:
            lines[-1].cpu_ms = cpu[phase] / count * 1000
    recorder.durations.clear()
    recorder.errors.clear()
    wall = run_phase(filers, "month-end", seconds * shares["month-end"])
    return lines + lines_of("month-end", recorder, wall)
