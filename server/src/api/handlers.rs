//! The JSON API's endpoints. Each reads with the token's account, never with a session; what it may touch is the
//! token's scopes and, for organizations, the ones it was granted.
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use backend::{
    api::tokens::{self, OrgAccess, Scope},
    format_iso, orgs, AppState,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{auth::Caller, problem::ApiError, problem::Problem};

/// The account the token belongs to.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub email_confirmed: bool,
    pub two_step_verification: bool,
    /// The token this request was made with: its name and scopes.
    pub token: TokenInfo,
}

#[derive(Serialize, ToSchema)]
pub struct TokenInfo {
    pub name: String,
    pub scopes: Vec<String>,
}

/// A signed-in browser of the account.
#[derive(Serialize, ToSchema)]
pub struct Session {
    pub id: String,
    /// Browser and system, from the user agent.
    pub device: String,
    pub ip: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub last_active_at: String,
}

/// An organization the token was granted.
#[derive(Serialize, ToSchema)]
pub struct Organization {
    pub slug: String,
    pub name: String,
    /// The account's role: `owner`, `admin` or `member`; `service_account` for a service account's token.
    pub role: String,
    pub members: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    pub email: String,
    pub display_name: Option<String>,
    pub role: String,
    pub joined_at: String,
}

/// The account the token belongs to, and the token's name and scopes.
#[utoipa::path(get, path = "/api/v1/me", tag = "account", security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The token's account", body = Me),
        (status = 401, description = "No token, or not one that works", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The token's allowance is used up (see Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(caller: Caller) -> Result<Json<Me>, ApiError> {
    caller.require(Scope::Read)?;
    let a = caller.person()?;
    let t = &caller.auth;
    Ok(Json(Me {
        id: a.user_id.clone(),
        email: a.email.clone(),
        display_name: a.display_name.clone(),
        email_confirmed: a.confirmed,
        two_step_verification: a.has_mfa,
        token: TokenInfo { name: t.token_name.clone(), scopes: t.scopes.iter().map(|s| s.as_str().into()).collect() },
    }))
}

/// The account's signed-in browsers, the most recently active first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "account", security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The account's signed-in browsers, the most recently active first", body = [Session]),
        (status = 401, description = "No token, or not one that works", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the read scope, or is a service account's", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sessions(State(st): State<AppState>, caller: Caller) -> Result<Json<Vec<Session>>, ApiError> {
    caller.require(Scope::Read)?;
    let person = caller.person()?;
    let rows = backend::signin::sessions::list_for_user(&st, &person.user_id).await.map_err(|e| caller.internal(e))?;
    Ok(Json(
        rows.into_iter()
            .filter(|r| r.impersonator_id.is_none())
            .map(|r| Session {
                device: backend::account::devices::describe(r.user_agent.as_deref()),
                id: r.id,
                ip: r.ip,
                created_at: format_iso(r.created_at),
                last_active_at: format_iso(r.last_active_at),
            })
            .collect(),
    ))
}

/// Signs one of the account's browsers out.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "account", security(("bearer" = ["write"])),
    params(("id" = String, Path, description = "The session's id, from GET /api/v1/sessions")),
    responses(
        (status = 204, description = "The browser is signed out"),
        (status = 401, description = "No token, or not one that works", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the write scope, or is a service account's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such session of this account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn end_session(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Write)?;
    let person = caller.person()?;
    let ended = backend::signin::sessions::revoke(&st, &caller.ctx, &person.user_id, &id)
        .await
        .map_err(|e| caller.internal(e))?;
    if ended {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("This account has no such session.".into()))
    }
}

/// The organizations the token was granted, with the account's role in each.
#[utoipa::path(get, path = "/api/v1/organizations", tag = "organizations", security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The organizations the token was granted (its account a member of each); a service account's own organization", body = [Organization]),
        (status = 401, description = "No token, or not one that works", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn organizations(State(st): State<AppState>, caller: Caller) -> Result<Json<Vec<Organization>>, ApiError> {
    caller.require(Scope::Read)?;
    let rows = tokens::organizations(&st, &caller.auth).await.map_err(|e| caller.internal(e))?;
    Ok(Json(
        rows.into_iter()
            .map(|o| Organization { slug: o.slug, name: o.name, role: o.role, members: o.members })
            .collect(),
    ))
}

/// The members of an organization the token was granted.
#[utoipa::path(get, path = "/api/v1/organizations/{slug}/members", tag = "organizations", security(("bearer" = ["read"])),
    params(("slug" = String, Path, description = "The organization's slug")),
    responses(
        (status = 200, description = "The members: owners, then admins, then members", body = [Member]),
        (status = 401, description = "No token, or not one that works", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token was not granted this organization, lacks the read scope, or the organization requires two-step verification the account lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization of this account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn members(
    State(st): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<Vec<Member>>, ApiError> {
    caller.require(Scope::Read)?;
    let org_id = match tokens::organization(&st, &caller.auth, &slug).await.map_err(|e| caller.internal(e))? {
        OrgAccess::NotFound => {
            return Err(ApiError::NotFound("This token's holder belongs to no organization with that slug.".into()))
        }
        OrgAccess::NotGranted => {
            return Err(ApiError::InsufficientScope {
                scope: "read",
                detail: format!("This token was not granted the organization {slug}."),
            })
        }
        OrgAccess::NeedsMfa => {
            return Err(ApiError::Forbidden(
                "This organization requires two-step verification: turn it on for the account first.".into(),
            ))
        }
        OrgAccess::Members { org_id } => org_id,
    };
    let rows = orgs::members::list(&st, &org_id).await.map_err(|e| caller.internal(e))?;
    Ok(Json(
        rows.into_iter()
            .map(|m| Member {
                email: m.email,
                display_name: m.display_name,
                role: m.role,
                joined_at: format_iso(m.created_at),
            })
            .collect(),
    ))
}
