-- Second factors. TOTP seeds are AES-256-GCM ciphertext (keys from config, never in the database); backup codes
-- are keyed digests (120-bit codes); only digests of challenge and trust tokens are stored.
CREATE TABLE user_totp (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_enc TEXT NOT NULL,
    -- NULL while enrolment waits for its first code.
    enabled_at BIGINT,
    -- The last accepted 30-second step: a code is accepted once.
    last_used_step BIGINT,
    -- Fresh backup codes, encrypted, until the security page has shown them once.
    codes_to_show TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE backup_codes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_digest TEXT NOT NULL UNIQUE,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX backup_codes_by_user ON backup_codes (user_id);

-- After a first factor, a user with MFA holds only this (5 minutes), not a session.
CREATE TABLE mfa_challenges (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_digest TEXT NOT NULL UNIQUE,
    method TEXT NOT NULL,
    remember_me BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- "Trust this browser": the cookie is signed and names its row; revoking deletes the row, and bumping the user's
-- trust epoch voids every cookie at once.
CREATE TABLE trusted_browsers (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_agent TEXT,
    ip TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX trusted_browsers_by_user ON trusted_browsers (user_id);

ALTER TABLE users ADD COLUMN trust_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_locked_until BIGINT;
