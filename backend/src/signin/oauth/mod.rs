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
mod accounts;
mod identities;
mod provider;

use crate::signin::jobs::IdentityChanged;
use accounts::{link, reauthenticate, sign_in};
pub use identities::{confirm_pending, discard_pending, identities, pending, unlink, IdentityRow, PendingLink};
pub use provider::check_discovery;
use provider::{find_provider, identify, oauth2_client, oidc_client, redirect_url};

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
