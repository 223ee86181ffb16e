//! Envelope framing: parsing and writing.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::str::FromStr;

use bytes::Bytes;
use serde::Deserialize;

use crate::{EnvelopeError, ItemType};

/// A 128-bit event id, written as 32 lowercase hex digits without dashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u128);

impl EventId {
    /// Parses 32 hex digits, with or without the four dashes of the UUID form.
    ///
    /// Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let mut value: u128 = 0;
        let mut digits = 0;
        let dashed = bytes.len() == 36;
        if !dashed && bytes.len() != 32 {
            return None;
        }
        for (i, &b) in bytes.iter().enumerate() {
            if dashed && matches!(i, 8 | 13 | 18 | 23) {
                if b != b'-' {
                    return None;
                }
                continue;
            }
            let nibble = (b as char).to_digit(16)?;
            value = (value << 4) | u128::from(nibble);
            digits += 1;
        }
        (digits == 32).then_some(Self(value))
    }

    /// True for the all-zero id.
    pub fn is_nil(&self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for EventId {
    type Err = EnvelopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(EnvelopeError::InvalidEventId)
    }
}

/// Turns a string that serde may have borrowed from `line` into a `Bytes` without copying
/// when it was borrowed.
fn str_bytes(line: &Bytes, text: Cow<'_, str>) -> Bytes {
    match text {
        Cow::Borrowed(s) if line.as_ptr_range().contains(&s.as_ptr()) => {
            line.slice_ref(s.as_bytes())
        }
        other => Bytes::from(other.into_owned().into_bytes()),
    }
}

fn bytes_str(bytes: &Bytes) -> &str {
    // Only ever built from `&str`, so this never falls back.
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// The known keys of an envelope header; everything else is skipped without being built.
#[derive(Deserialize)]
struct RawEnvelopeHeaders<'a> {
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    event_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    dsn: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    sent_at: Option<Cow<'a, str>>,
}

/// The first line of an envelope: a JSON object.
///
/// The exact bytes are kept (so unknown keys survive a round trip) along with the keys this
/// crate reads: `event_id`, `dsn` and `sent_at`. A malformed `trace` or any unknown key never
/// fails parsing; a duplicated known key does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeHeaders {
    raw: Bytes,
    event_id: Option<EventId>,
    dsn: Option<Bytes>,
    sent_at: Option<Bytes>,
}

impl EnvelopeHeaders {
    /// Headers `{}`.
    pub fn new() -> Self {
        Self {
            raw: Bytes::from_static(b"{}"),
            event_id: None,
            dsn: None,
            sent_at: None,
        }
    }

    /// Headers `{"event_id":"<id>"}`.
    pub fn with_event_id(event_id: EventId) -> Self {
        Self {
            raw: Bytes::from(format!("{{\"event_id\":\"{event_id}\"}}")),
            event_id: Some(event_id),
            dsn: None,
            sent_at: None,
        }
    }

