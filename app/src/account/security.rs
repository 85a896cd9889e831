//! `/users/settings/security`: two-step verification (authenticator app), backup codes, passkeys, trusted browsers.
//! Turning things on or off needs sudo; the server checks it, the page reflects it.
use leptos::{form::ActionForm, prelude::*};

use crate::{
    account::sudo::SudoPrompt,
    components::{
        form::{form_error, ErrorBanner, KeepSignedIn, Outcomes, SubmitButton, TextField},
        layout::{with_page_context, NoticeBanner},
        page::loaded,
    },
    context::{Done, Flash},
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;

/// This page: also where a user who must have two-step verification (policy, an organization, an admin) enrols.
pub use domain::pages::SECURITY;
use domain::views::SecurityOverview;

/// The page's data: two-step verification, backup codes, trusted browsers and the sudo window.
#[server(prefix = "/api", endpoint = "security_data")]
pub async fn security_data() -> Result<SecurityOverview, AppError> {
    crate::server_ctx::session_data(|st, _, me| async move { backend::signin::mfa::status(&st, &me).await }).await
}

#[server(prefix = "/api", endpoint = "start_totp")]
pub async fn start_totp() -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SECURITY, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::mfa::start_enrolment(&st, &ctx, &me).await?;
        Ok(Outcome::stay(None))
    })
    .await
}

#[server(prefix = "/api", endpoint = "enable_totp")]
pub async fn enable_totp(#[server(default)] code: String, keep_signed_in: Option<String>) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SECURITY, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::mfa::enable(&st, &ctx, &me, &code, keep_signed_in.is_some()).await?;
        Ok(Outcome::stay(Notice::MfaEnabled))
    })
    .await
}

#[server(prefix = "/api", endpoint = "disable_totp")]
pub async fn disable_totp(#[server(default)] code: String, keep_signed_in: Option<String>) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SECURITY, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::mfa::disable(&st, &ctx, &me, &code, keep_signed_in.is_some()).await?;
        Ok(Outcome::stay(Notice::MfaDisabled))
    })
    .await
}

#[server(prefix = "/api", endpoint = "regenerate_backup_codes")]
pub async fn regenerate_backup_codes(#[server(default)] code: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SECURITY, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::mfa::regenerate_backup_codes(&st, &ctx, &me, &code).await?;
        Ok(Outcome::stay(None))
    })
    .await
}

/// Forgets one trusted browser (by id, own only: another user's id is "not found"), or all with no id.
#[server(prefix = "/api", endpoint = "revoke_trusted_browser")]
pub async fn revoke_trusted_browser(id: Option<String>) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SECURITY, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        if !backend::signin::mfa::revoke_trust(&st, &ctx, &me, id.as_deref()).await? {
            return Err(AppError::NotFound);
        }
        Ok(Outcome::stay(Notice::TrustRevoked))
    })
    .await
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    with_page_context(|page| view! { <SecurityForms flash=page.flash.clone()/> }.into_any())
}

#[derive(Clone, Copy)]
struct SecurityActions {
    start: ServerAction<StartTotp>,
    enable: ServerAction<EnableTotp>,
    disable: ServerAction<DisableTotp>,
    regenerate: ServerAction<RegenerateBackupCodes>,
    revoke: ServerAction<RevokeTrustedBrowser>,
}

#[component]
fn SecurityForms(flash: Flash) -> impl IntoView {
    let actions = SecurityActions {
        start: ServerAction::new(),
        enable: ServerAction::new(),
        disable: ServerAction::new(),
        regenerate: ServerAction::new(),
        revoke: ServerAction::new(),
    };
    let SecurityActions { start, enable, disable, regenerate, revoke } = actions;
    let data = Resource::new(
        move || {
            (
                start.version().get(),
                enable.version().get(),
                disable.version().get(),
                regenerate.version().get(),
                revoke.version().get(),
            )
        },
        |_| security_data(),
    );
    let notice = Outcomes::new(&flash)
        .follow(move || start.value().get())
        .follow(move || enable.value().get())
        .follow(move || disable.value().get())
        .follow(move || regenerate.value().get())
        .follow(move || revoke.value().get())
        .notice();
    let error = form_error(
        move || {
            [
                start.value().get(),
                enable.value().get(),
                disable.value().get(),
                regenerate.value().get(),
                revoke.value().get(),
            ]
            .into_iter()
            .flatten()
            .find(Result::is_err)
        },
        flash,
    );
    view! {
        <section class="card wide" aria-labelledby="page-title">
            <NoticeBanner notice/>
            <h1 id="page-title">"Security"</h1>
            <p class="lead">"Two-step verification, backup codes, passkeys and the browsers you trust. " <a href="/users/settings">"Back to settings"</a></p>
            <ErrorBanner error/>
            {loaded(data, move |d| view! { <SecuritySections data=d actions error/> })}
        </section>
    }
}

