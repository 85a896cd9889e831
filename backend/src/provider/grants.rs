//! The authorization code flow with PKCE (S256 only), refresh tokens that rotate on every use, revocation, and the
//! checks of an access token. Codes and refresh tokens are random and stored as SHA-256 digests; access and ID
//! tokens are JWTs signed by [`super::keys`]. Everything a person allowed one client hangs off one grant row:
//! revoking it ends the client's refresh tokens at once and its access tokens at their next check.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{clients::Client, keys, ACCESS_TOKEN_SECS};
use crate::{
    platform::audit::{self, Event},
    platform::crypto::{new_id, random_token, token_digest},
    platform::db::Tx,
    platform::request::{CurrentSession, RequestContext},
    AppState, Error,
};

/// How long a code may wait for its redemption.
pub const CODE_SECS: i64 = 60;
/// How long a refresh token lives unused.
pub const REFRESH_SECS: i64 = 30 * 86400;

/// An error of the token endpoint (RFC 6749 §5.2), with the description the client gets.
#[derive(Debug)]
pub enum TokenError {
    InvalidRequest(&'static str),
    InvalidClient,
    InvalidGrant(&'static str),
    /// A scope the client was not given.
    InvalidScope,
    /// A grant this client may not use (an app asking for `client_credentials`).
    UnauthorizedClient,
    UnsupportedGrantType,
    /// The client is past its allowance (`RATE_LIMIT_API_PER_MINUTE`): retry after this many seconds.
    TooManyRequests(u64),
    Unexpected(Error),
}

impl<E: Into<Error>> From<E> for TokenError {
    fn from(e: E) -> Self {
        TokenError::Unexpected(e.into())
    }
}

/// The `amr` values (RFC 8176) of a sign-in method as the gate records it (`password; totp`, `passkey`, …).
pub fn amr(method: &str) -> Vec<&'static str> {
    let mut amr: Vec<&'static str> = Vec::new();
    for part in method.split(';').map(str::trim) {
        match part {
            "password" => amr.push("pwd"),
            "totp" | "backup_code" => amr.push("otp"),
            "passkey" => amr.extend(["hwk", "user"]),
            "magic_link" => amr.push("email"),
            "oauth" => amr.push("fed"),
            _ => {}
        }
    }
    let factors = method.split(';').filter(|p| !p.trim().is_empty()).count();
    if factors > 1 || method.trim() == "passkey" {
        amr.push("mfa");
    }
    amr
}

/// `acr`: two factors, or one.
pub fn acr(amr: &[&str]) -> &'static str {
    if amr.contains(&"mfa") {
        "urn:portcullis:acr:mfa"
    } else {
        "urn:portcullis:acr:1fa"
    }
}

/// What `/oauth/authorize` was asked, once checked.
pub struct Authorization<'a> {
    pub client: &'a Client,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub code_challenge: &'a str,
    pub nonce: Option<&'a str>,
    /// The person just allowed it on the consent page: remember it, so the same scopes are not asked again.
    pub remember_consent: bool,
}

/// Issues a code for the signed-in person (never to an admin impersonating them). Audited.
pub async fn issue_code(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    a: Authorization<'_>,
) -> Result<String, Error> {
    crate::signin::sudo::not_impersonating(session)?;
    let now = st.clock.now();
    let (auth_time, method): (i64, Option<String>) =
        sqlx::query_as("SELECT created_at, sign_in_method FROM sessions WHERE id = $1")
            .bind(&session.session_id)
            .fetch_one(&st.db.pool)
            .await?;
    let code = random_token();
    let mut tx = st.db.begin().await?;
    sqlx::query(
        "INSERT INTO oauth_codes (code_digest, client_id, user_id, redirect_uri, code_challenge, scope, nonce, \
         auth_time, amr, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(token_digest(&code))
    .bind(&a.client.id)
    .bind(&session.user_id)
    .bind(a.redirect_uri)
    .bind(a.code_challenge)
    .bind(a.scope)
    .bind(a.nonce)
    .bind(auth_time)
    .bind(amr(method.as_deref().unwrap_or_default()).join(" "))
    .bind(now + CODE_SECS)
    .execute(&mut *tx)
    .await?;
    if a.remember_consent {
        super::consents::remember(&mut tx, &session.user_id, &a.client.id, a.scope, now).await?;
    }
    let event = Event::by_user("user.oauth_authorized", &session.user_id).detail(&a.client.name);
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    Ok(code)
}

/// What the token endpoint answers.
#[derive(Debug, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The claims of an access token (RFC 9068).
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The grant: checked on every use, so revoking it ends the token at once. A service account's token names
    /// the service account.
    pub sid: String,
    /// A service account's organization: the token acts as the service account, in that organization only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    amr: Vec<&'a str>,
    acr: &'static str,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

struct Grant {
    id: String,
    client_id: String,
    user_id: String,
    scope: String,
    auth_time: i64,
    amr: String,
}

/// Checks PKCE: `BASE64URL(SHA-256(verifier)) == challenge`, the verifier 43–128 unreserved characters (RFC 7636).
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    shaped
        && crate::platform::crypto::digest_eq(&URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), challenge)
}

