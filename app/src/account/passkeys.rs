//! The passkeys section of `/users/settings/security`: list, add (behind sudo), rename, remove.
use leptos::{form::ActionForm, prelude::*};
use serde::{Deserialize, Serialize};

use crate::{
    components::{
        form::{form_error, Outcomes, SubmitButton},
        layout::NoticeBanner,
        passkey::{ceremony, PasskeyButton, PasskeyChallenge},
    },
    context::{Done, Flash},
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;
#[cfg(feature = "ssr")]
use domain::pages::SECURITY;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PasskeyOverview {
    pub items: Vec<PasskeyItem>,
    /// Below the limit of passkeys per account.
    pub can_add: bool,
    /// The account has no password: its last passkey cannot be removed.
    pub has_password: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PasskeyItem {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
    pub synced: bool,
}

#[server(prefix = "/api", endpoint = "passkey_list")]
pub async fn passkey_list() -> Result<PasskeyOverview, AppError> {
    use crate::server_ctx;
    use backend::{format_utc, signin::accounts, signin::passkeys};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let rows = passkeys::list(&st, &me.user_id).await?;
    let has_password = accounts::has_password(&st, &me.user_id).await?;
    Ok(PasskeyOverview {
        can_add: (rows.len() as i64) < passkeys::MAX_PASSKEYS,
        has_password,
        items: rows
            .into_iter()
            .map(|p| PasskeyItem {
                id: p.id,
                name: p.name,
                created: format_utc(p.created_at),
                last_used: p.last_used_at.map(format_utc),
                synced: p.synced,
            })
            .collect(),
    })
}

/// Starts adding a passkey (behind sudo): the options for `navigator.credentials.create`.
#[server(prefix = "/api", endpoint = "passkey_creation_options")]
pub async fn passkey_creation_options() -> Result<PasskeyChallenge, AppError> {
    use crate::{components::passkey::PasskeyOptions, server_ctx};
    use backend::signin::passkeys;
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let c = passkeys::start_registration(&st, &me).await?;
    Ok(PasskeyChallenge { token: c.token, options: PasskeyOptions::Create(c.options) })
}

/// Keeps the new passkey the browser made for the ceremony `token`.
#[server(prefix = "/api", endpoint = "add_passkey")]
pub async fn add_passkey(
    token: String,
    credential: String,
    name: Option<String>,
    keep_signed_in: Option<String>,
) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    use backend::signin::passkeys;
    // Only the browser (JavaScript) calls this; the section shows the notice from its answer.
    form(SECURITY, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        passkeys::finish_registration(&st, &ctx, &me, &token, &credential, name.as_deref(), keep_signed_in.is_some())
            .await?;
        Ok(Outcome::stay(Notice::PasskeyAdded))
    })
    .await
}

#[server(prefix = "/api", endpoint = "rename_passkey")]
pub async fn rename_passkey(id: String, #[server(default)] name: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SECURITY, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::passkeys::rename(&st, &ctx, &me, &id, &name).await?;
        Ok(Outcome::stay(Notice::PasskeyRenamed))
    })
    .await
}

/// Removes one of the user's passkeys (another user's id is "not found").
#[server(prefix = "/api", endpoint = "remove_passkey")]
pub async fn remove_passkey(id: String, keep_signed_in: Option<String>) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SECURITY, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::passkeys::remove(&st, &ctx, &me, &id, keep_signed_in.is_some()).await?;
        Ok(Outcome::stay(Notice::PasskeyRemoved))
    })
    .await
}

