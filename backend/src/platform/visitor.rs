//! The visitor session: per-browser data for the forker's own state (a wizard's progress, a cart, preferences) and
//! the app's one-shot flash, on `tower-sessions` with its store in the app's own database (SQLite or PostgreSQL).
//!
//! It is not the sign-in session (`signin/sessions.rs`): that one has a row per device created only by the sign-in gate in
//! the caller's transaction, is rotated in place, carries impersonation, and is what every authorization check reads.
//! This one holds data only: it exists while it holds something (an empty one is deleted and its cookie removed),
//! gets a new id at every sign-in (`cycle`), and is emptied at log out (`flush`).
//!
//! At rest the id is stored only as its SHA-256 digest: a database dump does not give anyone's cookie. Expired rows
//! are deleted by housekeeping.
use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::{
    cookie::SameSite,
    session::{Id, Record},
    session_store::{self, SessionStore},
    Expiry, SessionManagerLayer,
};

pub use tower_sessions::Session;

use crate::{platform::config::Config, platform::crypto::token_digest, platform::db::Db};

/// How long a visitor session lasts without a request.
pub const IDLE_DAYS: i64 = 14;

/// The session's key for the flash (see `server_ctx`).
pub const FLASH_KEY: &str = "portcullis.flash";

/// The layer that gives every request its [`Session`] (an extension; `server_ctx::visitor()` in a server function).
pub fn layer(config: &Config, db: &Db) -> SessionManagerLayer<VisitorStore> {
    SessionManagerLayer::new(VisitorStore { db: db.clone() })
        .with_name(config.visitor_cookie_name())
        .with_secure(config.secure_cookies())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(IDLE_DAYS)))
}

/// A new id for the visitor's session, its data kept: at every sign-in (a planted id dies with it).
pub async fn cycle(session: &Session) -> Result<(), tower_sessions::session::Error> {
    if session.is_empty().await {
        return Ok(());
    }
    session.cycle_id().await
}

/// The [`SessionStore`] on the app's database.
#[derive(Clone, Debug)]
pub struct VisitorStore {
    db: Db,
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn digest(id: &Id) -> String {
    token_digest(&id.to_string())
}

fn encode(record: &Record) -> Result<String, session_store::Error> {
    serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for VisitorStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Always a fresh random id, whatever the record came with (after a `flush` it keeps the old one): a stored
        // session never gets an id a browser held before. Drawn again if taken (128 bits: in practice never).
        loop {
            record.id = Id::default();
            let inserted = sqlx::query(
                "INSERT INTO visitor_sessions (id_digest, data, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id_digest) DO NOTHING",
            )
            .bind(digest(&record.id))
            .bind(encode(record)?)
            .bind(record.expiry_date.unix_timestamp())
            .execute(&self.db.pool)
            .await
            .map_err(backend)?
            .rows_affected();
            if inserted == 1 {
                return Ok(());
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // Nothing left in it (its flash was shown): the row goes. The browser's cookie then finds nothing, and the
        // layer removes it at the next request.
        if record.data.is_empty() {
            return self.delete(&record.id).await;
        }
        sqlx::query(
            "INSERT INTO visitor_sessions (id_digest, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id_digest) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(digest(&record.id))
        .bind(encode(record)?)
        .bind(record.expiry_date.unix_timestamp())
        .execute(&self.db.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        const LOAD: &str = "SELECT data, expires_at FROM visitor_sessions WHERE id_digest = $1 AND expires_at > $2";
        let (digest, now) = (digest(id), OffsetDateTime::now_utc().unix_timestamp());
        // Every page asks for its flash, so this runs as often as the session lookup: on SQLite, on this thread
        // (`Db::read_direct`); otherwise, or if that fails, on the pool.
        let direct = self.db.read_direct(|conn| {
            use rusqlite::OptionalExtension;
            conn.prepare_cached(LOAD)?
                .query_row(rusqlite::named_params! { "$1": digest, "$2": now }, |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        });
        let row: Option<(String, i64)> = match direct {
            Some(Ok(row)) => row,
            _ => sqlx::query_as(LOAD).bind(&digest).bind(now).fetch_optional(&self.db.pool).await.map_err(backend)?,
        };
        let Some((data, expires_at)) = row else { return Ok(None) };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: OffsetDateTime::from_unix_timestamp(expires_at).map_err(backend)?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM visitor_sessions WHERE id_digest = $1")
            .bind(digest(id))
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// What a request does to its visitor session, decided by code that cannot wait (a page rendering, the end of a
/// form) and carried out by the server's request pipeline around it: the flash the page shows (taken before),
/// the flash for the next page and a new id after a sign-in (stored after).
#[derive(Clone, Debug, Default)]
pub struct Pending(std::sync::Arc<std::sync::Mutex<PendingState>>);

#[derive(Debug, Default)]
struct PendingState {
    flash_in: Option<serde_json::Value>,
    flash_out: Option<serde_json::Value>,
    cycle: bool,
}

impl Pending {
    fn state(&self) -> std::sync::MutexGuard<'_, PendingState> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The flash this request's page shows, once.
    pub fn take_flash(&self) -> Option<serde_json::Value> {
        self.state().flash_in.take()
    }

    /// The flash for the next page (replacing any set before in this request).
    pub fn put_flash(&self, flash: serde_json::Value) {
        self.state().flash_out = Some(flash);
    }

    /// The user signed in during this request: the visitor session gets a new id.
    pub fn signed_in(&self) {
        self.state().cycle = true;
    }

    /// Before the request: takes the flash out of `session` for a page to show. (Looked at first: removing marks
    /// the session changed, and a session with nothing to take is not written back.)
    pub async fn take_from(&self, session: &Session) {
        let taken = match session.get_value(FLASH_KEY).await {
            Ok(Some(_)) => session.remove_value(FLASH_KEY).await,
            other => other,
        };
        match taken {
            Ok(flash) => self.state().flash_in = flash,
            Err(e) => tracing::warn!(error = %e, "the visitor session could not be read"),
        }
    }

    /// After the request: a new id after a sign-in, then the flash for the next page.
    pub async fn apply(&self, session: &Session) {
        let (cycle, flash) = {
            let mut state = self.state();
            (std::mem::take(&mut state.cycle), state.flash_out.take())
        };
        if cycle {
            if let Err(e) = self::cycle(session).await {
                tracing::error!(error = %e, "the visitor session could not get a new id");
            }
        }
        if let Some(flash) = flash {
            // Removed first so the session counts as changed even when the same flash is set again (a second
            // failed attempt): it is then saved, with its expiry renewed and its cookie sent.
            let stored = match session.remove_value(FLASH_KEY).await {
                Ok(_) => session.insert_value(FLASH_KEY, flash).await,
                Err(e) => Err(e),
            };
            if let Err(e) = stored {
                tracing::error!(error = %e, "the flash could not be stored");
            }
        }
    }
}
