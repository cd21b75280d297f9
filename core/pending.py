"""An upload kept between its preview and the user's confirmation.

The payload (JSON) is a file under ``MEDIA_ROOT/imports/<kind>`` named by a random token; the
session holds the token with the owner (user and scope) and the fingerprint of what the preview
showed. Only the session that uploaded can confirm, only for the same user and scope, and only
within ``PENDING_MAX_AGE``. The confirmation re-validates the payload against the database of
that moment and compares fingerprints, so what is applied is what was previewed.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

PENDING_MAX_AGE = timedelta(hours=12)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
KEEP_PER_SESSION = 5


def _directory(kind: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / kind


def _session_key(kind: str) -> str:
    return f"pending_imports_{kind}"


def store(session, kind: str, *, payload: dict[str, Any], owner: dict[str, Any], fingerprint: str) -> str:
    """Keep ``payload`` for the confirmation; returns the token only this session knows.
    ``owner`` (JSON values, e.g. ``{"user": 3, "county": 7}``) must match again on ``load``."""
    directory = _directory(kind)
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)
    token = secrets.token_urlsafe(32)
    document = {"owner": owner, "payload": payload}
    (directory / f"{token}.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    key = _session_key(kind)
    entries = dict(session.get(key, {}))
    entries[token] = {"owner": owner, "fingerprint": fingerprint, "created": time.time()}
    session[key] = dict(sorted(entries.items(), key=lambda kv: kv[1]["created"])[-KEEP_PER_SESSION:])
    return token


def load(session, kind: str, token: str, *, owner: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The payload and fingerprint stored under ``token`` by this session for this owner, or None."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    entry = session.get(_session_key(kind), {}).get(token)
    if not entry or entry.get("owner") != owner:
        return None
    if time.time() - entry.get("created", 0) > PENDING_MAX_AGE.total_seconds():
        discard(session, kind, token)
        return None
    try:
        document = json.loads((_directory(kind) / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if document.get("owner") != owner:
        return None
    return document["payload"], entry["fingerprint"]


def update_fingerprint(session, kind: str, token: str, fingerprint: str) -> None:
    key = _session_key(kind)
    entries = dict(session.get(key, {}))
    if token in entries:
        entries[token] = {**entries[token], "fingerprint": fingerprint}
        session[key] = entries


def discard(session, kind: str, token: str) -> None:
    key = _session_key(kind)
    entries = dict(session.get(key, {}))
    entries.pop(token, None)
    session[key] = entries
    if isinstance(token, str) and TOKEN_RE.match(token):
        (_directory(kind) / f"{token}.json").unlink(missing_ok=True)


def _sweep(directory: Path) -> None:
    """Delete previews nobody confirmed."""
    limit = time.time() - PENDING_MAX_AGE.total_seconds()
    for path in directory.glob("*.json"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue
