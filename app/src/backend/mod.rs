//! Server-only domain logic and its SQL. No view code here.
pub mod accounts;
pub mod audit;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod jobs;
pub mod mail;
pub mod passwords;
pub mod rate_limit;
pub mod request;
pub mod sessions;
pub mod state;
pub mod tokens;

pub use state::AppState;

/// An error nobody branches on: logged once, where it becomes `AppError::Internal`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Unexpected(#[from] pub anyhow::Error);

impl From<sqlx::Error> for Unexpected {
    fn from(e: sqlx::Error) -> Self {
        Unexpected(e.into())
    }
}
