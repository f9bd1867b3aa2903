//! Escaping, the one 404, and CSRF on every form route.

use axum::http::{Method, StatusCode};

use super::{Harness, PAGE_ROUTES};

#[tokio::test]
async fn hostile_names_are_escaped_everywhere() {
    let h = Harness::new().await;
    let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let mut browser = h.signup(evil, evil, "eve@acme.test").await;
    for page in [
        "/",
        "/teams",
        "/settings",
        "/settings/security",
        "/settings/integrations",
    ] {
        let reply = h.get(&mut browser, page).await;
        assert_eq!(reply.status, StatusCode::OK, "{page}");
        assert!(!reply.body.contains("<script"), "{page} has a raw script");
        assert!(!reply.body.contains("<img"), "{page} has a raw img");
        assert!(
            !reply.body.contains(" style="),
            "{page} has an inline style"
        );
    }
}

#[tokio::test]
async fn unknown_foreign_and_malformed_ids_share_one_404() {
    let h = Harness::new().await;
    let mut other = h.signup("Other", "Olga", "olga@other.test").await;
    let created = h
        .submit(
            &mut other,
            "/settings",
            "/settings/teams",
            &[("name", "Secret team")],
        )
        .await;
    assert_eq!(created.location(), "/settings?done=team_created");
    let settings = h.get(&mut other, "/settings").await.body;
    let team_id = settings
        .split("href=\"/teams/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("team link")
        .to_owned();
    let olga_id = settings
        .split("href=\"/reps/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("rep link")
        .to_owned();

    let mut browser = h.signup("Acme", "Ada", "ada@acme.test").await;
    let reference = h
        .get(&mut browser, &format!("/teams/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(reference.status, StatusCode::NOT_FOUND);
    for path in [
        format!("/teams/{team_id}"),
        "/teams/not-an-id".to_owned(),
        format!("/reps/{olga_id}"),
        format!("/reps/{}", uuid::Uuid::now_v7()),
        "/reps/%E2%28".to_owned(),
        "/invite/not-a-token".to_owned(),
        "/no/such/page".to_owned(),
    ] {
        let reply = h.get(&mut browser, &path).await;
        assert_eq!(
            (reply.status, &reply.body),
            (StatusCode::NOT_FOUND, &reference.body),
            "{path}"
        );
    }
    let csrf = h.get(&mut browser, "/settings").await.csrf();
    for path in [
        format!("/settings/members/{olga_id}"),
        format!("/settings/members/{olga_id}/remove"),
        format!(
            "/settings/security/sessions/{}/revoke",
            uuid::Uuid::now_v7()
        ),
        "/settings/members/bogus".to_owned(),
    ] {
        let reply = h
            .send(
                &mut browser,
                Method::POST,
                &path,
                Some(&[("csrf_token", csrf.as_str())]),
            )
            .await;
        assert_eq!(
            (reply.status, &reply.body),
            (StatusCode::NOT_FOUND, &reference.body),
            "{path}"
        );
    }
}

#[tokio::test]
async fn forms_without_a_csrf_token_are_refused() {
    let h = Harness::new().await;
    let mut browser = h.signup("Acme", "Ada", "ada@acme.test").await;
    for (method, path) in PAGE_ROUTES.iter().filter(|(m, _)| *m == "POST") {
        let path = path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{token}", "t");
        let reply = h
            .send(
                &mut browser,
                Method::from_bytes(method.as_bytes()).expect("method"),
                &path,
                Some(&[]),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert!(reply.body.contains("This form has expired"));
    }
}
