//! Rebuilds the crate when a migration is added or edited: they are embedded (to build the test
//! template database) by refinery's macro, which cargo cannot see through.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
