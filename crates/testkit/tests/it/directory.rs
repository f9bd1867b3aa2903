//! The in-memory membership directory (docs/decisions/0007): a change made through one
//! instance shows on another instance's very next read, and the in-memory visibility
//! and paging give exactly what the SQL gives, for every seat and nested teams.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use store::{PageRequest, Scope, Store};
use testkit::{Fixture, Person, TestApp, backends};

/// The ids and seats on every page of `/users` as `who` sees them on `app`.
async fn listed(app: &TestApp, who: &Person) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=3&cursor={c}"),
            None => "/api/v1/users?limit=3".to_owned(),
        };
        let r = app.get(&who.token, &path).await;
        assert_eq!(r.status(), 200, "{path}");
        let page: Value = r.json().await.expect("json");
        for item in page["items"].as_array().expect("items") {
            out.push((
                item["id"].as_str().expect("id").to_owned(),
                item["seat"].as_str().expect("seat").to_owned(),
                item["name"].as_str().expect("name").to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn team_names(app: &TestApp, who: &Person) -> BTreeSet<String> {
    let page: Value = app
        .get(&who.token, "/api/v1/teams")
        .await
        .json()
        .await
        .expect("teams");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Invite `email` to `team` as a rep through `app` and accept; returns the new person.
async fn join(app: &TestApp, inviter: &Person, email: &str, team: Option<&str>) -> Person {
    let r = app
        .post_json(
            &inviter.token,
            "/api/v1/invitations",
            json!({"email": email, "seat": "rep", "team_id": team}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let r = app
        .http
        .post(app.url(&format!("/api/v1/invitations/{token}/accept")))
        .json(&json!({"name": "Newt", "password": testkit::PASSWORD, "confirm_over_18": true}))
        .send()
        .await
        .expect("accept");
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    Person {
        id: body["user"]["id"].as_str().expect("id").to_owned(),
        email: email.to_owned(),
        token: body["access_token"].as_str().expect("token").to_owned(),
    }
}

#[tokio::test]
async fn changes_through_one_instance_show_on_the_next_read_of_another() {
    for backend in backends() {
        let a = TestApp::spawn(backend).await;
        let f = Fixture::seed(&a, "acme").await;
        let b = a.another_instance().await;
        // Warm B's cache.
        assert_eq!(listed(&b, &f.exec).await.len(), 8);
        assert_eq!(listed(&b, &f.m1).await.len(), 5);
        assert_eq!(b.store().cached_directories(), 1, "{backend:?}");

        // A seat change through A.
        let r = a
            .patch_json(
                &f.exec.token,
                &format!("/api/v1/users/{}", f.r2.id),
                json!({"seat": "manager"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let seat_of_r2 = |rows: Vec<(String, String, String)>| {
            rows.into_iter()
                .find(|(id, _, _)| *id == f.r2.id)
                .map(|(_, seat, _)| seat)
        };
        assert_eq!(
            seat_of_r2(listed(&b, &f.exec).await).as_deref(),
            Some("manager"),
            "{backend:?}"
        );

        // A member added through A (an invitation accepted there).
        let newt = join(&a, &f.exec, "newt@acme.example", Some(&f.t3)).await;
        let ids: Vec<String> = listed(&b, &f.exec).await.into_iter().map(|r| r.0).collect();
        assert!(ids.contains(&newt.id), "{backend:?}: new member on B");
        assert_eq!(
            b.get(&f.m3.token, &format!("/api/v1/users/{}", newt.id))
                .await
                .status(),
            200,
            "m3 manages the new member's team"
        );

        // A team created, then renamed, through A.
        let r = a
            .post_json(
                &f.exec.token,
                "/api/v1/teams",
                json!({"name": "Mid-Market", "parent_team_id": f.t2}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let t4 = r.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        assert!(team_names(&b, &f.exec).await.contains("Mid-Market"));
        assert!(
            team_names(&b, &f.m1).await.contains("Mid-Market"),
            "nested under T2, so m1 manages it"
        );
        let r = a
            .patch_json(
                &f.exec.token,
                &format!("/api/v1/teams/{t4}"),
                json!({"name": "Mid-Market East"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let t: Value = b
            .get(&f.exec.token, &format!("/api/v1/teams/{t4}"))
            .await
            .json()
            .await
            .expect("team");
        assert_eq!(t["name"], "Mid-Market East", "{backend:?}");

        // A member moved into the nested team through A: visible to m1 and m2 on B.
        let r = a
            .patch_json(
                &f.exec.token,
                &format!("/api/v1/users/{}", newt.id),
                json!({"team_id": t4}),
            )
            .await;
        assert_eq!(r.status(), 200);
        for manager in [&f.m1, &f.m2] {
            let ids: Vec<String> = listed(&b, manager).await.into_iter().map(|r| r.0).collect();
            assert!(ids.contains(&newt.id), "{backend:?}: {}", manager.email);
        }
        assert_eq!(
            b.get(&f.m3.token, &format!("/api/v1/users/{}", newt.id))
                .await
                .status(),
            404,
            "no longer in m3's team"
        );

        // A member removed through A.
        let r = a
            .delete(&f.exec.token, &format!("/api/v1/users/{}", f.r1.id))
            .await;
        assert_eq!(r.status(), 204);
        let ids: Vec<String> = listed(&b, &f.exec).await.into_iter().map(|r| r.0).collect();
        assert!(
            !ids.contains(&f.r1.id),
            "{backend:?}: removed member gone on B"
        );
        assert_eq!(
            b.get(&f.exec.token, &format!("/api/v1/users/{}", f.r1.id))
                .await
                .status(),
            404
        );
        // The removed member's own token died on B too (revocation, not the cache).
        assert_eq!(b.get(&f.r1.token, "/api/v1/me").await.status(), 401);
    }
}

/// The scope of `who` on `store`, from their access token.
async fn scope_of(app: &TestApp, who: &Person) -> Scope {
    let claims = app
        .state
        .keys
        .verify(&who.token, vault::Purpose::Access)
        .expect("claims");
    app.store()
        .authenticate(&claims.org, &claims.sub, &claims.sid, None)
        .await
        .expect("scope")
}

/// Every page of users and teams, every single read, from memory and from SQL: equal.
async fn assert_same_as_sql(app: &TestApp, people: &[&Person], teams: &[&str], label: &str) {
    let store: &Store = app.store();
    for viewer in people {
        let scope = scope_of(app, viewer).await;
        for limit in [1, 2, 3, 50] {
            let mut after: Option<String> = None;
            loop {
                let page = PageRequest::new(Some(limit), after.as_deref()).expect("page");
                let memory = store.list_users(&scope, &page).await.expect("memory");
                let sql = store.list_users_sql(&scope, &page).await.expect("sql");
                let ids = |p: &store::Page<store::User>| {
                    p.items.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>()
                };
                assert_eq!(ids(&memory), ids(&sql), "{label}: {} users", viewer.email);
                assert_eq!(memory.next_cursor, sql.next_cursor, "{label}: cursor");
                // The rendered page (kept per version and viewer after the first
                // read) says the same as the SQL, on the first read and the next.
                let want = format!("{:?} {:?}", ids(&sql), sql.next_cursor);
                for read in ["first", "kept"] {
                    let text = store
                        .rendered_members(&scope, &page, "test-debug", |p| {
                            let users: Vec<String> =
                                p.items.iter().map(|m| format!("{:?}", m.user())).collect();
                            format!("{users:?} {:?}", p.next_cursor)
                        })
                        .await
                        .expect("rendered");
                    assert_eq!(*text, want, "{label}: {} rendered, {read}", viewer.email);
                }
                match memory.next_cursor {
                    Some(c) => after = Some(c),
                    None => break,
                }
            }
            let page = PageRequest::new(Some(limit), None).expect("page");
            let memory = store.list_teams(&scope, &page).await.expect("memory");
            let sql = store.list_teams_sql(&scope, &page).await.expect("sql");
            assert_eq!(
                format!("{:?}", memory.items),
                format!("{:?}", sql.items),
                "{label}: {} teams",
                viewer.email
            );
            assert_eq!(memory.next_cursor, sql.next_cursor);
        }
        for person in people {
            let id = person.id.parse().expect("id");
            let memory = store.get_user(&scope, id).await.map(|u| format!("{u:?}"));
            let sql = store
                .get_user_sql(&scope, id)
                .await
                .map(|u| format!("{u:?}"));
            assert_eq!(
                format!("{memory:?}"),
                format!("{sql:?}"),
                "{label}: {} reads {}",
                viewer.email,
                person.email
            );
        }
        for team in teams {
            let id = team.parse().expect("id");
            let memory = store.get_team(&scope, id).await.map(|t| format!("{t:?}"));
            let sql = store
                .get_team_sql(&scope, id)
                .await
                .map(|t| format!("{t:?}"));
            assert_eq!(
                format!("{memory:?}"),
                format!("{sql:?}"),
                "{label}: {} reads team",
                viewer.email
            );
        }
    }
}

#[tokio::test]
async fn in_memory_visibility_and_paging_match_the_sql() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let label = format!("{backend:?}");
        let teams = [f.t1.as_str(), f.t2.as_str(), f.t3.as_str()];
        assert_same_as_sql(&app, &f.everyone(), &teams, &label).await;

        // Three levels of nesting, a team without a manager, an admin rep, a manager
        // without a team, a removed member and a removed manager.
        let r = app
            .post_json(
                &f.exec.token,
                "/api/v1/teams",
                json!({"name": "Deep", "parent_team_id": f.t2}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let t4 = r.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let deep = join(&app, &f.exec, "deep@acme.example", Some(&t4)).await;
        let r = app
            .patch_json(
                &f.exec.token,
                &format!("/api/v1/users/{}", f.r4.id),
                json!({"is_admin": true}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let r4 = Person {
            token: app.login(&f.r4.email, testkit::PASSWORD).await.access_token,
            ..f.r4.clone()
        };
        for gone in [&f.r2, &f.m3] {
            let r = app
                .delete(&f.exec.token, &format!("/api/v1/users/{}", gone.id))
                .await;
            assert_eq!(r.status(), 204);
        }
        let people = [
            &f.exec, &f.m1, &f.m2, &f.r1, &f.r2, &f.r3, &r4, &f.m3, &deep,
        ];
        let viewers: Vec<&Person> = people
            .iter()
            .copied()
            .filter(|p| p.id != f.r2.id && p.id != f.m3.id)
            .collect();
        let teams = [f.t1.as_str(), f.t2.as_str(), f.t3.as_str(), t4.as_str()];
        for viewer in &viewers {
            let scope = scope_of(&app, viewer).await;
            for person in people {
                let id = person.id.parse().expect("id");
                let memory = app.store().get_user(&scope, id).await.is_ok();
                let sql = app.store().get_user_sql(&scope, id).await.is_ok();
                assert_eq!(
                    memory, sql,
                    "{label}: {} reads {}",
                    viewer.email, person.email
                );
            }
        }
        assert_same_as_sql(&app, &viewers, &teams, &label).await;
        // m1 manages T1 > T2 > Deep: the deep member is theirs.
        let m1 = scope_of(&app, &f.m1).await;
        let deep_id = deep.id.parse().expect("id");
        assert!(app.store().get_user(&m1, deep_id).await.is_ok(), "{label}");
        assert_eq!(app.store().cached_directories(), 1);
    }
}
