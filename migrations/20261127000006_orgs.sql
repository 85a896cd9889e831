-- Organizations (tenants in the one shared database). Every org-scoped query goes through memberships.
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    -- Members without two-step verification are sent to set it up when they enter.
    require_mfa BIGINT NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Role: owner, admin or member. Read on every request, so a change takes effect at the next one.
CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_active_at BIGINT,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

-- An invitation is bound to an e-mail address; accepting needs that address (signed in, or proved by the link).
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_by TEXT,
    revoked_at BIGINT
);
CREATE INDEX invitations_by_org ON invitations (org_id, email);
CREATE INDEX invitations_by_email ON invitations (email);

-- The links of an invitation (one per mail sent, one per copied link): only digests. They work while their
-- invitation is open. Only a mailed link (kind 'mail') proves the invited mailbox: it alone can create a
-- confirmed account; a copied link ('copy') has passed through the inviter's hands.
CREATE TABLE invitation_links (
    token_digest TEXT PRIMARY KEY,
    invitation_id TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX invitation_links_by_invitation ON invitation_links (invitation_id);

-- A slug an organization had: its pages redirect to the new one for 7 days.
CREATE TABLE org_slug_redirects (
    slug TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);

ALTER TABLE sessions ADD COLUMN active_org_id TEXT;
ALTER TABLE audit_events ADD COLUMN org_id TEXT;
CREATE INDEX audit_events_by_org ON audit_events (org_id, at);
