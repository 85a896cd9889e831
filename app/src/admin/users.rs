//! `/admin/users`: search, filter, sort, keyset pages.
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{admin_page, AdminNav};
use crate::{components::page::loaded, error::AppError};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserItem {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created: String,
    pub badges: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserList {
    pub rows: Vec<UserItem>,
    pub next: Option<String>,
}

#[cfg(feature = "ssr")]
fn badges(r: &backend::admin::users::UserRow) -> Vec<String> {
    let mut b = Vec::new();
    if r.is_admin == 1 {
        b.push("admin");
    }
    b.push(if r.confirmed_at.is_some() { "confirmed" } else { "unconfirmed" });
    if r.mfa > 0 {
        b.push("two-step");
    }
    if r.locked_at.is_some() {
        b.push("locked");
    }
    b.into_iter().map(String::from).collect()
}

#[server(prefix = "/api", endpoint = "admin_users")]
pub async fn admin_users(email: String, status: String, sort: String, after: String) -> Result<UserList, AppError> {
    use crate::server_ctx;
    use backend::{admin::users, format_utc};
    server_ctx::session_data(|st, _, me| async move {
        let q = users::Query {
            email,
            status: users::Status::parse(&status),
            sort: users::Sort::parse(&sort),
            after: Some(after).filter(|a| !a.is_empty()),
        };
        let page = users::search(&st, &me, &q).await?;
        let rows = page
            .rows
            .iter()
            .map(|r| UserItem {
                id: r.id.clone(),
                email: r.email.clone(),
                name: r.display_name.clone().unwrap_or_default(),
                created: format_utc(r.created_at),
                badges: badges(r),
            })
            .collect();
        Ok(UserList { rows, next: page.next })
    })
    .await
}

/// `/admin/users?email=&status=&sort=&after=`: a plain GET form, so the filters live in the address (shareable,
/// and the back button works).
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    admin_page(|_| {
        let query = use_query_map();
        let param = move |name: &str| query.with(|q| q.get(name).unwrap_or_default());
        let data = Resource::new(
            move || (param("email"), param("status"), param("sort"), param("after")),
            |(e, s, o, a)| admin_users(e, s, o, a),
        );
        let (email, status, sort) = (param("email"), param("status"), param("sort"));
        let option = |value: &'static str, label: &'static str, current: &str| {
            view! { <option value=value selected=current == value>{label}</option> }
        };
        view! {
            <section class="card wide admin-card" aria-labelledby="page-title">
                <h1 id="page-title">"Users"</h1>
                <AdminNav current="/admin/users"/>
                <form method="get" action="/admin/users" class="filters" role="search">
                    <div class="field">
                        <label for="filter-email">"E-mail contains"</label>
                        <input id="filter-email" name="email" type="search" value=email.clone()/>
                    </div>
                    <div class="field">
                        <label for="filter-status">"Status"</label>
                        <select id="filter-status" name="status">
                            {option("", "Everyone", &status)}
                            {option("confirmed", "Confirmed", &status)}
                            {option("unconfirmed", "Unconfirmed", &status)}
                            {option("locked", "Locked", &status)}
                            {option("mfa", "Two-step on", &status)}
                            {option("admin", "Admins", &status)}
                        </select>
                    </div>
                    <div class="field">
                        <label for="filter-sort">"Sort"</label>
                        <select id="filter-sort" name="sort">
                            {option("newest", "Newest first", &sort)}
                            {option("oldest", "Oldest first", &sort)}
                            {option("email", "E-mail A–Z", &sort)}
                        </select>
                    </div>
                    <button type="submit" class="button">"Search"</button>
                </form>
                {loaded(data, move |list| {
                    let next = list.next.clone().map(|n| {
                        let href = format!(
                            "/admin/users?email={}&status={}&sort={}&after={}",
                            urlencoding(&param("email")),
                            urlencoding(&param("status")),
                            urlencoding(&param("sort")),
                            urlencoding(&n)
                        );
                        view! { <a class="button button-secondary button-small" href=href>"Next page"</a> }
                    });
                    view! { <UsersTable rows=list.rows/> <p class="pager">{next}</p> }
                })}
            </section>
        }
    })
}

/// Percent-encodes a query value (the browser does this for the form; links are built here).
pub(crate) fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn UsersTable(rows: Vec<UserItem>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No account matches."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="data">
                <thead>
                    <tr>
                        <th scope="col">"E-mail"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|u| {
                            view! {
                                <tr>
                                    <td><a href=format!("/admin/users/{}", u.id)>{u.email}</a></td>
                                    <td>{u.name}</td>
                                    <td>{u.created}</td>
                                    <td>
                                        {u.badges.into_iter().map(|b| view! { <span class="badge">{b}</span> " " }).collect_view()}
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
}
