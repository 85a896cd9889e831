-- Sign-in with OAuth / OpenID Connect providers. An identity is keyed by (issuer, subject), never by e-mail.
CREATE TABLE user_identities (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The configured provider (google, github, oidc) and the issuer that vouches for the subject.
    provider TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- The e-mail the provider gave at the last sign-in (shown on the connections page; never used to match).
    email TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

-- A sign-in or link in progress (10 minutes, single use): bound to the browser by a cookie whose digest is stored,
-- and to the session for a link. Holds the PKCE verifier and the nonce; the state travels only as its digest.
CREATE TABLE oauth_flows (
    id TEXT PRIMARY KEY,
    state_digest TEXT NOT NULL UNIQUE,
    browser_digest TEXT NOT NULL,
    provider TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    purpose TEXT NOT NULL,
    session_id TEXT,
    -- Where a re-authentication (sudo) goes back to: a local path.
    return_to TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A provider identity whose e-mail matches an existing account: nothing is linked until the owner signs in to that
-- account in the same browser (cookie digest) and confirms. 10 minutes.
CREATE TABLE pending_links (
    id TEXT PRIMARY KEY,
    browser_digest TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
