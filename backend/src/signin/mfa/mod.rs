//! Second factors: TOTP (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step, each step accepted once), backup codes, the
//! MFA lock, and trusted browsers.
//!
//! The TOTP seed is stored encrypted with the config's key ring (bound to the user id) and leaves the server only
//! during enrolment. Backup codes carry 120 bits, so a keyed digest is enough to store them (S23) and one indexed
//! lookup checks one.
mod backup_codes;
use backup_codes::{backup_digest, replace_backup_codes};
pub use backup_codes::{normalize_code, regenerate_backup_codes};
mod reseal;
mod trust;
use crate::signin::jobs::{BackupCodeUsed, MfaChanged, MfaLocked};
use domain::views::{Enrolment, SecurityOverview, TrustedBrowser};
use rand::{rngs::OsRng, Rng, RngCore};
pub use reseal::{reseal_all, Resealed};
use totp_rs::{Algorithm, TOTP};
pub use trust::{revoke_all_trust, revoke_trust, trust_this_browser, trusted_browser};

use crate::{
    platform::audit::{self, Event},
    platform::crypto::{digest_eq, keyed_digest, new_id},
    platform::db::Tx,
    platform::jobs,
    platform::request::{CurrentSession, RequestContext},
    signin::attempts::{self, Claim},
    signin::sudo,
    AppState, Error, Unexpected,
};

pub const STEP_SECS: i64 = 30;
pub const TRUST_SECS: i64 = 30 * 24 * 3600;
pub const BACKUP_CODE_COUNT: usize = 10;
/// New backup codes wait this long to be shown (inside the sudo window), then only new ones can be made.
const CODES_SHOWN_SECS: i64 = 10 * 60;
/// Pending enrolments older than this are started again.
const ENROLMENT_SECS: i64 = 30 * 60;

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("wrong code")]
    Wrong,
    #[error("locked")]
    Locked,
    #[error("rate limited")]
    RateLimited(crate::platform::rate_limit::RetryAfter),
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl From<sqlx::Error> for MfaError {
    fn from(e: sqlx::Error) -> Self {
        MfaError::Unexpected(e.into())
    }
}

/// Which factor answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    Totp,
    BackupCode,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::BackupCode => "backup code",
        }
    }
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, Unexpected> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS as u64,
        secret,
        Some(issuer.replace(':', " ")),
        account.replace(':', " "),
    )
    .map_err(|e| Unexpected(anyhow::anyhow!("totp: {e}")))
}

