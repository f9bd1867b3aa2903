//! OAuth against the mock: authorize redirect with PKCE, code exchange, tokens that
//! read data, refresh, revocation, and broader grants reported.

use std::collections::BTreeMap;
use std::time::Duration;

use connectors::oauth::{self, OAuthApp, Profile};
use connectors::{Checkpoint, ConnectorError, Endpoints};
use domain::crm::{ObjectKind, Provider};
use mockcrm::hubspot;
use mockcrm::{MockOptions, WorldSpec};

use crate::{connector_with, options};

#[tokio::test]
async fn oauth_end_to_end() {
    let mock = hubspot::start(
        WorldSpec::small(),
        MockOptions {
            token_ttl: Duration::from_secs(1800),
            ..MockOptions::default()
        },
    )
    .await
    .expect("mock");
    let profile = Profile::for_provider(Provider::Hubspot);
    assert!(profile.pkce);
    let app = OAuthApp {
        client_id: "mock-client-id".into(),
        client_secret: "mock-client-secret".into(),
        redirect_uri: "https://pitchside.example/integrations/hubspot/callback".into(),
    };
    let endpoints = Endpoints {
        api: mock.url(),
        auth: format!("{}/oauth/authorize", mock.url()),
        token: format!("{}/oauth/v1/token", mock.url()),
    };
    let http = connectors::http::build_client(Duration::from_secs(5)).expect("client");
    let (verifier, _) = oauth::pkce_pair();
    let url = oauth::authorize_url(&profile, &app, &endpoints, "state-123", Some(&verifier))
        .expect("url");
    let redirect = http.get(&url).send().await.expect("authorize");
    assert_eq!(redirect.status().as_u16(), 302);
    let location = redirect.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with(&app.redirect_uri), "{location}");
    let query: BTreeMap<String, String> = reqwest::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query.get("state").map(String::as_str), Some("state-123"));
    let code = query.get("code").expect("code");

    // A wrong verifier is refused (and uses the code up).
    let wrong = oauth::exchange_code(
        &http,
        &profile,
        &app,
        &endpoints,
        code,
        Some(&"x".repeat(43)),
    )
    .await;
    assert!(
        matches!(wrong, Err(ConnectorError::InvalidGrant)),
        "{wrong:?}"
    );

    let url = oauth::authorize_url(&profile, &app, &endpoints, "state-124", Some(&verifier))
        .expect("url");
    let location = http.get(&url).send().await.expect("authorize").headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let code = reqwest::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens = oauth::exchange_code(&http, &profile, &app, &endpoints, &code, Some(&verifier))
        .await
        .expect("tokens");
    assert_eq!(tokens.expires_in, Some(1800));
    assert!(
        oauth::extra_scopes(&profile, tokens.scope.as_deref()).is_empty(),
        "{:?}",
        tokens.scope
    );
    assert!(
        tokens
            .scope
            .as_deref()
            .is_some_and(|s| s.contains("crm.objects.deals.read"))
    );

    let conn = connector_with(&mock, &tokens.access_token, false, options());
    let batch = conn
        .fetch(ObjectKind::Deal, &Checkpoint::full())
        .await
        .expect("data with the token");
    assert_eq!(batch.changes.len(), 30);

    let refresh_token = tokens.refresh_token.clone().expect("refresh token");
    let refreshed = oauth::refresh(&http, &profile, &app, &endpoints, &refresh_token)
        .await
        .expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token);
    connector_with(&mock, &refreshed.access_token, false, options())
        .fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect("refreshed token works");

    oauth::revoke(&http, &profile, &app, &endpoints, &refresh_token)
        .await
        .expect("revoke");
    assert_eq!(mock.state.revoked(), vec![refresh_token.clone()]);
    assert!(
        mock.state
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path.starts_with("/oauth/v1/refresh-tokens/"))
    );
    let gone = oauth::refresh(&http, &profile, &app, &endpoints, &refresh_token).await;
    assert!(
        matches!(gone, Err(ConnectorError::InvalidGrant)),
        "{gone:?}"
    );

    // A grant broader than asked is reported.
    let broad = hubspot::start(
        WorldSpec::small(),
        MockOptions {
            granted_scope: Some("oauth crm.objects.deals.read crm.objects.deals.write".into()),
            ..MockOptions::default()
        },
    )
    .await
    .expect("mock");
    let endpoints = Endpoints {
        api: broad.url(),
        auth: format!("{}/oauth/authorize", broad.url()),
        token: format!("{}/oauth/v1/token", broad.url()),
    };
    let url = oauth::authorize_url(&profile, &app, &endpoints, "s", Some(&verifier)).expect("url");
    let location = http.get(&url).send().await.expect("authorize").headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let code = reqwest::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens = oauth::exchange_code(&http, &profile, &app, &endpoints, &code, Some(&verifier))
        .await
        .expect("tokens");
    assert_eq!(
        oauth::extra_scopes(&profile, tokens.scope.as_deref()),
        vec!["crm.objects.deals.write".to_owned()]
    );
}
