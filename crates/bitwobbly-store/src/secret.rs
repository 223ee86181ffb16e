//! Secrets: argon2id password hashes, random tokens stored as SHA-256 hashes with a public prefix.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Result, StoreError};
use crate::model::Secret;

/// Characters of a token's public prefix (after the `bw` tag).
const PREFIX_LEN: usize = 12;

fn credential(problem: impl std::fmt::Display) -> StoreError {
    StoreError::Credential {
        problem: problem.to_string(),
    }
}

/// Hashes a password with argon2id (default parameters, random salt), off the async threads.
pub(crate) async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(credential)
    })
    .await
    .map_err(credential)?
}

/// Checks a password against a stored argon2 hash, off the async threads.
pub(crate) async fn verify_password(password: &str, hash: &str) -> Result<bool> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || {
        match Argon2::default().verify_password(password.as_bytes(), hash.as_str()) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => Err(credential(e)),
        }
    })
    .await
    .map_err(credential)?
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// SHA-256 of a secret's text.
pub(crate) fn token_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time equality of two hashes.
pub(crate) fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A new random API token `bw_<prefix>_<secret>` with its public prefix and hash.
pub(crate) fn new_token() -> Result<(Secret, String, Vec<u8>)> {
    new_tagged_token("bw")
}

/// The public prefix of a token made by [`new_token`], if it has that shape.
pub(crate) fn token_prefix(secret: &str) -> Option<&str> {
    tagged_token_prefix("bw", secret)
}

/// A new random token `<tag>_<prefix>_<secret>` with its public prefix and hash (API tokens
/// are tagged `bw`, agent tokens `bwa`).
pub(crate) fn new_tagged_token(tag: &str) -> Result<(Secret, String, Vec<u8>)> {
    let mut raw = [0u8; 26];
    getrandom::fill(&mut raw).map_err(credential)?;
    let text = hex(&raw);
    let (prefix, rest) = text.split_at(PREFIX_LEN);
    let secret = format!("{tag}_{prefix}_{rest}");
    let hash = token_hash(&secret);
    Ok((Secret(secret), prefix.to_owned(), hash))
}

/// The public prefix of a token made by [`new_tagged_token`] with `tag`, if it has that
/// shape.
pub(crate) fn tagged_token_prefix<'a>(tag: &str, secret: &'a str) -> Option<&'a str> {
    let rest = secret.strip_prefix(tag)?.strip_prefix('_')?;
    let (prefix, tail) = rest.split_once('_')?;
    (prefix.len() == PREFIX_LEN && !tail.is_empty()).then_some(prefix)
}

/// A new random session secret with its hash.
pub(crate) fn new_session_secret() -> Result<(Secret, Vec<u8>)> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(credential)?;
    let secret = hex(&raw);
    let hash = token_hash(&secret);
    Ok((Secret(secret), hash))
}

/// A new random DSN public key: 32 lowercase hex characters, as Sentry SDKs expect.
pub(crate) fn new_public_key() -> Result<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(credential)?;
    Ok(hex(&raw))
}

/// A new heartbeat ping token: 128 random bits as 32 lowercase hex characters (URL-safe).
pub(crate) fn new_ping_token() -> Result<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(credential)?;
    Ok(hex(&raw))
}

/// A new one-time set-up secret with its hash.
pub(crate) fn new_setup_secret() -> Result<(Secret, Vec<u8>)> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(credential)?;
    let secret = format!("bwsetup_{}", hex(&raw));
    let hash = token_hash(&secret);
    Ok((Secret(secret), hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_hash_is_argon2id_and_verifies() {
        let h = hash_password("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h).await.unwrap());
        assert!(!verify_password("wrong horse", &h).await.unwrap());
    }

    #[test]
    fn tokens_carry_their_prefix_and_hash() {
        let (secret, prefix, hash) = new_token().unwrap();
        assert_eq!(token_prefix(secret.expose()), Some(prefix.as_str()));
        assert!(hashes_equal(&token_hash(secret.expose()), &hash));
        assert_eq!(token_prefix("bw_short_x"), None);
        assert_eq!(token_prefix("nope"), None);
    }

    #[test]
    fn tags_keep_token_kinds_apart() {
        let (secret, prefix, _) = new_tagged_token("bwa").unwrap();
        assert!(secret.expose().starts_with("bwa_"));
        assert_eq!(
            tagged_token_prefix("bwa", secret.expose()),
            Some(prefix.as_str())
        );
        assert_eq!(token_prefix(secret.expose()), None);
        let (api, _, _) = new_token().unwrap();
        assert_eq!(tagged_token_prefix("bwa", api.expose()), None);
    }
}
