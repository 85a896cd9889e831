pub mod sessions;
pub mod settings;
pub mod sudo;
