//! E-mailed tokens: random, single use, bound to one purpose, one address and a lifetime. Only digests are stored.
use crate::{
    platform::crypto::{digest_eq, keyed_digest, new_id, random_code6, random_token, token_digest},
    platform::db::Tx,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    ResetPassword,
    MagicLink,
    /// Sent to the new address of an e-mail change.
    ChangeEmail,
    /// Sent to the old address with the notice of an e-mail change.
    CancelEmailChange,
    /// Sent with the notice of a scheduled account deletion: keeps the account.
    CancelDeletion,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::ResetPassword => "reset_password",
            Purpose::MagicLink => "magic_link",
            Purpose::ChangeEmail => "change_email",
            Purpose::CancelEmailChange => "cancel_email_change",
            Purpose::CancelDeletion => "cancel_deletion",
        }
    }

    /// Validity per purpose (FEATURES.md defaults).
    pub fn lifetime_secs(self) -> i64 {
        match self {
            Purpose::Confirm => 48 * 3600,
            Purpose::ResetPassword => 3600,
            Purpose::MagicLink => 10 * 60,
            Purpose::ChangeEmail | Purpose::CancelEmailChange => 24 * 3600,
            Purpose::CancelDeletion => crate::account::settings::DELETION_GRACE_SECS,
        }
    }
}

/// Wrong codes allowed against one token before it dies.
pub const MAX_CODE_ATTEMPTS: i64 = 5;

/// The clear token (and code), to put in one mail and then forget.
pub struct Issued {
    pub token: String,
    pub code: Option<String>,
}

pub async fn issue(
    tx: &mut Tx,
    key: &[u8],
    user_id: &str,
    sent_to: &str,
    purpose: Purpose,
    with_code: bool,
    now: i64,
) -> Result<Issued, sqlx::Error> {
    if with_code {
        // One live code per purpose: a resend replaces the earlier mail's link and code, so resends do not multiply
        // what a guess can match (L11).
        revoke_all(tx, user_id, purpose, now).await?;
    }
    let id = new_id();
    let token = random_token();
    let code = with_code.then(random_code6);
    let code_digest = code.as_ref().map(|c| keyed_digest(key, &[purpose.as_str(), &id, c]));
    sqlx::query(
        "INSERT INTO user_tokens (id, user_id, purpose, token_digest, code_digest, sent_to, attempts, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(token_digest(&token))
    .bind(code_digest)
    .bind(sent_to)
    .bind(now)
    .bind(now + purpose.lifetime_secs())
    .execute(&mut **tx)
    .await?;
    Ok(Issued { token, code })
}

/// A live token: unused, unexpired, for this purpose.
#[derive(Debug, sqlx::FromRow)]
pub struct Live {
    pub id: String,
    pub user_id: String,
    pub sent_to: String,
}

/// Finds the live token behind a link, without using it (a GET must never consume a token).
pub async fn find_by_link(
    db: &sqlx::AnyPool,
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<Live>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, sent_to FROM user_tokens \
         WHERE token_digest = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 AND attempts < $4",
    )
    .bind(token_digest(token))
    .bind(purpose.as_str())
    .bind(now)
    .bind(MAX_CODE_ATTEMPTS)
    .fetch_optional(db)
    .await
}

/// Marks the token used. False when another request used it first: single use holds under races.
pub async fn consume(tx: &mut Tx, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE user_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends every live token of this purpose for the user (after one was used, or a new one replaced them).
pub async fn revoke_all(tx: &mut Tx, user_id: &str, purpose: Purpose, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE user_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
        .bind(now)
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ends every live token of the user, whatever its purpose (account deletion).
pub async fn revoke_every_purpose(tx: &mut Tx, user_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE user_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Checks a typed code against the user's live tokens. The attempt is claimed first, by one UPDATE that counts it
/// against every live token and returns those still under [`MAX_CODE_ATTEMPTS`]; only then are the codes compared.
/// So concurrent guesses never get more than the allowance, on either database.
pub async fn match_code(
    tx: &mut Tx,
    key: &[u8],
    user_id: &str,
    purpose: Purpose,
    code: &str,
    now: i64,
) -> Result<Option<Live>, sqlx::Error> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "UPDATE user_tokens SET attempts = attempts + 1 \
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 AND attempts < $4 \
         RETURNING id, user_id, sent_to, code_digest",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now)
    .bind(MAX_CODE_ATTEMPTS)
    .fetch_all(&mut **tx)
    .await?;
    let mut found = None;
    for (id, user_id, sent_to, stored) in rows {
        let Some(stored) = stored else { continue };
        if digest_eq(&stored, &keyed_digest(key, &[purpose.as_str(), &id, code])) && found.is_none() {
            found = Some(Live { id, user_id, sent_to });
        }
    }
    Ok(found)
}
