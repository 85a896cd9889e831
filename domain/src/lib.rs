//! What the browser and the server share below the pages: input parsed into domain types at the edge, and the
//! addresses of pages the server's policies send people to.
pub mod pages;
pub mod validation;
