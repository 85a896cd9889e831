//! Organizations and the account lifecycle: deleting an account never leaves an organization without an owner.
use reqwest::StatusCode;

use crate::common::*;

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";

async fn create_org(app: &TestApp, client: &reqwest::Client, name: &str) -> String {
    let r = app.post_form_with(client, "/api/create_organization", &[("name", name)]).await;
    let to = location(&r);
    assert!(to.starts_with("/organizations/") && to.ends_with("/members"), "{to}");
    to.split('/').nth(2).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_only_owner_of_an_organization_with_other_members_cannot_delete_the_account() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.confirmed_user(BOB, PASSWORD).await;
    let ann = app.another_browser(ANN, PASSWORD).await;
    let bob = app.another_browser(BOB, PASSWORD).await;
    let slug = create_org(&app, &ann, "Shared Co").await;
    let r = app
        .call_server_fn_with(&ann, "/api/invite_member", &[("slug", &slug), ("email", BOB), ("role", "member")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let link: serde_json::Value = r.json().await.unwrap();
    let token = token_of(link["values"]["invite_link"].as_str().unwrap());
    let r = app.call_server_fn_with(&bob, "/api/accept_invitation", &[("token", &token)]).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let r = app.call_server_fn_with(&ann, "/api/delete_account", &[("confirm_email", ANN)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("only owner of Shared Co"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE deletion_scheduled_at IS NOT NULL").await, 0);

    // With Bob made owner too, the account can go; the organization stays with Bob.
    let bob_id = app.user_id(BOB).await;
    let r = app
        .call_server_fn_with(
            &ann,
            "/api/change_member_role",
            &[("slug", &slug), ("user_id", &bob_id), ("role", "owner")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.call_server_fn_with(&ann, "/api/delete_account", &[("confirm_email", ANN)]).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    app.state().clock.advance(7 * 24 * 3600 + 1);
    app.run_due_jobs().await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM memberships WHERE role = 'owner'").await, 1);
    let bob = app.another_browser(BOB, PASSWORD).await; // the week ended Bob's session too
    let home = app.get_with(&bob, &format!("/organizations/{slug}")).await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Shared Co"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_takes_its_own_organizations_and_hands_others_to_a_member() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.confirmed_user(BOB, PASSWORD).await;
    let ann = app.another_browser(ANN, PASSWORD).await;
    let bob = app.another_browser(BOB, PASSWORD).await;
    let solo = create_org(&app, &ann, "Ann Alone").await;
    let shared = create_org(&app, &ann, "Ann And Bob").await;
    let r = app
        .call_server_fn_with(&ann, "/api/invite_member", &[("slug", &shared), ("email", BOB), ("role", "admin")])
        .await;
    let link: serde_json::Value = r.json().await.unwrap();
    let token = token_of(link["values"]["invite_link"].as_str().unwrap());
    app.call_server_fn_with(&bob, "/api/accept_invitation", &[("token", &token)]).await;
    // Bob's a second owner when Ann schedules deletion …
    let bob_id = app.user_id(BOB).await;
    app.call_server_fn_with(
        &ann,
        "/api/change_member_role",
        &[("slug", &shared), ("user_id", &bob_id), ("role", "owner")],
    )
    .await;
    let r = app.call_server_fn_with(&ann, "/api/delete_account", &[("confirm_email", ANN)]).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // … and steps down to admin during the grace period, leaving Ann the only owner when the job runs.
    sqlx::query("UPDATE memberships SET role = 'admin' WHERE user_id = $1")
        .bind(&bob_id)
        .execute(&app.state().db.pool)
        .await
        .unwrap();
    app.state().clock.advance(7 * 24 * 3600 + 1);
    app.run_due_jobs().await;

    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM organizations").await, 1, "Ann's own organization went with her");
    let bob = app.another_browser(BOB, PASSWORD).await; // the week ended Bob's session too
    assert_eq!(app.get_with(&bob, &format!("/organizations/{solo}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get_with(&bob, &format!("/organizations/{shared}")).await.status(), StatusCode::OK);
    let (role,): (String,) = sqlx::query_as("SELECT role FROM memberships WHERE user_id = $1")
        .bind(&bob_id)
        .fetch_one(&app.state().db.pool)
        .await
        .unwrap();
    assert_eq!(role, "owner", "the remaining member owns the shared organization");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'org.member.role_changed' AND org_id IS NOT NULL AND detail LIKE '%account was deleted%'").await,
        1
    );
    app.stop().await;
}
