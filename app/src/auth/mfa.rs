//! `/users/mfa`: the second step of a sign-in for users with two-step verification. The browser holds only a
//! 5-minute challenge cookie until a code from the authenticator app (or a backup code) is accepted.
use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{form_error, Checkbox, ErrorBanner, SubmitButton, TextField},
        layout::{with_page_context, AuthCard},
        passkey::{passkey_option, PasskeyChallenge},
    },
    context::Done,
    error::AppError,
};

/// Answers the challenge. "Trust this browser" skips the challenge here for 30 days.
#[server(prefix = "/api", endpoint = "mfa_verify")]
pub async fn mfa_verify(
    #[server(default)] code: String,
    trust: Option<String>,
    #[server(default)] return_to: String,
) -> Result<Done, AppError> {
    let answer = match code.trim() {
        "" => Err(AppError::field("code", "Enter the code from your authenticator app, or a backup code.")),
        _ => Ok(backend::signin::gate::Answer::Code(&code)),
    };
    answer_challenge(&return_to, answer, trust.is_some()).await
}

/// This page, carrying on the page to come back to.
#[cfg(feature = "ssr")]
fn mfa_page(return_to: &str) -> String {
    domain::validation::with_return_to("/users/mfa", return_to)
}

/// Answers the challenge with the browser's answer to the passkey ceremony `token`.
#[server(prefix = "/api", endpoint = "mfa_verify_passkey")]
pub async fn mfa_verify_passkey(
    token: String,
    credential: String,
    trust: Option<String>,
    #[server(default)] return_to: String,
) -> Result<Done, AppError> {
    let answer = backend::signin::gate::Answer::Passkey { token: &token, credential: &credential };
    answer_challenge(&return_to, Ok(answer), trust.is_some()).await
}

/// Options to answer the challenge with one of the account's passkeys.
#[server(prefix = "/api", endpoint = "mfa_passkey_options")]
pub async fn mfa_passkey_options() -> Result<PasskeyChallenge, AppError> {
    use crate::{components::passkey::PasskeyOptions, server_ctx};
    use backend::{signin::gate, signin::passkeys, Error};
    let ctx = server_ctx::request()?;
    let st = server_ctx::state()?;
    let result = async {
        let token = ctx.mfa_challenge.as_deref().unwrap_or_default();
        let user_id = gate::pending_user(&st, token).await?.ok_or(Error::ChallengeExpired)?;
        passkeys::start_for_user(&st, passkeys::Purpose::SecondFactor, &user_id, None).await
    }
    .await;
    let c = result?;
    Ok(PasskeyChallenge { token: c.token, options: PasskeyOptions::Get(c.options) })
}

/// The challenge this browser holds, answered by `answer` (an error when the form was not filled in): the
/// challenge cookie goes, the trust cookie comes when asked for, and the sign-in ends as every other does.
#[cfg(feature = "ssr")]
async fn answer_challenge(
    return_to: &str,
    answer: Result<backend::signin::gate::Answer<'_>, AppError>,
    trust: bool,
) -> Result<Done, AppError> {
    use crate::server_ctx::{append_header, form, signed_in};
    use backend::{platform::cookies, signin::gate, signin::mfa::TRUST_SECS};
    form(&mfa_page(return_to), &[], |st, ctx| async move {
        let done = gate::complete_challenge(&st, &ctx, ctx.mfa_challenge.as_deref(), answer?, trust).await?;
        let config = &st.config;
        append_header(http::header::SET_COOKIE, &cookies::clear(config, config.mfa_cookie_name()));
        if let Some(value) = &done.trust_cookie {
            append_header(
                http::header::SET_COOKIE,
                &cookies::set(config, config.trust_cookie_name(), value, Some(TRUST_SECS)),
            );
        }
        Ok(signed_in(&st, &ctx, &gate::SignIn::Session(done.session), return_to))
    })
    .await
}

/// Whether this browser holds a live challenge (the page says so instead of showing a form that cannot work), and
/// whether its account has a passkey to answer it with.
#[server(prefix = "/api", endpoint = "mfa_pending")]
pub async fn mfa_pending() -> Result<ChallengeState, AppError> {
    use crate::server_ctx;
    use backend::{signin::gate, signin::passkeys};
    let ctx = server_ctx::request()?;
    let st = server_ctx::state()?;
    let none = ChallengeState { live: false, passkey: false };
    let Some(token) = ctx.mfa_challenge.as_deref() else { return Ok(none) };
    let Some(user_id) = gate::pending_user(&st, token).await? else {
        return Ok(none);
    };
    let passkeys = passkeys::count(&st, &user_id).await?;
    Ok(ChallengeState { live: true, passkey: passkeys > 0 })
}

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct ChallengeState {
    pub live: bool,
    pub passkey: bool,
}

#[component]
pub fn MfaPage() -> impl IntoView {
    let return_to = crate::auth::login::return_to_param();
    with_page_context(move |page| {
        let return_to = return_to.clone();
        let again = StoredValue::new(domain::validation::log_in_link(&return_to));
        let action = ServerAction::<MfaVerify>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        let pending = Resource::new(|| (), |_| mfa_pending());
        let return_to = StoredValue::new(return_to);
        view! {
            <AuthCard title="Two-step verification" lead="Enter the 6-digit code from your authenticator app.">
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match pending.await {
                            Ok(ChallengeState { live: true, passkey }) => view! {
                                <ErrorBanner error/>
                                <ActionForm action>
                                    <input type="hidden" name="return_to" value=return_to.get_value()/>
                                    <TextField
                                        label="Authentication code"
                                        name="code"
                                        autocomplete="one-time-code"
                                        hint="No phone? Enter one of your backup codes instead."
                                        error
                                        required=true
                                        autofocus=true
                                    />
                                    <Checkbox id="trust" name="trust" label="Trust this browser for 30 days (skip this step here)"/>
                                    <SubmitButton label="Verify" pending_label="Verifying…" pending=action.pending()/>
                                </ActionForm>
                                {passkey.then(|| passkey_option("Use a passkey", mfa_passkey_options, move |token, credential| {
                                    MfaVerifyPasskey { token, credential, trust: None, return_to: return_to.get_value() }
                                }))}
                            }.into_any(),
                            _ => view! {
                                <ErrorBanner error/>
                                <p>"There is no sign-in waiting for a code in this browser (it lasts 5 minutes)."</p>
                                <p><a class="button" href=again.get_value()>"Log in again"</a></p>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </AuthCard>
        }
    })
}
