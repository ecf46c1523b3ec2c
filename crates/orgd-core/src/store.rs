//! The storage port: everything the core needs from a database. `orgd-store` implements it for SQLite
//! and PostgreSQL, and both pass the same conformance suite.

use crate::data::drafts::{Draft, DraftItem};
use crate::data::jobs::{ChunkOwner, FileRecord, Job};
use crate::data::row::{Row, Val};
use crate::data::{Dataset, Item};
use crate::error::StoreError;
use crate::events::{Event, EventQuery};
use crate::ids::{DatasetId, DraftId, JobId, OrgId, TenantId, WebhookId};
use crate::model::{Org, TokenRecord, TokenUse, User};
use crate::webhooks::{Attempt, Delivery, DeliveryState, Due, Subscription};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A new user, as the core hands it to the store (the store assigns `psk`).
pub type NewUser = User;

/// How an import looks items up.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// By `_id`.
    Ids(&'a [String]),
    /// By the values of these properties (indexes into the dataset's properties), one tuple per key.
    Values {
        /// Property indexes.
        props: &'a [usize],
        /// Tuples, each as long as `props`.
        keys: &'a [Vec<Val>],
    },
}

/// One import in progress: a transaction that holds the dataset's write lock. Every read sees the
/// import's own earlier writes; nothing is visible to others before [`commit`](ItemWrite::commit), and
/// dropping it without a commit leaves nothing behind.
#[async_trait]
pub trait ItemWrite: Send {
    /// The highest `seq` ever given in the dataset (0 when none).
    async fn last_seq(&mut self) -> StoreResult<i64>;
    /// Items of `ds` (the import's dataset, or a LINKS end) that `lookup` names, with all their values.
    async fn find(&mut self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>>;
    /// Write rows: new ones, changed ones (whole), and deletions by `seq`.
    async fn write(&mut self, inserts: Vec<Row>, updates: Vec<Row>, deletes: Vec<i64>) -> StoreResult<()>;
    /// Keep item versions (the org's item history is on) with the write.
    async fn keep_versions(&mut self, versions: Vec<crate::data::history::Version>) -> StoreResult<()>;
    /// Remember that the import named these items (`implicitDelete` keeps them).
    async fn mark_seen(&mut self, seqs: Vec<i64>) -> StoreResult<()>;
    /// Items the import did not name, in creation order: up to `limit` with `seq > after`, as
    /// `(seq, _id)`.
    async fn unseen(&mut self, after: i64, limit: i64) -> StoreResult<Vec<(i64, String)>>;
    /// The dataset's bookkeeping after a change: item count moved by `count_delta`, a new cache key and
    /// modification time, and the change's `event`.
    async fn finish(&mut self, count_delta: i64, cache_key: &str, modified_at: i64, event: &Event) -> StoreResult<()>;
    /// The outcome an import job kept when it applied in an earlier attempt (its node died after that).
    async fn job_outcome(&mut self, job_id: &JobId) -> StoreResult<Option<String>>;
    /// Keep an import job's outcome with the changes it applies, so it never applies twice.
    async fn keep_job_outcome(&mut self, job_id: &JobId, body: &str) -> StoreResult<()>;
    /// Store chunk `n` of the job's result, without waiting for it; the commit fails if it could not be
    /// stored, and dropping the import keeps none. The store may write chunks beside the import's
    /// transaction and commit them just before it: chunks of a job without a kept outcome are partial and
    /// dropped when the job fails or is queued again.
    async fn put_result_chunk(&mut self, job_id: &JobId, n: i64, data: Vec<u8>) -> StoreResult<()>;
    /// A first load into an empty dataset: drop the indexes other than `seq`'s (they are built again,
    /// at once, by [`end_bulk`](ItemWrite::end_bulk)); false when the dataset is not empty. The caller
    /// finds items without indexes meanwhile, so it looks up only keys it may have written itself.
    async fn begin_bulk(&mut self) -> StoreResult<bool>;
    /// Build the indexes [`begin_bulk`](ItemWrite::begin_bulk) dropped.
    async fn end_bulk(&mut self) -> StoreResult<()>;
    /// Make it all visible at once.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// A consistent read of a dataset's items in creation order, a page at a time.
#[async_trait]
pub trait ItemScan: Send {
    /// The next page: rows whose cells are the scanned properties, in the order asked for, and the pass
    /// they belong to. `None` after the last row of the last pass.
    async fn next(&mut self) -> StoreResult<Option<(usize, Vec<Row>)>>;
}

/// How a type change converts one value: `Ok(Some(v))` keeps `v`, `Ok(None)` clears it, `Err(())` refuses
/// the whole change.
pub type Convert = std::sync::Arc<dyn Fn(&Val) -> Result<Option<Val>, ()> + Send + Sync>;

/// One item's place in its dataset's hierarchy, in creation order: `(seq, parent's seq, has a parent
/// value)`.
pub type TreeLink = (i64, Option<i64>, bool);

/// How many changes this process has committed through a store: of orgs, users and tokens (`auth`), and of
/// the dataset lists (`data`: datasets created or deleted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalChanges {
    /// Orgs, users and tokens.
    pub auth: u64,
    /// Datasets created or deleted.
    pub data: u64,
}

/// The persistence of orgs, users, tokens and datasets.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Check the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// A number that changes whenever an org, user or token changes (auth caches poll it).
    async fn auth_epoch(&self) -> StoreResult<i64>;

