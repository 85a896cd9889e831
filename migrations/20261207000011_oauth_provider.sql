-- Portcullis as the OAuth 2.1 / OpenID provider of its own apps (backend/src/provider/).

-- A registered client (`portcullis oauth-client create`). `secret_digest` is the SHA-256 of its secret, NULL for a
-- public client (a native app or a browser app: PKCE alone). `redirect_uris` holds one URI per line, each matched
-- exactly, except that a loopback one matches on any port (RFC 8252). A first-party client skips the consent page.
CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_digest TEXT,
    redirect_uris TEXT NOT NULL,
    first_party BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- The keys that sign ID tokens and access tokens (ES256). The private key (PKCS#8) is sealed with the data key
-- ring; a retired key signs nothing and is still published until the tokens it signed have expired.
CREATE TABLE oauth_signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- What a person allowed a client: the grant behind a code, its access tokens (their `sid` claim) and its refresh
-- tokens (one family). Revoking it ends all of them; so do a lock, a password reset or required change, and a
-- deletion of the account.
CREATE TABLE oauth_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth_grants_by_user ON oauth_grants (user_id);

-- An authorization code (60 s, single use), stored as its SHA-256, bound to its client, redirect URI and PKCE
-- challenge. Once redeemed it names the grant it made, so a second redemption can end that grant.
CREATE TABLE oauth_codes (
    code_digest TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    grant_id TEXT
);

-- Refresh tokens (for `offline_access`), stored as their SHA-256. Each use marks the token used and issues the next
-- of its grant; presenting a used one ends the grant.
CREATE TABLE oauth_refresh_tokens (
    token_digest TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_refresh_by_grant ON oauth_refresh_tokens (grant_id);

-- How the session signed in (`password; totp`, `passkey`, …): the `amr` and `acr` of the ID tokens issued in it.
ALTER TABLE sessions ADD COLUMN sign_in_method TEXT;
