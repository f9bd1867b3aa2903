//! Sealing keys from a key file and from Google Secret Manager (a local mock speaking
//! its wire format: the service-account JWT exchange and `versions/*:access`), reloads
//! while serving (directly and on SIGHUP), and the refusals a misconfiguration gets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use pitchside::gsm::{SCOPE, crc32c};
use pitchside::keysource::{self, KeySources};
use serde_json::json;
use store::{Clock, Store, StoreOptions};
use vault::sealed::{Domain, generate_fernet_key};

const EMAIL: &str = "pitchside-keys@acme-prod.iam.gserviceaccount.com";

fn temp_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("pitchside-keys-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// An RSA key pair made now with openssl: (private PEM, public PEM).
fn rsa_pair(dir: &Path) -> (String, String) {
    let private = dir.join("sa.pem");
    let public = dir.join("sa.pub.pem");
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl genpkey");
    let ok = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl pkey");
    (
        std::fs::read_to_string(private).expect("private"),
        std::fs::read_to_string(public).expect("public"),
    )
}

#[derive(Default)]
struct Mock {
    public_pem: String,
    token_url: String,
    /// secret version name → payload text.
    secrets: BTreeMap<String, String>,
    tokens_issued: usize,
    accesses: usize,
    /// Every request as "METHOD path".
    seen: Vec<String>,
    corrupt_crc: bool,
    fail: bool,
}

type Shared = Arc<Mutex<Mock>>;

#[derive(serde::Deserialize)]
struct TokenForm {
    grant_type: String,
    assertion: String,
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    scope: String,
    aud: String,
    iat: u64,
    exp: u64,
}

async fn token(State(mock): State<Shared>, Form(form): Form<TokenForm>) -> Response {
    let (public, aud) = {
        let mut m = mock.lock().expect("mock");
        m.seen.push("POST /token".into());
        (m.public_pem.clone(), m.token_url.clone())
    };
    if form.grant_type != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).expect("public key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[aud]);
    validation.set_issuer(&[EMAIL]);
    let Ok(data) = jsonwebtoken::decode::<Claims>(&form.assertion, &key, &validation) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let c = data.claims;
    assert_eq!(c.scope, SCOPE);
    assert_eq!(c.iss, EMAIL);
    assert!(
        c.aud.ends_with("/token"),
        "aud is the token endpoint: {}",
        c.aud
    );
    assert!(c.exp > c.iat && c.exp - c.iat <= 3600, "at most an hour");
    let mut m = mock.lock().expect("mock");
    m.tokens_issued += 1;
    let token = format!("ya29.mock-{}", m.tokens_issued);
    axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

async fn access(
    State(mock): State<Shared>,
    headers: HeaderMap,
    UrlPath(rest): UrlPath<String>,
) -> Response {
    let mut m = mock.lock().expect("mock");
    m.seen.push(format!("GET /v1/{rest}"));
    let expected = format!("Bearer ya29.mock-{}", m.tokens_issued);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": 401}})),
        )
            .into_response();
    }
    if m.fail {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": {"code": 503}})),
        )
            .into_response();
    }
    let Some(name) = rest.strip_suffix(":access") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(payload) = m.secrets.get(name).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"code": 404, "status": "NOT_FOUND"}})),
        )
            .into_response();
    };
    m.accesses += 1;
    let crc = crc32c(payload.as_bytes()) ^ u32::from(m.corrupt_crc);
    axum::Json(json!({
        "name": name.replace("latest", "3"),
        "payload": {
            "data": base64::engine::general_purpose::STANDARD.encode(payload.as_bytes()),
            "dataCrc32c": crc.to_string(),
        }
    }))
    .into_response()
}

/// A mock Secret Manager and token endpoint on loopback: (state, base URL).
async fn mock(public_pem: String) -> (Shared, String) {
    let shared: Shared = Arc::new(Mutex::new(Mock {
        public_pem,
        ..Mock::default()
    }));
    let app = Router::new()
        .route("/token", post(token))
        .route("/v1/{*rest}", get(access))
        .fallback(|req: axum::extract::Request| async move {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} {}", req.method(), req.uri()),
            )
        })
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    shared.lock().expect("mock").token_url = format!("{base}/token");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (shared, base)
}

