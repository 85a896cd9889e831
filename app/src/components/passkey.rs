//! Passkey ceremonies in the browser: the server function gives options, `navigator.credentials` asks the
//! authenticator, and the answer (JSON) goes to the page's finishing server function. WebAuthn needs JavaScript,
//! so the button appears once the page is hydrated; without it the page says so.
use std::future::Future;

use leptos::{prelude::*, task::spawn_local};
use serde::{Deserialize, Serialize};
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

use crate::error::AppError;

/// What the browser is asked for: a new credential, or an assertion with an existing one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum PasskeyOptions {
    Create(CreationChallengeResponse),
    Get(RequestChallengeResponse),
}

/// A ceremony the server started: its token (sent back with the answer) and the options for the browser.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PasskeyChallenge {
    pub token: String,
    pub options: PasskeyOptions,
}

fn passkey_error(message: &str) -> AppError {
    AppError::field("passkey", message)
}

/// Asks the browser's authenticator and returns its answer as JSON. `abort` cancels a waiting request (autofill).
#[cfg(feature = "hydrate")]
pub async fn browser_answer(options: PasskeyOptions, abort: Option<&web_sys::AbortSignal>) -> Result<String, AppError> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let credentials = window().navigator().credentials();
    let promise = match &options {
        PasskeyOptions::Create(o) => credentials.create_with_options(&o.clone().into()),
        PasskeyOptions::Get(o) => {
            let request: web_sys::CredentialRequestOptions = o.clone().into();
            if let Some(signal) = abort {
                request.set_signal(signal);
            }
            credentials.get_with_options(&request)
        }
    }
    .map_err(|_| passkey_error("This browser cannot use passkeys."))?;
    let answer = JsFuture::from(promise).await.map_err(|e| {
        let name = e.dyn_ref::<web_sys::DomException>().map(|d| d.name()).unwrap_or_default();
        passkey_error(match name.as_str() {
            "InvalidStateError" => "This authenticator already holds a passkey for your account.",
            "AbortError" => "The passkey request was cancelled.",
            "SecurityError" => "Passkeys cannot be used on this address (the site's domain does not match).",
            _ => "The passkey request was cancelled or timed out. Try again.",
        })
    })?;
    let credential: web_sys::PublicKeyCredential =
        answer.dyn_into().map_err(|_| passkey_error("The browser gave no passkey."))?;
    let json = match options {
        PasskeyOptions::Create(_) => {
            serde_json::to_string(&webauthn_rs_proto::RegisterPublicKeyCredential::from(credential))
        }
        PasskeyOptions::Get(_) => serde_json::to_string(&webauthn_rs_proto::PublicKeyCredential::from(credential)),
    };
    json.map_err(|_| passkey_error("The browser's passkey answer could not be read."))
}

/// Whether the browser offers passkeys in the autofill of a field marked `autocomplete="username webauthn"`.
#[cfg(feature = "hydrate")]
pub async fn autofill_available() -> bool {
    let Ok(promise) = webauthn_rs_proto::wasm::PublicKeyCredentialExt::is_conditional_mediation_available() else {
        return false;
    };
    wasm_bindgen_futures::JsFuture::from(promise).await.map(|v| v.is_truthy()).unwrap_or(false)
}

/// Starts the ceremony (`start`), asks the browser, and hands `(token, answer)` to `finish`. Returns the busy flag
/// and the latest error of the browser half (the finishing action reports its own).
pub fn ceremony<Start, Fut>(
    start: Start,
    finish: impl Fn(String, String) + Copy + Send + Sync + 'static,
) -> (impl Fn() + Copy + Send + Sync + 'static, RwSignal<bool>, RwSignal<Option<AppError>>)
where
    Start: Fn() -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<PasskeyChallenge, AppError>> + 'static,
{
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let run = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = async {
                let challenge = start().await?;
                let answer = answer(challenge.options).await?;
                Ok::<_, AppError>((challenge.token, answer))
            }
            .await;
            match outcome {
                Ok((token, answer)) => finish(token, answer),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    (run, busy, error)
}

#[cfg(feature = "hydrate")]
async fn answer(options: PasskeyOptions) -> Result<String, AppError> {
    browser_answer(options, None).await
}

#[cfg(not(feature = "hydrate"))]
async fn answer(_options: PasskeyOptions) -> Result<String, AppError> {
    Err(passkey_error("Passkeys need JavaScript."))
}

/// The button that runs a ceremony, its pending state, and the error of either half. Shown once hydrated.
#[component]
pub fn PasskeyButton(
    label: &'static str,
    pending_label: &'static str,
    /// Runs the ceremony (from [`ceremony`]).
    run: impl Fn() + Copy + Send + Sync + 'static,
    /// The ceremony's own busy flag, and the finishing action's pending state.
    busy: RwSignal<bool>,
    #[prop(into)] finishing: Signal<bool>,
    /// The browser half's error, and the finishing action's.
    error: RwSignal<Option<AppError>>,
    #[prop(into)] finish_error: Signal<Option<AppError>>,
    #[prop(optional)] secondary: bool,
) -> impl IntoView {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    let pending = move || busy.get() || finishing.get();
    let message = move || {
        error.get().or_else(|| finish_error.get()).map(|e| e.field_error("passkey").unwrap_or_else(|| e.banner()))
    };
    view! {
        <div class="passkey-action">
            <p class="field-error" role="alert" aria-live="polite">{message}</p>
            <button
                type="button"
                class=if secondary { "button button-secondary" } else { "button" }
                hidden=move || !hydrated.get()
                disabled=pending
                aria-busy=move || if pending() { "true" } else { "false" }
                on:click=move |_| run()
            >
                <span class="spinner" aria-hidden="true" hidden=move || !pending()></span>
                {move || if pending() { pending_label } else { label }}
            </button>
            <noscript><p class="muted">"Passkeys need JavaScript, which is off in this browser."</p></noscript>
        </div>
    }
}

/// "or", then a passkey button whose answer goes to the server function `A` made by `finish(token, answer)`: the
/// passkey alternative of the log-in, code-step and sudo pages.
pub fn passkey_option<A, Start, Fut>(
    label: &'static str,
    start: Start,
    finish: impl Fn(String, String) -> A + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    A: leptos::server_fn::ServerFn<Output = crate::context::Done, Error = AppError> + Clone + Send + Sync + 'static,
    Start: Fn() -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<PasskeyChallenge, AppError>> + 'static,
{
    let action = ServerAction::<A>::new();
    let (run, busy, error) = ceremony(start, move |token, answer| {
        action.dispatch(finish(token, answer));
    });
    let finish_error = crate::components::form::form_error(move || action.value().get(), Default::default());
    view! {
        <div class="or-divider"><span>"or"</span></div>
        <PasskeyButton
            label
            pending_label="Waiting for your passkey…"
            run
            busy
            finishing=action.pending()
            error
            finish_error
            secondary=true
        />
    }
}
