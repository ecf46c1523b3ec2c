//! The command line: `orgd serve`, `orgd demo`, `orgd admin …`.

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use orgd_core::clock::parse_date_or_datetime;
use orgd_core::ids::DatasetId;
use orgd_core::model::Role;
use orgd_core::net::CidrList;
use std::net::SocketAddr;
use std::path::PathBuf;
use time::OffsetDateTime;

/// orgd — a self-hostable organization data server.
///
/// One binary that serves organizations (tenants), their affiliated child orgs, users, API tokens and
/// datasets over HTTPS, speaking two API dialects: the Orgvue-style dataset API under /api/v1/{tenantId}
/// (Authorization: Bearer) and the Apperian-style organizations API under /v1, /v2, /v3 (X-TOKEN).
#[derive(Debug, Parser)]
#[command(
    name = "orgd",
    version,
    propagate_version = true,
    after_help = "Start here:\n  orgd demo                 serve a demo tenant tree and print working curl commands\n  orgd serve --help         run a server\n  orgd admin --help         create orgs, users and tokens"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    #[command(
        after_help = "Example:\n  orgd serve --data-dir /var/lib/orgd --listen 0.0.0.0:8443 --public-url https://orgd.example.com\n  \
orgd serve --ephemeral --seed tests/seed.yaml --control-token s3cret --listen 127.0.0.1:0   (a stand-in for tests)\n\n\
When ready, serve prints one JSON line on stdout: {\"ready\":true,\"url\":…,\"caCert\":…}.\n\n\
Every flag can also be set as ORGD_<FLAG> in the environment (ORGD_LISTEN, ORGD_DATABASE, …) or in the\n\
TOML file given by --config (listen = \"…\", database = \"…\", …). A flag beats the environment, which beats\n\
the file, which beats the default."
    )]
    Serve(ServeArgs),
    /// Apply a seed file (orgs, users, tokens with fixed secrets, datasets) to the database; applying it
    /// again changes nothing.
    #[command(
        after_help = "Example:\n  orgd seed tests/seed.yaml --data-dir ./orgd-data\n  orgd seed tests/seed.yaml --check\n\n\
The file format is described in docs/testing-with-orgd.md.\n\nTo serve a seed for a test suite, with a control API that resets it, moves the clock and injects faults:\n  \
orgd serve --ephemeral --seed tests/seed.yaml --control-token s3cret --listen 127.0.0.1:0"
    )]
    Seed(SeedArgs),
    /// Serve a seeded demo (./orgd-demo) and print a token and curl commands that work.
    #[command(after_help = "Example:\n  cargo run --release -- demo\n  orgd demo --listen 127.0.0.1:9443")]
    Demo(DemoArgs),
    /// Operate on the data directly (works while a server runs on the same database).
    #[command(
        after_help = "Example:\n  orgd admin org create --tenant-id ACME --name \"Acme Ltd\"\n  orgd admin user create --tenant ACME --user-id alice@acme.test --role administrator --token-access true\n  orgd admin token create --tenant ACME --user alice@acme.test --label ci"
    )]
    Admin(AdminArgs),
}

