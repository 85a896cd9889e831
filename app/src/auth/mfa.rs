//! `/users/mfa`: the second step of a sign-in for users with two-step verification. The browser holds only a
//! 5-minute challenge cookie until a code from the authenticator app (or a backup code) is accepted.
use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{form_error, Checkbox, ErrorBanner, SubmitButton, TextField},
        layout::{with_page_context, AuthCard},
    },
    error::AppError,
};

/// Answers the challenge. "Trust this browser" skips the challenge here for 30 days.
#[server(prefix = "/api", endpoint = "mfa_verify")]
pub async fn mfa_verify(#[server(default)] code: String, trust: Option<String>) -> Result<(), AppError> {
    use crate::{
        backend::{gate, mfa::TRUST_SECS},
        server_ctx,
    };
    let ctx = server_ctx::request()?;
    let result = async {
        let st = server_ctx::state()?;
        if code.trim().is_empty() {
            return Err(AppError::field("code", "Enter the code from your authenticator app, or a backup code."));
        }
        let done = gate::complete_challenge(&st, &ctx, ctx.mfa_challenge.as_deref(), &code, trust.is_some())
            .await
            .map_err(|e| server_ctx::account_error(&ctx, e))?;
        let config = &st.config;
        server_ctx::append_header(http::header::SET_COOKIE, &config.cookie(config.mfa_cookie_name(), "", Some(0)));
        if let Some(value) = &done.trust_cookie {
            let cookie = config.cookie(config.trust_cookie_name(), value, Some(TRUST_SECS));
            server_ctx::append_header(http::header::SET_COOKIE, &cookie);
        }
        Ok(server_ctx::signed_in(&st, &gate::SignIn::Session(done.session)))
    }
    .await;
    server_ctx::finish_form(&ctx, result, "/users/mfa", &[])
}

/// Whether this browser holds a live challenge (the page says so instead of showing a form that cannot work).
#[server(prefix = "/api", endpoint = "mfa_pending")]
pub async fn mfa_pending() -> Result<bool, AppError> {
    use crate::{backend::gate, server_ctx};
    let ctx = server_ctx::request()?;
    let st = server_ctx::state()?;
    let Some(token) = ctx.mfa_challenge.as_deref() else { return Ok(false) };
    Ok(gate::pending_user(&st, token).await.map_err(|e| server_ctx::internal(&ctx, e))?.is_some())
}

#[component]
pub fn MfaPage() -> impl IntoView {
    with_page_context(|page| {
        let action = ServerAction::<MfaVerify>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        let pending = Resource::new(|| (), |_| mfa_pending());
        view! {
            <AuthCard title="Two-step verification" lead="Enter the 6-digit code from your authenticator app.">
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match pending.await {
                            Ok(true) => view! {
                                <ErrorBanner error/>
                                <ActionForm action>
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
                            }.into_any(),
                            _ => view! {
                                <ErrorBanner error/>
                                <p>"There is no sign-in waiting for a code in this browser (it lasts 5 minutes)."</p>
                                <p><a class="button" href="/users/log-in">"Log in again"</a></p>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </AuthCard>
        }
    })
}