fn credentials(dir: &Path, private_pem: &str) -> PathBuf {
    let path = dir.join("service-account.json");
    std::fs::write(
        &path,
        json!({
            "type": "service_account",
            "project_id": "acme-prod",
            "private_key_id": "3f1e0c",
            "private_key": private_pem,
            "client_email": EMAIL,
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string(),
    )
    .expect("write");
    path
}

fn ids(text: &str) -> Vec<String> {
    let ring = vault::sealed::KeyRing::parse(Domain::Transcripts, text).expect("ring");
    ring.key_ids().into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn rings_come_from_the_environment_a_key_file_and_secret_manager_and_reload() {
    let dir = temp_dir();
    let (private, public) = rsa_pair(&dir);
    let (mock, base) = mock(public).await;
    let creds = credentials(&dir, &private);
    let [crm, records, notes, ai, transcripts] = std::array::from_fn(|_| generate_fernet_key());
    let file = dir.join("keys.toml");
    std::fs::write(&file, format!("coaching_notes = \"{notes}\"\n")).expect("key file");
    mock.lock().expect("mock").secrets.extend([
        (
            "projects/acme-prod/secrets/pitchside-ai/versions/latest".to_owned(),
            ai.clone(),
        ),
        (
            "projects/acme-prod/secrets/pitchside-transcripts/versions/latest".to_owned(),
            transcripts.clone(),
        ),
    ]);
    let env: BTreeMap<String, String> = [
        ("PITCHSIDE_KEYS_CRM_TOKENS".to_owned(), crm.clone()),
        ("PITCHSIDE_KEYS_CRM_RECORDS".to_owned(), records.clone()),
        (keysource::KEYS_FILE.to_owned(), file.display().to_string()),
        (
            keysource::gsm_var(Domain::AiInsights),
            "projects/acme-prod/secrets/pitchside-ai/versions/latest".to_owned(),
        ),
        (
            keysource::gsm_var(Domain::Transcripts),
            "projects/acme-prod/secrets/pitchside-transcripts/versions/latest".to_owned(),
        ),
        (
            keysource::GSM_CREDENTIALS.to_owned(),
            creds.display().to_string(),
        ),
        (keysource::GSM_URL.to_owned(), base.clone()),
        (keysource::GSM_TOKEN_URL.to_owned(), format!("{base}/token")),
    ]
    .into();
    let sources = KeySources::from_lookup(|v| env.get(v).cloned()).expect("sources");
    let keys = sources.load().await.expect("load");
    for (domain, text) in [
        (Domain::CrmTokens, &crm),
        (Domain::CrmRecords, &records),
        (Domain::CoachingNotes, &notes),
        (Domain::AiInsights, &ai),
        (Domain::Transcripts, &transcripts),
    ] {
        assert_eq!(keys.ring(domain).key_ids(), ids(text), "{domain}");
    }
    {
        let m = mock.lock().expect("mock");
        assert_eq!(m.tokens_issued, 1);
        assert_eq!(m.accesses, 2);
        assert!(
            m.seen
                .iter()
                .all(|r| r.starts_with("GET /v1/") || r == "POST /token"),
            "only reads: {:?}",
            m.seen
        );
    }

    // Serving with these rings; then the operator rotates the transcripts secret.
    let url = format!("sqlite://{}", dir.join("p.db").display());
    let store = Store::connect(StoreOptions::new(url), Clock::system())
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    let store = store.with_keys(Arc::new(keys));
    assert!(
        !keysource::reload(&sources, &store).await.expect("reload"),
        "nothing changed"
    );
    let rotated = format!("{},{transcripts}", generate_fernet_key());
    mock.lock().expect("mock").secrets.insert(
        "projects/acme-prod/secrets/pitchside-transcripts/versions/latest".into(),
        rotated.clone(),
    );
    assert!(keysource::reload(&sources, &store).await.expect("reload"));
    assert_eq!(
        store.keys().ring(Domain::Transcripts).key_ids(),
        ids(&rotated)
    );
    assert_eq!(
        mock.lock().expect("mock").tokens_issued,
        1,
        "the access token is reused"
    );
    let reloads: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'keys.reloaded'")
            .fetch_all(store.raw_pool_for_tests())
            .await
            .expect("audit");
    assert_eq!(reloads.len(), 1);
    assert!(
        reloads[0].contains(&ids(&rotated)[0]),
        "key ids, not keys: {}",
        reloads[0]
    );
    assert!(
        !reloads[0].contains(&rotated[..20]),
        "never the keys themselves"
    );

    // A failing source, or a corrupt payload: the reload fails and the rings stay.
    mock.lock().expect("mock").fail = true;
    let err = keysource::reload(&sources, &store)
        .await
        .expect_err("unavailable");
    assert!(err.to_string().contains("503"), "{err}");
    mock.lock().expect("mock").fail = false;
    mock.lock().expect("mock").corrupt_crc = true;
    let err = keysource::reload(&sources, &store)
        .await
        .expect_err("corrupt");
    assert!(err.to_string().contains("CRC32C"), "{err}");
    assert_eq!(
        store.keys().ring(Domain::Transcripts).key_ids(),
        ids(&rotated)
    );
    mock.lock().expect("mock").corrupt_crc = false;

    // The same domain in two sources is refused, naming both.
    std::fs::write(
        &file,
        format!("coaching_notes = \"{notes}\"\ncrm_tokens = \"{crm}\"\n"),
    )
    .expect("key file");
    let err = sources.load().await.expect_err("twice");
    let msg = err.to_string();
    assert!(
        msg.contains("PITCHSIDE_KEYS_CRM_TOKENS") && msg.contains("keys.toml"),
        "{msg}"
    );

    // A wrong service-account key is refused by the token endpoint.
    let (other_private, _) = rsa_pair(&dir);
    let other = dir.join("other.json");
    std::fs::copy(credentials(&dir, &other_private), &other).expect("copy");
    let mut env2 = env.clone();
    env2.insert(
        keysource::GSM_CREDENTIALS.into(),
        other.display().to_string(),
    );
    env2.remove(keysource::KEYS_FILE);
    env2.insert("PITCHSIDE_KEYS_COACHING_NOTES".into(), notes.clone());
    let err = KeySources::from_lookup(|v| env2.get(v).cloned())
        .expect("sources")
        .load()
        .await
        .expect_err("bad key");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    store.close().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn serve_reloads_the_key_file_on_sighup() {
    let dir = temp_dir();
    let db = dir.join("p.db");
    let url = format!("sqlite://{}", db.display());
    let file = dir.join("keys.toml");
    let keys: Vec<(Domain, String)> = Domain::ALL
        .into_iter()
        .map(|d| (d, generate_fernet_key()))
        .collect();
    let write = |notes_ring: &str| {
        let mut text = String::new();
        for (d, k) in &keys {
            let ring = if *d == Domain::CoachingNotes {
                notes_ring.to_owned()
            } else {
                k.clone()
            };
            text.push_str(&format!("{} = \"{ring}\"\n", d.as_str()));
        }
        std::fs::write(&file, text).expect("key file");
    };
    let notes = keys
        .iter()
        .find(|(d, _)| *d == Domain::CoachingNotes)
        .expect("notes")
        .1
        .clone();
    write(&notes);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pitchside"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PITCHSIDE_DATABASE_URL", &url)
        .env("PITCHSIDE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("PITCHSIDE_BIND", format!("127.0.0.1:{port}"))
        .env(
            "PITCHSIDE_JWT_SECRET",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )
        .env(keysource::KEYS_FILE, &file)
        .env(keysource::KEYS_RELOAD_SECS, "0")
        .env("PITCHSIDE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    // Up once it accepts connections.
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "serve did not start");
    let rotated = format!("{},{notes}", generate_fernet_key());
    write(&rotated);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(hup.success());
    let store = Store::connect(StoreOptions::new(url), Clock::system())
        .await
        .expect("store");
    let mut detail: Option<String> = None;
    for _ in 0..50 {
        detail =
            sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'keys.reloaded'")
                .fetch_optional(store.raw_pool_for_tests())
                .await
                .expect("audit");
        if detail.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let detail = detail.expect("a reload was recorded after SIGHUP");
    let loaded: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'keys.loaded'")
            .fetch_all(store.raw_pool_for_tests())
            .await
            .expect("audit");
    assert_eq!(loaded.len(), 1, "the start is recorded with its key ids");
    assert!(
        loaded[0].contains(
            vault::sealed::KeyRing::parse(Domain::CoachingNotes, &notes)
                .expect("ring")
                .primary_id()
                .expect("id")
        )
    );
    let new_primary = vault::sealed::KeyRing::parse(Domain::CoachingNotes, &rotated).expect("ring");
    let new_primary = new_primary.primary_id().expect("primary");
    assert!(detail.contains(new_primary), "{detail}");
    store.close().await;
    std::fs::remove_dir_all(&dir).ok();
}
