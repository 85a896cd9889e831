//! `/organizations/:slug`: the organization's home, the tabs every page of it shares, and leaving it.
use leptos::{form::ActionForm, prelude::*};
use serde::{Deserialize, Serialize};

use super::{org_path, slug_param, OrgHeader, SwitchOrganization, ORGANIZATIONS};
use crate::{
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton},
        layout::{with_page_context, NoticeBanner},
        page::loaded,
    },
    context::Done,
    error::AppError,
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrgHome {
    pub org: OrgHeader,
    pub members: i64,
    pub require_mfa: bool,
    pub active: bool,
}

#[server(prefix = "/api", endpoint = "organization_home")]
pub async fn organization_home(slug: String) -> Result<OrgHome, AppError> {
    use crate::server_ctx;
    use backend::orgs;
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let m = orgs::authorize(&st, &me, &slug, orgs::Action::View).await?;
    let members = orgs::member_count(&st, &m.org_id).await?;
    let active = me.active_org.as_ref().is_some_and(|(s, _)| *s == m.slug);
    Ok(OrgHome { org: OrgHeader::from(&m), members, require_mfa: m.require_mfa, active })
}

/// Leaves the organization (the last owner cannot).
#[server(prefix = "/api", endpoint = "leave_organization")]
pub async fn leave_organization(slug: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(&org_path(&slug, ""), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::orgs::members::leave(&st, &ctx, &me, &slug).await?;
        Ok(Outcome::go(ORGANIZATIONS, crate::context::Notice::OrgLeft))
    })
    .await
}

/// The heading and tabs of an organization's pages.
#[component]
pub fn OrgTabs(org: OrgHeader, current: &'static str) -> impl IntoView {
    let tab = move |tail: &'static str, label: &'static str| {
        let here = tail == current;
        view! {
            <a class="tab" class:tab-current=here href=org_path(&org.slug, tail) aria-current=here.then_some("page")>{label}</a>
        }
    };
    view! {
        <div class="org-heading">
            <p class="muted org-crumb"><a href=ORGANIZATIONS>"Organizations"</a>" / "</p>
            <h1 id="page-title">{org.name.clone()}</h1>
            <span class="badge">{org.role.clone()}</span>
        </div>
        <nav class="tabs" aria-label="Organization">
            {tab("", "Overview")}
            {tab("/members", "Members")}
            {org.is_owner.then(|| tab("/service-accounts", "Service accounts"))}
            {org.is_owner.then(|| tab("/settings", "Settings"))}
        </nav>
    }
}

/// A page of one organization (behind the log-in guard): outsiders get the 404 page, members get `body` with what
/// `load` returned, the flash and what the page's forms said (`follow` follows their actions: once per page, not at
/// each reload of the data, so the latest form's outcome stays shown).
pub fn org_page<T, Fut, V>(
    load: impl Fn(String) -> Fut + Clone + Send + Sync + 'static,
    source: impl Fn() -> u64 + Clone + Send + Sync + 'static,
    follow: impl Fn(Outcomes) -> Outcomes + Clone + Send + Sync + 'static,
    body: impl Fn(T, crate::context::Flash, Outcomes) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + for<'de> Deserialize<'de> + 'static,
    Fut: std::future::Future<Output = Result<T, AppError>> + Send + 'static,
    V: IntoView + 'static,
{
    let slug = slug_param();
    with_page_context(move |page| {
        let load = load.clone();
        let slug = slug.clone();
        let source = source.clone();
        let data = Resource::new(move || (slug(), source()), move |(s, _)| load(s));
        let body = body.clone();
        let outcomes = follow(Outcomes::new(&page.flash));
        let flash = page.flash.clone();
        loaded(data, move |d| body(d, flash.clone(), outcomes)).into_any()
    })
}

#[component]
pub fn OrgHomePage() -> impl IntoView {
    let switch = ServerAction::<SwitchOrganization>::new();
    let leave = ServerAction::<LeaveOrganization>::new();
    org_page(
        organization_home,
        move || switch.version().get() as u64,
        move |o| o.follow(move || switch.value().get()).follow(move || leave.value().get()),
        move |d: OrgHome, flash, outcomes| {
            let error = form_error(
                move || [switch.value().get(), leave.value().get()].into_iter().flatten().find(Result::is_err),
                flash.clone(),
            );
            let notice = outcomes.notice();
            let slug = d.org.slug.clone();
            let (slug_switch, slug_leave) = (slug.clone(), slug.clone());
            let members = super::members_label(d.members);
            view! {
                <section class="card wide" aria-labelledby="page-title">
                    <NoticeBanner notice/>
                    <OrgTabs org=d.org.clone() current=""/>
                    <ErrorBanner error/>
                    <p class="field-error" role="alert">{move || error.get().and_then(|e| e.field_error("member"))}</p>
                    <dl class="org-facts">
                        <dt>"Your role"</dt><dd>{d.org.role.clone()}</dd>
                        <dt>"Members"</dt><dd><a href=org_path(&slug, "/members")>{members}</a></dd>
                        <dt>"Two-step verification"</dt>
                        <dd>{if d.require_mfa { "required for every member" } else { "up to each member" }}</dd>
                    </dl>
                    {if d.active {
                        view! { <p class="muted">"This is your active organization."</p> }.into_any()
                    } else {
                        view! {
                            <ActionForm action=switch>
                                <input type="hidden" name="slug" value=slug_switch/>
                                <SubmitButton label="Make this my active organization" pending_label="Switching…" pending=switch.pending() secondary=true/>
                            </ActionForm>
                        }.into_any()
                    }}
                    <div class="settings-section">
                        <h2 class="section-title">"Leave"</h2>
                        <p class="muted">"You lose access to this organization until someone invites you again."</p>
                        <ActionForm action=leave>
                            <input type="hidden" name="slug" value=slug_leave/>
                            <SubmitButton label="Leave organization" pending_label="Leaving…" pending=leave.pending() secondary=true/>
                        </ActionForm>
                    </div>
                </section>
            }
        },
    )
}
