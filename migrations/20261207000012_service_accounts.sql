-- Service accounts (organizations' own clients, client credentials) and remembered consent.

-- Service accounts: an organization's own OAuth clients, made by its owners, that get access tokens with the
-- client_credentials grant and read that organization only (backend/src/provider/service_accounts.rs).
-- They are rows of oauth_clients with an organization: no redirect URI, so no person can sign in through them;
-- deleting the organization deletes them. `scopes` is what they may ask for (`api:read`, `api:read api:write`).
ALTER TABLE oauth_clients ADD COLUMN org_id TEXT REFERENCES organizations(id) ON DELETE CASCADE;
ALTER TABLE oauth_clients ADD COLUMN scopes TEXT;
ALTER TABLE oauth_clients ADD COLUMN created_by TEXT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE oauth_clients ADD COLUMN last_used_at BIGINT;
ALTER TABLE oauth_clients ADD COLUMN last_used_ip TEXT;
CREATE INDEX oauth_clients_by_org ON oauth_clients (org_id);

-- What a service account did is audited as it: its client id here, no person as the actor.
ALTER TABLE audit_events ADD COLUMN actor_client_id TEXT;

-- What a person allowed an app that is not first-party, remembered so the consent page is not asked again for the
-- same scopes; asking for more asks again. Revoking the app on the API tokens page forgets it and ends its grants.
CREATE TABLE oauth_consents (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
