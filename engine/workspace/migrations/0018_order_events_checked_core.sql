-- The core data version at which order_events was last filled (engine/order_events.py). Only a
-- commit that moves the core version can delete events (erasure, retention); a landing that
-- finds the version unmoved since the last fill knows the table still holds one row per covered
-- order event without counting them all again (a scan of every event's name at each landing).
ALTER TABLE order_events_state ADD COLUMN checked_core BIGINT;