/// Where the data lives.
#[derive(Debug, Args, Clone, Default)]
pub struct StoreArgs {
    /// Data folder: SQLite database and self-signed certificate [default: ./orgd-data].
    #[arg(long, env = "ORGD_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://<data-dir>/orgd.db].
    #[arg(long, env = "ORGD_DATABASE", global = true, value_name = "URL")]
    pub database: Option<String>,
    /// TOML configuration file (keys named like the flags, with _ for -).
    #[arg(long, env = "ORGD_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `orgd serve`.
#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Data and database.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address and port to listen on [default: 127.0.0.1:8443].
    #[arg(long, env = "ORGD_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Base URL used in links [default: https://localhost:<port>].
    #[arg(long, env = "ORGD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Region name shown in the server's info (e.g. eu-west-1) [default: local].
    #[arg(long, env = "ORGD_REGION", value_name = "NAME")]
    pub region: Option<String>,
    /// PEM certificate chain (with --tls-key); without both, a self-signed certificate is made.
    #[arg(long, env = "ORGD_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (with --tls-cert).
    #[arg(long, env = "ORGD_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// A proxy whose X-Forwarded-For is trusted (CIDR; repeatable).
    #[arg(long = "trusted-proxy", env = "ORGD_TRUSTED_PROXY", value_name = "CIDR", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,
    /// Serve plain HTTP, for running behind a TLS-terminating proxy (loopback only unless --trusted-proxy).
    #[arg(long, env = "ORGD_INSECURE_HTTP")]
    pub insecure_http: bool,
    /// Let async jobs call plain-http URLs (callbacks, export/result/import locations); for local tests.
    #[arg(long, env = "ORGD_OUTBOUND_ALLOW_HTTP")]
    pub outbound_allow_http: bool,
    /// Let webhook deliveries reach loopback, private and link-local addresses (refused by default, so
    /// that a subscription cannot probe the server's own network); for local tests.
    #[arg(long, env = "ORGD_OUTBOUND_ALLOW_INTERNAL")]
    pub outbound_allow_internal: bool,
    /// Minutes finished jobs' results and temporary files are kept [default: 15].
    #[arg(long, env = "ORGD_JOBS_RETENTION_MINUTES", value_name = "N")]
    pub jobs_retention_minutes: Option<i64>,
    /// Background job workers on this node [default: 2].
    #[arg(long, env = "ORGD_JOB_WORKERS", value_name = "N")]
    pub job_workers: Option<usize>,
    /// Seconds a running job may go without a heartbeat before it counts as its node's death and another
    /// node (or this one) takes it again [default: 60].
    #[arg(long, env = "ORGD_JOB_STALE_SECONDS", value_name = "N")]
    pub job_stale_seconds: Option<u64>,
    /// Seconds a request body may take to arrive whole; a slower one is answered 408 [default: 30].
    #[arg(long, env = "ORGD_BODY_TIMEOUT_SECONDS", value_name = "N")]
    pub body_timeout_seconds: Option<u64>,
    /// Apply this seed file (YAML or JSON) at start; with --control-token, POST /_orgd/reset goes back to it.
    #[arg(long, env = "ORGD_SEED", value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Turn on the control API under /_orgd/ (reset, clock, faults, journal), guarded by this secret.
    /// For test stand-ins only.
    #[arg(long, env = "ORGD_CONTROL_TOKEN", value_name = "SECRET", hide_env_values = true)]
    pub control_token: Option<String>,
    /// Requests the control API's journal keeps [default: 1000].
    #[arg(long, env = "ORGD_JOURNAL_SIZE", value_name = "N")]
    pub journal_size: Option<usize>,
    /// Keep usage-plan counters (rate and daily quota) in this Redis database, shared by every node on the
    /// same PostgreSQL database, e.g. redis://127.0.0.1:6379/0. Without it each node counts alone. If
    /// Redis cannot be reached, a node counts alone until it can again.
    #[arg(long = "shared-limits", env = "ORGD_SHARED_LIMITS", value_name = "REDIS_URL", hide_env_values = true)]
    pub shared_limits: Option<String>,
    /// Keep everything in a temporary folder that is deleted on exit (for CI); refuses --data-dir and
    /// --database.
    #[arg(long, env = "ORGD_EPHEMERAL")]
    pub ephemeral: bool,
}

/// `orgd seed`.
#[derive(Debug, Args, Clone)]
pub struct SeedArgs {
    /// The seed file (YAML or JSON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Data and database.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Check the file by applying it to a scratch database; change nothing.
    #[arg(long)]
    pub check: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// `orgd demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Folder of the demo's data.
    #[arg(long, default_value = "./orgd-demo", value_name = "DIR")]
    pub dir: PathBuf,
}

