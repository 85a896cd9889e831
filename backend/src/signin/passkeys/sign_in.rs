//! Signing in with a passkey (discoverable or e-mail first), and a passkey as a second factor or for sudo.
use super::*;

/// Options for a passwordless sign-in. Without an e-mail: usernameless (the browser offers the site's passkeys;
/// `conditional` for autofill on the e-mail field). With one: that account's passkeys, and for an address without
/// any, the same shape of options with made-up credential ids (stable per address), so nobody learns which
/// addresses have accounts.
pub async fn start_sign_in(
    st: &AppState,
    email: Option<&str>,
    conditional: bool,
) -> Result<Ceremony<RequestChallengeResponse>, Error> {
    let Some(email) = email else {
        let (mut options, state) = st.webauthn.start_discoverable_authentication().map_err(unexpected)?;
        if !conditional {
            options.mediation = None;
        }
        let token = begin(st, Purpose::SignIn, None, None, &CeremonyState::Discoverable(state)).await?;
        return Ok(Ceremony { token, options });
    };
    let email = email.trim().to_lowercase();
    let user: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(&st.db.pool).await?;
    let passkeys = match &user {
        Some((id,)) => credentials(st, id).await?,
        None => Vec::new(),
    };
    let (mut options, state) = match (&user, passkeys.is_empty()) {
        (Some((user_id,)), false) => {
            let (options, state) = st.webauthn.start_passkey_authentication(&passkeys).map_err(unexpected)?;
            (options, CeremonyState::Known { user_id: user_id.clone(), state })
        }
        _ => {
            let (mut options, _) = st.webauthn.start_discoverable_authentication().map_err(unexpected)?;
            let fake = st.fake_credentials.generate(email.as_bytes()).map_err(unexpected)?;
            options.public_key.allow_credentials = fake
                .into_iter()
                .map(|id| AllowCredentials { type_: "public-key".into(), id: id.to_vec(), transports: None })
                .collect();
            options.public_key.extensions = None;
            (options, CeremonyState::Decoy)
        }
    };
    // The same shape either way: no mediation, no transports (a decoy cannot know them).
    options.mediation = None;
    for c in &mut options.public_key.allow_credentials {
        c.transports = None;
    }
    let token = begin(st, Purpose::SignIn, None, None, &state).await?;
    Ok(Ceremony { token, options })
}

/// Checks a passwordless answer and signs in through the gate (the passkey, verified by the user, is both factors).
pub async fn finish_sign_in(
    st: &AppState,
    ctx: &RequestContext,
    token: &str,
    credential: &str,
    remember_me: bool,
) -> Result<SignIn, Error> {
    let credential: PublicKeyCredential = serde_json::from_str(credential).map_err(|_| unreadable())?;
    let state = take(st, Purpose::SignIn, token, None).await?;
    let user_id = match &state {
        CeremonyState::Discoverable(_) => {
            let (handle, _) =
                st.webauthn.identify_discoverable_authentication(&credential).map_err(|_| not_accepted())?;
            handle.to_string()
        }
        CeremonyState::Known { user_id, .. } => user_id.clone(),
        _ => return Err(not_accepted()),
    };
    let tx = check_assertion(st, ctx, &user_id, state, &credential, "user.log_in").await?;
    gate::sign_in(tx, st, ctx, FirstFactor { user_id, method: "passkey", remember_me }).await
}

/// Options to prove it is `user_id` with one of their passkeys, for the MFA challenge or sudo.
pub async fn start_for_user(
    st: &AppState,
    purpose: Purpose,
    user_id: &str,
    session_id: Option<&str>,
) -> Result<Ceremony<RequestChallengeResponse>, Error> {
    let passkeys = credentials(st, user_id).await?;
    if passkeys.is_empty() {
        return Err(Error::Field("passkey", "This account has no passkey.".into()));
    }
    let (options, state) = st.webauthn.start_passkey_authentication(&passkeys).map_err(unexpected)?;
    let state = CeremonyState::Known { user_id: user_id.to_string(), state };
    let token = begin(st, purpose, Some(user_id), session_id, &state).await?;
    Ok(Ceremony { token, options })
}