    /// A number that changes whenever a dataset is created or deleted (dataset lists are cached by it).
    async fn data_epoch(&self) -> StoreResult<i64>;

    /// What this process has committed through the store so far, read without I/O. Caches over the store
    /// compare it on every read and drop what they hold when it moved, so a change made in this process is
    /// never served stale and no caller has to remember to invalidate; other processes' changes are seen
    /// through the epochs.
    fn local_changes(&self) -> LocalChanges;

    /// Insert an org; `Conflict` when its name (case-insensitive) or tenant id is taken.
    async fn insert_org(&self, org: &Org) -> StoreResult<()>;
    /// Replace an org's mutable fields (name, subnets, plan, settings).
    async fn update_org(&self, org: &Org) -> StoreResult<()>;
    /// Every org.
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;
    /// One org by `org_id`.
    async fn get_org(&self, org_id: &OrgId) -> StoreResult<Option<Org>>;
    /// One org by `tenant_id`.
    async fn get_org_by_tenant(&self, tenant_id: &TenantId) -> StoreResult<Option<Org>>;
    /// Delete an org with everything that belongs to it (users with their tokens and sessions, datasets,
    /// jobs, files) and, with `descendants`, every org below it, deepest first, in one transaction; returns
    /// the orgs deleted (none when it is unknown). Without `descendants` an org with child orgs is a
    /// `Conflict`.
    async fn delete_org(&self, org_id: &OrgId, descendants: bool) -> StoreResult<Vec<OrgId>>;

    /// Insert a user, returning it with its assigned `psk`; `Conflict` when the user id is taken in the org.
    async fn insert_user(&self, user: &NewUser) -> StoreResult<User>;
    /// Replace a user's mutable fields.
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Save a user's sign-in bookkeeping only (failed count, lock, last login). Does not move the auth
    /// epoch: none of it changes what a token may do, and sign-in floods must not flush every auth cache.
    async fn record_login(&self, user: &User) -> StoreResult<()>;
    /// One user by `psk`.
    async fn get_user(&self, psk: i64) -> StoreResult<Option<User>>;
    /// Users whose `user_id` matches case-insensitively, optionally in one org.
    async fn find_users(&self, user_id: &str, org_id: Option<&OrgId>) -> StoreResult<Vec<User>>;
    /// Users of an org, by `psk`.
    async fn list_users(&self, org_id: &OrgId) -> StoreResult<Vec<User>>;
    /// Delete a user and its tokens.
    async fn delete_user(&self, psk: i64) -> StoreResult<bool>;

