//! The admin console's mails: what an admin did to an account, told to its owner.
use serde::{Deserialize, Serialize};

use crate::{
    platform::{
        jobs::{Job, Registry},
        mail::mail,
    },
    signin::jobs::{send, user_email},
    AppState,
};

pub fn register(r: &mut Registry) {
    r.register::<AdminChanged>().register::<AccountDeletedByAdmin>();
}

/// What an admin did to an account, for [`AdminChanged`]. Queued jobs carry it: the names stay as they are.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AdminChange {
    Locked,
    Unlocked,
    MfaReset,
    /// The password no longer signs in (S5): the owner chooses a new one through a reset link.
    PasswordChangeRequired,
}

mail! {
    /// What an admin did to the account; `base`: the site's address, for the link the mail ends with (log in, or
    /// choose a new password).
    AdminChangedMail<'a> { change: AdminChange, base: &'a str }
    text: "admin/mails/admin_changed.txt", html: "admin/mails/admin_changed.html"
}

/// An admin locked or unlocked the account, reset its two-step verification, or made its password stop working.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdminChanged {
    pub user_id: String,
    pub change: AdminChange,
}

impl Job for AdminChanged {
    const NAME: &'static str = "admin_changed";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let (app, base) = (&st.config.app_name, &st.config.base_url);
        send(st, AdminChangedMail { app, change: self.change, base }.to(&email)).await
    }
}

mail! {
    /// "Your account was deleted" by an admin.
    AccountDeletedByAdminMail<'a> {}
    text: "admin/mails/account_deleted_by_admin.txt", html: "admin/mails/account_deleted_by_admin.html"
}

/// An admin deleted the account (the row is gone: the address it had is where the mail goes).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountDeletedByAdmin {
    pub email: String,
}

impl Job for AccountDeletedByAdmin {
    const NAME: &'static str = "account_deleted_by_admin";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        send(st, AccountDeletedByAdminMail { app: &st.config.app_name }.to(&self.email)).await
    }
}
