//! `formlead`: the reference server (built out by the server issue).
#![forbid(unsafe_code)]

fn main() {
    println!("formlead {}", env!("CARGO_PKG_VERSION"));
}
