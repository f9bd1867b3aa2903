//! Seat visibility: executives see the organization, managers their teams
//! (transitively), reps themselves. Lists and single reads agree.

use std::collections::BTreeSet;

use serde_json::Value;
use testkit::{Fixture, Person, TestApp, backends};

async fn visible_ids(app: &TestApp, who: &Person) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
            None => "/api/v1/users?limit=2".to_owned(),
        };
        let r = app.get(&who.token, &path).await;
        assert_eq!(r.status(), 200, "{path}");
        let page: Value = r.json().await.expect("json");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        for item in items {
            assert!(
                ids.insert(item["id"].as_str().expect("id").to_owned()),
                "duplicate across pages"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids
}

fn set(people: &[&Person]) -> BTreeSet<String> {
    people.iter().map(|p| p.id.clone()).collect()
}

#[tokio::test]
async fn each_seat_sees_exactly_its_people() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let everyone = set(&f.everyone());
        let expected = [
            (&f.exec, everyone.clone()),
            (&f.m1, set(&[&f.m1, &f.r1, &f.r2, &f.m2, &f.r3])),
            (&f.m2, set(&[&f.m2, &f.r3])),
            (&f.m3, set(&[&f.m3, &f.r4])),
            (&f.r1, set(&[&f.r1])),
            (&f.r3, set(&[&f.r3])),
        ];
        for (viewer, want) in expected {
            let got = visible_ids(&app, viewer).await;
            assert_eq!(got, want, "{} ({backend:?})", viewer.email);
            // Single reads agree with the list: visible → 200, invisible → 404.
            for person in f.everyone() {
                let status = app
                    .get(&viewer.token, &format!("/api/v1/users/{}", person.id))
                    .await
                    .status();
                let expect = if want.contains(&person.id) { 200 } else { 404 };
                assert_eq!(status, expect, "{} reading {}", viewer.email, person.email);
            }
        }
        // Lists and reads went through the in-memory directory (docs/decisions/0007).
        assert_eq!(app.store().cached_directories(), 1, "{backend:?}");
    }
}

#[tokio::test]
async fn team_visibility_follows_seats() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let teams_of = |who: &Person| {
            let app = &app;
            let token = who.token.clone();
            async move {
                let page: Value = app
                    .get(&token, "/api/v1/teams")
                    .await
                    .json()
                    .await
                    .expect("json");
                page["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .map(|t| t["id"].as_str().expect("id").to_owned())
                    .collect::<BTreeSet<_>>()
            }
        };
        let all: BTreeSet<_> = [f.t1.clone(), f.t2.clone(), f.t3.clone()].into();
        assert_eq!(teams_of(&f.exec).await, all);
        assert_eq!(teams_of(&f.m1).await, [f.t1.clone(), f.t2.clone()].into());
        assert_eq!(
            teams_of(&f.m2).await,
            [f.t1.clone(), f.t2.clone()].into(),
            "managed T2 plus own team T1"
        );
        assert_eq!(teams_of(&f.r4).await, [f.t3.clone()].into());
        assert_eq!(
            app.get(&f.r4.token, &format!("/api/v1/teams/{}", f.t1))
                .await
                .status(),
            404
        );
        let t1: Value = app
            .get(&f.m1.token, &format!("/api/v1/teams/{}", f.t1))
            .await
            .json()
            .await
            .expect("t1");
        assert_eq!(t1["manager_id"], f.m1.id.as_str());
        assert_eq!(t1["member_count"], 3, "r1, r2 and m2");
        // Counts are filtered like lists: r4 sees only themself in T3.
        let t3: Value = app
            .get(&f.r4.token, &format!("/api/v1/teams/{}", f.t3))
            .await
            .json()
            .await
            .expect("t3");
        assert_eq!(t3["member_count"], 1);
        assert_eq!(app.store().cached_directories(), 1, "{backend:?}");
    }
}

#[tokio::test]
async fn only_admins_change_members_and_teams() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        // A manager can see r1 but not change their seat: 403 for a visible object.
        let r = app
            .patch_json(
                &f.m1.token,
                &format!("/api/v1/users/{}", f.r1.id),
                serde_json::json!({"seat": "executive"}),
            )
            .await;
        assert_eq!(r.status(), 403);
        let r = app
            .post_json(
                &f.m1.token,
                "/api/v1/teams",
                serde_json::json!({"name": "Rogue"}),
            )
            .await;
        assert_eq!(r.status(), 403);
        // Mass assignment of organization or id is ignored.
        let r = app
            .patch_json(&f.exec.token, &format!("/api/v1/users/{}", f.r1.id),
                serde_json::json!({"organization_id": "00000000-0000-7000-8000-000000000000", "id": "x", "name": "Rena One"}))
            .await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["organization_id"], f.org_id.as_str());
        assert_eq!(body["id"], f.r1.id.as_str());
        assert_eq!(body["name"], "Rena One");
        // The last admin cannot demote themself.
        let r = app
            .patch_json(
                &f.exec.token,
                &format!("/api/v1/users/{}", f.exec.id),
                serde_json::json!({"is_admin": false}),
            )
            .await;
        assert_eq!(r.status(), 409);
        // A team cannot be nested in its own descendant.
        let r = app
            .patch_json(
                &f.exec.token,
                &format!("/api/v1/teams/{}", f.t1),
                serde_json::json!({"parent_team_id": f.t2}),
            )
            .await;
        assert_eq!(r.status(), 422);
        // Removing a member ends their access.
        assert_eq!(
            app.delete(&f.exec.token, &format!("/api/v1/users/{}", f.r2.id))
                .await
                .status(),
            204
        );
        assert_eq!(app.get(&f.r2.token, "/api/v1/me").await.status(), 401);
        assert_eq!(
            app.login_raw(&f.r2.email, testkit::PASSWORD).await.status(),
            401
        );
        assert_eq!(
            app.get(&f.exec.token, &format!("/api/v1/users/{}", f.r2.id))
                .await
                .status(),
            404
        );
    }
}
