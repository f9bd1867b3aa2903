//! The audit log (SECURITY.md AUD-01, AUD-03, AUD-04): every audited action leaves
//! exactly one entry with who, what, when and where, in a hash chain that detects
//! edits, deletions, insertions and reordering; only executives and admins read it;
//! the application cannot rewrite it; retention keeps the chain verifiable.

use serde_json::{Value, json};
use testkit::{Backend, PASSWORD, TestApp, backends};

const DAY: i64 = 86_400;

/// The organization's log as the API shows it, oldest first.
async fn log(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/api/v1/audit-events?limit=200&before={b}"),
            None => "/api/v1/audit-events?limit=200".to_owned(),
        };
        let r = app.get(token, &path).await;
        assert_eq!(r.status(), 200, "audit log");
        let page: Value = r.json().await.expect("json");
        out.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    out.reverse();
    out
}

/// Entries appended since the last call, checked for completeness and chaining.
struct Tail {
    seen: usize,
    last_hash: Option<String>,
}

impl Tail {
    async fn new_entries(&mut self, app: &TestApp, token: &str) -> Vec<Value> {
        let all = log(app, token).await;
        let fresh: Vec<Value> = all[self.seen..].to_vec();
        let now = app.store().clock().now();
        for e in &fresh {
            let seq = e["seq"].as_i64().expect("seq");
            assert_eq!(seq as usize, self.seen + 1, "contiguous seq: {e}");
            if let Some(prev) = &self.last_hash {
                assert_eq!(e["prev_hash"].as_str(), Some(prev.as_str()), "chained: {e}");
            }
            let hash = e["hash"].as_str().expect("hash");
            assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
            let at = e["occurred_at"].as_i64().expect("when");
            assert!((now - at).abs() < 120, "when: {e}");
            assert!(!e["action"].as_str().expect("what").is_empty());
            self.seen += 1;
            self.last_hash = Some(hash.to_owned());
        }
        fresh
    }
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect()
}

/// Who and where: a signed-in user, from the loopback address, with a request id.
fn assert_user_origin(e: &Value, user: &str) {
    assert_eq!(e["actor_kind"], "user", "{e}");
    assert_eq!(e["actor_id"], user, "{e}");
    assert_eq!(e["ip"], "127.0.0.1", "{e}");
    let request_id = e["request_id"].as_str().unwrap_or_default();
    assert!(!request_id.is_empty(), "request id: {e}");
}

