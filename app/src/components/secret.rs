//! A secret shown once (a new token, a service account's credentials): a read-only field to select, and a copy
//! button once the page is hydrated.
use leptos::prelude::*;

/// `what` names the secret in the copy button's accessible name ("Copy client secret").
#[component]
pub fn FreshSecret(id: &'static str, label: &'static str, what: &'static str, value: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    let copy = value.clone();
    view! {
        <label for=id>{label}</label>
        <div class="input-row">
            <input id=id type="text" readonly value=value class="token-value"/>
            <button
                type="button"
                class="button button-small button-secondary"
                aria-label=move || if copied.get() { format!("Copied {what}") } else { format!("Copy {what}") }
                hidden=move || !hydrated.get()
                on:click=move |_| {
                    crate::account::security::copy_to_clipboard(&copy);
                    copied.set(true);
                }
            >
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}
