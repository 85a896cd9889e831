//! Integration tests: the real router over HTTP, a cookie jar, a fresh real database per test (SQLite file, or
//! PostgreSQL when `TEST_DATABASE_URL` is set), mail read from the captured outbox or a real SMTP sink.
mod authenticator;
mod common;

mod account;
mod admin;
mod api;
mod assets;
mod cli;
mod forms;
mod guards;
mod hardening;
mod login;
mod magic_link;
mod mail;
mod mfa;
mod oauth;
mod observe;
mod org_accounts;
mod orgs;
mod passkeys;
mod password_reset;
mod provider;
mod registration;
mod security;
mod service_accounts;
mod sessions;
mod settings;
mod visitor;
// Forks: your test modules.
