//! A lean HTTP/1.1 client for exactly one request on a fresh connection.
//!
//! A check opens a connection, sends one request, reads one response and closes. It
//! never reuses or pipelines connections, so it needs much less than a general client:
//! no connection task, no request queue, no header map. The request is written from
//! one buffer built for it; the response is read through one buffer that starts small
//! and grows only while reads fill it. That keeps the memory a check holds while it
//! waits for the server to a few kilobytes.
//!
//! Framing follows RFC 9112 section 6.3, as hyper's client does: no body after `HEAD`,
//! `1xx`, `204` and `304`; chunked when `Transfer-Encoding` ends in `chunked`; else the
//! `Content-Length`; else everything until the server closes. Informational responses
//! (`1xx` other than `101`) are skipped.

use std::io;

use bitwobbly_core::{CheckError, ErrorKind, Phase};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most header fields a response head may have.
const MAX_HEADERS: usize = 100;
/// Longest response head accepted, status line and fields together.
const MAX_HEAD_LEN: usize = 64 * 1024;
/// Size of the first read; reads that fill the buffer double it, up to [`MAX_READ`].
const FIRST_READ: usize = 1024;
/// Largest single read.
const MAX_READ: usize = 16 * 1024;
/// Longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// Longest trailer section accepted.
const MAX_TRAILERS: usize = 16 * 1024;

/// Why a response could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum H1Error {
    /// Reading or writing the connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The server sent something that is not valid HTTP/1.x.
    #[error("invalid response: {0}")]
    Protocol(String),
    /// The server closed the connection before the message was complete.
    #[error("connection closed before {0} was complete")]
    Closed(&'static str),
}

impl H1Error {
    /// The check error for this failure in `phase`: broken HTTP (or a broken TLS record)
    /// is `http_protocol_error`, a connection that failed or ended early is
    /// `connection_reset`.
    pub(crate) fn into_check_error(self, phase: Phase) -> CheckError {
        let kind = match &self {
            Self::Io(e) => crate::http::io_kind(e),
            Self::Protocol(_) => ErrorKind::HttpProtocolError,
            Self::Closed(_) => ErrorKind::ConnectionReset,
        };
        CheckError::new(kind, phase, self.to_string())
    }
}

fn protocol(what: impl Into<String>) -> H1Error {
    H1Error::Protocol(what.into())
}

/// The head of a final response.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub(crate) minor_version: u8,
    /// Header fields in order, names lowercase, values decoded lossily.
    pub(crate) headers: Vec<(String, String)>,
}

/// A failure while the body streams: the sink's, or reading's.
enum SinkOr {
    Sink(CheckError),
    Read(H1Error),
}

impl From<H1Error> for SinkOr {
    fn from(e: H1Error) -> Self {
        Self::Read(e)
    }
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes remain.
    Length(u64),
    /// Chunked, in the given decoder state.
    Chunked(Chunk),
    /// Everything until the server closes.
    Close,
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk, reading trailer fields up to the empty line.
    Trailers,
}

/// One connection carrying one request, and its read buffer.
#[derive(Debug)]
pub(crate) struct Connection<S> {
    io: S,
    buf: BytesMut,
    next_read: usize,
    framing: Framing,
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps a connected stream. Nothing is allocated until the response arrives.
    pub(crate) fn new(io: S) -> Self {
        Self {
            io,
            buf: BytesMut::new(),
            next_read: FIRST_READ,
            framing: Framing::Empty,
        }
    }

