//! `/users/settings/api-tokens`: personal access tokens for the JSON API (`/api/v1`). Make one (behind sudo: a
//! name, read or read and write, organizations, a lifetime; the token is shown once), see when and where each was
//! last used, revoke. Below them, the apps the person allowed through the OpenID provider, each revocable.
use leptos::{form::ActionForm, prelude::*};
use serde::{Deserialize, Serialize};

use crate::{
    account::sudo::SudoPrompt,
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton, TextField},
        layout::{with_page_context, NoticeBanner},
        page::loaded,
        secret::FreshSecret,
    },
    context::Done,
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;

pub const API_TOKENS: &str = "/users/settings/api-tokens";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TokensOverview {
    pub tokens: Vec<ApiTokenView>,
    /// The organizations a new token may be granted: (slug, name).
    pub organizations: Vec<(String, String)>,
    pub sudo_open: bool,
    pub confirmed: bool,
    pub at_limit: bool,
    pub apps: Vec<AllowedAppView>,
}

/// An app signed in with the account (OpenID provider), and what it may do.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AllowedAppView {
    pub client_id: String,
    pub name: String,
    /// What it may do, in words.
    pub can: Vec<String>,
    pub since: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub access: String,
    pub organizations: Vec<String>,
    pub created: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
}

#[server(prefix = "/api", endpoint = "api_tokens_data")]
pub async fn api_tokens_data() -> Result<TokensOverview, AppError> {
    use crate::server_ctx;
    use backend::{api::tokens, format_utc, orgs, signin::sudo};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let rows = tokens::list(&st, &me.user_id).await?;
    let organizations = orgs::list_for_user(&st, &me.user_id).await?.into_iter().map(|o| (o.slug, o.name)).collect();
    let apps = backend::provider::consents::list(&st, &me.user_id)
        .await?
        .into_iter()
        .map(|a| AllowedAppView {
            can: a
                .scopes
                .iter()
                .map(|s| backend::provider::scope_text(s))
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            client_id: a.client_id,
            name: a.name,
            since: format_utc(a.since),
        })
        .collect();
    Ok(TokensOverview {
        at_limit: rows.len() as i64 >= tokens::MAX_TOKENS,
        tokens: rows
            .into_iter()
            .map(|t| ApiTokenView {
                access: if t.scopes.iter().any(|s| s == "write") { "read and write" } else { "read" }.into(),
                id: t.id,
                name: t.name,
                hint: t.hint,
                organizations: t.organizations,
                created: format_utc(t.created_at),
                expires: t.expires_at.map(format_utc),
                last_used: t.last_used_at.map(|at| match t.last_used_ip {
                    Some(ip) => format!("{} from {ip}", format_utc(at)),
                    None => format_utc(at),
                }),
            })
            .collect(),
        organizations,
        sudo_open: sudo::is_fresh(&st, &me),
        confirmed: me.confirmed,
        apps,
    })
}

/// Makes a token and hands it back once (to the reactive page in its answer; to a plain form through the sealed
/// flash). `access` is `read` or `write` (read and write); `expires` is a number of days or `never`.
#[server(prefix = "/api", endpoint = "create_api_token")]
pub async fn create_api_token(
    name: String,
    access: String,
    expires: String,
    #[server(default)] organizations: Vec<String>,
) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    use backend::api::tokens::{self, Scope};
    let typed = name.clone();
    form(API_TOKENS, &[("name", typed.as_str())], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let scopes: &[Scope] = match access.as_str() {
            "read" => &[Scope::Read],
            "write" => &[Scope::Read, Scope::Write],
            _ => return Err(AppError::field("access", "Choose what the token may do: read, or read and write.")),
        };
        let lifetime_days = match expires.as_str() {
            "never" => None,
            days => Some(
                days.parse::<i64>().map_err(|_| AppError::field("expires", "Choose one of the offered lifetimes."))?,
            ),
        };
        let new = tokens::NewToken { name: &name, scopes, organizations: &organizations, lifetime_days };
        let created = tokens::create(&st, &ctx, &me, new).await?;
        Ok(Outcome::stay(Notice::ApiTokenCreated).with_secret("token", created.token))
    })
    .await
}

