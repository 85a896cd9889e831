//! Organizations: `/organizations` (mine, my invitations, switch), `/organizations/new`, and the pages of one
//! organization (home, members, settings) and of an invitation link. Every server function here is thin: the
//! membership and role checks are `backend::orgs::authorize`.
pub mod home;
pub mod invitation;
pub mod members;
pub mod service_accounts;
pub mod settings;

use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::{
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton, TextField},
        layout::{with_page_context, AuthCard, NoticeBanner},
        page::loaded,
    },
    context::Done,
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;

pub const ORGANIZATIONS: &str = "/organizations";

/// The page path of an organization: `/organizations/{slug}{tail}`. Only slug characters pass, so a slug from a
/// request can go into a redirect.
pub fn org_path(slug: &str, tail: &str) -> String {
    let slug: String = slug.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(63).collect();
    format!("{ORGANIZATIONS}/{slug}{tail}")
}

/// The `:slug` of the current route.
pub fn slug_param() -> impl Fn() -> String + Clone + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get("slug").unwrap_or_default()
}

/// "3 members".
pub fn members_label(n: i64) -> String {
    format!("{n} member{}", if n == 1 { "" } else { "s" })
}

/// What every page of one organization shows at its top.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrgHeader {
    pub slug: String,
    pub name: String,
    pub role: String,
    pub is_owner: bool,
}

