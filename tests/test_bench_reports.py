"""The report benchmark runs end to end on a tiny province, prints its figures and leaves nothing
behind (a smoke test: benchmarks print figures, they are not timed tests)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from alliances.models import Region
from reports.models import Report, ReportVersion
from tasks.models import TaskItem

TINY = ["--counties", "2", "--alliances", "3", "--institutions", "16", "--months", "13", "--items", "6",
        "--reports", "1", "--runs", "1"]


@pytest.mark.django_db
def test_bench_reports_prints_figures_and_rolls_back():
    buffer = io.StringIO()
    call_command("bench_reports", *TINY, stdout=buffer)
    out = buffer.getvalue()
    assert "5 monthly tables of" in out and "(2 counties, 3 alliances)" in out
    assert re.search(r"first run: 5 generated, \d+ queries", out), out
    for label in ("pipeline", "openpyxl, values only", "openpyxl, official layout"):
        assert re.search(rf"^{re.escape(label)}\s+\d+\.\d\d\s", out, re.M), (label, out)
    assert re.search(r"official layout: \d+\.\d\d× \(aim ≤ 2×\); / openpyxl writing the values alone: \d+\.\d\d×", out)
    assert re.search(r"peak Python memory: pipeline \d+ MB", out)
    assert "Rolled back" in out
    assert not Region.objects.exists() and not Report.objects.exists() and not ReportVersion.objects.exists()
    assert not TaskItem.objects.exists()