    /// Reads headers from one line of JSON (without its newline).
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidEnvelopeHeader`] when the line is not a JSON object (or holds a
    /// raw newline), [`EnvelopeError::InvalidEventId`] when `event_id` is not a UUID.
    pub fn from_line(raw: Bytes) -> Result<Self, EnvelopeError> {
        if raw.contains(&b'\n') {
            return Err(EnvelopeError::InvalidEnvelopeHeader {
                source: serde::de::Error::custom("raw newline in header line"),
            });
        }
        let parsed: RawEnvelopeHeaders<'_> = serde_json::from_slice(&raw)
            .map_err(|source| EnvelopeError::InvalidEnvelopeHeader { source })?;
        let event_id = match parsed.event_id {
            Some(text) => Some(EventId::parse(&text).ok_or(EnvelopeError::InvalidEventId)?),
            None => None,
        };
        let dsn = parsed.dsn.map(|s| str_bytes(&raw, s));
        let sent_at = parsed.sent_at.map(|s| str_bytes(&raw, s));
        Ok(Self {
            event_id,
            dsn,
            sent_at,
            raw,
        })
    }

    /// The exact JSON line as read or built.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The envelope's event id, if the header names one.
    pub fn event_id(&self) -> Option<EventId> {
        self.event_id
    }

    /// The `dsn` key (set by browser SDKs using a tunnel), if present.
    pub fn dsn(&self) -> Option<&str> {
        self.dsn.as_ref().map(bytes_str)
    }

    /// The `sent_at` key (RFC 3339) as sent, if present and not `null`.
    pub fn sent_at(&self) -> Option<&str> {
        self.sent_at.as_ref().map(bytes_str)
    }
}

impl Default for EnvelopeHeaders {
    fn default() -> Self {
        Self::new()
    }
}

/// The known keys of an item header.
#[derive(Deserialize)]
struct RawItemHeaders<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default)]
    length: Option<u32>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    content_type: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    filename: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    attachment_type: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "crate::extract::opt_str")]
    platform: Option<Cow<'a, str>>,
    #[serde(default)]
    item_count: Option<u32>,
}

/// One item: a header line and a payload that is a slice of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    raw_header: Bytes,
    ty: ItemType,
    length: Option<u32>,
    content_type: Option<Bytes>,
    filename: Option<Bytes>,
    attachment_type: Option<Bytes>,
    platform: Option<Bytes>,
    item_count: Option<u32>,
    payload: Bytes,
}

impl Item {
    /// An item of `ty` holding `payload`, with an explicit `length` header.
    ///
    /// Payloads over 4 GiB cannot be framed: [`Envelope::write_to`] refuses them.
    pub fn new(ty: ItemType, payload: impl Into<Bytes>) -> Self {
        let payload = payload.into();
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let raw_header =
            Bytes::from(serde_json::json!({"type": ty.as_str(), "length": len}).to_string());
        Self {
            raw_header,
            ty,
            length: Some(len),
            content_type: None,
            filename: None,
            attachment_type: None,
            platform: None,
            item_count: None,
            payload,
        }
    }

    /// An item from a header line (JSON object with at least `type`) and a payload.
    ///
    /// A `length` in the header that disagrees with the payload is corrected when writing.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidItemHeader`] (with index 0) if the header does not parse.
    pub fn with_header(header: Bytes, payload: Bytes) -> Result<Self, EnvelopeError> {
        Self::from_parts(header, payload, 0)
    }

    fn parse_header(raw_header: &Bytes, index: usize) -> Result<RawItemHeaders<'_>, EnvelopeError> {
        serde_json::from_slice(raw_header)
            .map_err(|source| EnvelopeError::InvalidItemHeader { index, source })
    }

    fn from_parts(raw_header: Bytes, payload: Bytes, index: usize) -> Result<Self, EnvelopeError> {
        let h = Self::parse_header(&raw_header, index)?;
        let ty = ItemType::from_name(&h.ty);
        let length = h.length;
        let item_count = h.item_count;
        let content_type = h.content_type.map(|s| str_bytes(&raw_header, s));
        let filename = h.filename.map(|s| str_bytes(&raw_header, s));
        let attachment_type = h.attachment_type.map(|s| str_bytes(&raw_header, s));
        let platform = h.platform.map(|s| str_bytes(&raw_header, s));
        Ok(Self {
            raw_header,
            ty,
            length,
            content_type,
            filename,
            attachment_type,
            platform,
            item_count,
            payload,
        })
    }

    /// Sets (or replaces) one header key, keeping the others.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::InvalidItemHeader`] if the result is not a valid item header (for
    /// example `type` set to a number).
    pub fn set_header(&mut self, key: &str, value: serde_json::Value) -> Result<(), EnvelopeError> {
        let mut map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&self.raw_header)
                .map_err(|source| EnvelopeError::InvalidItemHeader { index: 0, source })?;
        map.insert(key.to_owned(), value);
        let raw = Bytes::from(serde_json::Value::Object(map).to_string());
        *self = Self::from_parts(raw, self.payload.clone(), 0)?;
        Ok(())
    }

    /// The item type.
    pub fn ty(&self) -> &ItemType {
        &self.ty
    }

    /// The payload bytes (a slice of the parsed input, not a copy).
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The header line exactly as read or built.
    pub fn raw_header(&self) -> &Bytes {
        &self.raw_header
    }

    /// The `length` the header declared, if any.
    pub fn declared_length(&self) -> Option<u32> {
        self.length
    }

    /// The `content_type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_ref().map(bytes_str)
    }

    /// The `filename` header (attachments).
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_ref().map(bytes_str)
    }

    /// The `attachment_type` header; `None` means the default `event.attachment`.
    pub fn attachment_type(&self) -> Option<&str> {
        self.attachment_type.as_ref().map(bytes_str)
    }

    /// The `platform` header (required on `profile_chunk`).
    pub fn platform(&self) -> Option<&str> {
        self.platform.as_ref().map(bytes_str)
    }

    /// The `item_count` header of containers (`log`, `span` v2, `trace_metric`).
    pub fn item_count(&self) -> Option<u32> {
        self.item_count
    }

    /// True when the raw header can be written as is in front of the payload.
    fn header_fits(&self) -> bool {
        match self.length {
            Some(len) => len as usize == self.payload.len(),
            None => !self.payload.contains(&b'\n'),
        }
    }
}

