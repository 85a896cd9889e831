//! `/users/settings`: profile, e-mail change and password change; and the pages the e-mail change links open
//! (`/users/settings/email/:token` on the new address, `/users/settings/email/cancel/:token` on the old one).
//! E-mail and password changes need an open sudo window; the server checks it, the page only reflects it.
use leptos::{form::ActionForm, prelude::*};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::context::Notice;
use crate::{
    account::sudo::SudoPrompt,
    auth::register::NewPasswordField,
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton, TextField},
        layout::{with_page_context, NoticeBanner},
        page::loaded,
    },
    context::{Done, Flash},
    error::AppError,
};

const SETTINGS: &str = "/users/settings";
/// Kept in step with the server's grace period by a unit test.
pub const DELETION_GRACE_DAYS: i64 = 7;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccountSettings {
    pub email: String,
    pub display_name: String,
    pub pending_email: Option<String>,
    pub has_password: bool,
    /// When the sudo window closes (UTC), while it is open.
    pub sudo_until: Option<String>,
}

#[server(prefix = "/api", endpoint = "settings_data")]
pub async fn settings_data() -> Result<AccountSettings, AppError> {
    use crate::server_ctx;
    use backend::{account::settings, format_utc, signin::sudo};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let s = settings::load(&st, &me.user_id).await?;
    Ok(AccountSettings {
        email: s.email,
        display_name: s.display_name.unwrap_or_default(),
        pending_email: s.pending_email,
        has_password: s.has_password,
        sudo_until: sudo::open_until(&st, &me).map(format_utc),
    })
}

#[server(prefix = "/api", endpoint = "update_profile")]
pub async fn update_profile(#[server(default)] display_name: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parsed, require_session, Outcome};
    form(SETTINGS, &[("display_name", &display_name.clone())], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let name = parsed("display_name", domain::validation::DisplayName::parse(&display_name))?;
        backend::account::settings::update_profile(&st, &ctx, &me, name.as_ref()).await?;
        Ok(Outcome::stay(Notice::ProfileSaved))
    })
    .await
}

/// Changes the password: needs sudo and the current password; every other session ends, this one gets a new
/// token, and the owner is mailed.
#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(
    #[server(default)] current_password: String,
    #[server(default)] password: String,
) -> Result<Done, AppError> {
    use crate::server_ctx::{append_header, form, require_session, Outcome};
    use backend::{account::settings, signin::sessions};
    form(SETTINGS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let fresh = settings::change_password(&st, &ctx, &me, &current_password, &password).await?;
        append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, Some(&fresh)));
        Ok(Outcome::stay(Notice::PasswordChanged))
    })
    .await
}

/// Mails a link to the new address and a notice with a cancel link to the current one. Needs sudo.
#[server(prefix = "/api", endpoint = "request_email_change")]
pub async fn request_email_change(#[server(default)] email: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, parse_email, require_session, Outcome};
    form(SETTINGS, &[("email", &email.clone())], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let email = parse_email(&email)?;
        backend::account::settings::request_email_change(&st, &ctx, &me, &email).await?;
        Ok(Outcome::stay(Notice::EmailChangeRequested))
    })
    .await
}

#[server(prefix = "/api", endpoint = "cancel_email_change")]
pub async fn cancel_email_change() -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SETTINGS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::account::settings::cancel_email_change(&st, &ctx, &me).await?;
        Ok(Outcome::stay(Notice::EmailChangeCancelled))
    })
    .await
}

/// Schedules the account's deletion (sudo and the typed address). Every session ends, this browser's too.
#[server(prefix = "/api", endpoint = "delete_account")]
pub async fn delete_account(#[server(default)] confirm_email: String) -> Result<Done, AppError> {
    use crate::server_ctx::{append_header, form, require_session, Outcome};
    use backend::{account::settings, signin::sessions};
    form(SETTINGS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        settings::schedule_deletion(&st, &ctx, &me, &confirm_email).await?;
        append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, None));
        Ok(Outcome::go("/", Notice::DeletionScheduled))
    })
    .await
}

/// Keeps an account scheduled for deletion, from the mailed link.
#[server(prefix = "/api", endpoint = "keep_account")]
pub async fn keep_account(token: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, link_page, Outcome};
    form(&link_page("/users/settings/delete/cancel", &token), &[], |st, ctx| async move {
        backend::account::settings::cancel_deletion_by_link(&st, &ctx, &token).await?;
        Ok(Outcome::go("/users/log-in", Notice::DeletionCancelled))
    })
    .await
}

