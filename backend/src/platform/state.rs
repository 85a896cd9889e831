use std::sync::Arc;

use crate::{
    platform::clock::Clock, platform::config::Config, platform::db::Db, platform::jobs::Registry,
    platform::mail::Mailer, platform::rate_limit::RateLimits, signin::passwords::Hasher,
};

pub type FakeCredentials =
    webauthn_rs::fake::WebauthnFakeCredentialGenerator<webauthn_rs::fake::FakePasskeyDistribution>;

/// Everything a request or a job needs, behind one `Arc`: every middleware layer and extractor clones the state,
/// so a clone is one reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services an [`AppState`] shares.
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Clock,
    pub hasher: Arc<Hasher>,
    pub mailer: Arc<Mailer>,
    pub limits: Arc<RateLimits>,
    /// Verifies WebAuthn ceremonies for the configured relying party.
    pub webauthn: Arc<webauthn_rs::Webauthn>,
    /// Stable made-up credential ids for e-mail-first passkey requests on addresses without passkeys.
    pub fake_credentials: Arc<FakeCredentials>,
    /// Wakes the background worker when a job is queued.
    pub jobs_wakeup: Arc<tokio::sync::Notify>,
    /// Every kind of job the worker runs, by name.
    pub jobs: Registry,
}

impl AppState {
    /// Connects to the database, applies migrations and builds the services the config names, with the backend's
    /// jobs and `more_jobs` (the app's own: `server::build_state` passes `app::register_jobs`) in its registry.
    pub async fn build_with_jobs(config: Config, more_jobs: impl FnOnce(&mut Registry)) -> anyhow::Result<Self> {
        let mut jobs = Registry::default();
        crate::register_jobs(&mut jobs);
        more_jobs(&mut jobs);
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        let hasher = Hasher::new(&config)?;
        let mailer = Mailer::new(&config)?;
        let limits = RateLimits::new(&config);
        let webauthn = config.webauthn.build()?;
        let fake_key = hex::decode(crate::platform::crypto::keyed_digest(
            config.secret_key.expose(),
            &["webauthn-fake-credentials"],
        ))?;
        let fake_credentials = FakeCredentials::new(&fake_key)?;
        Ok(Self(Arc::new(Services {
            config: Arc::new(config),
            db,
            clock: Clock::default(),
            hasher: Arc::new(hasher),
            mailer: Arc::new(mailer),
            limits: Arc::new(limits),
            webauthn: Arc::new(webauthn),
            fake_credentials: Arc::new(fake_credentials),
            jobs_wakeup: Arc::new(tokio::sync::Notify::new()),
            jobs,
        })))
    }
}
