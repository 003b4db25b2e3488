-- Journeys: a touch's campaign is read from the URL's utm_campaign too (not only
-- context.campaign.name), for attribution's campaign rows. Dropping the stored signature makes
-- engine.journeys.prepare rebuild journey_events once with it.
DELETE FROM meta WHERE key = 'journey_events_signature';
