//! Organizations: one shared database, every org-scoped query joined through `memberships`.
//!
//! Authorization is in one place: [`authorize`] finds the caller's membership (none → `NotFound`, so an
//! organization's existence never leaks to outsiders) and asks [`can`], the role table, deny by default. The
//! membership is read on every request, so a removal or a role change takes effect at the caller's next request.
mod deletion;
pub mod invitations;
pub mod jobs;
pub mod members;
pub mod settings;

pub use deletion::{before_account_deletion, solely_owned_with_others};

use serde::{Deserialize, Serialize};

use crate::{
    platform::audit::{self, Event},
    platform::crypto::new_id,
    platform::db::Tx,
    platform::request::{CurrentSession, RequestContext},
    AppState, Error,
};
use domain::validation::{suggested_slug, OrgName, Slug};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// A role picked in a form; the error is the field's message.
    pub fn from_form(raw: &str) -> Result<Role, &'static str> {
        Role::parse(raw).ok_or("Choose owner, admin or member.")
    }
}

/// What a member may ask to do in an organization. The target's role is part of the action, so the one table below
/// also says who may touch whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// See the organization's home page and switch to it.
    View,
    /// See the members and their roles.
    ViewMembers,
    /// Invite someone with this role.
    Invite(Role),
    /// Resend, revoke, copy the link of an open invitation.
    ManageInvitations,
    /// Change a member's role.
    ChangeRole {
        from: Role,
        to: Role,
    },
    /// Remove a member who has this role.
    Remove(Role),
    Leave,
    /// Rename, change the slug, require two-step verification.
    EditSettings,
    /// Make, list, re-key and revoke the organization's service accounts.
    ManageServiceAccounts,
    Delete,
}

/// The role table, written once: true only where a row says so.
pub fn can(actor: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match (actor, action) {
        (_, View | ViewMembers | Leave) => true,
        (Owner, _) => true,
        (Admin, Invite(Admin | Member) | ManageInvitations) => true,
        (Admin, ChangeRole { from: Admin | Member, to: Admin | Member }) => true,
        (Admin, Remove(Admin | Member)) => true,
        _ => false,
    }
}

/// The caller's membership in an organization.
#[derive(Clone, Debug)]
pub struct Membership {
    pub org_id: String,
    pub slug: String,
    pub name: String,
    pub role: Role,
    pub require_mfa: bool,
    /// When the caller last used the organization (for the members page), as read.
    pub last_active_at: Option<i64>,
}

/// How long an old slug keeps redirecting after a change.
pub const SLUG_REDIRECT_SECS: i64 = 7 * 24 * 3600;

async fn find_membership(st: &AppState, user_id: &str, slug: &str) -> Result<Option<Membership>, sqlx::Error> {
    let row: Option<(String, String, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT o.id, o.slug, o.name, m.role, o.require_mfa, m.last_active_at FROM organizations o \
         JOIN memberships m ON m.org_id = o.id AND m.user_id = $1 WHERE o.slug = $2",
    )
    .bind(user_id)
    .bind(slug)
    .fetch_optional(&st.db.pool)
    .await?;
    Ok(row.and_then(|(org_id, slug, name, role, mfa, last_active_at)| {
        Some(Membership { org_id, slug, name, role: Role::parse(&role)?, require_mfa: mfa == 1, last_active_at })
    }))
}

