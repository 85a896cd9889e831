use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{form_error, Checkbox, EmailField, ErrorBanner, FoldedForm, SubmitButton, TextField},
        layout::{with_page_context, AuthCard, NoticeBanner},
    },
    error::AppError,
};

/// Password log in. One generic error for every failure; unknown e-mails cost the same as known ones.
#[server(prefix = "/api", endpoint = "log_in")]
pub async fn log_in(email: String, password: String, remember_me: Option<String>) -> Result<(), AppError> {
    use crate::server_ctx;
    let ctx = server_ctx::request()?;
    let result = async {
        let st = server_ctx::state()?;
        let session =
            crate::backend::accounts::log_in_with_password(&st, &ctx, &email, &password, remember_me.is_some())
                .await
                .map_err(|e| server_ctx::account_error(&ctx, e))?;
        Ok(server_ctx::signed_in(&st, &session))
    }
    .await;
    server_ctx::finish_form(&ctx, result, "/users/log-in", &[("email", &email)])
}

/// Mails a one-time sign-in link. Same answer for every address; rate-limited per address and per client.
#[server(prefix = "/api", endpoint = "request_magic_link")]
pub async fn request_magic_link(email: String) -> Result<(), AppError> {
    use crate::{backend::magic_link, context::Notice, server_ctx};
    let here = "/users/log-in";
    server_ctx::email_request(&email, here, here, Notice::MagicLinkSent, |st, ctx, e| async move {
        magic_link::request(&st, &ctx, &e).await
    })
    .await
}

/// Signs in with the mailed link's token (POSTed from the landing page; opening the link does nothing).
#[server(prefix = "/api", endpoint = "log_in_with_link")]
pub async fn log_in_with_link(token: String) -> Result<(), AppError> {
    use crate::server_ctx;
    let ctx = server_ctx::request()?;
    let result = async {
        let st = server_ctx::state()?;
        let session = crate::backend::magic_link::log_in(&st, &ctx, &token)
            .await
            .map_err(|e| server_ctx::account_error(&ctx, e))?;
        Ok(server_ctx::signed_in(&st, &session))
    }
    .await;
    server_ctx::finish_form(&ctx, result, "/users/log-in", &[])
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
        let magic = ServerAction::<RequestMagicLink>::new();
        let magic_error = form_error(move || magic.value().get(), Default::default());
        let email = page.flash.value("email");
        let magic_email = email.clone();
        let error = form_error(move || action.value().get(), page.flash.clone());
        view! {
            <AuthCard title="Log in" lead="Welcome back.">
                <NoticeBanner notice=page.flash.notice/>
                <ErrorBanner error/>
                <ActionForm action>
                    <EmailField value=email error autofocus=true/>
                    <TextField label="Password" name="password" kind="password" autocomplete="current-password" error required=true/>
                    <Checkbox id="remember_me" name="remember_me" label="Keep me logged in on this device for 30 days"/>
                    <SubmitButton label="Log in" pending_label="Logging in…" pending=action.pending()/>
                </ActionForm>
                <FoldedForm summary="E-mail me a sign-in link instead" error=magic_error>
                    <ActionForm action=magic>
                        <TextField
                            label="E-mail for the link"
                            name="email"
                            id="magic-email"
                            kind="email"
                            autocomplete="username"
                            value=magic_email
                            error=magic_error
                            required=true
                        />
                        <SubmitButton label="Send me a link" pending_label="Sending…" pending=magic.pending() secondary=true/>
                    </ActionForm>
                </FoldedForm>
                <p class="alt-action">
                    <a href="/users/reset-password">"Forgot your password?"</a> " · "
                    "New here? " <a href="/users/register">"Create an account"</a> " · "
                    <a href="/users/confirm">"Confirm your e-mail"</a>
                </p>
            </AuthCard>
        }
    })
}

crate::link_page!(
    /// The page a mailed sign-in link opens.
    MagicLinkPage, LogInWithLink,
    title: "Sign in", lead: "Continue to your account with the link from your e-mail.", forget: "/users/log-in",
    button: "Sign in", pending: "Signing in…",
    alt: ("Link expired? ", "/users/log-in", "Get a new one"),
);
