//! `/dev/mailbox`: the development inbox. Mounted only when the mail transport is the development mailbox.
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Response},
};
use backend::{platform::mail::StoredMail, AppState};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Text with its http(s) URLs turned into links.
fn linkify(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|w| {
            let t = w.trim_end();
            if t.starts_with("http://") || t.starts_with("https://") {
                format!("<a href=\"{0}\">{0}</a>{1}", esc(t), &w[t.len()..])
            } else {
                esc(w)
            }
        })
        .collect()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>{t} · Dev mailbox</title><link rel=\"stylesheet\" href=\"/pkg/{project}.css\"></head>\
         <body><header class=\"site-header\"><a class=\"brand\" href=\"/\"><span class=\"brand-mark\" aria-hidden=\"true\">▣</span>{brand}</a>\
         <nav aria-label=\"Mailbox\"><a class=\"nav-link\" href=\"/dev/mailbox\">Dev mailbox</a></nav></header>\
         <main id=\"main\" class=\"site-main\"><section class=\"card mailbox\">{body}</section></main></body></html>",
        t = esc(title),
        project = backend::PROJECT,
        brand = esc(backend::APP_NAME_DEFAULT)
    ))
}

pub async fn index(State(st): State<AppState>) -> Html<String> {
    let mails = st.mailer.stored();
    let rows: String = mails
        .iter()
        .rev()
        .map(|m: &StoredMail| {
            format!(
                "<li><a href=\"/dev/mailbox/{id}\"><span class=\"mail-to\">{to}</span><span class=\"mail-subject\">{s}</span></a></li>",
                id = m.id,
                to = esc(&m.to),
                s = esc(&m.subject)
            )
        })
        .collect();
    let list = if rows.is_empty() {
        "<p class=\"muted\">No mail yet. Register an account and its confirmation mail will show up here.</p>"
            .to_string()
    } else {
        format!("<ul class=\"mail-list\">{rows}</ul>")
    };
    page(
        "Inbox",
        &format!("<h1>Development mailbox</h1><p class=\"lead\">Every mail the app sends while <code>MAIL_TRANSPORT=dev</code>, newest first. Kept in memory.</p>{list}"),
    )
}

pub async fn show(State(st): State<AppState>, Path(id): Path<usize>) -> Response {
    match st.mailer.stored().into_iter().find(|m| m.id == id) {
        Some(m) => page(
            &m.subject,
            &format!(
                "<p><a href=\"/dev/mailbox\">← All mail</a></p><h1>{s}</h1><dl class=\"mail-meta\"><dt>To</dt><dd>{to}</dd></dl>\
                 <pre class=\"mail-body\">{body}</pre>",
                s = esc(&m.subject),
                to = esc(&m.to),
                body = linkify(&m.text)
            ),
        )
        .into_response(),
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain")], "no such mail").into_response(),
    }
}
