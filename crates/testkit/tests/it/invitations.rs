//! Invitations: who may invite whom, single use, expiry, and the outbox email.

use serde_json::{Value, json};
use testkit::{Fixture, PASSWORD, TestApp, backends};

#[tokio::test]
async fn an_invitation_is_a_single_use_link_queued_as_an_email() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let r = app
            .post_json(
                &f.exec.token,
                "/api/v1/invitations",
                json!({"email": "New.Rep@Acme.example", "seat": "rep", "team_id": f.t3}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let inv: Value = r.json().await.expect("json");
        for key in ["id", "token", "accept_url"] {
            assert!(
                inv[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} in {inv}"
            );
        }
        assert_eq!(inv["email"], "new.rep@acme.example");
        let token = inv["token"].as_str().expect("token");
        assert!(
            inv["accept_url"]
                .as_str()
                .expect("url")
                .ends_with(&format!("/invite/{token}"))
        );
        // The email waits in the outbox with the link (read as the database owner sees it).
        let pool = app.store().raw_pool_for_tests();
        // On PostgreSQL the pool acts as the RLS-bound role, so the read sets the tenant
        // context in its transaction, as the application does.
        let mut tx = pool.begin().await.expect("tx");
        if app.backend == testkit::Backend::Postgres {
            sqlx::query("SELECT set_config('app.org_id', $1, true)")
                .bind(&f.org_id)
                .execute(&mut *tx)
                .await
                .expect("context");
        }
        let body: String =
            sqlx::query_scalar("SELECT body_text FROM outbox_emails WHERE to_address = $1")
                .bind("new.rep@acme.example")
                .fetch_one(&mut *tx)
                .await
                .expect("outbox");
        tx.commit().await.expect("commit");
        assert!(body.contains(token), "the email carries the link");
        // A token is not an access token.
        assert_eq!(app.get(token, "/api/v1/me").await.status(), 401);
        let accept = |name: &'static str| {
            let app = &app;
            let token = token.to_owned();
            async move {
                app.http
                    .post(app.url(&format!("/api/v1/invitations/{token}/accept")))
                    .json(&json!({"name": name, "password": PASSWORD, "confirm_over_18": true}))
                    .send()
                    .await
                    .expect("accept")
            }
        };
        let r = accept("Nia Rep").await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["user"]["seat"], "rep");
        assert_eq!(body["user"]["team_id"], f.t3.as_str());
        assert_eq!(
            body["user"]["manager_id"],
            f.m3.id.as_str(),
            "the team's manager becomes theirs"
        );
        assert_eq!(body["organization"]["id"], f.org_id.as_str());
        assert_eq!(accept("Second Use").await.status(), 404, "single use");
        // The manager of that team now sees the new rep.
        let new_id = body["user"]["id"].as_str().expect("id");
        assert_eq!(
            app.get(&f.m3.token, &format!("/api/v1/users/{new_id}"))
                .await
                .status(),
            200
        );
        assert_eq!(
            app.get(&f.m1.token, &format!("/api/v1/users/{new_id}"))
                .await
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn managers_invite_reps_into_their_teams_only_and_reps_not_at_all() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let invite = |token: &str, body: Value| {
            let token = token.to_owned();
            let app = &app;
            async move { app.post_json(&token, "/api/v1/invitations", body).await }
        };
        assert_eq!(
            invite(
                &f.m1.token,
                json!({"email": "a@acme.example", "seat": "rep", "team_id": f.t2})
            )
            .await
            .status(),
            201,
            "T2 is managed transitively"
        );
        assert_eq!(
            invite(
                &f.m1.token,
                json!({"email": "b@acme.example", "seat": "executive", "team_id": f.t1})
            )
            .await
            .status(),
            422
        );
        assert_eq!(
            invite(
                &f.m1.token,
                json!({"email": "c@acme.example", "seat": "rep", "team_id": f.t3})
            )
            .await
            .status(),
            422,
            "T3 is invisible to m1"
        );
        assert_eq!(
            invite(
                &f.m1.token,
                json!({"email": "d@acme.example", "seat": "rep"})
            )
            .await
            .status(),
            422
        );
        assert_eq!(
            invite(
                &f.r1.token,
                json!({"email": "e@acme.example", "seat": "rep", "team_id": f.t1})
            )
            .await
            .status(),
            403
        );
        assert_eq!(
            invite(&f.exec.token, json!({"email": f.r4.email, "seat": "rep"}))
                .await
                .status(),
            409,
            "already a member"
        );
        let r = invite(
            &f.exec.token,
            json!({"email": "not-an-email", "seat": "boss"}),
        )
        .await;
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.expect("json");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert_eq!(fields, ["email", "seat"]);
    }
}

#[tokio::test]
async fn an_expired_invitation_cannot_be_accepted() {
    let app = TestApp::spawn(testkit::Backend::Sqlite).await;
    let ada = app.signup("Acme", "Ada", "ada@example.com").await;
    let inv: Value = app
        .post_json(
            &ada.access_token,
            "/api/v1/invitations",
            json!({"email": "late@example.com", "seat": "manager"}),
        )
        .await
        .json()
        .await
        .expect("json");
    app.store().clock().advance(8 * 24 * 3600);
    let r = app
        .http
        .post(app.url(&format!(
            "/api/v1/invitations/{}/accept",
            inv["token"].as_str().expect("token")
        )))
        .json(&json!({"name": "Late", "password": PASSWORD, "confirm_over_18": true}))
        .send()
        .await
        .expect("accept");
    assert_eq!(r.status(), 404);
}
