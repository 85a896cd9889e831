-- Personal access tokens (`pc_pat_…`, backend/src/api/tokens.rs). The clear token is shown once; only its SHA-256
-- digest is kept. `scopes` is space-separated (`read`, `write`); `hint` is the token's first characters after the
-- prefix, so its owner can tell tokens apart in a list.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    last_used_ip TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- The organizations a token may read (its owner a member of each when it was made). A token dies when its owner
-- leaves any of them.
CREATE TABLE api_token_orgs (
    token_id TEXT NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, org_id)
);
CREATE INDEX api_token_orgs_by_org ON api_token_orgs (org_id);
