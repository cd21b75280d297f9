"""An upload kept between its preview and the user's confirmation.

The payload (JSON) is a file under ``MEDIA_ROOT/imports/<kind>`` named by a random token; the
session holds the token with the owner (user and scope) and the fingerprint of what the preview
showed. Only the session that uploaded can confirm, only for the same user and scope, and only
within ``PENDING_MAX_AGE``. The confirmation re-validates the payload against the database of
that moment and compares fingerprints, so what is applied is what was previewed.

A confirmation is applied once. Two clicks on 确认导入 arrive as two requests that both find the
token in the session (the session is saved only at the end of each request), so the session cannot
decide which one applies: ``claim`` does, on the filesystem (a marker created with ``O_EXCL``), and
exactly one request wins. The winner applies and leaves its result page with ``record_outcome``;
the loser, concurrent or later, answers ``already_confirmed``: that page (or a fallback while the
winner is still at work) with the message "this import has been confirmed already". Importers that
keep their preview in the session itself use the same ``claim`` with a token kept beside it
(``new_token``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy

PENDING_MAX_AGE = timedelta(hours=12)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
# What may name a claim: a preview's token, or a form's nonce (``secrets.token_urlsafe(16)`` and up).
CLAIM_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEEP_PER_SESSION = 5
ALREADY_CONFIRMED = gettext_lazy("This import has been confirmed already.")


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


def store_file(session, kind: str, *, data: bytes, name: str, owner: dict[str, Any],
               extra: dict[str, Any] | None = None) -> str:
    """Keep an uploaded file itself (for a new column mapping of the same file without uploading it
    again), with ``extra`` (JSON: what the upload form said); returns the token. Same owner rules
    and age as ``store``."""
    token = store(session, kind, payload={"name": name, "extra": extra or {}}, owner=owner, fingerprint="")
    (_directory(kind) / f"{token}.bin").write_bytes(data)
    return token


def load_file(session, kind: str, token: str, *, owner: dict[str, Any]) -> tuple[bytes, str, dict] | None:
    """The file kept by ``store_file`` under ``token`` for this session and owner: (bytes, name, extra)."""
    found = load(session, kind, token, owner=owner)
    if found is None:
        return None
    try:
        data = (_directory(kind) / f"{token}.bin").read_bytes()
    except OSError:
        return None
    return data, str(found[0].get("name", "")), dict(found[0].get("extra") or {})


def store_detached(kind: str, *, payload: dict[str, Any], owner: dict[str, Any], fingerprint: str) -> str:
    """``store`` for a client without a session (the import API): the token, 256 random bits, is
    bound to ``owner`` (the user and the county) in the file itself and is known only to the client."""
    directory = _directory(kind)
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)
    token = secrets.token_urlsafe(32)
    document = {"owner": owner, "payload": payload, "fingerprint": fingerprint}
    (directory / f"{token}.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return token


def load_detached(kind: str, token: str, *, owner_user: int) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(payload, owner, fingerprint) stored by ``store_detached`` for this user, or None."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    path = _directory(kind) / f"{token}.json"
    try:
        if time.time() - path.stat().st_mtime > PENDING_MAX_AGE.total_seconds():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    owner = document.get("owner") or {}
    if owner.get("user") != owner_user:
        return None
    return document["payload"], owner, str(document.get("fingerprint", ""))


def discard_detached(kind: str, token: str) -> None:
    if isinstance(token, str) and TOKEN_RE.match(token):
        (_directory(kind) / f"{token}.json").unlink(missing_ok=True)


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
        (_directory(kind) / f"{token}.bin").unlink(missing_ok=True)


def new_token() -> str:
    """A token for ``claim`` where the preview itself stays in the session."""
    return secrets.token_urlsafe(32)


def form_claim_token(request, nonce: str) -> str:
    """The claim token of a one-shot form's ``nonce`` (a hidden field) in this session; empty without one."""
    if not nonce:
        return ""
    return hashlib.sha256(f"{request.session.session_key or ''}:{nonce}".encode()).hexdigest()


def claim(kind: str, token: str) -> bool:
    """True for exactly one caller per ``(kind, token)``, across threads and processes: the marker
    ``<token>.claim`` is created with ``O_CREAT | O_EXCL``, which only one creator can win. Claim
    right before applying, after the checks that may send the user back to the preview."""
    if not isinstance(token, str) or not CLAIM_RE.match(token):
        return False
    directory = _directory(kind)
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)  # importers that keep their preview in the session never call store()
    try:
        fd = os.open(directory / f"{token}.claim", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def release(kind: str, token: str) -> None:
    """Give a claim back when applying failed unexpectedly, so that the user can confirm again."""
    if isinstance(token, str) and CLAIM_RE.match(token):
        (_directory(kind) / f"{token}.claim").unlink(missing_ok=True)


@contextmanager
def released_on_error(kind: str, token: str) -> Iterator[None]:
    """Hold a won claim while applying: whatever is raised inside gives the claim back (so that the
    user can confirm again) and goes on up to the caller."""
    try:
        yield
    except BaseException:
        release(kind, token)
        raise


def record_outcome(kind: str, token: str, *, owner: dict[str, Any], url: str) -> None:
    """Remember the page of the applied import, for a second click on the same confirmation; written
    when the transaction commits, so that the page exists when the second click is sent to it."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return

    def write() -> None:
        directory = _directory(kind)
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f"{token}.done.partial"
        partial.write_text(json.dumps({"owner": owner, "url": url}, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, directory / f"{token}.done")  # readers see the whole file or none

    transaction.on_commit(write)


def outcome(kind: str, token: str, *, owner: dict[str, Any]) -> str | None:
    """The result page recorded for ``token`` by the same owner, or None (never applied, or not yet)."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    try:
        document = json.loads((_directory(kind) / f"{token}.done").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if document.get("owner") != owner or not isinstance(document.get("url"), str):
        return None
    return document["url"]


def was_claimed(kind: str, token: str) -> bool:
    """Whether a confirmation of ``token`` has been claimed (applied, or being applied)."""
    return bool(isinstance(token, str) and CLAIM_RE.match(token) and (_directory(kind) / f"{token}.claim").exists())


def already_confirmed(request, kind: str, token: str, *, owner: dict[str, Any], fallback: str) -> HttpResponseRedirect:
    """The answer to a second click on a confirmation: the first one's result page when it has
    finished (else ``fallback``), with the message that the import has been confirmed already."""
    messages.info(request, ALREADY_CONFIRMED)
    return redirect(outcome(kind, token, owner=owner) or fallback)


def _sweep(directory: Path) -> None:
    """Delete previews nobody confirmed, and the claims and outcomes of old confirmations."""
    limit = time.time() - PENDING_MAX_AGE.total_seconds()
    for path in directory.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue
