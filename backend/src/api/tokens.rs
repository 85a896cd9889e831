//! Personal access tokens: `pc_pat_` and 43 random characters, shown once, stored as a SHA-256 digest. A token
//! carries scopes (`read`, `write`), optionally organizations its owner belongs to, and optionally an expiry.
//!
//! A token dies (its row is deleted) when it is revoked, when an admin locks the account or requires a new password,
//! when the account is scheduled for deletion or deleted, and when its owner leaves an organization it was granted.
//! The lookup checks the same again, so a token never outlives what should have ended it.
use crate::{
    platform::audit::{self, Event},
    platform::crypto::{new_id, random_token, token_digest},
    platform::db::{DbKind, Tx},
    platform::jobs,
    platform::request::{CurrentSession, RequestContext},
    signin::sudo,
    AppState, Error,
};

/// What every personal access token starts with, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "pc_pat_";
/// Tokens one account may hold at once.
pub const MAX_TOKENS: i64 = 20;
/// Lifetimes offered, in days (`None`: until revoked).
pub const LIFETIMES_DAYS: [Option<i64>; 5] = [Some(7), Some(30), Some(90), Some(365), None];
/// How often the last-used time and address are written at most.
const LAST_USED_EVERY_SECS: i64 = 60;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Read the account, its sessions and the granted organizations.
    Read,
    /// Change them (sign a session out).
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        match raw {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }
}

/// What the owner asks for on the tokens page.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub scopes: &'a [Scope],
    /// Slugs of organizations the token may read (the owner must be a member of each).
    pub organizations: &'a [String],
    /// One of [`LIFETIMES_DAYS`].
    pub lifetime_days: Option<i64>,
}

/// A new token: the clear value goes to the page once and nowhere else.
pub struct Created {
    pub id: String,
    pub token: String,
}

/// Makes a token (behind sudo, for a confirmed account, never while impersonating). The owner is mailed; the
/// creation is audited in the same transaction.
pub async fn create(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    new: NewToken<'_>,
) -> Result<Created, Error> {
    sudo::require(st, session)?;
    sudo::require_confirmed(session)?;
    let name = crate::signin::passkeys::clean_name(new.name);
    if name.is_empty() {
        return Err(Error::Field("name", "Give the token a name, so you can tell what uses it.".into()));
    }
    if new.scopes.is_empty() {
        return Err(Error::Field("scopes", "Choose what the token may do: read, or read and write.".into()));
    }
    if !LIFETIMES_DAYS.contains(&new.lifetime_days) {
        return Err(Error::Field("expires", "Choose one of the offered lifetimes.".into()));
    }
    let mut scopes: Vec<&str> = new.scopes.iter().map(|s| s.as_str()).collect();
    scopes.sort_unstable();
    scopes.dedup();
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    if st.db.kind == DbKind::Postgres {
        // One creation at a time per account, so two at once cannot pass the limit together.
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE").bind(&session.user_id).execute(&mut *tx).await?;
    }
    let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1")
        .bind(&session.user_id)
        .fetch_one(&mut *tx)
        .await?;
    if held >= MAX_TOKENS {
        return Err(Error::Field(
            "name",
            format!("You have {MAX_TOKENS} tokens, the most an account may hold: revoke one you no longer use first."),
        ));
    }
    let id = new_id();
    let secret = random_token();
    let token = format!("{PREFIX}{secret}");
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, token_digest, hint, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&session.user_id)
    .bind(&name)
    .bind(token_digest(&token))
    .bind(secret.chars().take(4).collect::<String>())
    .bind(scopes.join(" "))
    .bind(now)
    .bind(new.lifetime_days.map(|d| now + d * 86400))
    .execute(&mut *tx)
    .await?;
    let mut slugs: Vec<&String> = new.organizations.iter().collect();
    slugs.sort_unstable();
    slugs.dedup();
    for slug in slugs {
        // Granted only through a membership, read in this transaction.
        let granted = sqlx::query(
            "INSERT INTO api_token_orgs (token_id, org_id) SELECT $1, o.id FROM organizations o \
             JOIN memberships m ON m.org_id = o.id AND m.user_id = $2 WHERE o.slug = $3",
        )
        .bind(&id)
        .bind(&session.user_id)
        .bind(slug)
        .execute(&mut *tx)
        .await?;
        if granted.rows_affected() != 1 {
            return Err(Error::Field("organizations", "You are not a member of one of those organizations.".into()));
        }
    }
    audit::record(&mut tx, ctx, now, Event::by_user("user.api_token_created", &session.user_id).detail(&name)).await?;
    let job = super::jobs::ApiTokenCreated { user_id: session.user_id.clone(), name: name.clone() };
    let job_id = jobs::enqueue(&mut tx, st, job).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[job_id]).await;
    Ok(Created { id, token })
}

