//! Key rotation for what two-step verification keeps at rest: `portcullis keys reseal`.
use crate::AppState;

/// What [`reseal_all`] did, value by value.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Sealed again under the newest key.
    pub sealed: usize,
    /// Already under the newest key.
    pub current: usize,
    /// Opened by no listed key: left as they were.
    pub failed: usize,
}

/// Seals every secret two-step verification keeps at rest (TOTP seeds, backup codes waiting to be shown) again
/// under the newest data key, so the keys after it can be dropped from `DATA_ENCRYPTION_KEYS`. Each update applies
/// only while the value is still the one read, so a change made meanwhile (a new enrolment) is kept.
pub async fn reseal_all(st: &AppState) -> Result<Resealed, sqlx::Error> {
    let keys = &st.config.data_keys;
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT user_id, secret_enc, codes_to_show FROM user_totp").fetch_all(&st.db.pool).await?;
    let mut done = Resealed::default();
    for (user_id, secret, codes) in rows {
        for (column, stored) in [("secret_enc", Some(secret)), ("codes_to_show", codes)] {
            let Some(stored) = stored else { continue };
            match keys.reseal(&stored, &user_id) {
                Ok(None) => done.current += 1,
                Ok(Some(sealed)) => {
                    sqlx::query(&format!("UPDATE user_totp SET {column} = $1 WHERE user_id = $2 AND {column} = $3"))
                        .bind(sealed)
                        .bind(&user_id)
                        .bind(&stored)
                        .execute(&st.db.pool)
                        .await?;
                    done.sealed += 1;
                }
                Err(e) => {
                    tracing::warn!(user_id, column, error = %e, "a value no listed data key opens");
                    done.failed += 1;
                }
            }
        }
    }
    Ok(done)
}
