//! `/invitations/:token`: what an invitation link opens. Open: a new user signs up with the invited address (fixed,
//! and confirmed by the link) and joins in one step; the invited user, signed in, accepts; anyone signed in with
//! another address is told why there is nothing to accept. Expired, revoked (or replaced) and accepted invitations
//! each say so.
use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::ORGANIZATIONS;
use crate::{
    auth::register::NewPasswordField,
    components::{
        form::{form_error, ErrorBanner, SubmitButton},
        layout::{with_page_context, AuthCard},
    },
    context::{Done, Flash},
    error::AppError,
};

pub use domain::views::InvitationState;

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Viewer {
    SignedOut,
    /// Signed in with the invited address.
    Invitee,
    /// Signed in with another address.
    Someone,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InvitationInfo {
    pub state: InvitationState,
    pub org_name: String,
    pub role: String,
    pub inviter: Option<String>,
    pub email: String,
    pub viewer: Viewer,
    pub signed_in_as: Option<String>,
    /// The link was mailed to the invited address, so a new account can be made from it (a copied link cannot).
    pub can_sign_up: bool,
}

#[server(prefix = "/api", endpoint = "invitation_details")]
pub async fn invitation_details(token: String) -> Result<InvitationInfo, AppError> {
    use crate::server_ctx;
    use backend::orgs::invitations;
    let ctx = server_ctx::request()?;
    let st = server_ctx::state()?;
    let found = invitations::find_by_token(&st, &token).await?;
    let me = ctx.session.as_ref();
    let Some(inv) = found else {
        server_ctx::fail(AppError::NotFound);
        return Ok(InvitationInfo {
            state: InvitationState::Invalid,
            org_name: String::new(),
            role: String::new(),
            inviter: None,
            email: String::new(),
            viewer: Viewer::SignedOut,
            signed_in_as: me.map(|m| m.email.clone()),
            can_sign_up: false,
        });
    };
    let state = inv.status;
    let viewer = match me {
        None => Viewer::SignedOut,
        Some(m) if m.email == inv.email => Viewer::Invitee,
        Some(_) => Viewer::Someone,
    };
    Ok(InvitationInfo {
        state,
        org_name: inv.org_name,
        role: inv.role.as_str().to_string(),
        inviter: inv.inviter,
        email: inv.email,
        viewer,
        signed_in_as: me.map(|m| m.email.clone()),
        can_sign_up: inv.mailed_link,
    })
}

/// The signed-in invitee accepts. Anyone signed in with another address is refused (403).
#[server(prefix = "/api", endpoint = "accept_invitation")]
pub async fn accept_invitation(token: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, link_page, require_session, Outcome};
    form(&link_page("/invitations", &token), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let slug = backend::orgs::invitations::accept(&st, &ctx, &me, &token).await?;
        Ok(Outcome::go(super::org_path(&slug, ""), crate::context::Notice::OrgJoined))
    })
    .await
}

/// A new user signs up with the invited address and joins, signed in at once.
#[server(prefix = "/api", endpoint = "accept_invitation_sign_up")]
pub async fn accept_invitation_sign_up(token: String, password: String) -> Result<Done, AppError> {
    use crate::server_ctx::{append_header, form, link_page, sign_in_redirect, Outcome};
    form(&link_page("/invitations", &token), &[], |st, ctx| async move {
        let (slug, outcome) = backend::orgs::invitations::sign_up(&st, &ctx, &token, &password).await?;
        let home = super::org_path(&slug, "");
        let (next, flash, cookie) = sign_in_redirect(&st, &ctx, &outcome, &home);
        append_header(http::header::SET_COOKIE, &cookie);
        // Signed in at once: the organization's welcome rather than the log-in one.
        let notice = if next == home { Some(crate::context::Notice::OrgJoined) } else { flash.notice };
        Ok(Outcome::go(next, notice))
    })
    .await
}

#[component]
pub fn InvitationPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    with_page_context(move |page| {
        let data = Resource::new(token, invitation_details);
        let flash = page.flash.clone();
        view! {
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {
                    let flash = flash.clone();
                    move || {
                        let flash = flash.clone();
                        Suspend::new(async move {
                            match data.await {
                                Ok(d) => view! { <Invitation d token=token() flash/> }.into_any(),
                                Err(e) => view! { <AuthCard title="Invitation"><div class="banner banner-error" role="alert">{e.banner()}</div></AuthCard> }.into_any(),
                            }
                        })
                    }
                }
            </Suspense>
        }
    })
}

