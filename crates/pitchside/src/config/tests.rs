//! Configuration parsing: precedence, validation, redaction.
use super::*;

const KEY: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldCE="; // 35 bytes

fn env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml_and_env(None, pairs.iter().copied())
}

fn serve_env() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            DATABASE_URL,
            "postgres://app:hunter2hunter2@db.internal:5432/pitchside",
        ),
        (PUBLIC_URL, "https://pitchside.example.com/"),
        (JWT_SECRET, KEY),
    ]
}

#[test]
fn defaults_apply_with_no_input() {
    let c = env(&[]).expect("defaults are valid");
    assert_eq!(c, Config::default());
    assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.server.auth_rate_per_minute, 20);
    assert_eq!(c.server.api_rate_per_second, 100);
    assert_eq!(c.database.role.as_deref(), Some("pitchside_app"));
    assert_eq!(c.log.filter, "info,sqlx=warn");
    assert_eq!(c.log.format, LogFormat::Pretty);
}

#[test]
fn the_printed_default_config_is_the_default() {
    let c = Config::from_toml_and_env(
        Some(DEFAULT_CONFIG_TOML),
        std::iter::empty::<(String, String)>(),
    )
    .expect("default config parses");
    assert_eq!(c.file.as_deref(), Some(Path::new(DEFAULT_CONFIG_FILE)));
    assert_eq!(Config { file: None, ..c }, Config::default());
}

#[test]
fn serve_without_a_jwt_secret_refuses_naming_the_variable() {
    let mut vars = serve_env();
    vars.retain(|(k, _)| *k != JWT_SECRET);
    let c = env(&vars).expect("loading does not require the secret");
    let err = c.for_serve().expect_err("serve requires the secret");
    assert!(err.mentions(JWT_SECRET), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("PITCHSIDE_JWT_SECRET"), "{msg}");
    assert!(msg.contains("openssl rand -base64 32"), "{msg}");
}

#[test]
fn serve_lists_every_missing_requirement() {
    let err = env(&[])
        .expect("loads")
        .for_serve()
        .expect_err("nothing set");
    for var in [DATABASE_URL, PUBLIC_URL, JWT_SECRET] {
        assert!(err.mentions(var), "{err}");
        assert!(err.to_string().contains(var), "{err}");
    }
}

#[test]
fn serve_settings_are_production_settings() {
    let s = env(&serve_env())
        .expect("loads")
        .for_serve()
        .expect("complete");
    assert_eq!(s.web.cookie_mode, CookieMode::Secure);
    assert_eq!(s.web.public_url, "https://pitchside.example.com");
    assert_eq!(s.store.pg_role.as_deref(), Some("pitchside_app"));
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains(KEY), "{debug}");
}

#[test]
fn a_bad_jwt_secret_is_named_but_never_echoed() {
    let short = "dG9vLXNob3J0"; // "too-short"
    let err = env(&[(JWT_SECRET, short)]).expect_err("too short");
    assert!(err.mentions(JWT_SECRET));
    let msg = err.to_string();
    assert!(msg.contains("PITCHSIDE_JWT_SECRET") && msg.contains("openssl rand -base64 32"));
    assert!(!msg.contains(short), "{msg}");
}

#[test]
fn a_bad_rate_names_the_variable() {
    let err = env(&[(AUTH_RATE_PER_MINUTE, "twenty")]).expect_err("not a number");
    assert!(err.mentions(AUTH_RATE_PER_MINUTE));
    assert!(
        err.to_string().contains("PITCHSIDE_AUTH_RATE_PER_MINUTE"),
        "{err}"
    );
    let err = env(&[(API_RATE_PER_SECOND, "-5")]).expect_err("negative");
    assert!(
        err.to_string().contains("PITCHSIDE_API_RATE_PER_SECOND"),
        "{err}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = env(&[
        (BIND, "localhost"),
        (LOG_FORMAT, "xml"),
        (DATABASE_URL, "mysql://x"),
        (TRUSTED_PROXIES, "10.0.0.0/8"),
    ])
    .expect_err("four problems");
    assert_eq!(err.problems().len(), 4, "{err}");
    for var in [BIND, LOG_FORMAT, DATABASE_URL, TRUSTED_PROXIES] {
        assert!(err.to_string().contains(var), "{err}");
    }
}

