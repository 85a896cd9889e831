//! A software WebAuthn authenticator for integration tests.
//!
//! Real P-256 / ES256 keys, "none" attestation, and the JSON shapes webauthn-rs 0.6 sends
//! (`CreationChallengeResponse`, `RequestChallengeResponse`) and expects back
//! (`RegisterPublicKeyCredential`, `PublicKeyCredential`). Knobs let tests misbehave on
//! purpose: wrong origin, UV off, a rewound sign counter (cloned authenticator), and since
//! responses are plain JSON, replaying an old assertion is just re-posting it.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::{signature::Signer, DerSignature, SigningKey};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// authenticatorData flags.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

/// One credential (passkey) held by the authenticator. Every credential is discoverable.
#[derive(Clone)]
pub struct StoredCredential {
    pub id: Vec<u8>,
    pub key: SigningKey,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    /// Counter of the last ceremony; the next assertion signs `counter + 1`.
    pub counter: u32,
}

/// A platform-style authenticator plus the bits of the browser (clientDataJSON) it needs.
/// `Clone` it to get a cloned authenticator that shares keys but keeps its own counters.
#[derive(Clone)]
pub struct Authenticator {
    origin: String,
    uv: bool,
    backup_eligible: bool,
    backup_state: bool,
    aaguid: [u8; 16],
    chosen: Option<usize>,
    pub credentials: Vec<StoredCredential>,
}

impl Authenticator {
    /// `origin` is what goes into clientDataJSON, e.g. `"http://localhost:3000"`.
    /// The RP id always comes from the options (`rp.id` / `rpId`).
    pub fn new(origin: &str) -> Self {
        let origin = origin.to_owned();
        Self {
            origin,
            uv: true,
            backup_eligible: false,
            backup_state: false,
            aaguid: [0; 16],
            chosen: None,
            credentials: vec![],
        }
    }

    /// Handles `navigator.credentials.create()`. `options` is the server's
    /// `CreationChallengeResponse` JSON (`{"publicKey": {...}}`; the bare inner object works too).
    /// Returns `RegisterPublicKeyCredential` JSON and stores the new key (counter 0).
    /// Errors like a real authenticator if one of our credentials is in `excludeCredentials`.
    pub fn register(&mut self, options: &Value) -> Result<Value, String> {
        let pk = options.get("publicKey").unwrap_or(options);
        let rp_id = str_at(pk, "/rp/id")?.to_owned();
        let challenge = b64_at(pk, "/challenge")?;
        let user_handle = b64_at(pk, "/user/id")?;
        if let Some(params) = pk.get("pubKeyCredParams").and_then(Value::as_array) {
            if !params.iter().any(|p| p["alg"] == -7) {
                return Err("NotSupportedError: ES256 (-7) not in pubKeyCredParams".into());
            }
        }
        for id in descriptor_ids(pk, "excludeCredentials")? {
            if self.credentials.iter().any(|c| c.rp_id == rp_id && c.id == id) {
                return Err("InvalidStateError: credential in excludeCredentials is already registered here".into());
            }
        }

        let key = new_key();
        let mut id = vec![0u8; 16];
        rand::thread_rng().fill_bytes(&mut id);
        let point = key.verifying_key().to_sec1_point(false); // 0x04 | x | y
        let xy = point.as_bytes();
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(&xy[1..33]);
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(&xy[33..65]);

        let mut auth_data = self.auth_data(&rp_id, AT, 0);
        auth_data.extend_from_slice(&self.aaguid);
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose);

        // attestationObject {"fmt": "none", "attStmt": {}, "authData": bytes}
        let mut att = vec![0xa3];
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        att.push(0xa0);
        cbor_text(&mut att, "authData");
        cbor_head(&mut att, 0x40, auth_data.len());
        att.extend_from_slice(&auth_data);

