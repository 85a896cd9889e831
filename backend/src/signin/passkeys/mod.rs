//! Passkeys (WebAuthn, verified by `webauthn-rs`): add, list, rename, remove; passwordless sign-in (usernameless and
//! e-mail first), a second factor at `/users/mfa`, and a way to pass sudo.
//!
//! Every ceremony keeps its server half in `webauthn_ceremonies`: 5 minutes, taken (deleted) by the one request that
//! finishes it, so an answer can be checked once. Ceremonies of a signed-in user are bound to their session.
//! A passkey with user verification is two factors: its sign-in passes the MFA gate and opens the sudo window.
mod sign_in;
use crate::signin::jobs::PasskeyChanged;
use serde::{Deserialize, Serialize};
pub use sign_in::{finish_sign_in, start_for_user, start_sign_in, verify_for_user};
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Uuid,
    WebauthnError,
};
use webauthn_rs_proto::{AllowCredentials, ResidentKeyRequirement};

use crate::{
    platform::audit::{self, Event},
    platform::crypto::{new_id, random_token, token_digest},
    platform::db::Tx,
    platform::jobs,
    platform::request::{CurrentSession, RequestContext},
    signin::gate::{self, FirstFactor, SignIn},
    signin::sudo,
    AppState, Error, Unexpected,
};

/// Passkeys one account may hold.
pub const MAX_PASSKEYS: i64 = 10;
/// How long a ceremony waits for the browser's answer.
pub const CEREMONY_SECS: i64 = 300;
/// Longest passkey name kept.
const NAME_MAX: usize = 64;

/// What a ceremony is for; its state may only be finished by the same purpose.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Purpose {
    Register,
    SignIn,
    SecondFactor,
    Sudo,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
            Purpose::Sudo => "sudo",
        }
    }
}

/// The server's half of a ceremony, kept as JSON.
#[derive(Serialize, Deserialize)]
enum CeremonyState {
    Register(PasskeyRegistration),
    /// Usernameless: the browser's answer names the account.
    Discoverable(DiscoverableAuthentication),
    /// For one account's passkeys (e-mail first, second factor, sudo).
    Known {
        user_id: String,
        state: PasskeyAuthentication,
    },
    /// E-mail first for an address with no passkey: options that look real, an answer that never passes.
    Decoy,
}

/// The browser's token for a ceremony and the options to hand to `navigator.credentials`.
pub struct Ceremony<T> {
    pub token: String,
    pub options: T,
}

fn expired() -> Error {
    Error::Field("passkey", "That passkey request expired or was already used. Try again.".into())
}

fn not_accepted() -> Error {
    Error::Field("passkey", "That passkey was not accepted. Try again, or use another way to sign in.".into())
}

fn unreadable() -> Error {
    Error::Field("passkey", "Your browser's passkey answer could not be read. Try again.".into())
}

fn unexpected(e: impl std::fmt::Display) -> Error {
    Error::Unexpected(Unexpected(anyhow::anyhow!("webauthn: {e}")))
}

async fn begin(
    st: &AppState,
    purpose: Purpose,
    user_id: Option<&str>,
    session_id: Option<&str>,
    state: &CeremonyState,
) -> Result<String, Error> {
    let token = random_token();
    let now = st.clock.now();
    let state = serde_json::to_string(state).map_err(unexpected)?;
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, token_digest, purpose, user_id, session_id, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(token_digest(&token))
    .bind(purpose.as_str())
    .bind(user_id)
    .bind(session_id)
    .bind(state)
    .bind(now)
    .bind(now + CEREMONY_SECS)
    .execute(&st.db.pool)
    .await?;
    Ok(token)
}

/// Takes the ceremony (single use: the DELETE is the claim) if it is live, of `purpose`, and bound to `session_id`.
async fn take(st: &AppState, purpose: Purpose, token: &str, session_id: Option<&str>) -> Result<CeremonyState, Error> {
    let mut tx = st.db.begin().await?;
    let row: Option<(Option<String>, String)> = sqlx::query_as(
        "DELETE FROM webauthn_ceremonies WHERE token_digest = $1 AND purpose = $2 AND expires_at > $3 \
         RETURNING session_id, state",
    )
    .bind(token_digest(token))
    .bind(purpose.as_str())
    .bind(st.clock.now())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some((bound_to, state)) = row else { return Err(expired()) };
    if bound_to.as_deref() != session_id {
        return Err(expired());
    }
    serde_json::from_str(&state).map_err(unexpected)
}

