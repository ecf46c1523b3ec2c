//! The server's settled configuration (flags, environment and file already merged by the binary).

use ipnet::IpNet;
use orgd_core::model::UsagePlan;
use orgd_core::seed::Seed;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// A secret setting, shown as `***` in debug output so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the TLS certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// Files given by the operator.
    Files {
        /// PEM certificate chain.
        cert: PathBuf,
        /// PEM private key.
        key: PathBuf,
    },
    /// A self-signed certificate kept in `<data-dir>/tls/`, created on first start.
    SelfSigned,
    /// Plain HTTP behind a TLS-terminating proxy (`--insecure-http`).
    InsecureHttp,
}

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0 = any free port).
    pub listen: SocketAddr,
    /// Base URL for absolute links; `None` = `https://localhost:<port>`.
    pub public_url: Option<String>,
    /// Region name shown in the server's info.
    pub region: String,
    /// Data folder (self-signed certificate, SQLite file).
    pub data_dir: PathBuf,
    /// Database URL.
    pub database_url: String,
    /// TLS.
    pub tls: TlsSource,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The plan new orgs get.
    pub default_usage_plan: UsagePlan,
    /// Let jobs call plain-http URLs (callbacks, locations), for tests on loopback.
    pub outbound_allow_http: bool,
    /// Let webhook deliveries reach loopback, private and link-local addresses, for tests on loopback.
    pub outbound_allow_internal: bool,
    /// How long a webhook receiver has to answer.
    pub webhook_timeout: std::time::Duration,
    /// How often an idle node looks for due webhook deliveries.
    pub webhook_poll: std::time::Duration,
    /// Minutes a finished job's data (and a temporary file) is kept.
    pub jobs_retention_minutes: i64,
    /// Background job workers on this node.
    pub job_workers: usize,
    /// A running job silent this long counts as its node's death and is queued again (heartbeat: a sixth).
    pub job_stale_after: std::time::Duration,
    /// The stand-in's control secret; `None` = no control API (`/_orgd/` answers 404).
    pub control_token: Option<Secret>,
    /// A seed file applied at start and by `POST /_orgd/reset`.
    pub seed: Option<Arc<Seed>>,
    /// How many requests the control API's journal keeps.
    pub journal_size: usize,
    /// Redis URL of the usage counters shared by several nodes; `None` = this node counts alone.
    pub shared_limits: Option<Secret>,
    /// How long a request body may take to arrive whole (then 408); bodies are read before the request
    /// takes a usage-plan slot.
    pub body_timeout: std::time::Duration,
    /// The most bytes a gzip import file may unpack to (then the job fails, naming the limit).
    pub gzip_expanded_limit: u64,
}

impl ServerConfig {
    /// What outbound calls of webhooks may reach, by `--outbound-allow-http` and
    /// `--outbound-allow-internal`.
    pub fn outbound_rules(&self) -> orgd_core::webhooks::OutboundRules {
        orgd_core::webhooks::OutboundRules {
            allow_http: self.outbound_allow_http,
            allow_internal: self.outbound_allow_internal,
        }
    }

    /// Defaults for a data folder: SQLite inside it, self-signed TLS, 127.0.0.1:8443.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        ServerConfig {
            listen: "127.0.0.1:8443".parse().expect("literal address"),
            public_url: None,
            region: "local".into(),
            database_url: format!("sqlite://{}", data_dir.join("orgd.db").display()),
            data_dir,
            tls: TlsSource::SelfSigned,
            trusted_proxies: Vec::new(),
            default_usage_plan: UsagePlan::default(),
            outbound_allow_http: false,
            outbound_allow_internal: false,
            webhook_timeout: std::time::Duration::from_secs(10),
            webhook_poll: std::time::Duration::from_secs(1),
            jobs_retention_minutes: 15,
            job_workers: 2,
            job_stale_after: std::time::Duration::from_secs(60),
            control_token: None,
            seed: None,
            journal_size: 1000,
            shared_limits: None,
            body_timeout: std::time::Duration::from_secs(30),
            gzip_expanded_limit: orgd_core::data::source::GZIP_EXPANDED_LIMIT,
        }
    }
}
