//! The sign-in gate: the only way from a verified first factor to a session.
//!
//! Every sign-in path (password, magic link, passkey; OAuth later) hands a [`FirstFactor`] to [`gate`]. A user
//! without a second factor (or in a browser they trust) gets a [`SignInGrant`]; a user with one gets a short-lived
//! challenge instead, which only [`complete_challenge`] turns into a grant. [`crate::signin::sessions::create`] takes a
//! grant, and a grant's fields are private to this module: a path that skips the gate does not compile.
use crate::{
    platform::crypto::{new_id, random_token, token_digest},
    platform::db::Tx,
    platform::jobs,
    platform::request::RequestContext,
    signin::mfa::{self, MfaError},
    signin::passkeys,
    signin::sessions::{self, NewSession},
    AppState, Error,
};

/// Proof that a first factor was verified for this user. Made by the sign-in paths.
pub struct FirstFactor {
    pub user_id: String,
    pub method: &'static str,
    pub remember_me: bool,
}

/// Proof that the user passed every check a sign-in needs. Only this module makes one.
pub struct SignInGrant {
    user_id: String,
    method: String,
    remember_me: bool,
    /// The sign-in proved a factor that also passes sudo, so the session starts inside its sudo window.
    reauthenticated: bool,
    /// The user is an admin: the session is a short one, without "remember me".
    admin: bool,
}

impl SignInGrant {
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
    pub fn method(&self) -> &str {
        &self.method
    }
    pub fn remember_me(&self) -> bool {
        self.remember_me
    }
    pub fn reauthenticated(&self) -> bool {
        self.reauthenticated
    }
    pub fn admin(&self) -> bool {
        self.admin
    }
}

pub enum GateOutcome {
    SignedIn(SignInGrant),
    /// The user has a second factor: the browser gets this token (a cookie) and goes to `/users/mfa`.
    SecondFactorRequired {
        challenge_token: String,
    },
    /// The account is scheduled for deletion: no new session until the owner cancels it.
    AccountClosing,
    /// An admin locked the account.
    AccountLocked,
}

/// Sign-in methods that are two factors by themselves: a passkey is something you have, unlocked by the user
/// verification (PIN or biometric) the ceremony requires.
pub fn is_multi_factor(method: &str) -> bool {
    method == "passkey"
}

/// How long a challenge waits for its code, and how many wrong codes it takes.
pub const CHALLENGE_SECS: i64 = 5 * 60;
pub const CHALLENGE_ATTEMPTS: i64 = 5;

/// Decides, in the sign-in's transaction, what a verified first factor gets.
pub async fn gate(
    tx: &mut Tx,
    st: &AppState,
    ctx: &RequestContext,
    first: FirstFactor,
) -> Result<GateOutcome, sqlx::Error> {
    // One read: the account's state and which second factors it has.
    let state: Option<(Option<i64>, Option<i64>, i64, i64, i64)> = sqlx::query_as(
        "SELECT u.deletion_scheduled_at, u.locked_at, u.is_admin, \
         (SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL), \
         (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id) FROM users u WHERE u.id = $1",
    )
    .bind(&first.user_id)
    .fetch_optional(&mut **tx)
    .await?;
    let (is_admin, has_totp, has_passkey) = match state {
        Some((None, None, admin, totp, passkeys)) => (admin == 1, totp > 0, passkeys > 0),
        Some((None, Some(_), ..)) => return Ok(GateOutcome::AccountLocked),
        _ => return Ok(GateOutcome::AccountClosing),
    };
    let multi_factor = is_multi_factor(first.method);
    let totp = !multi_factor && has_totp;
    // An admin who has a second factor opens the sudo window only with it (M7): a password in a trusted browser,
    // or a passkey-only admin's password, does not. (An admin without one yet must pass sudo to enrol.)
    let admin_with_factor = is_admin && !multi_factor && (totp || has_passkey);
    let reauthenticated = crate::signin::sudo::method_passes_sudo(first.method) && !admin_with_factor;
    let grant = |method: String| SignInGrant {
        user_id: first.user_id.clone(),
        method,
        remember_me: first.remember_me,
        reauthenticated,
        admin: is_admin,
    };
    // A second step for users with an authenticator app, and for admins with any second factor (a passkey-only
    // admin answers the step with the passkey, S51): the console is never one factor away.
    if multi_factor || !(totp || admin_with_factor) {
        return Ok(GateOutcome::SignedIn(grant(first.method.to_string())));
    }
    if mfa::trusted_browser(tx, st, ctx, &first.user_id).await? {
        return Ok(GateOutcome::SignedIn(grant(format!("{}; trusted browser", first.method))));
    }
    let now = st.clock.now();
    let token = random_token();
    sqlx::query(
        "INSERT INTO mfa_challenges (id, user_id, token_digest, method, remember_me, attempts, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
    )
    .bind(new_id())
    .bind(&first.user_id)
    .bind(token_digest(&token))
    .bind(first.method)
    .bind(first.remember_me as i64)
    .bind(now)
    .bind(now + CHALLENGE_SECS)
    .execute(&mut **tx)
    .await?;
    Ok(GateOutcome::SecondFactorRequired { challenge_token: token })
}

/// Where a sign-in path ends: a session, or a challenge to answer at `/users/mfa`.
pub enum SignIn {
    Session(NewSession),
    Challenge { token: String },
}

