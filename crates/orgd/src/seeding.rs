//! `orgd seed FILE`: apply a seed file to the database, after proving it applies cleanly to a scratch
//! database, so a faulty file changes nothing.

use crate::cli::SeedArgs;
use crate::config;
use anyhow::Context;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::model::UsagePlan;
use orgd_core::seed::{self, Memo, Seed};
use orgd_store::SqlStore;

fn faults(errors: Vec<seed::SeedError>) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    anyhow::anyhow!("the seed file has {} fault(s):\n  {}", lines.len(), lines.join("\n  "))
}

/// Apply `seed` to an empty scratch SQLite database; the memo (with the password hashes made) lets the
/// real application skip hashing again.
pub async fn check_on_scratch(seed: &Seed, plan: &UsagePlan) -> anyhow::Result<Memo> {
    let dir =
        tempfile::Builder::new().prefix("orgd-seed-check-").tempdir().context("cannot make a temporary folder")?;
    let url = format!("sqlite://{}", dir.path().join("check.db").display());
    let store = SqlStore::open(&url).await.context("cannot open a scratch database")?;
    let mut memo = Memo::new(SystemClock::default().now());
    seed::apply(&store, seed, plan, &mut memo).await.map_err(faults)?;
    store.close().await;
    Ok(memo)
}

/// The `orgd seed` command.
pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let seed = config::load_seed(&args.file)?;
    let [orgs, users, tokens, datasets, items] = seed.counts();
    let described =
        format!("{orgs} org(s), {users} user(s), {tokens} token(s), {datasets} dataset(s), {items} item(s)");
    let (url, plan) = config::resolve_store(&args.store)?;
    let mut memo = check_on_scratch(&seed, &plan).await?;
    if args.check {
        if args.json {
            let v = serde_json::json!({"valid": true, "orgs": orgs, "users": users, "tokens": tokens,
                "datasets": datasets, "items": items});
            println!("{v}");
        } else {
            println!("{}: valid ({described}); nothing was changed", args.file.display());
        }
        return Ok(());
    }
    let store = SqlStore::open(&url).await.with_context(|| format!("cannot open the database {url}"))?;
    memo.seeded_at = SystemClock::default().now();
    let report = seed::apply(&store, &seed, &plan, &mut memo).await.map_err(|errors| {
        faults(errors).context("the seed conflicts with what the database holds (it stopped at the first fault)")
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("reports serialize"));
    } else {
        println!(
            "{}: applied ({described}): {} created, {} updated, {} already as described",
            args.file.display(),
            report.created,
            report.updated,
            report.unchanged
        );
    }
    Ok(())
}
