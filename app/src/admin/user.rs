//! `/admin/users/:id`: the account in full, and the actions on it (each behind a confirmation, audited with both
//! actors, mailed to the user where it affects them), impersonation.
use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::{admin_page, AdminNav};
use crate::components::page::loaded;
use crate::{
    components::{
        form::{form_error, ErrorBanner, Outcomes, SubmitButton, TextField},
        layout::NoticeBanner,
    },
    context::Done,
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AdminSessionItem {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_active: String,
    pub impersonation: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created: String,
    pub confirmed: Option<String>,
    pub locked: Option<String>,
    pub password_paused_until: Option<String>,
    pub deletion: Option<String>,
    pub is_admin: bool,
    pub has_password: bool,
    pub password_change_required: bool,
    pub totp: bool,
    pub passkeys: i64,
    pub backup_codes_left: i64,
    pub last_sign_in: Option<String>,
    pub sessions: Vec<AdminSessionItem>,
    /// (provider, e-mail it gave, linked)
    pub identities: Vec<(String, String, String)>,
    /// (name, slug, role)
    pub organizations: Vec<(String, String, String)>,
    /// Personal access tokens, one line each (name, hint, scopes, organizations, last use).
    pub api_tokens: Vec<String>,
    pub recent: Vec<super::audit::AuditItem>,
}

#[server(prefix = "/api", endpoint = "admin_user")]
pub async fn admin_user(id: String) -> Result<UserInfo, AppError> {
    use crate::server_ctx;
    use backend::{account::devices::describe, admin::users, format_utc};
    server_ctx::session_data(|st, _, me| async move {
        let d = users::detail(&st, &me, &id).await?;
        let u = &d.user;
        Ok(UserInfo {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.display_name.clone().unwrap_or_default(),
            created: format_utc(u.created_at),
            confirmed: u.confirmed_at.map(format_utc),
            locked: u.locked_at.map(format_utc),
            password_paused_until: d.password_paused_until.map(format_utc),
            deletion: d.deletion_scheduled_at.map(format_utc),
            is_admin: u.is_admin == 1,
            has_password: d.has_password,
            password_change_required: d.password_change_required,
            totp: u.mfa > 0,
            passkeys: d.passkeys,
            backup_codes_left: d.backup_codes_left,
            last_sign_in: d.last_sign_in.map(format_utc),
            sessions: d
                .sessions
                .iter()
                .map(|s| AdminSessionItem {
                    id: s.id.clone(),
                    device: describe(s.user_agent.as_deref()),
                    ip: s.ip.clone().unwrap_or_default(),
                    created: format_utc(s.created_at),
                    last_active: format_utc(s.last_active_at),
                    impersonation: s.impersonator_id.is_some(),
                })
                .collect(),
            identities: d
                .identities
                .iter()
                .map(|(p, e, at)| (p.clone(), e.clone().unwrap_or_default(), format_utc(*at)))
                .collect(),
            organizations: d.organizations.clone(),
            api_tokens: d
                .api_tokens
                .iter()
                .map(|t| {
                    let orgs = if t.organizations.is_empty() {
                        String::new()
                    } else {
                        format!(" · organizations {}", t.organizations.join(", "))
                    };
                    let used = match (t.last_used_at, &t.last_used_ip) {
                        (Some(at), Some(ip)) => format!("last used {} from {ip}", format_utc(at)),
                        (Some(at), None) => format!("last used {}", format_utc(at)),
                        _ => "never used".into(),
                    };
                    format!(
                        "{} · {} · {}{orgs} · made {} · {used}",
                        t.name,
                        t.hint,
                        t.scopes.join(" "),
                        format_utc(t.created_at)
                    )
                })
                .collect(),
            recent: d.recent.iter().map(super::audit::item).collect(),
        })
    })
    .await
}

/// One action on the account (see `backend::admin::actions::Action`); `session_id` and `confirm_email` are empty
/// unless the action needs them.
#[server(prefix = "/api", endpoint = "admin_user_action")]
pub async fn admin_user_action(
    id: String,
    action: String,
    session_id: String,
    confirm_email: String,
) -> Result<Done, AppError> {
    use crate::server_ctx::{fail, form, link_page, require_session, Outcome};
    use backend::admin::actions::{act, Action};
    let parsed = Action::parse(&action, &session_id, &confirm_email).ok_or_else(|| fail(AppError::NotFound))?;
    let notice = match parsed {
        Action::Lock => Notice::UserLocked,
        Action::Unlock => Notice::UserUnlocked,
        Action::RevokeSessions | Action::RevokeSession(_) => Notice::SessionsEnded,
        Action::SendPasswordReset => Notice::ResetSent,
        Action::RequirePasswordChange => Notice::PasswordChangeRequired,
        Action::ResetMfa => Notice::MfaReset,
        Action::ResendConfirmation => Notice::ConfirmationSent,
        Action::Delete { .. } => Notice::UserDeleted,
    };
    let deleted = matches!(parsed, Action::Delete { .. });
    form(&link_page("/admin/users", &id), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        act(&st, &ctx, &me, &id, parsed).await?;
        Ok(if deleted { Outcome::go("/admin/users", notice) } else { Outcome::stay(notice) })
    })
    .await
}