        let client_data = self.client_data("webauthn.create", &challenge);
        self.credentials.push(StoredCredential { id: id.clone(), key, rp_id, user_handle, counter: 0 });
        Ok(json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": { "attestationObject": b64(&att), "clientDataJSON": b64(&client_data) },
            "extensions": {},
        }))
    }

    /// Handles `navigator.credentials.get()`. `options` is the server's `RequestChallengeResponse`
    /// JSON. Uses the first stored credential for `rpId` that is in `allowCredentials` (any, when
    /// the list is empty = discoverable), unless [`Self::use_credential`] picked one. Bumps its
    /// counter by 1, signs, and returns `PublicKeyCredential` JSON including `userHandle`.
    pub fn assert(&mut self, options: &Value) -> Result<Value, String> {
        let pk = options.get("publicKey").unwrap_or(options);
        let rp_id = str_at(pk, "/rpId")?.to_owned();
        let challenge = b64_at(pk, "/challenge")?;
        let allowed = descriptor_ids(pk, "allowCredentials")?;
        let usable = |c: &StoredCredential| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id));
        let index = match self.chosen {
            Some(i) => Some(i).filter(|&i| self.credentials.get(i).is_some_and(usable)),
            None => self.credentials.iter().position(usable),
        }
        .ok_or_else(|| format!("NotAllowedError: no usable credential for rp id {rp_id:?}"))?;

        let counter = self.credentials[index].counter.wrapping_add(1);
        self.credentials[index].counter = counter;
        let auth_data = self.auth_data(&rp_id, 0, counter);
        let client_data = self.client_data("webauthn.get", &challenge);
        let cred = &self.credentials[index];
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: DerSignature = cred.key.sign(&signed);
        Ok(json!({
            "id": b64(&cred.id),
            "rawId": b64(&cred.id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_bytes()),
                "userHandle": b64(&cred.user_handle),
            },
            "extensions": {},
        }))
    }

    /// Origin written into clientDataJSON for later ceremonies (wrong-origin tests).
    pub fn with_origin(&mut self, origin: &str) {
        self.origin = origin.to_owned();
    }

    /// Whether the UV flag (0x04) is set. UP (0x01) is always set. Default: true.
    pub fn user_verified(&mut self, uv: bool) {
        self.uv = uv;
    }

    /// Backup-eligible (0x08) and backed-up (0x10) flags. Default: both off.
    pub fn backup_flags(&mut self, eligible: bool, state: bool) {
        self.backup_eligible = eligible;
        self.backup_state = state;
    }

    /// AAGUID put into attested credential data on registration. Default: all zeros.
    pub fn set_aaguid(&mut self, aaguid: [u8; 16]) {
        self.aaguid = aaguid;
    }

    /// Force assertions to use credential `index` (`None`: first usable one).
    pub fn use_credential(&mut self, index: Option<usize>) {
        self.chosen = index;
    }

    /// Set the stored counter of credential `index`; the next assertion signs `counter + 1`.
    /// Panics (with a message) if there is no credential `index`.
    pub fn set_counter(&mut self, index: usize, counter: u32) {
        let held = self.credentials.len();
        let cred = self.credentials.get_mut(index);
        cred.unwrap_or_else(|| panic!("authenticator has no credential #{index} (it holds {held})")).counter = counter;
    }

    /// Credential id of credential `index`, base64url without padding (as the server shows it).
    /// Panics (with a message) if there is no credential `index`.
    pub fn credential_id(&self, index: usize) -> String {
        let held = self.credentials.len();
        let cred = self.credentials.get(index);
        b64(&cred.unwrap_or_else(|| panic!("authenticator has no credential #{index} (it holds {held})")).id)
    }

    /// sha256(rp id) | flags | counter (u32 BE)
    fn auth_data(&self, rp_id: &str, extra_flags: u8, counter: u32) -> Vec<u8> {
        let on = |set: bool, bit: u8| if set { bit } else { 0 };
        let flags = UP | extra_flags | on(self.uv, UV) | on(self.backup_eligible, BE) | on(self.backup_state, BS);
        let mut out = Sha256::digest(rp_id.as_bytes()).to_vec();
        out.push(flags);
        out.extend_from_slice(&counter.to_be_bytes());
        out
    }

    /// clientDataJSON, keys in the order browsers emit them.
    fn client_data(&self, kind: &str, challenge: &[u8]) -> Vec<u8> {
        format!(
            r#"{{"type":"{kind}","challenge":"{}","origin":{},"crossOrigin":false}}"#,
            b64(challenge),
            Value::String(self.origin.clone())
        )
        .into_bytes()
    }
}

fn new_key() -> SigningKey {
    loop {
        let mut seed = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut seed);
        if let Ok(key) = SigningKey::from_slice(&seed) {
            return key; // fails only for 0 or >= n, which is practically never
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).map_err(|e| format!("bad base64url {s:?}: {e}"))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Result<&'a str, String> {
    v.pointer(pointer).and_then(Value::as_str).ok_or_else(|| format!("options lack string {pointer}"))
}

fn b64_at(v: &Value, pointer: &str) -> Result<Vec<u8>, String> {
    unb64(str_at(v, pointer)?)
}

/// Ids of a `PublicKeyCredentialDescriptor` list (missing / null = empty).
fn descriptor_ids(pk: &Value, field: &str) -> Result<Vec<Vec<u8>>, String> {
    let list = pk.get(field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    list.iter().map(|d| b64_at(d, "/id")).collect()
}

/// CBOR initial byte(s) for major type `major` (0x40 bytes, 0x60 text) and length `len`.
fn cbor_head(out: &mut Vec<u8>, major: u8, len: usize) {
    match len {
        0..=23 => out.push(major | len as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, len as u8]),
        _ => {
            out.push(major | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
    }
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 0x60, s.len());
    out.extend_from_slice(s.as_bytes());
}
