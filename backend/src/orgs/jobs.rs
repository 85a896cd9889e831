//! Organizations' mails: an invitation, a new role, a removal.
use serde::{Deserialize, Serialize};

use super::invitations;
use crate::{
    platform::{
        jobs::{Job, Registry},
        mail::mail,
    },
    signin::jobs::{send, user_email},
    AppState,
};

pub fn register(r: &mut Registry) {
    r.register::<OrgInvitation>().register::<OrgRoleChanged>().register::<OrgMemberRemoved>();
}

mail! {
    /// An invitation from `inviter` to join `org` as `role`, open for `days` days. Its subject names the inviter and
    /// the organization, so the invitee knows who asks before opening anything.
    OrgInvitationMail<'a> { inviter: &'a str, org: &'a str, role: &'a str, link: &'a str, days: i64 }
    text: "orgs/mails/org_invitation.txt", html: "orgs/mails/org_invitation.html"
}

/// An invitation to an organization (the link is made when the job runs; nothing is sent once it is closed).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgInvitation {
    pub invitation_id: String,
}

impl Job for OrgInvitation {
    const NAME: &'static str = "org_invitation";
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(inv) = invitations::find_open(st, &self.invitation_id).await.map_err(|e| e.to_string())? else {
            return Ok(()); // accepted, revoked or replaced meanwhile
        };
        let link = invitations::link_for_mail(st, &inv.id).await.map_err(|e| e.to_string())?;
        let inviter = inv.inviter.as_deref().unwrap_or("Someone");
        let days = invitations::INVITATION_SECS / 86400;
        let app = &st.config.app_name;
        let mail = OrgInvitationMail { app, inviter, org: &inv.org_name, role: inv.role.as_str(), link: &link, days };
        send(st, mail.to(&inv.email)).await
    }
}

mail! {
    /// "Your role in {org} is now {role}", with the organization's page.
    OrgRoleChangedMail<'a> { org: &'a str, role: &'a str, page: &'a str }
    text: "orgs/mails/org_role_changed.txt", html: "orgs/mails/org_role_changed.html"
}

/// "Your role in {org} is now {role}".
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgRoleChanged {
    pub org_id: String,
    pub user_id: String,
}

impl Job for OrgRoleChanged {
    const NAME: &'static str = "org_role_changed";
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let Some((org, slug)) = super::org_name(st, &self.org_id).await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let role: Option<(String,)> = sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(&self.org_id)
            .bind(&self.user_id)
            .fetch_optional(&st.db.pool)
            .await
            .map_err(|e| e.to_string())?;
        let Some((role,)) = role else { return Ok(()) };
        let page = format!("{}/organizations/{slug}", st.config.base_url);
        send(st, OrgRoleChangedMail { app: &st.config.app_name, org: &org, role: &role, page: &page }.to(&email)).await
    }
}

mail! {
    /// "You were removed from {org}".
    OrgMemberRemovedMail<'a> { org: &'a str }
    text: "orgs/mails/org_member_removed.txt", html: "orgs/mails/org_member_removed.html"
}

/// "You were removed from {org}".
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgMemberRemoved {
    pub org_id: String,
    pub user_id: String,
}

impl Job for OrgMemberRemoved {
    const NAME: &'static str = "org_member_removed";
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let Some((org, _)) = super::org_name(st, &self.org_id).await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        send(st, OrgMemberRemovedMail { app: &st.config.app_name, org: &org }.to(&email)).await
    }
}