/// Starts impersonating the user: this browser's session becomes theirs (with the banner) until "stop", 30
/// minutes, or 15 idle. A plain form: the whole page reloads as the user.
#[server(prefix = "/api", endpoint = "admin_impersonate")]
pub async fn admin_impersonate(id: String) -> Result<Done, AppError> {
    use crate::server_ctx::{append_header, form, link_page, require_session, Outcome};
    use backend::{admin::impersonation, signin::sessions};
    form(&link_page("/admin/users", &id), &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let session = impersonation::start(&st, &ctx, &me, &id).await?;
        append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, Some(&session)));
        Ok(Outcome::go("/", None))
    })
    .await
}

/// Ends the impersonation: back to the admin's own session and the user's admin page (or to log in, if the admin's
/// session ended meanwhile).
#[server(prefix = "/api", endpoint = "stop_impersonating")]
pub async fn stop_impersonating() -> Result<Done, AppError> {
    use crate::server_ctx::{append_header, form, link_page, require_session, Outcome};
    use backend::{admin::impersonation, signin::sessions};
    form("/", &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        let (admin, user_id) = impersonation::stop(&st, &ctx, &me).await?;
        append_header(http::header::SET_COOKIE, &sessions::cookie(&st.config, admin.as_ref()));
        let next = match admin {
            Some(_) => link_page("/admin/users", &user_id),
            None => "/users/log-in".to_string(),
        };
        Ok(Outcome::go(next, Notice::ImpersonationStopped))
    })
    .await
}

#[component]
pub fn AdminUserPage() -> impl IntoView {
    admin_page(|flash| {
        let params = use_params_map();
        let id = move || params.with(|p| p.get("id").unwrap_or_default());
        let action = ServerAction::<AdminUserAction>::new();
        let data = Resource::new(move || (id(), action.version().get()), |(id, _)| admin_user(id));
        super::close_confirmations_after(move || action.version().get());
        let notice = Outcomes::new(&flash).follow(move || action.value().get()).notice();
        let error = form_error(move || action.value().get(), flash);
        view! {
            <section class="card wide admin-card" aria-labelledby="page-title">
                <h1 id="page-title">"User"</h1>
                <AdminNav current="/admin/users"/>
                <NoticeBanner notice/>
                <ErrorBanner error/>
                {loaded(data, move |u| view! { <UserView u action error/> })}
            </section>
        }
    })
}

