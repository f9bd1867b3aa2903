//! Signup, login, tokens, sessions, lockout and revocation.

use serde_json::{Value, json};
use testkit::{PASSWORD, TestApp, backends};

#[tokio::test]
async fn signup_returns_user_organization_and_a_working_token() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let r = app
            .http
            .post(app.url("/api/v1/auth/signup"))
            .json(
                &json!({"organization_name": "Acme <b>Sales</b>", "name": "Ada Lovelace",
                "email": "Ada@Example.com", "password": PASSWORD, "confirm_over_18": true}),
            )
            .send()
            .await
            .expect("signup");
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["user"]["email"], "ada@example.com");
        assert_eq!(body["user"]["seat"], "executive");
        assert_eq!(body["user"]["is_admin"], true);
        assert_eq!(body["organization"]["name"], "Acme <b>Sales</b>");
        let token = body["access_token"].as_str().expect("token");
        let me: Value = app.get(token, "/api/v1/me").await.json().await.expect("me");
        for key in ["id", "name", "email", "seat", "organization_id", "team_id"] {
            assert!(me.get(key).is_some(), "me lacks {key}: {me}");
        }
        assert_eq!(me["organization_id"], body["organization"]["id"]);
        assert_eq!(me["seat"], "executive");
    }
}

#[tokio::test]
async fn signup_enforces_the_password_policy_and_age() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let attempt = |password: String, over_18: bool| {
            let app = &app;
            async move {
                let r = app
                    .http
                    .post(app.url("/api/v1/auth/signup"))
                    .json(&json!({"organization_name": "Acme", "name": "Ada", "email": "ada.lovelace@example.com",
                        "password": password, "confirm_over_18": over_18}))
                    .send()
                    .await
                    .expect("signup");
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (status, body)
            }
        };
        for bad in ["short-pw", "qwerty123456", "ada.lovelace@example.com"] {
            let (status, body) = attempt(bad.to_owned(), true).await;
            assert_eq!(status, 422, "{bad}");
            assert_eq!(body["errors"][0]["field"], "password", "{bad}: {body}");
        }
        let (status, body) = attempt("x".repeat(73), true).await;
        assert_eq!(status, 422);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .expect("msg")
                .contains("72 bytes"),
            "{body}"
        );
        let (status, body) = attempt(PASSWORD.to_owned(), false).await;
        assert_eq!(status, 422);
        assert_eq!(body["errors"][0]["field"], "confirm_over_18");
        let (status, _) = attempt("z".repeat(64), true).await;
        assert_eq!(status, 201, "a 64-character password is accepted");
        let (status, body) = attempt(PASSWORD.to_owned(), true).await;
        assert_eq!(status, 409, "the email is taken now");
        assert_eq!(body["code"], "email_taken");
    }
}

#[tokio::test]
async fn passwords_are_stored_as_bcrypt_cost_12() {
    // One backend is enough: the hash is computed in the application.
    let app = TestApp::spawn_production_cost(testkit::Backend::Sqlite).await;
    let account = app.signup("Acme", "Ada", "ada@example.com").await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(account.user_id)
        .fetch_one(app.store().raw_pool_for_tests())
        .await
        .expect("hash");
    assert!(hash.starts_with("$2b$12$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn login_returns_tokens_and_a_hardened_cookie() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.signup("Acme", "Ada", "ada@example.com").await;
        let r = app.login_raw("ADA@example.com ", PASSWORD).await;
        assert_eq!(r.status(), 200);
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("cookie")
            .to_owned();
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie} lacks {attr}");
        }
        assert!(!cookie.contains("Domain="), "{cookie}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert!(
            body["access_token"]
                .as_str()
                .is_some_and(|t| t.split('.').count() == 3)
        );
    }
}

