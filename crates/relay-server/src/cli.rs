//! The command line: `relay-server [--config FILE] [serve | check-config]`.

use std::{path::PathBuf, process::ExitCode};

use crate::{config::DEV_APP, Config};
use clap::{Parser, Subcommand};

/// Relay: a self-hosted realtime relay speaking the Pusher Channels protocol.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (also `RELAY_CONFIG`).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Check the configuration and print it, without starting.
    CheckConfig,
}

/// Parses the command line and runs the chosen command; the whole `main` of the binary.
pub fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,actix_server=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let (config, provenance) = match Config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("relay-server: {error}");
            return ExitCode::from(2);
        }
    };
    if provenance.dev_app {
        let (id, key, secret) = DEV_APP;
        tracing::warn!(
            app_id = id,
            key,
            secret,
            "no app configured: using development credentials; set RELAY_APP_ID, RELAY_APP_KEY and RELAY_APP_SECRET (or [[apps]] in a config file) for anything else"
        );
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            println!(
                "configuration OK: {} app(s), bind {}",
                config.apps.len(),
                config.bind
            );
            ExitCode::SUCCESS
        }
        Command::Serve => {
            let result = actix_web::rt::System::new().block_on(crate::server::serve(config));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("relay-server: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
