//! One pool for both databases. Queries are written once in the SQL both accept (`$1` placeholders, BIGINT epoch
//! seconds, TEXT ids); the few that must differ branch on [`Db::kind`].
use std::sync::{Arc, Mutex};

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::AnyConnection;
use sqlx::AnyPool;
use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub kind: DbKind,
    quick: Arc<QuickReads>,
    /// SQLite only: reads on the calling thread ([`Db::read_direct`]).
    direct: Option<Arc<DirectReads>>,
}

/// How many connections [`Db::quick`] keeps outside the pool.
const QUICK_CONNECTIONS: usize = 4;

/// Connections for the one read nearly every request makes (the session behind its cookie), kept outside the
/// pool: sqlx tests a pooled connection each time it goes back (a round trip to SQLite's worker thread, or to
/// PostgreSQL), which for a one-row read costs as much as the read itself. A connection comes back here only when
/// its query finished ([`Quick::keep`]); one dropped half-way (the client went away) or after an error is closed.
#[derive(Debug)]
struct QuickReads {
    idle: Mutex<Vec<AnyConnection>>,
    permits: Semaphore,
}

/// A connection lent by [`Db::quick`].
pub struct Quick<'a> {
    conn: Option<AnyConnection>,
    home: &'a QuickReads,
    _permit: SemaphorePermit<'a>,
}

impl Quick<'_> {
    pub fn conn(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("a lent connection is there until it is kept")
    }

    /// The query finished: the connection goes back for the next request.
    pub fn keep(mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.home.idle.lock()) {
            idle.push(conn);
        }
    }
}

/// Reads that run on the calling thread (SQLite only): the session behind a cookie is read on nearly every request,
/// and through sqlx each statement crosses to the connection's worker thread and back — two thread wake-ups that
/// cost more than the read. These connections are opened on the same file with `query_only` set, so nothing can
/// be written through them, and with no busy wait: a read that would have to wait fails at once and the caller asks
/// the pool instead. A connection comes back only after a read that succeeded.
#[derive(Debug)]
struct DirectReads {
    path: std::path::PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// How many idle direct connections are kept (one per thread that reads at the same moment is enough).
const DIRECT_CONNECTIONS: usize = 8;

impl DirectReads {
    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

impl Db {
    /// Connects (creating the SQLite file and its folder on first run).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        install_default_drivers();
        let kind = if url.starts_with("sqlite:") { DbKind::Sqlite } else { DbKind::Postgres };
        let file = Self::sqlite_file(url);
        let url = if kind == DbKind::Sqlite {
            if let Some(parent) = file.and_then(|path| std::path::Path::new(path).parent()) {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)?;
                }
            }
            let mut u = url.to_string();
            if !u.contains('?') {
                u.push_str("?mode=rwc");
            }
            u
        } else {
            url.to_string()
        };
        let mut opts = AnyPoolOptions::new().max_connections(if kind == DbKind::Sqlite { 8 } else { 16 });
        if kind == DbKind::Sqlite {
            // A SQLite connection is a file handle in this process: it cannot go stale, so the pool does not ping it
            // before every use (a round trip to the connection's worker thread per query). PostgreSQL keeps the ping.
            opts = opts.test_before_acquire(false).after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;")
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(&url).await?;
        let quick = Arc::new(QuickReads { idle: Mutex::new(Vec::new()), permits: Semaphore::new(QUICK_CONNECTIONS) });
        let direct = file.map(|path| Arc::new(DirectReads { path: path.into(), idle: Mutex::new(Vec::new()) }));
        Ok(Self { pool, kind, quick, direct })
    }