#[tokio::test]
async fn production_cookies_use_the_host_prefix_and_secure() {
    let app = TestApp::spawn_with(testkit::Backend::Sqlite, |c| {
        c.cookie_mode = web::CookieMode::Secure
    })
    .await;
    app.signup("Acme", "Ada", "ada@example.com").await;
    let r = app.login_raw("ada@example.com", PASSWORD).await;
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie");
    assert!(cookie.starts_with("__Host-pitchside_session="), "{cookie}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.contains("Domain="));
}

#[tokio::test]
async fn bad_credentials_are_indistinguishable_from_unknown_emails() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.signup("Acme", "Ada", "ada@example.com").await;
        let wrong = app
            .login_raw("ada@example.com", "not-the-password-at-all")
            .await;
        let unknown = app
            .login_raw("nobody@example.com", "not-the-password-at-all")
            .await;
        assert_eq!(wrong.status(), 401);
        assert_eq!(unknown.status(), 401);
        assert_eq!(
            wrong.headers().get("content-type").expect("ct"),
            "application/problem+json"
        );
        let (a, b) = (
            wrong.bytes().await.expect("a"),
            unknown.bytes().await.expect("b"),
        );
        assert_eq!(a, b, "same body for wrong password and unknown email");
    }
}

#[tokio::test]
async fn five_failures_lock_the_email_for_fifteen_minutes_across_instances() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        app.signup("Acme", "Ada", "ada@example.com").await;
        for email in ["ada@example.com", "ghost@example.com"] {
            for attempt in 1..=5 {
                let r = app.login_raw(email, "wrong-password-here").await;
                assert_eq!(r.status(), 401, "{email} attempt {attempt}");
            }
            let r = app.login_raw(email, PASSWORD).await;
            assert_eq!(
                r.status(),
                429,
                "{email}: locked even with the right password"
            );
            let retry: u64 = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After");
            assert!((850..=900).contains(&retry), "retry after {retry}");
        }
        // Another instance on the same database sees the lock.
        let other = app.another_instance().await;
        assert_eq!(
            other.login_raw("ada@example.com", PASSWORD).await.status(),
            429
        );
        // After fifteen minutes the lock is gone and the right password works.
        app.store().clock().advance(15 * 60 + 1);
        assert_eq!(
            app.login_raw("ada@example.com", PASSWORD).await.status(),
            200
        );
    }
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let app = TestApp::spawn(testkit::Backend::Sqlite).await;
    app.signup("Acme", "Ada", "ada@example.com").await;
    for _ in 0..4 {
        assert_eq!(
            app.login_raw("ada@example.com", "wrong-password-here")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        app.login_raw("ada@example.com", PASSWORD).await.status(),
        200
    );
    for _ in 0..4 {
        assert_eq!(
            app.login_raw("ada@example.com", "wrong-password-here")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        app.login_raw("ada@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn a_longer_password_sharing_the_first_72_bytes_does_not_log_in() {
    let app = TestApp::spawn(testkit::Backend::Sqlite).await;
    let password72 = format!("{}{}", PASSWORD, "k".repeat(72 - PASSWORD.len()));
    let r = app
        .http
        .post(app.url("/api/v1/auth/signup"))
        .json(
            &json!({"organization_name": "Acme", "name": "Ada", "email": "ada@example.com",
            "password": password72, "confirm_over_18": true}),
        )
        .send()
        .await
        .expect("signup");
    assert_eq!(r.status(), 201);
    assert_eq!(
        app.login_raw("ada@example.com", &password72).await.status(),
        200
    );
    let longer = format!("{password72}extra-bytes");
    assert_eq!(
        app.login_raw("ada@example.com", &longer).await.status(),
        401
    );
}

#[tokio::test]
async fn logout_revokes_the_token_on_every_instance() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let ada = app.signup("Acme", "Ada", "ada@example.com").await;
        let other = app.another_instance().await;
        assert_eq!(
            other.get(&ada.access_token, "/api/v1/me").await.status(),
            200
        );
        let r = app
            .post_json(&ada.access_token, "/api/v1/auth/logout", json!({}))
            .await;
        assert_eq!(r.status(), 204);
        assert_eq!(app.get(&ada.access_token, "/api/v1/me").await.status(), 401);
        assert_eq!(
            other.get(&ada.access_token, "/api/v1/me").await.status(),
            401
        );
        let r = app
            .http
            .post(app.url("/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": ada.refresh_token}))
            .send()
            .await
            .expect("refresh");
        assert_eq!(r.status(), 401, "the refresh token died with the session");
    }
}

