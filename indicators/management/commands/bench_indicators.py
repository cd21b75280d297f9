"""``python manage.py bench_indicators``: the quarterly indicator evaluation on a synthetic province,
side by side with the floor (one grouped SQL read of the same values) and a naive ORM loop
(``indicators.bench`` does the work). Prints figures; nothing is left in the database unless
``--keep``."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from indicators import bench


class Command(BaseCommand):
    help = (
        "Build a synthetic province (by default 80 counties, 200 alliances, 4,000 institutions, the catalogue's "
        "data elements, 36 months of filings) in one transaction that is rolled back, and print the time of the full "
        "quarterly evaluation of every catalogue indicator for every unit next to the floor (one grouped SQL read "
        "of the same values) and a naive ORM loop on a sample, scaled; the evaluation's query count at two sizes; "
        "the queries of a filing save of 60 values; peak memory. Meant for PostgreSQL."
    )

    def add_arguments(self, parser):
        defaults = bench.Options()
        parser.add_argument("--counties", type=int, default=defaults.counties,
                            help="Synthetic counties (default %(default)s).")
        parser.add_argument("--alliances", type=int, default=defaults.alliances,
                            help="Alliances, spread over the counties, at most 3 each (default %(default)s).")
        parser.add_argument("--institutions", type=int, default=defaults.institutions,
                            help="Institutions, spread over the counties (default %(default)s).")
        parser.add_argument("--elements", type=int, default=defaults.elements,
                            help=f"Data elements: the catalogue's {bench.CATALOGUE_ELEMENTS} and filler elements on "
                                 "the monthly form (default %(default)s).")
        parser.add_argument("--months", type=int, default=defaults.months,
                            help="Months of filings, ending with the last complete quarter (default %(default)s).")
        parser.add_argument("--scale", type=float, default=defaults.scale,
                            help="Multiply counties, alliances and institutions by this fraction (default "
                                 "%(default)s).")
        parser.add_argument("--sample", type=int, default=defaults.sample,
                            help="Units per level of the naive ORM loop (default %(default)s).")
        parser.add_argument("--keep", action="store_true",
                            help="Commit the synthetic province instead of rolling it back (a throwaway database).")
        parser.add_argument("--reuse", action="store_true",
                            help="Measure the province an earlier --keep run left, without building it.")

    def handle(self, *args, **options):
        bench.run(bench.Options(counties=options["counties"], alliances=options["alliances"],
                                institutions=options["institutions"], elements=options["elements"],
                                months=options["months"], scale=options["scale"], sample=options["sample"],
                                keep=options["keep"], reuse=options["reuse"]),
                  write=self.stdout.write)
