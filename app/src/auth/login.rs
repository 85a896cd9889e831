use leptos::{form::ActionForm, prelude::*};

use crate::{
    components::{
        form::{
            form_error, Checkbox, EmailField, ErrorBanner, FoldedForm, Outcomes, ProviderButtons, SubmitButton,
            TextField,
        },
        layout::{with_page_context, AuthCard, NoticeBanner},
        passkey::{passkey_option, PasskeyChallenge},
    },
    context::Done,
    error::AppError,
};

/// The page that sent the visitor here to log in (`?return_to=`), or "".
pub(crate) fn return_to_param() -> String {
    let query = leptos_router::hooks::use_query_map();
    let raw = query.read_untracked().get("return_to").unwrap_or_default();
    domain::validation::safe_return_to(&raw, "").to_string()
}

/// Password log in. One generic error for every failure; unknown e-mails cost the same as known ones.
#[server(prefix = "/api", endpoint = "log_in")]
pub async fn log_in(
    email: String,
    password: String,
    remember_me: Option<String>,
    #[server(default)] return_to: String,
) -> Result<Done, AppError> {
    use crate::server_ctx::{form, signed_in};
    let back = domain::validation::log_in_link(&return_to);
    form(&back, &[("email", &email.clone())], |st, ctx| async move {
        // The address is not parsed here: one that is not an address costs the same hash and gets the same answer
        // as an unknown one.
        let signin =
            backend::signin::accounts::log_in_with_password(&st, &ctx, &email, &password, remember_me.is_some())
                .await?;
        Ok(signed_in(&st, &ctx, &signin, &return_to))
    })
    .await
}

/// Mails a one-time sign-in link. Same answer for every address; rate-limited per address and per client.
#[server(prefix = "/api", endpoint = "request_magic_link")]
pub async fn request_magic_link(email: String, #[server(default)] return_to: String) -> Result<Done, AppError> {
    use crate::{
        context::Notice,
        server_ctx::{form, parse_email, Outcome},
    };
    form(&domain::validation::log_in_link(&return_to), &[("email", &email.clone())], |st, ctx| async move {
        let email = parse_email(&email)?;
        backend::signin::magic_link::request(&st, &ctx, &email, &return_to).await?;
        Ok(Outcome::stay(Notice::MagicLinkSent).with("email", email.as_str()))
    })
    .await
}

/// Signs in with the mailed link's token (POSTed from the landing page; opening the link does nothing).
#[server(prefix = "/api", endpoint = "log_in_with_link")]
pub async fn log_in_with_link(token: String, #[server(default)] return_to: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, signed_in};
    form(&domain::validation::log_in_link(&return_to), &[], |st, ctx| async move {
        let signin = backend::signin::magic_link::log_in(&st, &ctx, &token).await?;
        Ok(signed_in(&st, &ctx, &signin, &return_to))
    })
    .await
}

/// Options for a passwordless sign-in: usernameless without an e-mail (`autofill` for the e-mail field's
/// suggestions), that account's passkeys with one — or, for an address without passkeys, options that look the same.
#[server(prefix = "/api", endpoint = "passkey_sign_in_options")]
pub async fn passkey_sign_in_options(
    #[server(default)] email: String,
    #[server(default)] autofill: bool,
) -> Result<PasskeyChallenge, AppError> {
    use crate::{components::passkey::PasskeyOptions, server_ctx};
    use backend::signin::passkeys;
    use domain::validation::EmailAddress;
    let st = server_ctx::state()?;
    let email = match email.trim() {
        "" => None,
        e => Some(EmailAddress::parse(e).map_err(|m| server_ctx::fail(AppError::field("passkey", m)))?),
    };
    let c = passkeys::start_sign_in(&st, email.as_ref().map(|e| e.as_str()), autofill).await?;
    Ok(PasskeyChallenge { token: c.token, options: PasskeyOptions::Get(c.options) })
}

/// Signs in with the browser's answer to the passkey ceremony `token`. A passkey is both factors.
#[server(prefix = "/api", endpoint = "log_in_with_passkey")]
pub async fn log_in_with_passkey(
    token: String,
    credential: String,
    remember_me: Option<String>,
    #[server(default)] return_to: String,
) -> Result<Done, AppError> {
    use crate::server_ctx::{form, signed_in};
    form(&domain::validation::log_in_link(&return_to), &[], |st, ctx| async move {
        let signin =
            backend::signin::passkeys::finish_sign_in(&st, &ctx, &token, &credential, remember_me.is_some()).await?;
        Ok(signed_in(&st, &ctx, &signin, &return_to))
    })
    .await
}

