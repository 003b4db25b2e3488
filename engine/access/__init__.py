"""Users, roles and permissions, PII masking, and the audit log.

Every engine function that changes data or reveals personal data takes the
acting `User` and calls `require(user, PERMISSION)` first, so role checks hold
whether the call comes from a page, the CLI or a test.
"""
from engine.access.audit import audit, audit_entries
from engine.access.masking import PII_FIELDS, is_personal_field, mask_frame, mask_value
from engine.access.roles import (
    PERMISSIONS,
    ROLES,
    PermissionDenied,
    User,
    can,
    require,
    system_user,
)

__all__ = [
    "PERMISSIONS", "PII_FIELDS", "ROLES", "PermissionDenied", "User", "audit", "audit_entries",
    "can", "is_personal_field", "mask_frame", "mask_value", "require", "system_user",
]
