"""Step names for pickers: read from `journey_events`, brought up to date first or read as last built
(the read's freshness policy), apart from base.py, which prepare.py builds on, so the two never
import each other."""
from __future__ import annotations

from engine.freshness import REBUILD
from engine.journeys.prepare import journeys_ready


def event_names(workspace, limit: int = 500, *, freshness: str = REBUILD):
    """Step names seen in the workspace, most frequent first (for pickers)."""
    journeys_ready(workspace, freshness)
    return workspace.query_df("SELECT step, count(*) AS events FROM journey_events WHERE step IS NOT NULL "
                              "GROUP BY step ORDER BY events DESC, step LIMIT ?", [int(limit)])
