//! The `orgd` binary: `serve`, `demo`, `admin`.

/// mimalloc: the request path allocates many small objects (JSON values, headers); glibc's allocator
/// showed as ~17% of server CPU in the profile recorded in BENCHMARKS.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod cli;
mod config;
mod datasets;
mod demo;
mod seeding;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command};
use orgd_store::SqlStore;
use std::process::ExitCode;
use std::sync::Arc;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn serve(args: cli::ServeArgs) -> anyhow::Result<()> {
    let (config, temp) = config::resolve_serve(&args)?;
    if let (Some(seed), None) = (&config.seed, &temp) {
        seeding::check_on_scratch(seed, &config.default_usage_plan).await?;
    }
    let control = config.control_token.is_some();
    let store = SqlStore::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url))?;
    let server = orgd_server::start(config, Arc::new(store)).await?;
    let ready = serde_json::json!({
        "ready": true,
        "url": server.public_url,
        "caCert": server.cert_path,
        "controlApi": control.then(|| format!("{}/_orgd/", server.public_url)),
        "ephemeral": temp.as_ref().map(|t| t.path()),
    });
    println!("{ready}");
    server.run_until(shutdown_signal()).await;
    drop(temp);
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORGD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// The changes of `orgd admin` are recorded as made by it and the OS user who ran it.
fn admin_context() -> orgd_core::events::Context {
    let os_user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    orgd_core::events::Context { actor: orgd_core::events::Actor::admin(&os_user), ..Default::default() }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging();
            serve(args).await
        }
        Command::Demo(args) => {
            init_logging();
            demo::run(args).await
        }
        Command::Admin(args) => orgd_core::events::scope(admin_context(), admin::run(args)).await,
        Command::Seed(args) => seeding::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
