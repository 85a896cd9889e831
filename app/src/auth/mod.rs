pub mod confirm;
pub mod login;
pub mod mfa;
pub mod password_reset;
pub mod register;
