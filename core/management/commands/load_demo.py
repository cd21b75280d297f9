"""``python manage.py load_demo``: load the demo counties (郁南县, 万源市) and demo logins, each app's part
as it registered it with ``core.demo``."""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from core import demo


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(headers: list[str], rows: list[tuple[str, ...]]) -> str:
    """A plain-text table whose columns line up with Chinese text in a terminal."""
    widths = [max(_width(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(_pad(str(cell), w) for cell, w in zip(line, widths, strict=True)).rstrip()
             for line in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Load the demo data (郁南县 with its three alliances, 万源市 with its 1+1+N alliance, and demo "
        "logins). Running it again changes nothing; a demo user's password is set only when the user is "
        "created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Do not print the table of demo logins.")
        # Each app's part of the demo that can be left out brings its option (core.demo).
        for part in demo.parts():
            if part.skip_flag:
                parser.add_argument(part.skip_flag, action="store_true", dest=part.skip_dest, help=part.skip_help)
        parser.add_argument(
            "--allow-production", action="store_true",
            help="Load even when DJANGO_ENV=production (the demo logins share a published password).",
        )

    def handle(self, *args, quiet: bool = False, allow_production: bool = False, **options):
        if getattr(settings, "PRODUCTION", False) and not allow_production:
            raise CommandError(_(
                "Refusing to load demo logins with a published password into a production site; "
                "pass --allow-production if this is really wanted."))
        skip = {part.name for part in demo.parts() if part.skip_dest and options.get(part.skip_dest)}
        done = demo.load(now=timezone.now(), today=timezone.localdate(), skip=skip)
        verbosity = options.get("verbosity", 1)
        for _part, report in done:
            if verbosity >= 1 and report.summary:
                self.stdout.write(self.style.SUCCESS(report.summary))
            if verbosity >= 2:
                for line in report.details:
                    self.stdout.write(line)
        logins = demo.logins()
        if quiet or verbosity < 1 or logins is None:
            return
        rows = [(username, role, scope, logins.password) for username, role, scope in logins.rows()]
        self.stdout.write("")
        self.stdout.write(format_table([_("Username"), _("Role"), _("Scope"), _("Password")], rows))
        self.stdout.write("")
        self.stdout.write(_("Every demo login has the password %(password)s; it is set only when the user is "
                            "created, so a password changed since is kept.") % {"password": logins.password})