#[tokio::test]
async fn every_audited_action_leaves_one_chained_entry_with_who_what_when_where() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let ada = app.signup("Acme", "Ada", "ada@example.com").await;
        let tok = ada.access_token.clone();
        let mut tail = Tail {
            seen: 0,
            last_hash: None,
        };
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(actions(&fresh), ["org.created", "auth.login.succeeded"]);
        assert_eq!(fresh[1]["detail"]["via"], "signup");
        for e in &fresh {
            assert_user_origin(e, &ada.user_id);
        }

        // Each step: what it does, and the exact entries it must add.
        let login = app.login("ada@example.com", PASSWORD).await;
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(actions(&fresh), ["auth.login.succeeded"]);
        assert_user_origin(&fresh[0], &ada.user_id);

        assert_eq!(
            app.login_raw("ada@example.com", "not-the-password-at-all")
                .await
                .status(),
            401
        );
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(actions(&fresh), ["auth.login.failed"]);
        assert_eq!(fresh[0]["detail"]["reason"], "wrong_password");
        assert_eq!(fresh[0]["ip"], "127.0.0.1");

        let team: Value = app
            .post_json(&tok, "/api/v1/teams", json!({"name": "West"}))
            .await
            .json()
            .await
            .expect("team");
        let team_id = team["id"].as_str().expect("team id").to_owned();
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(actions(&fresh), ["team.created"]);
        assert_eq!(fresh[0]["target_id"], team_id.as_str());

        let r = app
            .patch_json(
                &tok,
                &format!("/api/v1/teams/{team_id}"),
                json!({"name": "West Coast"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(actions(&fresh), ["team.updated"]);
        assert_eq!(fresh[0]["detail"]["to"]["name"], "West Coast");

        let invitation: Value = app
            .post_json(
                &tok,
                "/api/v1/invitations",
                json!({"email": "bob@example.com", "seat": "rep", "team_id": team_id}),
            )
            .await
            .json()
            .await
            .expect("invitation");
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(actions(&fresh), ["invitation.created"]);
        assert_user_origin(&fresh[0], &ada.user_id);

        let token = invitation["token"].as_str().expect("token");
        let r = app
            .http
            .post(app.url(&format!("/api/v1/invitations/{token}/accept")))
            .json(&json!({"name": "Bob", "password": PASSWORD, "confirm_over_18": true}))
            .send()
            .await
            .expect("accept");
        assert_eq!(r.status(), 201);
        let bob: Value = r.json().await.expect("bob");
        let bob_id = bob["user"]["id"].as_str().expect("bob id").to_owned();
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(
            actions(&fresh),
            ["invitation.accepted", "auth.login.succeeded"]
        );
        for e in &fresh {
            assert_user_origin(e, &bob_id);
        }

        let r = app
            .post_json(
                &tok,
                "/api/v1/notes",
                json!({"subject_user_id": bob_id, "body": "Great discovery call", "visibility": "shared"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(actions(&fresh), ["note.created"]);
        assert!(
            !fresh[0].to_string().contains("Great discovery call"),
            "no note text in the log"
        );

        let r = app
            .patch_json(
                &tok,
                &format!("/api/v1/users/{bob_id}"),
                json!({"seat": "manager"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(actions(&fresh), ["member.updated"]);
        assert_eq!(
            fresh[0]["detail"]["changes"]["seat"],
            json!({"from": "rep", "to": "manager"})
        );
        assert_eq!(fresh[0]["detail"]["sessions_revoked"], 1);

        let bob_login = app.login("bob@example.com", PASSWORD).await;
        let r = app
            .post_json(
                &bob_login.access_token,
                "/api/v1/me/password",
                json!({"current_password": PASSWORD, "new_password": "a-brand-new-passphrase"}),
            )
            .await;
        assert_eq!(r.status(), 204);
        let fresh = tail.new_entries(&app, &tok).await;
        assert_eq!(
            actions(&fresh),
            ["auth.login.succeeded", "auth.password.changed"],
            "an API client gets no new session"
        );
        assert_eq!(fresh[1]["detail"]["sessions_revoked"], 1);

        let sessions: Value = app
            .get(&login.access_token, "/api/v1/sessions")
            .await
            .json()
            .await
            .expect("sessions");
        let other = sessions["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|s| s["current"] == false)
            .expect("another session")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let r = app
            .delete(&login.access_token, &format!("/api/v1/sessions/{other}"))
            .await;
        assert_eq!(r.status(), 204);
        let fresh = tail.new_entries(&app, &login.access_token).await;
        assert_eq!(actions(&fresh), ["auth.session.revoked"]);
        assert_eq!(fresh[0]["target_id"], other.as_str());

        let r = app
            .delete(&login.access_token, &format!("/api/v1/users/{bob_id}"))
            .await;
        assert_eq!(r.status(), 204);
        let fresh = tail.new_entries(&app, &login.access_token).await;
        assert_eq!(actions(&fresh), ["member.removed"]);

        let r = app
            .http
            .post(app.url("/api/v1/auth/logout"))
            .bearer_auth(&login.access_token)
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), 204);
        let fresh_login = app.login("ada@example.com", PASSWORD).await;
        let fresh = tail.new_entries(&app, &fresh_login.access_token).await;
        assert_eq!(actions(&fresh), ["auth.logout", "auth.login.succeeded"]);

        // Five failures lock the account: five failed entries and one lockout.
        for _ in 0..5 {
            app.login_raw("ada@example.com", "wrong-password-again")
                .await;
        }
        let fresh = tail.new_entries(&app, &fresh_login.access_token).await;
        assert_eq!(
            actions(&fresh),
            [
                "auth.login.failed",
                "auth.login.failed",
                "auth.login.failed",
                "auth.login.failed",
                "auth.login.failed",
                "auth.lockout"
            ]
        );
        assert_eq!(fresh[4]["detail"]["consecutive_failures"], 5);

        // A failed login for an email nobody has goes to the system chain, not here,
        // and the email itself is not recorded anywhere.
        app.login_raw("nobody@example.com", "whatever-password")
            .await;
        assert!(
            tail.new_entries(&app, &fresh_login.access_token)
                .await
                .is_empty()
        );
        let report = app.store().audit_verify(None).await.expect("verify");
        assert!(report.breaks.is_empty(), "{:?}", report.breaks);
        assert_eq!(report.chains, 2, "the organization and the system chain");
        let pool = app.store().raw_pool_for_tests();
        if backend == Backend::Sqlite {
            let leaked: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%nobody@%' OR user_agent LIKE '%nobody@%'",
            )
            .fetch_one(pool)
            .await
            .expect("count");
            assert_eq!(leaked, 0);
        }
    }
}

#[tokio::test]
async fn only_executives_and_admins_read_the_log_and_its_export() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = testkit::Fixture::seed(&app, "acme").await;
        for person in [&f.m1, &f.r1] {
            assert_eq!(
                app.get(&person.token, "/api/v1/audit-events")
                    .await
                    .status(),
                404
            );
            let browser = app.browser(&person.email).await;
            for path in ["/settings/audit", "/settings/audit.csv"] {
                let r = app
                    .http
                    .get(app.url(path))
                    .headers(browser.headers(false))
                    .send()
                    .await
                    .expect("page");
                assert_eq!(r.status(), 404, "{path}");
            }
        }
        let browser = app.browser(&f.exec.email).await;
        let page = app
            .http
            .get(app.url("/settings/audit?kind=invitation."))
            .headers(browser.headers(false))
            .send()
            .await
            .expect("page");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        assert!(
            html.contains("invitation.created"),
            "filtered page lists invitations"
        );
        assert!(!html.contains("auth.login.succeeded"), "and nothing else");

        let r = app
            .http
            .get(app.url("/settings/audit.csv"))
            .headers(browser.headers(false))
            .send()
            .await
            .expect("csv");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .expect("disposition")
                .starts_with("attachment;")
        );
        let csv = r.text().await.expect("csv");
        let mut lines = csv.lines();
        assert!(
            lines
                .next()
                .expect("header")
                .starts_with("seq,occurred_at_utc,")
        );
        let rows: Vec<&str> = lines.collect();
        assert!(rows.iter().any(|l| l.contains(",invitation.accepted,")));
        let entries = log(&app, &f.exec.token).await;
        assert_eq!(entries.last().expect("last")["action"], "audit.exported");
        assert_eq!(
            entries.last().expect("last")["detail"]["rows"],
            rows.len() as i64
        );
    }
}

/// A chain of `n` entries in a fresh organization (signup and logins).
async fn chain_of(app: &TestApp, extra_logins: usize) -> String {
    let ada = app.signup("Acme", "Ada", "ada@example.com").await;
    for _ in 0..extra_logins {
        app.login("ada@example.com", PASSWORD).await;
    }
    ada.org_id
}

/// Run `sql` on the database as its owner with the append-only guards off, as an
/// attacker with database access would.
async fn tamper(app: &TestApp, statements: &[String]) {
    match app.backend {
        Backend::Postgres => {
            let mut c = app.owner_connection().await;
            sqlx::query("SET session_replication_role = replica")
                .execute(&mut c)
                .await
                .expect("no triggers");
            for s in statements {
                sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                    .execute(&mut c)
                    .await
                    .expect("tamper");
            }
        }
        Backend::Sqlite => {
            let pool = app.store().raw_pool_for_tests();
            let mut c = pool.acquire().await.expect("conn");
            sqlx::query("DROP TRIGGER IF EXISTS audit_events_no_update")
                .execute(&mut *c)
                .await
                .expect("drop");
            sqlx::query("DROP TRIGGER IF EXISTS audit_events_no_delete")
                .execute(&mut *c)
                .await
                .expect("drop");
            for s in statements {
                sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                    .execute(&mut *c)
                    .await
                    .expect("tamper");
            }
        }
    }
}

#[tokio::test]
async fn verify_names_where_an_edited_deleted_inserted_or_reordered_chain_breaks() {
    for backend in backends() {
        type Case = (&'static str, fn(&str) -> Vec<String>, i64, &'static str);
        let cases: Vec<Case> = vec![
            (
                "edited",
                |org| {
                    vec![format!(
                        "UPDATE audit_events SET ip = '10.6.6.6' WHERE org_id = '{org}' AND seq = 3"
                    )]
                },
                3,
                "altered",
            ),
            (
                "deleted",
                |org| {
                    vec![format!(
                        "DELETE FROM audit_events WHERE org_id = '{org}' AND seq = 3"
                    )]
                },
                3,
                "missing",
            ),
            (
                "reordered",
                |org| {
                    // Swap entries 3 and 4: each keeps its content but takes the
                    // other's position.
                    vec![
                        format!(
                            "UPDATE audit_events SET seq = -3 WHERE org_id = '{org}' AND seq = 3"
                        ),
                        format!(
                            "UPDATE audit_events SET seq = 3 WHERE org_id = '{org}' AND seq = 4"
                        ),
                        format!(
                            "UPDATE audit_events SET seq = 4 WHERE org_id = '{org}' AND seq = -3"
                        ),
                    ]
                },
                3,
                "does not follow",
            ),
            (
                "truncated",
                |org| {
                    vec![format!(
                        "DELETE FROM audit_events WHERE org_id = '{org}' AND seq = 5"
                    )]
                },
                5,
                "removed from the end",
            ),
        ];
        for (name, statements, seq, reason) in cases {
            let app = TestApp::spawn(backend).await;
            let org = chain_of(&app, 3).await;
            let clean = app.store().audit_verify(None).await.expect("verify");
            assert!(clean.breaks.is_empty(), "{name}: {:?}", clean.breaks);
            tamper(&app, &statements(&org)).await;
            let report = app.store().audit_verify(None).await.expect("verify");
            assert_eq!(
                report.breaks.len(),
                1,
                "{backend:?} {name}: {:?}",
                report.breaks
            );
            let b = &report.breaks[0];
            assert_eq!(
                (b.org_id.as_str(), b.seq),
                (org.as_str(), seq),
                "{name}: {b:?}"
            );
            assert!(b.reason.contains(reason), "{name}: {}", b.reason);
        }

        // Inserted: a forged entry with a valid hash slipped in after entry 2, the
        // rest moved up one. The forgery verifies; its successor does not.
        let app = TestApp::spawn(backend).await;
        let org = chain_of(&app, 3).await;
        let entries = {
            let ada = app.login("ada@example.com", PASSWORD).await;
            log(&app, &ada.access_token).await
        };
        let e2 = &entries[1];
        let mut forged = store::AuditEntry {
            org_id: org.clone(),
            seq: 3,
            occurred_at: e2["occurred_at"].as_i64().expect("at"),
            actor_kind: "operator".into(),
            actor_id: None,
            ip: None,
            user_agent: None,
            request_id: None,
            action: "admin.password_reset".into(),
            target_type: None,
            target_id: None,
            detail: "{}".into(),
            prev_hash: e2["hash"].as_str().expect("hash").to_owned(),
            hash: String::new(),
        };
        forged.hash = forged.expected_hash(&forged.prev_hash);
        let n = entries.len() as i64;
        let mut statements: Vec<String> = (3..=n)
            .rev()
            .map(|s| {
                format!(
                    "UPDATE audit_events SET seq = {} WHERE org_id = '{org}' AND seq = {s}",
                    s + 1
                )
            })
            .collect();
        statements.push(format!(
            "INSERT INTO audit_events (org_id, seq, occurred_at, actor_kind, action, detail, prev_hash, hash) \
             VALUES ('{org}', 3, {}, 'operator', 'admin.password_reset', '{{}}', '{}', '{}')",
            forged.occurred_at, forged.prev_hash, forged.hash
        ));
        statements.push(format!(
            "UPDATE audit_heads SET seq = seq + 1 WHERE org_id = '{org}'"
        ));
        tamper(&app, &statements).await;
        let report = app.store().audit_verify(Some(&org)).await.expect("verify");
        assert_eq!(report.breaks.len(), 1, "inserted: {:?}", report.breaks);
        assert_eq!(report.breaks[0].seq, 4, "{:?}", report.breaks);
        assert!(report.breaks[0].reason.contains("does not follow"));
    }
}

#[tokio::test]
async fn the_application_cannot_rewrite_the_log() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let org = chain_of(&app, 1).await;
        match backend {
            Backend::Postgres => {
                // As the application's role, with the tenant context set: INSERT and
                // SELECT only.
                let mut c = app.owner_connection().await;
                sqlx::query("SET ROLE pitchside_app")
                    .execute(&mut c)
                    .await
                    .expect("role");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT set_config('app.org_id', '{org}', false)"
                )))
                .execute(&mut c)
                .await
                .expect("context");
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
                    .fetch_one(&mut c)
                    .await
                    .expect("read");
                assert!(n >= 2);
                for sql in [
                    "UPDATE audit_events SET ip = '1.2.3.4'",
                    "DELETE FROM audit_events",
                    "TRUNCATE audit_events",
                    "SELECT set_config('app.audit_prune', 'on', false); DELETE FROM audit_events",
                ] {
                    let err = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await
                        .expect_err(sql);
                    assert!(
                        err.to_string().contains("permission denied"),
                        "{sql}: {err}"
                    );
                }
                // The retention function refuses young entries.
                let err = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT audit_prune('{org}', 1)"
                )))
                .execute(&mut c)
                .await
                .expect_err("prune young");
                assert!(err.to_string().contains("younger than 730 days"), "{err}");
                // Even the owner cannot edit an entry while the guard trigger is on.
                let mut owner = app.owner_connection().await;
                let err = sqlx::query("UPDATE audit_events SET ip = '1.2.3.4'")
                    .execute(&mut owner)
                    .await
                    .expect_err("owner update");
                assert!(err.to_string().contains("append-only"), "{err}");
            }
            Backend::Sqlite => {
                let pool = app.store().raw_pool_for_tests();
                for sql in [
                    "UPDATE audit_events SET ip = '1.2.3.4'",
                    "DELETE FROM audit_events",
                ] {
                    let err = sqlx::query(sql).execute(pool).await.expect_err(sql);
                    assert!(err.to_string().contains("append-only"), "{sql}: {err}");
                }
            }
        }
        let report = app.store().audit_verify(None).await.expect("verify");
        assert!(report.breaks.is_empty());
    }
}

