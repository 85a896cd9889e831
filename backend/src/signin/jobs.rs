//! The sign-in core's jobs: the mails it sends (each composed when the job runs, from the account as it is then),
//! and the helpers every feature's mail jobs use to find the address and make the link a mail carries.
use serde::{Deserialize, Serialize};

use crate::{
    platform::{
        db::DbKind,
        jobs::{Job, Registry},
        mail::OutgoingMail,
    },
    signin::tokens::{self, Purpose},
    AppState,
};

use super::mails::{
    AccountLockedMail, AlreadyRegisteredMail, BackupCodeUsedMail, ConfirmEmailMail, IdentityChangedMail, MagicLinkMail,
    MfaChangedMail, MfaLockedMail, NewDeviceMail, PasskeyChangedMail, PasswordChangedMail, PasswordResetMail,
    SignsInWithProviderMail,
};

pub fn register(r: &mut Registry) {
    r.register::<ConfirmEmail>()
        .register::<AlreadyRegistered>()
        .register::<AccountLocked>()
        .register::<PasswordReset>()
        .register::<PasswordChanged>()
        .register::<MagicLink>()
        .register::<NewDeviceSignIn>()
        .register::<MfaChanged>()
        .register::<IdentityChanged>()
        .register::<PasskeyChanged>()
        .register::<BackupCodeUsed>()
        .register::<MfaLocked>();
}

/// Sends `mail`, as its templates rendered it (a job's last step).
pub(crate) async fn send(st: &AppState, mail: askama::Result<OutgoingMail>) -> Result<(), String> {
    let mail = mail.map_err(|e| format!("mail could not be rendered: {e}"))?;
    st.mailer.send(mail).await.map_err(|e| e.to_string())
}

/// The account's address; `None` when the account is gone (or, with `only_unconfirmed`, already confirmed).
pub(crate) async fn user_email(st: &AppState, user_id: &str, only_unconfirmed: bool) -> Result<Option<String>, String> {
    let row: Option<(String, Option<i64>)> = sqlx::query_as("SELECT email, confirmed_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.filter(|(_, c)| !(only_unconfirmed && c.is_some())).map(|(e, _)| e))
}

/// Makes the token (and code) a mail carries, in its own transaction, at the moment the mail is sent.
pub(crate) async fn issue_link(
    st: &AppState,
    user_id: &str,
    email: &str,
    purpose: Purpose,
    with_code: bool,
) -> Result<tokens::Issued, String> {
    let mut tx = st.db.begin().await.map_err(|e| e.to_string())?;
    let key = st.config.secret_key.expose();
    let issued = tokens::issue(&mut tx, key, user_id, email, purpose, with_code, st.clock.now())
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(issued)
}

/// The link for an e-mail change to `email`, made only while the account still waits on that address. The check
/// and the token are one transaction holding the account's row, so a request that replaces the address either
/// comes first (no link) or revokes the link it finds.
pub(crate) async fn issue_change_link(
    st: &AppState,
    user_id: &str,
    email: &str,
) -> Result<Option<tokens::Issued>, String> {
    let err = |e: sqlx::Error| e.to_string();
    let mut tx = st.db.begin().await.map_err(err)?;
    let lock = if st.db.kind == DbKind::Postgres { " FOR UPDATE" } else { "" };
    let pending: Option<(Option<String>,)> =
        sqlx::query_as(&format!("SELECT pending_email FROM users WHERE id = $1{lock}"))
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
    if pending.and_then(|(p,)| p).as_deref() != Some(email) {
        return Ok(None);
    }
    let key = st.config.secret_key.expose();
    let issued =
        tokens::issue(&mut tx, key, user_id, email, Purpose::ChangeEmail, false, st.clock.now()).await.map_err(err)?;
    tx.commit().await.map_err(err)?;
    Ok(Some(issued))
}

/// For an account without a password: the names of the providers it signs in with (empty when it has a password).
async fn provider_only(st: &AppState, user_id: &str) -> Result<Vec<String>, String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT i.provider FROM user_identities i JOIN users u ON u.id = i.user_id \
         WHERE u.id = $1 AND u.password_hash IS NULL ORDER BY i.created_at",
    )
    .bind(user_id)
    .fetch_all(&st.db.pool)
    .await
    .map_err(|e| e.to_string())?;
    Ok(rows.into_iter().map(|(p,)| st.config.oauth_provider(&p).map(|c| c.name.clone()).unwrap_or(p)).collect())
}

