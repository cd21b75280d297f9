"""Restoring an archive: checksums, migrations, an empty target, the data, then the proof."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import connections

from core.backup.common import (
    DB_POSTGRES,
    DB_SQLITE,
    FORMAT,
    KEYS,
    MANIFEST,
    MEDIA,
    BackupError,
    operator_name,
    sha256_file,
)
from core.backup.database import (
    database_counts,
    database_tables_with_rows,
    database_vendor,
    restore_postgres,
    restore_sqlite,
    wipe_postgres,
)
from core.backup.keys import (
    decrypt_keys,
    key_fingerprints,
)


@dataclass
class RestoreResult:
    manifest: dict
    tables: int = 0
    rows: int = 0
    media_files: int = 0
    media_bytes: int = 0
    wiped: bool = False
    keys_written: Path | None = None
    pending_migrations: list[str] = field(default_factory=list)
    audit_ok: bool = True
    audit_problem: str = ""
    warnings: list[str] = field(default_factory=list)


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name \
        and str(path) == name


def read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.loads(tar.extractfile(member).read())
    except (KeyError, AttributeError):
        raise BackupError(f"The archive has no {MANIFEST}: it is not a portal backup.") from None
    except ValueError:
        raise BackupError(f"{MANIFEST} in the archive is not valid JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST} is not a manifest of format {FORMAT}.")
    database, migrations = manifest.get("database"), manifest.get("migrations")
    well_formed = (
        isinstance(manifest.get("files"), dict) and all(isinstance(v, dict) for v in manifest["files"].values())
        and isinstance(manifest.get("tables"), dict) and isinstance(manifest.get("keys"), dict)
        and isinstance(database, dict)
        and (database.get("vendor"), database.get("file")) in (("postgresql", DB_POSTGRES), ("sqlite", DB_SQLITE))
        and isinstance(migrations, dict) and isinstance(migrations.get("applied"), dict)
        and all(isinstance(names, list) for names in migrations["applied"].values())
    )
    if not well_formed:
        raise BackupError(f"{MANIFEST} lacks parts of a portal backup's manifest (files, tables, database, "
                          "migrations, keys): the archive was not made by manage.py backup or was edited.")
    return manifest


def verify_archive(tar: tarfile.TarFile, manifest: dict) -> None:
    """Every member is a regular file the manifest lists, with its size and sha256; every file the
    manifest lists is there. Reads the whole archive once."""
    files = manifest["files"]
    seen: set[str] = set()
    problems: list[str] = []
    for member in tar:
        name = member.name
        if name == MANIFEST:
            continue
        if name in seen:
            problems.append(f"{name}: twice in the archive")
            continue
        seen.add(name)
        if not member.isfile() or not _safe_name(name):
            problems.append(f"{name}: not a plain file with a safe name")
            continue
        expected = files.get(name)
        if expected is None:
            problems.append(f"{name}: not in the manifest")
            continue
        digest, handle = hashlib.sha256(), tar.extractfile(member)
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
        if digest.hexdigest() != expected.get("sha256") or member.size != expected.get("size"):
            problems.append(f"{name}: checksum mismatch")
    problems += [f"{name}: missing from the archive" for name in sorted(set(files) - seen)]
    if problems:
        shown = "; ".join(problems[:10]) + (f"; … {len(problems) - 10} more" if len(problems) > 10 else "")
        raise BackupError(f"The archive fails its checksums, nothing was restored: {shown}")


def check_migrations(manifest: dict) -> list[str]:
    """Refuses an archive with an app or a migration this code does not have (made by a newer
    version); returns the migrations of this code the archive lacks (to apply after the restore)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    on_disk = set(loader.disk_migrations)
    applied = (manifest.get("migrations") or {}).get("applied") or {}
    unknown = [f"{app}.{name}" for app, names in sorted(applied.items()) for name in names
               if (app, name) not in on_disk]
    if unknown:
        shown = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise BackupError("The archive was made by a newer version of the portal: this code does not have "
                          f"the migrations {shown}. Restore it with the portal's version "
                          f"{(manifest.get('app') or {}).get('version') or '?'} "
                          f"(commit {(manifest.get('app') or {}).get('commit') or '?'}) or newer.")
    done = {(app, name) for app, names in applied.items() for name in names}
    return sorted(f"{app}.{name}" for app, name in on_disk - done)


def _media_has_files(root: Path) -> bool:
    return root.is_dir() and any(path.is_file() or path.is_symlink() for path in root.rglob("*"))