/// `orgd admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Data and database.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to operate on.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// `orgd admin <thing>`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organizations (tenants).
    #[command(
        subcommand,
        after_help = "Example:\n  orgd admin org create --tenant-id ACME --name \"Acme Ltd\"\n  orgd admin org list --json"
    )]
    Org(OrgCommand),
    /// Users.
    #[command(
        subcommand,
        after_help = "Example:\n  orgd admin user create --tenant ACME --user-id bob@acme.test --role user --token-access true\n  orgd admin user list --tenant ACME"
    )]
    User(UserCommand),
    /// Datasets: list, import items from a file, export to a file or stdout, properties, permissions.
    #[command(
        subcommand,
        after_help = "Example:\n  orgd admin dataset list --tenant ACME\n  orgd admin dataset import --tenant ACME --dataset 0B533DE6-7107-9FCD-48FC-31C0856745CC --file people.csv --auto-id\n  orgd admin dataset export --tenant ACME --dataset 0B533DE6-7107-9FCD-48FC-31C0856745CC --format csv > people.csv"
    )]
    Dataset(DatasetCommand),
    /// API tokens.
    #[command(
        subcommand,
        after_help = "Example:\n  orgd admin token create --tenant ACME --user bob@acme.test --end 2027-01-01\n  orgd admin token list --tenant ACME --user bob@acme.test"
    )]
    Token(TokenCommand),
    /// The change history of an org: who changed what, when and from where, newest first.
    #[command(
        after_help = "Example:\n  orgd admin events --tenant ACME --kind user --from 2026-03-01\n  orgd admin events --tenant ACME --actor bob@acme.test --csv > trail.csv\n\nKinds read <object>.<change> (user.updated, items.imported, org.deleted …); --kind user selects every kind of user change.\nA page holds --limit events; the last line (or nextCursor with --json) gives the --cursor of the next, older page."
    )]
    Events(EventsArgs),
}

/// `orgd admin events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The org, by tenant id or org id.
    #[arg(long, value_name = "TENANT_OR_ORG_ID")]
    pub tenant: String,
    /// Events at or after this time (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Events before this time (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Events of this actor (a user id, or the OS user of `orgd admin`).
    #[arg(long, value_name = "ID")]
    pub actor: Option<String>,
    /// Events of this object (an org, user, token or dataset id).
    #[arg(long, value_name = "ID")]
    pub object: Option<String>,
    /// Events of this kind (user.updated), or of every kind of one object (user).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Events per page (1–1000).
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Continue after the page that gave this cursor.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Print CSV (a header and one row per event).
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
}

