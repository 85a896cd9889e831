//! `/organizations/:slug/members`: members with their roles, role changes and removal, invitations (send, resend,
//! revoke, copy a link). What each button may do is decided on the server by the role table; the page only hides
//! buttons the table would refuse.
mod invites;
pub use invites::*;

use leptos::{form::ActionForm, prelude::*};
use serde::{Deserialize, Serialize};

use super::{
    home::{org_page, OrgTabs},
    OrgHeader,
};
use crate::{
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton, TextField},
        layout::NoticeBanner,
    },
    context::{Done, Flash},
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MembersOverview {
    pub org: OrgHeader,
    pub members: Vec<MemberView>,
    pub invitations: Vec<InvitationView>,
    /// Roles the caller may invite with (empty: may not invite).
    pub invite_roles: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub joined: String,
    pub last_active: Option<String>,
    pub is_me: bool,
    /// Roles the caller may give this member (empty: may not change it).
    pub roles: Vec<String>,
    pub can_remove: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: String,
    pub invited_by: Option<String>,
    pub expires: String,
    pub can_manage: bool,
}

#[server(prefix = "/api", endpoint = "organization_members")]
pub async fn organization_members(slug: String) -> Result<MembersOverview, AppError> {
    use crate::server_ctx;
    use backend::{
        format_utc,
        orgs::{self, can, Action, Role},
    };
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let m = orgs::authorize(&st, &me, &slug, Action::ViewMembers).await?;
    let rows = orgs::members::list(&st, &m.org_id).await?;
    let invites = if can(m.role, Action::ManageInvitations) {
        orgs::invitations::list_open(&st, &m.org_id).await?
    } else {
        Vec::new()
    };
    let names = |roles: &mut dyn Iterator<Item = Role>| roles.map(|r| r.as_str().to_string()).collect::<Vec<_>>();
    let members = rows
        .into_iter()
        .filter_map(|r| {
            let role = Role::parse(&r.role)?;
            let is_me = r.user_id == me.user_id;
            let roles = if is_me {
                Vec::new()
            } else {
                names(&mut Role::ALL.into_iter().filter(|to| can(m.role, Action::ChangeRole { from: role, to: *to })))
            };
            Some(MemberView {
                can_remove: !is_me && can(m.role, Action::Remove(role)),
                user_id: r.user_id,
                email: r.email,
                name: r.display_name,
                role: r.role,
                joined: format_utc(r.created_at),
                last_active: r.last_active_at.map(format_utc),
                is_me,
                roles,
            })
        })
        .collect();
    let invitations = invites
        .into_iter()
        .map(|i| InvitationView {
            can_manage: Role::parse(&i.role).is_some_and(|r| can(m.role, Action::Invite(r))),
            id: i.id,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            expires: format_utc(i.expires_at),
        })
        .collect();
    Ok(MembersOverview {
        invite_roles: names(&mut Role::ALL.into_iter().rev().filter(|r| can(m.role, Action::Invite(*r)))),
        org: OrgHeader::from(&m),
        members,
        invitations,
    })
}

/// Gives a member another role (within what the caller's role allows; the last owner keeps theirs).
#[server(prefix = "/api", endpoint = "change_member_role")]
pub async fn change_member_role(slug: String, user_id: String, role: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parsed, require_session, Outcome};
    form(&super::org_path(&slug, "/members"), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let role = parsed("role", backend::orgs::Role::from_form(&role))?;
        backend::orgs::members::change_role(&st, &ctx, &me, &slug, &user_id, role).await?;
        Ok(Outcome::stay(Notice::RoleChanged))
    })
    .await
}

/// Removes a member; their next request to the organization is answered 404.
#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(slug: String, user_id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(&super::org_path(&slug, "/members"), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::orgs::members::remove(&st, &ctx, &me, &slug, &user_id).await?;
        Ok(Outcome::stay(Notice::MemberRemoved))
    })
    .await
}

