//! The operator role: granted from the command line only, two-step verification required, checked on the server.
use std::{collections::HashSet, process::Command, time::Duration};

use backend::platform::config::{Config, MailDelivery, MailTransportKind, Secret};

use domain::validation::EmailAddress;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

use app::{
    account::{security::SecurityData, sessions::ListSessions, settings::SettingsData},
    admin::{
        audit::{AdminAudit, AuditItem},
        jobs::AdminJobs,
        user::AdminUser,
        users::{AdminUsers, UserItem},
        AdminOverview,
    },
    error::AppError,
    orgs::members::{ChangeMemberRole, OrganizationMembers},
};

use crate::{
    common::*,
    mail::{closed_port, SmtpSink},
    mfa::{enable_totp, Authenticator},
};

const ANN: &str = "ann@example.com";
const BO: &str = "bo@example.com";
const CY: &str = "cy@example.com";
const DEE: &str = "dee@example.com";
const NEW_PASSWORD: &str = "violet tractors hum at dawn";

fn admin_cli(url: &str, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("DATABASE_URL", url);
    c.arg("admin").args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_the_first_admin_is_granted_from_the_command_line_and_revoked_the_same_way() {
    let url = fresh_database_url().await;
    let app = TestApp::spawn_on(&url, |_| {}).await;
    app.confirmed_user(ANN, PASSWORD).await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE is_admin = 1").await, 0, "no admin by default");

    let out = admin_cli(&url, &["grant", ANN]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ann@example.com is an admin"));
    let out = admin_cli(&url, &["list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ann@example.com\ttwo-step verification OFF");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'admin.granted'").await, 1);

    // Unknown and unconfirmed addresses are errors; nothing changes.
    assert_eq!(admin_cli(&url, &["grant", "nobody@example.com"]).status.code(), Some(1));
    app.register(BO, PASSWORD).await;
    let out = admin_cli(&url, &["grant", BO]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not confirmed"));
    assert_eq!(admin_cli(&url, &["grant"]).status.code(), Some(2), "usage");

    let out = admin_cli(&url, &["revoke", ANN]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ann@example.com is not an admin"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE is_admin = 1").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'admin.revoked'").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s46_admin_pages_and_functions_refuse_non_admins_and_ask_admins_for_two_step_verification() {
    let url = fresh_database_url().await;
    let app = TestApp::spawn_on(&url, |_| {}).await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.confirmed_user(BO, PASSWORD).await;
    let bo = app.another_browser(BO, PASSWORD).await;
    admin_cli(&url, &["grant", ANN]);
    let ann = app.another_browser(ANN, PASSWORD).await;

    // A signed-in non-admin: 403 from the function and the page; no admin link in the header.
    let r = app.call_server_fn_with(&bo, "/api/admin_overview", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Forbidden"));
    let page = app.get_with(&bo, "/admin").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let body = page.text().await.unwrap();
    assert!(!body.contains("href=\"/admin\""));
    assert!(!body.contains("Failed sign-ins"));
    // Signed out: 401.
    assert_eq!(
        app.call_server_fn_with(&new_client(), "/api/admin_overview", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The admin without two-step verification is sent to enrol; the function answers 403 MfaEnrolmentRequired.
    let r = app.get_with(&ann, "/admin").await;
    assert!(r.status().is_redirection());
    assert_eq!(location(&r), "/users/settings/security");
    assert_eq!(app.flash(&r).await["notice"], "AdminRequiresMfa", "with the reason for the enrolment page");
    let r = app.call_server_fn_with(&ann, "/api/admin_overview", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("MfaEnrolmentRequired"));

    // With it on, the overview counts what happened.
    let _ =
        app.post_form_with(&new_client(), "/api/log_in", &[("email", BO), ("password", "wrong password here")]).await;
    enable_totp(&app, &ann).await;
    let page = app.get_with(&ann, "/admin").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("href=\"/admin\""), "the header links to the console");
    let o = app.ok(&ann, AdminOverview {}).await;
    assert_eq!((o.users, o.unconfirmed, o.sign_ins_24h, o.failed_sign_ins_24h), (2, 0, 2, 1));

    // Revoked from the command line: the next request is refused.
    admin_cli(&url, &["revoke", ANN]);
    assert_eq!(app.call_server_fn_with(&ann, "/api/admin_overview", &[]).await.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// The admin console: pages, server functions, actions on accounts, impersonation, audit explorer, job queue.
// ---------------------------------------------------------------------------------------------------------------

/// Room for the many anonymous posts and mails a console test makes from one address.
fn roomy(c: &mut Config) {
    c.rate_limit_anonymous_per_minute = 10_000;
    c.rate_limit_mail_per_hour = 10_000;
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(roomy).await
}

/// Grants the role as `portcullis admin grant` does.
async fn grant(app: &TestApp, email: &str) {
    let changed = backend::admin::set_admin(app.state(), &EmailAddress::parse(email).unwrap(), true).await.unwrap();
    assert!(changed, "{email} became an admin");
}

/// An admin with two-step verification on, signed in in a browser of their own.
pub(crate) async fn admin_browser(app: &TestApp, email: &str) -> (Client, Authenticator) {
    let client = app.signed_in_user(email).await;
    grant(app, email).await;
    let (auth, _) = enable_totp(app, &client).await;
    (client, auth)
}

/// A new browser of a user with TOTP on: password, then the code.
pub(crate) async fn log_in_with_code(app: &TestApp, email: &str, auth: &Authenticator) -> Client {
    log_in_with_code_as(app, email, PASSWORD, auth).await
}

async fn log_in_with_code_as(app: &TestApp, email: &str, password: &str, auth: &Authenticator) -> Client {
    let client = new_client();
    let r = app.post_form_with(&client, "/api/log_in", &[("email", email), ("password", password)]).await;
    assert_eq!(location(&r), "/users/mfa");
    app.state().clock.advance(30); // a step of its own: a code is accepted once
    let r = app.post_form_with(&client, "/api/mfa_verify", &[("code", &auth.code(app))]).await;
    assert_eq!(location(&r), "/");
    client
}

async fn password_hash(app: &TestApp, id: &str) -> String {
    app.text("SELECT password_hash FROM users WHERE id = $1", &[&id]).await
}

/// An action on an account from the user's admin page (as the page's script sends it).
pub(crate) async fn act(app: &TestApp, admin: &Client, id: &str, action: &str) -> (StatusCode, String) {
    app.call_form(
        admin,
        "admin_user_action",
        &[("id", id), ("action", action), ("session_id", ""), ("confirm_email", "")],
    )
    .await
}

/// The same action as a plain HTML form posts it (no JavaScript): the redirect back to the page.
async fn act_form(app: &TestApp, admin: &Client, id: &str, action: &str) -> Response {
    app.post_form_with(
        admin,
        "/api/admin_user_action",
        &[("id", id), ("action", action), ("session_id", ""), ("confirm_email", "")],
    )
    .await
}

async fn audit_rows(app: &TestApp, action: &str, actor: Option<&str>, target: Option<&str>) -> i64 {
    // An absent filter matches every row.
    app.i64(
        "SELECT COUNT(*) FROM audit_events WHERE action = $1 AND ($2 = '' OR actor_user_id = $2) \
         AND ($3 = '' OR target_user_id = $3)",
        &[action, actor.unwrap_or(""), target.unwrap_or("")],
    )
    .await
}

fn mails_with(app: &TestApp, email: &str, subject: &str) -> usize {
    app.mails_to(email).iter().filter(|m| m.subject.contains(subject)).count()
}

/// Every row of the users list for these filters, following `next` to the end; and the size of each page.
async fn users_all_pages(
    app: &TestApp,
    admin: &Client,
    email: &str,
    status: &str,
    sort: &str,
) -> (Vec<UserItem>, Vec<usize>) {
    let (mut rows, mut sizes, mut after) = (Vec::new(), Vec::new(), String::new());
    for _ in 0..50 {
        let form = AdminUsers { email: email.into(), status: status.into(), sort: sort.into(), after: after.clone() };
        let v = app.ok(admin, form).await;
        sizes.push(v.rows.len());
        rows.extend(v.rows);
        match v.next {
            Some(n) => after = n,
            None => return (rows, sizes),
        }
    }
    panic!("the users list never ended ({email:?}, {status:?}, {sort:?})");
}

/// Every row of the audit explorer for these filters, following `next` to the end.
async fn audit_all_pages(app: &TestApp, admin: &Client, filters: &[(&str, &str)]) -> Vec<AuditItem> {
    let filter = |k: &str| filters.iter().find(|(f, _)| *f == k).map(|(_, v)| v.to_string()).unwrap_or_default();
    let (mut rows, mut before) = (Vec::new(), String::new());
    for _ in 0..100 {
        let form = AdminAudit {
            actor: filter("actor"),
            action: filter("action"),
            target: filter("target"),
            outcome: filter("outcome"),
            from: filter("from"),
            to: filter("to"),
            before: before.clone(),
        };
        let v = app.ok(admin, form).await;
        rows.extend(v.rows);
        match v.next {
            Some(n) => before = n,
            None => return rows,
        }
    }
    panic!("the audit explorer never ended ({filters:?})");
}

/// RFC 4180: quoted fields, doubled quotes, CRLF records (a quoted field may hold a line break).
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

async fn get_csv(app: &TestApp, admin: &Client, query: &str) -> (StatusCode, String, String) {
    let r = admin.get(app.url(&format!("/admin/audit.csv?{query}"))).send().await.unwrap();
    let status = r.status();
    let ct =
        r.headers().get(reqwest::header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s46_every_admin_page_and_function_refuses_a_non_admin() {
    let app = spawn().await;
    let (_ann, _) = admin_browser(&app, ANN).await;
    let bo = app.signed_in_user(BO).await; // signed in, not an admin
    let cy = app.signed_in_user(CY).await; // the account everything is aimed at
    let dee = app.signed_in_user(DEE).await; // an admin without two-step verification
    grant(&app, DEE).await;
    let cy_id = app.user_id(CY).await;
    let cy_session = app.text("SELECT id FROM sessions WHERE user_id = $1", &[&cy_id]).await;
    let cy_hash = app.text("SELECT password_hash FROM users WHERE id = $1", &[&cy_id]).await;
    // A dead job that would mail Cy a reset link if anyone retried it.
    let job_id = uuid::Uuid::new_v4().to_string();
    let now = app.state().clock.now();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_at, last_error, created_at, updated_at) \
         VALUES ($1, 'mail', $2, 'dead', 8, 8, $3, 'smtp down', $3, $3)",
    )
    .bind(&job_id)
    .bind(format!("{{\"type\":\"password_reset\",\"user_id\":\"{cy_id}\"}}"))
    .bind(now)
    .execute(&app.state().db.pool)
    .await
    .unwrap();
    let sessions_before = app.scalar_i64("SELECT COUNT(*) FROM sessions").await;
    let cy_mails_before = app.mails_to(CY).len();

    let user_action = |action: &'static str| {
        vec![("id", cy_id.as_str()), ("action", action), ("session_id", ""), ("confirm_email", "")]
    };
    let no_filters =
        vec![("actor", ""), ("action", ""), ("target", ""), ("outcome", ""), ("from", ""), ("to", ""), ("before", "")];
    let functions: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("admin_overview", vec![]),
        ("admin_sign_out_everyone", vec![]),
        ("admin_users", vec![("email", ""), ("status", ""), ("sort", ""), ("after", "")]),
        ("admin_users", vec![("email", "cy"), ("status", "confirmed"), ("sort", "email"), ("after", "")]),
        ("admin_user", vec![("id", &cy_id)]),
        ("admin_user_action", user_action("lock")),
        ("admin_user_action", user_action("unlock")),
        ("admin_user_action", user_action("revoke_sessions")),
        (
            "admin_user_action",
            vec![("id", &cy_id), ("action", "revoke_session"), ("session_id", &cy_session), ("confirm_email", "")],
        ),
        ("admin_user_action", user_action("send_password_reset")),
        ("admin_user_action", user_action("reset_mfa")),
        ("admin_user_action", user_action("resend_confirmation")),
        ("admin_user_action", vec![("id", &cy_id), ("action", "delete"), ("session_id", ""), ("confirm_email", CY)]),
        ("admin_impersonate", vec![("id", &cy_id)]),
        ("admin_audit", no_filters.clone()),
        (
            "admin_audit",
            vec![
                ("actor", CY),
                ("action", "user."),
                ("target", CY),
                ("outcome", "success"),
                ("from", "2020-01-01"),
                ("to", "2099-01-01"),
                ("before", ""),
            ],
        ),
        ("admin_jobs", vec![("state", "")]),
        ("admin_jobs", vec![("state", "dead")]),
        ("admin_job_action", vec![("id", &job_id), ("action", "retry"), ("state", "dead")]),
        ("admin_job_action", vec![("id", &job_id), ("action", "discard"), ("state", "dead")]),
    ];
    let forms = ["admin_sign_out_everyone", "admin_user_action", "admin_impersonate", "admin_job_action"];
    for (name, form) in &functions {
        // A signed-in non-admin: 403 Forbidden, and nothing of the data.
        let (status, body) = app.call_form(&bo, name, form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name} {form:?} as a non-admin: {body}");
        assert_eq!(body, "\"Forbidden\"", "{name} {form:?}");
        // An admin without two-step verification: 403 MfaEnrolmentRequired.
        let (status, body) = app.call_form(&dee, name, form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name} {form:?} as an admin without TOTP: {body}");
        assert!(body.contains("MfaEnrolmentRequired"), "{name}: {body}");
        // Signed out: 401.
        let (status, body) = app.call_form(&new_client(), name, form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} {form:?} signed out: {body}");
        assert!(body.contains("Unauthenticated"), "{name}: {body}");
        if forms.contains(name) {
            // A plain HTML form: refused (the error status, or back with the error in the flash), no session.
            for (client, error) in [(&bo, "Forbidden"), (&new_client(), "Unauthenticated")] {
                let r = app.post_form_with(client, &format!("/api/{name}"), form).await;
                let f = app.flash(&r).await;
                assert!(
                    r.status() == StatusCode::FORBIDDEN
                        || r.status() == StatusCode::UNAUTHORIZED
                        || (r.status().is_redirection() && f["error"] == error),
                    "{name} {form:?} as a form ({error}): {} {} {f}",
                    r.status(),
                    location(&r)
                );
                assert_eq!(f["notice"], Value::Null, "{name}: no success notice");
                assert!(session_token(&r).is_none(), "{name}: no session cookie handed out");
            }
        }
    }
    // Stopping an impersonation that is not one.
    assert_eq!(app.call_form(&bo, "stop_impersonating", &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call_form(&new_client(), "stop_impersonating", &[]).await.0, StatusCode::UNAUTHORIZED);

    // Every page: 403 for the non-admin, with none of the data; signed out, off to log in and back.
    let pages = [
        "/admin".to_string(),
        "/admin/users".to_string(),
        "/admin/users?email=cy&status=confirmed&sort=email".to_string(),
        format!("/admin/users/{cy_id}"),
        "/admin/audit".to_string(),
        "/admin/audit?action=user.&outcome=success".to_string(),
        "/admin/jobs".to_string(),
        "/admin/jobs?state=dead".to_string(),
    ];
    let mut console_shown_to_non_admin = Vec::new();
    for page in &pages {
        let r = app.get_with(&bo, page).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{page} as a non-admin");
        let body = r.text().await.unwrap();
        if body.contains("aria-label=\"Admin\"") || body.contains("Sign out every user") {
            console_shown_to_non_admin.push(page.clone());
        }
        for secret in [CY, "smtp down", "password_reset", "Failed sign-ins", "user.log_in"] {
            assert!(!body.contains(secret), "{page} shows {secret:?} to a non-admin");
        }
        let r = app.get_with(&new_client(), page).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{page} signed out");
        assert_eq!(location(&r), format!("/users/log-in?return_to={}", page.replace('&', "%26")));
        let body = r.text().await.unwrap();
        for secret in [CY, "smtp down", "password_reset", "Failed sign-ins", "user.log_in"] {
            assert!(!body.contains(secret), "{page} shows {secret:?} signed out");
        }
        let r = app.get_with(&dee, page).await;
        assert_eq!(location(&r), "/users/settings/security", "{page}: an admin without TOTP is sent to enrol");
    }
    for query in ["", "action=user.&outcome=success"] {
        for (client, expected) in [(&bo, StatusCode::FORBIDDEN), (&new_client(), StatusCode::UNAUTHORIZED)] {
            let (status, ct, body) = get_csv(&app, client, query).await;
            assert_eq!(status, expected, "audit.csv?{query}: {body}");
            assert!(!ct.starts_with("text/csv"), "{ct}");
            assert!(!body.contains(CY) && !body.contains("user.log_in") && !body.contains("\"time\""), "{body}");
        }
        let r = app.get_with(&dee, &format!("/admin/audit.csv?{query}")).await;
        assert_eq!(location(&r), "/users/settings/security", "the export sends an admin without TOTP to enrol too");
    }

    // Nothing changed.
    assert_eq!(app.opt_i64("SELECT locked_at FROM users WHERE id = $1", &[&cy_id]).await, None, "not locked");
    assert_eq!(app.signed_in_as(&cy).await.as_deref(), Some(CY), "Cy is still signed in");
    assert_eq!(app.i64("SELECT COUNT(*) FROM sessions WHERE id = $1", &[&cy_session]).await, 1);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, sessions_before, "nobody was signed out");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL").await, 0);
    assert_eq!(app.signed_in_as(&bo).await.as_deref(), Some(BO), "Bo is still Bo, not impersonating");
    assert_eq!(app.text("SELECT password_hash FROM users WHERE id = $1", &[&cy_id]).await, cy_hash);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 4, "nobody deleted");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'admin.%' AND action <> 'admin.granted'")
            .await,
        0,
        "no admin action was recorded"
    );
    assert_eq!(
        app.i64("SELECT COUNT(*) FROM jobs WHERE id = $1 AND state = 'dead' AND attempts = 8", &[&job_id]).await,
        1,
        "the dead job was neither retried nor discarded"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mails_to(CY).len(), cy_mails_before, "no mail went to Cy");
    // The 403 pages hold nothing of the console either: no admin navigation, no admin forms.
    assert!(
        console_shown_to_non_admin.is_empty(),
        "these pages show a non-admin the console's navigation or forms: {console_shown_to_non_admin:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s35_locking_a_user_ends_every_session_and_mailed_link_at_once() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    app.confirmed_user(BO, PASSWORD).await;
    let bo_id = app.user_id(BO).await;
    let first = app.another_browser(BO, PASSWORD).await;
    let second = app.another_browser(BO, PASSWORD).await;
    // Two mailed links are outstanding: a sign-in link and a password reset.
    app.post_form_with(&new_client(), "/api/request_magic_link", &[("email", BO)]).await;
    let link = token_in(&app.mail_with_subject(BO, "sign-in link").await.text, "/users/log-in/");
    app.post_form_with(&new_client(), "/api/request_password_reset", &[("email", BO)]).await;
    let reset = token_in(&app.mail_with_subject(BO, "Reset your").await.text, "/users/reset-password/");
    assert_eq!(app.signed_in_as(&first).await.as_deref(), Some(BO));
    assert_eq!(app.signed_in_as(&second).await.as_deref(), Some(BO));
    let hash = app.text("SELECT password_hash FROM users WHERE id = $1", &[&bo_id]).await;

    let (status, body) = act(&app, &ann, &bo_id, "lock").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Both browsers are out at their very next request.
    assert_eq!(app.signed_in_as(&first).await, None);
    assert_eq!(app.signed_in_as(&second).await, None);
    assert_eq!(app.call_form(&first, "settings_data", &[]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_with(&second, "/users/settings").await.text().await.unwrap().contains(BO), false);
    // The mailed links are dead.
    let (status, body) = app.call_form(&new_client(), "log_in_with_link", &[("token", &link)]).await;
    assert!(body.contains("InvalidToken"), "{status} {body}");
    let (status, body) =
        app.call_form(&new_client(), "reset_password", &[("token", &reset), ("password", NEW_PASSWORD)]).await;
    assert!(body.contains("InvalidToken"), "{status} {body}");
    assert_eq!(app.text("SELECT password_hash FROM users WHERE id = $1", &[&bo_id]).await, hash);
    // The right password is answered like a wrong one (L4: it must not confirm a password to whoever holds it);
    // a plain form goes back to the log-in page with the generic error, no session.
    let (status, body) = app.call_form(&new_client(), "log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("InvalidCredentials"), "{body}");
    let r = app.post_form_with(&new_client(), "/api/log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.flash(&r).await["error"], "InvalidCredentials");
    assert!(session_token(&r).is_none());
    // A sign-in link asked for while locked does not let them in either.
    let links_before = mails_with(&app, BO, "sign-in link");
    app.post_form_with(&new_client(), "/api/request_magic_link", &[("email", BO)]).await;
    // The answer is the one every address gets, but a locked account is mailed no new link.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mails_with(&app, BO, "sign-in link"), links_before);
    assert_eq!(app.i64("SELECT COUNT(*) FROM sessions WHERE user_id = $1", &[&bo_id]).await, 0);

    // Recorded with both names; the user was told; the console shows it.
    assert_eq!(audit_rows(&app, "admin.user_locked", Some(&ann_id), Some(&bo_id)).await, 1);
    let mail = app.mail_with_subject(BO, "account was locked").await;
    assert_eq!(mail.subject, format!("Your {} account was locked", backend::APP_NAME_DEFAULT));
    let info = app.ok(&ann, AdminUser { id: bo_id.to_string() }).await;
    assert!(info.locked.is_some(), "{info:?}");
    assert_eq!(info.sessions.len(), 0);
    let locked =
        app.ok(&ann, AdminUsers { email: "".into(), status: "locked".into(), sort: "".into(), after: "".into() }).await;
    let emails: Vec<&str> = locked.rows.iter().map(|r| r.email.as_str()).collect();
    assert_eq!(emails, vec![BO]);
    let (status, body) = act(&app, &ann, &bo_id, "lock").await;
    assert_eq!(status, StatusCode::CONFLICT, "locking twice: {body}");
    assert!(body.contains("already locked"), "{body}");

    assert_eq!(app.ok(&ann, AdminOverview {}).await.admin_locked, 1);
    let (status, body) = app.call_form(&ann, "admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(status, StatusCode::CONFLICT, "a locked account cannot be impersonated: {body}");
    // Someone guesses at the locked account meanwhile: nothing is checked against its hash (L4).
    let unchecked =
        "SELECT COUNT(*) FROM audit_events WHERE target_user_id = $1 AND detail = 'password; locked by an admin'";
    let before = app.i64(unchecked, &[&bo_id]).await;
    for _ in 0..5 {
        app.call_form(&new_client(), "log_in", &[("email", BO), ("password", "a wrong guess here")]).await;
    }
    assert_eq!(app.i64(unchecked, &[&bo_id]).await, before + 5);
    assert!(app.opt_i64("SELECT locked_until FROM users WHERE id = $1", &[&bo_id]).await.is_none());

    // Unlocked: the password works again at once (the pause is lifted too); the links stay dead.
    let (status, body) = act(&app, &ann, &bo_id, "unlock").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(audit_rows(&app, "admin.user_unlocked", Some(&ann_id), Some(&bo_id)).await, 1);
    assert_eq!(
        app.mail_with_subject(BO, "account was unlocked").await.subject,
        format!("Your {} account was unlocked", backend::APP_NAME_DEFAULT)
    );
    let back = new_client();
    let r = app.post_form_with(&back, "/api/log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&back).await.as_deref(), Some(BO));
    let (_, body) = app.call_form(&new_client(), "log_in_with_link", &[("token", &link)]).await;
    assert!(body.contains("InvalidToken"), "the old link stays dead after the unlock: {body}");
    assert_eq!(act(&app, &ann, &bo_id, "unlock").await.0, StatusCode::CONFLICT, "not locked any more");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s38_an_admin_ends_one_users_sessions_or_everyones() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    app.confirmed_user(BO, PASSWORD).await;
    let bo_id = app.user_id(BO).await;
    let bo1 = app.another_browser(BO, PASSWORD).await;
    let bo2 = app.another_browser(BO, PASSWORD).await;
    let cy = app.signed_in_user(CY).await;
    let cy_id = app.user_id(CY).await;
    let dee = app.signed_in_user(DEE).await;

    // One session, by the id the user's admin page lists.
    let info = app.ok(&ann, AdminUser { id: bo_id.to_string() }).await;
    let sessions = &info.sessions;
    assert_eq!(sessions.len(), 2, "{info:?}");
    let one = sessions[0].id.clone();
    // Another user's session id through Bo's page: not found, nothing ends.
    let cy_session = app.text("SELECT id FROM sessions WHERE user_id = $1", &[&cy_id]).await;
    let (status, _) = app
        .call_form(
            &ann,
            "admin_user_action",
            &[("id", &bo_id), ("action", "revoke_session"), ("session_id", &cy_session), ("confirm_email", "")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.signed_in_as(&cy).await.as_deref(), Some(CY));
    let (status, body) = app
        .call_form(
            &ann,
            "admin_user_action",
            &[("id", &bo_id), ("action", "revoke_session"), ("session_id", &one), ("confirm_email", "")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let still: Vec<Option<String>> = vec![app.signed_in_as(&bo1).await, app.signed_in_as(&bo2).await];
    assert_eq!(still.iter().filter(|s| s.is_some()).count(), 1, "exactly that one browser is out: {still:?}");
    assert_eq!(audit_rows(&app, "admin.session_revoked", Some(&ann_id), Some(&bo_id)).await, 1);

    // Every session of the user.
    let bo3 = app.another_browser(BO, PASSWORD).await;
    let (status, body) = act(&app, &ann, &bo_id, "revoke_sessions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for b in [&bo1, &bo2, &bo3] {
        assert_eq!(app.signed_in_as(b).await, None);
    }
    assert_eq!(app.signed_in_as(&cy).await.as_deref(), Some(CY), "other users keep theirs");
    assert_eq!(app.signed_in_as(&dee).await.as_deref(), Some(DEE));
    assert_eq!(audit_rows(&app, "admin.sessions_revoked", Some(&ann_id), Some(&bo_id)).await, 1);
    assert_eq!(app.ok(&ann, AdminUser { id: bo_id.to_string() }).await.sessions.len(), 0);
    // Not a lock: Bo signs in again.
    let bo4 = app.another_browser(BO, PASSWORD).await;

    // Everyone's, from the overview's plain form: all but the admin's own.
    let r = app.post_form_with(&ann, "/api/admin_sign_out_everyone", &[]).await;
    assert_eq!(location(&r), "/admin");
    assert_eq!(app.flash(&r).await["notice"], "EveryoneSignedOut");
    for b in [&cy, &dee, &bo4] {
        assert_eq!(app.signed_in_as(b).await, None);
    }
    assert_eq!(app.signed_in_as(&ann).await.as_deref(), Some(ANN), "the admin is still signed in");
    app.ok(&ann, AdminOverview {}).await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 1);
    assert_eq!(audit_rows(&app, "admin.sessions_revoked_everyone", Some(&ann_id), None).await, 1);
    // They can all sign in again.
    assert_eq!(app.signed_in_as(&app.another_browser(CY, PASSWORD).await).await.as_deref(), Some(CY));
    app.stop().await;
}

/// The job console lists jobs queued in the same second in the order they were queued, newest first. Its list breaks
/// ties by id, and job ids are time-ordered, as audit ids are (with random ids the order was chance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_console_lists_jobs_of_the_same_second_newest_first() {
    use backend::{
        admin::jobs::{AdminChange, AdminChanged},
        platform::jobs,
    };
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let st = app.state();
    // Due in an hour, so the worker leaves them queued.
    let later = st.clock.now() + 3600;
    let mut queued = Vec::new();
    for i in 0..12 {
        let mut tx = st.db.begin().await.unwrap();
        let job = AdminChanged { user_id: format!("nobody-{i}"), change: AdminChange::Locked };
        queued.push(jobs::enqueue_at(&mut tx, st, job, later).await.unwrap());
        tx.commit().await.unwrap();
    }
    let listed = app.ok(&ann, AdminJobs { state: "queued".into() }).await;
    let ours: Vec<&String> = listed.rows.iter().map(|r| &r.id).filter(|id| queued.contains(id)).collect();
    let newest_first: Vec<&String> = queued.iter().rev().collect();
    assert_eq!(ours, newest_first);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s20_an_admin_can_only_send_a_reset_link_never_set_or_see_a_password() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    let bo = app.signed_in_user(BO).await;
    let bo_id = app.user_id(BO).await;
    let before = password_hash(&app, &bo_id).await;

    let (status, body) = act(&app, &ann, &bo_id, "send_password_reset").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = token_in(&app.mail_with_subject(BO, "Reset your").await.text, "/users/reset-password/");
    // The admin sees a notice, never the link: not in the answer, the user's page, its data, the jobs or the log.
    assert!(!body.contains(&token) && !body.contains("reset-password"), "{body}");
    let (_, data) = app.call_form(&ann, "admin_user", &[("id", &bo_id)]).await;
    assert!(!data.contains(&token) && !data.contains("reset-password"), "{data}");
    let page = app.get_with(&ann, &format!("/admin/users/{bo_id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains(BO), "the page shows the account");
    assert!(!page.contains(&token) && !page.contains("/users/reset-password/"), "the page shows no link");
    let (_, jobs) = app.call_form(&ann, "admin_jobs", &[("state", "")]).await;
    assert!(!jobs.contains(&token) && !jobs.contains("reset-password"), "{jobs}");
    let (_, _, csv) = get_csv(&app, &ann, "").await;
    assert!(!csv.contains(&token), "the audit log holds no link");
    // The plain form (no JavaScript): back to the page with a notice, no link in the flash either.
    let r = act_form(&app, &ann, &bo_id, "send_password_reset").await;
    assert_eq!(location(&r), format!("/admin/users/{bo_id}"));
    let f = app.flash(&r).await;
    assert_eq!(f["notice"], "ResetSent");
    assert!(!f.to_string().contains("reset-password"), "{f}");
    assert_eq!(mails_with(&app, BO, "Reset your"), 2);
    let token = token_in(&app.mail_with_subject(BO, "Reset your").await.text, "/users/reset-password/");
    // No action sets a password (see `unknown_admin_actions_answer_not_found` for the status these get).
    for action in ["set_password", "change_password", "password"] {
        let (status, body) = app
            .call_form(
                &ann,
                "admin_user_action",
                &[("id", &bo_id), ("action", action), ("session_id", ""), ("confirm_email", NEW_PASSWORD)],
            )
            .await;
        assert!(!status.is_success() && body.contains("NotFound"), "{action}: {status} {body}");
    }
    assert_eq!(password_hash(&app, &bo_id).await, before, "the password is unchanged until the user uses the link");
    assert_eq!(app.signed_in_as(&bo).await.as_deref(), Some(BO), "sending a link signs nobody out");
    assert_eq!(audit_rows(&app, "admin.password_reset_sent", Some(&ann_id), Some(&bo_id)).await, 2);

    // The user chooses the new password.
    let r = app.post_form("/api/reset_password", &[("token", &token), ("password", NEW_PASSWORD)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_ne!(password_hash(&app, &bo_id).await, before);
    assert_eq!(
        location(&app.post_form_with(&new_client(), "/api/log_in", &[("email", BO), ("password", NEW_PASSWORD)]).await),
        "/"
    );
    let (status, _) = app.call_form(&new_client(), "log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_shows_the_user_refuses_sensitive_changes_and_is_audited_with_both() {
    let app = spawn().await;
    let (ann, auth) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    let bo = app.signed_in_user(BO).await;
    let bo_id = app.user_id(BO).await;
    app.confirmed_user(DEE, PASSWORD).await;
    grant(&app, DEE).await;
    let dee_id = app.user_id(DEE).await;
    let bo_hash = password_hash(&app, &bo_id).await;

    // Admins cannot be impersonated.
    let (status, body) = app.call_form(&ann, "admin_impersonate", &[("id", &dee_id)]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("Refused") && body.contains("cannot be impersonated"), "{body}");
    assert_eq!(app.signed_in_as(&ann).await.as_deref(), Some(ANN));

    // The plain form on the user's admin page: the browser is now Bo's, with the banner.
    let r = app.post_form_with(&ann, "/api/admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(location(&r), "/");
    assert!(session_token(&r).is_some(), "the cookie is replaced");
    assert_eq!(app.signed_in_as(&ann).await.as_deref(), Some(BO));
    let home = app.get_with(&ann, "/").await.text().await.unwrap();
    assert!(home.contains("You are viewing the site as bo@example.com."), "the banner names the user");
    let settings = app.get_with(&ann, "/users/settings").await;
    assert_eq!(settings.status(), StatusCode::OK);
    let settings = settings.text().await.unwrap();
    assert!(settings.contains("Impersonated by ann@example.com"), "the banner names the admin");
    assert!(settings.contains("Stop impersonating"));
    assert_eq!(app.ok(&ann, SettingsData {}).await.email, BO);
    assert_eq!(app.signed_in_as(&bo).await.as_deref(), Some(BO), "the user's own session goes on");

    // Ordinary changes work and are recorded with both; sensitive ones are refused.
    let r = app.post_form_with(&ann, "/api/update_profile", &[("display_name", "Set while impersonated")]).await;
    assert_eq!(location(&r), "/users/settings");
    assert_eq!(app.flash(&r).await["notice"], "ProfileSaved");
    let sensitive: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("change_password", vec![("current_password", PASSWORD), ("password", NEW_PASSWORD)]),
        ("sudo", vec![("password", PASSWORD), ("return_to", "/users/settings")]),
        ("request_email_change", vec![("email", "mallory@example.com")]),
        ("delete_account", vec![("confirm_email", BO)]),
        // Sensitive changes that need no re-authentication are refused too.
        ("cancel_email_change", vec![]),
        ("revoke_trusted_browser", vec![]),
        ("rename_passkey", vec![("id", "any"), ("name", "Mallory's key")]),
        ("discard_provider_link", vec![]),
    ];
    for (name, form) in &sensitive {
        let (status, body) = app.call_form(&ann, name, form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert!(body.contains("Impersonating"), "{name}: {body}");
    }
    let r = app.post_form_with(&ann, "/api/sudo", &[("password", PASSWORD), ("return_to", "/users/settings")]).await;
    assert_eq!(app.flash(&r).await["error"], "Impersonating", "the sudo page's form too");
    assert!(session_token(&r).is_none());
    assert_eq!(password_hash(&app, &bo_id).await, bo_hash);
    assert_eq!(app.opt_i64("SELECT deletion_scheduled_at FROM users WHERE id = $1", &[&bo_id]).await, None);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL AND sudo_at IS NOT NULL").await,
        0
    );
    // The console is closed to the impersonation session.
    for (name, form) in [
        ("admin_overview", vec![]),
        ("admin_users", vec![("email", ""), ("status", ""), ("sort", ""), ("after", "")]),
        ("admin_user", vec![("id", bo_id.as_str())]),
        ("admin_impersonate", vec![("id", bo_id.as_str())]),
        ("admin_jobs", vec![("state", "")]),
    ] {
        let (status, body) = app.call_form(&ann, name, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name} while impersonating: {body}");
    }
    assert_eq!(app.get_with(&ann, "/admin").await.status(), StatusCode::FORBIDDEN);

    // Stop: the admin's own session again (a new cookie), back on the user's page.
    let r = app.post_form_with(&ann, "/api/stop_impersonating", &[]).await;
    assert_eq!(location(&r), format!("/admin/users/{bo_id}"));
    assert_eq!(app.flash(&r).await["notice"], "ImpersonationStopped");
    assert!(session_token(&r).is_some());
    assert_eq!(app.signed_in_as(&ann).await.as_deref(), Some(ANN));
    app.ok(&ann, AdminOverview {}).await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL").await, 0);

    // The log names both.
    assert_eq!(audit_rows(&app, "admin.impersonation_started", Some(&ann_id), Some(&bo_id)).await, 1);
    assert_eq!(audit_rows(&app, "admin.impersonation_stopped", Some(&ann_id), Some(&bo_id)).await, 1);
    let during = app
        .i64(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'user.profile_update' AND actor_user_id = $1 \
             AND impersonator_id = $2",
            &[&bo_id, &ann_id],
        )
        .await;
    assert_eq!(during, 1, "the change made while impersonating carries the admin");
    let rows = audit_all_pages(&app, &ann, &[("actor", ANN), ("action", "user.profile_update")]).await;
    assert_eq!(rows.len(), 1, "the explorer finds it under the admin's name: {rows:?}");
    assert_eq!(rows[0].actor, BO);
    assert_eq!(rows[0].impersonator, ANN);
    let (_, _, csv) = get_csv(&app, &ann, "action=user.profile_update").await;
    let csv = parse_csv(&csv);
    assert_eq!(csv.len(), 2, "{csv:?}");
    assert_eq!((csv[1][3].as_str(), csv[1][5].as_str()), (BO, ANN), "actor and impersonator columns");

    // 15 minutes without a request end an impersonation.
    let r = app.post_form_with(&ann, "/api/admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&ann).await.as_deref(), Some(BO));
    app.state().clock.advance(14 * 60);
    assert_eq!(app.signed_in_as(&ann).await.as_deref(), Some(BO), "14 idle minutes are fine");
    app.state().clock.advance(15 * 60 + 1);
    assert_eq!(app.signed_in_as(&ann).await, None, "15 idle minutes are not");
    assert_eq!(app.call_form(&ann, "stop_impersonating", &[]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL").await, 0);

    // 30 minutes end it however active it is.
    let ann2 = log_in_with_code(&app, ANN, &auth).await;
    let r = app.post_form_with(&ann2, "/api/admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(location(&r), "/");
    for _ in 0..2 {
        app.state().clock.advance(10 * 60);
        assert_eq!(app.signed_in_as(&ann2).await.as_deref(), Some(BO));
    }
    // The test clock is the wall clock moved forward: leave the real seconds this test takes some room.
    app.state().clock.advance(10 * 60 - 30);
    assert_eq!(app.signed_in_as(&ann2).await.as_deref(), Some(BO), "29:30 in");
    app.state().clock.advance(30);
    assert_eq!(app.signed_in_as(&ann2).await, None, "30 minutes in, it is over");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL").await, 0);

    // It lasts only while the admin is one.
    let ann3 = log_in_with_code(&app, ANN, &auth).await;
    let r = app.post_form_with(&ann3, "/api/admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&ann3).await.as_deref(), Some(BO));
    // Every session of the admin ending (here by a reset of their password: a stolen cookie, say) ends the
    // impersonations they started.
    app.post_form("/api/request_password_reset", &[("email", ANN)]).await;
    let token = token_in(&app.mail_with_subject(ANN, "Reset your").await.text, "/users/reset-password/");
    let r = app.post_form("/api/reset_password", &[("token", &token), ("password", NEW_PASSWORD)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.signed_in_as(&ann3).await, None, "the admin's sessions ended, the impersonation with them");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL").await, 0);

    // It lasts only while the admin is one.
    let ann4 = log_in_with_code_as(&app, ANN, NEW_PASSWORD, &auth).await;
    let r = app.post_form_with(&ann4, "/api/admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&ann4).await.as_deref(), Some(BO));
    backend::admin::set_admin(app.state(), &EmailAddress::parse(ANN).unwrap(), false).await.unwrap();
    assert_eq!(app.signed_in_as(&ann4).await, None, "the role revoked, the impersonation is over");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_list_searches_filters_and_pages_by_keyset() {
    #[derive(Clone, Debug)]
    struct U {
        id: String,
        email: String,
        created_at: i64,
        confirmed: bool,
        locked: bool,
        admin: bool,
        mfa: bool,
    }
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let (ann_id, ann_created): (String, i64) =
        sqlx::query_as("SELECT id, created_at FROM users WHERE email = 'ann@example.com'")
            .fetch_one(&app.state().db.pool)
            .await
            .unwrap();
    let mut model = vec![U {
        id: ann_id,
        email: ANN.into(),
        created_at: ann_created,
        confirmed: true,
        locked: false,
        admin: true,
        mfa: true,
    }];
    let base = app.state().clock.now() - 100_000;
    for i in 0..66 {
        let email = match i {
            64 => "a_b@example.com".to_string(),
            65 => "axb@example.com".to_string(),
            _ => format!("user{i:03}@example.com"),
        };
        model.push(U {
            id: uuid::Uuid::new_v4().to_string(),
            email,
            // Four accounts per second: the keyset has to break ties by id.
            created_at: base + (i / 4) as i64,
            confirmed: i % 5 != 0,
            locked: i % 7 == 0,
            admin: i == 11 || i == 22,
            mfa: i % 9 == 0,
        });
    }
    let mut tx = app.state().db.begin().await.unwrap();
    for u in &model[1..] {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, confirmed_at, created_at, updated_at, locked_at, is_admin) \
             VALUES ($1, $2, NULL, $3, $4, $4, $5, $6)",
        )
        .bind(&u.id)
        .bind(&u.email)
        .bind(u.confirmed.then_some(u.created_at))
        .bind(u.created_at)
        .bind(u.locked.then_some(u.created_at + 10))
        .bind(u.admin as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
        if u.mfa {
            sqlx::query("INSERT INTO user_totp (user_id, secret_enc, enabled_at, created_at) VALUES ($1, 'x', $2, $2)")
                .bind(&u.id)
                .bind(u.created_at)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    assert_eq!(model.len(), 67);

    let emails = |rows: &[UserItem]| -> Vec<String> { rows.iter().map(|r| r.email.clone()).collect() };
    // E-mail contains…, case-insensitively, with LIKE's wildcards taken literally.
    let (rows, _) = users_all_pages(&app, &ann, "user01", "", "email").await;
    assert_eq!(emails(&rows), (10..20).map(|i| format!("user{i:03}@example.com")).collect::<Vec<_>>());
    let (rows, _) = users_all_pages(&app, &ann, "  USER01 ", "", "email").await;
    assert_eq!(rows.len(), 10);
    let (rows, _) = users_all_pages(&app, &ann, "a_b", "", "").await;
    assert_eq!(emails(&rows), vec!["a_b@example.com"], "_ is not a wildcard");
    let (rows, _) = users_all_pages(&app, &ann, "%", "", "").await;
    assert!(rows.is_empty(), "% is not a wildcard: {rows:?}");
    let (rows, _) = users_all_pages(&app, &ann, "nobody", "", "").await;
    assert!(rows.is_empty());
    let (rows, _) = users_all_pages(&app, &ann, "\\", "", "").await;
    assert!(rows.is_empty(), "a backslash is a character too");

    // Badges say what the filters select.
    let (rows, _) = users_all_pages(&app, &ann, "", "", "email").await;
    for r in &rows {
        let u = model.iter().find(|u| u.id == r.id).unwrap();
        let badges: Vec<&str> = r.badges.iter().map(String::as_str).collect();
        assert_eq!(badges.contains(&"admin"), u.admin, "{r:?}");
        assert_eq!(badges.contains(&"confirmed"), u.confirmed, "{r:?}");
        assert_eq!(badges.contains(&"unconfirmed"), !u.confirmed, "{r:?}");
        assert_eq!(badges.contains(&"locked"), u.locked, "{r:?}");
        assert_eq!(badges.contains(&"two-step"), u.mfa, "{r:?}");
        assert_eq!(r.email, u.email);
    }

    // Every filter and sort, page by page: each account exactly once, in order, full pages but the last.
    let statuses: [(&str, fn(&U) -> bool); 6] = [
        ("", |_| true),
        ("confirmed", |u| u.confirmed),
        ("unconfirmed", |u| !u.confirmed),
        ("locked", |u| u.locked),
        ("mfa", |u| u.mfa),
        ("admin", |u| u.admin),
    ];
    for (status, keep) in statuses {
        for sort in ["newest", "oldest", "email", ""] {
            let mut expected: Vec<U> = model.iter().filter(|u| keep(u)).cloned().collect();
            match sort {
                "oldest" => expected.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id))),
                "email" => expected.sort_by(|a, b| a.email.cmp(&b.email)),
                _ => expected.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id))),
            }
            let (rows, sizes) = users_all_pages(&app, &ann, "", status, sort).await;
            let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
            let unique: HashSet<&str> = ids.iter().copied().collect();
            assert_eq!(unique.len(), ids.len(), "no account twice ({status:?}, {sort:?})");
            let want: Vec<&str> = expected.iter().map(|u| u.id.as_str()).collect();
            assert_eq!(ids, want, "every account once, in order ({status:?}, {sort:?})");
            let (last, full) = sizes.split_last().unwrap();
            assert!(full.iter().all(|n| *n == 50), "{sizes:?}");
            assert!(*last <= 50 && (*last > 0 || sizes.len() == 1), "{sizes:?}");
        }
    }
    // Search, filter and pages together.
    let (rows, _) = users_all_pages(&app, &ann, "user0", "unconfirmed", "email").await;
    let want: Vec<String> = (0..64).filter(|i| i % 5 == 0).map(|i| format!("user{i:03}@example.com")).collect();
    assert_eq!(emails(&rows), want);

    // The page itself: the filters in the address, a next-page link while there is more.
    let page = app.get_with(&ann, "/admin/users?email=user01&status=&sort=email").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("user010@example.com") && html.contains("user019@example.com"));
    assert!(!html.contains("user020@example.com") && !html.contains("Next page"));
    let html = app.get_with(&ann, "/admin/users?sort=email").await.text().await.unwrap();
    assert!(html.contains("Next page"));
    assert!(html.contains("a_b@example.com") && !html.contains("user063@example.com"), "the first 50 only");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_explorer_filters_and_exports_csv() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    app.confirmed_user(BO, PASSWORD).await;
    let bo_id = app.user_id(BO).await;

    // An attacker's failed log-in with a formula for a user agent.
    let evil = Client::builder()
        .user_agent("=cmd|' /C calc'!A0")
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = app.post_form_with(&evil, "/api/log_in", &[("email", BO), ("password", "not the password at all")]).await;
    assert_eq!(location(&r), "/users/log-in");

    // 524 rows put in directly: 520 bulk rows on 2020-01-02 (ten seconds, so batches split ties), 4 at day edges.
    let day = 1_577_836_800; // 2020-01-01T00:00:00Z
    struct Row {
        id: String,
        at: i64,
        action: &'static str,
        outcome: &'static str,
        actor: String,
    }
    let mut rows = Vec::new();
    for i in 0..520 {
        rows.push(Row {
            id: uuid::Uuid::new_v4().to_string(),
            at: day + 86_400 + (i % 10),
            action: "test.bulk",
            outcome: if i % 3 == 0 { "failure" } else { "success" },
            actor: if i % 2 == 0 { ann_id.clone() } else { bo_id.clone() },
        });
    }
    for at in [day + 86_400 - 1, day + 86_400, day + 2 * 86_400 - 1, day + 2 * 86_400] {
        rows.push(Row {
            id: uuid::Uuid::new_v4().to_string(),
            at,
            action: "test.edge",
            outcome: "success",
            actor: ann_id.clone(),
        });
    }
    let mut tx = app.state().db.begin().await.unwrap();
    for r in &rows {
        sqlx::query(
            "INSERT INTO audit_events (id, at, action, outcome, actor_user_id, target_user_id, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, '127.0.0.1', 'bulk-agent', $7)",
        )
        .bind(&r.id)
        .bind(r.at)
        .bind(r.action)
        .bind(r.outcome)
        .bind(&r.actor)
        .bind(&bo_id)
        .bind("a \"quoted\", comma, detail")
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let expect = |keep: &dyn Fn(&Row) -> bool| -> HashSet<String> {
        rows.iter().filter(|r| keep(r)).map(|r| r.id.clone()).collect()
    };

    // Filters: action prefix, outcome, actor (e-mail or id), target, days (UTC, `to` inclusive).
    let bulk = audit_all_pages(&app, &ann, &[("action", "test.bulk")]).await;
    assert_eq!(bulk.len(), 520);
    assert!(bulk.iter().all(|r| r.action == "test.bulk"));
    assert_eq!(audit_all_pages(&app, &ann, &[("action", "test.")]).await.len(), 524);
    assert_eq!(audit_all_pages(&app, &ann, &[("action", "test_bulk")]).await.len(), 0, "_ is not a wildcard");
    let failures = audit_all_pages(&app, &ann, &[("action", "test.bulk"), ("outcome", "failure")]).await;
    assert_eq!(failures.len(), expect(&|r| r.action == "test.bulk" && r.outcome == "failure").len());
    assert!(failures.iter().all(|r| r.failed));
    let by_bo = audit_all_pages(&app, &ann, &[("action", "test.bulk"), ("actor", BO)]).await;
    assert_eq!(by_bo.len(), 260);
    assert!(by_bo.iter().all(|r| r.actor == BO));
    assert_eq!(audit_all_pages(&app, &ann, &[("action", "test.bulk"), ("actor", &bo_id)]).await.len(), 260);
    assert_eq!(audit_all_pages(&app, &ann, &[("action", "test."), ("target", BO)]).await.len(), 524);
    assert_eq!(audit_all_pages(&app, &ann, &[("action", "test."), ("target", ANN)]).await.len(), 0);
    let edge =
        audit_all_pages(&app, &ann, &[("action", "test.edge"), ("from", "2020-01-02"), ("to", "2020-01-02")]).await;
    let whens: Vec<&str> = edge.iter().map(|r| r.when.as_str()).collect();
    assert_eq!(whens, vec!["2020-01-02T23:59:59Z", "2020-01-02T00:00:00Z"], "newest first, the day's edges included");
    let (status, body) = app
        .call_form(
            &ann,
            "admin_audit",
            &[
                ("actor", ""),
                ("action", ""),
                ("target", ""),
                ("outcome", ""),
                ("from", "yesterday"),
                ("to", ""),
                ("before", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"from\""), "a field error on the date: {body}");
    let failed_logins = audit_all_pages(&app, &ann, &[("action", "user.log_in"), ("outcome", "failure")]).await;
    assert_eq!(failed_logins.len(), 1);
    assert_eq!(failed_logins[0].target, BO);
    // The page shows the same filter.
    let html = app.get_with(&ann, "/admin/audit?action=test.edge&from=2020-01-02&to=2020-01-02").await;
    assert_eq!(html.status(), StatusCode::OK);
    let html = html.text().await.unwrap();
    assert!(html.contains("2020-01-02T00:00:00Z") && html.contains("2020-01-02T23:59:59Z"));
    assert!(!html.contains("2020-01-01T23:59:59Z") && !html.contains("2020-01-03T00:00:00Z"));
    assert!(html.contains("/admin/audit.csv?"), "an export link with the filters");

    // The export: text/csv, a header, then exactly the filtered rows in the explorer's order (over 500: two batches).
    let r = ann.get(app.url("/admin/audit.csv?action=test.bulk")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/csv"), "{ct}");
    let cd = r.headers()[reqwest::header::CONTENT_DISPOSITION].to_str().unwrap().to_string();
    assert!(cd.starts_with("attachment;") && cd.contains(".csv"), "{cd}");
    let csv = parse_csv(&r.text().await.unwrap());
    assert_eq!(
        csv[0],
        ["time", "action", "outcome", "actor", "target", "impersonator", "ip", "user_agent", "detail", "org_id", "id"]
    );
    assert_eq!(csv.len(), 521, "header + 520 rows");
    let exported: Vec<&str> = csv[1..].iter().map(|r| r[10].as_str()).collect();
    let as_exported: Vec<(String, String, bool, String)> =
        csv[1..].iter().map(|r| (r[0].clone(), r[1].clone(), r[2] == "failure", r[3].clone())).collect();
    let as_explored: Vec<(String, String, bool, String)> =
        bulk.iter().map(|r| (r.when.clone(), r.action.clone(), r.failed, r.actor.clone())).collect();
    assert_eq!(as_exported, as_explored, "the same rows in the same order as the explorer");
    let unique: HashSet<&str> = exported.iter().copied().collect();
    assert_eq!(unique.len(), 520, "no row twice across the batch boundary");
    let want = expect(&|r| r.action == "test.bulk");
    assert_eq!(unique, want.iter().map(String::as_str).collect::<HashSet<_>>());
    let times: Vec<&str> = csv[1..].iter().map(|r| r[0].as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let first = &csv[1];
    assert_eq!(first[1], "test.bulk");
    assert_eq!(first[4], BO);
    assert_eq!(first[8], "a \"quoted\", comma, detail", "quotes and commas survive");
    for row in &csv[1..] {
        let actor = rows.iter().find(|r| r.id == row[10]).unwrap();
        assert_eq!(row[3], if actor.actor == ann_id { ANN } else { BO });
        assert_eq!(row[2], actor.outcome);
    }
    // Filters apply to the export the same way.
    let (_, _, body) = get_csv(&app, &ann, &format!("action=test.bulk&outcome=failure&actor={}", bo_id)).await;
    let csv = parse_csv(&body);
    let want = expect(&|r| r.action == "test.bulk" && r.outcome == "failure" && r.actor == bo_id);
    assert_eq!(csv.len() - 1, want.len());
    assert_eq!(csv[1..].iter().map(|r| r[10].clone()).collect::<HashSet<_>>(), want);
    let (_, _, body) = get_csv(&app, &ann, "action=test.edge&from=2020-01-02&to=2020-01-02").await;
    assert_eq!(parse_csv(&body).len(), 3);
    let (_, _, body) = get_csv(&app, &ann, "action=nothing.like.this").await;
    assert_eq!(parse_csv(&body).len(), 1, "only the header");
    let (status, _, _) = get_csv(&app, &ann, "from=tomorrow").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A formula in a cell is defused with a leading quote.
    let (_, _, body) = get_csv(&app, &ann, "action=user.log_in&outcome=failure").await;
    let csv = parse_csv(&body);
    assert_eq!(csv.len(), 2, "{body}");
    assert_eq!(csv[1][7], "'=cmd|' /C calc'!A0");
    assert!(csv.iter().flatten().all(|cell| !cell.starts_with(['=', '+', '-', '@'])), "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_mail_job_is_delivered_after_retry_once_smtp_is_up() {
    // Accounts first (mail captured), then the same database served with SMTP down and a queue.
    let url = fresh_database_url().await;
    let setup = TestApp::spawn_on(&url, roomy).await;
    let (ann, _) = admin_browser(&setup, ANN).await;
    let ann_id = setup.user_id(ANN).await;
    setup.confirmed_user(BO, PASSWORD).await;
    let bo_id = setup.user_id(BO).await;
    setup.stop().await;

    let (held, port) = closed_port(); // nothing listens here: SMTP is down
    let app = TestApp::spawn_on(&url, move |c| {
        roomy(c);
        c.mail_transport = MailTransportKind::Smtp;
        c.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}")));
        c.mail_delivery = MailDelivery::Queue;
        c.job_retry_base_secs = 1;
        c.job_max_attempts = 2;
    })
    .await;
    let open = app.scalar_i64("SELECT COUNT(*) FROM jobs WHERE state <> 'done'").await;
    assert_eq!(open, 0, "only the new job will be in the queue");
    let (status, body) = act(&app, &ann, &bo_id, "send_password_reset").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut dead = false;
    for _ in 0..150 {
        if app.scalar_i64("SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await == 1 {
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dead, "two failed attempts make the job dead");

    // The console lists it: the function, the overview and the page.
    let list = app.ok(&ann, AdminJobs { state: "dead".into() }).await;
    assert_eq!(list.rows.len(), 1, "{list:?}");
    let job = &list.rows[0];
    assert_eq!(job.summary, format!("password_reset: user_id={bo_id}"));
    assert_eq!(job.state, "dead");
    assert_eq!(job.attempts, "2 of 2");
    assert!(!job.last_error.is_empty(), "the error is shown");
    assert!(job.can_retry);
    assert_eq!(list.counts.3, 1);
    assert!(!format!("{list:?}").contains(BO), "ids only, not the address");
    let job_id = job.id.clone();
    assert_eq!(app.ok(&ann, AdminJobs { state: "queued".into() }).await.rows.len(), 0);
    assert_eq!(app.ok(&ann, AdminOverview {}).await.dead_jobs, 1);
    let page = app.get_with(&ann, "/admin/jobs?state=dead").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains(&format!("password_reset: user_id={bo_id}")), "the page lists the job");
    assert!(page.contains("Dead (1)") && page.contains("Retry"));

    // SMTP is back, on the port held closed until now; the admin retries; the mail arrives.
    drop(held);
    let sink = SmtpSink::start(port).await;
    let r = app
        .post_form_with(&ann, "/api/admin_job_action", &[("id", &job_id), ("action", "retry"), ("state", "dead")])
        .await;
    assert_eq!(location(&r), "/admin/jobs?state=dead");
    assert_eq!(app.flash(&r).await["notice"], "JobRetried");
    let raw = sink.wait_for("To: bo@example.com", 20).await;
    assert!(raw.contains("Reset your"), "{raw}");
    app.wait_for_i64("SELECT COUNT(*) FROM jobs WHERE id = $1 AND state = 'done'", &[&job_id], 1).await;
    assert_eq!(audit_rows(&app, "admin.job_retried", Some(&ann_id), None).await, 1);
    // The link in it works.
    let body = raw.replace("=\r\n", "").replace("=\n", "");
    let token = body.split("/users/reset-password/").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let token: String = token.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    let r = app
        .post_form_with(&new_client(), "/api/reset_password", &[("token", &token), ("password", NEW_PASSWORD)])
        .await;
    assert_eq!(location(&r), "/users/log-in");
    // A done job cannot be retried again.
    let (status, body) =
        app.call_form(&ann, "admin_job_action", &[("id", &job_id), ("action", "retry"), ("state", "dead")]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_actions_on_admins_are_refused() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    let (dee, _) = admin_browser(&app, DEE).await;
    let dee_id = app.user_id(DEE).await;
    let dee_mails = app.mails_to(DEE).len();

    for (target, email) in [(&dee_id, DEE), (&ann_id, ANN)] {
        for action in ["lock", "send_password_reset", "require_password_change", "reset_mfa", "delete"] {
            let (status, body) = app
                .call_form(
                    &ann,
                    "admin_user_action",
                    &[("id", target), ("action", action), ("session_id", ""), ("confirm_email", email)],
                )
                .await;
            assert_eq!(status, StatusCode::CONFLICT, "{action} on {email}: {body}");
            assert!(body.contains("Refused") && body.contains("is an admin"), "{action}: {body}");
        }
    }
    let (status, body) = app.call_form(&ann, "admin_impersonate", &[("id", &dee_id)]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // The plain form goes back to the page with the reason.
    let r = act_form(&app, &ann, &dee_id, "lock").await;
    assert_eq!(location(&r), format!("/admin/users/{dee_id}"));
    assert!(app.flash(&r).await["error"]["Refused"]["message"]
        .as_str()
        .unwrap()
        .contains(&format!("{} admin revoke", backend::PROJECT)));

    // Nothing happened to either admin.
    for (client, email, id) in [(&dee, DEE, &dee_id), (&ann, ANN, &ann_id)] {
        assert_eq!(app.signed_in_as(client).await.as_deref(), Some(email));
        assert_eq!(app.opt_i64("SELECT locked_at FROM users WHERE id = $1", &[&id]).await, None);
        let mfa = app.i64("SELECT COUNT(*) FROM user_totp WHERE user_id = $1 AND enabled_at IS NOT NULL", &[&id]).await;
        assert_eq!(mfa, 1, "{email} keeps two-step verification");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE is_admin = 1").await, 2);
    app.ok(&dee, AdminOverview {}).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.mails_to(DEE).len(), dee_mails, "no mail to the other admin");
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM audit_events WHERE action IN ('admin.user_locked', 'admin.password_reset_sent', \
             'admin.password_change_required', 'admin.mfa_reset', 'admin.user_deleted', \
             'admin.impersonation_started')"
        )
        .await,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reset_mfa_and_resend_confirmation() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    let bo = app.signed_in_user(BO).await;
    let bo_id = app.user_id(BO).await;
    enable_totp(&app, &bo).await;
    let r = app.post_form_with(&new_client(), "/api/log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/mfa", "Bo's password alone is not enough yet");

    // Bo lost the phone: the admin removes two-step verification.
    let (status, body) = act(&app, &ann, &bo_id, "reset_mfa").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mail = app.mail_with_subject(BO, "Two-step verification was reset").await;
    assert!(mail.text.contains("set it up again"));
    let fresh = new_client();
    let r = app.post_form_with(&fresh, "/api/log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/", "the password alone signs in now");
    assert_eq!(app.signed_in_as(&fresh).await.as_deref(), Some(BO));
    let security = app.ok(&fresh, SecurityData {}).await;
    assert!(!security.totp_enabled);
    assert_eq!(app.i64("SELECT COUNT(*) FROM backup_codes WHERE user_id = $1", &[&bo_id]).await, 0);
    assert_eq!(audit_rows(&app, "admin.mfa_reset", Some(&ann_id), Some(&bo_id)).await, 1);
    assert!(!app.ok(&ann, AdminUser { id: bo_id.to_string() }).await.totp);
    let (status, body) = act(&app, &ann, &bo_id, "reset_mfa").await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing to reset: {body}");

    // Resending the confirmation: for an unconfirmed account a new link that works…
    assert_eq!(app.register(CY, PASSWORD).await.status(), StatusCode::FOUND);
    let cy_id = app.user_id(CY).await;
    assert_eq!(mails_with(&app, CY, "Confirm your e-mail"), 1);
    let (status, body) = act(&app, &ann, &cy_id, "resend_confirmation").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(mails_with(&app, CY, "Confirm your e-mail"), 2);
    let mail = app.mail_with_subject(CY, "Confirm your e-mail").await;
    let token = token_of(&link_in(&mail.text));
    let r = app.post_form("/api/confirm_with_link", &[("token", &token)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert!(app.opt_i64("SELECT confirmed_at FROM users WHERE id = $1", &[&cy_id]).await.is_some());
    assert_eq!(audit_rows(&app, "admin.confirmation_resent", Some(&ann_id), Some(&cy_id)).await, 1);
    // …and for a confirmed one, a refusal and no mail.
    for id in [&cy_id, &bo_id] {
        let (status, body) = act(&app, &ann, id, "resend_confirmation").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body.contains("already confirmed"), "{body}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mails_with(&app, CY, "Confirm your e-mail"), 2);
    assert_eq!(mails_with(&app, BO, "Confirm your e-mail"), 0, "Bo's account was made confirmed");
    app.stop().await;
}

fn delete_form<'a>(id: &'a str, typed: &'a str) -> [(&'static str, &'a str); 4] {
    [("id", id), ("action", "delete"), ("session_id", ""), ("confirm_email", typed)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_delete_needs_the_typed_email_then_removes_the_account_and_mails_the_user() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    let bo = app.signed_in_user(BO).await;
    let bo_id = app.user_id(BO).await;
    // The typed address must be the account's.
    for typed in ["", "bo@example.org", "someone@example.com"] {
        let (status, body) = app.call_form(&ann, "admin_user_action", &delete_form(&bo_id, typed)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}: {body}");
        let Ok(AppError::Validation { fields }) = serde_json::from_str(&body) else { panic!("{body}") };
        assert!(fields.contains_key("confirm_email"), "{body}");
    }
    let r = app.post_form_with(&ann, "/api/admin_user_action", &delete_form(&bo_id, "nobody@example.com")).await;
    assert_eq!(location(&r), format!("/admin/users/{bo_id}"), "a plain form goes back to the page");
    assert!(app.flash(&r).await["error"]["Validation"]["fields"]["confirm_email"].is_string());
    assert_eq!(app.i64("SELECT COUNT(*) FROM users WHERE id = $1", &[&bo_id]).await, 1, "still there");
    assert_eq!(app.signed_in_as(&bo).await.as_deref(), Some(BO));

    // Typed right (case and spaces do not matter): gone, signed out, told, recorded.
    let r = app.post_form_with(&ann, "/api/admin_user_action", &delete_form(&bo_id, " BO@example.com ")).await;
    assert_eq!(location(&r), "/admin/users", "to the list: the account's page is gone");
    assert_eq!(app.flash(&r).await["notice"], "UserDeleted");
    assert_eq!(app.i64("SELECT COUNT(*) FROM users WHERE id = $1", &[&bo_id]).await, 0);
    assert_eq!(app.i64("SELECT COUNT(*) FROM sessions WHERE user_id = $1", &[&bo_id]).await, 0);
    assert_eq!(app.signed_in_as(&bo).await, None);
    let mail = app.mail_with_subject(BO, "was deleted").await;
    assert_eq!(mail.subject, format!("Your {} account was deleted", backend::APP_NAME_DEFAULT));
    assert_eq!(audit_rows(&app, "admin.user_deleted", Some(&ann_id), Some(&bo_id)).await, 1);
    let (status, _) = app.call_form(&new_client(), "log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.call_form(&ann, "admin_user", &[("id", &bo_id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call_form(&ann, "admin_user_action", &delete_form(&bo_id, BO)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "twice");
    // The log still finds the deleted account by its id.
    let rows = audit_all_pages(&app, &ann, &[("target", &bo_id), ("action", "admin.user_deleted")]).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].target, bo_id);
    // The address can be registered again.
    app.confirmed_user(BO, NEW_PASSWORD).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_admin_actions_answer_not_found() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    app.confirmed_user(BO, PASSWORD).await;
    let bo_id = app.user_id(BO).await;
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "admin_user_action",
            vec![("id", &bo_id), ("action", "set_password"), ("session_id", ""), ("confirm_email", "")],
        ),
        ("admin_user_action", vec![("id", &bo_id), ("action", "LOCK"), ("session_id", ""), ("confirm_email", "")]),
        ("admin_job_action", vec![("id", "anything"), ("action", "run_now"), ("state", "")]),
    ];
    let mut wrong = Vec::new();
    for (name, form) in &calls {
        let (status, body) = app.call_form(&ann, name, form).await;
        assert_eq!(body, "\"NotFound\"", "{name} {form:?}");
        if status != StatusCode::NOT_FOUND {
            wrong.push(format!("{name} action={}: {status}", form[1].1));
        }
    }
    assert!(wrong.is_empty(), "an unknown action is a 404, not a server error: {wrong:?}");
    assert_eq!(app.opt_i64("SELECT locked_at FROM users WHERE id = $1", &[&bo_id]).await, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s35_a_lock_also_ends_a_pending_second_factor_and_trusted_browsers() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let bo = app.signed_in_user(BO).await;
    let bo_id = app.user_id(BO).await;
    let (auth, _) = enable_totp(&app, &bo).await;
    // A browser Bo trusts, signed out again, and one waiting at the code prompt.
    let trusted = new_client();
    let r = app.post_form_with(&trusted, "/api/log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/mfa");
    let r = app.post_form_with(&trusted, "/api/mfa_verify", &[("code", &auth.code(&app)), ("trust", "on")]).await;
    assert_eq!(location(&r), "/");
    app.post_form_with(&trusted, "/api/log_out", &[]).await;
    let waiting = new_client();
    let r = app.post_form_with(&waiting, "/api/log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/mfa");

    let (status, body) = act(&app, &ann, &bo_id, "lock").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.state().clock.advance(30);
    let (status, body) = app.call_form(&waiting, "mfa_verify", &[("code", &auth.code(&app))]).await;
    assert!(!status.is_success(), "the pending challenge ended with the lock: {status} {body}");
    assert_eq!(app.signed_in_as(&waiting).await, None);
    assert_eq!(app.signed_in_as(&bo).await, None);
    // The right password is answered like a wrong one (L4): it confirms nothing.
    let (status, body) = app.call_form(&trusted, "log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("InvalidCredentials"), "{body}");

    // After the unlock the once-trusted browser is asked for the code again.
    assert_eq!(act(&app, &ann, &bo_id, "unlock").await.0, StatusCode::OK);
    let r = app.post_form_with(&trusted, "/api/log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/mfa", "the lock forgot the trusted browser");
    app.stop().await;
}

/// With `REQUIRE_MFA` on, a user who has not enrolled yet can only reach the enrolment page; an admin impersonating
/// such a user must still be able to press "Stop impersonating" and get their own session back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_impersonating_works_when_the_site_requires_two_step_verification() {
    let app = TestApp::spawn_with(|c| {
        roomy(c);
        c.require_mfa = true;
    })
    .await;
    let (ann, _) = admin_browser(&app, ANN).await;
    app.confirmed_user(BO, PASSWORD).await; // has not enrolled yet
    let bo_id = app.user_id(BO).await;
    app.ok(&ann, AdminOverview {}).await;

    let r = app.post_form_with(&ann, "/api/admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(location(&r), "/");
    let r = app.get_with(&ann, "/").await;
    assert_eq!(location(&r), "/users/settings/security", "Bo is sent to enrol, and so is the admin acting as Bo");
    let page = app.get_with(&ann, "/users/settings/security").await.text().await.unwrap();
    assert!(page.contains("Stop impersonating"), "the banner offers the way out");

    let (status, body) = app.call_form(&ann, "stop_impersonating", &[]).await;
    assert_eq!(status, StatusCode::OK, "stopping is refused: {body}");
    assert_eq!(app.signed_in_as(&ann).await.as_deref(), Some(ANN));
    app.ok(&ann, AdminOverview {}).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_an_admin_requires_a_new_password_and_the_old_one_stops_signing_in_until_the_user_chooses_one() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let ann_id = app.user_id(ANN).await;
    let bo = app.signed_in_user(BO).await;
    let bo_id = app.user_id(BO).await;
    let bo_phone = app.another_browser(BO, PASSWORD).await;
    let before = password_hash(&app, &bo_id).await;

    // The page offers it for an account with a password.
    let page = app.get_with(&ann, &format!("/admin/users/{bo_id}")).await.text().await.unwrap();
    assert!(page.contains("Require a new password…"), "the action is on the page");
    // The plain form: back to the page with the notice.
    let r = act_form(&app, &ann, &bo_id, "require_password_change").await;
    assert_eq!(location(&r), format!("/admin/users/{bo_id}"));
    assert_eq!(app.flash(&r).await["notice"], "PasswordChangeRequired");

    // Every session of the user ended; the admin never saw or set a password.
    assert_eq!(app.signed_in_as(&bo).await, None);
    assert_eq!(app.signed_in_as(&bo_phone).await, None);
    assert_eq!(password_hash(&app, &bo_id).await, before);
    assert_eq!(audit_rows(&app, "admin.password_change_required", Some(&ann_id), Some(&bo_id)).await, 1);
    let mail = app.mail_with_subject(BO, "Choose a new password").await;
    assert!(mail.text.contains("no longer signs you in"), "{}", mail.text);
    assert!(mail.text.contains("/users/reset-password"), "the mail says where to choose one: {}", mail.text);
    let page = app.get_with(&ann, &format!("/admin/users/{bo_id}")).await.text().await.unwrap();
    assert!(page.contains("must be changed"), "the page shows the requirement");
    assert!(!page.contains("Require a new password…"), "and no longer offers it");
    let (status, body) = act(&app, &ann, &bo_id, "require_password_change").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("already has to choose a new password"), "{body}");

    // The right password no longer opens a session and is answered like a wrong one (L4); the owner is mailed a
    // reset link instead.
    let (status, body) = app.call_form(&new_client(), "log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("InvalidCredentials"), "{body}");
    let token = token_in(&app.mail_with_subject(BO, "Reset your").await.text, "/users/reset-password/");
    // Choosing a new password through the link lifts the requirement.
    let r = app.post_form("/api/reset_password", &[("token", &token), ("password", NEW_PASSWORD)]).await;
    assert_eq!(location(&r), "/users/log-in");
    let r = app.post_form_with(&new_client(), "/api/log_in", &[("email", BO), ("password", NEW_PASSWORD)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.i64("SELECT password_change_required FROM users WHERE id = $1", &[&bo_id]).await, 0);

    // An account without a password has nothing to require.
    app.confirmed_user(CY, PASSWORD).await;
    let cy_id = app.user_id(CY).await;
    sqlx::query("UPDATE users SET password_hash = NULL WHERE id = $1")
        .bind(&cy_id)
        .execute(&app.state().db.pool)
        .await
        .unwrap();
    let (status, body) = act(&app, &ann, &cy_id, "require_password_change").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("has no password"), "{body}");
    let page = app.get_with(&ann, &format!("/admin/users/{cy_id}")).await.text().await.unwrap();
    assert!(!page.contains("Require a new password…"));
    assert_eq!(app.i64("SELECT password_change_required FROM users WHERE id = $1", &[&cy_id]).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_sees_in_their_activity_what_an_admin_did_without_the_admins_address() {
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let bo = app.signed_in_user(BO).await;
    let bo_id = app.user_id(BO).await;
    let (status, body) = act(&app, &ann, &bo_id, "send_password_reset").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = app.post_form_with(&ann, "/api/admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(location(&r), "/");
    let r = app.post_form_with(&ann, "/api/update_profile", &[("display_name", "Changed by support")]).await;
    assert_eq!(location(&r), "/users/settings");
    let r = app.post_form_with(&ann, "/api/stop_impersonating", &[]).await;
    assert_eq!(location(&r), format!("/admin/users/{bo_id}"));
    // The admin's own address is recorded (for the audit log), never shown to the user.
    let admin_ip = app
        .text(
            "SELECT ip FROM audit_events WHERE action = 'admin.impersonation_started' AND target_user_id = $1",
            &[&bo_id],
        )
        .await;

    let data = app.ok(&bo, ListSessions {}).await;
    let feed = &data.activity;
    let item = |what: &str| {
        feed.iter().find(|a| a.what == what).unwrap_or_else(|| panic!("{what:?} in the feed: {feed:#?}")).clone()
    };
    for what in [
        "An administrator sent you a password-reset link",
        "An administrator started using the site as you",
        "Profile updated — by an administrator signed in as you",
        "The administrator stopped using the site as you",
    ] {
        let a = item(what);
        assert!(a.by_admin, "{a:?}");
        assert_eq!(a.ip, "", "{what}: no address of the admin's");
        assert_eq!(a.device, "an administrator");
    }
    // The user's own sign-in keeps its device and address.
    let own = item("Signed in");
    assert!(!own.by_admin);
    assert_eq!(own.ip, admin_ip, "(both come from loopback here)");
    let page = app.get_with(&bo, "/users/sessions").await.text().await.unwrap();
    assert!(page.contains("An administrator started using the site as you"), "the page shows it");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impersonating_admin_cannot_change_who_belongs_to_an_organization() {
    use crate::orgs::{create_org, invitation_id, invite, member, role_in};
    let app = spawn().await;
    let (ann, _) = admin_browser(&app, ANN).await;
    let bo = app.signed_in_user(BO).await;
    let bo_id = app.user_id(BO).await;
    create_org(&app, &bo, "Acme", "acme").await;
    let _cy = member(&app, &bo, "acme", CY, "member").await;
    let cy_id = app.user_id(CY).await;
    invite(&app, &bo, "acme", DEE, "member").await;
    let dee_invitation = invitation_id(&app, &bo, "acme", DEE).await;
    // An invitation to Bo's address waits in another organization.
    app.confirmed_user("eve@example.com", PASSWORD).await;
    let eve = app.another_browser("eve@example.com", PASSWORD).await;
    create_org(&app, &eve, "Other", "other").await;
    invite(&app, &eve, "other", BO, "admin").await;
    let listed = invitation_id(&app, &eve, "other", BO).await;

    let r = app.post_form_with(&ann, "/api/admin_impersonate", &[("id", &bo_id)]).await;
    assert_eq!(location(&r), "/");
    // Looking is fine.
    app.ok(&ann, OrganizationMembers { slug: "acme".into() }).await;
    let refused: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("change_member_role", vec![("slug", "acme"), ("user_id", &cy_id), ("role", "owner")]),
        ("remove_member", vec![("slug", "acme"), ("user_id", &cy_id)]),
        ("invite_member", vec![("slug", "acme"), ("email", "mallory@example.com"), ("role", "admin")]),
        ("resend_invitation", vec![("slug", "acme"), ("id", &dee_invitation)]),
        ("revoke_invitation", vec![("slug", "acme"), ("id", &dee_invitation)]),
        ("invitation_link", vec![("slug", "acme"), ("id", &dee_invitation)]),
        ("update_organization", vec![("slug", "acme"), ("name", "Mallory Inc"), ("new_slug", "mallory")]),
        ("set_organization_mfa", vec![("slug", "acme"), ("require", "on")]),
        ("leave_organization", vec![("slug", "acme")]),
        ("accept_listed_invitation", vec![("id", &listed)]),
    ];
    for (name, form) in &refused {
        let (status, body) = app.call_form(&ann, name, form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert!(body.contains("Impersonating"), "{name}: {body}");
    }
    assert_eq!(role_in(&app, "acme", CY).await.as_deref(), Some("member"));
    assert_eq!(role_in(&app, "acme", BO).await.as_deref(), Some("owner"));
    assert_eq!(role_in(&app, "other", BO).await, None);
    assert_eq!(app.text("SELECT name FROM organizations WHERE slug = 'acme'", &[]).await, "Acme");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM invitations WHERE email = 'mallory@example.com'").await, 0);

    // Stopped, the same user can.
    app.post_form_with(&ann, "/api/stop_impersonating", &[]).await;
    app.ok(&bo, ChangeMemberRole { slug: "acme".into(), user_id: cy_id.to_string(), role: "admin".into() }).await;
    assert_eq!(role_in(&app, "acme", CY).await.as_deref(), Some("admin"));
    app.stop().await;
}