/// A stored passkey of one user.
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Synced to other devices (a backed-up credential).
    pub synced: bool,
}

pub async fn list(st: &AppState, user_id: &str) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    let rows: Vec<(String, String, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT id, name, created_at, last_used_at, backup_state FROM passkeys WHERE user_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(&st.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, last_used_at, backup)| PasskeyRow {
            id,
            name,
            created_at,
            last_used_at,
            synced: backup != 0,
        })
        .collect())
}

pub async fn count(st: &AppState, user_id: &str) -> Result<i64, sqlx::Error> {
    count_with(&st.db.pool, user_id).await
}

/// [`count`], inside a transaction (the sign-in gate's).
pub async fn count_in(tx: &mut crate::platform::db::Tx, user_id: &str) -> Result<i64, sqlx::Error> {
    count_with(&mut **tx, user_id).await
}

async fn count_with<'e>(db: impl sqlx::Executor<'e, Database = sqlx::Any>, user_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1").bind(user_id).fetch_one(db).await?;
    Ok(n)
}

/// The user's passkeys as webauthn-rs reads them, with their credential ids.
async fn credentials(st: &AppState, user_id: &str) -> Result<Vec<Passkey>, Error> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT credential FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&st.db.pool)
        .await?;
    rows.into_iter().map(|(json,)| serde_json::from_str(&json).map_err(unexpected)).collect()
}

fn user_handle(user_id: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(user_id).map_err(unexpected)
}

fn b64(bytes: &[u8]) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------------------------
// Registration

/// Options for a new passkey: behind sudo, at most [`MAX_PASSKEYS`], the user's own passkeys excluded (an
/// authenticator that holds one says so instead of making a second), user verification required, a discoverable
/// credential preferred (so it can sign in without an e-mail).
pub async fn start_registration(
    st: &AppState,
    session: &CurrentSession,
) -> Result<Ceremony<CreationChallengeResponse>, Error> {
    sudo::require_confirmed(session)?;
    sudo::require(st, session)?;
    let existing = credentials(st, &session.user_id).await?;
    if existing.len() as i64 >= MAX_PASSKEYS {
        return Err(too_many());
    }
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let display = session.display_name.clone().unwrap_or_else(|| session.email.clone());
    let (mut options, state) = st
        .webauthn
        .start_passkey_registration(user_handle(&session.user_id)?, &session.email, &display, Some(exclude))
        .map_err(unexpected)?;
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Preferred);
    }
    let token = begin(
        st,
        Purpose::Register,
        Some(&session.user_id),
        Some(&session.session_id),
        &CeremonyState::Register(state),
    )
    .await?;
    Ok(Ceremony { token, options })
}

fn too_many() -> Error {
    Error::Field(
        "passkey",
        format!("You have {MAX_PASSKEYS} passkeys, the most one account can hold. Remove one first."),
    )
}

/// Checks the browser's new credential and keeps it. The name defaults to the authenticator's (from its AAGUID)
/// or the browser's.
pub async fn finish_registration(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    token: &str,
    credential: &str,
    name: Option<&str>,
    keep_others: bool,
) -> Result<(), Error> {
    sudo::require_confirmed(session)?;
    sudo::require(st, session)?;
    let credential: RegisterPublicKeyCredential = serde_json::from_str(credential).map_err(|_| unreadable())?;
    let CeremonyState::Register(state) = take(st, Purpose::Register, token, Some(&session.session_id)).await? else {
        return Err(expired());
    };
    let passkey = st.webauthn.finish_passkey_registration(&credential, &state).map_err(|e| {
        tracing::info!(request_id = %ctx.request_id, error = %e, "passkey registration refused");
        Error::Field(
            "passkey",
            "Your authenticator's answer did not check out, so nothing was saved. Try again.".into(),
        )
    })?;
    let aaguid = aaguid_of(&credential);
    let name = match name.map(clean_name).filter(|n| !n.is_empty()) {
        Some(n) => n,
        None => default_name(aaguid, ctx.user_agent.as_deref()),
    };
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(&session.user_id)
        .fetch_one(&mut *tx)
        .await?;
    if n >= MAX_PASSKEYS {
        return Err(too_many());
    }
    let credential_id = b64(passkey.cred_id());
    let (taken,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE credential_id = $1")
        .bind(&credential_id)
        .fetch_one(&mut *tx)
        .await?;
    if taken > 0 {
        return Err(Error::Field("passkey", "This passkey is already registered.".into()));
    }
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, credential, name, aaguid, sign_count, backup_eligible, \
         backup_state, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, $7)",
    )
    .bind(new_id())
    .bind(&session.user_id)
    .bind(&credential_id)
    .bind(serde_json::to_string(&passkey).map_err(unexpected)?)
    .bind(&name)
    .bind(aaguid.map(|a| a.to_string()))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    crate::signin::sessions::end_others_after_factor_change(&mut tx, session, keep_others).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("passkey.added", &session.user_id).detail(&name)).await?;
    let job = jobs::enqueue(&mut tx, st, PasskeyChanged { user_id: session.user_id.clone(), added: true }).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[job]).await;
    Ok(())
}

