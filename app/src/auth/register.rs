use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{form_error, EmailField, ErrorBanner, ProviderButtons, SubmitButton, TextField},
        layout::{with_page_context, AuthCard, NoticeBanner},
    },
    context::Done,
    error::AppError,
};

use domain::validation::{PasswordCheck, PASSWORD_MIN_CHARS};

/// Registers an account. The answer is the same whether or not the e-mail already has one.
#[server(prefix = "/api", endpoint = "register")]
pub async fn register(email: String, password: String) -> Result<Done, AppError> {
    use crate::{
        context::Notice,
        error::FieldErrors,
        server_ctx::{form, Outcome},
    };
    use backend::signin::password_policy::{NewPassword, PasswordContext};
    use domain::validation::EmailAddress;
    form("/users/register", &[("email", &email.clone())], |st, ctx| async move {
        let mut errors = FieldErrors::default();
        let parsed_email = errors.check("email", EmailAddress::parse(&email));
        let context = PasswordContext { app_name: &st.config.app_name, email: Some(&email) };
        let parsed_password = errors.check("password", NewPassword::parse(&password, &context));
        errors.finish()?;
        let (email, password) = (parsed_email.expect("checked"), parsed_password.expect("checked"));
        backend::signin::accounts::register(&st, &ctx, &email, &password).await?;
        Ok(Outcome::go("/users/confirm", Notice::Registered).with("email", email.as_str()))
    })
    .await
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    with_page_context(|page| {
        let action = ServerAction::<Register>::new();
        let error = form_error(move || action.value().get(), page.flash.clone());
        let pending = action.pending();
        let email = RwSignal::new(page.flash.value("email"));
        view! {
            <AuthCard title="Create your account" lead="One account, protected the way it should be.">
                <NoticeBanner notice=page.flash.notice/>
                <ErrorBanner error/>
                <ActionForm action>
                    <div on:input=move |ev| {
                        email.set(event_target_value(&ev));
                    }>
                        <EmailField value=page.flash.value("email") error autofocus=true/>
                    </div>
                    <NewPasswordField error email/>
                    <SubmitButton label="Create account" pending_label="Creating account…" pending/>
                </ActionForm>
                <ProviderButtons providers=page.providers.clone()/>
                <p class="alt-action">"Already registered? " <a href="/users/log-in">"Log in"</a></p>
            </AuthCard>
        }
    })
}

/// The policy's verdict and the meter for a password being typed, decided on the server by the code that judges
/// the submitted form (`backend::signin::password_policy::check_password`): zxcvbn's word lists stay out of the browser bundle.
/// Typing has an allowance of its own per client address, so it never uses up the address's sign-in attempts.
#[server(prefix = "/api", endpoint = "check_new_password")]
pub async fn check_new_password(password: String, email: String) -> Result<PasswordCheck, AppError> {
    use crate::server_ctx;
    use backend::signin::password_policy::{check_password, PasswordContext};
    let ctx = server_ctx::request()?;
    let st = server_ctx::state()?;
    st.limits.password_check(ctx.ip).map_err(|r| server_ctx::fail(AppError::RateLimited { retry_after_secs: r.0 }))?;
    let context = PasswordContext { app_name: &st.config.app_name, email: Some(&email) };
    Ok(check_password(&password, &context))
}

/// New-password field with the policy checked as you type (asked of the server a moment after the last key, by the
/// same Rust code that judges the form) and a strength meter. Without JavaScript the form is judged on submit.
#[component]
pub fn NewPasswordField(
    error: Signal<Option<AppError>>,
    #[prop(into)] email: Signal<String>,
    #[prop(default = "Password")] label: &'static str,
) -> impl IntoView {
    let (typed, set_typed) = signal(String::new());
    let check = RwSignal::new(PasswordCheck::default());
    // Each keystroke bumps the count; only the answer to the latest one is shown.
    let latest = StoredValue::new(0u64);
    let ask = move |password: String| {
        latest.update_value(|n| *n += 1);
        let mine = latest.get_value();
        if password.is_empty() {
            check.set(PasswordCheck::default());
            return;
        }
        set_timeout(
            move || {
                if latest.get_value() != mine {
                    return;
                }
                leptos::task::spawn_local(async move {
                    // No answer (offline, typing too fast): the meter keeps what it showed; the form is judged on submit.
                    if let Ok(answer) = check_new_password(password, email.get_untracked()).await {
                        if latest.get_value() == mine {
                            check.set(answer);
                        }
                    }
                });
            },
            std::time::Duration::from_millis(250),
        );
    };
    let combined = Signal::derive(move || match (check.with(|c| c.error.clone()), error.get()) {
        (Some(msg), _) if !typed.with(String::is_empty) => Some(AppError::field("password", msg)),
        (_, e) => e,
    });
    view! {
        <div on:input=move |ev| {
            let value = event_target_value(&ev);
            set_typed.set(value.clone());
            ask(value);
        }>
            <TextField
                label
                name="password"
                kind="password"
                autocomplete="new-password"
                hint=PASSWORD_HINT
                error=combined
                required=true
            />
            <div class="strength" hidden=move || typed.with(String::is_empty) || check.with(|c| c.label.is_empty())>
                <meter min="0" max="4" low="2" high="3" optimum="4" value=move || check.with(|c| c.score) aria-label="Password strength"></meter>
                <span class="strength-label" aria-live="polite">{move || check.with(|c| c.label.clone())}</span>
            </div>
        </div>
    }
}

/// Kept next to the rule it describes.
const PASSWORD_HINT: &str =
    "At least 12 characters, not a common password. Long passphrases are best; any characters are allowed.";
const _: () = assert!(PASSWORD_MIN_CHARS == 12, "update PASSWORD_HINT");
