"""``python manage.py bench_signin --runs N``: the CPU cost of one sign-in's password check with
Django's default PBKDF2 hasher and with Argon2 (the portal's first hasher), side by side, and what a
month-end morning's burst of sign-ins costs on a small server with each."""

from __future__ import annotations

import time

from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher
from django.core.management.base import BaseCommand, CommandError

from accounts.hashers import PortalArgon2PasswordHasher

PASSWORD = "Bench-signin-2026"
BURST = 100  # sign-ins of a month-end morning, when every filer opens the portal at once
CORES = 2


def per_check(hasher, runs: int) -> tuple[float, float]:
    """CPU seconds (``time.process_time``: every thread of the process, Argon2's lanes included) and
    wall seconds of one ``verify`` of a hash made by ``hasher``."""
    encoded = hasher.encode(PASSWORD, hasher.salt())
    cpu, wall = time.process_time(), time.perf_counter()
    verified = all([hasher.verify(PASSWORD, encoded) for _ in range(runs)])
    cpu, wall = (time.process_time() - cpu) / runs, (time.perf_counter() - wall) / runs
    if not verified:
        raise CommandError(f"{hasher.algorithm}: the hash does not verify")
    return cpu, wall


class Command(BaseCommand):
    help = ("Measure the CPU time of one sign-in's password check with PBKDF2 (Django's default) and with "
            "Argon2 (the portal's), and what 100 sign-ins at once cost on 2 cores with each.")

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=20, help="Checks timed per hasher (default %(default)s).")

    def handle(self, *args, runs: int, **options):
        if runs < 1:
            raise CommandError("--runs must be at least 1")
        pbkdf2, django_argon2, argon2 = PBKDF2PasswordHasher(), Argon2PasswordHasher(), PortalArgon2PasswordHasher()
        measured = {"PBKDF2": per_check(pbkdf2, runs), "Argon2 (Django's defaults)": per_check(django_argon2, runs),
                    "Argon2": per_check(argon2, runs)}
        costs = {name: cpu for name, (cpu, _wall) in measured.items()}
        write = self.stdout.write
        write(f"Password check per sign-in, CPU time (wall time) ({runs} run{'s' if runs != 1 else ''} each):")
        write(f"  PBKDF2 before ({pbkdf2.algorithm}, {pbkdf2.iterations:,} iterations): "
              f"{costs['PBKDF2'] * 1000:.1f} ms CPU ({measured['PBKDF2'][1] * 1000:.1f} ms wall)")
        for name, hasher in (("Argon2 (Django's defaults)", django_argon2), ("Argon2", argon2)):
            label = "Argon2 with Django's defaults" if hasher is django_argon2 else "Argon2 now (the portal's)"
            write(f"  {label} (time cost {hasher.time_cost}, memory {hasher.memory_cost:,} KiB, "
                  f"parallelism {hasher.parallelism}): {costs[name] * 1000:.1f} ms CPU "
                  f"({measured[name][1] * 1000:.1f} ms wall)")
        write(f"  Ratio of CPU time PBKDF2 / Argon2: {costs['PBKDF2'] / costs['Argon2']:.2f}")
        write(f"{BURST} sign-ins at once on {CORES} cores (CPU of the checks alone, spread on every core):")
        for name, cost in costs.items():
            write(f"  {name}: {BURST * cost / CORES:.2f} s until the last one is checked "
                  f"({BURST * cost:.2f} CPU s in all)")
