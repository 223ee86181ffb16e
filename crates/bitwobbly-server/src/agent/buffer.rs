//! The agent's on-disk result buffer: an append-only queue of results waiting for the
//! server, bounded by bytes, that survives restarts and crashes.
//!
//! The state directory holds:
//!
//! - `lock`: locked while an agent uses the directory (two agents on one directory would
//!   number their results twice).
//! - `agent.json`: `{"agent_id": "...", "stored_seq": N}`, replaced atomically. `agent_id`
//!   is made once; `stored_seq` is the highest `seq` the server is known to have stored
//!   (everything up to it may be deleted).
//! - `results/NNNNNNNNNNNNNNNNNNNN.seg`: segment files named by their first `seq`, each a
//!   run of records with consecutive `seq`s:
//!
//!   ```text
//!   len: u32 LE | crc: u32 LE | seq: u64 LE | payload: len bytes (JSON of an AgentResult)
//!   ```
//!
//!   `crc` is the CRC-32 of `seq` and `payload`. A batch of records is written with one
//!   write and made durable with one `fsync`.
//!
//! On open every segment is read back: the first record that is short (a write torn by a
//! crash), fails its CRC, does not parse, or breaks the `seq` run ends the segment, which
//! is cut there and the rest counted and logged. The next `seq` is one more than the
//! highest of `stored_seq` and the last record on disk, so it never goes back.
//!
//! When the segments together exceed the byte cap, whole segments are dropped, oldest
//! first, and every result lost that way is counted and logged.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::AgentError;
use super::protocol::AgentResult;

/// The bytes before each record's payload.
const HEADER: usize = 16;

/// The longest payload a record may declare; a longer one is corruption.
const MAX_PAYLOAD: u32 = 16 * 1024 * 1024;

/// The file holding the agent's identity and the stored watermark.
const STATE_FILE: &str = "agent.json";

/// The directory of segment files.
const SEGMENTS: &str = "results";

/// What `agent.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    agent_id: String,
    stored_seq: u64,
}

/// One segment file: records `first..=last`, all consecutive.
#[derive(Debug, Clone)]
struct Segment {
    path: PathBuf,
    first: u64,
    last: u64,
    bytes: u64,
}

/// A result waiting for its `seq`.
#[derive(Debug, Clone)]
pub(crate) struct Unnumbered {
    /// Which monitor.
    pub(crate) monitor_id: i64,
    /// What the check saw.
    pub(crate) report: bitwobbly_core::CheckReport,
}

/// The on-disk queue of results not yet stored by the server.
#[derive(Debug)]
pub(crate) struct Buffer {
    dir: PathBuf,
    _lock: File,
    agent_id: String,
    stored: u64,
    next_seq: u64,
    segments: VecDeque<Segment>,
    max_bytes: u64,
    segment_bytes: u64,
    dropped: u64,
}

/// How big one segment grows before the next one starts, for a cap of `max_bytes`:
/// a sixteenth of it, between 16 KiB and 4 MiB, so that dropping the oldest segment
/// loses a small share of the buffer.
fn segment_size(max_bytes: u64) -> u64 {
    (max_bytes / 16).clamp(16 * 1024, 4 * 1024 * 1024)
}

fn state_error(path: &Path, problem: impl std::fmt::Display) -> AgentError {
    AgentError::State {
        path: path.to_owned(),
        problem: problem.to_string(),
    }
}

