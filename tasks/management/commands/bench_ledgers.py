"""``python manage.py bench_ledgers``: page and import figures of the task ledgers on synthetic data
(``tasks.bench`` does the work). Prints figures; nothing is left in the database."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tasks import bench


class Command(BaseCommand):
    help = (
        "Build synthetic task ledgers (by default 50 counties × 300 items with fan-out, about 100k "
        "assignments and 1M progress reports) in one transaction that is rolled back, and print the render "
        "time and query count of the dashboard, the list and the ledger pages at 1× and 100× the data, and "
        "the import time of a large ledger .xlsx next to openpyxl reading the same file. Meant for PostgreSQL."
    )

    def add_arguments(self, parser):
        defaults = bench.Options()
        parser.add_argument("--counties", type=int, default=defaults.counties,
                            help="Synthetic counties at full size (default %(default)s).")
        parser.add_argument("--items", type=int, default=defaults.items,
                            help="Items in each county's ledger (default %(default)s).")
        parser.add_argument("--reports", type=int, default=defaults.reports,
                            help="Progress reports per assignment, on average (default %(default)s).")
        parser.add_argument("--import-rows", type=int, default=defaults.import_rows,
                            help="Items in the ledger file of the import benchmark (default %(default)s).")
        parser.add_argument("--skip-pages", action="store_true", help="Do not generate data nor measure pages.")
        parser.add_argument("--skip-import", action="store_true", help="Do not measure the import.")
        parser.add_argument("--force", action="store_true",
                            help="On SQLite, use the sizes asked instead of capping them small.")

    def handle(self, *args, **options):
        bench.run(bench.Options(counties=options["counties"], items=options["items"], reports=options["reports"],
                                import_rows=options["import_rows"], skip_pages=options["skip_pages"],
                                skip_import=options["skip_import"], force=options["force"]),
                  write=self.stdout.write)
