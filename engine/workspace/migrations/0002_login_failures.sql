-- Failed logins counted per attempted user name and per client address (engine/access/throttle.py).
-- Times are Unix seconds so that the throttle's clock can be injected.
CREATE TABLE login_failures (
    scope VARCHAR NOT NULL,          -- 'user' or 'address'
    subject VARCHAR NOT NULL,        -- the attempted user name, or the client address
    failures INTEGER NOT NULL,
    last_failure_at DOUBLE NOT NULL,
    blocked_until DOUBLE NOT NULL,
    PRIMARY KEY (scope, subject)
);