#[component]
pub fn OrgMembersPage() -> impl IntoView {
    let invite = ServerAction::<InviteMember>::new();
    let resend = ServerAction::<ResendInvitation>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let copy = ServerAction::<InvitationLink>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let version = move || {
        (invite.version().get()
            + resend.version().get()
            + revoke.version().get()
            + change.version().get()
            + remove.version().get()) as u64
    };
    let follow = move |o: Outcomes| {
        o.follow(move || invite.value().get())
            .follow(move || resend.value().get())
            .follow(move || revoke.value().get())
            .follow(move || copy.value().get())
            .follow(move || change.value().get())
            .follow(move || remove.value().get())
    };
    org_page(organization_members, version, follow, move |d: MembersOverview, flash: Flash, outcomes: Outcomes| {
        let error = form_error(
            move || {
                [
                    resend.value().get(),
                    revoke.value().get(),
                    change.value().get(),
                    remove.value().get(),
                    copy.value().get(),
                ]
                .into_iter()
                .flatten()
                .find(Result::is_err)
            },
            flash.clone(),
        );
        let invite_error = form_error(move || invite.value().get(), flash.clone());
        let notice = outcomes.notice();
        let (link, invited) = (outcomes.value("invite_link"), outcomes.value("invite_email"));
        let slug = d.org.slug.clone();
        let slug_invite = slug.clone();
        let invite_role = Some(flash.value("role")).filter(|r| !r.is_empty()).unwrap_or_else(|| "member".into());
        let invite_roles = d.invite_roles.clone();
        view! {
            <section class="card wide" aria-labelledby="page-title">
                <NoticeBanner notice/>
                <OrgTabs org=d.org.clone() current="/members"/>
                <ErrorBanner error/>
                <p class="field-error" role="alert">{move || error.get().and_then(|e| e.field_error("role").or_else(|| e.field_error("member")))}</p>
                {move || link.get().map(|link| view! { <CopyLink link email=invited.get().unwrap_or_default()/> })}
                {(!invite_roles.is_empty()).then(|| view! {
                    <div class="settings-section flush">
                        <h2 class="section-title">"Invite someone"</h2>
                        <ErrorBanner error=invite_error/>
                        <ActionForm action=invite attr:class="invite-form">
                            <input type="hidden" name="slug" value=slug_invite/>
                            <TextField label="E-mail" name="email" kind="email" autocomplete="off" value=flash.value("email") error=invite_error required=true/>
                            <div class="field">
                                <label for="invite-role">"Role"</label>
                                <select id="invite-role" name="role">
                                    {invite_roles.iter().map(|r| view! { <option value=r.clone() selected=*r == invite_role>{r.clone()}</option> }).collect_view()}
                                </select>
                                <p class="field-error" role="alert">{move || invite_error.get().and_then(|e| e.field_error("role"))}</p>
                            </div>
                            <div class="checkbox">
                                <input type="checkbox" id="invite-send-mail" name="send_mail" value="on" checked=true/>
                                <label for="invite-send-mail">"Send the invitation by e-mail"</label>
                            </div>
                            <SubmitButton label="Invite" pending_label="Inviting…" pending=invite.pending()/>
                        </ActionForm>
                    </div>
                })}
                <h2 class="section-title">"Members"</h2>
                <ul class="session-list member-list" aria-label="Members">
                    {d.members.into_iter().map(|m| view! { <MemberItem m slug=slug.clone() change remove/> }).collect_view()}
                </ul>
                {(!d.invitations.is_empty()).then(|| view! {
                    <h2 class="section-title">"Open invitations"</h2>
                    <ul class="session-list invitation-list" aria-label="Open invitations">
                        {d.invitations.into_iter().map(|i| view! { <InvitationItem i slug=slug.clone() resend revoke copy/> }).collect_view()}
                    </ul>
                })}
            </section>
        }
    })
}

