//! Rebuilds the crate when a migration is added or edited: they are embedded in the binary by
//! refinery's macro, which cargo cannot see through.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
