"""The load benchmark's run: a throwaway PostgreSQL database (or the one given) and gunicorn on
loopback (``server``), the synthetic county (``world``), then the timed phases with M client
threads (``phases``):

1. ``health``: every client reads ``/health/`` (the trivial view: one ``SELECT 1``, one row);
2. ``save``: every client saves its own filing's grid over and over (the page's POST); the two
   alternate in slices, so both see the same machine;
3. ``month-end``: every client goes through a filer's month end, two filings per round:
   我的填报, the grid, save, submit on the page, then save and submit through
   ``POST /api/filings/bulk/``.

It reports requests/s, p50 and p95 of each step, the ratio of the grid save's throughput to the
health check's under the same concurrency (and of their server CPU per request), the errors, and
afterwards checks that every value the server accepted is in the database with its audit row and
that every cell holds the last value sent (lost writes)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from indicators.loadbench import world
from indicators.loadbench.client import Recorder
from indicators.loadbench.phases import Filer, Line, Sent, measure
from indicators.loadbench.server import (
    HOST,
    database_url,
    execute,
    exists,
    free_port,
    server_settings,
    start_server,
    stop_server,
    switch,
    wait_ready,
)

Write = Callable[[str], None]


@dataclass
class Options:
    workers: int = 2
    clients: int = 8
    seconds: float = 60.0
    database: str | None = None
    port: int = 0


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
    if not exists(name):
        execute(f'CREATE DATABASE "{name}"')
        created = True
    try:
        return _run_in(name, options, write)
    finally:
        switch(original)
        if created and not options.database:
            execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            write(f"Dropped the database {name}.")


def _run_in(name: str, options: Options, write: Write) -> dict:
    started = time.monotonic()
    switch(name)
    call_command("migrate", verbosity=0)
    per_client = 2 + 2 * int(options.seconds * 3)  # more than a client can file in the month-end phase
    specs = world.build(options.clients, per_client, tag=os.getpid())
    write(f"Database {name}: migrated, synthetic county with {options.clients} filers and "
          f"{options.clients * per_client} filings ({time.monotonic() - started:.1f} s).")
    options.port = options.port or free_port()
    with tempfile.NamedTemporaryFile("w+", prefix="bench_load_gunicorn_", suffix=".log", delete=False) as log:
        server = start_server(options.workers, options.port, database_url(name), log)
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
        lines = measure(filers, recorder, options.seconds, server, name)
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