/// One of the user's tokens, as the tokens page and the admin console show it.
#[derive(Clone, Debug)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    /// `pc_pat_abcd…`
    pub hint: String,
    pub scopes: Vec<String>,
    /// Slugs of the granted organizations.
    pub organizations: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
}

/// The user's tokens that still work, the newest first (expired ones are not listed; housekeeping removes them).
pub async fn list(st: &AppState, user_id: &str) -> Result<Vec<TokenRow>, sqlx::Error> {
    type Row = (String, String, String, String, i64, Option<i64>, Option<i64>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, hint, scopes, created_at, expires_at, last_used_at, last_used_ip FROM api_tokens \
         WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id",
    )
    .bind(user_id)
    .bind(st.clock.now())
    .fetch_all(&st.db.pool)
    .await?;
    let grants: Vec<(String, String)> = sqlx::query_as(
        "SELECT g.token_id, o.slug FROM api_token_orgs g JOIN api_tokens t ON t.id = g.token_id \
         JOIN organizations o ON o.id = g.org_id WHERE t.user_id = $1 ORDER BY o.slug",
    )
    .bind(user_id)
    .fetch_all(&st.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, hint, scopes, created_at, expires_at, last_used_at, last_used_ip)| TokenRow {
            organizations: grants.iter().filter(|(t, _)| *t == id).map(|(_, slug)| slug.clone()).collect(),
            id,
            name,
            hint: format!("{PREFIX}{hint}…"),
            scopes: scopes.split(' ').map(str::to_string).collect(),
            created_at,
            expires_at,
            last_used_at,
            last_used_ip,
        })
        .collect())
}

/// Revokes one of the user's tokens (another user's id is "not found"). It stops working at once.
pub async fn revoke(st: &AppState, ctx: &RequestContext, session: &CurrentSession, id: &str) -> Result<(), Error> {
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let name: Option<(String,)> =
        sqlx::query_as("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2 RETURNING name")
            .bind(id)
            .bind(&session.user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((name,)) = name else { return Err(Error::NotFound) };
    audit::record(&mut tx, ctx, now, Event::by_user("user.api_token_revoked", &session.user_id).detail(&name)).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every token of the user, in `tx` (a lock, a required password change, a scheduled deletion).
pub async fn revoke_all_for_user(tx: &mut Tx, user_id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM api_tokens WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?.rows_affected())
}

/// Ends the tokens granted `org_id`: of `user_id` when they leave it, of everyone when it is deleted.
pub async fn revoke_for_org(tx: &mut Tx, org_id: &str, user_id: Option<&str>) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM api_tokens WHERE id IN (SELECT token_id FROM api_token_orgs WHERE org_id = $1) \
         AND ($2 = '' OR user_id = $2)",
    )
    .bind(org_id)
    .bind(user_id.unwrap_or(""))
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected())
}

/// Who a bearer token acts for, for one JSON API request.
#[derive(Clone, Debug)]
pub struct TokenAuth {
    /// What its rate limit is counted on: the personal token, the app's grant, or the service account.
    pub token_id: String,
    /// The token's name, the app's, or the service account's.
    pub token_name: String,
    pub scopes: Vec<Scope>,
    pub holder: Holder,
}

#[derive(Clone, Debug)]
pub enum Holder {
    /// A person: a personal access token, or an app's access token.
    Person(Person),
    /// An organization's service account (client credentials): it reads that organization, and is no person.
    Service { client_id: String, org_id: String },
}

/// The account a token acts for.
#[derive(Clone, Debug)]
pub struct Person {
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub confirmed: bool,
    /// Two-step verification is on (an organization may require it).
    pub has_mfa: bool,
}

impl TokenAuth {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// The person the token acts for; `None` for a service account's.
    pub fn person(&self) -> Option<&Person> {
        match &self.holder {
            Holder::Person(p) => Some(p),
            Holder::Service { .. } => None,
        }
    }
}

