//! `/admin`: the operator's console. Every page and server function checks the role on the server
//! (`backend::admin::require_admin`); the header link is only a convenience.
use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton},
        layout::{with_page_context, NoticeBanner},
        page::loaded,
    },
    context::{Done, Flash, Notice},
    error::AppError,
};

pub mod audit;
pub mod jobs;
pub mod user;
pub mod users;

#[cfg(feature = "ssr")]
pub use audit::audit_query;
pub use audit::AdminAuditPage;
use domain::views;
pub use jobs::AdminJobsPage;
pub use user::AdminUserPage;
pub use users::AdminUsersPage;

/// The overview's figures (admins only).
#[server(prefix = "/api", endpoint = "admin_overview")]
pub async fn admin_overview() -> Result<views::AdminOverview, AppError> {
    use backend::admin;
    crate::server_ctx::session_data(|st, _, me| async move {
        admin::require_admin(&me)?;
        Ok(admin::overview(&st).await?)
    })
    .await
}

/// Ends every session of every user but this one (S38).
#[server(prefix = "/api", endpoint = "admin_sign_out_everyone")]
pub async fn admin_sign_out_everyone() -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form("/admin", &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::admin::sign_out_everyone(&st, &ctx, &me).await?;
        Ok(Outcome::stay(Notice::EveryoneSignedOut))
    })
    .await
}

/// An app registered to sign people in here (an OAuth client), as the console lists it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct OauthClientItem {
    pub id: String,
    pub name: String,
    /// "confidential" or "public", and "first-party".
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub created: String,
    pub revoked: Option<String>,
}

/// The registered apps (admins only; registered with `portcullis oauth-client create`).
#[server(prefix = "/api", endpoint = "admin_oauth_clients")]
pub async fn admin_oauth_clients() -> Result<Vec<OauthClientItem>, AppError> {
    use backend::{format_utc, provider::clients};
    crate::server_ctx::session_data(|st, _, me| async move {
        Ok(clients::list_for_admin(&st, &me)
            .await?
            .into_iter()
            .map(|c| OauthClientItem {
                kind: format!(
                    "{}{}",
                    if c.public { "public" } else { "confidential" },
                    if c.first_party { ", first-party" } else { "" }
                ),
                id: c.id,
                name: c.name,
                redirect_uris: c.redirect_uris,
                created: format_utc(c.created_at),
                revoked: c.revoked_at.map(format_utc),
            })
            .collect())
    })
    .await
}

/// Revokes an app: it can no longer sign anyone in, and every grant it holds ends.
#[server(prefix = "/api", endpoint = "admin_revoke_oauth_client")]
pub async fn admin_revoke_oauth_client(id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form("/admin", &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::provider::clients::revoke_by_admin(&st, &ctx, &me, &id).await?;
        Ok(Outcome::stay(Notice::OauthClientRevoked))
    })
    .await
}

/// Folds every open confirmation once an action is done. (The page then renders its new data into the same
/// elements, so a confirmation left open would show up open on whatever action takes its place.)
pub(crate) fn close_confirmations_after(version: impl Fn() -> usize + 'static) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if version() > 0 {
            let doc = document();
            while let Ok(Some(open)) = doc.query_selector("details.confirm[open]") {
                let _ = open.remove_attribute("open");
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = version;
}

/// The console's sections.
#[component]
pub(crate) fn AdminNav(current: &'static str) -> impl IntoView {
    let link = move |href: &'static str, label: &'static str| {
        let here = href == current;
        view! {
            <a href=href class="tab" class:tab-current=here aria-current=here.then_some("page")>
                {label}
            </a>
        }
    };
    // Every change in the console needs a fresh second-factor proof (M7): say so, and offer it, while the window
    // is closed. (The server refuses the change either way.)
    let page = expect_context::<crate::components::layout::CurrentPage>().0;
    let sudo_open = page.with_untracked(|p| p.user.as_ref().is_some_and(|u| u.sudo_open));
    let here = leptos_router::hooks::use_location().pathname.get_untracked();
    view! {
        <nav class="tabs" aria-label="Admin">
            {link("/admin", "Overview")}
            {link("/admin/users", "Users")}
            {link("/admin/audit", "Audit log")}
            {link("/admin/jobs", "Jobs")}
        </nav>
        {(!sudo_open).then(|| view! {
            <crate::account::sudo::SudoPrompt
                why="You can look around; to change anything, confirm it's you with your authenticator app or a passkey (valid for 10 minutes)."
                page=here
            />
        })}
    }
}

/// The frame of the admin pages in the route table: a non-admin gets a bare 403 page (none of the console); an
/// admin the page, whose data function checks the role again (the server decides, not this view).
#[component]
pub fn AdminOnly() -> impl IntoView {
    use crate::components::layout::AdminAccess;
    let access = crate::components::layout::admin_access();
    move || match access() {
        Some(AdminAccess::Admin) => view! { <leptos_router::components::Outlet/> }.into_any(),
        Some(AdminAccess::NeedsSecondFactor) => view! { <EnrolFirst/> }.into_any(),
        Some(AdminAccess::NotAdmin) => view! { <Forbidden/> }.into_any(),
        // Not known yet (a client-side navigation right after signing in): nothing until it is.
        None => ().into_any(),
    }
}

/// An admin without a second factor (S51): on the server, off to enrol with the reason in the flash; in the browser,
/// the reason and the link.
#[component]
fn EnrolFirst() -> impl IntoView {
    use crate::account::security::SECURITY as MFA_ENROLMENT_PAGE;
    #[cfg(feature = "ssr")]
    if let Ok(ctx) = crate::server_ctx::request() {
        crate::server_ctx::put_flash(&ctx, &Flash::notice(Notice::AdminRequiresMfa));
        crate::server_ctx::redirect_page(MFA_ENROLMENT_PAGE);
    }
    view! {
        <section class="card auth-card" aria-labelledby="page-title">
            <h1 id="page-title">"Two-step verification first"</h1>
            <p>{Notice::AdminRequiresMfa.text()}</p>
            <p><a class="button" href=MFA_ENROLMENT_PAGE>"Set it up"</a></p>
        </section>
    }
}

/// An admin page: `body` with this request's flash.
pub(crate) fn admin_page<V: IntoView + 'static>(body: impl Fn(Flash) -> V + Send + Sync + 'static) -> impl IntoView {
    with_page_context(move |page| body(page.flash))
}

