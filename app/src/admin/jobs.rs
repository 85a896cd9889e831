//! `/admin/jobs`: the job queue by state, with retry and discard.
use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{admin_page, AdminNav};
use crate::components::page::loaded;
use crate::{
    components::{
        form::{form_error, ErrorBanner, Outcomes},
        layout::NoticeBanner,
    },
    context::Done,
    error::AppError,
};

#[cfg(feature = "ssr")]
use crate::context::Notice;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JobItem {
    pub id: String,
    pub summary: String,
    pub state: String,
    pub attempts: String,
    pub created: String,
    pub next_run: String,
    pub last_error: String,
    pub can_retry: bool,
    pub can_discard: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JobList {
    pub rows: Vec<JobItem>,
    /// (queued, running, failed, dead)
    pub counts: (i64, i64, i64, i64),
}

#[server(prefix = "/api", endpoint = "admin_jobs")]
pub async fn admin_jobs(state: String) -> Result<JobList, AppError> {
    use crate::server_ctx;
    use backend::{admin::queue, format_utc};
    server_ctx::session_data(|st, _, me| async move {
        let rows = queue::list(&st, &me, queue::Filter::parse(&state)).await?;
        let counts = queue::counts(&st).await?;
        let rows = rows
            .iter()
            .map(|j| JobItem {
                id: j.id.clone(),
                summary: j.summary(),
                state: if j.state == "queued" && j.last_error.is_some() { "failed".into() } else { j.state.clone() },
                attempts: format!("{} of {}", j.attempts, j.max_attempts),
                created: format_utc(j.created_at),
                next_run: if j.state == "queued" { format_utc(j.run_at) } else { "—".into() },
                last_error: j.last_error.clone().unwrap_or_default(),
                can_retry: j.can_retry(),
                can_discard: j.can_discard(),
            })
            .collect();
        Ok(JobList { rows, counts })
    })
    .await
}

/// `retry` or `discard` one job.
#[server(prefix = "/api", endpoint = "admin_job_action")]
pub async fn admin_job_action(id: String, action: String, state: String) -> Result<Done, AppError> {
    use crate::server_ctx::{fail, form, require_session, Outcome};
    use backend::admin::queue;
    let retry = match action.as_str() {
        "retry" => true,
        "discard" => false,
        _ => return Err(fail(AppError::NotFound)),
    };
    let page = format!("/admin/jobs?state={}", super::users::urlencoding(&state));
    form(&page, &[], |st, ctx| async move {
        let me = require_session(&ctx)?;
        if retry {
            queue::retry(&st, &ctx, &me, &id).await?;
            Ok(Outcome::stay(Notice::JobRetried))
        } else {
            queue::discard(&st, &ctx, &me, &id).await?;
            Ok(Outcome::stay(Notice::JobDiscarded))
        }
    })
    .await
}

#[component]
pub fn AdminJobsPage() -> impl IntoView {
    admin_page(|flash| {
        let query = use_query_map();
        let state = move || query.with(|q| q.get("state").unwrap_or_default());
        let action = ServerAction::<AdminJobAction>::new();
        let data = Resource::new(move || (state(), action.version().get()), |(s, _)| admin_jobs(s));
        let notice = Outcomes::new(&flash).follow(move || action.value().get()).notice();
        let error = form_error(move || action.value().get(), flash);
        view! {
            <section class="card wide admin-card" aria-labelledby="page-title">
                <h1 id="page-title">"Jobs"</h1>
                <AdminNav current="/admin/jobs"/>
                <NoticeBanner notice/>
                <ErrorBanner error/>
                {loaded(data, move |list| view! { <JobsView list state=state() action/> })}
            </section>
        }
    })
}

#[component]
fn JobsView(list: JobList, state: String, action: ServerAction<AdminJobAction>) -> impl IntoView {
    let (queued, running, failed, dead) = list.counts;
    let tab = |value: &'static str, label: String, current: &str| {
        let here = value == current;
        view! {
            <a href=format!("/admin/jobs?state={value}") class="tab" class:tab-current=here aria-current=here.then_some("page")>
                {label}
            </a>
        }
    };
    let button = move |id: String, name: &'static str, label: &'static str, state: String, danger: bool| {
        view! {
            <ActionForm action>
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="action" value=name/>
                <input type="hidden" name="state" value=state/>
                <button
                    type="submit"
                    class=if danger { "button button-small button-secondary" } else { "button button-small" }
                    disabled=move || action.pending().get()
                >
                    {label}
                </button>
            </ActionForm>
        }
    };
    view! {
        <nav class="tabs tabs-small" aria-label="Job state">
            {tab("", "All open".into(), &state)}
            {tab("queued", format!("Queued ({queued})"), &state)}
            {tab("running", format!("Running ({running})"), &state)}
            {tab("failed", format!("Failed, will retry ({failed})"), &state)}
            {tab("dead", format!("Dead ({dead})"), &state)}
        </nav>
        {if list.rows.is_empty() {
            view! { <p class="muted">"No jobs here."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="data">
                        <thead>
                            <tr>
                                <th scope="col">"Job"</th>
                                <th scope="col">"State"</th>
                                <th scope="col">"Attempts"</th>
                                <th scope="col">"Created"</th>
                                <th scope="col">"Next run"</th>
                                <th scope="col">"Last error"</th>
                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            {list
                                .rows
                                .into_iter()
                                .map(|j| {
                                    let state = state.clone();
                                    view! {
                                        <tr>
                                            <td><code>{j.summary.clone()}</code></td>
                                            <td><span class="badge">{j.state.clone()}</span></td>
                                            <td>{j.attempts.clone()}</td>
                                            <td>{j.created.clone()}</td>
                                            <td>{j.next_run.clone()}</td>
                                            <td class="error-text">{j.last_error.clone()}</td>
                                            <td class="row-actions">
                                                {j.can_retry.then(|| button(j.id.clone(), "retry", "Retry", state.clone(), false))}
                                                {j.can_discard.then(|| button(j.id.clone(), "discard", "Discard", state.clone(), true))}
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
    }
}
