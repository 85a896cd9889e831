//! The keys that sign the provider's tokens: ES256 (P-256), made on first use, the private half sealed with the data
//! key ring (`DATA_ENCRYPTION_KEYS`) and opened only to sign. JOSE is [jsonwebtoken](https://docs.rs/jsonwebtoken)'s;
//! nothing here signs or verifies by hand.
use jsonwebtoken::{
    jwk::{Jwk, JwkSet},
    Algorithm, EncodingKey,
};

use crate::{platform::crypto::new_id, AppState, Error, Unexpected};

/// The authenticated context a sealed private key is bound to (a value copied elsewhere does not open).
fn context(kid: &str) -> String {
    format!("oauth_signing_key:{kid}")
}

/// A new P-256 private key as PKCS#8 DER.
fn new_private_key() -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    use p256::pkcs8::EncodePrivateKey;
    use rand::RngCore;
    loop {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        // Fails only for zero or a value past the group order (about 2^-128): draw again.
        if let Ok(secret) = p256::SecretKey::from_slice(bytes.as_ref()) {
            let der = secret.to_pkcs8_der().map_err(|e| Unexpected(anyhow::anyhow!("PKCS#8: {e}")))?;
            return Ok(zeroize::Zeroizing::new(der.as_bytes().to_vec()));
        }
    }
}

/// The key that signs now: the newest that is not retired, made (and stored sealed) if there is none.
pub async fn signing_key(st: &AppState) -> Result<(String, EncodingKey), Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT kid, private_key FROM oauth_signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid LIMIT 1",
    )
    .fetch_optional(&st.db.pool)
    .await?;
    let (kid, sealed) = match row {
        Some(row) => row,
        None => {
            let kid = new_id();
            let der = new_private_key()?;
            let sealed = st.config.data_keys.encrypt(&der, &context(&kid));
            // Two instances starting at once may each make one: both are published, the newer signs.
            sqlx::query(
                "INSERT INTO oauth_signing_keys (kid, alg, private_key, created_at) VALUES ($1, 'ES256', $2, $3)",
            )
            .bind(&kid)
            .bind(&sealed)
            .bind(st.clock.now())
            .execute(&st.db.pool)
            .await?;
            (kid, sealed)
        }
    };
    let der = st.config.data_keys.decrypt(&sealed, &context(&kid)).map_err(|e| Unexpected(anyhow::anyhow!(e)))?;
    Ok((kid, EncodingKey::from_ec_der(&der)))
}

/// Retires the signing key: the next token is signed by a new one, and the old one stays published until tokens it
/// signed have expired. Returns the retired key's id, if there was one.
pub async fn rotate(st: &AppState) -> Result<Option<String>, Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT kid FROM oauth_signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1")
            .fetch_optional(&st.db.pool)
            .await?;
    sqlx::query("UPDATE oauth_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(st.clock.now())
        .execute(&st.db.pool)
        .await?;
    signing_key(st).await?;
    Ok(row.map(|(kid,)| kid))
}

/// The public keys a client verifies tokens with: every key not retired, and the retired ones whose tokens may
/// still be alive (`ACCESS_TOKEN_SECS`).
pub async fn jwks(st: &AppState) -> Result<JwkSet, Error> {
    signing_key(st).await?;
    let since = st.clock.now() - super::ACCESS_TOKEN_SECS;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kid, private_key FROM oauth_signing_keys WHERE retired_at IS NULL OR retired_at > $1 \
         ORDER BY created_at DESC, kid",
    )
    .bind(since)
    .fetch_all(&st.db.pool)
    .await?;
    let keys = rows.into_iter().map(|(kid, sealed)| public_jwk(st, kid, &sealed)).collect::<Result<_, _>>()?;
    Ok(JwkSet { keys })
}

/// The published key `kid` (see [`jwks`]), to check a token it signed; `None` when it is not published.
pub async fn published(st: &AppState, kid: &str) -> Result<Option<Jwk>, Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT private_key FROM oauth_signing_keys WHERE kid = $1 AND (retired_at IS NULL OR retired_at > $2)",
    )
    .bind(kid)
    .bind(st.clock.now() - super::ACCESS_TOKEN_SECS)
    .fetch_optional(&st.db.pool)
    .await?;
    row.map(|(sealed,)| public_jwk(st, kid.to_string(), &sealed)).transpose()
}

/// The public half of a sealed key, as a JWK with its id.
fn public_jwk(st: &AppState, kid: String, sealed: &str) -> Result<Jwk, Error> {
    let der = st.config.data_keys.decrypt(sealed, &context(&kid)).map_err(|e| Unexpected(anyhow::anyhow!(e)))?;
    let mut jwk = Jwk::from_encoding_key(&EncodingKey::from_ec_der(&der), Algorithm::ES256)
        .map_err(|e| Unexpected(anyhow::anyhow!("JWK: {e}")))?;
    jwk.common.key_id = Some(kid);
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Ok(jwk)
}

/// The current signing key, opened: loaded (or made) before a transaction starts, since making one writes.
pub struct Signer {
    kid: String,
    key: EncodingKey,
}

impl Signer {
    pub async fn current(st: &AppState) -> Result<Self, Error> {
        let (kid, key) = signing_key(st).await?;
        Ok(Self { kid, key })
    }

    /// Signs `claims` (the key's `kid` and `typ` in the header).
    pub fn sign<T: serde::Serialize>(&self, typ: &str, claims: &T) -> Result<String, Error> {
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| Unexpected(anyhow::anyhow!("JWT: {e}")).into())
    }
}

/// Seals every signing key again under the newest data key (`portcullis keys reseal`); each update applies only
/// while the value is the one read.
pub async fn reseal_all(st: &AppState) -> Result<crate::signin::mfa::Resealed, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT kid, private_key FROM oauth_signing_keys").fetch_all(&st.db.pool).await?;
    let mut done = crate::signin::mfa::Resealed::default();
    for (kid, stored) in rows {
        match st.config.data_keys.reseal(&stored, &context(&kid)) {
            Ok(None) => done.current += 1,
            Ok(Some(sealed)) => {
                sqlx::query("UPDATE oauth_signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3")
                    .bind(sealed)
                    .bind(&kid)
                    .bind(&stored)
                    .execute(&st.db.pool)
                    .await?;
                done.sealed += 1;
            }
            Err(e) => {
                tracing::warn!(kid, error = %e, "a signing key no listed data key opens");
                done.failed += 1;
            }
        }
    }
    Ok(done)
}
