//! The admin console's mails: what an admin did to an account, told to its owner.
use serde::{Deserialize, Serialize};

use crate::{
    platform::{
        jobs::{Job, Registry},
        mail::templates::{self, AdminChange},
    },
    signin::jobs::{send, user_email},
    AppState,
};

pub fn register(r: &mut Registry) {
    r.register::<AdminChanged>().register::<AccountDeletedByAdmin>();
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
        send(st, templates::admin_changed(&st.config.app_name, &email, self.change, &st.config.base_url)).await
    }
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
        send(st, templates::account_deleted_by_admin(&st.config.app_name, &self.email)).await
    }
}