#[cfg(feature = "ssr")]
impl From<&backend::orgs::Membership> for OrgHeader {
    fn from(m: &backend::orgs::Membership) -> Self {
        OrgHeader {
            slug: m.slug.clone(),
            name: m.name.clone(),
            role: m.role.as_str().to_string(),
            is_owner: m.role == backend::orgs::Role::Owner,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrganizationsOverview {
    pub orgs: Vec<OrgSummary>,
    pub invitations: Vec<PendingInvitation>,
    pub active: Option<String>,
    pub confirmed: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrgSummary {
    pub slug: String,
    pub name: String,
    pub role: String,
    pub members: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PendingInvitation {
    pub id: String,
    pub org_name: String,
    pub role: String,
    pub inviter: Option<String>,
    pub expires: String,
}

#[server(prefix = "/api", endpoint = "my_organizations")]
pub async fn my_organizations() -> Result<OrganizationsOverview, AppError> {
    use crate::server_ctx;
    use backend::{format_utc, orgs};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let rows = orgs::list_for_user(&st, &me.user_id).await?;
    let invites = orgs::invitations::open_for_email(&st, &me.email).await?;
    Ok(OrganizationsOverview {
        orgs: rows
            .into_iter()
            .map(|r| OrgSummary { slug: r.slug, name: r.name, role: r.role, members: r.members })
            .collect(),
        invitations: invites
            .into_iter()
            .map(|i| PendingInvitation {
                id: i.id,
                org_name: i.org_name,
                role: i.role.as_str().to_string(),
                inviter: i.inviter,
                expires: format_utc(i.expires_at),
            })
            .collect(),
        active: me.active_org.map(|(slug, _)| slug),
        confirmed: me.confirmed,
    })
}

/// Creates an organization; the caller is its owner and it becomes the session's active one.
#[server(prefix = "/api", endpoint = "create_organization")]
pub async fn create_organization(name: String, #[server(default)] slug: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parsed, require_session, Outcome};
    use domain::validation::{OrgName, Slug};
    form("/organizations/new", &[("name", &name.clone()), ("slug", &slug.clone())], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let name = parsed("name", OrgName::parse(&name))?;
        // No slug asked for: the name suggests one.
        let asked = if slug.trim().is_empty() { None } else { Some(parsed("slug", Slug::parse(&slug))?) };
        let slug = backend::orgs::create(&st, &ctx, &me, &name, asked.as_ref()).await?;
        Ok(Outcome::go(org_path(&slug, "/members"), Notice::OrgCreated))
    })
    .await
}

/// Makes `slug` the session's active organization.
#[server(prefix = "/api", endpoint = "switch_organization")]
pub async fn switch_organization(slug: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(&org_path(&slug, ""), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::orgs::switch(&st, &me, &slug).await?;
        Ok(Outcome::stay(Notice::OrgSwitched))
    })
    .await
}

/// Accepts an invitation listed on `/organizations` (to the account's confirmed address).
#[server(prefix = "/api", endpoint = "accept_listed_invitation")]
pub async fn accept_listed_invitation(id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(ORGANIZATIONS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let slug = backend::orgs::invitations::accept_listed(&st, &ctx, &me, &id).await?;
        Ok(Outcome::go(org_path(&slug, ""), Notice::OrgJoined))
    })
    .await
}

#[component]
pub fn OrganizationsPage() -> impl IntoView {
    with_page_context(|page| {
        let switch = ServerAction::<SwitchOrganization>::new();
        let accept = ServerAction::<AcceptListedInvitation>::new();
        let leave = ServerAction::<home::LeaveOrganization>::new();
        let data = Resource::new(
            move || (switch.version().get(), accept.version().get(), leave.version().get()),
            |_| my_organizations(),
        );
        let error = form_error(
            move || {
                [switch.value().get(), accept.value().get(), leave.value().get()]
                    .into_iter()
                    .flatten()
                    .find(Result::is_err)
            },
            page.flash.clone(),
        );
        let notice = Outcomes::new(&page.flash)
            .follow(move || switch.value().get())
            .follow(move || accept.value().get())
            .follow(move || leave.value().get())
            .notice();
        view! {
            <section class="card wide" aria-labelledby="page-title">
                <NoticeBanner notice/>
                <div class="page-heading">
                    <h1 id="page-title">"Organizations"</h1>
                    <a class="button button-small" href="/organizations/new">"New organization"</a>
                </div>
                <ErrorBanner error/>
                {loaded(data, move |d| view! { <OrganizationList data=d switch accept leave/> })}
            </section>
        }
        .into_any()
    })
}

#[component]
fn OrganizationList(
    data: OrganizationsOverview,
    switch: ServerAction<SwitchOrganization>,
    accept: ServerAction<AcceptListedInvitation>,
    leave: ServerAction<home::LeaveOrganization>,
) -> impl IntoView {
    let invitations = (!data.invitations.is_empty()).then(|| {
        let confirmed = data.confirmed;
        view! {
            <h2 class="section-title">"Invitations for you"</h2>
            <ul class="session-list">
                {data.invitations.into_iter().map(|i| {
                    let label = format!("Accept the invitation to {}", i.org_name);
                    let meta = format!(
                        "as {} · from {} · open until {}",
                        i.role,
                        i.inviter.clone().unwrap_or_else(|| "a member".into()),
                        i.expires
                    );
                    view! {
                        <li class="session">
                            <div>
                                <p class="session-device">{i.org_name.clone()}</p>
                                <p class="muted session-meta">{meta}</p>
                            </div>
                            {if confirmed {
                                view! {
                                    <ActionForm action=accept>
                                        <input type="hidden" name="id" value=i.id.clone()/>
                                        <button type="submit" class="button button-small" aria-label=label disabled=move || accept.pending().get()>"Accept"</button>
                                    </ActionForm>
                                }.into_any()
                            } else {
                                view! { <p class="hint">"Confirm your e-mail address to accept, or use the link in the invitation mail."</p> }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
    });
    let active = data.active.clone();
    view! {
        {invitations}
        <h2 class="section-title">"Yours"</h2>
        {if data.orgs.is_empty() {
            view! { <p class="muted">"You don't belong to any organization yet. Create one, or ask for an invitation."</p> }.into_any()
        } else {
            view! {
                <ul class="session-list org-list">
                    {data.orgs.into_iter().map(|o| {
                        let is_active = active.as_deref() == Some(o.slug.as_str());
                        let meta = format!("{} · {}", o.role, members_label(o.members));
                        let label = format!("Switch to {}", o.name);
                        let leave_label = format!("Leave {}", o.name);
                        let leave_slug = o.slug.clone();
                        view! {
                            <li class="session" class:session-current=is_active>
                                <div>
                                    <p class="session-device">
                                        <a href=org_path(&o.slug, "")>{o.name.clone()}</a>
                                        {is_active.then(|| view! { <span class="badge">"Active"</span> })}
                                    </p>
                                    <p class="muted session-meta">{meta}</p>
                                </div>
                                <div class="member-actions">
                                    {(!is_active).then(|| view! {
                                        <ActionForm action=switch>
                                            <input type="hidden" name="slug" value=o.slug.clone()/>
                                            <button type="submit" class="button button-small button-secondary" aria-label=label disabled=move || switch.pending().get()>"Switch"</button>
                                        </ActionForm>
                                    })}
                                    <ActionForm action=leave>
                                        <input type="hidden" name="slug" value=leave_slug/>
                                        <button type="submit" class="button button-small button-secondary" aria-label=leave_label disabled=move || leave.pending().get()>"Leave"</button>
                                    </ActionForm>
                                </div>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

#[component]
pub fn NewOrganizationPage() -> impl IntoView {
    with_page_context(|page| {
        let action = ServerAction::<CreateOrganization>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        let name = RwSignal::new(page.flash.value("name"));
        let suggested = move || domain::validation::suggested_slug(&name.get());
        view! {
                <AuthCard title="New organization" lead="A shared space for your team. You will be its owner.">
                    <ErrorBanner error/>
                    <ActionForm action>
                        <div on:input=move |ev| name.set(event_target_value(&ev))>
                            <TextField label="Name" name="name" value=page.flash.value("name") error required=true autofocus=true autocomplete="organization"/>
                        </div>
                        <TextField
                            label="Address (optional)"
                            name="slug"
                            value=page.flash.value("slug")
                            hint="3–63 lowercase letters, digits and hyphens. Leave empty to use the name."
                            error
                            autocomplete="off"
                        />
                        <p class="muted slug-preview" aria-live="polite">
                            {move || (!name.get().trim().is_empty()).then(|| format!("Suggested address: /organizations/{} (a number is added if it is taken)", suggested()))}
                        </p>
                        <SubmitButton label="Create organization" pending_label="Creating…" pending=action.pending()/>
                    </ActionForm>
                    <p class="alt-action"><a href=ORGANIZATIONS>"Back to organizations"</a></p>
                </AuthCard>
            }
            .into_any()
    })
}

/// The organization switcher in the header: the active organization; opened, the user's other organizations to
/// switch to (fetched when first opened, so pages pay nothing for it) and the links to all of them and a new one.
/// Without JavaScript it opens too, with the links.
#[component]
pub fn OrgSwitcher(active: Option<(String, String)>) -> impl IntoView {
    let orgs = RwSignal::new(None::<Vec<OrgSummary>>);
    let switch = ServerAction::<SwitchOrganization>::new();
    let load = move |_| {
        #[cfg(feature = "hydrate")]
        if orgs.get_untracked().is_none() {
            leptos::task::spawn_local(async move {
                if let Ok(d) = my_organizations().await {
                    orgs.set(Some(d.orgs));
                }
            });
        }
    };
    let label = active.as_ref().map(|(_, name)| name.clone()).unwrap_or_else(|| "Organizations".into());
    let active_slug = active.as_ref().map(|(slug, _)| slug.clone()).unwrap_or_default();
    let home = active.map(|(slug, name)| {
        view! { <a class="org-menu-item org-menu-current" href=org_path(&slug, "")>{format!("Open {name}")}</a> }
    });
    view! {
        <details class="org-switcher" on:toggle=load>
            <summary class="nav-org" title="Organization">{label}</summary>
            <div class="org-menu">
                {home}
                {move || {
                    let active_slug = active_slug.clone();
                    orgs.get().map(|list| {
                        list.into_iter()
                            .filter(|o| o.slug != active_slug)
                            .map(|o| {
                                let to = format!("Switch to {}", o.name);
                                view! {
                                    <ActionForm action=switch>
                                        <input type="hidden" name="slug" value=o.slug.clone()/>
                                        <button type="submit" class="org-menu-item" aria-label=to>{o.name.clone()}</button>
                                    </ActionForm>
                                }
                            })
                            .collect_view()
                    })
                }}
                <a class="org-menu-item" href=ORGANIZATIONS>"All organizations"</a>
                <a class="org-menu-item" href="/organizations/new">"New organization"</a>
            </div>
        </details>
    }
}
