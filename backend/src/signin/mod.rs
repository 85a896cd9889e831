//! The sign-in core: every way to prove who you are, the gate from a verified first factor to a session, the
//! sessions themselves and re-authentication (sudo). Its modules call each other (factors verify, the gate decides,
//! sessions are created, sudo verifies factors again), so they live together here.
pub mod accounts;
pub mod attempts;
pub mod gate;
pub mod jobs;
pub mod magic_link;
/// The mails the sign-in core's jobs send (their templates are in `signin/mails/`).
pub mod mails;
pub mod mfa;
pub mod oauth;
pub mod passkeys;
pub mod password_policy;
pub mod password_reset;
pub mod passwords;
pub mod policy;
pub mod sessions;
pub mod sudo;
pub mod tokens;