/// `orgd admin org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization (a root, or a child with --parent).
    #[command(
        after_help = "Example:\n  orgd admin org create --tenant-id ACME --name \"Acme Ltd\"\n  orgd admin org create --name \"Acme EU\" --parent ACME --subnets 10.0.0.0/8"
    )]
    Create {
        /// Tenant id (^[A-Z][A-Z0-9_]{0,29}$); derived from the name when absent.
        #[arg(long, value_name = "ID")]
        tenant_id: Option<String>,
        /// Unique name.
        #[arg(long)]
        name: String,
        /// Parent org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        parent: Option<String>,
        /// Whether the API usage plan is enabled (false → 40345).
        #[arg(long, value_name = "true|false")]
        api_enabled: Option<bool>,
        /// Org IP allow-list: comma-separated CIDRs ("" = anywhere).
        #[arg(long, value_name = "CIDR,...", value_parser = parse_cidrs)]
        subnets: Option<CidrList>,
    },
    /// Change an org's API switch, allow-list or usage plan.
    #[command(
        after_help = "Example:\n  orgd admin org update ACME --rate 10 --burst 20 --daily-quota 10000\n  orgd admin org update ACME --api-enabled false"
    )]
    Update {
        /// The org, by tenant id or org id.
        #[arg(value_name = "TENANT_OR_ORG_ID")]
        org: String,
        /// Whether the API usage plan is enabled.
        #[arg(long, value_name = "true|false")]
        api_enabled: Option<bool>,
        /// Org IP allow-list ("" = anywhere).
        #[arg(long, value_name = "CIDR,...", value_parser = parse_cidrs)]
        subnets: Option<CidrList>,
        /// Requests per second (token-bucket refill).
        #[arg(long, value_name = "N")]
        rate: Option<u32>,
        /// Token-bucket capacity.
        #[arg(long, value_name = "N")]
        burst: Option<u32>,
        /// Requests in flight at once.
        #[arg(long, value_name = "N")]
        concurrency: Option<u32>,
        /// Requests per UTC day, or "unlimited".
        #[arg(long, value_name = "N|unlimited", value_parser = parse_quota)]
        daily_quota: Option<Quota>,
    },
    /// Delete an org with its users, tokens, sessions, datasets, jobs and files (and, with --cascade, the
    /// orgs below it). Without --yes it only says what would go.
    #[command(
        after_help = "Example:\n  orgd admin org delete ACME_EU            # shows what would be deleted\n  orgd admin org delete ACME_EU --cascade --yes"
    )]
    Delete {
        /// The org, by tenant id or org id.
        #[arg(value_name = "TENANT_OR_ORG_ID")]
        org: String,
        /// Delete the orgs below it too (else an org with child orgs is refused).
        #[arg(long)]
        cascade: bool,
        /// Really delete (nothing can bring it back).
        #[arg(long)]
        yes: bool,
    },
    /// List every org, parents before children.
    #[command(after_help = "Example:\n  orgd admin org list\n  orgd admin --json org list")]
    List,
}

/// A daily quota value.
#[derive(Debug, Clone, Copy)]
pub struct Quota(pub Option<u64>);

/// User fields shared by create and update.
#[derive(Debug, Args, Clone, Default)]
pub struct UserFieldArgs {
    /// Role.
    #[arg(long, value_name = "administrator|user_manager|user", value_parser = parse_role)]
    pub role: Option<Role>,
    /// Password (checked against the org's password rules).
    #[arg(long, value_name = "P", conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Orgvue TokenAccess: may create and use API tokens.
    #[arg(long, value_name = "true|false")]
    pub token_access: Option<bool>,
    /// User IP allow-list: comma-separated CIDRs ("" = anywhere).
    #[arg(long, value_name = "CIDR,...", value_parser = parse_cidrs)]
    pub subnets: Option<CidrList>,
    /// Account expiry: YYYY-MM-DD or RFC 3339 ("never" clears it).
    #[arg(long, value_name = "DATE", value_parser = parse_expiry)]
    pub expires: Option<Expiry>,
    /// E-mail address (required for administrators; defaults to the user id when it is one).
    #[arg(long)]
    pub email: Option<String>,
    /// First name.
    #[arg(long)]
    pub first_name: Option<String>,
    /// Last name.
    #[arg(long)]
    pub last_name: Option<String>,
}

/// An expiry value.
#[derive(Debug, Clone, Copy)]
pub struct Expiry(pub Option<OffsetDateTime>);

/// `orgd admin user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user in an org.
    #[command(
        after_help = "Example:\n  orgd admin user create --tenant ACME --user-id alice@acme.test --role administrator --token-access true --password-stdin"
    )]
    Create {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// Login name (often an e-mail).
        #[arg(long)]
        user_id: String,
        /// Fields.
        #[command(flatten)]
        fields: UserFieldArgs,
        /// Create the account disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Change a user.
    #[command(
        after_help = "Example:\n  orgd admin user update ACME alice@acme.test --token-access false\n  orgd admin user update ACME alice@acme.test --disabled"
    )]
    Update {
        /// The org, by tenant id or org id.
        #[arg(value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// Login name.
        #[arg(value_name = "USER_ID")]
        user_id: String,
        /// Fields.
        #[command(flatten)]
        fields: UserFieldArgs,
        /// Disable the account.
        #[arg(long, conflicts_with = "enabled")]
        disabled: bool,
        /// Enable the account.
        #[arg(long)]
        enabled: bool,
    },
    /// List the users of an org.
    #[command(after_help = "Example:\n  orgd admin user list --tenant ACME --json")]
    List {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
    },
}

