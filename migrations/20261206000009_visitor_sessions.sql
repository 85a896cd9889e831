-- The visitor session (app/src/backend/visitor.rs): per-browser data on tower-sessions. The id is kept only as its
-- SHA-256 digest; `data` is the session's JSON map; rows past `expires_at` (Unix seconds) are deleted by housekeeping.
CREATE TABLE visitor_sessions (
    id_digest TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX visitor_sessions_expiry ON visitor_sessions (expires_at);
