//! The relay server binary, built inside this test crate so its integration tests get its path
//! (`CARGO_BIN_EXE_relay-server-e2e`). Same `main` as `relay-server`.

fn main() -> std::process::ExitCode {
    relay_server::cli::run()
}