    /// A connection for one short read, outside the pool (see [`QuickReads`]): an idle one, or one taken out of
    /// the pool for good (opened like every pooled connection). At most [`QUICK_CONNECTIONS`] exist; beyond that,
    /// callers wait.
    pub async fn quick(&self) -> Result<Quick<'_>, sqlx::Error> {
        let permit = self.quick.permits.acquire().await.map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.quick.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.pool.acquire().await?.detach(),
        };
        Ok(Quick { conn: Some(conn), home: &self.quick, _permit: permit })
    }

    /// Runs a short read on this thread, on a SQLite connection of its own (see [`DirectReads`]); `None` on
    /// PostgreSQL, where the caller uses the pool. An error (the file is busy at that instant, say) is the caller's to
    /// retry on the pool: the connection it came from is closed.
    pub fn read_direct<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<rusqlite::Result<T>> {
        let direct = self.direct.as_ref()?;
        let idle = direct.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle.map_or_else(|| direct.open(), Ok) {
            Ok(conn) => conn,
            Err(e) => return Some(Err(e)),
        };
        let result = read(&conn);
        if result.is_ok() {
            if let Ok(mut idle) = direct.idle.lock() {
                if idle.len() < DIRECT_CONNECTIONS {
                    idle.push(conn);
                }
            }
        }
        Some(result)
    }

    /// The file a SQLite URL names (`None` for PostgreSQL and for an in-memory database).
    pub fn sqlite_file(url: &str) -> Option<&str> {
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let path = path.split('?').next().unwrap_or(path);
        (!path.is_empty() && path != ":memory:").then_some(path)
    }

    /// The file a SQLite URL names, when it does not exist yet (connecting would create it, empty).
    pub fn missing_sqlite_file(url: &str) -> Option<&str> {
        Self::sqlite_file(url).filter(|path| !std::path::Path::new(path).exists())
    }

    /// A consistent copy of the SQLite database in a new file, taken while the server reads and writes
    /// (`VACUUM INTO`: one read transaction, so the copy is the database at one moment). It never overwrites a file.
    pub async fn backup_to(&self, file: &std::path::Path) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.kind == DbKind::Sqlite,
            "backup copies a SQLite file; for PostgreSQL use pg_dump (the README's deployment guide)"
        );
        anyhow::ensure!(!file.exists(), "{} exists already: a backup never overwrites a file", file.display());
        let target = file.to_str().ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", file.display()))?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// True when every embedded migration has been applied (readiness check).
    pub async fn migrations_applied(&self) -> bool {
        let applied: Result<Vec<(i64,)>, _> =
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = TRUE").fetch_all(&self.pool).await;
        match applied {
            Ok(rows) => MIGRATOR.iter().all(|m| rows.iter().any(|(v,)| *v == m.version)),
            Err(_) => false,
        }
    }

    /// How far this machine's clock is ahead of the database server's, in seconds (PostgreSQL; a SQLite file has no
    /// clock of its own: `None`).
    pub async fn clock_offset(&self) -> Result<Option<f64>, sqlx::Error> {
        if self.kind == DbKind::Sqlite {
            return Ok(None);
        }
        let before = std::time::SystemTime::now();
        let (db,): (f64,) = sqlx::query_as("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)")
            .fetch_one(&self.pool)
            .await?;
        let after = std::time::SystemTime::now();
        let secs = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        Ok(Some((secs(before) + secs(after)) / 2.0 - db))
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        if self.kind == DbKind::Sqlite {
            // Take the write lock up front so two writers never deadlock upgrading a read lock.
            let mut tx = self.pool.begin().await?;
            sqlx::query("UPDATE schema_lock SET n = n WHERE id = 1").execute(&mut *tx).await?;
            Ok(tx)
        } else {
            self.pool.begin().await
        }
    }
}

/// A `WHERE` clause built from optional filters, with `$n` placeholders both databases accept (sqlx's
/// `QueryBuilder` for `Any` writes `?`, which PostgreSQL refuses).
#[derive(Default)]
pub struct Filters {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

impl Filters {
    /// Adds a value and returns its placeholder.
    pub fn text(&mut self, v: impl Into<String>) -> String {
        self.binds.push(Bind::Text(v.into()));
        format!("${}", self.binds.len())
    }

    pub fn int(&mut self, v: i64) -> String {
        self.binds.push(Bind::Int(v));
        format!("${}", self.binds.len())
    }

    /// Adds a condition (placeholders from [`Filters::text`] / [`Filters::int`]).
    pub fn and(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// `WHERE …` (or nothing).
    pub fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// Runs `sql` (which uses [`Filters::clause`]) and reads its rows.
    pub async fn fetch_all<'e, T>(&self, sql: &'e str, db: &AnyPool) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut q = sqlx::query_as::<_, T>(sql);
        for b in &self.binds {
            q = match b.clone() {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
            };
        }
        q.fetch_all(db).await
    }
}

/// `text` as a `LIKE` pattern that matches it literally (with `ESCAPE '\'`).
pub fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A database in a new SQLite file of its own, for unit tests: the database and its folder, to remove at the end.
#[cfg(test)]
pub(crate) async fn scratch_sqlite(label: &str) -> (Db, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("portcullis-{label}-{}", uuid::Uuid::new_v4().simple()));
    let db = Db::connect(&format!("sqlite://{}/t.db", dir.display())).await.unwrap();
    (db, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn direct_reads_see_every_commit_at_once_and_cannot_write() {
        let (db, dir) = scratch_sqlite("direct").await;
        sqlx::query("CREATE TABLE t (x BIGINT)").execute(&db.pool).await.unwrap();
        let count = |db: &Db| {
            db.read_direct(|c| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0)))
                .expect("SQLite reads directly")
                .unwrap()
        };
        assert_eq!(count(&db), 0);
        // A write committed on the pool is seen by the next direct read (no snapshot is kept between reads): a
        // session ended elsewhere is ended for the next request.
        sqlx::query("INSERT INTO t (x) VALUES (1)").execute(&db.pool).await.unwrap();
        assert_eq!(count(&db), 1);
        let write = db.read_direct(|c| c.execute("INSERT INTO t (x) VALUES (2)", [])).unwrap();
        assert!(write.is_err(), "query_only: nothing is written through a direct connection");
        assert_eq!(count(&db), 1);
        assert!(Db::sqlite_file("sqlite::memory:").is_none() && Db::sqlite_file("postgres://h/db").is_none());
        assert_eq!(Db::sqlite_file("sqlite://data/p.db?mode=rwc"), Some("data/p.db"));
        db.pool.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
