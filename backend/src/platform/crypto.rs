//! Random tokens and their stored digests. Only digests reach the database.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use rand::{rngs::OsRng, Rng, RngCore};
use sha2::{Digest, Sha256};

/// 256 bits from the OS CSPRNG, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a high-entropy token: enough, since the token cannot be guessed.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Keyed digest for low-entropy secrets (6-digit codes): a database dump alone cannot brute-force them.
pub fn keyed_digest(key: &[u8], parts: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(&[0]);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Six decimal digits, uniform, from the OS CSPRNG.
pub fn random_code6() -> String {
    format!("{:06}", OsRng.gen_range(0..1_000_000u32))
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An id that sorts in the order the ids were made (UUID v7: the time in milliseconds, then a counter and random
/// bits; ordered within the process), for rows listed newest first whose timestamps, in seconds, can be equal: audit
/// events and jobs.
pub fn new_ordered_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Constant-time equality for digests.
pub fn digest_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_url_safe() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let c = random_code6();
            assert_eq!(c.len(), 6);
            assert!(c.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn keyed_digest_depends_on_key_and_parts() {
        assert_ne!(keyed_digest(b"k1", &["a", "b"]), keyed_digest(b"k2", &["a", "b"]));
        assert_ne!(keyed_digest(b"k1", &["ab", ""]), keyed_digest(b"k1", &["a", "b"]));
    }
}
