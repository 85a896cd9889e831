pub mod confirm;
pub mod login;
pub mod password_reset;
pub mod register;
