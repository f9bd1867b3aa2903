//! Page tests through the whole router (every middleware, a real SQLite database), with
//! a tiny cookie-keeping client that posts forms the way a browser does.

mod access;
mod auth;
mod flows;

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use store::{Clock, Store, StoreOptions};
use tower::ServiceExt;
use vault::{PasswordHasher, SigningKey};

use super::PAGE_ROUTES;
use crate::{AppState, WebConfig};

pub(super) const PASSWORD: &str = "violet-harbour-lantern-92";

/// The application on a fresh database in a temporary directory.
pub(super) struct Harness {
    app: Router,
    dir: std::path::PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One browser: its cookies.
#[derive(Default, Clone)]
pub(super) struct Browser {
    cookies: BTreeMap<String, String>,
}

pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

impl Reply {
    /// The CSRF token of the first form on the page.
    pub(super) fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').expect("end of token");
        self.body[start..start + end].to_owned()
    }

    pub(super) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Harness {
    pub(super) async fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("pitchside-pages-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("db.sqlite").display());
        let store = Store::connect(StoreOptions::new(url), Clock::system())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        let keys = SigningKey::from_base64(&SigningKey::generate_base64()).expect("key");
        let state = AppState::new(
            store,
            PasswordHasher::new(4, 4),
            keys,
            WebConfig::local("http://localhost"),
        );
        Self {
            app: crate::router(state),
            dir,
        }
    }

    pub(super) async fn send(
        &self,
        browser: &mut Browser,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if !browser.cookies.is_empty() {
            let cookie = browser
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(header::COOKIE, cookie);
        }
        let body = match form {
            Some(fields) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                fields
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect::<Vec<_>>()
                    .join("&")
            }
            None => String::new(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        for set in response.headers().get_all(header::SET_COOKIE) {
            let pair = set
                .to_str()
                .expect("ascii")
                .split(';')
                .next()
                .unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    browser.cookies.remove(name);
                } else {
                    browser.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).expect("utf-8"),
        }
    }

    pub(super) async fn get(&self, browser: &mut Browser, path: &str) -> Reply {
        self.send(browser, Method::GET, path, None).await
    }

    /// Load `page`, then post `fields` (plus its CSRF token) to `action`.
    pub(super) async fn submit(
        &self,
        browser: &mut Browser,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let csrf = self.get(browser, page).await.csrf();
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        self.send(browser, Method::POST, action, Some(&all)).await
    }

    /// Sign up through the page; the browser is then signed in.
    pub(super) async fn signup(&self, org: &str, name: &str, email: &str) -> Browser {
        let mut browser = Browser::default();
        let reply = self
            .submit(
                &mut browser,
                "/signup",
                "/signup",
                &[
                    ("organization_name", org),
                    ("name", name),
                    ("email", email),
                    ("password", PASSWORD),
                    ("confirm_over_18", "on"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(reply.location(), "/?done=welcome");
        browser
    }
}

#[test]
fn page_routes_are_unique_and_name_their_parameters() {
    let mut seen = std::collections::HashSet::new();
    for (method, path) in PAGE_ROUTES {
        assert!(matches!(*method, "GET" | "POST"), "{method} {path}");
        assert!(seen.insert((method, path)), "duplicate {method} {path}");
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            assert!(
                matches!(segment, "{id}" | "{token}" | "{provider}"),
                "{method} {path}: parameters are named {{id}}, {{token}} or {{provider}}"
            );
        }
    }
    // Building the router checks every path is valid and no method is registered
    // twice for a path.
    let _ = super::router();
}
