//! Sign-in with OAuth 2.0 / OpenID Connect providers (`openidconnect` for Google and any OIDC issuer, `oauth2` for
//! GitHub), account creation from a provider, and safe linking.
//!
//! A flow is a row (`oauth_flows`, 10 minutes, single use) holding the PKCE verifier and the nonce; the browser
//! holds a cookie whose digest the row stores, and the provider carries the state (stored as its digest). So a
//! callback needs the state of a live flow, started in this browser, for this provider — once.
//!
//! Identities are keyed by (issuer, subject), never by e-mail. A new identity whose e-mail belongs to an existing
//! account signs nobody in and links nothing: it waits (`pending_links`, bound to the browser) until the owner signs
//! in to that account by its own means and confirms.
use crate::signin::jobs::IdentityChanged;
use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
    time::{Duration, Instant},
};

use openidconnect::{
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims},
    reqwest, AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};

use crate::{
    platform::audit::{self, Event},
    platform::config::{OAuthKind, OAuthProvider},
    platform::crypto::{new_id, random_token, token_digest},
    platform::jobs,
    platform::request::{CurrentSession, RequestContext},
    signin::gate::{self, FirstFactor, SignIn},
    signin::sudo,
    AppState, Error,
};

/// How long a flow (and a pending link) waits.
pub const FLOW_SECS: i64 = 600;
/// Provider metadata (endpoints, signing keys) is fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);

/// A failure the user is told about (details go to the log): in this module's words, or an account state that the
/// pages word for every way of signing in (closing, locked, re-authentication, unconfirmed).
#[derive(Debug)]
pub enum Failure {
    Said(String),
    Account(Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "oauth: database");
        Failure::Said("Something went wrong on our side. Please try again.".into())
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            // What the page would say (these log nothing).
            e @ (Error::AccountClosing | Error::AccountLocked | Error::SudoRequired | Error::ConfirmFirst) => {
                Failure::Account(e)
            }
            e => {
                tracing::error!(error = %e, "oauth: account");
                Failure::Said("Something went wrong on our side. Please try again.".into())
            }
        }
    }
}

fn provider_failed(provider: &OAuthProvider, what: &str, e: impl std::fmt::Display) -> Failure {
    tracing::warn!(provider = %provider.id, error = %e, "oauth: {what}");
    Failure::Said(format!("{} did not confirm who you are. Try again, or use another way to sign in.", provider.name))
}

/// Calls to providers never follow redirects (SSRF) and give up after 10 seconds.
fn http() -> &'static reqwest::Client {
    static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("portcullis")
            .build()
            .expect("HTTP client")
    });
    &CLIENT
}

type MetadataCache = Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>;

/// Discovery documents with their keys, by issuer.
fn metadata_cache() -> &'static MetadataCache {
    static CACHE: LazyLock<MetadataCache> = LazyLock::new(Default::default);
    &CACHE
}

/// The issuer's discovery document and keys, cached for an hour (or until a token names a key they lack).
async fn metadata(provider: &OAuthProvider, issuer: &str) -> Result<CoreProviderMetadata, Failure> {
    if let Some((at, m)) = metadata_cache().lock().expect("metadata cache").get(issuer) {
        if at.elapsed() < METADATA_TTL {
            return Ok(m.clone());
        }
    }
    let url = IssuerUrl::new(issuer.to_string()).map_err(|e| provider_failed(provider, "issuer URL", e))?;
    let m = CoreProviderMetadata::discover_async(url, http())
        .await
        .map_err(|e| provider_failed(provider, "discovery", e))?;
    metadata_cache().lock().expect("metadata cache").insert(issuer.to_string(), (Instant::now(), m.clone()));
    Ok(m)
}

fn redirect_url(st: &AppState, provider: &OAuthProvider) -> Result<RedirectUrl, Failure> {
    RedirectUrl::new(format!("{}/auth/{}/callback", st.config.base_url, provider.id))
        .map_err(|e| provider_failed(provider, "redirect URL", e))
}

