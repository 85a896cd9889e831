pub mod form;
pub mod layout;
pub mod link_page;
pub mod page;
pub mod passkey;
pub mod secret;
pub mod sync_render;