/// The section: passkeys with their names and dates; with the sudo window open, add, rename and remove.
#[component]
pub fn PasskeySection(sudo_open: bool) -> impl IntoView {
    let add = ServerAction::<AddPasskey>::new();
    let rename = ServerAction::<RenamePasskey>::new();
    let remove = ServerAction::<RemovePasskey>::new();
    let list = Resource::new(
        move || (add.version().get(), rename.version().get(), remove.version().get()),
        |_| passkey_list(),
    );
    // The page's flash notice shows at its top (`SecurityForms`); this one shows what this section's forms did.
    let notice = Outcomes::new(&Flash::default())
        .follow(move || add.value().get())
        .follow(move || rename.value().get())
        .follow(move || remove.value().get())
        .notice();
    let (run, busy, browser_error) = ceremony(passkey_creation_options, move |token, credential| {
        add.dispatch(AddPasskey { token, credential, name: None, keep_signed_in: None });
    });
    let add_error = form_error(move || add.value().get(), Default::default());
    let rename_error = form_error(move || rename.value().get(), Default::default());
    let remove_error = form_error(move || remove.value().get(), Default::default());
    view! {
        <div class="settings-section" id="passkeys">
            <h2 class="section-title">"Passkeys"</h2>
            <p>"Sign in with your fingerprint, face or device PIN instead of a password. A passkey counts as both steps of two-step verification. Adding one signs out your other devices."</p>
            <NoticeBanner notice/>
            <p class="field-error" role="alert">{move || {
                remove_error.get().or_else(|| rename_error.get()).map(|e| {
                    e.field_error("passkey").or_else(|| e.field_error("name")).unwrap_or_else(|| e.banner())
                })
            }}</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(data) => {
                            let last_one = data.items.len() == 1;
                            let only_way = last_one && !data.has_password;
                            let can_add = data.can_add;
                            view! {
                                {if data.items.is_empty() {
                                    view! { <p class="muted">"No passkeys yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="session-list passkey-list">
                                            {data.items.into_iter().map(|p| view! {
                                                <PasskeyRow item=p sudo_open last_one only_way rename remove/>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                                {(sudo_open && !can_add).then(|| view! {
                                    <p class="muted">"You have the most passkeys one account can hold. Remove one to add another."</p>
                                })}
                                {(sudo_open && can_add).then(|| view! {
                                    <PasskeyButton
                                        label="Add a passkey"
                                        pending_label="Waiting for your device…"
                                        run
                                        busy
                                        finishing=add.pending()
                                        error=browser_error
                                        finish_error=add_error
                                    />
                                })}
                            }.into_any()
                        }
                        Err(e) => view! { <div class="banner banner-error" role="alert">{e.banner()}</div> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn PasskeyRow(
    item: PasskeyItem,
    sudo_open: bool,
    last_one: bool,
    only_way: bool,
    rename: ServerAction<RenamePasskey>,
    remove: ServerAction<RemovePasskey>,
) -> impl IntoView {
    let meta = format!(
        "Added {} · {} {}",
        item.created,
        item.last_used.as_deref().map(|t| format!("last used {t}")).unwrap_or_else(|| "never used".into()),
        if item.synced { "· synced across your devices" } else { "" }
    );
    let rename_id = format!("rename-{}", item.id);
    let remove_label = format!("Remove passkey {}", item.name);
    let remove_id = item.id.clone();
    let warning = if only_way {
        Some("This is your only way to sign in: set a password before you remove it.")
    } else if last_one {
        Some("This is your last passkey: after removing it you sign in with your password.")
    } else {
        None
    };
    view! {
        <li class="session passkey">
            <div>
                <p class="session-device">{item.name.clone()}</p>
                <p class="muted session-meta">{meta}</p>
                {warning.map(|w| view! { <p class="hint">{w}</p> })}
            </div>
            <details class="passkey-manage">
                <summary>"Manage"</summary>
                <ActionForm action=rename>
                    <input type="hidden" name="id" value=item.id.clone()/>
                    <div class="field">
                        <label for=rename_id.clone()>"Name"</label>
                        <input id=rename_id name="name" value=item.name.clone() maxlength="64" required/>
                    </div>
                    <SubmitButton label="Rename" pending_label="Saving…" pending=rename.pending() secondary=true/>
                </ActionForm>
                {sudo_open.then(|| view! {
                    <ActionForm action=remove>
                        <input type="hidden" name="id" value=remove_id.clone()/>
                        <crate::components::form::KeepSignedIn id=format!("keep-{remove_id}")/>
                        <button type="submit" class="button button-small button-danger" aria-label=remove_label.clone() disabled=only_way>
                            "Remove"
                        </button>
                    </ActionForm>
                })}
            </details>
        </li>
    }
}