/// A parsed envelope: headers and items.
///
/// The wire format is a header line, then per item a header line and a payload, separated by
/// `\n`:
///
/// ```text
/// {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}
/// {"type":"attachment","length":10,"filename":"hello.txt"}
/// \xef\xbb\xbfHello\r\n
/// {"type":"event"}
/// {"message":"hello world","level":"error"}
/// ```
///
/// An item with `length` takes exactly that many bytes (any bytes at all); an item without
/// runs to the next `\n` or the end. The final newline is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    headers: EnvelopeHeaders,
    items: Vec<Item>,
}

impl Envelope {
    /// An envelope with these headers and no items.
    pub fn new(headers: EnvelopeHeaders) -> Self {
        Self {
            headers,
            items: Vec::new(),
        }
    }

    /// Parses an envelope; payloads are slices of `input`, not copies.
    ///
    /// Blank lines (and other ASCII whitespace) after the last item are tolerated.
    ///
    /// # Errors
    ///
    /// A framing error ([`EnvelopeError::is_framing`]) naming the item index where reading
    /// stopped. Never panics, whatever the input.
    pub fn parse(input: Bytes) -> Result<Self, EnvelopeError> {
        if input.is_empty() {
            return Err(EnvelopeError::Empty);
        }
        let buf: &[u8] = &input;
        let (line_end, next) = line_at(buf, 0);
        let line = header_line(&input, 0, line_end, None)?;
        let headers = EnvelopeHeaders::from_line(line)?;
        let mut items = Vec::new();
        let mut offset = next;
        while offset < buf.len() {
            if buf[offset..].iter().all(u8::is_ascii_whitespace) {
                break;
            }
            let index = items.len();
            let (line_end, payload_start) = line_at(buf, offset);
            let raw_header = header_line(&input, offset, line_end, Some(index))?;
            let h = Item::parse_header(&raw_header, index)?;
            let (payload_end, after) = match h.length {
                Some(len) => {
                    let available = buf.len() - payload_start;
                    if len as usize > available {
                        return Err(EnvelopeError::UnexpectedEof {
                            index,
                            declared: u64::from(len),
                            available,
                        });
                    }
                    let end = payload_start + len as usize;
                    match buf.get(end) {
                        None => (end, end),
                        Some(b'\n') => (end, end + 1),
                        Some(_) => return Err(EnvelopeError::MissingNewline { index }),
                    }
                }
                None => match memchr::memchr(b'\n', &buf[payload_start..]) {
                    Some(pos) => (payload_start + pos, payload_start + pos + 1),
                    None => (buf.len(), buf.len()),
                },
            };
            drop(h);
            let payload = input.slice(payload_start..payload_end);
            items.push(Item::from_parts(raw_header, payload, index)?);
            offset = after;
        }
        Ok(Self { headers, items })
    }

