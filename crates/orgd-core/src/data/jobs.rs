//! Async jobs and temporary files (orgvue-dialect §7): records, tickets, presigned URLs.

use crate::clock::{from_millis, iso_millis};
use crate::ids::{DatasetId, JobId, OrgId};
use crate::model::{Role, User};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

/// Running jobs allowed per tenant at once.
pub const RUNNING_PER_TENANT: i64 = 5;
/// Ticket URLs live this long after submission.
pub const TICKET_URL_SECONDS: i64 = 24 * 3600;
/// Uploads may be this large.
pub const FILE_LIMIT: usize = 256 * 1024 * 1024;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Async export.
    Export,
    /// Async import.
    Import,
    /// Export a draft's changes as item actions.
    DraftActions,
    /// Apply a draft to its dataset.
    DraftApply,
}

impl JobKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Export => "export",
            JobKind::Import => "import",
            JobKind::DraftActions => "draftActions",
            JobKind::DraftApply => "draftApply",
        }
    }

    /// Parse the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "export" => Some(JobKind::Export),
            "import" => Some(JobKind::Import),
            "draftActions" => Some(JobKind::DraftActions),
            "draftApply" => Some(JobKind::DraftApply),
            _ => None,
        }
    }
}

/// `jobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Queued.
    Created,
    /// Taken by a worker.
    Running,
    /// Done.
    Completed,
    /// Ended with errors.
    Failed,
}

impl JobStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "created",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        }
    }

    /// Parse the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => JobStatus::Created,
            "running" => JobStatus::Running,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            _ => return None,
        })
    }

    /// Completed or failed.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

/// A job record.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `jobId`.
    pub id: JobId,
    /// Tenant.
    pub org_id: OrgId,
    /// Dataset.
    pub dataset_id: DatasetId,
    /// Kind.
    pub kind: JobKind,
    /// Status.
    pub status: JobStatus,
    /// `_createdBy` (user id).
    pub created_by: String,
    /// The creator's psk.
    pub created_by_psk: i64,
    /// Trace id of the submitting request.
    pub trace_id: String,
    /// The validated request (format, options, locations, callback).
    pub request: Value,
    /// Content type of the kept result.
    pub result_type: Option<String>,
    /// Whether orgd keeps the result (no `exportLocation`/`resultLocation`).
    pub result_kept: bool,
    /// First 1,000 error objects of a failed job.
    pub errors: Option<Vec<Value>>,
    /// Number of errors.
    pub error_count: i64,
    /// Submission (ms).
    pub created_at: i64,
    /// Last change or heartbeat (ms).
    pub modified_at: i64,
    /// Final state reached (ms).
    pub finished_at: Option<i64>,
}

impl Job {
    /// A new job of `org`, asked for by `user` in the request traced as `trace_id` (`Created` until a worker
    /// takes it).
    pub fn submitted(
        org: &OrgId,
        user: &User,
        trace_id: &str,
        dataset_id: &DatasetId,
        kind: JobKind,
        request: Value,
        now_ms: i64,
    ) -> Job {
        Job {
            id: JobId::generate(),
            org_id: org.clone(),
            dataset_id: dataset_id.clone(),
            kind,
            status: JobStatus::Created,
            created_by: user.user_id.clone(),
            created_by_psk: user.psk,
            trace_id: trace_id.to_string(),
            request,
            result_type: None,
            result_kept: false,
            errors: None,
            error_count: 0,
            created_at: now_ms,
            modified_at: now_ms,
            finished_at: None,
        }
    }

    /// Whether `user`, acting in `org`, may see this job: a job of that org, and its own unless it is an
    /// administrator. Every other job is answered as not found, so none leaks.
    pub fn visible_to(&self, org: &OrgId, user: &User) -> bool {
        self.org_id == *org && (self.created_by_psk == user.psk || user.role == Role::Administrator)
    }
}

