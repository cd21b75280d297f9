"""The registers the import API serves. Each app declares its registers (``Register``) and adds
them here from its ``AppConfig.ready``; ``core`` knows none of them by name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.imports.columns import Field


@dataclass
class Preview:
    """What a register's preview gives the API: the answer's body (``header_row``, ``mapping``,
    ``rows``, ``errors``, ``counts``), and what to keep for the confirmation (None when there is
    nothing to confirm: errors, or nothing to change)."""

    body: dict[str, Any]
    payload: dict[str, Any] | None = None
    fingerprint: str = ""


@dataclass
class Applied:
    """A confirmation's outcome: counts for the answer and the page that shows the result."""

    body: dict[str, Any]
    url: str = ""


class Stale(Exception):  # noqa: N818  (the data changed since the preview: preview again)
    def __init__(self, body: dict[str, Any]):
        super().__init__("stale")
        self.body = body


class Register(Protocol):
    name: str
    label: str
    fields: Sequence[Field]

    def county_for(self, user, county_id) -> Any:
        """The county the user imports into: ``Http404`` when missing or foreign, ``PermissionDenied``
        when seen but not the user's to import into (the page's rules)."""

    # Optional: ``fields_for(*, user, county, options)``, the fields of what is imported into when they
    # depend on it (a budget's members), for checking the API's mapping; ``fields`` otherwise.

    def preview(self, *, user, county, upload, mapping: dict | None, options: dict, now: datetime) -> Preview:
        """Read, map and check ``upload``; ``options`` are the request's other fields (a ledger's year)."""

    def confirm(self, *, user, county, payload: dict, fingerprint: str, now: datetime, request) -> Applied:
        """Apply what was previewed, in one transaction, with its audit event; ``Stale`` when the
        portal's data changed since; ``core.issues.ImportFailed`` when applying fails."""


@dataclass
class _Registry:
    registers: dict[str, Register] = field(default_factory=dict)


_REGISTRY = _Registry()


def add(register: Register) -> None:
    if register.name in _REGISTRY.registers:
        raise RuntimeError(f"register {register.name!r} is already declared")
    _REGISTRY.registers[register.name] = register


def get(name: str) -> Register | None:
    return _REGISTRY.registers.get(name)


def names() -> list[str]:
    return sorted(_REGISTRY.registers)
