//! Server-only domain logic and its SQL. No view code here.
pub mod accounts;
pub mod admin;
pub mod attempts;
pub mod audit;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod crypto;
pub mod db;
pub mod devices;
pub mod error;
pub mod gate;
pub mod housekeeping;
pub mod jobs;
pub mod keyring;
pub mod magic_link;
pub mod mail;
pub mod mfa;
pub mod oauth;
pub mod orgs;
pub mod passkeys;
pub mod password_reset;
pub mod passwords;
pub mod policy;
pub mod rate_limit;
pub mod request;
pub mod sessions;
pub mod settings;
pub mod state;
pub mod sudo;
pub mod tokens;
pub mod visitor;

pub use error::{Error, Unexpected};
pub use state::AppState;

/// Hands memory glibc's malloc holds free back to the system (it keeps freed memory for reuse, and a large block
/// freed below the top of a heap is never returned otherwise); elsewhere a no-op. The server's own allocations go to
/// mimalloc (`server/src/lib.rs`), which returns freed memory by itself; this is for what C code (SQLite) allocates
/// from glibc, and for a binary built on `app` with the system allocator.
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
