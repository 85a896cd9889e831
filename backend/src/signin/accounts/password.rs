//! Password sign-in: the lockout claimed before the hash, the check, and what a failure records.
use super::*;

/// The password sign-in path: one generic failure, a dummy hash for unknown e-mails and locked accounts (the lock
/// is checked before the real hash, so the right password does not open a locked account), then the gate.
pub async fn log_in_with_password(
    st: &AppState,
    ctx: &RequestContext,
    email: &str,
    password: &str,
    remember_me: bool,
) -> Result<SignIn, Error> {
    let parsed = EmailAddress::parse(email).ok();
    st.limits.account(parsed.as_ref().map_or(email.trim(), |e| e.as_str())).map_err(Error::RateLimited)?;
    let user = match parsed {
        Some(e) => find_user(st, &e).await?,
        None => None,
    };
    let matched = check_password(st, ctx, user, password, "user.log_in", false).await?;
    // One transaction after the hash: the success's writes, the gate and the session.
    let mut tx = st.db.begin().await?;
    matched.record(&mut *tx, st.clock.now()).await?;
    let user = matched.user;
    if st.config.require_confirmed_email && user.confirmed_at.is_none() {
        tx.commit().await?;
        return Err(Error::Unconfirmed);
    }
    let first = FirstFactor { user_id: user.id, method: "password", remember_me };
    gate::sign_in(tx, st, ctx, first).await
}

/// The operator's answer to evidence that a password is compromised (there is no periodic expiry): the password
/// stops opening sessions until the owner sets a new one through a mailed link, and every session ends now.
/// Returns false when no account has the address.
pub async fn require_password_change(
    st: &AppState,
    ctx: &RequestContext,
    email: &EmailAddress,
) -> Result<Option<u64>, Error> {
    let Some(user) = find_user(st, email).await? else { return Ok(None) };
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let ended = flag_password_change(&mut tx, &user.id, now).await?;
    audit::record(&mut tx, ctx, now, Event::on_user("user.password_change_required", &user.id)).await?;
    tx.commit().await?;
    Ok(Some(ended))
}

/// Sets the flag that stops the password from signing in and ends every session and personal access token of the
/// user, in `tx`. Returns how
/// many sessions ended. (The command line and the admin console's "Require a new password".)
pub async fn flag_password_change(
    tx: &mut crate::platform::db::Tx,
    user_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query("UPDATE users SET password_change_required = 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    crate::api::tokens::revoke_all_for_user(tx, user_id).await?;
    crate::provider::grants::revoke_all_for_user(tx, user_id).await?;
    sessions::end_all_for_user(tx, user_id, None).await
}

/// Checks the signed-in user's own password again (sudo, password change), under the same lockout as log in.
pub async fn verify_password_of(
    st: &AppState,
    ctx: &RequestContext,
    user_id: &str,
    password: &str,
    action: &'static str,
) -> Result<(), Error> {
    st.limits.account(user_id).map_err(Error::RateLimited)?;
    let user = find_user_by_id(st, user_id).await?;
    check_password(st, ctx, user, password, action, true).await?.record(&st.db.pool, st.clock.now()).await?;
    Ok(())
}
/// A password that matched, and what its success writes — the attempt counters start again and a hash made with
/// old parameters is upgraded — for the caller to apply in its own transaction.
struct Matched {
    user: UserRow,
    rehash: Option<String>,
}

impl Matched {
    async fn record<'e>(&self, db: impl sqlx::Executor<'e, Database = sqlx::Any>, now: i64) -> Result<(), sqlx::Error> {
        let reset = attempts::PASSWORD.reset_assignments();
        sqlx::query(&format!(
            "UPDATE users SET {reset}, password_hash = COALESCE($1, password_hash), updated_at = $2 WHERE id = $3"
        ))
        .bind(self.rehash.as_deref())
        .bind(now)
        .bind(&self.user.id)
        .execute(db)
        .await?;
        Ok(())
    }
}

/// The password check every path shares. The attempt is claimed before the hash ([`attempts::claim`]): at most
/// [`attempts::PAUSE_AFTER`] attempts are checked against the real hash before a pause, however many arrive at once.
/// An unknown account, a paused one and one no password may open now ([`UserRow::refused`]) are checked against a
/// dummy hash, so every answer costs the same and the right password learns nothing. A success returns what it
/// writes ([`Matched::record`]); a failure is audited as `action`.
async fn check_password(
    st: &AppState,
    ctx: &RequestContext,
    user: Option<UserRow>,
    password: &str,
    action: &'static str,
    signed_in: bool,
) -> Result<Matched, Error> {
    let now = st.clock.now();
    let refused = user.as_ref().and_then(|u| u.refused(signed_in));
    let claim = match &user {
        Some(u) if refused.is_none() => Some(attempts::claim(&st.db.pool, &attempts::PASSWORD, &u.id, now).await?),
        _ => None,
    };
    let checked = matches!(claim, Some(Claim::Granted { .. }));
    let password = zeroize::Zeroizing::new(normalize_password(password));
    let stored = if checked { user.as_ref().and_then(|u| u.password_hash.as_deref()) } else { None };
    let verified = st.hasher.verify(&password, stored).await?;
    match (user, verified) {
        (Some(u), Verified::Yes | Verified::YesNeedsRehash) if checked => {
            let rehash =
                if verified == Verified::YesNeedsRehash { Some(st.hasher.hash(&password).await?) } else { None };
            Ok(Matched { user: u, rehash })
        }
        (u, _) => {
            let detail = match (claim, refused) {
                (_, Some(why)) => why,
                (Some(Claim::Paused), _) => "password; account locked",
                _ => "password",
            };
            let pause = match claim {
                Some(Claim::Granted { pause }) => pause,
                _ => None,
            };
            record_failed_password(st, ctx, u.as_ref(), detail, pause, action).await?;
            metrics::counter!("password_checks_failed_total").increment(1);
            Err(Error::InvalidCredentials)
        }
    }
}

/// Audits a failed password. When this attempt started a pause, audits and mails that too (once per pause); a
/// password tried on an account whose password must change mails the owner a reset link (rate-limited).
async fn record_failed_password(
    st: &AppState,
    ctx: &RequestContext,
    user: Option<&UserRow>,
    detail: &str,
    pause: Option<attempts::Pause>,
    action: &'static str,
) -> Result<(), Error> {
    let now = st.clock.now();
    let user_id = user.map(|u| u.id.as_str());
    let mut tx = st.db.begin().await?;
    audit::record(&mut tx, ctx, now, Event::failed(action, user_id).detail(detail)).await?;
    let mut job_ids = Vec::new();
    if let (Some(u), Some(p)) = (user, pause) {
        let why = if p.escalated { "5 failed passwords; until a mailed link" } else { "5 failed passwords" };
        audit::record(&mut tx, ctx, now, Event::on_user("user.locked", &u.id).detail(why)).await?;
        let job = AccountLocked { user_id: u.id.clone(), until_reset: p.escalated };
        job_ids.push(jobs::enqueue(&mut tx, st, job).await?);
    }
    if let Some(u) = user.filter(|_| detail == FLAGGED) {
        // Evidence of compromise: the password no longer opens a session; the owner proves the mailbox instead.
        if st.limits.mail(&u.email, ctx.ip).is_ok() {
            job_ids.push(jobs::enqueue(&mut tx, st, PasswordReset { user_id: u.id.clone() }).await?);
        }
    }
    tx.commit().await?;
    jobs::after_commit(st, &job_ids).await;
    Ok(())
}
