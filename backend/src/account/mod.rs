//! What a signed-in user changes about their own account (name, e-mail, password, deletion) and their devices.
pub mod devices;
pub mod jobs;
pub mod settings;