#[tokio::test]
async fn retention_prunes_entries_older_than_730_days_and_the_chain_still_verifies() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let clock = app.store().clock().clone();
        // Write the first entries 1,000 days ago (the PostgreSQL retention function
        // checks ages against the server's real clock).
        clock.advance(-1000 * DAY);
        let org = chain_of(&app, 2).await; // 4 entries
        clock.advance(700 * DAY);
        app.login("ada@example.com", PASSWORD).await; // entry 5, 300 days ago

        clock.advance(29 * DAY); // the first entries are 729 days old
        let report = app.store().audit_prune().await.expect("prune");
        assert_eq!(report.pruned, 0);

        clock.advance(2 * DAY); // now 731 days old
        let report = app.store().audit_prune().await.expect("prune");
        assert_eq!((report.chains, report.pruned), (1, 4));
        let again = app.store().audit_prune().await.expect("prune");
        assert_eq!(again.pruned, 0, "a second run finds nothing");

        let verify = app.store().audit_verify(Some(&org)).await.expect("verify");
        assert!(verify.breaks.is_empty(), "{:?}", verify.breaks);
        let ada = app.login("ada@example.com", PASSWORD).await;
        let entries = log(&app, &ada.access_token).await;
        let seqs: Vec<i64> = entries
            .iter()
            .map(|e| e["seq"].as_i64().expect("seq"))
            .collect();
        assert_eq!(
            seqs,
            [5, 6, 7],
            "entries 1-4 are gone, the rest keep their place"
        );
        assert_eq!(entries[1]["action"], "audit.pruned");
        assert_eq!(entries[1]["actor_kind"], "system");
        assert_eq!(entries[1]["detail"]["removed"], 4);
        assert_eq!(entries[1]["detail"]["anchor_seq"], 4);

        // Tampering with what is left is still caught.
        tamper(
            &app,
            &[format!(
                "UPDATE audit_events SET action = 'auth.logout' WHERE org_id = '{org}' AND seq = 5"
            )],
        )
        .await;
        let verify = app.store().audit_verify(Some(&org)).await.expect("verify");
        assert_eq!(verify.breaks.len(), 1);
        assert_eq!(verify.breaks[0].seq, 5);
    }
}

