//! The audit explorer: filters over `audit_events`, newest first, paged by a `(at, id)` cursor; the same filters feed
//! the CSV export, which reads the rows a page at a time so a large export never sits in memory.
use super::{require_admin, time_cursor, Error, Page, PAGE_SIZE};
use crate::{
    platform::db::{like_literal, Filters},
    platform::request::CurrentSession,
    AppState,
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The acting user (e-mail or id); matches the admin behind an impersonation too.
    pub actor: String,
    /// The start of the action's name: `admin.`, `user.log_in`…
    pub action: String,
    /// The user acted on (e-mail or id).
    pub target: String,
    /// `success` or `failure` (anything else: both).
    pub outcome: String,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    /// Unix seconds, exclusive.
    pub to: Option<i64>,
    /// The cursor of the page to show.
    pub before: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub action: String,
    pub outcome: String,
    pub actor_user_id: Option<String>,
    pub actor_email: Option<String>,
    pub target_user_id: Option<String>,
    pub target_email: Option<String>,
    pub impersonator_id: Option<String>,
    pub impersonator_email: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub org_id: Option<String>,
}

// A service account's events name it as the actor (`service account NAME`).
const SELECT: &str =
    "SELECT e.id, e.at, e.action, e.outcome, COALESCE(e.actor_user_id, e.actor_client_id) AS actor_user_id, \
     COALESCE(a.email, 'service account ' || c.name) AS actor_email, \
     e.target_user_id, t.email AS target_email, e.impersonator_id, i.email AS impersonator_email, e.ip, e.user_agent, \
     e.detail, e.org_id FROM audit_events e LEFT JOIN users a ON a.id = e.actor_user_id \
     LEFT JOIN users t ON t.id = e.target_user_id LEFT JOIN users i ON i.id = e.impersonator_id \
     LEFT JOIN oauth_clients c ON c.id = e.actor_client_id";

/// A user given by e-mail or by id (a deleted account is known only by its id).
fn user_condition(f: &mut Filters, columns: &[&str], who: &str) {
    let who = who.trim().to_lowercase();
    if who.is_empty() {
        return;
    }
    let p = f.text(who);
    let any: Vec<String> =
        columns.iter().map(|c| format!("{c} = {p} OR {c} IN (SELECT id FROM users WHERE email = {p})")).collect();
    f.and(format!("({})", any.join(" OR ")));
}

fn filters(q: &Query) -> Result<Filters, Error> {
    let mut f = Filters::default();
    user_condition(&mut f, &["e.actor_user_id", "e.impersonator_id", "e.actor_client_id"], &q.actor);
    user_condition(&mut f, &["e.target_user_id"], &q.target);
    let action = q.action.trim().to_lowercase();
    if !action.is_empty() {
        let p = f.text(format!("{}%", like_literal(&action)));
        f.and(format!("e.action LIKE {p} ESCAPE '\\'"));
    }
    if matches!(q.outcome.as_str(), "success" | "failure") {
        let p = f.text(q.outcome.clone());
        f.and(format!("e.outcome = {p}"));
    }
    if let Some(from) = q.from {
        let p = f.int(from);
        f.and(format!("e.at >= {p}"));
    }
    if let Some(to) = q.to {
        let p = f.int(to);
        f.and(format!("e.at < {p}"));
    }
    if let Some(before) = q.before.as_deref() {
        let (at, id) = time_cursor(before).ok_or(Error::NotFound)?;
        let (a, i) = (f.int(at), f.text(id));
        f.and(format!("(e.at < {a} OR (e.at = {a} AND e.id < {i}))"));
    }
    Ok(f)
}

async fn fetch(st: &AppState, q: &Query, limit: i64) -> Result<Vec<AuditRow>, Error> {
    let f = filters(q)?;
    let sql = format!("{SELECT} {} ORDER BY e.at DESC, e.id DESC LIMIT {limit}", f.clause());
    Ok(f.fetch_all(&sql, &st.db.pool).await?)
}

