//! Connecting, inspecting and disconnecting CRMs, shared by the JSON API and the
//! Settings → Integrations pages so both follow the same rules:
//!
//! - A pasted token (HubSpot private-app, Pipedrive API token) is checked with one read
//!   through the real connector before anything is stored; a refused token is a 422 on
//!   `access_token`. Salesforce connects through OAuth only.
//! - Disconnecting revokes OAuth tokens at the provider first (best effort: a provider
//!   that is down does not keep an admin from disconnecting), then forgets them.
//! - Tokens never leave this module except towards the provider; nothing here logs
//!   them, and no view type has a field for them.

use connectors::oauth::{self, Profile};
use connectors::{Checkpoint, Connector, ConnectorError, Credentials};
use domain::FieldError;
use domain::crm::{ObjectKind, Provider};
use store::crm::{
    AuthKind, Connection, ConnectionStatus, NewConnection, QuotaDay, SyncRun, Tokens,
};
use store::{Scope, StoreError};

use crate::{ApiError, AppState};

/// Longest token accepted.
pub(crate) const MAX_TOKEN_CHARS: usize = 4096;
/// Bounds of a connection's sync interval, minutes.
pub(crate) const INTERVAL_MINUTES: (i64, i64) = (5, 1440);

/// A checked request to connect with a pasted token.
pub(crate) struct TokenConnect {
    pub(crate) provider: Provider,
    pub(crate) access_token: String,
    pub(crate) interval_minutes: i64,
    pub(crate) share_percent: i64,
}

/// Parse a provider name.
pub(crate) fn parse_provider(raw: &str) -> Result<Provider, FieldError> {
    raw.trim()
        .parse()
        .map_err(|_| FieldError::new("provider", "must be hubspot, salesforce or pipedrive"))
}

