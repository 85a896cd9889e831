//! `/users/reset-password` (ask for a link) and `/users/reset-password/:token` (choose a new password).
use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_params_map;

use crate::{
    auth::register::NewPasswordField,
    components::{
        form::{form_error, EmailField, ErrorBanner, SubmitButton},
        layout::{with_page_context, AuthCard, ForgetLinkInHistory, NoticeBanner},
    },
    error::AppError,
};

/// Mails a reset link. The same answer for every address; rate-limited per address and per client.
#[server(prefix = "/api", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use crate::{context::Notice, server_ctx};
    use backend::signin::password_reset;
    let here = "/users/reset-password";
    server_ctx::email_request(&email, here, here, Notice::ResetRequested, |st, ctx, e| async move {
        password_reset::request(&st, &ctx, &e).await
    })
    .await
}

/// Sets the new password from the mailed link. Every session ends; the user logs in again.
#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::{
        context::{Flash, Notice},
        server_ctx,
    };
    use backend::signin::password_reset::{self, ResetError};
    let ctx = server_ctx::request()?;
    let result = async {
        let st = server_ctx::state()?;
        password_reset::reset(&st, &ctx, &token, &password).await.map_err(|e| match e {
            ResetError::Password(m) => AppError::field("password", m),
            ResetError::Account(e) => e.into(),
        })?;
        Ok(("/users/log-in".to_string(), Flash::notice(Notice::PasswordReset)))
    }
    .await;
    // A failed reset goes back to the same link page (the token stays in the form, not in a redirect to elsewhere).
    server_ctx::finish_form(&ctx, result, &server_ctx::link_page("/users/reset-password", &token), &[])
}

#[component]
pub fn RequestResetPage() -> impl IntoView {
    with_page_context(|page| {
        let action = ServerAction::<RequestPasswordReset>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        view! {
            <AuthCard title="Reset your password" lead="Enter your e-mail and we'll send you a link to choose a new password.">
                <NoticeBanner notice=page.flash.notice/>
                <ErrorBanner error/>
                <ActionForm action>
                    <EmailField value=page.flash.value("email") error autofocus=true/>
                    <SubmitButton label="Send me a link" pending_label="Sending…" pending=action.pending()/>
                </ActionForm>
                <p class="alt-action">"Remembered it? " <a href="/users/log-in">"Log in"</a></p>
            </AuthCard>
        }
    })
}

/// The page a reset link opens: a new-password form whose POST uses the token. Opening it changes nothing.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    with_page_context(move |page| {
        let action = ServerAction::<ResetPassword>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        view! {
            <AuthCard title="Choose a new password" lead="Setting it signs you out on every device.">
                <ForgetLinkInHistory path="/users/reset-password"/>
                <ErrorBanner error/>
                <ActionForm action>
                    <input type="hidden" name="token" value=token()/>
                    <NewPasswordField error email=String::new()/>
                    <SubmitButton label="Set new password" pending_label="Saving…" pending=action.pending()/>
                </ActionForm>
                <p class="alt-action">"Link expired? " <a href="/users/reset-password">"Get a new one"</a></p>
            </AuthCard>
        }
    })
}
