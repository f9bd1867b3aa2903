-- Fixed-window request counters shared by every instance (per-IP limits on the
-- authentication endpoints). Global: keyed by client address, not by tenant.
CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits         INTEGER NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);