    /// Writes a complete request (head and body, already encoded) and flushes it.
    ///
    /// # Errors
    ///
    /// When the connection fails.
    pub(crate) async fn send(&mut self, request: &[u8]) -> Result<(), H1Error> {
        self.io.write_all(request).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Reads the final response head to a request with method `method`, skipping
    /// informational responses, and prepares to read its body.
    ///
    /// # Errors
    ///
    /// An invalid head is [`H1Error::Protocol`]; a connection closed before the head
    /// is complete is [`H1Error::Closed`].
    pub(crate) async fn read_head(&mut self, method: &http::Method) -> Result<Head, H1Error> {
        loop {
            let parsed = loop {
                if let Some(parsed) = parse_head(&self.buf)? {
                    break parsed;
                }
                if self.buf.len() >= MAX_HEAD_LEN {
                    return Err(protocol(format!(
                        "response head longer than {MAX_HEAD_LEN} bytes"
                    )));
                }
                if self.fill().await? == 0 {
                    return Err(H1Error::Closed("the response head"));
                }
            };
            let (len, head) = parsed;
            self.buf.advance(len);
            if let Some(framing) = framing(&head, method)? {
                self.framing = framing;
                return Ok(head);
            }
        }
    }

    /// The body length the head declared, or 0 when it declared none.
    pub(crate) fn declared_len(&self) -> u64 {
        match self.framing {
            Framing::Length(n) => n,
            _ => 0,
        }
    }

    /// Reads the body to its end, handing each piece of data to `sink` as it arrives.
    /// An error from `sink` stops the read and is returned as is.
    ///
    /// # Errors
    ///
    /// `sink`'s error; else, in phase `transfer`, `http_protocol_error` for broken
    /// chunked framing and `connection_reset` when the connection fails or ends before
    /// the declared length or the last chunk.
    pub(crate) async fn read_body<F>(&mut self, mut sink: F) -> Result<(), CheckError>
    where
        F: FnMut(&[u8]) -> Result<(), CheckError>,
    {
        self.read_body_raw(&mut sink).await.map_err(|e| match e {
            SinkOr::Sink(e) => e,
            SinkOr::Read(e) => e.into_check_error(Phase::Transfer),
        })
    }

    async fn read_body_raw<F>(&mut self, sink: &mut F) -> Result<(), SinkOr>
    where
        F: FnMut(&[u8]) -> Result<(), CheckError>,
    {
        let mut sink = |data: &[u8]| sink(data).map_err(SinkOr::Sink);
        loop {
            match self.framing {
                Framing::Empty => return Ok(()),
                Framing::Length(0) => {
                    self.framing = Framing::Empty;
                    return Ok(());
                }
                Framing::Length(left) => {
                    if self.buf.is_empty() && self.fill().await? == 0 {
                        return Err(H1Error::Closed("the body").into());
                    }
                    let n = self
                        .buf
                        .len()
                        .min(usize::try_from(left).unwrap_or(usize::MAX));
                    self.framing = Framing::Length(left - n as u64);
                    sink(&self.buf[..n])?;
                    self.buf.advance(n);
                }
                Framing::Close => {
                    if self.buf.is_empty() && self.fill().await? == 0 {
                        self.framing = Framing::Empty;
                        return Ok(());
                    }
                    sink(&self.buf)?;
                    self.buf.clear();
                }
                Framing::Chunked(state) => {
                    if let Some((next, data)) = self.step_chunked(state)? {
                        self.framing = next;
                        if data > 0 {
                            sink(&self.buf[..data])?;
                            self.buf.advance(data);
                        }
                    } else if self.fill().await? == 0 {
                        return Err(H1Error::Closed("the chunked body").into());
                    }
                }
            }
        }
    }

    /// Advances the chunked decoder over buffered bytes. Returns the next framing and
    /// how many bytes at the front of the buffer are data, or `None` when more bytes
    /// must be read first.
    fn step_chunked(&mut self, state: Chunk) -> Result<Option<(Framing, usize)>, H1Error> {
        match state {
            Chunk::Size => {
                let Some(end) = find_crlf(&self.buf) else {
                    if self.buf.len() > MAX_CHUNK_LINE {
                        return Err(protocol("chunk size line too long"));
                    }
                    return Ok(None);
                };
                let size = chunk_size(&self.buf[..end])?;
                self.buf.advance(end + 2);
                let next = if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                };
                Ok(Some((Framing::Chunked(next), 0)))
            }
            Chunk::Data(left) => {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let n = self
                    .buf
                    .len()
                    .min(usize::try_from(left).unwrap_or(usize::MAX));
                let left = left - n as u64;
                let next = if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                };
                Ok(Some((Framing::Chunked(next), n)))
            }
            Chunk::DataEnd => {
                if self.buf.len() < 2 {
                    return Ok(None);
                }
                if &self.buf[..2] != b"\r\n" {
                    return Err(protocol("chunk data not followed by CRLF"));
                }
                self.buf.advance(2);
                Ok(Some((Framing::Chunked(Chunk::Size), 0)))
            }
            Chunk::Trailers => {
                let Some(end) = find_crlf(&self.buf) else {
                    if self.buf.len() > MAX_TRAILERS {
                        return Err(protocol("trailer section too long"));
                    }
                    return Ok(None);
                };
                self.buf.advance(end + 2);
                // The empty line ends the message; trailer fields are skipped.
                let next = if end == 0 {
                    Framing::Empty
                } else {
                    Framing::Chunked(Chunk::Trailers)
                };
                Ok(Some((next, 0)))
            }
        }
    }

    /// Reads once into the buffer, making room first. Returns the bytes read (0 at the
    /// end of the stream).
    async fn fill(&mut self) -> Result<usize, H1Error> {
        let want = self.next_read;
        if self.buf.capacity() - self.buf.len() < want {
            self.buf.reserve(want);
        }
        let room = self.buf.capacity() - self.buf.len();
        let n = self.io.read_buf(&mut self.buf).await?;
        if n == room && self.next_read < MAX_READ {
            self.next_read *= 2;
        }
        Ok(n)
    }
}

