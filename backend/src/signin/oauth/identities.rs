//! Linked identities: the user's list, unlinking, and a provider link waiting for its owner to confirm it.
use super::*;
use crate::signin::jobs::IdentityChanged;

/// A provider identity waiting for this browser's signed-in user to confirm the link.
pub struct PendingLink {
    pub provider: String,
    pub email: Option<String>,
}

async fn pending_row(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
) -> Result<Option<(String, String, String, String, Option<String>)>, sqlx::Error> {
    let Some(token) = ctx.pending_link.as_deref() else { return Ok(None) };
    sqlx::query_as(
        "SELECT id, provider, issuer, subject, email FROM pending_links \
         WHERE browser_digest = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(token_digest(token))
    .bind(&session.user_id)
    .bind(st.clock.now())
    .fetch_optional(&st.db.pool)
    .await
}

/// The link this browser holds for the signed-in account, if any.
pub async fn pending(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
) -> Result<Option<PendingLink>, sqlx::Error> {
    Ok(pending_row(st, ctx, session).await?.map(|(_, provider, _, _, email)| PendingLink {
        provider: st.config.oauth_provider(&provider).map(|p| p.name.clone()).unwrap_or(provider),
        email,
    }))
}

/// The owner, signed in to the account (by its own means) and inside the sudo window, confirms the held link.
pub async fn confirm_pending(st: &AppState, ctx: &RequestContext, session: &CurrentSession) -> Result<(), Error> {
    sudo::require_confirmed(session)?;
    sudo::require(st, session)?;
    let Some((id, provider_id, issuer, subject, email)) = pending_row(st, ctx, session).await? else {
        return Err(Error::NotFound);
    };
    sqlx::query("DELETE FROM pending_links WHERE id = $1").bind(&id).execute(&st.db.pool).await?;
    let Some(provider) = st.config.oauth_provider(&provider_id).filter(|p| p.issuer() == issuer) else {
        return Err(Error::NotFound);
    };
    let profile = Profile { subject, email, email_verified: false };
    link(st, ctx, session, provider, &profile).await.map_err(|f| match f {
        Failure::Said(message) => Error::Field("link", message),
        Failure::Account(e) => e,
    })
}

/// Forgets the held link.
pub async fn discard_pending(st: &AppState, ctx: &RequestContext, session: &CurrentSession) -> Result<(), Error> {
    sudo::not_impersonating(session)?;
    if let Some((id, ..)) = pending_row(st, ctx, session).await? {
        sqlx::query("DELETE FROM pending_links WHERE id = $1").bind(&id).execute(&st.db.pool).await?;
    }
    Ok(())
}

/// A linked identity, for the connections page.
#[derive(sqlx::FromRow)]
pub struct IdentityRow {
    pub id: String,
    pub provider: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn identities(st: &AppState, user_id: &str) -> Result<Vec<IdentityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, provider, email, created_at, last_used_at FROM user_identities WHERE user_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(&st.db.pool)
    .await
}

/// Unlinks one of the user's identities (behind sudo; another user's id is "not found"); refused when it is the
/// account's last way to sign in.
pub async fn unlink(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    id: &str,
    keep_others: bool,
) -> Result<(), Error> {
    let method = crate::signin::accounts::SignInMethod {
        table: "user_identities",
        label: "provider",
        audit: "oauth.unlinked",
        field: "identity",
        last_way: "This is the only way to sign in to your account. Set a password or add a passkey first.",
    };
    crate::signin::accounts::remove_sign_in_method(st, ctx, session, &method, id, keep_others, |provider| {
        IdentityChanged { user_id: session.user_id.clone(), provider, linked: false }.into()
    })
    .await
}
