//! `/organizations/:slug/settings` (owners): name and address, the two-step verification policy, deletion (typed
//! confirmation and sudo).
use leptos::{form::ActionForm, prelude::*};
use serde::{Deserialize, Serialize};

use super::{
    home::{org_page, OrgTabs},
    org_path, OrgHeader,
};
use crate::{
    account::sudo::SudoPrompt,
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
pub struct OrgSettingsView {
    pub org: OrgHeader,
    pub require_mfa: bool,
    pub my_mfa: bool,
    pub sudo_open: bool,
}

#[server(prefix = "/api", endpoint = "organization_settings")]
pub async fn organization_settings(slug: String) -> Result<OrgSettingsView, AppError> {
    use crate::server_ctx;
    use backend::{orgs, signin::sudo};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let m = orgs::authorize(&st, &me, &slug, orgs::Action::EditSettings).await?;
    Ok(OrgSettingsView {
        org: OrgHeader::from(&m),
        require_mfa: m.require_mfa,
        my_mfa: me.has_mfa,
        sudo_open: sudo::is_fresh(&st, &me),
    })
}

/// Renames the organization and changes its address (the old one redirects members for 7 days).
#[server(prefix = "/api", endpoint = "update_organization")]
pub async fn update_organization(slug: String, name: String, new_slug: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parsed, require_session, Outcome};
    use domain::validation::{OrgName, Slug};
    let back = org_path(&slug, "/settings");
    form(&back, &[("name", &name.clone()), ("new_slug", &new_slug.clone())], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let name = parsed("name", OrgName::parse(&name))?;
        let new_slug = parsed("slug", Slug::parse(&new_slug))?;
        let canonical = backend::orgs::settings::update(&st, &ctx, &me, &slug, &name, &new_slug).await?;
        Ok(Outcome::go(org_path(&canonical, "/settings"), Notice::OrgSaved))
    })
    .await
}

/// Turns "members need two-step verification" on (`require` present) or off.
#[server(prefix = "/api", endpoint = "set_organization_mfa")]
pub async fn set_organization_mfa(slug: String, #[server(default)] require: Option<String>) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(&org_path(&slug, "/settings"), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::orgs::settings::set_require_mfa(&st, &ctx, &me, &slug, require.is_some()).await?;
        Ok(Outcome::stay(Notice::OrgSaved))
    })
    .await
}

/// Deletes the organization: owners, behind sudo, with its address typed in `confirm`.
#[server(prefix = "/api", endpoint = "delete_organization")]
pub async fn delete_organization(slug: String, #[server(default)] confirm: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(&org_path(&slug, "/settings"), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::orgs::settings::delete(&st, &ctx, &me, &slug, &confirm).await?;
        Ok(Outcome::go(crate::orgs::ORGANIZATIONS, Notice::OrgDeleted))
    })
    .await
}

#[component]
pub fn OrgSettingsPage() -> impl IntoView {
    let update = ServerAction::<UpdateOrganization>::new();
    let mfa = ServerAction::<SetOrganizationMfa>::new();
    let delete = ServerAction::<DeleteOrganization>::new();
    org_page(
        organization_settings,
        move || mfa.version().get() as u64,
        move |o| {
            o.follow(move || update.value().get())
                .follow(move || mfa.value().get())
                .follow(move || delete.value().get())
        },
        move |d: OrgSettingsView, flash: Flash, outcomes: Outcomes| {
            let update_error = form_error(move || update.value().get(), flash.clone());
            let mfa_error = form_error(move || mfa.value().get(), flash.clone());
            let delete_error = form_error(move || delete.value().get(), flash.clone());
            let notice = outcomes.notice();
            let slug = d.org.slug.clone();
            let page = org_path(&slug, "/settings");
            let (slug_update, slug_mfa, slug_delete) = (slug.clone(), slug.clone(), slug.clone());
            let name = if flash.value("name").is_empty() { d.org.name.clone() } else { flash.value("name") };
            let new_slug = if flash.value("new_slug").is_empty() { slug.clone() } else { flash.value("new_slug") };
            view! {
                <section class="card wide" aria-labelledby="page-title">
                    <NoticeBanner notice/>
                    <OrgTabs org=d.org.clone() current="/settings"/>
                    <div class="settings-section flush">
                        <h2 class="section-title">"Name and address"</h2>
                        <ErrorBanner error=update_error/>
                        <ActionForm action=update>
                            <input type="hidden" name="slug" value=slug_update/>
                            <TextField label="Name" name="name" value=name error=update_error required=true autocomplete="organization"/>
                            <TextField
                                label="Address"
                                name="new_slug"
                                value=new_slug
                                hint="After a change, the old address keeps working for members for 7 days."
                                error=Signal::derive(move || update_error.get().map(|e| match e.field_error("slug") {
                                    Some(m) => AppError::field("new_slug", m),
                                    None => e,
                                }))
                                required=true
                                autocomplete="off"
                            />
                            <SubmitButton label="Save" pending_label="Saving…" pending=update.pending()/>
                        </ActionForm>
                    </div>
                    <div class="settings-section">
                        <h2 class="section-title">"Two-step verification"</h2>
                        <ErrorBanner error=mfa_error/>
                        <ActionForm action=mfa>
                            <input type="hidden" name="slug" value=slug_mfa/>
                            <div class="checkbox">
                                <input type="checkbox" id="require-mfa" name="require" value="on" checked=d.require_mfa disabled=!d.my_mfa && !d.require_mfa aria-describedby="require-mfa-hint"/>
                                <label for="require-mfa">"Require two-step verification for every member"</label>
                            </div>
                            <p class="hint" id="require-mfa-hint">
                                {if d.my_mfa {
                                    "Members without it are sent to set it up when they open the organization."
                                } else {
                                    "Turn on two-step verification for your own account first (in Security)."
                                }}
                            </p>
                            <p class="field-error" role="alert">{move || mfa_error.get().and_then(|e| e.field_error("require_mfa"))}</p>
                            <SubmitButton label="Save policy" pending_label="Saving…" pending=mfa.pending() secondary=true/>
                        </ActionForm>
                    </div>
                    <div class="settings-section danger-zone">
                        <h2 class="section-title">"Delete organization"</h2>
                        <p>"Deleting removes every membership and invitation at once. It cannot be undone."</p>
                        {if d.sudo_open {
                            view! {
                                <ErrorBanner error=delete_error/>
                                <ActionForm action=delete>
                                    <input type="hidden" name="slug" value=slug_delete.clone()/>
                                    <p>"To confirm, type the organization's address: " <code class="secret">{slug_delete}</code></p>
                                    <TextField label="Organization address" name="confirm" error=delete_error required=true autocomplete="off"/>
                                    <button type="submit" class="button button-danger" disabled=move || delete.pending().get()>"Delete organization"</button>
                                </ActionForm>
                            }.into_any()
                        } else {
                            view! { <SudoPrompt why="For your security, confirm it's you before deleting the organization." page=page/> }.into_any()
                        }}
                    </div>
                </section>
            }
        },
    )
}
