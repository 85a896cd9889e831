use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{form_error, EmailField, ErrorBanner, SubmitButton, TextField},
        layout::{with_page_context, AuthCard, NoticeBanner},
    },
    error::AppError,
};

/// Password log in. One generic error for every failure; unknown e-mails cost the same as known ones.
#[server(prefix = "/api", endpoint = "log_in")]
pub async fn log_in(email: String, password: String, remember_me: Option<String>) -> Result<(), AppError> {
    use crate::{
        backend::sessions,
        context::{Flash, Notice},
        server_ctx,
    };
    let ctx = server_ctx::request()?;
    let result = async {
        let st = server_ctx::state()?;
        let session =
            crate::backend::accounts::log_in_with_password(&st, &ctx, &email, &password, remember_me.is_some())
                .await
                .map_err(|e| server_ctx::account_error(&ctx, e))?;
        server_ctx::append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, Some(&session)));
        Ok(("/".to_string(), Flash::notice(Notice::LoggedIn)))
    }
    .await;
    server_ctx::finish_form(&ctx, result, "/users/log-in", &[("email", &email)])
}

/// Ends the session server-side and clears the cookie.
#[server(prefix = "/api", endpoint = "log_out")]
pub async fn log_out() -> Result<(), AppError> {
    use crate::{
        backend::sessions,
        context::{Flash, Notice},
        server_ctx,
    };
    let ctx = server_ctx::request()?;
    let st = server_ctx::state()?;
    if let Some(session) = &ctx.session {
        sessions::end(&st, &ctx, session).await.map_err(|e| server_ctx::internal(&ctx, e))?;
    }
    server_ctx::append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, None));
    server_ctx::finish_form(&ctx, Ok(("/".into(), Flash::notice(Notice::LoggedOut))), "/", &[])
}

#[component]
pub fn LoginPage() -> impl IntoView {
    with_page_context(|page| {
        let action = ServerAction::<LogIn>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        view! {
            <AuthCard title="Log in" lead="Welcome back.">
                <NoticeBanner notice=page.flash.notice/>
                <ErrorBanner error/>
                <ActionForm action>
                    <EmailField value=page.flash.value("email") error autofocus=true/>
                    <TextField label="Password" name="password" kind="password" autocomplete="current-password" error required=true/>
                    <div class="checkbox">
                        <input type="checkbox" id="remember_me" name="remember_me" value="on"/>
                        <label for="remember_me">"Keep me logged in on this device for 30 days"</label>
                    </div>
                    <SubmitButton label="Log in" pending_label="Logging in…" pending=action.pending()/>
                </ActionForm>
                <p class="alt-action">
                    <a href="/users/reset-password">"Forgot your password?"</a> " · "
                    "New here? " <a href="/users/register">"Create an account"</a> " · "
                    <a href="/users/confirm">"Confirm your e-mail"</a>
                </p>
            </AuthCard>
        }
    })
}
