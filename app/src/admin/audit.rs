//! `/admin/audit`: the audit explorer. Filters in the address (a plain GET form), newest first, a cursor for the next
//! page, and the same filters as a CSV download (`/admin/audit.csv`, streamed by the server).
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{admin_page, users::urlencoding, AdminNav};
use crate::components::page::loaded;
use crate::error::AppError;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditItem {
    pub when: String,
    pub action: String,
    pub failed: bool,
    pub actor: String,
    pub target: String,
    pub impersonator: String,
    pub ip: String,
    pub detail: String,
}

#[cfg(feature = "ssr")]
pub(crate) fn item(r: &backend::admin::audit_log::AuditRow) -> AuditItem {
    let who = |email: &Option<String>, id: &Option<String>| email.clone().or_else(|| id.clone()).unwrap_or_default();
    AuditItem {
        when: backend::format_iso(r.at),
        action: r.action.clone(),
        failed: r.outcome == "failure",
        actor: who(&r.actor_email, &r.actor_user_id),
        target: who(&r.target_email, &r.target_user_id),
        impersonator: who(&r.impersonator_email, &r.impersonator_id),
        ip: r.ip.clone().unwrap_or_default(),
        detail: r.detail.clone().unwrap_or_default(),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditList {
    pub rows: Vec<AuditItem>,
    pub next: Option<String>,
}

/// The filters of the page's address, as the backend takes them. Dates are `YYYY-MM-DD` (UTC); `to` includes its
/// day.
#[cfg(feature = "ssr")]
pub fn audit_query(
    actor: String,
    action: String,
    target: String,
    outcome: String,
    from: String,
    to: String,
    before: String,
) -> Result<backend::admin::audit_log::Query, AppError> {
    let day = |name: &str, s: &str| -> Result<Option<i64>, AppError> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s.trim(), &fmt)
            .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
            .map_err(|_| AppError::field(name, "Use a date like 2026-11-27."))
    };
    Ok(backend::admin::audit_log::Query {
        actor,
        action,
        target,
        outcome,
        from: day("from", &from)?,
        to: day("to", &to)?.map(|t| t + 86_400),
        before: Some(before).filter(|b| !b.is_empty()),
    })
}

#[server(prefix = "/api", endpoint = "admin_audit")]
pub async fn admin_audit(
    actor: String,
    action: String,
    target: String,
    outcome: String,
    from: String,
    to: String,
    before: String,
) -> Result<AuditList, AppError> {
    use crate::server_ctx;
    use backend::admin::audit_log;
    let q = audit_query(actor, action, target, outcome, from, to, before).map_err(server_ctx::fail)?;
    server_ctx::session_data(|st, _, me| async move {
        let page = audit_log::search(&st, &me, &q).await?;
        Ok(AuditList { rows: page.rows.iter().map(item).collect(), next: page.next })
    })
    .await
}

const FILTERS: [&str; 6] = ["actor", "action", "target", "outcome", "from", "to"];

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    admin_page(|_| {
        let query = use_query_map();
        let param = move |name: &str| query.with(|q| q.get(name).unwrap_or_default());
        let data = Resource::new(
            move || FILTERS.map(param).to_vec().into_iter().chain([param("before")]).collect::<Vec<_>>(),
            |p| {
                let mut p = p.into_iter();
                let mut next = move || p.next().unwrap_or_default();
                admin_audit(next(), next(), next(), next(), next(), next(), next())
            },
        );
        let filters =
            move || FILTERS.iter().map(|f| format!("{f}={}", urlencoding(&param(f)))).collect::<Vec<_>>().join("&");
        let field = move |name: &'static str, label: &'static str, kind: &'static str, hint: &'static str| {
            let id = format!("filter-{name}");
            view! {
                <div class="field">
                    <label for=id.clone()>{label}</label>
                    <input id=id name=name type=kind value=param(name) placeholder=hint/>
                </div>
            }
        };
        let outcome = param("outcome");
        view! {
            <section class="card wide admin-card" aria-labelledby="page-title">
                <h1 id="page-title">"Audit log"</h1>
                <AdminNav current="/admin/audit"/>
                <form method="get" action="/admin/audit" class="filters" role="search">
                    {field("actor", "Actor (e-mail or id)", "text", "")}
                    {field("action", "Action starts with", "text", "admin.")}
                    {field("target", "Target (e-mail or id)", "text", "")}
                    <div class="field">
                        <label for="filter-outcome">"Outcome"</label>
                        <select id="filter-outcome" name="outcome">
                            <option value="" selected=outcome.is_empty()>"Any"</option>
                            <option value="success" selected=outcome == "success">"Success"</option>
                            <option value="failure" selected=outcome == "failure">"Failure"</option>
                        </select>
                    </div>
                    {field("from", "From (UTC day)", "date", "")}
                    {field("to", "To (UTC day)", "date", "")}
                    <button type="submit" class="button">"Filter"</button>
                </form>
                <p>
                    <a class="button button-secondary button-small" href=move || format!("/admin/audit.csv?{}", filters()) download="audit.csv" rel="external">
                        "Export these rows as CSV"
                    </a>
                </p>
                {loaded(data, move |list| {
                    let next = list.next.clone().map(|n| {
                        let href = format!("/admin/audit?{}&before={}", filters(), urlencoding(&n));
                        view! { <a class="button button-secondary button-small" href=href>"Older rows"</a> }
                    });
                    view! { <AuditTable rows=list.rows/> <p class="pager">{next}</p> }
                })}
            </section>
        }
    })
}

#[component]
pub(crate) fn AuditTable(rows: Vec<AuditItem>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No audit rows match."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="data">
                <thead>
                    <tr>
                        <th scope="col">"Time (UTC)"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"IP"</th>
                        <th scope="col">"Detail"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let actor = if r.impersonator.is_empty() {
                                r.actor.clone()
                            } else {
                                format!("{} (impersonated by {})", r.actor, r.impersonator)
                            };
                            view! {
                                <tr class:row-failed=r.failed>
                                    <td class="nowrap">{r.when}</td>
                                    <td>
                                        <code>{r.action}</code>
                                        {r.failed.then(|| view! { " " <span class="badge badge-error">"failed"</span> })}
                                    </td>
                                    <td>{actor}</td>
                                    <td>{r.target}</td>
                                    <td class="nowrap">{r.ip}</td>
                                    <td>{r.detail}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