/// A PKCE challenge as the authorization request may carry it: 43 base64url characters (a SHA-256).
pub fn challenge_is_well_formed(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Redeems a code once. A second redemption ends the grant the first one made (S61) and is audited.
pub async fn exchange_code(
    st: &AppState,
    ctx: &RequestContext,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<Tokens, TokenError> {
    let now = st.clock.now();
    let digest = token_digest(code);
    let signer = keys::Signer::current(st).await?;
    let mut tx = st.db.begin().await?;
    type Row = (String, String, String, String, Option<String>, i64, String, i64, Option<String>, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT client_id, user_id, redirect_uri, code_challenge, nonce, auth_time, amr, expires_at, grant_id, scope \
         FROM oauth_codes WHERE code_digest = $1",
    )
    .bind(&digest)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((client_id, user_id, bound_uri, challenge, nonce, auth_time, amr, expires_at, used_by, scope)) = row
    else {
        return Err(TokenError::InvalidGrant("The code is not valid."));
    };
    if let Some(grant_id) = used_by {
        sqlx::query("DELETE FROM oauth_grants WHERE id = $1").bind(&grant_id).execute(&mut *tx).await?;
        let event = Event::failed("user.oauth_code_reused", Some(&user_id)).detail(&client.name);
        audit::record(&mut tx, ctx, now, event).await?;
        tx.commit().await?;
        tracing::warn!(request_id = %ctx.request_id, client = %client.id, "an authorization code was redeemed twice: its grant is revoked");
        return Err(TokenError::InvalidGrant("The code was already used; what it gave is revoked."));
    }
    if client_id != client.id || bound_uri != redirect_uri || expires_at <= now {
        return Err(TokenError::InvalidGrant("The code is not valid for this client, redirect URI or time."));
    }
    if !pkce_matches(verifier, &challenge) {
        return Err(TokenError::InvalidGrant("The code verifier does not match the code challenge."));
    }
    let grant = Grant { id: new_id(), client_id, user_id, scope, auth_time, amr };
    sqlx::query(
        "INSERT INTO oauth_grants (id, client_id, user_id, scope, auth_time, amr, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&grant.id)
    .bind(&grant.client_id)
    .bind(&grant.user_id)
    .bind(&grant.scope)
    .bind(grant.auth_time)
    .bind(&grant.amr)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // Marked in the same transaction that read it unused: of two redemptions at once, one sees the other's grant.
    let marked = sqlx::query("UPDATE oauth_codes SET grant_id = $1 WHERE code_digest = $2 AND grant_id IS NULL")
        .bind(&grant.id)
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
    if marked.rows_affected() != 1 {
        return Err(TokenError::InvalidGrant("The code was already used."));
    }
    let tokens = issue(st, &mut tx, &signer, &grant, nonce.as_deref(), now).await?;
    tx.commit().await?;
    Ok(tokens)
}

/// Uses a refresh token once: the next one of its grant comes back with a new access token. Presenting a used one
/// ends the whole grant (S62) and is audited.
pub async fn refresh(
    st: &AppState,
    ctx: &RequestContext,
    client: &Client,
    refresh_token: &str,
) -> Result<Tokens, TokenError> {
    let now = st.clock.now();
    let digest = token_digest(refresh_token);
    let signer = keys::Signer::current(st).await?;
    let mut tx = st.db.begin().await?;
    type Row = (String, String, String, String, i64, String, i64, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT g.id, g.client_id, g.user_id, g.scope, g.auth_time, g.amr, r.expires_at, r.used_at \
         FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id WHERE r.token_digest = $1",
    )
    .bind(&digest)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((grant_id, client_id, user_id, scope, auth_time, amr, expires_at, used_at)) = row else {
        return Err(TokenError::InvalidGrant("The refresh token is not valid."));
    };
    if client_id != client.id {
        return Err(TokenError::InvalidGrant("The refresh token is not valid."));
    }
    let claimed = used_at.is_none()
        && sqlx::query("UPDATE oauth_refresh_tokens SET used_at = $1 WHERE token_digest = $2 AND used_at IS NULL")
            .bind(now)
            .bind(&digest)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if !claimed {
        sqlx::query("DELETE FROM oauth_grants WHERE id = $1").bind(&grant_id).execute(&mut *tx).await?;
        let event = Event::failed("user.oauth_refresh_reused", Some(&user_id)).detail(&client.name);
        audit::record(&mut tx, ctx, now, event).await?;
        tx.commit().await?;
        tracing::warn!(request_id = %ctx.request_id, client = %client.id, "a used refresh token was presented: its grant is revoked");
        return Err(TokenError::InvalidGrant("The refresh token was already used; its grant is revoked."));
    }
    if expires_at <= now || !account_is_usable(&mut tx, &user_id).await? {
        return Err(TokenError::InvalidGrant("The refresh token has expired."));
    }
    let grant = Grant { id: grant_id, client_id, user_id, scope, auth_time, amr };
    let tokens = issue(st, &mut tx, &signer, &grant, None, now).await?;
    tx.commit().await?;
    Ok(tokens)
}

async fn account_is_usable(tx: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM users WHERE id = $1 AND locked_at IS NULL AND password_change_required = 0 \
         AND deletion_scheduled_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n == 1)
}

/// The tokens of a grant: an access token; an ID token for `openid`; a new refresh token for `offline_access`.
async fn issue(
    st: &AppState,
    tx: &mut Tx,
    signer: &keys::Signer,
    grant: &Grant,
    nonce: Option<&str>,
    now: i64,
) -> Result<Tokens, Error> {
    let issuer = st.config.base_url.as_str();
    let scopes: Vec<&str> = grant.scope.split(' ').collect();
    let access = AccessClaims {
        iss: issuer.to_string(),
        sub: grant.user_id.clone(),
        aud: issuer.to_string(),
        client_id: grant.client_id.clone(),
        scope: grant.scope.clone(),
        iat: now,
        exp: now + ACCESS_TOKEN_SECS,
        jti: new_id(),
        sid: grant.id.clone(),
        org: None,
    };
    let access_token = signer.sign("at+jwt", &access)?;
    let id_token = if scopes.contains(&"openid") {
        let (email, confirmed, name): (String, Option<i64>, Option<String>) =
            sqlx::query_as("SELECT email, confirmed_at, display_name FROM users WHERE id = $1")
                .bind(&grant.user_id)
                .fetch_one(&mut **tx)
                .await?;
        let amr: Vec<&str> = grant.amr.split(' ').filter(|s| !s.is_empty()).collect();
        let with_email = scopes.contains(&"email");
        let claims = IdClaims {
            iss: issuer,
            sub: &grant.user_id,
            aud: &grant.client_id,
            iat: now,
            exp: now + ACCESS_TOKEN_SECS,
            auth_time: grant.auth_time,
            nonce,
            acr: acr(&amr),
            amr,
            sid: &grant.id,
            email: with_email.then_some(email.as_str()),
            email_verified: with_email.then_some(confirmed.is_some()),
            name: if scopes.contains(&"profile") { name.as_deref() } else { None },
        };
        Some(signer.sign("JWT", &claims)?)
    } else {
        None
    };
    let refresh_token = if scopes.contains(&"offline_access") {
        let token = random_token();
        sqlx::query(
            "INSERT INTO oauth_refresh_tokens (token_digest, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_digest(&token))
        .bind(&grant.id)
        .bind(now)
        .bind(now + REFRESH_SECS)
        .execute(&mut **tx)
        .await?;
        Some(token)
    } else {
        None
    };
    Ok(Tokens {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECS,
        scope: grant.scope.clone(),
        id_token,
        refresh_token,
    })
}

/// The claims of a live access token issued here: signature (a published key, ES256 only), issuer, audience,
/// expiry, type, and its grant still in force. `None` for anything else.
pub async fn verify_access_token(st: &AppState, token: &str) -> Result<Option<AccessClaims>, Error> {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let Ok(header) = decode_header(token) else { return Ok(None) };
    if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some("at+jwt") {
        return Ok(None);
    }
    let Some(jwk) = (match header.kid.as_deref() {
        Some(kid) => keys::published(st, kid).await?,
        None => None,
    }) else {
        return Ok(None);
    };
    let Ok(key) = DecodingKey::from_jwk(&jwk) else { return Ok(None) };
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[&st.config.base_url]);
    validation.set_audience(&[&st.config.base_url]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    let Ok(data) = decode::<AccessClaims>(token, &key, &validation) else { return Ok(None) };
    if data.claims.exp <= st.clock.now() {
        return Ok(None);
    }
    if let Some(org_id) = data.claims.org.as_deref() {
        let live = super::service_accounts::is_live(st, &data.claims, org_id).await?;
        return Ok(live.then_some(data.claims));
    }
    let (live,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM oauth_grants g JOIN users u ON u.id = g.user_id WHERE g.id = $1 \
         AND u.locked_at IS NULL AND u.password_change_required = 0 AND u.deletion_scheduled_at IS NULL",
    )
    .bind(&data.claims.sid)
    .fetch_one(&st.db.pool)
    .await?;
    Ok((live == 1).then_some(data.claims))
}

/// RFC 7009: ends the grant behind a refresh token or an access token of `client`. Unknown tokens are fine.
pub async fn revoke(st: &AppState, ctx: &RequestContext, client: &Client, token: &str) -> Result<(), Error> {
    let grant: Option<(String, String)> = sqlx::query_as(
        "SELECT g.id, g.user_id FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id \
         WHERE r.token_digest = $1 AND g.client_id = $2",
    )
    .bind(token_digest(token))
    .bind(&client.id)
    .fetch_optional(&st.db.pool)
    .await?;
    let grant = match grant {
        Some(g) => Some(g),
        None => match verify_access_token(st, token).await? {
            // A service account's access token has no grant to end: revoking the service account ends it.
            Some(claims) if claims.client_id == client.id && claims.org.is_none() => Some((claims.sid, claims.sub)),
            _ => None,
        },
    };
    if let Some((grant_id, user_id)) = grant {
        let mut tx = st.db.begin().await?;
        sqlx::query("DELETE FROM oauth_grants WHERE id = $1").bind(&grant_id).execute(&mut *tx).await?;
        audit::record(
            &mut tx,
            ctx,
            st.clock.now(),
            Event::by_user("user.oauth_revoked", &user_id).detail(&client.name),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Ends every grant of the user, in `tx` (with their sessions: a lock, a password reset or required change, a
/// deletion).
pub async fn revoke_all_for_user(tx: &mut Tx, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM oauth_codes WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM oauth_grants WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_and_acr_follow_the_sign_in_method() {
        assert_eq!(amr("password"), ["pwd"]);
        assert_eq!(amr("password; totp"), ["pwd", "otp", "mfa"]);
        assert_eq!(amr("passkey"), ["hwk", "user", "mfa"]);
        assert_eq!(acr(&amr("password; totp")), "urn:portcullis:acr:mfa");
        assert_eq!(acr(&amr("magic_link")), "urn:portcullis:acr:1fa");
    }

    #[test]
    fn s61_pkce_is_s256_of_a_well_formed_verifier() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(challenge, challenge));
        assert!(!pkce_matches("short", challenge));
        assert!(challenge_is_well_formed(challenge) && !challenge_is_well_formed("plain"));
    }
}
