//! Invitations: bound to an e-mail address, open 7 days, resent, revoked, replaced by a new one to the same address.
//! Each mail and each copied link is its own token (only digests stored); all of them die with the invitation.
mod accept;
use super::{add_member, authorize, set_active, Action, Role};
use crate::orgs::jobs::OrgInvitation;
use crate::{
    platform::{
        audit::{self, Event},
        crypto::{new_id, random_token, token_digest},
        db::Tx,
        jobs,
        request::{CurrentSession, RequestContext},
    },
    signin::{
        gate::{self, FirstFactor, SignIn},
        password_policy::{NewPassword, PasswordContext},
    },
    AppState, Error,
};
pub use accept::{accept, accept_listed, sign_up};
use domain::validation::EmailAddress;

pub const INVITATION_SECS: i64 = 7 * 24 * 3600;

/// Where an invitation stands (`Invalid` is for a link that finds none: never a found invitation's).
pub use domain::views::InvitationState as Status;

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub org_slug: String,
    pub email: String,
    pub role: Role,
    /// The inviter's display name or e-mail.
    pub inviter: Option<String>,
    pub expires_at: i64,
    pub status: Status,
    /// Opened through a link that was mailed to the invited address (proof of the mailbox); a copied link is not.
    pub mailed_link: bool,
}

type InvitationRow =
    (String, String, String, String, String, String, Option<String>, i64, Option<i64>, Option<i64>, String);

/// `{kind}` is the kind of the link the invitation was found by ('' when found by id).
const SELECT: &str = "SELECT i.id, i.org_id, o.name, o.slug, i.email, i.role, COALESCE(u.display_name, u.email), \
     i.expires_at, i.accepted_at, i.revoked_at, {kind} FROM invitations i JOIN organizations o ON o.id = i.org_id \
     LEFT JOIN users u ON u.id = i.invited_by";

fn select(kind: &str) -> String {
    SELECT.replace("{kind}", kind)
}

fn from_row(st: &AppState, r: InvitationRow) -> Option<Invitation> {
    let (id, org_id, org_name, org_slug, email, role, inviter, expires_at, accepted_at, revoked_at, kind) = r;
    let status = if accepted_at.is_some() {
        Status::Accepted
    } else if revoked_at.is_some() {
        Status::Revoked
    } else if expires_at <= st.clock.now() {
        Status::Expired
    } else {
        Status::Open
    };
    let mailed_link = kind == MAILED;
    Some(Invitation {
        id,
        org_id,
        org_name,
        org_slug,
        email,
        role: Role::parse(&role)?,
        inviter,
        expires_at,
        status,
        mailed_link,
    })
}

/// The invitation a link carries, in whatever state it is.
pub async fn find_by_token(st: &AppState, token: &str) -> Result<Option<Invitation>, sqlx::Error> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let row: Option<InvitationRow> = sqlx::query_as(&format!(
        "{} JOIN invitation_links l ON l.invitation_id = i.id WHERE l.token_digest = $1",
        select("l.kind")
    ))
    .bind(token_digest(token))
    .fetch_optional(&st.db.pool)
    .await?;
    Ok(row.and_then(|r| from_row(st, r)))
}

async fn find_by_id(st: &AppState, org_id: &str, id: &str) -> Result<Option<Invitation>, sqlx::Error> {
    let row: Option<InvitationRow> = sqlx::query_as(&format!("{} WHERE i.id = $1 AND i.org_id = $2", select("''")))
        .bind(id)
        .bind(org_id)
        .fetch_optional(&st.db.pool)
        .await?;
    Ok(row.and_then(|r| from_row(st, r)))
}

/// Link kinds: a link made for the invitation mail, or one handed to the inviter to pass on.
const MAILED: &str = "mail";
const COPIED: &str = "copy";

/// A new link for the invitation, in `tx`: the clear token goes into a mail (`MAILED`) or to the inviter's
/// clipboard (`COPIED`).
async fn new_link(tx: &mut Tx, st: &AppState, invitation_id: &str, kind: &str) -> Result<String, sqlx::Error> {
    let token = random_token();
    sqlx::query("INSERT INTO invitation_links (token_digest, invitation_id, kind, created_at) VALUES ($1, $2, $3, $4)")
        .bind(token_digest(&token))
        .bind(invitation_id)
        .bind(kind)
        .bind(st.clock.now())
        .execute(&mut **tx)
        .await?;
    Ok(format!("{}/invitations/{token}", st.config.base_url))
}

/// Makes the link a mail carries, in its own transaction, when the mail job runs.
pub async fn link_for_mail(st: &AppState, invitation_id: &str) -> Result<String, sqlx::Error> {
    let mut tx = st.db.begin().await?;
    let link = new_link(&mut tx, st, invitation_id, MAILED).await?;
    tx.commit().await?;
    Ok(link)
}

/// An open invitation by id, for its mail.
pub async fn find_open(st: &AppState, id: &str) -> Result<Option<Invitation>, sqlx::Error> {
    let row: Option<InvitationRow> =
        sqlx::query_as(&format!("{} WHERE i.id = $1", select("''"))).bind(id).fetch_optional(&st.db.pool).await?;
    Ok(row.and_then(|r| from_row(st, r)).filter(|i| i.status == Status::Open))
}

