//! What the browser and the server share below the pages: input parsed into domain types at the edge, the
//! addresses of pages the server's policies send people to, and the view types pages show (declared once).
pub mod pages;
pub mod validation;
pub mod views;
