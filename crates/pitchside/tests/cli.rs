//! The `pitchside` binary as an operator uses it: `migrate`, the `admin` commands
//! (passwords on standard input) and `serve` refusing to start without its secrets.

use std::io::Write;
use std::process::{Command, Stdio};

use store::{Clock, Store, StoreOptions};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn pitchside(db_url: &str, args: &[&str], stdin: &str, extra_env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pitchside"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PITCHSIDE_DATABASE_URL", db_url)
        .env("PITCHSIDE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn pitchside");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn an_operator_creates_an_org_and_users_resets_a_password_and_revokes_sessions() {
    let dir = std::env::temp_dir().join(format!("pitchside-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    // The current directory is the crate, which has no pitchside.toml.
    let url = format!("sqlite://{}", dir.join("cli.db").display());

    assert_eq!(pitchside(&url, &["migrate"], "", &[]).code, 0);
    let r = pitchside(
        &url,
        &[
            "admin",
            "create-org",
            "--name",
            "Acme",
            "--admin-name",
            "Ada Admin",
            "--admin-email",
            "ada@acme.example",
        ],
        "correct-horse-battery-staple\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let weak = pitchside(
        &url,
        &[
            "admin",
            "create-user",
            "--org-admin-email",
            "ada@acme.example",
            "--email",
            "weak@acme.example",
            "--name",
            "Weak",
            "--seat",
            "rep",
        ],
        "password\n",
        &[],
    );
    assert_eq!(
        weak.code, 2,
        "a common password is a usage error: {}",
        weak.stderr
    );
    let r = pitchside(
        &url,
        &[
            "admin",
            "create-user",
            "--org-admin-email",
            "ada@acme.example",
            "--email",
            "rep@acme.example",
            "--name",
            "Rey Rep",
            "--seat",
            "rep",
        ],
        "rep-password-long-enough\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let store = Store::connect(StoreOptions::new(url.clone()), Clock::system())
        .await
        .expect("store");
    let hasher = vault::PasswordHasher::new(4, 1);
    let rep_email = domain::Email::parse("rep@acme.example").expect("email");
    let rep = store.admin_find_user(&rep_email).await.expect("rep exists");
    let ada = store
        .admin_find_user(&domain::Email::parse("ada@acme.example").expect("email"))
        .await
        .expect("ada");
    assert_eq!(rep.org_id, ada.org_id);
    assert_eq!(rep.seat, domain::Seat::Rep);
    assert!(ada.is_admin);
    let hash = store
        .login_candidate(&rep_email)
        .await
        .expect("lookup")
        .expect("found")
        .password_hash;
    assert!(
        hash.starts_with("$2b$12$"),
        "admin commands hash at the production cost"
    );

    // A live session, then the operator ends it.
    let grant = store
        .create_session(rep.org_id, rep.id, &store::Origin::default(), "test")
        .await
        .expect("session");
    let (org, user, sid) = (
        rep.org_id.to_string(),
        rep.id.to_string(),
        grant.session_id.to_string(),
    );
    assert!(store.authenticate(&org, &user, &sid, None).await.is_ok());
    let r = pitchside(
        &url,
        &["admin", "revoke-sessions", "--email", "rep@acme.example"],
        "",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        store.authenticate(&org, &user, &sid, None).await.is_err(),
        "revoked at once"
    );

    // A password reset takes effect and ends sessions too.
    let grant = store
        .create_session(rep.org_id, rep.id, &store::Origin::default(), "test")
        .await
        .expect("session");
    let r = pitchside(
        &url,
        &["admin", "reset-password", "--email", "rep@acme.example"],
        "a-fresh-reset-password\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hash = store
        .login_candidate(&rep_email)
        .await
        .expect("lookup")
        .expect("found")
        .password_hash;
    assert!(hasher.verify("a-fresh-reset-password", &hash).await);
    assert!(!hasher.verify("rep-password-long-enough", &hash).await);
    assert!(
        store
            .authenticate(&org, &user, &grant.session_id.to_string(), None)
            .await
            .is_err()
    );

    let r = pitchside(
        &url,
        &["admin", "revoke-sessions", "--email", "nobody@acme.example"],
        "",
        &[],
    );
    assert_eq!(
        r.code, 1,
        "an unknown user is a runtime failure: {}",
        r.stderr
    );
    // Key status and re-encryption read the same key configuration as serve.
    let key = vault::sealed::generate_fernet_key();
    let vars = [
        "PITCHSIDE_KEYS_CRM_TOKENS",
        "PITCHSIDE_KEYS_CRM_RECORDS",
        "PITCHSIDE_KEYS_COACHING_NOTES",
        "PITCHSIDE_KEYS_AI_INSIGHTS",
        "PITCHSIDE_KEYS_TRANSCRIPTS",
    ];
    let env: Vec<(&str, &str)> = vars.iter().map(|v| (*v, key.as_str())).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_pitchside"))
        .args(["keys", "status"])
        .env("PITCHSIDE_DATABASE_URL", &url)
        .envs(env.iter().copied())
        .output()
        .expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("coaching_notes:") && text.contains("(primary): 0 values"),
        "{text}"
    );
    let r = pitchside(&url, &["keys", "reencrypt", "coaching_notes"], "", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = pitchside(&url, &["keys", "reencrypt", "nonsense"], "", &env);
    assert_eq!(r.code, 2, "{}", r.stderr);

    // Every operator command above is in the audit log, as the operator.
    let pool = store.raw_pool_for_tests();
    let operator: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE actor_kind = 'operator' ORDER BY org_id, seq",
    )
    .fetch_all(pool)
    .await
    .expect("audit");
    for action in [
        "admin.org_created",
        "admin.user_created",
        "admin.password_reset",
        "admin.sessions_revoked",
        "keys.reencrypted",
    ] {
        assert!(
            operator.iter().any(|a| a == action),
            "{action}: {operator:?}"
        );
    }
    let r = pitchside(&url, &["audit", "verify"], "", &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("0 broken"), "{}", r.stdout);
    // Someone with the database file edits an entry: verify fails and names it.
    sqlx::query("DROP TRIGGER audit_events_no_update")
        .execute(pool)
        .await
        .expect("drop trigger");
    sqlx::query("UPDATE audit_events SET action = 'auth.logout' WHERE org_id = $1 AND seq = 2")
        .bind(&org)
        .execute(pool)
        .await
        .expect("tamper");
    let r = pitchside(&url, &["audit", "verify"], "", &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "BROKEN: organization {org} at entry 2: entry 2 was altered"
        )),
        "{}",
        r.stdout
    );
    store.close().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serve_refuses_to_start_without_its_secrets() {
    let r = pitchside(
        "sqlite:///nonexistent/never-created.db",
        &["serve"],
        "",
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("PITCHSIDE_JWT_SECRET"), "{}", r.stderr);
    assert!(r.stderr.contains("PITCHSIDE_PUBLIC_URL"), "{}", r.stderr);
    let r = pitchside(
        "sqlite:///nonexistent/never-created.db",
        &["serve"],
        "",
        &[
            ("PITCHSIDE_JWT_SECRET", "c2hvcnQ="),
            ("PITCHSIDE_PUBLIC_URL", "https://pitchside.example.com"),
        ],
    );
    assert_eq!(r.code, 2, "a 5-byte secret is refused: {}", r.stderr);
    assert!(r.stderr.contains("PITCHSIDE_JWT_SECRET"), "{}", r.stderr);
    // A good JWT secret but no sealing keys: refused, naming the variables.
    let secret = vault::sealed::generate_fernet_key();
    let r = pitchside(
        "sqlite:///nonexistent/never-created.db",
        &["serve"],
        "",
        &[
            ("PITCHSIDE_JWT_SECRET", &secret),
            ("PITCHSIDE_PUBLIC_URL", "https://pitchside.example.com"),
            ("PITCHSIDE_KEYS_COACHING_NOTES", &secret),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    for domain in ["TRANSCRIPTS", "CRM_RECORDS"] {
        let missing = format!("PITCHSIDE_KEYS_{domain}");
        assert!(r.stderr.contains(&missing), "{missing}: {}", r.stderr);
    }
    assert!(
        !r.stderr.contains("PITCHSIDE_KEYS_COACHING_NOTES,"),
        "a configured ring is not reported missing: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(&secret),
        "secrets are never echoed: {}",
        r.stderr
    );
}

#[test]
fn keys_generate_prints_a_fernet_key_that_also_signs_tokens() {
    let out = Command::new(env!("CARGO_BIN_EXE_pitchside"))
        .args(["keys", "generate"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).expect("utf8");
    let key = key.trim();
    assert_eq!(key.len(), 44, "{key}");
    let ring = vault::sealed::KeyRing::parse(vault::sealed::Domain::CoachingNotes, key)
        .expect("a Fernet key");
    assert_eq!(ring.key_ids().len(), 1);
    assert!(
        vault::SigningKey::from_base64(key).is_ok(),
        "usable as PITCHSIDE_JWT_SECRET"
    );
}
