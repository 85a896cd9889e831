//! `/users/sudo`: confirm it's you before a sensitive change. Passing opens a 10-minute window on this session and
//! gives it a new token; then the browser goes back to `return_to` (a local path only).
use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_query_map;

use crate::{
    components::{
        form::{form_error, ErrorBanner, FoldedForm, Outcomes, SubmitButton, TextField},
        layout::{with_page_context, AuthCard, NoticeBanner},
        passkey::{passkey_option, PasskeyChallenge},
    },
    context::Done,
    error::AppError,
};

use domain::validation::safe_return_to;

/// Where sensitive settings send a session whose sudo window is closed.
pub const SUDO_PATH: &str = "/users/sudo";
const DEFAULT_RETURN: &str = "/users/settings";

/// The link to the sudo page that comes back to `return_to`.
pub fn sudo_link(return_to: &str) -> String {
    domain::validation::with_return_to(SUDO_PATH, return_to)
}

/// "Confirm it's you" on a settings page whose sudo window is closed: why, and the way back to `page`.
#[component]
pub fn SudoPrompt(why: &'static str, #[prop(into)] page: String) -> impl IntoView {
    let current = expect_context::<crate::components::layout::CurrentPage>().0;
    let impersonating = current.with_untracked(|c| c.user.as_ref().is_some_and(|u| u.impersonated_by.is_some()));
    if impersonating {
        // Everything behind this prompt is out of an impersonating admin's reach (the server refuses it too).
        return view! {
            <div class="banner banner-error" role="alert">{crate::error::AppError::Impersonating.to_string()}</div>
        }
        .into_any();
    }
    view! {
        <div class="sudo-prompt">
            <p>{why}</p>
            <a class="button button-secondary" href=sudo_link(&page)>"Confirm it's you"</a>
        </div>
    }
    .into_any()
}

/// Re-authenticates with the password. A wrong password counts toward the account's lockout.
#[server(prefix = "/api", endpoint = "sudo")]
pub async fn sudo(password: String, #[server(default)] return_to: String) -> Result<Done, AppError> {
    pass_sudo(SudoInput::Password(password), return_to).await
}

/// Re-authenticates with a code from the authenticator app (or a backup code).
#[server(prefix = "/api", endpoint = "sudo_with_code")]
pub async fn sudo_with_code(
    #[server(default)] code: String,
    #[server(default)] return_to: String,
) -> Result<Done, AppError> {
    pass_sudo(SudoInput::Code(code), return_to).await
}

/// Re-authenticates with the browser's answer to the passkey ceremony `token` (started for this session).
#[server(prefix = "/api", endpoint = "sudo_with_passkey")]
pub async fn sudo_with_passkey(
    token: String,
    credential: String,
    #[server(default)] return_to: String,
) -> Result<Done, AppError> {
    pass_sudo(SudoInput::Passkey { token, credential }, return_to).await
}

/// Options to re-authenticate with one of the user's passkeys, bound to this session.
#[server(prefix = "/api", endpoint = "sudo_passkey_options")]
pub async fn sudo_passkey_options() -> Result<PasskeyChallenge, AppError> {
    use crate::{components::passkey::PasskeyOptions, server_ctx};
    use backend::signin::passkeys;
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let c = passkeys::start_for_user(&st, passkeys::Purpose::Sudo, &me.user_id, Some(&me.session_id)).await?;
    Ok(PasskeyChallenge { token: c.token, options: PasskeyOptions::Get(c.options) })
}

#[cfg(feature = "ssr")]
enum SudoInput {
    Password(String),
    Code(String),
    Passkey { token: String, credential: String },
}

/// Checks the proof, gives the session its new token and goes back to `return_to` (a local path only).
#[cfg(feature = "ssr")]
async fn pass_sudo(input: SudoInput, return_to: String) -> Result<Done, AppError> {
    use crate::server_ctx::{append_header, form, require_session, Outcome};
    use backend::{signin::sessions, signin::sudo, Error};
    let next = safe_return_to(&return_to, DEFAULT_RETURN).to_string();
    let (proof, field, wrong) = match &input {
        SudoInput::Password(p) => (
            sudo::Proof::Password(p),
            "password",
            "That password did not work. After 5 wrong tries, password checks pause for 15 minutes.",
        ),
        SudoInput::Code(c) => (sudo::Proof::Code(c), "code", "That code did not work."),
        SudoInput::Passkey { token, credential } => {
            (sudo::Proof::Passkey { token, credential }, "passkey", "That passkey was not accepted.")
        }
    };
    form(&sudo_link(&next), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let fresh = sudo::reauthenticate(&st, &ctx, &me, proof).await.map_err(|e| match e {
            Error::InvalidCredentials => AppError::field(field, wrong),
            e => e.into(),
        })?;
        append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, Some(&fresh)));
        Ok(Outcome::go(next, None))
    })
    .await
}

