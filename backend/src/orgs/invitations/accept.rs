//! Taking an invitation: accepting it signed in (by its link, or from the list of open ones) or signing up through it.
use super::*;

/// The signed-in user accepts the invitation a link carries. Only the invited address may: a session for another
/// address is refused (and audited). A mailed link proves the mailbox, so it confirms an unconfirmed account; a
/// copied one does not.
pub async fn accept(st: &AppState, ctx: &RequestContext, me: &CurrentSession, token: &str) -> Result<String, Error> {
    let inv = find_by_token(st, token).await?.filter(|i| i.status == Status::Open).ok_or(Error::InvalidToken)?;
    if inv.email != me.email {
        let mut tx = st.db.begin().await?;
        let mut event = Event::failed("org.invitation.accept", Some(&me.user_id))
            .detail("signed in as another e-mail")
            .org(&inv.org_id);
        event.actor_user_id = Some(&me.user_id);
        audit::record(&mut tx, ctx, st.clock.now(), event).await?;
        tx.commit().await?;
        return Err(Error::Forbidden);
    }
    // A copied link proves nothing about the mailbox: whoever registered the address without owning it could have
    // seen it in a chat or a ticket (M4). Only a confirmed account, or the mailed link itself, may accept.
    let proves_mailbox = inv.mailed_link;
    if !me.confirmed && !proves_mailbox {
        return Err(Error::ConfirmFirst);
    }
    join(st, ctx, me, &inv, proves_mailbox).await
}

/// Accepts an open invitation listed on `/organizations` (no link: the account's confirmed address is the proof).
pub async fn accept_listed(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    id: &str,
) -> Result<String, Error> {
    if !me.confirmed {
        return Err(Error::Unconfirmed);
    }
    let inv = open_for_email(st, &me.email).await?.into_iter().find(|i| i.id == id).ok_or(Error::NotFound)?;
    join(st, ctx, me, &inv, false).await
}

pub(super) async fn join(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    inv: &Invitation,
    proves_mailbox: bool,
) -> Result<String, Error> {
    crate::signin::sudo::not_impersonating(me)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    take(&mut tx, inv, &me.user_id, now).await?;
    let (already,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(&inv.org_id)
        .bind(&me.user_id)
        .fetch_one(&mut *tx)
        .await?;
    if already == 0 {
        add_member(&mut tx, &inv.org_id, &me.user_id, inv.role, now).await?;
    }
    if proves_mailbox && !me.confirmed {
        sqlx::query("UPDATE users SET confirmed_at = COALESCE(confirmed_at, $1) WHERE id = $2")
            .bind(now)
            .bind(&me.user_id)
            .execute(&mut *tx)
            .await?;
        crate::signin::accounts::first_proof(&mut tx, &me.user_id, Some(&me.session_id), now).await?;
    }
    set_active(&mut tx, &me.session_id, &inv.org_id).await?;
    let event =
        Event::in_org("org.invitation.accepted", &me.user_id, &inv.org_id, Some(&me.user_id)).detail(inv.role.as_str());
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    Ok(inv.org_slug.clone())
}

/// Marks the invitation accepted in `tx`, if it is still open (two tabs accepting at once: one wins).
pub(super) async fn take(tx: &mut Tx, inv: &Invitation, user_id: &str, now: i64) -> Result<(), Error> {
    let r = sqlx::query(
        "UPDATE invitations SET accepted_at = $1, accepted_by = $2 WHERE id = $3 AND accepted_at IS NULL \
         AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(user_id)
    .bind(&inv.id)
    .execute(&mut **tx)
    .await?;
    if r.rows_affected() == 1 {
        Ok(())
    } else {
        Err(Error::InvalidToken)
    }
}

/// A brand-new user signs up from the mailed invitation link and joins in one step: the address is the invited one
/// (confirmed by the link, which only its mailbox received), the password meets the policy, and the sign-in goes
/// through the gate like any other. A copied link cannot make an account: it passed through the inviter's hands,
/// so it proves nothing about the mailbox (the invitee registers, confirms, and then accepts).
pub async fn sign_up(
    st: &AppState,
    ctx: &RequestContext,
    token: &str,
    password: &str,
) -> Result<(String, SignIn), Error> {
    let inv = find_by_token(st, token).await?.filter(|i| i.status == Status::Open).ok_or(Error::InvalidToken)?;
    if !inv.mailed_link {
        return Err(Error::InvalidToken);
    }
    let context = PasswordContext { app_name: &st.config.app_name, email: Some(&inv.email) };
    let password = NewPassword::parse(password, &context).map_err(|m| Error::Field("password", m))?;
    let (exists,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = $1").bind(&inv.email).fetch_one(&st.db.pool).await?;
    if exists > 0 {
        return Err(Error::Field(
            "email",
            "An account with this address already exists: log in to it, then open the invitation again.".into(),
        ));
    }
    let hash = st.hasher.hash(password.expose()).await?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let user_id = new_id();
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, confirmed_at, failed_logins, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $4, $4)",
    )
    .bind(&user_id)
    .bind(&inv.email)
    .bind(&hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(&mut tx, ctx, now, Event::by_user("user.register", &user_id).detail("invitation")).await?;
    take(&mut tx, &inv, &user_id, now).await?;
    add_member(&mut tx, &inv.org_id, &user_id, inv.role, now).await?;
    let event =
        Event::in_org("org.invitation.accepted", &user_id, &inv.org_id, Some(&user_id)).detail(inv.role.as_str());
    audit::record(&mut tx, ctx, now, event).await?;
    let first = FirstFactor { user_id: user_id.clone(), method: "password", remember_me: false };
    let outcome = gate::sign_in(tx, st, ctx, first).await?;
    sqlx::query("UPDATE sessions SET active_org_id = $1 WHERE user_id = $2")
        .bind(&inv.org_id)
        .bind(&user_id)
        .execute(&st.db.pool)
        .await?;
    Ok((inv.org_slug, outcome))
}
