//! Organizations: tenants, roles, invitations, the org's own settings, and the isolation between organizations.
use leptos::server_fn::ServerFn;
use reqwest::{Client, StatusCode};
use serde_json::Value;

use app::orgs::{
    home::OrganizationHome,
    invitation::{InvitationDetails, InvitationInfo, InvitationState, Viewer},
    members::{ChangeMemberRole, InvitationLink, InviteMember, OrganizationMembers, RemoveMember, ResendInvitation},
    MyOrganizations, OrgSummary,
};

use crate::{common::*, mfa::enable_totp};

const ANN: &str = "ann@example.com";
const BO: &str = "bo@example.com";
const CY: &str = "cy@example.com";
const DEE: &str = "dee@example.com";
const BASE: &str = "http://localhost:3000";

/// Creates an organization from the new-organization form; it lands on its members page.
pub(crate) async fn create_org(app: &TestApp, client: &Client, name: &str, slug: &str) {
    let r = app.post_form_with(client, "/api/create_organization", &[("name", name), ("slug", slug)]).await;
    assert_eq!(location(&r), format!("/organizations/{slug}/members"), "create {name} ({slug})");
}

/// Invites `email` (no mail) and returns the path of the link to copy.
pub(crate) async fn invite(app: &TestApp, client: &Client, slug: &str, email: &str, role: &str) -> String {
    let v = app
        .ok(
            client,
            InviteMember { slug: slug.to_string(), email: email.to_string(), role: role.to_string(), send_mail: None },
        )
        .await;
    assert_eq!(v.value("invite_email").as_deref(), Some(email));
    assert_eq!(v.notice, Some(app::context::Notice::InvitationSent));
    let link = v.value("invite_link").unwrap();
    assert!(link.starts_with(&format!("{BASE}/invitations/")), "{link}");
    link[BASE.len()..].to_string()
}

/// Invites `email` with `role` into `slug`; they register, sign in and accept. Returns their browser.
pub(crate) async fn member(app: &TestApp, inviter: &Client, slug: &str, email: &str, role: &str) -> Client {
    let path = invite(app, inviter, slug, email, role).await;
    let client = app.signed_in_user(email).await;
    let r = app.post_form_with(&client, "/api/accept_invitation", &[("token", &token_of(&path))]).await;
    assert_eq!(location(&r), format!("/organizations/{slug}"), "{email} joins {slug}");
    client
}

async fn org_id(app: &TestApp, slug: &str) -> String {
    app.text("SELECT id FROM organizations WHERE slug = $1", &[&slug]).await
}

/// The role of `email` in the organization `slug`, none if not a member.
pub(crate) async fn role_in(app: &TestApp, slug: &str, email: &str) -> Option<String> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT m.role FROM memberships m JOIN organizations o ON o.id = m.org_id JOIN users u ON u.id = m.user_id \
         WHERE o.slug = $1 AND u.email = $2",
    )
    .bind(slug)
    .bind(email)
    .fetch_optional(&app.state().db.pool)
    .await
    .unwrap();
    row.map(|(r,)| r)
}

async fn owners(app: &TestApp, slug: &str) -> i64 {
    app.i64(
        "SELECT COUNT(*) FROM memberships m JOIN organizations o ON o.id = m.org_id \
         WHERE o.slug = $1 AND m.role = 'owner'",
        &[slug],
    )
    .await
}

/// The id of the open invitation to `email` on the members page.
pub(crate) async fn invitation_id(app: &TestApp, client: &Client, slug: &str, email: &str) -> String {
    let data = app.ok(client, OrganizationMembers { slug: slug.to_string() }).await;
    let found = data.invitations.iter().find(|i| i.email == email);
    found.unwrap_or_else(|| panic!("an open invitation to {email}: {data:?}")).id.clone()
}

/// What the invitation page shows for the link `path`. An unknown link's page is a 404 that still says why, so the
/// answer is read whatever the status.
async fn details(app: &TestApp, client: &Client, path: &str) -> InvitationInfo {
    let r = app.call_server_fn_with(client, InvitationDetails::PATH, &[("token", &token_of(path))]).await;
    let status = r.status();
    let info: InvitationInfo = r.json().await.unwrap();
    assert_eq!(status == StatusCode::NOT_FOUND, info.state == InvitationState::Invalid, "{status}: {info:?}");
    info
}

/// Waits (briefly) until `n` mails to `email` have `subject`.
async fn wait_for_mails(
    app: &TestApp,
    email: &str,
    subject: &str,
    n: usize,
) -> Vec<backend::platform::mail::StoredMail> {
    for _ in 0..100 {
        let mails: Vec<_> = app.mails_to(email).into_iter().filter(|m| m.subject.contains(subject)).collect();
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} mails to {email} with {subject:?}");
}

