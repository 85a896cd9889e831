//! `/admin`: the operator's console. Every page and server function checks the role on the server
//! (`backend::admin::require_admin`); the header link is only a convenience.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    account::sessions::SignInRequired,
    components::layout::{with_page_context, NoticeBanner},
    error::AppError,
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AdminFigures {
    pub users: i64,
    pub unconfirmed: i64,
    pub sign_ins_24h: i64,
    pub failed_sign_ins_24h: i64,
    pub locked: i64,
    pub dead_jobs: i64,
    pub queued_jobs: i64,
}

/// The overview's figures (admins only).
#[server(prefix = "/api", endpoint = "admin_overview")]
pub async fn admin_overview() -> Result<AdminFigures, AppError> {
    use crate::{backend::admin, server_ctx};
    let ctx = server_ctx::request()?;
    let me = server_ctx::require_session(&ctx)?;
    admin::require_admin(&me).map_err(|e| server_ctx::data_error(&ctx, e))?;
    let st = server_ctx::state()?;
    let o = admin::overview(&st).await.map_err(|e| server_ctx::internal(&ctx, e))?;
    Ok(AdminFigures {
        users: o.users,
        unconfirmed: o.unconfirmed,
        sign_ins_24h: o.sign_ins_24h,
        failed_sign_ins_24h: o.failed_sign_ins_24h,
        locked: o.locked,
        dead_jobs: o.dead_jobs,
        queued_jobs: o.queued_jobs,
    })
}

#[component]
pub fn AdminPage() -> impl IntoView {
    with_page_context(|page| match page.user {
        None => view! { <SignInRequired/> }.into_any(),
        Some(_) => {
            let data = Resource::new(|| (), |_| admin_overview());
            let notice = page.flash.notice;
            view! {
                <section class="card wide" aria-labelledby="page-title">
                    <NoticeBanner notice/>
                    <h1 id="page-title">"Admin"</h1>
                    <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match data.await {
                                Ok(o) => view! { <Figures o/> }.into_any(),
                                Err(e) => view! { <div class="banner banner-error" role="alert">{e.banner()}</div> }.into_any(),
                            }
                        })}
                    </Suspense>
                </section>
            }
            .into_any()
        }
    })
}

#[component]
fn Figures(o: AdminFigures) -> impl IntoView {
    let figure = |label: &'static str, value: i64, warn: bool| {
        let alarming = warn && value > 0;
        view! {
            <div class="figure" class:figure-warn=alarming>
                <dt>{label}</dt>
                <dd>{value}</dd>
            </div>
        }
    };
    view! {
        <dl class="figures" aria-label="Overview">
            {figure("Users", o.users, false)}
            {figure("Unconfirmed", o.unconfirmed, false)}
            {figure("Sign-ins, last 24 h", o.sign_ins_24h, false)}
            {figure("Failed sign-ins, last 24 h", o.failed_sign_ins_24h, true)}
            {figure("Password log-in paused", o.locked, true)}
            {figure("Jobs queued", o.queued_jobs, false)}
            {figure("Dead jobs", o.dead_jobs, true)}
        </dl>
    }
}