/// The step (`unix time / 30`) within ±1 of `now` whose code is `code`, if any.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret.to_vec(), "x", "x").ok()?;
    let current = now / STEP_SECS;
    let mut found = None;
    for step in current - 1..=current + 1 {
        // Every candidate is compared, in constant time, so timing does not tell which step matched.
        if digest_eq(&t.generate((step * STEP_SECS) as u64), code) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Decrypts a value this module stored for `user_id` with the config's key ring.
fn open(st: &AppState, stored: &str, user_id: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, Unexpected> {
    st.config.data_keys.decrypt(stored, user_id).map_err(|e| Unexpected(anyhow::anyhow!(e)))
}

pub async fn is_enabled(tx: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_totp WHERE user_id = $1 AND enabled_at IS NOT NULL")
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

#[derive(sqlx::FromRow)]
struct TrustedRow {
    id: String,
    user_agent: Option<String>,
    ip: Option<String>,
    created_at: i64,
    last_used_at: i64,
}

/// What the security settings page shows.
pub async fn status(st: &AppState, session: &CurrentSession) -> Result<SecurityOverview, Error> {
    let now = st.clock.now();
    let row: Option<(String, Option<i64>, i64)> =
        sqlx::query_as("SELECT secret_enc, enabled_at, created_at FROM user_totp WHERE user_id = $1")
            .bind(&session.user_id)
            .fetch_optional(&st.db.pool)
            .await?;
    let enabled = row.as_ref().is_some_and(|(_, e, _)| e.is_some());
    // The seed is shown again only while its enrolment is pending, and only inside the sudo window.
    let pending = match row {
        Some((enc, None, created)) if now - created < ENROLMENT_SECS && sudo::is_fresh(st, session) => {
            Some(enrolment_view(st, session, &enc)?)
        }
        _ => None,
    };
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(&session.user_id)
        .fetch_one(&st.db.pool)
        .await?;
    let trusted: Vec<TrustedRow> = sqlx::query_as(
        "SELECT id, user_agent, ip, created_at, last_used_at FROM trusted_browsers \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY last_used_at DESC",
    )
    .bind(&session.user_id)
    .bind(now)
    .fetch_all(&st.db.pool)
    .await?;
    // Fresh backup codes are a second factor in the clear: only inside the sudo window, never to an impersonating
    // admin (L2), and only for a while after they were made.
    let fresh_codes = if sudo::is_fresh(st, session) && session.impersonator.is_none() {
        take_codes_to_show(st, &session.user_id, now).await?
    } else {
        None
    };
    let trusted = trusted
        .into_iter()
        .map(|t| TrustedBrowser {
            id: t.id,
            device: crate::account::devices::describe(t.user_agent.as_deref()),
            ip: t.ip.unwrap_or_default(),
            created: crate::format_utc(t.created_at),
            last_used: crate::format_utc(t.last_used_at),
        })
        .collect();
    Ok(SecurityOverview {
        totp_enabled: enabled,
        pending,
        fresh_codes,
        backup_codes_left: if enabled { left } else { 0 },
        trusted,
        sudo_until: sudo::open_until(st, session).map(crate::format_utc),
        required: crate::signin::policy::mfa_enrolment_required(st, session) && !enabled,
    })
}

/// The backup codes waiting to be shown, removed as they are read: they are shown once. A plain read when there are
/// none; when there are, only the request whose UPDATE clears that exact value shows them.
async fn take_codes_to_show(st: &AppState, user_id: &str, now: i64) -> Result<Option<Vec<String>>, Error> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT codes_to_show FROM user_totp WHERE user_id = $1 AND codes_to_show_until > $2")
            .bind(user_id)
            .bind(now)
            .fetch_optional(&st.db.pool)
            .await?;
    let Some((Some(enc),)) = row else { return Ok(None) };
    let taken = sqlx::query("UPDATE user_totp SET codes_to_show = NULL WHERE user_id = $1 AND codes_to_show = $2")
        .bind(user_id)
        .bind(&enc)
        .execute(&st.db.pool)
        .await?;
    if taken.rows_affected() != 1 {
        return Ok(None);
    }
    let plain = open(st, &enc, user_id)?;
    Ok(serde_json::from_slice(&plain).ok())
}

fn enrolment_view(st: &AppState, session: &CurrentSession, enc: &str) -> Result<Enrolment, Error> {
    let secret = open(st, enc, &session.user_id)?;
    let t = totp(secret.to_vec(), &st.config.app_name, &session.email)?;
    let url = t.get_url();
    let qr = qrcode::QrCode::new(url.as_bytes()).map_err(|e| Unexpected(anyhow::anyhow!("qr: {e}")))?;
    let svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    Ok(Enrolment { secret: t.get_secret_base32(), otpauth_url: url, qr_svg: svg })
}

/// Starts (or restarts) TOTP enrolment: a new random seed, stored encrypted, waiting for its first code.
pub async fn start_enrolment(st: &AppState, ctx: &RequestContext, session: &CurrentSession) -> Result<(), Error> {
    sudo::require_confirmed(session)?;
    sudo::require(st, session)?;
    let mut secret = zeroize::Zeroizing::new([0u8; 20]);
    OsRng.fill_bytes(&mut secret[..]);
    let enc = st.config.data_keys.encrypt(&secret[..], &session.user_id);
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    if is_enabled(&mut tx, &session.user_id).await? {
        return Err(Error::Field("code", "Two-step verification is already on.".into()));
    }
    sqlx::query("DELETE FROM user_totp WHERE user_id = $1").bind(&session.user_id).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO user_totp (user_id, secret_enc, created_at) VALUES ($1, $2, $3)")
        .bind(&session.user_id)
        .bind(enc)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, ctx, now, Event::by_user("mfa.totp_enrolment_started", &session.user_id)).await?;
    tx.commit().await?;
    Ok(())
}

/// Turns TOTP on with the first code from the app. Returns the backup codes, to show once.
pub async fn enable(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    code: &str,
    keep_others: bool,
) -> Result<Vec<String>, Error> {
    sudo::require_confirmed(session)?;
    sudo::require(st, session)?;
    let now = st.clock.now();
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT secret_enc, created_at FROM user_totp WHERE user_id = $1 AND enabled_at IS NULL")
            .bind(&session.user_id)
            .fetch_optional(&st.db.pool)
            .await?;
    let Some((enc, _)) = row.filter(|(_, created)| now - created < ENROLMENT_SECS) else {
        return Err(Error::Field("code", "Set-up expired. Start again.".into()));
    };
    let secret = open(st, &enc, &session.user_id)?;
    let Some(step) = matching_step(&secret, &normalize_code(code), now) else {
        return Err(Error::Field(
            "code",
            "That code did not work. Check the time on your device and try again.".into(),
        ));
    };
    let mut tx = st.db.begin().await?;
    let r = sqlx::query(
        "UPDATE user_totp SET enabled_at = $1, last_used_step = $2 WHERE user_id = $3 AND enabled_at IS NULL",
    )
    .bind(now)
    .bind(step)
    .bind(&session.user_id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(Error::Field("code", "Set-up expired. Start again.".into()));
    }
    let codes = replace_backup_codes(&mut tx, st, &session.user_id, now).await?;
    crate::signin::sessions::end_others_after_factor_change(&mut tx, session, keep_others).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("mfa.totp_enabled", &session.user_id)).await?;
    let job = jobs::enqueue(&mut tx, st, MfaChanged { user_id: session.user_id.clone(), enabled: true }).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[job]).await;
    Ok(codes)
}

