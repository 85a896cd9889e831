//! What a server function cannot serve: assets, health checks, the development mailbox.
pub mod admin;
pub mod assets;
pub mod dev_mailbox;
pub mod health;
pub mod oauth;
pub mod provider;
