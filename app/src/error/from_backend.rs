//! How the backend's one error becomes the `AppError` a page shows: the status, the message, and an unexpected
//! error logged once with the request id the user is shown. `?` in a server function does it.
use super::AppError;
use backend::{Error, Unexpected};

/// What an unconfirmed account is told when it tries to add a credential, link a provider or use organizations.
const CONFIRM_FIRST: &str = "Confirm your e-mail address first: use the link or code we mailed you (you can \
     send it again from the banner at the top of the page).";

/// The error as the page shows it. An unexpected one is logged here, once, with the request id the page shows.
pub fn into_app_error(e: Error, request_id: &str) -> AppError {
    match e {
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

/// Inside a server function or a page's data function: the request id comes from the request being answered, and
/// the response gets the error's status (a plain HTML form's redirect, set after, still wins).
impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        let ctx = crate::server_ctx::request().ok();
        let request_id = ctx.as_ref().map_or("-", |c| c.request_id.as_str());
        crate::server_ctx::fail(into_app_error(e, request_id))
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
