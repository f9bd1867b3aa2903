//! OAuth connect (SECURITY.md OA-01..OA-03): `GET /integrations/{provider}/connect`
//! sends an admin to the provider with a fresh single-use `state` (bound to this
//! session, org and provider, ten minutes) and, where the provider takes it, a PKCE
//! `S256` challenge; `GET /integrations/{provider}/callback` spends the state, trades
//! the code for tokens, notes any scope granted beyond the read-only list, and stores
//! the connection.
//!
//! Each provider has its own callback path and the state names the provider it was
//! made for, so a code meant for one provider is refused at another's callback. A
//! missing, foreign, replayed or expired state stores nothing and shows a readable
//! page. The code, the tokens and the provider's error text are never logged or shown.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use connectors::ConnectorError;
use connectors::oauth::{self, Profile};
use domain::crm::Provider;
use store::StoreError;
use store::crm::{AuthKind, NewConnection, Tokens};

use crate::extract::{PageViewer, form_pairs};
use crate::pages::common::{PageResult, PathId, see_other};
use crate::pages::errors::message_page;
use crate::{ApiError, AppState};

/// `GET /integrations/{provider}/connect` (admins; only with an OAuth app configured).
pub(crate) async fn connect(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(provider): PathId<Provider>,
) -> PageResult {
    let scope = &viewer.scope;
    let Some(app) = state.crm.oauth_app(provider) else {
        return Err(ApiError::NotFound.into());
    };
    let profile = Profile::for_provider(provider);
    let verifier = profile.pkce.then(|| oauth::pkce_pair().0);
    let flow_state = state
        .store
        .create_oauth_state(scope, provider, verifier.as_deref())
        .await?;
    let url = oauth::authorize_url(
        &profile,
        app,
        &state.crm.endpoints(provider),
        &flow_state,
        verifier.as_deref(),
    )
    .map_err(|e| {
        tracing::error!(provider = %provider, error = %e, "cannot build the OAuth authorize URL");
        ApiError::Internal
    })?;
    tracing::info!(provider = %provider, "OAuth connect started");
    Ok(Redirect::to(&url).into_response())
}

fn refused(heading: &'static str, detail: &'static str) -> PageResult {
    Ok(message_page(
        StatusCode::BAD_REQUEST,
        "Connection not completed",
        heading,
        detail,
    ))
}

const START_AGAIN: &str = "Nothing was saved. Start again from Settings → Integrations; the \
    link is valid for ten minutes, once, in the browser session that started it.";

/// `GET /integrations/{provider}/callback?code=…&state=…` (or `?error=…`).
pub(crate) async fn callback(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(provider): PathId<Provider>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let scope = &viewer.scope;
    let Some(app) = state.crm.oauth_app(provider) else {
        return Err(ApiError::NotFound.into());
    };
    let params = form_pairs(query.as_deref().unwrap_or_default());
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let Some(flow_state) = param("state") else {
        tracing::warn!(provider = %provider, "OAuth callback without a state");
        return refused("This sign-in link is incomplete", START_AGAIN);
    };
    // Spend the state whatever else the callback says, so it can never be used again.
    let verifier = match state
        .store
        .take_oauth_state(scope, provider, flow_state)
        .await
    {
        Ok(v) => v,
        Err(StoreError::NotFound) => {
            tracing::warn!(provider = %provider, "OAuth callback with an unknown, used, expired or foreign state");
            return refused(
                "This sign-in link has expired or was already used",
                START_AGAIN,
            );
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(error) = param("error") {
        tracing::info!(provider = %provider, "the provider did not authorize the connection");
        return if error == "access_denied" {
            refused(
                "The connection was not approved",
                "The CRM reported that access was declined, so nothing was connected. \
                 Start again from Settings → Integrations if that was a mistake.",
            )
        } else {
            refused(
                "The CRM could not complete the connection",
                "The CRM reported an error, so nothing was connected. Try again from \
                 Settings → Integrations, or check the OAuth app's settings.",
            )
        };
    }
    let Some(code) = param("code") else {
        return refused("This sign-in link is incomplete", START_AGAIN);
    };
    let profile = Profile::for_provider(provider);
    let endpoints = state.crm.endpoints(provider);
    let tokens = match oauth::exchange_code(
        &state.crm.http,
        &profile,
        app,
        &endpoints,
        code,
        verifier.as_deref(),
    )
    .await
    {
        Ok(t) => t,
        Err(ConnectorError::InvalidGrant) => {
            tracing::warn!(provider = %provider, "the provider refused the authorization code");
            return refused(
                "The CRM refused this authorization",
                "The code was not accepted (it may be meant for another CRM, or already \
                 used). Nothing was saved. Start again from Settings → Integrations.",
            );
        }
        Err(e) => {
            tracing::warn!(provider = %provider, error = %e, "the OAuth code exchange failed");
            return Err(ApiError::BadGateway(
                "the CRM's token endpoint could not be reached; nothing was saved",
            )
            .into());
        }
    };
    let extra_scopes = oauth::extra_scopes(&profile, tokens.scope.as_deref());
    let api_base = match api_base(&state, provider, &tokens) {
        Some(base) => base,
        None => {
            tracing::warn!(provider = %provider, "the token response named no usable API host");
            return Err(ApiError::BadGateway(
                "the CRM's answer did not name its API address; nothing was saved",
            )
            .into());
        }
    };
    let now = state.store.clock().now();
    let connection = state
        .store
        .create_connection(
            scope,
            NewConnection {
                provider,
                auth_kind: AuthKind::OAuth,
                api_base,
                tokens: Tokens {
                    access_token: tokens.access_token.clone(),
                    refresh_token: tokens.refresh_token.clone(),
                    expires_at: tokens.expires_in.map(|s| now + s.max(0)),
                },
                extra_scopes: extra_scopes.clone(),
                sync_interval_secs: state.crm.sync_interval_minutes * 60,
                quota_share_pct: state.crm.quota_share_percent,
            },
        )
        .await?;
    tracing::info!(integration = %connection.id, provider = %provider, flagged = !extra_scopes.is_empty(), "integration connected through OAuth");
    Ok(see_other(if extra_scopes.is_empty() {
        "/settings/integrations?done=integration_connected"
    } else {
        "/settings/integrations?done=integration_flagged"
    }))
}

/// Where the connection's API lives: the configured API URL if one was set, else the
/// instance (Salesforce) or company domain (Pipedrive) the token response names, else
/// the provider's default.
fn api_base(state: &AppState, provider: Provider, tokens: &oauth::TokenSet) -> Option<String> {
    let configured = state.crm.endpoints(provider).api;
    if state.crm.api_url_overridden.contains(&provider) {
        return Some(configured);
    }
    let named = match provider {
        Provider::Salesforce => tokens.instance_url.as_deref(),
        Provider::Pipedrive => tokens.api_domain.as_deref(),
        Provider::Hubspot => None,
    };
    match (provider, named) {
        (_, Some(url)) => {
            let url = url.trim().trim_end_matches('/');
            let parsed = reqwest::Url::parse(url).ok()?;
            (parsed.scheme() == "https" && parsed.host_str().is_some()).then(|| url.to_owned())
        }
        // Salesforce's API host differs per org: without it there is nothing to sync.
        (Provider::Salesforce, None) => None,
        (_, None) => Some(configured),
    }
}
