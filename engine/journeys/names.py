"""Step names for pickers: read from `journey_events` after bringing it up to date (apart from
base.py, which prepare.py builds on, so the two never import each other)."""
from __future__ import annotations

from engine.journeys.prepare import prepare_journeys


def event_names(workspace, limit: int = 500):
    """Step names seen in the workspace, most frequent first (for pickers)."""
    prepare_journeys(workspace)
    return workspace.query_df("SELECT step, count(*) AS events FROM journey_events WHERE step IS NOT NULL "
                              "GROUP BY step ORDER BY events DESC, step LIMIT ?", [int(limit)])
