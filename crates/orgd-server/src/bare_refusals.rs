//! hyper refuses an HTTP/1.1 request head it cannot parse (a malformed request line, header bytes outside
//! HTTP's grammar) or one past the connection's head limit on its own, before any service sees it: a bare
//! 400, 414 or 431 with an empty body, then it closes the connection. [`Dressed`] wraps the connection's
//! stream, recognises that answer as hyper writes it, and sends the same status in the dialect's envelope
//! instead (the dialect of the request line's path when it could be read, else Orgvue's).

use crate::mounts::Mounts;
use crate::render;
use orgd_core::error::{ApiError, ErrorCode};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most header fields hyper reads in an HTTP/1.1 head (its default).
const MAX_HEADERS: usize = 100;

/// The longest path prefix remembered to choose the dialect.
const PATH_PREFIX: usize = 64;

/// A connection's stream whose bare refusals by hyper are answered in the dialect's envelope.
pub struct Dressed<S> {
    inner: S,
    /// The path of the last request line seen at the start of a read (a prefix).
    path: Vec<u8>,
    /// The envelope answer being written in place of a bare refusal, and how much of it is written.
    answer: Option<(Vec<u8>, usize)>,
}

impl<S> Dressed<S> {
    /// Wrap a connection's stream.
    pub fn new(inner: S) -> Self {
        Dressed { inner, path: Vec::new(), answer: None }
    }
}

/// The path of a request line at the start of `bytes` (`METHOD SP /path…`), when there is one.
fn request_path(bytes: &[u8]) -> Option<&[u8]> {
    let sp = bytes.iter().take(16).position(|&b| b == b' ')?;
    if sp == 0 || !bytes[..sp].iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let rest = &bytes[sp + 1..];
    if rest.first() != Some(&b'/') {
        return None;
    }
    let end = rest.iter().take(PATH_PREFIX).position(|&b| matches!(b, b' ' | b'?' | b'\r' | b'\n'));
    Some(&rest[..end.unwrap_or(rest.len().min(PATH_PREFIX))])
}

/// The error of a bare refusal hyper writes: exactly a status line of 400, 414 or 431 and the headers
/// `content-length: 0` and `date`, nothing else. Every answer of orgd's own carries a body or other headers.
fn bare_refusal(buf: &[u8]) -> Option<ApiError> {
    if buf.len() > 256 || !buf.starts_with(b"HTTP/1.") {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let status = first.strip_prefix("HTTP/1.1 ").or_else(|| first.strip_prefix("HTTP/1.0 "))?;
    let limit = crate::head_limits::CONNECTION_HEAD_LIMIT;
    let e = match status.get(..3)? {
        "400" => ApiError::new(ErrorCode::RequestMalformed),
        "414" => ApiError::new(ErrorCode::UriTooLong).with_detail(format!("the request's head is over {limit} bytes.")),
        "431" => ApiError::new(ErrorCode::HeaderFieldsTooLarge)
            .with_detail(format!("the request's head is over {limit} bytes or has over {MAX_HEADERS} fields.")),
        _ => return None,
    };
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value.trim() == "0" => empty = true,
            "date" | "connection" => {}
            _ => return None,
        }
    }
    empty.then_some(e)
}

/// The whole answer, in the dialect of `path`, that closes the connection.
fn envelope(e: &ApiError, path: &[u8]) -> Vec<u8> {
    let dialect = Mounts::served().envelope(&String::from_utf8_lossy(path));
    let status = render::status(e, dialect);
    let body = render::body(e, dialect, "-").to_string();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: {}\r\n\
         x-content-type-options: nosniff\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

impl<S: AsyncRead + Unpin> AsyncRead for Dressed<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if let Some(path) = request_path(&buf.filled()[before..]) {
            let path = path.to_vec();
            self.path = path;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> Dressed<S> {
    /// Write what is left of the envelope answer.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, at)) = self.answer.as_mut() {
            if *at == bytes.len() {
                return Poll::Ready(Ok(()));
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *at += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Dressed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.answer.is_none() {
            match bare_refusal(buf) {
                Some(e) => {
                    let answer = envelope(&e, &self.path);
                    self.answer = Some((answer, 0));
                }
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        // The refusal is the connection's last answer: it stands for whatever hyper writes after it.
        ready!(self.poll_answer(cx))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_answer(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_answer(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_refusals_are_recognised() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 18:00:00 GMT\r\n\r\n";
        assert_eq!(bare_refusal(bare).unwrap().code, ErrorCode::HeaderFieldsTooLarge);
        let bad = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_refusal(bad).unwrap().code, ErrorCode::RequestMalformed);
        for ours in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
        ] {
            assert!(bare_refusal(ours).is_none(), "{}", String::from_utf8_lossy(ours));
        }
    }

    #[test]
    fn the_envelope_follows_the_request_lines_path() {
        assert_eq!(request_path(b"GET /v1/users?x=1 HTTP/1.1\r\n"), Some(&b"/v1/users"[..]));
        assert_eq!(request_path(b"\x16\x03\x01"), None);
        assert_eq!(request_path(b"GET http://x/ HTTP/1.1"), None);
        Mounts::serve(crate::routes::api().endpoints());
        let e = ApiError::new(ErrorCode::RequestMalformed);
        let apperian = String::from_utf8(envelope(&e, b"/v1/users")).unwrap();
        assert!(apperian.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{apperian}");
        assert!(apperian.ends_with(r#"{"error":{"code":400001,"message":"Malformed request"}}"#), "{apperian}");
        let orgvue = String::from_utf8(envelope(&e, b"/api/v1/ACME/datasets")).unwrap();
        assert!(orgvue.contains(r#""code":"400001""#), "{orgvue}");
        let length: usize =
            orgvue.split("content-length: ").nth(1).unwrap().split("\r\n").next().unwrap().parse().unwrap();
        assert_eq!(length, orgvue.split("\r\n\r\n").nth(1).unwrap().len());
    }
}
