//! Coaching notes: who reads them, and that their bodies never reach the database in
//! plaintext (SECURITY.md KEY-01..04).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use testkit::{Backend, Fixture, Person, TestApp, backends};

async fn write(
    app: &TestApp,
    author: &Person,
    subject: &Person,
    body: &str,
    visibility: &str,
) -> reqwest::Response {
    app.post_json(
        &author.token,
        "/api/v1/notes",
        json!({"subject_user_id": subject.id, "body": body, "visibility": visibility}),
    )
    .await
}

async fn readable(app: &TestApp, viewer: &Person, subject: &Person) -> Option<BTreeSet<String>> {
    let r = app
        .get(
            &viewer.token,
            &format!("/api/v1/users/{}/notes?limit=200", subject.id),
        )
        .await;
    if r.status() == 404 {
        return None;
    }
    let page: Value = r.json().await.expect("json");
    Some(
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|n| n["body"].as_str().expect("body").to_owned())
            .collect(),
    )
}

#[tokio::test]
async fn private_notes_are_for_their_author_and_shared_ones_for_the_manager_chain() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        // r3 is in T2 (managed by m2), nested in T1 (managed by m1).
        assert_eq!(
            write(&app, &f.m2, &f.r3, "m2 private", "private")
                .await
                .status(),
            201
        );
        assert_eq!(
            write(&app, &f.m2, &f.r3, "m2 shared", "shared")
                .await
                .status(),
            201
        );
        assert_eq!(
            write(&app, &f.r3, &f.r3, "r3 own private", "private")
                .await
                .status(),
            201
        );
        let r = write(&app, &f.r3, &f.r3, "r3 own shared <script>", "shared").await;
        assert_eq!(r.status(), 201);
        let created: Value = r.json().await.expect("json");
        assert_eq!(created["author_id"], f.r3.id.as_str());
        assert_eq!(created["visibility"], "shared");

        let set = |items: &[&str]| {
            items
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<BTreeSet<_>>()
        };
        let shared = ["m2 shared", "r3 own shared <script>"];
        assert_eq!(
            readable(&app, &f.m2, &f.r3).await,
            Some(set(&["m2 private", "m2 shared", "r3 own shared <script>"]))
        );
        assert_eq!(
            readable(&app, &f.r3, &f.r3).await,
            Some(set(&[
                "m2 shared",
                "r3 own private",
                "r3 own shared <script>"
            ]))
        );
        assert_eq!(
            readable(&app, &f.m1, &f.r3).await,
            Some(set(&shared)),
            "m1 is up the chain"
        );
        assert_eq!(readable(&app, &f.exec, &f.r3).await, Some(set(&shared)));
        assert_eq!(
            readable(&app, &f.m3, &f.r3).await,
            None,
            "another team's manager: 404"
        );
        assert_eq!(readable(&app, &f.r1, &f.r3).await, None, "another rep: 404");

        // Writing: reps only about themselves; managers about people they see.
        assert_eq!(
            write(&app, &f.r1, &f.r3, "nosy", "shared").await.status(),
            404
        );
        assert_eq!(
            write(&app, &f.m3, &f.r3, "nosy", "shared").await.status(),
            404
        );
        let r = write(&app, &f.m1, &f.r3, "", "secret").await;
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.expect("json");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert_eq!(fields, ["body", "visibility"]);
        let huge = "x".repeat(20_001);
        assert_eq!(
            write(&app, &f.m1, &f.r3, &huge, "shared").await.status(),
            422
        );
    }
}

#[tokio::test]
async fn a_note_marker_never_reaches_the_database_file_or_its_wal() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let f = Fixture::seed(&app, "acme").await;
    let marker = format!("PLAINTEXT-MARKER-{}", uuid::Uuid::new_v4().simple());
    let r = write(&app, &f.m1, &f.r1, &format!("Coaching: {marker}"), "shared").await;
    assert_eq!(r.status(), 201);
    let note: Value = r.json().await.expect("json");
    let read: Value = app
        .get(
            &f.r1.token,
            &format!("/api/v1/notes/{}", note["id"].as_str().expect("id")),
        )
        .await
        .json()
        .await
        .expect("read");
    assert_eq!(
        read["body"],
        format!("Coaching: {marker}"),
        "it reads back in plaintext"
    );
    let db = app.sqlite_path().expect("sqlite");
    let mut scanned = 0;
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(bytes) = std::fs::read(&path) {
            scanned += bytes.len();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "marker found in {path}"
            );
        }
    }
    assert!(scanned > 0);
}

