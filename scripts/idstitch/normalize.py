"""Normalization and validation of identifier values (docs/semantics.md §1).

The SQL in ``macros/sql/idstitch_normalize.sql`` implements the same rules; the reference and
the property tests hold the two together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

TRIM_CHARS = " \t\r\n"
MAX_VALUE_LENGTH = 512
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_PATTERN = re.compile(r"^\+[1-9][0-9]{7,14}$")
_PHONE_SEPARATORS = re.compile(r"[ .()-]")

NORMALIZE_RULES = ("email", "phone", "lower", "none")


@dataclass(frozen=True)
class Blocked:
    """Blocked values: exact ones compared case-insensitively, patterns searched anywhere."""

    exact: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()

    def matches(self, value: str) -> bool:
        return value.lower() in self.exact or any(p.search(value) for p in self.patterns)


def trim(value: str) -> str:
    """Strip spaces, tabs and line breaks from both ends, like the SQL ``idstitch_trim``."""
    return value.strip(TRIM_CHARS)


def normalize_phone(trimmed: str, country_code: str) -> str:
    """E.164: drop separators, leading 00 becomes +, no + gets the default country code."""
    digits = _PHONE_SEPARATORS.sub("", trimmed)
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("+"):
        return digits
    return "+" + country_code + digits


def normalize_value(rule: str, trimmed: str, country_code: str) -> str:
    if rule in ("email", "lower"):
        return trimmed.lower()
    if rule == "phone":
        return normalize_phone(trimmed, country_code)
    return trimmed


def reject_reason(
    rule: str, trimmed: str, normalized: str, blocked: Sequence[Blocked]
) -> str | None:
    """Why a (trimmed, normalized) value is rejected, or None if it is a valid identifier."""
    if len(trimmed) > MAX_VALUE_LENGTH:
        return "too_long"
    if any(b.matches(normalized) for b in blocked):
        return "blocked_value"
    if rule == "email" and not EMAIL_PATTERN.search(normalized):
        return "invalid_email"
    if rule == "phone" and not PHONE_PATTERN.search(normalized):
        return "invalid_phone"
    return None