/// Invites `email` with `role`: replaces an open invitation to the same address, mails it when `send_mail`, and
/// returns a link to copy. Rate-limited per inviter and per organization.
pub async fn invite(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    email: &EmailAddress,
    role: Role,
    send_mail: bool,
) -> Result<String, Error> {
    crate::signin::sudo::require_confirmed(me)?;
    let org = authorize(st, me, slug, Action::Invite(role)).await?;
    let (members,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2",
    )
    .bind(&org.org_id)
    .bind(email.as_str())
    .fetch_one(&st.db.pool)
    .await?;
    if members > 0 {
        return Err(Error::Field("email", format!("{} is already a member.", email.as_str())));
    }
    st.limits.invite(&me.user_id, &org.org_id).map_err(Error::RateLimited)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE org_id = $2 AND email = $3 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(&org.org_id)
    .bind(email.as_str())
    .execute(&mut *tx)
    .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO invitations (id, org_id, email, role, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&org.org_id)
    .bind(email.as_str())
    .bind(role.as_str())
    .bind(&me.user_id)
    .bind(now)
    .bind(now + INVITATION_SECS)
    .execute(&mut *tx)
    .await?;
    let link = new_link(&mut tx, st, &id, COPIED).await?;
    let mut job_ids = Vec::new();
    if send_mail {
        job_ids.push(jobs::enqueue(&mut tx, st, OrgInvitation { invitation_id: id.clone() }).await?);
    }
    let detail = format!("{} as {}", email.as_str(), role.as_str());
    let event = Event::in_org("org.invitation.created", &me.user_id, &org.org_id, None).detail(&detail);
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    jobs::after_commit(st, &job_ids).await;
    Ok(link)
}

/// What can be done to an open invitation of the organization.
#[derive(Clone, Copy)]
pub enum Manage {
    /// Mail it again; it is open 7 days from now.
    Resend,
    Revoke,
    /// A new link to copy (returned).
    CopyLink,
}

/// Resends, revokes or copies a link of an open invitation of `slug` (another organization's id is "not found").
/// An admin cannot touch an invitation to the owner role, as they could not have sent it.
pub async fn manage(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    id: &str,
    what: Manage,
) -> Result<Option<String>, Error> {
    crate::signin::sudo::require_confirmed(me)?;
    let org = authorize(st, me, slug, Action::ManageInvitations).await?;
    let inv = find_by_id(st, &org.org_id, id).await?.filter(|i| i.status == Status::Open).ok_or(Error::NotFound)?;
    if !super::can(org.role, Action::Invite(inv.role)) {
        return Err(Error::Forbidden);
    }
    if matches!(what, Manage::Resend) {
        st.limits.invite(&me.user_id, &org.org_id).map_err(Error::RateLimited)?;
    }
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let mut job_ids = Vec::new();
    let (action, link) = match what {
        Manage::Resend => {
            sqlx::query("UPDATE invitations SET expires_at = $1 WHERE id = $2")
                .bind(now + INVITATION_SECS)
                .bind(&inv.id)
                .execute(&mut *tx)
                .await?;
            job_ids.push(jobs::enqueue(&mut tx, st, OrgInvitation { invitation_id: inv.id.clone() }).await?);
            ("org.invitation.resent", None)
        }
        Manage::Revoke => {
            sqlx::query("UPDATE invitations SET revoked_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&inv.id)
                .execute(&mut *tx)
                .await?;
            ("org.invitation.revoked", None)
        }
        Manage::CopyLink => ("org.invitation.link_created", Some(new_link(&mut tx, st, &inv.id, COPIED).await?)),
    };
    let event = Event::in_org(action, &me.user_id, &org.org_id, None).detail(&inv.email);
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    jobs::after_commit(st, &job_ids).await;
    Ok(link)
}

/// An open invitation of an organization, for its members page.
#[derive(Debug, sqlx::FromRow)]
pub struct OpenRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub invited_by: Option<String>,
    pub expires_at: i64,
}

pub async fn list_open(st: &AppState, org_id: &str) -> Result<Vec<OpenRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.id, i.email, i.role, u.email AS invited_by, i.expires_at FROM invitations i \
         LEFT JOIN users u ON u.id = i.invited_by WHERE i.org_id = $1 AND i.accepted_at IS NULL \
         AND i.revoked_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at DESC",
    )
    .bind(org_id)
    .bind(st.clock.now())
    .fetch_all(&st.db.pool)
    .await
}

/// The open invitations to `email` (the signed-in user's), for `/organizations`.
pub async fn open_for_email(st: &AppState, email: &str) -> Result<Vec<Invitation>, sqlx::Error> {
    let rows: Vec<InvitationRow> = sqlx::query_as(&format!(
        "{} WHERE i.email = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2 \
         ORDER BY i.created_at DESC",
        select("''")
    ))
    .bind(email)
    .bind(st.clock.now())
    .fetch_all(&st.db.pool)
    .await?;
    Ok(rows.into_iter().filter_map(|r| from_row(st, r)).collect())
}
