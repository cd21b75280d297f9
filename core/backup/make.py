"""Making archives: ``backup_create`` (one archive), ``backup_nightly`` (one a day, the newest kept)."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from core.backup.common import (
    DB_POSTGRES,
    DB_SQLITE,
    FORMAT,
    KEYS,
    MANIFEST,
    MEDIA,
    PARTIAL_SUFFIX,
    PREFIX,
    BackupError,
    HashingReader,
    app_version,
    archives,
    backup_dir,
    operator_name,
)
from core.backup.database import (
    database_vendor,
    dump_postgres,
    dump_sqlite,
)
from core.backup.keys import (
    check_passphrase,
    encrypt_keys,
    key_fingerprints,
)


@dataclass
class BackupResult:
    path: Path
    manifest: dict
    removed: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.manifest["tables"].values())

    @property
    def media_files(self) -> int:
        return sum(1 for name in self.manifest["files"] if name.startswith(MEDIA + "/"))


def _media_files(root: Path, skip: Path) -> Iterator[tuple[Path, str]]:
    """Regular files under ``root`` with their archive names (sorted; links are not followed), not
    those under ``skip`` (the backup folder, should it be inside MEDIA_ROOT)."""
    if not root.is_dir():
        return
    skip = skip.resolve()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if (Path(folder) / d).resolve() != skip)
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            yield path, f"{MEDIA}/{path.relative_to(root).as_posix()}"


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> dict | None:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None  # removed meanwhile (a discarded upload): nothing in the database names it
    with handle:
        info = tar.gettarinfo(arcname=arcname, fileobj=handle)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o600
        reader = HashingReader(handle)
        tar.addfile(info, reader)
    return {"sha256": reader.digest.hexdigest(), "size": reader.size}


def _add_bytes(tar: tarfile.TarFile, data: bytes, arcname: str, mtime: float) -> dict:
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = len(data), mtime, 0o600
    tar.addfile(info, io.BytesIO(data))
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def backup_create(*, directory: Path | None = None, passphrase: str | None = None, now: datetime | None = None,
                  keep: int | None = None, trigger: str = "command") -> BackupResult:
    """Write one archive into ``directory`` (``BACKUP_DIR``); with ``passphrase`` the keys go in,
    encrypted. With ``keep``, only the newest ``keep`` archives are kept afterwards. Records a
    ``backup.made`` event in the security log. The archive appears whole or not at all (written
    under a hidden name, then renamed)."""
    from core import audit

    now = now or timezone.now()
    directory = Path(directory or backup_dir())
    directory.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(directory, 0o700)  # archives are as confidential as the database
    except PermissionError:
        pass  # a folder this user does not own (a mounted share): its owner decides
    if passphrase is not None:
        passphrase = check_passphrase(passphrase)
    name = f"{PREFIX}{timezone.localtime(now):%Y%m%d-%H%M%S}.tar"
    final = directory / name
    if final.exists():
        raise BackupError(f"{final} already exists.")
    vendor = database_vendor()
    partial = directory / f".{name}{PARTIAL_SUFFIX}"
    files: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory(dir=directory, prefix=".work-") as work:
            db_name = DB_POSTGRES if vendor == "postgresql" else DB_SQLITE
            db_copy = Path(work) / db_name
            if vendor == "postgresql":
                counts, applied = dump_postgres(db_copy)
            elif vendor == "sqlite":
                counts, applied = dump_sqlite(db_copy)
            else:
                raise BackupError(f"Backups of a {vendor} database are not supported.")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                files[db_name] = _add_file(tar, db_copy, db_name)
                if passphrase is not None:
                    files[KEYS] = _add_bytes(tar, encrypt_keys(passphrase), KEYS, now.timestamp())
                media_bytes = 0
                for path, arcname in _media_files(Path(settings.MEDIA_ROOT), directory):
                    entry = _add_file(tar, path, arcname)
                    if entry is not None:
                        files[arcname] = entry
                        media_bytes += entry["size"]
                manifest = {
                    "format": FORMAT,
                    "kind": "ygt-portal backup",
                    "created_at": timezone.localtime(now).isoformat(),
                    "app": app_version(),
                    "database": {"vendor": vendor, "file": db_name},
                    "migrations": {
                        "latest": {app: names[-1] for app, names in sorted(applied.items())},
                        "applied": dict(sorted(applied.items())),
                    },
                    "tables": dict(sorted(counts.items())),
                    "media": {"files": sum(1 for n in files if n.startswith(MEDIA + "/")), "bytes": media_bytes},
                    "keys": {"included": passphrase is not None, "fingerprints": key_fingerprints()},
                    "files": files,
                }
                _add_bytes(tar, json.dumps(manifest, ensure_ascii=False, indent=1).encode(), MANIFEST,
                           now.timestamp())
                raw.flush()
                os.fsync(raw.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    removed = prune(directory, keep) if keep else []
    result = BackupResult(final, manifest, removed)
    audit.record(audit.Event.BACKUP_MADE, username=operator_name(trigger), details={
        "archive": name, "bytes": final.stat().st_size, "trigger": trigger, "database": vendor,
        "tables": len(counts), "rows": result.rows, "media_files": result.media_files,
        "keys_included": passphrase is not None, "removed": removed,
    }, now=now)
    return result


def prune(directory: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` archives; returns the names deleted."""
    doomed = archives(directory)[:-keep] if keep > 0 else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return [p.name for p in doomed]


def _clean_leftovers(directory: Path, now: float) -> None:
    """Half-written archives and work folders of a backup that died (a day old or more)."""
    for path in directory.glob(".*"):
        if not (path.name.endswith(PARTIAL_SUFFIX) or path.name.startswith(".work-")):
            continue
        try:
            if now - path.stat().st_mtime < 24 * 3600:
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def _exclusive(directory: Path) -> Iterator[bool]:
    """An exclusive lock on the backup folder: True when this process holds it, False when another
    backup runs now (a doubled beat, a retried job)."""
    handle = (directory / ".lock").open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        handle.close()  # releases the lock


@dataclass
class NightlyResult:
    made: BackupResult | None
    skipped: str = ""


def backup_nightly(*, now: datetime | None = None) -> NightlyResult:
    """The nightly backup: one archive per day (Asia/Shanghai). A second run the same day, or a run
    while another backup is being written, does nothing. Keeps the newest ``BACKUP_KEEP`` archives;
    the keys go in, encrypted, when ``BACKUP_PASSPHRASE`` is set."""
    now = now or timezone.now()
    directory = backup_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with _exclusive(directory) as mine:
        if not mine:
            return NightlyResult(None, "another backup is running")
        today = f"{PREFIX}{timezone.localtime(now):%Y%m%d}-"
        existing = [p.name for p in archives(directory) if p.name.startswith(today)]
        if existing:
            return NightlyResult(None, f"today's archive exists: {existing[-1]}")
        _clean_leftovers(directory, time.time())
        passphrase = getattr(settings, "BACKUP_PASSPHRASE", "") or None
        made = backup_create(directory=directory, passphrase=passphrase, now=now,
                             keep=int(getattr(settings, "BACKUP_KEEP", 14)), trigger="nightly")
        return NightlyResult(made)