/// `orgd admin dataset …`.
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// List the datasets of an org.
    #[command(after_help = "Example:\n  orgd admin dataset list --tenant ACME --json")]
    List {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
    },
    /// Import item actions from a JSON array or CSV file (optionally gzip), streamed, in one transaction
    /// (all or nothing).
    #[command(
        after_help = "Example:\n  orgd admin dataset import --tenant ACME --dataset ID --file items.json --auto-id\n  orgd admin dataset import --tenant ACME --dataset ID --file items.csv --id-key \"First Name\" --id-key \"Last Name\" --date-format DD/MM/YYYY\n  orgd admin dataset import --tenant ACME --dataset ID --file people.csv.gz --auto-id --implicit-delete\n\nCSV files have a header row of property keys including _action; an empty cell leaves the key out.\nA file ending in .gz is unpacked on the way. The file is read as it is applied, so memory stays flat\nwhatever its size; a progress bar shows rows per second on a terminal."
    )]
    Import {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// The dataset id (a UUID; `orgd admin dataset list` shows them).
        #[arg(long, value_name = "ID", value_parser = parse_dataset_id)]
        dataset: DatasetId,
        /// items.json (an array of actions) or items.csv, optionally gzip (items.csv.gz).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Identify items by the dataset's autoId property.
        #[arg(long)]
        auto_id: bool,
        /// Identify items by these properties together (repeatable).
        #[arg(long = "id-key", value_name = "KEY")]
        id_keys: Vec<String>,
        /// Date format of date values: YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY.
        #[arg(long, value_name = "FORMAT")]
        date_format: Option<String>,
        /// Delete every item the file does not name (full refresh).
        #[arg(long)]
        implicit_delete: bool,
        /// Apply the valid actions and report the failing ones, instead of applying nothing.
        #[arg(long)]
        skip_failures: bool,
    },
    /// Export a dataset (streamed; memory stays flat).
    #[command(
        after_help = "Example:\n  orgd admin dataset export --tenant ACME --dataset ID --format csv > people.csv\n  orgd admin dataset export --tenant ACME --dataset ID --format jsonRows --output people.json"
    )]
    Export {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// The dataset id (a UUID; `orgd admin dataset list` shows them).
        #[arg(long, value_name = "ID", value_parser = parse_dataset_id)]
        dataset: DatasetId,
        /// jsonRows, jsonColumns, jsonObjects, csv or tsv.
        #[arg(long, default_value = "csv")]
        format: String,
        /// LF line endings (CSV/TSV) instead of CRLF.
        #[arg(long)]
        unix: bool,
        /// Add the generated properties (_depth, _is_leaf, …).
        #[arg(long)]
        generated: bool,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Add a property to a dataset (its items have no value for it yet; a required one only joins an
    /// empty dataset).
    #[command(
        after_help = "Example:\n  orgd admin dataset add-property --tenant ACME --dataset ID --key \"Start Date\" --type date\n\nNo item is rewritten: adding a property to a million-item dataset takes a moment."
    )]
    AddProperty {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// The dataset id (a UUID; `orgd admin dataset list` shows them).
        #[arg(long, value_name = "ID", value_parser = parse_dataset_id)]
        dataset: DatasetId,
        /// The property key.
        #[arg(long)]
        key: String,
        /// text, number, date or boolean.
        #[arg(long = "type", value_name = "TYPE")]
        ty: String,
        /// The display name [default: the key].
        #[arg(long)]
        name: Option<String>,
        /// Every item must hold a value (empty datasets only).
        #[arg(long)]
        required: bool,
    },
    /// Change a property's display name, required flag or type.
    #[command(
        after_help = "Example:\n  orgd admin dataset change-property --tenant ACME --dataset ID --key grade --name \"Pay grade\" --required true\n  orgd admin dataset change-property --tenant ACME --dataset ID --key grade --type number --dry-run"
    )]
    ChangeProperty {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// The dataset id (a UUID; `orgd admin dataset list` shows them).
        #[arg(long, value_name = "ID", value_parser = parse_dataset_id)]
        dataset: DatasetId,
        /// The property key.
        #[arg(long)]
        key: String,
        /// A new display name.
        #[arg(long)]
        name: Option<String>,
        /// true: every item must hold a value (checked first); false: values become optional.
        #[arg(long, value_name = "true|false")]
        required: Option<bool>,
        /// A new type (text, number, date, boolean): every value is converted as an import would read it.
        #[arg(long = "type", value_name = "TYPE")]
        ty: Option<String>,
        /// Report what a type change would do (values that do not convert, by item); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Clear the values that do not convert instead of refusing the change.
        #[arg(long)]
        force: bool,
    },
    /// Remove a property and its values (not the autoId, label or hierarchy properties).
    #[command(after_help = "Example:\n  orgd admin dataset remove-property --tenant ACME --dataset ID --key nickname")]
    RemoveProperty {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// The dataset id (a UUID; `orgd admin dataset list` shows them).
        #[arg(long, value_name = "ID", value_parser = parse_dataset_id)]
        dataset: DatasetId,
        /// The property key.
        #[arg(long)]
        key: String,
    },
    /// Show or change who may do what with a dataset: levels none, read, update (change existing items),
    /// modify (also create and delete items), manage (also drafts, permissions, deletion).
    #[command(
        after_help = "Example:\n  orgd admin dataset permissions --tenant ACME --dataset ID\n  orgd admin dataset permissions --tenant ACME --dataset ID --role user=none --user alice@acme.test=modify\n  orgd admin dataset permissions --tenant ACME --dataset ID --restrict Salary=user_manager,alice@acme.test\n  orgd admin dataset permissions --tenant ACME --dataset ID --rows user='{\"Department\":\"$user.custom_metadata.department\"}'\n\nChanges are merged into the current grants. Administrators hold manage always; a user's own grant\nraises its role's level. A dataset nobody changed: every role reads, administrators do the rest.\nA restricted property is read by administrators and the roles and users named (none: administrators\nonly); for everyone else it does not exist. A row rule (a filter, with $user.user_id, $user.email or\n$user.custom_metadata.<field> as operands) limits the items a role or user below manage sees and changes."
    )]
    Permissions {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// The dataset id (a UUID; `orgd admin dataset list` shows them).
        #[arg(long, value_name = "ID", value_parser = parse_dataset_id)]
        dataset: DatasetId,
        /// Set a role's level: user=read, user_manager=update (repeatable).
        #[arg(long = "role", value_name = "ROLE=LEVEL", value_parser = parse_assignment)]
        roles: Vec<(String, String)>,
        /// Set a user's own level by login name: alice@acme.test=modify (repeatable).
        #[arg(long = "user", value_name = "USER_ID=LEVEL", value_parser = parse_assignment)]
        users: Vec<(String, String)>,
        /// Restrict a property to administrators and these roles and users: Salary=user_manager,alice@acme.test
        /// (`Salary=` for administrators only; repeatable).
        #[arg(long = "restrict", value_name = "KEY=READERS", value_parser = parse_assignment)]
        restrict: Vec<(String, String)>,
        /// Lift a property's restriction (repeatable).
        #[arg(long = "unrestrict", value_name = "KEY")]
        unrestrict: Vec<String>,
        /// Limit the items a role or a user sees and changes to those a filter lets through, with the
        /// user's own values as operands: user='{"Department":"$user.custom_metadata.department"}' (repeatable).
        #[arg(long = "rows", value_name = "WHO=FILTER", value_parser = parse_assignment)]
        rows: Vec<(String, String)>,
        /// Lift a role's or a user's row rule (repeatable).
        #[arg(long = "all-rows", value_name = "WHO")]
        all_rows: Vec<String>,
    },
}