#[test]
fn toml_overrides_defaults_and_env_overrides_toml() {
    let toml = r#"
        [server]
        bind = "0.0.0.0:9000"
        auth_rate_per_minute = 5
        trusted_proxies = ["10.0.0.1", "10.0.0.2"]
        [log]
        format = "json"
    "#;
    let c = Config::from_toml_and_env(Some(toml), [(AUTH_RATE_PER_MINUTE, "7"), ("HOME", "/root")])
        .expect("valid");
    assert_eq!(c.server.bind.to_string(), "0.0.0.0:9000", "from the file");
    assert_eq!(c.server.auth_rate_per_minute, 7, "env wins over the file");
    assert_eq!(c.server.api_rate_per_second, 100, "default stays");
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.server.trusted_proxies.len(), 2);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn a_bad_value_in_the_file_names_the_key_and_the_variable() {
    let err = Config::from_toml_and_env(
        Some("[server]\napi_rate_per_second = \"fast\"\n"),
        std::iter::empty::<(String, String)>(),
    )
    .expect_err("bad value");
    let msg = err.to_string();
    assert!(msg.contains("PITCHSIDE_API_RATE_PER_SECOND"), "{msg}");
    assert!(msg.contains("server.api_rate_per_second"), "{msg}");
}

#[test]
fn unknown_keys_and_secrets_in_the_file_are_refused() {
    let err = Config::from_toml_and_env(
        Some("[server]\nbnd = \"0.0.0.0:1\"\n[secrets]\njwt_secret = \"x\"\n"),
        std::iter::empty::<(String, String)>(),
    )
    .expect_err("typo and secret");
    let msg = err.to_string();
    assert!(msg.contains("server.bnd"), "{msg}");
    assert!(msg.contains("secrets are not read from the file"), "{msg}");
    let err = Config::from_toml_and_env(Some("bind = "), std::iter::empty::<(String, String)>())
        .expect_err("bad toml");
    assert!(err.mentions(CONFIG_ENV));
}