impl Buffer {
    /// Opens (creating if needed) the buffer in `dir`, capped at `max_bytes`.
    ///
    /// # Errors
    ///
    /// [`AgentError::State`] naming the file when the directory cannot be created or
    /// locked (another agent uses it), or `agent.json` is unreadable or corrupt.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> Result<Self, AgentError> {
        let seg_dir = dir.join(SEGMENTS);
        fs::create_dir_all(&seg_dir).map_err(|e| state_error(&seg_dir, e))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| state_error(&lock_path, e))?;
        lock.try_lock().map_err(|e| match e {
            fs::TryLockError::WouldBlock => state_error(
                &lock_path,
                "another agent is using this state directory (give each agent its own --state-dir)",
            ),
            fs::TryLockError::Error(e) => state_error(&lock_path, e),
        })?;
        let state_path = dir.join(STATE_FILE);
        let state = match fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice::<StateFile>(&bytes)
                .map_err(|e| {
                    state_error(
                        &state_path,
                        format!("corrupt ({e}); remove the state directory to start afresh as a new agent"),
                    )
                })
                .and_then(|s| {
                    if valid_agent_id(&s.agent_id) {
                        Ok(s)
                    } else {
                        Err(state_error(&state_path, "agent_id is not 32 hexadecimal digits"))
                    }
                })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let state = StateFile {
                    agent_id: new_agent_id(),
                    stored_seq: 0,
                };
                write_atomically(dir, STATE_FILE, &state).map_err(|e| state_error(&state_path, e))?;
                state
            }
            Err(e) => return Err(state_error(&state_path, e)),
        };
        let mut buffer = Self {
            dir: dir.to_owned(),
            _lock: lock,
            agent_id: state.agent_id,
            stored: state.stored_seq,
            next_seq: state.stored_seq + 1,
            segments: VecDeque::new(),
            max_bytes,
            segment_bytes: segment_size(max_bytes),
            dropped: 0,
        };
        buffer
            .load_segments()
            .map_err(|e| state_error(&seg_dir, e))?;
        buffer.enforce_cap();
        Ok(buffer)
    }

    /// Reads every segment back, cutting torn or corrupt tails.
    fn load_segments(&mut self) -> io::Result<()> {
        let seg_dir = self.dir.join(SEGMENTS);
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(&seg_dir)? {
            let path = entry?.path();
            let first = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".seg"))
                .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok());
            match first {
                Some(first) if first > 0 => found.push((first, path)),
                _ => {
                    tracing::warn!(path = %path.display(), "ignoring a file that is not a result segment")
                }
            }
        }
        found.sort();
        let mut prev_last = 0;
        for (first, path) in found {
            let bytes = fs::read(&path)?;
            let scan = scan(&bytes, first);
            if let Some(problem) = &scan.problem {
                tracing::warn!(
                    path = %path.display(),
                    offset = scan.valid_len,
                    skipped_bytes = bytes.len() - scan.valid_len,
                    problem = %problem,
                    "skipping a torn or corrupt end of a result segment"
                );
                OpenOptions::new().write(true).open(&path).and_then(|f| {
                    f.set_len(scan.valid_len as u64)?;
                    f.sync_all()
                })?;
            }
            match scan.last {
                Some(last) if first > prev_last => {
                    prev_last = last;
                    self.segments.push_back(Segment {
                        path,
                        first,
                        last,
                        bytes: scan.valid_len as u64,
                    });
                }
                Some(_) => {
                    tracing::warn!(path = %path.display(), "ignoring a result segment that overlaps an earlier one");
                }
                None => fs::remove_file(&path)?,
            }
        }
        self.next_seq = self.next_seq.max(prev_last + 1);
        // Segments wholly stored already (an ack whose deletion was cut short).
        self.delete_stored()
    }

    /// This installation's id.
    pub(crate) fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// The `seq` the next result gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The highest `seq` the server is known to have stored.
    pub(crate) fn stored_seq(&self) -> u64 {
        self.stored
    }

    /// Results dropped because the buffer was full, since it was opened.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The bytes the segments take.
    pub(crate) fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// How many results wait to be sent.
    pub(crate) fn pending(&self) -> u64 {
        self.segments.iter().map(|s| self.unsent(s)).sum()
    }

    /// How many of a segment's results the server has not stored.
    fn unsent(&self, seg: &Segment) -> u64 {
        if seg.last > self.stored {
            seg.last - seg.first.max(self.stored + 1) + 1
        } else {
            0
        }
    }

    /// Numbers `results` in order, writes them with one write and one `fsync`, and drops
    /// the oldest segments when the buffer is over its cap. Returns how many results were
    /// dropped for room.
    ///
    /// # Errors
    ///
    /// An I/O error writing the segment; nothing of the batch is numbered then.
    pub(crate) fn append(&mut self, results: Vec<Unnumbered>) -> io::Result<u64> {
        if results.is_empty() {
            return Ok(0);
        }
        let first = self.next_seq;
        let last = first + results.len() as u64 - 1;
        let mut records = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            let seq = first + i as u64;
            let result = AgentResult {
                seq,
                monitor_id: r.monitor_id,
                started_at_ms: millis(r.report.started_at),
                report: r.report,
            };
            encode(&mut records, &result)?;
        }
        let roll = match self.segments.back() {
            Some(s) => s.last + 1 != first || s.bytes >= self.segment_bytes,
            None => true,
        };
        if roll {
            let path = self.dir.join(SEGMENTS).join(format!("{first:020}.seg"));
            let mut f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&path)?;
            f.write_all(&records)?;
            f.sync_data()?;
            sync_dir(&self.dir.join(SEGMENTS))?;
            self.segments.push_back(Segment {
                path,
                first,
                last,
                bytes: records.len() as u64,
            });
        } else if let Some(seg) = self.segments.back_mut() {
            let mut f = OpenOptions::new().append(true).open(&seg.path)?;
            if let Err(e) = f.write_all(&records).and_then(|()| f.sync_data()) {
                // Leave no half-written batch behind a later append.
                let _ = f.set_len(seg.bytes);
                return Err(e);
            }
            seg.last = last;
            seg.bytes += records.len() as u64;
        }
        self.next_seq = last + 1;
        Ok(self.enforce_cap())
    }

    /// Drops the oldest segments (never the newest) while over the cap; returns how many
    /// unsent results went.
    fn enforce_cap(&mut self) -> u64 {
        let mut dropped = 0;
        while self.bytes() > self.max_bytes && self.segments.len() > 1 {
            let Some(seg) = self.segments.pop_front() else {
                break;
            };
            let lost = self.unsent(&seg);
            if let Err(e) = fs::remove_file(&seg.path) {
                tracing::error!(path = %seg.path.display(), error = %e, "cannot delete a full buffer's oldest segment");
                self.segments.push_front(seg);
                break;
            }
            if lost > 0 {
                tracing::warn!(
                    dropped = lost,
                    first_seq = seg.first,
                    last_seq = seg.last,
                    max_bytes = self.max_bytes,
                    "the result buffer is full; dropped its oldest results"
                );
            }
            dropped += lost;
        }
        self.dropped += dropped;
        dropped
    }

    /// Up to `max` unsent results, oldest first.
    ///
    /// # Errors
    ///
    /// An I/O error reading a segment. A segment found corrupt now (changed under the
    /// agent) yields its valid part, and the problem is logged.
    pub(crate) fn peek(&self, max: usize) -> io::Result<Vec<AgentResult>> {
        let mut out = Vec::new();
        for seg in &self.segments {
            if out.len() >= max {
                break;
            }
            if seg.last <= self.stored {
                continue;
            }
            let mut bytes = Vec::with_capacity(usize::try_from(seg.bytes).unwrap_or(0));
            File::open(&seg.path)?.read_to_end(&mut bytes)?;
            let mut at = 0;
            let mut expect = seg.first;
            while out.len() < max {
                match decode(&bytes[at..], expect) {
                    Ok(Some((len, seq, result))) => {
                        at += len;
                        expect = seq + 1;
                        if seq > self.stored {
                            out.push(result);
                        }
                    }
                    Ok(None) => break,
                    Err(problem) => {
                        tracing::error!(path = %seg.path.display(), offset = at, %problem, "a result segment changed on disk; skipping the rest of it");
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Records that the server has stored everything up to `seq` (a [`BatchAck`] or a
    /// [`Welcome`]): writes the watermark, then deletes the segments it covers. A
    /// watermark at or past the next `seq` (this directory's results were stored but
    /// the directory lost them) moves the next `seq` past it.
    ///
    /// # Errors
    ///
    /// An I/O error writing `agent.json`.
    ///
    /// [`BatchAck`]: super::protocol::BatchAck
    /// [`Welcome`]: super::protocol::Welcome
    pub(crate) fn ack(&mut self, seq: u64) -> io::Result<()> {
        if seq <= self.stored {
            return Ok(());
        }
        let state = StateFile {
            agent_id: self.agent_id.clone(),
            stored_seq: seq,
        };
        write_atomically(&self.dir, STATE_FILE, &state)?;
        self.stored = seq;
        self.next_seq = self.next_seq.max(seq + 1);
        self.delete_stored()
    }

    fn delete_stored(&mut self) -> io::Result<()> {
        while let Some(seg) = self.segments.front() {
            if seg.last > self.stored {
                break;
            }
            fs::remove_file(&seg.path)?;
            self.segments.pop_front();
        }
        Ok(())
    }
}

/// An `agent_id` as made by [`new_agent_id`]: 32 lowercase hexadecimal digits.
fn valid_agent_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn new_agent_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn millis(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Writes `value` as JSON to `dir/name` through a temporary file, `fsync` and rename, so a
/// crash leaves the old or the new file, never a mix.
pub(crate) fn write_atomically(dir: &Path, name: &str, value: &impl Serialize) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    let mut f = File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Makes a directory's entries (new and renamed files) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn crc(seq: u64, payload: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(&seq.to_le_bytes());
    c.update(payload);
    c.sum()
}

/// Appends one record for `result` to `out`.
fn encode(out: &mut Vec<u8>, result: &AgentResult) -> io::Result<()> {
    let payload = serde_json::to_vec(result).map_err(io::Error::other)?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| *l <= MAX_PAYLOAD)
        .ok_or_else(|| io::Error::other("a result too large to buffer"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc(result.seq, &payload).to_le_bytes());
    out.extend_from_slice(&result.seq.to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// One decoded record: its length on disk, its `seq`, and the result.
type Decoded = (usize, u64, AgentResult);

/// Decodes the record at the start of `bytes`, which must carry `seq` `expect`.
/// `Ok(None)` at the end of the data.
fn decode(bytes: &[u8], expect: u64) -> Result<Option<Decoded>, String> {
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.len() < HEADER {
        return Err(format!("a record header cut short ({} bytes)", bytes.len()));
    }
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let len = word(0);
    let sum = word(4);
    let mut seq_bytes = [0u8; 8];
    seq_bytes.copy_from_slice(&bytes[8..16]);
    let seq = u64::from_le_bytes(seq_bytes);
    if len > MAX_PAYLOAD {
        return Err(format!(
            "a record declaring {len} bytes (at most {MAX_PAYLOAD})"
        ));
    }
    let end = HEADER + len as usize;
    let Some(payload) = bytes.get(HEADER..end) else {
        return Err(format!(
            "a record cut short ({} of {len} payload bytes)",
            bytes.len() - HEADER
        ));
    };
    if crc(seq, payload) != sum {
        return Err("a record whose checksum does not match".to_owned());
    }
    if seq != expect {
        return Err(format!("seq {seq} where {expect} was next"));
    }
    let result: AgentResult = serde_json::from_slice(payload)
        .map_err(|e| format!("a record that does not parse: {e}"))?;
    if result.seq != seq {
        return Err(format!(
            "a record whose payload says seq {} and header {seq}",
            result.seq
        ));
    }
    Ok(Some((end, seq, result)))
}

/// What reading a segment found.
#[derive(Debug)]
struct Scan {
    /// The `seq` of the last valid record, if any.
    last: Option<u64>,
    /// The bytes of the valid records.
    valid_len: usize,
    /// Why reading stopped before the end, if it did.
    problem: Option<String>,
}

/// Reads a segment whose first record must be `first`, validating every record (the
/// payload is parsed, so a record that would fail later fails here).
fn scan(bytes: &[u8], first: u64) -> Scan {
    let mut at = 0;
    let mut expect = first;
    let mut last = None;
    loop {
        match decode(&bytes[at..], expect) {
            Ok(Some((len, seq, _))) => {
                at += len;
                last = Some(seq);
                expect = seq + 1;
            }
            Ok(None) => {
                return Scan {
                    last,
                    valid_len: at,
                    problem: None,
                };
            }
            Err(problem) => {
                return Scan {
                    last,
                    valid_len: at,
                    problem: Some(problem),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bitwobbly_core::{CheckReport, Status, Timings};

    use super::*;

    fn report(n: usize) -> CheckReport {
        CheckReport {
            kind: "http".to_owned(),
            target: format!("https://example.com/{}", "x".repeat(n)),
            status: Status::Up,
            reason: None,
            started_at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            timings: Timings::default(),
            remote_addr: None,
            error: None,
            http: None,
            tls: None,
            dns: None,
            tcp: None,
            assertions: Vec::new(),
        }
    }

    fn results(n: usize) -> Vec<Unnumbered> {
        (0..n)
            .map(|i| Unnumbered {
                monitor_id: i as i64 + 1,
                report: report(10),
            })
            .collect()
    }

    fn seqs(b: &Buffer) -> Vec<u64> {
        b.peek(usize::MAX).unwrap().iter().map(|r| r.seq).collect()
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir.join(SEGMENTS))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        v.sort();
        v
    }

    const MAX: u64 = 64 * 1024 * 1024;

    #[test]
    fn numbers_results_and_keeps_them_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let id;
        {
            let mut b = Buffer::open(dir.path(), MAX).unwrap();
            assert!(valid_agent_id(b.agent_id()), "{}", b.agent_id());
            assert_eq!(b.next_seq(), 1);
            assert_eq!(b.append(results(3)).unwrap(), 0);
            assert_eq!(seqs(&b), [1, 2, 3]);
            let got = b.peek(2).unwrap();
            assert_eq!(got.len(), 2);
            assert_eq!(got[1].monitor_id, 2);
            assert_eq!(got[0].started_at_ms, 1_700_000_000_000);
            id = b.agent_id().to_owned();
        }
        let b = Buffer::open(dir.path(), MAX).unwrap();
        assert_eq!(b.agent_id(), id);
        assert_eq!(b.next_seq(), 4);
        assert_eq!(b.pending(), 3);
        assert_eq!(seqs(&b), [1, 2, 3]);
    }

    #[test]
    fn acks_delete_and_the_next_seq_survives_an_empty_buffer() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Buffer::open(dir.path(), MAX).unwrap();
            b.append(results(3)).unwrap();
            b.ack(2).unwrap();
            assert_eq!(seqs(&b), [3]);
            assert_eq!(b.pending(), 1);
        }
        {
            let mut b = Buffer::open(dir.path(), MAX).unwrap();
            assert_eq!(b.stored_seq(), 2);
            assert_eq!(seqs(&b), [3]);
            b.ack(3).unwrap();
            assert!(segment_files(dir.path()).is_empty());
            // An older watermark changes nothing.
            b.ack(1).unwrap();
            assert_eq!(b.stored_seq(), 3);
        }
        let mut b = Buffer::open(dir.path(), MAX).unwrap();
        assert_eq!(b.next_seq(), 4);
        assert_eq!(b.pending(), 0);
        b.append(results(1)).unwrap();
        assert_eq!(seqs(&b), [4]);
    }

    #[test]
    fn a_watermark_past_the_buffer_moves_the_next_seq() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), MAX).unwrap();
        b.append(results(2)).unwrap();
        // The server stored up to 100 for this agent id (the directory lost them).
        b.ack(100).unwrap();
        assert_eq!(b.pending(), 0);
        assert_eq!(b.next_seq(), 101);
        b.append(results(1)).unwrap();
        assert_eq!(seqs(&b), [101]);
    }

    #[test]
    fn a_torn_last_record_is_cut_and_its_seq_reused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Buffer::open(dir.path(), MAX).unwrap();
            b.append(results(3)).unwrap();
        }
        let seg = segment_files(dir.path()).pop().unwrap();
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        let mut b = Buffer::open(dir.path(), MAX).unwrap();
        assert_eq!(seqs(&b), [1, 2]);
        assert_eq!(b.next_seq(), 3);
        assert!(
            fs::metadata(&seg).unwrap().len() < len - 5,
            "the file was cut"
        );
        b.append(results(2)).unwrap();
        assert_eq!(seqs(&b), [1, 2, 3, 4]);
        drop(b);
        let b = Buffer::open(dir.path(), MAX).unwrap();
        assert_eq!(seqs(&b), [1, 2, 3, 4]);
    }

    #[test]
    fn a_header_cut_short_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Buffer::open(dir.path(), MAX).unwrap();
            b.append(results(1)).unwrap();
        }
        let seg = segment_files(dir.path()).pop().unwrap();
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[7, 0, 0]).unwrap();
        let b = Buffer::open(dir.path(), MAX).unwrap();
        assert_eq!(seqs(&b), [1]);
        assert_eq!(b.next_seq(), 2);
    }

    #[test]
    fn a_flipped_byte_ends_the_segment_there() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Buffer::open(dir.path(), MAX).unwrap();
            b.append(results(3)).unwrap();
        }
        let seg = segment_files(dir.path()).pop().unwrap();
        let mut bytes = fs::read(&seg).unwrap();
        let one = bytes.len() / 3;
        bytes[one + HEADER + 3] ^= 0x20;
        fs::write(&seg, &bytes).unwrap();
        let b = Buffer::open(dir.path(), MAX).unwrap();
        assert_eq!(seqs(&b), [1]);
    }

    #[test]
    fn hostile_segments_are_cut_ignored_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Buffer::open(dir.path(), MAX).unwrap();
            b.append(results(2)).unwrap();
        }
        let segs = dir.path().join(SEGMENTS);
        // Not segment names: ignored, left alone.
        for name in [
            "notes.txt",
            "1.seg",
            "0000000000000000000x.seg",
            "00000000000000000000.seg",
        ] {
            fs::write(segs.join(name), b"whatever").unwrap();
        }
        // A segment declaring a 4 GiB record.
        let mut huge = Vec::new();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 12]);
        fs::write(segs.join(format!("{:020}.seg", 50)), &huge).unwrap();
        // Random bytes.
        fs::write(
            segs.join(format!("{:020}.seg", 60)),
            (0..200u8).map(|i| i.wrapping_mul(37)).collect::<Vec<_>>(),
        )
        .unwrap();
        // A valid record whose payload is not JSON of a result.
        let mut bad = Vec::new();
        let payload = b"{\"seq\":70}";
        bad.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bad.extend_from_slice(&crc(70, payload).to_le_bytes());
        bad.extend_from_slice(&70u64.to_le_bytes());
        bad.extend_from_slice(payload);
        fs::write(segs.join(format!("{:020}.seg", 70)), &bad).unwrap();
        let b = Buffer::open(dir.path(), MAX).unwrap();
        assert_eq!(seqs(&b), [1, 2]);
        assert_eq!(b.next_seq(), 3);
        // The three bad segments held nothing valid and are gone; the strangers stay.
        assert_eq!(
            segment_files(dir.path()).len(),
            4,
            "{:?}",
            segment_files(dir.path())
        );
        assert!(segs.join("notes.txt").exists());
    }

    #[test]
    fn a_segment_starting_at_the_wrong_seq_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Buffer::open(dir.path(), MAX).unwrap();
            b.append(results(2)).unwrap();
        }
        let seg = segment_files(dir.path()).pop().unwrap();
        // The same records under a name that says they start at 5.
        fs::rename(
            &seg,
            dir.path().join(SEGMENTS).join(format!("{:020}.seg", 5)),
        )
        .unwrap();
        let b = Buffer::open(dir.path(), MAX).unwrap();
        assert_eq!(b.pending(), 0);
        assert_eq!(b.next_seq(), 1);
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_naming_it() {
        for content in [
            &b""[..],
            b"{",
            b"{\"agent_id\":\"zz\",\"stored_seq\":1}",
            b"{\"agent_id\":\"0123456789abcdef0123456789abcdef\",\"stored_seq\":-1}",
            b"[1,2]",
        ] {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(STATE_FILE), content).unwrap();
            let e = Buffer::open(dir.path(), MAX).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("agent.json"), "{text}");
        }
    }

    #[test]
    fn one_directory_serves_one_agent_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = Buffer::open(dir.path(), MAX).unwrap();
        let e = Buffer::open(dir.path(), MAX).unwrap_err();
        assert!(e.to_string().contains("another agent"), "{e}");
        drop(first);
        Buffer::open(dir.path(), MAX).unwrap();
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let max = 64 * 1024;
        let mut b = Buffer::open(dir.path(), max).unwrap();
        let mut dropped = 0;
        for _ in 0..100 {
            dropped += b
                .append(
                    (0..10)
                        .map(|i| Unnumbered {
                            monitor_id: i,
                            report: report(200),
                        })
                        .collect(),
                )
                .unwrap();
        }
        assert!(dropped > 0);
        assert_eq!(b.dropped(), dropped);
        assert!(b.bytes() <= max, "{} bytes", b.bytes());
        let s = seqs(&b);
        assert_eq!(s.len() as u64 + dropped, 1000);
        // The newest are kept, in order, with no gap.
        assert_eq!(*s.last().unwrap(), 1000);
        assert!(s.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(s[0], dropped + 1);
        // Reopening with a smaller cap drops more.
        drop(b);
        let b = Buffer::open(dir.path(), MIN).unwrap();
        assert!(b.bytes() <= MIN.max(segment_size(max)));
        assert_eq!(b.next_seq(), 1001);
    }

    const MIN: u64 = 32 * 1024;

    #[test]
    fn segments_roll_and_peek_crosses_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 1024 * 1024).unwrap();
        for _ in 0..50 {
            b.append(
                (0..5)
                    .map(|i| Unnumbered {
                        monitor_id: i,
                        report: report(500),
                    })
                    .collect(),
            )
            .unwrap();
        }
        assert!(segment_files(dir.path()).len() > 2);
        assert_eq!(b.pending(), 250);
        let first = b.peek(100).unwrap();
        assert_eq!(first.len(), 100);
        assert_eq!(first[99].seq, 100);
        b.ack(120).unwrap();
        let next = b.peek(1000).unwrap();
        assert_eq!(next.len(), 130);
        assert_eq!(next[0].seq, 121);
        drop(b);
        let b = Buffer::open(dir.path(), 1024 * 1024).unwrap();
        assert_eq!(b.pending(), 130);
    }

    #[test]
    fn a_segment_whose_name_is_behind_its_records_is_cut() {
        // A record out of order inside a segment ends it.
        let mut bytes = Vec::new();
        for seq in [1u64, 2, 4] {
            let r = AgentResult {
                seq,
                monitor_id: 1,
                started_at_ms: 0,
                report: report(1),
            };
            encode(&mut bytes, &r).unwrap();
        }
        let s = scan(&bytes, 1);
        assert_eq!(s.last, Some(2));
        assert!(s.problem.unwrap().contains("seq 4"));
    }
}
