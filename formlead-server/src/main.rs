//! `formlead`: see `formlead --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    formlead_server::cli::main()
}