def _empty_media(root: Path) -> None:
    if not root.is_dir():
        return
    for child in root.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _restore_data(tar: tarfile.TarFile, manifest: dict, vendor: str, media_root: Path, force: bool) -> None:
    """Put the archive's database in place of the configured one, then its media files."""
    with tempfile.TemporaryDirectory(prefix="portal-restore-") as work:
        db_name = manifest["database"]["file"]
        db_copy = Path(work) / db_name
        with db_copy.open("wb") as out:
            shutil.copyfileobj(tar.extractfile(db_name), out, 1 << 20)
        connections.close_all()
        if vendor == "postgresql":
            wipe_postgres()
            restore_postgres(db_copy)
        else:
            restore_sqlite(db_copy)
        connections.close_all()
    if force:
        _empty_media(media_root)
    media_root.mkdir(parents=True, exist_ok=True)
    for member in tar:
        if not member.name.startswith(MEDIA + "/"):
            continue
        target = media_root / member.name[len(MEDIA) + 1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            shutil.copyfileobj(tar.extractfile(member), out, 1 << 20)


def backup_restore(archive: Path, *, force: bool = False, passphrase: str | None = None,
                   keys_out: Path | None = None, say: Callable[[str], None] = lambda text: None) -> RestoreResult:
    """Restore ``archive`` into the configured database and MEDIA_ROOT, then verify the row counts
    and the files against the manifest. Refuses (before touching anything) an archive that fails
    its checksums, one made by newer code, one of another database vendor, and a database or media
    folder that holds data, unless ``force`` (which wipes them first). Stop the portal's web,
    worker and beat before. Records a ``backup.restored`` event in the restored security log."""
    from core import audit

    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file.")
    try:
        tar = tarfile.open(archive, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a readable tar archive: {exc}") from None
    with tar:
        manifest = read_manifest(tar)
        result = RestoreResult(manifest)
        say(f"Archive {archive.name}: made {manifest.get('created_at')} by version "
            f"{manifest.get('app', {}).get('version') or '?'} ({manifest.get('app', {}).get('commit', '')[:12] or 'no commit'}), "
            f"{manifest['database'].get('vendor')}, {len(manifest.get('tables', {}))} tables, "
            f"{len(manifest['files'])} files.")
        verify_archive(tar, manifest)
        say("Checksums: every file of the archive matches the manifest.")
        vendor = database_vendor()
        if manifest["database"].get("vendor") != vendor:
            raise BackupError(f"The archive holds a {manifest['database'].get('vendor')} database; this portal is "
                              f"configured for {vendor} (DATABASE_URL). Nothing was restored.")
        result.pending_migrations = check_migrations(manifest)
        say("Migrations: the code knows every migration the archive's database has.")

        keys = None
        if keys_out is not None:
            if not manifest["keys"].get("included"):
                raise BackupError("The archive holds no keys (it was made without --with-keys).")
            if passphrase is None:
                raise BackupError("A passphrase is needed to open the archive's keys.")
            if keys_out.exists():
                raise BackupError(f"{keys_out} exists already; name a new file for the keys.")
            keys = decrypt_keys(tar.extractfile(KEYS).read(), passphrase)

        media_root = Path(settings.MEDIA_ROOT)
        occupied = database_tables_with_rows()
        media_occupied = _media_has_files(media_root)
        if (occupied or media_occupied) and not force:
            where = []
            if occupied:
                shown = ", ".join(f"{t} ({n})" for t, n in sorted(occupied.items())[:8])
                where.append(f"the database holds data ({shown}{' …' if len(occupied) > 8 else ''})")
            if media_occupied:
                where.append(f"{media_root} holds files")
            raise BackupError("Refusing to restore over existing data: " + "; ".join(where)
                              + ". Restore into an empty database, or pass --force to wipe it first "
                                "(make a backup of it before, if it may be needed).")
        result.wiped = bool(occupied or media_occupied)

        try:
            _restore_data(tar, manifest, vendor, media_root, force)
        except (OSError, sqlite3.Error) as exc:
            raise BackupError(f"The restore stopped half-way ({exc}); fix the cause and run it again with "
                              "--force.") from None
        say(f"Database restored{' (after wiping the data that was there)' if result.wiped else ''}.")
        say("Media files restored.")

    # Verify what is now in place against the manifest.
    counts = database_counts()
    wrong = [f"{t}: {counts.get(t)} rows, the archive had {n}" for t, n in manifest["tables"].items() if counts.get(t) != n]
    wrong += [f"{t}: not in the archive" for t in counts if t not in manifest["tables"]]
    for name, expected in manifest["files"].items():
        if not name.startswith(MEDIA + "/"):
            continue
        path = media_root / name[len(MEDIA) + 1:]
        digest = sha256_file(path)[0] if path.is_file() else None
        if digest != expected["sha256"]:
            wrong.append(f"{name}: checksum mismatch after the restore")
        result.media_files += 1
        result.media_bytes += expected["size"]
    if wrong:
        raise BackupError("The restore does not match the archive: " + "; ".join(wrong[:10]))
    result.tables, result.rows = len(counts), sum(counts.values())
    say(f"Verified: {result.tables} tables, {result.rows} rows and {result.media_files} media files "
        f"({result.media_bytes} bytes) match the manifest.")

    mismatched = [name for name, fp in (manifest["keys"].get("fingerprints") or {}).items()
                  if fp != key_fingerprints().get(name)]
    if mismatched:
        result.warnings.append(
            "This installation's keys differ from those the archive was made with (" + ", ".join(mismatched)
            + "): the security log will not verify and identity numbers will not decrypt until the same keys are "
              "set (restore the keys with --passphrase-file and --keys-out).")
    verification = audit.verify()
    result.audit_ok, result.audit_problem = verification.ok, verification.problem or ""
    say(f"Security log: {'intact' if verification.ok else 'BROKEN: ' + result.audit_problem} "
        f"({verification.checked} rows checked).")
    if keys is not None and keys_out is not None:
        fd = os.open(keys_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# Keys from the backup archive; set them in the portal's environment, then delete this file.\n")
            for name, value in keys.items():
                out.write(f"{name}={value}\n")
        result.keys_written = keys_out
        say(f"Keys written to {keys_out} (mode 0600).")
    if result.pending_migrations:
        say(f"{len(result.pending_migrations)} migration(s) of this code are newer than the archive: "
            "run `manage.py migrate` now.")
    try:
        audit.record(audit.Event.BACKUP_RESTORED, username=operator_name(), details={
            "archive": archive.name, "created_at": manifest.get("created_at"), "tables": result.tables,
            "rows": result.rows, "media_files": result.media_files, "wiped": result.wiped,
            "audit_intact": result.audit_ok,
        })
    except Exception as exc:  # the data is in place; say that the event could not be written
        result.warnings.append(f"The restore could not be recorded in the security log: {exc}")
    finally:
        connections.close_all()
    for warning in result.warnings:
        say("WARNING: " + warning)
    return result
