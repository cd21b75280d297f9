"""Backups with a tested restore (等保 数据备份恢复): one archive holds the database, the uploaded
files and a manifest that lets ``restore`` prove it put everything back.

An archive is a plain tar (``portal-backup-YYYYMMDD-HHMMSS.tar`` in ``BACKUP_DIR``)::

    database.pgdump     pg_dump --format=custom (compressed by pg_dump)   — PostgreSQL
    database.sqlite3    a copy made by SQLite's online backup API         — SQLite
    media/...           every file under MEDIA_ROOT (佐证材料, imports)
    keys.enc            only with a passphrase: the keys, encrypted (Fernet, key from scrypt)
    manifest.json       row counts per table, sha256 of every file above, app version, migrations,
                        database vendor, time

The database copy is consistent while the portal runs: on PostgreSQL the row counts are read in
the very snapshot pg_dump dumps (``pg_export_snapshot``); on SQLite the backup API copies the
file in one step and the counts are read from the copy. Media are read after the database, so
every file a row of the copy names was already there.

The keys (``DJANGO_SECRET_KEY``, ``STAFF_IDENTITY_KEY``, ``AUDIT_CHAIN_KEY``) are never written in
clear. The database itself holds password hashes, encrypted identity numbers and the security
log: archives are as confidential as the database (files 0600, folder 0700).

django-dbbackup (in the package list) was considered: it dumps PostgreSQL and tars media, but it
writes no manifest (row counts, checksums, migrations), its restore checks none of them, it
encrypts with GPG (an external keyring, not a passphrase), and on SQLite it copies the file or
its SQL text rather than using the online backup API. Wrapping it would leave most of this module
to write anyway, so the portal does it directly.
"""

from __future__ import annotations

import base64
import fcntl
import getpass
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import connections
from django.utils import timezone

FORMAT = 1
MANIFEST = "manifest.json"
DB_POSTGRES = "database.pgdump"
DB_SQLITE = "database.sqlite3"
KEYS = "keys.enc"
MEDIA = "media"
PREFIX = "portal-backup-"
NAME_RE = re.compile(r"^portal-backup-(\d{8})-(\d{6})\.tar$")
PARTIAL_SUFFIX = ".partial"
# The keys an archive may carry (encrypted), by the environment variable that sets each.
KEY_SETTINGS = {"DJANGO_SECRET_KEY": "SECRET_KEY", "STAFF_IDENTITY_KEY": "STAFF_IDENTITY_KEY",
                "AUDIT_CHAIN_KEY": "AUDIT_CHAIN_KEY"}
MIN_PASSPHRASE = 12
# scrypt's cost: about 32 MB and a tenth of a second per derivation.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
# Tables that ``migrate`` fills by itself: a freshly migrated database is still "empty".
MIGRATE_FILLED = frozenset({
    "django_migrations", "django_content_type", "auth_permission", "core_auditchain", "finance_calendarday",
})
BASE_DIR = Path(__file__).resolve().parent.parent


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for the operator."""


# Small helpers -----------------------------------------------------------------------------------

def backup_dir() -> Path:
    return Path(getattr(settings, "BACKUP_DIR", "") or Path(settings.VAR_DIR) / "backups")


def archives(directory: Path) -> list[Path]:
    """The archives in ``directory``, oldest first (their names carry the time)."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if NAME_RE.match(p.name) and p.is_file()), key=lambda p: p.name)


def app_version() -> dict:
    """The version in pyproject.toml and the git commit of the checkout, when there is one."""
    version = ""
    try:
        version = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    commit = ""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True,
                              timeout=10, check=False)
        if done.returncode == 0:
            commit = done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"version": version, "commit": commit}


def operator_name(trigger: str = "command") -> str:
    """Who made a backup or restore, for the security log: the nightly job, or the system account
    that ran manage.py."""
    if trigger == "nightly":
        return "nightly job"
    try:
        return f"manage.py ({getpass.getuser()})"
    except (KeyError, OSError):
        return "manage.py"


