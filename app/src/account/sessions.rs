//! `/users/sessions`: every signed-in device of the user, revocable one by one or all at once, and the account's
//! security activity.
use leptos::{form::ActionForm, prelude::*};
use serde::{Deserialize, Serialize};

use crate::{
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton},
        layout::{with_page_context, NoticeBanner},
        page::loaded,
    },
    context::Done,
    error::AppError,
};

const SESSIONS: &str = "/users/sessions";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionItem {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_active: String,
    pub current: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ActivityItem {
    pub when: String,
    pub what: String,
    pub failed: bool,
    pub device: String,
    pub ip: String,
    /// An admin did it (to the account, or as the user while impersonating): their device and address are not
    /// shown.
    pub by_admin: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionsData {
    pub sessions: Vec<SessionItem>,
    pub activity: Vec<ActivityItem>,
    /// Signing out another device needs the sudo window (S40): a stolen session must not evict the owner.
    pub sudo_open: bool,
}

#[server(prefix = "/api", endpoint = "list_sessions")]
pub async fn list_sessions() -> Result<SessionsData, AppError> {
    use crate::server_ctx;
    use backend::{account::devices::describe, format_utc, platform::audit, signin::sessions, signin::sudo};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    let st = server_ctx::state()?;
    let rows = sessions::list_for_user(&st, &me.user_id).await?;
    let sessions = rows
        .into_iter()
        .map(|r| SessionItem {
            current: r.id == me.session_id,
            id: r.id,
            // An impersonation session is the admin's browser: its device and address are not the user's to see.
            device: if r.impersonator_id.is_some() {
                "An administrator signed in as you".into()
            } else {
                describe(r.user_agent.as_deref())
            },
            ip: if r.impersonator_id.is_some() { String::new() } else { r.ip.unwrap_or_default() },
            created: format_utc(r.created_at),
            last_active: format_utc(r.last_active_at),
        })
        .collect();
    let events = audit::activity_for_user(&st.db.pool, &me.user_id, 25).await?;
    let activity = events
        .into_iter()
        .map(|e| {
            let by_admin = e.by_admin != 0;
            let mut what = describe_action(&e.action, e.outcome == "failure", e.detail.as_deref());
            if by_admin && !e.action.starts_with("admin.") {
                what.push_str(" — by an administrator signed in as you");
            }
            ActivityItem {
                when: format_utc(e.at),
                what,
                failed: e.outcome == "failure",
                device: if by_admin { "an administrator".into() } else { describe(e.user_agent.as_deref()) },
                ip: if by_admin { String::new() } else { e.ip.unwrap_or_default() },
                by_admin,
            }
        })
        .collect();
    Ok(SessionsData { sessions, activity, sudo_open: sudo::is_fresh(&st, &me) })
}

#[cfg(feature = "ssr")]
fn describe_action(action: &str, failed: bool, detail: Option<&str>) -> String {
    // An app's events name the app (the detail is its registered name).
    let app = detail.unwrap_or("An app");
    match action {
        "user.oauth_authorized" => return format!("Signed in to {app} with your account"),
        "user.oauth_revoked" => return format!("Took back the access you gave {app}"),
        "user.oauth_code_reused" => return format!("{app} used a sign-in code twice: its access was ended"),
        "user.oauth_refresh_reused" => return format!("{app} used an old refresh token: its access was ended"),
        _ => {}
    }
    let text = match (action, failed) {
        ("user.log_in", false) => "Signed in",
        ("user.log_in", true) => "Failed sign-in",
        ("user.log_out", _) => "Signed out",
        ("user.register", false) => "Account created",
        ("user.register", true) => "Someone tried to register with your e-mail",
        ("user.confirm", false) => "E-mail confirmed",
        ("user.confirm", true) => "Wrong confirmation code",
        ("user.confirmation_resent", _) => "Confirmation mail sent again",
        ("user.locked", _) => "Password log in paused after failed attempts",
        ("session.revoke", _) => "Signed out a device",
        ("session.revoke_others", _) => "Signed out every other device",
        ("user.magic_link_requested", _) => "Sign-in link requested",
        ("user.password_reset_requested", _) => "Password reset link requested",
        ("user.password_reset", _) => "Password reset from a mailed link",
        ("user.password_change", false) => "Password changed",
        ("user.password_change", true) => "Wrong current password when changing it",
        ("user.password_change_required", _) => "Password change required by an administrator",
        ("user.sudo", false) => "Confirmed it's you",
        ("user.api_token_created", _) => "API token created",
        ("user.api_token_revoked", _) => "API token revoked",
        ("user.sudo", true) => "Wrong password when confirming it's you",
        ("user.email_change_requested", _) => "E-mail change requested",
        ("user.email_change", _) => "E-mail address changed",
        ("user.email_change_cancelled", _) => "E-mail change cancelled",
        ("user.profile_update", _) => "Profile updated",
        ("user.deletion_scheduled", _) => "Account deletion requested",
        ("user.deletion_cancelled", _) => "Account deletion cancelled",
        ("mfa.totp_enrolment_started", _) => "Two-step verification set-up started",
        ("mfa.totp_enabled", _) => "Two-step verification turned on",
        ("mfa.totp_disabled", _) => "Two-step verification turned off",
        ("mfa.backup_codes_regenerated", _) => "New backup codes made",
        ("mfa.verify", false) => "Two-step code accepted",
        ("mfa.verify", true) => "Wrong two-step code",
        ("mfa.locked", _) => "Two-step codes paused after wrong attempts",
        ("mfa.browser_trusted", _) => "Browser trusted for 30 days",
        ("mfa.trust_revoked", _) => "Trusted browser forgotten",
        ("mfa.challenge", false) => "Two-step passkey check passed",
        ("mfa.challenge", true) => "Failed two-step passkey check",
        ("admin.user_locked", _) => "An administrator locked your account",
        ("admin.user_unlocked", _) => "An administrator unlocked your account",
        ("admin.sessions_revoked", _) => "An administrator signed you out everywhere",
        ("admin.session_revoked", _) => "An administrator signed out one of your devices",
        ("admin.password_reset_sent", _) => "An administrator sent you a password-reset link",
        ("admin.password_change_required", _) => "An administrator required a new password",
        ("admin.mfa_reset", _) => "An administrator removed your two-step verification",
        ("admin.confirmation_resent", _) => "An administrator sent the confirmation mail again",
        ("admin.impersonation_started", _) => "An administrator started using the site as you",
        ("admin.impersonation_stopped", _) => "The administrator stopped using the site as you",
        ("admin.granted", _) => "Administrator role granted",
        ("admin.revoked", _) => "Administrator role removed",
        // Every action that can reach a user's feed is named above; a new one shows its audit name until it is.
        (other, _) => other,
    };
    text.to_string()
}

/// Ends one of your own sessions. Another user's session id is "not found", like an unknown one.
#[server(prefix = "/api", endpoint = "revoke_session")]
pub async fn revoke_session(id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SESSIONS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        // Like signing out every other device (S40): after a re-authentication, so a stolen session cannot evict the
        // owner one device at a time.
        backend::signin::sudo::require(&st, &me)?;
        if !backend::signin::sessions::revoke(&st, &ctx, &me.user_id, &id).await? {
            return Err(AppError::NotFound);
        }
        Ok(Outcome::stay(None))
    })
    .await
}

