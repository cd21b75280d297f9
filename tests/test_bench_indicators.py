"""The indicator benchmark runs end to end on a tiny province, prints its figures and leaves nothing
behind (a smoke test: benchmarks print figures, they are not timed tests). Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alliances.models import Institution, Region
from core.periods import Period
from indicators.bench import month_range, spread
from indicators.catalog import INDICATORS
from indicators.models import DataValue, Filing

TINY = ["--counties", "2", "--alliances", "4", "--institutions", "12", "--months", "15", "--sample", "2"]


def test_spread_and_month_range():
    assert spread(200, 80)[:3] == [3, 3, 3] and spread(200, 80)[-1] == 2 and sum(spread(200, 80)) == 200
    assert spread(4000, 80) == [50] * 80
    months = month_range(Period.parse("2026Q3"), 15)
    assert [str(months[0]), str(months[-1]), len(months)] == ["2025-07", "2026-09", 15]


def _figure(line: str, label: str) -> str:
    match = re.search(re.escape(label) + r"\s+(.*)$", line)
    assert match, line
    return match.group(1)


@pytest.mark.django_db
def test_bench_indicators_prints_figures_and_rolls_back():
    buffer = io.StringIO()
    call_command("bench_indicators", *TINY, stdout=buffer)
    out = buffer.getvalue()
    lines = out.splitlines()

    # Per county: 2 lead hospitals (44 monthly values: the 26 rows for hospitals, 2 fillers, the
    # 财务支出月报's 6 and the 人员配置月报's 10) and 4 health centres (39: 21 + 2 + 6 + 10); each quarter
    # 3 + 3 × 17 + 15 values (the community centre has no village clinic rows); the county's own 7 + 1
    # (population) a month. 15 months = 5 whole quarters:
    # (15 × (2 × 44 + 4 × 39) + 5 × (2 × 3 + 3 × 17 + 15) + 15 × 8) × 2 counties; filings: three
    # monthly forms and the quarterly one for 6 filers, the county's two monthly ones. (Issue 18 added
    # 4 monthly rows for hospitals, 1 for centres, 7 quarterly rows for centres and 1 for the county.)
    values = (15 * (2 * 44 + 4 * 39) + 5 * (2 * 3 + 3 * 17 + 15) + 15 * 8) * 2
    filings = (15 * 6 * 3 + 5 * 6 + 15 * 2) * 2
    assert values == 8280 and filings == 660
    assert "province: 2 counties, 4 alliances, 12 institutions, 73 elements, months " in out
    assert f"{filings:,} filings, {values:,} values; 4 institutions move alliance" in out

    # Results: 19 indicators for every level, 14 for counties and alliances, 4 for counties only,
    # 1 for alliances only; 12 institutions, 4 alliances, 2 counties (and 6, 2, 1 in one county).
    everywhere = sum(1 for spec in INDICATORS if not spec.get("levels"))
    assert (everywhere, len(INDICATORS)) == (19, 47)
    # The talent targets of 附件3 add 6 for counties and alliances and 3 for counties only.
    full = 19 * 12 + (19 + 14 + 1 + 6) * 4 + (19 + 14 + 4 + 9) * 2
    one_county = 19 * 6 + (19 + 14 + 1 + 6) * 2 + (19 + 14 + 4 + 9) * 1
    assert (full, one_county) == (480, 240)

    at = next(n for n, line in enumerate(lines) if line.strip().startswith("measurement "))
    for title in ("what", "time s", "vs (1)", "queries", "rows"):
        assert title in lines[at]
    rows = {label: next(line for line in lines[at:] if line.strip().startswith(label))
            for label in ("(1) full evaluation", "(2a) floor, one quarter", "(2b) floor, both quarters",
                          "(3) naive ORM loop, scaled")}
    evaluation = rows["(1) full evaluation"]
    assert re.search(r"\s\d+\.\d{3}\s+1\.00×\s+\d+\s+[\d,]+ read, 480 results$", evaluation), evaluation
    assert re.search(r"\s\d+\.\d{3}\s+[\d.,]+×\s+1\s+[\d,]+$", rows["(2a) floor, one quarter"])
    assert re.search(r"\s\d+\.\d{3}\s+[\d.,]+×\s+2\s+[\d,]+$", rows["(2b) floor, both quarters"])
    # The naive loop: 2 units per level sampled, one query per unit × element × period: the 64
    # catalogue elements the indicators read for the quarter, and the 56 the direction targets and
    # the "same period last year" terms read for the quarter a year before.
    assert "elements read: 2026Q3 64, 2025Q3 56" in out
    naive = rows["(3) naive ORM loop, scaled"]
    assert naive.endswith(f"{6 * (64 + 56):,} in the sample"), naive
    assert f"{(12 + 4 + 2) * (64 + 56):,}" in naive
    assert re.search(r"evaluation / floor \(\d{4}Q\d\): [\d.]+×   evaluation / floor \(both quarters\): [\d.]+×", out)
    assert "cross-check: A4_16 numerator and denominator equal the naive sums for 6 of 6 sampled units" in out

    # (4) the same queries for one county as for both.
    table = out[out.index("(4) evaluation query count by size:"):]
    sizes = {}
    for line in table.splitlines()[3:5]:
        counties, results, queries = line.split()
        sizes[int(counties)] = (int(results.replace(",", "")), int(queries))
    assert sizes[1][0] == one_county and sizes[2][0] == full
    assert sizes[1][1] == sizes[2][1] <= 8
    assert "query count independent of the number of units: yes" in out

    # (5) saving 60 values costs the queries saving 2 does.
    insert = _figure(next(line for line in lines if "save 60 new values:" in line), "save 60 new values:")
    small = _figure(next(line for line in lines if "save 2 new values:" in line), "save 2 new values:")
    assert insert.split(" queries")[0] == small.split(" queries")[0]
    assert "constant number of queries (60 values as 2): yes" in out
    assert re.search(r"peak Python memory of one evaluation: [\d.,]+ MB \(tracemalloc\)", out)

    # Everything was rolled back.
    assert "Rolled back" in out
    assert not Region.objects.filter(code__startswith="98").exists()
    assert not Institution.objects.exists()
    assert not Filing.objects.exists()
    assert not DataValue.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("options", "message"), [
    (["--counties", "2", "--alliances", "7", "--institutions", "20"], "--alliances"),
    (["--counties", "2", "--alliances", "4", "--institutions", "5"], "--institutions"),
    (["--elements", "40"], "--elements"),
    (["--months", "2"], "--months"),
])
def test_bench_indicators_refuses_sizes_it_cannot_build(options, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("bench_indicators", *options, stdout=io.StringIO())
    assert not Region.objects.exists()
