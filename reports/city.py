"""The city (and province) roll-up of the quarterly evaluation (评价): every county below the region
side by side with its score and rank, and the city's 季度汇总表 (.xlsx, official layout).

A county's evaluation counts once its quarterly table (``Kind.QUARTERLY``) is signed off by its
bureau: the score is that of the run the signed version was made from (``data["run_id"]``), the
mean of its alliances' total scores (one alliance: its total). Counties are ranked by that score,
the highest first; equal scores share the best rank (1, 1, 3); a county without a signed-off
table (or whose signed version names no run) is listed as missing and not ranked.

The 季度汇总表 is available once every county has signed off, or from the 10th of the month after
the quarter (``OPENS_DAY``), listing the missing counties; before that the page says which counties
are still missing and the workbook is not offered.

A constant number of queries whatever the number of counties: the counties, the signed reports
with their newest version's run, the runs' alliance totals and full marks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import CharField, F, OuterRef, Q, Subquery, Sum
from django.db.models.fields.json import KT
from django.utils import translation
from django.utils.translation import gettext as _

from alliances import scoping
from alliances.models import Region
from core import workbook as book
from core.clock import BUSINESS_TZ
from core.http import safe_filename
from core.periods import Period
from indicators.models import EvaluationRun, EvaluationScore
from reports.models import Kind, Report, ReportVersion

OPENS_DAY = 10
CENT = Decimal("0.01")


@dataclass
class CountyRow:
    county: Region
    city: Region | None
    report_id: int | None = None
    run_id: int | None = None
    signed_off_at: datetime | None = None
    score: Decimal | None = None
    full_marks: Decimal | None = None
    alliances: int = 0
    rank: int | None = None

    @property
    def missing(self) -> bool:
        return self.score is None


@dataclass
class CityRow:
    """A city on a province's roll-up: the mean score of its signed-off counties."""

    city: Region
    counties: int = 0
    signed: int = 0
    score: Decimal | None = None
    rank: int | None = None

    @property
    def missing(self) -> bool:
        return self.score is None


@dataclass
class Summary:
    region: Region
    quarter: Period
    today: date
    rows: list[CountyRow] = field(default_factory=list)

    @property
    def ranked(self) -> list[CountyRow]:
        return [r for r in self.rows if not r.missing]

    @property
    def missing(self) -> list[CountyRow]:
        return [r for r in self.rows if r.missing]

    @property
    def cities(self) -> list[CityRow]:
        """The cities of the counties (a province's page), ranked by the mean score of their
        signed-off counties; a city with none is listed unranked. No query."""
        by_city: dict[int, CityRow] = {}
        scores: dict[int, list[Decimal]] = {}
        for row in self.rows:
            if row.city is None:
                continue
            line = by_city.setdefault(row.city.pk, CityRow(city=row.city))
            line.counties += 1
            if not row.missing:
                line.signed += 1
                scores.setdefault(row.city.pk, []).append(row.score)
        for pk, values in scores.items():
            by_city[pk].score = (sum(values, Decimal(0)) / len(values)).quantize(CENT, rounding=ROUND_HALF_UP)
        for pk, rank in competition_ranks({pk: r.score for pk, r in by_city.items() if r.score is not None}).items():
            by_city[pk].rank = rank
        return sorted(by_city.values(), key=lambda r: (r.rank is None, r.rank or 0, r.city.code))

    @property
    def opens_on(self) -> date:
        return opens_on(self.quarter)

    @property
    def complete(self) -> bool:
        return bool(self.rows) and not self.missing

    @property
    def available(self) -> bool:
        """Whether the 季度汇总表 may be made: all counties signed off, or the 10th has come."""
        return bool(self.rows) and (self.complete or self.today >= self.opens_on)


def opens_on(quarter: Period) -> date:
    """The 10th of the month after the quarter."""
    after = quarter.next.start
    return after.replace(day=OPENS_DAY)


def competition_ranks(scores: dict[int, Decimal]) -> dict[int, int]:
    """Highest first; equal scores share the best rank (1, 1, 3)."""
    ranks: dict[int, int] = {}
    previous: tuple[int, Decimal] | None = None
    for position, (key, value) in enumerate(sorted(scores.items(), key=lambda kv: kv[1], reverse=True), start=1):
        if previous is None or value != previous[1]:
            previous = (position, value)
        ranks[key] = previous[0]
    return ranks