/// Ends the session server-side and clears the cookie.
#[server(prefix = "/api", endpoint = "log_out")]
pub async fn log_out() -> Result<Done, AppError> {
    use crate::{
        context::Notice,
        server_ctx::{append_header, form, visitor, Outcome},
    };
    use backend::signin::sessions;
    form("/", &[], |st, ctx| async move {
        if let Some(session) = &ctx.session {
            sessions::end(&st, &ctx, session).await?;
        }
        // What this browser kept for the signed-in user goes too.
        if let Err(e) = visitor()?.flush().await {
            tracing::warn!(request_id = %ctx.request_id, error = %e, "the visitor session could not be emptied");
        }
        append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, None));
        Ok(Outcome::go("/", Notice::LoggedOut))
    })
    .await
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let return_to = return_to_param();
    with_page_context(move |page| {
        let return_to = return_to.clone();
        let action = ServerAction::<LogIn>::new();
        let magic = ServerAction::<RequestMagicLink>::new();
        let magic_error = form_error(move || magic.value().get(), Default::default());
        let email = page.flash.value("email");
        let magic_email = email.clone();
        let error = form_error(move || action.value().get(), page.flash.clone());
        let passkey = passkey_sign_in(return_to.clone());
        let (provider_return_to, magic_return_to) = (return_to.clone(), return_to.clone());
        // A link asked for from the hydrated page stays on this page (no reload brings the flash): say so here.
        let notice = Outcomes::new(&page.flash).follow(move || magic.value().get()).notice();
        view! {
            <AuthCard title="Log in" lead="Welcome back.">
                <NoticeBanner notice/>
                <ErrorBanner error/>
                <ActionForm action>
                    <input type="hidden" name="return_to" value=return_to.clone()/>
                    <EmailField value=email error autofocus=true autocomplete="username webauthn"/>
                    <TextField label="Password" name="password" kind="password" autocomplete="current-password" error required=true/>
                    <Checkbox id="remember_me" name="remember_me" label="Keep me logged in on this device for 30 days"/>
                    <SubmitButton label="Log in" pending_label="Logging in…" pending=action.pending()/>
                </ActionForm>
                {passkey}
                <ProviderButtons providers=page.providers.clone() return_to=provider_return_to/>
                <FoldedForm summary="E-mail me a sign-in link instead" error=magic_error>
                    <ActionForm action=magic>
                        <input type="hidden" name="return_to" value=magic_return_to/>
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
    button: "Sign in", pending: "Signing in…", carry: "return_to",
    alt: ("Link expired? ", "/users/log-in", "Get a new one"),
);

/// "Sign in with a passkey": usernameless, or for the e-mail typed above it. Where the browser supports it, the
/// page also asks for a passkey quietly, so the e-mail field's autofill offers the site's passkeys.
fn passkey_sign_in(return_to: String) -> impl IntoView {
    let remember = move || remember_me_ticked().then(|| "on".to_string());
    let return_to = StoredValue::new(return_to);
    let autofill = autofill_slot();
    // The autofill request finishes with its own action: it stays quiet when it fails.
    let finish = ServerAction::<LogInWithPasskey>::new();
    Effect::new(move |_| {
        start_autofill(autofill, move |token, credential| {
            finish.dispatch(LogInWithPasskey {
                token,
                credential,
                remember_me: remember(),
                return_to: return_to.get_value(),
            });
        })
    });
    passkey_option(
        "Sign in with a passkey",
        move || {
            if let Some(handle) = autofill.get_value() {
                handle.abort();
            }
            passkey_sign_in_options(typed_email(), false)
        },
        move |token, credential| LogInWithPasskey {
            token,
            credential,
            remember_me: remember(),
            return_to: return_to.get_value(),
        },
    )
}

/// Where the page keeps the handle of its waiting autofill request. In the browser the handle is a JavaScript
/// object (local storage); on the server there is none, and a value in local storage would have to be dropped on the
/// thread that made it, which a multi-threaded server does not promise.
#[cfg(feature = "hydrate")]
type AutofillSlot = StoredValue<Option<AbortHandle>, leptos::prelude::LocalStorage>;
#[cfg(not(feature = "hydrate"))]
type AutofillSlot = StoredValue<Option<AbortHandle>>;

fn autofill_slot() -> AutofillSlot {
    #[cfg(feature = "hydrate")]
    return StoredValue::new_local(None);
    #[cfg(not(feature = "hydrate"))]
    StoredValue::new(None)
}

/// Cancels the page's waiting autofill request.
#[derive(Clone)]
struct AbortHandle(#[cfg(feature = "hydrate")] web_sys::AbortController);

impl AbortHandle {
    fn abort(&self) {
        #[cfg(feature = "hydrate")]
        self.0.abort();
    }
}

#[cfg(feature = "hydrate")]
fn start_autofill(slot: AutofillSlot, finish: impl Fn(String, String) + 'static) {
    use crate::components::passkey::{autofill_available, browser_answer, PasskeyOptions};
    leptos::task::spawn_local(async move {
        if !autofill_available().await {
            return;
        }
        let Ok(controller) = web_sys::AbortController::new() else { return };
        let signal = controller.signal();
        slot.set_value(Some(AbortHandle(controller)));
        let Ok(challenge) = passkey_sign_in_options(String::new(), true).await else { return };
        if signal.aborted() || !matches!(challenge.options, PasskeyOptions::Get(_)) {
            return;
        }
        // A cancelled or failed autofill request stays quiet: the button and the password form remain.
        if let Ok(answer) = browser_answer(challenge.options, Some(&signal)).await {
            finish(challenge.token, answer);
        }
    });
}

#[cfg(not(feature = "hydrate"))]
fn start_autofill(_slot: AutofillSlot, _finish: impl Fn(String, String) + 'static) {}

/// The e-mail typed in the log-in form, if any (the passkey request is then for that account).
fn typed_email() -> String {
    #[cfg(feature = "hydrate")]
    return input_by_id("field-email").map(|i| i.value()).unwrap_or_default();
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

fn remember_me_ticked() -> bool {
    #[cfg(feature = "hydrate")]
    return input_by_id("remember_me").is_some_and(|i| i.checked());
    #[cfg(not(feature = "hydrate"))]
    false
}

/// An input of the log-in form, read outside the form (the passkey button is not part of it).
#[cfg(feature = "hydrate")]
fn input_by_id(id: &str) -> Option<web_sys::HtmlInputElement> {
    use wasm_bindgen::JsCast;
    document().get_element_by_id(id).and_then(|e| e.dyn_into().ok())
}