#[component]
fn Invitation(d: InvitationInfo, token: String, flash: Flash) -> impl IntoView {
    let closed = |title: &'static str, text: String| {
        view! {
            <AuthCard title>
                <p>{text}</p>
                <p class="alt-action"><a href=ORGANIZATIONS>"Your organizations"</a></p>
            </AuthCard>
        }
        .into_any()
    };
    match d.state {
        InvitationState::Invalid => {
            closed("Invitation not found", "This invitation link is not valid. Check that you copied all of it.".into())
        }
        InvitationState::Expired => closed(
            "This invitation has expired",
            format!("Invitations work for 7 days. Ask someone at {} to invite you again.", d.org_name),
        ),
        InvitationState::Revoked => closed(
            "This invitation was withdrawn",
            format!(
                "{} revoked it or sent a newer one. Use the newest invitation mail, or ask them again.",
                d.org_name
            ),
        ),
        InvitationState::Accepted => closed(
            "This invitation was already accepted",
            format!("It was used to join {}. Log in to open the organization.", d.org_name),
        ),
        InvitationState::Open => {
            let lead = format!(
                "{} invited {} to join {} as {}.",
                d.inviter.clone().unwrap_or_else(|| "A member".into()),
                d.email,
                d.org_name,
                d.role
            );
            let body = match d.viewer {
                Viewer::Invitee => view! { <AcceptForm token/> }.into_any(),
                Viewer::SignedOut if d.can_sign_up => {
                    view! { <SignUpForm token email=d.email.clone() flash/> }.into_any()
                }
                Viewer::SignedOut => {
                    let how = format!(
                        "Log in as {} to accept. No account yet? Create one with that address and confirm it from the                          mail we send, then open this link again (the invitation also waits under Organizations).",
                        d.email
                    );
                    view! {
                        <p>{how}</p>
                        <div class="hero-actions">
                            // Signed in, the invitation waits under Organizations (the link's token stays out of the
                            // log-in page's address).
                            <a class="button" href="/users/log-in?return_to=/organizations">"Log in"</a>
                            <a class="button button-secondary" href="/users/register">"Create an account"</a>
                        </div>
                    }
                    .into_any()
                }
                Viewer::Someone => {
                    let why = format!(
                        "This invitation is for {}, and you are signed in as {}. Only {} can accept it: log out, then \
                         open the link again and sign in or sign up with that address.",
                        d.email,
                        d.signed_in_as.clone().unwrap_or_default(),
                        d.email
                    );
                    view! {
                        <div class="banner banner-warn" role="status">{why}</div>
                        <form method="post" action="/api/log_out" class="inline-form">
                            <button type="submit" class="button button-secondary">"Log out"</button>
                        </form>
                    }
                    .into_any()
                }
            };
            view! {
                <section class="card auth-card" aria-labelledby="page-title">
                    <h1 id="page-title">{format!("Join {}", d.org_name)}</h1>
                    <p class="lead">{lead}</p>
                    {body}
                </section>
            }
            .into_any()
        }
    }
}

#[component]
fn AcceptForm(token: String) -> impl IntoView {
    let action = ServerAction::<AcceptInvitation>::new();
    let error = form_error(move || action.value().get(), Flash::default());
    view! {
        <ErrorBanner error/>
        <ActionForm action>
            <input type="hidden" name="token" value=token/>
            <SubmitButton label="Accept invitation" pending_label="Joining…" pending=action.pending()/>
        </ActionForm>
    }
}

#[component]
fn SignUpForm(token: String, email: String, flash: Flash) -> impl IntoView {
    let action = ServerAction::<AcceptInvitationSignUp>::new();
    let error = form_error(move || action.value().get(), flash);
    view! {
        <ErrorBanner error/>
        <ActionForm action>
            <input type="hidden" name="token" value=token/>
            <div class="field">
                <label for="invited-email">"E-mail"</label>
                <input id="invited-email" type="email" value=email.clone() readonly autocomplete="username" aria-describedby="invited-email-hint"/>
                <p class="hint" id="invited-email-hint">"The invitation is for this address; opening the link confirmed it."</p>
                <p class="field-error" role="alert">{move || error.get().and_then(|e| e.field_error("email"))}</p>
            </div>
            <NewPasswordField error email=email label="Choose a password"/>
            <SubmitButton label="Create account and join" pending_label="Joining…" pending=action.pending()/>
        </ActionForm>
        <p class="alt-action">"Already have an account with this address? " <a href="/users/log-in">"Log in"</a>", then open this link again."</p>
    }
}
