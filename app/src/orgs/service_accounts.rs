//! `/organizations/:slug/service-accounts` (owners): the organization's service accounts, which its back ends and
//! jobs use to call the API as the organization (OAuth client credentials). Make one (behind sudo; its secret is
//! shown once), give one a new secret, revoke one. The rules are `backend::provider::service_accounts`.
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
        secret::FreshSecret,
    },
    context::{Done, Flash},
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;

const TAIL: &str = "/service-accounts";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceAccountsView {
    pub org: OrgHeader,
    pub accounts: Vec<ServiceAccountItem>,
    pub sudo_open: bool,
    pub at_limit: bool,
    /// Where tokens are asked for: `{BASE_URL}/oauth/token`.
    pub token_endpoint: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceAccountItem {
    pub id: String,
    pub name: String,
    pub made: String,
    pub last_used: Option<String>,
}

#[server(prefix = "/api", endpoint = "organization_service_accounts")]
pub async fn organization_service_accounts(slug: String) -> Result<ServiceAccountsView, AppError> {
    use crate::server_ctx;
    use backend::{format_utc, provider::service_accounts, signin::sudo};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let (m, rows) = service_accounts::list(&st, &me, &slug).await?;
    Ok(ServiceAccountsView {
        org: OrgHeader::from(&m),
        at_limit: rows.len() as i64 >= service_accounts::MAX_PER_ORG,
        accounts: rows
            .into_iter()
            .map(|r| ServiceAccountItem {
                made: match r.created_by {
                    Some(by) => format!("{} by {by}", format_utc(r.created_at)),
                    None => format_utc(r.created_at),
                },
                last_used: r.last_used_at.map(|at| match r.last_used_ip {
                    Some(ip) => format!("{} from {ip}", format_utc(at)),
                    None => format_utc(at),
                }),
                id: r.id,
                name: r.name,
            })
            .collect(),
        sudo_open: sudo::is_fresh(&st, &me),
        token_endpoint: format!("{}/oauth/token", st.config.base_url),
    })
}

/// Makes a service account; its client id and secret come back once (the secret sealed in a plain form's flash).
#[server(prefix = "/api", endpoint = "create_service_account")]
pub async fn create_service_account(slug: String, name: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    let typed = name.clone();
    form(&org_path(&slug, TAIL), &[("name", typed.as_str())], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let made = backend::provider::service_accounts::create(&st, &ctx, &me, &slug, &name).await?;
        Ok(Outcome::stay(Notice::ServiceAccountCreated)
            .with("client_id", made.client_id)
            .with_secret("client_secret", made.secret))
    })
    .await
}

/// A new secret for a service account: the old one stops working at once.
#[server(prefix = "/api", endpoint = "replace_service_account_secret")]
pub async fn replace_service_account_secret(slug: String, id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(&org_path(&slug, TAIL), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let made = backend::provider::service_accounts::new_secret(&st, &ctx, &me, &slug, &id).await?;
        Ok(Outcome::stay(Notice::ServiceAccountSecretReplaced)
            .with("client_id", made.client_id)
            .with_secret("client_secret", made.secret))
    })
    .await
}

#[server(prefix = "/api", endpoint = "revoke_service_account")]
pub async fn revoke_service_account(slug: String, id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(&org_path(&slug, TAIL), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::provider::service_accounts::revoke(&st, &ctx, &me, &slug, &id).await?;
        Ok(Outcome::stay(Notice::ServiceAccountRevoked))
    })
    .await
}

