//! Configuration layering: flag > environment (both by clap) > TOML file > default.

use crate::cli::{ServeArgs, StoreArgs};
use anyhow::{bail, Context};
use ipnet::IpNet;
use orgd_core::model::UsagePlan;
use orgd_server::{ServerConfig, TlsSource};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The TOML configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    data_dir: Option<PathBuf>,
    database: Option<String>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    region: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    trusted_proxies: Option<Vec<IpNet>>,
    insecure_http: Option<bool>,
    default_usage_plan: Option<UsagePlan>,
    outbound_allow_http: Option<bool>,
    outbound_allow_internal: Option<bool>,
    jobs_retention_minutes: Option<i64>,
    job_workers: Option<usize>,
    job_stale_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    seed: Option<PathBuf>,
    control_token: Option<String>,
    journal_size: Option<usize>,
    shared_limits: Option<String>,
    ephemeral: Option<bool>,
}

fn load_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else { return Ok(FileConfig::default()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e.to_string().trim()))
}

/// The database URL and the usage plan new orgs get, for commands that work on the store directly.
pub fn resolve_store(args: &StoreArgs) -> anyhow::Result<(String, UsagePlan)> {
    let file = load_file(args.config.as_deref())?;
    let (_, url) = store_from(args, &file);
    Ok((url, file.default_usage_plan.unwrap_or_default()))
}

fn store_from(args: &StoreArgs, file: &FileConfig) -> (PathBuf, String) {
    let data_dir = args.data_dir.clone().or(file.data_dir.clone()).unwrap_or_else(|| PathBuf::from("./orgd-data"));
    let database = args
        .database
        .clone()
        .or(file.database.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("orgd.db").display()));
    (data_dir, database)
}

/// Read and check a seed file, listing every fault with its file, line and field.
pub fn load_seed(path: &Path) -> anyhow::Result<orgd_core::seed::Seed> {
    orgd_core::seed::load(path).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("the seed file has {} fault(s):\n  {}", lines.len(), lines.join("\n  "))
    })
}

/// The server configuration of `orgd serve`, and the temporary folder that holds everything under
/// `--ephemeral` (deleted when dropped).
pub fn resolve_serve(args: &ServeArgs) -> anyhow::Result<(ServerConfig, Option<tempfile::TempDir>)> {
    let file = load_file(args.store.config.as_deref())?;
    let ephemeral = args.ephemeral || file.ephemeral.unwrap_or(false);
    let temp = if ephemeral {
        if args.store.data_dir.is_some()
            || args.store.database.is_some()
            || file.data_dir.is_some()
            || file.database.is_some()
        {
            bail!("--ephemeral keeps its data in a temporary folder; leave out --data-dir and --database");
        }
        Some(tempfile::Builder::new().prefix("orgd-ephemeral-").tempdir().context("cannot make a temporary folder")?)
    } else {
        None
    };
    let store_args = StoreArgs { data_dir: temp.as_ref().map(|t| t.path().to_path_buf()), ..args.store.clone() };
    let (data_dir, database_url) = store_from(if temp.is_some() { &store_args } else { &args.store }, &file);
    let seed = match args.seed.clone().or(file.seed.clone()) {
        Some(p) => Some(std::sync::Arc::new(load_seed(&p)?)),
        None => None,
    };
    let control_token = args.control_token.clone().or(file.control_token.clone());
    if control_token.as_ref().is_some_and(|t| t.len() < 8) {
        bail!(
            "--control-token must be at least 8 characters (it was {}); leave it out to serve without the control \
             API, or generate one: --control-token \"$(openssl rand -hex 16)\"",
            if control_token.as_deref() == Some("") { "empty".to_string() } else { "shorter".to_string() }
        );
    }
    let tls_cert = args.tls_cert.clone().or(file.tls_cert.clone());
    let tls_key = args.tls_key.clone().or(file.tls_key.clone());
    let insecure = args.insecure_http || file.insecure_http.unwrap_or(false);
    let tls = match (tls_cert, tls_key, insecure) {
        (Some(_), _, true) | (_, Some(_), true) => {
            bail!("--insecure-http cannot be combined with --tls-cert/--tls-key")
        }
        (Some(cert), Some(key), false) => TlsSource::Files { cert, key },
        (None, None, false) => TlsSource::SelfSigned,
        (None, None, true) => TlsSource::InsecureHttp,
        _ => bail!("--tls-cert and --tls-key go together: give both, or neither for a self-signed certificate"),
    };
    let trusted_proxies = if args.trusted_proxies.is_empty() {
        file.trusted_proxies.clone().unwrap_or_default()
    } else {
        args.trusted_proxies.clone()
    };
    let defaults = ServerConfig::for_data_dir(&data_dir);
    let config = ServerConfig {
        listen: args.listen.or(file.listen).unwrap_or(defaults.listen),
        public_url: args.public_url.clone().or(file.public_url.clone()),
        region: args.region.clone().or(file.region.clone()).unwrap_or(defaults.region),
        data_dir,
        database_url,
        tls,
        trusted_proxies,
        default_usage_plan: file.default_usage_plan.unwrap_or_default(),
        outbound_allow_http: args.outbound_allow_http || file.outbound_allow_http.unwrap_or(false),
        outbound_allow_internal: args.outbound_allow_internal || file.outbound_allow_internal.unwrap_or(false),
        jobs_retention_minutes: args
            .jobs_retention_minutes
            .or(file.jobs_retention_minutes)
            .unwrap_or(defaults.jobs_retention_minutes)
            .max(1),
        job_workers: args.job_workers.or(file.job_workers).unwrap_or(defaults.job_workers).max(1),
        job_stale_after: args
            .job_stale_seconds
            .or(file.job_stale_seconds)
            .map(|s| std::time::Duration::from_secs(s.max(1)))
            .unwrap_or(defaults.job_stale_after),
        control_token: control_token.map(orgd_server::Secret),
        seed,
        journal_size: args.journal_size.or(file.journal_size).unwrap_or(defaults.journal_size).clamp(1, 1_000_000),
        shared_limits: args.shared_limits.clone().or(file.shared_limits.clone()).map(orgd_server::Secret),
        body_timeout: args
            .body_timeout_seconds
            .or(file.body_timeout_seconds)
            .map(|s| std::time::Duration::from_secs(s.max(1)))
            .unwrap_or(defaults.body_timeout),
        gzip_expanded_limit: defaults.gzip_expanded_limit,
        webhook_timeout: defaults.webhook_timeout,
        webhook_poll: defaults.webhook_poll,
    };
    Ok((config, temp))
}