fn find_provider<'a>(st: &'a AppState, id: &str) -> Result<&'a OAuthProvider, Failure> {
    st.config.oauth_provider(id).ok_or_else(|| Failure::Said("That sign-in provider is not configured here.".into()))
}

/// What a flow is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    /// Add the identity to the signed-in account (behind sudo).
    Link,
    /// Re-authenticate the signed-in account with a provider it is linked to (sudo for provider-only users).
    Sudo,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Link => "link",
            Purpose::Sudo => "sudo",
        }
    }
}

/// Where to send the browser, and the cookie that binds the flow to it.
pub struct Started {
    pub authorize_url: String,
    pub browser_token: String,
}

/// Starts a flow: state, PKCE (S256) and nonce, kept server-side; the browser goes to the provider.
pub async fn start(
    st: &AppState,
    provider_id: &str,
    purpose: Purpose,
    session: Option<&CurrentSession>,
    return_to: Option<&str>,
) -> Result<Started, Failure> {
    let provider = find_provider(st, provider_id)?;
    let session_id = match (purpose, session) {
        (Purpose::Link, Some(s)) => {
            sudo::require_confirmed(s)?;
            sudo::require(st, s)?;
            Some(s.session_id.clone())
        }
        (Purpose::Sudo, Some(s)) => Some(s.session_id.clone()),
        (Purpose::Link | Purpose::Sudo, None) => return Err(Failure::Said("Please log in first.".into())),
        (Purpose::SignIn, _) => None,
    };
    let state = random_token();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = Nonce::new_random();
    let redirect = redirect_url(st, provider)?;
    let authorize_url = match &provider.kind {
        OAuthKind::Oidc { issuer } => {
            let client = oidc_client(provider, issuer, redirect).await?;
            let state = state.clone();
            let nonce = nonce.clone();
            let (url, _, _) = client
                .authorize_url(CoreAuthenticationFlow::AuthorizationCode, move || CsrfToken::new(state), move || nonce)
                .add_scope(Scope::new("email".into()))
                .add_scope(Scope::new("profile".into()))
                .set_pkce_challenge(challenge)
                .url();
            url
        }
        OAuthKind::OAuth2 { auth_url, token_url, scopes, .. } => {
            let client = oauth2_client(provider, auth_url, token_url, redirect)?;
            let state = state.clone();
            let (url, _) = client
                .authorize_url(move || CsrfToken::new(state))
                .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
                .set_pkce_challenge(challenge)
                .url();
            url
        }
    };
    let browser_token = random_token();
    let now = st.clock.now();
    sqlx::query(
        "INSERT INTO oauth_flows (id, state_digest, browser_digest, provider, pkce_verifier, nonce, purpose, \
         session_id, return_to, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new_id())
    .bind(token_digest(&state))
    .bind(token_digest(&browser_token))
    .bind(&provider.id)
    .bind(verifier.secret())
    .bind(nonce.secret())
    .bind(purpose.as_str())
    .bind(session_id)
    .bind(return_to)
    .bind(now)
    .bind(now + FLOW_SECS)
    .execute(&st.db.pool)
    .await?;
    Ok(Started { authorize_url: authorize_url.to_string(), browser_token })
}

type OidcClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The OpenID Connect client for `provider`, from its issuer's (cached) discovery document.
async fn oidc_client(provider: &OAuthProvider, issuer: &str, redirect: RedirectUrl) -> Result<OidcClient, Failure> {
    Ok(CoreClient::from_provider_metadata(
        metadata(provider, issuer).await?,
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(provider.client_secret.expose().clone())),
    )
    .set_redirect_uri(redirect))
}

