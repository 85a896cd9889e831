//! Encryption at rest for secrets the server must read back (TOTP seeds): AES-256-GCM with a key ring from config
//! (`DATA_ENCRYPTION_KEYS`), never from the database. The newest key encrypts; every listed key decrypts, so keys
//! rotate by putting a new one first and dropping the old one once nothing uses it.
use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Key, Nonce,
};
use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine};
use rand::{rngs::OsRng, RngCore};

#[derive(Clone)]
pub struct KeyRing {
    /// (id, key), newest first.
    keys: Vec<(String, [u8; 32])>,
    /// Derived from the secret key (development, no `DATA_ENCRYPTION_KEYS`).
    derived: bool,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "KeyRing({ids:?})")
    }
}

impl KeyRing {
    /// Parses `id:base64key,id:base64key` (newest first); each key is 32 random bytes.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, b64) = entry.split_once(':').ok_or("each entry is id:base64key")?;
            if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!("key id {id:?} must be 1-32 letters, digits, - or _"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| format!("key {id:?} is not base64"))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| format!("key {id:?} must be 32 bytes"))?;
            if keys.iter().any(|(k, _): &(String, [u8; 32])| k == id) {
                return Err(format!("key id {id:?} is listed twice"));
            }
            keys.push((id.to_string(), key));
        }
        if keys.is_empty() {
            return Err("no keys".into());
        }
        Ok(Self { keys, derived: false })
    }

    /// A development key ring derived from `SECRET_KEY` (production must list its own keys).
    pub fn derived(secret_key: &[u8]) -> Self {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret_key).expect("any key length");
        mac.update(b"portcullis data encryption key");
        Self { keys: vec![("derived".into(), mac.finalize().into_bytes().into())], derived: true }
    }

    /// Whether these keys were derived from the secret key instead of listed in `DATA_ENCRYPTION_KEYS`.
    pub fn is_derived(&self) -> bool {
        self.derived
    }

    /// `id:nonce:ciphertext` (base64). `context` (e.g. the user id) is authenticated: a value copied to another
    /// row does not decrypt.
    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> String {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("AES-GCM encryption does not fail for in-memory buffers");
        format!("{id}:{}:{}", STANDARD_NO_PAD.encode(nonce), STANDARD_NO_PAD.encode(ct))
    }

    /// The id of the key that seals new values (the first listed).
    pub fn newest_id(&self) -> &str {
        &self.keys[0].0
    }

    /// `stored` sealed again under the newest key, or `None` when it already is (after a new key was put first,
    /// so the older ones can be dropped).
    pub fn reseal(&self, stored: &str, context: &str) -> Result<Option<String>, String> {
        if stored.split(':').next() == Some(self.newest_id()) {
            return Ok(None);
        }
        let plain = self.decrypt(stored, context)?;
        Ok(Some(self.encrypt(&plain, context)))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
        let mut parts = stored.splitn(3, ':');
        let (Some(id), Some(nonce), Some(ct)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("malformed ciphertext".into());
        };
        let (_, key) = self.keys.iter().find(|(k, _)| k == id).ok_or_else(|| format!("unknown key id {id:?}"))?;
        let nonce = STANDARD_NO_PAD.decode(nonce).map_err(|_| "bad nonce")?;
        let ct = STANDARD_NO_PAD.decode(ct).map_err(|_| "bad ciphertext")?;
        if nonce.len() != 12 {
            return Err("bad nonce".into());
        }
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ct, aad: context.as_bytes() })
            .map(zeroize::Zeroizing::new)
            .map_err(|_| "decryption failed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    #[test]
    fn the_newest_key_encrypts_and_every_listed_key_decrypts() {
        let old = KeyRing::parse(K1).unwrap();
        let stored = old.encrypt(b"seed", "user-1");
        assert!(stored.starts_with("k1:"));
        let rotated = KeyRing::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(&rotated.decrypt(&stored, "user-1").unwrap()[..], b"seed");
        assert!(rotated.encrypt(b"seed", "user-1").starts_with("k2:"));
        let dropped = KeyRing::parse(K2).unwrap();
        assert!(dropped.decrypt(&stored, "user-1").is_err(), "a dropped key no longer decrypts");
    }

    #[test]
    fn reseal_moves_a_value_to_the_newest_key_and_leaves_a_current_one() {
        let stored = KeyRing::parse(K1).unwrap().encrypt(b"seed", "user-1");
        let rotated = KeyRing::parse(&format!("{K2},{K1}")).unwrap();
        let sealed = rotated.reseal(&stored, "user-1").unwrap().expect("k1 value sealed again");
        assert!(sealed.starts_with("k2:"));
        assert_eq!(&KeyRing::parse(K2).unwrap().decrypt(&sealed, "user-1").unwrap()[..], b"seed");
        assert_eq!(rotated.reseal(&sealed, "user-1").unwrap(), None, "already under the newest key");
        assert!(KeyRing::parse(K2).unwrap().reseal(&stored, "user-1").is_err(), "no listed key opens it");
    }

    #[test]
    fn a_value_moved_to_another_user_or_altered_does_not_decrypt() {
        let ring = KeyRing::parse(K1).unwrap();
        let stored = ring.encrypt(b"seed", "user-1");
        assert!(ring.decrypt(&stored, "user-2").is_err());
        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.decrypt(&tampered, "user-1").is_err());
    }

    #[test]
    fn bad_key_lists_are_refused() {
        for bad in ["", "k1", "k1:short", "bad id:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &format!("{K1},{K1}")]
        {
            assert!(KeyRing::parse(bad).is_err(), "{bad}");
        }
    }
}
