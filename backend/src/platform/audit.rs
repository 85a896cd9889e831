//! Security events. Written inside the transaction of the change they record, so neither exists without the other.
use crate::{platform::crypto::new_ordered_id, platform::db::Tx, platform::request::RequestContext};

pub struct Event<'a> {
    pub action: &'a str,
    pub outcome: Outcome,
    pub actor_user_id: Option<&'a str>,
    pub target_user_id: Option<&'a str>,
    pub detail: Option<&'a str>,
    /// The organization the event happened in, if any.
    pub org_id: Option<&'a str>,
    /// A service account that acted (an OAuth client of the organization), when no person did.
    pub actor_client_id: Option<&'a str>,
}

#[derive(Clone, Copy)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

impl<'a> Event<'a> {
    /// An action by a user on their own account.
    pub fn by_user(action: &'a str, user_id: &'a str) -> Self {
        Self {
            action,
            outcome: Outcome::Success,
            actor_user_id: Some(user_id),
            target_user_id: Some(user_id),
            detail: None,
            org_id: None,
            actor_client_id: None,
        }
    }

    /// An action the system took on a user's account (no actor).
    pub fn on_user(action: &'a str, target_user_id: &'a str) -> Self {
        Self {
            action,
            outcome: Outcome::Success,
            actor_user_id: None,
            target_user_id: Some(target_user_id),
            detail: None,
            org_id: None,
            actor_client_id: None,
        }
    }

    pub fn failed(action: &'a str, target_user_id: Option<&'a str>) -> Self {
        Self {
            action,
            outcome: Outcome::Failure,
            actor_user_id: None,
            target_user_id,
            detail: None,
            org_id: None,
            actor_client_id: None,
        }
    }

    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }

    /// An admin's action on a user's account.
    pub fn by_admin(action: &'a str, admin_id: &'a str, target_user_id: &'a str) -> Self {
        Self { actor_user_id: Some(admin_id), ..Self::on_user(action, target_user_id) }
    }

    /// An admin's action that is not about one user (the job queue, everyone's sessions).
    pub fn admin(action: &'a str, admin_id: &'a str) -> Self {
        Self { target_user_id: None, ..Self::by_admin(action, admin_id, "") }
    }

    /// The organization the event happened in.
    pub fn org(mut self, org_id: &'a str) -> Self {
        self.org_id = Some(org_id);
        self
    }

    /// An action by `actor` in organization `org_id`, on `target` (a member) if any.
    pub fn in_org(action: &'a str, actor: &'a str, org_id: &'a str, target: Option<&'a str>) -> Self {
        Self {
            action,
            outcome: Outcome::Success,
            actor_user_id: Some(actor),
            target_user_id: target,
            detail: None,
            org_id: Some(org_id),
            actor_client_id: None,
        }
    }

    /// An action by a service account (`client_id`) of organization `org_id`.
    pub fn by_service_account(action: &'a str, client_id: &'a str, org_id: &'a str) -> Self {
        Self {
            action,
            outcome: Outcome::Success,
            actor_user_id: None,
            target_user_id: None,
            detail: None,
            org_id: Some(org_id),
            actor_client_id: Some(client_id),
        }
    }
}

pub async fn record(tx: &mut Tx, ctx: &RequestContext, now: i64, e: Event<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, action, outcome, actor_user_id, target_user_id, ip, user_agent, detail, org_id, \
         impersonator_id, actor_client_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    // Time-ordered: events of the same second are listed by their id (`ORDER BY at DESC, id DESC`).
    .bind(new_ordered_id())
    .bind(now)
    .bind(e.action)
    .bind(e.outcome.as_str())
    .bind(e.actor_user_id)
    .bind(e.target_user_id)
    .bind(ctx.ip.to_string())
    .bind(ctx.user_agent.as_deref().map(|ua| ua.chars().take(256).collect::<String>()))
    .bind(e.detail)
    .bind(e.org_id)
    // Whatever happens in an impersonation session names the admin behind it too.
    .bind(ctx.session.as_ref().and_then(|s| s.impersonator.as_ref()).map(|i| i.user_id.as_str()))
    .bind(e.actor_client_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A row of the user's security activity feed.
#[derive(Debug, sqlx::FromRow)]
pub struct ActivityRow {
    pub at: i64,
    pub action: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What an admin did to the account, or did as the user while impersonating them.
    pub by_admin: i64,
    /// The event's detail: for an app's events (`user.oauth_*`), the app's name.
    pub detail: Option<String>,
}

/// The security events about a user, newest first: sign-ins and failures, confirmations, session revocations,
/// locks, password and e-mail changes, two-step verification, and what admins did to the account (or as the user,
/// while impersonating them).
pub async fn activity_for_user(db: &sqlx::AnyPool, user_id: &str, limit: i64) -> Result<Vec<ActivityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, action, outcome, ip, user_agent, \
         CASE WHEN action LIKE 'admin.%' OR impersonator_id IS NOT NULL THEN 1 ELSE 0 END AS by_admin, detail \
         FROM audit_events WHERE target_user_id = $1 \
         AND (action LIKE 'user.%' OR action LIKE 'session.%' OR action LIKE 'mfa.%' OR action LIKE 'admin.%') \
         ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(db)
    .await
}
