//! Argon2id hashing off the async executor, with bounded concurrency.
use std::sync::Arc;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use tokio::sync::Semaphore;

use super::{config::Config, Unexpected};

pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A real hash of a random password: unknown e-mails are verified against it so they cost the same time.
    dummy_hash: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored with other parameters: re-hash with the current ones.
    YesNeedsRehash,
}

impl Hasher {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let params = Params::new(config.argon2_m_kib, config.argon2_t, config.argon2_p, None)
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy_hash = hash_with(&params, &super::crypto::random_token())?;
        Ok(Self { params, permits: Arc::new(Semaphore::new(config.hash_concurrency)), dummy_hash })
    }

    pub async fn hash(&self, password: &str) -> Result<String, Unexpected> {
        let _permit = self.permits.acquire().await.map_err(|e| Unexpected(e.into()))?;
        let params = self.params.clone();
        let password = zeroize::Zeroizing::new(password.to_string());
        tokio::task::spawn_blocking(move || hash_with(&params, &password))
            .await
            .map_err(|e| Unexpected(e.into()))?
            .map_err(Unexpected)
    }

    /// Verifies against `stored`, or against the dummy hash when there is no user, taking the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified, Unexpected> {
        let _permit = self.permits.acquire().await.map_err(|e| Unexpected(e.into()))?;
        let real = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_string();
        let params = self.params.clone();
        let password = zeroize::Zeroizing::new(password.to_string());
        let ok = tokio::task::spawn_blocking(move || -> anyhow::Result<Verified> {
            let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
            let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
            if !ok {
                return Ok(Verified::No);
            }
            let current = Params::try_from(&parsed).ok();
            let same = parsed.algorithm == Algorithm::Argon2id.ident()
                && current.is_some_and(|p| {
                    p.m_cost() == params.m_cost() && p.t_cost() == params.t_cost() && p.p_cost() == params.p_cost()
                });
            Ok(if same { Verified::Yes } else { Verified::YesNeedsRehash })
        })
        .await
        .map_err(|e| Unexpected(e.into()))?
        .map_err(Unexpected)?;
        Ok(if real { ok } else { Verified::No })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }
}

fn hash_with(params: &Params, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    Ok(argon.hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(m: u32) -> Hasher {
        let mut c = Config::for_tests("sqlite::memory:");
        c.argon2_m_kib = m;
        Hasher::new(&c).unwrap()
    }

    #[tokio::test]
    async fn s8_hashes_are_argon2id_and_verify() {
        let h = hasher(8192);
        let stored = h.hash("correct horse battery staple").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
        assert_eq!(h.verify("correct horse battery staple", Some(&stored)).await.unwrap(), Verified::Yes);
        assert_eq!(h.verify("correct horse battery stapl", Some(&stored)).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn s8_hashes_with_old_parameters_ask_for_a_rehash() {
        let old = hasher(8192).hash("correct horse battery staple").await.unwrap();
        let new = hasher(9216);
        assert_eq!(new.verify("correct horse battery staple", Some(&old)).await.unwrap(), Verified::YesNeedsRehash);
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        let h = hasher(8192);
        assert_eq!(h.verify("anything at all here", None).await.unwrap(), Verified::No);
    }
}
