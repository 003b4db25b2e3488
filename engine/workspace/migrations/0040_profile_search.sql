-- Profiles: a search table of lower-cased terms per profile (names both ways round, every
-- identifier, phone digits), rebuilt by engine.profiles.search when profiles change.
CREATE TABLE profile_search_terms (
    profile_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,              -- name | email | phone | customer_id | ... | profile_id
    term VARCHAR NOT NULL,              -- what the query is compared with (lower case; digits for phones)
    display VARCHAR                     -- the value as shown
);