/// Revokes one of the user's tokens (another user's id is "not found").
#[server(prefix = "/api", endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(API_TOKENS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::api::tokens::revoke(&st, &ctx, &me, &id).await?;
        Ok(Outcome::stay(Notice::ApiTokenRevoked))
    })
    .await
}

/// Takes an app's access away: it is asked again next time, and what it holds stops working.
#[server(prefix = "/api", endpoint = "revoke_app")]
pub async fn revoke_app(client_id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(API_TOKENS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::provider::consents::revoke(&st, &ctx, &me, &client_id).await?;
        Ok(Outcome::stay(Notice::AppRevoked))
    })
    .await
}

#[component]
pub fn ApiTokensPage() -> impl IntoView {
    with_page_context(|page| {
        let create = ServerAction::<CreateApiToken>::new();
        let revoke = ServerAction::<RevokeApiToken>::new();
        let revoke_app = ServerAction::<RevokeApp>::new();
        let data = Resource::new(
            move || (create.version().get(), revoke.version().get(), revoke_app.version().get()),
            |_| api_tokens_data(),
        );
        let outcomes = Outcomes::new(&page.flash)
            .follow(move || create.value().get())
            .follow(move || revoke.value().get())
            .follow(move || revoke_app.value().get());
        let notice = outcomes.notice();
        let fresh = outcomes.value("token");
        let create_error = form_error(move || create.value().get(), page.flash.clone());
        // A plain form's error comes back in the flash, shown once (by the creation form's banner).
        let revoke_error = form_error(
            move || [revoke.value().get(), revoke_app.value().get()].into_iter().flatten().find(Result::is_err),
            Default::default(),
        );
        let name = page.flash.value("name");
        view! {
            <section class="card wide" aria-labelledby="page-title">
                <NoticeBanner notice/>
                <h1 id="page-title">"API tokens and apps"</h1>
                <p class="lead">
                    "Personal access tokens let scripts and programs call the "
                    <a href="/developers/api">"API"</a>
                    " as you. Treat each like a password. "
                    <a href="/users/settings">"Back to settings"</a>
                </p>
                {move || fresh.get().map(|token| view! {
                    <div class="banner banner-warn copy-link fresh-token" role="status">
                        <FreshSecret id="new-token" label="Your new token — copy it now, it is shown only this once:" what="token" value=token/>
                    </div>
                })}
                <ErrorBanner error=revoke_error/>
                {loaded(data, move |d| view! { <Tokens data=d create revoke revoke_app create_error name=name.clone()/> })}
            </section>
        }
        .into_any()
    })
}

