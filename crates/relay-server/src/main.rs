//! The `relay-server` binary: everything is in the library.

fn main() -> std::process::ExitCode {
    relay_server::cli::run()
}