#[test]
fn from_env_map_reads_the_file_named_by_pitchside_config() {
    let dir = std::env::temp_dir().join(format!("pitchside-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("custom.toml");
    std::fs::write(
        &path,
        "[database]\nurl = \"sqlite://from-file.db\"\nmax_connections = 4\n",
    )
    .expect("write");
    let secret_path = dir.join("jwt");
    std::fs::write(&secret_path, format!("{KEY}\n")).expect("write");
    let c = Config::from_env_map([
        (CONFIG_ENV.to_owned(), path.display().to_string()),
        (
            JWT_SECRET_FILE.to_owned(),
            secret_path.display().to_string(),
        ),
        (DATABASE_MAX_CONNECTIONS.to_owned(), "8".to_owned()),
    ])
    .expect("valid");
    assert_eq!(c.file.as_deref(), Some(path.as_path()));
    assert_eq!(
        c.database_url().expect("set").expose(),
        "sqlite://from-file.db"
    );
    assert_eq!(c.database.max_connections, 8);
    assert_eq!(c.secrets.jwt_secret.as_ref().map(Secret::expose), Some(KEY));
    assert!(c.signing_key().is_ok());

    let both = Config::from_env_map([
        (JWT_SECRET_FILE, secret_path.display().to_string()),
        (JWT_SECRET, KEY.to_owned()),
    ])
    .expect_err("ambiguous");
    assert!(both.mentions(JWT_SECRET), "{both}");

    let missing = Config::from_env_map([(CONFIG_ENV, dir.join("nope.toml").display().to_string())])
        .expect_err("missing file");
    assert!(missing.to_string().contains(CONFIG_ENV), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn database_role_can_be_disabled_and_is_checked() {
    let c = env(&[(DATABASE_ROLE, "")]).expect("empty disables");
    assert_eq!(c.database.role, None);
    let c = env(&[(DATABASE_ROLE, "app_rw")]).expect("plain name");
    assert_eq!(c.database.role.as_deref(), Some("app_rw"));
    let err = env(&[(DATABASE_ROLE, "x\"; DROP TABLE users; --")]).expect_err("not an identifier");
    assert!(err.mentions(DATABASE_ROLE));
}

#[test]
fn public_urls_are_normalised_and_checked() {
    let c = env(&[(PUBLIC_URL, "https://coach.example.com:8443/")]).expect("valid");
    assert_eq!(
        c.server.public_url.as_deref(),
        Some("https://coach.example.com:8443")
    );
    for bad in ["coach.example.com", "ftp://x", "https://x/app", "https://"] {
        let err = env(&[(PUBLIC_URL, bad)]).expect_err(bad);
        assert!(err.mentions(PUBLIC_URL), "{bad}: {err}");
    }
    let c = env(&[(PUBLIC_URL, "http://coach.example.com")]).expect("allowed");
    assert_eq!(c.warnings.len(), 1, "plain http off localhost warns");
}

#[test]
fn secrets_never_show_in_debug() {
    let c = env(&[
        (
            DATABASE_URL,
            "postgres://app:hunter2hunter2@db/p?sslpassword=zzz",
        ),
        (JWT_SECRET, KEY),
        (METRICS_TOKEN, "metrics-token-value"),
    ])
    .expect("valid");
    let debug = format!("{c:?}");
    for secret in ["hunter2", KEY, "metrics-token-value", "zzz"] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("postgres://app:<redacted>@db/p"), "{debug}");
}

#[test]
fn unknown_variables_warn_but_test_and_key_ring_variables_do_not() {
    let c = env(&[
        ("PITCHSIDE_JWT_SECRT", "x"),
        ("PITCHSIDE_TEST_POSTGRES_URL", "y"),
        ("PITCHSIDE_KEYS_COACHING_NOTES", "z"),
    ])
    .expect("valid");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("PITCHSIDE_JWT_SECRT"));
}

#[test]
fn log_filter_and_connections_are_checked() {
    assert!(env(&[(LOG, "debug,pitchside_web=trace")]).is_ok());
    assert!(
        env(&[(LOG, "info,[{")])
            .expect_err("bad filter")
            .mentions(LOG)
    );
    assert!(
        env(&[(DATABASE_MAX_CONNECTIONS, "0")])
            .expect_err("zero")
            .mentions(DATABASE_MAX_CONNECTIONS)
    );
}

#[test]
fn tls_needs_both_files_and_the_redirect_listener_needs_tls() {
    let mut vars = serve_env();
    vars.push((TLS_CERT, "/etc/pitchside/fullchain.pem"));
    vars.push((TLS_KEY, "/etc/pitchside/privkey.pem"));
    vars.push((HTTP_REDIRECT_BIND, "0.0.0.0:80"));
    let c = env(&vars).expect("valid");
    let s = c.for_serve().expect("serve settings");
    assert_eq!(
        s.tls,
        Some(TlsFiles {
            cert: "/etc/pitchside/fullchain.pem".into(),
            key: "/etc/pitchside/privkey.pem".into(),
        })
    );
    assert_eq!(
        s.http_redirect_bind,
        Some("0.0.0.0:80".parse().expect("addr"))
    );

    let err = env(&[(TLS_CERT, "/etc/pitchside/fullchain.pem")]).expect_err("key missing");
    assert!(err.mentions(TLS_KEY), "{err}");
    let err = env(&[(HTTP_REDIRECT_BIND, "0.0.0.0:80")]).expect_err("no tls");
    assert!(err.mentions(HTTP_REDIRECT_BIND), "{err}");
    assert!(err.to_string().contains("PITCHSIDE_TLS_CERT"), "{err}");
}

#[test]
fn crm_settings_default_to_the_public_endpoints_and_two_workers() {
    let c = env(&[]).expect("defaults");
    assert_eq!(c.crm, CrmConfig::default());
    assert_eq!(
        (c.crm.sync_interval_minutes, c.crm.quota_share_percent),
        (15, 50)
    );
    assert_eq!((c.crm.sync_workers, c.crm.rate_limit), (2, true));
    let web = c.crm.web_settings("https://p.example");
    for p in domain::crm::Provider::ALL {
        assert_eq!(web.endpoints(p), connectors::Endpoints::default_for(p));
    }
    assert!(web.oauth_apps.is_empty() && web.api_url_overridden.is_empty());
}

#[test]
fn crm_endpoints_oauth_apps_and_sync_settings_come_from_the_environment() {
    use domain::crm::Provider;
    let c = env(&[
        ("PITCHSIDE_HUBSPOT_API_URL", "http://127.0.0.1:9000/"),
        (
            "PITCHSIDE_HUBSPOT_TOKEN_URL",
            "http://127.0.0.1:9000/oauth/v1/token",
        ),
        ("PITCHSIDE_HUBSPOT_CLIENT_ID", "client-123"),
        (
            "PITCHSIDE_HUBSPOT_CLIENT_SECRET",
            "hubspot-client-secret-value",
        ),
        (crm::SYNC_WORKERS, "0"),
        (crm::SYNC_RATE_LIMIT, "off"),
        (crm::SYNC_INTERVAL_MINUTES, "30"),
        (crm::SYNC_QUOTA_SHARE_PERCENT, "25"),
        (crm::PIPEDRIVE_DAILY_TOKENS, "30000"),
    ])
    .expect("valid");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.crm.sync_workers, 0);
    assert!(!c.crm.rate_limit);
    let web = c.crm.web_settings("https://p.example");
    let hubspot = web.endpoints(Provider::Hubspot);
    assert_eq!(hubspot.api, "http://127.0.0.1:9000");
    assert_eq!(hubspot.token, "http://127.0.0.1:9000/oauth/v1/token");
    assert_eq!(
        hubspot.auth,
        connectors::Endpoints::default_for(Provider::Hubspot).auth
    );
    assert!(web.api_url_overridden.contains(&Provider::Hubspot));
    let app = web.oauth_app(Provider::Hubspot).expect("app");
    assert_eq!(
        app.redirect_uri,
        "https://p.example/integrations/hubspot/callback"
    );
    assert!(web.oauth_app(Provider::Salesforce).is_none());
    assert_eq!(
        (web.sync_interval_minutes, web.quota_share_percent),
        (30, 25)
    );
    assert_eq!(web.daily_budgets.get(&Provider::Pipedrive), Some(&30000));
    let sync = c.crm.sync_config("https://p.example");
    assert!(!sync.http.rate_limit);
    assert_eq!(
        sync.endpoints(Provider::Hubspot).api,
        "http://127.0.0.1:9000"
    );
    for shown in [format!("{c:?}"), format!("{web:?}"), format!("{sync:?}")] {
        assert!(!shown.contains("hubspot-client-secret-value"), "{shown}");
    }
}

#[test]
fn bad_crm_settings_name_their_variables() {
    let err = env(&[
        ("PITCHSIDE_PIPEDRIVE_CLIENT_ID", "only-the-id"),
        ("PITCHSIDE_SALESFORCE_AUTH_URL", "login.salesforce.com"),
        (crm::SYNC_WORKERS, "65"),
        (crm::SYNC_RATE_LIMIT, "sometimes"),
        (crm::SYNC_QUOTA_SHARE_PERCENT, "0"),
    ])
    .expect_err("invalid");
    for var in [
        "PITCHSIDE_PIPEDRIVE_CLIENT_SECRET",
        "PITCHSIDE_SALESFORCE_AUTH_URL",
        crm::SYNC_WORKERS,
        crm::SYNC_RATE_LIMIT,
        crm::SYNC_QUOTA_SHARE_PERCENT,
    ] {
        assert!(err.mentions(var), "{var}: {err}");
    }
    // Client secrets are never read from the file; switches take TOML booleans.
    let err = Config::from_toml_and_env(
        Some("[crm]\nhubspot_client_secret = \"x\"\n"),
        std::iter::empty::<(String, String)>(),
    )
    .expect_err("refused");
    assert!(
        err.to_string().contains("crm.hubspot_client_secret"),
        "{err}"
    );
    let c = Config::from_toml_and_env(
        Some("[sync]\nrate_limit = false\nworkers = 4\n"),
        std::iter::empty::<(String, String)>(),
    )
    .expect("valid");
    assert_eq!((c.crm.rate_limit, c.crm.sync_workers), (false, 4));
}
