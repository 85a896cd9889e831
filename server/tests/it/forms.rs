//! One shape for every form: the server decides the outcome once (a `Done`: the notice, the next page, values for
//! it), and the same outcome reaches the reactive page (the decoded answer) and a browser without JavaScript (a
//! redirect, with the notice and values in the flash).
use app::{
    account::settings::UpdateProfile,
    auth::{password_reset::RequestPasswordReset, register::Register},
    context::{Done, Notice},
};

use crate::common::*;

const ANN: &str = "ann@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_has_one_outcome_with_and_without_javascript() {
    let app = TestApp::spawn().await;

    // A form that stays on its page: the reactive page reads the notice from the answer...
    let ann = app.signed_in_user(ANN).await;
    let done = app.ok(&ann, UpdateProfile { display_name: "Ann".into() }).await;
    assert_eq!(
        done,
        Done { notice: Some(Notice::ProfileSaved), next: "/users/settings".into(), values: Default::default() }
    );
    // ...and gets no flash, which would turn up on whatever page it opens next.
    let r = app.call_server_fn_with(&ann, "/api/update_profile", &[("display_name", "Ann E.")]).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(app.flash(&r).await, serde_json::Value::Null);
    // Without JavaScript the same outcome is a redirect to the page with the notice in the flash.
    let r = app.post_form_with(&ann, "/api/update_profile", &[("display_name", "Ann")]).await;
    assert_eq!(location(&r), "/users/settings");
    assert_eq!(app.flash(&r).await["notice"], "ProfileSaved");

    // A form that goes on to another page, with a value for it (the address to prefill).
    let done = app.ok(&new_client(), Register { email: "Bo@Example.com".into(), password: PASSWORD.into() }).await;
    assert_eq!(done.notice, Some(Notice::Registered));
    assert_eq!(done.next, "/users/confirm");
    assert_eq!(done.value("email").as_deref(), Some("bo@example.com"));
    let r = app.register("cy@example.com", PASSWORD).await;
    assert_eq!(location(&r), "/users/confirm");
    let flash = app.flash(&r).await;
    assert_eq!(
        (flash["notice"].as_str(), flash["values"]["email"].as_str()),
        (Some("Registered"), Some("cy@example.com"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_is_parsed_at_the_edge_and_a_bad_one_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    // The reactive page gets the field's error (422; nothing was sent)...
    let (status, error) =
        app.call(&new_client(), RequestPasswordReset { email: "not an address".into() }).await.unwrap_err();
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error.field_error("email").is_some(), "{error:?}");
    // ...a browser without JavaScript goes back to the form with the error and what was typed.
    let r = app.post_form("/api/request_password_reset", &[("email", "not an address")]).await;
    assert_eq!(location(&r), "/users/reset-password");
    let flash = app.flash(&r).await;
    assert!(flash["error"]["Validation"].is_object(), "{flash}");
    assert_eq!(flash["values"]["email"], "not an address");
    assert!(app.state().mailer.stored().is_empty(), "no mail for an address that did not parse");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_typed_field_is_refused_by_name_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    crate::orgs::create_org(&app, &ann, "Acme", "acme").await;
    crate::orgs::member(&app, &ann, "acme", "bo@example.com", "member").await;
    let bo_id = app.user_id("bo@example.com").await;
    let invisible = "Ac\u{202E}me";
    let cases: Vec<(&str, Vec<(&str, &str)>, &str)> = vec![
        ("update_profile", vec![("display_name", invisible)], "display_name"),
        ("create_organization", vec![("name", "   "), ("slug", "")], "name"),
        ("create_organization", vec![("name", invisible), ("slug", "")], "name"),
        ("update_organization", vec![("slug", "acme"), ("name", ""), ("new_slug", "acme")], "name"),
        ("update_organization", vec![("slug", "acme"), ("name", "Acme"), ("new_slug", "a--b")], "slug"),
        ("invite_member", vec![("slug", "acme"), ("email", "cy@example.com"), ("role", "boss")], "role"),
        ("change_member_role", vec![("slug", "acme"), ("user_id", &bo_id), ("role", "Owner")], "role"),
    ];
    for (name, form, field) in &cases {
        let (status, body) = app.call_form(&ann, name, form).await;
        assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{name} {form:?}: {body}");
        let error: app::error::AppError = serde_json::from_str(&body).unwrap();
        assert!(error.field_error(field).is_some(), "{name} {form:?}: {body}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM organizations").await, 1);
    assert_eq!(app.text("SELECT name FROM organizations WHERE slug = $1", &["acme"]).await, "Acme");
    assert_eq!(app.text("SELECT role FROM memberships WHERE user_id = $1", &[&bo_id]).await, "member");
    assert_eq!(app.i64("SELECT COUNT(*) FROM invitations WHERE email = $1", &["cy@example.com"]).await, 0);
    assert_eq!(app.i64("SELECT COUNT(*) FROM users WHERE display_name IS NOT NULL", &[]).await, 0);
    app.stop().await;
}
