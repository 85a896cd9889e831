//! The operator role: granted from the command line only, two-step verification required, checked on the server.
use std::process::Command;

use reqwest::StatusCode;

use crate::{common::*, mfa::enable_totp};

const ANN: &str = "ann@example.com";
const BO: &str = "bo@example.com";

fn admin_cli(url: &str, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
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
    let o: serde_json::Value = app.call_server_fn_with(&ann, "/api/admin_overview", &[]).await.json().await.unwrap();
    assert_eq!(o["users"], 2);
    assert_eq!(o["unconfirmed"], 0);
    assert_eq!(o["sign_ins_24h"], 2);
    assert_eq!(o["failed_sign_ins_24h"], 1);

    // Revoked from the command line: the next request is refused.
    admin_cli(&url, &["revoke", ANN]);
    assert_eq!(app.call_server_fn_with(&ann, "/api/admin_overview", &[]).await.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
