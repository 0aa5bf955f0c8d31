//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the directories at
//! compile time but cannot tell cargo to watch them on stable Rust.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
