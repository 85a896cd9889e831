//! `/users/settings/connections`: the sign-in providers linked to the account. Link another (behind sudo; the
//! browser goes to the provider and back), unlink (refused when it is the last way to sign in), and confirm a link
//! held since a provider sign-in met this account's e-mail.
use leptos::{form::ActionForm, prelude::*};
use serde::{Deserialize, Serialize};

use crate::{
    account::sudo::SudoPrompt,
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton},
        layout::{with_page_context, NoticeBanner},
        page::loaded,
    },
    context::Done,
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;

const CONNECTIONS: &str = "/users/settings/connections";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectionsOverview {
    pub linked: Vec<LinkedProvider>,
    /// Configured providers not linked yet: (id, name).
    pub available: Vec<(String, String)>,
    /// A provider identity this browser holds for the account: (provider name, its e-mail).
    pub pending: Option<(String, Option<String>)>,
    pub sudo_open: bool,
    pub has_password: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LinkedProvider {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub linked: String,
    pub last_used: Option<String>,
}

#[server(prefix = "/api", endpoint = "connections_data")]
pub async fn connections_data() -> Result<ConnectionsOverview, AppError> {
    use crate::server_ctx;
    use backend::{format_utc, signin::accounts, signin::oauth, signin::sudo};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let rows = oauth::identities(&st, &me.user_id).await?;
    let pending = oauth::pending(&st, &ctx, &me).await?;
    let has_password = accounts::has_password(&st, &me.user_id).await?;
    let name = |id: &str| st.config.oauth_provider(id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string());
    let available = st
        .config
        .oauth_providers
        .iter()
        .filter(|p| !rows.iter().any(|r| r.provider == p.id))
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    Ok(ConnectionsOverview {
        linked: rows
            .into_iter()
            .map(|r| LinkedProvider {
                name: name(&r.provider),
                id: r.id,
                email: r.email,
                linked: format_utc(r.created_at),
                last_used: r.last_used_at.map(format_utc),
            })
            .collect(),
        available,
        pending: pending.map(|p| (p.provider, p.email)),
        sudo_open: sudo::is_fresh(&st, &me),
        has_password,
    })
}

/// Unlinks one of the user's providers (another user's id is "not found").
#[server(prefix = "/api", endpoint = "unlink_provider")]
pub async fn unlink_provider(id: String, keep_signed_in: Option<String>) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(CONNECTIONS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::oauth::unlink(&st, &ctx, &me, &id, keep_signed_in.is_some()).await?;
        Ok(Outcome::stay(Notice::ProviderUnlinked))
    })
    .await
}

/// Links the provider identity this browser holds for the signed-in account (behind sudo).
#[server(prefix = "/api", endpoint = "confirm_provider_link")]
pub async fn confirm_provider_link() -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(CONNECTIONS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::oauth::confirm_pending(&st, &ctx, &me).await?;
        forget_pending_cookie(&st);
        Ok(Outcome::stay(Notice::ProviderLinked))
    })
    .await
}

/// Forgets the held link.
#[server(prefix = "/api", endpoint = "discard_provider_link")]
pub async fn discard_provider_link() -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(CONNECTIONS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::oauth::discard_pending(&st, &ctx, &me).await?;
        forget_pending_cookie(&st);
        Ok(Outcome::stay(None))
    })
    .await
}

#[cfg(feature = "ssr")]
fn forget_pending_cookie(st: &backend::AppState) {
    let c = &st.config;
    crate::server_ctx::append_header(
        http::header::SET_COOKIE,
        &backend::platform::cookies::clear(c, c.link_cookie_name()),
    );
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    with_page_context(|page| {
        let unlink = ServerAction::<UnlinkProvider>::new();
        let confirm = ServerAction::<ConfirmProviderLink>::new();
        let discard = ServerAction::<DiscardProviderLink>::new();
        let data = Resource::new(
            move || (unlink.version().get(), confirm.version().get(), discard.version().get()),
            |_| connections_data(),
        );
        let notice = Outcomes::new(&page.flash)
            .follow(move || unlink.value().get())
            .follow(move || confirm.value().get())
            .follow(move || discard.value().get())
            .notice();
        let error = form_error(
            move || {
                [unlink.value().get(), confirm.value().get(), discard.value().get()]
                    .into_iter()
                    .flatten()
                    .find(Result::is_err)
            },
            page.flash.clone(),
        );
        view! {
                <section class="card wide" aria-labelledby="page-title">
                    <NoticeBanner notice/>
                    <h1 id="page-title">"Connected accounts"</h1>
                    <p class="lead">"Accounts elsewhere you can sign in with. " <a href="/users/settings">"Back to settings"</a></p>
                    <ErrorBanner error/>
                    <p class="field-error" role="alert">{move || error.get().and_then(|e| e.field_error("identity").or_else(|| e.field_error("link")))}</p>
                    {loaded(data, move |d| view! { <Connections data=d unlink confirm discard/> })}
                </section>
            }
            .into_any()
    })
}

