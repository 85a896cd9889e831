//! The migrations are embedded in this crate (`sqlx::migrate!` in platform/db.rs): a new or changed migration file
//! must rebuild it (sqlx's documented build script).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