/// Confirmation link and code to the user's address; the token is made when the job runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfirmEmail {
    pub user_id: String,
}

impl Job for ConfirmEmail {
    const NAME: &'static str = "confirm_email";
    fn makes_link_for(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, true).await? else {
            return Ok(()); // confirmed or deleted meanwhile: nothing to send
        };
        let issued = issue_link(st, &self.user_id, &email, Purpose::Confirm, true).await?;
        let link = format!("{}/users/confirm/{}", st.config.base_url, issued.token);
        let code = issued.code.as_deref().unwrap_or_default();
        send(st, ConfirmEmailMail { app: &st.config.app_name, link: &link, code }.to(&email)).await
    }
}

/// "Someone tried to register with your e-mail" to an existing account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AlreadyRegistered {
    pub user_id: String,
}

impl Job for AlreadyRegistered {
    const NAME: &'static str = "already_registered";
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let log_in = format!("{}/users/log-in", st.config.base_url);
        send(st, AlreadyRegisteredMail { app: &st.config.app_name, log_in: &log_in }.to(&email)).await
    }
}

/// Password log in was paused after repeated failures; `until_reset`: the pause ends only by a mailed link.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountLocked {
    pub user_id: String,
    #[serde(default)]
    pub until_reset: bool,
}

impl Job for AccountLocked {
    const NAME: &'static str = "account_locked";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let minutes = (!self.until_reset).then_some(crate::signin::attempts::PAUSE_SECS / 60);
        let reset = format!("{}/users/reset-password", st.config.base_url);
        send(st, AccountLockedMail { app: &st.config.app_name, minutes, reset: &reset }.to(&email)).await
    }
}

/// A password-reset link (the token is made when the job runs); an account without a password is told how it
/// signs in instead.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PasswordReset {
    pub user_id: String,
}

impl Job for PasswordReset {
    const NAME: &'static str = "password_reset";
    fn makes_link_for(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let (app, base) = (&st.config.app_name, &st.config.base_url);
        let providers = provider_only(st, &self.user_id).await?;
        let mail = if providers.is_empty() {
            let issued = issue_link(st, &self.user_id, &email, Purpose::ResetPassword, false).await?;
            let link = format!("{base}/users/reset-password/{}", issued.token);
            PasswordResetMail { app, link: &link }.to(&email)
        } else {
            // No password to reset: say how this account signs in.
            let (providers, log_in) = (providers.join(" or "), format!("{base}/users/log-in"));
            SignsInWithProviderMail { app, providers: &providers, log_in: &log_in }.to(&email)
        };
        send(st, mail).await
    }
}

/// "Your password was changed" notice.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PasswordChanged {
    pub user_id: String,
}

impl Job for PasswordChanged {
    const NAME: &'static str = "password_changed";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let reset = format!("{}/users/reset-password", st.config.base_url);
        send(st, PasswordChangedMail { app: &st.config.app_name, reset: &reset }.to(&email)).await
    }
}

/// A one-time sign-in link (the token is made when the job runs), which comes back to `return_to` (a page on this
/// site, checked again when the link is used).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MagicLink {
    pub user_id: String,
    #[serde(default)]
    pub return_to: Option<String>,
}