    /// Insert a token with the SHA-256 of its secret. Session tokens do not move the auth epoch (their ids
    /// are fresh and unknown until returned, so no cache can hold a stale answer for them).
    async fn insert_token(&self, token: &TokenRecord, hash: &[u8; 32]) -> StoreResult<()>;
    /// One token with its hash.
    async fn get_token(&self, token_id: &str) -> StoreResult<Option<(TokenRecord, Vec<u8>)>>;
    /// Tokens of one user (`Some`) or of every user of an org (`None` user), newest first.
    async fn list_tokens(&self, org_id: &OrgId, user_psk: Option<i64>) -> StoreResult<Vec<TokenRecord>>;
    /// Mark a token revoked; false when unknown or already revoked.
    async fn revoke_token(&self, token_id: &str, at: OffsetDateTime) -> StoreResult<bool>;
    /// Delete a token; false when unknown.
    async fn delete_token(&self, token_id: &str) -> StoreResult<bool>;
    /// Delete every org, user, token, dataset, job, file and event, and restart numbering (the stand-in's reset);
    /// keeps the server secrets.
    async fn wipe(&self) -> StoreResult<()>;
    /// Revoke the user's session tokens except one (password change).
    async fn revoke_sessions(&self, user_psk: i64, except: Option<&str>, at: OffsetDateTime) -> StoreResult<()>;
    /// Move a session token's end.
    async fn set_token_end(&self, token_id: &str, ends_at: Option<OffsetDateTime>) -> StoreResult<()>;
    /// Delete session tokens that ended or were revoked before `before`; returns how many.
    async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64>;
    /// Record token uses in one batch (does not change the auth epoch).
    async fn record_token_uses(&self, uses: &[TokenUse]) -> StoreResult<()>;