/// `orgd admin token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; prints the secret alone on stdout (it is never shown again).
    #[command(
        after_help = "Example:\n  TOKEN=$(orgd admin token create --tenant ACME --user alice@acme.test --end 2026-12-31 --subnets 203.0.113.0/24 --label ci)"
    )]
    Create {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// The owner's login name (needs TokenAccess).
        #[arg(long, value_name = "USER_ID")]
        user: String,
        /// Valid from: YYYY-MM-DD or RFC 3339 [default: now].
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        start: Option<OffsetDateTime>,
        /// Valid until (exclusive): YYYY-MM-DD or RFC 3339 [default: no end].
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        end: Option<OffsetDateTime>,
        /// Token IP allow-list: comma-separated CIDRs.
        #[arg(long, value_name = "CIDR,...", value_parser = parse_cidrs)]
        subnets: Option<CidrList>,
        /// A label for people (≤ 100 chars).
        #[arg(long)]
        label: Option<String>,
    },
    /// List tokens (never the secrets).
    #[command(after_help = "Example:\n  orgd admin token list --tenant ACME --user alice@acme.test")]
    List {
        /// The org, by tenant id or org id.
        #[arg(long, value_name = "TENANT_OR_ORG_ID")]
        tenant: String,
        /// Only this user's tokens.
        #[arg(long, value_name = "USER_ID")]
        user: Option<String>,
    },
    /// Revoke a token by its id.
    #[command(after_help = "Example:\n  orgd admin token revoke p5hvsnyhgdhoa3ut")]
    Revoke {
        /// The token id (the 16 characters after "orgd_").
        token_id: String,
    },
}

