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