type OAuth2Client = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth2_client(
    provider: &OAuthProvider,
    auth_url: &str,
    token_url: &str,
    redirect: RedirectUrl,
) -> Result<OAuth2Client, Failure> {
    Ok(oauth2::basic::BasicClient::new(oauth2::ClientId::new(provider.client_id.clone()))
        .set_client_secret(oauth2::ClientSecret::new(provider.client_secret.expose().clone()))
        .set_auth_uri(oauth2::AuthUrl::new(auth_url.to_string()).map_err(|e| provider_failed(provider, "auth URL", e))?)
        .set_token_uri(
            oauth2::TokenUrl::new(token_url.to_string()).map_err(|e| provider_failed(provider, "token URL", e))?,
        )
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_redirect_uri(redirect))
}

/// Who the provider says the user is.
#[derive(Debug)]
struct Profile {
    subject: String,
    email: Option<String>,
    email_verified: bool,
}

/// The flow's server half, taken once.
struct Flow {
    browser_digest: String,
    verifier: String,
    nonce: String,
    purpose: String,
    session_id: Option<String>,
    return_to: Option<String>,
}

async fn take_flow(st: &AppState, provider: &str, state: &str) -> Result<Option<Flow>, sqlx::Error> {
    let mut tx = st.db.begin().await?;
    type Row = (String, String, String, String, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "DELETE FROM oauth_flows WHERE state_digest = $1 AND provider = $2 AND expires_at > $3 \
         RETURNING browser_digest, pkce_verifier, nonce, purpose, session_id, return_to",
    )
    .bind(token_digest(state))
    .bind(provider)
    .bind(st.clock.now())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|(browser_digest, verifier, nonce, purpose, session_id, return_to)| Flow {
        browser_digest,
        verifier,
        nonce,
        purpose,
        session_id,
        return_to,
    }))
}

/// What the callback did.
pub enum Outcome {
    /// Signed in (a session), or the MFA challenge comes next; then the page the flow started from.
    SignedIn { outcome: SignIn, return_to: Option<String> },
    /// The identity was added to the signed-in account.
    Linked { provider: String },
    /// The signed-in user re-authenticated with the provider: the session has a new token and an open sudo window.
    Reauthenticated { session: crate::signin::sessions::NewSession, return_to: Option<String> },
    /// The e-mail belongs to an existing account: its owner must sign in to it here, then confirm the link.
    LinkPending { email: String, browser_token: String },
}

/// The provider sent the browser back: check the flow, exchange the code (with the PKCE verifier), verify who the
/// user is, then sign in, create the account, link, or hold the link for the owner.
pub async fn callback(
    st: &AppState,
    ctx: &RequestContext,
    provider_id: &str,
    code: Option<&str>,
    state: Option<&str>,
    error: Option<&str>,
    iss: Option<&str>,
) -> Result<Outcome, Failure> {
    let provider = find_provider(st, provider_id)?;
    if error.is_some() {
        return Err(Failure::Said(format!("Sign-in with {} was cancelled.", provider.name)));
    }
    // Mix-up defence (RFC 9207): a provider that names itself must be the one this callback belongs to.
    if let (Some(iss), OAuthKind::Oidc { issuer }) = (iss, &provider.kind) {
        if iss.trim_end_matches('/') != issuer.trim_end_matches('/') {
            tracing::warn!(provider = %provider.id, %iss, "oauth: callback from another issuer");
            return Err(Failure::Said(format!("{} did not confirm who you are. Please start again.", provider.name)));
        }
    }
    let gone = || Failure::Said("That sign-in expired or was already used. Please start again.".into());
    let (Some(code), Some(state)) = (code, state) else { return Err(gone()) };
    let Some(flow) = take_flow(st, &provider.id, state).await? else { return Err(gone()) };
    let ours = ctx.oauth_browser.as_deref().map(token_digest);
    if ours.as_deref() != Some(flow.browser_digest.as_str()) {
        return Err(Failure::Said("That sign-in was not started in this browser. Please start again here.".into()));
    }
    let profile = identify(st, provider, code, &flow).await?;
    if flow.purpose == Purpose::SignIn.as_str() {
        return match sign_in(st, ctx, provider, profile).await? {
            Outcome::SignedIn { outcome, .. } => Ok(Outcome::SignedIn { outcome, return_to: flow.return_to }),
            other => Ok(other),
        };
    }
    let me = ctx.session.as_ref().filter(|s| Some(&s.session_id) == flow.session_id.as_ref());
    let Some(me) = me else { return Err(Failure::Said("Please log in again.".into())) };
    if flow.purpose == Purpose::Link.as_str() {
        sudo::require_confirmed(me)?;
        link(st, ctx, me, provider, &profile).await?;
        return Ok(Outcome::Linked { provider: provider.name.clone() });
    }
    reauthenticate(st, ctx, me, provider, &profile, flow.return_to).await
}

