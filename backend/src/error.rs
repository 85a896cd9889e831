//! The backend's one error: what a caller may branch on, or `Unexpected` (a database or other failure nobody
//! handles, logged once where it becomes the page's `AppError::Internal`). Server functions write `call().await?`:
//! the `From` conversions in app/src/error/from_backend.rs turn it into the `AppError` the page shows, with the
//! request's status set.
use crate::platform::rate_limit::RetryAfter;

/// An error nobody branches on: logged once, where it becomes `AppError::Internal`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Unexpected(#[from] pub anyhow::Error);

impl From<sqlx::Error> for Unexpected {
    fn from(e: sqlx::Error) -> Self {
        Unexpected(e.into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("e-mail not confirmed")]
    Unconfirmed,
    /// Credentials, providers and organizations are for accounts whose address is proven (M3).
    #[error("confirm the e-mail address first")]
    ConfirmFirst,
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("rate limited")]
    RateLimited(RetryAfter),
    /// The session has not re-authenticated within the sudo window.
    #[error("re-authentication required")]
    SudoRequired,
    /// An operator flagged the password as compromised: a reset link was mailed instead of a session.
    #[error("password change required")]
    PasswordChangeRequired,
    /// No such thing belongs to this user (another user's included): answered 404.
    #[error("not found")]
    NotFound,
    /// The MFA challenge is gone (expired, used, or too many wrong codes): log in again.
    #[error("challenge expired")]
    ChallengeExpired,
    /// Too many wrong second-factor codes: codes are refused for a while.
    #[error("MFA locked")]
    MfaLocked,
    /// The account is scheduled for deletion; the owner can cancel from the mailed link.
    #[error("account scheduled for deletion")]
    AccountClosing,
    /// An admin locked the account: no sign-in by any method until an admin unlocks it.
    #[error("account locked by an admin")]
    AccountLocked,
    /// Not while an admin is impersonating this account (password, e-mail, two-step, passkeys, deletion…).
    #[error("not while impersonating")]
    Impersonating,
    /// Allowed to see the thing, not to do this to it (an organization member without the role).
    #[error("forbidden")]
    Forbidden,
    /// Policy asks for two-step verification before this (an organization that requires it).
    #[error("MFA enrolment required")]
    MfaEnrolmentRequired,
    /// The action does not apply (an admin locking an admin, say); the message says why.
    #[error("{0}")]
    Refused(String),
    /// Bad input for one field, with the message to show beside it.
    #[error("{0}: {1}")]
    Field(&'static str, String),
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Unexpected(e.into())
    }
}