def key_fingerprints() -> dict[str, str]:
    """A short fingerprint of each key as configured now ("" when unset), so that a restore can say
    whether this installation holds the keys the archive's data was written with. A fingerprint
    tells nothing the archive does not already: the security log's rows are HMACs of the same key."""
    out = {}
    for env_name, setting in KEY_SETTINGS.items():
        value = getattr(settings, setting, "") or ""
        out[env_name] = hashlib.sha256(f"portal-backup-key:{env_name}:{value}".encode()).hexdigest()[:16] if value else ""
    return out


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class _Hashing(io.RawIOBase):
    """A file read through, hashing what is read (tarfile reads exactly the size it was told)."""

    def __init__(self, handle):
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


# Keys --------------------------------------------------------------------------------------------

def _fernet(passphrase: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P):
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def check_passphrase(passphrase: str) -> str:
    passphrase = passphrase.strip("\r\n")
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"The passphrase must have at least {MIN_PASSPHRASE} characters.")
    return passphrase


def encrypt_keys(passphrase: str) -> bytes:
    """The keys, encrypted with a key derived from ``passphrase`` (scrypt, random salt)."""
    salt = os.urandom(16)
    payload = {env_name: getattr(settings, setting, "") or "" for env_name, setting in KEY_SETTINGS.items()}
    token = _fernet(passphrase, salt).encrypt(json.dumps(payload).encode())
    return json.dumps({"format": 1, "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
                       "salt": base64.b64encode(salt).decode(), "fernet": token.decode()}).encode()


def decrypt_keys(data: bytes, passphrase: str) -> dict[str, str]:
    from cryptography.fernet import InvalidToken

    try:
        box = json.loads(data)
        fernet = _fernet(passphrase, base64.b64decode(box["salt"]), box["n"], box["r"], box["p"])
        return json.loads(fernet.decrypt(box["fernet"].encode()))
    except InvalidToken:
        raise BackupError("The passphrase does not open the archive's keys.") from None
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{KEYS} in the archive is not readable.") from None


# The database: copy, count, wipe, restore ---------------------------------------------------------

def _vendor() -> str:
    return connections["default"].vendor


def _pg_env(settings_dict: dict) -> dict[str, str]:
    """libpq's environment for pg_dump / pg_restore: the password never on a command line. What the
    settings leave out comes from the inherited PG* variables, as for Django's own connection."""
    env = dict(os.environ)
    options = settings_dict.get("OPTIONS") or {}
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD"),
                          ("NAME", "PGDATABASE")):
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    for option, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("sslcert", "PGSSLCERT"),
                             ("sslkey", "PGSSLKEY"), ("passfile", "PGPASSFILE"), ("service", "PGSERVICE")):
        if options.get(option):
            env[variable] = str(options[option])
    env["PGAPPNAME"] = "portal-backup"
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} was not found on the PATH: install the PostgreSQL client programs "
                          "(Debian: postgresql-client, the same major version as the server or newer).")
    return path


def _run(argv: list[str], env: dict) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise BackupError(f"{Path(argv[0]).name} failed (exit {done.returncode}): {detail}")


def _pg_connect():
    import psycopg

    connection = connections["default"]
    return psycopg.connect(**connection.get_connection_params())


