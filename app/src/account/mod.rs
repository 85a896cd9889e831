pub mod api_tokens;
pub mod connections;
pub mod passkeys;
pub mod security;
pub mod sessions;
pub mod settings;
pub mod sudo;
