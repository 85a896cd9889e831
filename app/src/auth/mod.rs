pub mod confirm;
pub mod login;
pub mod register;
