//! The members page's invitation actions: invite (mailed, or a link to copy), resend, revoke, a new link.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::context::Notice;
use crate::{context::Done, error::AppError};

/// Invites `email` with `role`; mails the invitation unless `send_mail` is off. Leaves a link to copy
/// (`invite_link`, a secret) and the invited address (`invite_email`) for the members page.
#[server(prefix = "/api", endpoint = "invite_member")]
pub async fn invite_member(
    slug: String,
    email: String,
    role: String,
    #[server(default)] send_mail: Option<String>,
) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parse_email, parsed, require_session, Outcome};
    let back = crate::orgs::org_path(&slug, "/members");
    form(&back, &[("email", &email.clone()), ("role", &role.clone())], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let email = parse_email(&email)?;
        let role = parsed("role", backend::orgs::Role::from_form(&role))?;
        let send = send_mail.is_some();
        let link = backend::orgs::invitations::invite(&st, &ctx, &me, &slug, &email, role, send).await?;
        Ok(Outcome::stay(Notice::InvitationSent).with_secret("invite_link", link).with("invite_email", email.as_str()))
    })
    .await
}

/// Mails an open invitation again (open 7 more days).
#[server(prefix = "/api", endpoint = "resend_invitation")]
pub async fn resend_invitation(slug: String, id: String) -> Result<Done, AppError> {
    manage(slug, id, Manage::Resend).await
}

/// Revokes an open invitation: its links stop working.
#[server(prefix = "/api", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(slug: String, id: String) -> Result<Done, AppError> {
    manage(slug, id, Manage::Revoke).await
}

/// A new link to an open invitation, to copy (`invite_link`, a secret, for the members page).
#[server(prefix = "/api", endpoint = "invitation_link")]
pub async fn invitation_link(slug: String, id: String) -> Result<Done, AppError> {
    manage(slug, id, Manage::CopyLink).await
}

#[cfg(feature = "ssr")]
use backend::orgs::invitations::Manage;

#[cfg(feature = "ssr")]
async fn manage(slug: String, id: String, what: Manage) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(&crate::orgs::org_path(&slug, "/members"), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let link = backend::orgs::invitations::manage(&st, &ctx, &me, &slug, &id, what).await?;
        Ok(match what {
            Manage::Resend => Outcome::stay(Notice::InvitationResent),
            Manage::Revoke => Outcome::stay(Notice::InvitationRevoked),
            Manage::CopyLink => Outcome::stay(None).with_secret("invite_link", link.unwrap_or_default()),
        })
    })
    .await
}