/// The same on PostgreSQL: neither a `pg_dump` of the database nor the server's
/// write-ahead log holds the marker (the WAL is read when this process may read the
/// server's data directory, as under CI, which runs as root beside the server).
#[tokio::test]
async fn a_note_marker_never_reaches_a_postgres_dump_or_its_wal() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let f = Fixture::seed(&app, "acme").await;
    let marker = format!("PLAINTEXT-MARKER-{}", uuid::Uuid::new_v4().simple());
    let r = write(&app, &f.m1, &f.r1, &format!("Coaching: {marker}"), "shared").await;
    assert_eq!(r.status(), 201);
    let dump = std::process::Command::new("pg_dump")
        .arg(app.db_url())
        .output()
        .expect("pg_dump");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(dump.stdout.len() > 1000, "a real dump");
    let has = |bytes: &[u8]| bytes.windows(marker.len()).any(|w| w == marker.as_bytes());
    assert!(!has(&dump.stdout), "marker in pg_dump");
    assert!(
        String::from_utf8_lossy(&dump.stdout).contains("gAAAAA"),
        "the dump holds the Fernet token instead"
    );
    let mut conn = app.owner_connection().await;
    sqlx::query("CHECKPOINT")
        .execute(&mut conn)
        .await
        .expect("checkpoint");
    let data: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&mut conn)
        .await
        .expect("data dir");
    let wal = std::path::Path::new(&data).join("pg_wal");
    match std::fs::read_dir(&wal) {
        Ok(entries) => {
            let mut scanned = 0;
            for entry in entries.flatten() {
                if entry.file_type().map(|t| t.is_file()).unwrap_or(false)
                    && let Ok(bytes) = std::fs::read(entry.path())
                {
                    scanned += bytes.len();
                    assert!(!has(&bytes), "marker in {}", entry.path().display());
                }
            }
            assert!(scanned > 0, "read the WAL");
        }
        Err(e) => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI must read the WAL at {}: {e}",
                wal.display()
            );
            eprintln!("cannot read {} ({e}); WAL not scanned", wal.display());
        }
    }
}