#[component]
fn Tokens(
    data: TokensOverview,
    create: ServerAction<CreateApiToken>,
    revoke: ServerAction<RevokeApiToken>,
    revoke_app: ServerAction<RevokeApp>,
    create_error: Signal<Option<AppError>>,
    name: String,
) -> impl IntoView {
    let apps = data.apps.clone();
    let form = if !data.confirmed {
        view! { <p class="muted">"Confirm your e-mail address first: then you can make tokens."</p> }.into_any()
    } else if !data.sudo_open {
        view! { <SudoPrompt why="For your security, confirm it's you before making a token." page=API_TOKENS/> }
            .into_any()
    } else if data.at_limit {
        view! { <p class="muted">"You hold as many tokens as an account may: revoke one to make another."</p> }
            .into_any()
    } else {
        view! { <NewTokenForm organizations=data.organizations create error=create_error name/> }.into_any()
    };
    view! {
        <div class="settings-section flush">
            <h2 class="section-title">"New token"</h2>
            {form}
        </div>
        <div class="settings-section">
            <h2 class="section-title">"Your tokens"</h2>
            {if data.tokens.is_empty() {
                view! { <p class="muted">"No tokens yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="session-list" aria-label="Your tokens">
                        {data.tokens.into_iter().map(|t| view! { <TokenItem t revoke/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
        <div class="settings-section">
            <h2 class="section-title">"Apps you allowed"</h2>
            {if apps.is_empty() {
                view! { <p class="muted">"No app signs in with your account."</p> }.into_any()
            } else {
                view! {
                    <ul class="session-list" aria-label="Apps you allowed">
                        {apps.into_iter().map(|a| view! { <AppItem a revoke_app/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
    }
}

#[component]
fn TokenItem(t: ApiTokenView, revoke: ServerAction<RevokeApiToken>) -> impl IntoView {
    let label = format!("Revoke {}", t.name);
    let orgs = if t.organizations.is_empty() {
        String::new()
    } else {
        format!(" · organizations: {}", t.organizations.join(", "))
    };
    let meta = format!(
        "{} · {}{} · made {} · {} · {}",
        t.hint,
        t.access,
        orgs,
        t.created,
        t.expires.as_deref().map(|e| format!("expires {e}")).unwrap_or_else(|| "never expires".into()),
        t.last_used.as_deref().map(|u| format!("last used {u}")).unwrap_or_else(|| "never used".into()),
    );
    view! {
        <li class="session">
            <div>
                <p class="session-device">{t.name.clone()}</p>
                <p class="muted session-meta">{meta}</p>
            </div>
            <ActionForm action=revoke>
                <input type="hidden" name="id" value=t.id.clone()/>
                <button type="submit" class="button button-small button-danger" aria-label=label>"Revoke"</button>
            </ActionForm>
        </li>
    }
}

#[component]
fn AppItem(a: AllowedAppView, revoke_app: ServerAction<RevokeApp>) -> impl IntoView {
    let label = format!("Revoke the app {}", a.name);
    let meta = format!("since {} · can: {}", a.since, a.can.join(", ").to_lowercase());
    view! {
        <li class="session">
            <div>
                <p class="session-device">{a.name.clone()}</p>
                <p class="muted session-meta">{meta}</p>
            </div>
            <ActionForm action=revoke_app>
                <input type="hidden" name="client_id" value=a.client_id.clone()/>
                <button type="submit" class="button button-small button-danger" aria-label=label>"Revoke"</button>
            </ActionForm>
        </li>
    }
}

#[component]
fn NewTokenForm(
    organizations: Vec<(String, String)>,
    create: ServerAction<CreateApiToken>,
    error: Signal<Option<AppError>>,
    name: String,
) -> impl IntoView {
    let field_error = move |name: &'static str| move || error.get().and_then(|e| e.field_error(name));
    view! {
        <ErrorBanner error/>
        <ActionForm action=create attr:class="token-form">
            <TextField label="Name" name="name" value=name hint="What will use it, say \"deploy script\"." error required=true autocomplete="off"/>
            <fieldset class="field">
                <legend>"Access"</legend>
                <div class="radio">
                    <input type="radio" id="access-read" name="access" value="read" checked=true/>
                    <label for="access-read">"Read: your account, sessions and the organizations below"</label>
                </div>
                <div class="radio">
                    <input type="radio" id="access-write" name="access" value="write"/>
                    <label for="access-write">"Read and write: also sign your browsers out"</label>
                </div>
                <p class="field-error" role="alert">{field_error("access")}</p>
            </fieldset>
            {(!organizations.is_empty()).then(|| view! {
                <fieldset class="field">
                    <legend>"Organizations it may read"</legend>
                    {organizations.into_iter().map(|(slug, name)| {
                        let id = format!("org-{slug}");
                        view! {
                            <div class="checkbox">
                                <input type="checkbox" id=id.clone() name="organizations[]" value=slug/>
                                <label for=id>{name}</label>
                            </div>
                        }
                    }).collect_view()}
                    <p class="hint">"The token stops working if you leave one of them."</p>
                    <p class="field-error" role="alert">{field_error("organizations")}</p>
                </fieldset>
            })}
            <div class="field">
                <label for="token-expires">"Expires"</label>
                <select id="token-expires" name="expires">
                    <option value="7">"In 7 days"</option>
                    <option value="30" selected=true>"In 30 days"</option>
                    <option value="90">"In 90 days"</option>
                    <option value="365">"In a year"</option>
                    <option value="never">"Never"</option>
                </select>
                <p class="field-error" role="alert">{field_error("expires")}</p>
            </div>
            <SubmitButton label="Make token" pending_label="Making…" pending=create.pending()/>
        </ActionForm>
    }
}