#[tokio::test]
async fn password_change_revokes_every_session() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let first = app.signup("Acme", "Ada", "ada@example.com").await;
        let second = app.login("ada@example.com", PASSWORD).await;
        let r = app
            .post_json(&second.access_token, "/api/v1/me/password",
                json!({"current_password": "wrong-current-pass", "new_password": "a-brand-new-passphrase"}))
            .await;
        assert_eq!(r.status(), 422);
        let r = app
            .post_json(
                &second.access_token,
                "/api/v1/me/password",
                json!({"current_password": PASSWORD, "new_password": "a-brand-new-passphrase"}),
            )
            .await;
        assert_eq!(r.status(), 204);
        assert_eq!(
            app.get(&first.access_token, "/api/v1/me").await.status(),
            401
        );
        assert_eq!(
            app.get(&second.access_token, "/api/v1/me").await.status(),
            401
        );
        assert_eq!(
            app.login_raw("ada@example.com", PASSWORD).await.status(),
            401
        );
        assert_eq!(
            app.login_raw("ada@example.com", "a-brand-new-passphrase")
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn operator_revocation_and_seat_changes_end_sessions() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = testkit::Fixture::seed(&app, "acme").await;
        // Operator: revoke all sessions of r1.
        let user = app
            .store()
            .admin_find_user(&domain::Email::parse(&f.r1.email).expect("email"))
            .await
            .expect("find");
        assert_eq!(app.get(&f.r1.token, "/api/v1/me").await.status(), 200);
        assert!(
            app.store()
                .admin_revoke_sessions(&user)
                .await
                .expect("revoke")
                >= 1
        );
        assert_eq!(app.get(&f.r1.token, "/api/v1/me").await.status(), 401);
        // A manager demoted to rep loses the old token at once.
        assert_eq!(app.get(&f.m3.token, "/api/v1/users").await.status(), 200);
        let r = app
            .patch_json(
                &f.exec.token,
                &format!("/api/v1/users/{}", f.m3.id),
                json!({"seat": "rep"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(app.get(&f.m3.token, "/api/v1/users").await.status(), 401);
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_kills_the_session() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let ada = app.signup("Acme", "Ada", "ada@example.com").await;
        let refresh = |token: String| {
            let app = &app;
            async move {
                app.http
                    .post(app.url("/api/v1/auth/refresh"))
                    .json(&json!({"refresh_token": token}))
                    .send()
                    .await
                    .expect("refresh")
            }
        };
        // A refresh token is not an access token, and vice versa.
        assert_eq!(
            app.get(&ada.refresh_token, "/api/v1/me").await.status(),
            401
        );
        assert_eq!(refresh(ada.access_token.clone()).await.status(), 401);
        let r = refresh(ada.refresh_token.clone()).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        let new_access = body["access_token"].as_str().expect("access").to_owned();
        assert_eq!(app.get(&new_access, "/api/v1/me").await.status(), 200);
        // Replaying the rotated-out token revokes the session, new tokens included.
        assert_eq!(refresh(ada.refresh_token.clone()).await.status(), 401);
        assert_eq!(app.get(&new_access, "/api/v1/me").await.status(), 401);
    }
}

#[tokio::test]
async fn sessions_can_be_listed_and_revoked_individually() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let first = app.signup("Acme", "Ada", "ada@example.com").await;
        let second = app.login("ada@example.com", PASSWORD).await;
        let list: Value = app
            .get(&second.access_token, "/api/v1/sessions")
            .await
            .json()
            .await
            .expect("json");
        let items = list["items"].as_array().expect("items");
        assert_eq!(items.len(), 2);
        assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
        let other = items
            .iter()
            .find(|s| s["current"] == false)
            .expect("other session");
        let path = format!("/api/v1/sessions/{}", other["id"].as_str().expect("id"));
        assert_eq!(app.delete(&second.access_token, &path).await.status(), 204);
        assert_eq!(
            app.get(&first.access_token, "/api/v1/me").await.status(),
            401
        );
        assert_eq!(
            app.get(&second.access_token, "/api/v1/me").await.status(),
            200
        );
        assert_eq!(
            app.delete(&second.access_token, &path).await.status(),
            404,
            "already revoked"
        );
    }
}