/// Completes the change from the link mailed to the new address. Every session ends, this browser's too.
#[server(prefix = "/api", endpoint = "confirm_email_change")]
pub async fn confirm_email_change(token: String) -> Result<Done, AppError> {
    use crate::server_ctx::{append_header, form, link_page, Outcome};
    use backend::{account::settings, signin::sessions};
    form(&link_page("/users/settings/email", &token), &[], |st, ctx| async move {
        settings::confirm_email_change(&st, &ctx, &token).await?;
        append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, None));
        Ok(Outcome::go("/users/log-in", Notice::EmailChanged))
    })
    .await
}

/// Cancels the change from the link mailed to the old address.
#[server(prefix = "/api", endpoint = "cancel_email_change_by_link")]
pub async fn cancel_email_change_by_link(token: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, link_page, Outcome};
    form(&link_page("/users/settings/email/cancel", &token), &[], |st, ctx| async move {
        backend::account::settings::cancel_email_change_by_link(&st, &ctx, &token).await?;
        Ok(Outcome::go("/", Notice::EmailChangeCancelled))
    })
    .await
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    with_page_context(|page| view! { <SettingsForms flash=page.flash.clone()/> }.into_any())
}

#[component]
fn SettingsForms(flash: Flash) -> impl IntoView {
    let profile = ServerAction::<UpdateProfile>::new();
    let email = ServerAction::<RequestEmailChange>::new();
    let cancel = ServerAction::<CancelEmailChange>::new();
    let password = ServerAction::<ChangePassword>::new();
    let data = Resource::new(
        move || (profile.version().get(), email.version().get(), cancel.version().get(), password.version().get()),
        |_| settings_data(),
    );
    let notice = Outcomes::new(&flash)
        .follow(move || password.value().get())
        .follow(move || email.value().get())
        .follow(move || cancel.value().get())
        .follow(move || profile.value().get())
        .notice();
    let delete = ServerAction::<DeleteAccount>::new();
    let forms = SettingsActions { profile, email, cancel, password, delete, flash };
    view! {
        <section class="card wide" aria-labelledby="page-title">
            <NoticeBanner notice/>
            <h1 id="page-title">"Settings"</h1>
            <p class="lead">"Your profile, e-mail address and password."</p>
            {loaded(data, move |d| view! { <SettingsSections data=d forms=forms.clone()/> })}
        </section>
    }
}

#[derive(Clone)]
struct SettingsActions {
    profile: ServerAction<UpdateProfile>,
    email: ServerAction<RequestEmailChange>,
    cancel: ServerAction<CancelEmailChange>,
    password: ServerAction<ChangePassword>,
    delete: ServerAction<DeleteAccount>,
    flash: Flash,
}

