//! The one error type that crosses the wire from server functions to pages.
use leptos::{
    prelude::{FromServerFnError, ServerFnErrorErr},
    server_fn::codec::JsonEncoding,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[cfg(feature = "ssr")]
mod from_backend;
#[cfg(feature = "ssr")]
pub use from_backend::into_app_error;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Bad input: a message per field, and the input to keep.
    #[error("Please correct the highlighted fields.")]
    Validation { fields: BTreeMap<String, String> },
    #[error("Invalid e-mail or password.")]
    InvalidCredentials,
    #[error("That link or code is invalid or has expired.")]
    InvalidToken,
    #[error("Please log in to continue.")]
    Unauthenticated,
    #[error("You are not allowed to do that.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    #[error("For your security, confirm it's you before changing this.")]
    ReauthenticationRequired,
    #[error(
        "Your password must be changed before you can log in with it. We have e-mailed you a link to choose a new one."
    )]
    PasswordChangeRequired,
    #[error(
        "This account is being deleted. To keep it, use the link in the mail we sent when its deletion was requested."
    )]
    AccountClosing,
    #[error("This account is locked. Contact the site's administrators if you think this is a mistake.")]
    AccountLocked,
    #[error(
        "Not while impersonating: an admin cannot change a user's password, e-mail, two-step verification, passkeys, \
         sign-in providers or organization memberships, or delete the account."
    )]
    Impersonating,
    #[error("Your sign-in took too long or had too many wrong codes. Please log in again.")]
    ChallengeExpired,
    #[error("Your account needs two-step verification. Set it up to continue.")]
    MfaEnrolmentRequired,
    #[error(
        "Too many wrong codes: two-step verification is paused. Check your e-mail for when and how it opens again."
    )]
    MfaLocked,
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    #[error("Something went wrong on our side (reference {request_id}). Please try again.")]
    Internal { request_id: String },
    /// A sign-in provider flow failed; the message says what to do.
    #[error("{message}")]
    Provider { message: String },
    /// The action does not apply as things stand; the message says why.
    #[error("{message}")]
    Refused { message: String },
    /// The request's body could not be read as this server function's arguments (a missing, repeated or
    /// mistyped field, bad encoding): the client's mistake, answered 400.
    #[error("The form could not be read ({detail}). Reload the page and try again.")]
    BadRequest { detail: String },
    /// Transport-level failure of a server function (network down, bad encoding).
    #[error("The request could not be completed: {0}")]
    ServerFn(String),
}

impl AppError {
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert(name.to_string(), message.into());
        AppError::Validation { fields }
    }

    pub fn field_error(&self, name: &str) -> Option<String> {
        match self {
            AppError::Validation { fields } => fields.get(name).cloned(),
            _ => None,
        }
    }

    /// The HTTP status this error is answered with (to the WASM client and API callers).
    pub fn status(&self) -> u16 {
        match self {
            AppError::Validation { .. } => 422,
            AppError::InvalidCredentials | AppError::Unauthenticated => 401,
            AppError::InvalidToken | AppError::Provider { .. } | AppError::BadRequest { .. } => 400,
            AppError::Forbidden
            | AppError::ReauthenticationRequired
            | AppError::PasswordChangeRequired
            | AppError::AccountClosing => 403,
            AppError::ChallengeExpired => 401,
            AppError::MfaEnrolmentRequired | AppError::AccountLocked | AppError::Impersonating => 403,
            AppError::MfaLocked => 429,
            AppError::NotFound => 404,
            AppError::Refused { .. } => 409,
            AppError::RateLimited { .. } => 429,
            AppError::Internal { .. } | AppError::ServerFn(_) => 500,
        }
    }

    /// The banner text: none for validation errors, whose messages sit beside their fields.
    pub fn banner(&self) -> String {
        self.to_string()
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // On the server, arguments that do not decode are the caller's error: 400, not 500 (the server function
        // never ran). On the client the same variants mean a response it could not read, which stays `ServerFn`.
        #[cfg(feature = "ssr")]
        if let ServerFnErrorErr::Args(d) | ServerFnErrorErr::MissingArg(d) | ServerFnErrorErr::Deserialization(d) =
            &value
        {
            let e = AppError::BadRequest { detail: d.chars().take(200).collect() };
            if crate::server_ctx::bad_request(&e) {
                return e;
            }
        }
        AppError::ServerFn(value.to_string())
    }
}

/// Collects per-field messages; `finish` turns them into one `Validation` error.
#[derive(Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn check<T, E: ToString>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.insert(field.to_string(), e.to_string());
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation { fields: self.0 })
        }
    }
}