/// Checks that `credential` answers the ceremony `token` with one of `user_id`'s passkeys (MFA challenge, sudo).
pub async fn verify_for_user(
    st: &AppState,
    ctx: &RequestContext,
    purpose: Purpose,
    user_id: &str,
    session_id: Option<&str>,
    token: &str,
    credential: &str,
) -> Result<(), Error> {
    let credential: PublicKeyCredential = serde_json::from_str(credential).map_err(|_| unreadable())?;
    let state = take(st, purpose, token, session_id).await?;
    match &state {
        CeremonyState::Known { user_id: bound, .. } if bound == user_id => {}
        _ => return Err(expired()),
    }
    let action = if purpose == Purpose::Sudo { "user.sudo" } else { "mfa.challenge" };
    check_assertion(st, ctx, user_id, state, &credential, action).await?.commit().await?;
    Ok(())
}

/// Verifies an assertion for one of `user_id`'s passkeys against the ceremony's state: signature, challenge,
/// origin, RP ID, user verification, sign counter. On success the passkey's counter, backup flags and last use are
/// updated in the returned transaction. A counter that went backwards (a cloned authenticator) is refused and
/// audited; so is any other failure, as a failed `action`.
async fn check_assertion(
    st: &AppState,
    ctx: &RequestContext,
    user_id: &str,
    state: CeremonyState,
    credential: &PublicKeyCredential,
    action: &'static str,
) -> Result<Tx, Error> {
    let credential_id = b64(credential.get_credential_id());
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, credential FROM passkeys WHERE credential_id = $1 AND user_id = $2")
            .bind(&credential_id)
            .bind(user_id)
            .fetch_optional(&st.db.pool)
            .await?;
    let now = st.clock.now();
    let Some((id, stored)) = row else {
        let mut tx = st.db.begin().await?;
        audit::record(&mut tx, ctx, now, Event::failed(action, None).detail("passkey: unknown credential")).await?;
        tx.commit().await?;
        return Err(not_accepted());
    };
    let mut passkey: Passkey = serde_json::from_str(&stored).map_err(unexpected)?;
    let result = match state {
        CeremonyState::Discoverable(state) => {
            st.webauthn.finish_discoverable_authentication_v2(credential, state, DiscoverableKey::from(&passkey))
        }
        CeremonyState::Known { state, .. } => st.webauthn.finish_passkey_authentication(credential, &state),
        _ => return Err(not_accepted()),
    };
    let result = match result {
        Ok(r) if r.user_verified() => r,
        outcome => {
            let detail = match outcome {
                Err(WebauthnError::CredentialPossibleCompromise) => {
                    "passkey: sign counter went backwards (cloned authenticator?)"
                }
                Err(WebauthnError::UserNotVerified) | Ok(_) => "passkey: user not verified",
                _ => "passkey: assertion did not verify",
            };
            tracing::info!(request_id = %ctx.request_id, ?outcome, "passkey assertion refused");
            let mut tx = st.db.begin().await?;
            audit::record(&mut tx, ctx, now, Event::failed(action, Some(user_id)).detail(detail)).await?;
            tx.commit().await?;
            return Err(not_accepted());
        }
    };
    passkey.update_credential(&result);
    let mut tx = st.db.begin().await?;
    sqlx::query(
        "UPDATE passkeys SET credential = $1, sign_count = $2, backup_eligible = $3, backup_state = $4, \
         last_used_at = $5 WHERE id = $6",
    )
    .bind(serde_json::to_string(&passkey).map_err(unexpected)?)
    .bind(result.counter() as i64)
    .bind(result.backup_eligible() as i64)
    .bind(result.backup_state() as i64)
    .bind(now)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}