/// Whether `raw` has the shape of a token (checked before any lookup).
pub fn looks_like_token(raw: &str) -> bool {
    raw.strip_prefix(PREFIX)
        .is_some_and(|s| s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Finds the live token behind `raw`: not expired, its account not locked, not waiting for a new password, not
/// closing. A token granted an organization its owner has left since is deleted here and finds nothing. Writes
/// the last-used time and address (at most once a minute).
pub async fn authenticate(st: &AppState, raw: &str, ip: std::net::IpAddr) -> Result<Option<TokenAuth>, sqlx::Error> {
    if !looks_like_token(raw) {
        return Ok(None);
    }
    let now = st.clock.now();
    type Row = (String, String, String, String, Option<String>, Option<i64>, String, Option<i64>, i64, i64);
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.id, t.name, t.user_id, u.email, u.display_name, u.confirmed_at, t.scopes, t.last_used_at, \
         (SELECT COUNT(*) FROM api_token_orgs g WHERE g.token_id = t.id AND NOT EXISTS \
           (SELECT 1 FROM memberships m WHERE m.org_id = g.org_id AND m.user_id = t.user_id)) AS left_orgs, \
         (SELECT COUNT(*) FROM user_totp p WHERE p.user_id = u.id AND p.enabled_at IS NOT NULL) AS mfa \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_digest = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.locked_at IS NULL \
           AND u.password_change_required = 0 AND u.deletion_scheduled_at IS NULL",
    )
    .bind(token_digest(raw))
    .bind(now)
    .fetch_optional(&st.db.pool)
    .await?;
    let Some((token_id, token_name, user_id, email, display_name, confirmed_at, scopes, last_used, left_orgs, mfa)) =
        row
    else {
        return Ok(None);
    };
    if left_orgs > 0 {
        sqlx::query("DELETE FROM api_tokens WHERE id = $1").bind(&token_id).execute(&st.db.pool).await?;
        return Ok(None);
    }
    if last_used.is_none_or(|t| t <= now - LAST_USED_EVERY_SECS) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1, last_used_ip = $2 WHERE id = $3")
            .bind(now)
            .bind(ip.to_string())
            .bind(&token_id)
            .execute(&st.db.pool)
            .await?;
    }
    Ok(Some(TokenAuth {
        token_id,
        token_name,
        scopes: scopes.split(' ').filter_map(Scope::parse).collect(),
        holder: Holder::Person(Person {
            user_id,
            email,
            display_name,
            confirmed: confirmed_at.is_some(),
            has_mfa: mfa > 0,
        }),
    }))
}

/// Who an access token the OpenID provider issued acts for (already verified: signature, expiry, grant or service
/// account still in force, account usable), as a JSON API caller. Its `api:read` / `api:write` scopes are the API's
/// `read` / `write`. An app's token acts for its person and is granted no organization (those stay with personal
/// access tokens); a service account's acts for itself in its organization. Rate-limited per grant or service
/// account.
pub async fn from_access_token(
    st: &AppState,
    claims: &crate::provider::grants::AccessClaims,
) -> Result<Option<TokenAuth>, sqlx::Error> {
    let scopes = claims.scope.split(' ').filter_map(|s| s.strip_prefix("api:")).filter_map(Scope::parse).collect();
    if let Some(org_id) = &claims.org {
        let name: Option<(String,)> =
            sqlx::query_as("SELECT name FROM oauth_clients WHERE id = $1 AND org_id = $2 AND revoked_at IS NULL")
                .bind(&claims.client_id)
                .bind(org_id)
                .fetch_optional(&st.db.pool)
                .await?;
        return Ok(name.map(|(name,)| TokenAuth {
            token_id: format!("service:{}", claims.client_id),
            token_name: name,
            scopes,
            holder: Holder::Service { client_id: claims.client_id.clone(), org_id: org_id.clone() },
        }));
    }
    let row: Option<(String, Option<String>, Option<i64>, i64, String)> = sqlx::query_as(
        "SELECT u.email, u.display_name, u.confirmed_at, \
         (SELECT COUNT(*) FROM user_totp p WHERE p.user_id = u.id AND p.enabled_at IS NOT NULL), c.name \
         FROM users u JOIN oauth_clients c ON c.id = $2 AND c.revoked_at IS NULL WHERE u.id = $1",
    )
    .bind(&claims.sub)
    .bind(&claims.client_id)
    .fetch_optional(&st.db.pool)
    .await?;
    Ok(row.map(|(email, display_name, confirmed_at, mfa, client_name)| TokenAuth {
        token_id: format!("oauth:{}", claims.sid),
        token_name: client_name,
        scopes,
        holder: Holder::Person(Person {
            user_id: claims.sub.clone(),
            email,
            display_name,
            confirmed: confirmed_at.is_some(),
            has_mfa: mfa > 0,
        }),
    }))
}