async fn identify(st: &AppState, provider: &OAuthProvider, code: &str, flow: &Flow) -> Result<Profile, Failure> {
    let redirect = redirect_url(st, provider)?;
    let verifier = PkceCodeVerifier::new(flow.verifier.clone());
    match &provider.kind {
        OAuthKind::Oidc { issuer } => {
            let mut client = oidc_client(provider, issuer, redirect.clone()).await?;
            let tokens = client
                .exchange_code(AuthorizationCode::new(code.to_string()))
                .map_err(|e| provider_failed(provider, "token endpoint", e))?
                .set_pkce_verifier(verifier)
                .request_async(http())
                .await
                .map_err(|e| provider_failed(provider, "code exchange", e))?;
            let id_token = tokens.id_token().ok_or_else(|| provider_failed(provider, "ID token", "none returned"))?;
            let nonce = Nonce::new(flow.nonce.clone());
            // Signed with a key the cached document lacks: the issuer rotated its keys. Fetch them once more (the
            // token came from its token endpoint, not from the browser, so only the issuer can cause this).
            let unknown_key = matches!(
                id_token.claims(&client.id_token_verifier(), &nonce),
                Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey))
            );
            if unknown_key {
                metadata_cache().lock().expect("metadata cache").remove(issuer.as_str());
                client = oidc_client(provider, issuer, redirect).await?;
            }
            let verifier = client.id_token_verifier();
            // Signature (the issuer's keys), issuer, audience, expiry and our nonce.
            let claims = id_token.claims(&verifier, &nonce).map_err(|e| provider_failed(provider, "ID token", e))?;
            if let Some(expected) = claims.access_token_hash() {
                let alg = id_token.signing_alg().map_err(|e| provider_failed(provider, "ID token", e))?;
                let key = id_token.signing_key(&verifier).map_err(|e| provider_failed(provider, "ID token", e))?;
                let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
                    .map_err(|e| provider_failed(provider, "access token hash", e))?;
                if actual != *expected {
                    return Err(provider_failed(provider, "access token hash", "mismatch"));
                }
            }
            let subject = claims.subject().to_string();
            let (mut email, mut verified) =
                (claims.email().map(|e| e.to_string()), claims.email_verified().unwrap_or(false));
            if email.is_none() {
                // Some issuers put the address only in userinfo.
                if let Ok(request) = client.user_info(tokens.access_token().clone(), Some(claims.subject().clone())) {
                    if let Ok(info) = request.request_async(http()).await {
                        let info: CoreUserInfoClaims = info;
                        email = info.email().map(|e| e.to_string());
                        verified = info.email_verified().unwrap_or(false);
                    }
                }
            }
            Ok(Profile { subject, email: email.map(|e| e.trim().to_lowercase()), email_verified: verified })
        }
        OAuthKind::OAuth2 { auth_url, token_url, user_url, emails_url, .. } => {
            let client = oauth2_client(provider, auth_url, token_url, redirect)?;
            let tokens = client
                .exchange_code(oauth2::AuthorizationCode::new(code.to_string()))
                .set_pkce_verifier(oauth2::PkceCodeVerifier::new(verifier.secret().clone()))
                .request_async(http())
                .await
                .map_err(|e| provider_failed(provider, "code exchange", e))?;
            let token = tokens.access_token().secret();
            let user: serde_json::Value = api_get(provider, user_url, token).await?;
            let subject = match (&user["id"], &user["sub"]) {
                (serde_json::Value::Number(n), _) => n.to_string(),
                (serde_json::Value::String(s), _) | (_, serde_json::Value::String(s)) => s.clone(),
                _ => return Err(provider_failed(provider, "user API", "no id")),
            };
            let mut email = user["email"].as_str().map(|e| e.trim().to_lowercase());
            let mut verified = user["email_verified"].as_bool().unwrap_or(false);
            if let (false, Some(url)) = (verified, emails_url) {
                // GitHub: the addresses with their verified flags; the primary verified one is the account's.
                let list: serde_json::Value = api_get(provider, url, token).await?;
                let primary = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| e["primary"].as_bool() == Some(true) && e["verified"].as_bool() == Some(true));
                if let Some(p) = primary.and_then(|p| p["email"].as_str()) {
                    email = Some(p.trim().to_lowercase());
                    verified = true;
                }
            }
            Ok(Profile { subject, email, email_verified: verified })
        }
    }
}

