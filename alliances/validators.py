"""Validators for official codes: GB/T 2260 region codes and GB 32100 social credit codes."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

REGION_CODE_RE = re.compile(r"^\d{6}$")

# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z); the last is a check character.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def validate_region_code(value: str) -> None:
    if not REGION_CODE_RE.match(value or ""):
        raise ValidationError(_("A region code has six digits (GB/T 2260), e.g. 445322."), code="region_code")


def uscc_check_character(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> None:
    """Check a unified social credit code (统一社会信用代码), including its check character."""
    code = (value or "").strip().upper()
    if len(code) != 18 or any(ch not in USCC_ALPHABET for ch in code):
        raise ValidationError(
            _("A unified social credit code has 18 characters of digits and capital letters "
              "(without I, O, S, V, Z)."),
            code="uscc_format",
        )
    if uscc_check_character(code[:17]) != code[17]:
        raise ValidationError(
            _("The check character of unified social credit code %(code)s is wrong."),
            code="uscc_check",
            params={"code": code},
        )