#[component]
pub fn OrgServiceAccountsPage() -> impl IntoView {
    let create = ServerAction::<CreateServiceAccount>::new();
    let rekey = ServerAction::<ReplaceServiceAccountSecret>::new();
    let revoke = ServerAction::<RevokeServiceAccount>::new();
    org_page(
        organization_service_accounts,
        move || (create.version().get() + rekey.version().get() + revoke.version().get()) as u64,
        move |o| {
            o.follow(move || create.value().get())
                .follow(move || rekey.value().get())
                .follow(move || revoke.value().get())
        },
        move |d: ServiceAccountsView, flash: Flash, outcomes: Outcomes| {
            let create_error = form_error(move || create.value().get(), flash.clone());
            let row_error = form_error(
                move || [rekey.value().get(), revoke.value().get()].into_iter().flatten().find(Result::is_err),
                Default::default(),
            );
            let notice = outcomes.notice();
            let (client_id, secret) = (outcomes.value("client_id"), outcomes.value("client_secret"));
            let endpoint = d.token_endpoint.clone();
            let fresh = move || {
                let (id, secret) = (client_id.get()?, secret.get()?);
                let example = format!("curl -u '{id}:{secret}' -d grant_type=client_credentials {endpoint}");
                Some(view! {
                    <div class="banner banner-warn copy-link fresh-token" role="status">
                        <FreshSecret id="new-client-id" label="Client ID" what="client ID" value=id/>
                        <FreshSecret id="new-client-secret" label="Client secret — copy it now, it is shown only this once:" what="client secret" value=secret/>
                        <p class="hint">"Ask for a 10-minute access token with them, then call the API with it as a bearer token:"</p>
                        <pre class="code-block"><code>{example}</code></pre>
                    </div>
                })
            };
            let slug = d.org.slug.clone();
            let page = org_path(&slug, TAIL);
            let form = if !d.sudo_open {
                view! { <SudoPrompt why="For your security, confirm it's you before managing service accounts." page=page/> }
                    .into_any()
            } else if d.at_limit {
                view! { <p class="muted">"The organization holds as many service accounts as it may: revoke one to make another."</p> }
                    .into_any()
            } else {
                let name = flash.value("name");
                let slug = slug.clone();
                view! {
                    <ErrorBanner error=create_error/>
                    <ActionForm action=create attr:class="token-form">
                        <input type="hidden" name="slug" value=slug/>
                        <TextField label="Name" name="name" value=name hint="What will use it, say \"billing sync\"." error=create_error required=true autocomplete="off"/>
                        <SubmitButton label="Make service account" pending_label="Making…" pending=create.pending()/>
                    </ActionForm>
                }
                .into_any()
            };
            let sudo_open = d.sudo_open;
            let accounts = d.accounts.clone();
            view! {
                <section class="card wide" aria-labelledby="page-title">
                    <NoticeBanner notice/>
                    <OrgTabs org=d.org.clone() current=TAIL/>
                    <p class="lead">
                        "Service accounts let this organization's back ends and jobs call the "
                        <a href="/developers/api">"API"</a>
                        " as the organization, not as a person. Each has a client ID and a secret, which it exchanges for "
                        "10-minute access tokens (OAuth client credentials). They read this organization and its members, "
                        "nothing else, and stay when the person who made them leaves."
                    </p>
                    {fresh}
                    <ErrorBanner error=row_error/>
                    <div class="settings-section flush">
                        <h2 class="section-title">"New service account"</h2>
                        {form}
                    </div>
                    <div class="settings-section">
                        <h2 class="section-title">"Service accounts"</h2>
                        {if accounts.is_empty() {
                            view! { <p class="muted">"None yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="session-list" aria-label="Service accounts">
                                    {accounts.into_iter().map(|a| view! { <AccountItem a slug=slug.clone() sudo_open rekey revoke/> }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </div>
                </section>
            }
        },
    )
}

#[component]
fn AccountItem(
    a: ServiceAccountItem,
    slug: String,
    sudo_open: bool,
    rekey: ServerAction<ReplaceServiceAccountSecret>,
    revoke: ServerAction<RevokeServiceAccount>,
) -> impl IntoView {
    let meta = format!(
        "client ID {} · made {} · {}",
        a.id,
        a.made,
        a.last_used.as_deref().map(|u| format!("last token {u}")).unwrap_or_else(|| "never used".into()),
    );
    let (rekey_label, revoke_label) = (format!("New secret for {}", a.name), format!("Revoke {}", a.name));
    let (id, id2, slug2) = (a.id.clone(), a.id.clone(), slug.clone());
    view! {
        <li class="session">
            <div>
                <p class="session-device">{a.name.clone()}</p>
                <p class="muted session-meta">{meta}</p>
            </div>
            <div class="row-actions">
                {sudo_open.then(|| view! {
                    <ActionForm action=rekey>
                        <input type="hidden" name="slug" value=slug/>
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class="button button-small button-secondary" aria-label=rekey_label>"New secret"</button>
                    </ActionForm>
                })}
                <ActionForm action=revoke>
                    <input type="hidden" name="slug" value=slug2/>
                    <input type="hidden" name="id" value=id2/>
                    <button type="submit" class="button button-small button-danger" aria-label=revoke_label>"Revoke"</button>
                </ActionForm>
            </div>
        </li>
    }
}