async fn api_get(provider: &OAuthProvider, url: &str, token: &str) -> Result<serde_json::Value, Failure> {
    let response = http()
        .get(url)
        .bearer_auth(token)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| provider_failed(provider, "user API", e))?;
    if !response.status().is_success() {
        return Err(provider_failed(provider, "user API", response.status()));
    }
    let body = response.bytes().await.map_err(|e| provider_failed(provider, "user API", e))?;
    serde_json::from_slice(&body).map_err(|e| provider_failed(provider, "user API", e))
}

async fn sign_in(
    st: &AppState,
    ctx: &RequestContext,
    provider: &OAuthProvider,
    p: Profile,
) -> Result<Outcome, Failure> {
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let known: Option<(String, Option<i64>)> = sqlx::query_as(
        "SELECT u.id, u.confirmed_at FROM user_identities i JOIN users u ON u.id = i.user_id \
         WHERE i.issuer = $1 AND i.subject = $2",
    )
    .bind(provider.issuer())
    .bind(&p.subject)
    .fetch_optional(&mut *tx)
    .await?;
    let user_id = match known {
        Some((user_id, confirmed_at)) => {
            sqlx::query("UPDATE user_identities SET last_used_at = $1, email = $2 WHERE issuer = $3 AND subject = $4")
                .bind(now)
                .bind(&p.email)
                .bind(provider.issuer())
                .bind(&p.subject)
                .execute(&mut *tx)
                .await?;
            if confirmed_at.is_none() && st.config.require_confirmed_email {
                return Err(Failure::Said(unconfirmed()));
            }
            user_id
        }
        None => {
            let Some(email) = p.email.clone() else {
                return Err(Failure::Said(format!(
                    "{} did not share an e-mail address, so no account can be made with it. Use another way to sign in.",
                    provider.name
                )));
            };
            if !p.email_verified {
                // An address the provider has not verified proves nothing: no account is made with it, and no link is
                // held for the account that has it (S55, M3, L8).
                audit::record(
                    &mut tx,
                    ctx,
                    now,
                    Event::failed("user.log_in", None).detail(&format!("{}: e-mail unverified", provider.id)),
                )
                .await?;
                tx.commit().await?;
                return Err(Failure::Said(format!(
                    "{} has not verified the e-mail address {email}, so it cannot sign you in here. Verify it with {}, \
                     or register with the address instead.",
                    provider.name, provider.name
                )));
            }
            let existing: Option<(String,)> =
                sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(&mut *tx).await?;
            if let Some((owner,)) = existing {
                // Never signed in or linked by e-mail alone: the owner must prove the account first.
                let browser_token = random_token();
                sqlx::query(
                    "INSERT INTO pending_links (id, browser_digest, user_id, provider, issuer, subject, email, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(new_id())
                .bind(token_digest(&browser_token))
                .bind(&owner)
                .bind(&provider.id)
                .bind(provider.issuer())
                .bind(&p.subject)
                .bind(&email)
                .bind(now)
                .bind(now + FLOW_SECS)
                .execute(&mut *tx)
                .await?;
                let detail = format!("{}: e-mail matches, link held for the owner", provider.id);
                audit::record(&mut tx, ctx, now, Event::failed("user.log_in", Some(&owner)).detail(&detail)).await?;
                tx.commit().await?;
                return Ok(Outcome::LinkPending { email, browser_token });
            }
            let user_id = new_id();
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, confirmed_at, created_at, updated_at) \
                 VALUES ($1, $2, NULL, $3, $3, $3)",
            )
            .bind(&user_id)
            .bind(&email)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_identity(&mut tx, now, &user_id, provider, &p).await?;
            let detail = format!("{} (e-mail verified)", provider.id);
            audit::record(&mut tx, ctx, now, Event::by_user("user.registered", &user_id).detail(&detail)).await?;
            user_id
        }
    };
    let signed_in = gate::sign_in(tx, st, ctx, FirstFactor { user_id, method: "oauth", remember_me: false }).await;
    Ok(Outcome::SignedIn { outcome: signed_in?, return_to: None })
}

