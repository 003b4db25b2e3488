"""Normalising and hashing identifiers for suppression and privacy requests."""
from __future__ import annotations

import hashlib
import re

import phonenumbers

ID_TYPES = ("email", "phone", "customer_id", "user_id", "anonymous_id")


def normalise(id_type: str, value: str | None, region: str = "US") -> str | None:
    """The canonical text of an identifier, or None when it is empty or unusable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if id_type == "email":
        return text.lower()
    if id_type == "phone":
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            digits = re.sub(r"\D", "", text)
            return digits or None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return text


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def identifier_hash(id_type: str, value: str | None, region: str = "US") -> str | None:
    norm = normalise(id_type, value, region)
    return sha256_hex(norm) if norm else None