/// What a token may see of an organization, by slug.
#[derive(Debug)]
pub enum OrgAccess {
    /// Not the holder's organization (not a member; another organization than the service account's; none such).
    NotFound,
    /// A member's organization the personal token was not granted.
    NotGranted,
    /// The organization requires two-step verification, which the person has not turned on.
    NeedsMfa,
    /// Its members may be read.
    Members { org_id: String },
}

/// Whether the token may read the members of organization `slug`.
pub async fn organization(st: &AppState, auth: &TokenAuth, slug: &str) -> Result<OrgAccess, sqlx::Error> {
    let person = match &auth.holder {
        Holder::Service { org_id, .. } => {
            let found: Option<(String,)> = sqlx::query_as("SELECT id FROM organizations WHERE id = $1 AND slug = $2")
                .bind(org_id)
                .bind(slug)
                .fetch_optional(&st.db.pool)
                .await?;
            return Ok(found.map_or(OrgAccess::NotFound, |(org_id,)| OrgAccess::Members { org_id }));
        }
        Holder::Person(p) => p,
    };
    let row: Option<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT o.id, m.role, o.require_mfa, \
         (SELECT COUNT(*) FROM api_token_orgs g WHERE g.token_id = $1 AND g.org_id = o.id) \
         FROM organizations o JOIN memberships m ON m.org_id = o.id AND m.user_id = $2 WHERE o.slug = $3",
    )
    .bind(&auth.token_id)
    .bind(&person.user_id)
    .bind(slug)
    .fetch_optional(&st.db.pool)
    .await?;
    let Some((org_id, role, require_mfa, granted)) = row else { return Ok(OrgAccess::NotFound) };
    let may_view =
        crate::orgs::Role::parse(&role).is_some_and(|role| crate::orgs::can(role, crate::orgs::Action::ViewMembers));
    Ok(if granted == 0 || !may_view {
        OrgAccess::NotGranted
    } else if require_mfa == 1 && !person.has_mfa {
        OrgAccess::NeedsMfa
    } else {
        OrgAccess::Members { org_id }
    })
}

/// The organizations the token may read, as `orgs::list_for_user` lists them: a personal token's granted ones (with
/// its owner's role), or a service account's own (role `service_account`).
pub async fn organizations(st: &AppState, auth: &TokenAuth) -> Result<Vec<crate::orgs::OrgRow>, sqlx::Error> {
    let members = "(SELECT COUNT(*) FROM memberships x WHERE x.org_id = o.id) AS members";
    match &auth.holder {
        Holder::Service { org_id, .. } => {
            sqlx::query_as(&format!(
                "SELECT o.slug, o.name, 'service_account' AS role, {members} FROM organizations o WHERE o.id = $1"
            ))
            .bind(org_id)
            .fetch_all(&st.db.pool)
            .await
        }
        Holder::Person(person) => {
            sqlx::query_as(&format!(
                "SELECT o.slug, o.name, m.role, {members} \
                 FROM organizations o JOIN memberships m ON m.org_id = o.id AND m.user_id = $1 \
                 JOIN api_token_orgs g ON g.org_id = o.id AND g.token_id = $2 ORDER BY o.name, o.slug"
            ))
            .bind(&person.user_id)
            .bind(&auth.token_id)
            .fetch_all(&st.db.pool)
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_shape_is_looked_up() {
        let token = format!("{PREFIX}{}", random_token());
        assert!(looks_like_token(&token));
        assert!(!looks_like_token(&token[..token.len() - 1]));
        assert!(!looks_like_token(&token.replace(PREFIX, "pc_xyz_")));
        assert!(!looks_like_token(&format!("{PREFIX}{}", "!".repeat(43))));
    }

    #[test]
    fn scopes_parse_from_their_names_only() {
        assert_eq!(Scope::parse("read"), Some(Scope::Read));
        assert_eq!(Scope::parse("write"), Some(Scope::Write));
        assert_eq!(Scope::parse("admin"), None);
        assert_eq!(Scope::parse("Read"), None);
    }
}