#[component]
fn UserView(u: UserInfo, action: ServerAction<AdminUserAction>, error: Signal<Option<AppError>>) -> impl IntoView {
    let fact = |label: &'static str, value: String| view! { <div><dt>{label}</dt><dd>{value}</dd></div> };
    let yes_no = |b: bool| if b { "yes".to_string() } else { "no".to_string() };
    let status = match (&u.locked, &u.deletion, &u.password_paused_until) {
        (Some(at), _, _) => format!("Locked by an admin since {at}"),
        (None, Some(at), _) => format!("Deletion scheduled for {at}"),
        (None, None, Some(until)) => format!("Password log-in paused until {until}"),
        _ => "Active".to_string(),
    };
    let id = u.id.clone();
    let (id_impersonate, id_delete, id_sessions) = (id.clone(), id.clone(), id.clone());
    let email = u.email.clone();
    let locked = u.locked.is_some();
    let can_impersonate = !u.is_admin && !locked && u.deletion.is_none();
    view! {
        <h2 class="section-title">{u.email.clone()}</h2>
        <dl class="facts">
            {fact("Name", if u.name.is_empty() { "—".into() } else { u.name.clone() })}
            {fact("Status", status)}
            {fact("Admin", yes_no(u.is_admin))}
            {fact("Created", u.created.clone())}
            {fact("E-mail confirmed", u.confirmed.clone().unwrap_or_else(|| "not yet".into()))}
            {fact("Last sign-in", u.last_sign_in.clone().unwrap_or_else(|| "never".into()))}
            {fact("Password", match (u.has_password, u.password_change_required) {
                (false, _) => "none (signs in another way)".into(),
                (true, true) => "must be changed: it no longer signs in".into(),
                (true, false) => "set".into(),
            })}
            {fact("Authenticator app", yes_no(u.totp))}
            {fact("Backup codes left", u.backup_codes_left.to_string())}
            {fact("Passkeys", u.passkeys.to_string())}
        </dl>
        <h2 class="section-title">"Actions"</h2>
        <div class="admin-actions">
            {if locked {
                confirm(action, &id, "unlock", "Unlock…", "Unlock account", "The user can sign in again; a password lockout is lifted too. They get a mail.")
            } else {
                confirm(action, &id, "lock", "Lock…", "Lock account", "Every session and mailed link of the account ends at once and signing in is refused until you unlock it. The user gets a mail.")
            }}
            {confirm(action, &id, "revoke_sessions", "Sign out everywhere…", "End every session", "Every device of the user is signed out at its next request.")}
            {confirm(action, &id, "send_password_reset", "Send password reset…", "Mail a reset link", "The user gets a link to choose a new password. You never see or set it.")}
            {(u.has_password && !u.password_change_required).then(|| confirm(action, &id, "require_password_change", "Require a new password…", "Require a new password", "For a password that may be known to someone else: it stops signing in, every device is signed out, and the user is mailed how to choose a new one."))}
            {u.totp.then(|| confirm(action, &id, "reset_mfa", "Reset two-step…", "Remove two-step verification", "Removes the authenticator app, backup codes and trusted browsers (a user who lost their phone). They get a mail."))}
            {u.confirmed.is_none().then(|| confirm(action, &id, "resend_confirmation", "Resend confirmation…", "Send the confirmation mail again", "A new confirmation link and code go to the address."))}
            {can_impersonate
                .then(|| {
                    view! {
                        <details class="confirm">
                            <summary class="button button-secondary button-small">"Impersonate…"</summary>
                            <p>
                                "See the site as this user for up to 30 minutes (15 without activity). Their password, \
                                 e-mail, two-step verification, passkeys and deletion stay out of reach, and everything \
                                 you do is recorded with your name."
                            </p>
                            <form method="post" action="/api/admin_impersonate">
                                <input type="hidden" name="id" value=id_impersonate.clone()/>
                                <button type="submit" class="button">"Start impersonating"</button>
                            </form>
                        </details>
                    }
                })}
            <details class="confirm confirm-danger">
                <summary class="button button-danger button-small">"Delete…"</summary>
                <p>"Deletes the account and what it holds now, with no grace period. The user gets a mail."</p>
                <ActionForm action>
                    <input type="hidden" name="id" value=id_delete.clone()/>
                    <input type="hidden" name="action" value="delete"/>
                    <input type="hidden" name="session_id" value=""/>
                    <TextField label="Type the account's e-mail to confirm" name="confirm_email" kind="email" error required=true/>
                    <SubmitButton label="Delete account" pending_label="Deleting…" pending=action.pending() danger=true/>
                </ActionForm>
                <p class="muted">{format!("Account: {email}")}</p>
            </details>
        </div>
        <h2 class="section-title">{format!("Sessions ({})", u.sessions.len())}</h2>
        {if u.sessions.is_empty() {
            view! { <p class="muted">"No live session."</p> }.into_any()
        } else {
            view! {
                <ul class="session-list">
                    {u.sessions
                        .into_iter()
                        .map(|s| {
                            let label = format!("End session {} ({})", s.device, s.ip);
                            let id = id_sessions.clone();
                            view! {
                                <li class="session">
                                    <div>
                                        <p class="session-device">
                                            {s.device.clone()}
                                            {s.impersonation.then(|| view! { <span class="badge">"impersonation"</span> })}
                                        </p>
                                        <p class="muted session-meta">
                                            {format!("{} · signed in {} · last active {}", s.ip, s.created, s.last_active)}
                                        </p>
                                    </div>
                                    <details class="confirm">
                                        <summary class="button button-secondary button-small" aria-label=format!("{label}…")>
                                            "End…"
                                        </summary>
                                        <p>"This device is signed out at its next request."</p>
                                        <ActionForm action>
                                            <input type="hidden" name="id" value=id/>
                                            <input type="hidden" name="action" value="revoke_session"/>
                                            <input type="hidden" name="session_id" value=s.id.clone()/>
                                            <input type="hidden" name="confirm_email" value=""/>
                                            <button type="submit" class="button button-small" aria-label=label>
                                                "End session"
                                            </button>
                                        </ActionForm>
                                    </details>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }}
        <h2 class="section-title">"Sign-in providers"</h2>
        {if u.identities.is_empty() {
            view! { <p class="muted">"None linked."</p> }.into_any()
        } else {
            view! {
                <ul class="plain-list">
                    {u.identities
                        .into_iter()
                        .map(|(p, e, at)| view! { <li>{format!("{p} · {e} · linked {at}")}</li> })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }}
        <h2 class="section-title">"Organizations"</h2>
        {if u.organizations.is_empty() {
            view! { <p class="muted">"None."</p> }.into_any()
        } else {
            view! {
                <ul class="plain-list">
                    {u.organizations
                        .into_iter()
                        .map(|(name, slug, role)| view! { <li>{format!("{name} ({slug}) · {role}")}</li> })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }}
        <h2 class="section-title">"API tokens"</h2>
        {if u.api_tokens.is_empty() {
            view! { <p class="muted">"None."</p> }.into_any()
        } else {
            view! {
                <ul class="plain-list" aria-label="API tokens">
                    {u.api_tokens.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}
                </ul>
                <p class="hint">"Locking the account or requiring a new password revokes them all."</p>
            }
            .into_any()
        }}
        <h2 class="section-title">"Recent activity"</h2>
        <p>
            <a href=format!("/admin/audit?target={}", super::users::urlencoding(&u.email))>"All audit rows about this user"</a>
        </p>
        <super::audit::AuditTable rows=u.recent/>
    }
}

/// An action behind a disclosure: the summary opens an explanation and the button that does it.
fn confirm(
    action: ServerAction<AdminUserAction>,
    id: &str,
    name: &'static str,
    opener: &'static str,
    button: &'static str,
    explanation: &'static str,
) -> AnyView {
    let id = id.to_string();
    view! {
        <details class="confirm">
            <summary class="button button-secondary button-small">{opener}</summary>
            <p>{explanation}</p>
            <ActionForm action>
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="action" value=name/>
                <input type="hidden" name="session_id" value=""/>
                <input type="hidden" name="confirm_email" value=""/>
                <SubmitButton label=button pending_label="Working…" pending=action.pending()/>
            </ActionForm>
        </details>
    }
    .into_any()
}
