//! Route guards and return-to: a signed-out visit to a page behind log in goes to the log-in page, and every way of
//! signing in comes back to that page (here: the password and the no-JavaScript error path; the code step, the
//! mailed link, passkeys and providers in their own files). Only a page of this site is ever gone back to.
use reqwest::StatusCode;

use crate::common::*;

const ANN: &str = "ann@example.com";

/// Every page behind log in, with the address its log-in redirect carries.
const BEHIND_LOG_IN: [(&str, &str); 9] = [
    ("/users/sessions", "/users/sessions"),
    ("/users/sudo", "/users/sudo"),
    ("/users/settings", "/users/settings"),
    ("/users/settings/security", "/users/settings/security"),
    ("/users/settings/connections", "/users/settings/connections"),
    ("/organizations", "/organizations"),
    ("/organizations/new", "/organizations/new"),
    ("/organizations/acme/members?x=1&y=2", "/organizations/acme/members?x=1%26y=2"),
    ("/admin/users?email=a+b", "/admin/users?email=a%2Bb"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_visit_to_a_page_behind_log_in_goes_to_log_in_and_says_where_it_came_from() {
    let app = TestApp::spawn().await;
    let anon = bare_client();
    for (page, carried) in BEHIND_LOG_IN {
        // Browsers and clients that do not ask for HTML get the same redirect.
        for accept in ["text/html", "*/*"] {
            let r = anon.get(app.url(page)).header("accept", accept).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FOUND, "{page} ({accept})");
            assert_eq!(location(&r), format!("/users/log-in?return_to={carried}"), "{page}");
            assert!(!r.text().await.unwrap().contains("<form"), "{page}: nothing of the page is rendered");
        }
    }
    // The pages anyone may open stay open.
    for page in ["/", "/users/log-in", "/users/register", "/users/reset-password", "/users/confirm", "/users/mfa"] {
        let r = app.get_with(&anon, page).await;
        assert_eq!(r.status(), StatusCode::OK, "{page}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_log_in_comes_back_to_the_page_that_sent_the_visitor() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    let page = app.get(&format!("/users/log-in?return_to=/users/sessions")).await.text().await.unwrap();
    assert!(page.contains(r#"name="return_to" value="/users/sessions""#), "the form carries it on");

    // A wrong password (no JavaScript): back to the log-in page, still carrying it.
    let browser = new_client();
    let form = [("email", ANN), ("password", "wrong password!"), ("return_to", "/users/sessions")];
    let r = app.post_form_with(&browser, "/api/log_in", &form).await;
    assert_eq!(location(&r), "/users/log-in?return_to=/users/sessions");

    let form = [("email", ANN), ("password", PASSWORD), ("return_to", "/users/sessions?all=1")];
    let r = app.post_form_with(&browser, "/api/log_in", &form).await;
    assert_eq!(location(&r), "/users/sessions?all=1");
    assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some(ANN));
    let r = app.get_with(&browser, "/users/sessions").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Your sessions"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_in_comes_back_only_to_a_page_of_this_site() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "/api/log_out",
        "/auth/oidc",
        "/users/ settings",
    ] {
        let page = app.get(&format!("/users/log-in?return_to={evil}")).await.text().await.unwrap();
        assert!(page.contains(r#"name="return_to" value="""#), "{evil}: the log-in page does not carry it");
        let browser = new_client();
        let form = [("email", ANN), ("password", PASSWORD), ("return_to", evil)];
        let r = app.post_form_with(&browser, "/api/log_in", &form).await;
        assert_eq!(location(&r), "/", "{evil}");
        assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some(ANN));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_gets_a_403_page_behind_the_admin_guard() {
    let app = TestApp::spawn().await;
    let bo = app.signed_in_user("bo@example.com").await;
    let r = app.get_with(&bo, "/admin/jobs").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.text().await.unwrap();
    assert!(body.contains("Not allowed") && !body.contains(r#"aria-label="Admin""#));
    app.stop().await;
}

/// The route table is built once and shared by every render (`RouteTable` in app/src/lib.rs): pages rendered at the
/// same time, for different people and addresses, each get their own page. 2 048 renders: with Leptos's `Lazy`
/// views in the shared table (state every render of a route shares), this failed in each of two runs — a render
/// panicked on that state held by another, and its connection was dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_rendered_at_the_same_time_each_get_their_own_page() {
    let app = TestApp::spawn().await;
    let (ann, bo, anon) = (app.signed_in_user(ANN).await, app.signed_in_user("bo@example.com").await, bare_client());
    // Who asks, for what, the status and a text the page must show, and the other person's address, which it must not.
    let visits = [
        (&ann, "/", StatusCode::OK, "You are signed in as <strong>ann@example.com</strong>", Some("bo@example.com")),
        (&bo, "/", StatusCode::OK, "You are signed in as <strong>bo@example.com</strong>", Some(ANN)),
        (&anon, "/", StatusCode::OK, "Accounts, done right.", None),
        (&anon, "/users/log-in", StatusCode::OK, "<form", None),
        (&ann, "/users/settings", StatusCode::OK, ANN, Some("bo@example.com")),
        (&anon, "/users/settings", StatusCode::FOUND, "", None),
        (&bo, "/admin", StatusCode::FORBIDDEN, "Not allowed", None),
        (&anon, "/no/such/page", StatusCode::NOT_FOUND, "Page not found", None),
    ];
    for round in 0..16 {
        let answers = futures::future::join_all((0..128).map(|i| {
            let (client, path, status, shown, someone_else) = visits[i % visits.len()];
            let url = app.url(path);
            async move {
                let r = client.get(url).header("accept", "text/html").send().await;
                let r = r.unwrap_or_else(|e| panic!("round {round}, {path}: no answer ({e})"));
                (path, status, shown, someone_else, r.status(), r.text().await.unwrap_or_default())
            }
        }))
        .await;
        for (path, status, shown, someone_else, got, body) in answers {
            assert_eq!(got, status, "round {round}, {path}");
            assert!(body.contains(shown), "round {round}, {path}: {shown:?} not in the page");
            assert!(!someone_else.is_some_and(|e| body.contains(e)), "round {round}, {path}: someone else's page");
        }
    }
    app.stop().await;
}

/// The page frame is written on the server's synchronous path (`SyncRender`, app/src/components/sync_render.rs)
/// inside the asynchronous render of every page: the HTML must be what the asynchronous path writes, byte for byte,
/// or the browser's hydration would not match it. The header, signed out, signed in (in an organization, as an admin)
/// and impersonated: components, reactive closures, branches and text next to text.
#[test]
fn the_page_frame_written_in_one_pass_is_the_same_html() {
    use app::components::{
        layout::{CurrentPage, Header},
        sync_render::SyncRender,
    };
    use futures::{executor::block_on, StreamExt};
    use leptos::prelude::*;

    let user = r#"{"email":"ann@example.com","display_name":"Ann","confirmed":true,"active_org":["acme","Acme & Co"],
        "is_admin":true,"admin_needs_second_factor":false,"sudo_open":true,"sudo_needs_second_factor":false"#;
    let rest = r#""flash":{"notice":null,"error":null,"values":{}},"providers":[]"#;
    let contexts = [
        (format!(r#"{{"app_name":"Portcullis","user":null,{rest}}}"#), ">Log in</a>"),
        (format!(r#"{{"app_name":"Portcullis","user":{user},"impersonated_by":null}},{rest}}}"#), "Open Acme &amp; Co"),
        (
            format!(
                r#"{{"app_name":"Portcullis","user":{user},"impersonated_by":["root@example.com","12:00"]}},{rest}}}"#
            ),
            "Impersonated by root@example.com",
        ),
    ];
    for (context, shown) in contexts {
        let page: app::context::PageContext = serde_json::from_str(&context).unwrap();
        let owner = Owner::new();
        let (plain, one_pass) = owner.with(|| {
            provide_context(CurrentPage(RwSignal::new(page)));
            let plain = block_on(view! { <Header/> }.to_html_stream_in_order().collect::<String>());
            let one_pass = block_on(SyncRender(view! { <Header/> }).to_html_stream_in_order().collect::<String>());
            (plain, one_pass)
        });
        assert!(plain.contains("<header class=\"site-header\">") && plain.contains(shown), "{plain}");
        assert_eq!(one_pass, plain, "{context}");
    }
}
