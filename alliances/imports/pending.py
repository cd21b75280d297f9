"""Keeping a register upload between the preview and the confirmation (``core.pending``): the
owner is the user and the county."""

from __future__ import annotations

from alliances.imports.results import RawTable
from alliances.models import Region
from core import pending
from core.pending import PENDING_MAX_AGE, TOKEN_RE

KIND = "institutions"
SESSION_KEY = pending._session_key(KIND)

__all__ = ["KIND", "PENDING_MAX_AGE", "SESSION_KEY", "TOKEN_RE", "discard_pending", "load_pending", "pending_owner",
           "store_pending", "update_pending"]


def pending_owner(user, county: Region) -> dict:
    """Who may confirm (``core.pending``'s owner): the user, in the county."""
    return {"user": user.pk, "county": county.pk}


_owner = pending_owner


def store_pending(session, *, table: RawTable, county: Region, user, fingerprint: str) -> str:
    """Keep ``table`` server-side for the confirmation; returns the token only this session knows."""
    return pending.store(session, KIND, payload=table.to_json(), owner=_owner(user, county), fingerprint=fingerprint)


def load_pending(session, token: str, *, county: Region, user) -> tuple[RawTable, str] | None:
    """The table and fingerprint stored under ``token`` by this session for this user and county, or None."""
    found = pending.load(session, KIND, token, owner=_owner(user, county))
    if found is None:
        return None
    payload, fingerprint = found
    return RawTable.from_json(payload), fingerprint


def update_pending(session, token: str, fingerprint: str) -> None:
    pending.update_fingerprint(session, KIND, token, fingerprint)


def discard_pending(session, token: str) -> None:
    pending.discard(session, KIND, token)
