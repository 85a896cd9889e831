//! API access: personal access tokens ([`tokens`]) and what the JSON API (`server/src/api/`) reads with them.
pub mod jobs;
pub mod tokens;
