"""The demo data (``manage.py load_demo``), loaded part by part: each app registers the part it owns
(``AppConfig.ready``), core runs them in the order they were registered, which is the order of
``INSTALLED_APPS`` and so the order of the layers (the organisation before the ledgers and filings,
those before finance, staffing and the reports). Core imports no app: a part names its loader by
dotted path, imported only when the demo is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils.module_loading import import_string


@dataclass(frozen=True)
class DemoReport:
    """What a part says it loaded: one line, and the lines printed with ``--verbosity 2``."""

    summary: str | None = None
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DemoPart:
    """One app's demo data. ``loader`` is the dotted path of ``load(*, now, today) -> DemoReport``;
    ``needs`` the parts that must have been loaded before it (when one was skipped, so is this one);
    ``skip_flag`` the option of ``load_demo`` that leaves it out (``--without-ledgers``), if any."""

    name: str
    loader: str
    needs: tuple[str, ...] = ()
    skip_flag: str | None = None
    skip_help: str = ""

    @property
    def skip_dest(self) -> str | None:
        """The flag's name as ``argparse`` stores it (``without_ledgers``)."""
        return self.skip_flag.lstrip("-").replace("-", "_") if self.skip_flag else None


@dataclass(frozen=True)
class DemoLogins:
    """The demo logins for the table ``load_demo`` and ``runportal`` print: the shared password and
    ``rows()`` giving ``(username, role, scope)`` per grant (no database needed)."""

    password: str
    rows: Callable[[], list[tuple[str, str, str]]]


_parts: list[DemoPart] = []
_logins: list[DemoLogins] = []


def register(part: DemoPart) -> None:
    """Add ``part`` after those registered before it (again under the same name: replaced in place)."""
    for index, known in enumerate(_parts):
        if known.name == part.name:
            _parts[index] = part
            return
    _parts.append(part)


def register_logins(logins: DemoLogins) -> None:
    _logins[:] = [logins]


def parts() -> list[DemoPart]:
    return list(_parts)


def logins() -> DemoLogins | None:
    return _logins[0] if _logins else None


def load(*, now: datetime, today: date, skip: set[str] = frozenset()) -> list[tuple[DemoPart, DemoReport]]:
    """Load every registered part not in ``skip`` (names) whose needs were loaded, in order."""
    loaded: set[str] = set()
    done = []
    for part in _parts:
        if part.name in skip or any(need not in loaded for need in part.needs):
            continue
        report = import_string(part.loader)(now=now, today=today)
        loaded.add(part.name)
        done.append((part, report or DemoReport()))
    return done
