//! Where an import's actions come from: a list in memory (a sync request body, a seed file), or bytes
//! (a file, an upload, a remote location) parsed as they arrive, on a blocking thread: a JSON array element
//! by element, or CSV record by record, gzip unpacked on the way within a limit. Memory holds a few
//! batches, whatever the size of the input.

use super::actions::RawAction;
use super::csv_actions::CsvRows;
use super::Dataset;
use crate::error::{ApiError, ErrorCode};
use async_trait::async_trait;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Actions handed over at a time.
pub const BATCH: usize = 2000;

/// A source of actions, a batch at a time.
#[async_trait]
pub trait ActionSource: Send {
    /// The next actions (at most [`BATCH`]); empty at the end.
    async fn next_batch(&mut self) -> Result<Vec<RawAction>, ApiError>;
}

/// Actions already in memory.
pub struct InMemory(std::vec::IntoIter<Value>);

impl InMemory {
    /// The actions of a JSON array.
    pub fn new(actions: Vec<Value>) -> Self {
        InMemory(actions.into_iter())
    }
}

#[async_trait]
impl ActionSource for InMemory {
    async fn next_batch(&mut self) -> Result<Vec<RawAction>, ApiError> {
        Ok(self.0.by_ref().take(BATCH).map(RawAction::Json).collect())
    }
}

/// How the bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of actions.
    Json,
    /// CSV with a header row of keys including `_action` (orgvue-dialect §3.11).
    Csv,
}

/// The most bytes a gzip input may unpack to: ten times the largest upload (2.5 GiB).
pub const GZIP_EXPANDED_LIMIT: u64 = 10 * super::jobs::FILE_LIMIT as u64;

/// Actions parsed from bytes on a blocking thread.
pub struct Parsed {
    rx: mpsc::Receiver<Result<Vec<RawAction>, ApiError>>,
    done: bool,
}

impl Parsed {
    /// Parse `input` (gzip-unpacked first, up to `gzip_limit` bytes, when given) as `format`; CSV headers
    /// are checked against `ds` before any row.
    pub fn spawn(input: Box<dyn Read + Send>, format: Format, gzip_limit: Option<u64>, ds: &Dataset) -> Parsed {
        let (tx, rx) = mpsc::channel(2);
        let columns: Vec<String> = ds.properties.iter().map(|p| p.key.clone()).collect();
        tokio::task::spawn_blocking(move || {
            let over = Arc::new(AtomicBool::new(false));
            let reader: Box<dyn Read + Send> = match gzip_limit {
                Some(limit) => Box::new(Limited {
                    inner: flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, input)),
                    left: limit,
                    over: over.clone(),
                }),
                None => input,
            };
            let reader = BufReader::with_capacity(1 << 16, reader);
            let sent = match format {
                Format::Json => parse_json(reader, &tx),
                Format::Csv => parse_csv(reader, &columns, &tx),
            };
            if let Err(e) = sent {
                let e = if over.load(Ordering::Relaxed) { expanded_too_far(gzip_limit.unwrap_or(0)) } else { e };
                let _ = tx.blocking_send(Err(e));
            }
        });
        Parsed { rx, done: false }
    }
}

#[async_trait]
impl ActionSource for Parsed {
    async fn next_batch(&mut self) -> Result<Vec<RawAction>, ApiError> {
        if self.done {
            return Ok(Vec::new());
        }
        match self.rx.recv().await {
            Some(Ok(batch)) => Ok(batch),
            Some(Err(e)) => {
                self.done = true;
                Err(e)
            }
            None => {
                self.done = true;
                Ok(Vec::new())
            }
        }
    }
}

fn expanded_too_far(limit: u64) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge).with_message(format!(
        "The import file unpacks to more than {limit} bytes ({} GiB), the most a gzip file may hold; \
         split it into several imports.",
        limit as f64 / (1u64 << 30) as f64
    ))
}

