"""Segments: a JSON rule tree (model), compiled to one SQL query (compiler), saved with
versions (store), evaluated against a materialised event index (event_index).

Contracts other modules call: segment_members, count_definition, create_segment,
create_static_segment.
"""
from engine.segments.model import DefinitionError, describe, empty_definition, validate
from engine.segments.store import (
    SegmentFeedsAudiences,
    SegmentNotFound,
    audience_links,
    builder_choices,
    count_definition,
    count_segment,
    create_segment,
    create_static_segment,
    definition_sql,
    delete_segment,
    duplicate_segment,
    export_members_csv,
    export_segment,
    find_segment,
    get_segment,
    import_segment,
    list_segments,
    live_size,
    overlap,
    parse_import,
    reachability,
    refresh_segments,
    restore_version,
    sample_members,
    save_segment,
    segment_members,
    segment_versions,
    snapshot_history,
)

__all__ = [
    "DefinitionError", "SegmentFeedsAudiences", "SegmentNotFound", "audience_links", "builder_choices", "count_definition", "count_segment", "create_segment",
    "create_static_segment", "definition_sql", "delete_segment", "describe", "duplicate_segment",
    "empty_definition", "export_members_csv", "export_segment", "find_segment", "get_segment", "import_segment",
    "list_segments", "live_size", "overlap", "parse_import", "reachability", "refresh_segments",
    "restore_version", "sample_members", "save_segment", "segment_members", "segment_versions",
    "snapshot_history", "validate",
]