#[component]
fn SecuritySections(
    data: SecurityOverview,
    actions: SecurityActions,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let SecurityActions { start, enable, disable, regenerate, revoke } = actions;
    let sudo_open = data.sudo_until.is_some();
    let sudo_prompt = move || {
        (!sudo_open).then(|| {
            view! {
                <SudoPrompt why="For your security, confirm it's you before changing two-step verification or passkeys." page=SECURITY/>
            }
        })
    };
    let totp = match (data.totp_enabled, data.pending.clone()) {
        (true, _) => view! {
            <p><span class="badge badge-on">"On"</span> " Sign-ins ask for a code from your authenticator app."</p>
            {sudo_open.then(|| view! {
                <ActionForm action=disable>
                    <TextField label="Code to turn it off" name="code" id="disable-code" autocomplete="one-time-code" hint="A current code from your app. Your other devices are signed out." error required=true/>
                    <KeepSignedIn id="disable-keep"/>
                    <SubmitButton label="Turn off two-step verification" pending_label="Turning off…" pending=disable.pending() secondary=true/>
                </ActionForm>
            })}
        }.into_any(),
        (false, Some(p)) => view! {
            <ol class="steps">
                <li>"Scan this QR code with your authenticator app (or enter the key by hand)."</li>
                <li>"Enter the 6-digit code it shows to finish."</li>
            </ol>
            <div class="qr" role="img" aria-label="QR code for your authenticator app" inner_html=p.qr_svg></div>
            <p>"Key: " <code class="secret">{p.secret}</code></p>
            <p><a href=p.otpauth_url>"Open in an authenticator app on this device"</a></p>
            <ActionForm action=enable>
                <TextField label="Code from the app" name="code" id="enable-code" autocomplete="one-time-code" inputmode="numeric" hint="Turning it on signs out your other devices." error required=true/>
                <KeepSignedIn id="enable-keep"/>
                <SubmitButton label="Turn on" pending_label="Checking…" pending=enable.pending()/>
            </ActionForm>
        }.into_any(),
        (false, None) => view! {
            <p><span class="badge">"Off"</span> " Add a code from an authenticator app to every sign-in."</p>
            {sudo_open.then(|| view! {
                <ActionForm action=start>
                    <SubmitButton label="Set up an authenticator app" pending_label="Preparing…" pending=start.pending()/>
                </ActionForm>
            })}
        }.into_any(),
    };
    let codes = data.fresh_codes.clone().map(|codes| view! { <FreshCodes codes/> });
    view! {
        {data.required.then(|| view! {
            <div class="banner banner-warn" role="alert">
                "Your account needs two-step verification. Set up an authenticator app below to continue."
            </div>
        })}
        <div class="settings-section">
            <h2 class="section-title">"Authenticator app"</h2>
            {sudo_prompt}
            {totp}
        </div>
        {data.totp_enabled.then(|| view! {
            <div class="settings-section">
                <h2 class="section-title">"Backup codes"</h2>
                {codes}
                <p>{format!("{} unused backup codes left. Each works once, if you lose your phone.", data.backup_codes_left)}</p>
                {sudo_open.then(|| view! {
                    <ActionForm action=regenerate>
                        <TextField label="Code to make new backup codes" name="code" id="regenerate-code" autocomplete="one-time-code" inputmode="numeric" hint="A current code from your app. The old backup codes stop working." error required=true/>
                        <SubmitButton label="Make new backup codes" pending_label="Making…" pending=regenerate.pending() secondary=true/>
                    </ActionForm>
                })}
            </div>
        })}
        <crate::account::passkeys::PasskeySection sudo_open/>
        <div class="settings-section">
            <h2 class="section-title">"Trusted browsers"</h2>
            {if data.trusted.is_empty() {
                view! { <p class="muted">"No trusted browsers. Tick “Trust this browser” at the code step to skip it for 30 days."</p> }.into_any()
            } else {
                view! {
                    <ul class="session-list">
                        {data.trusted.into_iter().map(|t| {
                            let label = format!("Forget {} ({})", t.device, t.ip);
                            view! {
                                <li class="session">
                                    <div>
                                        <p class="session-device">{t.device.clone()}</p>
                                        <p class="muted session-meta">{format!("{} · trusted {} · last used {}", t.ip, t.created, t.last_used)}</p>
                                    </div>
                                    <ActionForm action=revoke>
                                        <input type="hidden" name="id" value=t.id.clone()/>
                                        <button type="submit" class="button button-small button-secondary" aria-label=label>"Forget"</button>
                                    </ActionForm>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <ActionForm action=revoke>
                        <SubmitButton label="Forget every trusted browser" pending_label="Forgetting…" pending=revoke.pending() secondary=true/>
                    </ActionForm>
                }.into_any()
            }}
        </div>
    }
}

/// New backup codes, shown this once, with copy (in the browser) and download.
#[component]
fn FreshCodes(codes: Vec<String>) -> impl IntoView {
    let text = format!("Backup codes — each works once.\n\n{}\n", codes.join("\n"));
    let href = format!("data:text/plain;charset=utf-8,{}", percent_encode(&text));
    let (copied, set_copied) = signal(false);
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    let copy_text = text.clone();
    view! {
        <div class="banner banner-warn fresh-codes" role="status">
            <p><strong>"Save these backup codes now."</strong> " They are shown only this once."</p>
            <ul class="codes">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul>
            <p class="code-actions">
                <a class="button button-small button-secondary" href=href download="backup-codes.txt">"Download (.txt)"</a>
                <button
                    type="button"
                    class="button button-small button-secondary"
                    hidden=move || !hydrated.get()
                    on:click=move |_| {
                        copy_to_clipboard(&copy_text);
                        set_copied.set(true);
                    }
                >
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </p>
        </div>
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(feature = "hydrate")]
pub(crate) fn copy_to_clipboard(text: &str) {
    let _ = window().navigator().clipboard().write_text(text);
}

#[cfg(not(feature = "hydrate"))]
pub(crate) fn copy_to_clipboard(_text: &str) {}