/// A reader that fails once more than `left` bytes came through (and says so in `over`).
struct Limited<R> {
    inner: R,
    left: u64,
    over: Arc<AtomicBool>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.over.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("the unpacked input exceeds its limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The message of a read that failed (a gzip stream cut short, a connection that broke off).
fn broken(e: &std::io::Error) -> ApiError {
    let why = if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "the file ends early (a truncated upload or gzip stream)".to_string()
    } else {
        format!("the file could not be read: {e}")
    };
    ApiError::invalid_field("importLocation", why)
}

type Tx = mpsc::Sender<Result<Vec<RawAction>, ApiError>>;

/// Streams the elements of the top-level array into batches.
struct Batches<'a> {
    tx: &'a Tx,
    batch: Vec<RawAction>,
}

impl<'de> Visitor<'de> for Batches<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of item actions")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<bool, A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.batch.push(RawAction::Json(v));
            if self.batch.len() == BATCH && self.tx.blocking_send(Ok(std::mem::take(&mut self.batch))).is_err() {
                return Ok(false);
            }
        }
        if !self.batch.is_empty() && self.tx.blocking_send(Ok(std::mem::take(&mut self.batch))).is_err() {
            return Ok(false);
        }
        Ok(true)
    }
}

impl<'de> DeserializeSeed<'de> for Batches<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_seq(self)
    }
}

fn parse_json(reader: impl Read, tx: &Tx) -> Result<(), ApiError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let done = Batches { tx, batch: Vec::new() }.deserialize(&mut de).map_err(json_fault)?;
    if done {
        de.end().map_err(json_fault)?;
    }
    Ok(())
}

fn json_fault(e: serde_json::Error) -> ApiError {
    if let Some(kind) = e.io_error_kind() {
        return broken(&std::io::Error::new(kind, e.to_string()));
    }
    match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::invalid_field("importLocation", "the file must hold a JSON array of item actions")
        }
        _ => ApiError::new(ErrorCode::RequestBodyNotJson)
            .with_message(format!("The import file is not valid JSON: {e}.")),
    }
}

fn parse_csv(reader: impl Read, properties: &[String], tx: &Tx) -> Result<(), ApiError> {
    let mut rows = CsvRows::open(reader, broken)?;
    let header = rows.header().clone();
    if let Some(h) = header.iter().find(|h| *h != "_action" && *h != "_id" && !properties.iter().any(|p| p == *h)) {
        return Err(rows.fault(1, format!("column '{h}' is not a property of the dataset (keys are case-sensitive)")));
    }
    if !header.iter().any(|h| h == "_action") {
        return Err(rows.fault(1, "the header row must include _action"));
    }
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    while let Some(line) = rows.next(&mut record)? {
        // The next record starts with room for one like this one, instead of growing field by field.
        let room = csv::StringRecord::with_capacity(record.as_slice().len(), record.len());
        batch.push(RawAction::Csv { header: header.clone(), record: std::mem::replace(&mut record, room), line });
        if batch.len() == BATCH
            && tx.blocking_send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))).is_err()
        {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Ok(batch));
    }
    Ok(())
}

