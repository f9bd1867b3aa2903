//! A seeded organization with every seat, for visibility and isolation tests:
//!
//! ```text
//! exec (executive, admin)
//! T1 "Enterprise"   managed by m1, members r1, r2, and m2 (m2 reports to m1)
//!   T2 "Enterprise North" (nested in T1) managed by m2, member r3
//! T3 "SMB"           managed by m3, member r4
//! ```
//! So m1 sees m1, r1, r2, m2, r3 (T2 transitively); m2 sees m2 and r3; m3 sees m3 and
//! r4; a rep sees only themself; the executive sees everyone.

use serde_json::{Value, json};

use crate::{Account, TestApp};

/// One seeded person.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub token: String,
}

/// The seeded organization.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub org_id: String,
    pub exec: Person,
    pub m1: Person,
    pub m2: Person,
    pub m3: Person,
    pub r1: Person,
    pub r2: Person,
    pub r3: Person,
    pub r4: Person,
    pub t1: String,
    pub t2: String,
    pub t3: String,
}

impl Fixture {
    /// Seed an organization through the public API. `tag` keeps emails unique.
    pub async fn seed(app: &TestApp, tag: &str) -> Self {
        let admin = app
            .signup(
                &format!("{tag} Corp"),
                "Erin Exec",
                &format!("exec@{tag}.example"),
            )
            .await;
        let exec = person(&admin);
        let invite = |email: String, seat: &'static str, team: Option<String>| {
            let token = exec.token.clone();
            async move {
                let r = app
                    .post_json(
                        &token,
                        "/api/v1/invitations",
                        json!({"email": email, "seat": seat, "team_id": team}),
                    )
                    .await;
                assert_eq!(r.status(), 201, "invite {email}");
                let body: Value = r.json().await.expect("invitation json");
                let token = body["token"].as_str().expect("token").to_owned();
                let r = app
                    .http
                    .post(app.url(&format!("/api/v1/invitations/{token}/accept")))
                    .json(&json!({"name": email.split('@').next(), "password": crate::PASSWORD, "confirm_over_18": true}))
                    .send()
                    .await
                    .expect("accept");
                assert_eq!(r.status(), 201, "accept {email}");
                let body: Value = r.json().await.expect("accept json");
                Person {
                    id: body["user"]["id"].as_str().expect("id").to_owned(),
                    email,
                    token: body["access_token"].as_str().expect("token").to_owned(),
                }
            }
        };
        let m1 = invite(format!("m1@{tag}.example"), "manager", None).await;
        let m2 = invite(format!("m2@{tag}.example"), "manager", None).await;
        let m3 = invite(format!("m3@{tag}.example"), "manager", None).await;
        let team = |name: &'static str, manager: String, parent: Option<String>| {
            let token = exec.token.clone();
            async move {
                let r = app
                    .post_json(
                        &token,
                        "/api/v1/teams",
                        json!({"name": name, "manager_id": manager, "parent_team_id": parent}),
                    )
                    .await;
                assert_eq!(r.status(), 201, "team {name}");
                let body: Value = r.json().await.expect("team json");
                body["id"].as_str().expect("team id").to_owned()
            }
        };
        let t1 = team("Enterprise", m1.id.clone(), None).await;
        let t2 = team("Enterprise North", m2.id.clone(), Some(t1.clone())).await;
        let t3 = team("SMB", m3.id.clone(), None).await;
        // m2 is a member of T1 (reports to m1).
        let r = app
            .patch_json(
                &exec.token,
                &format!("/api/v1/users/{}", m2.id),
                json!({"team_id": t1, "manager_id": m1.id}),
            )
            .await;
        assert_eq!(r.status(), 200, "place m2 in T1");
        let r1 = invite(format!("r1@{tag}.example"), "rep", Some(t1.clone())).await;
        let r2 = invite(format!("r2@{tag}.example"), "rep", Some(t1.clone())).await;
        let r3 = invite(format!("r3@{tag}.example"), "rep", Some(t2.clone())).await;
        let r4 = invite(format!("r4@{tag}.example"), "rep", Some(t3.clone())).await;
        // Team changes revoked m2's session: log in again.
        let m2 = Person {
            token: app.login(&m2.email, crate::PASSWORD).await.access_token,
            ..m2
        };
        Self {
            org_id: admin.org_id.clone(),
            exec,
            m1,
            m2,
            m3,
            r1,
            r2,
            r3,
            r4,
            t1,
            t2,
            t3,
        }
    }

    /// Everyone, in a fixed order.
    pub fn everyone(&self) -> Vec<&Person> {
        vec![
            &self.exec, &self.m1, &self.m2, &self.m3, &self.r1, &self.r2, &self.r3, &self.r4,
        ]
    }
}

fn person(a: &Account) -> Person {
    Person {
        id: a.user_id.clone(),
        email: a.email.clone(),
        token: a.access_token.clone(),
    }
}
