"""The benchmark command runs end to end on a tiny size, prints its figures and leaves nothing
behind (a smoke test: benchmarks print figures, they are not timed tests)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from alliances.models import Region
from tasks.bench import PAGES, cn_number
from tasks.models import Assignment, Ledger, ProgressReport, TaskItem


def test_cn_number_writes_section_numerals():
    assert [cn_number(n) for n in (1, 10, 15, 42, 100, 105, 120)] == ["一", "十", "十五", "四十二", "一百", "一百零五",
                                                                       "一百二十"]


@pytest.mark.django_db
def test_bench_ledgers_prints_figures_and_rolls_back():
    buffer = io.StringIO()
    call_command("bench_ledgers", "--counties", "2", "--items", "12", "--reports", "2", "--import-rows", "200",
                 stdout=buffer)
    out = buffer.getvalue()

    assert "rolled back" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("page "))
    for title in ("user", "1× ms", "1× queries", "100× ms", "100× queries", "time ratio"):
        assert title in header
    table = out[out.index(header):]
    for page in PAGES:
        for user in ("province", "county"):
            row = next(line for line in table.splitlines() if line.split()[:2] == [page, user])
            figures = row.split()[2:]
            assert len(figures) == 5, row
            assert all(f.replace(",", "").replace(".", "").rstrip("×").isdigit() for f in figures), row
    assert "100×: counties 2, ledgers 2, items 24," in out
    assert "(d)/(a)" in out
    assert "import 200 rows:" in out

    # Everything was rolled back.
    assert not Region.objects.filter(code__startswith="99").exists()
    assert not Ledger.objects.exists()
    assert not TaskItem.objects.exists()
    assert not Assignment.objects.exists()
    assert not ProgressReport.objects.exists()
    assert not User.objects.filter(username__startswith="bench_").exists()