/// Which ways to pass sudo this user has (the page offers those).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SudoOptions {
    pub password: bool,
    pub totp: bool,
    pub passkey: bool,
    /// Linked sign-in providers: (id, name).
    pub providers: Vec<(String, String)>,
}

#[server(prefix = "/api", endpoint = "sudo_methods")]
pub async fn sudo_methods() -> Result<SudoOptions, AppError> {
    use crate::server_ctx;
    use backend::{signin::accounts, signin::oauth, signin::passkeys};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let password = accounts::has_password(&st, &me.user_id).await?;
    // The session lookup already read whether the user has TOTP.
    let passkey = passkeys::count(&st, &me.user_id).await? > 0;
    let linked = oauth::identities(&st, &me.user_id).await?;
    let providers = linked
        .into_iter()
        .filter_map(|i| st.config.oauth_provider(&i.provider).map(|p| (p.id.clone(), p.name.clone())))
        .collect();
    Ok(SudoOptions { password, totp: me.has_mfa, passkey, providers })
}

#[component]
pub fn SudoPage() -> impl IntoView {
    let query = use_query_map();
    let return_to =
        move || safe_return_to(&query.read().get("return_to").unwrap_or_default(), DEFAULT_RETURN).to_string();
    with_page_context(move |page| {
        let Some(user) = page.user.clone() else {
            // Behind the log-in guard (lib.rs): only while the page context is being refreshed.
            return ().into_any();
        };
        let action = ServerAction::<Sudo>::new();
        let with_code = ServerAction::<SudoWithCode>::new();
        let notice = Outcomes::new(&page.flash)
            .follow(move || action.value().get())
            .follow(move || with_code.value().get())
            .notice();
        let error = form_error(move || action.value().get(), page.flash.clone());
        let code_error = form_error(move || with_code.value().get(), page.flash.clone());
        let methods = Resource::new(|| (), |_| sudo_methods());
        // An admin with a second factor confirms with it, not the password (M7).
        let factor_only = user.sudo_needs_second_factor;
        let lead = if factor_only {
            "Admins confirm it's them with their authenticator app or a passkey; we won't ask again for 10 minutes."
        } else {
            "You are about to change a sensitive setting. Enter your password to continue; we won't ask again for 10 minutes."
        };
        view! {
            <AuthCard title="Confirm it's you" lead=lead>
                <NoticeBanner notice/>
                <ErrorBanner error/>
                <p class="muted">"Signed in as " <strong>{user.email.clone()}</strong></p>
                {(!factor_only).then(|| view! {
                    <ActionForm action>
                        <input type="hidden" name="return_to" value=return_to()/>
                        <TextField
                            label="Password"
                            name="password"
                            kind="password"
                            autocomplete="current-password"
                            error
                            required=true
                            autofocus=true
                        />
                        <SubmitButton label="Confirm" pending_label="Checking…" pending=action.pending()/>
                    </ActionForm>
                })}
                <Suspense>
                    {move || Suspend::new(async move {
                        let options = methods.await.unwrap_or(SudoOptions { password: true, totp: false, passkey: false, providers: Vec::new() });
                        let (has_totp, has_passkey) = (options.totp, options.passkey);
                        let providers = options.providers.into_iter().filter(|_| !factor_only).map(|(id, name)| {
                            let href = domain::validation::with_return_to(&format!("/auth/{id}?sudo=1"), &return_to());
                            view! { <a class="button button-secondary provider-button" rel="external" href=href>{format!("Confirm with {name}")}</a> }
                        }).collect_view();
                        let passkey = has_passkey.then(|| {
                            passkey_option("Confirm with a passkey", sudo_passkey_options, move |token, credential| {
                                SudoWithPasskey { token, credential, return_to: return_to() }
                            })
                        });
                        let code_form = move || view! {
                            <ActionForm action=with_code>
                                <input type="hidden" name="return_to" value=return_to()/>
                                <TextField label="Authentication code" name="code" id="sudo-code" autocomplete="one-time-code" error=code_error required=true/>
                                <SubmitButton label="Confirm with code" pending_label="Checking…" pending=with_code.pending() secondary=!factor_only/>
                            </ActionForm>
                        };
                        let code = has_totp.then(|| if factor_only {
                            code_form().into_any()
                        } else {
                            view! {
                                <FoldedForm summary="Use a code from your authenticator app instead" error=code_error>
                                    {code_form()}
                                </FoldedForm>
                            }
                            .into_any()
                        });
                        view! { {passkey} <div class="provider-buttons">{providers}</div> {code} }
                    })}
                </Suspense>
                <p class="alt-action"><a href=return_to()>"Cancel"</a></p>
            </AuthCard>
        }
        .into_any()
    })
}