fn is_dns_label(slug: &str) -> bool {
    (3..=63).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_an_organization_makes_the_creator_its_owner_and_the_active_one() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme Labs", "acme").await;
    let mine = app.ok(&ann, MyOrganizations {}).await;
    assert_eq!(mine.active.as_deref(), Some("acme"));
    assert_eq!(
        mine.orgs,
        [OrgSummary { slug: "acme".into(), name: "Acme Labs".into(), role: "owner".into(), members: 1 }]
    );
    assert_eq!(role_in(&app, "acme", ANN).await.as_deref(), Some("owner"));
    for page in ["/organizations", "/organizations/new", "/organizations/acme", "/organizations/acme/members"] {
        assert_eq!(app.get_with(&ann, page).await.status(), StatusCode::OK, "{page}");
    }
    let home = app.get_with(&ann, "/organizations/acme/settings").await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Acme Labs"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slugs_follow_dns_label_rules_and_a_derived_one_gets_a_number_when_taken() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    for bad in ["ab", "-acme", "acme-", "ac--me", "acme labs", "new", &"a".repeat(64)] {
        let (status, body) = app.call_form(&ann, "create_organization", &[("name", "Acme"), ("slug", bad)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {body}");
        assert!(body.contains("\"slug\""), "{bad:?}: {body}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM organizations").await, 0);

    for expected in ["acme-labs", "acme-labs-2", "acme-labs-3"] {
        let r = app.post_form_with(&ann, "/api/create_organization", &[("name", "Acme Labs"), ("slug", "")]).await;
        assert_eq!(location(&r), format!("/organizations/{expected}/members"));
    }
    let (status, body) = app.call_form(&ann, "create_organization", &[("name", "Other"), ("slug", "acme-labs")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an explicit taken slug is a field error");
    assert!(body.contains("\"slug\""), "{body}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM organizations").await, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_derived_slug_with_a_number_added_is_still_a_dns_label() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    // The name suggests a 63-character slug with a hyphen two characters from its end: making room for "-2"
    // must not leave a double hyphen behind.
    let name = format!("{} bb", "a".repeat(60));
    for _ in 0..2 {
        let r = app.post_form_with(&ann, "/api/create_organization", &[("name", &name), ("slug", "")]).await;
        assert_eq!(r.status(), StatusCode::FOUND);
    }
    let slugs: Vec<(String,)> = sqlx::query_as("SELECT slug FROM organizations ORDER BY created_at, slug")
        .fetch_all(&app.state().db.pool)
        .await
        .unwrap();
    assert_eq!(slugs.len(), 2);
    for (slug,) in &slugs {
        assert!(is_dns_label(slug), "{slug:?} is not a valid slug");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_pages_and_functions_need_a_session() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let anon = new_client();
    for page in [
        "/organizations",
        "/organizations/new",
        "/organizations/acme",
        "/organizations/acme/members",
        "/organizations/acme/settings",
    ] {
        let r = app.get_with(&anon, page).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{page}");
        assert_eq!(location(&r), format!("/users/log-in?return_to={page}"));
        assert!(!r.text().await.unwrap().contains("Acme"), "{page}");
    }
    for name in ["my_organizations", "organization_home", "organization_members", "invite_member"] {
        let (status, _) = app.call_form(&anon, name, &[("slug", "acme"), ("email", BO), ("role", "member")]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM invitations").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s49_an_outsider_gets_404_from_every_page_and_function_of_another_organization() {
    let app = TestApp::spawn().await;
    let a = app.signed_in_user(ANN).await;
    let b = app.signed_in_user(BO).await;
    create_org(&app, &a, "Acme", "org-a").await;
    create_org(&app, &b, "Bolt Industries", "org-b").await;
    invite(&app, &b, "org-b", DEE, "member").await;
    let b_id = app.user_id(BO).await;
    let a_id = app.user_id(ANN).await;
    let inv_b = invitation_id(&app, &b, "org-b", DEE).await;
    let org_b = org_id(&app, "org-b").await;
    let expires_before = app.i64("SELECT expires_at FROM invitations WHERE id = $1", &[&inv_b]).await;

    // Pages: the same 404 as an organization that does not exist, naming nothing of org-b.
    for page in ["/organizations/org-b", "/organizations/org-b/members", "/organizations/org-b/settings"] {
        let r = app.get_with(&a, page).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{page}");
        assert!(!r.text().await.unwrap().contains("Bolt"), "{page} leaks the name");
    }
    assert_eq!(app.get_with(&a, "/organizations/no-such-org").await.status(), StatusCode::NOT_FOUND);

    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("switch_organization", vec![("slug", "org-b")]),
        ("organization_home", vec![("slug", "org-b")]),
        ("organization_members", vec![("slug", "org-b")]),
        ("leave_organization", vec![("slug", "org-b")]),
        ("invite_member", vec![("slug", "org-b"), ("email", CY), ("role", "member"), ("send_mail", "on")]),
        ("invite_member", vec![("slug", "org-b"), ("email", ANN), ("role", "owner")]),
        ("resend_invitation", vec![("slug", "org-b"), ("id", &inv_b)]),
        ("revoke_invitation", vec![("slug", "org-b"), ("id", &inv_b)]),
        ("invitation_link", vec![("slug", "org-b"), ("id", &inv_b)]),
        ("change_member_role", vec![("slug", "org-b"), ("user_id", &b_id), ("role", "member")]),
        ("change_member_role", vec![("slug", "org-b"), ("user_id", &a_id), ("role", "owner")]),
        ("remove_member", vec![("slug", "org-b"), ("user_id", &b_id)]),
        ("organization_settings", vec![("slug", "org-b")]),
        ("update_organization", vec![("slug", "org-b"), ("name", "Pwned"), ("new_slug", "pwned")]),
        ("set_organization_mfa", vec![("slug", "org-b"), ("require", "on")]),
        ("set_organization_mfa", vec![("slug", "org-b")]),
        ("delete_organization", vec![("slug", "org-b"), ("confirm", "org-b")]),
        ("accept_listed_invitation", vec![("id", &inv_b)]),
        // Object-level: org-b's objects reached through A's own organization.
        ("resend_invitation", vec![("slug", "org-a"), ("id", &inv_b)]),
        ("revoke_invitation", vec![("slug", "org-a"), ("id", &inv_b)]),
        ("invitation_link", vec![("slug", "org-a"), ("id", &inv_b)]),
        ("change_member_role", vec![("slug", "org-a"), ("user_id", &b_id), ("role", "member")]),
        ("remove_member", vec![("slug", "org-a"), ("user_id", &b_id)]),
    ];
    for (name, form) in &calls {
        let path = format!("/api/{name}");
        // The WASM client: 404 and the typed error.
        let (status, body) = app.call_form(&a, name, form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name} {form:?}: {body}");
        assert!(body.contains("NotFound"), "{name}: {body}");
        // A plain HTML form: a 404 (page data), or sent back with the same error, never to a success page.
        let r = app.post_form_with(&a, &path, form).await;
        let flash = app.flash(&r).await;
        assert!(
            r.status() == StatusCode::NOT_FOUND || (r.status() == StatusCode::FOUND && flash["error"] == "NotFound"),
            "{name} {form:?} as a form: {} {flash}",
            r.status()
        );
        assert_eq!(flash["notice"], Value::Null, "{name}: no success notice");
    }

    // Nothing of org-b changed.
    assert_eq!(role_in(&app, "org-b", BO).await.as_deref(), Some("owner"), "B is still owner");
    assert_eq!(role_in(&app, "org-b", ANN).await, None, "A never joined");
    assert_eq!(app.i64("SELECT COUNT(*) FROM memberships WHERE org_id = $1", &[&org_b]).await, 1);
    let (name, slug, mfa): (String, String, i64) =
        sqlx::query_as("SELECT name, slug, require_mfa FROM organizations WHERE id = $1")
            .bind(&org_b)
            .fetch_one(&app.state().db.pool)
            .await
            .unwrap();
    assert_eq!((name.as_str(), slug.as_str(), mfa), ("Bolt Industries", "org-b", 0));
    let open = app
        .i64(
            "SELECT COUNT(*) FROM invitations WHERE id = $1 AND revoked_at IS NULL AND accepted_at IS NULL \
             AND expires_at = CAST($2 AS BIGINT)",
            &[&inv_b, &expires_before.to_string()],
        )
        .await;
    assert_eq!(open, 1, "the invitation is still open, not resent");
    assert_eq!(app.i64("SELECT COUNT(*) FROM invitations WHERE org_id = $1", &[&org_b]).await, 1);
    let links = app.i64("SELECT COUNT(*) FROM invitation_links WHERE invitation_id = $1", &[&inv_b]).await;
    assert_eq!(links, 1, "no new link was made");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM org_slug_redirects").await, 0);
    let by_a =
        app.i64("SELECT COUNT(*) FROM audit_events WHERE org_id = $1 AND actor_user_id = $2", &[&org_b, &a_id]).await;
    assert_eq!(by_a, 0, "nothing was done in org-b in A's name");
    assert!(app.mails_to(CY).is_empty(), "no invitation mail went out");
    let mine = app.ok(&a, MyOrganizations {}).await;
    assert_eq!(mine.active.as_deref(), Some("org-a"), "A's active organization did not change");
    assert_eq!(mine.orgs.len(), 1);
    let theirs = app.ok(&b, OrganizationMembers { slug: "org-b".into() }).await;
    assert_eq!(theirs.members.len(), 1);
    assert_eq!(theirs.invitations.len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s47_only_the_invited_address_can_accept_an_invitation() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let path = invite(&app, &ann, "acme", BO, "admin").await;
    let token = token_of(&path);
    let bo = app.signed_in_user(BO).await;
    let cy = app.signed_in_user(CY).await;

    // Cy holds the link (forwarded, leaked), signed in as cy.
    let d = details(&app, &cy, &path).await;
    assert_eq!(d.state, InvitationState::Open);
    assert_eq!(d.viewer, Viewer::Someone);
    assert_eq!(d.signed_in_as.as_deref(), Some(CY));
    assert_eq!(d.email, BO);
    let page = app.get_with(&cy, &path).await.text().await.unwrap();
    assert!(page.contains("This invitation is for bo@example.com"), "the page says why");
    assert!(!page.contains("Accept invitation"), "and offers no accept button");
    let (status, body) = app.call_form(&cy, "accept_invitation", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Forbidden"));
    let r = app.post_form_with(&cy, "/api/accept_invitation", &[("token", &token)]).await;
    assert_eq!(location(&r), path, "a form goes back to the invitation");
    assert_eq!(app.flash(&r).await["error"], "Forbidden");
    let id = invitation_id(&app, &ann, "acme", BO).await;
    let (status, _) = app.call_form(&cy, "accept_listed_invitation", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor from the list of invitations");
    assert_eq!(role_in(&app, "acme", CY).await, None, "no membership for cy");
    let cy_id = app.user_id(CY).await;
    assert_eq!(app.i64("SELECT COUNT(*) FROM memberships WHERE user_id = $1", &[&cy_id]).await, 0);
    let refused = app
        .i64(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'org.invitation.accept' AND outcome <> 'success' \
             AND org_id = $1 AND actor_user_id = $2",
            &[&org_id(&app, "acme").await, &cy_id],
        )
        .await;
    assert!(refused >= 1, "the refusal is audited in the organization");
    assert_eq!(details(&app, &new_client(), &path).await.state, InvitationState::Open, "the invitation is untouched");

    // Bo, signed in with the invited address, accepts.
    let d = details(&app, &bo, &path).await;
    assert_eq!(d.viewer, Viewer::Invitee);
    assert!(app.get_with(&bo, &path).await.text().await.unwrap().contains("Accept invitation"));
    let r = app.post_form_with(&bo, "/api/accept_invitation", &[("token", &token)]).await;
    assert_eq!(location(&r), "/organizations/acme");
    assert_eq!(role_in(&app, "acme", BO).await.as_deref(), Some("admin"));
    assert_eq!(app.ok(&bo, MyOrganizations {}).await.active.as_deref(), Some("acme"));
    assert_eq!(details(&app, &cy, &path).await.state, InvitationState::Accepted);
    let (status, _) = app.call_form(&cy, "accept_invitation", &[("token", &token)]).await;
    assert_ne!(status, StatusCode::OK);
    assert_eq!(role_in(&app, "acme", CY).await, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s47_a_listed_invitation_is_accepted_by_the_confirmed_invitee() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    invite(&app, &ann, "acme", BO, "member").await;
    let bo = app.signed_in_user(BO).await;
    let mine = app.ok(&bo, MyOrganizations {}).await;
    assert!(mine.confirmed);
    let listed = &mine.invitations[0];
    assert_eq!(listed.org_name, "Acme");
    assert_eq!(listed.role, "member");
    assert_eq!(listed.inviter.as_deref(), Some(ANN));
    let id = listed.id.clone();
    let r = app.post_form_with(&bo, "/api/accept_listed_invitation", &[("id", &id)]).await;
    assert_eq!(location(&r), "/organizations/acme");
    assert_eq!(role_in(&app, "acme", BO).await.as_deref(), Some("member"));
    let mine = app.ok(&bo, MyOrganizations {}).await;
    assert!(mine.invitations.is_empty());
    assert_eq!(mine.active.as_deref(), Some("acme"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_account_cannot_accept_from_the_list() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    invite(&app, &ann, "acme", BO, "member").await;
    // Registered but never confirmed: anyone could have typed bo's address.
    let bo = new_client();
    let r = app.post_form_with(&bo, "/api/register", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = app.post_form_with(&bo, "/api/log_in", &[("email", BO), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/", "unconfirmed accounts may sign in by default");
    let mine = app.ok(&bo, MyOrganizations {}).await;
    assert!(!mine.confirmed);
    let id = mine.invitations[0].id.clone();
    let (status, body) = app.call_form(&bo, "accept_listed_invitation", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(role_in(&app, "acme", BO).await, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_owner_cannot_be_demoted_removed_or_leave_but_with_a_second_owner_each_works() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let ann_id = app.user_id(ANN).await;

    let (status, body) =
        app.call_form(&ann, "change_member_role", &[("slug", "acme"), ("user_id", &ann_id), ("role", "admin")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"role\""), "{body}");
    let (status, body) = app.call_form(&ann, "remove_member", &[("slug", "acme"), ("user_id", &ann_id)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"member\""), "{body}");
    let (status, body) = app.call_form(&ann, "leave_organization", &[("slug", "acme")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"member\""), "{body}");
    // As a plain form too: back to the page with the error, nothing changed.
    let r = app.post_form_with(&ann, "/api/leave_organization", &[("slug", "acme")]).await;
    assert_eq!(location(&r), "/organizations/acme");
    assert!(app.flash(&r).await["error"]["Validation"]["fields"]["member"].is_string(), "{}", app.flash(&r).await);
    assert_eq!(role_in(&app, "acme", ANN).await.as_deref(), Some("owner"));

    // A member is not an owner: still the last one.
    let bo = member(&app, &ann, "acme", BO, "member").await;
    let bo_id = app.user_id(BO).await;
    let (status, _) =
        app.call_form(&ann, "change_member_role", &[("slug", "acme"), ("user_id", &ann_id), ("role", "member")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(owners(&app, "acme").await, 1);

    // With a second owner: demotion works.
    let r = app
        .post_form_with(&ann, "/api/change_member_role", &[("slug", "acme"), ("user_id", &bo_id), ("role", "owner")])
        .await;
    assert_eq!(location(&r), "/organizations/acme/members");
    let r = app
        .post_form_with(&ann, "/api/change_member_role", &[("slug", "acme"), ("user_id", &ann_id), ("role", "admin")])
        .await;
    assert_eq!(location(&r), "/organizations/acme/members");
    assert_eq!(role_in(&app, "acme", ANN).await.as_deref(), Some("admin"));
    // Bo is now the last owner: cannot leave, nor be removed by himself.
    let (status, _) = app.call_form(&bo, "leave_organization", &[("slug", "acme")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.call_form(&bo, "remove_member", &[("slug", "acme"), ("user_id", &bo_id)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Removal of an owner works while another stays.
    let r = app
        .post_form_with(&bo, "/api/change_member_role", &[("slug", "acme"), ("user_id", &ann_id), ("role", "owner")])
        .await;
    assert_eq!(location(&r), "/organizations/acme/members");
    let r = app.post_form_with(&ann, "/api/remove_member", &[("slug", "acme"), ("user_id", &bo_id)]).await;
    assert_eq!(location(&r), "/organizations/acme/members");
    assert_eq!(role_in(&app, "acme", BO).await, None);

    // Leaving works while another owner stays.
    let cy = member(&app, &ann, "acme", CY, "owner").await;
    let r = app.post_form_with(&ann, "/api/leave_organization", &[("slug", "acme")]).await;
    assert_eq!(location(&r), "/organizations");
    assert_eq!(role_in(&app, "acme", ANN).await, None);
    assert_eq!(role_in(&app, "acme", CY).await.as_deref(), Some("owner"));
    assert_eq!(owners(&app, "acme").await, 1);
    let (status, _) = app.call_form(&cy, "leave_organization", &[("slug", "acme")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "and cy is the last one now");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_demoting_each_other_at_once_leave_the_organization_an_owner() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "owner").await;
    let (ann_id, bo_id) = (app.user_id(ANN).await, app.user_id(BO).await);
    for round in 0..25 {
        let demote_bo = [("slug", "acme"), ("user_id", bo_id.as_str()), ("role", "member")];
        let demote_ann = [("slug", "acme"), ("user_id", ann_id.as_str()), ("role", "member")];
        let (ra, rb) = tokio::join!(
            app.call_server_fn_with(&ann, "/api/change_member_role", &demote_bo),
            app.call_server_fn_with(&bo, "/api/change_member_role", &demote_ann),
        );
        let (sa, sb) = (ra.status(), rb.status());
        let left = owners(&app, "acme").await;
        assert_eq!(left, 1, "round {round}: {left} owners left (answers {sa} and {sb})");
        // Whoever is still owner makes the other one owner again.
        let (owner, other) = if role_in(&app, "acme", ANN).await.as_deref() == Some("owner") {
            (&ann, bo_id.as_str())
        } else {
            (&bo, ann_id.as_str())
        };
        app.ok(owner, ChangeMemberRole { slug: "acme".into(), user_id: other.to_string(), role: "owner".into() }).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s50_a_removed_admin_is_out_at_their_very_next_request() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "admin").await;
    let bo_other = app.another_browser(BO, PASSWORD).await;
    let r = app.post_form_with(&bo_other, "/api/switch_organization", &[("slug", "acme")]).await;
    assert_eq!(location(&r), "/organizations/acme");
    for client in [&bo, &bo_other] {
        assert_eq!(app.get_with(client, "/organizations/acme/members").await.status(), StatusCode::OK);
        assert_eq!(app.ok(client, MyOrganizations {}).await.active.as_deref(), Some("acme"));
    }
    let bo_id = app.user_id(BO).await;

    let r = app.post_form_with(&ann, "/api/remove_member", &[("slug", "acme"), ("user_id", &bo_id)]).await;
    assert_eq!(location(&r), "/organizations/acme/members");
    app.mail_with_subject(BO, "You were removed from Acme").await;

    for client in [&bo, &bo_other] {
        for page in ["/organizations/acme", "/organizations/acme/members", "/organizations/acme/settings"] {
            assert_eq!(app.get_with(client, page).await.status(), StatusCode::NOT_FOUND, "{page}");
        }
        for (f, form) in [
            ("organization_home", vec![("slug", "acme")]),
            ("organization_members", vec![("slug", "acme")]),
            ("invite_member", vec![("slug", "acme"), ("email", CY), ("role", "member")]),
            ("switch_organization", vec![("slug", "acme")]),
            ("remove_member", vec![("slug", "acme"), ("user_id", &app.user_id(ANN).await)]),
        ] {
            let (status, body) = app.call_form(client, &format!("{f}"), &form).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{f}: {body}");
        }
        let mine = app.ok(client, MyOrganizations {}).await;
        assert_eq!(mine.active, None, "the active organization is cleared: {mine:?}");
        assert!(mine.orgs.is_empty());
    }
    assert_eq!(role_in(&app, "acme", ANN).await.as_deref(), Some("owner"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM invitations WHERE email = 'cy@example.com'").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s50_a_demoted_admin_loses_the_right_at_their_next_request() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "admin").await;
    invite(&app, &bo, "acme", CY, "member").await;
    let bo_id = app.user_id(BO).await;
    app.ok(&ann, ChangeMemberRole { slug: "acme".into(), user_id: bo_id.to_string(), role: "member".into() }).await;
    app.mail_with_subject(BO, "Your role in Acme is now member").await;
    let (status, body) =
        app.call_form(&bo, "invite_member", &[("slug", "acme"), ("email", DEE), ("role", "member")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let data = app.ok(&bo, OrganizationMembers { slug: "acme".into() }).await;
    assert_eq!(data.org.role, "member");
    assert!(data.invite_roles.is_empty());
    assert!(data.invitations.is_empty(), "a member does not see invitations");
    // And promoted again: the right is back at once.
    app.ok(&ann, ChangeMemberRole { slug: "acme".into(), user_id: bo_id.to_string(), role: "admin".into() }).await;
    invite(&app, &bo, "acme", DEE, "member").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_can_require_two_step_verification_of_its_members() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "member").await;
    let cy = app.signed_in_user(CY).await;

    // An owner without it cannot turn it on.
    let (status, body) = app.call_form(&ann, "set_organization_mfa", &[("slug", "acme"), ("require", "on")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("require_mfa"), "{body}");
    enable_totp(&app, &ann).await;
    let r = app.post_form_with(&ann, "/api/set_organization_mfa", &[("slug", "acme"), ("require", "on")]).await;
    assert_eq!(location(&r), "/organizations/acme/settings");
    assert!(app.ok(&ann, OrganizationHome { slug: "acme".into() }).await.require_mfa);
    assert_eq!(app.get_with(&ann, "/organizations/acme").await.status(), StatusCode::OK, "the owner has it");

    // Bo has no second factor: every page of the org sends him to set one up; functions refuse.
    for page in ["/organizations/acme", "/organizations/acme/members", "/organizations/acme/settings"] {
        let r = app.get_with(&bo, page).await;
        assert!(matches!(r.status(), StatusCode::SEE_OTHER | StatusCode::FOUND), "{page}: {}", r.status());
        assert_eq!(location(&r), "/users/settings/security", "{page}");
    }
    for f in ["organization_home", "organization_members", "switch_organization"] {
        let (status, body) = app.call_form(&bo, &format!("{f}"), &[("slug", "acme")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{f}: {body}");
        assert!(body.contains("MfaEnrolmentRequired"), "{f}: {body}");
    }
    assert_eq!(app.get_with(&bo, "/organizations").await.status(), StatusCode::OK, "his other pages open");
    // An outsider still sees only a 404: the policy does not reveal the organization.
    let r = app.get_with(&cy, "/organizations/acme").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (status, _) = app.call_form(&cy, "organization_home", &[("slug", "acme")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Enrolled, bo gets in.
    enable_totp(&app, &bo).await;
    assert_eq!(app.get_with(&bo, "/organizations/acme").await.status(), StatusCode::OK);
    app.ok(&bo, OrganizationHome { slug: "acme".into() }).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_signs_up_from_the_mailed_invitation_and_lands_in_the_organization() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    let r = app.post_form_with(&ann, "/api/update_profile", &[("display_name", "Ann Example")]).await;
    assert_eq!(location(&r), "/users/settings");
    create_org(&app, &ann, "Acme Corp", "acme").await;
    let new = "new@example.com";
    let v = app
        .ok(
            &ann,
            InviteMember {
                slug: "acme".into(),
                email: new.to_string(),
                role: "admin".into(),
                send_mail: Some("on".into()),
            },
        )
        .await;
    let copied = v.value("invite_link").unwrap()[BASE.len()..].to_string();
    let mail = app
        .mail_with_subject(new, &format!("Ann Example invited you to join Acme Corp on {}", backend::APP_NAME_DEFAULT))
        .await;
    let path = link_path(&mail.text, "/invitations/");
    assert!(path.starts_with("/invitations/"));
    assert_ne!(path, copied, "the mail carries a link of its own");
    assert_eq!(
        app.i64("SELECT COUNT(*) FROM invitation_links WHERE token_digest LIKE '%' || $1 || '%'", &[&token_of(&path)])
            .await,
        0,
        "only digests are stored"
    );

    // Signed out, the link offers a sign-up with the invited address.
    let browser = new_client();
    let d = details(&app, &browser, &path).await;
    assert_eq!(d.state, InvitationState::Open);
    assert_eq!(d.viewer, Viewer::SignedOut);
    assert_eq!(d.email, new);
    assert_eq!(d.org_name, "Acme Corp");
    assert_eq!(d.role, "admin");
    assert_eq!(d.inviter.as_deref(), Some("Ann Example"));
    let page = app.get_with(&browser, &path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Join Acme Corp"));

    let r = app
        .post_form_with(
            &browser,
            "/api/accept_invitation_sign_up",
            &[("token", &token_of(&path)), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&r), "/organizations/acme");
    assert!(session_token(&r).is_some(), "signed in at once");
    assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some(new));
    let confirmed = app.i64("SELECT COUNT(*) FROM users WHERE email = $1 AND confirmed_at IS NOT NULL", &[&new]).await;
    assert_eq!(confirmed, 1, "the link confirmed the address");
    assert_eq!(role_in(&app, "acme", new).await.as_deref(), Some("admin"));
    let mine = app.ok(&browser, MyOrganizations {}).await;
    assert_eq!(mine.active.as_deref(), Some("acme"));
    assert!(mine.confirmed);
    assert_eq!(app.get_with(&browser, "/organizations/acme").await.status(), StatusCode::OK);

    // Both links of the invitation now say it was accepted, and neither works again.
    for link in [&path, &copied] {
        assert_eq!(details(&app, &new_client(), link).await.state, InvitationState::Accepted);
        let page = app.get_with(&new_client(), link).await.text().await.unwrap();
        assert!(page.contains("already accepted"), "{link}");
        let (status, _) = app
            .call_form(
                &new_client(),
                "accept_invitation_sign_up",
                &[("token", &token_of(link)), ("password", "another long pass phrase")],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(app.i64("SELECT COUNT(*) FROM users WHERE email = $1", &[&new]).await, 1);
    let joined = app
        .i64(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'org.invitation.accepted' AND org_id = $1",
            &[&org_id(&app, "acme").await],
        )
        .await;
    assert_eq!(joined, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_up_from_an_invitation_to_an_address_with_an_account_is_refused() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    app.confirmed_user(BO, PASSWORD).await;
    app.ok(
        &ann,
        InviteMember {
            slug: "acme".into(),
            email: BO.to_string(),
            role: "member".into(),
            send_mail: Some("on".into()),
        },
    )
    .await;
    let path = link_path(&app.mail_with_subject(BO, "invited you to join Acme").await.text, "/invitations/");
    let users = app.scalar_i64("SELECT COUNT(*) FROM users").await;
    let (status, body) = app
        .call_form(
            &new_client(),
            "accept_invitation_sign_up",
            &[("token", &token_of(&path)), ("password", "a different long pass phrase")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"email\""), "{body}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, users);
    assert_eq!(role_in(&app, "acme", BO).await, None);
    assert_eq!(details(&app, &new_client(), &path).await.state, InvitationState::Open);
    let r = app
        .post_form_with(&new_client(), "/api/log_in", &[("email", BO), ("password", "a different long pass phrase")])
        .await;
    assert_ne!(location(&r), "/", "the password was not changed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_show_when_they_are_revoked_replaced_or_expired_and_resending_mails_again() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let anon = new_client();

    // Revoked.
    let revoked = invite(&app, &ann, "acme", "rev@example.com", "member").await;
    let id = invitation_id(&app, &ann, "acme", "rev@example.com").await;
    let r = app.post_form_with(&ann, "/api/revoke_invitation", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(location(&r), "/organizations/acme/members");
    assert_eq!(details(&app, &anon, &revoked).await.state, InvitationState::Revoked);
    assert!(app.get_with(&anon, &revoked).await.text().await.unwrap().contains("withdrawn"));
    let (status, _) = app.call_form(&ann, "revoke_invitation", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a closed invitation cannot be managed");
    let (status, _) = app
        .call_form(&anon, "accept_invitation_sign_up", &[("token", &token_of(&revoked)), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE email = 'rev@example.com'").await, 0);

    // Replaced by a newer invitation to the same address.
    let first = invite(&app, &ann, "acme", "rep@example.com", "member").await;
    let second = invite(&app, &ann, "acme", "rep@example.com", "admin").await;
    assert_eq!(details(&app, &anon, &first).await.state, InvitationState::Revoked);
    assert!(app.get_with(&anon, &first).await.text().await.unwrap().contains("withdrawn"));
    let d = details(&app, &anon, &second).await;
    assert_eq!((d.state, d.role.as_str()), (InvitationState::Open, "admin"));
    let listed = app.ok(&ann, OrganizationMembers { slug: "acme".into() }).await;
    let to_rep = listed.invitations.iter().filter(|i| i.email == "rep@example.com").count();
    assert_eq!(to_rep, 1, "one open invitation per address");

    // Invalid.
    let d = details(&app, &anon, "/invitations/not-a-real-token").await;
    assert_eq!(d.state, InvitationState::Invalid);
    assert_eq!(d.org_name, "");

    // Resent: a second mail, with its own working link.
    app.ok(
        &ann,
        InviteMember {
            slug: "acme".into(),
            email: "res@example.com".into(),
            role: "member".into(),
            send_mail: Some("on".into()),
        },
    )
    .await;
    // And one never resent, to expire.
    let stale = invite(&app, &ann, "acme", "exp@example.com", "member").await;
    wait_for_mails(&app, "res@example.com", "invited you to join Acme", 1).await;
    app.state().clock.advance(4 * 24 * 3600);
    let ann = app.another_browser(ANN, PASSWORD).await; // the first session idled out
    let id = invitation_id(&app, &ann, "acme", "res@example.com").await;
    let r = app.post_form_with(&ann, "/api/resend_invitation", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(location(&r), "/organizations/acme/members");
    let mails = wait_for_mails(&app, "res@example.com", "invited you to join Acme", 2).await;
    assert_eq!(mails.len(), 2);
    let (one, two) = (link_path(&mails[0].text, "/invitations/"), link_path(&mails[1].text, "/invitations/"));
    assert_ne!(one, two);

    // Past the first seven days: the resent one is open again for seven days, the other has expired.
    app.state().clock.advance(3 * 24 * 3600 + 1);
    for link in [&one, &two] {
        assert_eq!(
            details(&app, &anon, link).await.state,
            InvitationState::Open,
            "resent: open 7 days from the resend"
        );
    }
    assert_eq!(details(&app, &anon, &stale).await.state, InvitationState::Expired);
    assert!(app.get_with(&anon, &stale).await.text().await.unwrap().contains("expired"));
    let (status, _) = app
        .call_form(&anon, "accept_invitation_sign_up", &[("token", &token_of(&stale)), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.state().clock.advance(4 * 24 * 3600);
    assert_eq!(details(&app, &anon, &two).await.state, InvitationState::Expired);
    let r = app
        .post_form_with(
            &new_client(),
            "/api/accept_invitation_sign_up",
            &[("token", &token_of(&two)), ("password", PASSWORD)],
        )
        .await;
    assert_ne!(location(&r), "/organizations/acme");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM memberships").await, 1, "nobody joined");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_table_decides_who_may_invite_and_change_whom() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "admin").await;
    let cy = member(&app, &ann, "acme", CY, "member").await;
    let (ann_id, bo_id, cy_id) = (app.user_id(ANN).await, app.user_id(BO).await, app.user_id(CY).await);
    invite(&app, &ann, "acme", "boss@example.com", "owner").await;
    let owner_invitation = invitation_id(&app, &ann, "acme", "boss@example.com").await;

    // A member only views and leaves.
    for (f, form) in [
        ("invite_member", vec![("slug", "acme"), ("email", DEE), ("role", "member")]),
        ("change_member_role", vec![("slug", "acme"), ("user_id", &bo_id), ("role", "member")]),
        ("remove_member", vec![("slug", "acme"), ("user_id", &bo_id)]),
        ("revoke_invitation", vec![("slug", "acme"), ("id", &owner_invitation)]),
        ("organization_settings", vec![("slug", "acme")]),
        ("update_organization", vec![("slug", "acme"), ("name", "Mine"), ("new_slug", "mine")]),
    ] {
        let (status, body) = app.call_form(&cy, &format!("{f}"), &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "member {f}: {body}");
        assert!(body.contains("Forbidden"), "{body}");
    }
    let view = app.ok(&cy, OrganizationMembers { slug: "acme".into() }).await;
    assert_eq!(view.members.len(), 3, "a member sees the members");
    assert!(view.members.iter().all(|m| m.roles.is_empty() && !m.can_remove));
    assert_eq!(app.get_with(&cy, "/organizations/acme/members").await.status(), StatusCode::OK);

    // An admin manages admins and members, never owners.
    for (f, form) in [
        ("invite_member", vec![("slug", "acme"), ("email", DEE), ("role", "owner")]),
        ("change_member_role", vec![("slug", "acme"), ("user_id", &ann_id), ("role", "member")]),
        ("change_member_role", vec![("slug", "acme"), ("user_id", &cy_id), ("role", "owner")]),
        ("change_member_role", vec![("slug", "acme"), ("user_id", &bo_id), ("role", "owner")]),
        ("remove_member", vec![("slug", "acme"), ("user_id", &ann_id)]),
        ("resend_invitation", vec![("slug", "acme"), ("id", &owner_invitation)]),
        ("revoke_invitation", vec![("slug", "acme"), ("id", &owner_invitation)]),
        ("invitation_link", vec![("slug", "acme"), ("id", &owner_invitation)]),
        ("organization_settings", vec![("slug", "acme")]),
        ("set_organization_mfa", vec![("slug", "acme")]),
        ("delete_organization", vec![("slug", "acme"), ("confirm", "acme")]),
    ] {
        let (status, body) = app.call_form(&bo, &format!("{f}"), &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "admin {f} {form:?}: {body}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM invitations WHERE email = 'dee@example.com'").await, 0);
    assert_eq!(role_in(&app, "acme", ANN).await.as_deref(), Some("owner"));
    assert_eq!(role_in(&app, "acme", CY).await.as_deref(), Some("member"));
    assert_eq!(role_in(&app, "acme", BO).await.as_deref(), Some("admin"));
    let open =
        app.i64("SELECT COUNT(*) FROM invitations WHERE id = $1 AND revoked_at IS NULL", &[&owner_invitation]).await;
    assert_eq!(open, 1);
    let view = app.ok(&bo, OrganizationMembers { slug: "acme".into() }).await;
    assert_eq!(view.invite_roles, ["member", "admin"]);
    let owner_row = view.members.iter().find(|m| m.email == ANN).unwrap();
    assert!(owner_row.roles.is_empty() && !owner_row.can_remove, "{owner_row:?}");
    let boss = view.invitations.iter().find(|i| i.email == "boss@example.com").unwrap();
    assert!(!boss.can_manage);

    // What an admin may do.
    let path = invite(&app, &bo, "acme", DEE, "member").await;
    assert_eq!(details(&app, &new_client(), &path).await.role, "member");
    invite(&app, &bo, "acme", "eve@example.com", "admin").await;
    app.ok(&bo, ChangeMemberRole { slug: "acme".into(), user_id: cy_id.to_string(), role: "admin".into() }).await;
    assert_eq!(role_in(&app, "acme", CY).await.as_deref(), Some("admin"));
    let dee_invitation = invitation_id(&app, &bo, "acme", DEE).await;
    let link = app.ok(&bo, InvitationLink { slug: "acme".into(), id: dee_invitation.to_string() }).await;
    let link = link.value("invite_link").unwrap();
    assert!(link.starts_with(&format!("{BASE}/invitations/")));
    app.ok(&bo, RemoveMember { slug: "acme".into(), user_id: cy_id.to_string() }).await;
    assert_eq!(role_in(&app, "acme", CY).await, None);

    // Inviting someone who is already a member is a field error.
    let (status, body) =
        app.call_form(&ann, "invite_member", &[("slug", "acme"), ("email", BO), ("role", "member")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"email\""), "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_slug_redirects_members_for_seven_days_and_outsiders_get_404() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "member").await;
    let cy = app.signed_in_user(CY).await;
    create_org(&app, &cy, "Cyan", "cyan").await;

    let r = app
        .post_form_with(
            &ann,
            "/api/update_organization",
            &[("slug", "acme"), ("name", "Acme Labs"), ("new_slug", "acme-labs")],
        )
        .await;
    assert_eq!(location(&r), "/organizations/acme-labs/settings");
    for (old, new) in [
        ("/organizations/acme", "/organizations/acme-labs"),
        ("/organizations/acme/members", "/organizations/acme-labs/members"),
        ("/organizations/acme/settings", "/organizations/acme-labs/settings"),
    ] {
        for client in [&ann, &bo] {
            let r = app.get_with(client, old).await;
            assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT, "{old}");
            assert_eq!(location(&r), new);
        }
    }
    assert_eq!(app.get_with(&bo, "/organizations/acme-labs").await.status(), StatusCode::OK);
    let home = app.ok(&bo, OrganizationHome { slug: "acme-labs".into() }).await;
    assert_eq!(home.org.name, "Acme Labs");
    for page in ["/organizations/acme", "/organizations/acme/members", "/organizations/acme-labs"] {
        assert_eq!(app.get_with(&cy, page).await.status(), StatusCode::NOT_FOUND, "outsider at {page}");
    }
    // The old slug is not free while it redirects.
    let (status, body) = app.call_form(&cy, "create_organization", &[("name", "Acme"), ("slug", "acme")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) =
        app.call_form(&cy, "update_organization", &[("slug", "cyan"), ("name", "Cyan"), ("new_slug", "acme")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let changed = app
        .i64(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'org.slug_changed' AND org_id = $1",
            &[&org_id(&app, "acme-labs").await],
        )
        .await;
    assert_eq!(changed, 1);

    // After seven days the old slug is a plain 404 and can be taken.
    app.state().clock.advance(7 * 24 * 3600 + 1);
    let bo = app.another_browser(BO, PASSWORD).await;
    let cy = app.another_browser(CY, PASSWORD).await;
    assert_eq!(app.get_with(&bo, "/organizations/acme").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get_with(&bo, "/organizations/acme-labs").await.status(), StatusCode::OK);
    create_org(&app, &cy, "Acme Again", "acme").await;
    assert_eq!(app.get_with(&bo, "/organizations/acme").await.status(), StatusCode::NOT_FOUND, "someone else's now");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s39_deleting_an_organization_needs_sudo_and_its_address_typed() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "member").await;
    invite(&app, &ann, "acme", CY, "member").await;
    let id = org_id(&app, "acme").await;

    let (status, body) = app.call_form(&ann, "delete_organization", &[("slug", "acme"), ("confirm", "acme-x")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("\"confirm\""), "{body}");
    app.state().clock.advance(10 * 60 + 1);
    let (status, body) = app.call_form(&ann, "delete_organization", &[("slug", "acme"), ("confirm", "acme")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("ReauthenticationRequired"), "{body}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM organizations").await, 1);

    let r = app
        .post_form_with(&ann, "/api/sudo", &[("password", PASSWORD), ("return_to", "/organizations/acme/settings")])
        .await;
    assert_eq!(location(&r), "/organizations/acme/settings");
    let r = app.post_form_with(&ann, "/api/delete_organization", &[("slug", "acme"), ("confirm", "acme")]).await;
    assert_eq!(location(&r), "/organizations");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM organizations").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM memberships").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM invitations").await, 0);
    assert_eq!(app.get_with(&bo, "/organizations/acme").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.ok(&bo, MyOrganizations {}).await.active, None);
    let deleted =
        app.i64("SELECT COUNT(*) FROM audit_events WHERE action = 'org.deleted' AND org_id = $1", &[&id]).await;
    assert_eq!(deleted, 1, "the audit row keeps the organization's id");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inviter_may_send_20_invitations_an_hour() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    for i in 0..20 {
        invite(&app, &ann, "acme", &format!("guest{i}@example.com"), "member").await;
    }
    let (status, body) = app
        .call_form(&ann, "invite_member", &[("slug", "acme"), ("email", "guest20@example.com"), ("role", "member")])
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("RateLimited"), "{body}");
    let id = invitation_id(&app, &ann, "acme", "guest0@example.com").await;
    let (status, _) = app.call_form(&ann, "resend_invitation", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "a resend counts too");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM invitations").await, 20);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_refused_by_the_inviters_limit_do_not_use_up_the_organizations() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "admin").await;
    for i in 0..19 {
        invite(&app, &ann, "acme", &format!("guest{i}@example.com"), "member").await;
    }
    // Ann is at her limit; she keeps trying (a script, a stuck button): 31 refusals.
    for i in 0..31 {
        let form = [("slug", "acme"), ("email", &format!("more{i}@example.com") as &str), ("role", "member")];
        let (status, _) = app.call_form(&ann, "invite_member", &form).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "attempt {i}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM invitations").await, 20, "20 sent for the organization");
    // The organization has sent 20 of its 50: another admin may still invite.
    let (status, body) =
        app.call_form(&bo, "invite_member", &[("slug", "acme"), ("email", DEE), ("role", "member")]).await;
    assert_eq!(status, StatusCode::OK, "refused attempts used up the organization's allowance: {body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_may_send_50_invitations_an_hour_whoever_sends_them() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = member(&app, &ann, "acme", BO, "admin").await;
    let cy = member(&app, &ann, "acme", CY, "admin").await;
    let dee = member(&app, &ann, "acme", DEE, "admin").await;
    let mut sent = 3;
    for (client, who, n) in [(&ann, "a", 17), (&bo, "b", 20), (&cy, "c", 10)] {
        for i in 0..n {
            invite(&app, client, "acme", &format!("{who}{i}@example.com"), "member").await;
            sent += 1;
        }
    }
    assert_eq!(sent, 50);
    let (status, body) = app
        .call_form(&dee, "invite_member", &[("slug", "acme"), ("email", "d0@example.com"), ("role", "member")])
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the 51st for the organization: {body}");
    // Dee's own allowance is untouched: another organization of hers may invite.
    create_org(&app, &dee, "Dee's", "dees").await;
    invite(&app, &dee, "dees", "d0@example.com", "member").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_events_are_audited_with_the_organization() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let bo = app.signed_in_user(BO).await;
    create_org(&app, &bo, "Bolt", "bolt").await;
    let acme = org_id(&app, "acme").await;
    let bolt = org_id(&app, "bolt").await;
    let (ann_id, bo_id) = (app.user_id(ANN).await, app.user_id(BO).await);
    let path = invite(&app, &ann, "acme", BO, "member").await;
    let r = app.post_form_with(&bo, "/api/accept_invitation", &[("token", &token_of(&path))]).await;
    assert_eq!(location(&r), "/organizations/acme");
    app.ok(&ann, ChangeMemberRole { slug: "acme".into(), user_id: bo_id.to_string(), role: "admin".into() }).await;
    app.ok(&ann, RemoveMember { slug: "acme".into(), user_id: bo_id.to_string() }).await;

    for (action, actor, target) in [
        ("org.create", &ann_id, None),
        ("org.invitation.created", &ann_id, None),
        ("org.invitation.accepted", &bo_id, Some(&bo_id)),
        ("org.member.role_changed", &ann_id, Some(&bo_id)),
        ("org.member.removed", &ann_id, Some(&bo_id)),
    ] {
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT actor_user_id, target_user_id, org_id FROM audit_events WHERE action = $1 AND org_id = $2",
        )
        .bind(action)
        .bind(&acme)
        .fetch_all(&app.state().db.pool)
        .await
        .unwrap();
        assert_eq!(rows.len(), 1, "{action} in acme");
        assert_eq!(rows[0].0.as_ref(), Some(actor), "{action} actor");
        if let Some(t) = target {
            assert_eq!(rows[0].1.as_ref(), Some(t), "{action} target");
        }
    }
    let in_bolt: Vec<(String,)> = sqlx::query_as("SELECT action FROM audit_events WHERE org_id = $1")
        .bind(&bolt)
        .fetch_all(&app.state().db.pool)
        .await
        .unwrap();
    assert_eq!(in_bolt, vec![("org.create".to_string(),)], "bolt's trail holds only bolt's events");
    let orphans =
        app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'org.%' AND org_id IS NULL").await;
    assert_eq!(orphans, 0, "every organization event names its organization");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s47_a_copied_invitation_link_cannot_make_an_account_for_an_address_nobody_proved() {
    // Mallory invites an address she does not own into her own organization and keeps the copied link: it must not
    // let her make (and confirm) an account for that address, which would then accept any real invitation to it.
    let app = TestApp::spawn().await;
    let mallory = app.signed_in_user(ANN).await;
    create_org(&app, &mallory, "Mallory Inc", "mallory").await;
    let victim = "victim@example.com";
    let copied = invite(&app, &mallory, "mallory", victim, "member").await;
    let real_owner = app.signed_in_user(BO).await;
    create_org(&app, &real_owner, "Real Co", "real").await;
    app.ok(
        &real_owner,
        InviteMember { slug: "real".into(), email: victim.to_string(), role: "owner".into(), send_mail: None },
    )
    .await;

    let anon = new_client();
    let d = details(&app, &anon, &copied).await;
    assert_eq!((d.state, d.can_sign_up), (InvitationState::Open, false));
    let page = app.get_with(&anon, &copied).await.text().await.unwrap();
    assert!(!page.contains("Create account and join"), "no sign-up form on a copied link");
    for client in [&anon, &new_client()] {
        let (status, body) = app
            .call_form(
                client,
                "accept_invitation_sign_up",
                &[("token", &token_of(&copied)), ("password", "mallory's long pass phrase")],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(app.i64("SELECT COUNT(*) FROM users WHERE email = $1", &[&victim]).await, 0);
    assert_eq!(role_in(&app, "real", victim).await, None);
    assert_eq!(role_in(&app, "mallory", victim).await, None);

    // The mailed link (which only the mailbox gets) still signs the real invitee up, confirmed.
    let id = invitation_id(&app, &mallory, "mallory", victim).await;
    app.ok(&mallory, ResendInvitation { slug: "mallory".into(), id }).await;
    let mailed =
        link_path(&app.mail_with_subject(victim, "invited you to join Mallory Inc").await.text, "/invitations/");
    assert!(details(&app, &anon, &mailed).await.can_sign_up);
    let r = app
        .post_form_with(
            &anon,
            "/api/accept_invitation_sign_up",
            &[("token", &token_of(&mailed)), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&r), "/organizations/mallory");
    assert_eq!(
        app.i64("SELECT COUNT(*) FROM users WHERE email = $1 AND confirmed_at IS NOT NULL", &[&victim]).await,
        1
    );
    app.stop().await;
}
