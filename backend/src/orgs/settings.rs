//! An organization's settings (owners): name and slug, the two-step verification policy, deletion.
use super::{authorize, slug_conflict, slug_taken, Action, SLUG_REDIRECT_SECS};
use crate::{
    platform::{
        audit::{self, Event},
        request::{CurrentSession, RequestContext},
    },
    signin::sudo,
    AppState, Error,
};
use domain::validation::{OrgName, Slug};

/// Renames the organization and changes its slug; the old slug redirects members for 7 days. Returns the slug.
pub async fn update(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    name: &OrgName,
    new_slug: &Slug,
) -> Result<String, Error> {
    let org = authorize(st, me, slug, Action::EditSettings).await?;
    let (name, new_slug) = (name.as_str(), new_slug.as_str());
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    if new_slug != org.slug {
        // One of this organization's own old slugs can be taken back.
        sqlx::query("DELETE FROM org_slug_redirects WHERE slug = $1 AND org_id = $2")
            .bind(&new_slug)
            .bind(&org.org_id)
            .execute(&mut *tx)
            .await?;
        if slug_taken(&mut tx, &new_slug, now).await? {
            return Err(Error::Field("slug", "That address is taken. Choose another.".into()));
        }
        sqlx::query("DELETE FROM org_slug_redirects WHERE slug = $1").bind(&org.slug).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO org_slug_redirects (slug, org_id, expires_at) VALUES ($1, $2, $3)")
            .bind(&org.slug)
            .bind(&org.org_id)
            .bind(now + SLUG_REDIRECT_SECS)
            .execute(&mut *tx)
            .await
            .map_err(slug_conflict)?;
        let detail = format!("{} → {new_slug}", org.slug);
        let event = Event::in_org("org.slug_changed", &me.user_id, &org.org_id, None).detail(&detail);
        audit::record(&mut tx, ctx, now, event).await?;
    }
    if name != org.name {
        let event = Event::in_org("org.renamed", &me.user_id, &org.org_id, None).detail(&name);
        audit::record(&mut tx, ctx, now, event).await?;
    }
    sqlx::query("UPDATE organizations SET name = $1, slug = $2, updated_at = $3 WHERE id = $4")
        .bind(&name)
        .bind(&new_slug)
        .bind(now)
        .bind(&org.org_id)
        .execute(&mut *tx)
        .await
        .map_err(slug_conflict)?;
    tx.commit().await?;
    Ok(new_slug.to_string())
}

/// Turns "members need two-step verification" on or off. An owner without it cannot turn it on (they would lock
/// themselves out of their own organization's pages).
pub async fn set_require_mfa(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    require: bool,
) -> Result<(), Error> {
    let org = authorize(st, me, slug, Action::EditSettings).await?;
    if require && !me.has_mfa {
        return Err(Error::Field("require_mfa", "Turn on two-step verification for your own account first.".into()));
    }
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    sqlx::query("UPDATE organizations SET require_mfa = $1, updated_at = $2 WHERE id = $3")
        .bind(require as i64)
        .bind(now)
        .bind(&org.org_id)
        .execute(&mut *tx)
        .await?;
    let action = if require { "org.mfa_required" } else { "org.mfa_optional" };
    audit::record(&mut tx, ctx, now, Event::in_org(action, &me.user_id, &org.org_id, None)).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the organization with its memberships, invitations and old slugs: owners only, behind sudo, with the
/// slug typed to confirm. The audit rows keep its id.
pub async fn delete(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    confirm: &str,
) -> Result<(), Error> {
    let org = authorize(st, me, slug, Action::Delete).await?;
    sudo::require(st, me)?;
    if confirm.trim() != org.slug {
        return Err(Error::Field("confirm", format!("Type {} to confirm.", org.slug)));
    }
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    sqlx::query("UPDATE sessions SET active_org_id = NULL WHERE active_org_id = $1")
        .bind(&org.org_id)
        .execute(&mut *tx)
        .await?;
    crate::api::tokens::revoke_for_org(&mut tx, &org.org_id, None).await?;
    sqlx::query("DELETE FROM organizations WHERE id = $1").bind(&org.org_id).execute(&mut *tx).await?;
    let event = Event::in_org("org.deleted", &me.user_id, &org.org_id, None).detail(&org.slug);
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    Ok(())
}