def summary(user, region: Region, quarter: Period, today: date) -> Summary:
    """The counties below ``region`` that ``user`` sees, with their signed-off scores and ranks."""
    counties = (scoping.counties_for(user).filter(Q(parent=region) | Q(parent__parent=region))
                .select_related("parent").order_by("code"))
    rows = {c.pk: CountyRow(county=c, city=c.parent) for c in counties}
    result = Summary(region=region, quarter=quarter, today=today)
    if not rows:
        return result
    newest_run = (ReportVersion.objects.filter(report_id=OuterRef("pk")).order_by("-number")
                  .annotate(run_id=KT("data__run_id")).values("run_id")[:1])
    signed = (Report.objects.filter(kind=Kind.QUARTERLY, alliance__isnull=True, county_id__in=list(rows),
                                    period=str(quarter), signed_off_at__isnull=False)
              .annotate(run=Subquery(newest_run, output_field=CharField())).values_list("county_id", "pk", "signed_off_at", "run"))
    for county_id, report_id, signed_at, run in signed:
        row = rows[county_id]
        row.report_id, row.signed_off_at = report_id, signed_at
        try:
            row.run_id = int(run) if run is not None else None
        except (TypeError, ValueError):
            row.run_id = None
    by_run = {row.run_id: row for row in rows.values() if row.run_id is not None}
    if by_run:
        # Only runs of the county the report is about count (a run id is a plain number in the data).
        valid = EvaluationRun.objects.filter(pk__in=list(by_run)).annotate(
            full=Sum("scheme__items__weight")).values_list("pk", "county_id", "full")
        totals: dict[int, list[Decimal]] = {}
        for run_id, county_id, full in valid:
            if by_run[run_id].county.pk == county_id:
                by_run[run_id].full_marks = full
                totals[run_id] = []
        for run_id, score in (EvaluationScore.objects.filter(run_id__in=list(totals), item__isnull=True,
                                                              institution__isnull=True)
                              .values_list("run_id", "score").order_by(F("run_id"), "pk")):
            totals[run_id].append(score)
        for run_id, scores in totals.items():
            if scores:
                row = by_run[run_id]
                row.alliances = len(scores)
                row.score = (sum(scores, Decimal(0)) / len(scores)).quantize(CENT, rounding=ROUND_HALF_UP)
    ranks = competition_ranks({pk: row.score for pk, row in rows.items() if row.score is not None})
    for pk, rank in ranks.items():
        rows[pk].rank = rank
    result.rows = sorted(rows.values(), key=lambda r: (r.rank is None, r.rank or 0, r.county.code))
    return result


# The 季度汇总表 ------------------------------------------------------------------------------------

def title(region: Region, quarter: Period) -> str:
    with translation.override(book.OFFICIAL_LANGUAGE):
        return _("%(region)s%(quarter)s紧密型县域医共体评价汇总表") % {"region": region.name, "quarter": quarter.label}


def filename(region: Region, quarter: Period, on: date) -> str:
    return f"{safe_filename(title(region, quarter))}_{on:%Y%m%d}.xlsx"


def summary_xlsx(data: Summary) -> bytes:
    """One row per county (rank order, missing ones last), in the official layout."""
    region = data.region
    with_city = region.level == Region.Level.PROVINCE
    with translation.override(book.OFFICIAL_LANGUAGE):
        columns = [book.Column(_("序号"), 6), book.Column(_("县（市、区）"), 18, text=True)]
        if with_city:
            columns.append(book.Column(_("所属市"), 14, text=True))
        columns += [book.Column(_("评价得分"), 10), book.Column(_("满分"), 8), book.Column(_("医共体数"), 9),
                    book.Column(_("排名"), 7), book.Column(_("签发日期"), 14), book.Column(_("备注"), 18, text=True)]
        rows = []
        for number, row in enumerate(data.rows, start=1):
            line = [number, row.county.name]
            if with_city:
                line.append(row.city.name if row.city else "")
            signed = row.signed_off_at.astimezone(BUSINESS_TZ).date().isoformat() if row.signed_off_at else ""
            line += [row.score if row.score is not None else "", row.full_marks if row.full_marks is not None else "",
                     row.alliances or "", row.rank or "", signed,
                     _("未签发季度评价指标表") if row.missing else ""]
            rows.append(line)
        missing = [r.county.name for r in data.missing]
        note = _("得分为各医共体评价总分的平均值；得分相同的并列排名。")
        if missing:
            note += _("未签发的县（市、区）：%(names)s。") % {"names": "、".join(missing)}
        tables = [book.Table(sheet=_("季度汇总表"), title=title(region, data.quarter), columns=columns, rows=rows,
                             note=note)]
        if with_city:
            tables.append(book.Table(
                sheet=_("各市汇总"), title=_("%(region)s%(quarter)s各市评价汇总表") % {
                    "region": region.name, "quarter": data.quarter.label},
                columns=[book.Column(_("序号"), 6), book.Column(_("市"), 16, text=True),
                         book.Column(_("县（市、区）数"), 12), book.Column(_("已签发数"), 10),
                         book.Column(_("平均得分"), 10), book.Column(_("排名"), 7)],
                rows=[[n, c.city.name, c.counties, c.signed, c.score if c.score is not None else "", c.rank or ""]
                      for n, c in enumerate(data.cities, start=1)],
                note=_("各市得分为其已签发县（市、区）得分的平均值。")))
        unit = _("%(region)s卫生健康局") % {"region": region.name}
        return book.workbook(tables, unit=unit, on=data.today)
