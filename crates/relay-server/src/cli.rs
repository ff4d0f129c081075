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
    /// Apply the database migrations (needs DATABASE_URL) and exit.
    Migrate,
    /// Manage sites (domain → website_id) in the database (needs DATABASE_URL).
    Sites {
        #[command(subcommand)]
        command: SitesCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SitesCommand {
    /// Register a domain; prints its website_id.
    Add {
        /// The domain (normalized: case, scheme, port and path do not matter).
        domain: String,
        /// The website id (a UUID); a new one is generated when omitted.
        #[arg(long)]
        website_id: Option<uuid::Uuid>,
    },
    /// List every site.
    List,
    /// Remove a site.
    Remove {
        /// The domain.
        domain: String,
    },
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
    match cli.command.as_ref().unwrap_or(&Command::Serve) {
        Command::CheckConfig => {
            println!(
                "configuration OK: {} app(s), bind {}",
                config.apps.len(),
                config.bind
            );
            ExitCode::SUCCESS
        }
        Command::Migrate | Command::Sites { .. } => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("relay-server: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(database_command(
                &config,
                cli.command.unwrap_or(Command::Migrate),
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("relay-server: {error}");
                    ExitCode::FAILURE
                }
            }
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

/// `migrate` and `sites …`: work on the database directly.
async fn database_command(config: &Config, command: Command) -> Result<(), String> {
    let Some(url) = config.database_url.as_deref() else {
        return Err("this command needs DATABASE_URL (without it, sites live in the memory of a running server: use the admin API)".into());
    };
    let store = crate::store::Store::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    match command {
        Command::Migrate => println!("migrations applied"),
        Command::Sites { command } => match command {
            SitesCommand::Add { domain, website_id } => {
                let domain = relay_core::Domain::parse(&domain).map_err(|e| e.to_string())?;
                let site = crate::store::Site {
                    domain: domain.to_string(),
                    website_id: website_id.unwrap_or_else(uuid::Uuid::new_v4),
                    created_at: chrono::Utc::now(),
                };
                store.insert_site(&site).await.map_err(|e| e.to_string())?;
                println!("{}\t{}", site.domain, site.website_id);
            }
            SitesCommand::List => {
                for site in store.sites().await.map_err(|e| e.to_string())? {
                    println!("{}\t{}", site.domain, site.website_id);
                }
            }
            SitesCommand::Remove { domain } => {
                let domain = relay_core::Domain::parse(&domain).map_err(|e| e.to_string())?;
                if !store
                    .delete_site(domain.as_str())
                    .await
                    .map_err(|e| e.to_string())?
                {
                    return Err(format!("no site {domain}"));
                }
                println!("removed {domain}");
            }
        },
        Command::Serve | Command::CheckConfig => {}
    }
    Ok(())
}
