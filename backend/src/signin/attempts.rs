//! Claims before work: an attempt at a guessable secret (a password, a TOTP or backup code) is counted against the
//! account *before* it is checked, by one conditional `UPDATE … RETURNING` that both databases run atomically (a
//! single statement on SQLite's one writer; a row lock on PostgreSQL, where a waiting UPDATE re-reads the row and
//! re-checks its `WHERE`). So however many requests arrive at once, at most [`PAUSE_AFTER`] are checked against the
//! real secret before a pause starts; the rest see the pause and are answered without a check. A success resets the
//! counters.
//!
//! Pauses escalate: the [`ESCALATE_AFTER`]th pause in a row (no success in between) does not end by itself. Only a
//! mailed link (a password reset or a sign-in link, which prove the mailbox) lifts it, so an attacker can delay a
//! user but never lock them out.
use crate::platform::db::Tx;

/// Attempts counted before a pause, and how long a pause lasts.
pub const PAUSE_AFTER: i64 = 5;
pub const PAUSE_SECS: i64 = 15 * 60;
/// The pause (counted since the last success) that no longer ends by itself.
pub const ESCALATE_AFTER: i64 = 3;
/// The end of a pause that only a mailed link lifts (the year 9999).
pub const UNTIL_RESET: i64 = 253_402_300_799;

/// The counters of one kind of secret on the user row.
pub struct Counter {
    failures: &'static str,
    until: &'static str,
    pauses: &'static str,
}

pub const PASSWORD: Counter = Counter { failures: "failed_logins", until: "locked_until", pauses: "login_pauses" };
pub const SECOND_FACTOR: Counter =
    Counter { failures: "mfa_failures", until: "mfa_locked_until", pauses: "mfa_pauses" };

/// What a claim got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The attempt may be checked. `pause` is set when this attempt used up the allowance: the pause has started,
    /// and if the attempt fails its caller audits and mails it (once per pause). `escalated`: it does not end by
    /// itself.
    Granted { pause: Option<Pause> },
    /// A pause holds: answer without checking.
    Paused,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    pub escalated: bool,
}

/// Claims one attempt for `user_id` on its own (committed at once, so a failure of what follows still counts).
pub async fn claim(db: &sqlx::AnyPool, counter: &Counter, user_id: &str, now: i64) -> Result<Claim, sqlx::Error> {
    let Counter { failures: f, until: u, pauses: p } = counter;
    // A pause that has ended starts the count again; the attempt that reaches the allowance starts the next pause.
    let next = format!("(CASE WHEN {u} IS NULL THEN {f} + 1 ELSE 1 END)");
    let sql = format!(
        "UPDATE users SET {f} = {next}, \
           {u} = CASE WHEN {next} >= $3 THEN (CASE WHEN {p} + 1 >= $4 THEN $5 ELSE $6 END) ELSE NULL END, \
           {p} = CASE WHEN {next} >= $3 THEN {p} + 1 ELSE {p} END \
         WHERE id = $1 AND ({u} IS NULL OR {u} <= $2) \
         RETURNING {u}"
    );
    let row: Option<(Option<i64>,)> = sqlx::query_as(&sql)
        .bind(user_id)
        .bind(now)
        .bind(PAUSE_AFTER)
        .bind(ESCALATE_AFTER)
        .bind(UNTIL_RESET)
        .bind(now + PAUSE_SECS)
        .fetch_optional(db)
        .await?;
    Ok(match row {
        None => Claim::Paused,
        Some((until,)) => Claim::Granted { pause: until.map(|until| Pause { escalated: until == UNTIL_RESET }) },
    })
}

impl Counter {
    /// The `SET` assignments that start the count, the pause and the run of pauses again after a success (for an
    /// UPDATE that may change other columns of the row too).
    pub fn reset_assignments(&self) -> String {
        let Counter { failures: f, until: u, pauses: p } = self;
        format!("{f} = 0, {u} = NULL, {p} = 0")
    }
}

/// The attempt succeeded: the count, the pause and the run of pauses start again.
pub async fn succeeded(tx: &mut Tx, counter: &Counter, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("UPDATE users SET {} WHERE id = $1", counter.reset_assignments()))
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