fn unconfirmed() -> String {
    "Confirm your e-mail address first: we have sent you a link.".into()
}

async fn insert_identity(
    tx: &mut crate::platform::db::Tx,
    now: i64,
    user_id: &str,
    provider: &OAuthProvider,
    p: &Profile,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_identities (id, user_id, provider, issuer, subject, email, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(&provider.id)
    .bind(provider.issuer())
    .bind(&p.subject)
    .bind(&p.email)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds the identity to `user_id`'s account: audited, mailed. An identity of another account is refused.
async fn link(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    provider: &OAuthProvider,
    p: &Profile,
) -> Result<(), Failure> {
    let user_id = me.user_id.as_str();
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let owner: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2")
            .bind(provider.issuer())
            .bind(&p.subject)
            .fetch_optional(&mut *tx)
            .await?;
    match owner {
        Some((owner,)) if owner == user_id => return Ok(()),
        Some(_) => {
            return Err(Failure::Said(format!(
                "That {} account is already linked to another account here.",
                provider.name
            )))
        }
        None => {}
    }
    insert_identity(&mut tx, now, user_id, provider, p).await?;
    // A new way in: the account's other sessions end (S36).
    crate::signin::sessions::end_others_after_factor_change(&mut tx, me, false).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("oauth.linked", user_id).detail(&provider.id)).await?;
    let job = jobs::enqueue(
        &mut tx,
        st,
        IdentityChanged { user_id: user_id.to_string(), provider: provider.id.clone(), linked: true },
    )
    .await?;
    tx.commit().await?;
    jobs::after_commit(st, &[job]).await;
    Ok(())
}

/// Sudo by provider: the identity must be one of this account's.
async fn reauthenticate(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    provider: &OAuthProvider,
    p: &Profile,
    return_to: Option<String>,
) -> Result<Outcome, Failure> {
    if me.sudo_needs_second_factor() {
        // A provider proves only the first factor.
        return Err(Failure::Said(
            "Admins confirm it's them with a code from their authenticator app or a passkey.".into(),
        ));
    }
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let mine: Option<(String,)> =
        sqlx::query_as("SELECT id FROM user_identities WHERE issuer = $1 AND subject = $2 AND user_id = $3")
            .bind(provider.issuer())
            .bind(&p.subject)
            .bind(&me.user_id)
            .fetch_optional(&mut *tx)
            .await?;
    if mine.is_none() {
        let detail = format!("{}: not this account's", provider.id);
        audit::record(&mut tx, ctx, now, Event::failed("user.sudo", Some(&me.user_id)).detail(&detail)).await?;
        tx.commit().await?;
        return Err(Failure::Said(format!("That {} account is not linked to yours.", provider.name)));
    }
    let session = crate::signin::sessions::rotate(&mut tx, st, me, Some(now)).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("user.sudo", &me.user_id).detail(&provider.id)).await?;
    tx.commit().await?;
    Ok(Outcome::Reauthenticated { session, return_to })
}

