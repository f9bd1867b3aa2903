//! CSRF walk (SECURITY.md CSRF-01, CSRF-02): every state-changing route refuses a
//! cookie-authenticated request without a valid token, with another session's token,
//! from a cross-site origin, or flagged cross-site by Fetch Metadata. Bearer calls are
//! exempt; a correct same-origin request goes through.

use reqwest::Method;
use serde_json::json;
use testkit::{Browser, Fixture, TestApp, backends};

use crate::tenancy::all_routes;

/// What is wrong with a request: a label, the token it carries, extra headers.
type Case<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);

async fn attempt(
    app: &TestApp,
    method: &Method,
    path: &str,
    browser: &Browser,
    token: Option<&str>,
    extra: &[(&str, &str)],
) -> u16 {
    let mut req = app
        .http
        .request(method.clone(), app.url(path))
        .headers(browser.headers(false));
    if let Some(t) = token {
        req = req.header("x-csrf-token", t);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req = if path.starts_with("/api/") {
        req.json(&json!({}))
    } else {
        let body = token.map(|t| format!("csrf_token={t}")).unwrap_or_default();
        req.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    req.send().await.expect("request").status().as_u16()
}

#[tokio::test]
async fn every_unsafe_route_demands_a_valid_token_and_a_same_site_origin() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let browser = app.browser(&f.exec.email).await;
        let other = app.browser(&f.m1.email).await;
        let mut checked = 0;
        for (method, template) in all_routes() {
            if method == Method::GET {
                continue;
            }
            let path = template
                .replace("{id}", &f.r1.id)
                .replace("{owner_id}", &f.r2.id)
                .replace("{token}", "bogus");
            let cases: [Case; 4] = [
                ("no token", None, &[]),
                ("another session's token", Some(&other.csrf), &[]),
                (
                    "cross-site origin",
                    Some(&browser.csrf),
                    &[("origin", "https://evil.example")],
                ),
                (
                    "fetch metadata cross-site",
                    Some(&browser.csrf),
                    &[("sec-fetch-site", "cross-site")],
                ),
            ];
            for (what, token, extra) in cases {
                let status = attempt(&app, &method, &path, &browser, token, extra).await;
                assert_eq!(
                    status, 403,
                    "{method} {template} accepted a request with {what} ({backend:?})"
                );
            }
            checked += 1;
        }
        assert!(checked >= 19, "checked only {checked} unsafe routes");

        // Positive controls: the right token from the right origin passes; Bearer is exempt.
        let r = app
            .http
            .post(app.url("/api/v1/teams"))
            .headers(browser.headers(true))
            .json(&json!({"name": "Cookie Team"}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 201);
        let r = app
            .http
            .post(app.url("/api/v1/teams"))
            .bearer_auth(&f.exec.token)
            .header("cookie", &browser.cookie)
            .json(&json!({"name": "Bearer Team"}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 201);
        let r = app
            .http
            .post(app.url("/api/v1/teams"))
            .bearer_auth(&f.exec.token)
            .header("origin", "https://evil.example")
            .json(&json!({"name": "Evil Team"}))
            .send()
            .await
            .expect("post");
        assert_eq!(
            r.status(),
            403,
            "a cross-site Origin is refused even with a Bearer token"
        );
    }
}

#[tokio::test]
async fn login_forms_need_the_pre_session_token() {
    let app = TestApp::spawn(testkit::Backend::Sqlite).await;
    app.signup("Acme", "Ada", "ada@example.com").await;
    let r = app
        .http
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &app.base)
        .body(format!(
            "email=ada%40example.com&password={}",
            testkit::PASSWORD
        ))
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        403,
        "a login form without the pre-session token is refused"
    );
}
