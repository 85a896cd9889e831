//! The backend's one error: what a caller may branch on, or `Unexpected` (a database or other failure nobody
//! handles, logged once where it becomes the page's `AppError::Internal`). Server functions write `call().await?`:
//! the `From` conversions below turn it into the `AppError` the page shows, with the request's status set.
use super::rate_limit::RetryAfter;
use crate::error::AppError;

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

/// What an unconfirmed account is told when it tries to add a credential, link a provider or use organizations.
const CONFIRM_FIRST: &str = "Confirm your e-mail address first: use the link or code we mailed you (you can \
     send it again from the banner at the top of the page).";

impl Error {
    /// The error as the page shows it. An unexpected one is logged here, once, with the request id the page shows.
    pub fn into_app_error(self, request_id: &str) -> AppError {
        match self {
            Error::InvalidCredentials => AppError::InvalidCredentials,
            Error::Unconfirmed => AppError::field("email", "Confirm your e-mail address first: check your inbox."),
            Error::ConfirmFirst => AppError::Refused { message: CONFIRM_FIRST.into() },
            Error::InvalidToken => AppError::InvalidToken,
            Error::RateLimited(r) => AppError::RateLimited { retry_after_secs: r.0 },
            Error::SudoRequired => AppError::ReauthenticationRequired,
            Error::PasswordChangeRequired => AppError::PasswordChangeRequired,
            Error::AccountClosing => AppError::AccountClosing,
            Error::AccountLocked => AppError::AccountLocked,
            Error::Impersonating => AppError::Impersonating,
            Error::ChallengeExpired => AppError::ChallengeExpired,
            Error::NotFound => AppError::NotFound,
            Error::MfaLocked => AppError::MfaLocked,
            Error::Forbidden => AppError::Forbidden,
            Error::MfaEnrolmentRequired => AppError::MfaEnrolmentRequired,
            Error::Field(name, message) => AppError::field(name, message),
            Error::Refused(message) => AppError::Refused { message },
            Error::Unexpected(e) => {
                tracing::error!(request_id = %request_id, error = %e.0, "unexpected error");
                AppError::Internal { request_id: request_id.to_string() }
            }
        }
    }
}

/// Inside a server function or a page's data function: the request id comes from the request being answered, and
/// the response gets the error's status (a plain HTML form's redirect, set after, still wins).
impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        let ctx = crate::server_ctx::request().ok();
        let request_id = ctx.as_ref().map_or("-", |c| c.request_id.as_str());
        crate::server_ctx::fail(e.into_app_error(request_id))
    }
}

impl From<Unexpected> for AppError {
    fn from(e: Unexpected) -> Self {
        Error::Unexpected(e).into()
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Error::from(e).into()
    }
}