#[server(prefix = "/api", endpoint = "revoke_other_sessions")]
pub async fn revoke_other_sessions() -> Result<Done, AppError> {
    use crate::server_ctx::{form, require_session, Outcome};
    form(SESSIONS, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        backend::signin::sudo::require(&st, &me)?;
        backend::signin::sessions::revoke_others(&st, &ctx, &me.user_id, &me.session_id).await?;
        Ok(Outcome::stay(None))
    })
    .await
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    with_page_context(|page| {
        let flash = page.flash.clone();
        view! { <SessionsList flash/> }.into_any()
    })
}

#[component]
fn SessionsList(flash: crate::context::Flash) -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let revoke_others = ServerAction::<RevokeOtherSessions>::new();
    let data = Resource::new(move || (revoke.version().get(), revoke_others.version().get()), |_| list_sessions());
    let notice =
        Outcomes::new(&flash).follow(move || revoke.value().get()).follow(move || revoke_others.value().get()).notice();
    let error =
        form_error(move || revoke.value().get().filter(Result::is_err).or_else(|| revoke_others.value().get()), flash);
    view! {
        <section class="card wide" aria-labelledby="page-title">
            <NoticeBanner notice/>
            <h1 id="page-title">"Your sessions"</h1>
            <p class="lead">"Every device signed in to your account. Sign out any you don't recognise."</p>
            <ErrorBanner error/>
            {loaded(data, move |d| view! { <SessionsTable data=d revoke revoke_others/> })}
        </section>
    }
}

#[component]
fn SessionsTable(
    data: SessionsData,
    revoke: ServerAction<RevokeSession>,
    revoke_others: ServerAction<RevokeOtherSessions>,
) -> impl IntoView {
    let others = data.sessions.iter().filter(|s| !s.current).count();
    let sudo_open = data.sudo_open;
    view! {
        <ul class="session-list">
            {data
                .sessions
                .into_iter()
                .map(|s| {
                    let label = format!("Sign out {} ({})", s.device, s.ip);
                    view! {
                        <li class="session" class:session-current=s.current>
                            <div>
                                <p class="session-device">
                                    {s.device.clone()}
                                    {s.current.then(|| view! { <span class="badge">"This device"</span> })}
                                </p>
                                <p class="muted session-meta">
                                    {format!("{} · signed in {} · last active {}", s.ip, s.created, s.last_active)}
                                </p>
                            </div>
                            {(!s.current && sudo_open)
                                .then(|| {
                                    view! {
                                        <ActionForm action=revoke>
                                            <input type="hidden" name="id" value=s.id.clone()/>
                                            <button type="submit" class="button button-small button-secondary" aria-label=label>
                                                "Sign out"
                                            </button>
                                        </ActionForm>
                                    }
                                })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        {(others > 0 && !sudo_open)
            .then(|| {
                view! {
                    <crate::account::sudo::SudoPrompt
                        why="Signing out your other devices needs you to confirm it's you first."
                        page=SESSIONS
                    />
                }
            })}
        {(others > 0 && sudo_open)
            .then(|| {
                view! {
                    <ActionForm action=revoke_others>
                        <SubmitButton
                            label="Sign out every other device"
                            pending_label="Signing out…"
                            pending=revoke_others.pending()
                            secondary=true
                        />
                    </ActionForm>
                }
            })}
        <h2 class="section-title">"Security activity"</h2>
        <ul class="activity">
            {data
                .activity
                .into_iter()
                .map(|a| {
                    view! {
                        <li class:activity-failed=a.failed>
                            <span class="activity-what">{a.what}</span>
                            <span class="muted">
                                {if a.ip.is_empty() {
                                    format!("{} · {}", a.when, a.device)
                                } else {
                                    format!("{} · {} · {}", a.when, a.device, a.ip)
                                }}
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
