//! What an account's deletion does to its organizations: an owner who is the last one hands over or is refused.
use super::*;
use crate::orgs::jobs::OrgRoleChanged;

/// The organizations others belong to whose only owner is `user_id`: the account cannot be deleted while there are
/// any (someone else must own them first).
pub async fn solely_owned_with_others(tx: &mut Tx, user_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT o.name FROM organizations o JOIN memberships m ON m.org_id = o.id AND m.user_id = $1 AND m.role = 'owner' \
         WHERE (SELECT COUNT(*) FROM memberships x WHERE x.org_id = o.id AND x.role = 'owner') = 1 \
         AND (SELECT COUNT(*) FROM memberships y WHERE y.org_id = o.id) > 1 ORDER BY o.name",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// Each organization of a user: its id, its member count, and its owners other than the user.
const COUNTS: &str = "SELECT m.org_id, (SELECT COUNT(*) FROM memberships y WHERE y.org_id = m.org_id), \
     (SELECT COUNT(*) FROM memberships x WHERE x.org_id = m.org_id AND x.role = 'owner' AND x.user_id <> $1) \
     FROM memberships m WHERE m.user_id = $1";

/// When an account is deleted, in its transaction: the organizations it was the only member of go with it, and any
/// organization it leaves without an owner gets its longest-standing member as owner (audited).
pub async fn before_account_deletion(
    tx: &mut Tx,
    st: &AppState,
    ctx: &RequestContext,
    user_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let orgs: Vec<(String, i64, i64)> = sqlx::query_as(COUNTS).bind(user_id).fetch_all(&mut **tx).await?;
    for (org_id, _, _) in &orgs {
        lock_org(tx, st, org_id).await?;
    }
    let orgs: Vec<(String, i64, i64)> = if st.db.kind == crate::platform::db::DbKind::Postgres {
        // Counted again under the locks.
        sqlx::query_as(COUNTS).bind(user_id).fetch_all(&mut **tx).await?
    } else {
        orgs
    };
    for (org_id, members, other_owners) in orgs {
        if members == 1 {
            crate::api::tokens::revoke_for_org(tx, &org_id, None).await?;
            sqlx::query("DELETE FROM organizations WHERE id = $1").bind(&org_id).execute(&mut **tx).await?;
            let event = Event::on_user("org.deleted", user_id).org(&org_id);
            audit::record(tx, ctx, now, event.detail("its only member's account was deleted")).await?;
        } else if other_owners == 0 {
            let heir: Option<(String,)> = sqlx::query_as(
                "SELECT user_id FROM memberships WHERE org_id = $1 AND user_id <> $2 \
                 ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, created_at LIMIT 1",
            )
            .bind(&org_id)
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some((heir,)) = heir {
                sqlx::query("UPDATE memberships SET role = 'owner' WHERE org_id = $1 AND user_id = $2")
                    .bind(&org_id)
                    .bind(&heir)
                    .execute(&mut **tx)
                    .await?;
                let event = Event::on_user("org.member.role_changed", &heir).org(&org_id);
                audit::record(tx, ctx, now, event.detail("→ owner (the only owner's account was deleted)")).await?;
                let job = OrgRoleChanged { org_id: org_id.clone(), user_id: heir.clone() };
                crate::platform::jobs::enqueue(tx, st, job).await?;
            }
        }
    }
    Ok(())
}