impl Job for MagicLink {
    const NAME: &'static str = "magic_link";
    fn makes_link_for(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let issued = issue_link(st, &self.user_id, &email, Purpose::MagicLink, false).await?;
        let link = format!("{}/users/log-in/{}", st.config.base_url, issued.token);
        let link = domain::validation::with_return_to(&link, self.return_to.as_deref().unwrap_or(""));
        send(st, MagicLinkMail { app: &st.config.app_name, link: &link }.to(&email)).await
    }
}

/// "New sign-in to your account" from a browser not seen before.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewDeviceSignIn {
    pub user_id: String,
    pub session_id: String,
}

impl Job for NewDeviceSignIn {
    const NAME: &'static str = "new_device_sign_in";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let row: Option<(Option<String>, Option<String>, i64)> =
            sqlx::query_as("SELECT ip, user_agent, created_at FROM sessions WHERE id = $1")
                .bind(&self.session_id)
                .fetch_optional(&st.db.pool)
                .await
                .map_err(|e| e.to_string())?;
        let (device, ip, when) = match row {
            Some((ip, ua, at)) => {
                (crate::account::devices::describe(ua.as_deref()), ip.unwrap_or_default(), crate::format_utc(at))
            }
            None => ("a new device".to_string(), String::new(), crate::format_utc(st.clock.now())),
        };
        let sessions = format!("{}/users/sessions", st.config.base_url);
        let app = &st.config.app_name;
        send(st, NewDeviceMail { app, device: &device, ip: &ip, when: &when, sessions: &sessions }.to(&email)).await
    }
}

/// Two-step verification was turned on or off.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MfaChanged {
    pub user_id: String,
    pub enabled: bool,
}

impl Job for MfaChanged {
    const NAME: &'static str = "mfa_changed";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let page = format!("{}{}", st.config.base_url, domain::pages::SECURITY);
        send(st, MfaChangedMail { app: &st.config.app_name, enabled: self.enabled, security: &page }.to(&email)).await
    }
}

/// A sign-in provider was linked to the account or unlinked from it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdentityChanged {
    pub user_id: String,
    pub provider: String,
    pub linked: bool,
}

impl Job for IdentityChanged {
    const NAME: &'static str = "identity_changed";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let name =
            st.config.oauth_provider(&self.provider).map(|p| p.name.clone()).unwrap_or_else(|| self.provider.clone());
        let page = format!("{}/users/settings/connections", st.config.base_url);
        let (app, linked) = (&st.config.app_name, self.linked);
        send(st, IdentityChangedMail { app, provider: &name, linked, connections: &page }.to(&email)).await
    }
}

/// A passkey was added to the account or removed from it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PasskeyChanged {
    pub user_id: String,
    pub added: bool,
}

impl Job for PasskeyChanged {
    const NAME: &'static str = "passkey_changed";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let page = format!("{}{}", st.config.base_url, domain::pages::SECURITY);
        send(st, PasskeyChangedMail { app: &st.config.app_name, added: self.added, security: &page }.to(&email)).await
    }
}

/// A backup code was used (with the count left).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupCodeUsed {
    pub user_id: String,
}

impl Job for BackupCodeUsed {
    const NAME: &'static str = "backup_code_used";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let (left,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(&self.user_id)
                .fetch_one(&st.db.pool)
                .await
                .map_err(|e| e.to_string())?;
        let page = format!("{}{}", st.config.base_url, domain::pages::SECURITY);
        send(st, BackupCodeUsedMail { app: &st.config.app_name, left, security: &page }.to(&email)).await
    }
}

/// Too many wrong second-factor codes: codes are refused for a while (`until_reset`: until a mailed link).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MfaLocked {
    pub user_id: String,
    #[serde(default)]
    pub until_reset: bool,
}

impl Job for MfaLocked {
    const NAME: &'static str = "mfa_locked";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let minutes = (!self.until_reset).then_some(crate::signin::attempts::PAUSE_SECS / 60);
        let reset = format!("{}/users/reset-password", st.config.base_url);
        send(st, MfaLockedMail { app: &st.config.app_name, minutes, reset: &reset }.to(&email)).await
    }
}