    /// Insert a dataset (with the place for its items); `Conflict` when its name (case-insensitive) is
    /// taken in the org.
    async fn insert_dataset(&self, ds: &Dataset) -> StoreResult<()>;
    /// Datasets of an org (unsorted).
    async fn list_datasets(&self, org_id: &OrgId) -> StoreResult<Vec<Dataset>>;
    /// One dataset.
    async fn get_dataset(&self, dataset_id: &DatasetId) -> StoreResult<Option<Dataset>>;
    /// Save a dataset's definition (schema, grants) and `modified_at`, moving the data epoch so that every
    /// node's lists follow; false when the dataset is gone.
    async fn update_dataset_definition(&self, ds: &Dataset) -> StoreResult<bool>;
    /// Change a dataset's schema from `before` to `after` in one transaction: a column for each property
    /// of `after` whose column `before` lacks (empty), none for each column `after` no longer uses (its
    /// values and indexes go), and `after`'s definition, cache key and `modified_at`; the data epoch moves.
    /// False when the dataset is gone.
    async fn evolve_dataset(&self, before: &Dataset, after: &Dataset) -> StoreResult<bool>;
    /// Give property `i` of `before` the type and column it has in `after`, each value converted by
    /// `convert` (`Ok(None)` clears it), and save `after` as [`evolve_dataset`](Store::evolve_dataset)
    /// does, in one transaction. `None` (nothing changed) when `convert` refuses a value or the dataset is
    /// gone; else how many values were kept.
    async fn retype_property(
        &self,
        before: &Dataset,
        after: &Dataset,
        i: usize,
        convert: Convert,
    ) -> StoreResult<Option<u64>>;
    /// Delete a dataset with its items.
    async fn delete_dataset(&self, dataset_id: &DatasetId) -> StoreResult<bool>;
    /// Up to `limit` items with `seq > after`, in creation order.
    async fn item_page(&self, ds: &Dataset, after: i64, limit: i64) -> StoreResult<Vec<Item>>;
    /// One item.
    async fn get_item(&self, ds: &Dataset, item_id: &str) -> StoreResult<Option<Item>>;
    /// Read the given properties (indexes) of every item, `passes` times over, from one snapshot.
    async fn scan(&self, ds: &Dataset, props: &[usize], passes: usize) -> StoreResult<Box<dyn ItemScan>>;
    /// Every item's parent in the hierarchy, in creation order (hierarchical datasets).
    async fn tree_links(&self, ds: &Dataset) -> StoreResult<Vec<TreeLink>>;
    /// Make finding items by these properties (indexes) an index lookup.
    async fn index_items(&self, ds: &Dataset, props: &[usize]) -> StoreResult<()>;
    /// Start an import: a transaction holding the dataset's write lock.
    async fn begin_items(&self, ds: &Dataset) -> StoreResult<Box<dyn ItemWrite>>;
    /// Items of `ds` that `lookup` names, with all their values, read outside any import (what a draft
    /// stages against).
    async fn find_items(&self, ds: &Dataset, lookup: Lookup<'_>) -> StoreResult<Vec<Row>>;

    /// Insert a draft (no items).
    async fn insert_draft(&self, draft: &Draft) -> StoreResult<()>;
    /// Drafts of an org (unsorted).
    async fn list_drafts(&self, org_id: &OrgId) -> StoreResult<Vec<Draft>>;
    /// One draft.
    async fn get_draft(&self, draft_id: &DraftId) -> StoreResult<Option<Draft>>;
    /// Delete a draft with its items; false when unknown.
    async fn delete_draft(&self, draft_id: &DraftId) -> StoreResult<bool>;
    /// Every changed item of a draft's default layer, by `seq`.
    async fn draft_items(&self, draft_id: &DraftId) -> StoreResult<Vec<DraftItem>>;
    /// Save a staging in one transaction: the draft's record (counts, version, time), its changed items
    /// (replacing those of the same `seq`) and the `seq`s it no longer changes. False (nothing saved) when
    /// the stored draft's version is no longer `expected_version` or the draft is gone.
    async fn save_draft(
        &self,
        draft: &Draft,
        expected_version: i64,
        items: &[DraftItem],
        dropped: &[i64],
    ) -> StoreResult<bool>;
    /// Drop every item of a draft, zero its counts and give it `version`; false when unknown.
    async fn clear_draft(&self, draft_id: &DraftId, version: i64, now_ms: i64) -> StoreResult<bool>;

    /// The audit trail: events `query` selects, newest first, with their positions (a cursor reads
    /// the ones below a position).
    async fn list_events(&self, query: &EventQuery) -> StoreResult<Vec<(i64, Event)>>;

    /// Delete the events of `org_id` older than `before` (ms); returns how many.
    async fn purge_events(&self, org_id: &OrgId, before: i64) -> StoreResult<u64>;
    /// Take the lease `name` for `holder` until `until` (ms) if nobody holds it at `now`, so that a periodic
    /// task shared by every node runs on one; false when another holder has it.
    async fn claim_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool>;

    /// An item's versions, newest first.
    async fn item_versions(
        &self,
        dataset_id: &DatasetId,
        item_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<crate::data::history::Version>>;
    /// The first version after `at` (ms) of each item of the dataset changed since, in `seq` order.
    async fn versions_after(&self, dataset_id: &DatasetId, at: i64) -> StoreResult<Vec<crate::data::history::Version>>;
    /// Delete the item versions of `org_id`'s datasets older than `before` (ms); returns how many.
    async fn purge_versions(&self, org_id: &OrgId, before: i64) -> StoreResult<u64>;

    /// Save a new webhook subscription (with its `webhook.created` event). From then on, every event of
    /// its org (and of the orgs below, if it says so) of a kind it names queues a delivery, in the
    /// transaction of the event.
    async fn insert_webhook(&self, sub: &Subscription) -> StoreResult<()>;
    /// The subscriptions of `org_id`, or of every org, oldest first.
    async fn list_webhooks(&self, org_id: Option<&OrgId>) -> StoreResult<Vec<Subscription>>;
    /// One subscription.
    async fn get_webhook(&self, id: &WebhookId) -> StoreResult<Option<Subscription>>;
    /// Delete a subscription and its deliveries (with a `webhook.deleted` event); false when unknown.
    async fn delete_webhook(&self, id: &WebhookId) -> StoreResult<bool>;
    /// A subscription's deliveries in `state` (any when `None`) below position `before`, newest first.
    async fn list_deliveries(
        &self,
        id: &WebhookId,
        state: Option<DeliveryState>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>>;
    /// One delivery of a subscription.
    async fn get_delivery(&self, id: &WebhookId, delivery_id: i64) -> StoreResult<Option<Delivery>>;
    /// Take up to `limit` pending deliveries due at `now` until `until` (ms), oldest first, each the
    /// oldest pending one of its subscription and object (so one object's deliveries go in order) and
    /// taken by no other node.
    async fn claim_deliveries(&self, now: i64, until: i64, limit: i64) -> StoreResult<Vec<Due>>;
    /// Record attempts of deliveries this node took (each delivered, to be tried again, or given up), in
    /// one transaction.
    async fn finish_deliveries(&self, attempts: &[(i64, Attempt)]) -> StoreResult<()>;
    /// Queue a delivery again at `now` (a manual redelivery); false when unknown.
    async fn redeliver(&self, id: &WebhookId, delivery_id: i64, now: i64) -> StoreResult<bool>;

    /// A named server secret shared by every node, created at random on first use.
    async fn secret(&self, name: &str) -> StoreResult<String>;
    /// Queue a job.
    async fn insert_job(&self, job: &Job) -> StoreResult<()>;
    /// One job.
    async fn get_job(&self, job_id: &JobId) -> StoreResult<Option<Job>>;
    /// Take the oldest queued job of a tenant with fewer than `per_org` running ones; each job is taken
    /// once, whatever the number of nodes.
    async fn claim_job(&self, now: i64, per_org: i64) -> StoreResult<Option<Job>>;
    /// Save a job's state (status, result, errors, timestamps).
    async fn save_job(&self, job: &Job) -> StoreResult<()>;
    /// Heartbeat of a running job.
    async fn touch_job(&self, job_id: &JobId, now: i64) -> StoreResult<()>;
    /// Running jobs whose heartbeat is older than `before` (their node died): queue them again (dropping
    /// their partial results, but not the results an import kept with its changes) while they were taken
    /// fewer than `max_attempts` times, else fail them with
    /// `errors`; returns (queued again, failed).
    async fn requeue_stale_jobs(
        &self,
        before: i64,
        now: i64,
        max_attempts: i64,
        errors: &str,
    ) -> StoreResult<(u64, u64)>;
    /// Give a running job back to the queue (this node is shutting down), dropping its partial result (but
    /// not an import's kept one);
    /// the attempt does not count. False when the job was not running.
    async fn release_job(&self, job_id: &JobId, now: i64) -> StoreResult<bool>;
    /// Delete final jobs (with their results) that ended before `before`.
    async fn purge_jobs(&self, before: i64) -> StoreResult<u64>;
    /// Store chunk `n` of a job result or an uploaded file.
    async fn put_chunk(&self, owner: &ChunkOwner, n: i64, data: &[u8]) -> StoreResult<()>;
    /// Chunks `>= from`, at most `limit`, in order.
    async fn chunks(&self, owner: &ChunkOwner, from: i64, limit: i64) -> StoreResult<Vec<(i64, Vec<u8>)>>;
    /// Delete the chunks of an owner.
    async fn delete_chunks(&self, owner: &ChunkOwner) -> StoreResult<()>;
    /// Record a temporary file.
    async fn insert_file(&self, file: &FileRecord) -> StoreResult<()>;
    /// One temporary file.
    async fn get_file(&self, file_id: &str) -> StoreResult<Option<FileRecord>>;
    /// Claim the single upload of a file; false when it is being or was already uploaded. Until the upload
    /// ends, the file reads as not uploaded.
    async fn claim_upload(&self, file_id: &str) -> StoreResult<bool>;
    /// End a claimed upload: kept, the file is uploaded; not kept (refused, broken off), its chunks go and
    /// it may be uploaded again.
    async fn end_upload(&self, file_id: &str, kept: bool) -> StoreResult<()>;
    /// Delete files that expired before `before`.
    async fn purge_files(&self, before: i64) -> StoreResult<u64>;
}
