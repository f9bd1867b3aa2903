//! Bad input gets a clear problem, never a 500: malformed JSON, wrong types, oversized
//! bodies, unknown routes, hostile strings. Plus a property test that throws random
//! bodies at the auth and member endpoints through the real router.

use serde_json::{Value, json};
use testkit::{TestApp, backends};

#[tokio::test]
async fn malformed_json_wrong_types_and_huge_bodies_get_problems() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let ada = app.signup("Acme", "Ada", "ada@example.com").await;
        let post_raw = |path: &'static str, body: Vec<u8>, ct: &'static str| {
            let app = &app;
            let token = ada.access_token.clone();
            async move {
                let r = app
                    .http
                    .post(app.url(path))
                    .bearer_auth(token)
                    .header("content-type", ct)
                    .body(body)
                    .send()
                    .await
                    .expect("post");
                let status = r.status().as_u16();
                let ct = r
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_owned());
                (status, ct, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, ct, body) =
            post_raw("/api/v1/teams", b"{\"name\":".to_vec(), "application/json").await;
        assert_eq!(status, 400);
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        assert_eq!(body["status"], 400);
        let (status, _, body) = post_raw(
            "/api/v1/teams",
            br#"{"name": 42}"#.to_vec(),
            "application/json",
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["errors"][0]["field"], "name", "{body}");
        let (status, _, body) = post_raw(
            "/api/v1/auth/login",
            br#"{"email": "a@b.co"}"#.to_vec(),
            "application/json",
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["errors"][0]["field"], "password", "{body}");
        let (status, _, _) =
            post_raw("/api/v1/teams", br#"{"name":"x"}"#.to_vec(), "text/plain").await;
        assert_eq!(status, 415);
        let huge = format!("{{\"name\":\"{}\"}}", "a".repeat(1024 * 1024 + 10));
        let (status, _, _) = post_raw("/api/v1/teams", huge.into_bytes(), "application/json").await;
        assert_eq!(status, 413);
        let r = app.get(&ada.access_token, "/api/v1/users?limit=999").await;
        assert_eq!(r.status(), 422);
        let r = app.get(&ada.access_token, "/api/v1/users?limit=abc").await;
        assert_eq!(r.status(), 422);
        let r = app.get(&ada.access_token, "/api/v1/users?cursor=zz").await;
        assert_eq!(r.status(), 422);
        let r = app.get(&ada.access_token, "/api/v1/nope").await;
        assert_eq!(r.status(), 404);
        assert_eq!(
            app.http
                .get(app.url("/no/such/page"))
                .send()
                .await
                .expect("get")
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn sql_metacharacters_are_plain_data() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let ada = app
            .signup(
                "Acme'; DROP TABLE users; --",
                "Robert'); DROP TABLE teams;--",
                "bobby@example.com",
            )
            .await;
        let r = app
            .post_json(
                &ada.access_token,
                "/api/v1/teams",
                json!({"name": "x' OR '1'='1"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let me: Value = app
            .get(&ada.access_token, "/api/v1/me")
            .await
            .json()
            .await
            .expect("me");
        assert_eq!(me["name"], "Robert'); DROP TABLE teams;--");
        assert_eq!(me["organization"]["name"], "Acme'; DROP TABLE users; --");
        let teams: Value = app
            .get(&ada.access_token, "/api/v1/teams")
            .await
            .json()
            .await
            .expect("teams");
        assert_eq!(teams["items"][0]["name"], "x' OR '1'='1");
        assert_eq!(
            app.login_raw("' OR 1=1 --", "' OR 1=1 --").await.status(),
            401
        );
    }
}

mod property {
    //! Random bodies through the real router (no network): nothing may answer 500.
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use proptest::prelude::*;
    use tower::ServiceExt;

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            ".{0,80}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("email".to_owned()),
                        Just("password".to_owned()),
                        Just("name".to_owned()),
                        Just("organization_name".to_owned()),
                        Just("confirm_over_18".to_owned()),
                        Just("seat".to_owned()),
                        Just("team_id".to_owned()),
                        Just("manager_id".to_owned()),
                        Just("refresh_token".to_owned()),
                        ".{0,12}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
            prop::collection::vec(any::<u8>(), 0..200),
        ]
    }

    const ROUTES: &[(&str, &str)] = &[
        ("POST", "/api/v1/auth/signup"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/teams"),
        ("PATCH", "/api/v1/users/{me}"),
        ("POST", "/api/v1/invitations"),
        ("POST", "/api/v1/me/password"),
        ("POST", "/api/v1/invitations/x/accept"),
    ];

    #[test]
    fn no_body_makes_the_auth_or_member_endpoints_fail_with_500() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let app = rt.block_on(testkit::TestApp::spawn(testkit::Backend::Sqlite));
        let ada = rt.block_on(app.signup("Acme", "Ada", "ada@example.com"));
        let router = web::router(app.state.clone());
        let config = ProptestConfig {
            cases: 64,
            ..ProptestConfig::default()
        };
        proptest!(config, |(route in 0..ROUTES.len(), body in body_bytes(), json_ct in any::<bool>(), auth in any::<bool>())| {
            let (method, path) = ROUTES[route];
            let path = path.replace("{me}", &ada.user_id);
            let mut req = Request::builder().method(method).uri(&path);
            if json_ct {
                req = req.header("content-type", "application/json");
            }
            if auth {
                req = req.header("authorization", format!("Bearer {}", ada.access_token));
            }
            let req = req.body(Body::from(body)).expect("request");
            let status = rt.block_on(router.clone().oneshot(req)).expect("infallible").status();
            prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{} {} answered 500", method, path);
        });
    }
}
