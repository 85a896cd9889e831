//! Talking to providers: discovery (cached), clients, the code exchange and who the provider says the user is.
use super::*;

fn provider_failed(provider: &OAuthProvider, what: &str, e: impl std::fmt::Display) -> Failure {
    tracing::warn!(provider = %provider.id, error = %e, "oauth: {what}");
    Failure::Said(format!("{} did not confirm who you are. Try again, or use another way to sign in.", provider.name))
}

/// Calls to providers never follow redirects (SSRF) and give up after 10 seconds. Each call has a connection of its
/// own (none is kept for reuse): a server closes an idle keep-alive connection when its own timer says (Node's default
/// is 5 s, the test provider's 1 s), and a code exchange — a POST, never retried — sent on a pooled connection the
/// provider is closing at that instant fails the sign-in (it did, in CI). No idle timeout on our side closes that
/// window for every provider; a fresh connection per call does, and costs one handshake on a sign-in.
pub(super) fn http() -> &'static reqwest::Client {
    static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .user_agent(crate::PROJECT)
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
pub(super) async fn metadata(provider: &OAuthProvider, issuer: &str) -> Result<CoreProviderMetadata, Failure> {
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

/// Fetches an issuer's discovery document and keys, uncached (for `portcullis doctor`).
pub async fn check_discovery(issuer: &str) -> Result<(), String> {
    let url = IssuerUrl::new(issuer.to_string()).map_err(|e| format!("not a URL: {e}"))?;
    CoreProviderMetadata::discover_async(url, http()).await.map(|_| ()).map_err(|e| crate::platform::error_chain(&e))
}

pub(super) fn redirect_url(st: &AppState, provider: &OAuthProvider) -> Result<RedirectUrl, Failure> {
    RedirectUrl::new(format!("{}/auth/{}/callback", st.config.base_url, provider.id))
        .map_err(|e| provider_failed(provider, "redirect URL", e))
}

pub(super) fn find_provider<'a>(st: &'a AppState, id: &str) -> Result<&'a OAuthProvider, Failure> {
    st.config.oauth_provider(id).ok_or_else(|| Failure::Said("That sign-in provider is not configured here.".into()))
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
pub(super) async fn oidc_client(
    provider: &OAuthProvider,
    issuer: &str,
    redirect: RedirectUrl,
) -> Result<OidcClient, Failure> {
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

pub(super) fn oauth2_client(
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

pub(super) async fn identify(
    st: &AppState,
    provider: &OAuthProvider,
    code: &str,
    flow: &Flow,
) -> Result<Profile, Failure> {
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
