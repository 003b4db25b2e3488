"""Identity resolution: normalisation, guarded deterministic graph, fuzzy matching with a
model that learns from reviewers, stable profile ids and golden records.

Public entry points: `resolve(workspace, user, full=False, progress=None) -> dict`, and the
review functions in engine.identity.review.
"""
from engine.identity.resolve import resolve

__all__ = ["resolve"]