/// A temporary file made by `files/generate`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    /// `fileId`.
    pub id: String,
    /// Tenant.
    pub org_id: OrgId,
    /// `json` or `csv`.
    pub target_type: String,
    /// `identity` or `gzip`.
    pub target_encoding: String,
    /// The one upload happened.
    pub uploaded: bool,
    /// Creation (ms).
    pub created_at: i64,
    /// Expiry (ms).
    pub expires_at: i64,
}

impl FileRecord {
    /// The content type of its download: the bytes as uploaded, so gzip stays gzip.
    pub fn media_type(&self) -> &'static str {
        match (self.target_encoding.as_str(), self.target_type.as_str()) {
            ("gzip", _) => "application/gzip",
            (_, "csv") => super::export::Format::Csv.content_type(),
            _ => super::export::Format::JsonRows.content_type(),
        }
    }
}

/// Whose chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOwner {
    /// A job's result.
    Job(String),
    /// An uploaded file.
    File(String),
}

type HmacSha256 = Hmac<Sha256>;

/// The signature of a presigned URL: base64url HMAC-SHA256 of `METHOD\npath\nexpires`.
pub fn sign(key: &[u8], method: &str, path: &str, expires: i64) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{method}\n{path}\n{expires}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Check a presigned URL's signature (constant time) and expiry.
pub fn verify(key: &[u8], method: &str, path: &str, expires: i64, signature: &str, now_s: i64) -> bool {
    let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature) else { return false };
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{method}\n{path}\n{expires}").as_bytes());
    now_s <= expires && mac.verify_slice(&sig).is_ok()
}

/// The job ticket (§7.1); `self_url` and `result_url` are presigned by the caller.
pub fn ticket(job: &Job, self_url: &str, result_url: Option<&str>) -> Value {
    let mut links = Map::new();
    links.insert(
        "self".into(),
        json!({"url": self_url, "contentType": "application/json; charset=UTF-8", "type": "downloadLink"}),
    );
    if let (Some(u), JobStatus::Completed, true) = (result_url, job.status, job.result_kept) {
        links.insert(
            "result".into(),
            json!({"url": u, "contentType": job.result_type.clone().unwrap_or_default(), "type": "downloadLink"}),
        );
    }
    let mut t = Map::new();
    t.insert("jobId".into(), json!(job.id));
    t.insert("jobStatus".into(), json!(job.status.as_str()));
    t.insert("_createdAt".into(), json!(iso_millis(from_millis(job.created_at))));
    t.insert("_modifiedAt".into(), json!(iso_millis(from_millis(job.modified_at))));
    t.insert("_createdBy".into(), json!(job.created_by));
    t.insert("X-Amzn-Trace-Id".into(), json!(job.trace_id));
    if job.status == JobStatus::Failed {
        t.insert("errors".into(), json!(job.errors.clone().unwrap_or_default()));
        t.insert("errorCount".into(), json!(job.error_count));
    }
    t.insert("_links".into(), Value::Object(links));
    Value::Object(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_signatures_bind_method_path_and_expiry() {
        let key = b"k";
        let s = sign(key, "GET", "/signed/v1/jobs/J", 100);
        assert!(verify(key, "GET", "/signed/v1/jobs/J", 100, &s, 99));
        assert!(!verify(key, "GET", "/signed/v1/jobs/J", 100, &s, 101), "expired");
        assert!(!verify(key, "PUT", "/signed/v1/jobs/J", 100, &s, 99), "other method");
        assert!(!verify(key, "GET", "/signed/v1/jobs/K", 100, &s, 99), "other path");
        assert!(!verify(key, "GET", "/signed/v1/jobs/J", 101, &s, 99), "other expiry");
        assert!(!verify(b"other", "GET", "/signed/v1/jobs/J", 100, &s, 99), "other key");
        assert!(!verify(key, "GET", "/signed/v1/jobs/J", 100, "!!", 99));
    }
}