/// A `Read` over pieces of bytes that an async task sends (an upload read from the store, a remote
/// location's body); an `Err` piece ends the reading with that error.
pub struct ChannelReader {
    rx: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    /// A reader and the sender that feeds it.
    pub fn new() -> (mpsc::Sender<std::io::Result<Vec<u8>>>, ChannelReader) {
        let (tx, rx) = mpsc::channel(4);
        (tx, ChannelReader { rx, piece: Vec::new(), at: 0 })
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.piece.len() {
            match self.rx.blocking_recv() {
                Some(Ok(p)) => {
                    self.piece = p;
                    self.at = 0;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::parse_new;
    use serde_json::json;

    fn ds() -> Dataset {
        let n = parse_new(&json!({"name":"T","type":"LOOKUP","autoId":"k","labelId":"k",
            "properties":[{"key":"k","type":"text","isRequired":true},{"key":"n","type":"number"}]}))
        .unwrap();
        Dataset {
            id: crate::ids::DatasetId::generate(),
            org_id: crate::ids::OrgId::generate(),
            name: n.name,
            ty: n.ty,
            auto_id: n.auto_id,
            label_id: n.label_id,
            tree_id: None,
            tree_parent_id: None,
            tags: vec![],
            properties: n.properties,
            from_dataset: None,
            to_dataset: None,
            cache_key: String::new(),
            item_count: 0,
            created_at: 0,
            modified_at: 0,
            grants: Default::default(),
            rows: None,
            view: None,
        }
    }

    async fn all(mut p: Parsed) -> Result<Vec<RawAction>, ApiError> {
        let mut out = Vec::new();
        loop {
            let b = p.next_batch().await?;
            if b.is_empty() {
                return Ok(out);
            }
            out.extend(b);
        }
    }

    fn bytes(s: &str) -> Box<dyn Read + Send> {
        Box::new(std::io::Cursor::new(s.as_bytes().to_vec()))
    }

    #[tokio::test]
    async fn json_arrays_stream_in_batches() {
        let text = format!("[{}]", vec![r#"{"_action":"create","k":"a"}"#; 4500].join(","));
        let got = all(Parsed::spawn(bytes(&text), Format::Json, None, &ds())).await.unwrap();
        assert_eq!(got.len(), 4500);
        let e = all(Parsed::spawn(bytes("{\"a\":1}"), Format::Json, None, &ds())).await.unwrap_err();
        assert_eq!(e.faults[0].field, "importLocation");
        let e = all(Parsed::spawn(bytes("[{\"_action\":\n}]"), Format::Json, None, &ds())).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::RequestBodyNotJson);
        assert!(e.orgvue_message().contains("line 2"), "{}", e.orgvue_message());
    }

    #[tokio::test]
    async fn csv_headers_are_checked_and_rows_keep_their_lines() {
        let got =
            all(Parsed::spawn(bytes("\u{feff}_action,k,n\ncreate,\"a,\nb\",1\nupdate,c,\n"), Format::Csv, None, &ds()))
                .await
                .unwrap();
        assert_eq!(got.len(), 2);
        let RawAction::Csv { record, line, .. } = &got[1] else { panic!() };
        assert_eq!(
            (record.len(), &record[2], *line),
            (3, "", 4),
            "the empty cell is kept empty; the quoted newline counts"
        );
        let got = all(Parsed::spawn(bytes("_action,k\rcreate,a\rcreate,b\n\ncreate,c"), Format::Csv, None, &ds()))
            .await
            .unwrap();
        let lines: Vec<_> = got.iter().map(|a| a.line().unwrap()).collect();
        assert_eq!(lines, [1, 1, 3], "lines count \\n as wc -l and sed do; a lone \\r ends a row, not a line");
        for (text, why) in [
            ("_action,k,k\n", "appears twice"),
            ("_action,k,Salary\n", "not a property"),
            ("k,n\n", "must include _action"),
            ("_action,k\ncreate,a,b\n", "has 3 fields"),
        ] {
            let e = all(Parsed::spawn(bytes(text), Format::Csv, None, &ds())).await.unwrap_err();
            assert!(e.faults[0].message.contains(why), "{text}: {:?}", e.faults);
        }
    }

    #[tokio::test]
    async fn gzip_unpacks_within_its_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"[").unwrap();
        for i in 0..20_000 {
            write!(gz, "{}{{\"_action\":\"create\",\"k\":\"{i}\"}}", if i > 0 { "," } else { "" }).unwrap();
        }
        gz.write_all(b"]").unwrap();
        let packed = gz.finish().unwrap();
        let input = || -> Box<dyn Read + Send> { Box::new(std::io::Cursor::new(packed.clone())) };
        assert_eq!(all(Parsed::spawn(input(), Format::Json, Some(10 << 20), &ds())).await.unwrap().len(), 20_000);
        let e = all(Parsed::spawn(input(), Format::Json, Some(100_000), &ds())).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::PayloadTooLarge);
        assert!(e.orgvue_message().contains("100000 bytes"), "{}", e.orgvue_message());
        let cut: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(packed[..packed.len() / 2].to_vec()));
        let e = all(Parsed::spawn(cut, Format::Json, Some(10 << 20), &ds())).await.unwrap_err();
        assert!(e.faults[0].message.contains("ends early"), "{:?}", e);
    }
}
