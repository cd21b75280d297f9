"""Constants and small helpers of the backups (the archive's layout, names, the app's version)."""

from __future__ import annotations

import getpass
import hashlib
import io
import re
import subprocess
import tomllib
from pathlib import Path

from django.conf import settings

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
BASE_DIR = Path(__file__).resolve().parent.parent.parent


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for the operator."""


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


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class HashingReader(io.RawIOBase):
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
