//! The admins' view of accounts: a searchable, filterable list paged by keyset (the next page starts after the last
//! row shown, so page 2 000 costs what page 1 does), and one account in full.
use super::{require_admin, time_cursor, Error, Page, PAGE_SIZE};
use crate::{
    platform::db::{like_literal, Filters},
    platform::request::CurrentSession,
    AppState,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Unconfirmed,
    Locked,
    Mfa,
    Admin,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "confirmed" => Status::Confirmed,
            "unconfirmed" => Status::Unconfirmed,
            "locked" => Status::Locked,
            "mfa" => Status::Mfa,
            "admin" => Status::Admin,
            _ => return None,
        })
    }

    fn condition(self) -> &'static str {
        match self {
            Status::Confirmed => "u.confirmed_at IS NOT NULL",
            Status::Unconfirmed => "u.confirmed_at IS NULL",
            Status::Locked => "u.locked_at IS NOT NULL",
            Status::Mfa => "EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL)",
            Status::Admin => "u.is_admin = 1",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    Email,
}

impl Sort {
    pub fn parse(s: &str) -> Self {
        match s {
            "oldest" => Sort::Oldest,
            "email" => Sort::Email,
            _ => Sort::Newest,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Part of the e-mail address.
    pub email: String,
    pub status: Option<Status>,
    pub sort: Sort,
    /// The cursor of the page to show (from the previous page).
    pub after: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub locked_at: Option<i64>,
    pub is_admin: i64,
    pub mfa: i64,
}

pub async fn search(st: &AppState, me: &CurrentSession, q: &Query) -> Result<Page<UserRow>, Error> {
    require_admin(me)?;
    let mut f = Filters::default();
    let email = q.email.trim().to_lowercase();
    if !email.is_empty() {
        let p = f.text(format!("%{}%", like_literal(&email)));
        f.and(format!("u.email LIKE {p} ESCAPE '\\'"));
    }
    if let Some(s) = q.status {
        f.and(s.condition().to_string());
    }
    let order = match q.sort {
        Sort::Newest => "u.created_at DESC, u.id DESC",
        Sort::Oldest => "u.created_at ASC, u.id ASC",
        Sort::Email => "u.email ASC",
    };
    if let Some(after) = q.after.as_deref() {
        match q.sort {
            Sort::Email => {
                let p = f.text(after.chars().take(320).collect::<String>());
                f.and(format!("u.email > {p}"));
            }
            sort => {
                let (at, id) = time_cursor(after).ok_or(Error::NotFound)?;
                let (a, i) = (f.int(at), f.text(id));
                let cmp = if sort == Sort::Newest { "<" } else { ">" };
                f.and(format!("(u.created_at {cmp} {a} OR (u.created_at = {a} AND u.id {cmp} {i}))"));
            }
        }
    }
    let sql = format!(
        "SELECT u.id, u.email, u.display_name, u.created_at, u.confirmed_at, u.locked_at, u.is_admin, \
         (SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL) AS mfa \
         FROM users u {} ORDER BY {order} LIMIT {}",
        f.clause(),
        PAGE_SIZE + 1
    );
    let rows: Vec<UserRow> = f.fetch_all(&sql, &st.db.pool).await?;
    let sort = q.sort;
    Ok(Page::from_rows(rows, |r| match sort {
        Sort::Email => r.email.clone(),
        _ => format!("{}.{}", r.created_at, r.id),
    }))
}

/// One account, as its admin page shows it.
#[derive(Debug)]
pub struct Detail {
    pub user: UserRow,
    pub has_password: bool,
    /// The password no longer signs in until the user chooses a new one (S5).
    pub password_change_required: bool,
    pub password_paused_until: Option<i64>,
    pub deletion_scheduled_at: Option<i64>,
    pub passkeys: i64,
    pub backup_codes_left: i64,
    pub last_sign_in: Option<i64>,
    pub sessions: Vec<crate::signin::sessions::SessionRow>,
    /// (provider, e-mail the provider gave, linked at)
    pub identities: Vec<(String, Option<String>, i64)>,
    /// (name, slug, role)
    pub organizations: Vec<(String, String, String)>,
    /// Personal access tokens that still work.
    pub api_tokens: Vec<crate::api::tokens::TokenRow>,
    pub recent: Vec<super::audit_log::AuditRow>,
}

pub async fn detail(st: &AppState, me: &CurrentSession, user_id: &str) -> Result<Detail, Error> {
    require_admin(me)?;
    let db = &st.db.pool;
    let now = st.clock.now();
    let user: UserRow = sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, u.created_at, u.confirmed_at, u.locked_at, u.is_admin, \
         (SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL) AS mfa \
         FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await?
    .ok_or(Error::NotFound)?;
    let (has_password, change_required, locked_until, deletion, passkeys, backup, last_sign_in): (
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        i64,
        i64,
        Option<i64>,
    ) = sqlx::query_as(
        "SELECT CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END, password_change_required, locked_until, deletion_scheduled_at, \
         (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = $1), \
         (SELECT COUNT(*) FROM backup_codes b WHERE b.user_id = $1 AND b.used_at IS NULL), \
         (SELECT MAX(at) FROM audit_events e WHERE e.target_user_id = $1 AND e.action = 'user.log_in' \
          AND e.outcome = 'success') \
         FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    let sessions = crate::signin::sessions::list_for_user(st, user_id).await?;
    let identities = sqlx::query_as(
        "SELECT provider, email, created_at FROM user_identities WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?;
    let organizations = sqlx::query_as(
        "SELECT o.name, o.slug, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id \
         WHERE m.user_id = $1 ORDER BY o.name",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?;
    let api_tokens = crate::api::tokens::list(st, user_id).await?;
    let recent = super::audit_log::about_user(st, user_id, 20).await?;
    Ok(Detail {
        user,
        has_password: has_password == 1,
        password_change_required: change_required != 0,
        password_paused_until: locked_until.filter(|t| *t > now),
        deletion_scheduled_at: deletion,
        passkeys,
        backup_codes_left: backup,
        last_sign_in,
        sessions,
        identities,
        organizations,
        api_tokens,
        recent,
    })
}