#[tokio::test]
async fn the_auth_rate_limit_is_shared_by_every_instance_and_answers_429_with_retry_after() {
    for backend in backends() {
        let app = TestApp::spawn_with(backend, |c| c.auth_rate_per_minute = 3).await;
        let other = app
            .another_instance_with(|c| c.auth_rate_per_minute = 3)
            .await;
        // Two attempts on one instance and one on the other use up the three allowed.
        assert_eq!(
            app.login_raw("x@example.com", "whatever-password")
                .await
                .status(),
            401
        );
        assert_eq!(
            app.login_raw("x@example.com", "whatever-password")
                .await
                .status(),
            401
        );
        assert_eq!(
            other
                .login_raw("y@example.com", "whatever-password")
                .await
                .status(),
            401
        );
        let r = other.login_raw("z@example.com", "whatever-password").await;
        assert_eq!(r.status(), 429, "{backend:?}");
        let retry: u64 = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!((1..=60).contains(&retry), "retry after {retry}");
        assert_eq!(
            app.login_raw("x@example.com", "whatever-password")
                .await
                .status(),
            429
        );
        // The page form says so too, as a page.
        let r = app.http.post(app.url("/login")).send().await.expect("post");
        assert_eq!(r.status(), 429);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .expect("ct")
                .starts_with("text/html")
        );
        // Non-auth endpoints are not limited by the auth window, and the next window
        // starts afresh.
        assert_eq!(
            app.http
                .get(app.url("/healthz"))
                .send()
                .await
                .expect("health")
                .status(),
            200
        );
        app.store().clock().advance(61);
        assert_eq!(
            app.login_raw("x@example.com", "whatever-password")
                .await
                .status(),
            401
        );
    }
}

#[tokio::test]
async fn unknown_emails_take_as_long_as_wrong_passwords() {
    // At the production cost a verify takes ~200 ms, far above the noise; without the
    // dummy verify an unknown email would answer in about a millisecond.
    let app = TestApp::spawn_production_cost(testkit::Backend::Sqlite).await;
    app.signup("Acme", "Ada", "ada@example.com").await;
    // Interleave the two kinds, so load from tests running alongside hits both alike,
    // and compare medians.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    // Four each: a fifth failure would lock the email.
    for i in 0..4 {
        for (email, samples) in [
            ("ada@example.com", &mut known),
            ("nobody@example.com", &mut unknown),
        ] {
            let start = std::time::Instant::now();
            let r = app.login_raw(email, &format!("wrong-password-{i}")).await;
            samples.push(start.elapsed().as_secs_f64());
            assert_eq!(r.status(), 401);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[1] + v[2]) / 2.0
    };
    let (known, unknown) = (median(known), median(unknown));
    let ratio = unknown / known;
    assert!(
        (0.6..1.6).contains(&ratio),
        "unknown {unknown:.3}s vs known {known:.3}s"
    );
}

#[tokio::test]
async fn idle_and_absolute_session_timeouts_are_enforced() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let ada = app.signup("Acme", "Ada", "ada@example.com").await;
        // Used within a day: stays alive (and the use is recorded).
        app.store().clock().advance(23 * 3600);
        assert_eq!(
            app.get(&ada.access_token, "/api/v1/sessions")
                .await
                .status(),
            200
        );
        // Idle for more than 24 hours: gone.
        app.store().clock().advance(24 * 3600 + 60);
        assert_eq!(app.get(&ada.access_token, "/api/v1/me").await.status(), 401);
        // Kept busy, a session still ends after 7 days.
        let busy = app.login("ada@example.com", PASSWORD).await;
        for _ in 0..7 {
            app.store().clock().advance(23 * 3600);
            assert_eq!(
                app.get(&busy.access_token, "/api/v1/me").await.status(),
                200
            );
        }
        app.store().clock().advance(23 * 3600);
        assert_eq!(
            app.get(&busy.access_token, "/api/v1/me").await.status(),
            401
        );
    }
}