/// Parses a complete response head at the start of `buf`: its length and the head,
/// or `None` when more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Head)>, H1Error> {
    if buf.is_empty() {
        return Ok(None);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(protocol(format!("invalid response head: {e}"))),
    };
    let (Some(status), Some(minor_version)) = (response.code, response.version) else {
        return Err(protocol("invalid response head: no status line"));
    };
    let headers = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Ok(Some((
        len,
        Head {
            status,
            minor_version,
            headers,
        },
    )))
}

/// How the body of a response with `head` to `method` is delimited, or `None` for an
/// informational response, which is followed by another head.
fn framing(head: &Head, method: &http::Method) -> Result<Option<Framing>, H1Error> {
    match head.status {
        101 | 204 | 304 => return Ok(Some(Framing::Empty)),
        100..=199 => return Ok(None),
        _ => {}
    }
    if *method == http::Method::HEAD
        || (*method == http::Method::CONNECT && (200..300).contains(&head.status))
    {
        return Ok(Some(Framing::Empty));
    }
    let values = |name: &'static str| {
        head.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(last) = values("transfer-encoding").next_back() {
        if head.minor_version == 0 {
            return Err(protocol("transfer-encoding in an HTTP/1.0 response"));
        }
        let chunked = last
            .rsplit(',')
            .next()
            .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
        return Ok(Some(if chunked {
            Framing::Chunked(Chunk::Size)
        } else {
            Framing::Close
        }));
    }
    let mut length = None;
    for value in values("content-length") {
        for item in value.split(',') {
            let item = item.trim();
            let n = (!item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()))
                .then(|| item.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| protocol(format!("invalid content-length {value:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(protocol("conflicting content-length values"));
            }
            length = Some(n);
        }
    }
    Ok(Some(length.map_or(Framing::Close, Framing::Length)))
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Parses a chunk-size line (without its CRLF): hex digits, optional whitespace, and
/// optional `;` extensions, which are ignored.
fn chunk_size(line: &[u8]) -> Result<u64, H1Error> {
    let digits = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let rest = &line[digits..];
    let rest_ok = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .is_none_or(|i| rest[i] == b';');
    if digits == 0 || !rest_ok {
        return Err(protocol("invalid chunk size line"));
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let digit = u64::from(char::from(b).to_digit(16).unwrap_or(0));
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(digit))
            .ok_or_else(|| protocol("chunk size too large"))?;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use http::Method;
    use tokio::io::{AsyncWriteExt, DuplexStream, duplex};

    use super::*;

    /// A connection whose server side has sent `reply` in pieces of `piece` bytes, and
    /// that server side (drop it to close the connection).
    async fn answered(reply: &[u8], piece: usize) -> (Connection<DuplexStream>, DuplexStream) {
        let (client, mut server) = duplex(1 << 20);
        for part in reply.chunks(piece) {
            server.write_all(part).await.unwrap();
        }
        (Connection::new(client), server)
    }

    /// Like [`answered`], then the server closes.
    async fn closed_after(reply: &[u8], piece: usize) -> Connection<DuplexStream> {
        answered(reply, piece).await.0
    }

    async fn body_of(conn: &mut Connection<DuplexStream>) -> Result<Vec<u8>, H1Error> {
        let mut body = Vec::new();
        let mut sink = |data: &[u8]| {
            body.extend_from_slice(data);
            Ok(())
        };
        match conn.read_body_raw(&mut sink).await {
            Ok(()) => Ok(body),
            Err(SinkOr::Read(e)) => Err(e),
            Err(SinkOr::Sink(e)) => panic!("the sink never fails: {e}"),
        }
    }

    #[tokio::test]
    async fn a_sized_body_is_read_exactly() {
        for piece in [1, 3, 1000] {
            let mut conn = closed_after(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b \r\n\r\nhelloEXTRA",
                piece,
            )
            .await;
            let head = conn.read_head(&Method::GET).await.unwrap();
            assert_eq!(head.status, 200);
            assert_eq!(head.minor_version, 1);
            assert_eq!(
                head.headers,
                vec![
                    ("content-length".to_owned(), "5".to_owned()),
                    ("x-a".to_owned(), "b".to_owned())
                ]
            );
            assert_eq!(conn.declared_len(), 5);
            assert_eq!(body_of(&mut conn).await.unwrap(), b"hello");
        }
    }

    #[tokio::test]
    async fn a_chunked_body_is_decoded_with_extensions_and_trailers() {
        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n\
            5;ext=1\r\nhello\r\n1 \r\n,\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
        for piece in [1, 2, 7, 1000] {
            let (mut conn, _server) = answered(reply, piece).await;
            conn.read_head(&Method::GET).await.unwrap();
            assert_eq!(conn.declared_len(), 0);
            assert_eq!(body_of(&mut conn).await.unwrap(), b"hello, world");
        }
    }

    #[tokio::test]
    async fn broken_chunks_are_protocol_errors() {
        for reply in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
        ] {
            let mut conn = closed_after(reply, 1000).await;
            conn.read_head(&Method::GET).await.unwrap();
            let err = body_of(&mut conn).await.unwrap_err();
            assert!(matches!(err, H1Error::Protocol(_)), "{err}");
        }
    }

    #[tokio::test]
    async fn without_length_the_body_runs_until_close() {
        let mut conn = closed_after(b"HTTP/1.0 200 OK\r\n\r\nall of it", 4).await;
        let head = conn.read_head(&Method::GET).await.unwrap();
        assert_eq!(head.minor_version, 0);
        assert_eq!(body_of(&mut conn).await.unwrap(), b"all of it");
    }

    #[tokio::test]
    async fn a_close_before_the_end_is_reported() {
        let mut conn = closed_after(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 5).await;
        conn.read_head(&Method::GET).await.unwrap();
        assert!(matches!(
            body_of(&mut conn).await.unwrap_err(),
            H1Error::Closed("the body")
        ));
        let mut conn = closed_after(b"HTTP/1.1 200 OK\r\nContent-Le", 5).await;
        assert!(matches!(
            conn.read_head(&Method::GET).await.unwrap_err(),
            H1Error::Closed("the response head")
        ));
    }

    #[tokio::test]
    async fn informational_responses_are_skipped() {
        let mut conn = closed_after(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
              HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            1000,
        )
        .await;
        let head = conn.read_head(&Method::POST).await.unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(body_of(&mut conn).await.unwrap(), b"ok");
    }

    #[tokio::test]
    async fn head_responses_and_no_content_have_no_body() {
        let (mut conn, _server) =
            answered(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", 100).await;
        conn.read_head(&Method::HEAD).await.unwrap();
        assert_eq!(conn.declared_len(), 0);
        assert!(body_of(&mut conn).await.unwrap().is_empty());
        let (mut conn, _server) = answered(b"HTTP/1.1 204 No Content\r\n\r\n", 100).await;
        conn.read_head(&Method::GET).await.unwrap();
        assert!(body_of(&mut conn).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn bad_heads_are_protocol_errors() {
        for reply in [
            &b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let mut conn = closed_after(reply, 1000).await;
            let err = conn.read_head(&Method::GET).await.unwrap_err();
            assert!(matches!(err, H1Error::Protocol(_)), "{err}");
        }
        let mut huge = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
        huge.resize(MAX_HEAD_LEN + 10, b'a');
        let (mut conn, _server) = answered(&huge, 4096).await;
        let err = conn.read_head(&Method::GET).await.unwrap_err();
        assert!(matches!(err, H1Error::Protocol(_)), "{err}");
    }

    #[tokio::test]
    async fn the_read_buffer_starts_small() {
        let mut conn = closed_after(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 100).await;
        conn.read_head(&Method::GET).await.unwrap();
        assert!(
            conn.buf.capacity() <= 2 * FIRST_READ,
            "{}",
            conn.buf.capacity()
        );
    }
}
