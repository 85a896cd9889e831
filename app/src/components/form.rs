//! Form parts: labelled fields with their error beside them, a banner for the rest, a submit button with a
//! pending state.
use leptos::prelude::*;

use std::collections::BTreeMap;

use crate::{
    context::{Done, Flash, Notice},
    error::AppError,
};

/// The error to show for a form: the action's latest result (WASM) or the flash of a plain form post.
pub fn form_error<T: 'static>(
    value: impl Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static,
    flash: Flash,
) -> Signal<Option<AppError>> {
    Signal::derive(move || match value() {
        Some(Err(e)) => Some(e),
        Some(Ok(_)) => None,
        None => flash.error.clone(),
    })
}

/// What a page's forms last said: the notice and values of the latest [`Done`] once the page runs in the browser,
/// the flash's after a plain form post. Each form's action is followed with [`Outcomes::follow`].
#[derive(Clone, Copy)]
pub struct Outcomes {
    notice: RwSignal<Option<Notice>>,
    values: RwSignal<BTreeMap<String, String>>,
}

impl Outcomes {
    pub fn new(flash: &Flash) -> Self {
        Self { notice: RwSignal::new(flash.notice), values: RwSignal::new(flash.values.clone()) }
    }

    /// Follows one form's action: its success replaces what is shown; its error takes the notice away (the error
    /// shows instead).
    pub fn follow(self, value: impl Fn() -> Option<Result<Done, AppError>> + 'static) -> Self {
        Effect::new(move |_| match value() {
            Some(Ok(done)) => {
                self.notice.set(done.notice);
                self.values.set(done.values);
            }
            Some(Err(_)) => self.notice.set(None),
            None => {}
        });
        self
    }

    pub fn notice(self) -> Signal<Option<Notice>> {
        self.notice.into()
    }

    /// A value the last form left for this page (see `server_ctx::Outcome::with`).
    pub fn value(self, name: &'static str) -> Signal<Option<String>> {
        Signal::derive(move || self.values.with(|v| v.get(name).cloned()))
    }
}

#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional, into)] value: String,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(into)] error: Signal<Option<AppError>>,
    #[prop(optional)] required: bool,
    #[prop(optional)] autofocus: bool,
    #[prop(optional)] inputmode: Option<&'static str>,
    /// Element id, when one form page has two fields of the same name.
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    let id = id.map(str::to_string).unwrap_or_else(|| format!("field-{name}"));
    let err_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let message = move || error.get().and_then(|e| e.field_error(name));
    let describedby = {
        let (err_id, hint_id) = (err_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if message().is_some() {
                ids.push(err_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let is_password = kind == "password";
    let (shown, set_shown) = signal(false);
    let input_type = move || {
        if is_password && shown.get() {
            "text"
        } else {
            kind
        }
    };
    view! {
        <div class="field" class:field-invalid=move || message().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            <div class="input-row">
                <input
                    id=id.clone()
                    name=name
                    type=input_type
                    autocomplete=autocomplete
                    inputmode=inputmode
                    value=value
                    required=required
                    autofocus=autofocus
                    aria-invalid=move || if message().is_some() { "true" } else { "false" }
                    aria-describedby=describedby
                />
                {is_password
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="toggle-visibility"
                                aria-controls=id.clone()
                                aria-pressed=move || if shown.get() { "true" } else { "false" }
                                on:click=move |_| set_shown.update(|s| *s = !*s)
                            >
                                {move || if shown.get() { "Hide" } else { "Show" }}
                            </button>
                        }
                    })}
            </div>
            <p class="field-error" id=err_id.clone() role="alert" aria-live="polite">
                {message}
            </p>
        </div>
    }
}

/// The e-mail field every account form starts with.
#[component]
pub fn EmailField(
    #[prop(into)] value: String,
    #[prop(into)] error: Signal<Option<AppError>>,
    #[prop(optional)] autofocus: bool,
    /// `username webauthn` where the browser may offer passkeys in the field's autofill.
    #[prop(default = "username")]
    autocomplete: &'static str,
) -> impl IntoView {
    view! {
        <TextField
            label="E-mail"
            name="email"
            kind="email"
            autocomplete
            value
            error
            required=true
            autofocus
        />
    }
}

/// One banner for errors that belong to no field.
#[component]
pub fn ErrorBanner(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    let text = move || match error.get() {
        None | Some(AppError::Validation { .. }) => None,
        Some(e) => Some(e.banner()),
    };
    view! {
        <div class="banner banner-error" role="alert" aria-live="assertive" hidden=move || text().is_none()>
            {text}
        </div>
    }
}

#[component]
pub fn SubmitButton(
    label: &'static str,
    pending_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional)] secondary: bool,
    #[prop(optional)] danger: bool,
) -> impl IntoView {
    let class = match (secondary, danger) {
        (_, true) => "button button-danger",
        (true, false) => "button button-secondary",
        (false, false) => "button",
    };
    view! {
        <button
            type="submit"
            class=class
            disabled=move || pending.get()
            aria-busy=move || if pending.get() { "true" } else { "false" }
        >
            <span class="spinner" aria-hidden="true" hidden=move || !pending.get()></span>
            {move || if pending.get() { pending_label } else { label }}
        </button>
    }
}

/// A labelled checkbox; the form sends `name=on` when it is ticked.
#[component]
pub fn Checkbox(id: &'static str, name: &'static str, label: &'static str) -> impl IntoView {
    view! {
        <div class="checkbox">
            <input type="checkbox" id=id name=name value="on"/>
            <label for=id>{label}</label>
        </div>
    }
}

/// A change to how the account signs in signs out every other device (S36) unless the owner ticks this.
#[component]
pub fn KeepSignedIn(#[prop(into)] id: String) -> impl IntoView {
    view! {
        <div class="checkbox">
            <input type="checkbox" id=id.clone() name="keep_signed_in" value="on"/>
            <label for=id>"Keep my other devices signed in"</label>
        </div>
    }
}

/// A second form folded under a page's main one ("e-mail me a link instead"), with its own error banner.
#[component]
pub fn FoldedForm(
    summary: &'static str,
    #[prop(into)] error: Signal<Option<AppError>>,
    children: Children,
) -> impl IntoView {
    view! {
        <details class="resend">
            <summary>{summary}</summary>
            <ErrorBanner error/>
            {children()}
        </details>
    }
}

/// "Continue with {provider}" for each configured sign-in provider: plain links to `/auth/{id}` (they work without
/// JavaScript), under an "or".
#[component]
pub fn ProviderButtons(
    providers: Vec<(String, String)>,
    /// The page to come back to after signing in (see `validation::with_return_to`).
    #[prop(optional, into)]
    return_to: String,
) -> impl IntoView {
    (!providers.is_empty()).then(|| {
        view! {
            <div class="or-divider"><span>"or"</span></div>
            <div class="provider-buttons">
                {providers
                    .into_iter()
                    .map(|(id, name)| {
                        view! {
                            <a class="button button-secondary provider-button" rel="external" href=domain::validation::with_return_to(&format!("/auth/{id}"), &return_to)>
                                {format!("Continue with {name}")}
                            </a>
                        }
                    })
                    .collect_view()}
            </div>
        }
    })
}
