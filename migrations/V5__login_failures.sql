-- Issue 15: failed logins counted where every replica sees them, and logouts every replica
-- can catch up on.

-- Failed logins per username in the current window (API.md: 10 in 5 minutes, across all
-- replicas). A row lives until a success forgives it or the purge removes its ended window.
CREATE TABLE login_failures (
    username          text PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    failures          integer NOT NULL CONSTRAINT login_failures_counted CHECK (failures >= 0)
);
-- The purge deletes ended windows oldest first, in bounded chunks.
CREATE INDEX login_failures_by_window ON login_failures (window_started_at);

-- When a session was blocked (logged out): replicas that missed the NOTIFY find it by this.
ALTER TABLE sessions ADD COLUMN blocked_at timestamptz;
CREATE INDEX sessions_by_blocked_at ON sessions (blocked_at) WHERE blocked_at IS NOT NULL;
-- The purge deletes expired sessions in bounded chunks.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
