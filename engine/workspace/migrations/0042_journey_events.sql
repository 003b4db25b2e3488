-- Journeys: events attributed to profiles (the profile_events rule), with the step name and
-- the touch channel worked out once. Derived from events + profile_identifiers and rebuilt
-- by engine.journeys.prepare when either changes, so funnels and paths need no join.
CREATE TABLE journey_events (
    profile_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ,
    step VARCHAR,                       -- track: event name; page: 'Page: <name or path>'; ...
    type VARCHAR,
    properties JSON,
    utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR,
    referrer_host VARCHAR,
    channel VARCHAR                     -- touch channel when this event is a marketing touch, else NULL
);
