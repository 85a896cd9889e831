//! The account's jobs: the mails of an e-mail change and of a scheduled deletion, and the deletion itself.
use serde::{Deserialize, Serialize};

use crate::{
    platform::{
        jobs::{Job, Registry},
        mail::mail,
    },
    signin::{
        jobs::{issue_change_link, issue_link, send, user_email},
        tokens::Purpose,
    },
    AppState,
};

pub fn register(r: &mut Registry) {
    r.register::<EmailChangeConfirm>()
        .register::<EmailChangeNotice>()
        .register::<EmailChanged>()
        .register::<AccountDeletionScheduled>()
        .register::<DeleteAccount>();
}

/// The account's address and the address its e-mail change waits on.
async fn pending_change(st: &AppState, user_id: &str) -> Result<Option<(String, Option<String>)>, String> {
    sqlx::query_as("SELECT email, pending_email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(|e| e.to_string())
}

mail! {
    /// To the new address of an e-mail change, when it already has an account: someone tried (no link is made).
    EmailInUseMail<'a> { log_in: &'a str }
    text: "account/mails/email_in_use.txt", html: "account/mails/email_in_use.html"
}

mail! {
    /// The link that confirms an e-mail change, to the new address.
    EmailChangeConfirmMail<'a> { link: &'a str }
    text: "account/mails/email_change_confirm.txt", html: "account/mails/email_change_confirm.html"
}

/// The link to the new address of an e-mail change. The job carries the address it was asked for: a request made a
/// moment later replaces the pending address, and must not decide what this one's address hears. (Jobs queued
/// before the field existed read the pending address.)
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmailChangeConfirm {
    pub user_id: String,
    #[serde(default)]
    pub new_email: Option<String>,
}

impl Job for EmailChangeConfirm {
    const NAME: &'static str = "email_change_confirm";
    fn makes_link_for(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let (app, base) = (&st.config.app_name, &st.config.base_url);
        let pending = pending_change(st, &self.user_id).await?.and_then(|(_, p)| p);
        let Some(new_email) = self.new_email.clone().or(pending) else { return Ok(()) };
        let (taken,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = $1")
            .bind(&new_email)
            .fetch_one(&st.db.pool)
            .await
            .map_err(|e| e.to_string())?;
        if taken > 0 {
            // The address has an account: its owner hears that someone tried, and no link is made.
            let log_in = format!("{base}/users/log-in");
            return send(st, EmailInUseMail { app, log_in: &log_in }.to(&new_email)).await;
        }
        let Some(issued) = issue_change_link(st, &self.user_id, &new_email).await? else {
            // A later request (or a cancel) replaced this one: its address gets no link.
            return Ok(());
        };
        let link = format!("{base}/users/settings/email/{}", issued.token);
        send(st, EmailChangeConfirmMail { app, link: &link }.to(&new_email)).await
    }
}

mail! {
    /// To the current address of an e-mail change: the address asked for, and the link that cancels the change.
    EmailChangeNoticeMail<'a> { new_email: &'a str, cancel: &'a str }
    text: "account/mails/email_change_notice.txt", html: "account/mails/email_change_notice.html"
}

/// The notice, with a cancel link, to the current address of an e-mail change.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmailChangeNotice {
    pub user_id: String,
}

impl Job for EmailChangeNotice {
    const NAME: &'static str = "email_change_notice";
    const PROTECTED: bool = true;
    fn makes_link_for(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some((email, Some(new_email))) = pending_change(st, &self.user_id).await? else { return Ok(()) };
        let issued = issue_link(st, &self.user_id, &email, Purpose::CancelEmailChange, false).await?;
        let cancel = format!("{}/users/settings/email/cancel/{}", st.config.base_url, issued.token);
        let app = &st.config.app_name;
        send(st, EmailChangeNoticeMail { app, new_email: &new_email, cancel: &cancel }.to(&email)).await
    }
}

mail! {
    /// "Your e-mail was changed" (to `new_email`), to the old address.
    EmailChangedMail<'a> { new_email: &'a str }
    text: "account/mails/email_changed.txt", html: "account/mails/email_changed.html"
}

/// "Your e-mail was changed" to the address the account had before (not a secret; it is where the mail goes).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmailChanged {
    pub user_id: String,
    pub old_email: String,
}

impl Job for EmailChanged {
    const NAME: &'static str = "email_changed";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        send(st, EmailChangedMail { app: &st.config.app_name, new_email: &email }.to(&self.old_email)).await
    }
}

mail! {
    /// "Your account will be deleted in `days` days", with the link that keeps it.
    DeletionScheduledMail<'a> { days: i64, keep: &'a str }
    text: "account/mails/deletion_scheduled.txt", html: "account/mails/deletion_scheduled.html"
}

/// "Your account will be deleted" with the link that keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountDeletionScheduled {
    pub user_id: String,
}

impl Job for AccountDeletionScheduled {
    const NAME: &'static str = "account_deletion_scheduled";
    const PROTECTED: bool = true;
    fn makes_link_for(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let issued = issue_link(st, &self.user_id, &email, Purpose::CancelDeletion, false).await?;
        let days = super::settings::DELETION_GRACE_SECS / 86400;
        let keep = format!("{}/users/settings/delete/cancel/{}", st.config.base_url, issued.token);
        send(st, DeletionScheduledMail { app: &st.config.app_name, days, keep: &keep }.to(&email)).await
    }
}

/// Removes an account whose deletion grace period has ended (does nothing if the owner cancelled).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeleteAccount {
    pub user_id: String,
}

impl Job for DeleteAccount {
    const NAME: &'static str = "delete_account";
    const KIND: &'static str = "account";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        super::settings::delete_if_due(st, &self.user_id).await.map_err(|e| e.to_string())
    }
}