#[component]
fn Connections(
    data: ConnectionsOverview,
    unlink: ServerAction<UnlinkProvider>,
    confirm: ServerAction<ConfirmProviderLink>,
    discard: ServerAction<DiscardProviderLink>,
) -> impl IntoView {
    let sudo_open = data.sudo_open;
    let sudo_prompt = (!sudo_open).then(|| {
        view! {
            <SudoPrompt why="For your security, confirm it's you before linking or unlinking an account." page=CONNECTIONS/>
        }
    });
    let pending = data.pending.clone().map(|(provider, email)| {
        let what = match email {
            Some(e) => format!("Link the {provider} account ({e}) you just used to sign in?"),
            None => format!("Link the {provider} account you just used to sign in?"),
        };
        view! {
            <div class="banner banner-warn pending-link" role="status">
                <p>{what}</p>
                {if sudo_open {
                    view! {
                        <div class="pending-actions">
                            <ActionForm action=confirm>
                                <SubmitButton label="Link it" pending_label="Linking…" pending=confirm.pending()/>
                            </ActionForm>
                            <ActionForm action=discard>
                                <SubmitButton label="Don't link" pending_label="Forgetting…" pending=discard.pending() secondary=true/>
                            </ActionForm>
                        </div>
                    }.into_any()
                } else {
                    view! { <p class="muted">"Confirm it's you below first."</p> }.into_any()
                }}
            </div>
        }
    });
    let only_one = data.linked.len() == 1 && !data.has_password;
    view! {
        {pending}
        {sudo_prompt}
        <div class="settings-section">
            <h2 class="section-title">"Linked"</h2>
            {if data.linked.is_empty() {
                view! { <p class="muted">"No accounts linked."</p> }.into_any()
            } else {
                view! {
                    <ul class="session-list">
                        {data.linked.into_iter().map(|l| {
                            let label = format!("Unlink {}", l.name);
                            let meta = format!(
                                "{} · linked {} · {}",
                                l.email.clone().unwrap_or_else(|| "no e-mail shared".into()),
                                l.linked,
                                l.last_used.as_deref().map(|t| format!("last used {t}")).unwrap_or_else(|| "never used".into())
                            );
                            view! {
                                <li class="session">
                                    <div>
                                        <p class="session-device">{l.name.clone()}</p>
                                        <p class="muted session-meta">{meta}</p>
                                        {only_one.then(|| view! { <p class="hint">"Your only way to sign in: set a password or add a passkey before unlinking it."</p> })}
                                    </div>
                                    {sudo_open.then(|| view! {
                                        <ActionForm action=unlink>
                                            <input type="hidden" name="id" value=l.id.clone()/>
                                            <crate::components::form::KeepSignedIn id=format!("keep-{}", l.id)/>
                                            <button type="submit" class="button button-small button-secondary" aria-label=label disabled=only_one>"Unlink"</button>
                                        </ActionForm>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
        {(!data.available.is_empty()).then(|| view! {
            <div class="settings-section">
                <h2 class="section-title">"Link another"</h2>
                <div class="provider-buttons">
                    {data.available.into_iter().map(|(id, name)| view! {
                        <a class="button button-secondary provider-button" rel="external" href=format!("/auth/{id}?link=1")>{format!("Link {name}")}</a>
                    }).collect_view()}
                </div>
            </div>
        })}
    }
}
