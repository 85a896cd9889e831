//! `/users/reset-password` (ask for a link) and `/users/reset-password/:token` (choose a new password).
use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_params_map;

#[cfg(feature = "ssr")]
use crate::context::Notice;
use crate::{
    auth::register::NewPasswordField,
    components::{
        form::{form_error, EmailField, ErrorBanner, Outcomes, SubmitButton},
        layout::{with_page_context, AuthCard, ForgetLinkInHistory, NoticeBanner},
    },
    context::Done,
    error::AppError,
};

/// Mails a reset link. The same answer for every address; rate-limited per address and per client.
#[server(prefix = "/api", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parse_email, Outcome};
    form("/users/reset-password", &[("email", &email.clone())], |st, ctx| async move {
        let email = parse_email(&email)?;
        backend::signin::password_reset::request(&st, &ctx, &email).await?;
        Ok(Outcome::stay(Notice::ResetRequested).with("email", email.as_str()))
    })
    .await
}

/// Sets the new password from the mailed link. Every session ends; the user logs in again. A failed reset goes
/// back to the same link page (the token stays in the form, not in a redirect to elsewhere).
#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, link_page, Outcome};
    use backend::signin::password_reset::{self, ResetError};
    form(&link_page("/users/reset-password", &token), &[], |st, ctx| async move {
        password_reset::reset(&st, &ctx, &token, &password).await.map_err(|e| match e {
            ResetError::Password(m) => AppError::field("password", m),
            ResetError::Account(e) => e.into(),
        })?;
        Ok(Outcome::go("/users/log-in", Notice::PasswordReset))
    })
    .await
}

#[component]
pub fn RequestResetPage() -> impl IntoView {
    with_page_context(|page| {
        let action = ServerAction::<RequestPasswordReset>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        let notice = Outcomes::new(&page.flash).follow(move || action.value().get()).notice();
        view! {
            <AuthCard title="Reset your password" lead="Enter your e-mail and we'll send you a link to choose a new password.">
                <NoticeBanner notice/>
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
