-- Passkeys (WebAuthn). The credential is webauthn-rs's `Passkey` as JSON: public key, sign counter, backup flags.
-- Nothing secret is stored. The counter and flags are copied out for the pages and for cloned-authenticator checks.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- base64url of the credential id; one credential belongs to one account.
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    name TEXT NOT NULL,
    aaguid TEXT,
    sign_count BIGINT NOT NULL DEFAULT 0,
    backup_eligible BIGINT NOT NULL DEFAULT 0,
    backup_state BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A WebAuthn ceremony in progress (5 minutes, single use): the server's half of the challenge. The browser holds
-- only the token whose digest is stored here; signed-in ceremonies are bound to their session.
CREATE TABLE webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    token_digest TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
