"""``python manage.py bench_load [--workers N] [--clients M] [--seconds S] [--database NAME]``: the
month-end load benchmark (indicators/loadbench/): gunicorn on loopback against a throwaway
PostgreSQL database, M concurrent filers, requests/s and p50/p95 per step, the grid save's
throughput against /health/'s, errors and lost writes."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from indicators.loadbench.run import Options, run


class Command(BaseCommand):
    help = ("Month-end load benchmark: gunicorn with N workers on a fresh PostgreSQL database, M concurrent "
            "filers opening 我的填报 and the grid, saving and submitting on the page and through "
            "/api/filings/bulk/; prints req/s, p50/p95 per step, the save / health ratio, errors and lost writes.")

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default %(default)s).")
        parser.add_argument("--clients", type=int, default=8, help="Concurrent filers (default %(default)s).")
        parser.add_argument("--seconds", type=float, default=60,
                            help="Seconds of load, over the three phases (default %(default)s).")
        parser.add_argument("--database", default=None,
                            help="Database to use and keep (created when missing); default: a fresh "
                                 "bench_load_<pid> on the configured server, dropped afterwards.")
        parser.add_argument("--port", type=int, default=0, help="Port of gunicorn (default: a free one).")

    def handle(self, *args, workers, clients, seconds, database, port, **options):
        result = run(Options(workers=workers, clients=clients, seconds=seconds, database=database, port=port),
                     self.stdout.write)
        if result["errors"] or result["lost"]:
            raise CommandError(f"{result['errors']} errors, {result['lost']} lost writes")