/// Runs the gate for a verified first factor in the sign-in's transaction `tx` and, when it grants, creates the
/// session there; commits, then sends the mail the sign-in queued.
pub async fn sign_in(mut tx: Tx, st: &AppState, ctx: &RequestContext, first: FirstFactor) -> Result<SignIn, Error> {
    let method = first.method;
    let counted = |outcome: &'static str| {
        metrics::counter!("signins_total", "method" => method, "outcome" => outcome).increment(1);
    };
    let outcome = match gate(&mut tx, st, ctx, first).await? {
        GateOutcome::SignedIn(grant) => SignIn::Session(sessions::create(&mut tx, st, ctx, grant).await?),
        GateOutcome::SecondFactorRequired { challenge_token } => SignIn::Challenge { token: challenge_token },
        GateOutcome::AccountClosing => {
            counted("account_closing");
            return Err(Error::AccountClosing);
        }
        GateOutcome::AccountLocked => {
            counted("account_locked");
            return Err(Error::AccountLocked);
        }
    };
    counted(if matches!(outcome, SignIn::Session(_)) { "session" } else { "second_factor_required" });
    tx.commit().await?;
    if let SignIn::Session(s) = &outcome {
        jobs::after_commit(st, &s.job_ids).await;
    }
    Ok(outcome)
}

/// A live challenge: its row id, user, first-factor method and remember-me choice.
type Challenge = (String, String, String, i64);

async fn live_challenge(st: &AppState, token: &str) -> Result<Option<Challenge>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, method, remember_me FROM mfa_challenges \
         WHERE token_digest = $1 AND expires_at > $2 AND attempts < $3",
    )
    .bind(token_digest(token))
    .bind(st.clock.now())
    .bind(CHALLENGE_ATTEMPTS)
    .fetch_optional(&st.db.pool)
    .await
}

/// A challenge this browser holds: its user, if it is live.
pub async fn pending_user(st: &AppState, token: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(live_challenge(st, token).await?.map(|(_, user_id, _, _)| user_id))
}

/// The answer to a challenge: the session, and the trust cookie's value when "trust this browser" was ticked.
pub struct Completed {
    pub session: NewSession,
    pub trust_cookie: Option<String>,
}

/// What the user answers the challenge with.
pub enum Answer<'a> {
    /// A TOTP code or a backup code.
    Code(&'a str),
    /// The browser's answer to the passkey ceremony `token` (see [`passkeys::start_for_user`]).
    Passkey { token: &'a str, credential: &'a str },
}

/// Claims one attempt at the challenge this browser holds, before its answer is checked: one conditional UPDATE,
/// so a burst of answers to one challenge gets at most [`CHALLENGE_ATTEMPTS`] checks whatever the concurrency.
async fn claim_challenge(st: &AppState, token: &str) -> Result<Option<Challenge>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE mfa_challenges SET attempts = attempts + 1 \
         WHERE token_digest = $1 AND expires_at > $2 AND attempts < $3 \
         RETURNING id, user_id, method, remember_me",
    )
    .bind(token_digest(token))
    .bind(st.clock.now())
    .bind(CHALLENGE_ATTEMPTS)
    .fetch_optional(&st.db.pool)
    .await
}

/// Checks the answer for the challenge this browser holds. Each answer uses one of the challenge's attempts (it
/// dies after [`CHALLENGE_ATTEMPTS`]); a wrong code also counts against the account's MFA pause. The account is
/// checked again before the session is made: one that was locked, flagged or set to close meanwhile gets none.
pub async fn complete_challenge(
    st: &AppState,
    ctx: &RequestContext,
    token: Option<&str>,
    answer: Answer<'_>,
    trust: bool,
) -> Result<Completed, Error> {
    let row = claim_challenge(st, token.unwrap_or_default()).await?;
    let Some((challenge_id, user_id, method, remember_me)) = row else {
        return Err(Error::ChallengeExpired);
    };
    let factor = match answer {
        Answer::Code(code) => mfa::verify(st, ctx, &user_id, code).await.map(|f| f.as_str()).map_err(|e| match e {
            MfaError::Wrong => Error::Field("code", "That code did not work. Check your app and try again.".into()),
            MfaError::Locked => Error::MfaLocked,
            MfaError::RateLimited(r) => Error::RateLimited(r),
            MfaError::Unexpected(u) => Error::Unexpected(u),
        }),
        Answer::Passkey { token, credential } => {
            passkeys::verify_for_user(st, ctx, passkeys::Purpose::SecondFactor, &user_id, None, token, credential)
                .await
                .map(|()| "passkey")
        }
    }?;
    let mut tx = st.db.begin().await?;
    let used = sqlx::query("DELETE FROM mfa_challenges WHERE id = $1").bind(&challenge_id).execute(&mut *tx).await?;
    if used.rows_affected() != 1 {
        return Err(Error::ChallengeExpired);
    }
    let state: Option<(Option<i64>, Option<i64>, i64, i64)> = sqlx::query_as(
        "SELECT deletion_scheduled_at, locked_at, password_change_required, is_admin FROM users WHERE id = $1",
    )
    .bind(&user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let admin = match state {
        Some((None, None, 0, admin)) => admin == 1,
        Some((None, Some(_), _, _)) => return Err(Error::AccountLocked),
        Some((None, None, _, _)) => return Err(Error::PasswordChangeRequired),
        _ => return Err(Error::AccountClosing),
    };
    let grant = SignInGrant {
        user_id: user_id.clone(),
        method: format!("{method}; {factor}"),
        remember_me: remember_me == 1,
        reauthenticated: true,
        admin,
    };
    let session = sessions::create(&mut tx, st, ctx, grant).await?;
    let trust_cookie = if trust { Some(mfa::trust_this_browser(&mut tx, st, ctx, &user_id).await?) } else { None };
    tx.commit().await?;
    jobs::after_commit(st, &session.job_ids).await;
    Ok(Completed { session, trust_cookie })
}
