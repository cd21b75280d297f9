"""Identity numbers (居民身份证号码) of staff: checked (18 characters, the birth date, the GB 11643 check
digit), stored encrypted (Fernet, key ``STAFF_IDENTITY_KEY`` or derived from ``SECRET_KEY``), found
again by a keyed digest (HMAC-SHA256: the same number gives the same digest, the digest gives
nothing back) and shown masked: 4453**********1234."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.utils.translation import gettext as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def normalise(text: str) -> str:
    return (text or "").strip().replace(" ", "").replace("x", "X")


def check_digit(seventeen: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    return CHECK[sum(int(d) * w for d, w in zip(seventeen, WEIGHTS, strict=True)) % 11]


def problem(number: str) -> str | None:
    """Why ``number`` is not a valid identity number, or None."""
    if len(number) != 18 or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return _("an identity number has 18 characters: 17 digits and a digit or X")
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return _("characters 7–14 are not a birth date")
    if number[17] != check_digit(number[:17]):
        return _("the check digit does not match (a digit was mistyped)")
    return None


def gender_of(number: str) -> str:
    return "male" if int(number[16]) % 2 else "female"


def birth_date(number: str) -> date:
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


@lru_cache(maxsize=4)
def _keys(secret: str) -> tuple[Fernet, bytes]:
    root = hashlib.sha256(f"staff-identity|{secret}".encode()).digest()
    fernet_key = base64.urlsafe_b64encode(hmac.new(root, b"encrypt", hashlib.sha256).digest())
    return Fernet(fernet_key), hmac.new(root, b"digest", hashlib.sha256).digest()


def _secret() -> str:
    return settings.STAFF_IDENTITY_KEY or settings.SECRET_KEY


def encrypt(number: str) -> str:
    return _keys(_secret())[0].encrypt(number.encode()).decode()


def decrypt(cipher: str) -> str:
    try:
        return _keys(_secret())[0].decrypt(cipher.encode()).decode()
    except InvalidToken:
        return ""  # encrypted under another key: unreadable, shown as such


def encrypt_bytes(data: bytes) -> bytes:
    """A file that holds identity numbers (an uploaded roster kept for a new mapping), encrypted."""
    return _keys(_secret())[0].encrypt(data)


def decrypt_bytes(data: bytes) -> bytes | None:
    try:
        return _keys(_secret())[0].decrypt(data)
    except InvalidToken:
        return None


def digest(number: str) -> str:
    return hmac.new(_keys(_secret())[1], number.encode(), hashlib.sha256).hexdigest()


def mask(number: str) -> str:
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}" if len(number) > 8 else "*" * len(number)


def protect(number: str) -> dict[str, str]:
    """The stored fields of a (valid, normalised) number."""
    return {"id_cipher": encrypt(number), "id_digest": digest(number), "id_masked": mask(number)}