#[component]
fn SettingsSections(data: AccountSettings, forms: SettingsActions) -> impl IntoView {
    let SettingsActions { profile, email, cancel, password, delete, flash } = forms;
    let profile_error = form_error(move || profile.value().get(), flash.clone());
    let email_error = form_error(move || email.value().get().or_else(|| cancel.value().get()), flash.clone());
    let password_error = form_error(move || password.value().get(), flash.clone());
    let delete_error = form_error(move || delete.value().get(), flash.clone());
    let sudo_open = data.sudo_until.is_some();
    let display_name =
        if flash.values.contains_key("display_name") { flash.value("display_name") } else { data.display_name };
    let new_email = flash.value("email");
    let account_email = data.email.clone();
    let account_email_for_set = data.email.clone();
    view! {
        <div class="settings-section">
        <h2 class="section-title" id="profile">"Profile"</h2>
        <ErrorBanner error=profile_error/>
        <ActionForm action=profile>
            <TextField
                label="Display name"
                name="display_name"
                autocomplete="name"
                value=display_name
                hint="Optional. How we greet you; up to 80 characters."
                error=profile_error
            />
            <SubmitButton label="Save profile" pending_label="Saving…" pending=profile.pending() secondary=true/>
        </ActionForm>
        </div>

        <div class="settings-section">
        <h2 class="section-title" id="security">"E-mail and password"</h2>
        {match data.sudo_until.clone() {
            Some(until) => view! {
                <p class="sudo-status">{format!("You confirmed it's you; you can change these until {until}.")}</p>
            }.into_any(),
            None => view! {
                <SudoPrompt why="For your security, confirm it's you before changing your e-mail address or password." page=SETTINGS/>
            }.into_any(),
        }}

        <h3 class="subsection-title">"E-mail address"</h3>
        <p>"Your address: " <strong>{data.email.clone()}</strong></p>
        <ErrorBanner error=email_error/>
        {data.pending_email.clone().map(|p| view! {
            <div class="banner banner-info" role="status">
                <p>"Waiting for you to confirm " <strong>{p}</strong> ": open the link we sent there (it works for 24 hours)."</p>
                <ActionForm action=cancel>
                    <SubmitButton label="Cancel the change" pending_label="Cancelling…" pending=cancel.pending() secondary=true/>
                </ActionForm>
            </div>
        })}
        {sudo_open.then(|| view! {
            <ActionForm action=email>
                <TextField
                    label="New e-mail address"
                    name="email"
                    kind="email"
                    autocomplete="email"
                    value=new_email
                    hint="We'll send a link to the new address; your address changes when you open it. Your current address gets a notice with a cancel link."
                    error=email_error
                    required=true
                />
                <SubmitButton label="Send confirmation link" pending_label="Sending…" pending=email.pending()/>
            </ActionForm>
        })}

        <h3 class="subsection-title">"Password"</h3>
        <ErrorBanner error=password_error/>
        {(sudo_open && data.has_password).then(|| view! {
            <ActionForm action=password>
                <TextField
                    label="Current password"
                    name="current_password"
                    kind="password"
                    autocomplete="current-password"
                    error=password_error
                    required=true
                />
                <NewPasswordField error=password_error email=account_email label="New password"/>
                <p class="muted">"Changing your password signs out every other device."</p>
                <SubmitButton label="Change password" pending_label="Changing…" pending=password.pending()/>
            </ActionForm>
        })}
        {(sudo_open && !data.has_password).then(|| view! {
            <p>"Your account has no password: you sign in with a connected account. You can set one too."</p>
            <ActionForm action=password>
                <NewPasswordField error=password_error email=account_email_for_set label="New password"/>
                <SubmitButton label="Set password" pending_label="Saving…" pending=password.pending()/>
            </ActionForm>
        })}
        {(!sudo_open).then(|| view! { <p class="muted">"Confirm it's you (above) to change your password."</p> })}
        </div>

        <div class="settings-section">
        <h2 class="section-title" id="two-step">"Two-step verification"</h2>
        <p>"Add a code from an authenticator app to every sign-in, keep backup codes, and manage trusted browsers."</p>
        <p><a class="button button-secondary" href=domain::pages::SECURITY>"Security settings"</a></p>
        </div>

        <div class="settings-section">
        <h2 class="section-title" id="connections">"Connected accounts"</h2>
        <p>"Sign in with Google, GitHub or your organization's single sign-on, where this site offers them."</p>
        <p><a class="button button-secondary" href="/users/settings/connections">"Connected accounts"</a></p>
        </div>

        <div class="settings-section">
        <h2 class="section-title" id="api-tokens">"API tokens and apps"</h2>
        <p>"Personal access tokens let your scripts and programs call the API as you. Apps you signed in to with this account are listed there too."</p>
        <p><a class="button button-secondary" href=crate::account::api_tokens::API_TOKENS>"API tokens and apps"</a></p>
        </div>

        <div class="settings-section danger-zone">
        <h2 class="section-title" id="delete">"Delete account"</h2>
        <p>
            "Deleting signs you out everywhere at once. The account is removed after "
            {DELETION_GRACE_DAYS} " days; until then the mail we send has a link to keep it."
        </p>
        <ErrorBanner error=delete_error/>
        {match sudo_open {
            true => view! {
                <ActionForm action=delete>
                    <TextField
                        label="Type your e-mail address to confirm"
                        name="confirm_email"
                        kind="email"
                        autocomplete="off"
                        error=delete_error
                        required=true
                    />
                    <button type="submit" class="button button-danger" disabled=move || delete.pending().get()>
                        {move || if delete.pending().get() { "Deleting…" } else { "Delete my account" }}
                    </button>
                </ActionForm>
            }.into_any(),
            false => view! { <p class="muted">"Confirm it's you (above) to delete your account."</p> }.into_any(),
        }}
        </div>
    }
}

crate::link_page!(
    /// The page the link to the new address opens: its button completes the change.
    ConfirmEmailChangePage, ConfirmEmailChange,
    title: "Use this e-mail address",
    lead: "Confirm to make this the address of your account. Every device is signed out; you then log in with this address.",
    forget: "/users/settings", button: "Confirm new e-mail", pending: "Confirming…",
);

crate::link_page!(
    /// The page the cancel link in the notice to the old address opens.
    CancelEmailChangePage, CancelEmailChangeByLink,
    title: "Cancel the e-mail change",
    lead: "Keep this address on your account. If you did not ask for the change, change your password afterwards.",
    forget: "/", button: "Cancel the change", pending: "Cancelling…",
);

crate::link_page!(
    /// The page the link in the deletion notice opens: its button keeps the account.
    KeepAccountPage, KeepAccount,
    title: "Keep your account",
    lead: "Your account is scheduled for deletion. Keep it, and log in again as before.",
    forget: "/users/log-in", button: "Keep my account", pending: "Keeping…",
);

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_page_states_the_servers_grace_period() {
        assert_eq!(super::DELETION_GRACE_DAYS * 86400, backend::account::settings::DELETION_GRACE_SECS);
    }
}