#[tokio::test]
async fn a_sealed_body_moved_to_another_row_does_not_open() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let f = Fixture::seed(&app, "acme").await;
    let id_of = |r: Value| r["id"].as_str().expect("id").to_owned();
    let a = id_of(
        write(&app, &f.m1, &f.r1, "secret about r1", "shared")
            .await
            .json()
            .await
            .expect("a"),
    );
    let b = id_of(
        write(&app, &f.m1, &f.r2, "harmless about r2", "shared")
            .await
            .json()
            .await
            .expect("b"),
    );
    let pool = app.store().raw_pool_for_tests();
    let token: String = sqlx::query_scalar("SELECT body_sealed FROM notes WHERE id = $1")
        .bind(&a)
        .fetch_one(pool)
        .await
        .expect("token");
    sqlx::query("UPDATE notes SET body_sealed = $1 WHERE id = $2")
        .bind(&token)
        .bind(&b)
        .execute(pool)
        .await
        .expect("move");
    let r = app.get(&f.m1.token, &format!("/api/v1/notes/{b}")).await;
    assert_eq!(r.status(), 500);
    let text = r.text().await.expect("text");
    assert!(!text.contains("secret about r1"), "{text}");
    // The failure is audited once, naming the row (KEY-04).
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'sealed.open_failed' AND target_id = $1 AND actor_id = $2",
    )
    .bind(&b)
    .bind(&f.m1.id)
    .fetch_one(pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    // The original still opens where it belongs.
    assert_eq!(
        app.get(&f.m1.token, &format!("/api/v1/notes/{a}"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn every_sealed_column_is_registered_with_its_domain() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let pool = app.store().raw_pool_for_tests();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(pool)
            .await
            .expect("tables");
    let mut found = BTreeSet::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(pool)
        .await
        .expect("columns");
        for column in columns.into_iter().filter(|c| c.ends_with("_sealed")) {
            found.insert((table.clone(), column));
        }
    }
    let registered: BTreeSet<(String, String)> = store::SEALED_COLUMNS
        .iter()
        .map(|(t, c, _)| ((*t).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(
        found, registered,
        "a *_sealed column must be listed in store::SEALED_COLUMNS with its domain"
    );
    // Each table's sealed columns belong to its data's key domain.
    for (table, column, domain) in store::SEALED_COLUMNS {
        let expected = match *table {
            "notes" => vault::sealed::Domain::CoachingNotes,
            "crm_tokens" | "oauth_states" => vault::sealed::Domain::CrmTokens,
            t if t.starts_with("crm_") => vault::sealed::Domain::CrmRecords,
            other => panic!("{other}.{column}: which key domain is it in?"),
        };
        assert_eq!(*domain, expected, "{table}.{column}");
    }
}

#[tokio::test]
async fn the_rep_page_lists_readable_notes_escaped_and_takes_new_ones() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let f = Fixture::seed(&app, "acme").await;
    assert_eq!(
        write(
            &app,
            &f.m1,
            &f.r1,
            "<script>alert(1)</script> follow up",
            "shared"
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        write(&app, &f.m1, &f.r1, "m1 only", "private")
            .await
            .status(),
        201
    );
    let browser = app.browser(&f.r1.email).await;
    let page = app
        .http
        .get(app.url(&format!("/reps/{}", f.r1.id)))
        .headers(browser.headers(false))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let shown = page
        .split("note-body\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_default();
    assert!(
        !shown.contains('<') && shown.contains("alert(1)") && shown.ends_with("follow up"),
        "{shown}"
    );
    assert!(!page.contains("<script>alert(1)"));
    assert!(
        !page.contains("m1 only"),
        "a private note of the manager stays hidden"
    );
    // The rep writes a note about themself through the form.
    let r = app
        .http
        .post(app.url(&format!("/reps/{}/notes", f.r1.id)))
        .headers(browser.headers(false))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf_token={}&body=My+goals+for+Q3&visibility=shared",
            browser.csrf
        ))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    assert!(
        readable(&app, &f.m1, &f.r1)
            .await
            .expect("visible")
            .contains("My goals for Q3")
    );
}

/// Key rings where `coaching_notes` holds `notes` (primary first) and every other
/// domain keeps the app's key.
fn rings(app: &TestApp, notes: &[&str]) -> std::sync::Arc<vault::sealed::Keys> {
    use vault::sealed::{Domain, KeyRing, Keys};
    let mut keys = Keys::default();
    for domain in Domain::ALL {
        let ring = if domain == Domain::CoachingNotes {
            KeyRing::new(domain, notes.iter().copied())
        } else {
            KeyRing::new(domain, [app.key_text(domain)])
        };
        keys.insert(ring.expect("ring"));
    }
    std::sync::Arc::new(keys)
}

#[tokio::test]
async fn rotating_the_notes_key_under_load_loses_nothing() {
    use vault::sealed::{Domain, generate_fernet_key};
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let k1 = app.key_text(Domain::CoachingNotes).to_owned();
        for i in 0..40 {
            assert_eq!(
                write(
                    &app,
                    &f.m1,
                    &f.r1,
                    &format!("before rotation {i}"),
                    "shared"
                )
                .await
                .status(),
                201
            );
        }
        // Step 1: every instance gets [K2, K1]. Step 2: re-encrypt while it serves.
        let k2 = generate_fernet_key();
        let rotating = app
            .another_instance_with_sealing_keys(rings(&app, &[&k2, &k1]))
            .await;
        let m1 = rotating.login(&f.m1.email, testkit::PASSWORD).await;
        let load = {
            let token = m1.access_token.clone();
            let (base, http, subject) = (
                rotating.base.clone(),
                rotating.http.clone(),
                f.r1.id.clone(),
            );
            tokio::spawn(async move {
                let mut failures = 0;
                for i in 0..30 {
                    let w = http
                        .post(format!("{base}/api/v1/notes"))
                        .bearer_auth(&token)
                        .json(&json!({"subject_user_id": subject, "body": format!("during rotation {i}"), "visibility": "shared"}))
                        .send()
                        .await;
                    let r = http
                        .get(format!("{base}/api/v1/users/{subject}/notes?limit=200"))
                        .bearer_auth(&token)
                        .send()
                        .await;
                    if !w.is_ok_and(|w| w.status() == 201) || !r.is_ok_and(|r| r.status() == 200) {
                        failures += 1;
                    }
                }
                failures
            })
        };
        let report = rotating
            .store()
            .reencrypt(Domain::CoachingNotes, 7)
            .await
            .expect("reencrypt");
        let failures = load.await.expect("load");
        assert_eq!(failures, 0, "requests failed during rotation ({backend:?})");
        // A second pass picks up anything written under K1 meanwhile; nothing is left.
        let again = rotating
            .store()
            .reencrypt(Domain::CoachingNotes, 7)
            .await
            .expect("again");
        assert!(report.reencrypted >= 40, "{report:?}");
        assert_eq!(report.unreadable + again.unreadable, 0);
        let counts = rotating
            .store()
            .sealed_key_counts(Domain::CoachingNotes)
            .await
            .expect("counts");
        let k2_id = vault::sealed::KeyRing::new(Domain::CoachingNotes, [k2.as_str()])
            .expect("k2")
            .primary_id()
            .expect("id")
            .to_owned();
        assert_eq!(
            counts.keys().collect::<Vec<_>>(),
            vec![&k2_id],
            "only K2 protects anything now: {counts:?}"
        );
        assert_eq!(counts[&k2_id], 70);
        // Step 3: retire K1. An instance holding only K2 reads every note.
        let retired = app
            .another_instance_with_sealing_keys(rings(&app, &[&k2]))
            .await;
        let m1 = retired.login(&f.m1.email, testkit::PASSWORD).await;
        let page: Value = retired
            .get(
                &m1.access_token,
                &format!("/api/v1/users/{}/notes?limit=200", f.r1.id),
            )
            .await
            .json()
            .await
            .expect("json");
        let bodies: BTreeSet<String> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|n| n["body"].as_str().expect("body").to_owned())
            .collect();
        assert_eq!(bodies.len(), 70);
        assert!((0..40).all(|i| bodies.contains(&format!("before rotation {i}"))));
        assert!((0..30).all(|i| bodies.contains(&format!("during rotation {i}"))));
    }
}

#[tokio::test]
async fn two_instances_re_encrypting_at_once_share_the_work_without_loss() {
    use vault::sealed::{Domain, generate_fernet_key};
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let k1 = app.key_text(Domain::CoachingNotes).to_owned();
        for i in 0..60 {
            let r = write(&app, &f.m1, &f.r2, &format!("note {i}"), "shared").await;
            assert_eq!(r.status(), 201);
        }
        let k2 = generate_fernet_key();
        let a = app
            .another_instance_with_sealing_keys(rings(&app, &[&k2, &k1]))
            .await;
        let b = app
            .another_instance_with_sealing_keys(rings(&app, &[&k2, &k1]))
            .await;
        let (ra, rb) = tokio::join!(
            a.store().reencrypt(Domain::CoachingNotes, 5),
            b.store().reencrypt(Domain::CoachingNotes, 5)
        );
        let (ra, rb) = (ra.expect("a"), rb.expect("b"));
        assert_eq!(ra.unreadable + rb.unreadable, 0);
        assert_eq!(
            ra.reencrypted + rb.reencrypted,
            60,
            "each value re-encrypted exactly once: {ra:?} {rb:?}"
        );
        let counts = a
            .store()
            .sealed_key_counts(Domain::CoachingNotes)
            .await
            .expect("counts");
        assert_eq!(counts.values().sum::<u64>(), 60);
        assert_eq!(counts.len(), 1, "only K2 is left: {counts:?}");
        let retired = app
            .another_instance_with_sealing_keys(rings(&app, &[&k2]))
            .await;
        let bodies = readable(&retired, &f.m1, &f.r2).await.expect("visible");
        assert_eq!(bodies.len(), 60);
    }
}