/// docs/operations.md: with the pgaudit library preloaded, `CREATE EXTENSION pgaudit`
/// and `ALTER DATABASE … SET pgaudit.log = 'ddl, role'` make PostgreSQL record every
/// schema and role change in its own log, beside Pitchside's audit chain. Under CI the
/// library is preloaded by `.ci/run`, so this runs there.
#[tokio::test]
async fn pgaudit_records_ddl_and_role_changes_when_enabled_as_documented() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut c = app.owner_connection().await;
    let preload: String = sqlx::query_scalar("SHOW shared_preload_libraries")
        .fetch_one(&mut c)
        .await
        .expect("show");
    if !preload.contains("pgaudit") {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must preload pgaudit (see .ci/run)"
        );
        eprintln!("pgaudit is not preloaded here; skipping");
        return;
    }
    let db: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut c)
        .await
        .expect("db");
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pgaudit")
        .execute(&mut c)
        .await
        .expect("extension");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{db}\" SET pgaudit.log = 'ddl, role'"
    )))
    .execute(&mut c)
    .await
    .expect("configure");
    let role = format!("probe_{}", &db[db.len().saturating_sub(12)..]);
    // A new session picks the database setting up; log_client shows its audit lines to
    // the client, so the test does not depend on where the server log lives.
    let out = std::process::Command::new("psql")
        .arg(app.db_url())
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q"])
        .args(["-c", "SET pgaudit.log_client = on"])
        .args(["-c", "SET pgaudit.log_level = notice"])
        .args(["-c", "CREATE TABLE pgaudit_probe (x int)"])
        .args(["-c", &format!("CREATE ROLE {role} NOLOGIN")])
        .args(["-c", &format!("DROP ROLE {role}")])
        .args(["-c", "SELECT 1"])
        .output()
        .expect("psql");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("AUDIT: SESSION") && log.contains(",DDL,CREATE TABLE,"),
        "{log}"
    );
    assert!(
        log.contains(",ROLE,CREATE ROLE,") && log.contains(",ROLE,DROP ROLE,"),
        "{log}"
    );
    assert!(
        !log.contains("SELECT 1"),
        "reads are not logged with ddl, role: {log}"
    );
}
