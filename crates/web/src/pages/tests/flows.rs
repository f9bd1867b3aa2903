//! Page flows that span several requests: settings, invitations, security, logout.

use axum::http::{Method, StatusCode};

use super::{Browser, Harness, PASSWORD};

/// The id in the first `href="/{kind}/<id>">{name}<` link.
fn link_id(body: &str, kind: &str, name: &str) -> String {
    let tail = format!("\">{name}<");
    body.split(&format!("href=\"/{kind}/"))
        .skip(1)
        .find(|s| {
            s.split('"')
                .next()
                .is_some_and(|id| s[id.len()..].starts_with(&tail))
        })
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no {kind} link to {name}"))
        .to_owned()
}

/// Invite `email` as `seat` and accept through the pages; the new person's browser.
async fn invite_and_join(
    h: &Harness,
    admin: &mut Browser,
    email: &str,
    seat: &str,
    team: &str,
    name: &str,
) -> Browser {
    let created = h
        .submit(
            admin,
            "/settings",
            "/settings/invitations",
            &[("email", email), ("seat", seat), ("team_id", team)],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let path = created
        .body
        .split("http://localhost/invite/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|token| format!("/invite/{token}"))
        .expect("the accept link is on the page");
    let mut browser = Browser::default();
    let page = h.get(&mut browser, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Join Acme"));
    let incomplete = h
        .submit(&mut browser, &path, &path, &[("name", name)])
        .await;
    assert_eq!(incomplete.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(incomplete.body.contains("confirm_over_18-error"));
    let joined = h
        .submit(
            &mut browser,
            &path,
            &path,
            &[
                ("name", name),
                ("password", PASSWORD),
                ("confirm_over_18", "on"),
            ],
        )
        .await;
    assert_eq!(
        (joined.status, joined.location()),
        (StatusCode::SEE_OTHER, "/?done=joined")
    );
    let used = h.get(&mut Browser::default(), &path).await;
    assert_eq!(
        used.status,
        StatusCode::NOT_FOUND,
        "an invitation works once"
    );
    browser
}

#[tokio::test]
async fn admins_build_teams_invite_people_and_manage_members() {
    let h = Harness::new().await;
    let mut admin = h.signup("Acme", "Ada", "ada@acme.test").await;

    let empty = h
        .submit(&mut admin, "/settings", "/settings/teams", &[("name", " ")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("team-name-error"));
    let created = h
        .submit(
            &mut admin,
            "/settings",
            "/settings/teams",
            &[("name", "East")],
        )
        .await;
    assert_eq!(created.location(), "/settings?done=team_created");
    let settings = h.get(&mut admin, "/settings?done=team_created").await;
    assert!(settings.body.contains("The team has been created."));
    let east = link_id(&settings.body, "teams", "East");
    let ada = link_id(&settings.body, "reps", "Ada");

    let mut bob = invite_and_join(&h, &mut admin, "bob@acme.test", "rep", &east, "Bob").await;
    let home = h.get(&mut bob, "/").await;
    assert!(
        home.body.contains("Rep at <strong>Acme</strong>"),
        "{}",
        home.body
    );
    let bob_settings = h.get(&mut bob, "/settings").await;
    assert!(!bob_settings.body.contains("Invite someone"));
    assert!(!bob_settings.body.contains("Create a team"));
    let refused = h
        .submit(
            &mut bob,
            "/settings",
            "/settings/teams",
            &[("name", "Mine")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .body
            .contains("You don&#39;t have permission to do that")
    );

    let settings = h.get(&mut admin, "/settings").await;
    let bob_id = link_id(&settings.body, "reps", "Bob");
    // A rep changing anyone (even with a bad form) is refused, not told about the form.
    let own = format!("/settings/members/{bob_id}");
    for fields in [&[("seat", "emperor")][..], &[][..]] {
        let reply = h.submit(&mut bob, "/settings", &own, fields).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    let team_page = h.get(&mut admin, &format!("/teams/{east}")).await;
    assert!(team_page.body.contains("Bob") && team_page.body.contains("Open pipeline"));
    let rep_page = h.get(&mut admin, &format!("/reps/{bob_id}")).await;
    assert!(rep_page.body.contains("East") && rep_page.body.contains("Coaching notes"));

    // An empty form changes nothing (and so does not sign Bob out).
    let member = format!("/settings/members/{bob_id}");
    let noop = h.submit(&mut admin, "/settings", &member, &[]).await;
    assert_eq!(noop.location(), "/settings?done=member_updated");
    assert_eq!(h.get(&mut bob, "/").await.status, StatusCode::OK);
    // A seat change does, at once.
    let promoted = h
        .submit(
            &mut admin,
            "/settings",
            &member,
            &[
                ("seat", "manager"),
                ("team_id", &east),
                ("admin_field", "1"),
            ],
        )
        .await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER);
    assert_eq!(h.get(&mut bob, "/").await.location(), "/login");
    assert!(
        h.get(&mut admin, "/settings")
            .await
            .body
            .contains("Manager")
    );

    let bad = h
        .submit(&mut admin, "/settings", &member, &[("seat", "emperor")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let last_admin = h
        .submit(
            &mut admin,
            "/settings",
            &format!("/settings/members/{ada}"),
            &[("admin_field", "1")],
        )
        .await;
    assert_eq!(last_admin.status, StatusCode::CONFLICT);
    assert!(last_admin.body.contains("at least one admin"));
    let myself = h
        .submit(
            &mut admin,
            "/settings",
            &format!("/settings/members/{ada}/remove"),
            &[],
        )
        .await;
    assert_eq!(myself.status, StatusCode::CONFLICT);

    let removed = h
        .submit(&mut admin, "/settings", &format!("{member}/remove"), &[])
        .await;
    assert_eq!(removed.location(), "/settings?done=member_removed");
    assert!(
        !h.get(&mut admin, "/settings")
            .await
            .body
            .contains("bob@acme.test")
    );
}

#[tokio::test]
async fn invitation_errors_stay_on_the_form() {
    let h = Harness::new().await;
    let mut admin = h.signup("Acme", "Ada", "ada@acme.test").await;
    let bad = h
        .submit(
            &mut admin,
            "/settings",
            "/settings/invitations",
            &[("email", "x"), ("seat", "rep")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("invite-email-error"));
    let taken = h
        .submit(
            &mut admin,
            "/settings",
            "/settings/invitations",
            &[("email", "ada@acme.test"), ("seat", "rep")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(!taken.body.contains("/invite/"));
}

#[tokio::test]
async fn sessions_can_be_revoked_and_the_password_changed() {
    let h = Harness::new().await;
    let mut first = h.signup("Acme", "Ada", "ada@acme.test").await;
    let mut second = Browser::default();
    let login = h
        .submit(
            &mut second,
            "/login",
            "/login",
            &[("email", "ada@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);

    let page = h.get(&mut second, "/settings/security").await;
    assert_eq!(page.body.matches("/revoke\"").count(), 2);
    assert!(page.body.contains("This session"));
    // Revoke the first browser's session (the one not marked as this session).
    let other_id = page
        .body
        .split("/settings/security/sessions/")
        .skip(1)
        .map(|s| s.split('/').next().unwrap_or_default().to_owned())
        .find(|id| {
            let row = page
                .body
                .split(&format!("sessions/{id}/revoke"))
                .nth(1)
                .unwrap_or_default();
            row.split("</form>")
                .next()
                .unwrap_or_default()
                .contains(">Revoke")
        })
        .expect("the other session");
    let revoked = h
        .submit(
            &mut second,
            "/settings/security",
            &format!("/settings/security/sessions/{other_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(
        revoked.location(),
        "/settings/security?done=session_revoked"
    );
    assert_eq!(h.get(&mut first, "/").await.location(), "/login");

    let wrong = h
        .submit(
            &mut second,
            "/settings/security",
            "/settings/security/password",
            &[
                ("current_password", "nope"),
                ("new_password", "another-long-passphrase-7"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("current_password-error"));
    let changed = h
        .submit(
            &mut second,
            "/settings/security",
            "/settings/security/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another-long-passphrase-7"),
            ],
        )
        .await;
    assert_eq!(
        changed.location(),
        "/settings/security?done=password_changed"
    );
    let after = h
        .get(&mut second, "/settings/security?done=password_changed")
        .await;
    assert_eq!(after.status, StatusCode::OK, "this browser stays signed in");
    assert!(after.body.contains("Your password has been changed."));

    let logout = h.submit(&mut second, "/", "/logout", &[]).await;
    assert_eq!(logout.location(), "/login?done=logged_out");
    assert_eq!(h.get(&mut second, "/").await.location(), "/login");
    let login_page = h.get(&mut second, "/login?done=logged_out").await;
    assert!(login_page.body.contains("You have been logged out."));
    // Signed out, a bare POST is sent to the login page.
    let empty_post = h.send(&mut second, Method::POST, "/logout", None).await;
    assert_eq!(empty_post.location(), "/login");
}