/// Turns TOTP off: needs sudo and a current code. Backup codes and trusted browsers go with it.
pub async fn disable(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    code: &str,
    keep_others: bool,
) -> Result<(), Error> {
    sudo::require(st, session)?;
    require_code(st, ctx, &session.user_id, code).await?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    remove_all(&mut tx, &session.user_id).await?;
    crate::signin::sessions::end_others_after_factor_change(&mut tx, session, keep_others).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("mfa.totp_disabled", &session.user_id)).await?;
    let job = jobs::enqueue(&mut tx, st, MfaChanged { user_id: session.user_id.clone(), enabled: false }).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[job]).await;
    Ok(())
}

/// Removes the user's second factor in `tx`: the authenticator, backup codes, trusted browsers and any pending
/// challenge. Returns whether there was an authenticator.
pub async fn remove_all(tx: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM user_totp WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    revoke_all_trust(tx, user_id).await?;
    Ok(r.rows_affected() > 0)
}

async fn require_code(st: &AppState, ctx: &RequestContext, user_id: &str, code: &str) -> Result<(), Error> {
    match verify(st, ctx, user_id, code).await {
        Ok(_) => Ok(()),
        Err(MfaError::Wrong) => Err(Error::Field("code", "That code did not work.".into())),
        Err(MfaError::Locked) => Err(Error::MfaLocked),
        Err(MfaError::RateLimited(r)) => Err(Error::RateLimited(r)),
        Err(MfaError::Unexpected(u)) => Err(Error::Unexpected(u)),
    }
}

/// Checks a second-factor code for the user: a TOTP code (each step once) or an unused backup code (used up
/// atomically; the owner is mailed with the count left). The attempt is claimed before the check
/// ([`attempts::claim`]): while a pause holds nothing is checked, and the attempt that uses up the allowance starts
/// the pause, which is audited and mailed once if that attempt fails.
pub async fn verify(st: &AppState, ctx: &RequestContext, user_id: &str, code: &str) -> Result<Factor, MfaError> {
    let now = st.clock.now();
    if let Err(retry) = st.limits.account(user_id) {
        return Err(MfaError::RateLimited(retry));
    }
    let code = normalize_code(code);
    let claim = attempts::claim(&st.db.pool, &attempts::SECOND_FACTOR, user_id, now).await?;
    let mut tx = st.db.begin().await?;
    let Claim::Granted { pause } = claim else {
        audit::record(&mut tx, ctx, now, Event::failed("mfa.verify", Some(user_id)).detail("locked")).await?;
        tx.commit().await?;
        return Err(MfaError::Locked);
    };
    let mut job_ids = Vec::new();
    let factor = if code.len() == 6 {
        check_totp(&mut tx, st, user_id, &code, now).await?.then_some(Factor::Totp)
    } else {
        let r = sqlx::query(
            "UPDATE backup_codes SET used_at = $1 WHERE user_id = $2 AND code_digest = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(backup_digest(st, user_id, &code))
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 1 {
            let job = BackupCodeUsed { user_id: user_id.to_string() };
            job_ids.push(jobs::enqueue(&mut tx, st, job).await?);
            Some(Factor::BackupCode)
        } else {
            None
        }
    };
    let result = match factor {
        Some(f) => {
            attempts::succeeded(&mut tx, &attempts::SECOND_FACTOR, user_id).await?;
            audit::record(&mut tx, ctx, now, Event::by_user("mfa.verify", user_id).detail(f.as_str())).await?;
            Ok(f)
        }
        None => {
            audit::record(&mut tx, ctx, now, Event::failed("mfa.verify", Some(user_id)).detail("wrong code")).await?;
            if let Some(p) = pause {
                let why = if p.escalated { "until a mailed link" } else { "5 wrong codes" };
                audit::record(&mut tx, ctx, now, Event::on_user("mfa.locked", user_id).detail(why)).await?;
                let job = MfaLocked { user_id: user_id.to_string(), until_reset: p.escalated };
                job_ids.push(jobs::enqueue(&mut tx, st, job).await?);
            }
            Err(MfaError::Wrong)
        }
    };
    tx.commit().await?;
    jobs::after_commit(st, &job_ids).await;
    result
}

/// A TOTP code for the user's enabled seed, newer than the last accepted step (replays fail).
async fn check_totp(tx: &mut Tx, st: &AppState, user_id: &str, code: &str, now: i64) -> Result<bool, MfaError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT secret_enc FROM user_totp WHERE user_id = $1 AND enabled_at IS NOT NULL")
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((enc,)) = row else { return Ok(false) };
    let secret = open(st, &enc, user_id)?;
    let Some(step) = matching_step(&secret, code, now) else { return Ok(false) };
    let r = sqlx::query(
        "UPDATE user_totp SET last_used_step = $1 WHERE user_id = $2 AND (last_used_step IS NULL OR last_used_step < $1)",
    )
    .bind(step)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

// Trusted browsers. The cookie is `row id . user's trust epoch . expiry . MAC` — bound to the user by the MAC.