/// Every org-scoped page and server function starts here: the caller's membership of `slug` if the role table allows
/// `action`. Not a member (or no such organization) → `NotFound`; a member without the role → `Forbidden`; an
/// organization that requires two-step verification, for a member without it → `MfaEnrolmentRequired` (leaving
/// stays possible). Every change is refused to an impersonating admin (`Impersonating`).
pub async fn authorize(st: &AppState, me: &CurrentSession, slug: &str, action: Action) -> Result<Membership, Error> {
    let m = find_membership(st, &me.user_id, slug).await?.ok_or(Error::NotFound)?;
    if m.require_mfa && !me.has_mfa && action != Action::Leave {
        return Err(Error::MfaEnrolmentRequired);
    }
    if !can(m.role, action) {
        return Err(Error::Forbidden);
    }
    // Who belongs to an organization, and as what, is not an admin's to change in a user's name.
    if !matches!(action, Action::View | Action::ViewMembers) {
        crate::signin::sudo::not_impersonating(me)?;
    }
    // At most one write a minute: the membership row just read says whether this one is due.
    let now = st.clock.now();
    if m.last_active_at.map_or(true, |t| t < now - 60) {
        sqlx::query(
            "UPDATE memberships SET last_active_at = $1 WHERE org_id = $2 AND user_id = $3 \
             AND (last_active_at IS NULL OR last_active_at < $4)",
        )
        .bind(now)
        .bind(&m.org_id)
        .bind(&me.user_id)
        .bind(now - 60)
        .execute(&st.db.pool)
        .await?;
    }
    Ok(m)
}

/// What the request pipeline needs to know about a page under `/organizations/{slug}` before it renders.
pub enum Entry {
    /// A member whose organization requires two-step verification they have not set up.
    MfaRequired,
    /// An old slug of an organization the caller belongs to: its new slug.
    Moved(String),
    /// Anything else: the page decides (and answers 404 to outsiders).
    Proceed,
}

pub async fn entry(st: &AppState, me: &CurrentSession, slug: &str) -> Result<Entry, sqlx::Error> {
    if let Some(m) = find_membership(st, &me.user_id, slug).await? {
        return Ok(if m.require_mfa && !me.has_mfa { Entry::MfaRequired } else { Entry::Proceed });
    }
    let moved: Option<(String,)> = sqlx::query_as(
        "SELECT o.slug FROM org_slug_redirects r JOIN organizations o ON o.id = r.org_id \
         JOIN memberships m ON m.org_id = o.id AND m.user_id = $1 WHERE r.slug = $2 AND r.expires_at > $3",
    )
    .bind(&me.user_id)
    .bind(slug)
    .bind(st.clock.now())
    .fetch_optional(&st.db.pool)
    .await?;
    Ok(moved.map(|(s,)| Entry::Moved(s)).unwrap_or(Entry::Proceed))
}

/// A slug taken by a concurrent request between the check and the write: the same field error as the check's.
fn slug_conflict(e: sqlx::Error) -> Error {
    if e.as_database_error().is_some_and(|d| d.is_unique_violation()) {
        Error::Field("slug", "That address is taken. Choose another.".into())
    } else {
        e.into()
    }
}

/// Is `slug` in use, as an organization's slug or as an old one still redirecting?
async fn slug_taken(tx: &mut Tx, slug: &str, now: i64) -> Result<bool, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM organizations WHERE slug = $1) + \
         (SELECT COUNT(*) FROM org_slug_redirects WHERE slug = $1 AND expires_at > $2)",
    )
    .bind(slug)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// Creates an organization with the caller as its owner and makes it the session's active one. Without a slug the
