//! Sudo: re-authentication in front of sensitive settings. Passing it opens a window (`SUDO_WINDOW_SECS`, 10 min)
//! recorded on the session row, and gives the session a new token.
//!
//! The ways to pass are the variants of [`Proof`] (password, TOTP or backup code, passkey), and
//! [`method_passes_sudo`] lists the sign-in methods that open the window at sign-in.
use crate::{
    platform::audit::{self, Event},
    platform::request::{CurrentSession, RequestContext},
    signin::accounts,
    signin::sessions::{self, NewSession},
    AppState, Error,
};

/// What the user offers to prove it is them.
pub enum Proof<'a> {
    Password(&'a str),
    /// A code from the authenticator app (or a backup code).
    Code(&'a str),
    /// The browser's answer to the passkey ceremony `token`, started for this session.
    Passkey {
        token: &'a str,
        credential: &'a str,
    },
}

impl Proof<'_> {
    fn method(&self) -> &'static str {
        match self {
            Proof::Password(_) => "password",
            Proof::Code(_) => "totp",
            Proof::Passkey { .. } => "passkey",
        }
    }
}

/// Sign-in methods that count as a re-authentication: a password, a code, a passkey, or a provider that just
/// confirmed the user (a mailed link does not: it proves only the mailbox).
pub fn method_passes_sudo(method: &str) -> bool {
    matches!(method, "password" | "totp" | "passkey" | "oauth")
}

/// Whether the session re-authenticated within the window.
pub fn is_fresh(st: &AppState, session: &CurrentSession) -> bool {
    session.sudo_at.is_some_and(|at| st.clock.now() < at + st.config.sudo_window_secs)
}

/// The end of the session's sudo window, if it is open.
pub fn open_until(st: &AppState, session: &CurrentSession) -> Option<i64> {
    is_fresh(st, session).then(|| session.sudo_at.unwrap_or_default() + st.config.sudo_window_secs)
}

/// Refuses the account's sensitive changes (password, e-mail, two-step verification, passkeys, sign-in providers,
/// deletion) to an admin impersonating the user. Everything behind [`require`] gets it; the few sensitive changes
/// that need no re-authentication (cancelling an e-mail change, forgetting a trusted browser, renaming a passkey,
/// dropping a held provider link) call it themselves, and organizations refuse every membership, invitation and
/// settings change (`orgs::authorize`, role changes, removals, accepting an invitation).
pub fn not_impersonating(session: &CurrentSession) -> Result<(), Error> {
    match session.impersonator {
        Some(_) => Err(Error::Impersonating),
        None => Ok(()),
    }
}

/// Refuses an account whose address is not proven yet: it may not add a passkey, a second factor or a provider, nor
/// create or manage organizations (M3). Whoever registered an address they do not own must not hold anything that
/// outlives the owner's recovery.
pub fn require_confirmed(session: &CurrentSession) -> Result<(), Error> {
    if session.confirmed {
        Ok(())
    } else {
        Err(Error::ConfirmFirst)
    }
}

/// For every sensitive change: refuses unless the window is open.
pub fn require(st: &AppState, session: &CurrentSession) -> Result<(), Error> {
    not_impersonating(session)?;
    if is_fresh(st, session) {
        Ok(())
    } else {
        Err(Error::SudoRequired)
    }
}

/// Checks the proof and opens the window. A wrong password counts toward the account's lockout like a failed
/// log in, so a stolen session cannot be used to guess the password.
pub async fn reauthenticate(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    proof: Proof<'_>,
) -> Result<NewSession, Error> {
    if session.impersonator.is_some() {
        return Err(Error::Impersonating);
    }
    if session.sudo_needs_second_factor() && matches!(proof, Proof::Password(_)) {
        return Err(Error::Field(
            "password",
            "Admins confirm it's them with a code from their authenticator app or a passkey.".into(),
        ));
    }
    let method = proof.method();
    match proof {
        Proof::Password(password) => {
            accounts::verify_password_of(st, ctx, &session.user_id, password, "user.sudo").await?;
        }
        Proof::Code(code) => match crate::signin::mfa::verify(st, ctx, &session.user_id, code).await {
            Ok(_) => {}
            Err(crate::signin::mfa::MfaError::Wrong) => return Err(Error::InvalidCredentials),
            Err(crate::signin::mfa::MfaError::Locked) => return Err(Error::MfaLocked),
            Err(crate::signin::mfa::MfaError::RateLimited(r)) => return Err(Error::RateLimited(r)),
            Err(crate::signin::mfa::MfaError::Unexpected(u)) => return Err(Error::Unexpected(u)),
        },
        Proof::Passkey { token, credential } => {
            let purpose = crate::signin::passkeys::Purpose::Sudo;
            let (user, session_id) = (&session.user_id, Some(session.session_id.as_str()));
            crate::signin::passkeys::verify_for_user(st, ctx, purpose, user, session_id, token, credential).await?;
        }
    }
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let fresh = sessions::rotate(&mut tx, st, session, Some(now)).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("user.sudo", &session.user_id).detail(method)).await?;
    tx.commit().await?;
    Ok(fresh)
}
