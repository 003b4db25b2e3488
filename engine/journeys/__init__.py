"""Journeys: paths (Sankey), funnels, attribution and cohorts over `journey_events`."""
from engine.journeys.attribution import attribution, profile_touches
from engine.journeys.base import BREAKDOWNS, JourneyError, PropertyFilter, Step
from engine.journeys.cohorts import cohorts, retention_matrix
from engine.journeys.funnels import FunnelResult, funnel, funnel_dropoffs
from engine.journeys.names import event_names
from engine.journeys.paths import END, START, PathResult, paths, sankey_nodes
from engine.journeys.prepare import journeys_stale, prepare_journeys

__all__ = [
    "BREAKDOWNS", "END", "START", "FunnelResult", "JourneyError", "PathResult", "PropertyFilter", "Step", "attribution",
    "cohorts", "event_names", "funnel", "funnel_dropoffs", "journeys_stale", "paths", "prepare_journeys",
    "profile_touches", "retention_matrix", "sankey_nodes",
]
