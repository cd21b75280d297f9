"""``manage.py bench_load`` with tiny bounds: it runs end to end (its own database, gunicorn, the
three phases) and reports every figure with no error and no lost write. PostgreSQL only: the
benchmark measures the production stack and refuses SQLite with a clear message (checked too)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]
STEPS = ["health", "grid save", "my filings", "grid", "grid save+submit", "API save", "API submit"]


@pytest.mark.skipif(not ON_POSTGRES, reason="bench_load runs against PostgreSQL only")
def test_bench_load_reports_every_figure_without_errors_or_lost_writes():
    result = subprocess.run(
        [sys.executable, "manage.py", "bench_load", "--clients", "2", "--seconds", "3", "--workers", "1"],
        cwd=settings.BASE_DIR, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for step in STEPS:  # requests, errors, req/s, p50 ms, p95 ms (and the server's CPU ms for two)
        assert re.search(rf"^\S+\s+{re.escape(step)}\s+[1-9]\d*\s+0\s+\d+\.\d\s+\d+\s+\d+(\s+\d+\.\d)?\s*$",
                         out, re.M), (step, out)
    assert re.search(r"Grid save \d+\.\d req/s vs /health/ \d+\.\d req/s with 2 clients on 1 workers: "
                     r"ratio \d+\.\d\d", out), out
    assert re.search(r"Server CPU per request \(gunicorn and PostgreSQL\): grid save \d+\.\d ms, /health/ "
                     r"\d+\.\d ms", out), out
    assert "Errors: 0" in out
    accepted = re.search(r"Values accepted: (\d+); lost writes: 0 \(0 without their audit row, 0 cells", out)
    assert accepted and int(accepted.group(1)) > 0, out
    assert re.search(r"Dropped the database bench_load_\d+\.", out), out


@pytest.mark.skipif(ON_POSTGRES, reason="the refusal is SQLite's")
def test_bench_load_refuses_sqlite_with_a_clear_message():
    with pytest.raises(CommandError, match="needs PostgreSQL: set DATABASE_URL"):
        call_command("bench_load", "--seconds", "1")
