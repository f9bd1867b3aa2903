//! Signup, login and lockout through the pages.

use axum::http::{StatusCode, header};

use super::{Browser, Harness, PASSWORD};

#[tokio::test]
async fn signing_up_through_the_page_lands_on_the_dashboard() {
    let h = Harness::new().await;
    let mut browser = h.signup("Acme", "Ada Admin", "ada@acme.test").await;
    let reply = h.get(&mut browser, "/?done=welcome").await;
    assert_eq!(reply.status, StatusCode::OK);
    for text in [
        "Hello, Ada Admin",
        "Acme",
        "Pipeline",
        "Upcoming 1:1s",
        "Coaching insights",
    ] {
        assert!(reply.body.contains(text), "missing {text}");
    }
    assert!(reply.body.contains("Your organization is ready"));
}

#[tokio::test]
async fn signup_errors_are_shown_next_to_their_fields_with_422() {
    let h = Harness::new().await;
    let mut browser = Browser::default();
    let reply = h
        .submit(&mut browser, "/signup", "/signup", &[("email", "nope")])
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    for id in [
        "organization_name-error",
        "email-error",
        "password-error",
        "confirm_over_18-error",
    ] {
        assert!(reply.body.contains(id), "no error for {id}");
    }
    assert!(reply.body.contains("value=\"nope\""), "typed input is kept");
}

#[tokio::test]
async fn failed_logins_look_the_same_whatever_the_cause() {
    let h = Harness::new().await;
    h.signup("Acme", "Ada", "ada@acme.test").await;
    let mut browser = Browser::default();
    let wrong = h
        .submit(
            &mut browser,
            "/login",
            "/login",
            &[("email", "ada@acme.test"), ("password", "wrong-password-1")],
        )
        .await;
    let unknown = h
        .submit(
            &mut browser,
            "/login",
            "/login",
            &[
                ("email", "nobody@acme.test"),
                ("password", "wrong-password-1"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.body.contains("Email or password is not correct."));
    let ok = h
        .submit(
            &mut browser,
            "/login",
            "/login",
            &[("email", "ada@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!((ok.status, ok.location()), (StatusCode::SEE_OTHER, "/"));
    assert_eq!(h.get(&mut browser, "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_locked_email_gets_429_with_retry_after() {
    let h = Harness::new().await;
    let mut browser = Browser::default();
    let mut last = None;
    for _ in 0..6 {
        last = Some(
            h.submit(
                &mut browser,
                "/login",
                "/login",
                &[("email", "x@acme.test"), ("password", "wrong-password-1")],
            )
            .await,
        );
    }
    let last = last.expect("replies");
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(last.headers.contains_key(header::RETRY_AFTER));
    assert!(
        last.body
            .contains("Too many attempts, try again in 15 minutes.")
    );
}