#[component]
fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server_ctx::fail(AppError::Forbidden);
    view! {
        <section class="card auth-card" aria-labelledby="page-title">
            <h1 id="page-title">"Not allowed"</h1>
            <p>"This page is for the site's administrators."</p>
            <p><a class="button" href="/">"Home"</a></p>
        </section>
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    admin_page(|flash| {
        let everyone = ServerAction::<AdminSignOutEveryone>::new();
        let revoke = ServerAction::<AdminRevokeOauthClient>::new();
        let data = Resource::new(move || everyone.version().get(), |_| admin_overview());
        let apps = Resource::new(move || revoke.version().get(), |_| admin_oauth_clients());
        close_confirmations_after(move || everyone.version().get() + revoke.version().get());
        let notice =
            Outcomes::new(&flash).follow(move || everyone.value().get()).follow(move || revoke.value().get()).notice();
        let error = form_error(
            move || [everyone.value().get(), revoke.value().get()].into_iter().flatten().find(Result::is_err),
            flash,
        );
        view! {
            <section class="card wide admin-card" aria-labelledby="page-title">
                <h1 id="page-title">"Admin"</h1>
                <AdminNav current="/admin"/>
                <NoticeBanner notice/>
                <ErrorBanner error/>
                {loaded(data, |o| view! { <Figures o/> })}
                <h2 class="section-title">"Sessions"</h2>
                <details class="confirm">
                    <summary class="button button-secondary button-small">"Sign out every user…"</summary>
                    <p>
                        "Ends every session of every user except yours, at their next request (after a leak, say). \
                         Everyone has to log in again."
                    </p>
                    <ActionForm action=everyone>
                        <SubmitButton label="Sign out every user" pending_label="Signing out…" pending=everyone.pending()/>
                    </ActionForm>
                </details>
                <h2 class="section-title">"Apps that sign people in here"</h2>
                {loaded(apps, move |list| view! { <OauthClients list revoke/> })}
            </section>
        }
    })
}

/// The registered OAuth clients, each live one with a revoke button (the server asks for a fresh second factor).
#[component]
fn OauthClients(list: Vec<OauthClientItem>, revoke: ServerAction<AdminRevokeOauthClient>) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p class="muted">"None. Register one with " <code>{concat!(env!("LEPTOS_OUTPUT_NAME"), " oauth-client create")}</code> "."</p>
        }
        .into_any();
    }
    view! {
        <ul class="session-list" aria-label="Apps">
            {list.into_iter().map(|c| {
                let meta = format!(
                    "{} · {} · registered {}{}",
                    c.kind,
                    c.redirect_uris.join(" "),
                    c.created,
                    c.revoked.as_deref().map(|r| format!(" · revoked {r}")).unwrap_or_default()
                );
                let label = format!("Revoke {}", c.name);
                let live = c.revoked.is_none();
                view! {
                    <li class="session">
                        <div>
                            <p class="session-device">{c.name.clone()}</p>
                            <p class="muted session-meta">{meta}</p>
                            <p class="muted session-meta"><code>{c.id.clone()}</code></p>
                        </div>
                        {live.then(|| view! {
                            <ActionForm action=revoke>
                                <input type="hidden" name="id" value=c.id.clone()/>
                                <button type="submit" class="button button-small button-danger" aria-label=label>"Revoke"</button>
                            </ActionForm>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Figures(o: views::AdminOverview) -> impl IntoView {
    let figure = |label: &'static str, value: i64, warn: bool, href: Option<&'static str>| {
        let alarming = warn && value > 0;
        view! {
            <div class="figure" class:figure-warn=alarming>
                <dt>{label}</dt>
                <dd>
                    {match href {
                        Some(h) => view! { <a href=h>{value}</a> }.into_any(),
                        None => view! { {value} }.into_any(),
                    }}
                </dd>
            </div>
        }
    };
    view! {
        <dl class="figures" aria-label="Overview">
            {figure("Users", o.users, false, Some("/admin/users"))}
            {figure("Unconfirmed", o.unconfirmed, false, Some("/admin/users?status=unconfirmed"))}
            {figure("Sign-ins, last 24 h", o.sign_ins_24h, false, None)}
            {figure("Failed sign-ins, last 24 h", o.failed_sign_ins_24h, true, Some("/admin/audit?action=user.log_in&outcome=failure"))}
            {figure("Locked by an admin", o.admin_locked, true, Some("/admin/users?status=locked"))}
            {figure("Password log-in paused", o.locked, true, None)}
            {figure("Jobs queued", o.queued_jobs, false, Some("/admin/jobs?state=queued"))}
            {figure("Dead jobs", o.dead_jobs, true, Some("/admin/jobs?state=dead"))}
        </dl>
    }
}
