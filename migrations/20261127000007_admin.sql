-- Operators. There are no default accounts: the first admin is granted by `portcullis admin grant EMAIL`.
ALTER TABLE users ADD COLUMN is_admin BIGINT NOT NULL DEFAULT 0;
-- An operator's lock (distinct from the password lockout's `locked_until`): no sign-in by any method, and the
-- session lookup ignores the account's sessions, until an admin unlocks it.
ALTER TABLE users ADD COLUMN locked_at BIGINT;
-- The admins' user list pages by (created_at, id).
CREATE INDEX users_by_created ON users (created_at, id);
-- An impersonation session: the admin behind it and the admin's own session, which "stop" resumes.
ALTER TABLE sessions ADD COLUMN impersonator_id TEXT;
ALTER TABLE sessions ADD COLUMN impersonator_session_id TEXT;
-- What happened while an admin impersonated the user carries the admin too.
ALTER TABLE audit_events ADD COLUMN impersonator_id TEXT;
CREATE INDEX audit_events_by_actor ON audit_events (actor_user_id, at);
