-- Settings: profile name, the address an e-mail change waits on, the "must choose a new password" flag (set by an
-- operator on evidence of compromise; there is no periodic expiry) and a scheduled deletion.
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN pending_email TEXT;
ALTER TABLE users ADD COLUMN password_change_required BIGINT NOT NULL DEFAULT 0;
-- Account deletion: when the grace period ends and a job removes the account (NULL: not being deleted).
ALTER TABLE users ADD COLUMN deletion_scheduled_at BIGINT;
