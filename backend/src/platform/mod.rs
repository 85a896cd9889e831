//! What every feature stands on: configuration, the database, clock, crypto, key ring, mail, the job queue,
//! audit, rate limits, the request context and the visitor session.
pub mod audit;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod crypto;
pub mod db;
pub mod housekeeping;
pub mod jobs;
pub mod keyring;
pub mod mail;
pub mod rate_limit;
pub mod request;
pub mod state;
pub mod visitor;

/// An error and its causes on one line ("connection refused" is usually a cause, not the error itself).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !out.contains(&said) {
            out.push_str(": ");
            out.push_str(&said);
        }
        cause = c.source();
    }
    out
}