    /// Parses an envelope from a borrowed slice (copies it once into a `Bytes`).
    ///
    /// # Errors
    ///
    /// As [`Envelope::parse`].
    pub fn parse_slice(input: &[u8]) -> Result<Self, EnvelopeError> {
        Self::parse(Bytes::copy_from_slice(input))
    }

    /// Writes the envelope; every payload is followed by `\n`.
    ///
    /// Header lines are written as read, except that an item whose header would not frame its
    /// payload (a wrong `length`, or none while the payload holds a newline) gets a header with
    /// the right `length`. Parsing the output gives back an equal envelope in every other case.
    ///
    /// # Errors
    ///
    /// Whatever the writer returns.
    pub fn write_to<W: io::Write>(&self, mut out: W) -> io::Result<()> {
        out.write_all(&self.headers.raw)?;
        out.write_all(b"\n")?;
        for item in &self.items {
            if item.header_fits() {
                out.write_all(&item.raw_header)?;
            } else {
                let mut fixed = item.clone();
                let len = u32::try_from(item.payload.len()).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "payload over 4 GiB")
                })?;
                fixed
                    .set_header("length", serde_json::Value::from(len))
                    .map_err(io::Error::other)?;
                out.write_all(&fixed.raw_header)?;
            }
            out.write_all(b"\n")?;
            out.write_all(&item.payload)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Writes the envelope into a new buffer (see [`Envelope::write_to`]).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.wire_size_hint());
        // Writing to a Vec only fails for payloads over 4 GiB with a stale header.
        let _ = self.write_to(&mut out);
        Bytes::from(out)
    }

    fn wire_size_hint(&self) -> usize {
        self.headers.raw.len()
            + 1
            + self
                .items
                .iter()
                .map(|i| i.raw_header.len() + i.payload.len() + 16)
                .sum::<usize>()
    }

    /// The headers.
    pub fn headers(&self) -> &EnvelopeHeaders {
        &self.headers
    }

    /// Replaces the headers.
    pub fn set_headers(&mut self, headers: EnvelopeHeaders) {
        self.headers = headers;
    }

    /// The event id from the headers.
    pub fn event_id(&self) -> Option<EventId> {
        self.headers.event_id
    }

    /// The items in wire order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Appends an item.
    pub fn add_item(&mut self, item: Item) {
        self.items.push(item);
    }

    /// Removes and returns the items for which `keep` returns false.
    pub fn take_items_where(&mut self, mut take: impl FnMut(&Item) -> bool) -> Vec<Item> {
        let (taken, kept) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|item| take(item));
        self.items = kept;
        taken
    }

    /// The first item of a type, if any.
    pub fn item_of(&self, ty: &ItemType) -> Option<&Item> {
        self.items.iter().find(|item| item.ty() == ty)
    }

    /// True when the envelope holds no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Finds the line starting at `start`: returns (end of line, start of next line).
fn line_at(buf: &[u8], start: usize) -> (usize, usize) {
    match memchr::memchr(b'\n', &buf[start..]) {
        Some(pos) => (start + pos, start + pos + 1),
        None => (buf.len(), buf.len()),
    }
}

fn header_line(
    input: &Bytes,
    start: usize,
    end: usize,
    index: Option<usize>,
) -> Result<Bytes, EnvelopeError> {
    if end > start && input[end - 1] == b'\r' {
        return Err(EnvelopeError::CarriageReturn { index });
    }
    Ok(input.slice(start..end))
}
