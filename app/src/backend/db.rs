//! One pool for both databases. Queries are written once in the SQL both accept (`$1` placeholders, BIGINT epoch
//! seconds, TEXT ids); the few that must differ branch on [`Db::kind`].
use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::AnyPool;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub kind: DbKind,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

impl Db {
    /// Connects (creating the SQLite file and its folder on first run).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        install_default_drivers();
        let kind = if url.starts_with("sqlite:") { DbKind::Sqlite } else { DbKind::Postgres };
        let url = if kind == DbKind::Sqlite {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = std::path::Path::new(path).parent() {
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
        Ok(Self { pool, kind })
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
