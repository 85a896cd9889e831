//! The members of an organization: list, change a role, remove, leave. An organization always keeps an owner.
use super::{authorize, lock_org, Action, Role};
use crate::orgs::jobs::{OrgMemberRemoved, OrgRoleChanged};
use crate::{
    platform::audit::{self, Event},
    platform::db::Tx,
    platform::jobs,
    platform::request::{CurrentSession, RequestContext},
    AppState, Error,
};

#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub role: String,
    pub created_at: i64,
    pub last_active_at: Option<i64>,
}

pub async fn list(st: &AppState, org_id: &str) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.user_id, u.email, u.display_name, m.role, m.created_at, m.last_active_at \
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
         ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.email",
    )
    .bind(org_id)
    .fetch_all(&st.db.pool)
    .await
}

/// The role of `user_id` in the organization, read in `tx` (none: not a member).
async fn role_of(tx: &mut Tx, org_id: &str, user_id: &str) -> Result<Option<Role>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.and_then(|(r,)| Role::parse(&r)))
}

/// Locks the organization's membership changes (see [`lock_org`]) and reads the caller's role again under the
/// lock: a caller demoted or removed a moment ago acts with what they have now.
async fn my_role_locked(tx: &mut Tx, st: &AppState, org_id: &str, user_id: &str) -> Result<Role, Error> {
    lock_org(tx, st, org_id).await?;
    role_of(tx, org_id, user_id).await?.ok_or(Error::NotFound)
}

/// Refuses, inside `tx`, to take the owner role from the last owner.
async fn keep_an_owner(tx: &mut Tx, org_id: &str, field: &'static str) -> Result<(), Error> {
    let (owners,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
        .bind(org_id)
        .fetch_one(&mut **tx)
        .await?;
    if owners <= 1 {
        return Err(Error::Field(
            field,
            "An organization needs an owner: make another member owner first (or delete the organization).".into(),
        ));
    }
    Ok(())
}

/// Changes a member's role, if the caller's role allows this change for this member; the last owner keeps the role.
/// The member is mailed; the change is audited with the organization in the same transaction.
pub async fn change_role(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    user_id: &str,
    to: Role,
) -> Result<(), Error> {
    crate::signin::sudo::not_impersonating(me)?;
    let org = authorize(st, me, slug, Action::ViewMembers).await?;
    let mut tx = st.db.begin().await?;
    let mine = my_role_locked(&mut tx, st, &org.org_id, &me.user_id).await?;
    let from = role_of(&mut tx, &org.org_id, user_id).await?.ok_or(Error::NotFound)?;
    if !super::can(mine, Action::ChangeRole { from, to }) {
        return Err(Error::Forbidden);
    }
    if from == to {
        return Ok(());
    }
    if from == Role::Owner {
        keep_an_owner(&mut tx, &org.org_id, "role").await?;
    }
    let now = st.clock.now();
    sqlx::query("UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3")
        .bind(to.as_str())
        .bind(&org.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    withdraw_invitations_beyond(&mut tx, &org.org_id, user_id, Some(to), now).await?;
    let detail = format!("{} → {}", from.as_str(), to.as_str());
    let event = Event::in_org("org.member.role_changed", &me.user_id, &org.org_id, Some(user_id)).detail(&detail);
    audit::record(&mut tx, ctx, now, event).await?;
    let job = OrgRoleChanged { org_id: org.org_id.clone(), user_id: user_id.to_string() };
    let id = jobs::enqueue(&mut tx, st, job).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[id]).await;
    Ok(())
}

/// Removes a member (the caller's own membership: see [`leave`]). Their next request to the organization is 404.
pub async fn remove(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    user_id: &str,
) -> Result<(), Error> {
    if user_id == me.user_id {
        return leave(st, ctx, me, slug).await;
    }
    crate::signin::sudo::not_impersonating(me)?;
    let org = authorize(st, me, slug, Action::ViewMembers).await?;
    let mut tx = st.db.begin().await?;
    let mine = my_role_locked(&mut tx, st, &org.org_id, &me.user_id).await?;
    let role = role_of(&mut tx, &org.org_id, user_id).await?.ok_or(Error::NotFound)?;
    if !super::can(mine, Action::Remove(role)) {
        return Err(Error::Forbidden);
    }
    if role == Role::Owner {
        keep_an_owner(&mut tx, &org.org_id, "member").await?;
    }
    let now = st.clock.now();
    end_membership(&mut tx, &org.org_id, user_id, now).await?;
    let event = Event::in_org("org.member.removed", &me.user_id, &org.org_id, Some(user_id)).detail(role.as_str());
    audit::record(&mut tx, ctx, now, event).await?;
    let job = OrgMemberRemoved { org_id: org.org_id.clone(), user_id: user_id.to_string() };
    let id = jobs::enqueue(&mut tx, st, job).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[id]).await;
    Ok(())
}

/// The caller leaves the organization, unless they are its last owner.
pub async fn leave(st: &AppState, ctx: &RequestContext, me: &CurrentSession, slug: &str) -> Result<(), Error> {
    let org = authorize(st, me, slug, Action::Leave).await?;
    let mut tx = st.db.begin().await?;
    if my_role_locked(&mut tx, st, &org.org_id, &me.user_id).await? == Role::Owner {
        keep_an_owner(&mut tx, &org.org_id, "member").await?;
    }
    let now = st.clock.now();
    end_membership(&mut tx, &org.org_id, &me.user_id, now).await?;
    let event = Event::in_org("org.member.left", &me.user_id, &org.org_id, Some(&me.user_id));
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Withdraws the open invitations `user_id` sent in the organization that their role `now` (none: they left or were
/// removed) could no longer send, so an invitation never outlives its inviter's rights (S50, L5).
async fn withdraw_invitations_beyond(
    tx: &mut Tx,
    org_id: &str,
    user_id: &str,
    now_role: Option<Role>,
    at: i64,
) -> Result<(), sqlx::Error> {
    for role in Role::ALL {
        if now_role.is_some_and(|r| super::can(r, Action::Invite(role))) {
            continue;
        }
        sqlx::query(
            "UPDATE invitations SET revoked_at = $1 WHERE org_id = $2 AND invited_by = $3 AND role = $4 \
             AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn end_membership(tx: &mut Tx, org_id: &str, user_id: &str, now: i64) -> Result<(), sqlx::Error> {
    withdraw_invitations_beyond(tx, org_id, user_id, None, now).await?;
    crate::api::tokens::revoke_for_org(tx, org_id, Some(user_id)).await?;
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE sessions SET active_org_id = NULL WHERE user_id = $1 AND active_org_id = $2")
        .bind(user_id)
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
