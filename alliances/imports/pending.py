"""Keeping an upload between the preview and the confirmation: a JSON file under
``MEDIA_ROOT/imports`` named by a random token that only the uploading session knows."""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from alliances.imports.results import RawTable
from alliances.models import Region

PENDING_MAX_AGE = timedelta(hours=12)
SESSION_KEY = "alliances_institution_imports"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def _pending_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def store_pending(session, *, table: RawTable, county: Region, user, fingerprint: str) -> str:
    """Keep ``table`` server-side for the confirmation; returns the token only this session knows."""
    directory = _pending_dir()
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)
    token = secrets.token_urlsafe(32)
    payload = {"user": user.pk, "county": county.pk, "table": table.to_json()}
    (directory / f"{token}.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    entries = dict(session.get(SESSION_KEY, {}))
    entries[token] = {"county": county.pk, "user": user.pk, "fingerprint": fingerprint, "created": time.time()}
    # Keep the latest few previews of this session.
    session[SESSION_KEY] = dict(sorted(entries.items(), key=lambda kv: kv[1]["created"])[-5:])
    return token


def load_pending(session, token: str, *, county: Region, user) -> tuple[RawTable, str] | None:
    """The table and fingerprint stored under ``token`` by this session for this user and county, or None."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    entry = session.get(SESSION_KEY, {}).get(token)
    if not entry or entry.get("user") != user.pk or entry.get("county") != county.pk:
        return None
    if time.time() - entry.get("created", 0) > PENDING_MAX_AGE.total_seconds():
        discard_pending(session, token)
        return None
    path = _pending_dir() / f"{token}.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if payload.get("user") != user.pk or payload.get("county") != county.pk:
        return None
    return RawTable.from_json(payload["table"]), entry["fingerprint"]


def update_pending(session, token: str, fingerprint: str) -> None:
    entries = dict(session.get(SESSION_KEY, {}))
    if token in entries:
        entries[token] = {**entries[token], "fingerprint": fingerprint}
        session[SESSION_KEY] = entries


def discard_pending(session, token: str) -> None:
    entries = dict(session.get(SESSION_KEY, {}))
    entries.pop(token, None)
    session[SESSION_KEY] = entries
    if isinstance(token, str) and TOKEN_RE.match(token):
        (_pending_dir() / f"{token}.json").unlink(missing_ok=True)


def _sweep(directory: Path) -> None:
    """Delete previews nobody confirmed."""
    limit = time.time() - PENDING_MAX_AGE.total_seconds()
    for path in directory.glob("*.json"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue
