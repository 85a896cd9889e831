//! Portcullis' backend: the domain logic and its SQL, server only, no view code. Pages and server functions (the
//! `app` crate) call it; it knows nothing of them.
//!
//! - [`platform`]: configuration, the database, clock, crypto and key ring, mail, jobs, audit, rate limits, the
//!   request context and the visitor session: what every feature stands on.
//! - [`signin`]: the sign-in core — the gate (the only way to a session), sessions, sudo, passwords and their policy,
//!   second factors, passkeys, providers, mailed links and tokens.
//! - [`account`]: what a signed-in user changes about their own account, and their devices.
//! - [`orgs`], [`admin`]: organizations and the admin console.
//! - [`api`]: personal access tokens, for the JSON API.
//! - [`provider`]: the OAuth 2.1 / OpenID provider of the product's own apps (clients, signing keys).
//! - [`Error`]: the one error every function returns.
pub mod account;
pub mod admin;
pub mod api;
pub mod error;
pub mod orgs;
pub mod platform;
pub mod provider;
pub mod signin;

pub use error::{Error, Unexpected};

/// The project's name in code — the binary, the browser bundle, the cookies' prefix, the default database file —
/// set once in `.cargo/config.toml` (`LEPTOS_OUTPUT_NAME`); a fork made with `cargo generate` gets its own.
/// Where a literal is needed (a cookie's name), code writes `concat!(env!("LEPTOS_OUTPUT_NAME"), …)`.
pub const PROJECT: &str = env!("LEPTOS_OUTPUT_NAME");

/// The name people see when `APP_NAME` is not set (`.cargo/config.toml`, `APP_NAME_DEFAULT`).
pub const APP_NAME_DEFAULT: &str = env!("APP_NAME_DEFAULT");
pub use platform::state::AppState;

/// Every job the backend runs: each subsystem registers its own (the app's own jobs are added by
/// [`AppState::build_with_jobs`]).
pub fn register_jobs(r: &mut platform::jobs::Registry) {
    signin::jobs::register(r);
    account::jobs::register(r);
    orgs::jobs::register(r);
    admin::jobs::register(r);
    api::jobs::register(r);
}

/// Hands memory glibc's malloc holds free back to the system (it keeps freed memory for reuse, and a large block
/// freed below the top of a heap is never returned otherwise); elsewhere a no-op. The server's own allocations go to
/// mimalloc (`server/src/lib.rs`), which returns freed memory by itself, but only when the thread that freed it
/// allocates again (so the hashing workers map their blocks from the system: `signin::passwords`); this is for what
/// C code (SQLite) allocates from glibc, and for a binary built on `app` with the system allocator.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the system; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A Unix time as shown to people: `2026-11-27 10:42 UTC`.
/// RFC 3339 in UTC, to the second (exports).
pub fn format_iso(t: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(t).ok().and_then(|d| d.format(&fmt).ok()).unwrap_or_else(|| t.to_string())
}

pub fn format_utc(t: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(t).ok().and_then(|d| d.format(&fmt).ok()).unwrap_or_else(|| t.to_string())
}
