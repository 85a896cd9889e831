//! The API's mails: a personal access token was made.
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
    r.register::<ApiTokenCreated>();
}

/// The tokens page, where a token is revoked.
pub const TOKENS_PAGE: &str = "/users/settings/api-tokens";

mail! {
    /// "A personal access token named `name` was made", with the page that revokes it.
    ApiTokenCreatedMail<'a> { name: &'a str, tokens: &'a str }
    text: "api/mails/token_created.txt", html: "api/mails/token_created.html"
}

/// A token was made on the account: its owner hears of it, in case it was not them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiTokenCreated {
    pub user_id: String,
    pub name: String,
}

impl Job for ApiTokenCreated {
    const NAME: &'static str = "api_token_created";
    const PROTECTED: bool = true;
    async fn run(&self, st: &AppState) -> Result<(), String> {
        let Some(email) = user_email(st, &self.user_id, false).await? else { return Ok(()) };
        let page = format!("{}{TOKENS_PAGE}", st.config.base_url);
        send(st, ApiTokenCreatedMail { app: &st.config.app_name, name: &self.name, tokens: &page }.to(&email)).await
    }
}
