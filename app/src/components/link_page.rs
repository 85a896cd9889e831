//! Pages that mailed links open. Opening one changes nothing: it shows a button whose POST (a server function
//! taking `token`) does the work, and once the page runs in the browser the token leaves the address bar.

/// Defines such a page: `link_page!(Name, ServerFnType, title, lead, forget_path, button, pending[, carry][, alt])`
/// where `carry` names a query parameter of the link that the form posts on (the sign-in link's `return_to`) and
/// `alt` is `(text, href, link text)` for a line under the form.
#[macro_export]
macro_rules! link_page {
    (
        $(#[$meta:meta])*
        $name:ident, $action:ty,
        title: $title:expr, lead: $lead:expr, forget: $forget:expr, button: $label:expr, pending: $pending:expr
        $(, carry: $carry:literal)?
        $(, alt: ($alt_text:expr, $alt_href:expr, $alt_link:expr))? $(,)?
    ) => {
        $(#[$meta])*
        #[leptos::component]
        pub fn $name() -> impl leptos::IntoView {
            use leptos::{form::ActionForm, prelude::*};
            use $crate::components::{
                form::{form_error, ErrorBanner, SubmitButton},
                layout::{with_page_context, AuthCard, ForgetLinkInHistory},
            };
            let params = leptos_router::hooks::use_params_map();
            let token = move || params.read().get("token").unwrap_or_default();
            $(let query = leptos_router::hooks::use_query_map();
            let carried = move || query.read().get($carry).unwrap_or_default();)?
            with_page_context(move |page| {
                let action = ServerAction::<$action>::new();
                let error = form_error(move || action.value().get(), page.flash.clone());
                view! {
                    <AuthCard title=$title lead=$lead>
                        <ForgetLinkInHistory path=$forget/>
                        <ErrorBanner error/>
                        <ActionForm action>
                            <input type="hidden" name="token" value=token()/>
                            $(<input type="hidden" name=$carry value=carried()/>)?
                            <SubmitButton label=$label pending_label=$pending pending=action.pending()/>
                        </ActionForm>
                        $(<p class="alt-action">$alt_text <a href=$alt_href>$alt_link</a></p>)?
                    </AuthCard>
                }
            })
        }
    };
}