fn cursor(r: &AuditRow) -> String {
    format!("{}.{}", r.at, r.id)
}

pub async fn search(st: &AppState, me: &CurrentSession, q: &Query) -> Result<Page<AuditRow>, Error> {
    require_admin(me)?;
    Ok(Page::from_rows(fetch(st, q, PAGE_SIZE + 1).await?, cursor))
}

/// Events about the user or by them, newest first (their admin page).
pub async fn about_user(st: &AppState, user_id: &str, limit: i64) -> Result<Vec<AuditRow>, Error> {
    let sql = format!(
        "{SELECT} WHERE e.target_user_id = $1 OR e.actor_user_id = $1 OR e.impersonator_id = $1 ORDER BY e.at DESC, e.id DESC LIMIT {limit}"
    );
    Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(&st.db.pool).await?)
}

/// How many rows the export reads at a time.
const EXPORT_BATCH: i64 = 500;

/// The CSV export of every row the filters match, as a stream of chunks (header first). The role is checked
/// before the first byte.
pub fn export(
    st: AppState,
    me: &CurrentSession,
    q: Query,
) -> Result<impl futures::Stream<Item = Result<String, Error>> + Send + 'static, Error> {
    require_admin(me)?;
    let start = (Some(q), true);
    Ok(futures::stream::try_unfold(start, move |(next, first)| {
        let st = st.clone();
        async move {
            let Some(q) = next else { return Ok(None) };
            let rows = fetch(&st, &q, EXPORT_BATCH).await?;
            let mut out = if first { csv_line(&HEADER) } else { String::new() };
            for r in &rows {
                out.push_str(&csv_line(&[
                    crate::format_iso(r.at),
                    r.action.clone(),
                    r.outcome.clone(),
                    r.actor_email.clone().or_else(|| r.actor_user_id.clone()).unwrap_or_default(),
                    r.target_email.clone().or_else(|| r.target_user_id.clone()).unwrap_or_default(),
                    r.impersonator_email.clone().or_else(|| r.impersonator_id.clone()).unwrap_or_default(),
                    r.ip.clone().unwrap_or_default(),
                    r.user_agent.clone().unwrap_or_default(),
                    r.detail.clone().unwrap_or_default(),
                    r.org_id.clone().unwrap_or_default(),
                    r.id.clone(),
                ]));
            }
            let more = rows.len() as i64 == EXPORT_BATCH;
            let next = more.then(|| Query { before: rows.last().map(cursor), ..q });
            if out.is_empty() {
                return Ok(None);
            }
            Ok(Some((out, (next, false))))
        }
    }))
}

const HEADER: [&str; 11] =
    ["time", "action", "outcome", "actor", "target", "impersonator", "ip", "user_agent", "detail", "org_id", "id"];

/// One CSV record (RFC 4180: fields quoted, quotes doubled, CRLF). A field that a spreadsheet would read as a
/// formula (`=`, `+`, `-`, `@`, tab, CR at the start) gets a leading `'`, so opening an export cannot run what an
/// attacker put in a user agent or a detail.
fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let cells: Vec<String> = fields
        .iter()
        .map(|f| {
            let f = f.as_ref();
            let risky = f.starts_with(['=', '+', '-', '@', '\t', '\r']);
            format!("\"{}{}\"", if risky { "'" } else { "" }, f.replace('"', "\"\""))
        })
        .collect();
    format!("{}\r\n", cells.join(","))
}

#[cfg(test)]
mod tests {
    use super::csv_line;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_line(&["a", "b\"c", "x,y"]), "\"a\",\"b\"\"c\",\"x,y\"\r\n");
        assert_eq!(
            csv_line(&["=HYPERLINK(\"x\")", "-1", "@SUM", "ok"]),
            "\"'=HYPERLINK(\"\"x\"\")\",\"'-1\",\"'@SUM\",\"ok\"\r\n"
        );
        assert_eq!(csv_line(&["line\nbreak"]), "\"line\nbreak\"\r\n");
    }
}
