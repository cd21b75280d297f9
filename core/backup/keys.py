"""The keys in an archive: never in clear; with a passphrase, encrypted (Fernet, key from scrypt)."""

from __future__ import annotations

import base64
import hashlib
import json
import os

from django.conf import settings

from core.backup.common import (
    KEY_SETTINGS,
    KEYS,
    MIN_PASSPHRASE,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    BackupError,
)


def key_fingerprints() -> dict[str, str]:
    """A short fingerprint of each key as configured now ("" when unset), so that a restore can say
    whether this installation holds the keys the archive's data was written with. A fingerprint
    tells nothing the archive does not already: the security log's rows are HMACs of the same key."""
    out = {}
    for env_name, setting in KEY_SETTINGS.items():
        value = getattr(settings, setting, "") or ""
        out[env_name] = hashlib.sha256(f"portal-backup-key:{env_name}:{value}".encode()).hexdigest()[:16] if value else ""
    return out


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