def _pg_tables(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _counts(cursor, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _applied_migrations(cursor, tables: list[str]) -> dict[str, list[str]]:
    if "django_migrations" not in tables:
        return {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    applied: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return applied


def _dump_postgres(target: Path) -> tuple[dict, dict]:
    """pg_dump of the configured database into ``target``; the row counts and migrations are read
    in the snapshot pg_dump dumps. Returns (counts, applied migrations)."""
    pg_dump = _pg_tool("pg_dump")
    settings_dict = connections["default"].settings_dict
    with _pg_connect() as conn:
        import psycopg

        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            tables = _pg_tables(cursor)
            counts = _counts(cursor, tables)
            applied = _applied_migrations(cursor, tables)
            # The snapshot lives as long as this transaction: pg_dump runs inside it.
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}"], _pg_env(settings_dict))
        conn.rollback()
    return counts, applied


def _sqlite_path() -> Path:
    return Path(connections["default"].settings_dict["NAME"])


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY name").fetchall()
    return [row[0] for row in rows]


def _dump_sqlite(target: Path) -> tuple[dict, dict]:
    """A copy of the SQLite database by the online backup API (one step: a consistent copy while
    the portal writes), then counts and migrations read from the copy."""
    source_path = _sqlite_path()
    if not source_path.is_file():
        raise BackupError(f"The SQLite database {source_path} does not exist.")
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # A single self-contained file (no -wal beside it).
        copy.execute("PRAGMA journal_mode=DELETE")
        tables = _sqlite_tables(copy)
        cursor = copy.cursor()
        return _counts(cursor, tables), _applied_migrations(cursor, tables)
    finally:
        copy.close()
        source.close()


def _django_tables(cursor) -> list[str]:
    if connections["default"].vendor == "postgresql":
        return _pg_tables(cursor)
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [row[0] for row in cursor.fetchall()]


def database_tables_with_rows() -> dict[str, int]:
    """The tables of the configured database with rows, beyond those ``migrate`` fills by itself:
    empty means nobody has used it. (A missing SQLite file or a schema without tables is empty.)
    One COUNT per table, on Django's connection."""
    connection = connections["default"]
    if connection.vendor == "sqlite" and not _sqlite_path().exists():
        return {}
    with connection.cursor() as cursor:
        tables = [t for t in _django_tables(cursor) if t not in MIGRATE_FILLED]
        counts = _counts(cursor, tables)
    return {table: n for table, n in counts.items() if n}


def database_counts() -> dict[str, int]:
    """Rows per table of the configured database (one COUNT per table, on Django's connection)."""
    with connections["default"].cursor() as cursor:
        return _counts(cursor, _django_tables(cursor))


def _wipe_postgres() -> None:
    """Drop everything in the portal's schema (tables, sequences, the security log's trigger
    function) and make the schema again, empty."""
    with _pg_connect() as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0] or "public"
            # A portal still running holds locks: fail with a message rather than wait for ever.
            cursor.execute("SET lock_timeout = '30s'")
            try:
                cursor.execute(f"DROP SCHEMA {_quote(schema)} CASCADE")
                cursor.execute(f"CREATE SCHEMA {_quote(schema)}")
            except Exception as exc:
                raise BackupError(f"Could not empty the schema {schema} (stop the portal's web, worker and beat; "
                                  f"the database user must own the schema): {exc}") from None
            if schema == "public":
                cursor.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")


def _restore_postgres(dump: Path) -> None:
    pg_restore = _pg_tool("pg_restore")
    settings_dict = connections["default"].settings_dict
    # One transaction: a failed restore leaves the emptied schema, never half the data.
    _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={settings_dict['NAME']}", str(dump)], _pg_env(settings_dict))


def _restore_sqlite(copy_path: Path) -> None:
    """Write the archived database over the configured one, page by page, through the backup API
    (schema, triggers and all); the file need not exist."""
    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(copy_path)
    dest = sqlite3.connect(target, timeout=30)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()


# Making an archive --------------------------------------------------------------------------------

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
        reader = _Hashing(handle)
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
    vendor = _vendor()
    partial = directory / f".{name}{PARTIAL_SUFFIX}"
    files: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory(dir=directory, prefix=".work-") as work:
            db_name = DB_POSTGRES if vendor == "postgresql" else DB_SQLITE
            db_copy = Path(work) / db_name
            if vendor == "postgresql":
                counts, applied = _dump_postgres(db_copy)
            elif vendor == "sqlite":
                counts, applied = _dump_sqlite(db_copy)
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


# Restoring ----------------------------------------------------------------------------------------

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
            _wipe_postgres()
            _restore_postgres(db_copy)
        else:
            _restore_sqlite(db_copy)
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
        vendor = _vendor()
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
        digest = _sha256_file(path)[0] if path.is_file() else None
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
