use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{form_error, EmailField, ErrorBanner, SubmitButton, TextField},
        layout::{with_page_context, AuthCard, NoticeBanner},
    },
    error::AppError,
    validation::{NewPassword, PASSWORD_MIN_CHARS},
};

/// Registers an account. The answer is the same whether or not the e-mail already has one.
#[server(prefix = "/api", endpoint = "register")]
pub async fn register(email: String, password: String) -> Result<(), AppError> {
    use crate::{
        context::{Flash, Notice},
        error::FieldErrors,
        server_ctx,
        validation::EmailAddress,
    };
    let ctx = server_ctx::request()?;
    let result = async {
        let st = server_ctx::state()?;
        let mut errors = FieldErrors::default();
        let parsed_email = errors.check("email", EmailAddress::parse(&email));
        let parsed_password = errors.check("password", NewPassword::parse(&password));
        errors.finish()?;
        let (email, password) = (parsed_email.expect("checked"), parsed_password.expect("checked"));
        crate::backend::accounts::register(&st, &ctx, &email, &password)
            .await
            .map_err(|e| server_ctx::account_error(&ctx, e))?;
        Ok(("/users/confirm".to_string(), Flash::notice_for(Notice::Registered, email.as_str())))
    }
    .await;
    server_ctx::finish_form(&ctx, result, "/users/register", &[("email", &email)])
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    with_page_context(|page| {
        let action = ServerAction::<Register>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        let pending = action.pending();
        view! {
            <AuthCard title="Create your account" lead="One account, protected the way it should be.">
                <NoticeBanner notice=page.flash.notice/>
                <ErrorBanner error/>
                <ActionForm action>
                    <EmailField value=page.flash.value("email") error autofocus=true/>
                    <PasswordField error/>
                    <SubmitButton label="Create account" pending_label="Creating account…" pending/>
                </ActionForm>
                <p class="alt-action">"Already registered? " <a href="/users/log-in">"Log in"</a></p>
            </AuthCard>
        }
    })
}

/// New-password field with the policy checked as you type (the same code the server runs).
#[component]
fn PasswordField(error: Signal<Option<AppError>>) -> impl IntoView {
    let (typed, set_typed) = signal(String::new());
    let live = move || {
        let t = typed.get();
        if t.is_empty() {
            None
        } else {
            NewPassword::parse(&t).err()
        }
    };
    let combined = Signal::derive(move || match (live(), error.get()) {
        (Some(msg), _) => Some(AppError::field("password", msg)),
        (None, e) => e,
    });
    view! {
        <div on:input=move |ev| {
            set_typed.set(event_target_value(&ev));
        }>
            <TextField
                label="Password"
                name="password"
                kind="password"
                autocomplete="new-password"
                hint=PASSWORD_HINT
                error=combined
                required=true
            />
        </div>
    }
}

/// Kept next to the rule it describes.
const PASSWORD_HINT: &str = "At least 12 characters. Long passphrases are best; any characters are allowed.";
const _: () = assert!(PASSWORD_MIN_CHARS == 12, "update PASSWORD_HINT");