/// Check a token-connect request, collecting every problem.
pub(crate) fn check_token_connect(
    state: &AppState,
    provider: &str,
    access_token: Option<&str>,
    interval_minutes: Option<i64>,
    share_percent: Option<i64>,
) -> Result<TokenConnect, ApiError> {
    let mut errors = Vec::new();
    let provider = match parse_provider(provider) {
        Ok(Provider::Salesforce) => {
            errors.push(FieldError::new(
                "provider",
                "Salesforce connects through OAuth only: an admin starts it from Settings → \
                 Integrations (GET /integrations/salesforce/connect)",
            ));
            None
        }
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let token = access_token.map(str::trim).unwrap_or_default();
    if token.is_empty() {
        errors.push(FieldError::new("access_token", "is required"));
    } else if token.chars().count() > MAX_TOKEN_CHARS
        || token.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        errors.push(FieldError::new(
            "access_token",
            "must be a single token of at most 4096 characters",
        ));
    }
    let interval = interval_minutes.unwrap_or(state.crm.sync_interval_minutes);
    let share = share_percent.unwrap_or(state.crm.quota_share_percent);
    check_settings(Some(interval), Some(share), &mut errors);
    match (provider, errors.is_empty()) {
        (Some(provider), true) => Ok(TokenConnect {
            provider,
            access_token: token.to_owned(),
            interval_minutes: interval,
            share_percent: share,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Check a connection's sync interval (minutes) and quota share (percent), where given.
pub(crate) fn check_settings(
    interval_minutes: Option<i64>,
    share_percent: Option<i64>,
    errors: &mut Vec<FieldError>,
) {
    if interval_minutes.is_some_and(|i| !(INTERVAL_MINUTES.0..=INTERVAL_MINUTES.1).contains(&i)) {
        errors.push(FieldError::new(
            "sync_interval_minutes",
            "must be from 5 to 1440",
        ));
    }
    if share_percent.is_some_and(|s| !(1..=100).contains(&s)) {
        errors.push(FieldError::new(
            "quota_share_percent",
            "must be from 1 to 100",
        ));
    }
}

fn must_admin(scope: &Scope) -> Result<(), ApiError> {
    if scope.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only an organization admin can manage integrations",
        ))
    }
}

/// Connect with a pasted token: admins only; the token is tried with one read first.
pub(crate) async fn connect_with_token(
    state: &AppState,
    scope: &Scope,
    request: TokenConnect,
) -> Result<Connection, ApiError> {
    must_admin(scope)?;
    let provider = request.provider;
    let api_base = state.crm.endpoints(provider).api;
    let credentials = Credentials {
        access_token: request.access_token.clone(),
        static_token: true,
        ..Credentials::default()
    };
    let checked = match Connector::new(
        provider,
        &api_base,
        &credentials,
        state.crm.verify_options.clone(),
    ) {
        Ok(connector) => connector
            .fetch(ObjectKind::Owner, &Checkpoint::full())
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = checked {
        return Err(token_check_error(provider, &e));
    }
    let connection = state
        .store
        .create_connection(
            scope,
            NewConnection {
                provider,
                auth_kind: AuthKind::Token,
                api_base,
                tokens: Tokens {
                    access_token: request.access_token,
                    refresh_token: None,
                    expires_at: None,
                },
                extra_scopes: Vec::new(),
                sync_interval_secs: request.interval_minutes * 60,
                quota_share_pct: request.share_percent,
            },
        )
        .await?;
    tracing::info!(integration = %connection.id, provider = %provider, "integration connected with a token");
    Ok(connection)
}

/// What a failed token check means for the caller.
fn token_check_error(provider: Provider, e: &ConnectorError) -> ApiError {
    match e {
        ConnectorError::Unauthorized
        | ConnectorError::InvalidGrant
        | ConnectorError::Status {
            status: 401 | 403, ..
        } => ApiError::field(
            "access_token",
            format!("{} refused this token", provider.label()),
        ),
        ConnectorError::Config(_) | ConnectorError::WriteRefused { .. } => {
            tracing::error!(provider = %provider, error = %e, "cannot check a CRM token");
            ApiError::Internal
        }
        _ => {
            tracing::warn!(provider = %provider, error = %e, "a CRM token check failed");
            ApiError::BadGateway("could not reach the CRM to check the token; nothing was saved")
        }
    }
}

/// Disconnect (admins only): revoke OAuth tokens at the provider (best effort), then
/// forget them, and with `delete_data` every record synced through the connection.
pub(crate) async fn disconnect(
    state: &AppState,
    scope: &Scope,
    id: &str,
    delete_data: bool,
) -> Result<(), ApiError> {
    let (connection, tokens) = state.store.connection_tokens(scope, id).await?;
    if connection.auth_kind == AuthKind::OAuth
        && let Some(tokens) = tokens
    {
        revoke(state, &connection, &tokens).await;
    }
    state.store.disconnect(scope, id, delete_data).await?;
    tracing::info!(integration = %id, delete_data, "integration disconnected");
    Ok(())
}

async fn revoke(state: &AppState, connection: &Connection, tokens: &Tokens) {
    let provider = connection.provider;
    let Some(app) = state.crm.oauth_app(provider) else {
        tracing::warn!(integration = %connection.id, "no OAuth app configured: tokens not revoked at the provider");
        return;
    };
    let profile = Profile::for_provider(provider);
    let token = tokens
        .refresh_token
        .as_deref()
        .unwrap_or(&tokens.access_token);
    let endpoints = state.crm.endpoints(provider);
    if let Err(e) = oauth::revoke(&state.crm.http, &profile, app, &endpoints, token).await {
        tracing::warn!(integration = %connection.id, error = %e, "revoking at the provider failed; disconnecting anyway");
    }
}

/// A connection with its schedule, today's quota and its latest runs.
pub(crate) struct Detail {
    pub(crate) connection: Connection,
    pub(crate) next_sync_at: Option<i64>,
    pub(crate) running: bool,
    pub(crate) quota: QuotaDay,
    /// The daily budget (reported, else configured) and Pitchside's share of it.
    pub(crate) daily_limit: Option<u64>,
    pub(crate) budget: Option<u64>,
    pub(crate) runs: Vec<SyncRun>,
}

/// Gather what the API and the page show of one connection.
pub(crate) async fn detail(
    state: &AppState,
    scope: &Scope,
    connection: Connection,
    runs: u32,
) -> Result<Detail, StoreError> {
    let schedule = if connection.status == ConnectionStatus::Disconnected {
        None
    } else {
        state.store.sync_schedule(scope, &connection.id).await?
    };
    let quota = state
        .store
        .quota_day(scope, &connection.id, &today(state.store.clock().now()))
        .await?;
    let runs = state.store.list_runs(scope, &connection.id, runs).await?;
    let daily_limit = quota
        .daily_limit
        .or_else(|| state.crm.daily_budgets.get(&connection.provider).copied());
    let budget =
        daily_limit.map(|l| l.saturating_mul(connection.quota_share_pct.max(0) as u64) / 100);
    Ok(Detail {
        next_sync_at: schedule.map(|(at, _)| at),
        running: schedule.is_some_and(|(_, running)| running),
        quota,
        daily_limit,
        budget,
        runs,
        connection,
    })
}

/// `YYYY-MM-DD` (UTC) of epoch seconds: the quota day.
pub(crate) fn today(now: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Whether a connection needs a person's attention (the banner).
pub(crate) fn needs_attention(c: &Connection) -> bool {
    matches!(
        c.status,
        ConnectionStatus::Unhealthy | ConnectionStatus::NeedsReconnect
    ) || !c.extra_scopes.is_empty() && c.status != ConnectionStatus::Disconnected
}

/// Connections the viewer should be warned about (none for viewers who may not see
/// integrations).
pub(crate) async fn attention(
    state: &AppState,
    scope: &Scope,
) -> Result<Vec<Connection>, StoreError> {
    Ok(state
        .store
        .list_connections(scope)
        .await?
        .into_iter()
        .filter(needs_attention)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_days_are_utc_dates() {
        assert_eq!(today(0), "1970-01-01");
        assert_eq!(today(1_735_689_599), "2024-12-31");
        assert_eq!(today(1_735_689_600), "2025-01-01");
    }
}
