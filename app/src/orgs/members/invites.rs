//! The members page's invitation actions: invite (mailed, or a link to copy), resend, revoke, a new link.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::context::{Flash, Notice};
use crate::error::AppError;

/// A link to an invitation, shown once to the inviter to copy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InviteLink {
    pub email: String,
    pub link: String,
}

/// Invites `email` with `role`; mails the invitation unless `send_mail` is off. Returns a link to copy (a browser
/// without JavaScript gets it on the members page).
#[server(prefix = "/api", endpoint = "invite_member")]
pub async fn invite_member(
    slug: String,
    email: String,
    role: String,
    #[server(default)] send_mail: Option<String>,
) -> Result<InviteLink, AppError> {
    use crate::server_ctx;
    let ctx = server_ctx::request()?;
    let page = crate::orgs::org_path(&slug, "/members");
    let result: Result<InviteLink, AppError> = async {
        let me = server_ctx::require_session(&ctx)?;
        let st = server_ctx::state()?;
        let send = send_mail.is_some();
        let link = backend::orgs::invitations::invite(&st, &ctx, &me, &slug, &email, &role, send).await?;
        Ok(InviteLink { email: email.trim().to_lowercase(), link })
    }
    .await;
    match result {
        Ok(created) => {
            if ctx.wants_html {
                let mut flash = Flash::notice(Notice::InvitationSent);
                let st = server_ctx::state()?;
                server_ctx::seal_value(&st, &ctx, &mut flash, "invite_link", &created.link);
                flash.values.insert("invite_email".into(), created.email.clone());
                server_ctx::finish_form(&ctx, Ok((page, flash)), "", &[])?;
            }
            Ok(created)
        }
        Err(e) => {
            server_ctx::finish_form(&ctx, Err(e.clone()), &page, &[("email", &email), ("role", &role)])?;
            Err(e)
        }
    }
}

/// Mails an open invitation again (open 7 more days).
#[server(prefix = "/api", endpoint = "resend_invitation")]
pub async fn resend_invitation(slug: String, id: String) -> Result<(), AppError> {
    manage(slug, id, Manage::Resend).await.map(|_| ())
}

/// Revokes an open invitation: its links stop working.
#[server(prefix = "/api", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(slug: String, id: String) -> Result<(), AppError> {
    manage(slug, id, Manage::Revoke).await.map(|_| ())
}

/// A new link to an open invitation, to copy.
#[server(prefix = "/api", endpoint = "invitation_link")]
pub async fn invitation_link(slug: String, id: String) -> Result<String, AppError> {
    manage(slug, id, Manage::CopyLink).await.map(|l| l.unwrap_or_default())
}

#[cfg(feature = "ssr")]
use backend::orgs::invitations::Manage;

#[cfg(feature = "ssr")]
async fn manage(slug: String, id: String, what: Manage) -> Result<Option<String>, AppError> {
    use crate::server_ctx;
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx).map_err(server_ctx::fail)?;
    let st = server_ctx::state()?;
    let result = backend::orgs::invitations::manage(&st, &ctx, &me, &slug, &id, what).await.map_err(AppError::from);
    let page = crate::orgs::org_path(&slug, "/members");
    match (result, what) {
        (Ok(link), Manage::CopyLink) => {
            if ctx.wants_html {
                let mut flash = Flash::default();
                server_ctx::seal_value(&st, &ctx, &mut flash, "invite_link", link.as_deref().unwrap_or_default());
                server_ctx::finish_form(&ctx, Ok((page, flash)), "", &[])?;
            }
            Ok(link)
        }
        (Ok(_), what) => {
            let notice =
                if matches!(what, Manage::Resend) { Notice::InvitationResent } else { Notice::InvitationRevoked };
            server_ctx::finish_form(&ctx, Ok((page, Flash::notice(notice))), "", &[])?;
            Ok(None)
        }
        (Err(e), _) => server_ctx::finish_form(&ctx, Err(e), &page, &[]).map(|_| None),
    }
}