pub(crate) fn clean_name(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).collect::<String>().trim().chars().take(NAME_MAX).collect()
}

/// The authenticator model from the attestation's authenticator data (bytes 37..53 when credential data is
/// attached), if it names one.
fn aaguid_of(credential: &RegisterPublicKeyCredential) -> Option<Uuid> {
    let object: serde_cbor_2::Value = serde_cbor_2::from_slice(&credential.response.attestation_object).ok()?;
    let serde_cbor_2::Value::Map(map) = object else { return None };
    let auth_data = map.iter().find_map(|(k, v)| match (k, v) {
        (serde_cbor_2::Value::Text(k), serde_cbor_2::Value::Bytes(b)) if k == "authData" => Some(b),
        _ => None,
    })?;
    let has_credential_data = auth_data.get(32).is_some_and(|flags| flags & 0x40 != 0);
    let aaguid = Uuid::from_slice(auth_data.get(37..53)?).ok()?;
    (has_credential_data && !aaguid.is_nil()).then_some(aaguid)
}

/// Names of common passkey providers by AAGUID (from the community-maintained passkey-authenticator-aaguids list).
const KNOWN_AUTHENTICATORS: &[(&str, &str)] = &[
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("531126d6-e717-415c-9320-3d9aa6981239", "Dashlane"),
    ("53414d53-554e-4700-0000-000000000000", "Samsung Pass"),
];

fn default_name(aaguid: Option<Uuid>, user_agent: Option<&str>) -> String {
    let known = aaguid.and_then(|a| {
        let a = a.to_string();
        KNOWN_AUTHENTICATORS.iter().find(|(id, _)| *id == a).map(|(_, name)| (*name).to_string())
    });
    known.unwrap_or_else(|| format!("Passkey on {}", crate::account::devices::describe(user_agent)))
}

// ---------------------------------------------------------------------------------------------------------------
// Managing

/// Renames one of the user's passkeys (another user's id is "not found").
pub async fn rename(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    id: &str,
    name: &str,
) -> Result<(), Error> {
    sudo::not_impersonating(session)?;
    let name = clean_name(name);
    if name.is_empty() {
        return Err(Error::Field("name", "Give the passkey a name.".into()));
    }
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
        .bind(&name)
        .bind(id)
        .bind(&session.user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(Error::NotFound);
    }
    audit::record(&mut tx, ctx, now, Event::by_user("passkey.renamed", &session.user_id).detail(&name)).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes one of the user's passkeys (behind sudo; another user's id is "not found"). Refused when it is the
/// account's last way to sign in (no password, no other passkey). It stops working at once.
pub async fn remove(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    id: &str,
    keep_others: bool,
) -> Result<(), Error> {
    let method = crate::signin::accounts::SignInMethod {
        table: "passkeys",
        label: "name",
        audit: "passkey.removed",
        field: "passkey",
        last_way: "This passkey is the only way to sign in to your account. Set a password or add another passkey \
                   first.",
    };
    crate::signin::accounts::remove_sign_in_method(st, ctx, session, &method, id, keep_others, |_| {
        PasskeyChanged { user_id: session.user_id.clone(), added: false }.into()
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------------
// Sign-in

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkey_names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(clean_name("  Work laptop\n"), "Work laptop");
        assert_eq!(clean_name(&"x".repeat(100)).chars().count(), NAME_MAX);
        assert_eq!(clean_name("a\u{7}b"), "ab");
    }

    #[test]
    fn default_names_come_from_the_aaguid_or_the_browser() {
        let icloud = Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").ok();
        assert_eq!(default_name(icloud, None), "iCloud Keychain");
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(default_name(None, Some(ua)), "Passkey on Chrome on Linux");
    }
}