/// A provider identity waiting for this browser's signed-in user to confirm the link.
pub struct PendingLink {
    pub provider: String,
    pub email: Option<String>,
}

async fn pending_row(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
) -> Result<Option<(String, String, String, String, Option<String>)>, sqlx::Error> {
    let Some(token) = ctx.pending_link.as_deref() else { return Ok(None) };
    sqlx::query_as(
        "SELECT id, provider, issuer, subject, email FROM pending_links \
         WHERE browser_digest = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(token_digest(token))
    .bind(&session.user_id)
    .bind(st.clock.now())
    .fetch_optional(&st.db.pool)
    .await
}

/// The link this browser holds for the signed-in account, if any.
pub async fn pending(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
) -> Result<Option<PendingLink>, sqlx::Error> {
    Ok(pending_row(st, ctx, session).await?.map(|(_, provider, _, _, email)| PendingLink {
        provider: st.config.oauth_provider(&provider).map(|p| p.name.clone()).unwrap_or(provider),
        email,
    }))
}

/// The owner, signed in to the account (by its own means) and inside the sudo window, confirms the held link.
pub async fn confirm_pending(st: &AppState, ctx: &RequestContext, session: &CurrentSession) -> Result<(), Error> {
    sudo::require_confirmed(session)?;
    sudo::require(st, session)?;
    let Some((id, provider_id, issuer, subject, email)) = pending_row(st, ctx, session).await? else {
        return Err(Error::NotFound);
    };
    sqlx::query("DELETE FROM pending_links WHERE id = $1").bind(&id).execute(&st.db.pool).await?;
    let Some(provider) = st.config.oauth_provider(&provider_id).filter(|p| p.issuer() == issuer) else {
        return Err(Error::NotFound);
    };
    let profile = Profile { subject, email, email_verified: false };
    link(st, ctx, session, provider, &profile).await.map_err(|f| match f {
        Failure::Said(message) => Error::Field("link", message),
        Failure::Account(e) => e,
    })
}

/// Forgets the held link.
pub async fn discard_pending(st: &AppState, ctx: &RequestContext, session: &CurrentSession) -> Result<(), Error> {
    sudo::not_impersonating(session)?;
    if let Some((id, ..)) = pending_row(st, ctx, session).await? {
        sqlx::query("DELETE FROM pending_links WHERE id = $1").bind(&id).execute(&st.db.pool).await?;
    }
    Ok(())
}

/// A linked identity, for the connections page.
#[derive(sqlx::FromRow)]
pub struct IdentityRow {
    pub id: String,
    pub provider: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn identities(st: &AppState, user_id: &str) -> Result<Vec<IdentityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, provider, email, created_at, last_used_at FROM user_identities WHERE user_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(&st.db.pool)
    .await
}

/// Unlinks one of the user's identities (behind sudo; another user's id is "not found"); refused when it is the
/// account's last way to sign in.
pub async fn unlink(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    id: &str,
    keep_others: bool,
) -> Result<(), Error> {
    let method = crate::signin::accounts::SignInMethod {
        table: "user_identities",
        label: "provider",
        audit: "oauth.unlinked",
        field: "identity",
        last_way: "This is the only way to sign in to your account. Set a password or add a passkey first.",
    };
    crate::signin::accounts::remove_sign_in_method(st, ctx, session, &method, id, keep_others, |provider| {
        IdentityChanged { user_id: session.user_id.clone(), provider, linked: false }.into()
    })
    .await
}