/// name suggests one (with a number added when taken); a slug asked for and taken is a field error.
pub async fn create(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    name: &OrgName,
    asked: Option<&Slug>,
) -> Result<String, Error> {
    crate::signin::sudo::require_confirmed(me)?;
    crate::signin::sudo::not_impersonating(me)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let slug = match asked {
        Some(s) if slug_taken(&mut tx, s.as_str(), now).await? => {
            return Err(Error::Field("slug", "That address is taken. Choose another.".into()));
        }
        Some(s) => s.as_str().to_string(),
        None => {
            let base = suggested_slug(name.as_str());
            let mut candidate = base.clone();
            let mut n = 2;
            while slug_taken(&mut tx, &candidate, now).await? {
                let suffix = format!("-{n}");
                let stem = base[..base.len().min(63 - suffix.len())].trim_end_matches('-');
                candidate = format!("{stem}{suffix}");
                n += 1;
            }
            candidate
        }
    };
    let org_id = new_id();
    sqlx::query(
        "INSERT INTO organizations (id, name, slug, require_mfa, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $5, $5)",
    )
    .bind(&org_id)
    .bind(name.as_str())
    .bind(&slug)
    .bind(&me.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(slug_conflict)?;
    add_member(&mut tx, &org_id, &me.user_id, Role::Owner, now).await?;
    set_active(&mut tx, &me.session_id, &org_id).await?;
    audit::record(&mut tx, ctx, now, Event::in_org("org.create", &me.user_id, &org_id, None).detail(&slug)).await?;
    tx.commit().await?;
    Ok(slug)
}

/// Serialises membership changes of one organization on PostgreSQL (SQLite's transactions already take the one
/// write lock up front), so two owners demoting each other at once cannot both see the other as the remaining owner.
async fn lock_org(tx: &mut Tx, st: &AppState, org_id: &str) -> Result<(), sqlx::Error> {
    if st.db.kind == crate::platform::db::DbKind::Postgres {
        sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE").bind(org_id).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn add_member(tx: &mut Tx, org_id: &str, user_id: &str, role: Role, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at, last_active_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn set_active(tx: &mut Tx, session_id: &str, org_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET active_org_id = $1 WHERE id = $2")
        .bind(org_id)
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Makes `slug` the session's active organization (members only).
pub async fn switch(st: &AppState, me: &CurrentSession, slug: &str) -> Result<(), Error> {
    let m = authorize(st, me, slug, Action::View).await?;
    let mut tx = st.db.begin().await?;
    set_active(&mut tx, &me.session_id, &m.org_id).await?;
    tx.commit().await?;
    Ok(())
}

/// One of the caller's organizations.
#[derive(Debug, sqlx::FromRow)]
pub struct OrgRow {
    pub slug: String,
    pub name: String,
    pub role: String,
    pub members: i64,
}

pub async fn list_for_user(st: &AppState, user_id: &str) -> Result<Vec<OrgRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.slug, o.name, m.role, (SELECT COUNT(*) FROM memberships x WHERE x.org_id = o.id) AS members \
         FROM organizations o JOIN memberships m ON m.org_id = o.id WHERE m.user_id = $1 ORDER BY o.name, o.slug",
    )
    .bind(user_id)
    .fetch_all(&st.db.pool)
    .await
}

pub async fn member_count(st: &AppState, org_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&st.db.pool)
        .await?;
    Ok(n)
}

/// The organization's name, for mails (none once it is deleted).
pub async fn org_name(st: &AppState, org_id: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT name, slug FROM organizations WHERE id = $1").bind(org_id).fetch_optional(&st.db.pool).await
}

#[cfg(test)]
mod tests {
    use super::{can, Action::*, Role::*};

    #[test]
    fn members_only_view_and_leave() {
        for a in [View, ViewMembers, Leave] {
            assert!(can(Member, a));
        }
        for a in [Invite(Member), ManageInvitations, Remove(Member), EditSettings, Delete] {
            assert!(!can(Member, a), "{a:?}");
        }
        assert!(!can(Member, ChangeRole { from: Member, to: Admin }));
    }

    #[test]
    fn admins_manage_people_below_owner_and_never_settings() {
        assert!(can(Admin, Invite(Member)) && can(Admin, Invite(Admin)) && can(Admin, ManageInvitations));
        assert!(!can(Admin, Invite(Owner)));
        assert!(can(Admin, ChangeRole { from: Member, to: Admin }));
        assert!(!can(Admin, ChangeRole { from: Member, to: Owner }));
        assert!(!can(Admin, ChangeRole { from: Owner, to: Member }));
        assert!(can(Admin, Remove(Member)) && !can(Admin, Remove(Owner)));
        assert!(!can(Admin, EditSettings) && !can(Admin, Delete));
    }

    #[test]
    fn owners_may_do_everything() {
        for a in [Invite(Owner), ChangeRole { from: Owner, to: Member }, Remove(Owner), EditSettings, Delete] {
            assert!(can(Owner, a));
        }
    }
}
