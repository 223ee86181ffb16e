//! Request body decompression with a cap on the decompressed size.

use std::fmt;
use std::io::Read;

use bytes::Bytes;

use crate::EnvelopeError;

/// Largest zstd window accepted (2^25 = 32 MiB), so a hostile frame cannot make the decoder
/// reserve more memory than that for its window.
const ZSTD_WINDOW_LOG_MAX: u32 = 25;

/// Decoder read size.
const CHUNK: usize = 64 * 1024;

/// A request body encoding (`Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentEncoding {
    /// No encoding; also what an empty value or `UTF-8` (sent by old SDKs) means.
    Identity,
    /// `gzip` or `x-gzip` (several members are read one after another).
    Gzip,
    /// `deflate`: zlib-wrapped when the body starts with a zlib header, raw deflate otherwise.
    Deflate,
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
}

impl ContentEncoding {
    /// Reads a `Content-Encoding` header value (case-insensitive, surrounding spaces ignored).
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::UnsupportedEncoding`] for anything else, a list of encodings included.
    pub fn from_header(value: &str) -> Result<Self, EnvelopeError> {
        let v = value.trim();
        let known = [
            ("", Self::Identity),
            ("identity", Self::Identity),
            ("utf-8", Self::Identity),
            ("gzip", Self::Gzip),
            ("x-gzip", Self::Gzip),
            ("deflate", Self::Deflate),
            ("br", Self::Brotli),
            ("zstd", Self::Zstd),
        ];
        known
            .iter()
            .find(|(name, _)| v.eq_ignore_ascii_case(name))
            .map(|(_, e)| *e)
            .ok_or_else(|| EnvelopeError::UnsupportedEncoding {
                encoding: value.to_owned(),
            })
    }

    /// The header name (`identity` for no encoding).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }
}

impl fmt::Display for ContentEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True when `body` starts with a zlib header (RFC 1950: deflate method, valid check bits).
fn looks_like_zlib(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Decodes `body` and returns at most `limit` bytes.
///
/// Decoding streams in 64 KiB steps and stops as soon as the output passes `limit`, so a
/// decompression bomb costs at most `limit` bytes of memory. [`ContentEncoding::Identity`]
/// returns `body` itself (no copy) when it fits.
///
/// # Errors
///
/// [`EnvelopeError::DecompressedTooLarge`] past the cap (for identity: when `body` is longer
/// than `limit`), [`EnvelopeError::CorruptBody`] for a stream the decoder rejects (a
/// truncated stream included).
pub fn decompress(
    encoding: ContentEncoding,
    body: Bytes,
    limit: usize,
) -> Result<Bytes, EnvelopeError> {
    let corrupt = |source| EnvelopeError::CorruptBody { encoding, source };
    let slice: &[u8] = &body;
    let out = match encoding {
        ContentEncoding::Identity => {
            if body.len() > limit {
                return Err(EnvelopeError::DecompressedTooLarge { encoding, limit });
            }
            return Ok(body);
        }
        ContentEncoding::Gzip => {
            read_capped(flate2::read::MultiGzDecoder::new(slice), encoding, limit)?
        }
        ContentEncoding::Deflate if looks_like_zlib(slice) => {
            read_capped(flate2::read::ZlibDecoder::new(slice), encoding, limit)?
        }
        ContentEncoding::Deflate => {
            read_capped(flate2::read::DeflateDecoder::new(slice), encoding, limit)?
        }
        ContentEncoding::Brotli => {
            read_capped(brotli::Decompressor::new(slice, CHUNK), encoding, limit)?
        }
        ContentEncoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(slice).map_err(corrupt)?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(corrupt)?;
            read_capped(decoder, encoding, limit)?
        }
    };
    Ok(Bytes::from(out))
}

fn read_capped<R: Read>(
    mut reader: R,
    encoding: ContentEncoding,
    limit: usize,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut out: Vec<u8> = Vec::new();
    loop {
        if out.len() == out.capacity() {
            // Grow by doubling, but never reserve more than one byte past the cap.
            let target = (out.capacity() * 2).max(CHUNK).min(limit.saturating_add(1));
            if target <= out.len() {
                return Err(EnvelopeError::DecompressedTooLarge { encoding, limit });
            }
            out.reserve_exact(target - out.len());
        }
        let start = out.len();
        let room = out.capacity() - start;
        out.resize(start + room, 0);
        let n = loop {
            match reader.read(&mut out[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(EnvelopeError::CorruptBody { encoding, source });
                }
            }
        };
        out.truncate(start + n);
        if n == 0 {
            return Ok(out);
        }
        if out.len() > limit {
            return Err(EnvelopeError::DecompressedTooLarge { encoding, limit });
        }
    }
}
