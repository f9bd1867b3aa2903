//! Health, readiness, metrics, security headers and the OpenAPI document.

use serde_json::Value;
use testkit::{TestApp, backends};

#[tokio::test]
async fn health_readiness_and_metrics() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let get = |p: &str| app.http.get(app.url(p)).send();
        assert_eq!(get("/healthz").await.expect("h").status(), 200);
        assert_eq!(get("/readyz").await.expect("r").status(), 200);
        let ada = app.signup("Acme", "Ada", "ada@example.com").await;
        app.get(&ada.access_token, "/api/v1/users?limit=5").await;
        let r = get("/metrics").await.expect("m");
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .expect("ct")
                .starts_with("text/plain")
        );
        let text = r.text().await.expect("text");
        assert!(text.contains(r#"pitchside_http_requests_total{route="/api/v1/users",method="GET",status="200"} 1"#), "{text}");
        assert!(text.contains(r#"pitchside_http_request_duration_seconds_bucket{route="/api/v1/users",method="GET",le="+Inf"} 1"#));
        // PostgreSQL exports its batched session checks: at least the list's.
        let checks = text
            .lines()
            .find_map(|l| l.strip_prefix("pitchside_session_checks_total "))
            .map(|n| n.parse::<u64>().expect("a count"));
        match backend {
            testkit::Backend::Postgres => assert!(checks.is_some_and(|n| n >= 1), "{text}"),
            testkit::Backend::Sqlite => assert_eq!(checks, None),
        }
        // Closing the database makes the instance not ready, but still alive.
        app.store().close().await;
        assert_eq!(get("/readyz").await.expect("r").status(), 503);
        assert_eq!(get("/healthz").await.expect("h").status(), 200);
    }
}

#[tokio::test]
async fn the_metrics_token_protects_metrics_when_set() {
    let app = TestApp::spawn_with(testkit::Backend::Sqlite, |c| {
        c.metrics_token = Some("scrape-secret".into())
    })
    .await;
    assert_eq!(
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("m")
            .status(),
        401
    );
    let r = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .expect("m");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_route_sends_the_security_headers_and_a_request_id() {
    let app = TestApp::spawn(testkit::Backend::Sqlite).await;
    let ada = app.signup("Acme", "Ada", "ada@example.com").await;
    let mut paths: Vec<String> = crate::tenancy::all_routes()
        .into_iter()
        .filter(|(m, _)| m == reqwest::Method::GET)
        .map(|(_, p)| {
            p.replace("{id}", &ada.user_id)
                .replace("{owner_id}", &ada.user_id)
                .replace("{provider}", "hubspot")
                .replace("{token}", "bogus")
        })
        .collect();
    paths.extend(["/healthz", "/readyz", "/metrics", "/nowhere"].map(String::from));
    for path in paths {
        let r = app
            .http
            .get(app.url(&path))
            .bearer_auth(&ada.access_token)
            .send()
            .await
            .expect("get");
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        assert_eq!(
            h.get("referrer-policy").map(|v| v.as_bytes()),
            Some(&b"strict-origin-when-cross-origin"[..])
        );
        assert!(h.get("permissions-policy").is_some(), "{path}");
        assert!(h.get("server").is_none(), "{path}");
        assert!(
            h.get("x-request-id").is_some_and(|v| !v.is_empty()),
            "{path}"
        );
    }
    // Authenticated API responses are never cached.
    let r = app.get(&ada.access_token, "/api/v1/me").await;
    assert_eq!(r.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn the_openapi_document_describes_the_served_api() {
    let app = TestApp::spawn(testkit::Backend::Sqlite).await;
    let r = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("doc");
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.expect("json");
    assert!(
        doc["openapi"].as_str().expect("version").starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let required = [
        ("post", "/api/v1/auth/signup"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/logout"),
        ("get", "/api/v1/me"),
        ("get", "/api/v1/users"),
        ("get", "/api/v1/users/{id}"),
        ("patch", "/api/v1/users/{id}"),
        ("get", "/api/v1/teams"),
        ("post", "/api/v1/teams"),
        ("get", "/api/v1/teams/{id}"),
        ("patch", "/api/v1/teams/{id}"),
        ("post", "/api/v1/invitations"),
        ("post", "/api/v1/invitations/{token}/accept"),
        ("get", "/api/v1/integrations"),
        ("post", "/api/v1/integrations"),
        ("get", "/api/v1/integrations/{id}"),
        ("delete", "/api/v1/integrations/{id}"),
        ("post", "/api/v1/integrations/{id}/sync"),
        ("get", "/api/v1/integrations/{id}/owners"),
        ("put", "/api/v1/integrations/{id}/owners/{owner_id}"),
        ("get", "/api/v1/deals"),
        ("get", "/api/v1/deals/{id}"),
        ("get", "/api/v1/contacts"),
        ("get", "/api/v1/companies"),
        ("get", "/api/v1/activities"),
    ];
    for (method, path) in required {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the document"
        );
    }
    // Every documented operation is routed: an unauthenticated call reaches the handler
    // (401 or a validation answer), never the fallback's 405/404 for a missing route.
    for (method, template) in crate::tenancy::all_routes() {
        if !template.starts_with("/api/") {
            continue;
        }
        let path = template
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{owner_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{token}", "x");
        let r = app
            .http
            .request(method.clone(), app.url(&path))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("call");
        assert_ne!(
            r.status(),
            405,
            "{method} {template} is documented but not routed"
        );
    }
    // And the document matches what the crate exports.
    assert_eq!(paths.len(), web::api::openapi().paths.paths.len());
}