#[component]
fn MemberItem(
    m: MemberView,
    slug: String,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let who = m.name.clone().map(|n| format!("{n} ({})", m.email)).unwrap_or_else(|| m.email.clone());
    let meta = format!(
        "joined {} · {}",
        m.joined,
        m.last_active.as_deref().map(|t| format!("last active {t}")).unwrap_or_else(|| "not active yet".into())
    );
    let select_id = format!("role-{}", m.user_id);
    let role_label = format!("Role of {}", m.email);
    let remove_label = format!("Remove {}", m.email);
    let change_label = format!("Change the role of {}", m.email);
    let current = m.role.clone();
    let (slug_change, slug_remove) = (slug.clone(), slug);
    let (id_change, id_remove) = (m.user_id.clone(), m.user_id.clone());
    view! {
        <li class="session member">
            <div>
                <p class="session-device">
                    {who}
                    <span class="badge">{m.role.clone()}</span>
                    {m.is_me.then(|| view! { <span class="badge">"You"</span> })}
                </p>
                <p class="muted session-meta">{meta}</p>
            </div>
            <div class="member-actions">
                {(!m.roles.is_empty()).then(|| view! {
                    <ActionForm action=change attr:class="role-form">
                        <input type="hidden" name="slug" value=slug_change/>
                        <input type="hidden" name="user_id" value=id_change/>
                        <label class="visually-hidden" for=select_id.clone()>{role_label}</label>
                        <select id=select_id name="role">
                            {m.roles.iter().map(|r| view! { <option value=r.clone() selected=*r == current>{r.clone()}</option> }).collect_view()}
                        </select>
                        <button type="submit" class="button button-small button-secondary" aria-label=change_label disabled=move || change.pending().get()>"Change role"</button>
                    </ActionForm>
                })}
                {m.can_remove.then(|| view! {
                    <ActionForm action=remove>
                        <input type="hidden" name="slug" value=slug_remove/>
                        <input type="hidden" name="user_id" value=id_remove/>
                        <button type="submit" class="button button-small button-danger" aria-label=remove_label disabled=move || remove.pending().get()>"Remove"</button>
                    </ActionForm>
                })}
            </div>
        </li>
    }
}

#[component]
fn InvitationItem(
    i: InvitationView,
    slug: String,
    resend: ServerAction<ResendInvitation>,
    revoke: ServerAction<RevokeInvitation>,
    copy: ServerAction<InvitationLink>,
) -> impl IntoView {
    let meta = format!(
        "as {} · invited by {} · open until {}",
        i.role,
        i.invited_by.clone().unwrap_or_else(|| "a former member".into()),
        i.expires
    );
    let hidden = {
        let (slug, id) = (slug.clone(), i.id.clone());
        move || {
            view! {
                <input type="hidden" name="slug" value=slug.clone()/>
                <input type="hidden" name="id" value=id.clone()/>
            }
        }
    };
    let (h1, h2, h3) = (hidden.clone(), hidden.clone(), hidden);
    let (resend_label, revoke_label, copy_label) = (
        format!("Resend to {}", i.email),
        format!("Revoke the invitation to {}", i.email),
        format!("Copy a link for {}", i.email),
    );
    view! {
        <li class="session invitation">
            <div>
                <p class="session-device">{i.email.clone()}</p>
                <p class="muted session-meta">{meta}</p>
            </div>
            {i.can_manage.then(|| view! {
                <div class="member-actions">
                    <ActionForm action=resend>{h1()}<button type="submit" class="button button-small button-secondary" aria-label=resend_label>"Resend"</button></ActionForm>
                    <ActionForm action=copy>{h2()}<button type="submit" class="button button-small button-secondary" aria-label=copy_label>"Copy link"</button></ActionForm>
                    <ActionForm action=revoke>{h3()}<button type="submit" class="button button-small button-danger" aria-label=revoke_label>"Revoke"</button></ActionForm>
                </div>
            })}
        </li>
    }
}

/// An invitation link to hand over by other means, shown once: a read-only field and a copy button. `email` is
/// the invited address (empty for a new link to an open invitation).
#[component]
fn CopyLink(link: String, email: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let value = link.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&value);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &value;
    };
    let what = if email.is_empty() {
        "A new link to this invitation".to_string()
    } else {
        format!("Invitation link for {email}")
    };
    view! {
        <div class="banner banner-info copy-link" role="status">
            <label for="invite-link">{what}" — anyone with it can accept as that address, so share it privately. It is shown once."</label>
            <div class="input-row">
                <input id="invite-link" type="text" readonly value=link on:focus=|ev| {
                    #[cfg(feature = "hydrate")]
                    {
                        use wasm_bindgen::JsCast;
                        if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            input.select();
                        }
                    }
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }/>
                <button type="button" class="button button-small" on:click=copy>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
            </div>
        </div>
    }
}
