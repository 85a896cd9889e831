//! Backup codes: ten one-time codes, stored as keyed digests, shown once.
use super::*;

/// New backup codes (the old ones stop working): needs sudo and a current TOTP code.
pub async fn regenerate_backup_codes(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    code: &str,
) -> Result<Vec<String>, Error> {
    sudo::require(st, session)?;
    let code = normalize_code(code);
    if code.len() != 6 {
        return Err(Error::Field("code", "Enter the 6-digit code from your authenticator app.".into()));
    }
    require_code(st, ctx, &session.user_id, &code).await?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let codes = replace_backup_codes(&mut tx, st, &session.user_id, now).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("mfa.backup_codes_regenerated", &session.user_id)).await?;
    tx.commit().await?;
    Ok(codes)
}
/// 24 base32 characters (120 bits), shown in groups of four.
fn new_backup_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let raw: String = (0..24).map(|_| ALPHABET[OsRng.gen_range(0..32)] as char).collect();
    raw.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect::<Vec<_>>().join("-")
}

/// Codes as typed: case, spaces and dashes do not matter.
pub fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}

pub(super) fn backup_digest(st: &AppState, user_id: &str, normalized: &str) -> String {
    keyed_digest(st.config.secret_key.expose(), &["backup_code", user_id, normalized])
}

/// Replaces the user's backup codes; the new ones wait, encrypted, for the security page to show them once.
pub(super) async fn replace_backup_codes(
    tx: &mut Tx,
    st: &AppState,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    let codes: Vec<String> = (0..BACKUP_CODE_COUNT).map(|_| new_backup_code()).collect();
    for code in &codes {
        sqlx::query("INSERT INTO backup_codes (id, user_id, code_digest, created_at) VALUES ($1, $2, $3, $4)")
            .bind(new_id())
            .bind(user_id)
            .bind(backup_digest(st, user_id, &normalize_code(code)))
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    let to_show = st.config.data_keys.encrypt(&serde_json::to_vec(&codes).expect("strings serialize"), user_id);
    sqlx::query("UPDATE user_totp SET codes_to_show = $1, codes_to_show_until = $2 WHERE user_id = $3")
        .bind(to_show)
        .bind(now + CODES_SHOWN_SECS)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(codes)
}