fn parse_cidrs(s: &str) -> Result<CidrList, String> {
    CidrList::parse_comma(s, "subnets")
        .map_err(|faults| faults.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "))
}

fn parse_assignment(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((who, level)) if !who.is_empty() => Ok((who.to_string(), level.to_string())),
        _ => Err(format!("'{s}' is not NAME=LEVEL (levels: none, read, update, modify, manage)")),
    }
}

fn parse_dataset_id(s: &str) -> Result<DatasetId, String> {
    DatasetId::parse(s).ok_or_else(|| {
        format!("'{s}' is not a dataset id: use the UUID that `orgd admin dataset list --tenant …` shows")
    })
}

fn parse_date(s: &str) -> Result<OffsetDateTime, String> {
    parse_date_or_datetime(s)
        .ok_or_else(|| format!("'{s}' is not a date: use YYYY-MM-DD or RFC 3339 (2026-01-31T12:00:00Z)"))
}

fn parse_expiry(s: &str) -> Result<Expiry, String> {
    if s.eq_ignore_ascii_case("never") || s.is_empty() {
        return Ok(Expiry(None));
    }
    parse_date(s).map(|d| Expiry(Some(d)))
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("'{s}' is not a role: use administrator, user_manager or user"))
}

fn parse_quota(s: &str) -> Result<Quota, String> {
    if s.eq_ignore_ascii_case("unlimited") {
        return Ok(Quota(None));
    }
    s.parse::<u64>().map(|n| Quota(Some(n))).map_err(|_| format!("'{s}' is not a number of requests or 'unlimited'"))
}

/// Turn a refusal of the core into one clear line for the terminal.
pub fn fail(e: orgd_core::ApiError) -> anyhow::Error {
    anyhow::anyhow!(e.orgvue_message())
}
