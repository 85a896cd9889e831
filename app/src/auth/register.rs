use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{form_error, EmailField, ErrorBanner, ProviderButtons, SubmitButton, TextField},
        layout::{with_page_context, AuthCard, NoticeBanner},
    },
    error::AppError,
    validation::{strength, NewPassword, PasswordContext, PASSWORD_MIN_CHARS},
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
        let context = PasswordContext { app_name: &st.config.app_name, email: Some(&email) };
        let parsed_password = errors.check("password", NewPassword::parse(&password, &context));
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
        let email = RwSignal::new(page.flash.value("email"));
        let app_name = page.app_name.clone();
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
                    <NewPasswordField error email app_name/>
                    <SubmitButton label="Create account" pending_label="Creating account…" pending/>
                </ActionForm>
                <ProviderButtons providers=page.providers.clone()/>
                <p class="alt-action">"Already registered? " <a href="/users/log-in">"Log in"</a></p>
            </AuthCard>
        }
    })
}

/// New-password field with the policy checked as you type, by the same Rust code the server judges with, and a
/// strength meter.
#[component]
pub fn NewPasswordField(
    error: Signal<Option<AppError>>,
    #[prop(into)] email: Signal<String>,
    app_name: String,
    #[prop(default = "Password")] label: &'static str,
) -> impl IntoView {
    let (typed, set_typed) = signal(String::new());
    let app = app_name.clone();
    let live = Memo::new(move |_| {
        let t = typed.get();
        let e = email.get();
        let ctx = PasswordContext { app_name: &app, email: Some(&e) };
        if t.is_empty() {
            None
        } else {
            NewPassword::parse(&t, &ctx).err()
        }
    });
    let meter = Memo::new(move |_| {
        let t = typed.get();
        let e = email.get();
        strength(&t, &PasswordContext { app_name: &app_name, email: Some(&e) })
    });
    let combined = Signal::derive(move || match (live.get(), error.get()) {
        (Some(msg), _) => Some(AppError::field("password", msg)),
        (None, e) => e,
    });
    view! {
        <div on:input=move |ev| {
            set_typed.set(event_target_value(&ev));
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
            <div class="strength" hidden=move || typed.with(String::is_empty)>
                <meter min="0" max="4" low="2" high="3" optimum="4" value=move || meter.get().score aria-label="Password strength"></meter>
                <span class="strength-label" aria-live="polite">{move || meter.get().label}</span>
            </div>
        </div>
    }
}

/// Kept next to the rule it describes.
const PASSWORD_HINT: &str =
    "At least 12 characters, not a common password. Long passphrases are best; any characters are allowed.";
const _: () = assert!(PASSWORD_MIN_CHARS == 12, "update PASSWORD_HINT");
