"""Masking of personal data for roles without `view_pii`."""
from __future__ import annotations

import re

import pandas as pd

from engine.access.roles import User, can

# Column names that hold personal data, wherever they appear.
PII_FIELDS = frozenset({
    "email", "phone", "first_name", "last_name", "name", "full_name",
    "address_line1", "address_line2", "postcode", "date_of_birth",
    "client_ip_address", "ip", "all_emails", "all_phones",
})


def mask_value(value) -> str | None:
    """Keep the first character and the shape: 'alice@example.com' -> 'a••••@e••••'."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value)
    if not text:
        return text
    if "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}••••@{domain[:1]}••••"
    return text[:1] + "•" * min(max(len(text) - 1, 3), 8)


def is_pii_column(column: str) -> bool:
    return column.lower() in PII_FIELDS


def is_personal_field(field: str) -> bool:
    """A field a filter could probe personal data through: a PII column, or a custom trait or
    event property of the same name in any spelling (`traits.firstName`, `properties.Email`)."""
    key = str(field).rsplit(".", 1)[-1]
    key = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower().replace("-", "_").replace(" ", "_")
    return key in PII_FIELDS


def mask_frame(df: pd.DataFrame, user: User) -> pd.DataFrame:
    """A copy of df with personal columns masked, unless user may see them."""
    if can(user, "view_pii"):
        return df
    out = df.copy()
    for column in out.columns:
        if is_pii_column(str(column)):
            out[column] = out[column].map(mask_value).astype("object")
    return out
