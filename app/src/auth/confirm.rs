use leptos::{form::ActionForm, prelude::*};

#[cfg(feature = "ssr")]
use crate::context::Notice;
use crate::{
    components::{
        form::{form_error, EmailField, ErrorBanner, FoldedForm, Outcomes, SubmitButton, TextField},
        layout::{with_page_context, AuthCard, NoticeBanner},
    },
    context::Done,
    error::AppError,
};

/// Confirms the e-mail address with the 6-digit code from the mail (spaces and dashes are fine).
#[server(prefix = "/api", endpoint = "confirm_with_code")]
pub async fn confirm_with_code(email: String, code: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parse_email, parsed, Outcome};
    form("/users/confirm", &[("email", &email.clone())], |st, ctx| async move {
        let email = parse_email(&email)?;
        let code = parsed("code", domain::validation::parse_code6(&code))?;
        backend::signin::accounts::confirm_by_code(&st, &ctx, &email, &code).await?;
        Ok(Outcome::go("/users/log-in", Notice::Confirmed).with("email", email.as_str()))
    })
    .await
}

/// Confirms with the token from the mailed link. Only a POST does this: mail scanners that fetch the link change
/// nothing.
#[server(prefix = "/api", endpoint = "confirm_with_link")]
pub async fn confirm_with_link(token: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, Outcome};
    form("/users/confirm", &[], |st, ctx| async move {
        backend::signin::accounts::confirm_by_token(&st, &ctx, &token).await?;
        Ok(Outcome::go("/users/log-in", Notice::Confirmed))
    })
    .await
}

/// Sends a new confirmation mail. Same answer for every address; rate-limited per address and per client.
#[server(prefix = "/api", endpoint = "resend_confirmation")]
pub async fn resend_confirmation(email: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parse_email, Outcome};
    form("/users/confirm", &[("email", &email.clone())], |st, ctx| async move {
        let email = parse_email(&email)?;
        backend::signin::accounts::resend_confirmation(&st, &ctx, &email).await?;
        Ok(Outcome::stay(Notice::ConfirmationResent).with("email", email.as_str()))
    })
    .await
}

#[component]
pub fn ConfirmPage() -> impl IntoView {
    with_page_context(|page| {
        let confirm = ServerAction::<ConfirmWithCode>::new();
        let resend = ServerAction::<ResendConfirmation>::new();
        let error = form_error(move || confirm.value().get(), page.flash.clone());
        let resend_error = form_error(move || resend.value().get(), Default::default());
        let notice = Outcomes::new(&page.flash).follow(move || resend.value().get()).notice();
        let email = page.flash.value("email");
        let resend_email = email.clone();
        view! {
            <AuthCard
                title="Confirm your e-mail"
                lead="We sent you a link and a 6-digit code. Open the link, or enter the code here."
            >
                <NoticeBanner notice/>
                <ErrorBanner error/>
                <ActionForm action=confirm>
                    <EmailField value=email error/>
                    <TextField
                        label="Code"
                        name="code"
                        autocomplete="one-time-code"
                        inputmode="numeric"
                        hint="6 digits; spaces and dashes are fine."
                        error
                        required=true
                        autofocus=true
                    />
                    <SubmitButton label="Confirm" pending_label="Confirming…" pending=confirm.pending()/>
                </ActionForm>
                <FoldedForm summary="No mail? Send a new one" error=resend_error>
                    <ActionForm action=resend>
                        <TextField
                            label="E-mail for the new code"
                            name="email"
                            id="resend-email"
                            kind="email"
                            autocomplete="username"
                            value=resend_email
                            error=resend_error
                            required=true
                        />
                        <SubmitButton label="Send a new code" pending_label="Sending…" pending=resend.pending() secondary=true/>
                    </ActionForm>
                </FoldedForm>
            </AuthCard>
        }
    })
}

crate::link_page!(
    /// The page a mailed confirmation link opens.
    ConfirmLinkPage, ConfirmWithLink,
    title: "Confirm your e-mail", lead: "One click and your address is confirmed.", forget: "/users/confirm",
    button: "Confirm my e-mail", pending: "Confirming…",
    alt: ("Have a code instead? ", "/users/confirm", "Enter it here"),
);
