"""Normalising and hashing identifiers for suppression and privacy requests."""
from __future__ import annotations

import hashlib

from engine.phones import DEFAULT_REGION, e164

ID_TYPES = ("email", "phone", "customer_id", "user_id", "anonymous_id")


def normalise(id_type: str, value: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The canonical text of an identifier, or None when it is empty or unusable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if id_type == "email":
        return text.lower()
    if id_type == "phone":   # the workspace-wide rule, as ingest and activation apply it in SQL
        return e164(text, region)
    return text


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def identifier_hash(id_type: str, value: str | None, region: str = DEFAULT_REGION) -> str | None:
    norm = normalise(id_type, value, region)
    return sha256_hex(norm) if norm else None
