"""``python manage.py bench_reports``: generate the monthly 进度监测表 of every county and alliance of
a synthetic province and print the time next to openpyxl alone writing the same cells, and the
peak memory (``reports.bench`` does the work). Nothing is left in the database."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from reports import bench


class Command(BaseCommand):
    help = ("Build a synthetic province (by default 80 counties, 200 alliances, 4,000 institutions, 13 months of "
            "filings, 120 ledger items per county) in a transaction that is rolled back, generate every monthly "
            "进度监测表 and print the time next to openpyxl alone writing the same cells, and peak memory.")

    def add_arguments(self, parser):
        defaults = bench.Options()
        for name in ("counties", "alliances", "institutions", "months", "items", "reports", "runs"):
            parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name),
                                help=f"(default {getattr(defaults, name)})")
        parser.add_argument("--scale", type=float, default=defaults.scale,
                            help="Multiply counties, alliances and institutions by this fraction.")
        parser.add_argument("--profile", action="store_true", help="Print a profile of one generation run.")

    def handle(self, *args, **options):
        bench.run(bench.Options(**{k: options[k] for k in (
            "counties", "alliances", "institutions", "months", "items", "reports", "runs", "scale", "profile")}),
            write=self.stdout.write)
